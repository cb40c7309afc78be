//! `tickvault record` killed with SIGKILL at random moments: every acknowledged row survives.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tickvault::{Database, Engine, Exchange, Timestamp};

/// A small seeded generator, so a failing run can be repeated.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const BASE_NS: i64 = 1_767_618_000_000_000_000; // 2026-01-05T13:00:00Z

fn row(i: u64) -> String {
    let t = Timestamp::from_ns(BASE_NS + i as i64 * 500_000_000);
    format!(
        "{{\"datetime\":\"{t}\",\"last_price\":{i},\"volume\":{},\"name\":\"rb\"}}\n",
        i * 2
    )
}

/// Starts `tickvault record` of rb2610.SHFE ticks on `db` with `batch` rows per commit and
/// `--flush-every flush_every`, stdin and stdout piped, stderr as given.
fn recorder(
    db: &std::path::Path,
    batch: u64,
    flush_every: u64,
    stderr: Stdio,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tickvault"))
        .arg("--db")
        .arg(db)
        .args([
            "record",
            "--symbol",
            "rb2610",
            "--exchange",
            "SHFE",
            "--ticks",
        ])
        .args([
            "--batch",
            &batch.to_string(),
            "--flush-every",
            &flush_every.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn killed_recorders_lose_no_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut rng = Lcg(0x5eed_2026);
    let mut acked_total = 0u64;
    let mut checked = 0u64;
    // A long run: TICKVAULT_KILL_CYCLES=10000 (see the README).
    let cycles: u64 = std::env::var("TICKVAULT_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for cycle in 0..cycles {
        let batch = 1 + rng.below(4);
        let mut child = recorder(&db, batch, 0, Stdio::null());
        let mut stdin = child.stdin.take().unwrap();
        let start = acked_total;
        let feeder = std::thread::spawn(move || {
            for i in start..start + 100_000 {
                if stdin.write_all(row(i).as_bytes()).is_err() {
                    return;
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(n) = line
                    .strip_prefix("ack ")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    let _ = tx.send(n);
                }
            }
        });
        // Kill at a random moment: sometimes before the store is even open.
        let delay = Duration::from_micros(rng.below(40_000));
        let deadline = Instant::now() + delay;
        let mut acked_here = 0;
        while Instant::now() < deadline {
            if let Ok(n) = rx.recv_timeout(Duration::from_micros(200)) {
                acked_here = n;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acked_here = rx.try_iter().fold(acked_here, u64::max);
        let _ = feeder.join();
        acked_total += acked_here;
        if cycle % 10 == 9 || cycle == cycles - 1 {
            // Rows checked before stay checked (the overview count covers them); load only
            // those after, so that a long run does not reload a growing store every time.
            let engine = Engine::open(&db).unwrap();
            let from = Timestamp::from_ns(BASE_NS + checked as i64 * 500_000_000);
            let tail = engine
                .load_tick_data("rb2610", Exchange::SHFE, from, Timestamp::MAX)
                .unwrap();
            let count = engine.get_tick_overview().unwrap()[0].count;
            assert_eq!(count, checked + tail.len() as u64, "cycle {cycle}");
            assert!(
                count >= acked_total,
                "cycle {cycle}: {count} rows, {acked_total} acknowledged"
            );
            for (k, t) in tail.iter().enumerate() {
                let i = checked + k as u64;
                assert_eq!(
                    t.datetime.as_ns(),
                    BASE_NS + i as i64 * 500_000_000,
                    "cycle {cycle}, row {i}"
                );
                assert_eq!(t.last_price, i as f64, "cycle {cycle}, row {i}");
            }
            // The next recorder continues after the last row stored.
            checked = count;
            acked_total = count;
        }
    }
    // Once at the end: every row, from the first.
    let engine = Engine::open(&db).unwrap();
    let ticks = engine
        .load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(ticks.len() as u64, acked_total);
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(
            t.datetime.as_ns(),
            BASE_NS + i as i64 * 500_000_000,
            "row {i}"
        );
        assert_eq!(t.last_price, i as f64, "row {i}");
    }
    assert!(
        acked_total > 100,
        "the recorders acknowledged only {acked_total} rows"
    );
    eprintln!("{cycles} kill -9 cycles: {acked_total} acknowledged rows, every one present");
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
