//! `demo`: the main job on a default store, end to end, with timings.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;
use tickvault::{sample, Columns, Database, Exchange, Interval, Timestamp};

use super::{human_bytes, open_write, query};
use crate::cli::{Cli, DemoArgs};
use crate::time;

fn rate(rows: usize, secs: f64) -> String {
    let r = rows as f64 / secs.max(1e-9);
    if r >= 1e6 {
        format!("{:.1} M rows/s", r / 1e6)
    } else {
        format!("{:.0} k rows/s", r / 1e3)
    }
}

pub fn run(cli: &Cli, a: &DemoArgs) -> Result<()> {
    let db = open_write(cli)?;
    let mut timings: Vec<(String, usize, f64)> = Vec::new();
    let mut time_it =
        |what: &str, rows: usize, f: &mut dyn FnMut() -> Result<usize>| -> Result<usize> {
            let t = Instant::now();
            let n = f()?;
            let secs = t.elapsed().as_secs_f64();
            timings.push((what.to_string(), rows.max(n), secs));
            Ok(n)
        };

    let bars = sample::bars(a.bars, 42);
    let ticks = sample::ticks(a.ticks, 43, "螺纹钢2610");
    time_it("save bars (columns, fsync)", bars.len(), &mut || {
        db.save_bar_columns("IF9999", Exchange::CFFEX, Interval::Minute, &bars)?;
        Ok(bars.len())
    })?;
    time_it("save ticks (columns, fsync)", ticks.len(), &mut || {
        db.save_tick_columns("rb2610", Exchange::SHFE, &ticks)?;
        Ok(ticks.len())
    })?;
    time_it("load bars into columns", 0, &mut || {
        Ok(db
            .load_bar_columns(
                "IF9999",
                Exchange::CFFEX,
                Interval::Minute,
                Timestamp::MIN,
                Timestamp::MAX,
            )?
            .len())
    })?;
    time_it("load bars into Vec<BarData>", 0, &mut || {
        Ok(db
            .load_bar_data(
                "IF9999",
                Exchange::CFFEX,
                Interval::Minute,
                Timestamp::MIN,
                Timestamp::MAX,
            )?
            .len())
    })?;
    if bars.len() >= 240 {
        let mid = bars.len() / 2 / 240 * 240;
        let (start, end) = (
            bars.datetime[mid],
            bars.datetime[(mid + 239).min(bars.len() - 1)],
        );
        time_it("load one trading day of bars", 0, &mut || {
            Ok(db
                .load_bar_data("IF9999", Exchange::CFFEX, Interval::Minute, start, end)?
                .len())
        })?;
    }
    time_it("load ticks into columns", 0, &mut || {
        Ok(db
            .load_tick_columns("rb2610", Exchange::SHFE, Timestamp::MIN, Timestamp::MAX)?
            .len())
    })?;

    let info = db.info()?;
    let tz = time::zone(None)?;
    if cli.json {
        for (what, rows, secs) in &timings {
            println!(
                "{}",
                json!({"type": "timing", "what": what, "rows": rows, "seconds": secs})
            );
        }
        println!(
            "{}",
            json!({"type": "store", "path": info.root.display().to_string(), "segment_bytes": info.segment_bytes})
        );
        return query::print_overview(&db, true, true, None, true, tz);
    }
    println!("tickvault demo: store at {}\n", info.root.display());
    for (what, rows, secs) in &timings {
        println!(
            "{what:<32} {rows:>9} rows  {:>9.2} ms  {}",
            secs * 1e3,
            rate(*rows, *secs)
        );
    }
    println!(
        "\non disk: {} in {} segments ({} bars, {} ticks)\n",
        human_bytes(info.segment_bytes),
        info.segments,
        info.bar_rows,
        info.tick_rows
    );
    query::print_overview(&db, true, true, None, false, tz)
}
