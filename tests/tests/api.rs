//! The `Database` semantics over the public API, each tested.

use std::fs;
use std::path::Path;

use tickvault::{
    BarColumns, Columns, Database, Engine, Error, Exchange, Interval, SeriesKey, TickColumns,
    Timestamp,
};
use tickvault_tests::{bar, closes, sort_overview, tick};

const MIN: Interval = Interval::Minute;
const ALL: (Timestamp, Timestamp) = (Timestamp::MIN, Timestamp::MAX);

fn open(dir: &Path) -> Engine {
    Engine::open(dir.join("db")).expect("open")
}

#[test]
fn one_series_saves_sorted_or_not_keep_the_last_row_of_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let rb = |t: i64, close: f64| bar("rb", Exchange::SHFE, MIN, t, close);
    // Strictly ascending (saved without a sort), then ascending with a time twice, then in
    // no order with a time twice: the last row of a time wins each time.
    db.save_bar_data(&[rb(60, 1.0), rb(120, 2.0), rb(180, 3.0)], false)
        .unwrap();
    assert_eq!(closes(&db, "rb"), [(60, 1.0), (120, 2.0), (180, 3.0)]);
    db.save_bar_data(&[rb(240, 4.0), rb(300, 5.0), rb(300, 5.5)], false)
        .unwrap();
    db.save_bar_data(
        &[rb(420, 7.0), rb(60, 1.5), rb(420, 7.5), rb(360, 6.0)],
        false,
    )
    .unwrap();
    assert_eq!(
        closes(&db, "rb"),
        [
            (60, 1.5),
            (120, 2.0),
            (180, 3.0),
            (240, 4.0),
            (300, 5.5),
            (360, 6.0),
            (420, 7.5)
        ]
    );
    assert_eq!(db.get_bar_overview().unwrap()[0].count, 7);
}

#[test]
fn large_batches_found_unsorted_or_mixed_after_their_first_blocks_save_as_any_other() {
    // A save checks and copies rows 512 at a time; these batches of 1,300 rows break the
    // one-ascending-series pass in their third block, after two blocks were copied.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ascending = |symbol: &str| -> Vec<_> {
        (0..1300)
            .map(|i| bar(symbol, Exchange::SHFE, MIN, 60 * (i + 1), i as f64))
            .collect()
    };
    // A time out of order (and a time twice: the later row wins).
    let mut rb = ascending("rb");
    rb[1100].datetime = Timestamp::from_secs(60 * 1200);
    rb[1100].close_price = -1.0;
    db.save_bar_data(&rb, false).unwrap();
    let got = closes(&db, "rb");
    assert_eq!(got.len(), 1299);
    assert_eq!(got[1099], (60 * 1100, 1099.0));
    assert_eq!(
        got[1100],
        (60 * 1102, 1101.0),
        "the time moved away is gone"
    );

    assert_eq!(
        got[1198],
        (60 * 1200, 1199.0),
        "the later row of a time wins"
    );
    // Another series from row 1,100 on: two series, as if saved apart.
    let mut mixed = ascending("cu");
    for b in &mut mixed[1100..] {
        b.symbol = "al".into();
    }
    db.save_bar_data(&mixed, false).unwrap();
    assert_eq!(closes(&db, "cu").len(), 1100);
    assert_eq!(closes(&db, "al")[0], (60 * 1101, 1100.0));
    assert_eq!(closes(&db, "al").len(), 200);
    // A bar with the interval `tick` in the third block: refused, nothing saved.
    let mut bad = ascending("zn");
    bad[1200].interval = Interval::Tick;
    assert!(matches!(
        db.save_bar_data(&bad, false),
        Err(Error::InvalidArgument(_))
    ));
    assert!(closes(&db, "zn").is_empty());
    // The same rows in order save whole, and a save after a refused one is not disturbed.
    db.save_bar_data(&ascending("zn"), false).unwrap();
    assert_eq!(closes(&db, "zn").len(), 1300);
    assert_eq!(closes(&db, "zn")[1299], (60 * 1300, 1299.0));
}

#[test]
fn batches_large_enough_for_several_threads_save_whole_or_fall_back_at_a_thread_boundary() {
    // 300,000 rows are checked and copied in four parts of 75,000, on rayon's threads.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ascending = |symbol: &str, n: i64| -> Vec<_> {
        (0..n)
            .map(|i| bar(symbol, Exchange::SHFE, MIN, 60 * (i + 1), i as f64))
            .collect()
    };
    db.save_bar_data(&ascending("rb", 300_000), false).unwrap();
    let rb = closes(&db, "rb");
    assert_eq!(rb.len(), 300_000);
    assert_eq!(rb[299_999], (60 * 300_000, 299_999.0));
    assert!(rb.iter().enumerate().all(|(i, &(_, c))| c == i as f64));
    // Fewer rows after more, on the same thread: none of the rows copied before is left over.
    db.save_bar_data(&ascending("cu", 140_000), false).unwrap();
    let cu = closes(&db, "cu");
    assert_eq!(cu.len(), 140_000);
    assert_eq!(cu.last(), Some(&(60 * 140_000, 139_999.0)));
    // The first row of the second half repeats the last time of the first: only the check
    // across the threads' parts sees it. The later row of the time wins.
    let mut al = ascending("al", 300_000);
    al[150_000].datetime = al[149_999].datetime;
    db.save_bar_data(&al, false).unwrap();
    let al = closes(&db, "al");
    assert_eq!(al.len(), 299_999);
    assert_eq!(al[149_999], (60 * 150_000, 150_000.0));
    assert_eq!(al[150_000], (60 * 150_002, 150_001.0));
}

