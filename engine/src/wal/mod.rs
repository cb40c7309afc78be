//! The write-ahead log of stream saves (FORMAT.md, "Write-ahead log").
//!
//! Invariants: records carry consecutive sequence numbers across files; a save is acknowledged
//! only once its record is durable under the sync policy; with `EveryCommit`, concurrent savers
//! share one fsync (group commit); a failed fsync poisons the store. Only the last record written
//! can be torn, so recovery drops a bad record at the tail and refuses one followed by valid data.
//!
//! With `EveryCommit` the file is zero-filled ahead of its records ([`PREFILL_MIN`] to
//! [`PREFILL_MAX`] bytes at a time, synced with `fsync`): a commit then overwrites blocks the
//! file already has, and its `fdatasync` writes no metadata (no size, no block allocation in
//! the file system's journal). The zeros after the last record read as a torn tail.
#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod record;
mod replay;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

pub use record::{decode as decode_record, encode as encode_record, Entry, RecordBuilder, Rows};
pub(crate) use replay::check_while_written;
pub use replay::{replay, replay_into, Replayed, Sink};

use crate::checksum::{crc, SALT_WAL_HEADER, SALT_WAL_RECORD};
use crate::error::{Error, Result};
use crate::io::{Storage, StorageFile};

/// Magic bytes of a WAL file (same scheme as segments, `TVW`).
pub const MAGIC: [u8; 8] = *b"\x89TVW\r\n\x1a\n";
/// The WAL format version.
pub const VERSION: u16 = 1;
/// Header: magic, version u16, reserved u16, first sequence u64, crc u32.
pub const HEADER_LEN: usize = 24;
/// Record frame: payload length u32, crc u32.
pub const FRAME_LEN: usize = 8;
/// The largest record payload accepted.
pub const RECORD_MAX: usize = 1 << 30;
/// The least a WAL file is zero-filled past its last record at a time (`EveryCommit`).
pub const PREFILL_MIN: u64 = 64 << 10;
/// The most a WAL file is zero-filled past its last record at a time (`EveryCommit`).
pub const PREFILL_MAX: u64 = 4 << 20;
/// WAL files end with this extension.
pub const EXTENSION: &str = "wal";

/// When a stream save's record is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before the save returns; concurrent savers share one fsync (the default).
    EveryCommit,
    /// fsync at most every this many milliseconds, in the background: a crash loses at most that
    /// window of acknowledged saves, and never corrupts anything.
    IntervalMs(u64),
    /// Never fsync the WAL (the OS writes it back): for imports that can be redone.
    None,
}

impl std::str::FromStr for SyncPolicy {
    type Err = Error;

    /// `every-commit`, `interval:MS` or `none`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "every-commit" => Ok(SyncPolicy::EveryCommit),
            "none" => Ok(SyncPolicy::None),
            _ => s
                .strip_prefix("interval:")
                .and_then(|ms| ms.parse().ok())
                .filter(|&ms: &u64| ms > 0)
                .map(SyncPolicy::IntervalMs)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "sync policy {s:?}: use every-commit, interval:MS or none"
                    ))
                }),
        }
    }
}

/// The file name of the WAL file whose first record has sequence `first_seq`.
pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.{EXTENSION}")
}

/// The first sequence of a WAL file name.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The header of a WAL file starting at `first_seq`.
pub fn header(first_seq: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&first_seq.to_le_bytes());
    let c = crc(SALT_WAL_HEADER, &[&h]);
    h.extend_from_slice(&c.to_le_bytes());
    h
}

/// The framed record: length, CRC over (the file's first sequence, length, payload), payload.
/// Binding the file's first sequence into the CRC makes a record copied from another file fail.
pub fn frame(first_seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_LEN + payload.len());
    frame_into(first_seq, payload, &mut out);
    out
}

/// Appends the framed record to `out`.
fn frame_into(first_seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    let c = crc(SALT_WAL_RECORD, &[&first_seq.to_le_bytes(), &len, payload]);
    out.extend_from_slice(&len);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(payload);
}

#[derive(Debug)]
struct Inner {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    first_seq: u64,
    /// Bytes of records handed to the OS (header included).
    len: u64,
    /// The file's length: records, then zeros written ahead of them.
    filled: u64,
    /// Framed records not yet handed to the OS (written by the syncer, in order).
    buf: Vec<u8>,
    last_seq: u64,
    /// The last record in `buf` or before it that is in the OS.
    written_seq: u64,
    synced_seq: u64,
    syncing: bool,
}

