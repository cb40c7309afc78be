//! `verify`: checks a store (live, read-only, or a backup) and reports every problem with its
//! file and offset: manifest, options, every segment's header, footer and chunk checksums (and,
//! deep, every decoded block and its time order), orphan files, and the WAL.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::columns::{BarColumns, Columns, TickColumns};
use crate::engine::{parse_segment_file_name, read_options, segment_file_name, DATA_DIR};
use crate::error::{Error, Result};
use crate::io::{RealFs, Storage};
use crate::manifest::{ManifestReader, SegmentMeta};
use crate::model::{SeriesKey, SeriesKind};
use crate::progress::{OnProgress, Progress};
use crate::segment::Segment;

/// One thing wrong with a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Byte offset in the file (0 when the whole file is concerned).
    pub offset: u64,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.offset, self.what)
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Every problem found; empty when the store is sound.
    pub problems: Vec<Problem>,
    /// Segments checked.
    pub segments: usize,
    /// Rows in them.
    pub rows: u64,
    /// Bytes of segment files read.
    pub bytes: u64,
    /// WAL records past the flushed sequence.
    pub wal_records: u64,
    /// Segment files and partition directories no manifest entry names: a write in progress
    /// (on a live store) or one a crash interrupted. Not damage: the next writer open removes
    /// them, and no row lives only in them.
    pub orphans: Vec<std::path::PathBuf>,
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        match e {
            Error::Corruption { file, offset, what } => Problem { file, offset, what },
            Error::ChecksumMismatch {
                file,
                offset,
                expected,
                actual,
            } => Problem {
                file,
                offset,
                what: format!(
                    "checksum mismatch: stored {expected:#010x}, computed {actual:#010x}"
                ),
            },
            Error::UnsupportedVersion {
                file,
                found,
                supported,
            } => Problem {
                file,
                offset: 0,
                what: format!("format version {found}, this build reads {supported}"),
            },
            Error::Io { path, source } => Problem {
                file: path,
                offset: 0,
                what: source.to_string(),
            },
            other => Problem {
                file: PathBuf::new(),
                offset: 0,
                what: other.to_string(),
            },
        }
    }
}

/// Verifies the store (or backup) at `root`, reading files with plain reads.
pub fn verify(root: &Path, deep: bool) -> Result<VerifyReport> {
    verify_with_progress(root, deep, &|_| {})
}

/// [`verify`], reporting the segment bytes checked after each segment (stage `"verifying"`).
pub fn verify_with_progress(
    root: &Path,
    deep: bool,
    on_progress: OnProgress<'_>,
) -> Result<VerifyReport> {
    verify_on(Arc::new(RealFs::new(false)), root, deep, on_progress)
}

