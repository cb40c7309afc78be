//! `migrate` and `compare`, written once against the `Database` trait.

use std::hash::{Hash, Hasher};

use anyhow::{Context, Result};
use serde_json::json;
use tickvault::codec::ColumnRef;
use tickvault::{
    BarColumns, BarData, Columns, Database, Exchange, Interval, TickColumns, TickData, Timestamp,
};

use crate::bridge::{self, redact};
use crate::cli::{Cli, CompareArgs, MigrateArgs, SyncArgs};
use crate::time;

/// One series of a store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    symbol: String,
    exchange: Exchange,
    interval: Interval,
    count: u64,
    start: Timestamp,
    end: Timestamp,
}

/// `*` matches any run of characters, `?` any one character.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    fn m(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
            (Some('?'), Some(_)) => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(
        &pattern.chars().collect::<Vec<_>>(),
        &s.chars().collect::<Vec<_>>(),
    )
}

fn series(
    db: &dyn Database,
    bars: bool,
    ticks: bool,
    pattern: Option<&str>,
) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    if bars {
        out.extend(db.get_bar_overview()?.into_iter().map(|o| Series {
            symbol: o.symbol.to_string(),
            exchange: o.exchange,
            interval: o.interval,
            count: o.count,
            start: o.start,
            end: o.end,
        }));
    }
    if ticks {
        out.extend(db.get_tick_overview()?.into_iter().map(|o| Series {
            symbol: o.symbol.to_string(),
            exchange: o.exchange,
            interval: Interval::Tick,
            count: o.count,
            start: o.start,
            end: o.end,
        }));
    }
    out.retain(|s| pattern.is_none_or(|p| glob(p, &s.symbol)));
    out.sort();
    Ok(out)
}

/// Time windows of about `rows` rows each over `[start, end]`, assuming even density.
fn windows(start: Timestamp, end: Timestamp, count: u64, rows: u64) -> Vec<(Timestamp, Timestamp)> {
    let span = (end.as_ns() as i128 - start.as_ns() as i128 + 1).max(1);
    let parts = count.div_ceil(rows).max(1) as i128;
    let step = (span / parts).max(1);
    let mut out = Vec::new();
    let mut t = start.as_ns() as i128;
    while t <= end.as_ns() as i128 {
        let hi = (t + step - 1).min(end.as_ns() as i128);
        out.push((Timestamp::from_ns(t as i64), Timestamp::from_ns(hi as i64)));
        t = hi + 1;
    }
    out
}

enum Rows {
    Bars(Vec<BarData>),
    Ticks(Vec<TickData>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Bars(v) => v.len(),
            Rows::Ticks(v) => v.len(),
        }
    }
}

fn load(db: &dyn Database, s: &Series, start: Timestamp, end: Timestamp) -> Result<Rows> {
    Ok(if s.interval == Interval::Tick {
        Rows::Ticks(db.load_tick_data(&s.symbol, s.exchange, start, end)?)
    } else {
        Rows::Bars(db.load_bar_data(&s.symbol, s.exchange, s.interval, start, end)?)
    })
}

fn save(db: &dyn Database, rows: &Rows) -> Result<()> {
    match rows {
        Rows::Bars(v) => db.save_bar_data(v, false)?,
        Rows::Ticks(v) => db.save_tick_data(v, false)?,
    }
    Ok(())
}

pub fn migrate(cli: &Cli, a: &MigrateArgs) -> Result<()> {
    let (from, to) = (redact(&a.from), redact(&a.to));
    let src = bridge::open(&a.from, a.sql_tz.as_deref(), false)
        .with_context(|| format!("source {from}"))?;
    let dst =
        bridge::open(&a.to, a.sql_tz.as_deref(), true).with_context(|| format!("target {to}"))?;
    let (bars, ticks) = (!a.ticks, !a.bars);
    let list = series(src.db(), bars, ticks, a.symbol.as_deref())?;
    let bar = cli.progress_bar(list.iter().map(|s| s.count).sum(), "rows");
    let mut total = 0u64;
    for s in &list {
        bar.set_message(format!("{}.{} {}", s.symbol, s.exchange, s.interval));
        let copied =
            copy_series(src.db(), &dst, s, s.start, a.batch_rows, &bar).with_context(|| {
                format!("copying {}.{} {} to {to}", s.symbol, s.exchange, s.interval)
            })?;
        total += copied;
        if cli.json {
            println!(
                "{}",
                json!({"type": "migrated", "symbol": s.symbol, "exchange": s.exchange.as_str(), "interval": s.interval.as_str(), "rows": copied})
            );
        } else {
            bar.suspend(|| eprintln!("{}.{} {}: {copied} rows", s.symbol, s.exchange, s.interval));
        }
    }
    bar.finish_and_clear();
    if !cli.json {
        eprintln!(
            "migrated {total} rows of {} series from {from} to {to}",
            list.len()
        );
    }
    if let bridge::Store::Tickvault(engine) = &dst {
        engine.compact()?;
    }
    if a.verify {
        let differences = compare_stores(
            cli,
            src.db(),
            dst.db(),
            bars,
            ticks,
            a.symbol.as_deref(),
            None,
        )?;
        if differences > 0 {
            anyhow::bail!("{differences} series differ after the migration");
        }
    }
    Ok(())
}