#[test]
fn unsorted_mixed_batch_with_duplicates_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let batch = vec![
        bar("rb", Exchange::SHFE, MIN, 300, 3.0),
        bar("cu", Exchange::SHFE, MIN, 60, 9.0),
        bar("rb", Exchange::SHFE, MIN, 60, 1.0),
        bar("rb", Exchange::SHFE, MIN, 300, 3.5),
        bar("rb", Exchange::SHFE, Interval::Hour, 3600, 7.0),
        bar("rb", Exchange::SHFE, MIN, 120, 2.0),
    ];
    let before = batch.clone();
    db.save_bar_data(&batch, false).unwrap();
    assert_eq!(batch, before, "inputs are not mutated");
    assert_eq!(closes(&db, "rb"), [(60, 1.0), (120, 2.0), (300, 3.5)]);
    assert_eq!(closes(&db, "cu"), [(60, 9.0)]);
    let mut ov = db.get_bar_overview().unwrap();
    sort_overview(&mut ov);
    let summary: Vec<_> = ov
        .iter()
        .map(|o| {
            (
                o.symbol.to_string(),
                o.interval,
                o.count,
                o.start.as_ns() / 1_000_000_000,
                o.end.as_ns() / 1_000_000_000,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cu".to_string(), MIN, 1, 60, 60),
            ("rb".to_string(), MIN, 3, 60, 300),
            ("rb".to_string(), Interval::Hour, 1, 3600, 3600),
        ]
    );
}

#[test]
fn upsert_replaces_stored_rows_and_counts_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let first: Vec<_> = (0..100)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
        .collect();
    db.save_bar_data(&first, false).unwrap();
    // Overlaps the end of the stored range and extends past it.
    let second: Vec<_> = (90..120)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 2.0))
        .collect();
    db.save_bar_data(&second, true).unwrap();
    // Lands in the middle.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 50 * 60, 5.0)], false)
        .unwrap();
    // Before everything, and a new gap-filling row between stored rows.
    db.save_bar_data(
        &[
            bar("rb", Exchange::SHFE, MIN, -60, 0.5),
            bar("rb", Exchange::SHFE, MIN, 61, 0.7),
        ],
        false,
    )
    .unwrap();
    let rows = closes(&db, "rb");
    assert_eq!(rows.len(), 122);
    assert_eq!(rows[0], (-60, 0.5));
    assert_eq!(rows[3], (61, 0.7));
    assert_eq!(rows[52], (3000, 5.0));
    assert_eq!(rows[91], (89 * 60, 1.0));
    assert_eq!(rows[92], (90 * 60, 2.0));
    let ov = db.get_bar_overview().unwrap();
    assert_eq!(ov.len(), 1);
    assert_eq!(
        (ov[0].count, ov[0].start, ov[0].end),
        (
            122,
            Timestamp::from_secs(-60),
            Timestamp::from_secs(119 * 60)
        )
    );
    assert_eq!(db.info().unwrap().bar_rows, 122);
}

#[test]
fn bounds_are_inclusive_and_empty_ranges_are_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let rows: Vec<_> = (0..10_000)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, i as f64))
        .collect();
    db.save_bar_data(&rows, false).unwrap();
    let got = db
        .load_bar_data(
            "rb",
            Exchange::SHFE,
            MIN,
            Timestamp::from_secs(600),
            Timestamp::from_secs(1200),
        )
        .unwrap();
    assert_eq!(got.len(), 11);
    assert_eq!((got[0].close_price, got[10].close_price), (10.0, 20.0));
    // A bound between rows.
    let got = db
        .load_bar_data(
            "rb",
            Exchange::SHFE,
            MIN,
            Timestamp::from_secs(601),
            Timestamp::from_secs(659),
        )
        .unwrap();
    assert!(got.is_empty());
    // Reversed bounds, unknown series.
    assert!(db
        .load_bar_data(
            "rb",
            Exchange::SHFE,
            MIN,
            Timestamp::from_secs(9),
            Timestamp::from_secs(1)
        )
        .unwrap()
        .is_empty());
    assert!(db
        .load_bar_data("zz", Exchange::SHFE, MIN, ALL.0, ALL.1)
        .unwrap()
        .is_empty());
    // Ranges that cut blocks (2048 rows each) on both sides.
    let got = db
        .load_bar_data(
            "rb",
            Exchange::SHFE,
            MIN,
            Timestamp::from_secs(4000 * 60),
            Timestamp::from_secs(8200 * 60),
        )
        .unwrap();
    assert_eq!(got.len(), 4201);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, b)| b.close_price == (4000 + i) as f64));
}

