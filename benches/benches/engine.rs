//! Criterion benches of the engine's bulk paths, each beside its baseline in the same run:
//! a plain memory copy of the decoded bytes, and SQLite with vn.py's `dbbardata` schema.
//!
//! `cargo bench -p tickvault-benches` — sizes on disk are printed first (bytes per bar/tick).

use std::hint::black_box;
use std::path::Path;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use tickvault::{
    sample, BarColumns, BarData, Columns, Database, Engine, Exchange, Interval, SeriesKey,
    TickColumns, Timestamp,
};
use tickvault_benches::SqliteVnpy;

const N: usize = 1_000_000;
const SQL_N: usize = 100_000;
const IF: &str = "IF9999";

fn spy_bars() -> BarColumns {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/SPY.ARCA_1m_2011-01.csv");
    let text = std::fs::read_to_string(&path).expect("read the SPY sample");
    let mut c = BarColumns::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| f[i].parse::<f64>().expect("number");
        c.datetime.push(f[0].parse::<Timestamp>().expect("time"));
        c.open_price.push(num(1));
        c.high_price.push(num(2));
        c.low_price.push(num(3));
        c.close_price.push(num(4));
        c.volume.push(num(5));
        c.turnover.push(num(6));
        c.open_interest.push(num(7));
    }
    c
}

fn bytes_per_row(save: impl FnOnce(&Engine)) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    save(&db);
    let info = db.info().unwrap();
    info.segment_bytes as f64 / (info.bar_rows + info.tick_rows) as f64
}

fn report_sizes() {
    let bars = sample::bars(N, 42);
    let b = bytes_per_row(|db| {
        db.save_bar_columns(IF, Exchange::CFFEX, Interval::Minute, &bars)
            .unwrap()
    });
    let spy = spy_bars();
    let s = bytes_per_row(|db| {
        db.save_bar_columns("SPY", Exchange::ARCA, Interval::Minute, &spy)
            .unwrap()
    });
    let ticks = sample::ticks(N, 43, "螺纹钢2610");
    let t = bytes_per_row(|db| {
        db.save_tick_columns("rb2610", Exchange::SHFE, &ticks)
            .unwrap()
    });
    let sqlite = {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("database.db");
        let rows = rows_of(&bars, SQL_N);
        SqliteVnpy::open(&path).unwrap().save_bars(&rows).unwrap();
        std::fs::metadata(&path).unwrap().len() as f64 / SQL_N as f64
    };
    eprintln!("size: generated bars {b:.2} B/bar; SPY bars {s:.2} B/bar ({:.1}x smaller than 64 B raw); five-level ticks {t:.2} B/tick; SQLite vn.py schema {sqlite:.1} B/bar", 64.0 / s);
}

fn rows_of(cols: &BarColumns, n: usize) -> Vec<BarData> {
    let key = SeriesKey::bar(IF, Exchange::CFFEX, Interval::Minute).unwrap();
    (0..n.min(cols.len())).map(|i| cols.row(i, &key)).collect()
}

fn fresh() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    (dir, db)
}

