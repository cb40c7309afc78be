//! The SQL bridge against real PostgreSQL and MySQL/MariaDB servers.
//!
//! The servers come from `TICKVAULT_TEST_POSTGRES` (e.g. `postgresql://postgres@127.0.0.1:5432/test`)
//! and `TICKVAULT_TEST_MYSQL` (e.g. `mysql://root@127.0.0.1:3306/test`); `.ci/run` sets both. Each
//! test works in a database of its own, created and dropped here. A test whose server URL is not
//! set prints why and returns; one whose server does not answer fails.

mod common;

use common::{run as tv, run_fails as fails, run_ok as ok};

use std::path::Path;

use mysql::prelude::Queryable;
use tickvault::{BarData, Database, Engine, Exchange, Interval, TickData, Timestamp};

fn vnpy_db() -> String {
    format!(
        "sqlite:{}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/vnpy/database.db")
            .display()
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Server {
    Postgres,
    Mysql,
}

/// A database of its own on a server, dropped when the test ends.
struct Scratch {
    server: Server,
    admin: String,
    name: String,
    url: String,
}

impl Scratch {
    /// A fresh database for `test`, or `None` (with a printed reason) when no server is configured.
    fn new(server: Server, test: &str) -> Option<Scratch> {
        let var = match server {
            Server::Postgres => "TICKVAULT_TEST_POSTGRES",
            Server::Mysql => "TICKVAULT_TEST_MYSQL",
        };
        let Ok(admin) = std::env::var(var) else {
            eprintln!("skipped: {var} is not set (see the README's Testing section)");
            return None;
        };
        let name = format!("tv_{test}_{}", std::process::id());
        let base = admin.rsplit_once('/').expect("URL ends in /DATABASE").0;
        let s = Scratch {
            server,
            url: format!("{base}/{name}"),
            admin,
            name,
        };
        s.admin_exec(&format!("DROP DATABASE IF EXISTS {}", s.name));
        s.admin_exec(&format!("CREATE DATABASE {}", s.name));
        Some(s)
    }

    fn admin_exec(&self, sql: &str) {
        match self.server {
            Server::Postgres => {
                let mut c = postgres::Client::connect(&self.admin, postgres::NoTls)
                    .expect("PostgreSQL answers");
                c.batch_execute(sql).unwrap();
            }
            Server::Mysql => {
                let mut c = mysql::Conn::new(mysql::Opts::from_url(&self.admin).unwrap())
                    .expect("MySQL answers");
                c.query_drop(sql).unwrap();
            }
        }
    }

    /// Runs statements in the scratch database.
    fn exec(&self, sql: &str) {
        match self.server {
            Server::Postgres => {
                let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
                c.batch_execute(sql).unwrap();
            }
            Server::Mysql => {
                let mut c = mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap();
                c.query_drop(sql).unwrap();
            }
        }
    }

    /// The first column of every row of a query, as text.
    fn column(&self, sql: &str) -> Vec<String> {
        match self.server {
            Server::Postgres => {
                let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
                c.simple_query(sql)
                    .unwrap()
                    .into_iter()
                    .filter_map(|m| match m {
                        postgres::SimpleQueryMessage::Row(r) => {
                            Some(r.get(0).unwrap_or("NULL").to_string())
                        }
                        _ => None,
                    })
                    .collect()
            }
            Server::Mysql => {
                let mut c = mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap();
                let rows: Vec<Option<String>> = c.query(sql).unwrap();
                rows.into_iter()
                    .map(|v| v.unwrap_or_else(|| "NULL".into()))
                    .collect()
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept database {} for inspection", self.name);
            return;
        }
        if self.server == Server::Postgres {
            // Let go of connections the tool left before dropping.
            self.admin_exec(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ));
        }
        self.admin_exec(&format!("DROP DATABASE IF EXISTS {}", self.name));
    }
}

/// A tickvault store holding what a round trip must keep: Unicode and path-hostile symbols, times
/// before 1970 and after 2100, millisecond ticks with and without a local time, and deep levels.
fn varied_store(path: &Path) {
    let db = Engine::open(path).unwrap();
    let mut bars = Vec::new();
    for (symbol, exchange) in [
        ("rb2610", Exchange::SHFE),
        ("螺纹/钢 x'y\"z", Exchange::SHFE),
    ] {
        for (i, secs) in [-86_400 * 3, 0, 1_700_000_000, 4_200_000_000]
            .into_iter()
            .enumerate()
        {
            let mut b = BarData::new(
                symbol,
                exchange,
                Interval::Minute,
                Timestamp::from_secs(secs),
            );
            b.open_price = 3517.4 + i as f64;
            b.high_price = 3600.25;
            b.low_price = -1.25;
            b.close_price = 1e-7 * i as f64;
            b.volume = 123_456_789.0;
            b.turnover = 4.5e12;
            b.open_interest = i as f64;
            bars.push(b);
        }
    }
    db.save_bar_data(&bars, false).unwrap();
    let mut ticks = Vec::new();
    for i in 0..500i64 {
        let mut t = TickData::new(
            "IF2612",
            Exchange::CFFEX,
            Timestamp::from_millis(1_767_000_000_000 + i * 500),
        );
        t.name = "沪深300 2612".into();
        t.last_price = 4000.2 + i as f64 * 0.2;
        t.volume = i as f64;
        t.bid_price_1 = 4000.0;
        t.bid_price_5 = 3999.0;
        t.ask_volume_3 = 7.0;
        t.limit_up = 4400.0;
        if i % 3 != 0 {
            t.localtime = Some(Timestamp::from_millis(1_767_000_000_000 + i * 500 + 3));
        }
        ticks.push(t);
    }
    db.save_tick_data(&ticks, false).unwrap();
}

fn both(test: &str) -> Option<(Scratch, Scratch)> {
    Some((
        Scratch::new(Server::Postgres, test)?,
        Scratch::new(Server::Mysql, test)?,
    ))
}

#[test]
fn round_trip_through_sqlite_postgres_and_mysql_is_exact() {
    let Some((pg, my)) = both("chain") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    varied_store(&a);
    let sqlite = format!("sqlite:{}", dir.path().join("v.db").display());
    let hops = [
        a.to_str().unwrap(),
        &sqlite,
        &pg.url,
        &my.url,
        b.to_str().unwrap(),
    ];
    for pair in hops.windows(2) {
        ok(&[
            "migrate",
            "--from",
            pair[0],
            "--to",
            pair[1],
            "--sql-tz",
            "Asia/Shanghai",
            "--verify",
        ]);
    }
    ok(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--sql-tz",
        "UTC",
    ]);
    // What vn.py sees: exact overview rows, naive Shanghai wall clock.
    assert_eq!(
        pg.column(
            "SELECT count::text || ' ' || start::text || ' ' || \"end\"::text FROM dbtickoverview"
        ),
        ["500 2025-12-29 17:20:00 2025-12-29 17:24:09.5"]
    );
    assert_eq!(
        my.column("SELECT CONCAT(`count`, ' ', `start`, ' ', `end`) FROM dbtickoverview"),
        ["500 2025-12-29 17:20:00.000 2025-12-29 17:24:09.500"]
    );
    assert_eq!(
        my.column("SELECT symbol FROM dbbaroverview ORDER BY symbol"),
        ["rb2610", "螺纹/钢 x'y\"z"]
    );
    assert_eq!(
        pg.column("SELECT datetime::text FROM dbbardata WHERE symbol = 'rb2610' ORDER BY datetime"),
        [
            "1969-12-29 08:00:00",
            "1970-01-01 08:00:00",
            "2023-11-15 06:13:20",
            "2103-02-04 10:40:00"
        ]
    );
    // Migrating again changes nothing and duplicates nothing.
    ok(&[
        "migrate",
        "--from",
        &pg.url,
        "--to",
        &my.url,
        "--sql-tz",
        "Asia/Shanghai",
    ]);
    assert_eq!(my.column("SELECT COUNT(*) FROM dbbardata"), ["8"]);
    assert_eq!(my.column("SELECT COUNT(*) FROM dbtickdata"), ["500"]);
}

