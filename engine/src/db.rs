//! The `Database` trait: vn.py's `BaseDatabase`, with `Result` returns.
//!
//! It is the seam between the engine, the SQL bridge and every tool: migration, sync and
//! consistency checks are written once against it.

use std::cell::RefCell;
use std::collections::HashMap;

use smol_str::SmolStr;

use crate::columns::{BarColumns, Columns, TickColumns};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{
    BarData, BarOverview, Exchange, Interval, SeriesKey, SeriesKind, TickData, TickOverview,
    Timestamp,
};

/// A store of bars and ticks with vn.py's semantics.
///
/// - Saves accept batches in any order, mixing series, repeating keys: the last row for a key
///   wins, and rows already stored with that key are replaced. Inputs are never mutated. A save
///   is atomic: after an error or a crash either all of the batch is visible or none of it.
/// - Loads return one series between `start` and `end`, both inclusive, ascending.
/// - Overviews are exact after every operation: count is the number of distinct keys stored.
pub trait Database {
    /// Saves bars. `stream` marks small frequent appends (a recorder); the result is the same.
    fn save_bar_data(&self, bars: &[BarData], stream: bool) -> Result<()>;
    /// Saves ticks. `stream` marks small frequent appends (a recorder); the result is the same.
    fn save_tick_data(&self, ticks: &[TickData], stream: bool) -> Result<()>;
    /// Bars of one series with `start <= datetime <= end`, ascending.
    fn load_bar_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<BarData>>;
    /// Ticks of one series with `start <= datetime <= end`, ascending.
    fn load_tick_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<TickData>>;
    /// Deletes a bar series; returns the number of bars removed.
    fn delete_bar_data(&self, symbol: &str, exchange: Exchange, interval: Interval) -> Result<u64>;
    /// Deletes a tick series; returns the number of ticks removed.
    fn delete_tick_data(&self, symbol: &str, exchange: Exchange) -> Result<u64>;
    /// One overview per stored bar series.
    fn get_bar_overview(&self) -> Result<Vec<BarOverview>>;
    /// One overview per stored tick series.
    fn get_tick_overview(&self) -> Result<Vec<TickOverview>>;
}

thread_local! {
    // Reused columns for the common case of a save of one series (a recorder's small appends),
    // so that it allocates no column vectors.
    static BAR_SCRATCH: RefCell<BarColumns> = RefCell::default();
    static TICK_SCRATCH: RefCell<TickColumns> = RefCell::default();
}

impl Engine {
    /// Groups rows by series, sorts each group by time (keeping the last row of a time unless the
    /// series keeps all), and saves them in one call. A batch of one series goes through the
    /// reusable `scratch` columns.
    fn save_rows<C: Columns>(
        &self,
        rows: &[C::Row],
        stream: bool,
        key_of: impl Fn(&C::Row) -> (&SmolStr, Exchange, Interval) + Sync,
        time: impl Fn(&C::Row) -> Timestamp + Copy + Sync,
        scratch: &RefCell<C>,
    ) -> Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let key_of_first = key_of(first);
        let checked = |(symbol, exchange, interval): (&SmolStr, Exchange, Interval)| {
            let key = SeriesKey::new(symbol.clone(), exchange, interval)?;
            if key.kind() != C::KIND {
                return Err(Error::InvalidArgument(format!(
                    "a bar of {symbol} has the interval `tick`"
                )));
            }
            Ok(key)
        };
        // Rows of one series, strictly ascending (a recorder's, an export's): one pass over
        // them, a block at a time that stays in cache, each block's keys and times checked and
        // then copied into the columns, instead of a pass over every row for each; large
        // batches on several threads.
        if let Ok(mut cols) = scratch.try_borrow_mut() {
            let in_order = |rows: &[C::Row], block: std::ops::Range<usize>| {
                let mut last = block
                    .start
                    .checked_sub(1)
                    .and_then(|i| rows.get(i))
                    .map(time);
                rows.get(block).is_some_and(|block| {
                    block.iter().all(|r| {
                        let t = time(r);
                        let after = last.is_none_or(|l| l < t);
                        last = Some(t);
                        after && key_of(r) == key_of_first
                    })
                })
            };
            if cols.set_rows_checked(rows, &in_order) {
                let key = checked(key_of_first)?;
                let batch = crate::write::borrowed_batch(&*cols)?;
                return self.save(vec![(key, batch)], stream);
            }
        }
        if rows.iter().all(|r| key_of(r) == key_of_first) {
            let key = checked(key_of_first)?;
            let dedup = self.dedup(&key);
            // A re-entrant save on this thread (none today) would find the scratch busy.
            if let Ok(mut cols) = scratch.try_borrow_mut() {
                let idx = (0..rows.len()).collect();
                crate::write::rows_into_columns::<C>(rows, idx, time, dedup, &mut cols);
                let batch = crate::write::borrowed_batch(&*cols)?;
                return self.save(vec![(key, batch)], stream);
            }
        }
        let mut groups: HashMap<(&SmolStr, Exchange, Interval), Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            groups.entry(key_of(r)).or_default().push(i);
        }
        let mut batches = Vec::with_capacity(groups.len());
        for (k, idx) in groups {
            let key = checked(k)?;
            let dedup = self.dedup(&key);
            let mut cols = C::default();
            crate::write::rows_into_columns::<C>(rows, idx, time, dedup, &mut cols);
            batches.push((key, crate::write::owned_batch(cols)?));
        }
        self.save(batches, stream)
    }
}

impl Database for Engine {
    fn save_bar_data(&self, bars: &[BarData], stream: bool) -> Result<()> {
        BAR_SCRATCH.with(|scratch| {
            self.save_rows::<BarColumns>(
                bars,
                stream,
                |b| (&b.symbol, b.exchange, b.interval),
                |b| b.datetime,
                scratch,
            )
        })
    }

    fn save_tick_data(&self, ticks: &[TickData], stream: bool) -> Result<()> {
        TICK_SCRATCH.with(|scratch| {
            self.save_rows::<TickColumns>(
                ticks,
                stream,
                |t| (&t.symbol, t.exchange, Interval::Tick),
                |t| t.datetime,
                scratch,
            )
        })
    }

    fn load_bar_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<BarData>> {
        self.load_rows::<BarColumns>(&SeriesKey::bar(symbol, exchange, interval)?, start, end)
    }

    fn load_tick_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<TickData>> {
        self.load_rows::<TickColumns>(&SeriesKey::tick(symbol, exchange)?, start, end)
    }

    fn delete_bar_data(&self, symbol: &str, exchange: Exchange, interval: Interval) -> Result<u64> {
        self.delete_series(&SeriesKey::bar(symbol, exchange, interval)?)
    }

    fn delete_tick_data(&self, symbol: &str, exchange: Exchange) -> Result<u64> {
        self.delete_series(&SeriesKey::tick(symbol, exchange)?)
    }

    fn get_bar_overview(&self) -> Result<Vec<BarOverview>> {
        Ok(self
            .overview(SeriesKind::Bar)?
            .into_iter()
            .map(|(k, count, start, end)| BarOverview {
                symbol: k.symbol().clone(),
                exchange: k.exchange(),
                interval: k.interval(),
                count,
                start,
                end,
            })
            .collect())
    }

    fn get_tick_overview(&self) -> Result<Vec<TickOverview>> {
        Ok(self
            .overview(SeriesKind::Tick)?
            .into_iter()
            .map(|(k, count, start, end)| TickOverview {
                symbol: k.symbol().clone(),
                exchange: k.exchange(),
                count,
                start,
                end,
            })
            .collect())
    }
}
