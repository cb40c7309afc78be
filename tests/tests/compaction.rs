//! Compaction merges small segments without changing what any reader sees.

use tickvault::{BarColumns, Columns, Database, Engine, Exchange, Interval, Timestamp};
use tickvault_tests::bar;

const MIN: Interval = Interval::Minute;
const ALL: (Timestamp, Timestamp) = (Timestamp::MIN, Timestamp::MAX);

#[test]
fn compaction_merges_small_segments_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::builder(&root)
        .segment_rows_max(1000)
        .open()
        .unwrap();
    // 20 small appends: 20 segments of 30 rows.
    for day in 0..20 {
        let rows: Vec<_> = (0..30)
            .map(|i| {
                bar(
                    "rb",
                    Exchange::SHFE,
                    MIN,
                    (day * 30 + i) * 60,
                    (day * 30 + i) as f64,
                )
            })
            .collect();
        db.save_bar_data(&rows, false).unwrap();
    }
    db.save_bar_data(&[bar("cu", Exchange::SHFE, MIN, 0, 1.0)], false)
        .unwrap();
    assert_eq!(db.info().unwrap().segments, 21);
    let before: BarColumns = db
        .load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
        .unwrap();
    // A reader that opened the old segments before the compaction.
    let reader = Engine::open_read_only(&root).unwrap();
    assert_eq!(
        reader
            .load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
            .unwrap(),
        before
    );

    let stats = db.compact().unwrap();
    // Twenty segments below the small size (250 rows) whose 600 rows fit under the cap: one run.
    assert_eq!(
        stats,
        tickvault::CompactStats {
            segments_in: 20,
            segments_out: 1,
            rows: 600
        }
    );
    assert_eq!(db.info().unwrap().segments, 2);
    assert_eq!(
        db.load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
            .unwrap(),
        before
    );
    assert_eq!(
        reader
            .load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
            .unwrap(),
        before
    );
    let ov = db.get_bar_overview().unwrap();
    assert_eq!(ov.iter().map(|o| o.count).sum::<u64>(), 601);
    // Nothing left to merge.
    assert_eq!(db.compact().unwrap().segments_in, 0);
    drop(db);
    let db = Engine::open(&root).unwrap();
    assert_eq!(
        db.load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
            .unwrap()
            .len(),
        before.len()
    );
    assert_eq!(std::fs::read_dir(root.join("data")).unwrap().count(), 2);
}

#[test]
fn flushes_compact_partitions_with_many_small_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .segment_rows_max(4000)
        .open()
        .unwrap();
    for i in 0..40 {
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, i * 60, 1.0)], true)
            .unwrap();
        db.flush().unwrap();
    }
    let info = db.info().unwrap();
    assert_eq!(info.bar_rows, 40);
    assert!(
        info.segments < 8,
        "{} segments after 40 flushes",
        info.segments
    );
    let cols = db
        .load_bar_columns("rb", Exchange::SHFE, MIN, ALL.0, ALL.1)
        .unwrap();
    assert_eq!(cols.len(), 40);
    assert!(cols.datetime.windows(2).all(|w| w[0] < w[1]));
}
