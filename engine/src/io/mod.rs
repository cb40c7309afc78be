//! The storage trait: every file operation of the engine goes through it.
//!
//! The real implementation is [`RealFs`]; tests substitute a fault-injecting one that can drop
//! unsynced writes, tear the last write, lose directory entries not covered by `sync_dir`, and fail
//! any call. The trait is therefore small, path-based and object-safe.

mod fs;
mod mmap;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;

pub use fs::RealFs;

/// A read-only view of a whole file's bytes (a memory map or an owned buffer).
#[derive(Clone)]
pub struct ByteView(Arc<dyn Deref<Target = [u8]> + Send + Sync>);

impl ByteView {
    /// Wraps any shared byte container.
    pub fn new(bytes: Arc<dyn Deref<Target = [u8]> + Send + Sync>) -> Self {
        ByteView(bytes)
    }

    /// An owned copy of `bytes`.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        ByteView(Arc::new(bytes))
    }
}

impl Deref for ByteView {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ByteView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByteView({} bytes)", self.len())
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The file name (not the path).
    pub name: String,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// An open file.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Fills `buf` from `offset`; reading past the end is an error.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> Result<()>;
    /// The current length in bytes.
    fn size(&self) -> Result<u64>;
    /// Makes content and length durable (fsync).
    fn sync(&self) -> Result<()>;
    /// Makes content durable, and the length only where reading the content needs it
    /// (fdatasync): cheaper than [`sync`](Self::sync) when the writes overwrote bytes the file
    /// already had. By default the same as `sync`.
    fn sync_data(&self) -> Result<()> {
        self.sync()
    }
}

/// A held exclusive lock; released on drop.
pub trait LockGuard: Send + Sync + fmt::Debug {}

/// The file-system operations the engine uses.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> Result<Box<dyn StorageFile>>;
    /// Opens an existing file, for writing too when `write` is set.
    fn open(&self, path: &Path, write: bool) -> Result<Box<dyn StorageFile>>;
    /// The whole content of a file that will not change again (a sealed segment).
    fn map_readonly(&self, path: &Path) -> Result<ByteView>;
    /// Reads a whole file.
    fn read_all(&self, path: &Path) -> Result<Vec<u8>>;
    /// Atomically renames `from` to `to`, replacing a file `to`; `from` may be a directory
    /// (backups and restores rename whole store directories into place).
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> Result<()>;
    /// Creates a directory (its parent must exist); succeeds if it already exists.
    fn create_dir(&self, path: &Path) -> Result<()>;
    /// Makes the entries of a directory durable (fsync on the directory).
    fn sync_dir(&self, path: &Path) -> Result<()>;
    /// Lists a directory.
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>>;
    /// Whether a path exists.
    fn exists(&self, path: &Path) -> Result<bool>;
    /// Takes the exclusive writer lock held in file `path`, writing our pid into it.
    fn lock_exclusive(&self, path: &Path) -> Result<Box<dyn LockGuard>>;
    /// Makes `to` a second name of the file `from` (a hard link). Backups pin and share segment
    /// files this way; where it fails (another file system, or a storage without links, the
    /// default) they copy instead.
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        let _ = to;
        Err(crate::error::Error::io(
            from,
            std::io::Error::new(std::io::ErrorKind::Unsupported, "no hard links"),
        ))
    }
}
