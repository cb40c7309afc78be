//! Manifest files on disk: loading the newest complete one, appending edits, writing checkpoints,
//! and following a writer from a read-only process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{decode_record, encode_record, Record};
use super::{Edit, ManifestState};
use crate::checksum::{crc, SALT_MANIFEST_HEADER, SALT_MANIFEST_RECORD};
use crate::codec::cursor::Cursor;
use crate::error::{Error, Result};
use crate::io::{Storage, StorageFile};

/// Manifest file names start with this, followed by 16 decimal digits.
pub const MANIFEST_PREFIX: &str = "MANIFEST-";
/// Magic bytes of a manifest file (same scheme as segments, `TVM`).
pub const MAGIC: [u8; 8] = *b"\x89TVM\r\n\x1a\n";
/// The manifest format version.
pub const VERSION: u16 = 1;
/// Header: magic, version u16, reserved u16, file number u64, crc u32.
pub const HEADER_LEN: usize = 24;
/// Record frame: payload length u32, crc u32.
pub const FRAME_LEN: usize = 8;
/// The largest record payload accepted.
pub const RECORD_MAX: usize = 256 << 20;
/// A log longer than this and than twice its checkpoint is rewritten as a new checkpoint.
const CHECKPOINT_MIN_BYTES: u64 = 1 << 20;

/// The file name of manifest number `no`.
pub fn manifest_file_name(no: u64) -> String {
    format!("{MANIFEST_PREFIX}{no:016}")
}

fn parse_no(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(MANIFEST_PREFIX)?;
    (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Manifest numbers present in `root`, newest first.
fn list(storage: &dyn Storage, root: &Path) -> Result<Vec<u64>> {
    let mut nos: Vec<u64> = storage
        .list_dir(root)?
        .iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| parse_no(&e.name))
        .collect();
    nos.sort_unstable_by(|a, b| b.cmp(a));
    Ok(nos)
}

fn header_bytes(no: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&no.to_le_bytes());
    let c = crc(SALT_MANIFEST_HEADER, &[&h]);
    h.extend_from_slice(&c.to_le_bytes());
    h
}

/// A record frame around `payload`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let c = crc(SALT_MANIFEST_RECORD, &[&len, payload]);
    let mut out = Vec::with_capacity(FRAME_LEN + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The record at `offset`: its payload and end, or why it is not valid.
fn read_frame(bytes: &[u8], offset: usize) -> std::result::Result<(&[u8], usize), &'static str> {
    let mut c = Cursor::new(bytes.get(offset..).unwrap_or(&[]));
    let len = c.u32().ok_or("truncated frame")? as usize;
    let stored = c.u32().ok_or("truncated frame")?;
    if len > RECORD_MAX {
        return Err("record length out of range");
    }
    let payload = c.take(len).ok_or("record runs past the end of the file")?;
    if crc(
        SALT_MANIFEST_RECORD,
        &[&(len as u32).to_le_bytes(), payload],
    ) != stored
    {
        return Err("record checksum mismatch");
    }
    Ok((payload, offset + FRAME_LEN + len))
}

/// Whether any valid record starts after `offset` (then a bad record is corruption, not a torn
/// tail: only the last record written can be torn).
fn valid_record_after(bytes: &[u8], offset: usize) -> bool {
    let end = bytes.len().min(offset.saturating_add(1 << 20));
    (offset + 1..end).any(|o| read_frame(bytes, o).is_ok())
}

/// The result of reading one manifest file.
#[derive(Debug)]
struct Parsed {
    state: ManifestState,
    /// Length of the valid prefix (header and whole records).
    valid_len: u64,
    /// Length of the header and checkpoint.
    checkpoint_len: u64,
}

enum ParseError {
    /// The header or checkpoint is torn: an unfinished checkpoint file.
    Incomplete(Error),
    Fatal(Error),
}