#[test]
fn vnpys_database_migrates_through_each_server_and_back_unchanged() {
    for server in [Server::Postgres, Server::Mysql] {
        let Some(s) = Scratch::new(server, "vnpydb") else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let back = format!("sqlite:{}", dir.path().join("back.db").display());
        let tz = ["--sql-tz", "Asia/Shanghai"];
        ok(&[
            &["migrate", "--from", &vnpy_db(), "--to", &s.url, "--verify"][..],
            &tz,
        ]
        .concat());
        ok(&[&["migrate", "--from", &s.url, "--to", &back][..], &tz].concat());
        ok(&[&["compare", &vnpy_db(), &back][..], &tz].concat());
        // Rows as vn.py's own adapter would read them.
        assert_eq!(
            s.column("SELECT COUNT(*) FROM dbbardata"),
            ["14205"],
            "{server:?}"
        );
        let name = s.column("SELECT name FROM dbtickdata ORDER BY datetime DESC LIMIT 1");
        assert_eq!(name, ["螺纹钢2610"], "{server:?}");
        let first = s.column(
            "SELECT open_price FROM dbbardata WHERE `interval` = '1m' ORDER BY datetime LIMIT 1"
                .replace(
                    '`',
                    if server == Server::Postgres {
                        "\""
                    } else {
                        "`"
                    },
                )
                .as_str(),
        );
        assert_eq!(first, ["126.35"], "{server:?}");
    }
}

