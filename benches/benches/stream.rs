//! Stream saves: single-tick appends, group commit against SQLite (vn.py's `dbtickdata`, WAL
//! journal, `synchronous=FULL`) in the same run, durable-append latency, and recovery time.
//!
//! `cargo bench -p tickvault-benches --bench stream`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tickvault::{
    sample, Columns, Database, Engine, Exchange, SeriesKey, SyncPolicy, TickColumns, TickData,
};
use tickvault_benches::SqliteTicks;

fn ticks(n: usize) -> Vec<TickData> {
    let cols = sample::ticks(n, 7, "螺纹钢2610");
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    (0..n).map(|i| cols.row(i, &key)).collect()
}

fn open(dir: &tempfile::TempDir, policy: SyncPolicy) -> Engine {
    Engine::builder(dir.path().join("db"))
        .wal_sync(policy)
        .open()
        .unwrap()
}

fn single_tick_appends(c: &mut Criterion) {
    let rows = ticks(10_000);
    let mut g = c.benchmark_group("append_1_tick");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("interval_10ms", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db = open(&dir, SyncPolicy::IntervalMs(10));
                (dir, db)
            },
            |(dir, db)| {
                for t in &rows {
                    db.save_tick_data(std::slice::from_ref(t), true).unwrap();
                }
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// `threads` writers each make `per_thread` durable single-tick commits; returns the time taken.
fn run_tickvault(threads: usize, per_thread: usize, rows: &[TickData]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, SyncPolicy::EveryCommit);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..threads {
            let db = db.clone();
            s.spawn(move || {
                for t in rows.iter().take(per_thread) {
                    let mut t = t.clone();
                    t.symbol = format!("s{w}").into();
                    db.save_tick_data(&[t], true).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn run_sqlite(threads: usize, per_thread: usize, rows: &[TickData]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticks.db");
    SqliteTicks::open(&path).unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..threads {
            let path = path.clone();
            s.spawn(move || {
                let mut db = SqliteTicks::open(&path).unwrap();
                for t in rows.iter().take(per_thread) {
                    let mut t = t.clone();
                    t.symbol = format!("s{w}").into();
                    db.save_tick(&t).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn group_commit(c: &mut Criterion) {
    let rows = ticks(2_000);
    let mut g = c.benchmark_group("durable_commits");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    for threads in [1usize, 4, 8, 16] {
        let per_thread = 400 / threads.min(4);
        g.throughput(Throughput::Elements((threads * per_thread) as u64));
        g.bench_function(format!("tickvault_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_tickvault(threads, per_thread, &rows))
                    .sum()
            })
        });
        g.bench_function(format!("sqlite_wal_full_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_sqlite(threads, per_thread, &rows))
                    .sum()
            })
        });
    }
    g.finish();
}

fn append_latency(_: &mut Criterion) {
    let rows = ticks(2_000);
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, SyncPolicy::EveryCommit);
    let mut lat: Vec<Duration> = rows
        .iter()
        .map(|t| {
            let start = Instant::now();
            db.save_tick_data(std::slice::from_ref(t), true).unwrap();
            start.elapsed()
        })
        .collect();
    lat.sort();
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    eprintln!(
        "durable single-tick append latency (every-commit, {} appends): p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// A store whose WAL holds `n` ticks in stream saves of `per_record` rows, none flushed.
fn unflushed_ticks(root: &std::path::Path, n: usize, per_record: usize) {
    let db = Engine::builder(root)
        .wal_sync(SyncPolicy::None)
        .memtable_bytes_max(usize::MAX)
        .open()
        .unwrap();
    let cols = sample::ticks(n, 9, "螺纹钢2610");
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    for start in (0..n).step_by(per_record) {
        let mut part = TickColumns::default();
        part.extend_from(&cols, start..(start + per_record).min(n));
        db.save_columns(&key, &part, true).unwrap();
    }
    db.abandon();
}

fn recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("recovery");
    g.sample_size(10);
    // Saves of 1,000 ticks, and a recorder that commits every tick on its own.
    for (name, n, per_record) in [
        ("open_with_1m_unflushed_ticks", 1_000_000, 1000),
        ("open_with_200k_one_tick_records", 200_000, 1),
    ] {
        let root = dir.path().join(name);
        unflushed_ticks(&root, n, per_record);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let db = Engine::builder(&root)
                    .memtable_bytes_max(usize::MAX)
                    .open()
                    .unwrap();
                black_box(db.info().unwrap().memtable_rows);
                db.abandon();
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    single_tick_appends,
    group_commit,
    append_latency,
    recovery
);
criterion_main!(benches);
