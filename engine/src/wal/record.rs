//! WAL record payloads: one stream save, any number of series, rows stored raw (FORMAT.md,
//! "Write-ahead log").

use smol_str::SmolStr;

use crate::codec::cursor::Cursor;
use crate::codec::{ColumnRef, ColumnVec};
use crate::columns::{BarColumns, Columns, TickColumns};
use crate::model::{Exchange, Interval, SeriesKey, SeriesKind, Timestamp};

/// Payload kind of a batch of rows.
const KIND_ROWS: u8 = 1;

/// The rows of one series in a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Bars of one series.
    Bars(SeriesKey, BarColumns),
    /// Ticks of one series.
    Ticks(SeriesKey, Box<TickColumns>),
}

impl Entry {
    /// The series.
    pub fn key(&self) -> &SeriesKey {
        match self {
            Entry::Bars(k, _) | Entry::Ticks(k, _) => k,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Entry::Bars(_, c) => c.len(),
            Entry::Ticks(_, c) => c.len(),
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_columns<C: Columns>(out: &mut Vec<u8>, key: &SeriesKey, cols: &C) {
    put_str(out, key.symbol());
    put_str(out, key.exchange().as_str());
    put_str(out, key.interval().as_str());
    out.extend_from_slice(&(cols.len() as u32).to_le_bytes());
    for col in cols.refs() {
        match col {
            ColumnRef::Time(v) => v
                .iter()
                .for_each(|t| out.extend_from_slice(&t.as_ns().to_le_bytes())),
            ColumnRef::OptTime(v) => v.iter().for_each(|t| {
                out.extend_from_slice(&t.map_or(Timestamp::NONE_NS, Timestamp::as_ns).to_le_bytes())
            }),
            ColumnRef::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes())),
            ColumnRef::Str(v) => v.iter().for_each(|s| {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }),
        }
    }
}

/// Builds a record payload from borrowed columns.
#[derive(Debug)]
pub struct RecordBuilder {
    out: Vec<u8>,
}

impl RecordBuilder {
    /// A payload for record `seq` that will hold `count` entries.
    pub fn new(seq: u64, count: usize) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&seq.to_le_bytes());
        out.push(KIND_ROWS);
        out.extend_from_slice(&(count as u32).to_le_bytes());
        RecordBuilder { out }
    }

    /// Adds the rows of one series.
    pub fn add<C: Columns>(&mut self, key: &SeriesKey, cols: &C) {
        put_columns(&mut self.out, key, cols);
    }

    /// The payload.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// The payload of record `seq` holding `entries`.
pub fn encode(seq: u64, entries: &[Entry]) -> Vec<u8> {
    let rows: usize = entries.iter().map(Entry::rows).sum();
    let mut out = Vec::with_capacity(16 + entries.len() * 32 + rows * 8 * 34);
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(KIND_ROWS);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        match e {
            Entry::Bars(k, c) => put_columns(&mut out, k, c),
            Entry::Ticks(k, c) => put_columns(&mut out, k, c.as_ref()),
        }
    }
    out
}

fn get_str<'a>(c: &mut Cursor<'a>) -> Result<&'a str, String> {
    let len = usize::from(c.u8().ok_or("truncated string length")?);
    std::str::from_utf8(c.take(len).ok_or("truncated string")?)
        .map_err(|_| "string is not UTF-8".to_string())
}

fn get_key(c: &mut Cursor<'_>) -> Result<SeriesKey, String> {
    let symbol: SmolStr = get_str(c)?.into();
    let exchange: Exchange = get_str(c)?.parse().map_err(|e| format!("{e}"))?;
    let interval: Interval = get_str(c)?.parse().map_err(|e| format!("{e}"))?;
    SeriesKey::new(symbol, exchange, interval).map_err(|e| format!("{e}"))
}

/// The bytes of the series name at the cursor (three short strings), which it moves past.
fn key_bytes<'a>(c: &mut Cursor<'a>) -> Result<&'a [u8], String> {
    let mut start = c.clone();
    for _ in 0..3 {
        let len = usize::from(c.u8().ok_or("truncated string length")?);
        c.take(len).ok_or("truncated string")?;
    }
    Ok(start.take(c.pos() - start.pos()).unwrap_or_default())
}

/// The bytes of `rows` fixed-width values of 8 bytes each.
fn get_words<'a>(c: &mut Cursor<'a>, rows: usize) -> Result<&'a [u8], String> {
    c.take(rows.checked_mul(8).ok_or("row count overflows")?)
        .ok_or_else(|| "truncated column".to_string())
}

/// The little-endian value in `w`, 8 bytes long.
#[inline]
fn word(w: &[u8]) -> u64 {
    u64::from_le_bytes(w.try_into().unwrap_or_default())
}