#[test]
fn vnpy_created_postgres_tables_keep_real_prices_and_are_read_as_stored() {
    let Some(pg) = Scratch::new(Server::Postgres, "real") else {
        return;
    };
    // The tables exactly as vnpy_postgresql (peewee) creates them: SERIAL ids, REAL prices.
    pg.exec(
        r#"CREATE TABLE "dbbardata" ("id" SERIAL NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "datetime" TIMESTAMP NOT NULL, "interval" VARCHAR(255) NOT NULL, "volume" REAL NOT NULL, "turnover" REAL NOT NULL, "open_interest" REAL NOT NULL, "open_price" REAL NOT NULL, "high_price" REAL NOT NULL, "low_price" REAL NOT NULL, "close_price" REAL NOT NULL);
        CREATE UNIQUE INDEX "dbbardata_symbol_exchange_interval_datetime" ON "dbbardata" ("symbol", "exchange", "interval", "datetime");
        CREATE TABLE "dbbaroverview" ("id" SERIAL NOT NULL PRIMARY KEY, "symbol" VARCHAR(255) NOT NULL, "exchange" VARCHAR(255) NOT NULL, "interval" VARCHAR(255) NOT NULL, "count" INTEGER NOT NULL, "start" TIMESTAMP NOT NULL, "end" TIMESTAMP NOT NULL);
        CREATE UNIQUE INDEX "dbbaroverview_symbol_exchange_interval" ON "dbbaroverview" ("symbol", "exchange", "interval");"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    {
        let db = Engine::open(&store).unwrap();
        let mut b = BarData::new(
            "rb2610",
            Exchange::SHFE,
            Interval::Daily,
            Timestamp::from_secs(86_400),
        );
        b.close_price = 3517.4;
        b.volume = 10.0;
        db.save_bar_data(&[b], false).unwrap();
    }
    let tz = ["--sql-tz", "UTC"];
    ok(&[
        &[
            "migrate",
            "--bars",
            "--from",
            store.to_str().unwrap(),
            "--to",
            &pg.url,
        ][..],
        &tz,
    ]
    .concat());
    let back = dir.path().join("back");
    ok(&[
        &[
            "migrate",
            "--bars",
            "--from",
            &pg.url,
            "--to",
            back.to_str().unwrap(),
        ][..],
        &tz,
    ]
    .concat());
    let db = Engine::open(&back).unwrap();
    let bars = db
        .load_bar_data(
            "rb2610",
            Exchange::SHFE,
            Interval::Daily,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap();
    // What a 4-byte REAL holds of 3517.4, no more and no less.
    assert_eq!(bars[0].close_price, 3517.39990234375);
    assert_eq!(bars[0].volume, 10.0);
    // compare tells the difference, by row.
    let out = tv(&[
        &["compare", "--bars", store.to_str().unwrap(), &pg.url][..],
        &tz,
    ]
    .concat());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3517.4") && text.contains("3517.39990234375"),
        "{text}"
    );
}

