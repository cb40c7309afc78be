//! Crash-point enumeration of backup and restore: each runs once on `SimFs` to count its file
//! operations, then again crashing at each one, and the disk after the crash (clean, torn, and
//! on `TICKVAULT_CRASH_SEEDS` seeded sector-torn disks) must hold:
//! - the store, unchanged: every acknowledged row (a backup flushes the memtable first);
//! - in the repository, only whole backups under a backup's name (a `.partial` directory is
//!   never listed), each verifying clean and holding every row, and the acknowledged one if
//!   the backup returned; and a later backup into the same repository succeeds;
//! - after a restore, the target absent or a whole store with every row (never half-written);
//!   with `force`, the store it replaced either still in place or whole under its
//!   `.replaced-*` name; and a later restore succeeds;
//! - after a prune, only whole backups listed, the kept one always among them, and a later
//!   prune leaves exactly the kept backup and the objects it names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tickvault::io::Storage;
use tickvault::{list_backups_on, prune_backups_on, restore_on, verify_on, Engine, Error};
use tickvault_tests::scenario::{apply, rows, run, same, scenario, state, Op};
use tickvault_tests::simfs::SimFs;
use tickvault_tests::Model;

const DB: &str = "/sim/db";
const REPO: &str = "/sim/repo";
const OTHER: &str = "/sim/other";

fn open(fs: &SimFs, root: &str, read_only: bool) -> tickvault::Result<Engine> {
    Engine::builder(root)
        .storage(Arc::new(fs.clone()))
        .segment_rows_max(64)
        .block_rows(8)
        .read_only(read_only)
        .open()
}

/// The scenario of every write path on a fresh disk, left open with unflushed stream rows.
fn store(fs: &SimFs) -> (Engine, Model) {
    let db = open(fs, DB, false).unwrap();
    let mut model = Model::default();
    for op in scenario() {
        run(&db, &op).unwrap();
        apply(&mut model, &op);
    }
    (db, model)
}

/// Another store, for a restore with `force` to replace.
fn other_store(fs: &SimFs) -> Model {
    let db = open(fs, OTHER, false).unwrap();
    let op = Op::Save(rows("zz", 0, 20, 3.0), false);
    run(&db, &op).unwrap();
    let mut model = Model::default();
    apply(&mut model, &op);
    drop(db);
    model
}

/// A disk with the store and one backup of it; the backup's directory.
fn store_and_backup(fs: &SimFs) -> (Model, PathBuf) {
    let (db, model) = store(fs);
    let info = db.backup(Path::new(REPO)).unwrap();
    drop(db);
    (model, info.path)
}

/// A disk with the store and three backups of three versions of it, oldest first, each with
/// its model: each version adds a series and deletes the one the version before added, so each
/// backup names a segment no other does.
fn store_and_three_backups(fs: &SimFs) -> Vec<(Model, PathBuf)> {
    let (db, mut model) = store(fs);
    let mut out = Vec::new();
    let series = ["p1", "p2", "p3"];
    for (i, symbol) in series.iter().enumerate() {
        let mut ops = vec![Op::Save(rows(symbol, 0, 10, i as f64), false)];
        if let Some(before) = i.checked_sub(1).and_then(|j| series.get(j)) {
            ops.push(Op::Delete(before));
        }
        for op in ops {
            run(&db, &op).unwrap();
            apply(&mut model, &op);
        }
        let info = db.backup(Path::new(REPO)).unwrap();
        out.push((model.clone(), info.path));
    }
    drop(db);
    out
}

