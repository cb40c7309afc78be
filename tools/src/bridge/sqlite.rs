//! vn.py's SQLite database (`vnpy_sqlite`) as a `Database`: the same tables, columns, indexes
//! and naive wall-clock datetime text, read and written so that vn.py reads the result back.
//!
//! Datetimes are stored as vn.py does: naive text in the database's zone (`--sql-tz`), with
//! microseconds when nonzero (finer digits are not stored). Overviews are recomputed from the data
//! tables, never read from vn.py's overview tables (which drift); writes keep those tables exact.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use parking_lot::Mutex;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
use tickvault::codec::{ColumnMut, ColumnRef};
use tickvault::{
    BarColumns, BarData, BarOverview, Columns, Database, Error, Exchange, Interval, Result,
    SeriesKey, TickColumns, TickData, TickOverview, Timestamp,
};

use crate::time;

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

/// (symbol, exchange, interval, count, first, last) of one series.
type SeriesSummary = (String, Exchange, Interval, u64, Timestamp, Timestamp);

/// A vn.py SQLite database file.
#[derive(Debug)]
pub struct VnpySqlite {
    conn: Mutex<Connection>,
    tz: Tz,
    path: String,
}

fn sql_err(path: &str, e: rusqlite::Error) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

/// Which vn.py table a kind of row lives in.
struct Table {
    data: &'static str,
    overview: &'static str,
    bars: bool,
}

const BARS: Table = Table {
    data: "dbbardata",
    overview: "dbbaroverview",
    bars: true,
};
const TICKS: Table = Table {
    data: "dbtickdata",
    overview: "dbtickoverview",
    bars: false,
};