#[test]
fn hostile_symbols_are_data_and_bad_rows_are_named_on_servers() {
    let hostile = "x'; DROP TABLE dbbardata; --";
    for server in [Server::Postgres, Server::Mysql] {
        let Some(s) = Scratch::new(server, "hostile") else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("db");
        {
            let db = Engine::open(&store).unwrap();
            let mut b = BarData::new(
                hostile,
                Exchange::SSE,
                Interval::Daily,
                Timestamp::from_secs(86_400),
            );
            b.close_price = 7.5;
            db.save_bar_data(&[b], false).unwrap();
        }
        let tz = ["--sql-tz", "UTC"];
        ok(&[
            &["migrate", "--from", store.to_str().unwrap(), "--to", &s.url][..],
            &tz,
        ]
        .concat());
        assert_eq!(
            s.column("SELECT symbol FROM dbbardata"),
            [hostile],
            "{server:?}"
        );
        let back = dir.path().join("back");
        ok(&[
            &[
                "migrate",
                "--from",
                &s.url,
                "--to",
                back.to_str().unwrap(),
                "--verify",
            ][..],
            &tz,
        ]
        .concat());
        // An exchange vn.py does not know, and a NULL price, are named by table and row id.
        let q = if server == Server::Postgres {
            "\""
        } else {
            "`"
        };
        s.exec(&format!(
            "INSERT INTO dbbardata (symbol, exchange, datetime, {q}interval{q}, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('y', 'MOON', '2024-01-02 00:00:00', 'd', 0, 0, 0, 1, 1, 1, 1)"
        ));
        let id = s.column("SELECT id FROM dbbardata WHERE exchange = 'MOON'")[0].clone();
        let err = fails(
            &[
                &[
                    "migrate",
                    "--from",
                    &s.url,
                    "--to",
                    dir.path().join("x").to_str().unwrap(),
                ][..],
                &tz,
            ]
            .concat(),
        );
        assert!(
            err.contains(&format!("dbbardata row id {id}")) && err.contains("MOON"),
            "{server:?}: {err}"
        );
        s.exec("DELETE FROM dbbardata WHERE exchange = 'MOON'");
        s.exec(&format!(
            "ALTER TABLE dbbardata {}",
            if server == Server::Postgres {
                "ALTER COLUMN open_price DROP NOT NULL"
            } else {
                "MODIFY open_price DOUBLE NULL"
            }
        ));
        s.exec(&format!(
            "INSERT INTO dbbardata (symbol, exchange, datetime, {q}interval{q}, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('n', 'SSE', '2024-01-02 00:00:00', 'd', 0, 0, 0, NULL, 1, 1, 1)"
        ));
        let id = s.column("SELECT id FROM dbbardata WHERE symbol = 'n'")[0].clone();
        let err = fails(
            &[
                &[
                    "migrate",
                    "--from",
                    &s.url,
                    "--to",
                    dir.path().join("y").to_str().unwrap(),
                ][..],
                &tz,
            ]
            .concat(),
        );
        assert!(
            err.contains(&format!("dbbardata row id {id}")) && err.contains("open_price is Null"),
            "{server:?}: {err}"
        );
    }
}