fn crash_seeds() -> u64 {
    std::env::var("TICKVAULT_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// The disks a crash may leave: clean, torn, and seeded sector-torn ones.
fn images(fs: &SimFs, k: u64) -> Vec<(String, SimFs)> {
    let mut out = vec![
        ("clean".to_string(), fs.crash_image()),
        ("torn".to_string(), fs.torn_image()),
        (
            "every directory change on disk".to_string(),
            fs.crash_image_with_live_dirs(),
        ),
    ];
    for seed in 0..crash_seeds() {
        let sector = if seed % 2 == 0 { 512 } else { 4096 };
        out.push((
            format!("{sector}-byte sectors, seed {seed}"),
            fs.torn_image_seeded(seed.wrapping_mul(0x9e37_79b9) ^ k, sector),
        ));
    }
    out
}

/// A whole store at `root` on `fs`: verifies clean, deep, and holds exactly `model`.
fn assert_whole(fs: &SimFs, root: &Path, model: &Model, what: &str) {
    let report = verify_on(Arc::new(fs.clone()), root, true, &|_| {})
        .unwrap_or_else(|e| panic!("{what}: {} does not verify: {e}", root.display()));
    assert!(
        report.problems.is_empty(),
        "{what}: {}: {:?}",
        root.display(),
        report.problems
    );
    let db = open(fs, root.to_str().unwrap(), true)
        .unwrap_or_else(|e| panic!("{what}: {} does not open: {e}", root.display()));
    assert!(
        same(&state(&db), model),
        "{what}: {} does not hold every row",
        root.display()
    );
}

/// The backups (not `.partial`, not `objects`) in the repository on `fs`.
fn backups(fs: &SimFs) -> Vec<PathBuf> {
    fs.list_dir(Path::new(REPO))
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.is_dir && e.name != "objects" && !e.name.ends_with(".partial"))
        .map(|e| Path::new(REPO).join(e.name))
        .collect()
}

#[test]
fn a_backup_crashed_at_any_operation_leaves_the_store_and_only_whole_backups() {
    let ops = {
        let fs = SimFs::new();
        let (db, _) = store(&fs);
        let before = fs.ops();
        db.backup(Path::new(REPO)).unwrap();
        fs.ops() - before
    };
    assert!(ops > 50, "a backup made only {ops} file operations");
    let mut states = 0;
    let mut published = 0;
    // ops + 1: the crash comes just after the backup returned.
    for k in 1..=ops + 1 {
        let fs = SimFs::new();
        let (db, model) = store(&fs);
        fs.crash_at(k);
        let acked = db.backup(Path::new(REPO)).ok();
        db.abandon();
        for (disk, image) in images(&fs, k) {
            let what = format!("backup crashed at operation {k} of {ops}, {disk}");
            let db = open(&image, DB, false)
                .unwrap_or_else(|e| panic!("{what}: the store does not open: {e}"));
            assert!(same(&state(&db), &model), "{what}: the store lost rows");
            let found = backups(&image);
            for b in &found {
                assert_whole(&image, b, &model, &what);
            }
            if let Some(info) = &acked {
                assert!(
                    found.contains(&info.path),
                    "{what}: the acknowledged backup {} is gone",
                    info.path.display()
                );
            }
            published += found.len();
            // The leftovers do not stand in the way of the next backup.
            let info = db
                .backup(Path::new(REPO))
                .unwrap_or_else(|e| panic!("{what}: the next backup fails: {e}"));
            assert_whole(&image, &info.path, &model, &what);
            assert!(backups(&image).contains(&info.path), "{what}");
            db.abandon();
            states += 1;
        }
    }
    eprintln!("backup: {ops} crash points, {states} crash states, {published} backups found whole");
    assert!(
        published > 0,
        "no crash came after the backup was published"
    );
}

#[test]
fn a_restore_crashed_at_any_operation_leaves_the_target_absent_or_whole() {
    let target = Path::new("/sim/restored");
    let ops = {
        let fs = SimFs::new();
        let (_, backup) = store_and_backup(&fs);
        let before = fs.ops();
        restore_on(Arc::new(fs.clone()), &backup, target, false, &|_| {}).unwrap();
        fs.ops() - before
    };
    assert!(ops > 20, "a restore made only {ops} file operations");
    let (mut states, mut whole) = (0, 0);
    for k in 1..=ops + 1 {
        let fs = SimFs::new();
        let (model, backup) = store_and_backup(&fs);
        fs.crash_at(k);
        let acked = restore_on(Arc::new(fs.clone()), &backup, target, false, &|_| {}).is_ok();
        for (disk, image) in images(&fs, k) {
            let what = format!("restore crashed at operation {k} of {ops}, {disk}");
            assert_whole(&image, &backup, &model, &format!("{what}: the backup"));
            if image.exists(target).unwrap() {
                assert_whole(&image, target, &model, &what);
                whole += 1;
            } else {
                assert!(!acked, "{what}: the acknowledged restore is gone");
                restore_on(Arc::new(image.clone()), &backup, target, false, &|_| {})
                    .unwrap_or_else(|e| panic!("{what}: the next restore fails: {e}"));
                assert_whole(&image, target, &model, &format!("{what}, restored again"));
            }
            states += 1;
        }
    }
    eprintln!("restore: {ops} crash points, {states} crash states, {whole} with the target whole");
    assert!(whole > 0);
}

#[test]
fn a_forced_restore_crashed_at_any_operation_keeps_the_store_it_replaces() {
    let target = Path::new(OTHER);
    let setup = |fs: &SimFs| {
        let (model, backup) = store_and_backup(fs);
        (model, other_store(fs), backup)
    };
    let ops = {
        let fs = SimFs::new();
        let (_, _, backup) = setup(&fs);
        let before = fs.ops();
        let aside = restore_on(Arc::new(fs.clone()), &backup, target, true, &|_| {}).unwrap();
        assert!(aside.is_some());
        fs.ops() - before
    };
    let (mut states, mut replaced) = (0, 0);
    for k in 1..=ops + 1 {
        let fs = SimFs::new();
        let (model, old, backup) = setup(&fs);
        fs.crash_at(k);
        let acked = restore_on(Arc::new(fs.clone()), &backup, target, true, &|_| {}).is_ok();
        for (disk, image) in images(&fs, k) {
            let what = format!("forced restore crashed at operation {k} of {ops}, {disk}");
            let aside: Vec<PathBuf> = image
                .list_dir(Path::new("/sim"))
                .unwrap()
                .into_iter()
                .filter(|e| e.name.starts_with("other.replaced-"))
                .map(|e| Path::new("/sim").join(e.name))
                .collect();
            assert!(aside.len() <= 1, "{what}: {aside:?}");
            match (image.exists(target).unwrap(), aside.first()) {
                // Not yet swapped: the old store in place.
                (true, None) => {
                    assert!(
                        !acked,
                        "{what}: acknowledged, but the old store is in place"
                    );
                    assert_whole(&image, target, &old, &what);
                }
                // Swapped: the restored store in place, the old one aside.
                (true, Some(old_path)) => {
                    assert_whole(&image, target, &model, &what);
                    assert_whole(&image, old_path, &old, &what);
                    replaced += 1;
                }
                // Between the two renames: the old store aside, whole.
                (false, Some(old_path)) => {
                    assert!(!acked, "{what}: acknowledged, but the target is gone");
                    assert_whole(&image, old_path, &old, &what);
                }
                (false, None) => panic!("{what}: the store it replaced is gone"),
            }
            // Whatever the crash left, restoring again succeeds.
            restore_on(Arc::new(image.clone()), &backup, target, true, &|_| {})
                .unwrap_or_else(|e| panic!("{what}: the next restore fails: {e}"));
            assert_whole(&image, target, &model, &format!("{what}, restored again"));
            states += 1;
        }
    }
    eprintln!("forced restore: {ops} crash points, {states} crash states, {replaced} swapped");
    assert!(replaced > 0);
}

#[test]
fn a_restore_onto_an_existing_store_without_force_is_refused_and_changes_nothing() {
    let fs = SimFs::new();
    let (_, backup) = store_and_backup(&fs);
    let old = other_store(&fs);
    let before = fs.ops();
    let err = restore_on(
        Arc::new(fs.clone()),
        &backup,
        Path::new(OTHER),
        false,
        &|_| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("/sim/other exists")),
        "{err}"
    );
    assert_eq!(fs.ops(), before, "a refused restore wrote something");
    assert_whole(&fs, Path::new(OTHER), &old, "refused restore");
}

