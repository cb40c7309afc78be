//! The baseline of the benches: SQLite with vn.py's `dbbardata` schema, written and read the way
//! vn.py's SQLite adapter does (upsert of every bar in one transaction, naive datetime text).

use std::path::Path;

/// The benches allocate with mimalloc, as the `tickvault` command and the Python extension do:
/// glibc's malloc hands the large buffers of a load back to the kernel when they are freed, so
/// every load into fresh memory page-faults its whole result in again (3x the decode time of
/// 100,000 bars; see ARCHITECTURE.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rusqlite::{params, Connection};
use tickvault::{BarData, Exchange, Interval, Timestamp};

/// vn.py's bar table and its unique index, as peewee creates them.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS "dbbardata" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL,
  "exchange" VARCHAR(255) NOT NULL, "datetime" DATETIME NOT NULL, "interval" VARCHAR(255) NOT NULL,
  "volume" REAL NOT NULL, "turnover" REAL NOT NULL, "open_interest" REAL NOT NULL, "open_price" REAL NOT NULL,
  "high_price" REAL NOT NULL, "low_price" REAL NOT NULL, "close_price" REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "dbbardata_symbol_exchange_interval_datetime"
  ON "dbbardata" ("symbol", "exchange", "interval", "datetime");
"#;

/// vn.py's tick table and its unique index (five levels; levels 2-5 and localtime nullable).
const TICK_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS "dbtickdata" ("id" INTEGER NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL,
  "exchange" VARCHAR(255) NOT NULL, "datetime" DATETIME NOT NULL, "name" VARCHAR(255) NOT NULL,
  "volume" REAL NOT NULL, "turnover" REAL NOT NULL, "open_interest" REAL NOT NULL, "last_price" REAL NOT NULL,
  "last_volume" REAL NOT NULL, "limit_up" REAL NOT NULL, "limit_down" REAL NOT NULL, "open_price" REAL NOT NULL,
  "high_price" REAL NOT NULL, "low_price" REAL NOT NULL, "pre_close" REAL NOT NULL,
  "bid_price_1" REAL NOT NULL, "bid_price_2" REAL, "bid_price_3" REAL, "bid_price_4" REAL, "bid_price_5" REAL,
  "ask_price_1" REAL NOT NULL, "ask_price_2" REAL, "ask_price_3" REAL, "ask_price_4" REAL, "ask_price_5" REAL,
  "bid_volume_1" REAL NOT NULL, "bid_volume_2" REAL, "bid_volume_3" REAL, "bid_volume_4" REAL, "bid_volume_5" REAL,
  "ask_volume_1" REAL NOT NULL, "ask_volume_2" REAL, "ask_volume_3" REAL, "ask_volume_4" REAL, "ask_volume_5" REAL,
  "localtime" DATETIME);
CREATE UNIQUE INDEX IF NOT EXISTS "dbtickdata_symbol_exchange_datetime" ON "dbtickdata" ("symbol", "exchange", "datetime");
"#;

/// vn.py's tick table in SQLite with a WAL journal and `synchronous=FULL`: every committed
/// transaction is durable, the fair comparison for a durable append.
#[derive(Debug)]
pub struct SqliteTicks {
    conn: Connection,
}

impl SqliteTicks {
    /// Opens or creates the database with vn.py's tick schema.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(TICK_SCHEMA)?;
        Ok(SqliteTicks { conn })
    }

    /// Upserts one tick in its own transaction.
    pub fn save_tick(&mut self, t: &tickvault::TickData) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                r#"INSERT OR REPLACE INTO "dbtickdata" ("symbol","exchange","datetime","name","volume","turnover",
                   "open_interest","last_price","last_volume","limit_up","limit_down","open_price","high_price",
                   "low_price","pre_close","bid_price_1","bid_price_2","bid_price_3","bid_price_4","bid_price_5",
                   "ask_price_1","ask_price_2","ask_price_3","ask_price_4","ask_price_5","bid_volume_1","bid_volume_2",
                   "bid_volume_3","bid_volume_4","bid_volume_5","ask_volume_1","ask_volume_2","ask_volume_3",
                   "ask_volume_4","ask_volume_5","localtime")
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"#,
            )?;
            stmt.execute(rusqlite::params![
                &*t.symbol,
                t.exchange.as_str(),
                datetime_text(t.datetime),
                &*t.name,
                t.volume,
                t.turnover,
                t.open_interest,
                t.last_price,
                t.last_volume,
                t.limit_up,
                t.limit_down,
                t.open_price,
                t.high_price,
                t.low_price,
                t.pre_close,
                t.bid_price_1,
                t.bid_price_2,
                t.bid_price_3,
                t.bid_price_4,
                t.bid_price_5,
                t.ask_price_1,
                t.ask_price_2,
                t.ask_price_3,
                t.ask_price_4,
                t.ask_price_5,
                t.bid_volume_1,
                t.bid_volume_2,
                t.bid_volume_3,
                t.bid_volume_4,
                t.bid_volume_5,
                t.ask_volume_1,
                t.ask_volume_2,
                t.ask_volume_3,
                t.ask_volume_4,
                t.ask_volume_5,
                t.localtime.map(datetime_text)
            ])?;
        }
        tx.commit()
    }

    /// Number of ticks stored.
    pub fn count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row(r#"SELECT COUNT(*) FROM "dbtickdata""#, [], |r| r.get(0))
    }
}

