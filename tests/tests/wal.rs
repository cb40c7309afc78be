//! Stream saves: WAL, memtables, flush, recovery, poisoning, concurrency.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tickvault::io::{ByteView, DirEntry, LockGuard, RealFs, Storage, StorageFile};
use tickvault::{Database, Engine, Error, Exchange, Interval, SyncPolicy, Timestamp};
use tickvault_tests::{bar, closes, tick};

const MIN: Interval = Interval::Minute;
const ALL: (Timestamp, Timestamp) = (Timestamp::MIN, Timestamp::MAX);

fn wal_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn stream_rows_are_visible_exact_and_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(
        &(0..10)
            .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
            .collect::<Vec<_>>(),
        false,
    )
    .unwrap();
    // One replaces a stored row, one is new, one repeats within the stream.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 120, 2.0)], true)
        .unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 600, 3.0)], true)
        .unwrap();
    db.save_bar_data(
        &[
            bar("rb", Exchange::SHFE, MIN, 600, 4.0),
            bar("cu", Exchange::SHFE, MIN, 5, 9.0),
        ],
        true,
    )
    .unwrap();
    let check = |db: &Engine| {
        let rows = closes(db, "rb");
        assert_eq!(rows.len(), 11);
        assert_eq!(rows[2], (120, 2.0));
        assert_eq!(rows[10], (600, 4.0));
        assert_eq!(closes(db, "cu"), [(5, 9.0)]);
        let mut ov = db.get_bar_overview().unwrap();
        ov.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        assert_eq!(ov.iter().map(|o| o.count).collect::<Vec<_>>(), [1, 11]);
        assert_eq!(ov[1].end, Timestamp::from_secs(600));
    };
    check(&db);
    assert_eq!(db.info().unwrap().memtable_rows, 3);
    db.abandon();
    let db = Engine::open(&root).unwrap();
    check(&db);
    assert_eq!(
        db.info().unwrap().memtable_rows,
        3,
        "rows came back from the WAL"
    );
    db.flush().unwrap();
    assert_eq!(db.info().unwrap().memtable_rows, 0);
    check(&db);
    assert_eq!(wal_files(&root).len(), 1, "flushed WAL files are removed");
    drop(db);
    check(&Engine::open(&root).unwrap());
}

#[test]
fn a_torn_wal_tail_is_dropped_and_mid_log_damage_refuses_writing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 0, 1.0)], false)
        .unwrap();
    db.flush().unwrap();
    for i in 1..=3 {
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, i * 60, 1.0)], true)
            .unwrap();
    }
    db.abandon();
    let wal = wal_files(&root).pop().unwrap();
    let good = fs::read(&wal).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(&[90, 0, 0, 0, 7, 7]);
    fs::write(&wal, &torn).unwrap();
    let db = Engine::open(&root).unwrap();
    assert_eq!(closes(&db, "rb").len(), 4);
    db.abandon();
    // Damage the first of the three records: the two after it are valid, so this is not a tail.
    let mut bad = good.clone();
    bad[24 + 8 + 3] ^= 0x20;
    fs::write(&wal, &bad).unwrap();
    let err = Engine::open(&root).unwrap_err();
    match err {
        Error::Corruption { file, offset, .. } => {
            assert_eq!(file, wal);
            assert_eq!(offset, 24);
        }
        other => panic!("expected corruption, got {other}"),
    }
    // A read-only open still works and sees what segments hold.
    let ro = Engine::open_read_only(&root).unwrap();
    assert_eq!(closes(&ro, "rb"), [(0, 1.0)]);
}