/// Copies rows `[from, s.end]` of series `s` into `dst` so that the series lands whole or not at
/// all: one staged commit on a tickvault store, one transaction on a SQL database.
fn copy_series(
    src: &dyn Database,
    dst: &bridge::Store,
    s: &Series,
    from: Timestamp,
    batch_rows: u64,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let bridge::Store::Tickvault(engine) = dst else {
        return dst.atomic(|db| copy_range(src, db, s, from, batch_rows, bar));
    };
    fn staged<C: Columns>(
        engine: &tickvault::Engine,
        src: &dyn Database,
        s: &Series,
        from: Timestamp,
        batch_rows: u64,
        bar: &indicatif::ProgressBar,
        split: fn(Rows) -> Option<Vec<C::Row>>,
    ) -> Result<u64> {
        let key = if s.interval == Interval::Tick {
            tickvault::SeriesKey::tick(&s.symbol, s.exchange)?
        } else {
            tickvault::SeriesKey::bar(&s.symbol, s.exchange, s.interval)?
        };
        let mut failure = None;
        let mut copied = 0;
        let saved = engine.save_staged::<C>(&key, |sink| {
            for (lo, hi) in windows(from.max(s.start), s.end, s.count, batch_rows) {
                let rows = match load(src, s, lo, hi) {
                    Ok(r) => r,
                    Err(e) => {
                        failure = Some(e);
                        return Err(tickvault::Error::InvalidArgument("source failed".into()));
                    }
                };
                let rows = split(rows).unwrap_or_default();
                let mut cols = C::default();
                rows.iter().for_each(|r| cols.push_row(r));
                copied += rows.len() as u64;
                bar.inc(rows.len() as u64);
                sink(cols)?;
            }
            Ok(())
        });
        match (saved, failure) {
            (Ok(_), _) => Ok(copied),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }
    if s.interval == Interval::Tick {
        staged::<TickColumns>(engine, src, s, from, batch_rows, bar, |r| match r {
            Rows::Ticks(v) => Some(v),
            Rows::Bars(_) => None,
        })
    } else {
        staged::<BarColumns>(engine, src, s, from, batch_rows, bar, |r| match r {
            Rows::Bars(v) => Some(v),
            Rows::Ticks(_) => None,
        })
    }
}

/// Rows per window when `compare` reads two stores side by side.
const WINDOW_ROWS: u64 = 200_000;

/// Copies rows `[from, s.end]` of series `s` from `src` to `dst` in windows of about
/// `batch_rows`; returns the count.
fn copy_range(
    src: &dyn Database,
    dst: &dyn Database,
    s: &Series,
    from: Timestamp,
    batch_rows: u64,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let mut copied = 0;
    for (lo, hi) in windows(from.max(s.start), s.end, s.count, batch_rows) {
        let rows = load(src, s, lo, hi)?;
        copied += rows.len() as u64;
        save(dst, &rows)?;
        bar.inc(rows.len() as u64);
    }
    Ok(copied)
}

pub fn sync(cli: &Cli, a: &SyncArgs) -> Result<()> {
    let (from, to) = (redact(&a.from), redact(&a.to));
    let overlap = super::backup::duration(&a.overlap)?;
    let src = bridge::open(&a.from, a.sql_tz.as_deref(), false)
        .with_context(|| format!("source {from}"))?;
    let dst =
        bridge::open(&a.to, a.sql_tz.as_deref(), true).with_context(|| format!("target {to}"))?;
    let have = series(dst.db(), true, true, a.symbol.as_deref())?;
    let list = series(src.db(), true, true, a.symbol.as_deref())?;
    // The source's counts bound what an incremental sync copies.
    let bar = cli.progress_bar(list.iter().map(|s| s.count).sum(), "rows");
    let mut total = 0;
    for s in list {
        bar.set_message(format!("{}.{} {}", s.symbol, s.exchange, s.interval));
        let target = have
            .iter()
            .find(|t| t.symbol == s.symbol && t.exchange == s.exchange && t.interval == s.interval);
        let start = |db: &dyn Database| -> Result<Timestamp> {
            Ok(match (a.full, target) {
                (true, Some(_)) => {
                    if s.interval == Interval::Tick {
                        db.delete_tick_data(&s.symbol, s.exchange)?;
                    } else {
                        db.delete_bar_data(&s.symbol, s.exchange, s.interval)?;
                    }
                    s.start
                }
                (false, Some(t)) => t
                    .end
                    .add_ns(-i64::try_from(overlap.as_nanos()).unwrap_or(i64::MAX)),
                (_, None) => s.start,
            })
        };
        let copied = match &dst {
            // The new rows land in one staged commit (after the delete of --full, its own).
            bridge::Store::Tickvault(e) => {
                start(e).and_then(|from| copy_series(src.db(), &dst, &s, from, a.batch_rows, &bar))
            }
            // Delete and copy in one transaction.
            _ => dst.atomic(|db| copy_range(src.db(), db, &s, start(db)?, a.batch_rows, &bar)),
        }
        .with_context(|| format!("syncing {}.{} {} to {to}", s.symbol, s.exchange, s.interval))?;
        total += copied;
        if cli.json {
            println!(
                "{}",
                json!({"type": "synced", "symbol": s.symbol, "exchange": s.exchange.as_str(), "interval": s.interval.as_str(), "rows": copied})
            );
        } else {
            bar.suspend(|| eprintln!("{}.{} {}: {copied} rows", s.symbol, s.exchange, s.interval));
        }
    }
    bar.finish_and_clear();
    if !cli.json {
        eprintln!("synced {total} rows from {from} to {to}");
    }
    Ok(())
}

/// A hash of every row's values in schema order (floats by their bits), through the kind's
/// columns, so that no field list is spelled out here.
fn hash_rows(h: &mut impl Hasher, rows: &Rows) {
    fn hash<C: Columns>(h: &mut impl Hasher, rows: &[C::Row]) {
        let mut cols = C::with_capacity(rows.len());
        rows.iter().for_each(|r| cols.push_row(r));
        for i in 0..cols.len() {
            for col in cols.refs() {
                match col {
                    ColumnRef::Time(v) => v[i].hash(h),
                    ColumnRef::OptTime(v) => v[i].hash(h),
                    ColumnRef::F64(v) => v[i].to_bits().hash(h),
                    ColumnRef::Str(v) => v[i].hash(h),
                }
            }
        }
    }
    match rows {
        Rows::Bars(v) => hash::<BarColumns>(h, v),
        Rows::Ticks(v) => hash::<TickColumns>(h, v),
    }
}

/// The first field that differs between two loads, by time and name; floats by their bits, so
/// -0.0 and 0.0 differ as they do in the content hash.
fn first_difference(a: &Rows, b: &Rows, tz: chrono_tz::Tz) -> Option<String> {
    fn diff<C: Columns>(a: &[C::Row], b: &[C::Row], tz: chrono_tz::Tz) -> Option<String> {
        let (mut ca, mut cb) = (C::default(), C::default());
        a.iter().for_each(|r| ca.push_row(r));
        b.iter().for_each(|r| cb.push_row(r));
        let at = |t: Timestamp| time::format(t, tz);
        let (ra, rb) = (ca.refs(), cb.refs());
        for i in 0..ca.len().max(cb.len()) {
            match (ca.datetimes().get(i), cb.datetimes().get(i)) {
                (Some(t), None) => return Some(format!("at {}: only in the first", at(*t))),
                (None, Some(t)) => return Some(format!("at {}: only in the second", at(*t))),
                _ => {}
            }
            for ((spec, x), y) in C::schema().iter().zip(&ra).zip(&rb) {
                let d = match (x, y) {
                    (ColumnRef::Time(x), ColumnRef::Time(y)) => {
                        (x[i] != y[i]).then(|| format!("{} vs {}", at(x[i]), at(y[i])))
                    }
                    (ColumnRef::OptTime(x), ColumnRef::OptTime(y)) => (x[i] != y[i]).then(|| {
                        let f = |t: Option<Timestamp>| t.map_or("none".into(), at);
                        format!("{} vs {}", f(x[i]), f(y[i]))
                    }),
                    (ColumnRef::F64(x), ColumnRef::F64(y)) => (x[i].to_bits() != y[i].to_bits())
                        .then(|| format!("{:?} vs {:?}", x[i], y[i])),
                    (ColumnRef::Str(x), ColumnRef::Str(y)) => {
                        (x[i] != y[i]).then(|| format!("{:?} vs {:?}", x[i], y[i]))
                    }
                    _ => Some("different column types".into()),
                };
                if let Some(d) = d {
                    return Some(format!("at {}: {} {d}", at(ca.datetimes()[i]), spec.name));
                }
            }
        }
        None
    }
    match (a, b) {
        (Rows::Bars(x), Rows::Bars(y)) => diff::<BarColumns>(x, y, tz),
        (Rows::Ticks(x), Rows::Ticks(y)) => diff::<TickColumns>(x, y, tz),
        _ => Some("different kinds".into()),
    }
}

/// Compares every selected series of two stores; prints one line per series; returns how many differ.
fn compare_stores(
    cli: &Cli,
    a: &dyn Database,
    b: &dyn Database,
    bars: bool,
    ticks: bool,
    pattern: Option<&str>,
    tz: Option<chrono_tz::Tz>,
) -> Result<usize> {
    let tz = tz.unwrap_or(time::zone(None)?);
    let (left, right) = (
        series(a, bars, ticks, pattern)?,
        series(b, bars, ticks, pattern)?,
    );
    let mut keys: Vec<(String, Exchange, Interval)> = left
        .iter()
        .chain(&right)
        .map(|s| (s.symbol.clone(), s.exchange, s.interval))
        .collect();
    keys.sort();
    keys.dedup();
    let mut differences = 0;
    for (symbol, exchange, interval) in keys {
        let find = |v: &[Series]| {
            v.iter()
                .find(|s| s.symbol == symbol && s.exchange == exchange && s.interval == interval)
                .cloned()
        };
        let (l, r) = (find(&left), find(&right));
        let (mut ha, mut hb) = (
            std::collections::hash_map::DefaultHasher::new(),
            std::collections::hash_map::DefaultHasher::new(),
        );
        let mut first = None;
        if let (Some(l), Some(r)) = (&l, &r) {
            let (start, end) = (l.start.min(r.start), l.end.max(r.end));
            for (lo, hi) in windows(start, end, l.count.max(r.count), WINDOW_ROWS) {
                let (ra, rb) = (load(a, l, lo, hi)?, load(b, r, lo, hi)?);
                hash_rows(&mut ha, &ra);
                hash_rows(&mut hb, &rb);
                if first.is_none() {
                    first = first_difference(&ra, &rb, tz);
                }
            }
        }
        let summary = |s: &Option<Series>| {
            s.as_ref()
                .map(|s| (s.count, time::format(s.start, tz), time::format(s.end, tz)))
        };
        let same = l.is_some()
            && r.is_some()
            && first.is_none()
            && ha.finish() == hb.finish()
            && summary(&l) == summary(&r);
        if !same {
            differences += 1;
        }
        if cli.json {
            println!(
                "{}",
                json!({"type": "compare", "symbol": symbol, "exchange": exchange.as_str(), "interval": interval.as_str(),
                       "equal": same, "left": summary(&l), "right": summary(&r),
                       "left_hash": format!("{:016x}", ha.finish()), "right_hash": format!("{:016x}", hb.finish()),
                       "first_difference": first})
            );
        } else {
            let side = |s: &Option<(u64, String, String)>| {
                s.as_ref().map_or("missing".to_string(), |(c, a, b)| {
                    format!("{c} rows {a} .. {b}")
                })
            };
            let verdict = if same {
                "equal".to_string()
            } else {
                format!(
                    "DIFFERENT {}",
                    first.unwrap_or_else(|| "(counts or ranges)".into())
                )
            };
            println!(
                "{symbol}.{exchange} {interval}: {} | {} | {verdict}",
                side(&summary(&l)),
                side(&summary(&r))
            );
        }
    }
    Ok(differences)
}

pub fn compare(cli: &Cli, a: &CompareArgs) -> Result<()> {
    let left =
        bridge::open(&a.left, a.sql_tz.as_deref(), false).with_context(|| redact(&a.left))?;
    let right =
        bridge::open(&a.right, a.sql_tz.as_deref(), false).with_context(|| redact(&a.right))?;
    let differences = compare_stores(
        cli,
        left.db(),
        right.db(),
        !a.ticks,
        !a.bars,
        a.symbol.as_deref(),
        None,
    )?;
    if differences > 0 {
        use std::io::Write;
        std::io::stdout().flush()?;
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_windows() {
        assert!(glob("rb*", "rb2610"));
        assert!(glob("*26?0", "rb2610"));
        assert!(!glob("rb*", "cu2610"));
        let w = windows(Timestamp::from_ns(0), Timestamp::from_ns(99), 1000, 250);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0], (Timestamp::from_ns(0), Timestamp::from_ns(24)));
        assert_eq!(w[3].1, Timestamp::from_ns(99));
    }
}
