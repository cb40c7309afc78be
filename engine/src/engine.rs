//! `Engine`: opening a store (lock, manifest, orphan collection), its in-memory state, and the
//! `Database` trait over the write and read paths.
//!
//! Invariant: the in-memory state equals the manifest's durable state plus nothing; it changes
//! only after a manifest edit is durable. Overviews are computed from it: O(partitions), exact.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::cache::{BlockCache, BlockCacheStats};
use crate::codec::Compression;
use crate::columns::Columns;
use crate::error::{Error, Result};
use crate::io::{LockGuard, RealFs, Storage, StorageFile};
use crate::manifest::{ManifestLog, ManifestReader, ManifestState, SegmentMeta};
use crate::memtable::MemPart;
use crate::model::{SeriesKey, SeriesKind, Timestamp};
use crate::segment::{Segment, WriteOptions};
use crate::wal::{SyncPolicy, Wal};
use crate::write::Dedup;

/// File extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";
const LOCK_FILE: &str = "LOCK";
pub(crate) const DATA_DIR: &str = "data";

/// The file name of segment `id`.
pub(crate) fn segment_file_name(id: u64) -> String {
    format!("{id:016x}.{SEGMENT_EXTENSION}")
}

pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

/// Options chosen when a store is opened; see [`Engine::builder`].
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub read_only: bool,
    pub use_mmap: bool,
    pub segment: WriteOptions,
    pub segment_rows_max: usize,
    pub create_if_missing: bool,
    pub storage: Option<Arc<dyn Storage>>,
    pub sync: SyncPolicy,
    pub memtable_bytes_max: usize,
    pub memtable_age_max: Duration,
    pub keep_same_time_ticks: Option<bool>,
    pub block_cache_bytes: usize,
}

/// The default size of the block cache (see [`EngineBuilder::block_cache_bytes`]): 64 MiB,
/// which keeps loads of up to 16 MiB of decoded columns (about 290,000 bars or 40,000
/// five-level ticks).
pub const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// Builds an [`Engine`] with options other than the defaults.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    path: PathBuf,
    opts: Options,
}

impl EngineBuilder {
    /// Opens read-only (default false): no lock is taken, writes fail with `Error::ReadOnly`, and
    /// reads follow the commits of a writer in another process.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.opts.read_only = yes;
        self
    }

    /// Reads sealed segments through memory maps (default true) or plain reads.
    pub fn use_mmap(mut self, yes: bool) -> Self {
        self.opts.use_mmap = yes;
        self
    }

    /// Compression after the column codecs (default LZ4).
    pub fn compression(mut self, c: Compression) -> Self {
        self.opts.segment.compression = c;
        self
    }

    /// Rows per block (default 2048).
    pub fn block_rows(mut self, rows: usize) -> Self {
        self.opts.segment.block_rows = rows;
        self
    }

    /// Most rows per segment file (default 4,194,304).
    pub fn segment_rows_max(mut self, rows: usize) -> Self {
        self.opts.segment_rows_max = rows;
        self
    }

    /// Creates the store when the directory holds none (default true); when false, opening a
    /// missing store fails with a not-found I/O error.
    pub fn create_if_missing(mut self, yes: bool) -> Self {
        self.opts.create_if_missing = yes;
        self
    }

    /// When stream saves are made durable (default `SyncPolicy::EveryCommit`).
    pub fn wal_sync(mut self, policy: SyncPolicy) -> Self {
        self.opts.sync = policy;
        self
    }

    /// Memtables are flushed into segments once they hold this many bytes in all (default
    /// 64 MiB).
    pub fn memtable_bytes_max(mut self, bytes: usize) -> Self {
        self.opts.memtable_bytes_max = bytes;
        self
    }

    /// Memtables are flushed at the first stream save after their oldest row is this old
    /// (default 5 minutes).
    pub fn memtable_age_max(mut self, age: Duration) -> Self {
        self.opts.memtable_age_max = age;
        self
    }

    /// For a new store: keep every tick that shares a timestamp with another of its series, in
    /// arrival order, instead of letting the last one replace the others (vn.py's behaviour, the
    /// default). Exchanges that stamp ticks with whole seconds (CZCE) need it. The choice is
    /// recorded in the store; asking an existing store for the other one is an error.
    pub fn keep_same_time_ticks(mut self, yes: bool) -> Self {
        self.opts.keep_same_time_ticks = Some(yes);
        self
    }

    /// Keeps up to this many bytes of decoded block columns for loads that repeat (default
    /// [`BLOCK_CACHE_BYTES`]; 0 keeps none). A load whose decoded columns take more than a
    /// quarter of it neither fills the cache nor evicts from it. See
    /// [`Engine::block_cache_stats`].
    pub fn block_cache_bytes(mut self, bytes: usize) -> Self {
        self.opts.block_cache_bytes = bytes;
        self
    }

    /// Uses `storage` for every file operation (default: the real file system).
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.opts.storage = Some(storage);
        self
    }

    /// Opens the store, creating it unless read-only.
    pub fn open(self) -> Result<Engine> {
        Engine::open_with(self.path, self.opts)
    }
}

