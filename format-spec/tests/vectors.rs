//! Golden vectors: files in `vectors/good/v1` are written by this test only when missing and
//! read forever after; files in `vectors/bad/v1` are corrupt on purpose and each must fail with
//! a specific error variant. A registry test fails when a bad file has no expectation.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tickvault::codec::{Codec, Compression};
use tickvault::io::{ByteView, RealFs, Storage};
use tickvault::manifest::{Edit, ManifestLog, SegmentMeta};
use tickvault::segment::{encode_segment, Segment, WriteOptions, TRAILER_LEN};
use tickvault::{
    verify, BarColumns, Columns, Database, Engine, Error, Exchange, Interval, SeriesKey,
    TickColumns, Timestamp,
};
use tickvault_format_spec::{golden_bars, golden_ticks};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// The file's bytes; written from `make` only when the file does not exist yet.
fn golden(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    if !path.exists() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, make()).unwrap();
    }
    fs::read(path).unwrap()
}

fn open<C: Columns>(path: &Path, bytes: Vec<u8>) -> Result<Segment, Error> {
    Segment::open(path, ByteView::from_vec(bytes), None, C::schema())
}

fn decode_all<C: Columns>(seg: &Segment) -> Result<C, Error> {
    let mut out = C::default();
    out.resize(seg.rows() as usize);
    for (col, mut slots) in out.muts().into_iter().enumerate() {
        for (b, meta) in seg.blocks().iter().enumerate() {
            let part = slots.split_off_front(meta.rows as usize).unwrap();
            seg.decode_column(b, col, 0..meta.rows as usize, part)?;
        }
    }
    Ok(out)
}