fn parse_file(path: &Path, bytes: &[u8], no: u64) -> std::result::Result<Parsed, ParseError> {
    let incomplete = |offset: usize, what: &str| {
        ParseError::Incomplete(Error::corruption(path, offset as u64, what))
    };
    let mut h = Cursor::new(bytes);
    let magic = h
        .array::<8>()
        .ok_or_else(|| incomplete(0, "no manifest header"))?;
    let version = h.u16().ok_or_else(|| incomplete(8, "no manifest header"))?;
    let _reserved = h.u16();
    let file_no = h
        .u64()
        .ok_or_else(|| incomplete(12, "no manifest header"))?;
    let stored = h
        .u32()
        .ok_or_else(|| incomplete(20, "no manifest header"))?;
    let actual = crc(SALT_MANIFEST_HEADER, &[bytes.get(..20).unwrap_or(&[])]);
    if actual != stored {
        return Err(ParseError::Incomplete(Error::ChecksumMismatch {
            file: path.to_path_buf(),
            offset: 0,
            expected: stored,
            actual,
        }));
    }
    if magic != MAGIC {
        return Err(ParseError::Fatal(Error::corruption(
            path,
            0,
            "bad magic bytes: not a tickvault manifest",
        )));
    }
    if version != VERSION {
        return Err(ParseError::Fatal(Error::UnsupportedVersion {
            file: path.to_path_buf(),
            found: version,
            supported: VERSION,
        }));
    }
    if file_no != no {
        return Err(ParseError::Fatal(Error::corruption(
            path,
            12,
            format!("header names manifest {file_no}"),
        )));
    }
    let (payload, mut offset) =
        read_frame(bytes, HEADER_LEN).map_err(|what| incomplete(HEADER_LEN, what))?;
    let mut state = match decode_record(payload) {
        Ok(Record::Checkpoint(state)) => state,
        Ok(Record::Edit { .. }) => {
            return Err(ParseError::Fatal(Error::corruption(
                path,
                HEADER_LEN as u64,
                "first record is not a checkpoint",
            )))
        }
        Err(what) => {
            return Err(ParseError::Fatal(Error::corruption(
                path,
                HEADER_LEN as u64,
                what,
            )))
        }
    };
    let checkpoint_len = offset as u64;
    while offset < bytes.len() {
        match read_frame(bytes, offset) {
            Ok((payload, end)) => {
                let fatal =
                    |what: String| ParseError::Fatal(Error::corruption(path, offset as u64, what));
                match decode_record(payload) {
                    Ok(Record::Edit {
                        next_id,
                        wal_flushed_seq,
                        edits,
                    }) => state
                        .apply(&edits, next_id, wal_flushed_seq)
                        .map_err(|e| fatal(e.to_string()))?,
                    Ok(Record::Checkpoint(_)) => {
                        return Err(fatal("a checkpoint after the first record".into()))
                    }
                    Err(what) => return Err(fatal(what)),
                }
                offset = end;
            }
            Err(what) => {
                if valid_record_after(bytes, offset) {
                    return Err(ParseError::Fatal(Error::corruption(
                        path,
                        offset as u64,
                        format!("{what}, with valid records after it"),
                    )));
                }
                break; // A torn final record: it was never acknowledged.
            }
        }
    }
    Ok(Parsed {
        state,
        valid_len: offset as u64,
        checkpoint_len,
    })
}

/// Reads and parses one manifest file. A parse that would drop bytes (cut a torn tail, or pass
/// the file over as an unfinished checkpoint) is acted upon only when a second read of the file
/// agrees with the first: a writer cuts what it drops, so one misread (a flipped bit, a sector
/// read from the wrong place) must not cost a commit. Reads that keep differing are an error.
fn parse_settled(
    storage: &dyn Storage,
    path: &Path,
    no: u64,
) -> Result<std::result::Result<Parsed, ParseError>> {
    let mut bytes = storage.read_all(path)?;
    for _ in 0..READ_TRIES {
        let parsed = parse_file(path, &bytes, no);
        let drops = match &parsed {
            Ok(p) => p.valid_len < bytes.len() as u64,
            Err(ParseError::Incomplete(_)) => true,
            Err(ParseError::Fatal(_)) => false,
        };
        if !drops {
            return Ok(parsed);
        }
        let again = storage.read_all(path)?;
        if again == bytes || grew(&bytes, &again) {
            // The same bytes; or more after them: a writer appending while a reader looks,
            // and the reader keeps the version it read whole.
            return Ok(parsed);
        }
        bytes = again;
    }
    Err(Error::corruption(
        path,
        0,
        format!("{READ_TRIES} reads of the file differ: the disk returns inconsistent data"),
    ))
}

/// Reads of a file that must agree before a writer drops what one of them shows as damaged.
pub(crate) const READ_TRIES: usize = 4;

/// Whether `again` is `first` with bytes appended (the file grew between two reads).
pub(crate) fn grew(first: &[u8], again: &[u8]) -> bool {
    again.len() > first.len() && again.starts_with(first)
}

