//! Opening a segment file's bytes (header, trailer, footer, all checked) and decoding blocks.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    kind_from_id, BLOCK_ENTRY_FIXED_LEN, BLOCK_ROWS_MAX, CHUNK_RAW_MAX, CHUNK_REF_LEN,
    FOOTER_FIXED_LEN, HEADER_LEN, MAGIC, TRAILER_LEN, VERSION,
};
use crate::checksum::{crc, SALT_CHUNK, SALT_FOOTER, SALT_SEGMENT_HEADER};
use crate::codec::cursor::Cursor;
use crate::codec::{self, Codec, ColumnMut, ColumnType, Compression};
use crate::columns::ColumnSpec;
use crate::error::{Error, Result};
use crate::io::ByteView;
use crate::model::{SeriesKind, Timestamp};

/// Where one column chunk of one block is stored and how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// Byte offset in the file.
    pub offset: u64,
    /// Stored (compressed) length.
    pub stored_len: u32,
    /// Length after decompression.
    pub raw_len: u32,
    /// Column transform.
    pub codec: Codec,
    /// Compression id.
    pub compression: u8,
    /// Minimum (raw bits, see FORMAT.md).
    pub min: u64,
    /// Maximum (raw bits).
    pub max: u64,
    /// Salted CRC32 of the stored bytes.
    pub crc: u32,
}

/// One block's rows, time range and chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// Number of rows.
    pub rows: u32,
    /// Time of the first row.
    pub min_ts: Timestamp,
    /// Time of the last row.
    pub max_ts: Timestamp,
    /// One chunk per column, in schema order.
    pub chunks: Vec<ChunkRef>,
}

/// An open, validated segment.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    bytes: ByteView,
    id: u64,
    kind: SeriesKind,
    rows: u64,
    min_ts: Timestamp,
    max_ts: Timestamp,
    blocks: Vec<BlockMeta>,
    /// Whether the block cache has ever kept a column of this segment (never cleared: a load
    /// that may not fill the cache skips the lookups of segments it never kept).
    cached: AtomicBool,
}

fn corrupt(path: &Path, offset: usize, what: impl Into<String>) -> Error {
    Error::corruption(path, offset as u64, what)
}

