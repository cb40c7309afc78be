//! A bounded cache of decoded block columns, for loads that repeat (a backtest optimisation
//! loads one range hundreds of times): a hit copies the decoded values instead of checking the
//! chunk's CRC, decompressing and decoding it again.
//!
//! Entries are keyed by segment id, block, column and the chunk's stored CRC: segments never
//! change once written and their ids are never reused, and the CRC makes a different file under
//! the same id miss rather than hit. Eviction is CLOCK (second chance) per shard. A load whose
//! decoded size is more than a quarter of the capacity copies what it finds but neither fills
//! nor evicts (a long scan would otherwise flush every hot block for blocks it never reads
//! again), and it does not look up the blocks of segments the cache never kept: without those
//! lookups (a hash, a lock and a miss per column of every block) one-core loads of 1M ticks ran
//! 7-12% faster (medians of repeated loads, both builds alternating).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxBuildHasher;

#[cfg(test)]
use crate::codec::ColumnVec;
use crate::codec::{ColumnFill, ColumnRef, OwnedColumn};
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::segment::Segment;

/// The most shards (each its own lock), so that parallel column decoders rarely wait on one
/// another.
const SHARDS_MAX: usize = 16;
/// The least bytes per shard: each shard evicts on its own, so a small cache in many shards
/// would evict in one shard while another has room.
const SHARD_BYTES_MIN: usize = 4 << 20;
/// Bytes counted for an entry besides its values (key, map slot, queue slot, vector header).
const ENTRY_OVERHEAD: usize = 96;

/// Counters of a block cache (see [`Engine::block_cache_stats`](crate::Engine::block_cache_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockCacheStats {
    /// The most bytes of decoded columns kept.
    pub capacity: usize,
    /// Bytes kept now.
    pub bytes: usize,
    /// Decoded block columns kept now.
    pub entries: usize,
    /// Block columns copied from the cache.
    pub hits: u64,
    /// Block columns not found in the cache (and so decoded). A load too large to fill the
    /// cache counts those of segments the cache never kept here without looking them up.
    pub misses: u64,
}

/// Bytes counted for `value`, kept in the cache (the strings of a `Str` column are shared with
/// the block's other rows, so only their slots count).
fn entry_bytes(value: &OwnedColumn) -> usize {
    ENTRY_OVERHEAD
        + match value {
            OwnedColumn::Time(v) => std::mem::size_of_val(v.as_slice()),
            OwnedColumn::OptTime(v) => std::mem::size_of_val(v.as_slice()),
            OwnedColumn::F64(v) => std::mem::size_of_val(v.as_slice()),
            OwnedColumn::Str(v) => std::mem::size_of_val(v.as_slice()),
        }
}

/// Rows `keep` of a cached column; an error when the entry is shorter.
fn rows_of(value: &OwnedColumn, keep: Range<usize>) -> Result<ColumnRef<'_>> {
    value
        .column_ref()
        .slice(keep)
        .ok_or_else(|| Error::InvalidArgument("a cached block column does not fit the load".into()))
}

/// A block's decoded times, shared with the cache or owned.
#[derive(Debug, Clone)]
pub(crate) struct Times(Arc<OwnedColumn>);

impl Times {
    pub(crate) fn owned(times: Vec<Timestamp>) -> Times {
        Times(Arc::new(OwnedColumn::Time(times)))
    }

    /// The times as a (whole-block) column.
    pub(crate) fn column(&self) -> Arc<OwnedColumn> {
        self.0.clone()
    }
}

impl std::ops::Deref for Times {
    type Target = [Timestamp];

