//! Synthetic market data for demos, tests and benchmarks: seeded, reproducible random walks on a
//! price grid, inside A-share style sessions (09:30–11:30 and 13:00–15:00 Asia/Shanghai,
//! weekdays), so one trading day holds 240 one-minute bars.

use smol_str::SmolStr;

use crate::columns::{BarColumns, TickColumns};
use crate::model::Timestamp;

/// A small, fast, seeded generator (SplitMix64); not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }
}

const NS_PER_MIN: i64 = 60_000_000_000;
/// 2010-01-04 00:00 Asia/Shanghai (a Monday), as UTC nanoseconds.
const FIRST_DAY_NS: i64 = 1_262_534_400_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;
/// Session minutes after local midnight: [09:30, 11:30) and [13:00, 15:00).
const SESSIONS_MIN: [(i64, i64); 2] = [(570, 690), (780, 900)];

/// The start of every trading minute, in order, forever (weekdays only).
fn trading_minutes() -> impl Iterator<Item = Timestamp> {
    (0i64..).filter(|day| day % 7 < 5).flat_map(|day| {
        SESSIONS_MIN.iter().flat_map(move |&(a, b)| {
            (a..b).map(move |m| Timestamp::from_ns(FIRST_DAY_NS + day * DAY_NS + m * NS_PER_MIN))
        })
    })
}

/// Rounds to the 0.2 grid exactly as a decimal price would be written.
fn grid(ticks: i64) -> f64 {
    ticks as f64 / 5.0
}

/// `n` one-minute bars: a random walk on a 0.2 price grid, integer volumes and open interest.
pub fn bars(n: usize, seed: u64) -> BarColumns {
    let mut rng = Rng::new(seed);
    let mut c = BarColumns {
        datetime: Vec::with_capacity(n),
        open_price: Vec::with_capacity(n),
        high_price: Vec::with_capacity(n),
        low_price: Vec::with_capacity(n),
        close_price: Vec::with_capacity(n),
        volume: Vec::with_capacity(n),
        turnover: Vec::with_capacity(n),
        open_interest: Vec::with_capacity(n),
    };
    let mut close = 17_500i64; // 3500.0 in grid steps
    let mut oi = 120_000i64;
    for t in trading_minutes().take(n) {
        let open = close;
        close = (close + rng.range(-3, 3)).max(5);
        let high = open.max(close) + rng.range(0, 2);
        let low = (open.min(close) - rng.range(0, 2)).max(1);
        let volume = rng.range(1, 5000);
        oi = (oi + rng.range(-50, 50)).max(0);
        c.datetime.push(t);
        c.open_price.push(grid(open));
        c.high_price.push(grid(high));
        c.low_price.push(grid(low));
        c.close_price.push(grid(close));
        c.volume.push(volume as f64);
        c.turnover.push((volume * close * 2) as f64); // volume × price × 10 per lot
        c.open_interest.push(oi as f64);
    }
    c
}

/// `n` five-level ticks every 500 ms inside the sessions, with a constant name and a local
/// time a few milliseconds after the exchange time.
pub fn ticks(n: usize, seed: u64, name: &str) -> TickColumns {
    let mut rng = Rng::new(seed);
    let mut c = TickColumns::default();
    let name: SmolStr = name.into();
    let mut last = 17_500i64;
    let (mut volume, mut turnover, mut oi) = (0i64, 0i64, 120_000i64);
    let times = trading_minutes().flat_map(|m| (0..120).map(move |k| m.add_ns(k * 500_000_000)));
    for t in times.take(n) {
        last = (last + rng.range(-1, 1)).max(20);
        let traded = rng.range(0, 40);
        volume += traded;
        turnover += traded * last * 2;
        oi = (oi + rng.range(-3, 3)).max(0);
        let bid1 = last - rng.range(0, 1);
        c.datetime.push(t);
        c.localtime
            .push(Some(t.add_ns(rng.range(1, 40) * 1_000_000)));
        c.name.push(name.clone());
        c.volume.push(volume as f64);
        c.turnover.push(turnover as f64);
        c.open_interest.push(oi as f64);
        c.last_price.push(grid(last));
        c.last_volume.push(traded as f64);
        c.limit_up.push(grid(19_250));
        c.limit_down.push(grid(15_750));
        c.open_price.push(grid(17_500));
        c.high_price.push(grid(17_500.max(last)));
        c.low_price.push(grid(17_500.min(last)));
        c.pre_close.push(grid(17_480));
        for (k, col) in c.price_levels_mut().into_iter().enumerate() {
            let level = k as i64 % 5;
            col.push(grid(if k < 5 {
                bid1 - level
            } else {
                bid1 + 1 + level
            }));
        }
        for col in c.volume_levels_mut() {
            col.push(rng.range(1, 500) as f64);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::Columns;

    #[test]
    fn a_trading_day_has_240_minutes() {
        let b = bars(480, 1);
        assert_eq!(b.datetime[0].to_string(), "2010-01-04T01:30:00Z");
        assert_eq!(b.datetime[239].to_string(), "2010-01-04T06:59:00Z");
        assert_eq!(b.datetime[240].to_string(), "2010-01-05T01:30:00Z");
        assert!(b.datetime.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bars(10, 7), bars(10, 7));
        let t = ticks(300, 1, "x");
        t.check_lengths().unwrap();
        assert_eq!(t.datetime[1].as_ns() - t.datetime[0].as_ns(), 500_000_000);
    }
}
