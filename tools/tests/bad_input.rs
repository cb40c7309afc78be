//! Bad input to `import`: a corpus of malformed files, each with the exact error expected (file,
//! line and column named, the offending text quoted) and nothing stored; `--on-error skip` with
//! `--rejects`; warnings and `--strict`.

mod common;

use common::tv;

const HEADER: &str = "datetime,open,high,low,close,volume\n";
const GOOD: &str = "2024-01-02 09:00:00,1,2,0.5,1.5,10\n";

/// (file name, contents, ticks?, extra args, the error expected in stderr).
type Case = (&'static str, Vec<u8>, bool, Vec<&'static str>, &'static str);

fn corpus() -> Vec<Case> {
    let csv = |body: &str| format!("{HEADER}{GOOD}{body}").into_bytes();
    vec![
        ("number.csv", csv("2024-01-02 09:01:00,1,abc,0.5,1,1\n"), false, vec![], "number.csv line 3: column \"high\": cannot read \"abc\" as a number"),
        ("time.csv", csv("yesterday,1,2,0.5,1,1\n"), false, vec![], "time.csv line 3: column \"datetime\": cannot read \"yesterday\" as a time"),
        ("empty_time.csv", csv(",1,2,0.5,1,1\n"), false, vec![], "empty_time.csv line 3: column \"datetime\""),
        ("missing_value.csv", csv("2024-01-02 09:01:00,1,2,0.5,,1\n"), false, vec![], "missing_value.csv line 3: column \"close\": no value"),
        ("too_few.csv", csv("2024-01-02 09:01:00,1,2\n"), false, vec![], "too_few.csv line 3: 3 fields where the header has 6"),
        ("too_many.csv", csv("2024-01-02 09:01:00,1,2,0.5,1,1,9,9\n"), false, vec![], "too_many.csv line 3: 8 fields where the header has 6"),
        ("no_close.csv", b"datetime,open,high,low,volume\n2024-01-02,1,2,0,1\n".to_vec(), false, vec![], "no column \"close\" in the header (found: datetime, open, high, low, volume)"),
        ("no_datetime.csv", b"date,open,high,low,close,volume\n".to_vec(), false, vec![], "no column \"datetime\" in the header"),
        ("empty.csv", Vec::new(), false, vec![], "no column \"datetime\" in the header"),
        ("utf8.csv", [HEADER.as_bytes(), b"2024-01-02 09:00:00,1,2,0.5,\xff\xfe,1\n"].concat(), false, vec![], "utf8.csv line 2: malformed CSV: CSV parse error: record 1 (line 2, field: 4, byte: 36): invalid utf-8"),
        ("dst_gap.csv", csv("2024-03-10 02:30:00,1,2,0.5,1,1\n"), false, vec!["--tz", "America/New_York"], "2024-03-10 02:30:00 does not exist in America/New_York"),
        ("dst_fold.csv", csv("2024-11-03 01:30:00,1,2,0.5,1,1\n"), false, vec!["--tz", "America/New_York"], "2024-11-03 01:30:00 is ambiguous in America/New_York"),
        ("year.csv", csv("2300-01-01 00:00:00,1,2,0.5,1,1\n"), false, vec![], "outside the years 1678 to 2261"),
        ("epoch.csv", format!("{HEADER}1704186000,1,2,0.5,1,1\n12x,1,2,0.5,1,1\n").into_bytes(), false, vec!["--epoch", "s"], "cannot read \"12x\" as an integer time (--epoch S)"),
        ("epoch_range.csv", format!("{HEADER}99999999999999,1,2,0.5,1,1\n").into_bytes(), false, vec!["--epoch", "s"], "99999999999999 S is outside the years 1678 to 2261"),
        ("format.csv", format!("{HEADER}02/01/2024,1,2,0.5,1,1\n").into_bytes(), false, vec!["--datetime-format", "%Y%m%d"], "with format \"%Y%m%d\""),
        ("hex.csv", csv("2024-01-02 09:01:00,0x10,2,0.5,1,1\n"), false, vec![], "cannot read \"0x10\" as a number"),
        ("comma_decimal.csv", csv("2024-01-02 09:01:00,\"1,5\",2,0.5,1,1\n"), false, vec![], "cannot read \"1,5\" as a number"),
        ("tick_price.csv", b"datetime,last_price,volume\n2024-01-02 09:00:00,x,1\n".to_vec(), true, vec![], "tick_price.csv line 2: column \"last_price\": cannot read \"x\" as a number"),
        ("tick_local.csv", b"datetime,last_price,localtime\n2024-01-02 09:00:00,1,soon\n".to_vec(), true, vec![], "column \"localtime\": cannot read \"soon\" as a time"),
        ("tick_no_price.csv", b"datetime,volume\n2024-01-02 09:00:00,1\n".to_vec(), true, vec![], "no column \"last_price\""),
        ("line.jsonl", b"{\"datetime\":\"2024-01-02T00:00:00Z\",\"open\":1,\"high\":1,\"low\":1,\"close\":1,\"volume\":1}\n{oops\n".to_vec(), false, vec![], "line.jsonl line 2: not JSON"),
        ("array_line.jsonl", b"[1,2]\n".to_vec(), false, vec![], "array_line.jsonl line 1: not a JSON object"),
        ("value.jsonl", b"{\"datetime\":\"2024-01-02T00:00:00Z\",\"open\":true,\"high\":1,\"low\":1,\"close\":1,\"volume\":1}\n".to_vec(), false, vec![], "value.jsonl line 1: column \"open\": cannot read \"true\" as a number"),
        ("object.json", b"{\"datetime\":1}".to_vec(), false, vec![], "object.json: not a JSON array of objects"),
        ("truncated.json", b"[{\"datetime\":\"2024-01-02T00:00:00Z\",\"open\":1".to_vec(), false, vec![], "truncated.json: not a JSON array of objects"),
        ("element.json", b"[{\"datetime\":\"2024-01-02T00:00:00Z\",\"open\":1,\"high\":1,\"low\":1,\"close\":1,\"volume\":1},7]".to_vec(), false, vec![], "element.json element line 2: not a JSON object"),
        ("trailing.json", b"[] x".to_vec(), false, vec![], "trailing.json: text after the array"),
        ("missing.json", b"[{\"datetime\":\"2024-01-02T00:00:00Z\",\"open\":1,\"high\":1,\"low\":1,\"volume\":1}]".to_vec(), false, vec![], "missing.json element line 1: column \"close\": no value"),
        ("junk.parquet", b"PAR1 not really".to_vec(), false, vec![], "junk.parquet: not a Parquet file"),
        ("unknown.xyz", b"x".to_vec(), false, vec![], "cannot tell the format of"),
        ("map.csv", csv(""), false, vec!["--map", "close"], "--map wants FIELD=COLUMN pairs, got \"close\""),
        ("strict.csv", csv("2024-01-02 09:01:00,1,0.5,2,1,1\n"), false, vec!["--strict"], "strict.csv line 3: column \"high\": high below low (--strict)"),
    ]
}

#[test]
fn every_malformed_file_is_named_precisely_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // A series already stored must come through every failed import unchanged.
    let seed = dir.path().join("seed.csv");
    std::fs::write(&seed, format!("{HEADER}{GOOD}")).unwrap();
    let bars = ["--symbol", "S", "--exchange", "SSE", "--interval", "1m"];
    let out = tv(
        &db,
        &[&["import", seed.to_str().unwrap()][..], &bars].concat(),
    );
    assert!(out.status.success());
    let before = tv(
        &db,
        &[
            "load",
            "--symbol",
            "S",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    )
    .stdout;
    let cases = corpus();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for (name, body, ticks, extra, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, &body).unwrap();
        let series: Vec<&str> = if ticks {
            vec!["--symbol", "S", "--exchange", "SSE", "--ticks"]
        } else {
            bars.to_vec()
        };
        let out = tv(
            &db,
            &[&["import", file.to_str().unwrap()][..], &series, &extra].concat(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in {err}"
        );
        let now = tv(
            &db,
            &[
                "load",
                "--symbol",
                "S",
                "--exchange",
                "SSE",
                "--interval",
                "1m",
            ],
        )
        .stdout;
        assert_eq!(now, before, "{name} changed the store");
    }
    let ov = tv(&db, &["overview", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&ov.stdout).lines().count(),
        1,
        "only the seeded series"
    );
}

#[test]
fn skip_mode_stores_the_good_rows_and_lists_the_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("mixed.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}{GOOD}2024-01-02 09:01:00,1,abc,0.5,1,1\nnot a time,1,2,0.5,1,1\n2024-01-02 09:03:00,1,2,0.5,1,-5\n2024-01-02 09:04:00,1,2\n"
        ),
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let out = tv(
        &db,
        &[
            "import",
            file.to_str().unwrap(),
            "--symbol",
            "S",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
            "--on-error",
            "skip",
            "--rejects",
            rejects.to_str().unwrap(),
            "--json",
        ],
    );
    // The command ran but left rows out: exit 1.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A line per series, then the summary.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["type"], "import_series");
    assert_eq!(lines[0]["series"], "S.SSE 1m");
    assert_eq!(lines[0]["rows"], 2);
    let summary = &lines[1];
    assert_eq!(summary["type"], "import");
    assert_eq!(summary["read"], 5);
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["skipped"], 3);
    assert_eq!(summary["warnings"]["negative volume"], 1);
    let listed = std::fs::read_to_string(&rejects).unwrap();
    let mut lines: Vec<&str> = listed.lines().collect();
    // Rejects come as found: rows of the wrong width while reading, bad values per batch.
    lines[1..].sort_by_key(|l| l.split(',').next().and_then(|n| n.parse::<u64>().ok()));
    assert_eq!(lines[0], "line,error");
    assert!(
        lines[1].starts_with("3,") && lines[1].contains("\"\"abc\"\""),
        "{listed}"
    );
    assert!(
        lines[2].starts_with("4,") && lines[2].contains("not a time"),
        "{listed}"
    );
    assert!(
        lines[3].starts_with("6,") && lines[3].contains("3 fields where the header has 6"),
        "{listed}"
    );
    let rows = tv(
        &db,
        &[
            "load",
            "--symbol",
            "S",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    )
    .stdout;
    assert_eq!(String::from_utf8_lossy(&rows).lines().count(), 3);
}
