//! The on-disk format specification (`FORMAT.md`) and its golden vectors (`vectors/`).
//!
//! This crate holds the deterministic inputs the vectors were written from, so that they never
//! depend on generators elsewhere that may change. The tests in `tests/vectors.rs` write a golden
//! file only when it is missing and read it forever after.

use tickvault::{BarColumns, SmolStr, TickColumns, Timestamp};

/// 2024-01-02T01:30:00Z.
const T0_NS: i64 = 1_704_159_000_000_000_000;

/// 1,000 bars with a few special values: prices on a 0.2 grid, then NaN, -0.0 and infinities.
pub fn golden_bars() -> BarColumns {
    let mut c = BarColumns::default();
    for i in 0..1000i64 {
        let step = (i * 7919) % 11 - 5;
        c.datetime.push(Timestamp::from_ns(
            T0_NS + i * 60_000_000_000 + if i >= 500 { 3_600_000_000_000 } else { 0 },
        ));
        let close = (17_500 + step * (i % 13)) as f64 / 5.0;
        c.open_price.push(close - 0.2);
        c.high_price.push(close + 0.4);
        c.low_price.push(close - 0.6);
        c.close_price.push(close);
        c.volume.push((i * 37 % 5000) as f64);
        c.turnover.push((i * 37 % 5000) as f64 * close * 10.0 + 0.1);
        c.open_interest.push(match i {
            997 => f64::NAN,
            998 => -0.0,
            999 => f64::NEG_INFINITY,
            _ => (120_000 + i) as f64,
        });
    }
    c
}

/// 300 five-level ticks every 500 ms, with two names and some missing local times.
pub fn golden_ticks() -> TickColumns {
    let mut c = TickColumns::default();
    let names: [SmolStr; 2] = ["螺纹钢2610".into(), "rb2610".into()];
    for i in 0..300i64 {
        let t = Timestamp::from_ns(T0_NS + i * 500_000_000);
        let last = (17_500 + (i * 31) % 7 - 3) as f64 / 5.0;
        c.datetime.push(t);
        c.localtime.push((i % 5 != 0).then(|| t.add_ns(37_000_000)));
        c.name.push(names[(i / 100 % 2) as usize].clone());
        for (col, v) in [
            (&mut c.volume, (i * 10) as f64),
            (&mut c.turnover, (i * 10) as f64 * last * 10.0),
            (&mut c.open_interest, 150_000.0),
            (&mut c.last_price, last),
            (&mut c.last_volume, (i % 10) as f64),
            (&mut c.limit_up, 3745.0),
            (&mut c.limit_down, 3255.0),
            (&mut c.open_price, 3500.0),
            (&mut c.high_price, 3510.0),
            (&mut c.low_price, 3490.0),
            (&mut c.pre_close, 3498.0),
        ] {
            col.push(v);
        }
        for (k, col) in c.price_levels_mut().into_iter().enumerate() {
            let level = (k % 5) as f64 + 1.0;
            col.push(if k < 5 {
                last - 0.2 * level
            } else {
                last + 0.2 * level
            });
        }
        for (k, col) in c.volume_levels_mut().into_iter().enumerate() {
            col.push(((i + k as i64 * 17) % 300) as f64);
        }
    }
    c
}
