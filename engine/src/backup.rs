//! Backups: consistent, incremental copies of a store into a backup repository, retention, and
//! verified restores.
//!
//! Repository layout:
//! ```text
//! REPO/objects/<footer crc>-<length>-<segment id>.seg   one copy (or hard link) of each segment
//! REPO/<name>/                                           a complete store, openable read-only
//! REPO/<name>/CATALOG                                    what the backup holds (JSON)
//! ```
//! A backup's segment files are hard links to objects, so successive backups share unchanged
//! segments and one more day of data costs that day. Segments are immutable and the manifest is
//! the commit point, so a backup is the set of files one manifest version names, taken while
//! writes go on; if a writer removed one before it was linked, the backup starts over from the
//! new manifest.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checksum::{crc, SALT_CATALOG};
use crate::engine::{
    create_dir_all, parse_segment_file_name, segment_file_name, Engine, DATA_DIR, OPTIONS_FILE,
};
use crate::error::{Error, Result};
use crate::io::{RealFs, Storage};
use crate::manifest::{write_snapshot, ManifestState};
use crate::model::Timestamp;
use crate::progress::{OnProgress, Progress};
use crate::segment::TRAILER_LEN;

const OBJECTS: &str = "objects";
/// The suffix of a backup being written.
const PARTIAL: &str = ".partial";
/// The suffix of a backup being removed by `prune_backups` (never listed; the next prune
/// finishes removing it).
const DELETING: &str = ".deleting";
/// The catalog file of a backup.
pub(crate) const CATALOG: &str = "CATALOG";

/// Checks a backup catalog's closing checksum line; `None` when it is intact.
pub(crate) fn catalog_problem(text: &[u8]) -> Option<String> {
    let intact = || -> Option<bool> {
        let body_end = text
            .strip_suffix(b"\n")?
            .iter()
            .rposition(|&b| b == b'\n')?
            + 1;
        let (body, last) = text.split_at(body_end);
        let stored = std::str::from_utf8(last)
            .ok()?
            .strip_prefix("crc32 ")?
            .strip_suffix('\n')?;
        let stored = u32::from_str_radix(stored, 16)
            .ok()
            .filter(|_| stored.len() == 8)?;
        Some(crc(SALT_CATALOG, &[body]) == stored && body.starts_with(b"{"))
    };
    match intact() {
        Some(true) => None,
        Some(false) => Some("catalog checksum mismatch".into()),
        None => Some("malformed catalog".into()),
    }
}
const ATTEMPTS: usize = 10;

/// What one backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The backup's name (its directory in the repository).
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// When it was taken.
    pub created: Timestamp,
    /// Segment files.
    pub segments: usize,
    /// Rows.
    pub rows: u64,
    /// Bytes of segment files.
    pub bytes: u64,
    /// Bytes this backup added to the repository (segments no earlier backup had).
    pub new_bytes: u64,
}

/// The footer CRC of a segment file, from its trailer (a checksum of its whole content, since the
/// footer holds every chunk's CRC), and the file's length.
fn footer_crc(storage: &dyn Storage, path: &Path) -> Result<(u32, u64)> {
    let file = storage.open(path, false)?;
    let len = file.size()?;
    if len < TRAILER_LEN as u64 {
        return Err(Error::corruption(
            path,
            0,
            "too short for a segment trailer",
        ));
    }
    let mut trailer = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut trailer, len - TRAILER_LEN as u64)?;
    let fcrc = u32::from_le_bytes([trailer[12], trailer[13], trailer[14], trailer[15]]);
    Ok((fcrc, len))
}

