//! The `Database` trait: vn.py's `BaseDatabase`, with `Result` returns.
//!
//! It is the seam between the engine, the SQL bridge and every tool: migration, sync and
//! consistency checks are written once against it.

use crate::error::Result;
use crate::model::{BarData, BarOverview, Exchange, Interval, TickData, TickOverview, Timestamp};

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
