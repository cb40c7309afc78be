//! Reading the WAL back on open: every record past the flushed sequence, in order.

use std::path::Path;

use super::record::{Entry, Reader, Rows, Scratch};
use super::{parse_file_name, FRAME_LEN, HEADER_LEN, MAGIC, RECORD_MAX, VERSION};
use crate::checksum::{crc, SALT_WAL_HEADER, SALT_WAL_RECORD};
use crate::codec::cursor::Cursor;
use crate::error::{Error, Result};
use crate::io::Storage;
use crate::model::SeriesKey;

/// What replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The sequence of the last valid record (or the flushed sequence when there is none after it).
    pub last_seq: u64,
    /// Records applied (those past the flushed sequence).
    pub records: u64,
    /// WAL files present.
    pub files: usize,
}

/// The record at `offset` of a file starting at `first_seq`: payload and end, or why not valid.
fn read_frame(
    bytes: &[u8],
    offset: usize,
    first_seq: u64,
) -> std::result::Result<(&[u8], usize), &'static str> {
    let mut c = Cursor::new(bytes.get(offset..).unwrap_or(&[]));
    let len = c.u32().ok_or("truncated frame")? as usize;
    let stored = c.u32().ok_or("truncated frame")?;
    if len == 0 {
        // No record is empty: zeros written ahead of the records end the file's records.
        return Err("no record (zeros)");
    }
    if len > RECORD_MAX {
        return Err("record length out of range");
    }
    let payload = c.take(len).ok_or("record runs past the end of the file")?;
    if crc(
        SALT_WAL_RECORD,
        &[
            &first_seq.to_le_bytes(),
            &(len as u32).to_le_bytes(),
            payload,
        ],
    ) != stored
    {
        return Err("record checksum mismatch");
    }
    Ok((payload, offset + FRAME_LEN + len))
}

/// What replay hands the records past the flushed sequence to, entry by entry.
pub trait Sink {
    /// The rows of series `key` in the current record (borrowed: the next entry reuses them).
    fn entry(&mut self, key: SeriesKey, rows: Rows<'_>) -> Result<()>;
    /// Every entry of record `seq` has been handed over.
    fn record(&mut self, seq: u64) -> Result<()>;
}

/// A sink that collects each record's entries and hands them to a closure.
struct Collect<F> {
    entries: Vec<Entry>,
    apply: F,
}

impl<F: FnMut(u64, Vec<Entry>) -> Result<()>> Sink for Collect<F> {
    fn entry(&mut self, key: SeriesKey, rows: Rows<'_>) -> Result<()> {
        self.entries.push(rows.to_entry(key));
        Ok(())
    }

    fn record(&mut self, seq: u64) -> Result<()> {
        (self.apply)(seq, std::mem::take(&mut self.entries))
    }
}

/// A sink that keeps nothing: the records are only checked.
struct Check;

impl Sink for Check {
    fn entry(&mut self, _key: SeriesKey, _rows: Rows<'_>) -> Result<()> {
        Ok(())
    }

