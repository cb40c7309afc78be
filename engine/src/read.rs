//! The read path: find a series' segments, prune segments and blocks by time, verify and decode
//! the chunks, and assemble columns (in parallel by column for large loads) or stream them in
//! bounded batches (`Scan`).

use std::ops::Range;
use std::sync::Arc;

use rayon::iter::plumbing::{
    bridge, Consumer, Folder, Producer, ProducerCallback, UnindexedConsumer,
};
use rayon::prelude::*;

use crate::cache::{BlockCache, ColumnPass, Times};
use crate::codec::{ColumnFill, ColumnRef, ColumnVec, OwnedColumn};
use crate::columns::{BarColumns, Columns, RowTile, TickColumns};
use crate::engine::{Engine, LiveSegment};
use crate::error::Result;
use crate::model::{Exchange, Interval, SeriesKey, Timestamp};
use crate::segment::Segment;
use crate::write::{merge, Dedup};

/// Loads at least this many rows decode their columns in parallel. Below it a load runs on one
/// thread: 100,000 bars decoded column-parallel took 2.2 ms against 2.0 ms on one thread (and
/// left the other core less for loads running beside it), 1M bars 20 ms against 24 ms
/// (`cargo bench --bench components -- load_10`, `--bench engine -- bars_1m/load`).
const PARALLEL_ROWS_MIN: usize = 256 * 1024;

/// Loads into rows built through tiles ([`RowTile::THROUGH_TILES`]: ticks, 34 columns and
/// 328-byte rows) build them on all cores from this many rows, in parts of at least half of it.
/// Their rows cost far more to build than to decode: a cached day of 28,800 ticks loaded into
/// rows at 32-44 M/s on one core, 61-67 M/s on two. Bar rows stay on one core below
/// [`PARALLEL_ROWS_MIN`]: a cached year of 60,000 bars took 208-211 µs on one core, 299-318 µs
/// on two (loop programs, two rounds each, alternating).
const PARALLEL_TILED_ROWS_MIN: usize = 16 * 1024;

/// The fewest rows of kind `C` a load into rows builds in parallel, and the fewest rows of a
/// part: half of it for tiled rows, a quarter for the rest (as before tiles).
fn parallel_rows<C: Columns>() -> (usize, usize) {
    if C::Tile::THROUGH_TILES {
        (PARALLEL_TILED_ROWS_MIN, PARALLEL_TILED_ROWS_MIN / 2)
    } else {
        (PARALLEL_ROWS_MIN, PARALLEL_ROWS_MIN / 4)
    }
}

/// Rows `keep` of one block of one segment.
#[derive(Debug, Clone)]
struct Piece {
    seg: Arc<Segment>,
    block: usize,
    keep: Range<usize>,
    /// The block's decoded times, when planning had to decode them to cut the block: the time
    /// column is then copied from here instead of being decoded a second time.
    times: Option<Times>,
}

/// The pieces of `segments` that hold rows in `[start, end]`, ascending; the times of blocks to
/// cut come through `cache` when given.
fn plan(
    segments: &[Arc<Segment>],
    start: Timestamp,
    end: Timestamp,
    cache: Option<CacheUse<'_>>,
) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    for seg in segments {
        if seg.max_ts() < start || seg.min_ts() > end {
            continue;
        }
        for block in seg.blocks_in(start, end) {
            pieces.extend(plan_block(seg, block, start, end, cache)?);
        }
    }
    Ok(pieces)
}

/// The rows of the blocks of `segments` that `[start, end]` touches (before cutting).
fn block_rows_in(segments: &[Arc<Segment>], start: Timestamp, end: Timestamp) -> usize {
    segments
        .iter()
        .filter(|seg| seg.max_ts() >= start && seg.min_ts() <= end)
        .flat_map(|seg| {
            let blocks = seg.blocks_in(start, end);
            seg.blocks().get(blocks).unwrap_or_default()
        })
        .map(|b| b.rows as usize)
        .sum()
}

/// Decodes `pieces` into one batch, through `cache` when given.
fn decode<C: Columns>(pieces: &[Piece], cache: Option<CacheUse<'_>>) -> Result<C> {
    let mut out = C::default();
    decode_into(pieces, &mut out, cache)?;
    Ok(out)
}

/// How a load uses the block cache: it copies what the cache holds, and fills the cache only
/// when `fill` (its decoded size is small enough).
#[derive(Debug, Clone, Copy)]
struct CacheUse<'a> {
    cache: &'a BlockCache,
    fill: bool,
}

