//! `SimFs`: an in-memory storage for crash tests.
//!
//! A tree of directories and files as a file system keeps it: files are inodes with a volatile
//! content (what reads see) and a durable one (what survives a crash); directories are inodes
//! with volatile entries (name -> inode) and durable ones. `sync` makes a file's content
//! durable, `sync_dir` a directory's entries. Until its directory is synced, a crash brings
//! an entry back as it was: a file renamed over another is the old file again, a new name or
//! hard link is gone, a renamed directory is under its old name with its durable entries.
//! The mutating operations are counted; with `crash_at(k)` the k-th one and every later call
//! fail as if the machine stopped. `crash_image` is the disk after that power cut: the tree of
//! durable entries from the root, with durable contents.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tickvault::io::{ByteView, DirEntry, LockGuard, Storage, StorageFile};
use tickvault::{Error, Result};

#[derive(Debug, Default, Clone)]
struct Node {
    volatile: Vec<u8>,
    durable: Vec<u8>,
}

impl Node {
    /// The first offset at which the volatile content differs from the durable one.
    fn changed_from(&self) -> usize {
        self.volatile
            .iter()
            .zip(&self.durable)
            .position(|(v, d)| v != d)
            .unwrap_or(self.durable.len().min(self.volatile.len()))
    }

    /// The volatile content up to `end`, then the durable content after it.
    fn content_to(&self, end: usize) -> Vec<u8> {
        let mut content = self.volatile[..end].to_vec();
        content.extend_from_slice(self.durable.get(end..).unwrap_or_default());
        content
    }
}

/// A directory entry: a file or a directory inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir(u64),
}

/// A directory's entries, now and durably.
#[derive(Debug, Default, Clone)]
struct Dir {
    live: BTreeMap<String, Entry>,
    durable: BTreeMap<String, Entry>,
}

/// The inode of the root directory.
const ROOT: u64 = 0;

#[derive(Debug)]
struct State {
    /// File contents by inode.
    files: BTreeMap<u64, Node>,
    /// Directories by inode.
    dirs: BTreeMap<u64, Dir>,
    /// The last inode number given out.
    next: u64,
    ops: u64,
    crash_at: Option<u64>,
    /// One failing operation: its number and the error it returns (the disk goes on after it).
    fault: Option<(u64, std::io::ErrorKind)>,
    /// Reads so far (of files, whole or in part).
    reads: u64,
    /// One read that returns wrong bytes: its number and how.
    read_fault: Option<(u64, ReadFault)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            files: BTreeMap::new(),
            dirs: BTreeMap::from([(ROOT, Dir::default())]),
            next: ROOT,
            ops: 0,
            crash_at: None,
            fault: None,
            reads: 0,
            read_fault: None,
        }
    }
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

fn io_error(path: &Path, kind: std::io::ErrorKind, what: &str) -> Error {
    Error::io(path, std::io::Error::new(kind, what.to_string()))
}

