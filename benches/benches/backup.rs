//! Backup, incremental backup, restore and `verify --deep` throughput on a store of
//! `TICKVAULT_BENCH_STORE_MB` megabytes of generated one-minute bars (default 256).
//!
//! `TICKVAULT_BENCH_STORE_MB=1024 cargo bench -p tickvault-benches --bench backup`

// The benches library sets the global allocator (mimalloc).
use std::time::{Duration, Instant};
use tickvault_benches as _;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tickvault::{restore, sample, verify, Columns, Engine, Exchange, Interval, SeriesKey};

fn store_mb() -> u64 {
    std::env::var("TICKVAULT_BENCH_STORE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn backup_bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("db");
    let db = Engine::open(&root).unwrap();
    // ~8.5 bytes per bar: fill the store series by series, 4M bars at a time.
    let target = store_mb() << 20;
    let mut series = 0;
    while db.info().unwrap().segment_bytes < target {
        let bars = sample::bars(4_000_000, series);
        db.save_bar_columns(
            &format!("S{series}"),
            Exchange::SSE,
            Interval::Minute,
            &bars,
        )
        .unwrap();
        series += 1;
    }
    let bytes = db.info().unwrap().segment_bytes;
    let mb = bytes as f64 / (1 << 20) as f64;
    let mut g = c.benchmark_group("backup");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(format!("full_backup_{mb:.0}MB"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let repo = dir.path().join("repo-full");
                let _ = std::fs::remove_dir_all(&repo);
                let start = Instant::now();
                db.backup(&repo).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    let repo = dir.path().join("repo");
    let info = db.backup(&repo).unwrap();
    g.bench_function(format!("restore_{mb:.0}MB"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let to = dir.path().join(format!("restored-{i}"));
                let start = Instant::now();
                restore(&info.path, &to, false).unwrap();
                total += start.elapsed();
                std::fs::remove_dir_all(&to).unwrap();
            }
            total
        })
    });
    g.bench_function(format!("verify_deep_{mb:.0}MB"), |b| {
        b.iter(|| assert!(verify(&root, true).unwrap().problems.is_empty()))
    });
    g.finish();

    // An incremental backup after one more trading day (240 bars) of every series.
    let start = Instant::now();
    let day_start = sample::bars(4_000_240, 0);
    for s in 0..series {
        let key = SeriesKey::bar(&format!("S{s}"), Exchange::SSE, Interval::Minute).unwrap();
        let mut day = tickvault::BarColumns::default();
        day.extend_from(&day_start, 4_000_000..4_000_240);
        db.save_columns(&key, &day, false).unwrap();
    }
    let saved = start.elapsed();
    let start = Instant::now();
    let next = db.backup(&repo).unwrap();
    eprintln!(
        "incremental backup after one trading day of {series} series (saved in {saved:?}): {:?}, {} new bytes of {} ({} segments)",
        start.elapsed(),
        next.new_bytes,
        next.bytes,
        next.segments
    );
}

criterion_group!(benches, backup_bench);
criterion_main!(benches);