/// How a load of (about) `rows` rows uses `cache` (not at all when the cache keeps nothing).
fn cache_use<C: Columns>(rows: usize, cache: &BlockCache) -> Option<CacheUse<'_>> {
    cache.enabled().then(|| CacheUse {
        cache,
        fill: cache.admits(rows.saturating_mul(C::schema().len() * 8)),
    })
}

/// Decodes `pieces` into `out`, reusing its allocations, through `cache` when given. Rows `out`
/// already holds are overwritten in place and the rest appended ([`ColumnFill`]), so fresh
/// memory is never zero-filled first. On an error `out` is left empty.
fn decode_into<C: Columns>(
    pieces: &[Piece],
    out: &mut C,
    cache: Option<CacheUse<'_>>,
) -> Result<()> {
    let total: usize = pieces.iter().map(|p| p.keep.len()).sum();
    let fill = |(col, vec): (usize, ColumnVec<'_>)| -> Result<()> {
        let mut fill = ColumnFill::new(vec, total);
        let mut pass = ColumnPass::new(cache.is_some_and(|c| c.fill));
        let done = pieces.iter().try_for_each(|p| match &p.times {
            Some(times) if col == 0 => {
                let src = times.get(p.keep.clone()).ok_or_else(|| {
                    crate::Error::InvalidArgument("piece range outside its block".into())
                })?;
                fill.copy(ColumnRef::Time(src))
            }
            _ => match cache {
                Some(c) => c.cache.decode_column(
                    &p.seg,
                    p.block,
                    col,
                    p.keep.clone(),
                    &mut fill,
                    &mut pass,
                ),
                None => fill.decode(p.keep.len(), |part| {
                    p.seg.decode_column(p.block, col, p.keep.clone(), part)
                }),
            },
        });
        if let Some(c) = cache {
            c.cache.count(pass);
        }
        done?;
        fill.finish()
    };
    let cols = out.vecs();
    let done = if total >= PARALLEL_ROWS_MIN {
        cols.into_par_iter().enumerate().try_for_each(fill)
    } else {
        cols.into_iter().enumerate().try_for_each(fill)
    };
    if done.is_err() {
        out.clear();
    }
    done
}

/// The columns of `piece`, each the whole block's, when `cache` holds every one (a cut block's
/// times come with the piece); `None` at the first it lacks. Counts nothing: the caller counts
/// the hits once it has used them, so a fallback to decoding does not count them twice.
fn cached_columns<C: Columns>(piece: &Piece, cache: &BlockCache) -> Option<Vec<Arc<OwnedColumn>>> {
    (0..C::schema().len())
        .map(|col| match &piece.times {
            Some(times) if col == 0 => Some(times.column()),
            _ => cache.peek(&piece.seg, piece.block, col),
        })
        .collect()
}

/// Rows `range` of `pieces` (their first rows at `offsets`), as rayon splits a parallel
/// collect. Each part decodes its pieces one at a time into columns of its own and builds each
/// piece's rows in one loop, written straight into the result. A piece that fails to decode
/// records the error in `failure` and yields placeholder rows, so that the lengths still hold.
struct RowsProducer<'a, C: Columns> {
    pieces: &'a [Piece],
    offsets: &'a [usize],
    range: Range<usize>,
    key: &'a SeriesKey,
    cache: Option<CacheUse<'a>>,
    failure: &'a parking_lot::Mutex<Option<crate::Error>>,
    kind: std::marker::PhantomData<C>,
}

/// A folder that gathers items into a vector (for loads built on one thread, and
/// [`RowsProducer::into_iter`]).
struct Gather<T>(Vec<T>);

impl<T> Folder<T> for Gather<T> {
    type Result = Vec<T>;

    fn consume(mut self, item: T) -> Self {
        self.0.push(item);
        self
    }

    fn consume_iter<I: IntoIterator<Item = T>>(mut self, iter: I) -> Self {
        self.0.extend(iter);
        self
    }

    fn complete(self) -> Vec<T> {
        self.0
    }

    fn full(&self) -> bool {
        false
    }
}

impl<'a, C: Columns> Producer for RowsProducer<'a, C> {
    type Item = C::Row;
    type IntoIter = std::vec::IntoIter<C::Row>;

    fn into_iter(self) -> Self::IntoIter {
        let gather = Gather(Vec::with_capacity(self.range.len()));
        self.fold_with(gather).0.into_iter()
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let mid = self.range.start + index;
        let left = RowsProducer {
            range: self.range.start..mid,
            ..self
        };
        let right = RowsProducer {
            range: mid..self.range.end,
            ..self
        };
        (left, right)
    }

    fn min_len(&self) -> usize {
        parallel_rows::<C>().1
    }

