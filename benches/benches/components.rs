//! Criterion benches of the engine's components, each on its own: column codecs (encode,
//! decode, partial decode of a block), compression, segment writing, block decoding, a commit,
//! merge-on-write, compaction, stream appends per WAL sync policy, the overview, and loads of
//! many partitions one after another against the same loads in parallel (the scaling ratio).
//!
//! `cargo bench -p tickvault-benches --bench components`

// The benches library sets the global allocator (mimalloc).
use std::hint::black_box;
use std::path::Path;
use tickvault_benches as _;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rayon::prelude::*;
use tickvault::codec::{self, ColumnMut, ColumnRef, Compression};
use tickvault::io::ByteView;
use tickvault::segment::{encode_segment, Segment, WriteOptions};
use tickvault::{
    sample, BarColumns, Columns, Database, Engine, Exchange, Interval, SyncPolicy, Timestamp,
};

const BLOCK: usize = 2048;

fn codecs(c: &mut Criterion) {
    let bars = sample::bars(BLOCK, 7);
    let ticks = sample::ticks(BLOCK, 8, "螺纹钢2610");
    let random: Vec<f64> = (0..BLOCK as u64)
        .map(|i| f64::from_bits(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 2))
        .collect();
    let columns: [(&str, ColumnRef<'_>); 5] = [
        // Minute bars over 8.5 days (17 gaps), and tick local times (every 500 ms, 1 to 40 ms
        // late): IntPatch.
        ("times_bars", ColumnRef::Time(&bars.datetime)),
        ("times_ticks_local", ColumnRef::OptTime(&ticks.localtime)),
        ("prices_decimal", ColumnRef::F64(&bars.close_price)),
        ("floats_shuffle", ColumnRef::F64(&random)),
        ("names_dict", ColumnRef::Str(&ticks.name)),
    ];
    let mut g = c.benchmark_group("codec_block_2048");
    g.throughput(Throughput::Elements(BLOCK as u64));
    for (name, col) in columns {
        let enc = codec::encode(col);
        g.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| black_box(codec::encode(col)))
        });
        g.bench_function(format!("{name}/decode"), |b| match col {
            ColumnRef::Time(_) => {
                let mut out = vec![Timestamp::from_ns(0); BLOCK];
                b.iter(|| codec::decode(enc.codec, &enc.payload, ColumnMut::Time(&mut out)))
            }
            ColumnRef::OptTime(_) => {
                let mut out = vec![None; BLOCK];
                b.iter(|| codec::decode(enc.codec, &enc.payload, ColumnMut::OptTime(&mut out)))
            }
            ColumnRef::Str(_) => {
                let mut out = vec![tickvault::SmolStr::default(); BLOCK];
                b.iter(|| codec::decode(enc.codec, &enc.payload, ColumnMut::Str(&mut out)))
            }
            _ => {
                let mut out = vec![0.0; BLOCK];
                b.iter(|| codec::decode(enc.codec, &enc.payload, ColumnMut::F64(&mut out)))
            }
        });
        if let ColumnRef::F64(_) = col {
            // One trading day (240 rows) from the middle of a block.
            let mut out = vec![0.0; 240];
            g.bench_function(format!("{name}/decode_240_of_2048"), |b| {
                b.iter(|| {
                    ColumnMut::F64(&mut out).decode_partial(
                        enc.codec,
                        &enc.payload,
                        BLOCK,
                        900..1140,
                    )
                })
            });
        }
    }
    g.finish();

    let payload = codec::encode(ColumnRef::F64(&bars.close_price)).payload;
    let mut g = c.benchmark_group("compression_decimal_block");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    for (name, comp) in [("lz4", Compression::Lz4), ("zstd3", Compression::Zstd(3))] {
        let stored = comp
            .compress(&payload)
            .unwrap()
            .unwrap_or_else(|| payload.clone());
        g.bench_function(format!("{name}/compress"), |b| {
            b.iter(|| black_box(comp.compress(&payload).unwrap()))
        });
        g.bench_function(format!("{name}/decompress"), |b| {
            b.iter(|| black_box(comp.decompress(&stored, payload.len())))
        });
    }
    g.finish();
}

fn segments(c: &mut Criterion) {
    const ROWS: usize = 65_536;
    let bars = sample::bars(ROWS, 9);
    let opts = WriteOptions::default();
    let bytes = encode_segment(1, &bars, 0..ROWS, &opts).unwrap();
    let mut g = c.benchmark_group("segment_65536_bars");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("encode", |b| {
        b.iter(|| black_box(encode_segment(1, &bars, 0..ROWS, &opts).unwrap()))
    });
    g.bench_function("open_footer", |b| {
        b.iter(|| {
            Segment::open(
                Path::new("bench.seg"),
                ByteView::from_vec(bytes.clone()),
                Some(1),
                BarColumns::schema(),
            )
            .unwrap()
        })
    });
    let seg = Segment::open(
        Path::new("bench.seg"),
        ByteView::from_vec(bytes.clone()),
        Some(1),
        BarColumns::schema(),
    )
    .unwrap();
    g.throughput(Throughput::Elements(BLOCK as u64));
    g.bench_function("decode_one_block", |b| {
        let mut out = BarColumns::default();
        out.resize(BLOCK);
        b.iter(|| {
            for (col, slots) in out.muts().into_iter().enumerate() {
                seg.decode_column(3, col, 0..BLOCK, slots).unwrap();
            }
        })
    });
    g.finish();
}