/// A segment the manifest names, opened on first use.
#[derive(Debug)]
pub(crate) struct LiveSegment {
    pub meta: SegmentMeta,
    pub path: PathBuf,
    opened: OnceLock<Arc<Segment>>,
}

impl LiveSegment {
    pub(crate) fn new(meta: SegmentMeta, path: PathBuf) -> Self {
        LiveSegment {
            meta,
            path,
            opened: OnceLock::new(),
        }
    }
}

/// What the engine holds in memory: the manifest state and a handle per live segment.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub manifest: ManifestState,
    pub live: HashMap<u64, Arc<LiveSegment>>,
    /// Stream-saved rows not yet in segments, per series.
    pub mem: HashMap<SeriesKey, MemPart>,
}

/// Segment ids pinned by snapshots, with counts, and files whose unlink waits for them.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    pub counts: HashMap<u64, usize>,
    pub waiting: Vec<(u64, PathBuf)>,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub log: ManifestLog,
    _lock: Box<dyn LockGuard>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub root: PathBuf,
    pub storage: Arc<dyn Storage>,
    pub opts: Options,
    pub state: RwLock<State>,
    pub writer: Mutex<Option<Writer>>,
    pub reader: Mutex<Option<ManifestReader>>,
    pub poisoned: Arc<AtomicBool>,
    pub wal: OnceLock<Arc<Wal>>,
    /// Set by `abandon`: the last handle does not flush on drop.
    pub abandoned: AtomicBool,
    /// The store keeps ticks that share a time (recorded in `OPTIONS`).
    pub keep_same_time_ticks: bool,
    /// Segment ids pinned by live snapshots (with counts), and files whose removal waits for them.
    pub pins: Mutex<Pins>,
    /// Decoded block columns of recent loads.
    pub cache: BlockCache,
}

/// An open store. Cheap to clone; clones share one store handle.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Totals of a store, from the manifest (no data read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The store directory.
    pub root: PathBuf,
    /// Whether this handle is read-only.
    pub read_only: bool,
    /// Bar series.
    pub bar_series: usize,
    /// Tick series.
    pub tick_series: usize,
    /// Segment files.
    pub segments: usize,
    /// Bars stored.
    pub bar_rows: u64,
    /// Ticks stored.
    pub tick_rows: u64,
    /// Bytes in segment files.
    pub segment_bytes: u64,
    /// Rows of stream saves not yet flushed into segments (in the WAL and memtables).
    pub memtable_rows: u64,
}

impl Engine {
    /// Opens the store at `path` for writing, creating it if missing.
    pub fn open(path: impl Into<PathBuf>) -> Result<Engine> {
        Engine::builder(path).open()
    }

    /// Opens the existing store at `path` read-only.
    pub fn open_read_only(path: impl Into<PathBuf>) -> Result<Engine> {
        Engine::builder(path).read_only(true).open()
    }

