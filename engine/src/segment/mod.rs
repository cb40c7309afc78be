//! Segment files, format v1 (FORMAT.md, "Segment file"): write-once, rows in blocks, one
//! checksummed and compressed chunk per column per block, a footer indexing them.
//!
//! Invariants: rows in a segment are strictly ascending by time; every chunk's CRC covers the
//! stored (compressed) bytes and is checked before decompression; nothing in a file is trusted
//! before its checksum is.
#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod reader;
mod writer;

pub use reader::{BlockMeta, ChunkRef, Segment};
pub use writer::{encode_segment, write_segment, WriteOptions};

use crate::model::SeriesKind;

/// The 8 bytes that open and close every segment file: a high byte first so a 7-bit channel
/// is caught, `TVS`, then CR LF, ^Z, LF so newline translation and text-mode reads are caught.
pub const MAGIC: [u8; 8] = *b"\x89TVS\r\n\x1a\n";
/// The segment format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Header: magic, version u16, kind u8, reserved u8, segment id u64, crc u32.
pub const HEADER_LEN: usize = 24;
/// Trailer: footer offset u64, footer length u32, footer crc u32, version u16, reserved u16, magic.
pub const TRAILER_LEN: usize = 28;
/// Footer fixed part: kind u8, column count u8, reserved u16, rows u64, min/max time i64, blocks u32.
pub const FOOTER_FIXED_LEN: usize = 32;
/// Block entry fixed part: rows u32, min time i64, max time i64.
pub const BLOCK_ENTRY_FIXED_LEN: usize = 20;
/// Chunk reference: offset u64, stored u32, raw u32, codec u8, compression u8, reserved u16,
/// min u64, max u64, crc u32.
pub const CHUNK_REF_LEN: usize = 40;
/// The most rows a block may hold.
pub const BLOCK_ROWS_MAX: usize = 1 << 20;
/// The largest decoded chunk accepted (a guard against decompression bombs).
pub const CHUNK_RAW_MAX: usize = 256 << 20;

/// The kind byte of the header and footer.
pub fn kind_id(kind: SeriesKind) -> u8 {
    match kind {
        SeriesKind::Bar => 1,
        SeriesKind::Tick => 2,
    }
}

/// The kind for a kind byte.
pub fn kind_from_id(id: u8) -> Option<SeriesKind> {
    match id {
        1 => Some(SeriesKind::Bar),
        2 => Some(SeriesKind::Tick),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
