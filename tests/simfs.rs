//! `SimFs`: an in-memory storage for crash tests.
//!
//! Every file has a volatile content (what reads see) and a durable one (what survives a crash);
//! every directory has volatile and durable entries. `sync` makes a file's content durable,
//! `sync_dir` a directory's entries. The mutating operations are counted; with `crash_at(k)` the
//! k-th one and every later call fail as if the machine stopped. `crash_image` is the disk after
//! that power cut: only durable entries, with their durable content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tickvault::io::{ByteView, DirEntry, LockGuard, Storage, StorageFile};
use tickvault::{Error, Result};

#[derive(Debug, Default, Clone)]
struct Node {
    volatile: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    /// Contents by path, kept while the path is live or durable.
    files: BTreeMap<PathBuf, Node>,
    /// File entries that exist now (what reads and listings see).
    live: BTreeSet<PathBuf>,
    /// File entries that exist durably (their directory was synced after they changed).
    durable_files: BTreeSet<PathBuf>,
    /// Directories that exist now / durably.
    dirs: BTreeSet<PathBuf>,
    durable_dirs: BTreeSet<PathBuf>,
    ops: u64,
    crash_at: Option<u64>,
    /// One failing operation: its number and the error it returns (the disk goes on after it).
    fault: Option<(u64, std::io::ErrorKind)>,
    /// Reads so far (of files, whole or in part).
    reads: u64,
    /// One read that returns wrong bytes: its number and how.
    read_fault: Option<(u64, ReadFault)>,
}

/// How a read goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFault {
    /// One byte (at a seeded position) has one bit flipped.
    Flip(u64),
    /// A 4 KiB block (seeded) holds the bytes of another block of the file, as when a disk
    /// reads the wrong sector; a read of less than two blocks gets its bytes rotated.
    Misdirect(u64),
}

impl ReadFault {
    fn apply(self, bytes: &mut [u8]) {
        let n = bytes.len();
        if n == 0 {
            return;
        }
        match self {
            ReadFault::Flip(seed) => {
                let mut rng = Rng::new(seed);
                let at = rng.below(n as u64) as usize;
                let bit = rng.below(8);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << bit;
                }
            }
            ReadFault::Misdirect(seed) => {
                const BLOCK: usize = 4096;
                let blocks = n / BLOCK;
                if blocks < 2 {
                    let by = 1 + Rng::new(seed).below(n as u64 - 1) as usize;
                    bytes.rotate_left(by % n);
                    return;
                }
                let mut rng = Rng::new(seed);
                let a = rng.below(blocks as u64) as usize;
                let b = (a + 1 + rng.below(blocks as u64 - 1) as usize) % blocks;
                let copy = bytes[b * BLOCK..(b + 1) * BLOCK].to_vec();
                bytes[a * BLOCK..(a + 1) * BLOCK].copy_from_slice(&copy);
            }
        }
    }
}

/// The simulated file system; clones share one disk.
#[derive(Debug, Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

fn crashed(path: &Path) -> Error {
    Error::io(path, std::io::Error::other("simulated crash"))
}

fn not_found(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
    )
}

impl State {
    /// Counts a mutating operation; errors from the crash point on.
    fn step(&mut self, path: &Path) -> Result<()> {
        self.ops += 1;
        if let Some((k, kind)) = self.fault {
            if self.ops == k {
                return Err(Error::io(path, std::io::Error::new(kind, "injected fault")));
            }
        }
        match self.crash_at {
            Some(k) if self.ops >= k => Err(crashed(path)),
            _ => Ok(()),
        }
    }

    /// Counts a read and spoils its bytes if it is the faulty one.
    fn read(&mut self, bytes: &mut [u8]) {
        self.reads += 1;
        if let Some((k, fault)) = self.read_fault {
            if self.reads == k {
                fault.apply(bytes);
            }
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.parent().is_none() || self.dirs.contains(path)
    }

    /// Drops contents no entry refers to any more.
    fn collect(&mut self) {
        let (live, durable) = (&self.live, &self.durable_files);
        self.files
            .retain(|p, _| live.contains(p) || durable.contains(p));
    }
}

impl SimFs {
    /// An empty disk.
    pub fn new() -> Self {
        SimFs::default()
    }

    /// Fails the `k`-th mutating operation from now on, and every one after it.
    pub fn crash_at(&self, k: u64) {
        let mut s = self.state.lock();
        let now = s.ops;
        s.crash_at = Some(now + k);
    }

    /// Fails the `k`-th mutating operation from now on with `kind` (for example
    /// `StorageFull`), once; the operations after it work again (space was freed).
    pub fn fail_once_at(&self, k: u64, kind: std::io::ErrorKind) {
        let mut s = self.state.lock();
        let now = s.ops;
        s.fault = Some((now + k, kind));
    }