    /// A builder for options other than the defaults.
    pub fn builder(path: impl Into<PathBuf>) -> EngineBuilder {
        EngineBuilder {
            path: path.into(),
            opts: Options {
                read_only: false,
                use_mmap: true,
                segment: WriteOptions::default(),
                segment_rows_max: 1 << 22,
                create_if_missing: true,
                storage: None,
                sync: SyncPolicy::EveryCommit,
                memtable_bytes_max: 64 << 20,
                memtable_age_max: Duration::from_secs(300),
                block_cache_bytes: BLOCK_CACHE_BYTES,
                keep_same_time_ticks: None,
            },
        }
    }

    fn open_with(root: PathBuf, opts: Options) -> Result<Engine> {
        if opts.segment_rows_max == 0 {
            return Err(Error::InvalidArgument(
                "segment_rows_max must be at least 1".into(),
            ));
        }
        let storage: Arc<dyn Storage> = match &opts.storage {
            Some(s) => s.clone(),
            None => Arc::new(RealFs::new(opts.use_mmap)),
        };
        let data = root.join(DATA_DIR);
        let (manifest, writer, reader) = if opts.read_only {
            match ManifestReader::open(storage.clone(), &root) {
                Ok(Some((reader, state))) => (state, None, Some(reader)),
                Ok(None) => return Err(no_store(&root)),
                Err(e) if e.is_not_found() => return Err(no_store(&root)),
                Err(e) => return Err(e),
            }
        } else {
            check_root(&*storage, &root, opts.create_if_missing)?;
            create_dir_all(&*storage, &root)?;
            let lock = storage.lock_exclusive(&root.join(LOCK_FILE))?;
            if !storage.exists(&data)? {
                storage.create_dir(&data)?;
                storage.sync_dir(&root)?;
            }
            if !has_manifest(&*storage, &root)? {
                write_options(&*storage, &root, opts.keep_same_time_ticks.unwrap_or(false))?;
            }
            let (log, state) = ManifestLog::open(storage.clone(), &root)?;
            (state, Some(Writer { log, _lock: lock }), None)
        };
        let keep_same_time_ticks = read_options(&*storage, &root)?;
        if let Some(wanted) = opts
            .keep_same_time_ticks
            .filter(|w| *w != keep_same_time_ticks)
        {
            return Err(Error::InvalidArgument(format!(
                "{} was created with keep_same_time_ticks = {keep_same_time_ticks}, not {wanted}",
                root.display()
            )));
        }
        let inner = Inner {
            cache: BlockCache::new(opts.block_cache_bytes),
            root,
            storage,
            opts,
            state: RwLock::new(State::default()),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            poisoned: Arc::new(AtomicBool::new(false)),
            wal: OnceLock::new(),
            abandoned: AtomicBool::new(false),
            keep_same_time_ticks,
            pins: Mutex::new(Pins::default()),
        };
        let engine = Engine {
            inner: Arc::new(inner),
        };
        engine.install(manifest, false);
        if !engine.inner.opts.read_only {
            engine.collect_orphans()?;
            engine.recover_wal()?;
        }
        Ok(engine)
    }

    /// Replaces the in-memory state with `manifest`, keeping handles of unchanged segments; with
    /// `flushed`, the memtables went into that manifest's segments and are dropped in the same
    /// step, so a reader sees either both or neither.
    pub(crate) fn install(&self, manifest: ManifestState, flushed: bool) {
        let mut state = self.inner.state.write();
        let mut live = HashMap::new();
        for (key, segs) in &manifest.partitions {
            for meta in segs {
                let seg = match state.live.get(&meta.id) {
                    Some(s) if s.meta == *meta => s.clone(),
                    _ => Arc::new(LiveSegment::new(*meta, self.segment_path(key, meta.id))),
                };
                live.insert(meta.id, seg);
            }
        }
        state.manifest = manifest;
        state.live = live;
        if flushed {
            state.mem.clear();
        }
    }