#[test]
fn delete_returns_count_and_removes_overview() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let rows: Vec<_> = (0..50)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
        .collect();
    db.save_bar_data(&rows, false).unwrap();
    db.save_tick_data(
        &[
            tick("rb", Exchange::SHFE, 1, 3.0),
            tick("rb", Exchange::SHFE, 2, 3.0),
        ],
        false,
    )
    .unwrap();
    assert_eq!(db.delete_bar_data("rb", Exchange::SHFE, MIN).unwrap(), 50);
    assert_eq!(db.delete_bar_data("rb", Exchange::SHFE, MIN).unwrap(), 0);
    assert!(db.get_bar_overview().unwrap().is_empty());
    assert_eq!(db.get_tick_overview().unwrap().len(), 1);
    assert_eq!(db.delete_tick_data("rb", Exchange::SHFE).unwrap(), 2);
    assert!(db.get_tick_overview().unwrap().is_empty());
    assert!(!dir
        .path()
        .join("db/data")
        .join(SeriesKey::tick("rb", Exchange::SHFE).unwrap().dir_name())
        .exists());
}

#[test]
fn ticks_round_trip_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut a = tick("rb2610", Exchange::SHFE, 10, 3517.4);
    a.localtime = None;
    a.name = "".into();
    let b = tick("rb2610", Exchange::SHFE, 11, 3517.6);
    let mut c = tick("rb2610", Exchange::SHFE, 12, f64::NAN);
    c.bid_volume_3 = -0.0;
    c.ask_volume_2 = f64::INFINITY;
    c.limit_down = f64::from_bits(0x7ff8_dead_beef_0001);
    db.save_tick_data(&[c.clone(), a.clone(), b.clone()], false)
        .unwrap();
    let got = db
        .load_tick_data("rb2610", Exchange::SHFE, ALL.0, ALL.1)
        .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], a);
    assert_eq!(got[1], b);
    assert_eq!(got[2].last_price.to_bits(), f64::NAN.to_bits());
    assert_eq!(got[2].bid_volume_3.to_bits(), (-0.0f64).to_bits());
    assert_eq!(got[2].ask_volume_2, f64::INFINITY);
    assert_eq!(got[2].limit_down.to_bits(), 0x7ff8_dead_beef_0001);
    let ov = db.get_tick_overview().unwrap();
    assert_eq!(
        (ov[0].count, ov[0].start, ov[0].end),
        (3, Timestamp::from_secs(10), Timestamp::from_secs(12))
    );
}

#[test]
fn data_survives_reopen_and_columns_match_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cols = tickvault::sample::bars(20_000, 3);
    {
        let db = open(dir.path());
        db.save_bar_columns("IF2406", Exchange::CFFEX, MIN, &cols)
            .unwrap();
        let ticks = tickvault::sample::ticks(5_000, 4, "沪深300");
        db.save_tick_columns("IF2406", Exchange::CFFEX, &ticks)
            .unwrap();
    }
    let db = open(dir.path());
    let back = db
        .load_bar_columns("IF2406", Exchange::CFFEX, MIN, ALL.0, ALL.1)
        .unwrap();
    assert_eq!(back, cols);
    let ticks: TickColumns = db
        .load_tick_columns("IF2406", Exchange::CFFEX, ALL.0, ALL.1)
        .unwrap();
    assert_eq!(ticks, tickvault::sample::ticks(5_000, 4, "沪深300"));
    let rows = db
        .load_bar_data("IF2406", Exchange::CFFEX, MIN, ALL.0, ALL.1)
        .unwrap();
    assert_eq!(rows.len(), 20_000);
    assert_eq!(rows[19_999].close_price, cols.close_price[19_999]);
    assert_eq!(rows[19_999].datetime, cols.datetime[19_999]);
}

#[test]
fn scan_yields_bounded_batches_covering_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .block_rows(1000)
        .segment_rows_max(25_000)
        .open()
        .unwrap();
    let cols = tickvault::sample::bars(100_000, 5);
    db.save_bar_columns("x", Exchange::SSE, MIN, &cols).unwrap();
    let key = SeriesKey::bar("x", Exchange::SSE, MIN).unwrap();
    let (start, end) = (cols.datetime[1_500], cols.datetime[98_765]);
    let mut total = BarColumns::default();
    let mut batches = 0;
    for batch in db.scan::<BarColumns>(&key, start, end, 10_000).unwrap() {
        let batch = batch.unwrap();
        assert!(batch.len() <= 11_000, "batch of {}", batch.len());
        total.extend_from(&batch, 0..batch.len());
        batches += 1;
    }
    assert_eq!(batches, 10);
    assert_eq!(total.len(), 98_765 - 1_500 + 1);
    assert_eq!(total.datetime[0], start);
    assert_eq!(total.close_price[..], cols.close_price[1_500..=98_765]);
    assert_eq!(db.info().unwrap().segments, 4);
}

