//! vn.py's SQLite database (`vnpy_sqlite`) as a SQL backend: the same tables, columns, indexes and
//! naive wall-clock datetime text, read and written so that vn.py reads the result back.
//!
//! Datetimes are text as vn.py writes them, with microseconds when nonzero (finer digits are not
//! stored). Writes are `INSERT OR REPLACE` in one transaction per series.

use std::path::Path;

use chrono::NaiveDateTime;
use parking_lot::Mutex;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use tickvault::{Result, SeriesKey};

use super::sql::{
    self, backend_err, datetime_text, Backend, Cell, Clock, Dialect, Exec, Precision, RowCells,
    Session, Summary, Table,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS "dbbardata" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "datetime" DATETIME NOT NULL, "interval" VARCHAR(255) NOT NULL, "volume" REAL NOT NULL, "turnover" REAL NOT NULL, "open_interest" REAL NOT NULL, "open_price" REAL NOT NULL, "high_price" REAL NOT NULL, "low_price" REAL NOT NULL, "close_price" REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "dbbardata_symbol_exchange_interval_datetime" ON "dbbardata" ("symbol", "exchange", "interval", "datetime");
CREATE TABLE IF NOT EXISTS "dbbaroverview" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "interval" VARCHAR(255) NOT NULL, "count" INTEGER NOT NULL, "start" DATETIME NOT NULL, "end" DATETIME NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "dbbaroverview_symbol_exchange_interval" ON "dbbaroverview" ("symbol", "exchange", "interval");
CREATE TABLE IF NOT EXISTS "dbtickdata" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "datetime" DATETIME NOT NULL, "name" VARCHAR(255) NOT NULL, "volume" REAL NOT NULL, "turnover" REAL NOT NULL, "open_interest" REAL NOT NULL, "last_price" REAL NOT NULL, "last_volume" REAL NOT NULL, "limit_up" REAL NOT NULL, "limit_down" REAL NOT NULL, "open_price" REAL NOT NULL, "high_price" REAL NOT NULL, "low_price" REAL NOT NULL, "pre_close" REAL NOT NULL, "bid_price_1" REAL NOT NULL, "bid_price_2" REAL, "bid_price_3" REAL, "bid_price_4" REAL, "bid_price_5" REAL, "ask_price_1" REAL NOT NULL, "ask_price_2" REAL, "ask_price_3" REAL, "ask_price_4" REAL, "ask_price_5" REAL, "bid_volume_1" REAL NOT NULL, "bid_volume_2" REAL, "bid_volume_3" REAL, "bid_volume_4" REAL, "bid_volume_5" REAL, "ask_volume_1" REAL NOT NULL, "ask_volume_2" REAL, "ask_volume_3" REAL, "ask_volume_4" REAL, "ask_volume_5" REAL, "localtime" DATETIME);
CREATE UNIQUE INDEX IF NOT EXISTS "dbtickdata_symbol_exchange_datetime" ON "dbtickdata" ("symbol", "exchange", "datetime");
CREATE TABLE IF NOT EXISTS "dbtickoverview" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "count" INTEGER NOT NULL, "start" DATETIME NOT NULL, "end" DATETIME NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "dbtickoverview_symbol_exchange" ON "dbtickoverview" ("symbol", "exchange");
"#;

/// A vn.py SQLite database file.
#[derive(Debug)]
pub struct VnpySqlite {
    conn: Mutex<Session<Connection>>,
    clock: Clock,
    path: String,
}

const D: Dialect = sql::SQLITE;

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::F64(x) => Value::Real(*x),
        Cell::Text(s) => Value::Text(s.clone()),
        Cell::Time(t) => Value::Text(datetime_text(*t)),
    }
}

