//! A real full disk: a small tmpfs mounted for the test (root only; elsewhere the test says why
//! it skipped, and `TICKVAULT_REQUIRE_TMPFS=1`, which CI sets, makes that a failure). Bulk saves
//! and stream appends run until the file system refuses them with ENOSPC: the error is clear
//! (`Io` naming the file, `StorageFull`), the store stays readable and consistent with every
//! acknowledged row, and once space is freed writing resumes.

use std::path::{Path, PathBuf};
use std::process::Command;

use tickvault::{
    BarColumns, Columns, Database, Engine, Error, Exchange, Interval, SyncPolicy, Timestamp,
};
use tickvault_tests::bar;

const MIN: Interval = Interval::Minute;

/// A tmpfs of `mib` MiB, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            assert!(
                std::env::var_os("TICKVAULT_REQUIRE_TMPFS").is_none(),
                "cannot mount a tmpfs: {why}"
            );
            eprintln!("skipped: cannot mount a tmpfs ({})", why.trim());
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn full(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull)
}

/// A batch of bars of `symbol`, minutes `from..from + n`, close = minute.
fn batch(symbol: &str, from: i64, n: i64) -> BarColumns {
    let mut c = BarColumns::default();
    for m in from..from + n {
        let mut b = bar(symbol, Exchange::SHFE, MIN, m * 60, m as f64);
        // Values that do not compress away, so the disk fills.
        b.volume = (m.wrapping_mul(2_654_435_761) % 1_000_003) as f64;
        b.open_price = (m.wrapping_mul(40_503) % 65_521) as f64 * 0.25;
        c.push_row(&b);
    }
    c
}

fn minutes(db: &Engine, symbol: &str) -> Vec<i64> {
    db.load_bar_data(symbol, Exchange::SHFE, MIN, Timestamp::MIN, Timestamp::MAX)
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b.close_price, (b.datetime.as_ns() / 60_000_000_000) as f64);
            b.datetime.as_ns() / 60_000_000_000
        })
        .collect()
}

#[test]
fn a_full_disk_refuses_writes_cleanly_and_writing_resumes_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount(8) else { return };
    let root: PathBuf = fs.path().join("db");
    // Ballast to free later.
    let ballast = fs.path().join("ballast");
    std::fs::write(&ballast, vec![7u8; 2 << 20]).unwrap();

    // Bulk saves until the disk is full.
    let db = Engine::open(&root).unwrap();
    let mut acked = 0i64;
    let err = loop {
        match db.save_bar_columns("bulk", Exchange::SHFE, MIN, &batch("bulk", acked, 20_000)) {
            Ok(()) => acked += 20_000,
            Err(e) => break e,
        }
        assert!(acked < 10_000_000, "the disk never filled");
    };
    assert!(full(&err), "{err:?}");
    assert!(
        err.to_string().contains(fs.path().to_str().unwrap()),
        "{err}"
    );
    assert!(acked > 0);
    // Readable, every acknowledged row there, nothing half-written.
    assert_eq!(minutes(&db, "bulk"), (0..acked).collect::<Vec<_>>());

    // Stream appends until the WAL cannot grow: each acknowledged one survives.
    let mut streamed = 0i64;
    loop {
        let b = batch("wal", streamed, 1)
            .to_rows(&tickvault::SeriesKey::bar("wal", Exchange::SHFE, MIN).unwrap());
        match db.save_bar_data(&b, true) {
            Ok(()) => streamed += 1,
            Err(e) => {
                assert!(full(&e) || matches!(e, Error::Poisoned), "{e:?}");
                break;
            }
        }
        assert!(streamed < 10_000_000, "the WAL never filled");
    }
    drop(db);

    eprintln!("disk full after {acked} bulk rows and {streamed} stream appends: {err}");

    // Still full: a writer may not open (it needs room for a new WAL file), but if it fails it
    // says so and changes nothing; a reader opens, and verify finds nothing wrong.
    match Engine::open(&root) {
        Ok(db) => drop(db),
        Err(e) => assert!(full(&e), "{e:?}"),
    }
    let report = tickvault::verify(&root, true).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let ro = Engine::open_read_only(&root).unwrap();
    assert_eq!(minutes(&ro, "bulk").len() as i64, acked);
    drop(ro);

    // Space freed: writing resumes, and every acknowledged row is there.
    std::fs::remove_file(&ballast).unwrap();
    let db = Engine::builder(&root)
        .wal_sync(SyncPolicy::EveryCommit)
        .open()
        .unwrap();
    assert_eq!(minutes(&db, "wal"), (0..streamed).collect::<Vec<_>>());
    db.save_bar_columns("bulk", Exchange::SHFE, MIN, &batch("bulk", acked, 1_000))
        .unwrap();
    db.flush().unwrap();
    drop(db);
    let db = Engine::open_read_only(&root).unwrap();
    assert_eq!(minutes(&db, "bulk"), (0..acked + 1_000).collect::<Vec<_>>());
    assert_eq!(minutes(&db, "wal").len() as i64, streamed);
    assert!(tickvault::verify(&root, true).unwrap().problems.is_empty());
}