    fn fold_with<F: Folder<C::Row>>(self, mut folder: F) -> F {
        let key = self.key.with_own_symbol();
        let mut cols = C::default();
        let mut tile = None;
        let mut i = self.range.start;
        while i < self.range.end && !folder.full() {
            let piece = self.offsets.partition_point(|&o| o <= i).saturating_sub(1);
            let first = self.offsets.get(piece).copied().unwrap_or(i);
            let end = self
                .offsets
                .get(piece + 1)
                .copied()
                .unwrap_or(self.range.end)
                .min(self.range.end);
            let one = self.pieces.get(piece..piece + 1).unwrap_or(&[]);
            let rows = (i - first)..(end - first);
            i = end.max(i + 1);
            // Straight from the cache's columns when it holds every one of the piece's.
            if let (Some(p), Some(c)) = (one.first(), self.cache) {
                if let Some(held) = cached_columns::<C>(p, c.cache) {
                    let refs = held
                        .iter()
                        .map(|col| col.column_ref().slice(p.keep.clone()))
                        .collect::<Option<Vec<_>>>();
                    if let Some(src) = refs
                        .as_deref()
                        .and_then(|refs| C::Tile::source(refs, rows.end))
                    {
                        // The hits a decode through the cache would count (a cut block's
                        // times came with the piece, not from a lookup).
                        c.cache
                            .count_hits(held.len() - usize::from(p.times.is_some()));
                        folder = fold_rows::<C, F>(folder, &src, rows, &key, &mut tile);
                        continue;
                    }
                }
            }
            if let Err(e) = decode_into(one, &mut cols, self.cache) {
                self.failure.lock().get_or_insert(e);
            }
            let refs = cols.refs();
            folder = if let Some(src) = C::Tile::source(&refs, rows.end) {
                fold_rows::<C, F>(folder, &src, rows, &key, &mut tile)
            } else {
                let placeholder = C::empty_row(&key);
                folder.consume_iter(rows.map(|_| placeholder.clone()))
            };
        }
        folder
    }
}

/// Rows `rows` of `src` (which holds them: [`RowTile::source`] checked), as records of series
/// `key`, into `folder`: a tile at a time for kinds built [`RowTile::THROUGH_TILES`] (the
/// tile allocated at the first use), else straight from the columns.
fn fold_rows<'s, C: Columns, F: Folder<C::Row>>(
    mut folder: F,
    src: &<C::Tile as RowTile>::Source<'s>,
    rows: Range<usize>,
    key: &'s SeriesKey,
    tile: &mut Option<Box<C::Tile>>,
) -> F {
    if !C::Tile::THROUGH_TILES {
        return folder.consume_iter(C::Tile::zip(src, rows, key));
    }
    let tile = tile.get_or_insert_with(C::Tile::boxed);
    let mut s = rows.start;
    while s < rows.end && !folder.full() {
        let n = tile.fill(src, s..rows.end);
        folder = folder.consume_iter(tile.rows(n, key));
        s += n.max(1);
    }
    folder
}

/// [`RowsProducer`] as an indexed parallel iterator, so that `collect_into_vec` writes the
/// rows in place.
struct ParRows<'a, C: Columns>(RowsProducer<'a, C>);

impl<C: Columns> ParallelIterator for ParRows<'_, C> {
    type Item = C::Row;

    fn drive_unindexed<K: UnindexedConsumer<C::Row>>(self, consumer: K) -> K::Result {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.0.range.len())
    }
}

impl<C: Columns> IndexedParallelIterator for ParRows<'_, C> {
    fn len(&self) -> usize {
        self.0.range.len()
    }

    fn drive<K: Consumer<C::Row>>(self, consumer: K) -> K::Result {
        bridge(self, consumer)
    }

    fn with_producer<CB: ProducerCallback<C::Row>>(self, callback: CB) -> CB::Output {
        callback.callback(self.0)
    }
}

