//! Row types (`BarData`, `TickData`) and overviews, with vn.py's fields.

use smol_str::SmolStr;

use super::{Exchange, Interval, Timestamp};

/// One K-line bar, as vn.py's `BarData` (without `gateway_name`).
#[derive(Debug, Clone, PartialEq)]
pub struct BarData {
    /// Instrument code, e.g. `rb2610`.
    pub symbol: SmolStr,
    /// Exchange.
    pub exchange: Exchange,
    /// Bar time (vn.py labels bars by their start).
    pub datetime: Timestamp,
    /// Bar interval.
    pub interval: Interval,
    /// Traded volume.
    pub volume: f64,
    /// Traded value.
    pub turnover: f64,
    /// Open interest.
    pub open_interest: f64,
    /// Open price.
    pub open_price: f64,
    /// High price.
    pub high_price: f64,
    /// Low price.
    pub low_price: f64,
    /// Close price.
    pub close_price: f64,
}

impl BarData {
    /// A bar with every number 0, as vn.py's defaults.
    pub fn new(symbol: &str, exchange: Exchange, interval: Interval, datetime: Timestamp) -> Self {
        BarData {
            symbol: symbol.into(),
            exchange,
            datetime,
            interval,
            volume: 0.0,
            turnover: 0.0,
            open_interest: 0.0,
            open_price: 0.0,
            high_price: 0.0,
            low_price: 0.0,
            close_price: 0.0,
        }
    }
}

/// One level-2 tick, as vn.py's `TickData` (without `gateway_name`).
#[derive(Debug, Clone, PartialEq)]
pub struct TickData {
    /// Instrument code.
    pub symbol: SmolStr,
    /// Exchange.
    pub exchange: Exchange,
    /// Exchange time of the tick.
    pub datetime: Timestamp,
    /// Instrument name as the gateway reports it.
    pub name: SmolStr,
    /// Cumulative volume.
    pub volume: f64,
    /// Cumulative turnover.
    pub turnover: f64,
    /// Open interest.
    pub open_interest: f64,
    /// Last traded price.
    pub last_price: f64,
    /// Last traded volume.
    pub last_volume: f64,
    /// Upper price limit.
    pub limit_up: f64,
    /// Lower price limit.
    pub limit_down: f64,
    /// Session open.
    pub open_price: f64,
    /// Session high.
    pub high_price: f64,
    /// Session low.
    pub low_price: f64,
    /// Previous close.
    pub pre_close: f64,
    /// Bid price, level 1.
    pub bid_price_1: f64,
    /// Bid price, level 2.
    pub bid_price_2: f64,
    /// Bid price, level 3.
    pub bid_price_3: f64,
    /// Bid price, level 4.
    pub bid_price_4: f64,
    /// Bid price, level 5.
    pub bid_price_5: f64,
    /// Ask price, level 1.
    pub ask_price_1: f64,
    /// Ask price, level 2.
    pub ask_price_2: f64,
    /// Ask price, level 3.
    pub ask_price_3: f64,
    /// Ask price, level 4.
    pub ask_price_4: f64,
    /// Ask price, level 5.
    pub ask_price_5: f64,
    /// Bid volume, level 1.
    pub bid_volume_1: f64,
    /// Bid volume, level 2.
    pub bid_volume_2: f64,
    /// Bid volume, level 3.
    pub bid_volume_3: f64,
    /// Bid volume, level 4.
    pub bid_volume_4: f64,
    /// Bid volume, level 5.
    pub bid_volume_5: f64,
    /// Ask volume, level 1.
    pub ask_volume_1: f64,
    /// Ask volume, level 2.
    pub ask_volume_2: f64,
    /// Ask volume, level 3.
    pub ask_volume_3: f64,
    /// Ask volume, level 4.
    pub ask_volume_4: f64,
    /// Ask volume, level 5.
    pub ask_volume_5: f64,
    /// Local receive time, when the gateway gave one.
    pub localtime: Option<Timestamp>,
}

impl TickData {
    /// A tick with every number 0, an empty name and no local time.
    pub fn new(symbol: &str, exchange: Exchange, datetime: Timestamp) -> Self {
        TickData {
            symbol: symbol.into(),
            exchange,
            datetime,
            name: "".into(),
            volume: 0.0,
            turnover: 0.0,
            open_interest: 0.0,
            last_price: 0.0,
            last_volume: 0.0,
            limit_up: 0.0,
            limit_down: 0.0,
            open_price: 0.0,
            high_price: 0.0,
            low_price: 0.0,
            pre_close: 0.0,
            bid_price_1: 0.0,
            bid_price_2: 0.0,
            bid_price_3: 0.0,
            bid_price_4: 0.0,
            bid_price_5: 0.0,
            ask_price_1: 0.0,
            ask_price_2: 0.0,
            ask_price_3: 0.0,
            ask_price_4: 0.0,
            ask_price_5: 0.0,
            bid_volume_1: 0.0,
            bid_volume_2: 0.0,
            bid_volume_3: 0.0,
            bid_volume_4: 0.0,
            bid_volume_5: 0.0,
            ask_volume_1: 0.0,
            ask_volume_2: 0.0,
            ask_volume_3: 0.0,
            ask_volume_4: 0.0,
            ask_volume_5: 0.0,
            localtime: None,
        }
    }
}

/// The summary of one stored bar series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarOverview {
    /// Instrument code.
    pub symbol: SmolStr,
    /// Exchange.
    pub exchange: Exchange,
    /// Interval.
    pub interval: Interval,
    /// Number of distinct bars stored.
    pub count: u64,
    /// Earliest bar time.
    pub start: Timestamp,
    /// Latest bar time.
    pub end: Timestamp,
}

/// The summary of one stored tick series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickOverview {
    /// Instrument code.
    pub symbol: SmolStr,
    /// Exchange.
    pub exchange: Exchange,
    /// Number of distinct ticks stored.
    pub count: u64,
    /// Earliest tick time.
    pub start: Timestamp,
    /// Latest tick time.
    pub end: Timestamp,
}
