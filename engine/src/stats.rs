//! Summary statistics of a time range of one series: count, first and last time, first open,
//! highest high, lowest low, last close, sums of volume and turnover, and the mean close.
//!
//! A block the range covers whole is summarised from its footer entry (row count, first and last
//! time, the minimum and maximum of each price column) and only its close, volume and turnover
//! columns are decoded for the sums (format v1 stores no per-block sums); a block the range cuts
//! is decoded for the rows it keeps. Memtable rows (a writer's unflushed stream saves) may
//! replace stored rows, so a range that has any is summarised from merged rows instead.

use crate::codec::{ColumnMut, ColumnRef};
use crate::columns::Columns;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{SeriesKey, SeriesKind, Timestamp};
use crate::segment::Segment;

/// Statistics of the rows of a series in a time range. Bars use their open, high, low and
/// close prices, volume and turnover; ticks use `last_price` for all four prices and sum
/// `last_volume` (turnover stays 0). NaN prices are ignored by `high` and `low`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RangeStats {
    /// Rows.
    pub count: u64,
    /// Time of the first row.
    pub first: Option<Timestamp>,
    /// Time of the last row.
    pub last: Option<Timestamp>,
    /// Open price of the first row.
    pub open: f64,
    /// Highest high (`-inf` when every one is NaN).
    pub high: f64,
    /// Lowest low (`+inf` when every one is NaN).
    pub low: f64,
    /// Close price of the last row.
    pub close: f64,
    /// Sum of volume.
    pub volume: f64,
    /// Sum of turnover.
    pub turnover: f64,
    /// Sum of close prices (the mean is `close_sum / count`).
    pub close_sum: f64,
    /// Blocks summarised from their footer statistics (their high and low columns and, but
    /// for the first, their open column were not decoded).
    pub blocks_from_stats: u64,
    /// Blocks the range cut, decoded for the rows it keeps.
    pub blocks_cut: u64,
}

impl RangeStats {
    /// The mean close, if there are rows.
    pub fn mean_close(&self) -> Option<f64> {
        (self.count > 0).then(|| self.close_sum / self.count as f64)
    }

    /// Folds in rows (ascending, after any already folded).
    #[allow(clippy::too_many_arguments)]
    fn add_rows(
        &mut self,
        first: Timestamp,
        last: Timestamp,
        open: &[f64],
        high: &[f64],
        low: &[f64],
        close: &[f64],
        volume: &[f64],
        turnover: Option<&[f64]>,
    ) {
        let (Some(&o), Some(&c)) = (open.first(), close.last()) else {
            return;
        };
        self.begin(first, o);
        self.count += close.len() as u64;
        self.last = Some(last);
        self.close = c;
        self.high = high.iter().copied().fold(self.high, f64::max);
        self.low = low.iter().copied().fold(self.low, f64::min);
        self.volume += volume.iter().sum::<f64>();
        self.turnover += turnover.map_or(0.0, |v| v.iter().sum::<f64>());
        self.close_sum += close.iter().sum::<f64>();
    }

    fn begin(&mut self, first: Timestamp, open: f64) {
        if self.count == 0 {
            self.first = Some(first);
            self.open = open;
            self.high = f64::NEG_INFINITY;
            self.low = f64::INFINITY;
        }
    }
}

/// Schema positions of the columns statistics read.
struct Cols {
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: usize,
    turnover: Option<usize>,
}

impl Cols {
    fn of<C: Columns>() -> Result<Cols> {
        let at = |name: &str| {
            C::schema()
                .iter()
                .position(|s| s.name == name)
                .ok_or_else(|| Error::InvalidArgument(format!("no column {name}")))
        };
        Ok(match C::KIND {
            SeriesKind::Bar => Cols {
                open: at("open_price")?,
                high: at("high_price")?,
                low: at("low_price")?,
                close: at("close_price")?,
                volume: at("volume")?,
                turnover: Some(at("turnover")?),
            },
            SeriesKind::Tick => {
                let p = at("last_price")?;
                Cols {
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: at("last_volume")?,
                    turnover: None,
                }
            }
        })
    }
}

