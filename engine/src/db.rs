//! The `Database` trait: vn.py's `BaseDatabase`, with `Result` returns.
//!
//! It is the seam between the engine, the SQL bridge and every tool: migration, sync and
//! consistency checks are written once against it.

use std::collections::HashMap;

use crate::columns::{BarColumns, TickColumns};
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

impl Database for Engine {
    fn save_bar_data(&self, bars: &[BarData], stream: bool) -> Result<()> {
        let mut groups: HashMap<(&str, Exchange, Interval), Vec<usize>> = HashMap::new();
        for (i, b) in bars.iter().enumerate() {
            groups
                .entry((&b.symbol, b.exchange, b.interval))
                .or_default()
                .push(i);
        }
        let batches = groups
            .into_iter()
            .map(|((symbol, exchange, interval), idx)| {
                let key = SeriesKey::new(symbol.into(), exchange, interval)?;
                if key.kind() != SeriesKind::Bar {
                    return Err(Error::InvalidArgument(format!(
                        "bar of {symbol} has the interval `tick`"
                    )));
                }
                Ok((
                    key,
                    crate::write::rows_to_columns::<BarColumns>(
                        bars,
                        idx,
                        |b| b.datetime,
                        crate::write::Dedup::LastWins,
                    ),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.save(batches, stream)
    }

    fn save_tick_data(&self, ticks: &[TickData], stream: bool) -> Result<()> {
        let mut groups: HashMap<(&str, Exchange), Vec<usize>> = HashMap::new();
        for (i, t) in ticks.iter().enumerate() {
            groups.entry((&t.symbol, t.exchange)).or_default().push(i);
        }
        let batches = groups
            .into_iter()
            .map(|((symbol, exchange), idx)| {
                let key = SeriesKey::new(symbol.into(), exchange, Interval::Tick)?;
                let dedup = self.dedup(&key);
                Ok((
                    key,
                    crate::write::rows_to_columns::<TickColumns>(ticks, idx, |t| t.datetime, dedup),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.save(batches, stream)
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
