//! Stream saves: the WAL, the memtables, flushes and recovery.
//!
//! A stream save appends one WAL record (all series of the call), inserts its rows into the
//! memtables in sequence order, and returns once the record is durable under the sync policy.
//! Reads merge memtable rows over segments. A flush writes every memtable into segments with one
//! manifest commit that also records the last WAL sequence it covers, then starts a new WAL file
//! and removes the old ones. Every other manifest commit (bulk save, delete) flushes first, so
//! the WAL never holds rows older than the segments they would overlay.

use std::collections::HashMap;
use std::sync::Arc;

use crate::columns::{Columns, TickColumns};
use crate::engine::{Engine, Writer};
use crate::error::{Error, Result};
use crate::memtable::{typed, typed_mut, MemPart, Memtable};
use crate::model::{SeriesKey, Timestamp};
use crate::wal::{replay_into, RecordBuilder, Rows, Sink, Wal, WalGuard};
use crate::write::{Batch, Dedup};
use crate::BarColumns;

/// The WAL directory under the store root.
pub(crate) const WAL_DIR: &str = "wal";

impl Engine {
    /// Saves sorted, unique batches: through the WAL when `stream` (and this handle writes),
    /// else as one bulk commit.
    pub(crate) fn save<'a, B: Into<Batch<'a>>>(
        &self,
        batches: Vec<(SeriesKey, B)>,
        stream: bool,
    ) -> Result<()> {
        let batches: Vec<(SeriesKey, Batch<'a>)> = batches
            .into_iter()
            .map(|(k, b)| (k, b.into()))
            .filter(|(_, b)| !b.is_empty())
            .collect();
        if stream && self.inner.wal.get().is_some() {
            self.save_stream(batches)
        } else {
            self.save_batches(batches)
        }
    }

    fn save_stream(&self, batches: Vec<(SeriesKey, Batch<'_>)>) -> Result<()> {
        self.check_writable()?;
        if batches.is_empty() {
            return Ok(());
        }
        for (key, batch) in &batches {
            if batch
                .first_time()
                .is_some_and(|t| t.as_ns() == Timestamp::NONE_NS)
            {
                return Err(Error::InvalidArgument(format!(
                    "{key}: datetime {} is reserved",
                    Timestamp::NONE_NS
                )));
            }
        }
        let wal = self.inner.wal.get().ok_or(Error::ReadOnly)?.clone();
        wal.append(
            |_, seq| {
                // Under the WAL lock no flush or bulk commit runs, so these flags stay true.
                let flags = batches
                    .iter()
                    .map(|(key, batch)| match batch {
                        Batch::Bars(c) => self.in_segments::<BarColumns>(key, c.datetimes()),
                        Batch::Ticks(c) => self.in_segments::<TickColumns>(key, c.datetimes()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut record = RecordBuilder::new(seq, batches.len());
                for (key, batch) in &batches {
                    match batch {
                        Batch::Bars(c) => record.add(key, c.as_ref()),
                        Batch::Ticks(c) => record.add(key, c.as_ref().as_ref()),
                    }
                }
                Ok((record.finish(), flags))
            },
            |_, flags| {
                let mut state = self.inner.state.write();
                for ((key, batch), flags) in batches.iter().zip(flags) {
                    match batch {
                        Batch::Bars(c) => {
                            insert::<BarColumns>(&mut state.mem, key, c, &flags, Dedup::LastWins)
                        }
                        Batch::Ticks(c) => {
                            insert::<TickColumns>(&mut state.mem, key, c, &flags, self.dedup(key))
                        }
                    }
                }
            },
        )?;
        self.maybe_flush()
    }

    /// For each time of `times` (ascending), whether a segment of `key` holds it.
    fn in_segments<C: Columns>(&self, key: &SeriesKey, times: &[Timestamp]) -> Result<Vec<bool>> {
        let mut out = vec![false; times.len()];
        if self.dedup(key) == Dedup::KeepAll {
            return Ok(out); // no row replaces a stored one: every row counts
        }
        let max = {
            let state = self.inner.state.read();
            state
                .manifest
                .partitions
                .get(key)
                .and_then(|s| s.last())
                .map(|s| s.max_ts)
        };
        // Appends past the stored range, the recorder's case, need no lookup.
        if times.first().is_none_or(|t| max.is_none_or(|m| *t > m)) {
            return Ok(out);
        }
        let live = self.live_segments(key);
        for (i, t) in times.iter().enumerate() {
            // Appends past the stored range, the recorder's case, need no lookup.
            if max.is_none_or(|m| *t > m) {
                break;
            }
            let Some(seg) = live
                .iter()
                .find(|s| s.meta.min_ts <= *t && *t <= s.meta.max_ts)
            else {
                continue;
            };
            let seg = self.open_segment::<C>(seg)?;
            for block in seg.blocks_in(*t, *t) {
                if seg.block_times(block)?.binary_search(t).is_ok() {
                    out[i] = true;
                }
            }
        }
        Ok(out)
    }

    /// Flushes when the memtables are too large or too old.
    fn maybe_flush(&self) -> Result<()> {
        let due = {
            let state = self.inner.state.read();
            let bytes: usize = state.mem.values().map(|m| m.bytes()).sum();
            let oldest = state.mem.values().map(|m| m.created()).min();
            bytes >= self.inner.opts.memtable_bytes_max
                || oldest.is_some_and(|t| t.elapsed() >= self.inner.opts.memtable_age_max)
        };
        if due {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every memtable into segments (one manifest commit) and starts a new WAL file.
    pub fn flush(&self) -> Result<()> {
        self.check_writable()?;
        let mut writer = self.inner.writer.lock();
        let writer = writer.as_mut().ok_or(Error::ReadOnly)?;
        let Some(wal) = self.inner.wal.get() else {
            return Ok(());
        };
        let mut guard = wal.lock();
        self.flush_locked(writer, &mut guard)
    }

    /// The flush itself, with the writer and the WAL held.
    pub(crate) fn flush_locked(&self, writer: &mut Writer, guard: &mut WalGuard<'_>) -> Result<()> {
        let batches: Vec<(SeriesKey, Batch<'static>)> = {
            let state = self.inner.state.read();
            state
                .mem
                .iter()
                .map(|(k, m)| (k.clone(), m.batch()))
                .collect()
        };
        if batches.is_empty() {
            return Ok(());
        }
        let flushed_seq = guard.last_seq();
        let keys: Vec<SeriesKey> = batches.iter().map(|(k, _)| k.clone()).collect();
        self.commit_batches(writer, batches, flushed_seq, true)?;
        guard.rotate()?;
        self.compact_auto(writer, &keys)
    }

    /// Replays the WAL into the memtables, then opens a new WAL file for appends.
    pub(crate) fn recover_wal(&self) -> Result<()> {
        let storage = &self.inner.storage;
        let dir = self.inner.root.join(WAL_DIR);
        if !storage.exists(&dir)? {
            storage.create_dir(&dir)?;
            storage.sync_dir(&self.inner.root)?;
        }
        let flushed = self.inner.state.read().manifest.wal_flushed_seq;
        let mut recovery = Recovery {
            engine: self,
            bars: HashMap::new(),
            ticks: HashMap::new(),
        };
        let replayed = replay_into(&**storage, &dir, flushed, &mut recovery)?;
        recovery.finish()?;
        let wal = Wal::create(
            storage.clone(),
            &dir,
            replayed.last_seq,
            self.inner.opts.sync,
            self.inner.poisoned.clone(),
        )?;
        if replayed.records == 0 {
            // Nothing to keep: the files before the new one hold only flushed records.
            wal.lock().remove_older_files()?;
        }
        let _ = self.inner.wal.set(wal);
        Ok(())
    }

    fn replay_entry<C: Columns + Into<Batch<'static>>>(
        &self,
        key: &SeriesKey,
        cols: &C,
    ) -> Result<()> {
        let flags = self.in_segments::<C>(key, cols.datetimes())?;
        let dedup = self.dedup(key);
        insert::<C>(&mut self.inner.state.write().mem, key, cols, &flags, dedup);
        Ok(())
    }

    /// Memtable rows of `key` in `[start, end]`, ascending (empty when there are none).
    pub(crate) fn mem_range<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> C {
        let state = self.inner.state.read();
        state
            .mem
            .get(key)
            .and_then(typed::<C>)
            .map(|m| m.range(start, end))
            .unwrap_or_default()
    }

    /// Whether any memtable holds rows.
    pub(crate) fn has_mem(&self) -> bool {
        !self.inner.state.read().mem.is_empty()
    }
}

/// The most rows recovery gathers for one series before it inserts them into its memtable.
const RECOVERY_GATHER_ROWS: usize = 16_384;
/// Entries of at least this many rows go into the memtable on their own, without a copy.
const RECOVERY_DIRECT_ROWS: usize = 256;

/// Replays WAL records into the memtables. The entries of a series are gathered while their
/// times ascend and inserted together: a recorder that commits every tick leaves one record
/// per tick, and inserting each on its own costs a lookup, a lock and an allocation a row.
struct Recovery<'e> {
    engine: &'e Engine,
    bars: HashMap<SeriesKey, BarColumns>,
    ticks: HashMap<SeriesKey, TickColumns>,
}

impl Recovery<'_> {
    /// Inserts what is still gathered.
    fn finish(self) -> Result<()> {
        for (key, cols) in self.bars.iter().filter(|(_, c)| !c.is_empty()) {
            self.engine.replay_entry(key, cols)?;
        }
        for (key, cols) in self.ticks.iter().filter(|(_, c)| !c.is_empty()) {
            self.engine.replay_entry(key, cols)?;
        }
        Ok(())
    }
}

/// Adds `rows` of `key` to what is gathered for it, first inserting what was gathered when the
/// rows do not follow it in time or it is full.
fn gather<C: Columns + Into<Batch<'static>>>(
    engine: &Engine,
    gathered: &mut HashMap<SeriesKey, C>,
    key: SeriesKey,
    rows: &C,
) -> Result<()> {
    if rows.len() >= RECOVERY_DIRECT_ROWS {
        if let Some(cols) = gathered.get_mut(&key).filter(|c| !c.is_empty()) {
            engine.replay_entry(&key, cols)?;
            cols.clear();
        }
        return engine.replay_entry(&key, rows);
    }
    let Some(cols) = gathered.get_mut(&key) else {
        gathered.insert(key, rows.clone());
        return Ok(());
    };
    // Rows that share a time are all kept, whatever their order; otherwise an insert takes
    // sorted, unique times.
    let follows = cols.is_empty()
        || engine.dedup(&key) == Dedup::KeepAll
        || matches!(
            (cols.datetimes().last(), rows.datetimes().first()),
            (Some(last), Some(first)) if first > last
        );
    if !follows || cols.len() >= RECOVERY_GATHER_ROWS {
        engine.replay_entry(&key, cols)?;
        cols.clear();
    }
    cols.extend_from(rows, 0..rows.len());
    Ok(())
}

impl Sink for Recovery<'_> {
    fn entry(&mut self, key: SeriesKey, rows: Rows<'_>) -> Result<()> {
        match rows {
            Rows::Bars(c) => gather(self.engine, &mut self.bars, key, c),
            Rows::Ticks(c) => gather(self.engine, &mut self.ticks, key, c),
        }
    }

    fn record(&mut self, _seq: u64) -> Result<()> {
        Ok(())
    }
}

fn insert<C: Columns + Into<Batch<'static>>>(
    mem: &mut std::collections::HashMap<SeriesKey, MemPart>,
    key: &SeriesKey,
    batch: &C,
    flags: &[bool],
    dedup: Dedup,
) {
    let part = mem
        .entry(key.clone())
        .or_insert_with(|| Box::new(Memtable::<C>::new(dedup == Dedup::KeepAll)));
    if let Some(m) = typed_mut::<C>(part) {
        m.insert(batch, flags);
    }
}

impl Drop for Engine {
    /// The last handle flushes the memtables (best effort: what is not flushed is in the WAL).
    fn drop(&mut self) {
        if Arc::strong_count(&self.inner) == 1
            && !self
                .inner
                .abandoned
                .load(std::sync::atomic::Ordering::Acquire)
            && self.inner.wal.get().is_some()
            && self.has_mem()
        {
            let _ = self.flush();
        }
    }
}
