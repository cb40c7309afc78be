//! Excel import and export: round trips of bars and ticks (millisecond times, times before
//! 1900, NaN, Unicode), workbooks from other tools read by column name, the row limit refused,
//! and bad cells named by row and column.

mod common;

use common::{ok, tv};

use tickvault::{BarData, Columns, Database, Engine, Exchange, Interval, TickData, Timestamp};

#[test]
fn bars_and_ticks_round_trip_through_excel() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let symbol = "螺纹钢 \"x\",y";
    {
        let db = Engine::open(&a).unwrap();
        let bars: Vec<BarData> = [-2_300_000_000i64, 0, 1_704_186_000]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut b = BarData::new(
                    symbol,
                    Exchange::SHFE,
                    Interval::Daily,
                    Timestamp::from_secs(*s),
                );
                b.open_price = [f64::NAN, f64::INFINITY, 3517.4][i];
                b.close_price = 1e-9 * i as f64;
                b.volume = 123_456_789.0;
                b
            })
            .collect();
        db.save_bar_data(&bars, false).unwrap();
        let ticks: Vec<TickData> = (0..3)
            .map(|i| {
                let mut t = TickData::new(
                    "IF",
                    Exchange::CFFEX,
                    Timestamp::from_millis(1_704_186_000_123 + i * 500),
                );
                t.name = "沪深300".into();
                t.localtime = (i != 1).then(|| Timestamp::from_millis(1_704_186_000_200 + i * 500));
                t.bid_price_5 = 4000.2;
                t
            })
            .collect();
        db.save_tick_data(&ticks, false).unwrap();
    }
    let (bx, tx) = (dir.path().join("bars.xlsx"), dir.path().join("ticks.xlsx"));
    let bars = [
        "--symbol",
        symbol,
        "--exchange",
        "SHFE",
        "--interval",
        "d",
        "--tz",
        "Asia/Shanghai",
    ];
    let ticks = [
        "--symbol",
        "IF",
        "--exchange",
        "CFFEX",
        "--ticks",
        "--tz",
        "Asia/Shanghai",
    ];
    ok(&a, &[&["export", bx.to_str().unwrap()][..], &bars].concat());
    ok(&b, &[&["import", bx.to_str().unwrap()][..], &bars].concat());
    ok(
        &a,
        &[&["export", tx.to_str().unwrap()][..], &ticks].concat(),
    );
    ok(
        &b,
        &[&["import", tx.to_str().unwrap()][..], &ticks].concat(),
    );
    let out = ok(&a, &["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with("equal")).count(),
        2,
        "{out}"
    );
}

#[test]
fn workbooks_from_other_tools_are_read_by_column_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Date", "Open", "High", "Low", "Close", "Volume", "Note"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_opt(9, 30, 0)
        .unwrap();
    sheet.write_datetime(1, 0, day).unwrap();
    for (c, v) in [10.0, 12.0, 9.0, 11.5, 1000.0].iter().enumerate() {
        sheet.write_number(1, c as u16 + 1, *v).unwrap();
    }
    sheet.write_string(1, 6, "ok").unwrap();
    sheet.write_string(2, 0, "2024-01-03 09:30:00").unwrap();
    for c in 1..6u16 {
        sheet.write_number(2, c, 1.0).unwrap();
    }
    book.save(&file).unwrap();
    let db = dir.path().join("db");
    ok(
        &db,
        &[
            "import",
            file.to_str().unwrap(),
            "--symbol",
            "X",
            "--exchange",
            "SSE",
            "--interval",
            "d",
            "--tz",
            "Asia/Shanghai",
            "--map",
            "datetime=Date",
        ],
    );
    let rows = ok(
        &db,
        &[
            "load",
            "--symbol",
            "X",
            "--exchange",
            "SSE",
            "--interval",
            "d",
        ],
    );
    assert!(
        rows.contains("2024-01-02T01:30:00+00:00,10,12,9,11.5,1000"),
        "{rows}"
    );
    assert!(
        rows.contains("2024-01-03T01:30:00+00:00,1,1,1,1,1"),
        "{rows}"
    );
}

#[test]
fn a_series_longer_than_a_sheet_is_refused_and_bad_cells_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let e = Engine::open(&db).unwrap();
        let mut cols = tickvault::BarColumns {
            datetime: (0..1_048_576)
                .map(|i| Timestamp::from_secs(60 * i))
                .collect(),
            ..Default::default()
        };
        cols.resize(cols.datetime.len());
        e.save_bar_columns("L", Exchange::SSE, Interval::Minute, &cols)
            .unwrap();
    }
    let file = dir.path().join("long.xlsx");
    let out = tv(
        &db,
        &[
            "export",
            file.to_str().unwrap(),
            "--symbol",
            "L",
            "--exchange",
            "SSE",
            "--interval",
            "1m",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("at most 1048575 rows and L.SSE 1m has 1048576"),
        "{err}"
    );
    assert!(!file.exists() && !dir.path().join("long.tickvault-partial").exists());
    // A text cell where a number belongs: named by its row (Excel's numbering) and column.
    let bad = dir.path().join("bad.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["datetime", "open", "high", "low", "close", "volume"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "2024-01-02").unwrap();
    for c in 1..6u16 {
        sheet
            .write_string(1, c, if c == 3 { "n/a" } else { "1" })
            .unwrap();
    }
    book.save(&bad).unwrap();
    let out = tv(
        &db,
        &[
            "import",
            bad.to_str().unwrap(),
            "--symbol",
            "B",
            "--exchange",
            "SSE",
            "--interval",
            "d",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.xlsx line 2: column \"low\": cannot read \"n/a\" as a number"),
        "{err}"
    );
}
