//! Read-only memory maps of sealed segment files: the only module where `unsafe` is allowed.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::ByteView;
use crate::error::{Error, Result};

/// Maps `path` read-only.
///
/// Only sealed segments are mapped: they are written once, fsynced, and never truncated or
/// rewritten afterwards (compaction writes new files and unlinks old ones). A media error on a
/// mapped page is delivered by the kernel as SIGBUS and ends the process; reopening reports it.
pub(crate) fn map_file(path: &Path) -> Result<ByteView> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Ok(ByteView::from_vec(Vec::new()));
    }
    // SAFETY: the file is a sealed segment that no code of ours writes or truncates after it is
    // synced (segments are write-once, see FORMAT.md), and the map is read-only.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(ByteView::new(Arc::new(map)))
}