/// The writer's WAL: the current file and the group-commit state.
#[derive(Debug)]
pub struct Wal {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    policy: SyncPolicy,
    poisoned: Arc<AtomicBool>,
    inner: Mutex<Inner>,
    synced: Condvar,
}

/// Exclusive access to the WAL: while held, no record is appended.
pub struct WalGuard<'a> {
    wal: &'a Wal,
    inner: MutexGuard<'a, Inner>,
}

impl std::fmt::Debug for WalGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WalGuard(last_seq {})", self.inner.last_seq)
    }
}

fn create_file(
    storage: &dyn Storage,
    dir: &Path,
    first_seq: u64,
) -> Result<(Arc<dyn StorageFile>, PathBuf)> {
    let path = dir.join(file_name(first_seq));
    let file: Arc<dyn StorageFile> = Arc::from(storage.create(&path)?);
    file.write_all_at(&header(first_seq), 0)?;
    file.sync()?;
    storage.sync_dir(dir)?;
    Ok((file, path))
}

impl Wal {
    /// Starts a new WAL file in `dir` whose first record will be `last_seq + 1`. A failed write
    /// or fsync here or later sets `poisoned`.
    pub fn create(
        storage: Arc<dyn Storage>,
        dir: &Path,
        last_seq: u64,
        policy: SyncPolicy,
        poisoned: Arc<AtomicBool>,
    ) -> Result<Arc<Wal>> {
        let first_seq = last_seq + 1;
        let (file, path) = create_file(&*storage, dir, first_seq)
            .inspect_err(|_| poisoned.store(true, Ordering::Release))?;
        let wal = Arc::new(Wal {
            storage,
            dir: dir.to_path_buf(),
            policy,
            poisoned,
            inner: Mutex::new(Inner {
                file,
                path,
                first_seq,
                len: HEADER_LEN as u64,
                filled: HEADER_LEN as u64,
                buf: Vec::new(),
                last_seq,
                written_seq: last_seq,
                synced_seq: last_seq,
                syncing: false,
            }),
            synced: Condvar::new(),
        });
        if let SyncPolicy::IntervalMs(ms) = policy {
            let weak = Arc::downgrade(&wal);
            std::thread::Builder::new()
                .name("tickvault-wal-sync".into())
                .spawn(move || background_sync(weak, Duration::from_millis(ms)))
                .map_err(|e| Error::io(dir, e))?;
        }
        Ok(wal)
    }