fn same_bits<C: Columns + PartialEq + std::fmt::Debug>(a: &C, b: &C) {
    // PartialEq on floats treats NaN as unequal; compare the debug text, which prints bits
    // faithfully enough for NaN and -0.0, plus every f64 column's bits.
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    for (x, y) in a.refs().iter().zip(b.refs()) {
        if let (tickvault::codec::ColumnRef::F64(x), tickvault::codec::ColumnRef::F64(y)) = (x, y) {
            assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }
}

fn seg_bytes<C: Columns>(cols: &C, id: u64, compression: Compression) -> Vec<u8> {
    encode_segment(
        id,
        cols,
        0..cols.len(),
        &WriteOptions {
            block_rows: 256,
            compression,
            equal_times: false,
        },
    )
    .unwrap()
}

#[test]
fn good_segments_read_forever() {
    let dir = vectors().join("good/v1");
    for (name, compression) in [
        ("bars-zstd.seg", Compression::Zstd(3)),
        ("bars-lz4.seg", Compression::Lz4),
        ("bars-none.seg", Compression::None),
    ] {
        let path = dir.join(name);
        let bytes = golden(&path, || seg_bytes(&golden_bars(), 1, compression));
        let seg = open::<BarColumns>(&path, bytes).unwrap();
        assert_eq!((seg.id(), seg.rows(), seg.blocks().len()), (1, 1000, 4));
        same_bits(&decode_all::<BarColumns>(&seg).unwrap(), &golden_bars());
    }
    // Written after codec 5 (IntPatch) was added: the time column of the block with the hour's
    // gap (rows 256..512) is IntPatch, the others IntPack.
    let path = dir.join("bars-intpatch-lz4.seg");
    let bytes = golden(&path, || seg_bytes(&golden_bars(), 3, Compression::Lz4));
    let seg = open::<BarColumns>(&path, bytes).unwrap();
    let times: Vec<Codec> = seg.blocks().iter().map(|b| b.chunks[0].codec).collect();
    assert_eq!(
        times,
        [
            Codec::IntPack,
            Codec::IntPatch,
            Codec::IntPack,
            Codec::IntPack
        ]
    );
    same_bits(&decode_all::<BarColumns>(&seg).unwrap(), &golden_bars());
    let path = dir.join("ticks-zstd.seg");
    let bytes = golden(&path, || {
        seg_bytes(&golden_ticks(), 2, Compression::Zstd(3))
    });
    let seg = open::<TickColumns>(&path, bytes).unwrap();
    assert_eq!((seg.id(), seg.rows(), seg.blocks().len()), (2, 300, 2));
    same_bits(&decode_all::<TickColumns>(&seg).unwrap(), &golden_ticks());
}

fn write_golden_store(root: &Path) {
    let db = Engine::open(root).unwrap();
    let bars = golden_bars();
    let mut first = BarColumns::default();
    first.extend_from(&bars, 0..600);
    db.save_bar_columns("IF2401", Exchange::CFFEX, Interval::Minute, &first)
        .unwrap();
    // Overlaps the first save: a merge-on-write with a remove edit.
    let mut rest = BarColumns::default();
    rest.extend_from(&bars, 400..1000);
    db.save_bar_columns("IF2401", Exchange::CFFEX, Interval::Minute, &rest)
        .unwrap();
    db.save_tick_columns("rb2610", Exchange::SHFE, &golden_ticks())
        .unwrap();
    db.save_bar_columns("../Odd Name", Exchange::SSE, Interval::Daily, &first)
        .unwrap();
    assert_eq!(
        db.delete_bar_data("../Odd Name", Exchange::SSE, Interval::Daily)
            .unwrap(),
        600
    );
}

#[test]
fn golden_store_opens_read_only() {
    let root = vectors().join("good/v1/store");
    if !root.join("MANIFEST-0000000000000001").exists() {
        write_golden_store(&root);
    }
    let db = Engine::open_read_only(&root).unwrap();
    let bars = db
        .load_bar_columns(
            "IF2401",
            Exchange::CFFEX,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap();
    same_bits(&bars, &golden_bars());
    let ticks = db
        .load_tick_columns("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    same_bits(&ticks, &golden_ticks());
    let ov = db.get_bar_overview().unwrap();
    assert_eq!(ov.len(), 1);
    assert_eq!(ov[0].count, 1000);
    assert_eq!(db.get_tick_overview().unwrap()[0].count, 300);
    assert_eq!(db.info().unwrap().segments, 2);
}

/// How each corrupt file must fail.
type Check = fn(&Error) -> bool;

fn bad_files() -> Vec<(&'static str, Vec<u8>, Check)> {
    let good = seg_bytes(&golden_bars(), 1, Compression::Zstd(3));
    let footer_offset = {
        let t = good.len() - TRAILER_LEN;
        u64::from_le_bytes(good[t..t + 8].try_into().unwrap()) as usize
    };
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    vec![
        ("segment-bad-magic.seg", with(&|b| b[1] = b'X'), |e| {
            matches!(e, Error::Corruption { offset: 0, .. })
        }),
        (
            "segment-future-version.seg",
            with(&|b| {
                b[8] = 2;
                let crc = header_crc(&b[..20]);
                b[20..24].copy_from_slice(&crc.to_le_bytes());
            }),
            |e| {
                matches!(
                    e,
                    Error::UnsupportedVersion {
                        found: 2,
                        supported: 1,
                        ..
                    }
                )
            },
        ),
        ("segment-header-flip.seg", with(&|b| b[13] ^= 1), |e| {
            matches!(e, Error::ChecksumMismatch { offset: 0, .. })
        }),
        (
            "segment-truncated.seg",
            with(&|b| b.truncate(b.len() - 100)),
            |e| matches!(e, Error::Corruption { .. }),
        ),
        ("segment-empty.seg", Vec::new(), |e| {
            matches!(e, Error::Corruption { offset: 0, .. })
        }),
        ("segment-chunk-flip.seg", with(&|b| b[40] ^= 0x80), |e| {
            matches!(e, Error::ChecksumMismatch { offset: 24, .. })
        }),
        (
            "segment-footer-flip.seg",
            with(&|b| b[footer_offset + 40] ^= 1),
            |e| matches!(e, Error::ChecksumMismatch { offset, .. } if *offset > 24),
        ),
    ]
}

/// The header CRC as FORMAT.md defines it (salted CRC-32 of bytes 0..20).
fn header_crc(bytes: &[u8]) -> u32 {
    let mut h = crc32fast_like::Hasher::new(0x5456_4801);
    h.update(bytes);
    h.finalize()
}

/// A bitwise CRC-32 (IEEE, reflected) written from the spec, so the test does not reuse the
/// engine's checksum code.
mod crc32fast_like {
    pub struct Hasher(u32);
    impl Hasher {
        pub fn new(initial: u32) -> Self {
            Hasher(!initial)
        }
        pub fn update(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 ^= u32::from(b);
                for _ in 0..8 {
                    self.0 = if self.0 & 1 == 1 {
                        (self.0 >> 1) ^ 0xEDB8_8320
                    } else {
                        self.0 >> 1
                    };
                }
            }
        }
        pub fn finalize(self) -> u32 {
            !self.0
        }
    }
}

#[test]
fn bad_segments_fail_with_their_error() {
    let dir = vectors().join("bad/v1");
    for (name, make, check) in bad_files() {
        let path = dir.join(name);
        let bytes = golden(&path, || make);
        let err = open::<BarColumns>(&path, bytes)
            .and_then(|seg| decode_all::<BarColumns>(&seg).map(|_| ()))
            .expect_err(name);
        assert!(check(&err), "{name}: unexpected error {err:?}");
    }
}

#[test]
fn manifest_damaged_mid_log_refuses_to_open() {
    let root = vectors().join("bad/v1/manifest-mid-log");
    let file = root.join("MANIFEST-0000000000000001");
    if !file.exists() {
        let tmp = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(RealFs::default());
        let (mut log, _) = ManifestLog::open(storage, tmp.path()).unwrap();
        let key = SeriesKey::bar("IF2401", Exchange::CFFEX, Interval::Minute).unwrap();
        let meta = |id: u64, a: i64| SegmentMeta {
            id,
            rows: 1,
            min_ts: Timestamp::from_ns(a),
            max_ts: Timestamp::from_ns(a),
            file_len: 60,
        };
        log.append(2, 0, vec![Edit::Add(key.clone(), meta(1, 10))])
            .unwrap();
        log.append(3, 0, vec![Edit::Add(key, meta(2, 20))]).unwrap();
        drop(log);
        let mut bytes = fs::read(tmp.path().join("MANIFEST-0000000000000001")).unwrap();
        // The checkpoint is header (24) + frame; flip a byte inside the first edit's payload.
        let checkpoint_len =
            24 + 8 + u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
        bytes[checkpoint_len + 12] ^= 1;
        fs::create_dir_all(&root).unwrap();
        fs::write(&file, bytes).unwrap();
    }
    let err = Engine::open_read_only(&root).unwrap_err();
    assert!(
        matches!(err, Error::Corruption { ref file, .. } if file.ends_with("MANIFEST-0000000000000001")),
        "{err:?}"
    );
}

#[test]
fn every_bad_vector_has_an_expectation() {
    let known: Vec<&str> = bad_files()
        .iter()
        .map(|(n, _, _)| *n)
        .chain([
            "manifest-mid-log",
            "wal-bad-magic",
            "wal-header-flip",
            "wal-mid-flip",
            "wal-record-after-zeros",
            "wal-sequence-gap",
        ])
        .collect();
    let dir = vectors().join("bad/v1");
    if !dir.exists() {
        return bad_segments_fail_with_their_error();
    }
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            known.contains(&name.as_str()),
            "vectors/bad/v1/{name} has no test expectation"
        );
    }
}

