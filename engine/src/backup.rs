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

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checksum::{crc, SALT_CATALOG};
use crate::engine::{segment_file_name, Engine, DATA_DIR, OPTIONS_FILE};
use crate::error::{Error, Result};
use crate::io::RealFs;
use crate::manifest::{write_snapshot, ManifestState};
use crate::model::Timestamp;
use crate::progress::{OnProgress, Progress};
use crate::segment::TRAILER_LEN;

const OBJECTS: &str = "objects";
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

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn sync_dir(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

/// The footer CRC of a segment file, from its trailer (a checksum of its whole content, since the
/// footer holds every chunk's CRC).
fn footer_crc(path: &Path) -> Result<u32> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path).map_err(io(path))?;
    let mut trailer = [0u8; TRAILER_LEN];
    file.seek(SeekFrom::End(-(TRAILER_LEN as i64)))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(io(path))?;
    Ok(u32::from_le_bytes([
        trailer[12],
        trailer[13],
        trailer[14],
        trailer[15],
    ]))
}

/// Copies `from` to `to` through a temporary name, synced, so `to` is whole or absent.
fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("partial");
    fs::copy(from, &tmp).map_err(io(from))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, to).map_err(io(to))
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
        fs::create_dir_all(repo.join(OBJECTS)).map_err(io(repo))?;
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
        let tmp = repo.join(format!("{name}.partial"));
        let dir = repo.join(&name);
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join(DATA_DIR)).map_err(io(&tmp))?;
        let result = self.fill_backup(repo, &tmp, state, &name, created, on_progress);
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        fs::rename(&tmp, &dir).map_err(io(&dir))?;
        sync_dir(repo)?;
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
        let objects = repo.join(OBJECTS);
        let total = state.segment_bytes();
        let mut files = Vec::new();
        let (mut rows, mut bytes, mut new_bytes) = (0u64, 0u64, 0u64);
        // First pin the files of this manifest version: hard links into the repository are
        // instant, so a writer can hardly remove one before it is pinned. Then copy the new
        // ones into objects at leisure. Objects are copies, never links to the store's files, so
        // a backup does not share disk blocks with the store it protects.
        let staging = tmp.join(".staging");
        fs::create_dir_all(&staging).map_err(io(&staging))?;
        let mut pinned = Vec::new();
        for (key, segs) in &state.partitions {
            for meta in segs {
                let src = self.segment_path(key, meta.id);
                let pin =
                    staging.join(format!("{}-{}", key.dir_name(), segment_file_name(meta.id)));
                match fs::hard_link(&src, &pin) {
                    Ok(()) => pinned.push(pin),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::io(&src, e))
                    }
                    Err(_) => pinned.push(src), // another file system: copy straight from the store
                }
            }
        }
        let mut pins = pinned.into_iter();
        for (key, segs) in &state.partitions {
            let part = tmp.join(DATA_DIR).join(key.dir_name());
            fs::create_dir_all(&part).map_err(io(&part))?;
            for meta in segs {
                let src = pins
                    .next()
                    .ok_or_else(|| Error::InvalidArgument("pin list out of step".into()))?;
                let fcrc = footer_crc(&src)?;
                let object = objects.join(format!(
                    "{fcrc:08x}-{:x}-{:016x}.seg",
                    meta.file_len, meta.id
                ));
                if !object.exists() {
                    copy_synced(&src, &object)?;
                    new_bytes += meta.file_len;
                }
                let rel = Path::new(DATA_DIR)
                    .join(key.dir_name())
                    .join(segment_file_name(meta.id));
                fs::hard_link(&object, tmp.join(&rel)).map_err(io(&object))?;
                files.push((rel, meta.file_len, fcrc));
                rows += meta.rows;
                bytes += meta.file_len;
                on_progress(Progress {
                    stage: "backing up",
                    done: bytes,
                    total,
                });
            }
            sync_dir(&part)?;
        }
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
        sync_dir(&objects)?;
        sync_dir(&tmp.join(DATA_DIR))?;
        write_snapshot(&RealFs::new(false), tmp, state)?;
        let options = self.path().join(OPTIONS_FILE);
        if options.exists() {
            fs::copy(&options, tmp.join(OPTIONS_FILE)).map_err(io(&options))?;
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
            if let Ok(content) = fs::read(&path) {
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
        let cat = tmp.join(CATALOG);
        let mut f = fs::File::create(&cat).map_err(io(&cat))?;
        f.write_all(catalog.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io(&cat))?;
        sync_dir(tmp)?;
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
    let mut out = Vec::new();
    for entry in fs::read_dir(repo).map_err(io(repo))? {
        let entry = entry.map_err(io(repo))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name == OBJECTS || name.ends_with(".partial") || !path.join(CATALOG).exists() {
            continue;
        }
        let created = parse_name(&name).unwrap_or_default();
        let (mut segments, mut bytes, mut shared_bytes) = (0, 0, 0);
        for (file, nlink, len) in segment_files(&path.join(DATA_DIR))? {
            let _ = file;
            segments += 1;
            bytes += len;
            // One link from objects/, one from this backup: more means another backup has it.
            if nlink > 2 {
                shared_bytes += len;
            }
        }
        out.push(BackupEntry {
            name,
            path,
            created,
            segments,
            bytes,
            shared_bytes,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
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

#[cfg(unix)]
fn nlink(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn nlink(_: &fs::Metadata) -> u64 {
    1
}

/// (path, link count, length) of every segment file under `data`.
fn segment_files(data: &Path) -> Result<Vec<(PathBuf, u64, u64)>> {
    let mut out = Vec::new();
    let Ok(dirs) = fs::read_dir(data) else {
        return Ok(out);
    };
    for dir in dirs {
        let dir = dir.map_err(io(data))?.path();
        for file in fs::read_dir(&dir).map_err(io(&dir))? {
            let file = file.map_err(io(&dir))?.path();
            let meta = fs::metadata(&file).map_err(io(&file))?;
            out.push((file, nlink(&meta), meta.len()));
        }
    }
    Ok(out)
}

/// Removes backups beyond the newest `keep_last` that are also older than `keep_within` (a
/// backup is kept if either rule keeps it; with neither rule given, all are kept), then objects
/// no remaining backup links. Returns the names removed.
pub fn prune_backups(
    repo: &Path,
    keep_last: Option<usize>,
    keep_within: Option<Duration>,
) -> Result<Vec<String>> {
    if keep_last.is_none() && keep_within.is_none() {
        return Ok(Vec::new());
    }
    let backups = list_backups(repo)?;
    let cutoff =
        keep_within.map(|d| now().add_ns(-i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    let n = backups.len();
    let mut removed = Vec::new();
    for (i, b) in backups.iter().enumerate() {
        let by_count = keep_last.is_some_and(|k| i + k >= n);
        let by_age = cutoff.is_some_and(|c| b.created >= c);
        if !by_count && !by_age {
            fs::remove_dir_all(&b.path).map_err(io(&b.path))?;
            removed.push(b.name.clone());
        }
    }
    let objects = repo.join(OBJECTS);
    for file in fs::read_dir(&objects).map_err(io(&objects))? {
        let file = file.map_err(io(&objects))?.path();
        let meta = fs::metadata(&file).map_err(io(&file))?;
        if nlink(&meta) <= 1 {
            fs::remove_file(&file).map_err(io(&file))?;
        }
    }
    sync_dir(repo)?;
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
    let report = crate::verify::verify_with_progress(backup, true, on_progress)?;
    if let Some(p) = report.problems.first() {
        return Err(Error::Corruption {
            file: p.file.clone(),
            offset: p.offset,
            what: format!("the backup is damaged: {}", p.what),
        });
    }
    if target.exists() && !force {
        return Err(Error::InvalidArgument(format!(
            "{} exists; restore with force to move it aside",
            target.display()
        )));
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    let tmp = parent.join(format!(".{file_name}.restoring"));
    let _ = fs::remove_dir_all(&tmp);
    let mut copied = Copied {
        done: 0,
        total: tree_bytes(backup)?,
        on_progress,
    };
    copy_tree(backup, &tmp, &mut copied)?;
    sync_dir(parent)?;
    let mut aside = None;
    if target.exists() {
        let (y, mo, d, h, mi, s, _) = now().to_utc();
        let old = parent.join(format!(
            "{file_name}.replaced-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"
        ));
        fs::rename(target, &old).map_err(io(target))?;
        aside = Some(old);
    }
    fs::rename(&tmp, target).map_err(io(target))?;
    sync_dir(parent)?;
    Ok(aside)
}

/// Bytes a restore copies so far, of all, and whom to tell.
struct Copied<'a> {
    done: u64,
    total: u64,
    on_progress: OnProgress<'a>,
}

/// Bytes of the files of a store directory that a restore copies (all but its CATALOG).
fn tree_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(io(&path))?;
        if meta.is_dir() {
            total += tree_bytes(&path)?;
        } else if entry.file_name() != CATALOG {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Copies a store directory (not its CATALOG), syncing every file and directory.
fn copy_tree(from: &Path, to: &Path, copied: &mut Copied<'_>) -> Result<()> {
    fs::create_dir_all(to).map_err(io(to))?;
    for entry in fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(io(&src))?.is_dir() {
            copy_tree(&src, &dst, copied)?;
        } else if entry.file_name() != CATALOG {
            copied.done += fs::copy(&src, &dst).map_err(io(&src))?;
            fs::File::open(&dst)
                .and_then(|f| f.sync_all())
                .map_err(io(&dst))?;
            (copied.on_progress)(Progress {
                stage: "copying",
                done: copied.done,
                total: copied.total,
            });
        }
    }
    sync_dir(to)
}