#[test]
fn symbols_are_validated_and_stay_inside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for bad in ["", "a\0b", "tab\there"] {
        let err = db
            .save_bar_data(&[bar(bad, Exchange::SSE, MIN, 0, 1.0)], false)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
    }
    let err = db
        .save_bar_data(&[bar("ok", Exchange::SSE, Interval::Tick, 0, 1.0)], false)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    for hostile in ["../escape", "/abs", "..", "a\\b", "UP", "up"] {
        db.save_bar_data(&[bar(hostile, Exchange::SSE, MIN, 0, 1.0)], false)
            .unwrap();
    }
    assert_eq!(db.get_bar_overview().unwrap().len(), 6);
    assert!(!dir.path().join("escape").exists() && !dir.path().join("db/escape").exists());
    let entries = fs::read_dir(dir.path().join("db/data")).unwrap().count();
    assert_eq!(entries, 6);
    assert_eq!(
        db.load_bar_data("../escape", Exchange::SSE, MIN, ALL.0, ALL.1)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn second_writer_is_locked_out_and_readers_follow_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let err = Engine::open(dir.path().join("db")).unwrap_err();
    assert!(
        matches!(err, Error::Locked { pid: Some(p), .. } if p == std::process::id()),
        "{err}"
    );
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 1.0)], false)
        .unwrap();
    let reader = Engine::open_read_only(dir.path().join("db")).unwrap();
    assert_eq!(reader.get_bar_overview().unwrap()[0].count, 1);
    // Later commits, including a merge that replaces the segment file, become visible.
    db.save_bar_data(
        &[
            bar("rb", Exchange::SHFE, MIN, 60, 2.0),
            bar("rb", Exchange::SHFE, MIN, 120, 2.0),
        ],
        false,
    )
    .unwrap();
    assert_eq!(closes(&reader, "rb"), [(60, 2.0), (120, 2.0)]);
    assert!(matches!(
        reader.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 1, 1.0)], false),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(
        reader.delete_bar_data("rb", Exchange::SHFE, MIN),
        Err(Error::ReadOnly)
    ));
    drop(db);
    let db = open(dir.path());
    assert_eq!(closes(&db, "rb").len(), 2);
}

#[test]
fn read_only_open_of_a_missing_store_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let err = Engine::open_read_only(dir.path().join("nothing")).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!dir.path().join("nothing").exists());
}

#[test]
fn orphans_of_an_unfinished_write_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let seg_dir;
    {
        let db = open(dir.path());
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 1.0)], false)
            .unwrap();
        seg_dir = dir.path().join("db/data").join(
            SeriesKey::bar("rb", Exchange::SHFE, MIN)
                .unwrap()
                .dir_name(),
        );
    }
    // A segment written but never committed (a crash before the manifest edit), a temp file,
    // an uncommitted partition directory, and a file that is not ours.
    let committed: Vec<_> = fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    fs::copy(
        seg_dir.join(&committed[0]),
        seg_dir.join("00000000000000ff.seg"),
    )
    .unwrap();
    fs::write(seg_dir.join("x.tmp"), b"partial").unwrap();
    fs::create_dir(dir.path().join("db/data/ghost.sse.1m")).unwrap();
    fs::write(
        dir.path().join("db/data/ghost.sse.1m/00000000000000fe.seg"),
        b"x",
    )
    .unwrap();
    fs::write(seg_dir.join("notes.txt"), b"user file").unwrap();
    let db = open(dir.path());
    let mut names: Vec<_> = fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            committed[0].clone().into_string().unwrap(),
            "notes.txt".to_string()
        ]
    );
    assert!(!dir.path().join("db/data/ghost.sse.1m").exists());
    assert_eq!(closes(&db, "rb"), [(60, 1.0)]);
}

/// Flips a bit inside the first chunk of the segment file in `seg_dir`: the file and its
/// damaged bytes.
fn damage_first_chunk(seg_dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let file = fs::read_dir(seg_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&file).unwrap();
    bytes[30] ^= 0x40;
    fs::write(&file, &bytes).unwrap();
    (file, bytes)
}

/// Asserts that `err` is a checksum mismatch in `file` at the first chunk (offset 24), the one
/// [`damage_first_chunk`] damages.
fn assert_first_chunk_mismatch(err: Error, file: &Path) {
    match err {
        Error::ChecksumMismatch {
            file: f, offset, ..
        } => assert_eq!((f.as_path(), offset), (file, 24)),
        other => panic!("expected a checksum mismatch, got {other}"),
    }
}