/// The newest complete manifest in `root`: its number and parse, and the numbers of the others.
fn load(storage: &dyn Storage, root: &Path) -> Result<Option<(u64, Parsed, Vec<u64>)>> {
    let nos = list(storage, root)?;
    for (i, &no) in nos.iter().enumerate() {
        let path = root.join(manifest_file_name(no));
        match parse_settled(storage, &path, no)? {
            Ok(parsed) => {
                let others = nos.iter().copied().filter(|&n| n != no).collect();
                return Ok(Some((no, parsed, others)));
            }
            // An unfinished checkpoint beside an older manifest: the older one is current.
            Err(ParseError::Incomplete(_)) if i + 1 < nos.len() => continue,
            Err(ParseError::Incomplete(e) | ParseError::Fatal(e)) => return Err(e),
        }
    }
    Ok(None)
}

/// The writer's handle on the current manifest file.
#[derive(Debug)]
pub struct ManifestLog {
    storage: Arc<dyn Storage>,
    root: PathBuf,
    file_no: u64,
    file: Box<dyn StorageFile>,
    len: u64,
    checkpoint_len: u64,
}

impl ManifestLog {
    /// Opens the newest manifest for appending (creating the first one in an empty store),
    /// cuts a torn tail, and removes every other manifest file.
    pub fn open(storage: Arc<dyn Storage>, root: &Path) -> Result<(ManifestLog, ManifestState)> {
        remove_unfinished(&*storage, root)?;
        match load(&*storage, root)? {
            Some((no, parsed, others)) => {
                let path = root.join(manifest_file_name(no));
                let file = storage.open(&path, true)?;
                if file.size()? != parsed.valid_len {
                    file.set_len(parsed.valid_len)?;
                    file.sync()?;
                }
                for other in others {
                    storage.remove_file(&root.join(manifest_file_name(other)))?;
                }
                storage.sync_dir(root)?;
                let log = ManifestLog {
                    storage,
                    root: root.to_path_buf(),
                    file_no: no,
                    file,
                    len: parsed.valid_len,
                    checkpoint_len: parsed.checkpoint_len,
                };
                Ok((log, parsed.state))
            }
            None => {
                let state = ManifestState {
                    next_id: 1,
                    ..ManifestState::default()
                };
                let (file, len) = write_checkpoint(&*storage, root, 1, &state)?;
                let log = ManifestLog {
                    storage,
                    root: root.to_path_buf(),
                    file_no: 1,
                    file,
                    len,
                    checkpoint_len: len,
                };
                Ok((log, state))
            }
        }
    }

    /// Appends one edit record and syncs it: the commit point of a write.
    pub fn append(&mut self, next_id: u64, wal_flushed_seq: u64, edits: Vec<Edit>) -> Result<()> {
        let bytes = frame(&encode_record(&Record::Edit {
            next_id,
            wal_flushed_seq,
            edits,
        }));
        self.file.write_all_at(&bytes, self.len)?;
        self.file.sync()?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Writes `state` as a new checkpoint file when the log has grown past its threshold.
    pub fn maybe_checkpoint(&mut self, state: &ManifestState) -> Result<()> {
        if self.len < CHECKPOINT_MIN_BYTES.max(2 * self.checkpoint_len) {
            return Ok(());
        }
        self.checkpoint(state)
    }

    /// Writes `state` as a new checkpoint file and removes the old one.
    pub fn checkpoint(&mut self, state: &ManifestState) -> Result<()> {
        let no = self.file_no + 1;
        let (file, len) = write_checkpoint(&*self.storage, &self.root, no, state)?;
        let old = self.root.join(manifest_file_name(self.file_no));
        self.file = file;
        self.file_no = no;
        self.len = len;
        self.checkpoint_len = len;
        self.storage.remove_file(&old)?;
        self.storage.sync_dir(&self.root)
    }

    /// The current manifest file number.
    pub fn file_no(&self) -> u64 {
        self.file_no
    }
}

/// Writes and syncs manifest `no` holding `state`, then syncs the directory.
/// Writes `state` as manifest 1 of a new store directory `root` (backups and restores).
pub fn write_snapshot(storage: &dyn Storage, root: &Path, state: &ManifestState) -> Result<()> {
    write_checkpoint(storage, root, 1, state).map(|_| ())
}

fn write_checkpoint(
    storage: &dyn Storage,
    root: &Path,
    no: u64,
    state: &ManifestState,
) -> Result<(Box<dyn StorageFile>, u64)> {
    let mut bytes = header_bytes(no);
    bytes.extend_from_slice(&frame(&encode_record(&Record::Checkpoint(state.clone()))));
    // Written under a temporary name and renamed into place once synced, so that a manifest
    // file, once it has its name, is never incomplete (an interrupted write leaves only the
    // temporary file, which the next writer removes).
    let path = root.join(manifest_file_name(no));
    let tmp = root.join(format!("{}{TMP_SUFFIX}", manifest_file_name(no)));
    let file = storage.create(&tmp)?;
    file.write_all_at(&bytes, 0)?;
    file.sync()?;
    drop(file);
    storage.rename(&tmp, &path)?;
    storage.sync_dir(root)?;
    Ok((storage.open(&path, true)?, bytes.len() as u64))
}

/// Suffix of a manifest being written.
const TMP_SUFFIX: &str = ".tmp";

/// Removes manifests left half-written by an interrupted checkpoint or store creation.
fn remove_unfinished(storage: &dyn Storage, root: &Path) -> Result<()> {
    for e in storage.list_dir(root)? {
        if e.name.starts_with(MANIFEST_PREFIX) && e.name.ends_with(TMP_SUFFIX) {
            storage.remove_file(&root.join(&e.name))?;
        }
    }
    Ok(())
}

/// A read-only follower of the manifest, for processes that do not write.
#[derive(Debug)]
pub struct ManifestReader {
    storage: Arc<dyn Storage>,
    root: PathBuf,
    file_no: u64,
    offset: u64,
    /// The manifest file `has_news` last looked at, kept open: its length is then one `fstat`.
    held: Option<(u64, Box<dyn StorageFile>)>,
}

impl ManifestReader {
    /// Loads the current state; `Ok(None)` when the store has no manifest.
    pub fn open(
        storage: Arc<dyn Storage>,
        root: &Path,
    ) -> Result<Option<(ManifestReader, ManifestState)>> {
        Ok(load(&*storage, root)?.map(|(no, parsed, _)| {
            (
                ManifestReader {
                    storage,
                    root: root.to_path_buf(),
                    file_no: no,
                    offset: parsed.valid_len,
                    held: None,
                },
                parsed.state,
            )
        }))
    }