    /// The sync policy.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// Appends one record. `prepare(seq)` builds the payload and whatever `apply` needs; it may
    /// fail, and then nothing is written. `apply` runs right after, still in sequence order.
    /// Returns once the record is durable under the policy (`EveryCommit`), handed to the OS
    /// (`None`), or buffered for the next interval sync (`IntervalMs`).
    pub fn append<P>(
        &self,
        prepare: impl FnOnce(&mut WalGuard<'_>, u64) -> Result<(Vec<u8>, P)>,
        apply: impl FnOnce(&mut WalGuard<'_>, P),
    ) -> Result<u64> {
        let mut guard = self.lock();
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        let seq = guard.inner.last_seq + 1;
        let (payload, prepared) = prepare(&mut guard, seq)?;
        if payload.len() > RECORD_MAX {
            return Err(Error::InvalidArgument(format!(
                "a stream save of {} bytes is too large for one WAL record",
                payload.len()
            )));
        }
        let first_seq = guard.inner.first_seq;
        frame_into(first_seq, &payload, &mut guard.inner.buf);
        guard.inner.last_seq = seq;
        apply(&mut guard, prepared);
        match self.policy {
            SyncPolicy::EveryCommit => self.persist(guard.inner, seq, true),
            SyncPolicy::None => self.persist(guard.inner, seq, false),
            SyncPolicy::IntervalMs(_) => Ok(()),
        }?;
        Ok(seq)
    }

    /// Makes record `seq` written (and synced when `sync`): the first caller writes and syncs
    /// the buffer for everyone; the others wait for it (group commit).
    fn persist(&self, mut inner: MutexGuard<'_, Inner>, seq: u64, sync: bool) -> Result<()> {
        loop {
            if self.poisoned.load(Ordering::Acquire) {
                return Err(Error::Poisoned);
            }
            let done = if sync {
                inner.synced_seq
            } else {
                inner.written_seq
            };
            if done >= seq {
                return Ok(());
            }
            if inner.syncing {
                self.synced.wait(&mut inner);
                continue;
            }
            inner.syncing = true;
            let target = inner.last_seq;
            let bytes = std::mem::take(&mut inner.buf);
            let offset = inner.len;
            let end = offset + bytes.len() as u64;
            // Records that would pass the zeros written ahead: first write more zeros (a full
            // disk then fails before any byte of the records lands), then the records over
            // them, and sync the new length too (fsync); records within the zeros need only
            // fdatasync.
            let filled = inner.filled;
            let fill_to =
                (self.policy == SyncPolicy::EveryCommit && end > filled).then(|| prefill_end(end));
            let file = inner.file.clone();
            let result = MutexGuard::unlocked(&mut inner, || {
                if let Some(to) = fill_to {
                    file.write_all_at(&vec![0; (to - filled) as usize], filled)?;
                }
                file.write_all_at(&bytes, offset)?;
                match fill_to {
                    Some(_) => file.sync()?,
                    None if sync => file.sync_data()?,
                    None => {}
                }
                Ok::<(), Error>(())
            });
            inner.syncing = false;
            match result {
                Ok(()) => {
                    // A rotation while unlocked starts a new file; its state is already right.
                    if Arc::ptr_eq(&inner.file, &file) {
                        inner.len = end;
                        inner.filled = inner.filled.max(fill_to.unwrap_or(end));
                        inner.written_seq = inner.written_seq.max(target);
                        if sync {
                            inner.synced_seq = inner.synced_seq.max(target);
                        }
                    }
                }
                // The page cache can no longer be trusted (fsyncgate): refuse writes until reopen.
                Err(_) => self.poisoned.store(true, Ordering::Release),
            }
            self.synced.notify_all();
            result?;
        }
    }

    /// Writes and syncs everything appended so far.
    pub fn sync_now(&self) -> Result<()> {
        let inner = self.inner.lock();
        let seq = inner.last_seq;
        self.persist(inner, seq, true)
    }

    /// Exclusive access (no appends until dropped).
    pub fn lock(&self) -> WalGuard<'_> {
        WalGuard {
            wal: self,
            inner: self.inner.lock(),
        }
    }
}

impl WalGuard<'_> {
    /// The sequence of the last record appended.
    pub fn last_seq(&self) -> u64 {
        self.inner.last_seq
    }

    /// Starts a new file after the last record (every record so far is in segments now), then
    /// removes the older files. Waits for a write or sync in progress on the old file first.
    pub fn rotate(&mut self) -> Result<()> {
        while self.inner.syncing {
            self.wal.synced.wait(&mut self.inner);
        }
        let first_seq = self.inner.last_seq + 1;
        let (file, path) = create_file(&*self.wal.storage, &self.wal.dir, first_seq)
            .inspect_err(|_| self.wal.poisoned.store(true, Ordering::Release))?;
        self.inner.file = file;
        self.inner.path = path;
        self.inner.first_seq = first_seq;
        self.inner.len = HEADER_LEN as u64;
        self.inner.filled = HEADER_LEN as u64;
        self.inner.buf.clear();
        self.inner.written_seq = self.inner.last_seq;
        self.inner.synced_seq = self.inner.last_seq;
        self.wal.synced.notify_all();
        self.remove_older_files()
    }

    /// Removes WAL files that start before the current one (their records are all flushed).
    pub fn remove_older_files(&self) -> Result<()> {
        let storage = &self.wal.storage;
        let mut removed = false;
        for entry in storage.list_dir(&self.wal.dir)? {
            if parse_file_name(&entry.name).is_some_and(|first| first < self.inner.first_seq) {
                storage.remove_file(&self.wal.dir.join(&entry.name))?;
                removed = true;
            }
        }
        if removed {
            storage.sync_dir(&self.wal.dir)?;
        }
        Ok(())
    }
}

/// Where to stop zero-filling a file whose records end at `end`: as far ahead as the file is long
/// (within [`PREFILL_MIN`] and [`PREFILL_MAX`]), on a 4 KiB boundary.
fn prefill_end(end: u64) -> u64 {
    (end + end.clamp(PREFILL_MIN, PREFILL_MAX)).next_multiple_of(4096)
}

fn background_sync(wal: Weak<Wal>, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += every;
        let Some(wal) = wal.upgrade() else { return };
        if wal.poisoned.load(Ordering::Acquire) {
            return;
        }
        // An error poisons the store; the next save reports it.
        let _ = wal.sync_now();
    }
}