/// The rows of `pieces`, built straight from each block (no intermediate columns for the whole
/// range), in parallel for large loads ([`RowsProducer`]).
fn rows<C: Columns>(
    pieces: &[Piece],
    key: &SeriesKey,
    cache: Option<CacheUse<'_>>,
) -> Result<Vec<C::Row>> {
    let mut offsets = Vec::with_capacity(pieces.len() + 1);
    offsets.push(0usize);
    for p in pieces {
        offsets.push(offsets.last().copied().unwrap_or(0) + p.keep.len());
    }
    let total = offsets.last().copied().unwrap_or(0);
    let failure = parking_lot::Mutex::new(None);
    let producer = RowsProducer::<C> {
        pieces,
        offsets: &offsets,
        range: 0..total,
        key,
        cache,
        failure: &failure,
        kind: std::marker::PhantomData,
    };
    let rows = if total < parallel_rows::<C>().0 {
        // On this thread: piece by piece through one block-sized batch that stays in cache,
        // so the whole range is never held as columns too.
        producer.fold_with(Gather(Vec::with_capacity(total))).0
    } else {
        let mut rows = Vec::new();
        ParRows(producer).collect_into_vec(&mut rows);
        rows
    };
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

impl Engine {
    /// The opened segments of `key` overlapping `[start, end]`. A read-only handle first follows
    /// the writer's commits; any handle retries once if a file was replaced in the meantime.
    pub(crate) fn segments_in<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<Arc<Segment>>> {
        self.refresh()?;
        let open = |live: &[Arc<LiveSegment>]| -> Result<Vec<Arc<Segment>>> {
            live.iter()
                .filter(|s| s.meta.max_ts >= start && s.meta.min_ts <= end)
                .map(|s| self.open_segment::<C>(s))
                .collect()
        };
        match open(&self.live_segments(key)) {
            // A writer (in this process or another) replaced a segment between our look at
            // the manifest and our open of the file: look again.
            Err(e) if e.is_not_found() => {
                self.refresh()?;
                open(&self.live_segments(key))
            }
            other => other,
        }
    }

    /// How a load of `[start, end]` from `segs` uses the block cache.
    fn cache_use<C: Columns>(
        &self,
        segs: &[Arc<Segment>],
        start: Timestamp,
        end: Timestamp,
    ) -> Option<CacheUse<'_>> {
        cache_use::<C>(block_rows_in(segs, start, end), &self.inner.cache)
    }

    /// Decodes the whole of `live` restricted to `[start, end]` (used by merge-on-write).
    pub(crate) fn load_segments<C: Columns>(
        &self,
        live: &[Arc<LiveSegment>],
        start: Timestamp,
        end: Timestamp,
    ) -> Result<C> {
        let segs = live
            .iter()
            .map(|s| self.open_segment::<C>(s))
            .collect::<Result<Vec<_>>>()?;
        decode(&plan(&segs, start, end, None)?, None)
    }

    /// Rows of series `key` with `start <= datetime <= end`, ascending, as columns.
    pub fn load_columns<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<C> {
        if start > end || key.kind() != C::KIND {
            return Ok(C::default());
        }
        // Memtable first, then segments: a flush in between only duplicates rows, which the
        // merge folds; the other order could miss them.
        let mem: C = self.mem_range(key, start, end);
        let segs = self.segments_in::<C>(key, start, end)?;
        let cache = self.cache_use::<C>(&segs, start, end);
        let stored: C = decode(&plan(&segs, start, end, cache)?, cache)?;
        Ok(if mem.is_empty() {
            stored
        } else {
            merge(&stored, &mem, self.dedup(key))
        })
    }

    /// Rows of series `key` with `start <= datetime <= end`, ascending.
    pub fn load_rows<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<C::Row>> {
        if start > end || key.kind() != C::KIND {
            return Ok(Vec::new());
        }
        let mem: C = self.mem_range(key, start, end);
        let segs = self.segments_in::<C>(key, start, end)?;
        let cache = self.cache_use::<C>(&segs, start, end);
        let pieces = plan(&segs, start, end, cache)?;
        if mem.is_empty() {
            return rows::<C>(&pieces, key, cache);
        }
        let stored: C = decode(&pieces, cache)?;
        let all = merge(&stored, &mem, self.dedup(key));
        Ok(all.to_rows(key))
    }

    /// Like [`Engine::load_columns`], into `out`, reusing its allocations: a loop that loads
    /// range after range into one buffer touches no fresh memory. On an error `out` is left
    /// empty.
    pub fn load_columns_into<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
        out: &mut C,
    ) -> Result<()> {
        if start > end || key.kind() != C::KIND {
            out.resize(0);
            return Ok(());
        }
        let mem: C = self.mem_range(key, start, end);
        let segs = self.segments_in::<C>(key, start, end)?;
        let cache = self.cache_use::<C>(&segs, start, end);
        decode_into(&plan(&segs, start, end, cache)?, out, cache)?;
        if !mem.is_empty() {
            *out = merge(out, &mem, self.dedup(key));
        }
        Ok(())
    }

    /// Bars of one series in `[start, end]`, as columns.
    pub fn load_bar_columns(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<BarColumns> {
        self.load_columns(&SeriesKey::bar(symbol, exchange, interval)?, start, end)
    }

    /// Ticks of one series in `[start, end]`, as columns.
    pub fn load_tick_columns(
        &self,
        symbol: &str,
        exchange: Exchange,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<TickColumns> {
        self.load_columns(&SeriesKey::tick(symbol, exchange)?, start, end)
    }

    /// Iterates rows of `key` in `[start, end]` in batches of about `batch_rows` rows (at least
    /// one block), holding at most one batch in memory. The scan sees the segments that were
    /// live when it started.
    pub fn scan<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
        batch_rows: usize,
    ) -> Result<Scan<C>> {
        let (segs, mem) = if start > end || key.kind() != C::KIND {
            (Vec::new(), C::default())
        } else {
            let mem = self.mem_range(key, start, end);
            (self.segments_in::<C>(key, start, end)?, mem)
        };
        Ok(Scan {
            segs,
            mem,
            mem_pos: 0,
            seg: 0,
            block: None,
            start,
            end,
            batch_rows: batch_rows.max(1),
            dedup: self.dedup(key),
            _kind: std::marker::PhantomData,
        })
    }
}