/// A WAL file of three records (bars, ticks, both) starting at sequence `first`.
fn wal_bytes(first: u64) -> Vec<u8> {
    use tickvault::wal::{frame, header, RecordBuilder};
    let bars = golden_bars();
    let ticks = golden_ticks();
    let bar_key = SeriesKey::bar("IF2401", Exchange::CFFEX, Interval::Minute).unwrap();
    let tick_key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    let part = |cols: &BarColumns, r: std::ops::Range<usize>| {
        let mut c = BarColumns::default();
        c.extend_from(cols, r);
        c
    };
    let (b1, b2) = (part(&bars, 0..3), part(&bars, 3..5));
    let mut t1 = TickColumns::default();
    t1.extend_from(&ticks, 0..2);
    let mut out = header(first);
    let mut r = RecordBuilder::new(first, 1);
    r.add(&bar_key, &b1);
    out.extend_from_slice(&frame(first, &r.finish()));
    let mut r = RecordBuilder::new(first + 1, 1);
    r.add(&tick_key, &t1);
    out.extend_from_slice(&frame(first, &r.finish()));
    let mut r = RecordBuilder::new(first + 2, 2);
    r.add(&bar_key, &b2);
    r.add(&tick_key, &t1);
    out.extend_from_slice(&frame(first, &r.finish()));
    out
}

fn replay_dir(
    dir: &Path,
    flushed: u64,
) -> Result<(tickvault::wal::Replayed, Vec<u64>, usize), Error> {
    let mut seqs = Vec::new();
    let mut rows = 0;
    let replayed = tickvault::wal::replay(&RealFs::default(), dir, flushed, |seq, entries| {
        seqs.push(seq);
        rows += entries.iter().map(|e| e.rows()).sum::<usize>();
        Ok(())
    })?;
    Ok((replayed, seqs, rows))
}

