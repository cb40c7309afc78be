//! The engine's error type: a few categories, each saying what went wrong and where.

use std::io;
use std::path::PathBuf;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way an engine operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes on disk do not form a valid structure.
    #[error("corrupt file {file}: at offset {offset}: {what}")]
    Corruption {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the bad structure in that file.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A checksum over stored bytes did not match.
    #[error("checksum mismatch in {file} at offset {offset}: stored {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the checksummed range.
        offset: u64,
        /// The checksum stored on disk.
        expected: u32,
        /// The checksum of the bytes as read.
        actual: u32,
    },
    /// A file was written by a format version this build cannot read.
    #[error(
        "{file}: format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// An operating-system I/O error on a path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Another process holds the store's writer lock.
    #[error("store {path} is locked by another writer{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The store directory.
        path: PathBuf,
        /// The process id recorded by the holder, when readable.
        pid: Option<u32>,
    },
    /// A write was attempted on a store opened read-only.
    #[error("store is open read-only")]
    ReadOnly,
    /// An earlier fsync failed; the store refuses writes until it is reopened.
    #[error("store is poisoned by an earlier failed sync; reopen it to recover")]
    Poisoned,
}

impl Error {
    /// Wraps an `io::Error` with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption error at `offset` of `file`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, what: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }

    /// True for the error kinds that mean stored bytes are damaged.
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. }
                | Error::ChecksumMismatch { .. }
                | Error::UnsupportedVersion { .. }
        )
    }

    /// True when the error is an I/O "not found".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}
