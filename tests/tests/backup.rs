//! Backups, retention, restore and verify.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use tickvault::{
    list_backups, prune_backups, restore, verify, Database, Engine, Error, Exchange, Interval,
};
use tickvault_tests::bar;

const MIN: Interval = Interval::Minute;

/// (minute, close) of every 1m bar of `symbol`.
fn closes(db: &Engine, symbol: &str) -> Vec<(i64, f64)> {
    tickvault_tests::closes(db, symbol)
        .into_iter()
        .map(|(s, c)| (s / 60, c))
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
fn links(p: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(&fs::metadata(p).unwrap())
}

#[test]
fn backups_are_consistent_while_writes_go_on_and_restore_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let db = Engine::builder(&root).segment_rows_max(500).open().unwrap();
    let acked = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Acquire) && i < 20_000 {
                // Minute i closes at i; every 7th save is a bulk one that rewrites a stored range.
                let stream = i % 7 != 0;
                let from = if stream { i } else { (i - 30).max(0) };
                let rows: Vec<_> = (from..=i)
                    .map(|m| bar("rb", Exchange::SHFE, MIN, m * 60, m as f64))
                    .collect();
                db.save_bar_data(&rows, stream).unwrap();
                acked.store(i + 1, Ordering::Release);
                i += 1;
            }
        })
    };
    let mut restored = 0;
    for n in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let before = acked.load(Ordering::Acquire);
        let info = db.backup(&repo).unwrap();
        assert!(verify(&info.path, true).unwrap().problems.is_empty());
        let target = dir.path().join(format!("restored{n}"));
        assert_eq!(restore(&info.path, &target, false).unwrap(), None);
        let copy = Engine::open(&target).unwrap();
        let rows = closes(&copy, "rb");
        // Every save acknowledged before the backup began is in it, gap-free and exact.
        assert!(
            rows.len() as i64 >= before,
            "backup {n}: {} rows, {before} acknowledged",
            rows.len()
        );
        assert!(
            rows.iter()
                .enumerate()
                .all(|(i, &(m, c))| m == i as i64 && c == i as f64),
            "backup {n}"
        );
        assert_eq!(info.rows, rows.len() as u64);
        restored += 1;
    }
    stop.store(true, Ordering::Release);
    writer.join().unwrap();
    assert_eq!(restored, 4);
    assert_eq!(list_backups(&repo).unwrap().len(), 4);
}

#[test]
fn a_read_only_handle_backs_up_what_the_writer_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 0, 1.0)], false)
        .unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 2.0)], true)
        .unwrap();
    let ro = Engine::open_read_only(&root).unwrap();
    let info = ro.backup(&repo).unwrap();
    assert_eq!(
        info.rows, 1,
        "the memtable of another handle is not committed"
    );
    // The writer's own backup flushes its acknowledged stream rows first.
    let info = db.backup(&repo).unwrap();
    assert_eq!(info.rows, 2);
    restore(&info.path, &dir.path().join("r"), false).unwrap();
    assert_eq!(
        closes(&Engine::open(dir.path().join("r")).unwrap(), "rb"),
        [(0, 1.0), (1, 2.0)]
    );
}

