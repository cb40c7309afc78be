//! I/O-error sweep: the scenario of every write path runs once per file operation with that one
//! operation failing (disk full, or an I/O error), the disk working again afterwards. Each time:
//! the failing call returns a clear error (never a panic), the store stays readable with the
//! state of the acknowledged operations (plus, possibly, the failed one), writing resumes (after a
//! reopen when the failure poisoned the handle), and a reopen shows the same state.

use std::io::ErrorKind;
use std::sync::Arc;

use tickvault::{Engine, Error};
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

fn one_of(got: &Model, candidates: &[Model]) -> bool {
    candidates.iter().any(|c| same(got, c))
}

#[test]
fn every_failing_operation_leaves_a_readable_consistent_store() {
    let ops = {
        let fs = SimFs::new();
        let db = open(&fs).unwrap();
        for op in scenario() {
            run(&db, &op).unwrap();
        }
        drop(db);
        fs.ops()
    };
    let mut points = 0;
    for kind in [ErrorKind::StorageFull, ErrorKind::Other] {
        for k in 1..=ops {
            let fs = SimFs::new();
            fs.fail_once_at(k, kind);
            // A failure while creating the store: opening again works once the disk does.
            let mut db = match open(&fs) {
                Ok(db) => db,
                Err(e) => {
                    assert!(
                        matches!(e, Error::Io { .. } | Error::Poisoned),
                        "{kind:?} at {k}: {e}"
                    );
                    open(&fs).unwrap_or_else(|e| panic!("{kind:?} at {k}: reopen failed: {e}"))
                }
            };
            let mut candidates = vec![Model::default()];
            for op in scenario() {
                let mut next: Vec<Model> = candidates.clone();
                next.iter_mut().for_each(|m| apply(m, &op));
                match run(&db, &op) {
                    Ok(()) => candidates = next,
                    Err(e) => {
                        assert!(
                            matches!(e, Error::Io { .. } | Error::Poisoned),
                            "{kind:?} at {k}: {e}"
                        );
                        candidates.extend(next);
                        // Readable right away, in one of the allowed states.
                        assert!(
                            one_of(&state(&db), &candidates),
                            "{kind:?} at {k}: unreadable or wrong after {e}"
                        );
                        if matches!(
                            run(&db, &tickvault_tests::scenario::Op::Flush),
                            Err(Error::Poisoned)
                        ) {
                            // A failed sync or manifest write: refuse writes until reopened.
                            db.abandon();
                            db = open(&fs)
                                .unwrap_or_else(|e| panic!("{kind:?} at {k}: reopen failed: {e}"));
                        }
                    }
                }
            }
            let got = state(&db);
            assert!(one_of(&got, &candidates), "{kind:?} at {k}: final state");
            drop(db);
            let again = open(&fs).unwrap();
            assert!(
                same(&state(&again), &got),
                "{kind:?} at {k}: a reopen changed the state"
            );
            points += 1;
        }
    }
    eprintln!("I/O error points: {points}");
    assert!(points > 200);
}
