//! `RealFs`: the storage trait over the operating system's file system.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{ByteView, DirEntry, LockGuard, Storage, StorageFile};
use crate::error::{Error, Result};

/// The real file system; `use_mmap` chooses memory maps or plain reads for sealed segments.
#[derive(Debug, Clone)]
pub struct RealFs {
    use_mmap: bool,
}

impl RealFs {
    /// A real file system that maps segments when `use_mmap` is true.
    pub fn new(use_mmap: bool) -> Self {
        RealFs { use_mmap }
    }
}

impl Default for RealFs {
    fn default() -> Self {
        RealFs::new(true)
    }
}

#[derive(Debug)]
struct RealFile {
    file: File,
    path: PathBuf,
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn pwrite(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(not(unix))]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(not(unix))]
fn pwrite(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

impl StorageFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        pread(&self.file, buf, offset).map_err(|e| Error::io(&self.path, e))
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        pwrite(&self.file, buf, offset).map_err(|e| Error::io(&self.path, e))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.file.set_len(len).map_err(|e| Error::io(&self.path, e))
    }

    fn size(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len())
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))
    }

    fn sync_data(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

#[derive(Debug)]
struct RealLock {
    _file: File,
}

impl LockGuard for RealLock {}

impl Storage for RealFs {
    fn create(&self, path: &Path) -> Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Box::new(RealFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path, write: bool) -> Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Box::new(RealFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn map_readonly(&self, path: &Path) -> Result<ByteView> {
        if self.use_mmap {
            super::mmap::map_file(path)
        } else {
            Ok(ByteView::from_vec(self.read_all(path)?))
        }
    }

    fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        fs::read(path).map_err(|e| Error::io(path, e))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| Error::io(from, e))
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        fs::remove_file(path).map_err(|e| Error::io(path, e))
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        fs::remove_dir(path).map_err(|e| Error::io(path, e))
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        match fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        #[cfg(unix)]
        {
            File::open(path)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(path, e))
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Ok(())
        }
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| Error::io(entry.path(), e))?
                .is_dir();
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        fs::hard_link(from, to).map_err(|e| Error::io(from, e))
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists().map_err(|e| Error::io(path, e))
    }

    fn lock_exclusive(&self, path: &Path) -> Result<Box<dyn LockGuard>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        // Another process's fork can hold a duplicate of a lock's file description for a moment
        // between fork and exec (a store closed just before a child was spawned elsewhere), so a
        // busy lock is retried for up to a second before it counts as held.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let mut attempt = file.try_lock();
        while matches!(attempt, Err(TryLockError::WouldBlock))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
            attempt = file.try_lock();
        }
        match attempt {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                let store = path.parent().unwrap_or(path).to_path_buf();
                return Err(Error::Locked { path: store, pid });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(path, e))?;
        Ok(Box::new(RealLock { _file: file }))
    }
}