    /// Removes segment and temporary files that no manifest names, and empty partition
    /// directories. Unknown files are left alone.
    fn collect_orphans(&self) -> Result<()> {
        let storage = &self.inner.storage;
        let data = self.inner.root.join(DATA_DIR);
        let state = self.inner.state.read();
        let dirs: HashMap<String, HashSet<u64>> = state
            .manifest
            .partitions
            .iter()
            .map(|(k, segs)| (k.dir_name(), segs.iter().map(|s| s.id).collect()))
            .collect();
        for entry in storage.list_dir(&data)? {
            if !entry.is_dir {
                continue;
            }
            let dir = data.join(&entry.name);
            let live = dirs.get(&entry.name);
            let mut remaining = 0usize;
            for file in storage.list_dir(&dir)? {
                let ours =
                    file.name.ends_with(".tmp") || parse_segment_file_name(&file.name).is_some();
                let named = parse_segment_file_name(&file.name)
                    .is_some_and(|id| live.is_some_and(|l| l.contains(&id)));
                if !file.is_dir && ours && !named {
                    storage.remove_file(&dir.join(&file.name))?;
                } else {
                    remaining += 1;
                }
            }
            if remaining == 0 && live.is_none() {
                storage.remove_dir(&dir)?;
            }
            storage
                .sync_dir(&dir)
                .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })?;
        }
        storage.sync_dir(&data)
    }

    /// How rows of `key` that share a time are kept.
    pub(crate) fn dedup(&self, key: &SeriesKey) -> Dedup {
        if key.kind() == SeriesKind::Tick && self.inner.keep_same_time_ticks {
            Dedup::KeepAll
        } else {
            Dedup::LastWins
        }
    }

    /// Whether this store keeps ticks that share a timestamp.
    pub fn keeps_same_time_ticks(&self) -> bool {
        self.inner.keep_same_time_ticks
    }

    /// Drops this handle as a killed process would: memtables are not flushed, so reopening
    /// recovers stream-saved rows from the WAL. For crash tests and tools that test recovery.
    pub fn abandon(self) {
        self.inner.abandoned.store(true, Ordering::Release);
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// Whether this handle is read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.opts.read_only
    }

    pub(crate) fn partition_dir(&self, key: &SeriesKey) -> PathBuf {
        self.inner.root.join(DATA_DIR).join(key.dir_name())
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.inner.root.join(DATA_DIR)
    }

    pub(crate) fn segment_path(&self, key: &SeriesKey, id: u64) -> PathBuf {
        self.partition_dir(key).join(segment_file_name(id))
    }

    /// Follows another process's commits (read-only handles only).
    pub(crate) fn refresh(&self) -> Result<()> {
        let mut reader = self.inner.reader.lock();
        if let Some(reader) = reader.as_mut() {
            if !reader.has_news()? {
                return Ok(());
            }
            let mut manifest = self.inner.state.read().manifest.clone();
            if reader.refresh(&mut manifest)? {
                self.install(manifest, false);
            }
        }
        Ok(())
    }

    /// Opens (once) and returns the segment behind `live`.
    pub(crate) fn open_segment<C: Columns>(&self, live: &LiveSegment) -> Result<Arc<Segment>> {
        if let Some(seg) = live.opened.get() {
            return Ok(seg.clone());
        }
        let bytes = self.inner.storage.map_readonly(&live.path)?;
        if bytes.len() as u64 != live.meta.file_len {
            return Err(Error::corruption(
                &live.path,
                0,
                format!(
                    "file is {} bytes, the manifest says {}",
                    bytes.len(),
                    live.meta.file_len
                ),
            ));
        }
        let seg = Segment::open(&live.path, bytes, Some(live.meta.id), C::schema())?;
        if seg.kind() != C::KIND
            || seg.rows() != live.meta.rows
            || seg.min_ts() != live.meta.min_ts
            || seg.max_ts() != live.meta.max_ts
        {
            return Err(Error::corruption(
                &live.path,
                0,
                "segment disagrees with its manifest entry",
            ));
        }
        let seg = Arc::new(seg);
        Ok(live.opened.get_or_init(|| seg).clone())
    }

    /// The live segments of a series, ascending.
    pub(crate) fn live_segments(&self, key: &SeriesKey) -> Vec<Arc<LiveSegment>> {
        let state = self.inner.state.read();
        state
            .manifest
            .partitions
            .get(key)
            .map(|segs| {
                segs.iter()
                    .filter_map(|m| state.live.get(&m.id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The block cache's capacity, contents and counters (hits and misses since open).
    pub fn block_cache_stats(&self) -> BlockCacheStats {
        self.inner.cache.stats()
    }

    /// Totals from the manifest.
    pub fn info(&self) -> Result<StoreInfo> {
        self.refresh()?;
        let state = self.inner.state.read();
        let mut info = StoreInfo {
            root: self.inner.root.clone(),
            read_only: self.inner.opts.read_only,
            bar_series: 0,
            tick_series: 0,
            segments: 0,
            bar_rows: 0,
            tick_rows: 0,
            segment_bytes: 0,
            memtable_rows: state.mem.values().map(|m| m.len() as u64).sum(),
        };
        let mut keys: BTreeSet<&SeriesKey> = state.manifest.partitions.keys().collect();
        keys.extend(state.mem.keys());
        for key in keys {
            let (count, _, _) = series_summary(&state, key).unwrap_or_default();
            match key.kind() {
                SeriesKind::Bar => {
                    info.bar_series += 1;
                    info.bar_rows += count;
                }
                SeriesKind::Tick => {
                    info.tick_series += 1;
                    info.tick_rows += count;
                }
            }
        }
        for segs in state.manifest.partitions.values() {
            info.segments += segs.len();
            info.segment_bytes += segs.iter().map(|s| s.file_len).sum::<u64>();
        }
        Ok(info)
    }

    /// (key, count, start, end) of every series of `kind`, segments and memtables together.
    pub(crate) fn overview(
        &self,
        kind: SeriesKind,
    ) -> Result<Vec<(SeriesKey, u64, Timestamp, Timestamp)>> {
        self.refresh()?;
        let state = self.inner.state.read();
        let mut keys: BTreeSet<&SeriesKey> = state
            .manifest
            .partitions
            .keys()
            .filter(|k| k.kind() == kind)
            .collect();
        keys.extend(state.mem.keys().filter(|k| k.kind() == kind));
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                let (count, start, end) = series_summary(&state, k)?;
                Some((k.clone(), count, start, end))
            })
            .collect())
    }

    /// Fails if writes are not allowed now.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.inner.opts.read_only {
            return Err(Error::ReadOnly);
        }
        if self.inner.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Syncs a file; a failure poisons the store (the page cache can no longer be trusted).
    pub(crate) fn sync_file(&self, file: &dyn StorageFile) -> Result<()> {
        file.sync()
            .inspect_err(|_| self.inner.poisoned.store(true, Ordering::Release))
    }

    /// Syncs a directory; a failure poisons the store.
    pub(crate) fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.inner
            .storage
            .sync_dir(dir)
            .inspect_err(|_| self.inner.poisoned.store(true, Ordering::Release))
    }

    pub(crate) fn poison(&self) {
        self.inner.poisoned.store(true, Ordering::Release);
    }
}