    fn record(&mut self, _seq: u64) -> Result<()> {
        Ok(())
    }
}

/// Calls `apply(seq, entries)` for every record with a sequence above `flushed_seq`, in order.
/// A torn final record of a file is dropped; any other damage is a corruption error naming the
/// file and offset.
pub fn replay(
    storage: &dyn Storage,
    dir: &Path,
    flushed_seq: u64,
    apply: impl FnMut(u64, Vec<Entry>) -> Result<()>,
) -> Result<Replayed> {
    let mut sink = Collect {
        entries: Vec::new(),
        apply,
    };
    replay_files(storage, dir, flushed_seq, false, &mut sink)
}

/// Like [`replay`], handing the records to `sink` entry by entry, without a copy of their rows.
pub fn replay_into(
    storage: &dyn Storage,
    dir: &Path,
    flushed_seq: u64,
    sink: &mut impl Sink,
) -> Result<Replayed> {
    replay_files(storage, dir, flushed_seq, false, sink)
}

/// Checks the records as [`replay`] reads them, for a WAL a writer may be appending to
/// meanwhile (`verify` on a live store): a second read that shows records where the first
/// showed zeros written ahead is the writer's commit, not a disk that returns inconsistent data.
pub(crate) fn check_while_written(
    storage: &dyn Storage,
    dir: &Path,
    flushed_seq: u64,
) -> Result<Replayed> {
    replay_files(storage, dir, flushed_seq, true, &mut Check)
}

/// Whether `again` is `first` with records written over its zeros (and perhaps grown).
fn written_over_zeros(first: &[u8], again: &[u8]) -> bool {
    let written = first.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    again.len() >= first.len()
        && again != first
        && again.starts_with(first.get(..written).unwrap_or(first))
}

fn replay_files(
    storage: &dyn Storage,
    dir: &Path,
    flushed_seq: u64,
    live: bool,
    sink: &mut impl Sink,
) -> Result<Replayed> {
    let mut files: Vec<(u64, String)> = storage
        .list_dir(dir)?
        .into_iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| parse_file_name(&e.name).map(|seq| (seq, e.name)))
        .collect();
    files.sort();
    let mut out = Replayed {
        last_seq: flushed_seq,
        records: 0,
        files: files.len(),
    };
    let mut expected: Option<u64> = None;
    let mut scratch = Scratch::default();
    for (first_seq, name) in &files {
        let path = dir.join(name);
        let mut bytes = match storage.read_all(&path) {
            // A writer removes a file once a flush holds its records; a later file (or the
            // flushed sequence, when none is left) then takes the sequence on.
            Err(e) if live && e.is_not_found() => continue,
            other => other?,
        };
        let mut rereads = 0;
        let bad = |offset: usize, what: &str| Error::corruption(&path, offset as u64, what);
        let mut h = Cursor::new(&bytes);
        let magic = h.array::<8>();
        let version = h.u16();
        let _reserved = h.u16();
        let header_seq = h.u64();
        let stored = h.u32();
        let (Some(magic), Some(version), Some(header_seq), Some(stored)) =
            (magic, version, header_seq, stored)
        else {
            // A file created but whose header never reached the disk holds no acknowledged record.
            if bytes.iter().all(|&b| b == 0) || bytes.len() < HEADER_LEN {
                continue;
            }
            return Err(bad(0, "truncated WAL header"));
        };
        let actual = crc(SALT_WAL_HEADER, &[bytes.get(..20).unwrap_or(&[])]);
        if magic != MAGIC {
            return Err(bad(0, "bad magic bytes: not a tickvault WAL file"));
        }
        if actual != stored {
            return Err(Error::ChecksumMismatch {
                file: path.clone(),
                offset: 0,
                expected: stored,
                actual,
            });
        }
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                file: path.clone(),
                found: version,
                supported: VERSION,
            });
        }
        if header_seq != *first_seq {
            return Err(bad(
                12,
                &format!("header starts at sequence {header_seq}, the name says {first_seq}"),
            ));
        }
        if expected.is_none() && *first_seq > flushed_seq + 1 {
            return Err(bad(
                12,
                &format!(
                    "records {} to {} are missing",
                    flushed_seq + 1,
                    first_seq - 1
                ),
            ));
        }
        if let Some(exp) = expected {
            if *first_seq != exp {
                return Err(bad(
                    12,
                    &format!("sequence gap: this file starts at {first_seq}, {exp} was expected"),
                ));
            }
        }
        expected = Some(*first_seq);
        let mut offset = HEADER_LEN;
        while offset < bytes.len() {
            match read_frame(&bytes, offset, *first_seq) {
                Ok((payload, end)) => {
                    let (seq, mut reader) =
                        Reader::new(payload).map_err(|what| bad(offset, &what))?;
                    if Some(seq) != expected {
                        return Err(bad(
                            offset,
                            &format!("record has sequence {seq}, {:?} was expected", expected),
                        ));
                    }
                    // Records the flush holds are read too, so that damage to them is found.
                    while let Some((key, rows)) = reader
                        .next(&mut scratch)
                        .map_err(|what| bad(offset, &what))?
                    {
                        if seq > flushed_seq {
                            sink.entry(key, rows)?;
                        }
                    }
                    if seq > flushed_seq {
                        sink.record(seq)?;
                        out.records += 1;
                    }
                    out.last_seq = out.last_seq.max(seq);
                    expected = Some(seq + 1);
                    offset = end;
                }
                Err(what) => {
                    let later = (offset + 1..bytes.len())
                        .any(|o| read_frame(&bytes, o, *first_seq).is_ok());
                    if later {
                        return Err(bad(offset, &format!("{what}, with valid records after it")));
                    }
                    // A torn final record, never acknowledged, is dropped (and the next file
                    // takes its sequence): only when a second read agrees, so that one misread
                    // does not cost an acknowledged record.
                    let again = match storage.read_all(&path) {
                        // Removed by a writer meanwhile: its records are flushed.
                        Err(e) if live && e.is_not_found() => break,
                        other => other?,
                    };
                    if again.get(..offset) != bytes.get(..offset) {
                        return Err(bad(0, "reads of the file differ before this record"));
                    }
                    // More bytes after the same ones: a writer appends while `verify` reads;
                    // the torn tail is where it was writing.
                    let appended = crate::manifest::grew(&bytes, &again)
                        || (live && written_over_zeros(&bytes, &again));
                    if again != bytes && !appended {
                        rereads += 1;
                        if rereads >= crate::manifest::READ_TRIES {
                            return Err(bad(
                                offset,
                                "reads of the file keep differing: the disk returns inconsistent data",
                            ));
                        }
                        bytes = again;
                        continue;
                    }
                    break;
                }
            }
        }
    }
    Ok(out)
}