impl Segment {
    /// Validates and indexes `bytes`, the whole content of segment file `path`.
    /// `expected_id`, when given, must match the id in the header (catches misplaced files);
    /// `schema` must match the stored column types.
    pub fn open(
        path: &Path,
        bytes: ByteView,
        expected_id: Option<u64>,
        schema: &[ColumnSpec],
    ) -> Result<Segment> {
        let len = bytes.len();
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(
                path,
                0,
                format!("file is {len} bytes, too short for a segment"),
            ));
        }
        let mut h = Cursor::new(&bytes);
        let magic = h
            .array::<8>()
            .ok_or_else(|| corrupt(path, 0, "no header"))?;
        if magic != MAGIC {
            return Err(corrupt(path, 0, "bad magic bytes: not a tickvault segment"));
        }
        let version = h.u16().ok_or_else(|| corrupt(path, 8, "no version"))?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                file: path.to_path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let kind_byte = h.u8().ok_or_else(|| corrupt(path, 10, "no kind"))?;
        let _reserved = h.u8();
        let id = h.u64().ok_or_else(|| corrupt(path, 12, "no segment id"))?;
        let stored_crc = h.u32().ok_or_else(|| corrupt(path, 20, "no header crc"))?;
        let actual = crc(SALT_SEGMENT_HEADER, &[bytes.get(..20).unwrap_or(&[])]);
        if actual != stored_crc {
            return Err(Error::ChecksumMismatch {
                file: path.to_path_buf(),
                offset: 0,
                expected: stored_crc,
                actual,
            });
        }
        let kind = kind_from_id(kind_byte)
            .ok_or_else(|| corrupt(path, 10, format!("unknown kind {kind_byte}")))?;
        if let Some(expected) = expected_id {
            if expected != id {
                return Err(corrupt(
                    path,
                    12,
                    format!("segment id {id} where {expected} was expected"),
                ));
            }
        }

        let t_off = len - TRAILER_LEN;
        let mut t = Cursor::new(bytes.get(t_off..).unwrap_or(&[]));
        let footer_offset = t.u64().ok_or_else(|| corrupt(path, t_off, "no trailer"))?;
        let footer_len = t.u32().ok_or_else(|| corrupt(path, t_off, "no trailer"))? as usize;
        let footer_crc = t.u32().ok_or_else(|| corrupt(path, t_off, "no trailer"))?;
        let t_version = t.u16().ok_or_else(|| corrupt(path, t_off, "no trailer"))?;
        let t_reserved = t.u16().ok_or_else(|| corrupt(path, t_off, "no trailer"))?;
        let end_magic = t
            .array::<8>()
            .ok_or_else(|| corrupt(path, t_off, "no trailer"))?;
        if end_magic != MAGIC {
            return Err(corrupt(
                path,
                len - 8,
                "bad trailing magic bytes: the file is truncated or overwritten",
            ));
        }
        if t_reserved != 0 {
            return Err(corrupt(
                path,
                t_off + 18,
                "reserved trailer bytes are not zero",
            ));
        }
        if t_version != VERSION {
            return Err(Error::UnsupportedVersion {
                file: path.to_path_buf(),
                found: t_version,
                supported: VERSION,
            });
        }
        let f_off = usize::try_from(footer_offset).unwrap_or(usize::MAX);
        if f_off < HEADER_LEN || f_off.checked_add(footer_len) != Some(t_off) {
            return Err(corrupt(
                path,
                t_off,
                format!("footer at {footer_offset}+{footer_len} does not end at the trailer"),
            ));
        }
        let footer = bytes.get(f_off..t_off).unwrap_or(&[]);
        let actual = crc(SALT_FOOTER, &[&id.to_le_bytes(), footer]);
        if actual != footer_crc {
            return Err(Error::ChecksumMismatch {
                file: path.to_path_buf(),
                offset: footer_offset,
                expected: footer_crc,
                actual,
            });
        }
        let (rows, min_ts, max_ts, blocks) = parse_footer(path, footer, f_off, kind, schema)?;
        Ok(Segment {
            path: path.to_path_buf(),
            bytes,
            id,
            kind,
            rows,
            min_ts,
            max_ts,
            blocks,
            cached: AtomicBool::new(false),
        })
    }

    /// Notes that the block cache keeps (or is about to keep) a column of this segment.
    pub(crate) fn note_cached(&self) {
        self.cached.store(true, Ordering::Relaxed);
    }

    /// Whether the block cache may hold a column of this segment.
    pub(crate) fn maybe_cached(&self) -> bool {
        self.cached.load(Ordering::Relaxed)
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment id from the header.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bars or ticks.
    pub fn kind(&self) -> SeriesKind {
        self.kind
    }

    /// Number of rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Time of the first row.
    pub fn min_ts(&self) -> Timestamp {
        self.min_ts
    }

    /// Time of the last row.
    pub fn max_ts(&self) -> Timestamp {
        self.max_ts
    }

    /// The blocks, ascending by time.
    pub fn blocks(&self) -> &[BlockMeta] {
        &self.blocks
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The blocks that may hold rows in `[start, end]`.
    pub fn blocks_in(&self, start: Timestamp, end: Timestamp) -> Range<usize> {
        let lo = self.blocks.partition_point(|b| b.max_ts < start);
        let hi = self.blocks.partition_point(|b| b.min_ts <= end);
        lo..hi.max(lo)
    }

    /// The decompressed payload of column `col` of block `block`, after checking its CRC.
    pub fn chunk_payload(&self, block: usize, col: usize) -> Result<(Codec, Cow<'_, [u8]>)> {
        let chunk = self
            .blocks
            .get(block)
            .and_then(|b| b.chunks.get(col))
            .ok_or_else(|| {
                Error::InvalidArgument(format!("no chunk {block}/{col} in {}", self.path.display()))
            })?;
        let start = usize::try_from(chunk.offset).unwrap_or(usize::MAX);
        let stored = start
            .checked_add(chunk.stored_len as usize)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| corrupt(&self.path, start, "chunk outside the file"))?;
        let actual = crc(
            SALT_CHUNK,
            &[
                &self.id.to_le_bytes(),
                &(block as u32).to_le_bytes(),
                &[col as u8],
                stored,
            ],
        );
        if actual != chunk.crc {
            return Err(Error::ChecksumMismatch {
                file: self.path.clone(),
                offset: chunk.offset,
                expected: chunk.crc,
                actual,
            });
        }
        let compression = Compression::from_id(chunk.compression).ok_or_else(|| {
            corrupt(
                &self.path,
                start,
                format!("unknown compression {}", chunk.compression),
            )
        })?;
        let raw = match compression {
            Compression::None if stored.len() == chunk.raw_len as usize => Cow::Borrowed(stored),
            _ => Cow::Owned(
                compression
                    .decompress(stored, chunk.raw_len as usize)
                    .ok_or_else(|| {
                        corrupt(
                            &self.path,
                            start,
                            "chunk does not decompress to its declared length",
                        )
                    })?,
            ),
        };
        Ok((chunk.codec, raw))
    }

    /// Decodes rows `keep` of column `col` of `block` into `out` (of length `keep.len()`).
    pub fn decode_column(
        &self,
        block: usize,
        col: usize,
        keep: Range<usize>,
        mut out: ColumnMut<'_>,
    ) -> Result<()> {
        let rows = self.blocks.get(block).map_or(0, |b| b.rows as usize);
        let (codec, payload) = self.chunk_payload(block, col)?;
        let ok = if keep.start == 0 && keep.end == rows {
            codec::decode(codec, &payload, out)
        } else {
            out.decode_partial(codec, &payload, rows, keep)
        };
        ok.ok_or_else(|| {
            let offset = self
                .blocks
                .get(block)
                .and_then(|b| b.chunks.get(col))
                .map_or(0, |c| c.offset);
            corrupt(
                &self.path,
                offset as usize,
                format!("column {col} of block {block} does not decode as {codec:?}"),
            )
        })
    }

    /// The times of `block`, decoded.
    pub fn block_times(&self, block: usize) -> Result<Vec<Timestamp>> {
        let rows = self.blocks.get(block).map_or(0, |b| b.rows as usize);
        let mut times = vec![Timestamp::from_ns(0); rows];
        self.decode_column(block, 0, 0..rows, ColumnMut::Time(&mut times))?;
        Ok(times)
    }
}