/// A vn.py-schema SQLite database.
#[derive(Debug)]
pub struct SqliteVnpy {
    conn: Connection,
}

/// vn.py's text form of a naive datetime: `2024-01-02 09:00:00`, `.ffffff` when nonzero.
pub fn datetime_text(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s, ns) = t.to_utc();
    if ns == 0 {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!(
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:06}",
            ns / 1000
        )
    }
}

/// Parses [`datetime_text`] back.
pub fn parse_datetime_text(s: &str) -> Option<Timestamp> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<u32>().ok();
    let micros = if s.len() > 20 { num(20, 26)? } else { 0 };
    Timestamp::from_utc(
        num(0, 4)? as i32,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        micros * 1000,
    )
}

impl SqliteVnpy {
    /// Opens or creates the database file with vn.py's schema.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteVnpy { conn })
    }

    /// Upserts bars in one transaction (vn.py: `INSERT OR REPLACE`).
    pub fn save_bars(&mut self, bars: &[BarData]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                r#"INSERT OR REPLACE INTO "dbbardata" ("symbol","exchange","datetime","interval","volume","turnover",
                   "open_interest","open_price","high_price","low_price","close_price") VALUES (?,?,?,?,?,?,?,?,?,?,?)"#,
            )?;
            for b in bars {
                stmt.execute(params![
                    &*b.symbol,
                    b.exchange.as_str(),
                    datetime_text(b.datetime),
                    b.interval.as_str(),
                    b.volume,
                    b.turnover,
                    b.open_interest,
                    b.open_price,
                    b.high_price,
                    b.low_price,
                    b.close_price
                ])?;
            }
        }
        tx.commit()
    }

    /// Loads bars with `start <= datetime <= end`, ascending.
    pub fn load_bars(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> rusqlite::Result<Vec<BarData>> {
        let mut stmt = self.conn.prepare_cached(
            r#"SELECT "datetime","volume","turnover","open_interest","open_price","high_price","low_price","close_price"
               FROM "dbbardata" WHERE "symbol"=? AND "exchange"=? AND "interval"=? AND "datetime">=? AND "datetime"<=?
               ORDER BY "datetime""#,
        )?;
        let sym: tickvault::SmolStr = symbol.into();
        let rows = stmt.query_map(
            params![
                symbol,
                exchange.as_str(),
                interval.as_str(),
                datetime_text(start),
                datetime_text(end)
            ],
            |r| {
                let text: String = r.get(0)?;
                Ok(BarData {
                    symbol: sym.clone(),
                    exchange,
                    interval,
                    datetime: parse_datetime_text(&text).unwrap_or_default(),
                    volume: r.get(1)?,
                    turnover: r.get(2)?,
                    open_interest: r.get(3)?,
                    open_price: r.get(4)?,
                    high_price: r.get(5)?,
                    low_price: r.get(6)?,
                    close_price: r.get(7)?,
                })
            },
        )?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_tick_baseline_upserts() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteTicks::open(&dir.path().join("ticks.db")).unwrap();
        let mut t = tickvault::TickData::new("rb", Exchange::SHFE, Timestamp::from_secs(1));
        db.save_tick(&t).unwrap();
        t.last_price = 2.0;
        db.save_tick(&t).unwrap();
        t.datetime = Timestamp::from_secs(2);
        db.save_tick(&t).unwrap();
        assert_eq!(db.count().unwrap(), 2);
    }

    #[test]
    fn sqlite_baseline_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteVnpy::open(&dir.path().join("database.db")).unwrap();
        let mut a = BarData::new(
            "rb",
            Exchange::SHFE,
            Interval::Minute,
            Timestamp::from_secs(60),
        );
        a.close_price = 1.5;
        let mut b = a.clone();
        b.datetime = Timestamp::from_ns(120_000_500_000);
        db.save_bars(&[b.clone(), a.clone()]).unwrap();
        a.close_price = 2.5;
        db.save_bars(&[a.clone()]).unwrap();
        let got = db
            .load_bars(
                "rb",
                Exchange::SHFE,
                Interval::Minute,
                Timestamp::MIN.add_ns(0).max(Timestamp::from_secs(0)),
                Timestamp::from_secs(1000),
            )
            .unwrap();
        assert_eq!(got, vec![a, b]);
        assert_eq!(
            datetime_text(Timestamp::from_ns(120_000_500_000)),
            "1970-01-01 00:02:00.000500"
        );
    }
}
