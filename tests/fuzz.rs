//! Harnesses for the fuzz targets in `fuzz/` (cargo-fuzz, nightly), also run over the checked-in
//! corpora as ordinary tests (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes and must never
//! panic: every malformed input is a typed error.

use std::path::Path;

use tickvault::codec::{self, Codec, ColumnMut};
use tickvault::io::{ByteView, Storage};
use tickvault::segment::Segment;
use tickvault::{BarColumns, Columns, TickColumns, Timestamp};

use crate::simfs::SimFs;

fn decode_all<C: Columns>(seg: &Segment) {
    for (b, block) in seg.blocks().iter().enumerate() {
        let rows = block.rows as usize;
        let mut out = C::default();
        out.resize(rows);
        for (col, slots) in out.muts().into_iter().enumerate() {
            let _ = seg.decode_column(b, col, 0..rows, slots);
        }
        let _ = seg.block_times(b);
    }
}

/// A whole segment file, as bars and as ticks.
pub fn segment(data: &[u8]) {
    let path = Path::new("fuzz.seg");
    if let Ok(seg) = Segment::open(
        path,
        ByteView::from_vec(data.to_vec()),
        None,
        BarColumns::schema(),
    ) {
        decode_all::<BarColumns>(&seg);
    }
    if let Ok(seg) = Segment::open(
        path,
        ByteView::from_vec(data.to_vec()),
        None,
        TickColumns::schema(),
    ) {
        decode_all::<TickColumns>(&seg);
    }
}

/// `segment` behind its checksums: the header, chunk and footer CRCs of `data` are first set
/// to match (as far as the footer's layout can be read), so that mutations reach the footer's
/// structure checks, decompression and the column decoders instead of stopping at a CRC.
pub fn segment_fixed(data: &[u8]) {
    segment(&fix_segment_checksums(data));
}

/// CRC-32 with a salt as the initial value (`format-spec/FORMAT.md`, "Checksums").
fn salted_crc(salt: u32, parts: &[&[u8]]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new_with_initial(salt);
    parts.iter().for_each(|p| h.update(p));
    h.finalize().to_le_bytes()
}

fn le_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

fn le_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// `data` with every checksum of a segment file recomputed, following the layout of
/// `format-spec/FORMAT.md` ("Segment file"): the header CRC, each chunk CRC whose chunk lies in
/// the file, then the footer CRC. A valid segment comes back unchanged.
pub fn fix_segment_checksums(data: &[u8]) -> Vec<u8> {
    const SALT_HEADER: u32 = 0x5456_4801;
    const SALT_CHUNK: u32 = 0x5456_4302;
    const SALT_FOOTER: u32 = 0x5456_4603;
    const TRAILER: usize = 28;
    let mut d = data.to_vec();
    let n = d.len();
    if n < 24 + TRAILER {
        return d;
    }
    let header = salted_crc(SALT_HEADER, &[&d[..20]]);
    d[20..24].copy_from_slice(&header);
    let id = d[12..20].to_vec();
    let t = n - TRAILER;
    let (Some(foot), Some(flen)) = (le_u64(&d, t), le_u32(&d, t + 8)) else {
        return d;
    };
    let Some((foot, end)) = usize::try_from(foot)
        .ok()
        .and_then(|f| Some((f, f.checked_add(flen as usize)?)))
        .filter(|&(_, e)| e <= t)
    else {
        return d;
    };
    if flen >= 32 {
        let cols = usize::from(d[foot + 1]);
        let blocks = le_u32(&d, foot + 28).unwrap_or(0) as usize;
        let mut at = foot + 32 + cols;
        'blocks: for block in 0..blocks as u32 {
            // The block count is as untrusted as the rest: stop where the footer ends.
            if at + 20 > end {
                break;
            }
            at += 20;
            for col in 0..cols {
                if at + 40 > end {
                    break 'blocks;
                }
                let off = le_u64(&d, at).and_then(|o| usize::try_from(o).ok());
                let len = le_u32(&d, at + 8).unwrap_or(0) as usize;
                if let Some(off) = off.filter(|o| o.checked_add(len).is_some_and(|e| e <= n)) {
                    let sum = salted_crc(
                        SALT_CHUNK,
                        &[&id, &block.to_le_bytes(), &[col as u8], &d[off..off + len]],
                    );
                    d[at + 36..at + 40].copy_from_slice(&sum);
                }
                at += 40;
            }
        }
    }
    let footer = salted_crc(SALT_FOOTER, &[&id, &d[foot..end]]);
    d[t + 12..t + 16].copy_from_slice(&footer);
    d
}

