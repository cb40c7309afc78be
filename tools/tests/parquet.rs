//! Parquet import and export: exact round trips of bars and ticks, files written by other tools
//! (naive millisecond timestamps, float32 and integer columns, short names), and bad files named
//! by row and column with nothing stored.

mod common;

use common::{run as tv, run_ok as ok};

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use tickvault::{BarData, Database, Engine, Exchange, Interval, TickData, Timestamp};

fn write_parquet(path: &Path, batch: RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn bars_and_ticks_round_trip_exactly_through_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let symbol = "螺纹/钢 \"x\",y";
    {
        let db = Engine::open(&a).unwrap();
        let bars: Vec<BarData> = [-86_400_123_456_789i64, 1, 4_200_000_000_000_000_000]
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let mut b = BarData::new(
                    symbol,
                    Exchange::SHFE,
                    Interval::Minute,
                    Timestamp::from_ns(*ns),
                );
                b.open_price = [f64::NAN, -0.0, 1e300][i];
                b.close_price = 3517.4;
                b.volume = i as f64;
                b
            })
            .collect();
        db.save_bar_data(&bars, false).unwrap();
        let ticks: Vec<TickData> = (0..3)
            .map(|i| {
                let mut t = TickData::new("IF", Exchange::CFFEX, Timestamp::from_ns(1_000 + i));
                t.name = "沪深300".into();
                t.localtime = (i != 1).then(|| Timestamp::from_ns(2_000 + i));
                t.ask_volume_5 = f64::INFINITY;
                t
            })
            .collect();
        db.save_tick_data(&ticks, false).unwrap();
    }
    let (bars_pq, ticks_pq) = (
        dir.path().join("bars.parquet"),
        dir.path().join("ticks.parquet"),
    );
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let series = ["--symbol", symbol, "--exchange", "SHFE", "--interval", "1m"];
    ok(&[
        &["--db", a, "export", bars_pq.to_str().unwrap()][..],
        &series,
    ]
    .concat());
    ok(&[
        &["--db", b, "import", bars_pq.to_str().unwrap()][..],
        &series,
    ]
    .concat());
    let tick_series = ["--symbol", "IF", "--exchange", "CFFEX", "--ticks"];
    ok(&[
        &["--db", a, "export", ticks_pq.to_str().unwrap()][..],
        &tick_series,
    ]
    .concat());
    ok(&[
        &["--db", b, "import", ticks_pq.to_str().unwrap()][..],
        &tick_series,
    ]
    .concat());
    // compare hashes every field by its bits: NaN, -0.0, nanoseconds and missing local times.
    let out = ok(&["compare", a, b]);
    assert_eq!(
        out.lines().filter(|l| l.ends_with("equal")).count(),
        2,
        "{out}"
    );
    // The file says what it holds, for other tools.
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&ticks_pq).unwrap(),
    )
    .unwrap();
    let schema = reader.schema().clone();
    assert_eq!(
        schema.field_with_name("datetime").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    assert!(schema.field_with_name("localtime").unwrap().is_nullable());
    assert_eq!(
        schema.field_with_name("name").unwrap().data_type(),
        &DataType::Utf8
    );
}

#[test]
fn parquet_from_other_tools_is_read_by_column_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("foreign.parquet");
    // Naive millisecond times (wall clock in --tz), float32 prices, integer volumes, short names.
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "Datetime",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        Field::new("open", DataType::Float32, false),
        Field::new("high", DataType::Float32, false),
        Field::new("low", DataType::Float32, false),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Int64, false),
        Field::new("note", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(TimestampMillisecondArray::from(vec![
            1_704_186_000_000,
            1_704_186_060_000,
        ])),
        Arc::new(Float32Array::from(vec![1.5, 2.5])),
        Arc::new(Float32Array::from(vec![2.0, 3.0])),
        Arc::new(Float32Array::from(vec![1.0, 2.0])),
        Arc::new(Float64Array::from(vec![1.75, 2.75])),
        Arc::new(Int64Array::from(vec![100, 200])),
        Arc::new(StringArray::from(vec![Some("x"), None])),
    ];
    write_parquet(&file, RecordBatch::try_new(schema, cols).unwrap());
    let store = dir.path().join("db");
    ok(&[
        "--db",
        store.to_str().unwrap(),
        "import",
        file.to_str().unwrap(),
        "--symbol",
        "rb2610",
        "--exchange",
        "SHFE",
        "--interval",
        "1m",
        "--tz",
        "Asia/Shanghai",
    ]);
    let db = Engine::open(&store).unwrap();
    let bars = db
        .load_bar_data(
            "rb2610",
            Exchange::SHFE,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap();
    // 2024-01-02 09:00 in Shanghai is 01:00 UTC.
    assert_eq!(bars[0].datetime.to_string(), "2024-01-02T01:00:00Z");
    assert_eq!(
        (
            bars[1].open_price,
            bars[1].close_price,
            bars[1].volume,
            bars[1].turnover
        ),
        (2.5, 2.75, 200.0, 0.0)
    );
}