type Footer = (u64, Timestamp, Timestamp, Vec<BlockMeta>);

fn parse_footer(
    path: &Path,
    footer: &[u8],
    base: usize,
    kind: SeriesKind,
    schema: &[ColumnSpec],
) -> Result<Footer> {
    let bad = |c: &Cursor<'_>, what: &str| corrupt(path, base + c.pos(), format!("footer: {what}"));
    let mut c = Cursor::new(footer);
    if footer.len() < FOOTER_FIXED_LEN {
        return Err(bad(&c, "too short"));
    }
    let kind_byte = c.u8().ok_or_else(|| bad(&c, "truncated"))?;
    if kind_from_id(kind_byte) != Some(kind) {
        return Err(bad(&c, "kind differs from the header's"));
    }
    let ncols = usize::from(c.u8().ok_or_else(|| bad(&c, "truncated"))?);
    let _reserved = c.u16();
    let rows = c.u64().ok_or_else(|| bad(&c, "truncated"))?;
    let min_ts = c.i64().ok_or_else(|| bad(&c, "truncated"))?;
    let max_ts = c.i64().ok_or_else(|| bad(&c, "truncated"))?;
    let nblocks = c.u32().ok_or_else(|| bad(&c, "truncated"))? as usize;
    if ncols != schema.len() {
        return Err(bad(
            &c,
            &format!("{ncols} columns where the schema has {}", schema.len()),
        ));
    }
    for spec in schema {
        let ty = c.u8().ok_or_else(|| bad(&c, "truncated"))?;
        if ColumnType::from_id(ty) != Some(spec.ty) {
            return Err(bad(
                &c,
                &format!("column {} has type {ty}, expected {:?}", spec.name, spec.ty),
            ));
        }
    }
    if nblocks == 0
        || c.remaining() != nblocks.saturating_mul(BLOCK_ENTRY_FIXED_LEN + ncols * CHUNK_REF_LEN)
    {
        return Err(bad(&c, &format!("{nblocks} blocks do not fill the footer")));
    }
    let data_end = base as u64;
    let mut blocks = Vec::with_capacity(nblocks);
    let mut total = 0u64;
    let mut prev_max = i64::MIN;
    for _ in 0..nblocks {
        let b_rows = c.u32().ok_or_else(|| bad(&c, "truncated"))?;
        let b_min = c.i64().ok_or_else(|| bad(&c, "truncated"))?;
        let b_max = c.i64().ok_or_else(|| bad(&c, "truncated"))?;
        if b_rows == 0 || b_rows as usize > BLOCK_ROWS_MAX || b_min > b_max || b_min <= prev_max {
            return Err(bad(&c, "block rows or time range out of order"));
        }
        if b_rows == 1 && b_min != b_max {
            return Err(bad(&c, "a one-row block has two times"));
        }
        prev_max = b_max;
        total += u64::from(b_rows);
        let mut chunks = Vec::with_capacity(ncols);
        for spec in schema {
            let offset = c.u64().ok_or_else(|| bad(&c, "truncated"))?;
            let stored_len = c.u32().ok_or_else(|| bad(&c, "truncated"))?;
            let raw_len = c.u32().ok_or_else(|| bad(&c, "truncated"))?;
            let codec_byte = c.u8().ok_or_else(|| bad(&c, "truncated"))?;
            let compression = c.u8().ok_or_else(|| bad(&c, "truncated"))?;
            let _reserved = c.u16();
            let min = c.u64().ok_or_else(|| bad(&c, "truncated"))?;
            let max = c.u64().ok_or_else(|| bad(&c, "truncated"))?;
            let chunk_crc = c.u32().ok_or_else(|| bad(&c, "truncated"))?;
            let codec =
                Codec::try_from(codec_byte).map_err(|v| bad(&c, &format!("unknown codec {v}")))?;
            let end = offset.checked_add(u64::from(stored_len));
            if offset < HEADER_LEN as u64 || end.is_none_or(|e| e > data_end) {
                return Err(bad(&c, "chunk outside the data area"));
            }
            if raw_len as usize > CHUNK_RAW_MAX
                || (spec.ty != ColumnType::Str && raw_len as usize > b_rows as usize * 8 + 64)
            {
                return Err(bad(&c, "chunk declares an impossible decoded length"));
            }
            chunks.push(ChunkRef {
                offset,
                stored_len,
                raw_len,
                codec,
                compression,
                min,
                max,
                crc: chunk_crc,
            });
        }
        blocks.push(BlockMeta {
            rows: b_rows,
            min_ts: Timestamp::from_ns(b_min),
            max_ts: Timestamp::from_ns(b_max),
            chunks,
        });
    }
    let first = blocks.first().map(|b| b.min_ts.as_ns());
    let last = blocks.last().map(|b| b.max_ts.as_ns());
    if total != rows || first != Some(min_ts) || last != Some(max_ts) {
        return Err(corrupt(
            path,
            base,
            "footer totals disagree with its blocks",
        ));
    }
    Ok((
        rows,
        Timestamp::from_ns(min_ts),
        Timestamp::from_ns(max_ts),
        blocks,
    ))
}
