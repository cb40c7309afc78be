//! Crash-point enumeration: a scenario of every write path (bulk save, merge-on-write, stream
//! append with group commit, flush, delete, compaction, close) runs once on `SimFs` to count its
//! file operations, then again crashing at each one. The disk after each crash keeps only what
//! was synced; the store must open on it with every acknowledged row present and nothing half
//! visible: the state is that of the operations acknowledged, or that plus the one in flight.
//! Each crash is tried twice: dropping every unsynced write, and keeping half of the unsynced
//! bytes appended to a file (a torn write). Each recovery is itself crashed at each of its
//! operations and reopened; every recovered store must also `verify --deep` clean, with no file
//! left that no manifest names. Then each crash is tried on `TICKVAULT_CRASH_SEEDS` (default 2) more
//! disks of 512-byte and 4 KiB sectors that kept a seeded choice of the unsynced sectors, a torn
//! sector, or zeros where the size reached the disk and the data did not. A long run:
//! `TICKVAULT_CRASH_SEEDS=150 cargo test --release -p tickvault-tests --test crash_points`.

use std::sync::Arc;

use tickvault::Engine;
use tickvault_tests::scenario::{apply, recorder_scenario, run, same, scenario, state, Op};
use tickvault_tests::simfs::SimFs;
use tickvault_tests::Model;
const ROOT: &str = "/sim/db";

/// A scenario and the store options it runs with.
struct Case {
    name: &'static str,
    ops: fn() -> Vec<Op>,
    memtable_bytes_max: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "every write path",
        ops: scenario,
        memtable_bytes_max: 64 << 20,
    },
    // About five rows per memtable: flushes by size, and automatic compaction after them.
    Case {
        name: "recorder",
        ops: recorder_scenario,
        memtable_bytes_max: 5 * 60,
    },
];

fn open(fs: &SimFs, case: &Case) -> tickvault::Result<Engine> {
    Engine::builder(ROOT)
        .storage(Arc::new(fs.clone()))
        .segment_rows_max(64)
        .block_rows(8)
        .memtable_bytes_max(case.memtable_bytes_max)
        .open()
}

