//! `tickvault record` killed with SIGKILL at random moments: every acknowledged row survives.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tickvault::{Database, Engine, Exchange, Timestamp};
use tickvault_cli::soak::{self, Soak};

fn row(i: u64) -> String {
    soak::row(i)
}

/// Starts `tickvault record` of rb2610.SHFE ticks on `db` with `batch` rows per commit and
/// `--flush-every flush_every`, stdin and stdout piped, stderr as given.
fn recorder(
    db: &std::path::Path,
    batch: u64,
    flush_every: u64,
    stderr: Stdio,
) -> std::process::Child {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_tickvault"));
    soak::recorder(bin, db, batch, flush_every, stderr).unwrap()
}

#[test]
fn killed_recorders_lose_no_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    // A long run: TICKVAULT_KILL_CYCLES=10000 (see the README), or the tickvault-soak binary.
    let cycles: u64 = std::env::var("TICKVAULT_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let soak = Soak {
        tickvault: env!("CARGO_BIN_EXE_tickvault").into(),
        db: dir.path().join("db"),
        cycles,
        seed: 0x5eed_2026,
        max_delay: Duration::from_millis(40),
        check_every: 10,
    };
    let mut checks = Vec::new();
    let report = soak::run(&soak, &mut |c, rows| checks.push((c, rows))).unwrap();
    assert_eq!(report.cycles, cycles);
    assert_eq!(report.checks, cycles.div_ceil(10) + 1);
    assert!(
        report.acknowledged > 100,
        "the recorders acknowledged only {} rows",
        report.acknowledged
    );
    assert!(
        checks.windows(2).all(|w| w[0].1 <= w[1].1),
        "stored rows went down: {checks:?}"
    );
    // The store holds exactly the rows counted, each with its value.
    let engine = Engine::open(&soak.db).unwrap();
    let ticks = engine
        .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(ticks.len() as u64, report.acknowledged);
    assert!(ticks
        .iter()
        .enumerate()
        .all(|(i, t)| t.last_price == i as f64));
    eprintln!(
        "{cycles} kill -9 cycles: {} acknowledged rows, every one present",
        report.acknowledged
    );
}

#[test]
fn the_soak_binary_reports_its_cycles_and_finds_a_lost_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let soak = |db: &std::path::Path, cycles: &str| {
        Command::new(env!("CARGO_BIN_EXE_tickvault-soak"))
            .args([
                "--cycles",
                cycles,
                "--check-every",
                "2",
                "--max-delay-ms",
                "60",
            ])
            .arg("--db")
            .arg(db)
            .output()
            .unwrap()
    };
    let out = soak(&db, "6");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("6 kill -9 cycles ("), "{stdout}");
    assert!(stdout.contains("every one present in 4 checks"), "{stdout}");
    // A row no child wrote (far after the others, with a wrong value) is reported with its
    // place, and the exit status is 1.
    let engine = Engine::open(&db).unwrap();
    let mut stray = engine
        .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert!(!stray.is_empty(), "{stdout}");
    stray.truncate(1);
    stray[0].datetime = Timestamp::from_ns(1_767_618_000_000_000_000 + 1_000_000 * 500_000_000);
    stray[0].last_price = 999.0;
    engine.save_tick_data(&stray, false).unwrap();
    drop(engine);
    let out = soak(&db, "1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("LOST: after cycle 1: row "), "{stderr}");
    assert!(stderr.contains(" is 999 at 2026-01-11"), "{stderr}");
}

#[test]
fn a_reader_process_follows_a_recording_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // Create the store first, so the reader can open it while the recorder starts.
    Engine::open(&db).unwrap();
    let mut child = recorder(&db, 10, 200, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let total = 3_000u64;
    let feeder = std::thread::spawn(move || {
        for i in 0..total {
            stdin.write_all(row(i).as_bytes()).unwrap();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    // This process reads while the other writes: every state it sees is a gap-free prefix.
    let reader = Engine::open_read_only(&db).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ticks = reader
            .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
            .unwrap();
        for (i, t) in ticks.iter().enumerate() {
            assert_eq!(t.last_price, i as f64, "row {i} of {}", ticks.len());
        }
        if seen.last() != Some(&ticks.len()) {
            seen.push(ticks.len());
        }
        if ticks.len() as u64 == total || Instant::now() > deadline {
            break;
        }
    }
    let fed = feeder.join();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the recorder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fed.is_ok());
    assert_eq!(
        *seen.last().unwrap() as u64,
        total,
        "the reader saw {seen:?}"
    );
    assert!(
        seen.len() > 3,
        "the reader saw the rows arrive in only {} steps: {seen:?}",
        seen.len()
    );
    assert_eq!(reader.get_tick_overview().unwrap()[0].count, total);
}

#[test]
fn backups_taken_while_another_process_records_restore_gap_free() {
    let dir = tempfile::tempdir().unwrap();
    let (db, repo) = (dir.path().join("db"), dir.path().join("repo"));
    Engine::open(&db).unwrap();
    let mut child = recorder(&db, 5, 100, Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..4_000u64 {
            stdin.write_all(row(i).as_bytes()).unwrap();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(3));
            }
        }
    });
    let reader = Engine::open_read_only(&db).unwrap();
    let mut sizes = Vec::new();
    for n in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        let info = reader.backup(&repo).unwrap();
        let target = dir.path().join(format!("restored{n}"));
        tickvault::restore(&info.path, &target, false).unwrap();
        let ticks = Engine::open_read_only(&target)
            .unwrap()
            .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
            .unwrap();
        assert_eq!(ticks.len() as u64, info.rows);
        assert!(
            ticks
                .iter()
                .enumerate()
                .all(|(i, t)| t.last_price == i as f64),
            "backup {n} has a gap"
        );
        sizes.push(ticks.len());
    }
    feeder.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
}