#[test]
fn good_wal_replays_forever() {
    let dir = vectors().join("good/v1/wal");
    golden(&dir.join("00000000000000000001.wal"), || wal_bytes(1));
    let (replayed, seqs, rows) = replay_dir(&dir, 0).unwrap();
    assert_eq!(
        (replayed.last_seq, replayed.records, seqs, rows),
        (3, 3, vec![1, 2, 3], 3 + 2 + 2 + 2)
    );
    // Records at or below the flushed sequence are skipped.
    let (replayed, seqs, _) = replay_dir(&dir, 2).unwrap();
    assert_eq!((replayed.last_seq, seqs), (3, vec![3]));
    // The same records followed by zeros, as an `every-commit` writer leaves a file.
    let dir = vectors().join("good/v1/wal-zeros");
    golden(&dir.join("00000000000000000001.wal"), wal_with_zeros);
    let (replayed, seqs, rows) = replay_dir(&dir, 0).unwrap();
    assert_eq!(
        (replayed.last_seq, replayed.records, seqs, rows),
        (3, 3, vec![1, 2, 3], 3 + 2 + 2 + 2)
    );
}

/// `wal_bytes(1)` followed by zeros to the next 4 KiB boundary and 4 KiB more.
fn wal_with_zeros() -> Vec<u8> {
    let mut b = wal_bytes(1);
    b.resize(b.len().next_multiple_of(4096) + 4096, 0);
    b
}

#[test]
fn bad_wals_fail_with_their_error() {
    let good = wal_bytes(1);
    let flip = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 0x04;
        b
    };
    type Files = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, Files, Check)> = vec![
        (
            "wal-bad-magic",
            vec![("00000000000000000001.wal", flip(2))],
            |e| matches!(e, Error::Corruption { offset: 0, .. }),
        ),
        (
            "wal-header-flip",
            vec![("00000000000000000001.wal", flip(13))],
            |e| matches!(e, Error::ChecksumMismatch { offset: 0, .. }),
        ),
        (
            "wal-mid-flip",
            vec![("00000000000000000001.wal", flip(24 + 8 + 20))],
            |e| matches!(e, Error::Corruption { offset: 24, .. }),
        ),
        (
            // Zeros, then a record: the zeros are not a torn tail but a hole in the log.
            "wal-record-after-zeros",
            vec![("00000000000000000001.wal", {
                // The first record again, whole, after 64 zero bytes.
                let records = wal_bytes(1);
                let len = u32::from_le_bytes(records[24..28].try_into().unwrap()) as usize;
                let mut b = records.clone();
                b.resize(records.len() + 64, 0);
                b.extend_from_slice(&records[24..24 + 8 + len]);
                b
            })],
            |e| matches!(e, Error::Corruption { offset, .. } if *offset == wal_bytes(1).len() as u64),
        ),
        (
            "wal-sequence-gap",
            vec![
                ("00000000000000000001.wal", good.clone()),
                ("00000000000000000009.wal", wal_bytes(9)),
            ],
            |e| matches!(e, Error::Corruption { offset: 12, ref file, .. } if file.ends_with("00000000000000000009.wal")),
        ),
    ];
    for (name, files, check) in cases {
        let dir = vectors().join("bad/v1").join(name);
        for (file, bytes) in files {
            golden(&dir.join(file), || bytes);
        }
        let err = replay_dir(&dir, 0).expect_err(name);
        assert!(check(&err), "{name}: unexpected error {err:?}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn golden_store_with_a_wal_recovers() {
    let root = vectors().join("good/v1/store-wal");
    if !root.join("MANIFEST-0000000000000001").exists() {
        let db = Engine::open(&root).unwrap();
        let bars = golden_bars();
        let mut first = BarColumns::default();
        first.extend_from(&bars, 0..700);
        let key = SeriesKey::bar("IF2401", Exchange::CFFEX, Interval::Minute).unwrap();
        db.save_columns(&key, &first, true).unwrap();
        db.flush().unwrap();
        let mut rest = BarColumns::default();
        rest.extend_from(&bars, 690..1000);
        db.save_columns(&key, &rest, true).unwrap();
        db.abandon();
    }
    // A read-only open sees the flushed rows; a writer recovers the rest from the WAL.
    let ro = Engine::open_read_only(&root).unwrap();
    assert_eq!(ro.get_bar_overview().unwrap()[0].count, 700);
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&root, &tmp.path().join("db"));
    let db = Engine::open(tmp.path().join("db")).unwrap();
    assert_eq!(db.info().unwrap().memtable_rows, 310);
    let all = db
        .load_bar_columns(
            "IF2401",
            Exchange::CFFEX,
            Interval::Minute,
            Timestamp::MIN,
            Timestamp::MAX,
        )
        .unwrap();
    same_bits(&all, &golden_bars());
    assert_eq!(db.get_bar_overview().unwrap()[0].count, 1000);
}