#[test]
fn mysql_refuses_nan_by_name_and_writes_nothing() {
    let Some(my) = Scratch::new(Server::Mysql, "nan") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    {
        let db = Engine::open(&store).unwrap();
        let mut good = BarData::new(
            "ok",
            Exchange::SSE,
            Interval::Daily,
            Timestamp::from_secs(0),
        );
        good.close_price = 1.0;
        let mut bad = BarData::new(
            "nan",
            Exchange::SSE,
            Interval::Daily,
            Timestamp::from_secs(86_400),
        );
        bad.high_price = f64::NAN;
        db.save_bar_data(&[good, bad], false).unwrap();
    }
    let err = fails(&[
        "migrate",
        "--from",
        store.to_str().unwrap(),
        "--to",
        &my.url,
        "--sql-tz",
        "UTC",
    ]);
    assert!(
        err.contains("nan.SSE d")
            && err.contains("high_price is NaN")
            && err.contains("1970-01-02 00:00:00"),
        "{err}"
    );
    assert_eq!(
        my.column("SELECT COUNT(*) FROM dbbardata WHERE symbol = 'nan'"),
        ["0"]
    );
}

#[test]
fn dst_edges_round_trip_exactly_and_ambiguous_times_are_refused() {
    let Some(pg) = Scratch::new(Server::Postgres, "dst") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    // New York: 2024-03-10 02:00 EST jumps to 03:00 EDT (07:00 UTC); 2024-11-03 02:00 EDT falls
    // back to 01:00 EST (06:00 UTC), so 01:00-01:59 happens twice (05:00-06:59 UTC).
    let safe = [
        "2024-03-10T06:59:00Z", // 01:59 EST
        "2024-03-10T07:00:00Z", // 03:00 EDT
        "2024-11-03T04:59:59Z", // 00:59:59 EDT
        "2024-11-03T07:00:00Z", // 02:00 EST
    ];
    let at = |s: &str| {
        let t = chrono::DateTime::parse_from_rfc3339(s).unwrap();
        Timestamp::from_secs(t.timestamp())
    };
    {
        let db = Engine::open(&store).unwrap();
        let bars: Vec<BarData> = safe
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut b = BarData::new("SPY", Exchange::ARCA, Interval::Minute, at(s));
                b.close_price = i as f64;
                b
            })
            .collect();
        db.save_bar_data(&bars, false).unwrap();
    }
    let tz = ["--sql-tz", "America/New_York"];
    ok(&[
        &[
            "migrate",
            "--from",
            store.to_str().unwrap(),
            "--to",
            &pg.url,
            "--verify",
        ][..],
        &tz,
    ]
    .concat());
    assert_eq!(
        pg.column("SELECT datetime::text FROM dbbardata ORDER BY datetime"),
        [
            "2024-03-10 01:59:00",
            "2024-03-10 03:00:00",
            "2024-11-03 00:59:59",
            "2024-11-03 02:00:00"
        ]
    );
    // An instant in the repeated hour cannot be told apart in naive wall-clock time: refused,
    // and the series in the target stays as it was.
    {
        let db = Engine::open(&store).unwrap();
        let mut b = BarData::new(
            "SPY",
            Exchange::ARCA,
            Interval::Minute,
            at("2024-11-03T06:30:00Z"),
        );
        b.close_price = 99.0;
        let mut later = BarData::new(
            "SPY",
            Exchange::ARCA,
            Interval::Minute,
            at("2024-12-01T12:00:00Z"),
        );
        later.close_price = 100.0;
        db.save_bar_data(&[b, later], false).unwrap();
    }
    let err = fails(
        &[
            &[
                "migrate",
                "--from",
                store.to_str().unwrap(),
                "--to",
                &pg.url,
            ][..],
            &tz,
        ]
        .concat(),
    );
    assert!(
        err.contains("2024-11-03 01:30:00") && err.contains("repeats"),
        "{err}"
    );
    assert_eq!(pg.column("SELECT COUNT(*) FROM dbbardata"), ["4"]);
    // A naive time the spring-forward skips is reported when read, not shifted.
    pg.exec("INSERT INTO dbbardata (symbol, exchange, datetime, interval, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('SPY', 'ARCA', '2024-03-10 02:30:00', '1m', 0, 0, 0, 1, 1, 1, 1)");
    let err = fails(
        &[
            &[
                "migrate",
                "--from",
                &pg.url,
                "--to",
                dir.path().join("x").to_str().unwrap(),
            ][..],
            &tz,
        ]
        .concat(),
    );
    assert!(
        err.contains("2024-03-10 02:30:00") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn a_server_that_disconnects_mid_series_leaves_it_as_before_and_a_rerun_completes() {
    let Some(pg) = Scratch::new(Server::Postgres, "disconnect") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    {
        let db = Engine::open(&store).unwrap();
        for symbol in ["AAA", "BBB"] {
            let bars: Vec<BarData> = (0..5_000)
                .map(|i| {
                    let mut b = BarData::new(
                        symbol,
                        Exchange::SSE,
                        Interval::Minute,
                        Timestamp::from_secs(60 * i),
                    );
                    b.close_price = i as f64;
                    b
                })
                .collect();
            db.save_bar_data(&bars, false).unwrap();
        }
    }
    let args = [
        "migrate",
        "--from",
        store.to_str().unwrap(),
        "--to",
        &pg.url,
        "--sql-tz",
        "UTC",
        "--batch-rows",
        "1000",
    ];
    // The server drops the connection while BBB's fourth window is being written.
    ok(&[&args[..], &["--symbol", "AAA"]].concat());
    pg.exec(
        r#"CREATE SEQUENCE bbb_rows;
        CREATE FUNCTION hang_up() RETURNS trigger AS $$
        BEGIN
            IF NEW.symbol = 'BBB' AND nextval('bbb_rows') > 3500 THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER hang_up BEFORE INSERT ON dbbardata FOR EACH ROW EXECUTE FUNCTION hang_up();"#,
    );
    let err = fails(&args);
    assert!(
        err.contains("BBB.SSE 1m") && err.contains("terminat"),
        "{err}"
    );
    assert_eq!(
        pg.column(
            "SELECT symbol || ' ' || COUNT(*) FROM dbbardata GROUP BY symbol ORDER BY symbol"
        ),
        ["AAA 5000"],
        "BBB is as before: absent"
    );
    pg.exec("DROP TRIGGER hang_up ON dbbardata");
    ok(&args);
    ok(&[
        "compare",
        store.to_str().unwrap(),
        &pg.url,
        "--sql-tz",
        "UTC",
    ]);
    assert_eq!(
        pg.column("SELECT symbol || ' ' || count FROM dbbaroverview ORDER BY symbol"),
        ["AAA 5000", "BBB 5000"]
    );
}

#[test]
fn passwords_never_appear_in_messages() {
    let Some(pg) = Scratch::new(Server::Postgres, "password") else {
        return;
    };
    // A user that does not exist, with a password: the error names the server, not the secret.
    let url = pg.url.replacen("postgres@", "nobody:hunter2secret@", 1);
    let err = fails(&["compare", &url, &url]);
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("nobody:***@"), "{err}");
}