/// Copies the file `from` to `to` (created or truncated) and syncs it; returns its bytes.
fn copy_file(storage: &dyn Storage, from: &Path, to: &Path) -> Result<u64> {
    const CHUNK: u64 = 1 << 20;
    let src = storage.open(from, false)?;
    let len = src.size()?;
    let dst = storage.create(to)?;
    let mut buf = vec![0u8; CHUNK.min(len) as usize];
    let mut at = 0;
    while at < len {
        let n = CHUNK.min(len - at) as usize;
        src.read_exact_at(&mut buf[..n], at)?;
        dst.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    dst.sync()?;
    Ok(len)
}

/// Copies `from` to `to` through a temporary name, synced, so `to` is whole or absent (once the
/// caller syncs the directory).
fn copy_synced(storage: &dyn Storage, from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("partial");
    copy_file(storage, from, &tmp)?;
    storage.rename(&tmp, to)
}

/// Links `to` to the file `from`, or copies it where links fail (but not when `from` is gone).
fn link_or_copy(storage: &dyn Storage, from: &Path, to: &Path) -> Result<()> {
    match storage.hard_link(from, to) {
        Err(e) if !e.is_not_found() => copy_file(storage, from, to).map(|_| ()),
        other => other,
    }
}

/// Removes the directory `path` and everything under it; a missing one is fine.
fn remove_tree(storage: &dyn Storage, path: &Path) -> Result<()> {
    let entries = match storage.list_dir(path) {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    for entry in entries {
        let p = path.join(&entry.name);
        if entry.is_dir {
            remove_tree(storage, &p)?;
        } else {
            storage.remove_file(&p)?;
        }
    }
    storage.remove_dir(path)
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_ns(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Engine {
    /// Writes a consistent backup of the store into the repository `repo` and returns what it
    /// holds. A writer handle flushes its memtables first, so every acknowledged row is in it; a
    /// read-only handle backs up what the writer has committed.
    pub fn backup(&self, repo: &Path) -> Result<BackupInfo> {
        self.backup_with_progress(repo, &|_| {})
    }

    /// [`Engine::backup`], reporting the segment bytes done after each segment (stage
    /// `"backing up"`; a segment an earlier backup holds counts as done at once).
    pub fn backup_with_progress(
        &self,
        repo: &Path,
        on_progress: OnProgress<'_>,
    ) -> Result<BackupInfo> {
        create_dir_all(&*self.inner.storage, &repo.join(OBJECTS))?;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            // Pins the version in this process; hard links below pin it against other processes.
            let snapshot = self.snapshot()?;
            match self.backup_state(repo, snapshot.manifest(), on_progress) {
                Err(e) if e.is_not_found() => last = Some(e), // a file was replaced: start over
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| Error::InvalidArgument("backup did not settle".into())))
    }

    fn backup_state(
        &self,
        repo: &Path,
        state: &ManifestState,
        on_progress: OnProgress<'_>,
    ) -> Result<BackupInfo> {
        let created = now();
        let (y, mo, d, h, mi, s, ns) = created.to_utc();
        let name = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{ns:09}Z");
        let storage = &*self.inner.storage;
        let tmp = repo.join(format!("{name}{PARTIAL}"));
        let dir = repo.join(&name);
        let _ = remove_tree(storage, &tmp);
        create_dir_all(storage, &tmp.join(DATA_DIR))?;
        let result = self.fill_backup(repo, &tmp, state, &name, created, on_progress);
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                let _ = remove_tree(storage, &tmp);
                return Err(e);
            }
        };
        storage.rename(&tmp, &dir)?;
        storage.sync_dir(repo)?;
        Ok(BackupInfo { path: dir, ..info })
    }

    fn fill_backup(
        &self,
        repo: &Path,
        tmp: &Path,
        state: &ManifestState,
        name: &str,
        created: Timestamp,
        on_progress: OnProgress<'_>,
    ) -> Result<BackupInfo> {
        let storage = &*self.inner.storage;
        let objects = repo.join(OBJECTS);
        let total = state.segment_bytes();
        let mut files = Vec::new();
        let (mut rows, mut bytes, mut new_bytes) = (0u64, 0u64, 0u64);
        // First pin the files of this manifest version: hard links into the repository are
        // instant, so a writer can hardly remove one before it is pinned. Then copy the new
        // ones into objects at leisure. Objects are copies, never links to the store's files, so
        // a backup does not share disk blocks with the store it protects.
        let staging = tmp.join(".staging");
        create_dir_all(storage, &staging)?;
        let mut pinned = Vec::new();
        for (key, segs) in &state.partitions {
            for meta in segs {
                let src = self.segment_path(key, meta.id);
                let pin =
                    staging.join(format!("{}-{}", key.dir_name(), segment_file_name(meta.id)));
                match storage.hard_link(&src, &pin) {
                    Ok(()) => pinned.push(pin),
                    Err(e) if e.is_not_found() => return Err(e),
                    Err(_) => pinned.push(src), // another file system: copy straight from the store
                }
            }
        }
        let mut pins = pinned.into_iter();
        for (key, segs) in &state.partitions {
            let part = tmp.join(DATA_DIR).join(key.dir_name());
            create_dir_all(storage, &part)?;
            for meta in segs {
                let src = pins
                    .next()
                    .ok_or_else(|| Error::InvalidArgument("pin list out of step".into()))?;
                let (fcrc, _) = footer_crc(storage, &src)?;
                let object = objects.join(object_name(fcrc, meta.file_len, meta.id));
                if !storage.exists(&object)? {
                    copy_synced(storage, &src, &object)?;
                    new_bytes += meta.file_len;
                }
                let rel = Path::new(DATA_DIR)
                    .join(key.dir_name())
                    .join(segment_file_name(meta.id));
                link_or_copy(storage, &object, &tmp.join(&rel))?;
                files.push((rel, meta.file_len, fcrc));
                rows += meta.rows;
                bytes += meta.file_len;
                on_progress(Progress {
                    stage: "backing up",
                    done: bytes,
                    total,
                });
            }
            storage.sync_dir(&part)?;
        }
        remove_tree(storage, &staging)?;
        storage.sync_dir(&objects)?;
        storage.sync_dir(&tmp.join(DATA_DIR))?;
        write_snapshot(storage, tmp, state)?;
        let options = self.path().join(OPTIONS_FILE);
        if storage.exists(&options)? {
            copy_file(storage, &options, &tmp.join(OPTIONS_FILE))?;
        }
        let mut catalog = String::new();
        catalog.push_str(&format!(
            "{{\"format_version\":1,\"name\":{},\"created\":{},\"source\":{},\"rows\":{rows},\"segment_bytes\":{bytes},\"files\":[",
            json_str(name),
            json_str(&created.to_string()),
            json_str(&self.path().display().to_string())
        ));
        for (i, (rel, len, fcrc)) in files.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            catalog.push_str(&format!(
                "{sep}{{\"path\":{},\"bytes\":{len},\"footer_crc32\":\"{fcrc:08x}\"}}",
                json_str(&rel.display().to_string())
            ));
        }
        for extra in [
            crate::manifest::manifest_file_name(1),
            OPTIONS_FILE.to_string(),
        ] {
            let path = tmp.join(&extra);
            if let Ok(content) = storage.read_all(&path) {
                let sep = if files.is_empty() { "" } else { "," };
                catalog.push_str(&format!(
                    "{sep}{{\"path\":{},\"bytes\":{},\"crc32\":\"{:08x}\"}}",
                    json_str(&extra),
                    content.len(),
                    crc(0, &[&content])
                ));
                files.push((PathBuf::from(extra), content.len() as u64, 0));
            }
        }
        catalog.push_str("]}\n");
        // A checksum line, so that `verify` catches any change to the catalog too.
        let sum = crc(SALT_CATALOG, &[catalog.as_bytes()]);
        catalog.push_str(&format!("crc32 {sum:08x}\n"));
        let cat = storage.create(&tmp.join(CATALOG))?;
        cat.write_all_at(catalog.as_bytes(), 0)?;
        cat.sync()?;
        storage.sync_dir(tmp)?;
        let segments = state.partitions.values().map(Vec::len).sum();
        Ok(BackupInfo {
            name: name.to_string(),
            path: tmp.to_path_buf(),
            created,
            segments,
            rows,
            bytes,
            new_bytes,
        })
    }
}