    /// Makes the `k`-th read from now on (of a file, whole or in part) return wrong bytes.
    pub fn fault_read_at(&self, k: u64, fault: ReadFault) {
        let mut s = self.state.lock();
        let now = s.reads;
        s.read_fault = Some((now + k, fault));
    }

    /// Reads so far.
    pub fn reads(&self) -> u64 {
        self.state.lock().reads
    }

    /// Mutating operations so far.
    pub fn ops(&self) -> u64 {
        self.state.lock().ops
    }

    /// The disk after a power cut now: durable entries with their durable content.
    pub fn crash_image(&self) -> SimFs {
        self.image(false)
    }

    /// Like `crash_image`, but a file whose unsynced writes only appended to its durable content
    /// keeps the first half of them (a torn write: some sectors reached the disk).
    pub fn torn_image(&self) -> SimFs {
        self.image(true)
    }

    /// Like `crash_image`, but each file whose unsynced writes only appended to its durable
    /// content keeps, as a disk of `sector`-byte sectors may after a power cut, a seeded choice
    /// of: a whole number of the sectors appended, then possibly part of the next sector
    /// (a torn sector), then possibly sectors of zeros up to at most the volatile length (the
    /// file size reached the disk, the data did not).
    pub fn torn_image_seeded(&self, seed: u64, sector: usize) -> SimFs {
        self.image_with(&|path, node| {
            let mut rng = Rng::new(seed ^ hash(path));
            let (durable, volatile) = (node.durable.len(), node.volatile.len());
            let mut content = node.durable.clone();
            // Sector boundaries are absolute file offsets.
            let first_boundary = durable.div_ceil(sector.max(1)) * sector.max(1);
            let boundaries: Vec<usize> = std::iter::once(durable)
                .chain(
                    (first_boundary..volatile)
                        .step_by(sector.max(1))
                        .filter(|b| *b > durable),
                )
                .chain(std::iter::once(volatile))
                .collect();
            let whole = boundaries.len().saturating_sub(1);
            let keep = rng.below(whole as u64 + 1) as usize;
            let mut end = boundaries.get(keep).copied().unwrap_or(durable);
            content.extend_from_slice(node.volatile.get(durable..end).unwrap_or_default());
            if keep < whole && rng.below(2) == 0 {
                // Part of the next sector.
                let next = boundaries.get(keep + 1).copied().unwrap_or(volatile);
                let part = rng.below((next - end) as u64) as usize;
                content.extend_from_slice(node.volatile.get(end..end + part).unwrap_or_default());
                end += part;
            }
            if end < volatile && rng.below(3) == 0 {
                // Zeros to a length the file had.
                let zeros = 1 + rng.below((volatile - end) as u64) as usize;
                content.resize(content.len() + zeros, 0);
            }
            content
        })
    }

    fn image(&self, torn: bool) -> SimFs {
        self.image_with(&|_, node| {
            let mut content = node.durable.clone();
            if torn {
                let extra = (node.volatile.len() - node.durable.len()) / 2;
                let tail = &node.volatile[node.durable.len()..node.durable.len() + extra];
                content.extend_from_slice(tail);
            }
            content
        })
    }

    /// The disk after a power cut: durable entries; a file whose unsynced writes only appended
    /// to its durable content gets `appended(path, node)`, any other its durable content.
    fn image_with(&self, appended: &dyn Fn(&Path, &Node) -> Vec<u8>) -> SimFs {
        let s = self.state.lock();
        let alive = |p: &Path| {
            p.ancestors()
                .skip(1)
                .all(|a| a.parent().is_none() || s.durable_dirs.contains(a))
        };
        let dirs: BTreeSet<PathBuf> = s
            .durable_dirs
            .iter()
            .filter(|d| alive(d))
            .cloned()
            .collect();
        let files: BTreeMap<PathBuf, Node> = s
            .durable_files
            .iter()
            .filter(|p| alive(p))
            .map(|p| {
                let node = s.files.get(p).cloned().unwrap_or_default();
                let grew = node.volatile.len() > node.durable.len()
                    && node.volatile.starts_with(&node.durable);
                let content = if grew {
                    appended(p, &node)
                } else {
                    node.durable.clone()
                };
                (
                    p.clone(),
                    Node {
                        volatile: content.clone(),
                        durable: content,
                    },
                )
            })
            .collect();
        SimFs {
            state: Arc::new(Mutex::new(State {
                live: files.keys().cloned().collect(),
                durable_files: files.keys().cloned().collect(),
                files,
                durable_dirs: dirs.clone(),
                dirs,
                ops: 0,
                crash_at: None,
                fault: None,
                reads: 0,
                read_fault: None,
            })),
        }
    }
}

#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    path: PathBuf,
}