fn fresh() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db = Engine::open(dir.path().join("db")).unwrap();
    (dir, db)
}

fn writes(c: &mut Criterion) {
    let one = sample::bars(1, 10);
    let mut g = c.benchmark_group("write_paths");
    g.sample_size(20);
    // A bulk save of one bar: a segment file, its fsync, and the manifest commit.
    g.bench_function("commit_one_bar_bulk", |b| {
        let (_dir, db) = fresh();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            db.save_bar_columns(&format!("s{i}"), Exchange::SHFE, Interval::Minute, &one)
                .unwrap()
        })
    });
    // 10,000 bars into the middle of 100,000 stored ones: read, merge, rewrite.
    let base = sample::bars(100_000, 11);
    let mut overlap = BarColumns::default();
    overlap.extend_from(&base, 45_000..55_000);
    overlap.close_price.iter_mut().for_each(|p| *p += 1.0);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("merge_10k_into_100k", |b| {
        b.iter_batched(
            || {
                let (dir, db) = fresh();
                db.save_bar_columns("m", Exchange::SHFE, Interval::Minute, &base)
                    .unwrap();
                (dir, db)
            },
            |(dir, db)| {
                db.save_bar_columns("m", Exchange::SHFE, Interval::Minute, &overlap)
                    .unwrap();
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    // 16 segments of 1,000 bars compacted into one.
    let bars = sample::bars(16_000, 12);
    g.throughput(Throughput::Elements(16_000));
    g.bench_function("compact_16_segments", |b| {
        b.iter_batched(
            || {
                let (dir, db) = fresh();
                for k in 0..16 {
                    let mut part = BarColumns::default();
                    part.extend_from(&bars, k * 1_000..(k + 1) * 1_000);
                    db.save_bar_columns("c", Exchange::SHFE, Interval::Minute, &part)
                        .unwrap();
                }
                (dir, db)
            },
            |(dir, db)| {
                assert!(db.compact().unwrap().segments_in > 1);
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // One stream save of one bar, per WAL sync policy.
    let mut g = c.benchmark_group("stream_append_1_bar");
    for (name, policy) in [
        ("none", SyncPolicy::None),
        ("interval_10ms", SyncPolicy::IntervalMs(10)),
        ("every_commit", SyncPolicy::EveryCommit),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = Engine::builder(dir.path().join("db"))
            .wal_sync(policy)
            .open()
            .unwrap();
        let mut t = 0i64;
        g.bench_function(name, |b| {
            b.iter(|| {
                t += 60;
                let mut bar = tickvault::BarData::new(
                    "w",
                    Exchange::SHFE,
                    Interval::Minute,
                    Timestamp::from_secs(t),
                );
                bar.close_price = t as f64;
                db.save_bar_data(&[bar], true).unwrap()
            })
        });
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    // Ten partitions of 100,000 bars: loaded one after another, then all at once.
    const PARTS: usize = 10;
    const ROWS: usize = 100_000;
    let (_dir, db) = fresh();
    let bars = sample::bars(ROWS, 13);
    let symbols: Vec<String> = (0..PARTS).map(|i| format!("P{i}")).collect();
    for s in &symbols {
        db.save_bar_columns(s, Exchange::SHFE, Interval::Minute, &bars)
            .unwrap();
    }
    let load = |s: &String| {
        db.load_bar_columns(
            s,
            Exchange::SHFE,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap()
        .len()
    };
    let mut g = c.benchmark_group("load_10_partitions_of_100k");
    g.throughput(Throughput::Elements((PARTS * ROWS) as u64));
    g.bench_function("one_after_another", |b| {
        b.iter(|| assert_eq!(symbols.iter().map(load).sum::<usize>(), PARTS * ROWS))
    });
    g.bench_function("in_parallel", |b| {
        b.iter(|| assert_eq!(symbols.par_iter().map(load).sum::<usize>(), PARTS * ROWS))
    });
    // The same loads with one core (a rayon pool of one thread: a load's own parallel column
    // decoding runs on it too): `in_parallel` against this is how loads scale with cores.
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    g.bench_function("one_after_another_on_one_core", |b| {
        b.iter(|| {
            one_core.install(|| assert_eq!(symbols.iter().map(load).sum::<usize>(), PARTS * ROWS))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("overview");
    let (_one_dir, one) = fresh();
    one.save_bar_columns(
        "only",
        Exchange::SHFE,
        Interval::Minute,
        &sample::bars(1_000, 14),
    )
    .unwrap();
    g.bench_function("bars_of_one_series", |b| {
        b.iter(|| black_box(one.get_bar_overview().unwrap()))
    });
    g.bench_function("bars_of_10_series", |b| {
        b.iter(|| black_box(db.get_bar_overview().unwrap()))
    });
    g.finish();
}

criterion_group!(benches, codecs, segments, writes, reads);
criterion_main!(benches);