/// A backup in a repository, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupEntry {
    /// Name (directory).
    pub name: String,
    /// Directory.
    pub path: PathBuf,
    /// When it was taken.
    pub created: Timestamp,
    /// Segment files and their bytes.
    pub segments: usize,
    /// Bytes of its segment files.
    pub bytes: u64,
    /// Bytes of its segment files that other backups share.
    pub shared_bytes: u64,
}

/// The backups of `repo`, oldest first.
pub fn list_backups(repo: &Path) -> Result<Vec<BackupEntry>> {
    list_backups_on(Arc::new(RealFs::new(false)), repo)
}

/// [`list_backups`] through `storage`.
pub fn list_backups_on(storage: Arc<dyn Storage>, repo: &Path) -> Result<Vec<BackupEntry>> {
    Ok(entries(&scan(&*storage, repo)?))
}

/// A backup, or a backup being written, as found in a repository.
struct Scanned {
    name: String,
    path: PathBuf,
    /// A whole backup (listed), not a `.partial` one.
    whole: bool,
    /// The object name and length of each of its segment files.
    objects: Vec<(String, u64)>,
}

/// Every backup and backup being written in `repo`, with the objects their files name.
fn scan(storage: &dyn Storage, repo: &Path) -> Result<Vec<Scanned>> {
    let mut found = Vec::new();
    for dir in backup_dirs(storage, repo)? {
        let path = repo.join(&dir.name);
        let whole = !dir.name.ends_with(PARTIAL) && storage.exists(&path.join(CATALOG))?;
        let objects = backup_objects(storage, &path)?;
        found.push(Scanned {
            name: dir.name,
            path,
            whole,
            objects,
        });
    }
    Ok(found)
}