impl VnpySqlite {
    /// Opens (creating when missing) the database at `path`; naive datetimes are in `tz`.
    pub fn open(path: &Path, tz: Tz) -> Result<VnpySqlite> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| sql_err(&name, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| sql_err(&name, e))?;
        Ok(VnpySqlite {
            conn: Mutex::new(conn),
            tz,
            path: name,
        })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        sql_err(&self.path, e)
    }

    /// vn.py's text of an instant: naive wall clock in the zone, microseconds when nonzero.
    fn text(&self, t: Timestamp) -> String {
        let local = DateTime::from_timestamp_nanos(t.as_ns())
            .with_timezone(&self.tz)
            .naive_local();
        if local.nanosecond() / 1000 == 0 {
            local.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            format!(
                "{}.{:06}",
                local.format("%Y-%m-%d %H:%M:%S"),
                local.nanosecond() / 1000
            )
        }
    }

    fn instant(&self, text: &str, table: &str, id: i64) -> Result<Timestamp> {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| {
            self.bad(
                table,
                id,
                &format!("datetime {text:?} is not vn.py's format"),
            )
        })?;
        time::from_naive(naive, self.tz).map_err(|e| self.bad(table, id, &e.to_string()))
    }

    fn bad(&self, table: &str, id: i64, what: &str) -> Error {
        Error::corruption(
            &self.path,
            id as u64,
            format!("{table} row id {id}: {what}"),
        )
    }

    fn save<C: Columns>(&self, table: &Table, key: &SeriesKey, cols: &C) -> Result<()> {
        let schema = C::schema();
        let mut names: Vec<&str> = vec!["symbol", "exchange"];
        if table.bars {
            names.push("interval");
        }
        names.extend(schema.iter().map(|s| s.name));
        let sql = format!(
            "INSERT OR REPLACE INTO \"{}\" ({}) VALUES ({})",
            table.data,
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(","),
            vec!["?"; names.len()].join(",")
        );
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.err(e))?;
            let refs = cols.refs();
            for i in 0..cols.len() {
                let mut row: Vec<Value> = vec![
                    Value::Text(key.symbol().to_string()),
                    Value::Text(key.exchange().to_string()),
                ];
                if table.bars {
                    row.push(Value::Text(key.interval().to_string()));
                }
                for col in &refs {
                    row.push(match col {
                        ColumnRef::Time(v) => Value::Text(self.text(v[i])),
                        ColumnRef::OptTime(v) => {
                            v[i].map_or(Value::Null, |t| Value::Text(self.text(t)))
                        }
                        ColumnRef::F64(v) => Value::Real(v[i]),
                        ColumnRef::Str(v) => Value::Text(v[i].to_string()),
                    });
                }
                stmt.execute(params_from_iter(row))
                    .map_err(|e| self.err(e))?;
            }
        }
        self.write_overview(&tx, table, key)?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Writes the exact overview row of a series, from its data, so that vn.py shows it right.
    fn write_overview(&self, conn: &Connection, table: &Table, key: &SeriesKey) -> Result<()> {
        let (cols, filter) = if table.bars {
            (
                "\"symbol\",\"exchange\",\"interval\"",
                "\"symbol\"=?1 AND \"exchange\"=?2 AND \"interval\"=?3",
            )
        } else {
            (
                "\"symbol\",\"exchange\"",
                "\"symbol\"=?1 AND \"exchange\"=?2",
            )
        };
        let mut p: Vec<Value> = vec![
            Value::Text(key.symbol().to_string()),
            Value::Text(key.exchange().to_string()),
        ];
        if table.bars {
            p.push(Value::Text(key.interval().to_string()));
        }
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

    fn load<C: Columns>(
        &self,
        table: &Table,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<C> {
        if start > end {
            return Ok(C::default());
        }
        let schema = C::schema();
        let list = schema
            .iter()
            .map(|s| format!("\"{}\"", s.name))
            .collect::<Vec<_>>()
            .join(",");
        let mut filter =
            "\"symbol\"=?1 AND \"exchange\"=?2 AND \"datetime\">=?3 AND \"datetime\"<=?4"
                .to_string();
        let mut p: Vec<Value> = vec![
            Value::Text(key.symbol().to_string()),
            Value::Text(key.exchange().to_string()),
            Value::Text(self.text(start)),
            Value::Text(self.text(end)),
        ];
        if table.bars {
            filter.push_str(" AND \"interval\"=?5");
            p.push(Value::Text(key.interval().to_string()));
        }
        let sql = format!(
            "SELECT \"id\",{list} FROM \"{}\" WHERE {filter} ORDER BY \"datetime\"",
            table.data
        );
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params_from_iter(p)).map_err(|e| self.err(e))?;
        let mut raw: Vec<(i64, Vec<Value>)> = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let values = (1..=schema.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?;
            raw.push((id, values));
        }
        let mut out = C::default();
        out.resize(raw.len());
        for (c, (spec, col)) in schema.iter().zip(out.muts()).enumerate() {
            let cell = |i: usize| {
                raw.get(i)
                    .and_then(|(_, v)| v.get(c))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let id = |i: usize| raw.get(i).map_or(0, |(id, _)| *id);
            match col {
                ColumnMut::Time(v) => {
                    for (i, slot) in v.iter_mut().enumerate() {
                        let Value::Text(t) = cell(i) else {
                            return Err(self.bad(
                                table.data,
                                id(i),
                                &format!("{} is not text", spec.name),
                            ));
                        };
                        *slot = self.instant(&t, table.data, id(i))?;
                    }
                }
                ColumnMut::OptTime(v) => {
                    for (i, slot) in v.iter_mut().enumerate() {
                        *slot = match cell(i) {
                            Value::Null => None,
                            Value::Text(t) => Some(self.instant(&t, table.data, id(i))?),
                            _ => {
                                return Err(self.bad(
                                    table.data,
                                    id(i),
                                    &format!("{} is not text", spec.name),
                                ))
                            }
                        };
                    }
                }
                ColumnMut::F64(v) => {
                    for (i, slot) in v.iter_mut().enumerate() {
                        *slot = match cell(i) {
                            Value::Real(x) => x,
                            Value::Integer(n) => n as f64,
                            // Levels 2-5 are NULLable in vn.py's schema: vn.py reads them as 0.
                            Value::Null
                                if !spec.name.ends_with("_1")
                                    && (spec.name.starts_with("bid_")
                                        || spec.name.starts_with("ask_")) =>
                            {
                                0.0
                            }
                            other => {
                                return Err(self.bad(
                                    table.data,
                                    id(i),
                                    &format!("{} is {other:?}, not a number", spec.name),
                                ))
                            }
                        };
                    }
                }
                ColumnMut::Str(v) => {
                    for (i, slot) in v.iter_mut().enumerate() {
                        let Value::Text(t) = cell(i) else {
                            return Err(self.bad(
                                table.data,
                                id(i),
                                &format!("{} is not text", spec.name),
                            ));
                        };
                        *slot = Arc::from(t.as_str());
                    }
                }
            }
        }
        Ok(out)
    }

    fn delete(&self, table: &Table, key: &SeriesKey) -> Result<u64> {
        let mut filter = "\"symbol\"=?1 AND \"exchange\"=?2".to_string();
        let mut p: Vec<Value> = vec![
            Value::Text(key.symbol().to_string()),
            Value::Text(key.exchange().to_string()),
        ];
        if table.bars {
            filter.push_str(" AND \"interval\"=?3");
            p.push(Value::Text(key.interval().to_string()));
        }
        let conn = self.conn.lock();
        let n = conn
            .execute(
                &format!("DELETE FROM \"{}\" WHERE {filter}", table.data),
                params_from_iter(p.clone()),
            )
            .map_err(|e| self.err(e))?;
        conn.execute(
            &format!("DELETE FROM \"{}\" WHERE {filter}", table.overview),
            params_from_iter(p),
        )
        .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    /// (symbol, exchange, interval, count, start, end) per series, from the data table.
    fn overview(&self, table: &Table) -> Result<Vec<SeriesSummary>> {
        let group = if table.bars {
            "\"symbol\",\"exchange\",\"interval\""
        } else {
            "\"symbol\",\"exchange\""
        };
        let sql = format!(
            "SELECT {group},COUNT(*),MIN(\"datetime\"),MAX(\"datetime\"),MIN(\"id\") FROM \"{}\" GROUP BY {group}",
            table.data
        );
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let off = usize::from(table.bars);
            let symbol: String = r.get(0).map_err(|e| self.err(e))?;
            let exchange: String = r.get(1).map_err(|e| self.err(e))?;
            let interval = if table.bars {
                r.get::<_, String>(2).map_err(|e| self.err(e))?
            } else {
                "tick".into()
            };
            let count: i64 = r.get(2 + off).map_err(|e| self.err(e))?;
            let (first, last): (String, String) = (
                r.get(3 + off).map_err(|e| self.err(e))?,
                r.get(4 + off).map_err(|e| self.err(e))?,
            );
            let id: i64 = r.get(5 + off).map_err(|e| self.err(e))?;
            let exchange: Exchange = exchange
                .parse()
                .map_err(|_| self.bad(table.data, id, &format!("unknown exchange {exchange:?}")))?;
            let interval: Interval = interval
                .parse()
                .map_err(|_| self.bad(table.data, id, &format!("unknown interval {interval:?}")))?;
            out.push((
                symbol,
                exchange,
                interval,
                count as u64,
                self.instant(&first, table.data, id)?,
                self.instant(&last, table.data, id)?,
            ));
        }
        Ok(out)
    }
}

fn group<R, C: Columns<Row = R>>(
    rows: &[R],
    key_of: impl Fn(&R) -> Result<SeriesKey>,
) -> Result<Vec<(SeriesKey, C)>> {
    let mut groups: Vec<(SeriesKey, C)> = Vec::new();
    for r in rows {
        let key = key_of(r)?;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => c.push_row(r),
            None => {
                let mut c = C::default();
                c.push_row(r);
                groups.push((key, c));
            }
        }
    }
    Ok(groups)
}

