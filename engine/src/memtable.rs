//! Memtables: per-series rows of stream saves that are in the WAL but not yet in segments.
//!
//! Invariant: `new_keys` counts the memtable's times that no segment of the series holds, so a
//! series' exact count is its segments' rows plus `new_keys`. Rows are kept in arrival order
//! with an index by time; a row whose time is already present replaces it in place.

use std::any::Any;
use std::collections::BTreeMap;
use std::time::Instant;

use crate::columns::Columns;
use crate::model::Timestamp;
use crate::write::Batch;

/// The rows of one series not yet flushed.
#[derive(Debug, Clone)]
pub(crate) struct Memtable<C> {
    rows: C,
    /// (time, arrival number) to row position; the arrival number is 0 unless `keep_all`.
    index: BTreeMap<(Timestamp, u64), usize>,
    new_keys: u64,
    created: Instant,
    /// Rows that share a time are all kept, in arrival order (no row is ever replaced).
    keep_all: bool,
}

impl<C: Columns> Memtable<C> {
    pub fn new(keep_all: bool) -> Self {
        Memtable {
            rows: C::default(),
            index: BTreeMap::new(),
            new_keys: 0,
            created: Instant::now(),
            keep_all,
        }
    }

    /// Inserts a sorted, unique batch; `in_segments[i]` tells whether row `i`'s time is stored in
    /// a segment of the series.
    pub fn insert(&mut self, batch: &C, in_segments: &[bool]) {
        let times = batch.datetimes();
        // A batch whose times all come after the rows held (the recorder's case) replaces no
        // row, and neither does any row when rows that share a time are all kept: append it
        // column by column.
        let after = self.keep_all
            || (times.windows(2).all(|w| w[0] < w[1])
                && match (self.index.keys().next_back(), times.first()) {
                    (Some((last, _)), Some(first)) => first > last,
                    _ => true,
                });
        if after {
            let base = self.rows.len();
            self.rows.extend_from(batch, 0..batch.len());
            for (i, t) in times.iter().enumerate() {
                let arrival = if self.keep_all { (base + i) as u64 } else { 0 };
                self.index.insert((*t, arrival), base + i);
            }
            self.new_keys += in_segments
                .iter()
                .chain(std::iter::repeat(&false))
                .take(times.len())
                .filter(|&&stored| !stored)
                .count() as u64;
            return;
        }
        for (i, t) in times.iter().enumerate() {
            let arrival = if self.keep_all {
                self.rows.len() as u64
            } else {
                0
            };
            match self.index.get(&(*t, arrival)) {
                Some(&at) => self.rows.set_from(at, batch, i),
                None => {
                    self.index.insert((*t, arrival), self.rows.len());
                    self.rows.push_from(batch, i);
                    if !in_segments.get(i).copied().unwrap_or(false) {
                        self.new_keys += 1;
                    }
                }
            }
        }
    }