/// The whole backups of a scan, oldest first; an object two of them name is shared.
fn entries(scanned: &[Scanned]) -> Vec<BackupEntry> {
    let whole = || scanned.iter().filter(|s| s.whole);
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (object, _) in whole().flat_map(|s| &s.objects) {
        *names.entry(object.as_str()).or_default() += 1;
    }
    let mut out: Vec<BackupEntry> = whole()
        .map(|s| BackupEntry {
            name: s.name.clone(),
            path: s.path.clone(),
            created: parse_name(&s.name).unwrap_or_default(),
            segments: s.objects.len(),
            bytes: s.objects.iter().map(|(_, len)| len).sum(),
            shared_bytes: s
                .objects
                .iter()
                .filter(|(o, _)| names.get(o.as_str()).is_some_and(|&n| n > 1))
                .map(|(_, len)| len)
                .sum(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The directories of `repo` that are backups or backups being written (`.partial`): not
/// `objects`, not backups being removed.
fn backup_dirs(storage: &dyn Storage, repo: &Path) -> Result<Vec<crate::io::DirEntry>> {
    Ok(storage
        .list_dir(repo)?
        .into_iter()
        .filter(|e| e.is_dir && e.name != OBJECTS && !e.name.ends_with(DELETING))
        .collect())
}

/// The object name and length of each segment file of the backup (or `.partial`) at `dir`.
/// A file whose trailer cannot be read names no object (it is still the backup's own link).
fn backup_objects(storage: &dyn Storage, dir: &Path) -> Result<Vec<(String, u64)>> {
    let data = dir.join(DATA_DIR);
    let parts = match storage.list_dir(&data) {
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        other => other?,
    };
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|e| e.is_dir) {
        let part = data.join(part.name);
        for file in storage.list_dir(&part)? {
            let Some(id) = parse_segment_file_name(&file.name).filter(|_| !file.is_dir) else {
                continue;
            };
            match footer_crc(storage, &part.join(&file.name)) {
                Ok((fcrc, len)) => out.push((object_name(fcrc, len, id), len)),
                Err(e) if e.is_not_found() => return Err(e),
                Err(_) => {}
            }
        }
    }
    Ok(out)
}

/// The name in `objects/` of a segment file with this footer CRC, length and id.
fn object_name(footer_crc: u32, len: u64, id: u64) -> String {
    format!("{footer_crc:08x}-{len:x}-{id:016x}.seg")
}

fn parse_name(name: &str) -> Option<Timestamp> {
    let b = name.as_bytes();
    let num = |r: std::ops::Range<usize>| name.get(r)?.parse::<u32>().ok();
    if b.len() < 26 {
        return None;
    }
    let ts = Timestamp::from_utc(
        num(0..4)? as i32,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        num(13..15)?,
        num(16..25)?,
    )?;
    Some(ts)
}

/// Removes backups beyond the newest `keep_last` that are also older than `keep_within` (a
/// backup is kept if either rule keeps it; with neither rule given, all are kept), then objects
/// no remaining backup names. Returns the names removed.
///
/// Each backup is first renamed to `NAME.deleting` (and the repository synced), so a crash
/// leaves it whole under its name or out of every listing; the next prune removes what a crash
/// left of it, and of objects.
pub fn prune_backups(
    repo: &Path,
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
) -> Result<Vec<String>> {
    prune_backups_on(Arc::new(RealFs::new(false)), repo, keep_last, keep_within)
}

/// [`prune_backups`] through `storage`.
pub fn prune_backups_on(
    storage: Arc<dyn Storage>,
    repo: &Path,
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
) -> Result<Vec<String>> {
    if keep_last.is_none() && keep_within.is_none() {
        return Ok(Vec::new());
    }
    let storage = &*storage;
    // One scan: it decides what goes, and what stays names the objects kept.
    let scanned = scan(storage, repo)?;
    let backups = entries(&scanned);
    let cutoff =
        keep_within.map(|d| now().add_ns(-i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    let n = backups.len();
    let mut removed = Vec::new();
    for (i, b) in backups.iter().enumerate() {
        let by_count = keep_last.is_some_and(|k| i + k >= n);
        let by_age = cutoff.is_some_and(|c| b.created >= c);
        if !by_count && !by_age {
            storage.rename(&b.path, &repo.join(format!("{}{DELETING}", b.name)))?;
            storage.sync_dir(repo)?;
            removed.push(b.name.clone());
        }
    }
    // What this prune or one a crash cut short moved aside.
    for entry in storage.list_dir(repo)? {
        if entry.is_dir && entry.name.ends_with(DELETING) {
            remove_tree(storage, &repo.join(&entry.name))?;
        }
    }
    // Objects no remaining backup (nor a backup being written) names.
    let named: HashSet<&str> = scanned
        .iter()
        .filter(|s| !removed.contains(&s.name))
        .flat_map(|s| s.objects.iter().map(|(o, _)| o.as_str()))
        .collect();
    let objects = repo.join(OBJECTS);
    let mut unlinked = false;
    for entry in storage.list_dir(&objects)? {
        if !entry.is_dir && !named.contains(entry.name.as_str()) {
            storage.remove_file(&objects.join(&entry.name))?;
            unlinked = true;
        }
    }
    if unlinked {
        storage.sync_dir(&objects)?;
    }
    storage.sync_dir(repo)?;
    Ok(removed)
}

/// Restores the backup at `backup` into `target`: verifies every checksum first (on any problem
/// nothing is written), copies into a temporary directory beside `target`, syncs it, and renames
/// it into place. An existing `target` is refused unless `force`, and is then moved aside (its
/// new path is returned) before the swap. A restore killed midway leaves `target` absent or as
/// it was, never half-written.
pub fn restore(backup: &Path, target: &Path, force: bool) -> Result<Option<PathBuf>> {
    restore_with_progress(backup, target, force, &|_| {})
}

/// [`restore`], reporting progress: the check of the backup (stage `"verifying"`), then the
/// bytes copied after each file (stage `"copying"`).
pub fn restore_with_progress(
    backup: &Path,
    target: &Path,
    force: bool,
    on_progress: OnProgress<'_>,
) -> Result<Option<PathBuf>> {
    restore_on(
        Arc::new(RealFs::new(false)),
        backup,
        target,
        force,
        on_progress,
    )
}

/// [`restore_with_progress`] on the given storage (the crash tests restore on a simulated disk).
pub fn restore_on(
    storage: Arc<dyn Storage>,
    backup: &Path,
    target: &Path,
    force: bool,
    on_progress: OnProgress<'_>,
) -> Result<Option<PathBuf>> {
    let report = crate::verify::verify_on(storage.clone(), backup, true, on_progress)?;
    if let Some(p) = report.problems.first() {
        return Err(Error::Corruption {
            file: p.file.clone(),
            offset: p.offset,
            what: format!("the backup is damaged: {}", p.what),
        });
    }
    let storage = &*storage;
    if storage.exists(target)? && !force {
        return Err(Error::InvalidArgument(format!(
            "{} exists; restore with force to move it aside",
            target.display()
        )));
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_dir_all(storage, parent)?;
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    let tmp = parent.join(format!(".{file_name}.restoring"));
    remove_tree(storage, &tmp)?;
    let mut copied = Copied {
        done: 0,
        total: tree_bytes(storage, backup)?,
        on_progress,
    };
    copy_tree(storage, backup, &tmp, &mut copied)?;
    storage.sync_dir(parent)?;
    let mut aside = None;
    if storage.exists(target)? {
        let (y, mo, d, h, mi, s, _) = now().to_utc();
        let stem = format!("{file_name}.replaced-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z");
        // A second forced restore within the same second gets a name of its own.
        let mut old = parent.join(&stem);
        for n in 1.. {
            if !storage.exists(&old)? {
                break;
            }
            old = parent.join(format!("{stem}-{n}"));
        }
        storage.rename(target, &old)?;
        aside = Some(old);
    }
    storage.rename(&tmp, target)?;
    storage.sync_dir(parent)?;
    Ok(aside)
}

/// Bytes a restore copies so far, of all, and whom to tell.
struct Copied<'a> {
    done: u64,
    total: u64,
    on_progress: OnProgress<'a>,
}

/// Bytes of the files of a store directory that a restore copies (all but its CATALOG).
fn tree_bytes(storage: &dyn Storage, dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in storage.list_dir(dir)? {
        let path = dir.join(&entry.name);
        if entry.is_dir {
            total += tree_bytes(storage, &path)?;
        } else if entry.name != CATALOG {
            total += storage.open(&path, false)?.size()?;
        }
    }
    Ok(total)
}

/// Copies a store directory (not its CATALOG), syncing every file and directory.
fn copy_tree(storage: &dyn Storage, from: &Path, to: &Path, copied: &mut Copied<'_>) -> Result<()> {
    create_dir_all(storage, to)?;
    for entry in storage.list_dir(from)? {
        let (src, dst) = (from.join(&entry.name), to.join(&entry.name));
        if entry.is_dir {
            copy_tree(storage, &src, &dst, copied)?;
        } else if entry.name != CATALOG {
            copied.done += copy_file(storage, &src, &dst)?;
            (copied.on_progress)(Progress {
                stage: "copying",
                done: copied.done,
                total: copied.total,
            });
        }
    }
    storage.sync_dir(to)
}
