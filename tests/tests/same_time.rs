//! Stores that keep every tick sharing a timestamp (CZCE stamps whole seconds), in arrival order.

use tickvault::{Database, Engine, Error, Exchange, Interval, TickData, Timestamp};
use tickvault_tests::{bar, tick};

const ALL: (Timestamp, Timestamp) = (Timestamp::MIN, Timestamp::MAX);

fn t(secs: i64, price: f64) -> TickData {
    tick("SR609", Exchange::CZCE, secs, price)
}

fn prices(db: &Engine) -> Vec<(i64, f64)> {
    db.load_tick_data("SR609", Exchange::CZCE, ALL.0, ALL.1)
        .unwrap()
        .iter()
        .map(|t| (t.datetime.as_ns() / 1_000_000_000, t.last_price))
        .collect()
}

fn count(db: &Engine) -> u64 {
    db.get_tick_overview()
        .unwrap()
        .iter()
        .map(|o| o.count)
        .sum()
}

#[test]
fn every_tick_of_a_second_is_kept_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let open = |keep: Option<bool>| {
        let b = Engine::builder(&root).block_rows(4).segment_rows_max(8);
        match keep {
            Some(k) => b.keep_same_time_ticks(k).open(),
            None => b.open(),
        }
    };
    let db = open(Some(true)).unwrap();
    assert!(db.keeps_same_time_ticks());
    db.save_tick_data(&[t(1, 1.0), t(2, 3.0), t(1, 2.0)], false)
        .unwrap();
    assert_eq!(prices(&db), [(1, 1.0), (1, 2.0), (2, 3.0)]);
    // Stream saves, one of them for an earlier second: after the stored rows of that second.
    db.save_tick_data(&[t(2, 4.0)], true).unwrap();
    db.save_tick_data(&[t(1, 5.0)], true).unwrap();
    let expected = [(1, 1.0), (1, 2.0), (1, 5.0), (2, 3.0), (2, 4.0)];
    assert_eq!(prices(&db), expected);
    assert_eq!(count(&db), 5);
    // A crash: the stream rows come back from the WAL in the same order.
    db.abandon();
    let db = open(None).unwrap();
    assert_eq!(prices(&db), expected);
    // A bulk save merges into the stored second and keeps everything.
    db.save_tick_data(&[t(2, 6.0)], false).unwrap();
    // Twelve ticks in one second: more than a block and a segment hold; never split.
    let burst: Vec<_> = (0..12).map(|i| t(3, 10.0 + i as f64)).collect();
    db.save_tick_data(&burst, true).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    let mut all = expected.to_vec();
    all.push((2, 6.0));
    all.extend((0..12).map(|i| (3, 10.0 + i as f64)));
    assert_eq!(prices(&db), all);
    assert_eq!(count(&db), 18);
    // Bars of the same store still replace on the same time.
    db.save_bar_data(
        &[bar("SR609", Exchange::CZCE, Interval::Minute, 60, 1.0)],
        false,
    )
    .unwrap();
    db.save_bar_data(
        &[bar("SR609", Exchange::CZCE, Interval::Minute, 60, 2.0)],
        false,
    )
    .unwrap();
    assert_eq!(db.get_bar_overview().unwrap()[0].count, 1);
    drop(db);
    // The choice is the store's: asking for the other one fails, reopening without asking keeps it.
    assert!(matches!(open(Some(false)), Err(Error::InvalidArgument(_))));
    let db = open(None).unwrap();
    assert!(db.keeps_same_time_ticks());
    assert_eq!(prices(&db), all);
    let ro = Engine::open_read_only(&root).unwrap();
    assert_eq!(prices(&ro), all);
}

#[test]
fn the_default_keeps_the_last_tick_of_a_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    assert!(!db.keeps_same_time_ticks());
    db.save_tick_data(&[t(1, 1.0), t(1, 2.0)], false).unwrap();
    db.save_tick_data(&[t(1, 3.0)], true).unwrap();
    assert_eq!(prices(&db), [(1, 3.0)]);
    assert_eq!(count(&db), 1);
}
