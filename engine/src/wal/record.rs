//! WAL record payloads: one stream save, any number of series, rows stored raw (FORMAT.md,
//! "Write-ahead log").

use smol_str::SmolStr;

use crate::codec::cursor::Cursor;
use crate::codec::{ColumnMut, ColumnRef};
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

fn get_columns<C: Columns>(c: &mut Cursor<'_>) -> Result<C, String> {
    let rows = c.u32().ok_or("truncated row count")? as usize;
    if rows > c.remaining() / 8 + 1 {
        return Err(format!("{rows} rows exceed the record"));
    }
    let mut cols = C::default();
    cols.resize(rows);
    for col in cols.muts() {
        match col {
            ColumnMut::Time(v) => {
                for slot in v {
                    *slot = Timestamp::from_ns(c.i64().ok_or("truncated column")?);
                }
            }
            ColumnMut::OptTime(v) => {
                for slot in v {
                    let ns = c.i64().ok_or("truncated column")?;
                    *slot = (ns != Timestamp::NONE_NS).then_some(Timestamp::from_ns(ns));
                }
            }
            ColumnMut::F64(v) => {
                for slot in v {
                    *slot = f64::from_bits(c.u64().ok_or("truncated column")?);
                }
            }
            ColumnMut::Str(v) => {
                for slot in v {
                    let len = c.u32().ok_or("truncated string length")? as usize;
                    let bytes = c.take(len).ok_or("truncated string")?;
                    *slot = SmolStr::from(
                        std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8")?,
                    );
                }
            }
        }
    }
    Ok(cols)
}

/// Decodes a payload into its sequence and entries; the error says what is malformed.
pub fn decode(payload: &[u8]) -> Result<(u64, Vec<Entry>), String> {
    let mut c = Cursor::new(payload);
    let seq = c.u64().ok_or("truncated sequence")?;
    let kind = c.u8().ok_or("truncated kind")?;
    if kind != KIND_ROWS {
        return Err(format!("unknown record kind {kind}"));
    }
    let count = c.u32().ok_or("truncated entry count")? as usize;
    if count > payload.len() {
        return Err(format!("entry count {count} exceeds the record"));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let symbol: SmolStr = get_str(&mut c)?.into();
        let exchange: Exchange = get_str(&mut c)?.parse().map_err(|e| format!("{e}"))?;
        let interval: Interval = get_str(&mut c)?.parse().map_err(|e| format!("{e}"))?;
        let key = SeriesKey::new(symbol, exchange, interval).map_err(|e| format!("{e}"))?;
        entries.push(match key.kind() {
            SeriesKind::Bar => Entry::Bars(key, get_columns(&mut c)?),
            SeriesKind::Tick => Entry::Ticks(key, Box::new(get_columns(&mut c)?)),
        });
    }
    if c.remaining() != 0 {
        return Err(format!("{} trailing bytes", c.remaining()));
    }
    Ok((seq, entries))
}
