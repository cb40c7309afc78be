//! One file, many series: imports route each row by its `symbol`, `exchange`, `interval` or
//! `vt_symbol` columns (an option given on the command line wins), as one commit, and the
//! summary counts rows stored and replaced per series.

mod common;

use common::{ok, tv};

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use tickvault::{Database, Engine, Exchange, Interval, Timestamp};

fn closes(store: &Path, symbol: &str, exchange: Exchange, interval: Interval) -> Vec<(i64, f64)> {
    let db = Engine::open_read_only(store).unwrap();
    db.load_bar_data(symbol, exchange, interval, Timestamp::MIN, Timestamp::MAX)
        .unwrap()
        .iter()
        .map(|b| (b.datetime.as_ns() / 1_000_000_000, b.close_price))
        .collect()
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_csv_of_many_series_lands_in_each_and_counts_replacements() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let file = dir.path().join("many.csv");
    std::fs::write(
        &file,
        "vt_symbol,interval,datetime,open,high,low,close,volume\n\
         rb2610.SHFE,1m,1970-01-01T00:01:00Z,1,2,0.5,1.5,10\n\
         rb2610.SHFE,1m,1970-01-01T00:02:00Z,1,2,0.5,1.6,10\n\
         IF2601.CFFEX,1m,1970-01-01T00:01:00Z,3,4,2.5,3.5,20\n\
         rb2610.SHFE,1h,1970-01-01T01:00:00Z,1,2,0.5,1.7,10\n\
         IF2601.CFFEX,d,1970-01-01T00:02:00Z,3,4,2.5,3.6,20\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = json_lines(&ok(&store, &["--json", "import", f]));
    let series: Vec<(String, u64, u64)> = out
        .iter()
        .filter(|v| v["type"] == "import_series")
        .map(|v| {
            (
                v["series"].as_str().unwrap().to_string(),
                v["rows"].as_u64().unwrap(),
                v["replaced"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            ("rb2610.SHFE 1m".to_string(), 2, 0),
            ("IF2601.CFFEX 1m".to_string(), 1, 0),
            ("rb2610.SHFE 1h".to_string(), 1, 0),
            ("IF2601.CFFEX d".to_string(), 1, 0),
        ]
    );
    let summary = out.last().unwrap();
    assert_eq!(
        (&summary["type"], &summary["series"], &summary["rows"]),
        (&"import".into(), &4.into(), &5.into())
    );
    assert_eq!(
        closes(&store, "rb2610", Exchange::SHFE, Interval::Minute),
        [(60, 1.5), (120, 1.6)]
    );
    assert_eq!(
        closes(&store, "rb2610", Exchange::SHFE, Interval::Hour),
        [(3600, 1.7)]
    );
    assert_eq!(
        closes(&store, "IF2601", Exchange::CFFEX, Interval::Daily),
        [(120, 3.6)]
    );
    // The same file again replaces every row, and the store holds each once.
    let again = json_lines(&ok(&store, &["--json", "import", f]));
    let summary = again.last().unwrap();
    assert_eq!(
        (&summary["rows"], &summary["replaced"]),
        (&5.into(), &5.into())
    );
    let db = Engine::open_read_only(&store).unwrap();
    let counts: u64 = db.get_bar_overview().unwrap().iter().map(|o| o.count).sum();
    assert_eq!(counts, 5);
    drop(db);
    // Options win over columns: every row into one series (the later of two equal times wins).
    let out = json_lines(&ok(
        &store,
        &[
            "--json",
            "import",
            f,
            "--symbol",
            "Z",
            "--exchange",
            "DCE",
            "--interval",
            "1m",
        ],
    ));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["series"], "Z.DCE 1m");
    assert_eq!(
        closes(&store, "Z", Exchange::DCE, Interval::Minute),
        [(60, 3.5), (120, 3.6), (3600, 1.7)]
    );
    // A row that names no interval, with no --interval, is named.
    let partial = dir.path().join("partial.csv");
    std::fs::write(
        &partial,
        "symbol,exchange,interval,datetime,open,high,low,close,volume\n\
         a,SSE,1m,60,1,1,1,1,1\n\
         a,SSE,,120,1,1,1,1,1\n",
    )
    .unwrap();
    let out = tv(
        &store,
        &["import", partial.to_str().unwrap(), "--epoch", "s"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("partial.csv line 3: column \"interval\": no interval: give --interval, --ticks or an interval column"),
        "{err}"
    );
}

#[test]
fn a_bad_series_cell_is_named_and_aborts_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let file = dir.path().join("many.jsonl");
    std::fs::write(
        &file,
        "{\"symbol\":\"a\",\"exchange\":\"SSE\",\"datetime\":\"1970-01-01T00:01:00Z\",\"open\":1,\"high\":1,\"low\":1,\"close\":1,\"volume\":1}\n\
         {\"symbol\":\"b\",\"exchange\":\"NOPE\",\"datetime\":\"1970-01-01T00:01:00Z\",\"open\":1,\"high\":1,\"low\":1,\"close\":2,\"volume\":1}\n\
         {\"symbol\":\"c/../d\",\"datetime\":\"1970-01-01T00:01:00Z\",\"open\":1,\"high\":1,\"low\":1,\"close\":3,\"volume\":1}\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = tv(&store, &["import", f, "--interval", "1m"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("many.jsonl line 2: column \"exchange\": unknown exchange \"NOPE\""),
        "{err}"
    );
    assert!(!store.exists(), "a failed import leaves no store behind");
    // Skipped: the bad exchange, and the third row, which has no exchange at all.
    let rejects = dir.path().join("rejects.csv");
    let out = tv(
        &store,
        &[
            "import",
            f,
            "--interval",
            "1m",
            "--on-error",
            "skip",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let listed = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(lines[1].starts_with("2,"), "{listed}");
    assert!(
        lines[2].starts_with("3,") && lines[2].contains("no exchange: give --exchange"),
        "{listed}"
    );
    assert_eq!(
        closes(&store, "a", Exchange::SSE, Interval::Minute),
        [(60, 1.0)]
    );
    // A symbol cell no series may have is named as such; a symbol with path characters is
    // just a symbol.
    let hostile = dir.path().join("hostile.jsonl");
    std::fs::write(
        &hostile,
        "{\"symbol\":\"c/../d\",\"datetime\":60,\"open\":1,\"high\":1,\"low\":1,\"close\":3,\"volume\":1}\n\
         {\"symbol\":\"e\\u0007\",\"datetime\":60,\"open\":1,\"high\":1,\"low\":1,\"close\":3,\"volume\":1}\n",
    )
    .unwrap();
    let h = hostile.to_str().unwrap();
    let args = [
        "import",
        h,
        "--interval",
        "1m",
        "--exchange",
        "SSE",
        "--epoch",
        "s",
    ];
    let out = tv(&store, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("hostile.jsonl line 2: column \"symbol\": invalid argument: symbol \"e\\u{7}\" contains the control character"),
        "{err}"
    );
    assert!(closes(&store, "c/../d", Exchange::SSE, Interval::Minute).is_empty());
}

#[test]
fn a_time_repeated_across_batches_is_a_warning_or_with_strict_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let file = dir.path().join("long.csv");
    // More rows than one batch (65,536 bars), with the first time again at the end.
    let mut text = String::from("symbol,exchange,datetime,open,high,low,close,volume\n");
    for i in 0..70_000u64 {
        text.push_str(&format!("x,SSE,{},1,1,1,{i},1\n", 60 * (i + 1)));
    }
    text.push_str("x,SSE,60,1,1,1,-1,1\n");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let out = tv(
        &store,
        &["import", f, "--interval", "1m", "--epoch", "s", "--strict"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("x.SSE 1m: a time repeated in an earlier part of the file (--strict)"),
        "{err}"
    );
    assert!(!store.exists());
    let out = json_lines(&ok(
        &store,
        &["--json", "import", f, "--interval", "1m", "--epoch", "s"],
    ));
    let summary = out.last().unwrap();
    assert_eq!(summary["read"], 70_001);
    assert_eq!(summary["rows"], 70_000);
    assert_eq!(summary["replaced"], 0);
    assert_eq!(summary["warnings"]["repeated time"], 1);
    let rows = closes(&store, "x", Exchange::SSE, Interval::Minute);
    assert_eq!(rows.len(), 70_000);
    assert_eq!(rows[0], (60, -1.0), "the later row wins");
}

#[test]
fn a_parquet_file_of_many_tick_series_is_routed_by_its_text_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let file = dir.path().join("ticks.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("exchange", DataType::Utf8, false),
        Field::new(
            "datetime",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("last_price", DataType::Float64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["IF2601", "600000", "IF2601"])),
        Arc::new(StringArray::from(vec!["CFFEX", "SSE", "CFFEX"])),
        Arc::new(TimestampNanosecondArray::from(vec![1, 2, 3]).with_timezone("UTC")),
        Arc::new(Float64Array::from(vec![4000.0, 7.5, 4000.2])),
    ];
    let batch = RecordBatch::try_new(schema, cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&file).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    ok(&store, &["import", file.to_str().unwrap(), "--ticks"]);
    let db = Engine::open_read_only(&store).unwrap();
    let prices = |symbol: &str, exchange: Exchange| -> Vec<(i64, f64)> {
        db.load_tick_data(symbol, exchange, Timestamp::MIN, Timestamp::MAX)
            .unwrap()
            .iter()
            .map(|t| (t.datetime.as_ns(), t.last_price))
            .collect()
    };
    assert_eq!(
        prices("IF2601", Exchange::CFFEX),
        [(1, 4000.0), (3, 4000.2)]
    );
    assert_eq!(prices("600000", Exchange::SSE), [(2, 7.5)]);
}

#[test]
fn an_excel_sheet_of_many_series_streams_with_sheet_row_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let file = dir.path().join("many.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    // The header on the third sheet row, a blank row among the data, a missing volume cell.
    let header = [
        "symbol", "exchange", "datetime", "open", "high", "low", "close", "volume",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(2, c as u16, *h).unwrap();
    }
    let rows: [(&str, &str, f64, f64); 4] = [
        ("a", "SSE", 60.0, 1.0),
        ("b", "SZSE", 60.0, 2.0),
        ("a", "SSE", 120.0, 3.0),
        ("b", "SZSE", 120.0, f64::NAN),
    ];
    for (i, (sym, ex, t, close)) in rows.iter().enumerate() {
        let r = if i < 2 { 3 + i as u32 } else { 4 + i as u32 };
        sheet.write_string(r, 0, *sym).unwrap();
        sheet.write_string(r, 1, *ex).unwrap();
        sheet.write_number(r, 2, *t).unwrap();
        for c in 3..7 {
            if c == 6 && close.is_nan() {
                sheet.write_string(r, c, "n/a").unwrap();
            } else {
                sheet.write_number(r, c, *close).unwrap();
            }
        }
        sheet.write_number(r, 7, 10.0).unwrap();
        if i != 2 {
            sheet.write_number(r, 8, 5.0).unwrap();
        }
    }
    book.save(&file).unwrap();
    let f = file.to_str().unwrap();
    // The bad close is on sheet row 8 (1-based), after the blank row 6.
    let out = tv(&store, &["import", f, "--interval", "1m", "--epoch", "s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("many.xlsx line 8: column \"close\": cannot read \"n/a\" as a number"),
        "{err}"
    );
    let out = tv(
        &store,
        &[
            "import",
            f,
            "--interval",
            "1m",
            "--epoch",
            "s",
            "--on-error",
            "skip",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        closes(&store, "a", Exchange::SSE, Interval::Minute),
        [(60, 1.0), (120, 3.0)]
    );
    assert_eq!(
        closes(&store, "b", Exchange::SZSE, Interval::Minute),
        [(60, 2.0)]
    );
}