#[test]
fn a_million_bars_migrate_through_postgres_and_mysql_and_back() {
    let Some((pg, my)) = both("million") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    {
        let db = Engine::open(&a).unwrap();
        let bars: Vec<BarData> = (0..1_000_000i64)
            .map(|i| {
                let mut bar = BarData::new(
                    "IF9999",
                    Exchange::CFFEX,
                    Interval::Minute,
                    Timestamp::from_secs(1_262_304_000 + 60 * i),
                );
                bar.open_price = 3000.0 + (i % 977) as f64 * 0.2;
                bar.high_price = bar.open_price + 1.0;
                bar.low_price = bar.open_price - 1.0;
                bar.close_price = bar.open_price + 0.4;
                bar.volume = (i % 5000) as f64;
                bar
            })
            .collect();
        db.save_bar_data(&bars, false).unwrap();
    }
    let hops = [a.to_str().unwrap(), &pg.url, &my.url, b.to_str().unwrap()];
    for pair in hops.windows(2) {
        ok(&[
            "migrate", "--from", pair[0], "--to", pair[1], "--sql-tz", "UTC",
        ]);
    }
    let out = ok(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]);
    let row: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(row["equal"], true, "{row}");
    assert_eq!(row["left"][0], 1_000_000);
    assert_eq!(my.column("SELECT `count` FROM dbbaroverview"), ["1000000"]);
    assert_eq!(pg.column("SELECT count FROM dbbaroverview"), ["1000000"]);
}

