//! vn.py's PostgreSQL database (`vnpy_postgresql`) as a SQL backend.
//!
//! Writes stage a series' rows into a temporary table with binary COPY, then upsert them into the
//! data table with `INSERT ... ON CONFLICT DO UPDATE` and rewrite the overview row, all in one
//! transaction. vn.py's own tables keep prices as 4-byte REAL (3517.4 reads back as
//! 3517.39990234375): reads cast every number to DOUBLE PRECISION, so they return what the table
//! holds. Tables tickvault creates use DOUBLE PRECISION and BIGSERIAL ids, and vn.py reads them as
//! its own. Datetimes are TIMESTAMP (microseconds), naive wall clock in the `--sql-tz` zone.

use chrono::NaiveDateTime;
use parking_lot::Mutex;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};
use tickvault::{Result, SeriesKey};

use super::sql::{
    self, backend_err, Backend, Cell, Clock, Dialect, Exec, Kind, Precision, RowCells, Session,
    Summary, Table,
};
use super::sql::{BARS, TICKS};

/// A PostgreSQL database with vn.py's tables.
pub struct VnpyPostgres {
    client: Mutex<Session<Client>>,
    clock: Clock,
    place: String,
}

impl std::fmt::Debug for VnpyPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnpyPostgres")
            .field("place", &self.place)
            .finish()
    }
}

const D: Dialect = sql::POSTGRES;

fn q(name: &str) -> String {
    D.q(name)
}

fn stage(table: &Table) -> String {
    format!("tickvault_stage_{}", table.data)
}

fn schema(table: &Table) -> String {
    let unique = table.unique_names();
    let overview_unique = table.key_names();
    format!(
        "CREATE TABLE IF NOT EXISTS {data} (\"id\" BIGSERIAL NOT NULL PRIMARY KEY, {cols});\n\
         CREATE UNIQUE INDEX IF NOT EXISTS {data_index} ON {data} ({unique});\n\
         CREATE TABLE IF NOT EXISTS {ov} (\"id\" BIGSERIAL NOT NULL PRIMARY KEY, {ov_cols});\n\
         CREATE UNIQUE INDEX IF NOT EXISTS {ov_index} ON {ov} ({ov_unique});\n",
        data = q(table.data),
        cols = table.data_ddl(&q, "TIMESTAMP", "DOUBLE PRECISION"),
        data_index = q(&format!("{}_{}", table.data, unique.join("_"))),
        unique = D.list(&unique),
        ov = q(table.overview),
        ov_cols = table.overview_ddl(&q, "TIMESTAMP"),
        ov_index = q(&format!("{}_{}", table.overview, overview_unique.join("_"))),
        ov_unique = D.list(overview_unique),
    )
}

impl Exec for Client {
    fn run_sql(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.batch_execute(sql).map_err(|e| describe(&e))
    }
}

/// The server's own words when it sent an error, else the error and its causes: the crate's
/// display alone says only "db error".
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

impl VnpyPostgres {
    /// Connects to `url` (`postgresql://user[:password]@host[:port]/db`), creating vn.py's tables
    /// when missing. `place` names the database in messages and must not hold the password.
    pub fn connect(url: &str, place: &str, clock: Clock) -> Result<VnpyPostgres> {
        let err = |e: postgres::Error| backend_err(place, describe(&e));
        let mut client = Client::connect(url, NoTls).map_err(err)?;
        client
            .batch_execute(&(schema(&BARS) + &schema(&TICKS)))
            .map_err(err)?;
        Ok(VnpyPostgres {
            client: Mutex::new(Session::new(client)),
            clock,
            place: place.to_string(),
        })
    }

    fn err(&self, e: postgres::Error) -> tickvault::Error {
        backend_err(&self.place, describe(&e))
    }

    /// Runs `f` in a transaction of its own, or in the one `begin` opened.
    fn transaction<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        self.client.lock().transaction(&self.place, f)
    }
}

fn types(table: &Table) -> Vec<Type> {
    let mut v = vec![Type::INT8];
    v.extend(table.key_names().iter().map(|_| Type::TEXT));
    v.extend(table.value_kinds().iter().map(|(_, k)| match k {
        Kind::Time => Type::TIMESTAMP,
        Kind::Float => Type::FLOAT8,
        Kind::Text => Type::TEXT,
    }));
    v
}

