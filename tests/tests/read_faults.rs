//! Faulty reads: the scenario of every write path leaves a store on `SimFs`; then every read that
//! opening it and loading every series makes is, in turn, made to return wrong bytes (one flipped
//! bit, or a 4 KiB block read from the wrong place). Each time the open and the loads give
//! exactly the stored rows or a typed error, never a wrong value or a panic; and a writer that
//! opened through a faulty read leaves the disk such that a clean reopen still holds every row.

use std::sync::Arc;

use tickvault::{Database, Engine, Timestamp};
use tickvault_tests::scenario::{apply, run, same, scenario};
use tickvault_tests::simfs::{ReadFault, SimFs};
use tickvault_tests::Model;

const ROOT: &str = "/sim/db";

/// Seeded faults of each kind per read.
const SEEDS: u64 = 150;

fn open(fs: &SimFs, read_only: bool) -> tickvault::Result<Engine> {
    Engine::builder(ROOT)
        .storage(Arc::new(fs.clone()))
        .segment_rows_max(64)
        .block_rows(8)
        .read_only(read_only)
        .open()
}

/// Every row of every bar series, through the overview and range loads.
fn rows(db: &Engine) -> tickvault::Result<Model> {
    let mut m = Model::default();
    for o in db.get_bar_overview()? {
        let bars = db.load_bar_data(
            &o.symbol,
            o.exchange,
            o.interval,
            Timestamp::MIN,
            Timestamp::MAX,
        )?;
        if bars.len() as u64 != o.count {
            return Err(tickvault::Error::InvalidArgument(format!(
                "{}: {} rows, the overview says {}",
                o.symbol,
                bars.len(),
                o.count
            )));
        }
        m.save(&bars);
    }
    Ok(m)
}

/// The store the scenario leaves: closed (everything flushed) or abandoned (stream saves in the
/// WAL), and the rows it holds.
fn build(close: bool) -> (SimFs, Model) {
    let fs = SimFs::new();
    let db = open(&fs, false).unwrap();
    let mut model = Model::default();
    for op in scenario() {
        run(&db, &op).unwrap();
        apply(&mut model, &op);
    }
    if close {
        drop(db);
    } else {
        db.abandon();
    }
    (fs, model)
}

/// Runs `attempt` once per read it makes, with that read faulty in each way; returns (exact,
/// errors).
fn sweep(fs: &SimFs, expected: &Model, read_only: bool) -> (u64, u64) {
    let attempt = || open(fs, read_only).and_then(|db| rows(&db));
    let before = fs.reads();
    assert!(same(&attempt().unwrap(), expected));
    let reads = fs.reads() - before;
    assert!(reads >= 4, "only {reads} reads");
    let (mut exact, mut errors) = (0, 0);
    for k in 1..=reads {
        // Many seeds per read: the spoiled byte or block lands all over each file.
        let faults = (0..SEEDS).flat_map(|seed| {
            let seed = seed * 1_000 + k;
            [ReadFault::Flip(seed), ReadFault::Misdirect(seed)]
        });
        for fault in faults {
            fs.fault_read_at(k, fault);
            match attempt() {
                Ok(got) => {
                    assert!(
                        same(&got, expected),
                        "{fault:?} at read {k}: wrong rows, and no error"
                    );
                    exact += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    errors += 1;
                }
            }
            // Whatever a writer did after the faulty read, the disk still holds every row.
            let clean = open(fs, read_only).and_then(|db| rows(&db)).unwrap();
            assert!(
                same(&clean, expected),
                "{fault:?} at read {k}: a clean reopen lost rows"
            );
        }
    }
    eprintln!(
        "{} open: {reads} reads, each flipped and misdirected {SEEDS} ways: {exact} exact, {errors} typed errors",
        if read_only { "read-only" } else { "writer" }
    );
    (exact, errors)
}

#[test]
fn every_faulty_read_gives_the_stored_rows_or_a_typed_error() {
    let (fs, expected) = build(true);
    let (_, ro_errors) = sweep(&fs, &expected, true);
    let (_, w_errors) = sweep(&fs, &expected, false);
    // Checksums catch most spoiled reads (a flip in an unused byte, say a footer's padding, may
    // pass unnoticed and harmless).
    assert!(ro_errors > 0 && w_errors > 0);
}

#[test]
fn a_faulty_read_during_wal_recovery_loses_no_acknowledged_row() {
    let (fs, expected) = build(false);
    let (_, errors) = sweep(&fs, &expected, false);
    assert!(errors > 0);
}