/// With `every-commit` the WAL file is zero-filled ahead of its records, in 4 KiB steps, at
/// least 64 KiB and at most 4 MiB ahead; other policies write records only. Either way every
/// acknowledged row comes back.
#[test]
fn every_commit_wal_files_are_zero_filled_ahead_of_their_records() {
    for (policy, filled) in [(SyncPolicy::EveryCommit, true), (SyncPolicy::None, false)] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("db");
        let db = Engine::builder(&root).wal_sync(policy).open().unwrap();
        let mut sizes = Vec::new();
        for i in 0..2_000 {
            db.save_tick_data(&[tick("rb", Exchange::SHFE, i, 3500.0 + i as f64)], true)
                .unwrap();
            if i % 500 == 499 {
                let bytes = fs::read(wal_files(&root).pop().unwrap()).unwrap();
                let records = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
                sizes.push((records, bytes.len()));
            }
        }
        db.abandon();
        for &(records, len) in &sizes {
            if filled {
                assert_eq!(len % 4096, 0, "{sizes:?}");
                assert!(len >= records + (64 << 10), "{sizes:?}");
                assert!(len <= 2 * records + (64 << 10) + 8192, "{sizes:?}");
            } else {
                assert!(len - records < 512, "{policy:?}: {sizes:?}");
            }
        }
        // 2,000 records of a few hundred bytes pass the first 64 KiB: the file was filled again.
        assert!(sizes.last().unwrap().0 > 128 << 10, "{sizes:?}");
        let db = Engine::open(&root).unwrap();
        let ticks = db
            .load_tick_data("rb", Exchange::SHFE, ALL.0, ALL.1)
            .unwrap();
        assert_eq!(ticks.len(), 2_000, "{policy:?}");
        assert_eq!(ticks[1_999].last_price, 5499.0);
    }
}

#[test]
fn bulk_saves_and_deletes_after_stream_rows_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    db.save_bar_data(
        &[
            bar("rb", Exchange::SHFE, MIN, 60, 1.0),
            bar("x", Exchange::SHFE, MIN, 60, 1.0),
        ],
        true,
    )
    .unwrap();
    // The later bulk save wins over the earlier stream row.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 2.0)], false)
        .unwrap();
    assert_eq!(closes(&db, "rb"), [(60, 2.0)]);
    db.save_bar_data(&[bar("x", Exchange::SHFE, MIN, 120, 1.0)], true)
        .unwrap();
    assert_eq!(db.delete_bar_data("x", Exchange::SHFE, MIN).unwrap(), 2);
    db.abandon();
    let db = Engine::open(&root).unwrap();
    assert_eq!(closes(&db, "rb"), [(60, 2.0)]);
    assert!(
        closes(&db, "x").is_empty(),
        "deleted rows must not come back from the WAL"
    );
    assert_eq!(db.get_bar_overview().unwrap().len(), 1);
}

#[test]
fn readers_in_other_handles_see_flushed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    db.save_tick_data(&[tick("rb", Exchange::SHFE, 1, 3500.0)], true)
        .unwrap();
    let ro = Engine::open_read_only(&root).unwrap();
    assert!(
        ro.get_tick_overview().unwrap().is_empty(),
        "another process never sees a memtable"
    );
    db.flush().unwrap();
    assert_eq!(
        ro.load_tick_data("rb", Exchange::SHFE, ALL.0, ALL.1)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn every_sync_policy_keeps_rows() {
    for policy in [
        SyncPolicy::EveryCommit,
        SyncPolicy::IntervalMs(5),
        SyncPolicy::None,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("db");
        let db = Engine::builder(&root).wal_sync(policy).open().unwrap();
        for i in 0..200 {
            db.save_tick_data(&[tick("rb", Exchange::SHFE, i, 3500.0 + i as f64)], true)
                .unwrap();
        }
        assert_eq!(db.get_tick_overview().unwrap()[0].count, 200);
        drop(db);
        let db = Engine::open(&root).unwrap();
        let ticks = db
            .load_tick_data("rb", Exchange::SHFE, ALL.0, ALL.1)
            .unwrap();
        assert_eq!(ticks.len(), 200, "{policy:?}");
        assert_eq!(ticks[199].last_price, 3699.0);
    }
    assert!(matches!(
        "interval:0".parse::<SyncPolicy>(),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        "interval:10".parse::<SyncPolicy>().unwrap(),
        SyncPolicy::IntervalMs(10)
    );
}

#[test]
fn memtables_flush_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .memtable_bytes_max(100_000)
        .open()
        .unwrap();
    for i in 0..2_000 {
        db.save_tick_data(&[tick("rb", Exchange::SHFE, i, 1.0)], true)
            .unwrap();
    }
    let info = db.info().unwrap();
    assert!(info.segments >= 5, "{} segments", info.segments);
    assert!(
        info.memtable_rows < 400,
        "{} rows still in memory",
        info.memtable_rows
    );
    assert_eq!(info.tick_rows, 2_000);
}

#[test]
fn concurrent_writers_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::builder(dir.path().join("db"))
        .memtable_bytes_max(200_000)
        .open()
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        for w in 0..4 {
            let db = db.clone();
            s.spawn(move || {
                let symbol = format!("s{w}");
                for i in 0..300 {
                    db.save_bar_data(&[bar(&symbol, Exchange::SHFE, MIN, i * 60, i as f64)], true)
                        .unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (db, done) = (db.clone(), done.clone());
            s.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    for w in 0..4 {
                        let rows = db
                            .load_bar_data(&format!("s{w}"), Exchange::SHFE, MIN, ALL.0, ALL.1)
                            .unwrap();
                        // Whatever a reader sees is a prefix written in order, without gaps.
                        assert!(rows
                            .iter()
                            .enumerate()
                            .all(|(i, b)| b.close_price == i as f64));
                    }
                }
            });
        }
        s.spawn(|| {
            while db.info().unwrap().bar_rows < 1200 {
                std::thread::yield_now();
            }
            done.store(true, Ordering::Release);
        });
    });
    let mut ov = db.get_bar_overview().unwrap();
    ov.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    assert_eq!(ov.iter().map(|o| o.count).collect::<Vec<_>>(), [300; 4]);
}