#[test]
fn golden_store_keeping_same_time_ticks() {
    let root = vectors().join("good/v1/store-same-time");
    let ticks = |secs: &[i64]| {
        let mut c = TickColumns::default();
        for (i, &s) in secs.iter().enumerate() {
            let mut t = tickvault::TickData::new(
                "SR609",
                Exchange::CZCE,
                Timestamp::from_secs(1_767_600_000 + s),
            );
            t.last_price = 6000.0 + i as f64;
            c.push_row(&t);
        }
        c
    };
    if !root.join("MANIFEST-0000000000000001").exists() {
        let db = Engine::builder(&root)
            .keep_same_time_ticks(true)
            .block_rows(4)
            .open()
            .unwrap();
        let key = SeriesKey::tick("SR609", Exchange::CZCE).unwrap();
        db.save_columns(&key, &ticks(&[0, 0, 1, 1, 1, 1, 1, 2]), false)
            .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(fs::read(root.join("OPTIONS")).unwrap().len(), 24);
    let db = Engine::open_read_only(&root).unwrap();
    assert!(db.keeps_same_time_ticks());
    let got = db
        .load_tick_columns("SR609", Exchange::CZCE, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(got.datetime, ticks(&[0, 0, 1, 1, 1, 1, 1, 2]).datetime);
    assert_eq!(
        got.last_price,
        (0..8).map(|i| 6000.0 + i as f64).collect::<Vec<_>>()
    );
}

/// Every single-byte flip of every golden segment is a typed error: never a panic, never a value
/// that differs from the original.
#[test]
fn every_byte_flip_of_a_golden_segment_is_a_typed_error() {
    let dir = vectors().join("good/v1");
    let mut flips = 0;
    for name in [
        "bars-zstd.seg",
        "bars-lz4.seg",
        "bars-none.seg",
        "ticks-zstd.seg",
    ] {
        let path = dir.join(name);
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            let result = if name.starts_with("ticks") {
                open::<TickColumns>(&path, bad)
                    .and_then(|s| decode_all::<TickColumns>(&s).map(|_| ()))
            } else {
                open::<BarColumns>(&path, bad)
                    .and_then(|s| decode_all::<BarColumns>(&s).map(|_| ()))
            };
            let err = result.expect_err(&format!("{name}: flip at byte {i} went unnoticed"));
            assert!(err.is_corruption(), "{name} byte {i}: {err:?}");
            flips += 1;
        }
    }
    assert!(flips > 10_000, "{flips}");
}

/// Every single-byte flip of every file of the golden store with a WAL: `verify` reports it, or —
/// for a flip in the WAL's last record, which is indistinguishable from a torn write — a writer
/// recovers the rows before it and nothing else.
#[test]
fn every_byte_flip_of_the_golden_wal_store_is_found_or_a_torn_tail() {
    let root = vectors().join("good/v1/store-wal");
    let files: Vec<PathBuf> = {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else if p.file_name().is_some_and(|n| n != "LOCK") {
                    out.push(p)
                }
            }
        }
        let mut v = Vec::new();
        walk(&root, &mut v);
        v
    };
    let (mut found, mut torn) = (0, 0);
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_path_buf();
        let good = fs::read(file).unwrap();
        // Every byte of the small files; every 89th of the large ones (each flip reopens a store).
        let step = if good.len() > 4096 { 89 } else { 1 };
        for i in (0..good.len()).step_by(step) {
            let tmp = tempfile::tempdir().unwrap();
            let copy = tmp.path().join("db");
            copy_dir(&root, &copy);
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            fs::write(copy.join(&rel), &bad).unwrap();
            let report = verify(&copy, true).unwrap();
            if !report.problems.is_empty() {
                found += 1;
                continue;
            }
            assert!(
                rel.starts_with("wal"),
                "{} byte {i}: a flip went unnoticed",
                rel.display()
            );
            let db = Engine::open(&copy).unwrap();
            let got = db
                .load_bar_columns(
                    "IF2401",
                    Exchange::CFFEX,
                    Interval::Minute,
                    Timestamp::MIN,
                    Timestamp::MAX,
                )
                .unwrap();
            let all = golden_bars();
            assert!(
                got.len() >= 700 && got.len() < all.len(),
                "{} byte {i}: {} rows",
                rel.display(),
                got.len()
            );
            assert_eq!(
                got.close_price[..],
                all.close_price[..got.len()],
                "{} byte {i}",
                rel.display()
            );
            torn += 1;
        }
    }
    eprintln!("golden store flips: {found} reported, {torn} read as a torn WAL tail");
    assert!(found > 100 && torn > 100, "{found} {torn}");
}