fn cell(v: Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Real(x) => Cell::F64(x),
        Value::Integer(n) => Cell::F64(n as f64),
        Value::Text(s) => Cell::Text(s),
        Value::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

impl Exec for Connection {
    fn run_sql(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.execute_batch(sql).map_err(|e| e.to_string())
    }
}

impl VnpySqlite {
    /// Opens (creating when missing) the database at `path`; naive datetimes are in `clock`'s zone.
    pub fn open(path: &Path, clock: Clock) -> Result<VnpySqlite> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| backend_err(&name, e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| backend_err(&name, e))?;
        Ok(VnpySqlite {
            conn: Mutex::new(Session::new(conn)),
            clock,
            path: name,
        })
    }

    fn err(&self, e: rusqlite::Error) -> tickvault::Error {
        backend_err(&self.path, e)
    }

    /// Runs `f` in a transaction of its own, or in the one `begin` opened.
    fn transaction<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        self.conn.lock().transaction(&self.path, f)
    }

    /// Rewrites the exact overview row of a series from its data, so that vn.py shows it right.
    fn write_overview(&self, conn: &Connection, table: &Table, key: &SeriesKey) -> Result<()> {
        let cols = D.list(table.key_names());
        let filter = D.key_filter(table);
        let p: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        conn.execute(
            &format!("DELETE FROM \"{}\" WHERE {filter}", table.overview),
            params_from_iter(p.clone()),
        )
        .map_err(|e| self.err(e))?;
        conn.execute(
            &format!(
                "INSERT INTO \"{ov}\" ({cols},\"count\",\"start\",\"end\") SELECT {cols},COUNT(*),MIN(\"datetime\"),MAX(\"datetime\") \
                 FROM \"{data}\" WHERE {filter} GROUP BY {cols}",
                ov = table.overview,
                data = table.data
            ),
            params_from_iter(p),
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Backend for VnpySqlite {
    fn place(&self) -> &str {
        &self.path
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn precision(&self, _table: &Table) -> Precision {
        Precision::Micros
    }

    fn upsert(&self, table: &Table, key: &SeriesKey, rows: &RowCells<'_>) -> Result<()> {
        let names = table.all_names();
        let sql = format!(
            "INSERT OR REPLACE INTO \"{}\" ({}) VALUES ({})",
            table.data,
            D.list(&names),
            vec!["?"; names.len()].join(",")
        );
        self.transaction(|tx| {
            {
                let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.err(e))?;
                let mut cells = Vec::with_capacity(names.len());
                for i in 0..rows.len() {
                    rows.row(i, &mut cells)?;
                    stmt.execute(params_from_iter(cells.iter().map(value)))
                        .map_err(|e| self.err(e))?;
                }
            }
            self.write_overview(tx, table, key)
        })
    }

    fn select(
        &self,
        table: &Table,
        key: &SeriesKey,
        start: NaiveDateTime,
        end: NaiveDateTime,
        sink: &mut dyn FnMut(i64, Vec<Cell>) -> Result<()>,
    ) -> Result<()> {
        let names = table.value_names();
        let n = table.key_names().len();
        let sql = format!(
            "SELECT \"id\",{} FROM \"{}\" WHERE {} AND \"datetime\">=?{} AND \"datetime\"<=?{} ORDER BY \"datetime\"",
            D.list(&names),
            table.data,
            D.key_filter(table),
            n + 1,
            n + 2
        );
        let mut p: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        p.push(Value::Text(datetime_text(start)));
        p.push(Value::Text(datetime_text(end)));
        let c = self.conn.lock();
        let mut stmt = c.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params_from_iter(p)).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let cells = (1..=names.len())
                .map(|i| row.get::<_, Value>(i).map(cell))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?;
            sink(id, cells)?;
        }
        Ok(())
    }

    fn delete(&self, table: &Table, key: &SeriesKey) -> Result<u64> {
        let filter = D.key_filter(table);
        let p: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        self.transaction(|tx| {
            let n = tx
                .execute(
                    &format!("DELETE FROM \"{}\" WHERE {filter}", table.data),
                    params_from_iter(p.clone()),
                )
                .map_err(|e| self.err(e))?;
            tx.execute(
                &format!("DELETE FROM \"{}\" WHERE {filter}", table.overview),
                params_from_iter(p),
            )
            .map_err(|e| self.err(e))?;
            Ok(n as u64)
        })
    }

    fn begin(&self) -> Result<()> {
        self.conn.lock().begin(&self.path)
    }

    fn end(&self, commit: bool) -> Result<()> {
        self.conn.lock().end(&self.path, commit)
    }

    fn summaries(&self, table: &Table) -> Result<Vec<Summary>> {
        let group = D.list(table.key_names());
        let sql = format!(
            "SELECT {group},COUNT(*),MIN(\"datetime\"),MAX(\"datetime\"),MIN(\"id\") FROM \"{}\" GROUP BY {group}",
            table.data
        );
        let c = self.conn.lock();
        let mut stmt = c.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let k = table.key_names().len();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |i: usize| r.get::<_, Value>(i).map(cell).map_err(|e| self.err(e));
            let key = (0..k)
                .map(|i| {
                    get(i).map(|c| match c {
                        Cell::Text(s) => s,
                        other => format!("{other:?}"),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            out.push(Summary {
                key,
                count: r.get(k).map_err(|e| self.err(e))?,
                first: get(k + 1)?,
                last: get(k + 2)?,
                id: r.get(k + 3).map_err(|e| self.err(e))?,
            });
        }
        Ok(out)
    }
}