/// A bounded-memory iterator over a range of one series; see [`Engine::scan`].
#[derive(Debug)]
pub struct Scan<C> {
    segs: Vec<Arc<Segment>>,
    /// Memtable rows of the range, merged into the batches they fall in.
    mem: C,
    mem_pos: usize,
    seg: usize,
    block: Option<Range<usize>>,
    start: Timestamp,
    end: Timestamp,
    batch_rows: usize,
    dedup: Dedup,
    _kind: std::marker::PhantomData<C>,
}

impl<C: Columns> Scan<C> {
    /// The next pieces adding up to about `batch_rows` rows.
    fn next_pieces(&mut self) -> Result<Vec<Piece>> {
        let mut pieces = Vec::new();
        let mut rows = 0;
        while rows < self.batch_rows {
            let Some(seg) = self.segs.get(self.seg).cloned() else {
                break;
            };
            let blocks = self
                .block
                .get_or_insert_with(|| seg.blocks_in(self.start, self.end));
            let Some(block) = blocks.next() else {
                self.seg += 1;
                self.block = None;
                continue;
            };
            let one = plan_block(&seg, block, self.start, self.end, None)?;
            rows += one.as_ref().map_or(0, |p| p.keep.len());
            pieces.extend(one);
        }
        Ok(pieces)
    }
}

fn plan_block(
    seg: &Arc<Segment>,
    block: usize,
    start: Timestamp,
    end: Timestamp,
    cache: Option<CacheUse<'_>>,
) -> Result<Option<Piece>> {
    let Some(meta) = seg.blocks().get(block) else {
        return Ok(None);
    };
    let rows = meta.rows as usize;
    let (keep, times) = if meta.min_ts >= start && meta.max_ts <= end {
        (0..rows, None)
    } else {
        let times = match cache {
            Some(c) => c.cache.block_times(seg, block, c.fill)?,
            None => Times::owned(seg.block_times(block)?),
        };
        let keep = times.partition_point(|t| *t < start)..times.partition_point(|t| *t <= end);
        (keep, Some(times))
    };
    Ok((!keep.is_empty()).then(|| Piece {
        seg: seg.clone(),
        block,
        keep,
        times,
    }))
}

impl<C: Columns> Iterator for Scan<C> {
    type Item = Result<C>;

    fn next(&mut self) -> Option<Result<C>> {
        let pieces = match self.next_pieces() {
            Ok(p) => p,
            Err(e) => {
                self.segs.clear();
                self.mem_pos = self.mem.len();
                return Some(Err(e));
            }
        };
        let stored: C = if pieces.is_empty() {
            C::default()
        } else {
            match decode(&pieces, None) {
                Ok(c) => c,
                Err(e) => return Some(Err(e)),
            }
        };
        // Memtable rows up to this batch's last time join it; after the last batch, the rest.
        let bound = match stored.datetimes().last() {
            Some(&t) if !pieces.is_empty() => t,
            _ => Timestamp::MAX,
        };
        let times = self.mem.datetimes();
        let end = self.mem_pos
            + times
                .get(self.mem_pos..)
                .unwrap_or(&[])
                .partition_point(|t| *t <= bound);
        let mut mem = C::default();
        mem.extend_from(&self.mem, self.mem_pos..end);
        self.mem_pos = end;
        match (stored.is_empty(), mem.is_empty()) {
            (true, true) => None,
            (_, true) => Some(Ok(stored)),
            (true, false) => Some(Ok(mem)),
            (false, false) => Some(Ok(merge(&stored, &mem, self.dedup))),
        }
    }
}
