//! Model test: random sequences of save (bulk, mixed, duplicate keys, overlapping ranges),
//! delete, load, overview and reopen, checked against a `BTreeMap` reference.

use std::sync::Arc;

use proptest::prelude::*;
use tickvault::{Database, Engine, Exchange, Interval, SeriesKey, Timestamp};
use tickvault_tests::simfs::SimFs;
use tickvault_tests::{bar, sort_overview, Model, ModelKey};

const SYMBOLS: [&str; 3] = ["rb2610", "RB2610", "../x"];
const INTERVALS: [Interval; 2] = [Interval::Minute, Interval::Daily];

#[derive(Debug, Clone)]
enum Op {
    Save(Vec<(usize, usize, i64, f64)>, bool),
    Delete(usize, usize),
    DeleteRange(usize, usize, i64, i64),
    Load(usize, usize, i64, i64),
    Flush,
    Compact,
    Reopen,
    /// Drop the handle without flushing, as a killed process: stream saves come back from the WAL.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let row = (
        0..SYMBOLS.len(),
        0..INTERVALS.len(),
        -50i64..250,
        -1000i64..1000,
    );
    prop_oneof![
        4 => (prop::collection::vec(row, 0..60), any::<bool>())
            .prop_map(|(rows, stream)| Op::Save(rows.into_iter().map(|(s, i, t, p)| (s, i, t, p as f64 * 0.2)).collect(), stream)),
        1 => (0..SYMBOLS.len(), 0..INTERVALS.len()).prop_map(|(s, i)| Op::Delete(s, i)),
        1 => (0..SYMBOLS.len(), 0..INTERVALS.len(), -60i64..260, 0i64..80).prop_map(|(s, i, a, n)| Op::DeleteRange(s, i, a, a + n)),
        2 => (0..SYMBOLS.len(), 0..INTERVALS.len(), -60i64..260, -60i64..260).prop_map(|(s, i, a, b)| Op::Load(s, i, a, b)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn key(s: usize, i: usize) -> ModelKey {
    (SYMBOLS[s].to_string(), Exchange::SHFE, INTERVALS[i])
}

fn open(fs: &SimFs) -> Engine {
    // Tiny blocks and segments so that merges cut and split them often; an in-memory disk
    // (SimFs) so that a crash is a real power cut: only what was synced survives.
    Engine::builder("/sim/db")
        .storage(Arc::new(fs.clone()))
        .block_rows(4)
        .segment_rows_max(16)
        .open()
        .expect("open")
}

fn check_all(db: &Engine, model: &Model) -> Result<(), TestCaseError> {
    let mut ov = db
        .get_bar_overview()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    sort_overview(&mut ov);
    prop_assert_eq!(ov, model.overview());
    for s in 0..SYMBOLS.len() {
        for i in 0..INTERVALS.len() {
            let k = key(s, i);
            let got = db
                .load_bar_data(&k.0, k.1, k.2, Timestamp::MIN, Timestamp::MAX)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got, model.load(&k, Timestamp::MIN, Timestamp::MAX));
        }
    }
    Ok(())
}

proptest! {
    // 256 cases of up to 200 operations in the normal run; PROPTEST_CASES for a longer one.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_the_reference_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut fs = SimFs::new();
        let mut db = open(&fs);
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Save(rows, stream) => {
                    let bars: Vec<_> = rows.iter().map(|&(s, i, t, p)| bar(SYMBOLS[s], Exchange::SHFE, INTERVALS[i], t * 60, p)).collect();
                    db.save_bar_data(&bars, stream).unwrap();
                    model.save(&bars);
                }
                Op::Delete(s, i) => {
                    let k = key(s, i);
                    let n = db.delete_bar_data(&k.0, k.1, k.2).unwrap();
                    prop_assert_eq!(n, model.delete(&k));
                }
                Op::DeleteRange(s, i, a, b) => {
                    let k = key(s, i);
                    let (start, end) = (Timestamp::from_secs(a * 60), Timestamp::from_secs(b * 60));
                    let series = SeriesKey::bar(&k.0, k.1, k.2).unwrap();
                    let n = db.delete_range(&series, start, end).unwrap();
                    let mut removed = 0;
                    if let Some(rows) = model.series.get_mut(&k) {
                        let before = rows.len();
                        rows.retain(|t, _| *t < start || *t > end);
                        removed = (before - rows.len()) as u64;
                    }
                    prop_assert_eq!(n, removed);
                }
                Op::Load(s, i, a, b) => {
                    let k = key(s, i);
                    let (start, end) = (Timestamp::from_secs(a * 60), Timestamp::from_secs(b * 60));
                    let got = db.load_bar_data(&k.0, k.1, k.2, start, end).unwrap();
                    prop_assert_eq!(got, model.load(&k, start, end));
                }
                Op::Flush => {
                    db.flush().unwrap();
                    prop_assert_eq!(db.info().unwrap().memtable_rows, 0);
                }
                Op::Compact => {
                    db.compact().unwrap();
                }
                Op::Reopen => {
                    drop(db);
                    db = open(&fs);
                }
                Op::Crash => {
                    // A power cut: every acknowledged row must survive it.
                    let image = fs.crash_image();
                    db.abandon();
                    fs = image;
                    db = open(&fs);
                }
            }
            check_all(&db, &model)?;
        }
        drop(db);
        // A read-only open sees the same state.
        let ro = Engine::builder("/sim/db").storage(Arc::new(fs.clone())).read_only(true).open().unwrap();
        check_all(&ro, &model)?;
    }
}