/// The real file system, except that syncs fail once `fail` is set.
#[derive(Debug)]
struct FailingSync {
    real: RealFs,
    fail: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FailingFile {
    file: Box<dyn StorageFile>,
    fail: Arc<AtomicBool>,
}

impl StorageFile for FailingFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> tickvault::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> tickvault::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn set_len(&self, len: u64) -> tickvault::Result<()> {
        self.file.set_len(len)
    }
    fn size(&self) -> tickvault::Result<u64> {
        self.file.size()
    }
    fn sync(&self) -> tickvault::Result<()> {
        if self.fail.load(Ordering::Acquire) {
            return Err(Error::io(
                "injected",
                std::io::Error::other("injected fsync failure"),
            ));
        }
        self.file.sync()
    }
}

impl Storage for FailingSync {
    fn create(&self, path: &Path) -> tickvault::Result<Box<dyn StorageFile>> {
        Ok(Box::new(FailingFile {
            file: self.real.create(path)?,
            fail: self.fail.clone(),
        }))
    }
    fn open(&self, path: &Path, write: bool) -> tickvault::Result<Box<dyn StorageFile>> {
        Ok(Box::new(FailingFile {
            file: self.real.open(path, write)?,
            fail: self.fail.clone(),
        }))
    }
    fn map_readonly(&self, path: &Path) -> tickvault::Result<ByteView> {
        self.real.map_readonly(path)
    }
    fn read_all(&self, path: &Path) -> tickvault::Result<Vec<u8>> {
        self.real.read_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> tickvault::Result<()> {
        self.real.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> tickvault::Result<()> {
        self.real.remove_file(path)
    }
    fn remove_dir(&self, path: &Path) -> tickvault::Result<()> {
        self.real.remove_dir(path)
    }
    fn create_dir(&self, path: &Path) -> tickvault::Result<()> {
        self.real.create_dir(path)
    }
    fn sync_dir(&self, path: &Path) -> tickvault::Result<()> {
        if self.fail.load(Ordering::Acquire) {
            return Err(Error::io(
                path,
                std::io::Error::other("injected directory fsync failure"),
            ));
        }
        self.real.sync_dir(path)
    }
    fn list_dir(&self, path: &Path) -> tickvault::Result<Vec<DirEntry>> {
        self.real.list_dir(path)
    }
    fn exists(&self, path: &Path) -> tickvault::Result<bool> {
        self.real.exists(path)
    }
    fn lock_exclusive(&self, path: &Path) -> tickvault::Result<Box<dyn LockGuard>> {
        self.real.lock_exclusive(path)
    }
}

#[test]
fn a_failed_fsync_poisons_until_reopen_and_acked_rows_survive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let fail = Arc::new(AtomicBool::new(false));
    let storage = Arc::new(FailingSync {
        real: RealFs::default(),
        fail: fail.clone(),
    });
    let db = Engine::builder(&root).storage(storage).open().unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 60, 1.0)], true)
        .unwrap();
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 0, 1.0)], false)
        .unwrap();
    fail.store(true, Ordering::Release);
    let err = db
        .save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 120, 1.0)], true)
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    // Sticky, even once the disk "recovers", for every kind of write.
    fail.store(false, Ordering::Release);
    assert!(matches!(
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 180, 1.0)], true),
        Err(Error::Poisoned)
    ));
    assert!(matches!(
        db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 180, 1.0)], false),
        Err(Error::Poisoned)
    ));
    assert!(matches!(db.flush(), Err(Error::Poisoned)));
    // Reads still work.
    assert!(closes(&db, "rb").len() >= 2);
    db.abandon();
    let db = Engine::open(&root).unwrap();
    let rows = closes(&db, "rb");
    assert!(rows.starts_with(&[(0, 1.0), (60, 1.0)]), "{rows:?}");
    assert!(rows.iter().all(|r| r.0 != 180));
}