    fn deref(&self) -> &[Timestamp] {
        match &*self.0 {
            OwnedColumn::Time(v) => v,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    segment: u64,
    block: u32,
    col: u16,
    crc: u32,
}

#[derive(Debug)]
struct Slot {
    value: Arc<OwnedColumn>,
    referenced: bool,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Key, Slot, FxBuildHasher>,
    /// Keys in CLOCK order: the hand is the front.
    order: VecDeque<Key>,
    bytes: usize,
}

impl Shard {
    fn get(&mut self, key: &Key) -> Option<Arc<OwnedColumn>> {
        let slot = self.map.get_mut(key)?;
        slot.referenced = true;
        Some(slot.value.clone())
    }

    /// Keeps `value` under `key`, evicting unreferenced entries (and giving referenced ones a
    /// second chance) until it fits in `capacity`.
    fn insert(&mut self, key: Key, value: Arc<OwnedColumn>, capacity: usize) {
        let size = entry_bytes(&value);
        if size > capacity || self.map.contains_key(&key) {
            return;
        }
        while self.bytes + size > capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            match self.map.get_mut(&old) {
                Some(slot) if slot.referenced => {
                    slot.referenced = false;
                    self.order.push_back(old);
                }
                Some(_) => {
                    if let Some(slot) = self.map.remove(&old) {
                        self.bytes -= entry_bytes(&slot.value);
                    }
                }
                None => {}
            }
        }
        self.bytes += size;
        self.order.push_back(key);
        self.map.insert(
            key,
            Slot {
                value,
                referenced: false,
            },
        );
    }
}

/// The cache of one engine handle.
#[derive(Debug)]
pub(crate) struct BlockCache {
    capacity: usize,
    shards: Vec<Mutex<Shard>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How the decode of one column of a load uses the cache: whether it may fill it, and the
/// misses it counted without a lookup, added to the cache's counters once at its end
/// ([`BlockCache::count`]) rather than with an atomic add per block.
#[derive(Debug)]
pub(crate) struct ColumnPass {
    fill: bool,
    unlooked: u64,
}

impl ColumnPass {
    pub(crate) fn new(fill: bool) -> ColumnPass {
        ColumnPass { fill, unlooked: 0 }
    }
}

impl BlockCache {
    /// A cache keeping at most `capacity` bytes of decoded columns (0: none).
    pub(crate) fn new(capacity: usize) -> BlockCache {
        BlockCache {
            capacity,
            shards: (0..(capacity / SHARD_BYTES_MIN).clamp(1, SHARDS_MAX))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether a load that decodes `bytes` of columns may fill the cache.
    pub(crate) fn admits(&self, bytes: usize) -> bool {
        self.capacity > 0 && bytes <= self.capacity / 4
    }

    /// Whether the cache keeps anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn shard(&self, key: &Key) -> &Mutex<Shard> {
        // The high half of the hash: the shard's map indexes its buckets by the low bits, which
        // would otherwise be alike for every key of a shard. At least one shard.
        let h = FxBuildHasher.hash_one(key) >> 32;
        &self.shards[h as usize % self.shards.len()]
    }

    /// The key of column `col` of `block` of `seg`, and the block's rows; `None` when the
    /// segment has no such chunk (the plain decode then reports it).
    fn key(seg: &Segment, block: usize, col: usize) -> Option<(Key, usize)> {
        let meta = seg.blocks().get(block)?;
        let key = Key {
            segment: seg.id(),
            block: block as u32,
            col: col as u16,
            crc: meta.chunks.get(col)?.crc,
        };
        Some((key, meta.rows as usize))
    }

    /// The entry under `key`, counted as a hit or a miss.
    fn get(&self, key: &Key) -> Option<Arc<OwnedColumn>> {
        let found = self.shard(key).lock().get(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `value`, a column of `seg`, under `key` (and notes on `seg` that the cache holds
    /// some of it).
    fn insert(&self, seg: &Segment, key: Key, value: Arc<OwnedColumn>) {
        seg.note_cached();
        let per_shard = self.capacity / self.shards.len();
        self.shard(&key).lock().insert(key, value, per_shard);
    }

    /// Decodes rows `keep` of column `col` of `block` of `seg` into `out`: copied from the
    /// cache when the block's column is there; else, when `fill`, the whole block's column is
    /// decoded, kept and copied from, and otherwise decoded into `out` as without a cache.
    pub(crate) fn decode_column(
        &self,
        seg: &Segment,
        block: usize,
        col: usize,
        keep: Range<usize>,
        out: &mut ColumnFill<'_>,
        pass: &mut ColumnPass,
    ) -> Result<()> {
        let direct = |out: &mut ColumnFill<'_>| {
            out.decode(keep.len(), |part| {
                seg.decode_column(block, col, keep.clone(), part)
            })
        };
        if !pass.fill && !seg.maybe_cached() {
            // The cache never kept a column of this segment: a lookup would miss.
            pass.unlooked += 1;
            return direct(out);
        }
        let Some((key, rows)) = Self::key(seg, block, col) else {
            return direct(out);
        };
        if let Some(value) = self.get(&key) {
            return out.copy(rows_of(&value, keep.clone())?);
        }
        if !pass.fill {
            return direct(out);
        }
        let mut value = out.blank(rows);
        seg.decode_column(block, col, 0..rows, value.column_mut())?;
        let value = Arc::new(value);
        out.copy(rows_of(&value, keep)?)?;
        self.insert(seg, key, value);
        Ok(())
    }

    /// Column `col` of `block` of `seg`, whole, when the cache holds it, counting nothing: a
    /// caller that uses what it peeked counts the hits ([`BlockCache::count_hits`]).
    pub(crate) fn peek(&self, seg: &Segment, block: usize, col: usize) -> Option<Arc<OwnedColumn>> {
        if !seg.maybe_cached() {
            return None;
        }
        let (key, _) = Self::key(seg, block, col)?;
        self.shard(&key).lock().get(&key)
    }

    /// Counts `n` hits (of columns used after a [`BlockCache::peek`]).
    pub(crate) fn count_hits(&self, n: usize) {
        self.hits.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds the misses a column's decode counted without looking them up.
    pub(crate) fn count(&self, pass: ColumnPass) {
        if pass.unlooked > 0 {
            self.misses.fetch_add(pass.unlooked, Ordering::Relaxed);
        }
    }

    /// The decoded times of `block` of `seg` (to cut a block at a range's ends): shared with
    /// the cache when there, else decoded, and kept when `fill`.
    pub(crate) fn block_times(&self, seg: &Segment, block: usize, fill: bool) -> Result<Times> {
        let Some((key, _)) = Self::key(seg, block, 0) else {
            return seg.block_times(block).map(Times::owned);
        };
        if let Some(value) = self
            .get(&key)
            .filter(|v| matches!(**v, OwnedColumn::Time(_)))
        {
            return Ok(Times(value));
        }
        let value = Arc::new(OwnedColumn::Time(seg.block_times(block)?));
        if fill {
            self.insert(seg, key, value.clone());
        }
        Ok(Times(value))
    }

    pub(crate) fn stats(&self) -> BlockCacheStats {
        let mut stats = BlockCacheStats {
            capacity: self.capacity,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            ..BlockCacheStats::default()
        };
        for shard in &self.shards {
            let shard = shard.lock();
            stats.bytes += shard.bytes;
            stats.entries += shard.map.len();
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(n: usize) -> Arc<OwnedColumn> {
        Arc::new(OwnedColumn::F64(vec![1.0; n]))
    }

    fn key(block: u32) -> Key {
        Key {
            segment: 1,
            block,
            col: 0,
            crc: 7,
        }
    }

    #[test]
    fn a_shard_keeps_its_capacity_and_gives_referenced_entries_a_second_chance() {
        let size = entry_bytes(&floats(100));
        let mut shard = Shard::default();
        for b in 0..3 {
            shard.insert(key(b), floats(100), 3 * size);
        }
        assert_eq!((shard.map.len(), shard.bytes), (3, 3 * size));
        // Block 0 is used again: the next insert evicts block 1, the oldest unreferenced one.
        assert!(shard.get(&key(0)).is_some());
        shard.insert(key(3), floats(100), 3 * size);
        assert_eq!(shard.bytes, 3 * size);
        assert!(shard.get(&key(1)).is_none());
        for b in [0, 2, 3] {
            assert!(shard.get(&key(b)).is_some(), "block {b}");
        }
        // An entry larger than the capacity is not kept and evicts nothing.
        shard.insert(key(9), floats(1_000), 3 * size);
        assert_eq!((shard.map.len(), shard.bytes), (3, 3 * size));
        // The same key with another CRC is another entry.
        let other = Key { crc: 8, ..key(0) };
        assert!(shard.get(&other).is_none());
    }

    #[test]
    fn copies_check_type_and_length() {
        let value = OwnedColumn::F64(vec![1.0, 2.0, 3.0, 4.0]);
        let mut out = Vec::new();
        let mut fill = ColumnFill::new(ColumnVec::F64(&mut out), 2);
        fill.copy(rows_of(&value, 1..3).unwrap()).unwrap();
        fill.finish().unwrap();
        assert_eq!(out, [2.0, 3.0]);
        let err = rows_of(&value, 3..5).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        let mut times = Vec::new();
        let mut fill = ColumnFill::new(ColumnVec::Time(&mut times), 2);
        let err = fill.copy(rows_of(&value, 0..2).unwrap()).unwrap_err();
        assert!(err.to_string().contains("another type"), "{err}");
        let cache = BlockCache::new(1 << 20);
        assert!(cache.admits(256 << 10) && !cache.admits((256 << 10) + 1));
        assert!(!BlockCache::new(0).admits(0));
    }
}
