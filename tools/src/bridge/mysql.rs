//! vn.py's MySQL/MariaDB database (`vnpy_mysql`) as a SQL backend.
//!
//! Writes are multi-row `REPLACE INTO` statements (last row wins on the unique key) in one
//! transaction per series, followed by the series' exact overview row. Datetimes keep the precision
//! of the table's column, which vn.py makes whole seconds for bars (DATETIME) and milliseconds for
//! ticks (DATETIME(3)); finer digits are dropped. Tables tickvault creates use utf8mb4 with a
//! binary collation (vn.py's default collation folds case, so `rb2610` and `RB2610` would collide)
//! and BIGINT ids. MySQL's DOUBLE cannot hold NaN or infinities: such rows are refused by name.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};
use parking_lot::Mutex;
use tickvault::{Result, SeriesKey};

use super::sql::{
    self, backend_err, Backend, Cell, Clock, Dialect, Exec, Precision, RowCells, Session, Summary,
    Table,
};
use super::sql::{BARS, TICKS};

/// A MySQL or MariaDB database with vn.py's tables.
pub struct VnpyMysql {
    conn: Mutex<Session<Conn>>,
    clock: Clock,
    place: String,
    bar_precision: Precision,
    tick_precision: Precision,
}

impl std::fmt::Debug for VnpyMysql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VnpyMysql")
            .field("place", &self.place)
            .finish()
    }
}

const D: Dialect = sql::MYSQL;

fn q(name: &str) -> String {
    D.q(name)
}

fn schema(table: &Table) -> [String; 2] {
    let unique = table.unique_names();
    let time = if table.bars {
        "DATETIME"
    } else {
        "DATETIME(3)"
    };
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {data} (`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, {cols}, \
             UNIQUE KEY {index} ({unique})) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            data = q(table.data),
            cols = table.data_ddl(&q, time, "DOUBLE"),
            index = q(&format!("{}_{}", table.data, unique.join("_"))),
            unique = D.list(&unique),
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ov} (`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, {cols}, \
             UNIQUE KEY {index} ({unique})) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            ov = q(table.overview),
            cols = table.overview_ddl(&q, time),
            index = q(&format!("{}_{}", table.overview, table.key_names().join("_"))),
            unique = D.list(table.key_names()),
        ),
    ]
}

impl Exec for Conn {
    fn run_sql(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.query_drop(sql).map_err(|e| e.to_string())
    }
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::NULL,
        Cell::F64(x) => Value::Double(*x),
        Cell::Text(s) => Value::Bytes(s.as_bytes().to_vec()),
        Cell::Time(t) => Value::Date(
            t.year().clamp(0, 9999) as u16,
            t.month() as u8,
            t.day() as u8,
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            t.nanosecond() / 1000,
        ),
    }
}