/// The column decoders behind the checksums: byte 0 picks the codec, byte 1 the row count, the
/// rest is the payload (what a chunk holds after its CRC matched and it decompressed).
pub fn codecs(data: &[u8]) {
    let (Some(&c), Some(&n)) = (data.first(), data.get(1)) else {
        return;
    };
    let Some(&codec) = Codec::ALL.get(usize::from(c) % Codec::ALL.len()) else {
        return;
    };
    let payload = data.get(2..).unwrap_or(&[]);
    let n = usize::from(n) * 4;
    let mut times = vec![Timestamp::from_ns(0); n];
    let whole_times = codec::decode(codec, payload, ColumnMut::Time(&mut times));
    let mut opt = vec![None; n];
    let _ = codec::decode(codec, payload, ColumnMut::OptTime(&mut opt));
    let mut floats = vec![0.0; n];
    let whole_floats = codec::decode(codec, payload, ColumnMut::F64(&mut floats));
    let mut strings = vec![tickvault::SmolStr::default(); n];
    let _ = codec::decode(codec, payload, ColumnMut::Str(&mut strings));
    // A range of the rows, from the payload's length: where the whole decodes, the range
    // decodes to its slice (the range decoders skip what comes before it).
    let start = payload.len() % (n + 1);
    let keep = start..start + (payload.len() / 7) % (n + 1 - start);
    let mut part = vec![Timestamp::from_ns(0); keep.len()];
    let got = ColumnMut::Time(&mut part).decode_partial(codec, payload, n, keep.clone());
    if whole_times.is_some() {
        assert_eq!(got.map(|()| part), Some(times[keep.clone()].to_vec()));
    }
    let mut part = vec![0.0; keep.len()];
    let got = ColumnMut::F64(&mut part).decode_partial(codec, payload, n, keep.clone());
    if whole_floats.is_some() {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(got.map(|()| bits(&part)), Some(bits(&floats[keep])));
    }
    for compression in codec::Compression::ALL {
        let _ = compression.decompress(payload, n * 8);
    }
}

/// Manifest and WAL record payloads (what a record holds after its CRC matched).
pub fn records(data: &[u8]) {
    let _ = tickvault::manifest::decode_record(data);
    let _ = tickvault::wal::decode_record(data);
}

/// A whole manifest file, opened as a store would open it (on the in-memory `SimFs`, so that
/// millions of executions do not wait on a real file system).
pub fn manifest(data: &[u8]) {
    let Some(fs) = disk_with(Path::new("/f/MANIFEST-0000000000000001"), data) else {
        return;
    };
    let _ = tickvault::manifest::ManifestReader::open(std::sync::Arc::new(fs), Path::new("/f"));
}

/// A whole WAL file, replayed as recovery would (on `SimFs`).
pub fn wal(data: &[u8]) {
    let Some(fs) = disk_with(Path::new("/f/00000000000000000001.wal"), data) else {
        return;
    };
    let _ = tickvault::wal::replay(&fs, Path::new("/f"), 0, |_, _| Ok(()));
}

/// An in-memory disk holding one file.
fn disk_with(path: &Path, data: &[u8]) -> Option<SimFs> {
    let fs = SimFs::new();
    fs.create_dir(path.parent()?).ok()?;
    let file = fs.create(path).ok()?;
    file.write_all_at(data, 0).ok()?;
    Some(fs)
}
