//! Encoding a sorted batch into the bytes of one segment file.

use std::ops::Range;

use rayon::prelude::*;

use super::{kind_id, BLOCK_ROWS_MAX, HEADER_LEN, MAGIC, VERSION};
use crate::checksum::{crc, SALT_CHUNK, SALT_FOOTER, SALT_SEGMENT_HEADER};
use crate::codec::{self, Compression};
use crate::columns::Columns;
use crate::error::{Error, Result};

/// How segments are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Rows per block (default 2048): smaller blocks make short range loads cheaper, larger
    /// ones compress better.
    pub block_rows: usize,
    /// Compression after the column codec (default LZ4: after bit packing, zstd saves ~5% more
    /// space but decodes ~15% slower).
    pub compression: Compression,
    /// Whether rows may share a time (kept in their order; default false: times strictly
    /// ascend). Rows that share a time never straddle two blocks.
    pub equal_times: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            block_rows: 2048,
            compression: Compression::Lz4,
            equal_times: false,
        }
    }
}

struct ChunkOut {
    stored: Vec<u8>,
    raw_len: u32,
    codec: codec::Codec,
    compression: u8,
    min: u64,
    max: u64,
}

struct BlockOut {
    rows: u32,
    min_ts: i64,
    max_ts: i64,
    chunks: Vec<ChunkOut>,
}

/// Encodes rows `range` of `cols` (strictly ascending by time, at least one row) as segment
/// `seg_id`.
pub fn encode_segment<C: Columns>(
    seg_id: u64,
    cols: &C,
    range: Range<usize>,
    opts: &WriteOptions,
) -> Result<Vec<u8>> {
    cols.check_lengths()?;
    let times = cols
        .datetimes()
        .get(range.clone())
        .ok_or_else(|| Error::InvalidArgument(format!("row range {range:?} out of bounds")))?;
    if times.is_empty() {
        return Err(Error::InvalidArgument(
            "a segment needs at least one row".into(),
        ));
    }
    let disordered = |w: &[crate::model::Timestamp]| match w {
        [a, b] if opts.equal_times => a > b,
        [a, b] => a >= b,
        _ => false,
    };
    if times.windows(2).any(disordered) {
        return Err(Error::InvalidArgument(
            "segment rows must ascend by time (strictly, unless equal times are allowed)".into(),
        ));
    }
    if !(1..=BLOCK_ROWS_MAX).contains(&opts.block_rows) {
        return Err(Error::InvalidArgument(format!(
            "block_rows must be in 1..={BLOCK_ROWS_MAX}, got {}",
            opts.block_rows
        )));
    }
    let refs = cols.refs();
    // Block bounds; rows that share a time stay in one block.
    let mut bounds: Vec<Range<usize>> = Vec::new();
    let mut s = range.start;
    while s < range.end {
        let mut e = (s + opts.block_rows).min(range.end);
        while e < range.end && times.get(e - range.start) == times.get(e - 1 - range.start) {
            e += 1;
        }
        if e - s > BLOCK_ROWS_MAX {
            return Err(Error::InvalidArgument(format!(
                "more than {BLOCK_ROWS_MAX} rows share one time"
            )));
        }
        bounds.push(s..e);
        s = e;
    }
    let blocks: Vec<BlockOut> = bounds
        .par_iter()
        .map(|r| {
            let r = r.clone();
            let chunks = refs
                .iter()
                .map(|col| {
                    let slice = col.slice(r.clone()).ok_or_else(|| {
                        Error::InvalidArgument("column shorter than datetime".into())
                    })?;
                    let enc = codec::encode(slice);
                    let raw_len = u32::try_from(enc.payload.len()).map_err(|_| {
                        Error::InvalidArgument(
                            "a column chunk exceeds 4 GiB; use smaller blocks".into(),
                        )
                    })?;
                    let (stored, compression) = match opts.compression.compress(&enc.payload)? {
                        Some(c) => (c, opts.compression.id()),
                        None => (enc.payload, Compression::None.id()),
                    };
                    Ok(ChunkOut {
                        stored,
                        raw_len,
                        codec: enc.codec,
                        compression,
                        min: enc.min,
                        max: enc.max,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let first = times.get(r.start - range.start).map_or(0, |t| t.as_ns());
            let last = times.get(r.end - 1 - range.start).map_or(0, |t| t.as_ns());
            Ok(BlockOut {
                rows: r.len() as u32,
                min_ts: first,
                max_ts: last,
                chunks,
            })
        })
        .collect::<Result<_>>()?;

    let data_len: usize = blocks
        .iter()
        .flat_map(|b| &b.chunks)
        .map(|c| c.stored.len())
        .sum();
    let mut out = Vec::with_capacity(HEADER_LEN + data_len + blocks.len() * 300 + 64);
    let id = seg_id.to_le_bytes();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(kind_id(C::KIND));
    out.push(0);
    out.extend_from_slice(&id);
    let header_crc = crc(SALT_SEGMENT_HEADER, &[&out]);
    out.extend_from_slice(&header_crc.to_le_bytes());

    let schema = C::schema();
    let mut footer = Vec::with_capacity(blocks.len() * (20 + 36 * schema.len()) + 64);
    footer.push(kind_id(C::KIND));
    footer.push(schema.len() as u8);
    footer.extend_from_slice(&0u16.to_le_bytes());
    footer.extend_from_slice(&(range.len() as u64).to_le_bytes());
    let (min_ts, max_ts) = match (times.first(), times.last()) {
        (Some(a), Some(b)) => (a.as_ns(), b.as_ns()),
        _ => (0, 0),
    };
    footer.extend_from_slice(&min_ts.to_le_bytes());
    footer.extend_from_slice(&max_ts.to_le_bytes());
    footer.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    for spec in schema {
        footer.push(spec.ty as u8);
    }
    for (bi, block) in blocks.iter().enumerate() {
        footer.extend_from_slice(&block.rows.to_le_bytes());
        footer.extend_from_slice(&block.min_ts.to_le_bytes());
        footer.extend_from_slice(&block.max_ts.to_le_bytes());
        for (ci, chunk) in block.chunks.iter().enumerate() {
            let offset = out.len() as u64;
            let chunk_crc = crc(
                SALT_CHUNK,
                &[&id, &(bi as u32).to_le_bytes(), &[ci as u8], &chunk.stored],
            );
            out.extend_from_slice(&chunk.stored);
            footer.extend_from_slice(&offset.to_le_bytes());
            footer.extend_from_slice(&(chunk.stored.len() as u32).to_le_bytes());
            footer.extend_from_slice(&chunk.raw_len.to_le_bytes());
            footer.push(chunk.codec as u8);
            footer.push(chunk.compression);
            footer.extend_from_slice(&0u16.to_le_bytes());
            footer.extend_from_slice(&chunk.min.to_le_bytes());
            footer.extend_from_slice(&chunk.max.to_le_bytes());
            footer.extend_from_slice(&chunk_crc.to_le_bytes());
        }
    }
    let footer_offset = out.len() as u64;
    let footer_crc = crc(SALT_FOOTER, &[&id, &footer]);
    out.extend_from_slice(&footer);
    out.extend_from_slice(&footer_offset.to_le_bytes());
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(&footer_crc.to_le_bytes());
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&MAGIC);
    Ok(out)
}