#[test]
fn vnpy_settings_naming_postgresql_or_mysql_open_that_server() {
    for server in [Server::Postgres, Server::Mysql] {
        let Some(s) = Scratch::new(server, "settings") else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let (name, port, user) = match server {
            Server::Postgres => ("postgresql", 5432, "postgres"),
            Server::Mysql => ("mysql", 3306, "root"),
        };
        let host = s.url.split('@').nth(1).unwrap().split(':').next().unwrap();
        std::fs::write(
            dir.path().join("vt_setting.json"),
            serde_json::json!({
                "database.name": name,
                "database.host": host,
                "database.port": port,
                "database.user": user,
                "database.password": "",
                "database.database": s.name,
                "database.timezone": "Asia/Shanghai",
            })
            .to_string(),
        )
        .unwrap();
        let vnpy = format!("vnpy:{}", dir.path().display());
        let store = dir.path().join("db");
        let store = store.to_str().unwrap();
        ok(&[
            "migrate",
            "--from",
            &vnpy_db(),
            "--to",
            store,
            "--sql-tz",
            "Asia/Shanghai",
        ]);
        // The zone comes from the settings: no --sql-tz.
        ok(&["migrate", "--from", store, "--to", &vnpy]);
        let out = ok(&["compare", &vnpy, store]);
        assert_eq!(
            out.lines().filter(|l| l.ends_with("equal")).count(),
            3,
            "{server:?}: {out}"
        );
        let q = if server == Server::Postgres {
            "\""
        } else {
            "`"
        };
        assert_eq!(
            s.column(&format!(
                "SELECT MIN(datetime) FROM dbbardata WHERE {q}interval{q} = '1m'"
            )),
            ["2011-01-03 17:01:00"],
            "{server:?}"
        );
    }
}

#[test]
fn bench_runs_against_each_server_and_leaves_nothing_behind() {
    for server in [Server::Postgres, Server::Mysql] {
        let Some(s) = Scratch::new(server, "bench") else {
            continue;
        };
        let out = ok(&[
            "bench",
            "--rows",
            "1000",
            "--repeat",
            "1",
            "--overview-series",
            "20",
            "--json",
            "--against",
            &s.url,
        ]);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let name = if server == Server::Postgres {
            "PostgreSQL"
        } else {
            "MySQL"
        };
        assert!(lines.len() > 15, "{out}");
        for l in &lines {
            assert_eq!(l["baseline"], name);
            assert!(l["tickvault"].as_f64().unwrap() > 0.0, "{l}");
        }
        let save = lines
            .iter()
            .find(|l| l["what"] == "save bars, batches of all")
            .unwrap();
        assert!(save[name.to_lowercase()].as_f64().unwrap() > 0.0, "{save}");
        assert_eq!(
            s.column("SELECT COUNT(*) FROM dbbardata"),
            ["0"],
            "{server:?}"
        );
        assert_eq!(
            s.column("SELECT COUNT(*) FROM dbbaroverview"),
            ["0"],
            "{server:?}"
        );
    }
}