#[test]
fn bad_parquet_is_named_by_row_and_column_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let store = store.to_str().unwrap();
    let series = ["--symbol", "X", "--exchange", "SSE", "--interval", "d"];
    let import = |file: &Path| {
        tv(&[
            &["--db", store, "import", file.to_str().unwrap()][..],
            &series,
        ]
        .concat())
    };
    let fails = |file: &Path| {
        let out = import(file);
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Not Parquet at all.
    let junk = dir.path().join("junk.parquet");
    std::fs::write(&junk, b"datetime,open\n1,2\n").unwrap();
    assert!(
        fails(&junk).contains("not a Parquet file"),
        "{}",
        fails(&junk)
    );
    // A required column missing.
    let schema = Arc::new(Schema::new(vec![
        Field::new("datetime", DataType::Int64, false),
        Field::new("open", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![0, 1])) as ArrayRef,
            Arc::new(Float64Array::from(vec![Some(1.0), Some(2.0)])),
        ],
    )
    .unwrap();
    let missing = dir.path().join("missing.parquet");
    write_parquet(&missing, batch);
    let err = fails(&missing);
    assert!(err.contains("no column \"high\""), "{err}");
    // A null in a required column: row 2 of column open.
    let full = Arc::new(Schema::new(
        ["datetime", "open", "high", "low", "close", "volume"]
            .iter()
            .map(|n| {
                Field::new(
                    *n,
                    if *n == "datetime" {
                        DataType::Int64
                    } else {
                        DataType::Float64
                    },
                    true,
                )
            })
            .collect::<Vec<_>>(),
    ));
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![0, 1]))];
    arrays.push(Arc::new(Float64Array::from(vec![Some(1.0), None])));
    for _ in 0..4 {
        arrays.push(Arc::new(Float64Array::from(vec![1.0, 1.0])));
    }
    let nulls = dir.path().join("nulls.parquet");
    write_parquet(&nulls, RecordBatch::try_new(full, arrays).unwrap());
    let err = fails(&nulls);
    assert!(
        err.contains("nulls.parquet row 2: column \"open\": no value"),
        "{err}"
    );
    // A text column where numbers belong.
    let texty = Arc::new(Schema::new(
        ["datetime", "open", "high", "low", "close", "volume"]
            .iter()
            .map(|n| {
                Field::new(
                    *n,
                    if *n == "high" {
                        DataType::Utf8
                    } else {
                        DataType::Int64
                    },
                    false,
                )
            })
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = ["datetime", "open", "high", "low", "close", "volume"]
        .iter()
        .map(|n| -> ArrayRef {
            if *n == "high" {
                Arc::new(StringArray::from(vec!["1"]))
            } else {
                Arc::new(Int64Array::from(vec![1]))
            }
        })
        .collect();
    let text = dir.path().join("text.parquet");
    write_parquet(&text, RecordBatch::try_new(texty, arrays).unwrap());
    let err = fails(&text);
    assert!(
        err.contains("column \"high\": a number column of type Utf8"),
        "{err}"
    );
    // Nothing was stored by any of them.
    assert!(
        !Path::new(store).exists()
            || Engine::open(store)
                .unwrap()
                .get_bar_overview()
                .unwrap()
                .is_empty()
    );
}