#[test]
fn a_corrupt_block_fails_a_tick_rows_load_built_on_all_cores_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    let ticks = tickvault::sample::ticks(40_000, 5, "螺纹钢");
    {
        let db = open(dir.path());
        db.save_columns(&key, &ticks, false).unwrap();
    }
    let (file, _) = damage_first_chunk(&dir.path().join("db/data").join(key.dir_name()));
    let db = open(dir.path());
    // 40,000 rows: built in parallel parts; the part holding block 0 meets the damage.
    let err = db
        .load_tick_data("rb2610", Exchange::SHFE, ALL.0, ALL.1)
        .unwrap_err();
    assert_first_chunk_mismatch(err, &file);
    // A range past the damaged block (the first of 2,048 rows) still loads, on all cores too.
    let rows = db
        .load_tick_data(
            "rb2610",
            Exchange::SHFE,
            ticks.datetime[2_048],
            ticks.datetime[39_999],
        )
        .unwrap();
    assert_eq!(rows.len(), 37_952);
    assert_eq!(rows[0], ticks.row(2_048, &key));
    assert_eq!(rows[37_951], ticks.row(39_999, &key));
}

#[test]
fn a_corrupt_segment_is_a_typed_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let seg_dir = dir.path().join("db/data").join(
        SeriesKey::bar("rb", Exchange::SHFE, MIN)
            .unwrap()
            .dir_name(),
    );
    {
        let db = open(dir.path());
        let rows: Vec<_> = (0..1000)
            .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, i as f64 * 0.5))
            .collect();
        db.save_bar_data(&rows, false).unwrap();
    }
    let (file, bytes) = damage_first_chunk(&seg_dir);
    let db = open(dir.path());
    // The overview comes from the manifest and stays available.
    assert_eq!(db.get_bar_overview().unwrap()[0].count, 1000);
    let err = db
        .load_bar_data("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
        .unwrap_err();
    assert_first_chunk_mismatch(err, &file);
    // A load into a buffer reused from an earlier load fails the same way and leaves it empty,
    // not holding a mix of old and new rows.
    let key = SeriesKey::bar("rb", Exchange::SHFE, MIN).unwrap();
    let mut buf = BarColumns::default();
    buf.resize(2000);
    let err = db
        .load_columns_into(&key, ALL.0, ALL.1, &mut buf)
        .unwrap_err();
    assert!(
        matches!(err, Error::ChecksumMismatch { offset: 24, .. }),
        "{err}"
    );
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.open_price.len(), 0);
    // A write that would merge into the damaged segment fails and changes nothing.
    let err = db
        .save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 9.0)], false)
        .unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(db.get_bar_overview().unwrap()[0].count, 1000);
    // A truncated file is reported against its manifest entry.
    fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let db = {
        drop(db);
        open(dir.path())
    };
    assert!(matches!(
        db.load_bar_data("rb", Exchange::SHFE, MIN, ALL.0, ALL.1),
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn a_torn_manifest_tail_is_dropped_and_mid_log_damage_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        for i in 0..3 {
            db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, i * 60, 1.0)], false)
                .unwrap();
        }
    }
    let manifest = dir.path().join("db/MANIFEST-0000000000000001");
    let good = fs::read(&manifest).unwrap();
    // A torn final record: a frame header promising more bytes than were written.
    let mut torn = good.clone();
    torn.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5]);
    fs::write(&manifest, &torn).unwrap();
    {
        let db = open(dir.path());
        assert_eq!(closes(&db, "rb").len(), 3);
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 600, 1.0)], false)
            .unwrap();
    }
    let db = open(dir.path());
    assert_eq!(closes(&db, "rb").len(), 4);
    drop(db);
    // A flipped byte in an earlier record with valid records after it.
    let mut bytes = fs::read(&manifest).unwrap();
    let at = good.len() - 20;
    bytes[at] ^= 1;
    fs::write(&manifest, &bytes).unwrap();
    let err = Engine::open(dir.path().join("db")).unwrap_err();
    assert!(
        matches!(err, Error::Corruption { ref file, .. } if *file == manifest),
        "{err}"
    );
}

#[test]
fn empty_saves_are_no_ops_and_columns_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.save_bar_data(&[], false).unwrap();
    db.save_tick_data(&[], true).unwrap();
    assert_eq!(db.info().unwrap().segments, 0);
    let mut cols = tickvault::sample::bars(10, 1);
    cols.volume.pop();
    let err = db
        .save_bar_columns("x", Exchange::SSE, MIN, &cols)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(db.get_bar_overview().unwrap().is_empty());
}

#[test]
fn plain_reads_match_memory_maps() {
    let dir = tempfile::tempdir().unwrap();
    let cols = tickvault::sample::bars(5_000, 9);
    open(dir.path())
        .save_bar_columns("x", Exchange::SSE, MIN, &cols)
        .unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .use_mmap(false)
        .open()
        .unwrap();
    assert_eq!(
        db.load_bar_columns("x", Exchange::SSE, MIN, ALL.0, ALL.1)
            .unwrap(),
        cols
    );
}