/// Replaces the rows of `out` with the entry's rows (its allocations are kept).
fn get_columns<C: Columns>(c: &mut Cursor<'_>, out: &mut C) -> Result<(), String> {
    let rows = c.u32().ok_or("truncated row count")? as usize;
    if rows > c.remaining() / 8 + 1 {
        return Err(format!("{rows} rows exceed the record"));
    }
    out.clear();
    for col in out.vecs() {
        match col {
            ColumnVec::Time(v) => v.extend(
                get_words(c, rows)?
                    .chunks_exact(8)
                    .map(|w| Timestamp::from_ns(word(w) as i64)),
            ),
            ColumnVec::OptTime(v) => v.extend(get_words(c, rows)?.chunks_exact(8).map(|w| {
                let ns = word(w) as i64;
                (ns != Timestamp::NONE_NS).then_some(Timestamp::from_ns(ns))
            })),
            ColumnVec::F64(v) => v.extend(
                get_words(c, rows)?
                    .chunks_exact(8)
                    .map(|w| f64::from_bits(word(w))),
            ),
            ColumnVec::Str(v) => {
                v.reserve(rows);
                for _ in 0..rows {
                    let len = c.u32().ok_or("truncated string length")? as usize;
                    let bytes = c.take(len).ok_or("truncated string")?;
                    v.push(SmolStr::from(
                        std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8")?,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The rows of one WAL entry, borrowed from columns that the next entry reuses.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// Bars.
    Bars(&'a BarColumns),
    /// Ticks.
    Ticks(&'a TickColumns),
}

impl Rows<'_> {
    /// The entry, owning a copy of the rows.
    pub fn to_entry(self, key: SeriesKey) -> Entry {
        match self {
            Rows::Bars(c) => Entry::Bars(key, c.clone()),
            Rows::Ticks(c) => Entry::Ticks(key, Box::new(c.clone())),
        }
    }
}

/// Columns that entries are decoded into, one entry after another, and the last series read:
/// replaying many records of a few rows each then allocates nothing per record.
#[derive(Debug, Default)]
pub struct Scratch {
    bars: BarColumns,
    ticks: TickColumns,
    /// The bytes of the last series name read, and the series they named (reused: a WAL of
    /// interleaved series changes them at every entry).
    key_bytes: Vec<u8>,
    key: Option<SeriesKey>,
}

/// A record payload read entry by entry.
#[derive(Debug)]
pub struct Reader<'a> {
    c: Cursor<'a>,
    left: usize,
}

impl<'a> Reader<'a> {
    /// The record's sequence and a reader of its entries; the error says what is malformed.
    pub fn new(payload: &'a [u8]) -> Result<(u64, Self), String> {
        let mut c = Cursor::new(payload);
        let seq = c.u64().ok_or("truncated sequence")?;
        let kind = c.u8().ok_or("truncated kind")?;
        if kind != KIND_ROWS {
            return Err(format!("unknown record kind {kind}"));
        }
        let left = c.u32().ok_or("truncated entry count")? as usize;
        if left > payload.len() {
            return Err(format!("entry count {left} exceeds the record"));
        }
        Ok((seq, Reader { c, left }))
    }

    /// The next entry, decoded into `scratch` (replacing the entry read before), or `None`
    /// after the last one; the error says what is malformed.
    pub fn next<'s>(
        &mut self,
        scratch: &'s mut Scratch,
    ) -> Result<Option<(SeriesKey, Rows<'s>)>, String> {
        if self.left == 0 {
            if self.c.remaining() != 0 {
                return Err(format!("{} trailing bytes", self.c.remaining()));
            }
            return Ok(None);
        }
        self.left -= 1;
        let raw = key_bytes(&mut self.c)?;
        if scratch.key.is_none() || scratch.key_bytes != raw {
            scratch.key = Some(get_key(&mut Cursor::new(raw))?);
            scratch.key_bytes.clear();
            scratch.key_bytes.extend_from_slice(raw);
        }
        let key = scratch.key.clone().ok_or("no series")?;
        Ok(Some(match key.kind() {
            SeriesKind::Bar => {
                get_columns(&mut self.c, &mut scratch.bars)?;
                (key, Rows::Bars(&scratch.bars))
            }
            SeriesKind::Tick => {
                get_columns(&mut self.c, &mut scratch.ticks)?;
                (key, Rows::Ticks(&scratch.ticks))
            }
        }))
    }
}

/// Decodes a payload into its sequence and entries; the error says what is malformed.
pub fn decode(payload: &[u8]) -> Result<(u64, Vec<Entry>), String> {
    let (seq, mut reader) = Reader::new(payload)?;
    let mut scratch = Scratch::default();
    let mut entries = Vec::with_capacity(reader.left);
    while let Some((key, rows)) = reader.next(&mut scratch)? {
        entries.push(rows.to_entry(key));
    }
    Ok((seq, entries))
}