/// Count, first and last time of a series: its segments' rows plus the memtable rows that no
/// segment holds.
fn series_summary(state: &State, key: &SeriesKey) -> Option<(u64, Timestamp, Timestamp)> {
    let segs = state
        .manifest
        .partitions
        .get(key)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut count: u64 = segs.iter().map(|s| s.rows).sum();
    let mut bounds = segs
        .first()
        .zip(segs.last())
        .map(|(a, b)| (a.min_ts, b.max_ts));
    if let Some(mem) = state.mem.get(key) {
        count += mem.new_keys();
        if let Some((lo, hi)) = mem.bounds() {
            bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    let (start, end) = bounds?;
    Some((count, start, end))
}

fn no_store(root: &Path) -> Error {
    Error::io(
        root,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no tickvault store here (no MANIFEST file)",
        ),
    )
}

/// Refuses to turn a directory that holds other things into a store (a mistyped `--db`), and,
/// unless `create` is set, to create a store at all.
fn check_root(storage: &dyn Storage, root: &Path, create: bool) -> Result<()> {
    let entries = match storage.list_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    let is_store = entries
        .iter()
        .any(|e| e.name.starts_with(crate::manifest::MANIFEST_PREFIX));
    if is_store {
        return Ok(());
    }
    if !create {
        return Err(no_store(root));
    }
    let ours = |name: &str| name == LOCK_FILE || name == DATA_DIR || name == OPTIONS_FILE;
    if let Some(other) = entries.iter().find(|e| !ours(&e.name)) {
        return Err(Error::InvalidArgument(format!(
            "{} is not a tickvault store and is not empty (it holds {:?}); choose an empty or new directory",
            root.display(),
            other.name
        )));
    }
    Ok(())
}

/// The store options file: written once, before the first manifest (FORMAT.md, "Options").
pub(crate) const OPTIONS_FILE: &str = "OPTIONS";
const OPTIONS_MAGIC: [u8; 8] = *b"\x89TVO\r\n\x1a\n";
const OPTION_KEEP_SAME_TIME_TICKS: u64 = 1;

fn has_manifest(storage: &dyn Storage, root: &Path) -> Result<bool> {
    Ok(storage
        .list_dir(root)?
        .iter()
        .any(|e| e.name.starts_with(crate::manifest::MANIFEST_PREFIX)))
}

fn write_options(storage: &dyn Storage, root: &Path, keep_same_time_ticks: bool) -> Result<()> {
    let flags = if keep_same_time_ticks {
        OPTION_KEEP_SAME_TIME_TICKS
    } else {
        0
    };
    let mut bytes = Vec::with_capacity(24);
    bytes.extend_from_slice(&OPTIONS_MAGIC);
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&flags.to_le_bytes());
    let c = crate::checksum::crc(crate::checksum::SALT_OPTIONS, &[&bytes]);
    bytes.extend_from_slice(&c.to_le_bytes());
    let path = root.join(OPTIONS_FILE);
    let file = storage.create(&path)?;
    file.write_all_at(&bytes, 0)?;
    file.sync()?;
    storage.sync_dir(root)
}

