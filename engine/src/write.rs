//! The bulk write path: sort and deduplicate a batch (last row wins), merge it into the segments
//! it overlaps (merge-on-write), write and sync new segments, then commit one manifest edit.
//!
//! Steps, each durable before the next (ARCHITECTURE.md, "Write path"):
//! 1. create new partition directories and sync `data/`;
//! 2. write each new segment file and sync it; sync its directory;
//! 3. append the manifest edit (adds and removes) and sync it: the commit point;
//! 4. publish the new state in memory; then unlink the replaced segment files.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use crate::columns::{BarColumns, Columns, TickColumns};
use crate::engine::{Engine, LiveSegment, Writer};
use crate::error::{Error, Result};
use crate::io::StorageFile;
use crate::manifest::{Edit, SegmentMeta};
use crate::model::{Exchange, Interval, SeriesKey, Timestamp};
use crate::segment::write_segment;

/// Fills `cols` (cleared first) with rows `idx` of `rows`, sorted by time, keeping the last of
/// equal times unless `dedup` keeps all. (Rows of one series already strictly ascending never
/// come here: a save copies them a block at a time as it checks them.)
pub(crate) fn rows_into_columns<C: Columns>(
    rows: &[C::Row],
    mut idx: Vec<usize>,
    time: impl Fn(&C::Row) -> Timestamp,
    dedup: Dedup,
    cols: &mut C,
) {
    cols.clear();
    if !idx
        .windows(2)
        .all(|w| matches!(w, [a, b] if rows.get(*a).map(&time) <= rows.get(*b).map(&time)))
    {
        idx.sort_by_key(|&i| rows.get(i).map(&time));
    }
    for (pos, &i) in idx.iter().enumerate() {
        let t = rows.get(i).map(&time);
        if dedup == Dedup::LastWins
            && idx
                .get(pos + 1)
                .is_some_and(|&j| rows.get(j).map(&time) == t)
        {
            continue; // a later row of the batch has the same time and wins
        }
        if let Some(row) = rows.get(i) {
            cols.push_row(row);
        }
    }
}

/// A batch borrowing columns of either kind.
pub(crate) fn borrowed_batch<C: Columns>(cols: &C) -> Result<Batch<'_>> {
    let any: &dyn std::any::Any = cols;
    if let Some(c) = any.downcast_ref::<BarColumns>() {
        Ok(Batch::Bars(Cow::Borrowed(c)))
    } else if let Some(c) = any.downcast_ref::<TickColumns>() {
        Ok(Batch::Ticks(Box::new(Cow::Borrowed(c))))
    } else {
        Err(Error::InvalidArgument("unknown column kind".into()))
    }
}

/// A batch owning columns of either kind.
pub(crate) fn owned_batch<C: Columns>(cols: C) -> Result<Batch<'static>> {
    let any: Box<dyn std::any::Any> = Box::new(cols);
    match any.downcast::<BarColumns>() {
        Ok(c) => Ok(Batch::Bars(Cow::Owned(*c))),
        Err(any) => match any.downcast::<TickColumns>() {
            Ok(c) => Ok(Batch::Ticks(Box::new(Cow::Owned(*c)))),
            Err(_) => Err(Error::InvalidArgument("unknown column kind".into())),
        },
    }
}

/// How rows that share a time are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dedup {
    /// The last row of a time replaces the others (vn.py's key).
    LastWins,
    /// Every row is kept, in arrival order (ticks of a store with `keep_same_time_ticks`).
    KeepAll,
}

/// `cols` sorted by time (stable), with the last of equal times kept unless `dedup` keeps all;
/// borrowed when already so.
pub(crate) fn normalize<C: Columns>(cols: &C, dedup: Dedup) -> Result<Cow<'_, C>> {
    cols.check_lengths()?;
    let t = cols.datetimes();
    let ordered = match dedup {
        Dedup::LastWins => t.windows(2).all(|w| matches!(w, [a, b] if a < b)),
        Dedup::KeepAll => t.windows(2).all(|w| matches!(w, [a, b] if a <= b)),
    };
    if ordered {
        return Ok(Cow::Borrowed(cols));
    }
    let mut idx: Vec<usize> = (0..t.len()).collect();
    idx.sort_by_key(|&i| t.get(i).copied());
    let mut out = C::with_capacity(idx.len());
    for (pos, &i) in idx.iter().enumerate() {
        if dedup == Dedup::LastWins && idx.get(pos + 1).is_some_and(|&j| t.get(j) == t.get(i)) {
            continue;
        }
        out.push_from(cols, i);
    }
    Ok(Cow::Owned(out))
}