impl Database for VnpySqlite {
    fn save_bar_data(&self, bars: &[BarData], _stream: bool) -> Result<()> {
        for (key, cols) in
            group::<_, BarColumns>(bars, |b| SeriesKey::bar(&b.symbol, b.exchange, b.interval))?
        {
            self.save(&BARS, &key, &cols)?;
        }
        Ok(())
    }

    fn save_tick_data(&self, ticks: &[TickData], _stream: bool) -> Result<()> {
        for (key, cols) in
            group::<_, TickColumns>(ticks, |t| SeriesKey::tick(&t.symbol, t.exchange))?
        {
            self.save(&TICKS, &key, &cols)?;
        }
        Ok(())
    }

    fn load_bar_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<BarData>> {
        let key = SeriesKey::bar(symbol, exchange, interval)?;
        let cols: BarColumns = self.load(&BARS, &key, start, end)?;
        Ok((0..cols.len()).map(|i| cols.row(i, &key)).collect())
    }

    fn load_tick_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<TickData>> {
        let key = SeriesKey::tick(symbol, exchange)?;
        let cols: TickColumns = self.load(&TICKS, &key, start, end)?;
        Ok((0..cols.len()).map(|i| cols.row(i, &key)).collect())
    }

    fn delete_bar_data(&self, symbol: &str, exchange: Exchange, interval: Interval) -> Result<u64> {
        self.delete(&BARS, &SeriesKey::bar(symbol, exchange, interval)?)
    }

    fn delete_tick_data(&self, symbol: &str, exchange: Exchange) -> Result<u64> {
        self.delete(&TICKS, &SeriesKey::tick(symbol, exchange)?)
    }

    fn get_bar_overview(&self) -> Result<Vec<BarOverview>> {
        Ok(self
            .overview(&BARS)?
            .into_iter()
            .map(|(s, exchange, interval, count, start, end)| BarOverview {
                symbol: s.into(),
                exchange,
                interval,
                count,
                start,
                end,
            })
            .collect())
    }

    fn get_tick_overview(&self) -> Result<Vec<TickOverview>> {
        Ok(self
            .overview(&TICKS)?
            .into_iter()
            .map(|(s, exchange, _, count, start, end)| TickOverview {
                symbol: s.into(),
                exchange,
                count,
                start,
                end,
            })
            .collect())
    }
}