fn cell(v: Value) -> Cell {
    match v {
        Value::NULL => Cell::Null,
        Value::Bytes(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(n) => Cell::F64(n as f64),
        Value::UInt(n) => Cell::F64(n as f64),
        Value::Float(x) => Cell::F64(f64::from(x)),
        Value::Double(x) => Cell::F64(x),
        Value::Date(y, mo, d, h, mi, s, us) => {
            NaiveDate::from_ymd_opt(y.into(), mo.into(), d.into())
                .and_then(|date| date.and_hms_micro_opt(h.into(), mi.into(), s.into(), us))
                .map_or_else(
                    || {
                        Cell::Text(format!(
                            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
                        ))
                    },
                    Cell::Time,
                )
        }
        Value::Time(..) => Cell::Text(format!("{v:?}")),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::UInt(n) => *n as i64,
        Value::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// The most rows a `REPLACE` statement carries: MySQL allows 65,535 placeholders.
const STATEMENT_ROWS: usize = 1000;

impl VnpyMysql {
    /// Connects to `url` (`mysql://user[:password]@host[:port]/db`), creating vn.py's tables when
    /// missing. `place` names the database in messages and must not hold the password.
    pub fn connect(url: &str, place: &str, clock: Clock) -> Result<VnpyMysql> {
        let err = |e: mysql::Error| backend_err(place, e);
        let opts = Opts::from_url(url).map_err(|e| backend_err(place, e))?;
        let mut conn = Conn::new(opts).map_err(err)?;
        // Naive datetimes must not be shifted by the session's zone, and text must be UTF-8.
        conn.query_drop("SET NAMES utf8mb4, time_zone = '+00:00'")
            .map_err(err)?;
        for ddl in schema(&BARS).iter().chain(schema(&TICKS).iter()) {
            conn.query_drop(ddl).map_err(err)?;
        }
        let mut precision = |table: &str| -> Result<Precision> {
            let p: Option<Option<i64>> = conn
                .exec_first(
                    "SELECT DATETIME_PRECISION FROM information_schema.COLUMNS \
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'datetime'",
                    (table,),
                )
                .map_err(err)?;
            Ok(match p.flatten().unwrap_or(0) {
                0 => Precision::Seconds,
                1..=3 => Precision::Millis,
                _ => Precision::Micros,
            })
        };
        let bar_precision = precision(BARS.data)?;
        let tick_precision = precision(TICKS.data)?;
        Ok(VnpyMysql {
            conn: Mutex::new(Session::new(conn)),
            clock,
            place: place.to_string(),
            bar_precision,
            tick_precision,
        })
    }

    fn err(&self, e: mysql::Error) -> tickvault::Error {
        backend_err(&self.place, e)
    }

    /// Runs `f` in a transaction of its own, or in the one `begin` opened.
    fn transaction<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        self.conn.lock().transaction(&self.place, f)
    }
}

impl Backend for VnpyMysql {
    fn place(&self) -> &str {
        &self.place
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn precision(&self, table: &Table) -> Precision {
        if table.bars {
            self.bar_precision
        } else {
            self.tick_precision
        }
    }

    fn stores_non_finite(&self) -> bool {
        false
    }

    fn upsert(&self, table: &Table, key: &SeriesKey, rows: &RowCells<'_>) -> Result<()> {
        let names = table.all_names();
        let one = format!("({})", vec!["?"; names.len()].join(","));
        let statement = |n: usize| {
            format!(
                "REPLACE INTO {} ({}) VALUES {}",
                q(table.data),
                D.list(&names),
                vec![one.as_str(); n].join(",")
            )
        };
        self.transaction(|tx| {
        let mut cells = Vec::with_capacity(names.len());
        let mut start = 0;
        while start < rows.len() {
            let end = (start + STATEMENT_ROWS).min(rows.len());
            let mut params = Vec::with_capacity((end - start) * names.len());
            for i in start..end {
                rows.row(i, &mut cells)?;
                params.extend(cells.iter().map(value));
            }
            tx.exec_drop(statement(end - start), params)
                .map_err(|e| self.err(e))?;
            start = end;
        }
        let keys: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        let kcols = D.list(table.key_names());
        let filter = D.key_filter(table);
        tx.exec_drop(
            format!("DELETE FROM {} WHERE {filter}", q(table.overview)),
            keys.clone(),
        )
        .map_err(|e| self.err(e))?;
        tx.exec_drop(
            format!(
                "INSERT INTO {ov} ({kcols},`count`,`start`,`end`) SELECT {kcols},COUNT(*),MIN(`datetime`),MAX(`datetime`) \
                 FROM {data} WHERE {filter} GROUP BY {kcols}",
                ov = q(table.overview),
                data = q(table.data)
            ),
            keys,
        )
        .map_err(|e| self.err(e))?;
        Ok(())
        })
    }

    fn begin(&self) -> Result<()> {
        self.conn.lock().begin(&self.place)
    }

    fn end(&self, commit: bool) -> Result<()> {
        self.conn.lock().end(&self.place, commit)
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
        let sql = format!(
            "SELECT `id`,{} FROM {} WHERE {} AND `datetime`>=? AND `datetime`<=? ORDER BY `datetime`",
            D.list(&names),
            q(table.data),
            D.key_filter(table),
        );
        let mut params: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        params.push(value(&Cell::Time(start)));
        params.push(value(&Cell::Time(end)));
        let mut c = self.conn.lock();
        let result = c.conn.exec_iter(sql, params).map_err(|e| self.err(e))?;
        for row in result {
            let row = row.map_err(|e| self.err(e))?;
            let mut values = row.unwrap();
            if values.is_empty() {
                continue;
            }
            let id = int(&values[0]);
            let cells = values.drain(1..).map(cell).collect();
            sink(id, cells)?;
        }
        Ok(())
    }

    fn delete(&self, table: &Table, key: &SeriesKey) -> Result<u64> {
        let keys: Vec<Value> = table.key_cells(key).iter().map(value).collect();
        let filter = D.key_filter(table);
        self.transaction(|tx| {
            tx.exec_drop(
                format!("DELETE FROM {} WHERE {filter}", q(table.data)),
                keys.clone(),
            )
            .map_err(|e| self.err(e))?;
            let n = tx.affected_rows();
            tx.exec_drop(
                format!("DELETE FROM {} WHERE {filter}", q(table.overview)),
                keys,
            )
            .map_err(|e| self.err(e))?;
            Ok(n)
        })
    }

    fn summaries(&self, table: &Table) -> Result<Vec<Summary>> {
        let group = D.list(table.key_names());
        let sql = format!(
            "SELECT {group},COUNT(*),MIN(`datetime`),MAX(`datetime`),MIN(`id`) FROM {} GROUP BY {group}",
            q(table.data)
        );
        let k = table.key_names().len();
        let mut c = self.conn.lock();
        let rows: Vec<mysql::Row> = c.conn.exec(sql, ()).map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut v = r.unwrap();
                let id = int(&v[k + 3]);
                let count = int(&v[k]);
                let last = cell(std::mem::replace(&mut v[k + 2], Value::NULL));
                let first = cell(std::mem::replace(&mut v[k + 1], Value::NULL));
                let key = v
                    .drain(..k)
                    .map(|x| match cell(x) {
                        Cell::Text(s) => s,
                        other => format!("{other:?}"),
                    })
                    .collect();
                Summary {
                    id,
                    key,
                    count,
                    first,
                    last,
                }
            })
            .collect())
    }
}