#[test]
fn loading_into_a_reused_buffer_matches_fresh_loads() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let cols = tickvault::sample::bars(10_000, 11);
    db.save_bar_columns("x", Exchange::SSE, MIN, &cols).unwrap();
    let key = SeriesKey::bar("x", Exchange::SSE, MIN).unwrap();
    let mut buf = BarColumns::default();
    for (a, b) in [
        (0usize, 9_999usize),
        (100, 200),
        (5_000, 5_000),
        (2_047, 2_048),
        (1_000, 8_500),
    ] {
        db.load_columns_into(&key, cols.datetime[a], cols.datetime[b], &mut buf)
            .unwrap();
        let fresh: BarColumns = db
            .load_columns(&key, cols.datetime[a], cols.datetime[b])
            .unwrap();
        assert_eq!(buf, fresh);
        let mut want = BarColumns::default();
        want.extend_from(&cols, a..b + 1);
        assert_eq!(buf, want, "rows {a}..={b}");
        // Rows are built block by block from the same pieces (partial first and last blocks).
        let rows = db
            .load_bar_data("x", Exchange::SSE, MIN, cols.datetime[a], cols.datetime[b])
            .unwrap();
        assert_eq!(rows, want.to_rows(&key), "rows {a}..={b}");
    }
    db.load_columns_into(
        &key,
        Timestamp::from_secs(1),
        Timestamp::from_secs(0),
        &mut buf,
    )
    .unwrap();
    assert!(buf.is_empty());
}

#[test]
fn a_foreign_directory_is_not_turned_into_a_store() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("thesis.docx"), b"precious").unwrap();
    let err = Engine::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("thesis.docx")),
        "{err}"
    );
    assert!(!dir.path().join("LOCK").exists());
    // An empty directory becomes a store; a missing one too, unless told not to create.
    let err = Engine::builder(dir.path().join("new"))
        .create_if_missing(false)
        .open()
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!dir.path().join("new").exists());
    fs::create_dir(dir.path().join("empty")).unwrap();
    Engine::open(dir.path().join("empty")).unwrap();
    // A store reopens without create_if_missing.
    Engine::builder(dir.path().join("empty"))
        .create_if_missing(false)
        .open()
        .unwrap();
}

#[test]
fn large_row_loads_take_the_parallel_path_and_match_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::builder(&root).block_rows(1000).open().unwrap();
    // More than the 262,144 rows from which a load builds its rows in parallel.
    let cols = tickvault::sample::bars(300_000, 12);
    db.save_bar_columns("x", Exchange::SSE, MIN, &cols).unwrap();
    let key = SeriesKey::bar("x", Exchange::SSE, MIN).unwrap();
    // Everything; a range that starts and ends inside blocks; one under the parallel size.
    for (a, b) in [(0usize, 299_999usize), (1_234, 287_654), (5, 100_000)] {
        let rows = db
            .load_bar_data("x", Exchange::SSE, MIN, cols.datetime[a], cols.datetime[b])
            .unwrap();
        assert_eq!(rows.len(), b - a + 1);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(*r, cols.row(a + i, &key), "row {}", a + i);
        }
    }
    drop(db);
    // A damaged chunk fails the parallel load with the error that names it.
    let (file, _) = damage_first_chunk(&root.join("data").join(key.dir_name()));
    let db = Engine::builder(&root).block_rows(1000).open().unwrap();
    let err = db
        .load_bar_data("x", Exchange::SSE, MIN, ALL.0, ALL.1)
        .unwrap_err();
    assert_first_chunk_mismatch(err, &file);
}

fn bar_cols(secs: &[i64], close: f64) -> BarColumns {
    let mut c = BarColumns::default();
    for &s in secs {
        c.push_row(&bar("st", Exchange::SHFE, MIN, s, close));
    }
    c
}

/// The segment files among `paths`.
fn segment_files(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| p.ends_with(".seg"))
        .cloned()
        .collect()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn staged_saves_commit_once_last_write_wins_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::bar("st", Exchange::SHFE, MIN).unwrap();
    // Existing rows the staged batches overlap.
    db.save_bar_columns("st", Exchange::SHFE, MIN, &bar_cols(&[60, 120, 900], 0.5))
        .unwrap();
    let rows = db
        .save_staged::<BarColumns>(&key, |sink| {
            sink(bar_cols(&[180, 60], 1.0))?;
            // Nothing staged is visible while the import runs.
            assert_eq!(closes(&db, "st"), [(60, 0.5), (120, 0.5), (900, 0.5)]);
            sink(bar_cols(&[240, 180], 2.0))?; // 180 again: the later batch wins
            sink(BarColumns::default())?;
            sink(bar_cols(&[900, 960], 3.0))
        })
        .unwrap();
    assert_eq!(rows, 6);
    assert_eq!(
        closes(&db, "st"),
        [
            (60, 1.0),
            (120, 0.5),
            (180, 2.0),
            (240, 2.0),
            (900, 3.0),
            (960, 3.0)
        ]
    );
    let ov = db.get_bar_overview().unwrap();
    assert_eq!(ov[0].count, 6);
    // Staged segments replaced by later batches are gone; what is left is exactly what the
    // manifest names, and a reopened store agrees.
    let segments: Vec<String> = files_under(&dir.path().join("db"))
        .into_iter()
        .filter(|p| p.ends_with(".seg"))
        .collect();
    assert_eq!(segments.len(), db.info().unwrap().segments);
    drop(db);
    let db = open(dir.path());
    assert_eq!(closes(&db, "st").len(), 6);
    assert!(tickvault::verify(&dir.path().join("db"), true)
        .unwrap()
        .problems
        .is_empty());
}