/// Merges two sorted batches; on equal times the row of `new` wins, or with `KeepAll` both stay,
/// `old` first.
pub(crate) fn merge<C: Columns>(old: &C, new: &C, dedup: Dedup) -> C {
    let (a, b) = (old.datetimes(), new.datetimes());
    let mut out = C::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y || (x == y && dedup == Dedup::KeepAll) => {
                out.push_from(old, i);
                i += 1;
            }
            (Some(x), Some(y)) if x == y => {
                out.push_from(new, j);
                i += 1;
                j += 1;
            }
            (Some(_), None) => {
                let n = a.len();
                out.extend_from(old, i..n);
                i = n;
            }
            _ => {
                out.push_from(new, j);
                j += 1;
            }
        }
    }
    out
}

/// What a staged save did to one series. Rows the series gained are
/// `rows - repeated_in_batch - repeated_across - replaced`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagedSeries {
    /// Rows handed over.
    pub rows: u64,
    /// Rows a later row of the same batch (same time) overrode.
    pub repeated_in_batch: u64,
    /// Rows of an earlier batch that a later batch overrode (same time).
    pub repeated_across: u64,
    /// Rows stored before the save that it replaced.
    pub replaced: u64,
}

/// One series of a staged save: its segments as they were, as they are staged now, and which
/// of the stored rows a batch has replaced.
struct Stage {
    key: SeriesKey,
    dedup: Dedup,
    original: Vec<Arc<LiveSegment>>,
    live: Vec<Arc<LiveSegment>>,
    wrote: bool,
    report: StagedSeries,
    /// One bit per stored row (original segments in time order, then blocks, then rows): set
    /// once a batch replaced it. Allocated on the first overlap.
    replaced: Vec<u64>,
}

impl Stage {
    fn new(key: SeriesKey, original: Vec<Arc<LiveSegment>>, dedup: Dedup) -> Self {
        let mut original = original;
        original.sort_by_key(|s| s.meta.min_ts);
        Stage {
            key,
            dedup,
            live: original.clone(),
            original,
            wrote: false,
            report: StagedSeries::default(),
            replaced: Vec::new(),
        }
    }

    /// Marks the stored rows whose times `times` (sorted, unique) hold, and returns how many
    /// were not marked before.
    fn mark_replaced<C: Columns>(&mut self, engine: &Engine, times: &[Timestamp]) -> Result<u64> {
        let (Some(&lo), Some(&hi)) = (times.first(), times.last()) else {
            return Ok(0);
        };
        let mut fresh = 0;
        let mut base = 0u64;
        for live in &self.original {
            let rows = live.meta.rows;
            if live.meta.max_ts < lo || live.meta.min_ts > hi {
                base += rows;
                continue;
            }
            if self.replaced.is_empty() {
                let total: u64 = self.original.iter().map(|s| s.meta.rows).sum();
                self.replaced = vec![0; total.div_ceil(64) as usize];
            }
            let seg = engine.open_segment::<C>(live)?;
            let blocks = seg.blocks_in(lo, hi);
            let mut at = base
                + seg
                    .blocks()
                    .iter()
                    .take(blocks.start)
                    .map(|b| u64::from(b.rows))
                    .sum::<u64>();
            for block in blocks {
                let stored = seg.block_times(block)?;
                let (mut i, mut j) = (0, 0);
                while let (Some(a), Some(b)) = (stored.get(i), times.get(j)) {
                    match a.cmp(b) {
                        std::cmp::Ordering::Less => i += 1,
                        std::cmp::Ordering::Greater => j += 1,
                        std::cmp::Ordering::Equal => {
                            let bit = at + i as u64;
                            if let Some(word) = self.replaced.get_mut((bit / 64) as usize) {
                                let mask = 1u64 << (bit % 64);
                                if *word & mask == 0 {
                                    *word |= mask;
                                    fresh += 1;
                                }
                            }
                            i += 1;
                            j += 1;
                        }
                    }
                }
                at += stored.len() as u64;
            }
            base += rows;
        }
        Ok(fresh)
    }
}

/// A batch of one series, bars or ticks.
pub(crate) enum Batch<'a> {
    Bars(Cow<'a, BarColumns>),
    Ticks(Box<Cow<'a, TickColumns>>),
}

impl<'a> From<BarColumns> for Batch<'a> {
    fn from(c: BarColumns) -> Self {
        Batch::Bars(Cow::Owned(c))
    }
}

impl<'a> From<TickColumns> for Batch<'a> {
    fn from(c: TickColumns) -> Self {
        Batch::Ticks(Box::new(Cow::Owned(c)))
    }
}

impl Batch<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Batch::Bars(c) => c.is_empty(),
            Batch::Ticks(c) => c.is_empty(),
        }
    }

    pub(crate) fn first_time(&self) -> Option<Timestamp> {
        match self {
            Batch::Bars(c) => c.datetime.first().copied(),
            Batch::Ticks(c) => c.datetime.first().copied(),
        }
    }
}

