//! Shared helpers for the integration tests: row builders, a reference model, and `SimFs`.

pub mod fuzz;
pub mod scenario;
pub mod simfs;

use std::collections::BTreeMap;

use tickvault::{BarData, BarOverview, Exchange, Interval, TickData, Timestamp};

/// A bar whose prices are all `price`, at `secs` seconds after the epoch.
pub fn bar(symbol: &str, exchange: Exchange, interval: Interval, secs: i64, price: f64) -> BarData {
    let mut b = BarData::new(symbol, exchange, interval, Timestamp::from_secs(secs));
    b.open_price = price;
    b.high_price = price;
    b.low_price = price;
    b.close_price = price;
    b.volume = 10.0;
    b
}

/// A tick at `secs` with last price `price`.
pub fn tick(symbol: &str, exchange: Exchange, secs: i64, price: f64) -> TickData {
    let mut t = TickData::new(symbol, exchange, Timestamp::from_secs(secs));
    t.last_price = price;
    t.name = "测试".into();
    t.bid_price_1 = price - 0.2;
    t.ask_price_5 = price + 1.0;
    t.localtime = Some(Timestamp::from_secs(secs).add_ns(5_000_000));
    t
}

/// (seconds since the epoch, close) of every 1m bar of `symbol` on SHFE.
pub fn closes(db: &tickvault::Engine, symbol: &str) -> Vec<(i64, f64)> {
    use tickvault::Database;
    db.load_bar_data(
        symbol,
        Exchange::SHFE,
        Interval::Minute,
        Timestamp::MIN,
        Timestamp::MAX,
    )
    .expect("load")
    .iter()
    .map(|b| (b.datetime.as_ns() / 1_000_000_000, b.close_price))
    .collect()
}

/// Series key of the reference model.
pub type ModelKey = (String, Exchange, Interval);

/// The reference: last write wins per (series, time).
#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Rows per series, by time.
    pub series: BTreeMap<ModelKey, BTreeMap<Timestamp, BarData>>,
}

impl Model {
    /// Applies a save.
    pub fn save(&mut self, bars: &[BarData]) {
        for b in bars {
            self.series
                .entry((b.symbol.to_string(), b.exchange, b.interval))
                .or_default()
                .insert(b.datetime, b.clone());
        }
    }

    /// Applies a delete; returns the count removed.
    pub fn delete(&mut self, key: &ModelKey) -> u64 {
        self.series.remove(key).map_or(0, |s| s.len() as u64)
    }

    /// Rows of a series in `[start, end]`.
    pub fn load(&self, key: &ModelKey, start: Timestamp, end: Timestamp) -> Vec<BarData> {
        if start > end {
            return Vec::new();
        }
        self.series
            .get(key)
            .map(|s| s.range(start..=end).map(|(_, b)| b.clone()).collect())
            .unwrap_or_default()
    }

    /// The overview, sorted like the engine's (by symbol, exchange, interval).
    pub fn overview(&self) -> Vec<BarOverview> {
        let mut out: Vec<BarOverview> = self
            .series
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|((symbol, exchange, interval), s)| BarOverview {
                symbol: symbol.as_str().into(),
                exchange: *exchange,
                interval: *interval,
                count: s.len() as u64,
                start: *s.keys().next().expect("non-empty"),
                end: *s.keys().next_back().expect("non-empty"),
            })
            .collect();
        sort_overview(&mut out);
        out
    }
}

/// Sorts overviews by (symbol, exchange, interval) so two lists can be compared.
pub fn sort_overview(v: &mut [BarOverview]) {
    v.sort_by(|a, b| (&a.symbol, a.exchange, a.interval).cmp(&(&b.symbol, b.exchange, b.interval)));
}