#[test]
fn a_failed_staged_save_leaves_the_store_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let key = SeriesKey::bar("st", Exchange::SHFE, MIN).unwrap();
    db.save_bar_columns("st", Exchange::SHFE, MIN, &bar_cols(&[60, 120], 0.5))
        .unwrap();
    let before = files_under(&dir.path().join("db"));
    let err = db
        .save_staged::<BarColumns>(&key, |sink| {
            sink(bar_cols(&[60, 180], 1.0))?;
            sink(bar_cols(&[240], 2.0))?;
            Err(Error::InvalidArgument("line 7: not a number".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("line 7"), "{err}");
    assert_eq!(closes(&db, "st"), [(60, 0.5), (120, 0.5)]);
    // The manifest log is the only file that may have changed: no segment was added or lost.
    assert_eq!(
        segment_files(&files_under(&dir.path().join("db"))),
        segment_files(&before)
    );
    // Wrong kind.
    let ticks = SeriesKey::tick("st", Exchange::SHFE).unwrap();
    assert!(matches!(
        db.save_staged::<BarColumns>(&ticks, |_| Ok(())),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_staged_save_of_many_series_commits_once_and_counts_what_it_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let a = SeriesKey::bar("a", Exchange::SHFE, MIN).unwrap();
    let b = SeriesKey::bar("b", Exchange::SHFE, MIN).unwrap();
    db.save_bar_columns("a", Exchange::SHFE, MIN, &bar_cols(&[60, 120, 900], 0.5))
        .unwrap();
    let report = db
        .save_staged_many::<BarColumns>(|sink| {
            sink(&a, bar_cols(&[180, 60], 1.0))?; // 60 replaces a stored row
            sink(&b, bar_cols(&[60, 120, 60], 1.5))?; // 60 twice in one batch
            assert_eq!(db.get_bar_overview().unwrap().len(), 1);
            sink(&a, bar_cols(&[240, 180, 120], 2.0))?; // 180 again, 120 stored
            sink(&a, bar_cols(&[900, 960, 60], 3.0))?; // 900 stored, 60 again
            let so_far = sink(&b, bar_cols(&[120], 4.0))?; // 120 again
            assert_eq!(so_far.repeated_across, 1);
            Ok(())
        })
        .unwrap();
    let expect_a = tickvault::StagedSeries {
        rows: 8,
        repeated_in_batch: 0,
        repeated_across: 2,
        replaced: 3,
    };
    let expect_b = tickvault::StagedSeries {
        rows: 4,
        repeated_in_batch: 1,
        repeated_across: 1,
        replaced: 0,
    };
    assert_eq!(report, vec![(a.clone(), expect_a), (b.clone(), expect_b)]);
    assert_eq!(
        closes(&db, "a"),
        [
            (60, 3.0),
            (120, 2.0),
            (180, 2.0),
            (240, 2.0),
            (900, 3.0),
            (960, 3.0)
        ]
    );
    assert_eq!(closes(&db, "b"), [(60, 1.5), (120, 4.0)]);
    let mut ov = db.get_bar_overview().unwrap();
    sort_overview(&mut ov);
    let counts: Vec<u64> = ov.iter().map(|o| o.count).collect();
    assert_eq!(counts, [6, 2]);

    // A failure part-way leaves both series as they were, and creates none.
    let c = SeriesKey::bar("c", Exchange::SHFE, MIN).unwrap();
    let before = files_under(&dir.path().join("db"));
    let err = db
        .save_staged_many::<BarColumns>(|sink| {
            sink(&a, bar_cols(&[60, 5000], 9.0))?;
            sink(&c, bar_cols(&[60], 9.0))?;
            sink(&b, bar_cols(&[60], 9.0))?;
            Err(Error::InvalidArgument("row 9: bad".into()))
        })
        .unwrap_err();
    assert!(err.to_string().contains("row 9"), "{err}");
    assert_eq!(closes(&db, "a").len(), 6);
    assert_eq!(closes(&db, "b"), [(60, 1.5), (120, 4.0)]);
    assert_eq!(db.get_bar_overview().unwrap().len(), 2);
    assert_eq!(
        segment_files(&files_under(&dir.path().join("db"))),
        segment_files(&before)
    );
    // A tick key among bar columns is refused.
    let t = SeriesKey::tick("a", Exchange::SHFE).unwrap();
    assert!(matches!(
        db.save_staged_many::<BarColumns>(|sink| sink(&t, bar_cols(&[60], 1.0)).map(|_| ())),
        Err(Error::InvalidArgument(_))
    ));
    drop(db);
    let report = tickvault::verify(&dir.path().join("db"), true).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.orphans.is_empty(), "{:?}", report.orphans);
}

/// Statistics computed row by row from a loaded range: the reference for `range_stats`.
fn stats_by_rows(c: &BarColumns) -> (u64, Option<i64>, Option<i64>, [f64; 7]) {
    let n = c.datetime.len();
    if n == 0 {
        return (0, None, None, [0.0; 7]);
    }
    (
        n as u64,
        Some(c.datetime[0].as_ns()),
        Some(c.datetime[n - 1].as_ns()),
        [
            c.open_price[0],
            c.high_price
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
            c.low_price.iter().copied().fold(f64::INFINITY, f64::min),
            c.close_price[n - 1],
            c.volume.iter().sum(),
            c.turnover.iter().sum(),
            c.close_price.iter().sum(),
        ],
    )
}

#[test]
fn range_stats_from_block_statistics_equal_stats_of_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .block_rows(64)
        .segment_rows_max(1000)
        .open()
        .unwrap();
    // 3,000 bars in 3 segments of 16 blocks; values are halves, so sums are exact in any order;
    // one high is NaN (ignored by the maximum, as row by row).
    let mut c = BarColumns::default();
    for i in 0..3_000i64 {
        let mut b = bar("st", Exchange::SHFE, MIN, 60 * i, (i % 97) as f64 * 0.5);
        b.open_price = (i % 13) as f64;
        b.high_price = if i == 700 {
            f64::NAN
        } else {
            100.0 + (i % 89) as f64
        };
        b.low_price = -((i % 71) as f64);
        b.volume = (i % 7) as f64 * 0.5;
        b.turnover = (i % 5) as f64 * 2.5;
        c.push_row(&b);
    }
    db.save_bar_columns("st", Exchange::SHFE, MIN, &c).unwrap();
    assert_eq!(db.info().unwrap().segments, 3);
    let key = SeriesKey::bar("st", Exchange::SHFE, MIN).unwrap();
    let check = |lo: i64, hi: i64| {
        let (s, e) = (Timestamp::from_secs(lo), Timestamp::from_secs(hi));
        let got = db.range_stats::<BarColumns>(&key, s, e).unwrap();
        let rows: BarColumns = db.load_columns(&key, s, e).unwrap();
        let (count, first, last, v) = stats_by_rows(&rows);
        assert_eq!(got.count, count, "[{lo}, {hi}]");
        assert_eq!(got.first.map(|t| t.as_ns()), first);
        assert_eq!(got.last.map(|t| t.as_ns()), last);
        if count > 0 {
            let g = [
                got.open,
                got.high,
                got.low,
                got.close,
                got.volume,
                got.turnover,
                got.close_sum,
            ];
            assert_eq!(g, v, "[{lo}, {hi}]");
        }
        got
    };
    // Everything: every block whole.
    let all = check(i64::MIN / 2_000_000_000, i64::MAX / 2_000_000_000);
    assert_eq!((all.blocks_from_stats, all.blocks_cut), (48, 0));
    assert_eq!(all.high, 188.0);
    assert_eq!(all.low, -70.0);
    // Ranges that cut blocks at either end, inside one block, across segments, and none.
    let cut = check(60 * 10, 60 * 2_500);
    assert_eq!(cut.blocks_cut, 2);
    assert_eq!(cut.count, 2_491);
    for (lo, hi) in [
        (60 * 64, 60 * 127),
        (60 * 65, 60 * 66),
        (60 * 999, 60 * 1_000),
        (-500, -1),
        (60 * 700, 60 * 700),
    ] {
        check(lo, hi);
    }
    // Unflushed rows replace stored ones: the statistics see them.
    let mut b = bar("st", Exchange::SHFE, MIN, 60 * 5, 1_000.0);
    b.high_price = 5_000.0;
    db.save_bar_data(&[b], true).unwrap();
    let got = db
        .range_stats::<BarColumns>(&key, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!((got.count, got.high), (3_000, 5_000.0));
    assert_eq!(got.close_sum, all.close_sum - 2.5 + 1_000.0);
    // Ticks: last_price for the prices, last_volume summed.
    let mut ticks = TickColumns::default();
    for (i, p) in [3.0, 1.0, 4.0, 1.5].iter().enumerate() {
        let mut t = tick("tk", Exchange::SHFE, i as i64 + 1, *p);
        t.last_volume = 2.0;
        ticks.push_row(&t);
    }
    db.save_tick_columns("tk", Exchange::SHFE, &ticks).unwrap();
    let tk = SeriesKey::tick("tk", Exchange::SHFE).unwrap();
    let got = db
        .range_stats::<TickColumns>(&tk, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(
        (
            got.count,
            got.open,
            got.high,
            got.low,
            got.close,
            got.volume,
            got.turnover
        ),
        (4, 3.0, 4.0, 1.0, 1.5, 8.0, 0.0)
    );
    assert_eq!(got.mean_close(), Some(2.375));
}