/// Benches `save` into a fresh store each iteration (its creation untimed).
fn save_into_fresh(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, save: impl Fn(&Engine)) {
    g.bench_function(name, |b| {
        b.iter_batched(
            fresh,
            |(dir, db)| {
                save(&db);
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
}

/// A read-only handle on the store of `fresh`, with a block cache of `cache` bytes.
fn reader(dir: &tempfile::TempDir, cache: usize) -> Engine {
    Engine::builder(dir.path().join("db"))
        .read_only(true)
        .block_cache_bytes(cache)
        .open()
        .unwrap()
}

fn bars(c: &mut Criterion) {
    report_sizes();
    let cols = sample::bars(N, 42);
    let rows = rows_of(&cols, N);
    let (dir, db) = fresh();
    db.save_bar_columns(IF, Exchange::CFFEX, Interval::Minute, &cols)
        .unwrap();
    // Read-only handles on the same store: one with a block cache large enough to keep 1M
    // decoded bars (loads of up to a quarter of it fill it), one without a cache.
    let cached = reader(&dir, 1 << 30);
    let uncached = reader(&dir, 0);

    let mut g = c.benchmark_group("bars_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    save_into_fresh(&mut g, "save_columns_fsync", |db| {
        db.save_bar_columns(IF, Exchange::CFFEX, Interval::Minute, &cols)
            .unwrap()
    });
    save_into_fresh(&mut g, "save_rows_fsync", |db| {
        db.save_bar_data(&rows, false).unwrap()
    });
    // Then repeated loads of the same range from the block cache ("_cached": the first
    // iteration fills it).
    let key = SeriesKey::bar(IF, Exchange::CFFEX, Interval::Minute).unwrap();
    for (name, db) in [("", &db), ("_cached", &cached)] {
        g.bench_function(format!("load_columns{name}"), |b| {
            b.iter(|| {
                black_box(
                    db.load_bar_columns(
                        IF,
                        Exchange::CFFEX,
                        Interval::Minute,
                        Timestamp::MIN,
                        Timestamp::MAX,
                    )
                    .unwrap(),
                )
            })
        });
        g.bench_function(format!("load_columns_into_reused{name}"), |b| {
            let mut buf = BarColumns::default();
            b.iter(|| {
                db.load_columns_into(&key, Timestamp::MIN, Timestamp::MAX, &mut buf)
                    .unwrap();
                black_box(buf.len())
            })
        });
        g.bench_function(format!("load_rows{name}"), |b| {
            b.iter(|| {
                black_box(
                    db.load_bar_data(
                        IF,
                        Exchange::CFFEX,
                        Interval::Minute,
                        Timestamp::MIN,
                        Timestamp::MAX,
                    )
                    .unwrap(),
                )
            })
        });
    }
    g.bench_function("baseline_memcpy_decoded", |b| {
        b.iter(|| black_box(cols.clone()))
    });
    drop_rows_floor(&mut g, &cols, &key);
    g.finish();

    let mut g = c.benchmark_group("bars_one_day");
    let mid = N / 2 / 240 * 240;
    let (start, end) = (cols.datetime[mid], cols.datetime[mid + 239]);
    assert_eq!(
        db.load_bar_data(IF, Exchange::CFFEX, Interval::Minute, start, end)
            .unwrap()
            .len(),
        240
    );
    g.throughput(Throughput::Elements(240));
    // Decoded every time (no cache), then from the default 64 MiB cache.
    one_day_loads(&mut g, [("", &uncached), ("_cached", &db)], (start, end));
    g.finish();

    // The same workload on SQLite with vn.py's schema (fewer rows: it is ~100x slower).
    let sql_rows = rows_of(&cols, SQL_N);
    let mut g = c.benchmark_group("bars_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SQL_N as u64));
    save_into_fresh(&mut g, "tickvault_save_rows_fsync", |db| {
        db.save_bar_data(&sql_rows, false).unwrap()
    });
    g.bench_function("sqlite_vnpy_save_rows", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                SqliteVnpy::open(&dir.path().join("database.db"))
                    .unwrap()
                    .save_bars(&sql_rows)
                    .unwrap();
                dir
            },
            BatchSize::PerIteration,
        )
    });
    let (_sdir, sdb) = fresh();
    sdb.save_bar_data(&sql_rows, false).unwrap();
    let sql_dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteVnpy::open(&sql_dir.path().join("database.db")).unwrap();
    sqlite.save_bars(&sql_rows).unwrap();
    g.bench_function("tickvault_load_rows", |b| {
        b.iter(|| {
            black_box(
                sdb.load_bar_data(
                    IF,
                    Exchange::CFFEX,
                    Interval::Minute,
                    Timestamp::MIN,
                    Timestamp::MAX,
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("sqlite_vnpy_load_rows", |b| {
        b.iter(|| {
            black_box(
                sqlite
                    .load_bars(
                        IF,
                        Exchange::CFFEX,
                        Interval::Minute,
                        Timestamp::from_secs(0),
                        Timestamp::from_secs(4_000_000_000),
                    )
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn ticks(c: &mut Criterion) {
    let cols = sample::ticks(N, 43, "螺纹钢2610");
    let (dir, db) = fresh();
    db.save_tick_columns("rb2610", Exchange::SHFE, &cols)
        .unwrap();
    let cached = reader(&dir, 4 << 30);
    let mut g = c.benchmark_group("ticks_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    save_into_fresh(&mut g, "save_columns_fsync", |db| {
        db.save_tick_columns("rb2610", Exchange::SHFE, &cols)
            .unwrap()
    });
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    let rows = cols.to_rows(&key);
    save_into_fresh(&mut g, "save_rows_fsync", |db| {
        db.save_tick_data(&rows, false).unwrap()
    });
    drop(rows);
    g.bench_function("load_columns", |b| {
        b.iter(|| {
            black_box(
                db.load_tick_columns("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
                    .unwrap(),
            )
        })
    });
    g.bench_function("load_columns_cached", |b| {
        b.iter(|| {
            black_box(
                cached
                    .load_tick_columns("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
                    .unwrap(),
            )
        })
    });
    for (name, db) in [("", &db), ("_cached", &cached)] {
        g.bench_function(format!("load_columns_into_reused{name}"), |b| {
            let mut buf = TickColumns::default();
            b.iter(|| {
                db.load_columns_into(&key, Timestamp::MIN, Timestamp::MAX, &mut buf)
                    .unwrap();
                black_box(buf.len())
            })
        });
    }
    g.bench_function("load_rows", |b| {
        b.iter(|| {
            black_box(
                db.load_tick_data("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
                    .unwrap(),
            )
        })
    });
    g.bench_function("baseline_memcpy_decoded", |b| {
        b.iter(|| black_box(cols.clone()))
    });
    drop_rows_floor(&mut g, &cols, &key);
    g.finish();
}

/// A floor under a load of every row of `cols` into row structs, in the same run: dropping
/// the rows, which a caller's timing of a load includes (the harness's does). Each row's symbol
/// is a `SmolStr`, so the drop reads every row back from memory.
fn drop_rows_floor<C: Columns>(g: &mut BenchmarkGroup<'_, WallTime>, cols: &C, key: &SeriesKey)
where
    C::Row: Clone,
{
    let rows = cols.to_rows(key);
    g.bench_function("baseline_drop_rows", |b| {
        b.iter_batched(|| rows.clone(), drop, BatchSize::PerIteration)
    });
}

/// One trading day (240 bars) from the middle of a 10-million-bar partition (the issue's
/// case): pruning by segment and block keeps it as fast as from 1M.
fn one_day_of_10m(c: &mut Criterion) {
    const BIG: usize = 10_000_000;
    let cols = sample::bars(BIG, 44);
    let (dir, db) = fresh();
    db.save_bar_columns(IF, Exchange::CFFEX, Interval::Minute, &cols)
        .unwrap();
    let uncached = reader(&dir, 0);
    let mid = BIG / 2 / 240 * 240;
    let (start, end) = (cols.datetime[mid], cols.datetime[mid + 239]);
    drop(cols);
    let mut g = c.benchmark_group("bars_10m_one_day");
    g.throughput(Throughput::Elements(240));
    one_day_loads(&mut g, [("", &uncached), ("_cached", &db)], (start, end));
    g.finish();
}

/// Loads of the day `[start, end]` of IF9999 into rows and into columns, from each handle.
fn one_day_loads(
    g: &mut BenchmarkGroup<'_, WallTime>,
    handles: [(&str, &Engine); 2],
    (start, end): (Timestamp, Timestamp),
) {
    for (name, db) in handles {
        g.bench_function(format!("load_rows{name}"), |b| {
            b.iter(|| {
                let rows = db
                    .load_bar_data(IF, Exchange::CFFEX, Interval::Minute, start, end)
                    .unwrap();
                assert_eq!(rows.len(), 240);
                black_box(rows)
            })
        });
        g.bench_function(format!("load_columns{name}"), |b| {
            b.iter(|| {
                black_box(
                    db.load_bar_columns(IF, Exchange::CFFEX, Interval::Minute, start, end)
                        .unwrap(),
                )
            })
        });
    }
}

criterion_group!(benches, bars, ticks, one_day_of_10m);
criterion_main!(benches);
