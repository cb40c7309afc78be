//! Black-box tests of the `tickvault` binary: the contract scripts rely on.

mod common;

use common::{ok, tv};

use std::path::Path;

fn spy() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/real/SPY.ARCA_1m_2011-01.csv")
}

#[test]
fn import_overview_export_round_trip_of_real_bars() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = spy();
    ok(
        &db,
        &[
            "import",
            file.to_str().unwrap(),
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
        ],
    );
    let ov = ok(&db, &["overview", "--json", "--tz", "UTC"]);
    let v: serde_json::Value = serde_json::from_str(ov.trim()).unwrap();
    assert_eq!(v["symbol"], "SPY");
    assert_eq!(v["exchange"], "ARCA");
    assert_eq!(v["interval"], "1m");
    assert_eq!(v["count"], 14_180);
    assert_eq!(v["start"], "2011-01-03T09:01:00+00:00");
    assert_eq!(v["end"], "2011-02-01T01:00:00+00:00");

    let out = dir.path().join("spy.csv");
    ok(
        &db,
        &[
            "export",
            out.to_str().unwrap(),
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--tz",
            "UTC",
        ],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "symbol,exchange,datetime,open,high,low,close,volume,turnover,open_interest"
    );
    assert_eq!(
        lines.next().unwrap(),
        "SPY,ARCA,2011-01-03T09:01:00+00:00,126.35,126.39,126.35,126.39,1579,0,0"
    );
    assert_eq!(text.lines().count(), 14_181);

    // The export imports back into another series with identical values.
    ok(
        &db,
        &[
            "import",
            out.to_str().unwrap(),
            "--symbol",
            "SPY2",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
        ],
    );
    let a = ok(
        &db,
        &[
            "load",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    let b = ok(
        &db,
        &[
            "load",
            "--symbol",
            "SPY2",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    assert_eq!(a.replace("SPY,", ""), b.replace("SPY2,", ""));
    // A range in another zone, inclusive at both ends.
    let day = ok(
        &db,
        &[
            "load",
            "--json",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--start",
            "2011-01-03 22:31",
            "--end",
            "2011-01-03 22:35:00",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    let rows: Vec<serde_json::Value> = day
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["type"], "bar");
    assert_eq!(rows[0]["datetime"], "2011-01-03T22:31:00+08:00");
    assert_eq!(rows[0]["open_price"], 126.71);
    assert_eq!(rows[4]["datetime"], "2011-01-03T22:35:00+08:00");
}

#[test]
fn a_bad_line_aborts_the_import_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "datetime,open,high,low,close,volume\n2024-01-02 09:00:00,1,2,0.5,1.5,10\n2024-01-02 09:01:00,1,abc,0.5,1.5,10\n").unwrap();
    let out = tv(
        &db,
        &[
            "import",
            csv.to_str().unwrap(),
            "--symbol",
            "X",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("\"high\"") && err.contains("abc"),
        "{err}"
    );
    // Nothing was created.
    assert!(!db.exists());
    // A missing column is named.
    std::fs::write(&csv, "datetime,open,high,low\n").unwrap();
    let out = tv(
        &db,
        &[
            "import",
            csv.to_str().unwrap(),
            "--symbol",
            "X",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"close\""));
    // An unknown exchange lists the valid ones.
    let out = tv(
        &db,
        &[
            "import",
            csv.to_str().unwrap(),
            "--symbol",
            "X",
            "--exchange",
            "NOPE",
            "--interval",
            "1m",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHFE"));
}

#[test]
fn ticks_import_load_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("ticks.csv");
    std::fs::write(
        &csv,
        "datetime,name,last_price,volume,bid_price_1,ask_price_1,localtime\n\
         2026-01-05 21:00:00.500,螺纹钢2610,3500.2,10,3500,3500.4,2026-01-05 21:00:00.537\n\
         2026-01-05 21:00:00,螺纹钢2610,3500,5,3499.8,3500.2,\n",
    )
    .unwrap();
    ok(
        &db,
        &[
            "import",
            csv.to_str().unwrap(),
            "--symbol",
            "rb2610",
            "--exchange",
            "SHFE",
            "--ticks",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    let rows = ok(
        &db,
        &[
            "load",
            "--json",
            "--symbol",
            "rb2610",
            "--exchange",
            "SHFE",
            "--ticks",
            "--tz",
            "Asia/Shanghai",
        ],
    );
    let rows: Vec<serde_json::Value> = rows
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["datetime"], "2026-01-05T21:00:00+08:00");
    assert_eq!(rows[0]["localtime"], serde_json::Value::Null);
    assert_eq!(rows[1]["localtime"], "2026-01-05T21:00:00.537+08:00");
    assert_eq!(rows[1]["name"], "螺纹钢2610");
    assert_eq!(rows[1]["last_price"], 3500.2);
    assert_eq!(ok(&db, &["overview", "--ticks"]).lines().count(), 2);
    assert_eq!(
        ok(
            &db,
            &[
                "delete",
                "--symbol",
                "rb2610",
                "--exchange",
                "SHFE",
                "--ticks",
                "--yes"
            ]
        )
        .trim(),
        "2"
    );
    assert!(ok(&db, &["info", "--json"]).contains("\"tick_rows\":0"));
}

#[test]
fn demo_runs_and_read_only_commands_need_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = tv(&db, &["overview"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tickvault store"));
    assert!(!db.exists(), "a read-only command must not create a store");
    let out = tv(
        &db,
        &[
            "delete",
            "--symbol",
            "X",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!db.exists(), "delete must not create a store");
    let text = ok(&db, &["demo", "--bars", "5000", "--ticks", "2000"]);
    assert!(text.contains("load one trading day of bars"), "{text}");
    let ov = ok(&db, &["overview", "--json"]);
    let counts: Vec<u64> = ov
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [5000, 2000]);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["demo", "--bars", "50000", "--ticks", "10"]);
    for json in [false, true] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tickvault"));
        cmd.arg("--db").arg(&db).args([
            "load",
            "--symbol",
            "IF9999",
            "--exchange",
            "CFFEX",
            "--interval",
            "1m",
        ]);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "json {json}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn bench_compares_tickvault_with_sqlite_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        &dir.path().join("unused"),
        &[
            "bench",
            "--rows",
            "3000",
            "--repeat",
            "1",
            "--overview-series",
            "20",
            "--json",
            "--sample",
            spy().to_str().unwrap(),
        ],
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 32, "{out}");
    for l in &lines {
        assert_eq!(l["type"], "bench");
        assert!(l["tickvault"].as_f64().unwrap() > 0.0, "{l}");
    }
    let size = lines
        .iter()
        .find(|l| l["what"] == "bytes on disk per bar")
        .unwrap();
    assert!(size["sqlite"].as_f64().unwrap() > size["tickvault"].as_f64().unwrap());
    // The disk's ceiling over the bulk save of everything: that store's bytes, written and
    // fsynced as one file (the same bytes as the store the loads read), beside SQLite's save.
    let ceiling = lines
        .iter()
        .find(|l| l["what"].as_str().unwrap().starts_with("  disk ceiling: "))
        .unwrap();
    let what = ceiling["what"].as_str().unwrap();
    let bytes: f64 = what["  disk ceiling: ".len()..what.find(" B ").unwrap()]
        .parse()
        .unwrap();
    assert_eq!(
        bytes / 3000.0,
        size["tickvault"].as_f64().unwrap(),
        "{what}"
    );
    let save_all = lines
        .iter()
        .find(|l| l["what"] == "save bars, batches of all")
        .unwrap();
    assert_eq!(ceiling["sqlite"], save_all["sqlite"]);
    // The real SPY sample: smaller in tickvault than in SQLite and than as Parquet with zstd
    // (sizes are deterministic; 7.6, 153 and 17.7 B/bar when this was written).
    let spy = lines
        .iter()
        .find(|l| l["what"] == "bytes on disk per bar, sample of 14180 real bars")
        .unwrap();
    let ours = spy["tickvault"].as_f64().unwrap();
    assert!(ours < 9.0, "{spy}");
    assert!(spy["sqlite"].as_f64().unwrap() > 10.0 * ours, "{spy}");
    let pq = lines
        .iter()
        .find(|l| l["what"] == "bytes per bar, real sample, as Parquet with zstd")
        .unwrap();
    assert_eq!(pq["baseline"], "Parquet");
    assert_eq!(pq["tickvault"].as_f64().unwrap(), ours);
    assert!(pq["parquet"].as_f64().unwrap() > 2.0 * ours, "{pq}");
    assert!(lines
        .iter()
        .any(|l| l["what"] == "durable single-row commits, 8 writer threads"));
    // Each writer count is measured alone and with a reader beside it: three lines each (every
    // line's tickvault figure is checked positive above).
    let count = |what: &str| lines.iter().filter(|l| l["what"] == what).count();
    assert_eq!(count("  the reader's one-day loads, into rows"), 4, "{out}");
    assert_eq!(count("  the same, a reader beside them"), 4, "{out}");
    assert!(
        !dir.path().join("unused").exists(),
        "bench works in a temporary directory"
    );
}

#[test]
fn json_and_json_lines_round_trip_and_inspect_shows_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(
        &db,
        &[
            "import",
            spy().to_str().unwrap(),
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
        ],
    );
    for (ext, symbol) in [("json", "SPYJ"), ("jsonl", "SPYL")] {
        let file = dir.path().join(format!("spy.{ext}"));
        ok(
            &db,
            &[
                "export",
                file.to_str().unwrap(),
                "--symbol",
                "SPY",
                "--exchange",
                "ARCA",
                "--interval",
                "1m",
            ],
        );
        ok(
            &db,
            &[
                "import",
                file.to_str().unwrap(),
                "--symbol",
                symbol,
                "--exchange",
                "ARCA",
                "--interval",
                "1m",
            ],
        );
        let a = ok(
            &db,
            &[
                "load",
                "--symbol",
                "SPY",
                "--exchange",
                "ARCA",
                "--interval",
                "1m",
            ],
        );
        let b = ok(
            &db,
            &[
                "load",
                "--symbol",
                symbol,
                "--exchange",
                "ARCA",
                "--interval",
                "1m",
            ],
        );
        assert_eq!(
            a.replace("SPY,", ""),
            b.replace(&format!("{symbol},"), ""),
            "{ext}"
        );
    }
    let text = std::fs::read_to_string(dir.path().join("spy.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), 14_180);
    assert_eq!(rows[0]["close_price"], 126.39);
    // A bad element is named.
    std::fs::write(dir.path().join("bad.json"), r#"[{"datetime":"2024-01-02T09:00:00Z","open":1,"high":1,"low":1,"close":1,"volume":1},{"datetime":"later","open":1,"high":1,"low":1,"close":1,"volume":1}]"#).unwrap();
    let out = tv(
        &db,
        &[
            "import",
            dir.path().join("bad.json").to_str().unwrap(),
            "--symbol",
            "B",
            "--exchange",
            "SSE",
            "--interval",
            "d",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("element line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // inspect: one line for the segment, one per block, with every chunk's checksum verified.
    let seg = std::fs::read_dir(db.join("data/%53%50%59.arca.1m"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = ok(&db, &["inspect", seg.to_str().unwrap(), "--json"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "segment");
    assert_eq!(lines[0]["rows"], 14_180);
    assert_eq!(
        lines.len() - 1,
        lines[0]["blocks"].as_u64().unwrap() as usize
    );
    assert!(lines[1]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["crc_ok"] == true));
    assert_eq!(lines[1]["chunks"][0]["column"], "datetime");
}

#[test]
fn stats_summarise_a_range_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(
        &db,
        &[
            "import",
            spy().to_str().unwrap(),
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
        ],
    );
    let csv = std::fs::read_to_string(spy()).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    let out = ok(
        &db,
        &[
            "stats",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--json",
            "--tz",
            "UTC",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["count"], 14_180);
    assert_eq!(v["first"], "2011-01-03T09:01:00+00:00");
    assert_eq!(v["open"], rows[0][0]);
    assert_eq!(v["close"], rows[rows.len() - 1][3]);
    assert_eq!(
        v["high"],
        rows.iter().map(|r| r[1]).fold(f64::MIN, f64::max)
    );
    assert_eq!(v["low"], rows.iter().map(|r| r[2]).fold(f64::MAX, f64::min));
    assert_eq!(v["volume"], rows.iter().map(|r| r[4]).sum::<f64>());
    // An empty range has a count of zero and no prices.
    let out = ok(
        &db,
        &[
            "stats",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--json",
            "--start",
            "2020-01-01T00:00:00Z",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["count"], 0);
    assert!(v.get("open").is_none());
}

#[test]
fn delete_a_range_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(
        &db,
        &[
            "import",
            spy().to_str().unwrap(),
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
        ],
    );
    let n: u64 = ok(
        &db,
        &[
            "delete",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--start",
            "2011-01-03T14:30:00Z",
            "--end",
            "2011-01-03T14:39:00Z",
            "--yes",
        ],
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(n, 10);
    let v: serde_json::Value =
        serde_json::from_str(ok(&db, &["overview", "--json"]).trim()).unwrap();
    assert_eq!(v["count"], 14_170);
    let rows = ok(
        &db,
        &[
            "load",
            "--symbol",
            "SPY",
            "--exchange",
            "ARCA",
            "--interval",
            "1m",
            "--start",
            "2011-01-03T14:29:00Z",
            "--end",
            "2011-01-03T14:40:00Z",
            "--tz",
            "UTC",
        ],
    );
    let times: Vec<&str> = rows
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(
        times,
        ["2011-01-03T14:29:00+00:00", "2011-01-03T14:40:00+00:00"]
    );
}

const EPOCH: [&str; 2] = ["--epoch", "ns"];

#[test]
fn imports_stream_in_batches_and_commit_all_or_nothing() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let series = ["--symbol", "BIG", "--exchange", "SSE", "--interval", "1m"];
    // 150,000 bars: three batches of the streamed import.
    let mut csv = String::from("datetime,open,high,low,close,volume\n");
    let mut json = String::from("[");
    for i in 0..150_000i64 {
        let t = 1_700_000_000 + 60 * i;
        writeln!(csv, "{t}000000000,1,2,0.5,{i},1").unwrap();
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            r#"{{"datetime":"{t}000000000","open":1,"high":2,"low":0.5,"close":{i},"volume":1}}"#
        )
        .unwrap();
    }
    json.push(']');
    let good = dir.path().join("good.csv");
    std::fs::write(&good, &csv).unwrap();
    ok(
        &db,
        &[&["import", good.to_str().unwrap()][..], &series, &EPOCH].concat(),
    );
    let overview = ok(&db, &["overview", "--json"]);
    assert!(overview.contains("\"count\":150000"), "{overview}");
    // A bad value in the third batch: the store stays exactly as it was, though two batches
    // were already written.
    let bad = dir.path().join("bad.csv");
    let broken = csv.replacen(",1,2,0.5,140000,1", ",1,2,0.5,oops,1", 1);
    std::fs::write(&bad, broken.replace(",1,2,0.5,", ",7,8,6.5,")).unwrap();
    let out = tv(
        &db,
        &[&["import", bad.to_str().unwrap()][..], &series, &EPOCH].concat(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 140002") && err.contains("oops"), "{err}");
    let after = ok(
        &db,
        &[
            "load",
            "--symbol",
            "BIG",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    );
    assert_eq!(after.lines().count(), 150_001);
    assert!(
        !after.contains(",7,8,6.5,"),
        "no row of the failed import is visible"
    );
    // A JSON array streams the same way, element by element.
    let good_json = dir.path().join("good.json");
    std::fs::write(&good_json, json.replace(r#""open":1"#, r#""open":5"#)).unwrap();
    ok(
        &db,
        &[
            &["import", good_json.to_str().unwrap()][..],
            &series,
            &EPOCH,
        ]
        .concat(),
    );
    let after = ok(
        &db,
        &[
            "load",
            "--symbol",
            "BIG",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    );
    assert_eq!(
        after.lines().filter(|l| l.contains(",5,2,0.5,")).count(),
        150_000
    );
    let bad_json = dir.path().join("bad.json");
    std::fs::write(
        &bad_json,
        json.replacen(r#""close":149999"#, r#""close":"x""#, 1),
    )
    .unwrap();
    let out = tv(
        &db,
        &[&["import", bad_json.to_str().unwrap()][..], &series, &EPOCH].concat(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("element line 150000") && err.contains("\"x\""),
        "{err}"
    );
}

#[test]
fn import_reads_epoch_units_and_strftime_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let series = ["--symbol", "F", "--exchange", "SSE", "--interval", "1m"];
    let csv = dir.path().join("ms.csv");
    std::fs::write(
        &csv,
        "datetime,open,high,low,close,volume\n1704186000000,1,2,0.5,1.5,9\n",
    )
    .unwrap();
    // Digits without --epoch: the error says what to do.
    let out = tv(
        &db,
        &[&["import", csv.to_str().unwrap()][..], &series].concat(),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --epoch s|ms|us|ns"));
    ok(
        &db,
        &[
            &["import", csv.to_str().unwrap(), "--epoch", "ms"][..],
            &series,
        ]
        .concat(),
    );
    let txt = dir.path().join("fmt.csv");
    std::fs::write(
        &txt,
        "datetime,open,high,low,close,volume\n20240102 09:01:00,1,2,0.5,2.5,9\n",
    )
    .unwrap();
    ok(
        &db,
        &[
            &[
                "import",
                txt.to_str().unwrap(),
                "--datetime-format",
                "%Y%m%d %H:%M:%S",
                "--tz",
                "Asia/Shanghai",
            ][..],
            &series,
        ]
        .concat(),
    );
    let rows = ok(
        &db,
        &[
            "load",
            "--symbol",
            "F",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
            "--tz",
            "UTC",
        ],
    );
    assert!(
        rows.contains("2024-01-02T09:00:00+00:00") && rows.contains(",1.5,"),
        "{rows}"
    );
    assert!(
        rows.contains("2024-01-02T01:01:00+00:00") && rows.contains(",2.5,"),
        "{rows}"
    );
    // A value the format does not fit names the format.
    let out = tv(
        &db,
        &[
            &[
                "import",
                csv.to_str().unwrap(),
                "--datetime-format",
                "%Y%m%d",
            ][..],
            &series,
        ]
        .concat(),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("with format \"%Y%m%d\""));
}

#[test]
fn import_maps_column_names_and_reads_header_less_csv() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let series = ["--symbol", "M", "--exchange", "SSE", "--interval", "d"];
    let csv = dir.path().join("yahoo.csv");
    std::fs::write(
        &csv,
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,9,11,10.9,1000\n",
    )
    .unwrap();
    ok(
        &db,
        &[
            &[
                "import",
                csv.to_str().unwrap(),
                "--tz",
                "UTC",
                "--map",
                "datetime=Date,close=Adj Close",
            ][..],
            &series,
        ]
        .concat(),
    );
    let rows = ok(
        &db,
        &[
            "load",
            "--symbol",
            "M",
            "--exchange",
            "SSE",
            "--interval",
            "d",
        ],
    );
    // Open, High, Low and Volume matched by name (any case); close came from "Adj Close".
    assert!(
        rows.contains("2024-01-02T00:00:00+00:00,10,12,9,10.9,1000"),
        "{rows}"
    );
    let bare = dir.path().join("bare.csv");
    std::fs::write(&bare, "2024-01-03,1,2,0.5,1.5,7\n").unwrap();
    ok(
        &db,
        &[
            &[
                "import",
                bare.to_str().unwrap(),
                "--tz",
                "UTC",
                "--columns",
                "datetime,open,high,low,close,volume",
            ][..],
            &series,
        ]
        .concat(),
    );
    let rows = ok(
        &db,
        &[
            "load",
            "--symbol",
            "M",
            "--exchange",
            "SSE",
            "--interval",
            "d",
        ],
    );
    assert!(
        rows.contains("2024-01-03T00:00:00+00:00,1,2,0.5,1.5,7"),
        "{rows}"
    );
    let out = tv(
        &db,
        &[
            &["import", bare.to_str().unwrap(), "--map", "open"][..],
            &series,
        ]
        .concat(),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIELD=COLUMN"));
}

#[test]
fn export_all_writes_one_file_per_selected_series() {
    use tickvault::{BarData, Database, Engine, Exchange, Interval, TickData, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let e = Engine::open(&db).unwrap();
        for (symbol, n) in [("rb2610", 3), ("rb/2701", 2), ("cu2610", 1)] {
            let bars: Vec<BarData> = (0..n)
                .map(|i| {
                    BarData::new(
                        symbol,
                        Exchange::SHFE,
                        Interval::Minute,
                        Timestamp::from_secs(60 * i),
                    )
                })
                .collect();
            e.save_bar_data(&bars, false).unwrap();
        }
        e.save_tick_data(
            &[TickData::new(
                "rb2610",
                Exchange::SHFE,
                Timestamp::from_secs(1),
            )],
            false,
        )
        .unwrap();
    }
    let out_dir = dir.path().join("out");
    ok(
        &db,
        &[
            "export",
            "--all",
            out_dir.to_str().unwrap(),
            "--symbol",
            "rb*",
            "--format",
            "parquet",
        ],
    );
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rb%2F2701.SHFE.1m.parquet",
            "rb2610.SHFE.1m.parquet",
            "rb2610.SHFE.tick.parquet"
        ]
    );
    // Each file imports back to its series.
    let back = dir.path().join("back");
    ok(
        &back,
        &[
            "import",
            out_dir.join("rb%2F2701.SHFE.1m.parquet").to_str().unwrap(),
            "--symbol",
            "rb/2701",
            "--exchange",
            "SHFE",
            "--interval",
            "1m",
        ],
    );
    let rows = ok(
        &back,
        &[
            "load",
            "--symbol",
            "rb/2701",
            "--exchange",
            "SHFE",
            "--interval",
            "1m",
        ],
    );
    assert_eq!(rows.lines().count(), 3);
    // Ticks only, as CSV by default.
    let csv_dir = dir.path().join("csv");
    ok(
        &db,
        &["export", "--all", csv_dir.to_str().unwrap(), "--ticks"],
    );
    assert_eq!(std::fs::read_dir(&csv_dir).unwrap().count(), 1);
    assert!(csv_dir.join("rb2610.SHFE.tick.csv").exists());
    // Without --all, the series must be named.
    let out = tv(&db, &["export", "x.csv", "--symbol", "rb2610"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn load_picks_columns_limits_rows_and_prints_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let spy = spy();
    let series = ["--symbol", "SPY", "--exchange", "ARCA", "--interval", "1m"];
    ok(
        &db,
        &[&["import", spy.to_str().unwrap()][..], &series].concat(),
    );
    let some = [
        "--limit",
        "2",
        "--columns",
        "datetime,close,volume",
        "--tz",
        "UTC",
    ];
    let csv = ok(&db, &[&["load"][..], &series, &some].concat());
    assert_eq!(
        csv,
        "datetime,close,volume\n2011-01-03T09:01:00+00:00,126.39,1579\n2011-01-03T09:02:00+00:00,126.45,300\n"
    );
    let table = ok(
        &db,
        &[&["load", "--format", "table"][..], &series, &some].concat(),
    );
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        [
            "datetime                   close   volume",
            "2011-01-03T09:01:00+00:00  126.39  1579",
            "2011-01-03T09:02:00+00:00  126.45  300"
        ]
    );
    let jsonl = ok(&db, &[&["load", "--json"][..], &series, &some].concat());
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["close"], 126.39);
    assert_eq!(first["type"], "bar");
    let out = tv(&db, &[&["load", "--columns", "nope"][..], &series].concat());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"nope\" (one of: symbol"));
}