/// [`verify_with_progress`] on the given storage (the crash tests verify stores and backups on
/// a simulated disk).
pub fn verify_on(
    storage: Arc<dyn Storage>,
    root: &Path,
    deep: bool,
    on_progress: OnProgress<'_>,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let state = match ManifestReader::open(storage.clone(), root) {
        Ok(Some((_, state))) => state,
        Ok(None) => {
            return Err(Error::io(
                root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no tickvault store here"),
            ))
        }
        Err(e) => {
            report.problems.push(e.into());
            return Ok(report);
        }
    };
    if let Err(e) = read_options(&*storage, root) {
        report.problems.push(e.into());
    }
    let data = root.join(DATA_DIR);
    let mut expected: HashMap<String, HashSet<u64>> = HashMap::new();
    let total = state.segment_bytes();
    let mut done = 0u64;
    for (key, segs) in &state.partitions {
        let dir = data.join(key.dir_name());
        expected.insert(key.dir_name(), segs.iter().map(|s| s.id).collect());
        for meta in segs {
            let path = dir.join(segment_file_name(meta.id));
            let result = match key.kind() {
                SeriesKind::Bar => check_segment::<BarColumns>(&*storage, &path, key, meta, deep),
                SeriesKind::Tick => check_segment::<TickColumns>(&*storage, &path, key, meta, deep),
            };
            report.segments += 1;
            done += meta.file_len;
            on_progress(Progress {
                stage: "verifying",
                done,
                total,
            });
            match result {
                Ok(bytes) => {
                    report.rows += meta.rows;
                    report.bytes += bytes;
                }
                Err(p) => report.problems.push(p),
            }
        }
    }
    // Files the manifest does not name.
    if let Ok(dirs) = storage.list_dir(&data) {
        for dir in dirs {
            let path = data.join(&dir.name);
            let Some(ids) = expected.get(&dir.name) else {
                report.orphans.push(path);
                continue;
            };
            for file in storage.list_dir(&path).unwrap_or_default() {
                if parse_segment_file_name(&file.name).is_some_and(|id| !ids.contains(&id)) {
                    report.orphans.push(path.join(&file.name));
                }
            }
        }
    } else if !state.partitions.is_empty() {
        report.problems.push(Problem {
            file: data,
            offset: 0,
            what: "the data directory is missing".into(),
        });
    }
    let catalog = root.join(crate::backup::CATALOG);
    if let Ok(text) = storage.read_all(&catalog) {
        if let Some(what) = crate::backup::catalog_problem(&text) {
            report.problems.push(Problem {
                file: catalog,
                offset: 0,
                what,
            });
        }
    }
    let wal = root.join(crate::stream::WAL_DIR);
    if storage.exists(&wal)? {
        let mut flushed = state.wal_flushed_seq;
        for attempt in 0.. {
            match crate::wal::check_while_written(&*storage, &wal, flushed) {
                Ok(r) => {
                    report.wal_records = r.records;
                    break;
                }
                Err(e) => {
                    // On a live store a flush may have moved the flushed sequence on (and
                    // removed the WAL files before it) between our reads: look again.
                    let newer = ManifestReader::open(storage.clone(), root)
                        .ok()
                        .flatten()
                        .map(|(_, s)| s.wal_flushed_seq);
                    match newer {
                        Some(n) if n > flushed && attempt < 8 => flushed = n,
                        _ => {
                            report.problems.push(e.into());
                            break;
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Checks one segment file against its manifest entry; returns its size.
fn check_segment<C: Columns>(
    storage: &dyn Storage,
    path: &Path,
    key: &SeriesKey,
    meta: &SegmentMeta,
    deep: bool,
) -> std::result::Result<u64, Problem> {
    let bytes = storage.map_readonly(path).map_err(Problem::from)?;
    let problem = |offset: u64, what: String| Problem {
        file: path.to_path_buf(),
        offset,
        what,
    };
    if bytes.len() as u64 != meta.file_len {
        return Err(problem(
            0,
            format!("{} bytes, the manifest says {}", bytes.len(), meta.file_len),
        ));
    }
    let seg = Segment::open(path, bytes, Some(meta.id), C::schema()).map_err(Problem::from)?;
    if seg.rows() != meta.rows || seg.min_ts() != meta.min_ts || seg.max_ts() != meta.max_ts {
        return Err(problem(
            0,
            format!("rows or time range differ from the manifest entry of {key}"),
        ));
    }
    for (b, block) in seg.blocks().iter().enumerate() {
        for col in 0..C::schema().len() {
            seg.chunk_payload(b, col).map_err(Problem::from)?;
        }
        if deep {
            let mut out = C::default();
            out.resize(block.rows as usize);
            for (col, slots) in out.muts().into_iter().enumerate() {
                seg.decode_column(b, col, 0..block.rows as usize, slots)
                    .map_err(Problem::from)?;
            }
            let t = out.datetimes();
            let offset = block.chunks.first().map_or(0, |c| c.offset);
            if t.first() != Some(&block.min_ts)
                || t.last() != Some(&block.max_ts)
                || t.windows(2).any(|w| w[0] > w[1])
            {
                return Err(problem(
                    offset,
                    format!("block {b}: times out of order or off the footer's range"),
                ));
            }
        }
    }
    Ok(seg.file_len())
}
