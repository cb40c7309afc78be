//! Encoding and decoding manifest record payloads.

use smol_str::SmolStr;

use super::{Edit, ManifestState, SegmentMeta};
use crate::codec::cursor::Cursor;
use crate::model::{Exchange, Interval, SeriesKey, Timestamp};

const KIND_CHECKPOINT: u8 = 1;
const KIND_EDIT: u8 = 2;
const KIND_CHECKPOINT_WAL: u8 = 3;
const KIND_EDIT_WAL: u8 = 4;
const OP_ADD: u8 = 1;
const OP_REMOVE: u8 = 2;

/// A decoded manifest record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The whole state.
    Checkpoint(ManifestState),
    /// A committed change, with the next segment id after it.
    Edit {
        /// The id the next new segment gets.
        next_id: u64,
        /// Every WAL record up to this sequence is in segments.
        wal_flushed_seq: u64,
        /// The changes.
        edits: Vec<Edit>,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_key(out: &mut Vec<u8>, key: &SeriesKey) {
    put_str(out, key.symbol());
    put_str(out, key.exchange().as_str());
    put_str(out, key.interval().as_str());
}

fn put_meta(out: &mut Vec<u8>, m: &SegmentMeta) {
    out.extend_from_slice(&m.id.to_le_bytes());
    out.extend_from_slice(&m.rows.to_le_bytes());
    out.extend_from_slice(&m.min_ts.as_ns().to_le_bytes());
    out.extend_from_slice(&m.max_ts.as_ns().to_le_bytes());
    out.extend_from_slice(&m.file_len.to_le_bytes());
}

/// The payload bytes of a record.
pub fn encode_record(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    match record {
        Record::Checkpoint(state) => {
            out.push(KIND_CHECKPOINT_WAL);
            out.extend_from_slice(&state.next_id.to_le_bytes());
            out.extend_from_slice(&state.wal_flushed_seq.to_le_bytes());
            out.extend_from_slice(&(state.partitions.len() as u32).to_le_bytes());
            for (key, segs) in &state.partitions {
                put_key(&mut out, key);
                out.extend_from_slice(&(segs.len() as u32).to_le_bytes());
                for m in segs {
                    put_meta(&mut out, m);
                }
            }
        }
        Record::Edit {
            next_id,
            wal_flushed_seq,
            edits,
        } => {
            out.push(KIND_EDIT_WAL);
            out.extend_from_slice(&next_id.to_le_bytes());
            out.extend_from_slice(&wal_flushed_seq.to_le_bytes());
            out.extend_from_slice(&(edits.len() as u32).to_le_bytes());
            for edit in edits {
                match edit {
                    Edit::Add(key, m) => {
                        out.push(OP_ADD);
                        put_key(&mut out, key);
                        put_meta(&mut out, m);
                    }
                    Edit::Remove(key, id) => {
                        out.push(OP_REMOVE);
                        put_key(&mut out, key);
                        out.extend_from_slice(&id.to_le_bytes());
                    }
                }
            }
        }
    }
    out
}

fn get_str<'a>(c: &mut Cursor<'a>) -> Result<&'a str, String> {
    let len = usize::from(c.u8().ok_or("truncated string length")?);
    let bytes = c.take(len).ok_or("truncated string")?;
    std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8".to_string())
}

fn get_key(c: &mut Cursor<'_>) -> Result<SeriesKey, String> {
    let symbol: SmolStr = get_str(c)?.into();
    let exchange: Exchange = get_str(c)?.parse().map_err(|e| format!("{e}"))?;
    let interval: Interval = get_str(c)?.parse().map_err(|e| format!("{e}"))?;
    SeriesKey::new(symbol, exchange, interval).map_err(|e| format!("{e}"))
}

fn get_meta(c: &mut Cursor<'_>) -> Result<SegmentMeta, String> {
    let mut next = || c.u64().ok_or("truncated segment entry");
    let id = next()?;
    let rows = next()?;
    let min_ts = Timestamp::from_ns(next()? as i64);
    let max_ts = Timestamp::from_ns(next()? as i64);
    let file_len = next()?;
    Ok(SegmentMeta {
        id,
        rows,
        min_ts,
        max_ts,
        file_len,
    })
}

/// Decodes a record payload; the error says what is malformed.
pub fn decode_record(payload: &[u8]) -> Result<Record, String> {
    let mut c = Cursor::new(payload);
    let kind = c.u8().ok_or("empty record")?;
    let next_id = c.u64().ok_or("truncated next id")?;
    // Kinds 1 and 2 predate the WAL: nothing was flushed from it.
    let wal_flushed_seq = match kind {
        KIND_CHECKPOINT_WAL | KIND_EDIT_WAL => c.u64().ok_or("truncated WAL sequence")?,
        _ => 0,
    };
    let count = c.u32().ok_or("truncated count")? as usize;
    if count > payload.len() {
        return Err(format!("count {count} exceeds the record"));
    }
    let record = match kind {
        KIND_CHECKPOINT | KIND_CHECKPOINT_WAL => {
            let mut state = ManifestState {
                next_id,
                wal_flushed_seq,
                ..ManifestState::default()
            };
            for _ in 0..count {
                let key = get_key(&mut c)?;
                let n = c.u32().ok_or("truncated segment count")? as usize;
                if n > c.remaining() / 40 {
                    return Err(format!("segment count {n} exceeds the record"));
                }
                let mut segs = Vec::with_capacity(n);
                for _ in 0..n {
                    segs.push(get_meta(&mut c)?);
                }
                if segs.is_empty()
                    || segs
                        .windows(2)
                        .any(|w| matches!(w, [a, b] if a.max_ts >= b.min_ts))
                {
                    return Err(format!(
                        "segments of {key} are empty, unsorted or overlapping"
                    ));
                }
                if segs
                    .iter()
                    .any(|s| s.id >= next_id || s.rows == 0 || s.min_ts > s.max_ts)
                {
                    return Err(format!("a segment of {key} is malformed"));
                }
                if state.partitions.insert(key.clone(), segs).is_some() {
                    return Err(format!("partition {key} appears twice"));
                }
            }
            Record::Checkpoint(state)
        }
        KIND_EDIT | KIND_EDIT_WAL => {
            let mut edits = Vec::with_capacity(count);
            for _ in 0..count {
                let op = c.u8().ok_or("truncated edit")?;
                let key = get_key(&mut c)?;
                edits.push(match op {
                    OP_ADD => Edit::Add(key, get_meta(&mut c)?),
                    OP_REMOVE => Edit::Remove(key, c.u64().ok_or("truncated segment id")?),
                    other => return Err(format!("unknown edit op {other}")),
                });
            }
            Record::Edit {
                next_id,
                wal_flushed_seq,
                edits,
            }
        }
        other => return Err(format!("unknown record kind {other}")),
    };
    if c.remaining() != 0 {
        return Err(format!("{} trailing bytes", c.remaining()));
    }
    Ok(record)
}