/// What one series contributes to a commit.
struct Planned {
    edits: Vec<Edit>,
    removed: Vec<Arc<LiveSegment>>,
}

/// The bytes of a new segment written between the syncs its writer makes before the last one.
const EARLY_SYNC_BYTES: u64 = 2 << 20;

/// Where the bytes of a file go, in order.
type ByteSink<'a> = dyn FnMut(&[u8]) -> Result<()> + Send + 'a;

/// Runs `write`, which hands the bytes of a new file in order to the sink it is given, and
/// writes them to `file`, returning what `write` returns. Every [`EARLY_SYNC_BYTES`] a thread of
/// its own (started at the first) `fdatasync`s the file, so that the device writes while the
/// bytes after are still being made and the caller's final sync waits only for the rest; the
/// threads making the bytes never wait for the device. Requests that pile up while a sync runs
/// are served by one. An early sync's error is returned (the caller discards the file).
fn write_synced_early<T>(
    file: &dyn StorageFile,
    write: impl FnOnce(&mut ByteSink<'_>) -> Result<T>,
) -> Result<T> {
    std::thread::scope(|scope| {
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let mut syncer = None;
        let mut asked = Some(asked);
        let (mut at, mut synced) = (0u64, 0u64);
        let written = write(&mut |bytes: &[u8]| {
            file.write_all_at(bytes, at)?;
            at += bytes.len() as u64;
            if at - synced >= EARLY_SYNC_BYTES {
                synced = at;
                if let Some(asked) = asked.take() {
                    syncer = Some(scope.spawn(move || -> Result<()> {
                        while asked.recv().is_ok() {
                            while asked.try_recv().is_ok() {}
                            file.sync_data()?;
                        }
                        Ok(())
                    }));
                }
                // A syncer that stopped on an error has it waiting below.
                let _ = ask.send(());
            }
            Ok(())
        });
        drop(ask);
        let synced = match syncer.map(|s| s.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        let written = written?;
        synced.map(|()| written)
    })
}

impl Engine {
    /// Saves bars of one series from columns (any order, repeated times: the last wins).
    pub fn save_bar_columns(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        cols: &BarColumns,
    ) -> Result<()> {
        let key = SeriesKey::bar(symbol, exchange, interval)?;
        self.save_batches(vec![(key, Batch::Bars(normalize(cols, Dedup::LastWins)?))])
    }

    /// Saves ticks of one series from columns (any order, repeated times: the last wins).
    pub fn save_tick_columns(
        &self,
        symbol: &str,
        exchange: Exchange,
        cols: &TickColumns,
    ) -> Result<()> {
        let key = SeriesKey::tick(symbol, exchange)?;
        let dedup = self.dedup(&key);
        self.save_batches(vec![(key, Batch::Ticks(Box::new(normalize(cols, dedup)?)))])
    }

    /// Saves rows of series `key` from columns of its kind (any order, repeated times: the last
    /// wins), through the WAL when `stream`, as the `Database` saves do.
    pub fn save_columns<C: Columns>(&self, key: &SeriesKey, cols: &C, stream: bool) -> Result<()> {
        let any: &dyn std::any::Any = cols;
        let batch = match (
            key.kind(),
            any.downcast_ref::<BarColumns>(),
            any.downcast_ref::<TickColumns>(),
        ) {
            (crate::model::SeriesKind::Bar, Some(c), _) => {
                Batch::Bars(normalize(c, Dedup::LastWins)?)
            }
            (crate::model::SeriesKind::Tick, _, Some(c)) => {
                Batch::Ticks(Box::new(normalize(c, self.dedup(key))?))
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{key}: columns of the wrong kind for this series"
                )))
            }
        };
        self.save(vec![(key.clone(), batch)], stream)
    }

    /// Commits sorted, unique batches of several series atomically.
    pub(crate) fn save_batches(&self, batches: Vec<(SeriesKey, Batch<'_>)>) -> Result<()> {
        self.check_writable()?;
        if batches.iter().all(|(_, b)| b.is_empty()) {
            return Ok(());
        }
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        // Stream saves wait while a bulk commit runs; rows they left in memtables go into
        // segments first, so the bulk rows, newer, win over them.
        let mut guard = self.inner.wal.get().map(|w| w.lock());
        self.check_writable()?;
        if let Some(guard) = guard.as_mut() {
            self.flush_locked(writer, guard)?;
        }
        let flushed_seq = self.inner.state.read().manifest.wal_flushed_seq;
        self.commit_batches(writer, batches, flushed_seq, false)
    }

    /// Writes the segments of `batches` (merged into the ones they overlap) and commits them in
    /// one manifest edit that also records `flushed_seq`; with `flushed`, the memtables are
    /// dropped in the same step as the new segments appear.
    pub(crate) fn commit_batches(
        &self,
        writer: &mut Writer,
        batches: Vec<(SeriesKey, Batch<'_>)>,
        flushed_seq: u64,
        flushed: bool,
    ) -> Result<()> {
        let mut next_id = self.inner.state.read().manifest.next_id;
        let mut written = Vec::new();
        let result = (|| {
            let mut plans = Vec::with_capacity(batches.len());
            let mut dirs = HashSet::new();
            for (key, batch) in &batches {
                let plan = match batch {
                    Batch::Bars(c) => {
                        self.plan_series(key, c.as_ref(), &mut next_id, &mut written)?
                    }
                    Batch::Ticks(c) => {
                        let c: &TickColumns = c;
                        self.plan_series(key, c, &mut next_id, &mut written)?
                    }
                };
                dirs.insert(self.partition_dir(key));
                plans.push(plan);
            }
            for dir in &dirs {
                self.sync_dir(dir)?;
            }
            Ok(plans)
        })();
        let plans = match result {
            Ok(p) => p,
            Err(e) => {
                for path in &written {
                    let _ = self.inner.storage.remove_file(path);
                }
                return Err(e);
            }
        };
        let edits: Vec<Edit> = plans.iter().flat_map(|p| p.edits.iter().cloned()).collect();
        let removed: Vec<Arc<LiveSegment>> = plans.into_iter().flat_map(|p| p.removed).collect();
        self.commit(writer, next_id, flushed_seq, edits, flushed)?;
        self.remove_files(&removed);
        Ok(())
    }

    /// Writes the new segments of one series and returns the edits that install them.
    fn plan_series<C: Columns>(
        &self,
        key: &SeriesKey,
        batch: &C,
        next_id: &mut u64,
        written: &mut Vec<std::path::PathBuf>,
    ) -> Result<Planned> {
        let live = self.live_segments(key);
        self.plan_against(key, batch, &live, next_id, written)
    }

    /// Plans `batch` (sorted, unique) against `live`, the segments of `key` as the
    /// caller sees them: writes the merged segments and returns the edits.
    fn plan_against<C: Columns>(
        &self,
        key: &SeriesKey,
        batch: &C,
        live: &[Arc<LiveSegment>],
        next_id: &mut u64,
        written: &mut Vec<std::path::PathBuf>,
    ) -> Result<Planned> {
        let times = batch.datetimes();
        let (Some(&lo), Some(&hi)) = (times.first(), times.last()) else {
            return Ok(Planned {
                edits: Vec::new(),
                removed: Vec::new(),
            });
        };
        if lo.as_ns() == Timestamp::NONE_NS {
            return Err(Error::InvalidArgument(format!(
                "{key}: datetime {} is reserved",
                lo.as_ns()
            )));
        }
        let overlapping: Vec<Arc<LiveSegment>> = live
            .iter()
            .filter(|s| s.meta.max_ts >= lo && s.meta.min_ts <= hi)
            .cloned()
            .collect();
        let merged: Cow<'_, C> = if overlapping.is_empty() {
            Cow::Borrowed(batch)
        } else {
            let start = overlapping.first().map_or(lo, |s| s.meta.min_ts);
            let end = overlapping.last().map_or(hi, |s| s.meta.max_ts);
            let old: C = self.load_segments(&overlapping, start, end)?;
            Cow::Owned(merge(&old, batch, self.dedup(key)))
        };
        let dir = self.partition_dir(key);
        if live.is_empty() && !self.inner.storage.exists(&dir)? {
            self.inner.storage.create_dir(&dir)?;
            self.sync_dir(&self.data_dir())?;
        }
        let mut edits = self.write_segments(key, merged.as_ref(), next_id, written)?;
        for s in &overlapping {
            edits.push(Edit::Remove(key.clone(), s.meta.id));
        }
        Ok(Planned {
            edits,
            removed: overlapping,
        })
    }

    /// Writes `rows` (sorted, unique) as new segment files of `key`, at most `segment_rows_max`
    /// rows each, synced, and returns the edits that add them.
    pub(crate) fn write_segments<C: Columns>(
        &self,
        key: &SeriesKey,
        rows: &C,
        next_id: &mut u64,
        written: &mut Vec<std::path::PathBuf>,
    ) -> Result<Vec<Edit>> {
        let mut edits = Vec::new();
        let total = rows.len();
        let t = rows.datetimes();
        let mut opts = self.inner.opts.segment;
        opts.equal_times = self.dedup(key) == Dedup::KeepAll;
        let mut start = 0;
        while start < total {
            let mut end = (start + self.inner.opts.segment_rows_max).min(total);
            // Rows that share a time never straddle two segments.
            while end < total && t.get(end) == t.get(end - 1) {
                end += 1;
            }
            let id = *next_id;
            *next_id += 1;
            let path = self.segment_path(key, id);
            written.push(path.clone());
            let file = self.inner.storage.create(&path)?;
            let file_len = write_synced_early(&*file, |sink| {
                write_segment(id, rows, start..end, &opts, sink)
            })?;
            self.sync_file(&*file)?;
            let (Some(&min_ts), Some(&max_ts)) = (t.get(start), t.get(end - 1)) else {
                return Err(Error::InvalidArgument("empty segment".into()));
            };
            let meta = SegmentMeta {
                id,
                rows: (end - start) as u64,
                min_ts,
                max_ts,
                file_len,
            };
            edits.push(Edit::Add(key.clone(), meta));
            start = end;
        }
        Ok(edits)
    }

    /// Saves one series from batches a producer hands over one at a time, as ONE commit: see
    /// [`Engine::save_staged_many`], of which this is the one-series case. Returns the rows
    /// handed over (after in-batch duplicates).
    pub fn save_staged<C: Columns>(
        &self,
        key: &SeriesKey,
        produce: impl FnOnce(&mut dyn FnMut(C) -> Result<()>) -> Result<()>,
    ) -> Result<u64> {
        if key.kind() != C::KIND {
            return Err(Error::InvalidArgument(format!(
                "{key}: columns of the wrong kind for this series"
            )));
        }
        let report =
            self.save_staged_many::<C>(|sink| produce(&mut |batch| sink(key, batch).map(|_| ())))?;
        Ok(report
            .first()
            .map_or(0, |(_, r)| r.rows - r.repeated_in_batch))
    }

    /// Saves batches of any number of series, handed over one at a time by a producer, as ONE
    /// commit: each batch (any order; repeated times: the last given wins, across batches too)
    /// is merged and written as segment files as it comes, so memory holds one batch and the
    /// segments it overlaps, and nothing is visible until the producer returns `Ok` and the
    /// manifest edit lands. If the producer or the engine fails, every file written is removed
    /// and the store is exactly as before (a crash leaves only orphan files, collected at the
    /// next open). Other writers wait until it is done. The sink returns what the save has done
    /// so far to the batch's series; the save returns that for every series, in the order first
    /// seen.
    pub fn save_staged_many<C: Columns>(
        &self,
        produce: impl FnOnce(&mut dyn FnMut(&SeriesKey, C) -> Result<StagedSeries>) -> Result<()>,
    ) -> Result<Vec<(SeriesKey, StagedSeries)>> {
        self.check_writable()?;
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        let mut guard = self.inner.wal.get().map(|w| w.lock());
        self.check_writable()?;
        if let Some(guard) = guard.as_mut() {
            self.flush_locked(writer, guard)?;
        }
        let (flushed_seq, mut next_id) = {
            let state = self.inner.state.read();
            (state.manifest.wal_flushed_seq, state.manifest.next_id)
        };
        let mut stages: Vec<Stage> = Vec::new();
        let mut written = Vec::new();
        let result = produce(&mut |key: &SeriesKey, batch: C| {
            if key.kind() != C::KIND {
                return Err(Error::InvalidArgument(format!(
                    "{key}: columns of the wrong kind for this series"
                )));
            }
            let at = stages
                .iter()
                .position(|s| &s.key == key)
                .unwrap_or_else(|| {
                    stages.push(Stage::new(
                        key.clone(),
                        self.live_segments(key),
                        self.dedup(key),
                    ));
                    stages.len() - 1
                });
            let stage = &mut stages[at];
            let given = batch.len() as u64;
            let batch = normalize(&batch, stage.dedup)?;
            stage.report.rows += given;
            stage.report.repeated_in_batch += given - batch.len() as u64;
            if batch.is_empty() {
                return Ok(stage.report);
            }
            let replaced = match stage.dedup {
                Dedup::LastWins => stage.mark_replaced::<C>(self, batch.datetimes())?,
                Dedup::KeepAll => 0,
            };
            stage.report.replaced += replaced;
            let before: u64 = stage.live.iter().map(|s| s.meta.rows).sum();
            let planned =
                self.plan_against(key, batch.as_ref(), &stage.live, &mut next_id, &mut written)?;
            // The segments as the next batch must see them: staged ones included.
            stage
                .live
                .retain(|s| !planned.removed.iter().any(|r| r.meta.id == s.meta.id));
            for edit in &planned.edits {
                if let Edit::Add(_, meta) = edit {
                    stage.wrote = true;
                    stage.live.push(Arc::new(LiveSegment::new(
                        *meta,
                        self.segment_path(key, meta.id),
                    )));
                }
            }
            stage.live.sort_by_key(|s| s.meta.min_ts);
            // Rows the merge folded: stored rows replaced, or rows of an earlier batch.
            let after: u64 = stage.live.iter().map(|s| s.meta.rows).sum();
            let folded = (before + batch.len() as u64).saturating_sub(after);
            stage.report.repeated_across += folded.saturating_sub(replaced);
            Ok(stage.report)
        })
        .and_then(|()| {
            stages
                .iter()
                .filter(|stage| stage.wrote)
                .try_for_each(|stage| self.sync_dir(&self.partition_dir(&stage.key)))
        });
        if let Err(e) = result {
            for path in &written {
                let _ = self.inner.storage.remove_file(path);
            }
            // Partition directories this save created go too (best effort: an empty one left
            // by a crash is an orphan, collected at the next open).
            for stage in stages.iter().filter(|s| s.original.is_empty()) {
                let dir = self.partition_dir(&stage.key);
                let storage = &self.inner.storage;
                if storage.list_dir(&dir).is_ok_and(|l| l.is_empty()) {
                    let _ = storage.remove_dir(&dir);
                }
            }
            return Err(e);
        }
        let report = stages
            .iter()
            .map(|s| (s.key.clone(), s.report))
            .collect::<Vec<_>>();
        if written.is_empty() {
            return Ok(report);
        }
        // The net change: staged segments that survived, originals that were replaced.
        let mut edits: Vec<Edit> = Vec::new();
        let mut removed: Vec<Arc<LiveSegment>> = Vec::new();
        for stage in &stages {
            edits.extend(
                stage
                    .live
                    .iter()
                    .filter(|s| !stage.original.iter().any(|o| o.meta.id == s.meta.id))
                    .map(|s| Edit::Add(stage.key.clone(), s.meta)),
            );
            let gone = stage
                .original
                .iter()
                .filter(|o| !stage.live.iter().any(|s| s.meta.id == o.meta.id))
                .cloned()
                .collect::<Vec<_>>();
            edits.extend(
                gone.iter()
                    .map(|o| Edit::Remove(stage.key.clone(), o.meta.id)),
            );
            removed.extend(gone);
        }
        // A failed commit poisons the store; its files are orphans, collected at the next open.
        self.commit(writer, next_id, flushed_seq, edits, false)?;
        // Staged segments a later batch replaced were never visible: unlink them with the rest.
        for path in written.iter().filter(|p| {
            !stages
                .iter()
                .any(|st| st.live.iter().any(|s| &s.path == *p))
        }) {
            let _ = self.inner.storage.remove_file(path);
        }
        self.remove_files(&removed);
        Ok(report)
    }

    /// Appends the edit to the manifest (the commit point) and publishes it in memory.
    pub(crate) fn commit(
        &self,
        writer: &mut Writer,
        next_id: u64,
        flushed_seq: u64,
        edits: Vec<Edit>,
        flushed: bool,
    ) -> Result<()> {
        let mut manifest = self.inner.state.read().manifest.clone();
        manifest.apply(&edits, next_id, flushed_seq)?;
        if let Err(e) = writer.log.append(next_id, flushed_seq, edits) {
            // Whether the record reached the disk is unknown: refuse writes until reopened.
            self.poison();
            return Err(e);
        }
        self.install(manifest.clone(), flushed);
        // A failed checkpoint leaves the current manifest in place; the next commit retries.
        let _ = writer.log.maybe_checkpoint(&manifest);
        Ok(())
    }

    /// Unlinks replaced segment files, and partition directories left empty (best effort:
    /// leftovers are orphans, collected at the next open).
    pub(crate) fn remove_files(&self, removed: &[Arc<LiveSegment>]) {
        let mut dirs = HashSet::new();
        for seg in removed {
            // A snapshot of this process still names it: unlink when the snapshot is dropped.
            if self.defer_if_pinned(seg.meta.id, &seg.path) {
                continue;
            }
            let _ = self.inner.storage.remove_file(&seg.path);
            if let Some(dir) = seg.path.parent() {
                dirs.insert(dir.to_path_buf());
            }
        }
        let mut dir_removed = false;
        for dir in dirs {
            if self
                .inner
                .storage
                .list_dir(&dir)
                .is_ok_and(|l| l.is_empty())
            {
                dir_removed |= self.inner.storage.remove_dir(&dir).is_ok();
            }
            let _ = self.inner.storage.sync_dir(&dir);
        }
        // The data directory changed only if a partition directory went: a save that replaced
        // nothing (an append) syncs nothing here.
        if dir_removed {
            let _ = self.inner.storage.sync_dir(&self.data_dir());
        }
    }

    /// Deletes the rows of `key` with `start <= datetime <= end`; returns how many. The segments
    /// the range touches are rewritten without them, in one commit.
    pub fn delete_range(&self, key: &SeriesKey, start: Timestamp, end: Timestamp) -> Result<u64> {
        match key.kind() {
            crate::model::SeriesKind::Bar => self.delete_range_of::<BarColumns>(key, start, end),
            crate::model::SeriesKind::Tick => self.delete_range_of::<TickColumns>(key, start, end),
        }
    }

    fn delete_range_of<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<u64> {
        self.check_writable()?;
        if start > end {
            return Ok(0);
        }
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        let mut guard = self.inner.wal.get().map(|w| w.lock());
        if let Some(guard) = guard.as_mut() {
            self.flush_locked(writer, guard)?;
        }
        let touched: Vec<Arc<LiveSegment>> = self
            .live_segments(key)
            .into_iter()
            .filter(|s| s.meta.max_ts >= start && s.meta.min_ts <= end)
            .collect();
        if touched.is_empty() {
            return Ok(0);
        }
        let rows: C = self.load_segments(&touched, Timestamp::MIN, Timestamp::MAX)?;
        let mut kept = C::with_capacity(rows.len());
        for (i, t) in rows.datetimes().iter().enumerate() {
            if *t < start || *t > end {
                kept.push_from(&rows, i);
            }
        }
        let removed = (rows.len() - kept.len()) as u64;
        if removed == 0 {
            return Ok(0);
        }
        let (mut next_id, flushed_seq) = {
            let state = self.inner.state.read();
            (state.manifest.next_id, state.manifest.wal_flushed_seq)
        };
        let mut written = Vec::new();
        let mut edits = match self.write_segments(key, &kept, &mut next_id, &mut written) {
            Ok(e) => e,
            Err(e) => {
                for path in &written {
                    let _ = self.inner.storage.remove_file(path);
                }
                return Err(e);
            }
        };
        if !written.is_empty() {
            self.sync_dir(&self.partition_dir(key))?;
        }
        edits.extend(touched.iter().map(|s| Edit::Remove(key.clone(), s.meta.id)));
        self.commit(writer, next_id, flushed_seq, edits, false)?;
        self.remove_files(&touched);
        Ok(removed)
    }

    /// Deletes a whole series; returns the number of rows removed.
    pub fn delete_series(&self, key: &SeriesKey) -> Result<u64> {
        self.check_writable()?;
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        // Rows of stream saves go into segments first, so that the WAL never replays rows of a
        // series deleted after them.
        let mut guard = self.inner.wal.get().map(|w| w.lock());
        if let Some(guard) = guard.as_mut() {
            self.flush_locked(writer, guard)?;
        }
        let live = self.live_segments(key);
        if live.is_empty() {
            return Ok(0);
        }
        let rows = live.iter().map(|s| s.meta.rows).sum();
        let (next_id, flushed_seq) = {
            let state = self.inner.state.read();
            (state.manifest.next_id, state.manifest.wal_flushed_seq)
        };
        let edits = live
            .iter()
            .map(|s| Edit::Remove(key.clone(), s.meta.id))
            .collect();
        self.commit(writer, next_id, flushed_seq, edits, false)?;
        self.remove_files(&live);
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in memory that counts its syncs and fails the `fail_at`-th.
    #[derive(Debug, Default)]
    struct MemFile {
        bytes: parking_lot::Mutex<Vec<u8>>,
        syncs: std::sync::atomic::AtomicUsize,
        fail_at: usize,
    }

    impl StorageFile for MemFile {
        fn read_exact_at(&self, _: &mut [u8], _: u64) -> Result<()> {
            Err(Error::InvalidArgument("not read here".into()))
        }
        fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
            let mut bytes = self.bytes.lock();
            let end = offset as usize + buf.len();
            let len = bytes.len().max(end);
            bytes.resize(len, 0);
            bytes[offset as usize..end].copy_from_slice(buf);
            Ok(())
        }
        fn set_len(&self, len: u64) -> Result<()> {
            self.bytes.lock().resize(len as usize, 0);
            Ok(())
        }
        fn size(&self) -> Result<u64> {
            Ok(self.bytes.lock().len() as u64)
        }
        fn sync(&self) -> Result<()> {
            let n = self.syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if n == self.fail_at {
                return Err(Error::InvalidArgument("sync failed".into()));
            }
            Ok(())
        }
    }

    /// Hands `pieces` pieces of 1 MiB, piece `k` filled with byte `k`, to `sink`.
    fn mib_pieces(pieces: u8, sink: &mut ByteSink<'_>) -> Result<u8> {
        for k in 0..pieces {
            sink(&vec![k; 1 << 20])?;
        }
        Ok(pieces)
    }

    #[test]
    fn files_written_with_early_syncs_hold_every_byte_in_order() {
        let file = MemFile::default();
        assert_eq!(write_synced_early(&file, |s| mib_pieces(7, s)).unwrap(), 7);
        let bytes = file.bytes.lock();
        assert_eq!(bytes.len(), 7 << 20);
        for k in 0..7u8 {
            let piece = &bytes[usize::from(k) << 20..(usize::from(k) + 1) << 20];
            assert!(piece.iter().all(|&b| b == k), "piece {k}");
        }
        // Asked for at 2, 4 and 6 MiB; asks that pile up are served by one sync.
        let syncs = file.syncs.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=3).contains(&syncs), "{syncs} syncs");
        // Under 2 MiB nothing is synced early (the caller's final sync is its only one).
        let small = MemFile::default();
        write_synced_early(&small, |s| mib_pieces(1, s)).unwrap();
        assert_eq!(small.syncs.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn an_early_sync_error_is_returned() {
        let file = MemFile {
            fail_at: 1,
            ..MemFile::default()
        };
        let err = write_synced_early(&file, |s| mib_pieces(7, s)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m == "sync failed"),
            "{err}"
        );
    }

    fn bars(times: &[i64], close: f64) -> BarColumns {
        let mut c = BarColumns::default();
        for &t in times {
            c.datetime.push(Timestamp::from_ns(t));
            for v in [
                &mut c.open_price,
                &mut c.high_price,
                &mut c.low_price,
                &mut c.volume,
                &mut c.turnover,
                &mut c.open_interest,
            ] {
                v.push(0.0);
            }
            c.close_price.push(close);
        }
        c
    }

    #[test]
    fn merge_prefers_new_rows() {
        let m = merge(
            &bars(&[1, 3, 5, 7], 1.0),
            &bars(&[2, 3, 8], 2.0),
            Dedup::LastWins,
        );
        assert_eq!(
            m.datetime.iter().map(|t| t.as_ns()).collect::<Vec<_>>(),
            [1, 2, 3, 5, 7, 8]
        );
        assert_eq!(m.close_price, [1.0, 2.0, 2.0, 1.0, 1.0, 2.0]);
    }

    #[test]
    fn normalize_sorts_and_keeps_the_last_duplicate() {
        let mut c = bars(&[5, 1, 5, 3], 0.0);
        c.close_price = vec![1.0, 2.0, 3.0, 4.0];
        let n = normalize(&c, Dedup::LastWins).unwrap();
        assert_eq!(
            n.datetime.iter().map(|t| t.as_ns()).collect::<Vec<_>>(),
            [1, 3, 5]
        );
        assert_eq!(n.close_price, [2.0, 4.0, 3.0]);
        let sorted = bars(&[1, 2], 0.0);
        assert!(matches!(
            normalize(&sorted, Dedup::LastWins).unwrap(),
            Cow::Borrowed(_)
        ));
        let all = normalize(&c, Dedup::KeepAll).unwrap();
        assert_eq!(
            all.datetime.iter().map(|t| t.as_ns()).collect::<Vec<_>>(),
            [1, 3, 5, 5]
        );
        assert_eq!(all.close_price, [2.0, 4.0, 1.0, 3.0]);
        let m = merge(&bars(&[1, 3], 1.0), &bars(&[3, 4], 2.0), Dedup::KeepAll);
        assert_eq!(m.close_price, [1.0, 1.0, 2.0, 2.0]);
    }
}