impl Engine {
    /// Statistics of the rows of `key` with `start <= datetime <= end` (see [`RangeStats`]).
    pub fn range_stats<C: Columns>(
        &self,
        key: &SeriesKey,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<RangeStats> {
        let mut acc = RangeStats::default();
        if start > end || key.kind() != C::KIND {
            return Ok(acc);
        }
        let cols = Cols::of::<C>()?;
        let mem: C = self.mem_range(key, start, end);
        if !mem.is_empty() {
            // Unflushed rows may replace stored ones: summarise merged rows, batch by batch.
            for batch in self.scan::<C>(key, start, end, 65_536)? {
                add_batch(&mut acc, &batch?, &cols);
            }
            return Ok(acc);
        }
        let mut scratch = Scratch::default();
        for seg in self.segments_in::<C>(key, start, end)? {
            for block in seg.blocks_in(start, end) {
                add_block(&mut acc, &seg, block, start, end, &cols, &mut scratch)?;
            }
        }
        Ok(acc)
    }
}

/// Decoded columns of one block, reused from block to block.
#[derive(Default)]
struct Scratch {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    turnover: Vec<f64>,
}

fn decode(
    seg: &Segment,
    block: usize,
    col: usize,
    keep: std::ops::Range<usize>,
    out: &mut Vec<f64>,
) -> Result<()> {
    out.clear();
    out.resize(keep.len(), 0.0);
    seg.decode_column(block, col, keep, ColumnMut::F64(out))
}

fn add_block(
    acc: &mut RangeStats,
    seg: &Segment,
    block: usize,
    start: Timestamp,
    end: Timestamp,
    cols: &Cols,
    s: &mut Scratch,
) -> Result<()> {
    let Some(meta) = seg.blocks().get(block) else {
        return Ok(());
    };
    let rows = meta.rows as usize;
    if meta.min_ts >= start && meta.max_ts <= end {
        // Whole: count, times, high and low from the footer; sums from three columns.
        let stat = |col: usize, max: bool| {
            meta.chunks
                .get(col)
                .map(|c| f64::from_bits(if max { c.max } else { c.min }))
        };
        let (Some(high), Some(low)) = (stat(cols.high, true), stat(cols.low, false)) else {
            return Err(Error::InvalidArgument(
                "block without price statistics".into(),
            ));
        };
        decode(seg, block, cols.close, 0..rows, &mut s.close)?;
        if acc.count == 0 {
            decode(seg, block, cols.open, 0..1.min(rows), &mut s.open)?;
        }
        decode(seg, block, cols.volume, 0..rows, &mut s.volume)?;
        if let Some(t) = cols.turnover {
            decode(seg, block, t, 0..rows, &mut s.turnover)?;
        }
        // The footer's extremes stand in for the block's high and low columns.
        acc.add_rows(
            meta.min_ts,
            meta.max_ts,
            if acc.count == 0 { &s.open } else { &s.close },
            &[high],
            &[low],
            &s.close,
            &s.volume,
            cols.turnover.map(|_| s.turnover.as_slice()),
        );
        acc.blocks_from_stats += 1;
        return Ok(());
    }
    // Cut: decode the rows the range keeps.
    let times = seg.block_times(block)?;
    let keep = times.partition_point(|t| *t < start)..times.partition_point(|t| *t <= end);
    let (Some(&first), Some(&last)) = (
        times.get(keep.start),
        keep.end.checked_sub(1).and_then(|i| times.get(i)),
    ) else {
        return Ok(());
    };
    decode(seg, block, cols.open, keep.clone(), &mut s.open)?;
    decode(seg, block, cols.high, keep.clone(), &mut s.high)?;
    decode(seg, block, cols.low, keep.clone(), &mut s.low)?;
    decode(seg, block, cols.close, keep.clone(), &mut s.close)?;
    decode(seg, block, cols.volume, keep.clone(), &mut s.volume)?;
    if let Some(t) = cols.turnover {
        decode(seg, block, t, keep, &mut s.turnover)?;
    }
    acc.add_rows(
        first,
        last,
        &s.open,
        &s.high,
        &s.low,
        &s.close,
        &s.volume,
        cols.turnover.map(|_| s.turnover.as_slice()),
    );
    acc.blocks_cut += 1;
    Ok(())
}

fn add_batch<C: Columns>(acc: &mut RangeStats, batch: &C, cols: &Cols) {
    let refs = batch.refs();
    let f = |i: usize| match refs.get(i) {
        Some(ColumnRef::F64(v)) => *v,
        _ => &[],
    };
    let t = batch.datetimes();
    let (Some(&first), Some(&last)) = (t.first(), t.last()) else {
        return;
    };
    acc.add_rows(
        first,
        last,
        f(cols.open),
        f(cols.high),
        f(cols.low),
        f(cols.close),
        f(cols.volume),
        cols.turnover.map(f),
    );
}