#[test]
fn a_prune_crashed_at_any_operation_leaves_only_whole_backups_and_the_kept_one() {
    let repo = Path::new(REPO);
    let prune = |fs: &SimFs| prune_backups_on(Arc::new(fs.clone()), repo, Some(1), None);
    let ops = {
        let fs = SimFs::new();
        store_and_three_backups(&fs);
        let before = fs.ops();
        assert_eq!(prune(&fs).unwrap().len(), 2);
        fs.ops() - before
    };
    assert!(ops > 20, "a prune made only {ops} file operations");
    let (mut states, mut pruned) = (0, 0);
    for k in 1..=ops + 1 {
        let fs = SimFs::new();
        let versions = store_and_three_backups(&fs);
        let kept = &versions[2].1;
        fs.crash_at(k);
        let acked = prune(&fs).is_ok();
        for (disk, image) in images(&fs, k) {
            let what = format!("prune crashed at operation {k} of {ops}, {disk}");
            let listed = list_backups_on(Arc::new(image.clone()), repo)
                .unwrap_or_else(|e| panic!("{what}: the repository does not list: {e}"));
            for b in &listed {
                let (model, _) = versions
                    .iter()
                    .find(|(_, path)| *path == b.path)
                    .unwrap_or_else(|| panic!("{what}: {} is no backup taken", b.path.display()));
                assert_whole(&image, &b.path, model, &what);
            }
            assert!(
                listed.iter().any(|b| b.path == *kept),
                "{what}: the kept backup is not listed"
            );
            if acked {
                assert_eq!(listed.len(), 1, "{what}: acknowledged, but {listed:?}");
            }
            if listed.len() == 1 {
                pruned += 1;
            }
            // The next prune finishes: the kept backup, whole, and only the objects it names.
            prune_backups_on(Arc::new(image.clone()), repo, Some(1), None)
                .unwrap_or_else(|e| panic!("{what}: the next prune fails: {e}"));
            let listed = list_backups_on(Arc::new(image.clone()), repo).unwrap();
            assert_eq!(
                listed.iter().map(|b| &b.path).collect::<Vec<_>>(),
                [kept],
                "{what}"
            );
            assert_whole(
                &image,
                kept,
                &versions[2].0,
                &format!("{what}, pruned again"),
            );
            let mut names: Vec<String> = image
                .list_dir(repo)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect();
            names.sort();
            let mut expected = ["objects".to_string(), listed[0].name.clone()];
            expected.sort();
            assert_eq!(names, expected, "{what}");
            let objects = image.list_dir(&repo.join("objects")).unwrap().len();
            assert_eq!(objects, listed[0].segments, "{what}: objects left");
            states += 1;
        }
    }
    eprintln!("prune: {ops} crash points, {states} crash states, {pruned} pruned");
    assert!(pruned > 0);
}