/// Runs the scenario, crashing at operation `crash_at` if given; returns the disk, the model of
/// the acknowledged operations and the model with the operation in flight.
fn execute(case: &Case, crash_at: Option<u64>) -> (SimFs, Model, Model) {
    let fs = SimFs::new();
    if let Some(k) = crash_at {
        fs.crash_at(k);
    }
    let mut acked = Model::default();
    let Ok(db) = open(&fs, case) else {
        return (fs, acked.clone(), acked);
    };
    for op in (case.ops)() {
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

fn check(case: &Case, image: &SimFs, acked: &Model, inflight: &Model, what: &str) {
    let what = format!("{}: {what}", case.name);
    let db = open(image, case).unwrap_or_else(|e| panic!("{what}: the store does not open: {e}"));
    let got = state(&db);
    assert!(
        same(&got, acked) || same(&got, inflight),
        "{what}: the state is neither the acknowledged one nor that plus the operation in flight"
    );
    // After recovery `verify --deep` is clean, and no file is left that no manifest names.
    let report = tickvault::verify_on(
        Arc::new(image.clone()),
        std::path::Path::new(ROOT),
        true,
        &|_| {},
    )
    .unwrap_or_else(|e| panic!("{what}: verify fails: {e}"));
    assert!(report.problems.is_empty(), "{what}: {:?}", report.problems);
    assert!(
        report.orphans.is_empty(),
        "{what}: orphans {:?}",
        report.orphans
    );
    db.abandon();
}

/// Seeded sector-torn images per crash point.
fn crash_seeds() -> u64 {
    std::env::var("TICKVAULT_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

#[test]
fn every_crash_point_recovers_to_an_acknowledged_state() {
    let seeds = crash_seeds();
    let mut states = 0;
    for case in &CASES {
        let ops = {
            let fs = SimFs::new();
            let db = open(&fs, case).unwrap();
            for op in (case.ops)() {
                run(&db, &op).unwrap();
            }
            drop(db);
            fs.ops()
        };
        assert!(
            ops > 100,
            "{}: the scenario made only {ops} file operations",
            case.name
        );
        let mut recovery_points = 0;
        for k in 1..=ops {
            let (fs, acked, inflight) = execute(case, Some(k));
            for seed in 0..seeds {
                let sector = if seed % 2 == 0 { 512 } else { 4096 };
                let image = fs.torn_image_seeded(seed.wrapping_mul(0x9e37_79b9) ^ k, sector);
                let what = format!("crash at operation {k}, {sector}-byte sectors, seed {seed}");
                check(case, &image, &acked, &inflight, &what);
            }
            let what = format!("crash at operation {k}, every directory change on disk");
            check(
                case,
                &fs.crash_image_with_live_dirs(),
                &acked,
                &inflight,
                &what,
            );
            for (model, image) in [("clean", fs.crash_image()), ("torn", fs.torn_image())] {
                check(
                    case,
                    &image,
                    &acked,
                    &inflight,
                    &format!("{model} crash at operation {k}"),
                );
                // Crash the recovery of this image at each of its own operations (depth 1).
                let recovery_ops = {
                    let probe = image.crash_image();
                    let db = open(&probe, case).unwrap();
                    let n = probe.ops();
                    db.abandon();
                    n
                };
                for j in 1..=recovery_ops {
                    let again = image.crash_image();
                    again.crash_at(j);
                    if let Ok(db) = open(&again, case) {
                        db.abandon();
                    }
                    let what =
                        format!("{model} crash at operation {k}, then at recovery operation {j}");
                    check(case, &again.crash_image(), &acked, &inflight, &what);
                    recovery_points += 1;
                }
            }
        }
        eprintln!(
            "{}: {ops} crash points, each clean, torn, with every directory change on disk and \
             on {seeds} seeded sector-torn disks; {recovery_points} in recoveries",
            case.name
        );
        states += (3 + seeds) * ops + recovery_points;
    }
    eprintln!("crash states checked: {states}");
    assert!(states > 5_000, "{states}");
}

#[test]
fn seeded_tears_keep_whole_sectors_a_torn_sector_or_zeros() {
    use tickvault::io::Storage;
    let fs = SimFs::new();
    let dir = std::path::Path::new("/sim");
    fs.create_dir(dir).unwrap();
    fs.sync_dir(std::path::Path::new("/")).unwrap();
    let path = dir.join("log");
    let file = fs.create(&path).unwrap();
    let synced = vec![7u8; 1000];
    file.write_all_at(&synced, 0).unwrap();
    file.sync().unwrap();
    fs.sync_dir(dir).unwrap();
    let unsynced = vec![9u8; 3000]; // bytes 1000..4000: sector boundaries at 1024, 1536, ...
    file.write_all_at(&unsynced, 1000).unwrap();
    let (mut whole, mut torn, mut zeroed) = (0, 0, 0);
    for seed in 0..300 {
        let image = fs.torn_image_seeded(seed, 512);
        let got = image.read_all(&path).unwrap();
        assert!(
            got.len() >= 1000 && got.len() <= 4000,
            "seed {seed}: {}",
            got.len()
        );
        assert_eq!(
            &got[..1000],
            &synced[..],
            "seed {seed}: synced bytes are kept"
        );
        let data = got[1000..].iter().take_while(|b| **b == 9).count();
        assert!(got[1000 + data..].iter().all(|b| *b == 0), "seed {seed}");
        let end = 1000 + data;
        if got.len() > end {
            zeroed += 1;
        } else if end == 4000 || end % 512 == 0 || end == 1000 {
            whole += 1;
        } else {
            torn += 1;
        }
    }
    // Every kind of tear happens, none dominates.
    assert!(
        whole > 30 && torn > 30 && zeroed > 30,
        "{whole} {torn} {zeroed}"
    );
    // The same seed gives the same disk.
    assert_eq!(
        fs.torn_image_seeded(5, 4096).read_all(&path).unwrap(),
        fs.torn_image_seeded(5, 4096).read_all(&path).unwrap()
    );
}

#[test]
fn a_crash_brings_back_directory_entries_as_they_were_durably() {
    use std::path::Path;
    use tickvault::io::Storage;
    let fs = SimFs::new();
    let (root, dir) = (Path::new("/"), Path::new("/sim"));
    fs.create_dir(dir).unwrap();
    fs.sync_dir(root).unwrap();
    let write = |path: &Path, bytes: &[u8]| {
        let f = fs.create(path).unwrap();
        f.write_all_at(bytes, 0).unwrap();
        f.sync().unwrap();
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    write(&a, b"old");
    fs.sync_dir(dir).unwrap();
    // A synced file renamed over `a`, the directory not synced: `a` is the old file again.
    write(&b, b"new");
    fs.rename(&b, &a).unwrap();
    assert_eq!(fs.read_all(&a).unwrap(), b"new");
    let image = fs.crash_image();
    assert_eq!(image.read_all(&a).unwrap(), b"old");
    assert!(!image.exists(&b).unwrap());
    fs.sync_dir(dir).unwrap();
    assert_eq!(fs.crash_image().read_all(&a).unwrap(), b"new");
    // A hard link is one file under two names, gone after a crash until its directory is
    // synced; a handle follows its file through a rename.
    let link = dir.join("link");
    fs.hard_link(&a, &link).unwrap();
    assert_eq!(fs.read_all(&link).unwrap(), b"new");
    assert!(!fs.crash_image().exists(&link).unwrap());
    fs.sync_dir(dir).unwrap();
    assert_eq!(fs.crash_image().read_all(&link).unwrap(), b"new");
    let handle = fs.open(&a, true).unwrap();
    fs.rename(&a, &dir.join("c")).unwrap();
    handle.write_all_at(b"NEW", 0).unwrap();
    assert_eq!(fs.read_all(&dir.join("c")).unwrap(), b"NEW");
    // A renamed directory: under its old name, with its durable entries, until the parent is
    // synced; a directory made in its place does not mix with it.
    let (from, to) = (Path::new("/sim"), Path::new("/moved"));
    fs.rename(from, to).unwrap();
    fs.create_dir(from).unwrap();
    write(&from.join("a"), b"other");
    fs.sync_dir(from).unwrap();
    let image = fs.crash_image();
    assert!(!image.exists(to).unwrap());
    assert_eq!(image.read_all(&from.join("link")).unwrap(), b"new");
    assert!(
        !image.exists(&from.join("c")).unwrap(),
        "a rename never synced"
    );
    fs.sync_dir(root).unwrap();
    let image = fs.crash_image();
    // The link's file, with its durable content (the write through the handle was not synced).
    assert_eq!(image.read_all(&to.join("link")).unwrap(), b"new");
    assert_eq!(image.read_all(&from.join("a")).unwrap(), b"other");
    assert!(!image.exists(&from.join("link")).unwrap());
    // A directory is replaced only if empty.
    assert!(fs.rename(to, from).is_err());
}