/// The names along `path` (the root and `.` dropped).
fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
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

    fn new_inode(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// The live entry at `path`.
    fn lookup(&self, path: &Path) -> Option<Entry> {
        let mut at = Entry::Dir(ROOT);
        for name in names(path) {
            let Entry::Dir(d) = at else { return None };
            at = *self.dirs.get(&d)?.live.get(&name)?;
        }
        Some(at)
    }

    /// The directory holding `path` (which must exist) and `path`'s name in it.
    fn parent(&self, path: &Path) -> Result<(u64, String)> {
        let name = names(path).pop().ok_or_else(|| not_found(path))?;
        match path.parent().and_then(|p| self.lookup(p)) {
            Some(Entry::Dir(d)) => Ok((d, name)),
            _ => Err(not_found(path)),
        }
    }

    fn entries(&mut self, dir: u64) -> &mut BTreeMap<String, Entry> {
        &mut self.dirs.entry(dir).or_default().live
    }

    fn file(&self, path: &Path) -> Result<u64> {
        match self.lookup(path) {
            Some(Entry::File(id)) => Ok(id),
            _ => Err(not_found(path)),
        }
    }

    /// Copies directory `from` of `old` (its durable entries, or its live ones with `live_dirs`)
    /// into directory `to` of `self`,
    /// as the disk after a power cut holds it.
    fn copy_durable(
        &mut self,
        old: &State,
        from: u64,
        to: u64,
        path: &Path,
        changed: &dyn Fn(&Path, &Node) -> Vec<u8>,
        live_dirs: bool,
    ) {
        let Some(dir) = old.dirs.get(&from) else {
            return;
        };
        let entries = if live_dirs { &dir.live } else { &dir.durable };
        for (name, entry) in entries {
            let child = path.join(name);
            let copied = match *entry {
                Entry::File(id) => {
                    if let std::collections::btree_map::Entry::Vacant(slot) = self.files.entry(id) {
                        let node = old.files.get(&id).cloned().unwrap_or_default();
                        let grew = node.volatile.len() >= node.durable.len()
                            && node.volatile != node.durable;
                        let content = if grew {
                            changed(&child, &node)
                        } else {
                            node.durable
                        };
                        slot.insert(Node {
                            volatile: content.clone(),
                            durable: content,
                        });
                    }
                    Entry::File(id)
                }
                Entry::Dir(id) => {
                    // A directory reachable twice (moved, both parents synced) is two copies.
                    let new = if self.dirs.contains_key(&id) {
                        self.new_inode()
                    } else {
                        id
                    };
                    self.dirs.insert(new, Dir::default());
                    self.copy_durable(old, id, new, &child, changed, live_dirs);
                    Entry::Dir(new)
                }
            };
            let d = self.dirs.entry(to).or_default();
            d.live.insert(name.clone(), copied);
            d.durable.insert(name.clone(), copied);
        }
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
        self.image_with(&|_, node| node.durable.clone())
    }

    /// Like `crash_image`, but a file whose unsynced writes changed it from some offset on
    /// (appended to it, or overwrote part of it without shrinking it) keeps the first half of
    /// the changed bytes (a torn write: some sectors reached the disk) and its durable bytes
    /// after them.
    pub fn torn_image(&self) -> SimFs {
        self.image_with(&|_, node| {
            let base = node.changed_from();
            node.content_to(base + (node.volatile.len() - base) / 2)
        })
    }

    /// Like `crash_image`, but each file whose unsynced writes changed it from some offset on
    /// (appended, or overwrote without shrinking) keeps, as a disk of `sector`-byte sectors may
    /// after a power cut, a seeded choice of: a whole number of the changed sectors, then
    /// possibly part of the next sector (a torn sector), then its durable bytes, or, past its
    /// durable length, possibly sectors of zeros up to at most the volatile length (the file
    /// size reached the disk, the data did not).
    pub fn torn_image_seeded(&self, seed: u64, sector: usize) -> SimFs {
        self.image_with(&|path, node| {
            let mut rng = Rng::new(seed ^ hash(path));
            let (base, volatile) = (node.changed_from(), node.volatile.len());
            // Sector boundaries are absolute file offsets.
            let first_boundary = base.div_ceil(sector.max(1)) * sector.max(1);
            let boundaries: Vec<usize> = std::iter::once(base)
                .chain(
                    (first_boundary..volatile)
                        .step_by(sector.max(1))
                        .filter(|b| *b > base),
                )
                .chain(std::iter::once(volatile))
                .collect();
            let whole = boundaries.len().saturating_sub(1);
            let keep = rng.below(whole as u64 + 1) as usize;
            let mut end = boundaries.get(keep).copied().unwrap_or(base);
            if keep < whole && rng.below(2) == 0 {
                // Part of the next sector.
                let next = boundaries.get(keep + 1).copied().unwrap_or(volatile);
                end += rng.below((next - end) as u64) as usize;
            }
            let mut content = node.content_to(end);
            if content.len() < volatile && rng.below(3) == 0 {
                // Zeros to a length the file had.
                let zeros = 1 + rng.below((volatile - content.len()) as u64) as usize;
                content.resize(content.len() + zeros, 0);
            }
            content
        })
    }

    /// The disk after a power cut: the durable entries from the root; a file whose unsynced
    /// writes changed it without shrinking it gets `changed(path, node)` (for the first durable
    /// name found), any other its durable content. Durable hard links stay links.
    fn image_with(&self, changed: &dyn Fn(&Path, &Node) -> Vec<u8>) -> SimFs {
        self.image_of(changed, false)
    }

    /// Like `crash_image`, but every directory change reached the disk, synced or not (file
    /// systems write directory changes back on their own), while file contents are as synced:
    /// what an operation that relies on an unsynced change being lost gets wrong.
    pub fn crash_image_with_live_dirs(&self) -> SimFs {
        self.image_of(&|_, node| node.durable.clone(), true)
    }

    fn image_of(&self, changed: &dyn Fn(&Path, &Node) -> Vec<u8>, live_dirs: bool) -> SimFs {
        let old = self.state.lock();
        let mut new = State {
            next: old.next,
            ..State::default()
        };
        new.copy_durable(&old, ROOT, ROOT, Path::new("/"), changed, live_dirs);
        SimFs {
            state: Arc::new(Mutex::new(new)),
        }
    }
}

