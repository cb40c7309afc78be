//! Crash-point enumeration: a scenario of every write path (bulk save, merge-on-write, stream
//! append with group commit, flush, delete, compaction, close) runs once on `SimFs` to count its
//! file operations, then again crashing at each one. The disk after each crash keeps only what
//! was synced; the store must open on it with every acknowledged row present and nothing half
//! visible: the state is that of the operations acknowledged, or that plus the one in flight.
//! Each crash is tried twice: dropping every unsynced write, and keeping half of the unsynced
//! bytes appended to a file (a torn write). Each recovery is itself crashed at each of its
//! operations and reopened.

use std::path::Path;
use std::sync::Arc;

use tickvault::Engine;
use tickvault_tests::scenario::{apply, run, same, scenario, state};
use tickvault_tests::simfs::SimFs;
use tickvault_tests::Model;
const ROOT: &str = "/sim/db";

fn open(fs: &SimFs) -> tickvault::Result<Engine> {
    Engine::builder(ROOT)
        .storage(Arc::new(fs.clone()))
        .segment_rows_max(64)
        .block_rows(8)
        .open()
}

/// Runs the scenario, crashing at operation `crash_at` if given; returns the disk, the model of
/// the acknowledged operations and the model with the operation in flight.
fn execute(crash_at: Option<u64>) -> (SimFs, Model, Model) {
    let fs = SimFs::new();
    if let Some(k) = crash_at {
        fs.crash_at(k);
    }
    let mut acked = Model::default();
    let Ok(db) = open(&fs) else {
        return (fs, acked.clone(), acked);
    };
    for op in scenario() {
        let mut next = acked.clone();
        apply(&mut next, &op);
        if run(&db, &op).is_err() {
            db.abandon();
            return (fs, acked, next);
        }
        acked = next;
    }
    let after_close = acked.clone();
    drop(db); // flushes on close
    (fs, acked, after_close)
}

fn check(image: &SimFs, acked: &Model, inflight: &Model, what: &str) {
    let db = open(image).unwrap_or_else(|e| panic!("{what}: the store does not open: {e}"));
    let got = state(&db);
    assert!(
        same(&got, acked) || same(&got, inflight),
        "{what}: the state is neither the acknowledged one nor that plus the operation in flight"
    );
    db.abandon();
}

#[test]
fn every_crash_point_recovers_to_an_acknowledged_state() {
    let (_, full, _) = execute(None);
    let ops = {
        let fs = SimFs::new();
        let db = open(&fs).unwrap();
        for op in scenario() {
            run(&db, &op).unwrap();
        }
        drop(db);
        fs.ops()
    };
    assert!(ops > 100, "the scenario made only {ops} file operations");
    assert_eq!(full.series.len(), 2, "rb and ag remain");
    let mut recovery_points = 0;
    for k in 1..=ops {
        let (fs, acked, inflight) = execute(Some(k));
        let image = fs.crash_image();
        check(
            &image,
            &acked,
            &inflight,
            &format!("crash at operation {k}"),
        );
        // Crash the recovery of this image at each of its own operations (depth 1).
        let recovery_ops = {
            let probe = image.crash_image();
            let db = open(&probe).unwrap();
            let n = probe.ops();
            db.abandon();
            n
        };
        for j in 1..=recovery_ops {
            let again = image.crash_image();
            again.crash_at(j);
            if let Ok(db) = open(&again) {
                db.abandon();
            }
            check(
                &again.crash_image(),
                &acked,
                &inflight,
                &format!("crash at operation {k}, then at recovery operation {j}"),
            );
            recovery_points += 1;
        }
    }
    eprintln!("crash points: {ops} in the scenario, {recovery_points} in recoveries");
    assert!(recovery_points > 0);
    let _ = Path::new(ROOT);
}