#[test]
fn verify_and_readers_see_no_problem_while_a_writer_appends() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::builder(&root)
        .wal_sync(SyncPolicy::EveryCommit)
        .memtable_bytes_max(64 << 10) // flushes (manifest appends) as it goes, too
        .open()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let (stop, count) = (stop.clone(), count.clone());
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let b = bar("live", Exchange::SHFE, Interval::Minute, i * 60, i as f64);
                db.save_bar_data(&[b], true).unwrap();
                i += 1;
                count.store(i, Ordering::Relaxed);
            }
            i
        })
    };
    let mut checks = 0;
    // Enough appends for several memtable flushes (manifest records) beside the WAL's growth.
    while checks < 40 || count.load(Ordering::Relaxed) < 3_000 {
        // The WAL and manifest grow under these reads: a record half-written is where the
        // writer is, not damage, and a reader keeps the version it read whole.
        let report = tickvault::verify(&root, false).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let ro = Engine::open_read_only(&root).unwrap();
        let _ = ro.get_bar_overview().unwrap();
        checks += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        written >= 3_000 && checks >= 40,
        "{written} rows, {checks} checks"
    );
}

/// A recorder that commits every row on its own leaves one WAL record a row; recovery gathers
/// them into larger inserts. Rows that reach back in time, rows stored in segments, two series
/// interleaved, a batch large enough to go in on its own and more one-row records than one
/// gathered insert holds must all come back as they were.
#[test]
fn one_row_records_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let open = || {
        Engine::builder(&root)
            .wal_sync(SyncPolicy::None)
            .memtable_bytes_max(1 << 30)
            .open()
            .unwrap()
    };
    let db = open();
    let mut model = tickvault_tests::Model::default();
    let stored: Vec<_> = (0..100)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 1.0))
        .collect();
    db.save_bar_data(&stored, false).unwrap();
    model.save(&stored);
    let mut rng = tickvault::sample::Rng::new(3);
    let mut next = 100 * 60;
    let mut streamed = std::collections::HashSet::new();
    for i in 0..20_000 {
        let (symbol, secs) = match i % 10 {
            // Back among the stored rows or the streamed ones.
            0 => ("rb", rng.range(0, next / 60) * 60),
            1 => ("cu", i * 60),
            _ => {
                next += 60;
                ("rb", next)
            }
        };
        let row = [bar(symbol, Exchange::SHFE, MIN, secs, i as f64)];
        db.save_bar_data(&row, true).unwrap();
        model.save(&row);
        streamed.insert((symbol, secs));
        if i == 10_000 {
            let batch: Vec<_> = (1..=500)
                .map(|k| bar("rb", Exchange::SHFE, MIN, next + k * 60, -1.0))
                .collect();
            next += 500 * 60;
            db.save_bar_data(&batch, true).unwrap();
            model.save(&batch);
            streamed.extend(
                batch
                    .iter()
                    .map(|b| ("rb", b.datetime.as_ns() / 1_000_000_000)),
            );
        }
    }
    let check = |db: &Engine| {
        for symbol in ["rb", "cu"] {
            let key = (symbol.to_string(), Exchange::SHFE, MIN);
            let expected: Vec<(i64, f64)> = model
                .load(&key, ALL.0, ALL.1)
                .iter()
                .map(|b| (b.datetime.as_ns() / 1_000_000_000, b.close_price))
                .collect();
            assert_eq!(closes(db, symbol), expected, "{symbol}");
        }
        let mut ov = db.get_bar_overview().unwrap();
        tickvault_tests::sort_overview(&mut ov);
        assert_eq!(ov, model.overview());
    };
    check(&db);
    let rows = streamed.len() as u64;
    assert_eq!(db.info().unwrap().memtable_rows, rows);
    db.abandon();
    let db = open();
    assert_eq!(db.info().unwrap().memtable_rows, rows);
    check(&db);
}