    /// Whether the writer may have committed since the last refresh (a cheap check: whether
    /// the next manifest file exists, and the current one's length, from a handle kept open).
    pub fn has_news(&mut self) -> Result<bool> {
        let next = self.root.join(manifest_file_name(self.file_no + 1));
        if self.storage.exists(&next)? {
            return Ok(true);
        }
        if !matches!(&self.held, Some((no, _)) if *no == self.file_no) {
            let path = self.root.join(manifest_file_name(self.file_no));
            match self.storage.open(&path, false) {
                Ok(file) => self.held = Some((self.file_no, file)),
                Err(e) if e.is_not_found() => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        match &self.held {
            Some((_, file)) => Ok(file.size()? > self.offset),
            None => Ok(true),
        }
    }

    /// Applies what the writer committed since the last call; returns whether anything changed.
    pub fn refresh(&mut self, state: &mut ManifestState) -> Result<bool> {
        let next = self.root.join(manifest_file_name(self.file_no + 1));
        let path = self.root.join(manifest_file_name(self.file_no));
        if self.storage.exists(&next)? || !self.storage.exists(&path)? {
            return self.reload(state);
        }
        let file = match self.storage.open(&path, false) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => return self.reload(state),
            Err(e) => return Err(e),
        };
        let len = file.size()?;
        if len <= self.offset {
            return Ok(false);
        }
        let mut buf = vec![0u8; (len - self.offset) as usize];
        file.read_exact_at(&mut buf, self.offset)?;
        let mut pos = 0usize;
        let mut changed = false;
        // Stop at the first incomplete record: the writer may be appending it right now.
        while let Ok((payload, end)) = read_frame(&buf, pos) {
            match decode_record(payload) {
                Ok(Record::Edit {
                    next_id,
                    wal_flushed_seq,
                    edits,
                }) => {
                    state.apply(&edits, next_id, wal_flushed_seq).map_err(|e| {
                        Error::corruption(&path, self.offset + pos as u64, e.to_string())
                    })?;
                }
                _ => {
                    return Err(Error::corruption(
                        &path,
                        self.offset + pos as u64,
                        "unexpected manifest record",
                    ))
                }
            }
            pos = end;
            changed = true;
        }
        self.offset += pos as u64;
        Ok(changed)
    }

    fn reload(&mut self, state: &mut ManifestState) -> Result<bool> {
        match load(&*self.storage, &self.root)? {
            Some((no, parsed, _)) => {
                self.file_no = no;
                self.offset = parsed.valid_len;
                let changed = *state != parsed.state;
                *state = parsed.state;
                Ok(changed)
            }
            None => Err(Error::corruption(
                &self.root,
                0,
                "the store's manifest disappeared",
            )),
        }
    }
}