/// Whether the store keeps ticks that share a time; a store without `OPTIONS` does not.
pub(crate) fn read_options(storage: &dyn Storage, root: &Path) -> Result<bool> {
    let path = root.join(OPTIONS_FILE);
    let bytes = match storage.read_all(&path) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut c = crate::codec::cursor::Cursor::new(&bytes);
    let bad = |what: &str| Error::corruption(&path, 0, what);
    let magic = c.array::<8>().ok_or_else(|| bad("truncated options"))?;
    let version = c.u16().ok_or_else(|| bad("truncated options"))?;
    let _reserved = c.u16();
    let flags = c.u64().ok_or_else(|| bad("truncated options"))?;
    let stored = c.u32().ok_or_else(|| bad("truncated options"))?;
    if magic != OPTIONS_MAGIC {
        return Err(bad("bad magic bytes: not a tickvault options file"));
    }
    let actual = crate::checksum::crc(
        crate::checksum::SALT_OPTIONS,
        &[bytes.get(..20).unwrap_or(&[])],
    );
    if actual != stored {
        return Err(Error::ChecksumMismatch {
            file: path,
            offset: 0,
            expected: stored,
            actual,
        });
    }
    if version != 1 {
        return Err(Error::UnsupportedVersion {
            file: path,
            found: version,
            supported: 1,
        });
    }
    if flags & !OPTION_KEEP_SAME_TIME_TICKS != 0 {
        return Err(bad("unknown option flags: written by a newer tickvault"));
    }
    Ok(flags & OPTION_KEEP_SAME_TIME_TICKS != 0)
}

pub(crate) fn create_dir_all(storage: &dyn Storage, path: &Path) -> Result<()> {
    let missing: Vec<&Path> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !storage.exists(p).unwrap_or(false))
        .collect();
    for dir in missing.iter().rev() {
        storage.create_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            storage.sync_dir(parent)?;
        }
    }
    Ok(())
}
