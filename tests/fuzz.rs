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

/// The column decoders behind the checksums: byte 0 picks the codec, byte 1 the row count, the
/// rest is the payload (what a chunk holds after its CRC matched and it decompressed).
pub fn codecs(data: &[u8]) {
    let (Some(&c), Some(&n)) = (data.first(), data.get(1)) else {
        return;
    };
    let Ok(codec) = Codec::try_from(c % 5) else {
        return;
    };
    let payload = data.get(2..).unwrap_or(&[]);
    let n = usize::from(n) * 4;
    let mut times = vec![Timestamp::from_ns(0); n];
    let _ = codec::decode(codec, payload, ColumnMut::Time(&mut times));
    let mut opt = vec![None; n];
    let _ = codec::decode(codec, payload, ColumnMut::OptTime(&mut opt));
    let mut floats = vec![0.0; n];
    let _ = codec::decode(codec, payload, ColumnMut::F64(&mut floats));
    let mut strings = vec![std::sync::Arc::<str>::from(""); n];
    let _ = codec::decode(codec, payload, ColumnMut::Str(&mut strings));
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