impl StorageFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let mut s = self.fs.state.lock();
        let node = s
            .files
            .get(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        let src = node
            .volatile
            .get(offset as usize..offset as usize + buf.len())
            .ok_or_else(|| {
                Error::io(
                    &self.path,
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                )
            })?;
        buf.copy_from_slice(src);
        s.read(buf);
        Ok(())
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let mut s = self.fs.state.lock();
        s.step(&self.path)?;
        let node = s
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        let end = offset as usize + buf.len();
        if node.volatile.len() < end {
            node.volatile.resize(end, 0);
        }
        node.volatile[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        let mut s = self.fs.state.lock();
        s.step(&self.path)?;
        let node = s
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        node.volatile.resize(len as usize, 0);
        Ok(())
    }

    fn size(&self) -> Result<u64> {
        let s = self.fs.state.lock();
        Ok(s.files
            .get(&self.path)
            .ok_or_else(|| not_found(&self.path))?
            .volatile
            .len() as u64)
    }

    fn sync(&self) -> Result<()> {
        let mut s = self.fs.state.lock();
        s.step(&self.path)?;
        let node = s
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))?;
        node.durable = node.volatile.clone();
        Ok(())
    }
}

#[derive(Debug)]
struct SimLock;

impl LockGuard for SimLock {}

impl Storage for SimFs {
    fn create(&self, path: &Path) -> Result<Box<dyn StorageFile>> {
        let mut s = self.state.lock();
        s.step(path)?;
        if !path.parent().is_some_and(|p| s.is_dir(p)) {
            return Err(not_found(path));
        }
        s.live.insert(path.to_path_buf());
        s.files
            .entry(path.to_path_buf())
            .or_default()
            .volatile
            .clear();
        Ok(Box::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path, _write: bool) -> Result<Box<dyn StorageFile>> {
        let s = self.state.lock();
        if !s.live.contains(path) {
            return Err(not_found(path));
        }
        Ok(Box::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn map_readonly(&self, path: &Path) -> Result<ByteView> {
        Ok(ByteView::from_vec(self.read_all(path)?))
    }

    fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        let mut s = self.state.lock();
        if !s.live.contains(path) {
            return Err(not_found(path));
        }
        let mut bytes = s
            .files
            .get(path)
            .map(|n| n.volatile.clone())
            .unwrap_or_default();
        s.read(&mut bytes);
        Ok(bytes)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(from)?;
        if !s.live.remove(from) {
            return Err(not_found(from));
        }
        // The file (both its contents) moves to the new name; the old name's durable entry, if
        // any, keeps the durable content until the directory is synced.
        let node = s.files.get(from).cloned().unwrap_or_default();
        s.live.insert(to.to_path_buf());
        s.files.insert(to.to_path_buf(), node);
        s.collect();
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        if !s.live.remove(path) {
            return Err(not_found(path));
        }
        s.collect();
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        if s.live.iter().any(|f| f.starts_with(path))
            || s.dirs.iter().any(|d| d.parent() == Some(path))
        {
            return Err(Error::io(
                path,
                std::io::Error::other("directory not empty"),
            ));
        }
        s.dirs.remove(path);
        Ok(())
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        if !path.parent().is_some_and(|p| s.is_dir(p)) {
            return Err(not_found(path));
        }
        s.dirs.insert(path.to_path_buf());
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        let child = |p: &Path| p.parent() == Some(path);
        let live: Vec<PathBuf> = s.live.iter().filter(|p| child(p)).cloned().collect();
        s.durable_files.retain(|p| !child(p));
        s.durable_files.extend(live);
        let dirs: Vec<PathBuf> = s.dirs.iter().filter(|p| child(p)).cloned().collect();
        s.durable_dirs.retain(|p| !child(p));
        s.durable_dirs.extend(dirs);
        s.collect();
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>> {
        let s = self.state.lock();
        if !s.is_dir(path) {
            return Err(not_found(path));
        }
        let files = s
            .live
            .iter()
            .filter(|p| p.parent() == Some(path))
            .map(|p| DirEntry {
                name: name(p),
                is_dir: false,
            });
        let dirs = s
            .dirs
            .iter()
            .filter(|p| p.parent() == Some(path))
            .map(|p| DirEntry {
                name: name(p),
                is_dir: true,
            });
        let mut out: Vec<DirEntry> = files.chain(dirs).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        let s = self.state.lock();
        Ok(s.is_dir(path) || s.live.contains(path))
    }

    fn lock_exclusive(&self, _path: &Path) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(SimLock))
    }
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A small seeded generator (xorshift64*), so that every seeded image is reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        if n == 0 {
            0
        } else {
            x % n
        }
    }
}

/// FNV-1a of a path, to give each file its own tear.
fn hash(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}