/// An open file: its inode, as a real file handle (it follows a rename and keeps the file it
/// opened whatever happens to its name).
#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    path: PathBuf,
    inode: u64,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut State, u64) -> Result<T>) -> Result<T> {
        let mut s = self.fs.state.lock();
        f(&mut s, self.inode)
    }
}

impl StorageFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.with(|s, id| {
            let node = s.files.get(&id).ok_or_else(|| not_found(&self.path))?;
            let src = node
                .volatile
                .get(offset as usize..offset as usize + buf.len())
                .ok_or_else(|| {
                    io_error(&self.path, std::io::ErrorKind::UnexpectedEof, "short read")
                })?;
            buf.copy_from_slice(src);
            s.read(buf);
            Ok(())
        })
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.with(|s, id| {
            s.step(&self.path)?;
            let node = s.files.entry(id).or_default();
            let end = offset as usize + buf.len();
            if node.volatile.len() < end {
                node.volatile.resize(end, 0);
            }
            node.volatile[offset as usize..end].copy_from_slice(buf);
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.with(|s, id| {
            s.step(&self.path)?;
            s.files
                .entry(id)
                .or_default()
                .volatile
                .resize(len as usize, 0);
            Ok(())
        })
    }

    fn size(&self) -> Result<u64> {
        self.with(|s, id| Ok(s.files.get(&id).map_or(0, |n| n.volatile.len() as u64)))
    }

    fn sync(&self) -> Result<()> {
        self.with(|s, id| {
            s.step(&self.path)?;
            let node = s.files.entry(id).or_default();
            node.durable = node.volatile.clone();
            Ok(())
        })
    }
}

#[derive(Debug)]
struct SimLock;

impl LockGuard for SimLock {}

