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
    crc: u32,
}

struct BlockOut {
    rows: u32,
    min_ts: i64,
    max_ts: i64,
    chunks: Vec<ChunkOut>,
}

/// Blocks encoded together before their bytes are handed on: enough to keep every core busy,
/// few enough that a group's bytes (about 550 KB of bars at the default block size) are still
/// in cache on their way out.
const GROUP_BLOCKS: usize = 32;

/// Encodes rows `range` of `cols` (strictly ascending by time, at least one row) as the bytes
/// of segment `seg_id`.
pub fn encode_segment<C: Columns>(
    seg_id: u64,
    cols: &C,
    range: Range<usize>,
    opts: &WriteOptions,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_segment(seg_id, cols, range, opts, |bytes| {
        out.extend_from_slice(bytes);
        Ok(())
    })?;
    Ok(out)
}

/// Encodes rows `range` of `cols` (strictly ascending by time, at least one row) as segment
/// `seg_id`, handing its bytes to `sink` in order, and returns the segment's length.
///
/// Blocks are encoded a group (32 blocks) at a time on rayon's threads, and a group's
/// bytes go to `sink` while the next group is encoded: a sink that writes a file overlaps the
/// writing with the encoding, and nothing ever holds the whole segment. An error from `sink`
/// stops the encoding and is returned.
pub fn write_segment<C: Columns>(
    seg_id: u64,
    cols: &C,
    range: Range<usize>,
    opts: &WriteOptions,
    sink: impl FnMut(&[u8]) -> Result<()> + Send,
) -> Result<u64> {
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
    let id = seg_id.to_le_bytes();
    let time_at = |row: usize| times.get(row - range.start).map_or(0, |t| t.as_ns());
    // Encodes block `bi` (rows `r`): every column's chunk, compressed and checksummed.
    let encode_block = |bi: usize, r: &Range<usize>| -> Result<BlockOut> {
        let chunks = refs
            .iter()
            .enumerate()
            .map(|(ci, col)| {
                let slice = col
                    .slice(r.clone())
                    .ok_or_else(|| Error::InvalidArgument("column shorter than datetime".into()))?;
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
                let crc = crc(
                    SALT_CHUNK,
                    &[&id, &(bi as u32).to_le_bytes(), &[ci as u8], &stored],
                );
                Ok(ChunkOut {
                    stored,
                    raw_len,
                    codec: enc.codec,
                    compression,
                    min: enc.min,
                    max: enc.max,
                    crc,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BlockOut {
            rows: r.len() as u32,
            min_ts: time_at(r.start),
            max_ts: time_at(r.end - 1),
            chunks,
        })
    };

    let mut out = Emitter {
        sink,
        group: Vec::new(),
        footer: Vec::with_capacity(bounds.len() * (20 + 40 * refs.len()) + 64),
        offset: 0,
    };
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.push(kind_id(C::KIND));
    header.push(0);
    header.extend_from_slice(&id);
    let header_crc = crc(SALT_SEGMENT_HEADER, &[&header]);
    header.extend_from_slice(&header_crc.to_le_bytes());
    out.emit(&header)?;

    let schema = C::schema();
    let footer = &mut out.footer;
    footer.push(kind_id(C::KIND));
    footer.push(schema.len() as u8);
    footer.extend_from_slice(&0u16.to_le_bytes());
    footer.extend_from_slice(&(range.len() as u64).to_le_bytes());
    footer.extend_from_slice(&time_at(range.start).to_le_bytes());
    footer.extend_from_slice(&time_at(range.end - 1).to_le_bytes());
    footer.extend_from_slice(&(bounds.len() as u32).to_le_bytes());
    for spec in schema {
        footer.push(spec.ty as u8);
    }

    // Group `g + 1` is encoded while group `g` is handed on.
    let mut encoded: Option<Vec<BlockOut>> = None;
    for (g, group) in bounds.chunks(GROUP_BLOCKS).enumerate() {
        let first = g * GROUP_BLOCKS;
        let (handed, next) = rayon::join(
            || encoded.take().map_or(Ok(()), |blocks| out.blocks(blocks)),
            || {
                group
                    .par_iter()
                    .enumerate()
                    .map(|(i, r)| encode_block(first + i, r))
                    .collect::<Result<Vec<_>>>()
            },
        );
        handed?;
        encoded = Some(next?);
    }
    if let Some(blocks) = encoded {
        out.blocks(blocks)?;
    }

    let footer_offset = out.offset;
    let footer = std::mem::take(&mut out.footer);
    let footer_crc = crc(SALT_FOOTER, &[&id, &footer]);
    let mut tail = footer;
    let footer_len = tail.len() as u32;
    tail.extend_from_slice(&footer_offset.to_le_bytes());
    tail.extend_from_slice(&footer_len.to_le_bytes());
    tail.extend_from_slice(&footer_crc.to_le_bytes());
    tail.extend_from_slice(&VERSION.to_le_bytes());
    tail.extend_from_slice(&0u16.to_le_bytes());
    tail.extend_from_slice(&MAGIC);
    out.emit(&tail)?;
    Ok(out.offset)
}

/// Hands a segment's bytes to its sink in order, keeping the offset, and writes the footer's
/// block entries as the blocks go out.
struct Emitter<S> {
    sink: S,
    /// A group's chunks, gathered for one hand-over (reused).
    group: Vec<u8>,
    footer: Vec<u8>,
    offset: u64,
}

impl<S: FnMut(&[u8]) -> Result<()>> Emitter<S> {
    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        (self.sink)(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Hands on the chunks of `blocks`, in order, as one piece, and adds their footer entries.
    fn blocks(&mut self, blocks: Vec<BlockOut>) -> Result<()> {
        let mut group = std::mem::take(&mut self.group);
        group.clear();
        let footer = &mut self.footer;
        for block in &blocks {
            footer.extend_from_slice(&block.rows.to_le_bytes());
            footer.extend_from_slice(&block.min_ts.to_le_bytes());
            footer.extend_from_slice(&block.max_ts.to_le_bytes());
            for chunk in &block.chunks {
                let offset = self.offset + group.len() as u64;
                group.extend_from_slice(&chunk.stored);
                footer.extend_from_slice(&offset.to_le_bytes());
                footer.extend_from_slice(&(chunk.stored.len() as u32).to_le_bytes());
                footer.extend_from_slice(&chunk.raw_len.to_le_bytes());
                footer.push(chunk.codec as u8);
                footer.push(chunk.compression);
                footer.extend_from_slice(&0u16.to_le_bytes());
                footer.extend_from_slice(&chunk.min.to_le_bytes());
                footer.extend_from_slice(&chunk.max.to_le_bytes());
                footer.extend_from_slice(&chunk.crc.to_le_bytes());
            }
        }
        drop(blocks);
        let result = self.emit(&group);
        self.group = group;
        result
    }
}
