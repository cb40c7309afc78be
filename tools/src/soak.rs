//! The kill -9 soak: `tickvault record` children are fed tick rows and killed with SIGKILL at
//! random moments (before the store is open, during WAL recovery, mid-commit), and after every
//! few cycles the store is opened and every row a child acknowledged (`ack N` on its stdout) is
//! checked to be present with its value, in order, with no gap. The `tickvault-soak` binary and
//! the test `tools/tests/record.rs` both run it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tickvault::{Database, Engine, Exchange, Timestamp};

/// What to run.
#[derive(Debug, Clone)]
pub struct Soak {
    /// The `tickvault` binary whose `record` children are killed.
    pub tickvault: PathBuf,
    /// The store (created if missing).
    pub db: PathBuf,
    /// Kill cycles.
    pub cycles: u64,
    /// Seed of the batch sizes and kill moments (a failing run repeats with the same seed).
    pub seed: u64,
    /// The longest a child runs before it is killed.
    pub max_delay: Duration,
    /// Check the store after this many cycles (and after the last).
    pub check_every: u64,
}

/// What a soak did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakReport {
    /// Kill cycles run.
    pub cycles: u64,
    /// Rows acknowledged by the children, all present at the end.
    pub acknowledged: u64,
    /// Cycles whose child was killed before it acknowledged anything.
    pub killed_before_ack: u64,
    /// Times the store was opened and checked.
    pub checks: u64,
}

/// A small seeded generator (an LCG), so that a failing run can be repeated; the process-kill
/// tests use it too.
#[derive(Debug, Clone)]
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

const BASE_NS: i64 = 1_767_618_000_000_000_000; // 2026-01-05T13:00:00Z
const STEP_NS: i64 = 500_000_000;
const SYMBOL: &str = "rb2610";

/// The time of row `i`.
fn time(i: u64) -> Timestamp {
    Timestamp::from_ns(BASE_NS + i as i64 * STEP_NS)
}

/// Row `i` as `tickvault record` reads it: its last price is `i`.
pub fn row(i: u64) -> String {
    format!(
        "{{\"datetime\":\"{}\",\"last_price\":{i},\"volume\":{},\"name\":\"rb\"}}\n",
        time(i),
        i * 2
    )
}

/// Starts `tickvault record` of rb2610.SHFE ticks on `db`, `batch` rows per commit.
pub fn recorder(
    tickvault: &Path,
    db: &Path,
    batch: u64,
    flush_every: u64,
    stderr: Stdio,
) -> std::io::Result<Child> {
    Command::new(tickvault)
        .arg("--db")
        .arg(db)
        .args([
            "record",
            "--symbol",
            SYMBOL,
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
}

/// Runs one child from row `start` and kills it after a random delay; returns the rows it
/// acknowledged.
fn cycle(soak: &Soak, rng: &mut Lcg, start: u64) -> Result<u64, String> {
    let batch = 1 + rng.below(4);
    let mut child = recorder(&soak.tickvault, &soak.db, batch, 0, Stdio::null())
        .map_err(|e| format!("cannot start {}: {e}", soak.tickvault.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let feeder = std::thread::spawn(move || {
        for i in start..start + 100_000 {
            if stdin.write_all(row(i).as_bytes()).is_err() {
                return;
            }
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().ok_or("no stdout")?;
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
    let max = u64::try_from(soak.max_delay.as_micros()).unwrap_or(u64::MAX);
    let deadline = Instant::now() + Duration::from_micros(rng.below(max));
    let mut acked = 0;
    while Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_micros(200)) {
            acked = n;
        }
    }
    child.kill().map_err(|e| format!("kill: {e}"))?;
    child.wait().map_err(|e| format!("wait: {e}"))?;
    let _ = reader.join();
    let _ = feeder.join();
    Ok(rx.try_iter().fold(acked, u64::max))
}

/// Checks rows `from..` of the store: each in order with its value; returns the row count.
fn check(db: &Path, from: u64, acknowledged: u64, cycle: u64) -> Result<u64, String> {
    let fail = |what: String| format!("after cycle {cycle}: {what}");
    let engine = Engine::open(db).map_err(|e| fail(format!("the store does not open: {e}")))?;
    let tail = engine
        .load_tick_data(SYMBOL, Exchange::SHFE, time(from), Timestamp::MAX)
        .map_err(|e| fail(format!("load: {e}")))?;
    let count = engine
        .get_tick_overview()
        .map_err(|e| fail(format!("overview: {e}")))?
        .first()
        .map_or(0, |o| o.count);
    if count != from + tail.len() as u64 {
        return Err(fail(format!(
            "the overview counts {count} rows, {from} checked before plus {} loaded",
            tail.len()
        )));
    }
    if count < acknowledged {
        return Err(fail(format!(
            "{count} rows stored, {acknowledged} acknowledged: acknowledged rows are lost"
        )));
    }
    for (k, t) in tail.iter().enumerate() {
        let i = from + k as u64;
        if t.datetime != time(i) || t.last_price != i as f64 {
            return Err(fail(format!(
                "row {i} is {} at {}, expected {i} at {}",
                t.last_price,
                t.datetime,
                time(i)
            )));
        }
    }
    Ok(count)
}

/// Runs the soak; `on_check(cycles done, rows acknowledged)` after each check. An error names
/// the cycle and the row that was lost or wrong.
pub fn run(soak: &Soak, on_check: &mut dyn FnMut(u64, u64)) -> Result<SoakReport, String> {
    let mut rng = Lcg(soak.seed);
    let mut report = SoakReport {
        cycles: 0,
        acknowledged: 0,
        killed_before_ack: 0,
        checks: 0,
    };
    // Rows checked before stay checked (the overview count covers them); each check loads only
    // those after, so that a long run does not reload a growing store every time.
    let mut checked = 0u64;
    for c in 0..soak.cycles {
        let acked = cycle(soak, &mut rng, report.acknowledged)?;
        if acked == 0 {
            report.killed_before_ack += 1;
        }
        report.acknowledged += acked;
        report.cycles += 1;
        if (c + 1) % soak.check_every.max(1) == 0 || c + 1 == soak.cycles {
            let count = check(&soak.db, checked, report.acknowledged, c + 1)?;
            report.checks += 1;
            // The next child continues after the last row stored (rows stored but not yet
            // acknowledged when the child died count as stored).
            checked = count;
            report.acknowledged = count;
            on_check(report.cycles, report.acknowledged);
        }
    }
    // Once at the end: every row, from the first.
    if soak.cycles > 0 {
        check(&soak.db, 0, report.acknowledged, soak.cycles)?;
        report.checks += 1;
    }
    Ok(report)
}
