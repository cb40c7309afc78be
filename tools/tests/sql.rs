//! The SQL bridge with vn.py's SQLite schema: the database vn.py itself wrote migrates in and back
//! out unchanged; compare finds differences; hostile symbols are data; bad rows are named.

mod common;

use common::{run as tv, run_ok as ok};

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tickvault::{Database, Engine, Exchange, Interval, Timestamp};

fn vnpy_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/vnpy/database.db")
}

#[test]
fn vnpys_own_database_migrates_in_and_back_out_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!("sqlite:{}", vnpy_db().display());
    let store = dir.path().join("db");
    let out_db = dir.path().join("out.db");
    ok(&[
        "migrate",
        "--from",
        &src,
        "--to",
        store.to_str().unwrap(),
        "--sql-tz",
        "Asia/Shanghai",
        "--verify",
    ]);
    let db = Engine::open(&store).unwrap();
    let ov = db.get_bar_overview().unwrap();
    let counts: Vec<(String, Interval, u64)> = ov
        .iter()
        .map(|o| (o.symbol.to_string(), o.interval, o.count))
        .collect();
    assert!(
        counts.contains(&("SPY".into(), Interval::Minute, 14_180))
            && counts.contains(&("SPY".into(), Interval::Daily, 25))
    );
    // 2011-01-03 17:01:00 in Shanghai is 09:01 UTC, the first bar of the real SPY file.
    let first = &db
        .load_bar_data(
            "SPY",
            Exchange::ARCA,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap()[0];
    assert_eq!(first.datetime.to_string(), "2011-01-03T09:01:00Z");
    assert_eq!(
        (first.open_price, first.close_price, first.volume),
        (126.35, 126.39, 1579.0)
    );
    let ticks = db
        .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(ticks.len(), 3_000);
    let last = ticks.last().unwrap();
    assert_eq!(&*last.name, "螺纹钢2610");
    assert_eq!(last.datetime.to_string(), "2026-01-05T13:24:59.500Z");
    assert_eq!(
        last.localtime.unwrap().to_string(),
        "2026-01-05T13:24:59.537Z"
    );
    drop(db);
    // Back out into a new vn.py database, equal to the original, with exact overview tables.
    ok(&[
        "migrate",
        "--from",
        store.to_str().unwrap(),
        "--to",
        &format!("sqlite:{}", out_db.display()),
        "--sql-tz",
        "Asia/Shanghai",
        "--verify",
    ]);
    ok(&[
        "compare",
        &src,
        &format!("sqlite:{}", out_db.display()),
        "--sql-tz",
        "Asia/Shanghai",
    ]);
    let conn = Connection::open(&out_db).unwrap();
    let ov: (i64, String, String) = conn
        .query_row(
            "SELECT \"count\", \"start\", \"end\" FROM dbtickoverview WHERE symbol='rb2610'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        ov,
        (
            3000,
            "2026-01-05 21:00:00".to_string(),
            "2026-01-05 21:24:59.500000".to_string()
        )
    );
    let original = Connection::open(vnpy_db()).unwrap();
    let q = "SELECT datetime, open_price, close_price, volume FROM dbbardata WHERE interval='1m' ORDER BY datetime LIMIT 3";
    let rows = |c: &Connection| -> Vec<(String, f64, f64, f64)> {
        c.prepare(q)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(rows(&conn), rows(&original));
}

#[test]
fn compare_reports_the_first_differing_row() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    std::fs::copy(vnpy_db(), &copy).unwrap();
    Connection::open(&copy)
        .unwrap()
        .execute("UPDATE dbbardata SET close_price = 1.0 WHERE interval='d' AND datetime='2011-01-04 00:00:00'", [])
        .unwrap();
    let out = tv(&[
        "compare",
        &format!("sqlite:{}", vnpy_db().display()),
        &format!("sqlite:{}", copy.display()),
        "--sql-tz",
        "Asia/Shanghai",
        "--bars",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("SPY.ARCA d:")).unwrap();
    // The changed bar: 2011-01-04 00:00 in Shanghai, printed in the process zone (UTC here).
    assert!(
        line.contains("DIFFERENT at 2011-01-03T16:00:00+00:00"),
        "{line}"
    );
    assert!(text
        .lines()
        .any(|l| l.starts_with("SPY.ARCA 1m:") && l.ends_with("equal")));
}

#[test]
fn hostile_symbols_are_data_and_bad_rows_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let sql = dir.path().join("v.db");
    let hostile = "x'; DROP TABLE dbbardata; --";
    {
        let db = Engine::open(&store).unwrap();
        let mut b = tickvault::BarData::new(
            hostile,
            Exchange::SSE,
            Interval::Daily,
            Timestamp::from_secs(86_400),
        );
        b.close_price = 7.5;
        db.save_bar_data(&[b], false).unwrap();
    }
    ok(&[
        "migrate",
        "--from",
        store.to_str().unwrap(),
        "--to",
        &format!("sqlite:{}", sql.display()),
        "--sql-tz",
        "UTC",
    ]);
    let conn = Connection::open(&sql).unwrap();
    let (symbol, close): (String, f64) = conn
        .query_row("SELECT symbol, close_price FROM dbbardata", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((symbol.as_str(), close), (hostile, 7.5));
    // A row with an exchange vn.py does not know is reported with its table and id.
    conn.execute(
        "INSERT INTO dbbardata (symbol, exchange, datetime, interval, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('y', 'MOON', '2024-01-02 00:00:00', 'd', 0, 0, 0, 1, 1, 1, 1)",
        [],
    )
    .unwrap();
    let out = tv(&[
        "migrate",
        "--from",
        &format!("sqlite:{}", sql.display()),
        "--to",
        dir.path().join("db2").to_str().unwrap(),
        "--sql-tz",
        "UTC",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dbbardata row id 2") && err.contains("MOON"),
        "{err}"
    );
    // A naive time repeated by a DST change is reported, not shifted.
    conn.execute("DELETE FROM dbbardata WHERE exchange='MOON'", [])
        .unwrap();
    conn.execute(
        "INSERT INTO dbbardata (symbol, exchange, datetime, interval, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('z', 'NYSE', '2024-11-03 01:30:00', '1h', 0, 0, 0, 1, 1, 1, 1)",
        [],
    )
    .unwrap();
    let out = tv(&[
        "migrate",
        "--from",
        &format!("sqlite:{}", sql.display()),
        "--to",
        dir.path().join("db3").to_str().unwrap(),
        "--sql-tz",
        "America/New_York",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ambiguous"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sync_copies_what_is_new_rereads_the_overlap_and_full_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let src_path = dir.path().join("src.db");
    std::fs::copy(vnpy_db(), &src_path).unwrap();
    let src = format!("sqlite:{}", src_path.display());
    let store = dir.path().join("db");
    let target = store.to_str().unwrap();
    ok(&[
        "sync",
        "--from",
        &src,
        "--to",
        target,
        "--sql-tz",
        "Asia/Shanghai",
    ]);
    ok(&["compare", &src, target, "--sql-tz", "Asia/Shanghai"]);
    // The source gains a bar and corrects the last one (a late correction).
    let conn = Connection::open(&src_path).unwrap();
    conn.execute("UPDATE dbbardata SET close_price = 999.0 WHERE interval='1m' AND datetime='2011-02-01 09:00:00'", []).unwrap();
    conn.execute(
        "INSERT INTO dbbardata (symbol, exchange, datetime, interval, volume, turnover, open_interest, open_price, high_price, low_price, close_price) VALUES ('SPY', 'ARCA', '2011-02-01 09:01:00', '1m', 5, 0, 0, 1, 2, 0.5, 1.5)",
        [],
    )
    .unwrap();
    let out = ok(&[
        "sync",
        "--from",
        &src,
        "--to",
        target,
        "--sql-tz",
        "Asia/Shanghai",
        "--overlap",
        "1h",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let minute = rows.iter().find(|r| r["interval"] == "1m").unwrap();
    assert!(
        minute["rows"].as_u64().unwrap() < 100,
        "only the overlap and the new bar are re-read: {minute}"
    );
    ok(&["compare", &src, target, "--sql-tz", "Asia/Shanghai"]);
    // A row only the target has survives an incremental sync, and goes with --full.
    {
        let db = Engine::open(&store).unwrap();
        let mut extra = tickvault::BarData::new(
            "SPY",
            Exchange::ARCA,
            Interval::Daily,
            Timestamp::from_secs(0),
        );
        extra.close_price = 1.0;
        db.save_bar_data(&[extra], false).unwrap();
    }
    assert_eq!(
        tv(&["compare", &src, target, "--sql-tz", "Asia/Shanghai"])
            .status
            .code(),
        Some(1)
    );
    ok(&[
        "sync",
        "--from",
        &src,
        "--to",
        target,
        "--sql-tz",
        "Asia/Shanghai",
        "--full",
    ]);
    ok(&["compare", &src, target, "--sql-tz", "Asia/Shanghai"]);
}

#[test]
fn vnpy_settings_naming_tickvault_open_vnpy_tickvaults_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vt_setting.json"),
        r#"{"database.name": "tickvault", "database.database": "database.db", "database.timezone": "Asia/Shanghai"}"#,
    )
    .unwrap();
    let vnpy = format!("vnpy:{}", dir.path().display());
    let src = format!("sqlite:{}", vnpy_db().display());
    ok(&[
        "migrate",
        "--from",
        &src,
        "--to",
        &vnpy,
        "--sql-tz",
        "Asia/Shanghai",
    ]);
    // vn.py's default file name stands for the store directory `tickvault`.
    let db = Engine::open(dir.path().join("tickvault")).unwrap();
    assert_eq!(db.get_bar_overview().unwrap().len(), 2);
    assert_eq!(db.get_tick_overview().unwrap()[0].count, 3_000);
    drop(db);
    let out = ok(&["compare", &vnpy, &src, "--sql-tz", "Asia/Shanghai"]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with("equal")).count(),
        3,
        "{out}"
    );
}

#[test]
fn a_source_that_fails_mid_series_leaves_a_tickvault_target_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("src");
    {
        let db = Engine::open(&store).unwrap();
        let bars: Vec<tickvault::BarData> = (0..5_000)
            .map(|i| {
                let mut b = tickvault::BarData::new(
                    "MID",
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
    let sql = dir.path().join("v.db");
    let url = format!("sqlite:{}", sql.display());
    ok(&[
        "migrate",
        "--from",
        store.to_str().unwrap(),
        "--to",
        &url,
        "--sql-tz",
        "UTC",
    ]);
    // A value vn.py's schema does not allow, in the fifth window of the copy (row 4,141).
    Connection::open(&sql)
        .unwrap()
        .execute(
            "UPDATE dbbardata SET close_price = 'abc' WHERE datetime = '1970-01-03 21:00:00'",
            [],
        )
        .unwrap();
    let target = dir.path().join("dst");
    let out = tv(&[
        "migrate",
        "--from",
        &url,
        "--to",
        target.to_str().unwrap(),
        "--sql-tz",
        "UTC",
        "--batch-rows",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("close_price") && err.contains("not a number"),
        "{err}"
    );
    // Four windows were read and staged before the failure; none of them is visible.
    let db = Engine::open(&target).unwrap();
    assert!(db.get_bar_overview().unwrap().is_empty());
    assert_eq!(db.info().unwrap().segments, 0);
}