impl Backend for VnpyPostgres {
    fn place(&self) -> &str {
        &self.place
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn precision(&self, _table: &Table) -> Precision {
        Precision::Micros
    }

    fn upsert(&self, table: &Table, key: &SeriesKey, rows: &RowCells<'_>) -> Result<()> {
        self.transaction(|tx| self.upsert_in(tx, table, key, rows))
    }

    fn begin(&self) -> Result<()> {
        self.client.lock().begin(&self.place)
    }

    fn end(&self, commit: bool) -> Result<()> {
        self.client.lock().end(&self.place, commit)
    }

    fn select(
        &self,
        table: &Table,
        key: &SeriesKey,
        start: NaiveDateTime,
        end: NaiveDateTime,
        sink: &mut dyn FnMut(i64, Vec<Cell>) -> Result<()>,
    ) -> Result<()> {
        self.select_in(table, key, start, end, sink)
    }
    fn delete(&self, table: &Table, key: &SeriesKey) -> Result<u64> {
        let keys: Vec<String> = table
            .key_cells(key)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => s,
                _ => String::new(),
            })
            .collect();
        let p: Vec<&(dyn ToSql + Sync)> = keys.iter().map(|s| s as _).collect();
        let filter = D.key_filter(table);
        self.transaction(|tx| {
            let n = tx
                .execute(&format!("DELETE FROM {} WHERE {filter}", q(table.data)), &p)
                .map_err(|e| self.err(e))?;
            tx.execute(
                &format!("DELETE FROM {} WHERE {filter}", q(table.overview)),
                &p,
            )
            .map_err(|e| self.err(e))?;
            Ok(n)
        })
    }

    fn summaries(&self, table: &Table) -> Result<Vec<Summary>> {
        let group = D.list(table.key_names());
        let sql = format!(
            "SELECT {group},COUNT(*),MIN(\"datetime\"),MAX(\"datetime\"),MIN(\"id\")::int8 FROM {} GROUP BY {group}",
            q(table.data)
        );
        let k = table.key_names().len();
        let mut c = self.client.lock();
        let rows = c.conn.query(&sql, &[]).map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                let key = (0..k)
                    .map(|i| r.try_get::<_, String>(i))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| self.err(e))?;
                Ok(Summary {
                    key,
                    count: r.try_get(k).map_err(|e| self.err(e))?,
                    first: Cell::Time(r.try_get(k + 1).map_err(|e| self.err(e))?),
                    last: Cell::Time(r.try_get(k + 2).map_err(|e| self.err(e))?),
                    id: r.try_get(k + 3).map_err(|e| self.err(e))?,
                })
            })
            .collect()
    }
}