#[cfg(unix)]
#[test]
fn incremental_backups_share_segments_and_retention_keeps_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let db = Engine::open(&root).unwrap();
    let day = |d: i64| {
        (0..240)
            .map(|m| bar("rb", Exchange::SHFE, MIN, (d * 1440 + m) * 60, 1.0))
            .collect::<Vec<_>>()
    };
    db.save_bar_data(&day(0), false).unwrap();
    db.save_bar_data(&[bar("cu", Exchange::SHFE, MIN, 0, 5.0)], false)
        .unwrap();
    let first = db.backup(&repo).unwrap();
    assert_eq!(first.new_bytes, first.bytes);
    // One more day: one more segment, and only it is new in the repository.
    db.save_bar_data(&day(1), false).unwrap();
    let second = db.backup(&repo).unwrap();
    assert_eq!(second.segments, first.segments + 1);
    assert!(second.new_bytes > 0 && second.new_bytes < second.bytes);
    assert_eq!(second.new_bytes, second.bytes - first.bytes);
    let objects = files(&repo.join("objects"));
    assert_eq!(objects.len(), 3);
    let shared: Vec<u64> = objects.iter().map(|p| links(p)).collect();
    assert_eq!(shared.iter().filter(|&&n| n == 3).count(), 2, "{shared:?}");
    let listed = list_backups(&repo).unwrap();
    assert_eq!(listed[1].shared_bytes, first.bytes);
    // Delete cu and back up again; then keep only the last backup.
    db.delete_bar_data("cu", Exchange::SHFE, MIN).unwrap();
    let third = db.backup(&repo).unwrap();
    let removed = prune_backups(&repo, Some(1), None).unwrap();
    assert_eq!(removed, [first.name.clone(), second.name.clone()]);
    assert_eq!(
        files(&repo.join("objects")).len(),
        2,
        "cu's segment went with the last backup naming it"
    );
    assert!(verify(&third.path, true).unwrap().problems.is_empty());
    // Retention by age keeps everything young.
    assert!(
        prune_backups(&repo, None, Some(std::time::Duration::from_secs(3600)))
            .unwrap()
            .is_empty()
    );
    assert_eq!(list_backups(&repo).unwrap().len(), 1);
}

#[test]
fn every_byte_flip_in_a_backup_is_caught_and_restore_then_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(
        &(0..3)
            .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.5))
            .collect::<Vec<_>>(),
        false,
    )
    .unwrap();
    let info = db.backup(&repo).unwrap();
    let target = dir.path().join("restored");
    let mut flips = 0;
    for file in files(&info.path) {
        let good = fs::read(&file).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            // Write through a fresh inode so the shared object is not changed for other tests.
            fs::remove_file(&file).unwrap();
            fs::write(&file, &bad).unwrap();
            let report = verify(&info.path, false).unwrap();
            assert!(
                !report.problems.is_empty(),
                "flip at {} byte {i} went unnoticed",
                file.display()
            );
            assert!(restore(&info.path, &target, false).is_err());
            assert!(
                !target.exists(),
                "a failed restore wrote {}",
                target.display()
            );
            flips += 1;
        }
        fs::remove_file(&file).unwrap();
        fs::write(&file, &good).unwrap();
    }
    assert!(flips > 500, "{flips}");
    assert!(verify(&info.path, true).unwrap().problems.is_empty());
    restore(&info.path, &target, false).unwrap();
    assert_eq!(closes(&Engine::open(&target).unwrap(), "rb").len(), 3);
}

#[test]
fn restore_refuses_an_existing_store_unless_forced_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let (root, repo) = (dir.path().join("db"), dir.path().join("repo"));
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 0, 1.0)], false)
        .unwrap();
    let info = db.backup(&repo).unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 2.0)], false)
        .unwrap();
    drop(db);
    let err = restore(&info.path, &root, false).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let aside = restore(&info.path, &root, true)
        .unwrap()
        .expect("the old store is kept");
    assert_eq!(closes(&Engine::open(&root).unwrap(), "rb"), [(0, 1.0)]);
    assert_eq!(closes(&Engine::open(&aside).unwrap(), "rb").len(), 2);
}

#[test]
fn verify_reports_damage_in_a_live_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(
        &(0..100)
            .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
            .collect::<Vec<_>>(),
        false,
    )
    .unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 10_000, 1.0)], true)
        .unwrap();
    let report = verify(&root, true).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        (report.segments, report.rows, report.wal_records),
        (1, 100, 1)
    );
    let seg = files(&root.join("data")).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    bytes[40] ^= 0xff;
    fs::write(&seg, &bytes).unwrap();
    let stray = root
        .join("data")
        .join(
            fs::read_dir(root.join("data"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .file_name(),
        )
        .join("00000000000000ff.seg");
    fs::write(&stray, b"x").unwrap();
    let report = verify(&root, false).unwrap();
    // The flipped byte is damage; a segment file no manifest names is what a write in progress
    // (or one a crash cut short) looks like on a live store: listed, but not a problem.
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].file, seg);
    assert_eq!(report.orphans, [stray]);
}