    /// Rows with `start <= datetime <= end`, ascending.
    pub fn range(&self, start: Timestamp, end: Timestamp) -> C {
        let mut out = C::default();
        if start <= end {
            for &at in self
                .index
                .range((start, 0)..=(end, u64::MAX))
                .map(|(_, at)| at)
            {
                out.push_from(&self.rows, at);
            }
        }
        out
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Times not stored in segments.
    pub fn new_keys(&self) -> u64 {
        self.new_keys
    }

    /// First and last time.
    pub fn bounds(&self) -> Option<(Timestamp, Timestamp)> {
        Some((
            self.index.keys().next()?.0,
            self.index.keys().next_back()?.0,
        ))
    }

    /// Approximate heap bytes.
    pub fn bytes(&self) -> usize {
        self.len() * (C::schema().len() * 8 + 48)
    }

    /// When the first row arrived.
    pub fn created(&self) -> Instant {
        self.created
    }
}

/// A memtable of either kind, type-erased so that generic read paths reach theirs by downcast.
pub(crate) trait AnyMem: Any + Send + Sync + std::fmt::Debug {
    fn len(&self) -> usize;
    fn new_keys(&self) -> u64;
    fn bounds(&self) -> Option<(Timestamp, Timestamp)>;
    fn bytes(&self) -> usize;
    fn created(&self) -> Instant;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Every row, ascending, as a batch for the write path.
    fn batch(&self) -> Batch<'static>;
}

impl<C> AnyMem for Memtable<C>
where
    C: Columns + Into<Batch<'static>>,
{
    fn len(&self) -> usize {
        Memtable::len(self)
    }
    fn new_keys(&self) -> u64 {
        Memtable::new_keys(self)
    }
    fn bounds(&self) -> Option<(Timestamp, Timestamp)> {
        Memtable::bounds(self)
    }
    fn bytes(&self) -> usize {
        Memtable::bytes(self)
    }
    fn created(&self) -> Instant {
        Memtable::created(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn batch(&self) -> Batch<'static> {
        self.range(Timestamp::MIN, Timestamp::MAX).into()
    }
}

/// The memtable of one series.
pub(crate) type MemPart = Box<dyn AnyMem>;

/// The typed memtable in `part`, if it holds `C`.
pub(crate) fn typed<C: Columns>(part: &MemPart) -> Option<&Memtable<C>> {
    part.as_any().downcast_ref::<Memtable<C>>()
}

/// The typed memtable in `part`, mutably.
pub(crate) fn typed_mut<C: Columns>(part: &mut MemPart) -> Option<&mut Memtable<C>> {
    part.as_any_mut().downcast_mut::<Memtable<C>>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::BarColumns;

    fn bars(times: &[i64], close: f64) -> BarColumns {
        let mut c = crate::sample::bars(times.len(), 1);
        c.datetime = times.iter().map(|&t| Timestamp::from_ns(t)).collect();
        c.close_price = vec![close; times.len()];
        c
    }

    #[test]
    fn replaces_in_place_and_counts_new_keys() {
        let mut m = Memtable::<BarColumns>::new(false);
        m.insert(&bars(&[5, 7, 9], 1.0), &[false, true, false]);
        m.insert(&bars(&[1, 7], 2.0), &[false, true]);
        assert_eq!(m.len(), 4);
        assert_eq!(m.new_keys(), 3);
        let r = m.range(Timestamp::from_ns(0), Timestamp::from_ns(8));
        assert_eq!(
            r.datetime.iter().map(|t| t.as_ns()).collect::<Vec<_>>(),
            [1, 5, 7]
        );
        assert_eq!(r.close_price, [2.0, 1.0, 2.0]);
        assert_eq!(
            m.bounds(),
            Some((Timestamp::from_ns(1), Timestamp::from_ns(9)))
        );
        assert!(m
            .range(Timestamp::from_ns(9), Timestamp::from_ns(1))
            .is_empty());
        let mut all = Memtable::<BarColumns>::new(true);
        all.insert(&bars(&[5, 7], 1.0), &[false, false]);
        all.insert(&bars(&[5], 2.0), &[false]);
        assert_eq!((all.len(), all.new_keys()), (3, 3));
        let five = all.range(Timestamp::from_ns(5), Timestamp::from_ns(5));
        assert_eq!(five.close_price, [1.0, 2.0]);
    }

    /// Batches that append after the rows held (inserted column by column) and batches that
    /// reach back among them (row by row) give what a plain map from time to row gives.
    #[test]
    fn appended_and_interleaved_batches_match_a_map() {
        let mut rng = crate::sample::Rng::new(7);
        let mut m = Memtable::<BarColumns>::new(false);
        let mut model = BTreeMap::<i64, f64>::new();
        let mut new_keys = 0;
        let mut appended = 0;
        for round in 0..200 {
            let end = model.keys().next_back().copied().unwrap_or(0);
            // Half the batches start after the last time held, a quarter at it, a quarter
            // among the times held.
            let start = match round % 4 {
                0 => rng.range(0, end),
                1 => end,
                _ => end + 1,
            };
            appended += usize::from(start > end);
            let mut times: Vec<i64> = std::iter::once(start)
                .chain((0..rng.range(0, 5)).map(|_| start + rng.range(0, 9)))
                .collect();
            times.sort_unstable();
            times.dedup();
            let flags: Vec<bool> = times.iter().map(|_| rng.range(0, 3) == 0).collect();
            let close = round as f64;
            for (t, stored) in times.iter().zip(&flags) {
                if model.insert(*t, close).is_none() && !stored {
                    new_keys += 1;
                }
            }
            m.insert(&bars(&times, close), &flags);
        }
        assert_eq!(appended, 100);
        assert_eq!((m.len(), m.new_keys()), (model.len(), new_keys));
        let all = m.range(Timestamp::MIN, Timestamp::MAX);
        assert_eq!(
            all.datetime.iter().map(|t| t.as_ns()).collect::<Vec<_>>(),
            model.keys().copied().collect::<Vec<_>>()
        );
        assert_eq!(all.close_price, model.values().copied().collect::<Vec<_>>());
    }
}