impl VnpyPostgres {
    fn upsert_in(
        &self,
        tx: &mut Client,
        table: &Table,
        key: &SeriesKey,
        rows: &RowCells<'_>,
    ) -> Result<()> {
        let names = table.all_names();
        let stage = stage(table);

        let stage_cols: Vec<String> = std::iter::once("\"seq\" INT8".to_string())
            .chain(table.key_names().iter().map(|n| format!("{} TEXT", q(n))))
            .chain(table.value_kinds().iter().map(|(n, k)| {
                let ty = match k {
                    Kind::Time => "TIMESTAMP",
                    Kind::Float => "FLOAT8",
                    Kind::Text => "TEXT",
                };
                format!("{} {ty}", q(n))
            }))
            .collect();
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} ({}) ON COMMIT DELETE ROWS",
            stage_cols.join(", ")
        ))
        .map_err(|e| self.err(e))?;
        // A transaction spanning many windows stages each one afresh.
        tx.batch_execute(&format!("TRUNCATE {stage}"))
            .map_err(|e| self.err(e))?;
        {
            let sink = tx
                .copy_in(&format!(
                    "COPY {stage} (\"seq\",{}) FROM STDIN (FORMAT binary)",
                    D.list(&names)
                ))
                .map_err(|e| self.err(e))?;
            let types = types(table);
            let mut writer = BinaryCopyInWriter::new(sink, &types);
            let mut cells = Vec::with_capacity(names.len());
            let none_time: Option<NaiveDateTime> = None;
            for i in 0..rows.len() {
                rows.row(i, &mut cells)?;
                let seq = i as i64;
                let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(cells.len() + 1);
                values.push(&seq);
                for c in &cells {
                    values.push(match c {
                        Cell::Null => &none_time,
                        Cell::F64(x) => x,
                        Cell::Text(s) => s,
                        Cell::Time(t) => t,
                    });
                }
                writer.write(&values).map_err(|e| self.err(e))?;
            }
            writer.finish().map_err(|e| self.err(e))?;
        }
        let keys = table.key_cells(key);
        let params: Vec<String> = keys
            .iter()
            .map(|c| match c {
                Cell::Text(s) => s.clone(),
                _ => String::new(),
            })
            .collect();
        let p: Vec<&(dyn ToSql + Sync)> = params.iter().map(|s| s as _).collect();
        // A copy into a range the series does not have yet (most of a migration) cannot conflict:
        // a plain INSERT then spares the upsert's speculative insertion, about a third of the work.
        let overlaps: bool = tx
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {data} WHERE {filter} AND \"datetime\" >= (SELECT MIN(\"datetime\") FROM {stage}) \
                     AND \"datetime\" <= (SELECT MAX(\"datetime\") FROM {stage}))",
                    data = q(table.data),
                    filter = D.key_filter(table),
                ),
                &p,
            )
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(e))?;
        let upsert = if overlaps {
            let updates = table
                .value_names()
                .iter()
                .map(|n| format!("{0}=EXCLUDED.{0}", q(n)))
                .collect::<Vec<_>>()
                .join(",");
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {updates}",
                D.list(&table.unique_names())
            )
        } else {
            String::new()
        };
        // One row per datetime, the last one given: ON CONFLICT cannot touch a row twice.
        tx.execute(
            &format!(
                "INSERT INTO {data} ({cols}) SELECT DISTINCT ON (\"datetime\") {cols} FROM {stage} \
                 ORDER BY \"datetime\", \"seq\" DESC{upsert}",
                data = q(table.data),
                cols = D.list(&names),
            ),
            &[],
        )
        .map_err(|e| self.err(e))?;
        let kcols = D.list(table.key_names());
        let filter = D.key_filter(table);
        tx.execute(
            &format!("DELETE FROM {} WHERE {filter}", q(table.overview)),
            &p,
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            &format!(
                "INSERT INTO {ov} ({kcols},\"count\",\"start\",\"end\") SELECT {kcols},COUNT(*),MIN(\"datetime\"),MAX(\"datetime\") \
                 FROM {data} WHERE {filter} GROUP BY {kcols}",
                ov = q(table.overview),
                data = q(table.data)
            ),
            &p,
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn select_in(
        &self,
        table: &Table,
        key: &SeriesKey,
        start: NaiveDateTime,
        end: NaiveDateTime,
        sink: &mut dyn FnMut(i64, Vec<Cell>) -> Result<()>,
    ) -> Result<()> {
        let kinds = table.value_kinds();
        // vn.py's tables hold REAL prices and SERIAL ids: cast so one reader fits both.
        let cols = kinds
            .iter()
            .map(|(n, k)| match k {
                Kind::Float => format!("{}::float8", q(n)),
                _ => q(n),
            })
            .collect::<Vec<_>>()
            .join(",");
        let n = table.key_names().len();
        let sql = format!(
            "SELECT \"id\"::int8,{cols} FROM {} WHERE {} AND \"datetime\">=${} AND \"datetime\"<=${} ORDER BY \"datetime\"",
            q(table.data),
            D.key_filter(table),
            n + 1,
            n + 2
        );
        let keys: Vec<String> = table
            .key_cells(key)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => s,
                _ => String::new(),
            })
            .collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = keys.iter().map(|s| s as _).collect();
        params.push(&start);
        params.push(&end);
        let mut c = self.client.lock();
        let client = &mut c.conn;
        let stmt = client.prepare(&sql).map_err(|e| self.err(e))?;
        let mut it = client.query_raw(&stmt, params).map_err(|e| self.err(e))?;
        while let Some(row) = it.next().map_err(|e| self.err(e))? {
            let id: i64 = row.try_get(0).map_err(|e| self.err(e))?;
            let mut cells = Vec::with_capacity(kinds.len());
            for (i, (_, kind)) in kinds.iter().enumerate() {
                let c = match kind {
                    Kind::Float => row
                        .try_get::<_, Option<f64>>(i + 1)
                        .map(|v| v.map_or(Cell::Null, Cell::F64)),
                    Kind::Time => row
                        .try_get::<_, Option<NaiveDateTime>>(i + 1)
                        .map(|v| v.map_or(Cell::Null, Cell::Time)),
                    Kind::Text => row
                        .try_get::<_, Option<String>>(i + 1)
                        .map(|v| v.map_or(Cell::Null, Cell::Text)),
                }
                .map_err(|e| self.err(e))?;
                cells.push(c);
            }
            sink(id, cells)?;
        }
        Ok(())
    }
}