impl Storage for SimFs {
    fn create(&self, path: &Path) -> Result<Box<dyn StorageFile>> {
        let mut s = self.state.lock();
        s.step(path)?;
        let (dir, name) = s.parent(path)?;
        // An existing file is truncated (the same inode); a new name gets a new inode.
        let inode = match s.entries(dir).get(&name).copied() {
            Some(Entry::File(id)) => id,
            Some(Entry::Dir(_)) => {
                return Err(io_error(
                    path,
                    std::io::ErrorKind::IsADirectory,
                    "a directory",
                ))
            }
            None => {
                let id = s.new_inode();
                s.entries(dir).insert(name, Entry::File(id));
                id
            }
        };
        s.files.entry(inode).or_default().volatile.clear();
        Ok(Box::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inode,
        }))
    }

    fn open(&self, path: &Path, _write: bool) -> Result<Box<dyn StorageFile>> {
        let inode = self.state.lock().file(path)?;
        Ok(Box::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inode,
        }))
    }

    fn map_readonly(&self, path: &Path) -> Result<ByteView> {
        Ok(ByteView::from_vec(self.read_all(path)?))
    }

    fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        let mut s = self.state.lock();
        let id = s.file(path)?;
        let mut bytes = s
            .files
            .get(&id)
            .map(|n| n.volatile.clone())
            .unwrap_or_default();
        s.read(&mut bytes);
        Ok(bytes)
    }

    /// Moves the entry (a file, or a directory with everything under it); a file replaces a
    /// file `to`, a directory only an empty directory.
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(from)?;
        let (fd, fname) = s.parent(from)?;
        let entry = s
            .entries(fd)
            .get(&fname)
            .copied()
            .ok_or_else(|| not_found(from))?;
        let (td, tname) = s.parent(to)?;
        match (entry, s.entries(td).get(&tname).copied()) {
            (Entry::File(_), Some(Entry::Dir(_))) => {
                return Err(io_error(
                    to,
                    std::io::ErrorKind::IsADirectory,
                    "a directory",
                ))
            }
            (Entry::Dir(_), Some(Entry::File(_))) => {
                return Err(io_error(to, std::io::ErrorKind::NotADirectory, "a file"))
            }
            (Entry::Dir(_), Some(Entry::Dir(d))) if !s.entries(d).is_empty() => {
                return Err(io_error(
                    to,
                    std::io::ErrorKind::DirectoryNotEmpty,
                    "not empty",
                ))
            }
            _ => {}
        }
        s.entries(fd).remove(&fname);
        s.entries(td).insert(tname, entry);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        let (dir, name) = s.parent(path)?;
        match s.entries(dir).get(&name) {
            Some(Entry::File(_)) => {
                s.entries(dir).remove(&name);
                Ok(())
            }
            _ => Err(not_found(path)),
        }
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        let (dir, name) = s.parent(path)?;
        match s.entries(dir).get(&name).copied() {
            Some(Entry::Dir(d)) if s.entries(d).is_empty() => {
                s.entries(dir).remove(&name);
                Ok(())
            }
            Some(Entry::Dir(_)) => Err(io_error(
                path,
                std::io::ErrorKind::DirectoryNotEmpty,
                "directory not empty",
            )),
            _ => Err(not_found(path)),
        }
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        let (dir, name) = s.parent(path)?;
        match s.entries(dir).get(&name) {
            Some(Entry::Dir(_)) => Ok(()),
            Some(Entry::File(_)) => {
                Err(io_error(path, std::io::ErrorKind::AlreadyExists, "a file"))
            }
            None => {
                let id = s.new_inode();
                s.dirs.insert(id, Dir::default());
                s.entries(dir).insert(name, Entry::Dir(id));
                Ok(())
            }
        }
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(path)?;
        match s.lookup(path) {
            Some(Entry::Dir(d)) => {
                let dir = s.dirs.entry(d).or_default();
                dir.durable = dir.live.clone();
                Ok(())
            }
            _ => Err(not_found(path)),
        }
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>> {
        let s = self.state.lock();
        let Some(Entry::Dir(d)) = s.lookup(path) else {
            return Err(not_found(path));
        };
        Ok(s.dirs
            .get(&d)
            .map(|dir| {
                dir.live
                    .iter()
                    .map(|(name, e)| DirEntry {
                        name: name.clone(),
                        is_dir: matches!(e, Entry::Dir(_)),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A second name for the file (the same inode), durable once its directory is synced.
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        let mut s = self.state.lock();
        s.step(to)?;
        let id = s.file(from)?;
        let (dir, name) = s.parent(to)?;
        if s.entries(dir).contains_key(&name) {
            return Err(io_error(
                to,
                std::io::ErrorKind::AlreadyExists,
                "file exists",
            ));
        }
        s.entries(dir).insert(name, Entry::File(id));
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        Ok(self.state.lock().lookup(path).is_some())
    }

    fn lock_exclusive(&self, _path: &Path) -> Result<Box<dyn LockGuard>> {
        Ok(Box::new(SimLock))
    }
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
