//! Compaction: merges runs of small adjacent segments of a partition (left by frequent flushes
//! or small bulk saves) into large ones, re-encoded with the current codecs.
//!
//! It commits through the manifest like any write and holds only the writer lock: readers keep
//! reading the old segments (already mapped, or reopened by the retry of the read path) until the
//! new ones are installed. Old files are unlinked after the commit; on Unix a reader that has a
//! file mapped keeps its pages.

use std::sync::Arc;

use crate::columns::{BarColumns, Columns, TickColumns};
use crate::engine::{Engine, LiveSegment, Writer};
use crate::error::{Error, Result};
use crate::manifest::Edit;
use crate::model::{SeriesKey, SeriesKind, Timestamp};

/// A partition with at least this many small segments is compacted after a flush.
const AUTO_SMALL_SEGMENTS: usize = 8;

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Segments merged away.
    pub segments_in: usize,
    /// Segments written.
    pub segments_out: usize,
    /// Rows rewritten.
    pub rows: u64,
}

impl Engine {
    /// Compacts every partition.
    pub fn compact(&self) -> Result<CompactStats> {
        self.compact_matching(|_| true)
    }

    /// Compacts the partitions whose key `select` accepts.
    pub fn compact_matching(&self, select: impl Fn(&SeriesKey) -> bool) -> Result<CompactStats> {
        self.check_writable()?;
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        let keys: Vec<SeriesKey> = self
            .inner
            .state
            .read()
            .manifest
            .partitions
            .keys()
            .filter(|k| select(k))
            .cloned()
            .collect();
        self.compact_locked(writer, &keys, 2)
    }

    /// After a flush: compacts the given partitions that have many small segments.
    pub(crate) fn compact_auto(&self, writer: &mut Writer, keys: &[SeriesKey]) -> Result<()> {
        self.compact_locked(writer, keys, AUTO_SMALL_SEGMENTS)
            .map(|_| ())
    }

    /// Segments below a quarter of the largest size count as small.
    fn small_rows(&self) -> u64 {
        (self.inner.opts.segment_rows_max as u64 / 4).max(1)
    }

    /// Merges, in each partition of `keys` with at least `min_small` small segments, every run of
    /// two or more adjacent small segments.
    fn compact_locked(
        &self,
        writer: &mut Writer,
        keys: &[SeriesKey],
        min_small: usize,
    ) -> Result<CompactStats> {
        let mut stats = CompactStats::default();
        for key in keys {
            let live = self.live_segments(key);
            let small = self.small_rows();
            if live.iter().filter(|s| s.meta.rows < small).count() < min_small {
                continue;
            }
            for run in runs(&live, small, self.inner.opts.segment_rows_max as u64) {
                let s = match key.kind() {
                    SeriesKind::Bar => self.merge_run::<BarColumns>(writer, key, run)?,
                    SeriesKind::Tick => self.merge_run::<TickColumns>(writer, key, run)?,
                };
                stats.segments_in += s.segments_in;
                stats.segments_out += s.segments_out;
                stats.rows += s.rows;
            }
        }
        Ok(stats)
    }

    fn merge_run<C: Columns>(
        &self,
        writer: &mut Writer,
        key: &SeriesKey,
        run: &[Arc<LiveSegment>],
    ) -> Result<CompactStats> {
        let rows: C = self.load_segments(run, Timestamp::MIN, Timestamp::MAX)?;
        let (mut next_id, flushed_seq) = {
            let state = self.inner.state.read();
            (state.manifest.next_id, state.manifest.wal_flushed_seq)
        };
        let mut written = Vec::new();
        let mut edits = match self.write_segments(key, &rows, &mut next_id, &mut written) {
            Ok(e) => e,
            Err(e) => {
                for path in &written {
                    let _ = self.inner.storage.remove_file(path);
                }
                return Err(e);
            }
        };
        let segments_out = edits.len();
        edits.extend(run.iter().map(|s| Edit::Remove(key.clone(), s.meta.id)));
        if let Some(dir) = written.first().and_then(|p| p.parent()) {
            self.sync_dir(dir)?;
        }
        self.commit(writer, next_id, flushed_seq, edits, false)?;
        self.remove_files(run);
        Ok(CompactStats {
            segments_in: run.len(),
            segments_out,
            rows: rows.len() as u64,
        })
    }
}

/// Runs of two or more adjacent segments, each below `small` rows, of at most `max` rows in all.
fn runs(live: &[Arc<LiveSegment>], small: u64, max: u64) -> Vec<&[Arc<LiveSegment>]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut rows = 0u64;
    for (i, seg) in live.iter().enumerate() {
        let fits = seg.meta.rows < small && rows + seg.meta.rows <= max;
        if !fits {
            if i - start >= 2 {
                out.extend(live.get(start..i));
            }
            // A small segment that did not fit starts the next run; a large one ends this run.
            start = if seg.meta.rows < small { i } else { i + 1 };
            rows = if seg.meta.rows < small {
                seg.meta.rows
            } else {
                0
            };
            continue;
        }
        rows += seg.meta.rows;
    }
    if live.len() - start >= 2 {
        out.extend(live.get(start..));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::SegmentMeta;

    fn seg(id: u64, rows: u64) -> Arc<LiveSegment> {
        let t = Timestamp::from_ns(id as i64 * 1000);
        Arc::new(LiveSegment::new(
            SegmentMeta {
                id,
                rows,
                min_ts: t,
                max_ts: t.add_ns(1),
                file_len: 1,
            },
            "x".into(),
        ))
    }

    #[test]
    fn runs_group_adjacent_small_segments() {
        let live: Vec<_> = [5, 5, 100, 5, 5, 5, 1, 100, 5]
            .iter()
            .enumerate()
            .map(|(i, &r)| seg(i as u64, r))
            .collect();
        let ids = |r: &[Arc<LiveSegment>]| r.iter().map(|s| s.meta.id).collect::<Vec<_>>();
        let got: Vec<_> = runs(&live, 10, 1000).into_iter().map(ids).collect();
        assert_eq!(got, [vec![0, 1], vec![3, 4, 5, 6]]);
        // The size cap splits a run.
        let got: Vec<_> = runs(&live, 10, 10).into_iter().map(ids).collect();
        assert_eq!(got, [vec![0, 1], vec![3, 4], vec![5, 6]]);
    }
}