#[test]
fn a_snapshot_keeps_its_files_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    db.save_bar_data(
        &(0..10)
            .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
            .collect::<Vec<_>>(),
        false,
    )
    .unwrap();
    let snap = db.snapshot().unwrap();
    let pinned: Vec<PathBuf> = snap.segment_files().into_iter().map(|(_, p)| p).collect();
    assert_eq!(pinned.len(), 1);
    // A merge replaces the pinned segment; its file stays while the snapshot lives.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 300, 9.0)], false)
        .unwrap();
    assert!(pinned[0].exists());
    assert_eq!(
        snap.manifest().partitions.values().next().unwrap()[0].rows,
        10
    );
    let second = db.snapshot().unwrap();
    drop(snap);
    assert!(
        !pinned[0].exists(),
        "unlinked once the snapshot that named it is gone"
    );
    assert_eq!(second.segment_files().len(), 1);
    drop(second);
    assert_eq!(closes(&db, "rb")[5], (5, 9.0));
    assert!(verify(&dir.path().join("db"), true)
        .unwrap()
        .problems
        .is_empty());
}

#[test]
fn backup_restore_and_verify_report_their_progress_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    for (i, symbol) in ["a", "b", "c"].iter().enumerate() {
        let bars: Vec<_> = (0..500)
            .map(|t| bar(symbol, Exchange::SHFE, Interval::Minute, t * 60, i as f64))
            .collect();
        db.save_bar_data(&bars, false).unwrap();
    }
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |p: tickvault::Progress| seen.lock().unwrap().push(p);
    let repo = dir.path().join("repo");
    let info = db.backup_with_progress(&repo, &record).unwrap();
    let reports = std::mem::take(&mut *seen.lock().unwrap());
    // One report per segment, growing to the bytes backed up.
    assert_eq!(reports.len(), info.segments);
    assert!(reports
        .iter()
        .all(|p| p.stage == "backing up" && p.total == info.bytes));
    assert!(reports.windows(2).all(|w| w[0].done < w[1].done));
    assert_eq!(reports.last().map(|p| p.done), Some(info.bytes));

    let report = tickvault::verify_with_progress(&info.path, true, &record).unwrap();
    let reports = std::mem::take(&mut *seen.lock().unwrap());
    assert!(report.problems.is_empty());
    assert_eq!(reports.len(), report.segments);
    assert_eq!(
        reports.last().map(|p| (p.stage, p.done, p.total)),
        Some(("verifying", report.bytes, report.bytes))
    );

    let target = dir.path().join("restored");
    tickvault::restore_with_progress(&info.path, &target, false, &record).unwrap();
    let reports = std::mem::take(&mut *seen.lock().unwrap());
    let stages: Vec<&str> = reports.iter().map(|p| p.stage).collect();
    let verifying = stages.iter().filter(|s| **s == "verifying").count();
    assert_eq!(verifying, info.segments);
    assert!(stages[verifying..].iter().all(|s| *s == "copying"));
    // Every file but the CATALOG is copied: segments, the manifest and the options.
    let copied = reports.last().unwrap();
    assert_eq!(copied.done, copied.total);
    let catalog = fs::metadata(info.path.join("CATALOG")).unwrap().len();
    let all: u64 = files(&info.path)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(copied.total, all - catalog);
    assert!(copied.total > info.bytes);
    let restored = Engine::open_read_only(&target).unwrap();
    assert_eq!(closes(&restored, "b").len(), 500);
}
