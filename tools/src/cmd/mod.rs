//! The verbs. Commands that only read open the store read-only, so they work beside a writer.

mod backup;
mod bench;
mod demo;
mod inspect;
mod migrate;
mod query;
mod record;
mod write;

use anyhow::{anyhow, Context, Result};
use tickvault::{Engine, Interval, SeriesKey};

use crate::cli::{Cli, Command, SeriesArgs};
use crate::table;

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Demo(a) => demo::run(&cli, a),
        Command::Info => query::info(&cli),
        Command::Overview(a) => query::overview(&cli, a),
        Command::Load(a) => query::load(&cli, a),
        Command::Export(a) => query::export(&cli, a),
        Command::Import(a) => write::import(&cli, a),
        Command::Delete(a) => write::delete(&cli, a),
        Command::Record(a) => record::run(&cli, a),
        Command::Compact(a) => {
            let db = open_existing_write(&cli)?;
            let stats =
                db.compact_matching(|k| a.symbol.as_deref().is_none_or(|s| &**k.symbol() == s))?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"type": "compact", "segments_in": stats.segments_in,
                                       "segments_out": stats.segments_out, "rows": stats.rows})
                );
            } else {
                println!(
                    "merged {} segments into {} ({} rows)",
                    stats.segments_in, stats.segments_out, stats.rows
                );
            }
            Ok(())
        }
        Command::Backup(a) => backup::backup(&cli, a),
        Command::Backups(a) => backup::list(&cli, a),
        Command::Restore(a) => backup::restore(&cli, a),
        Command::Verify(a) => backup::verify(&cli, a),
        Command::Migrate(a) => migrate::migrate(&cli, a),
        Command::Compare(a) => migrate::compare(&cli, a),
        Command::Sync(a) => migrate::sync(&cli, a),
        Command::Bench(a) => bench::run(&cli, a),
        Command::Inspect(a) => inspect::run(&cli, a),
        Command::Stats(a) => query::stats(&cli, a),
        Command::Flush => {
            let db = open_existing_write(&cli)?;
            db.flush()?;
            eprintln!("flushed");
            Ok(())
        }
    }
}

/// Opens the store for writing (creating it).
fn open_write(cli: &Cli) -> Result<Engine> {
    builder(cli)
        .open()
        .with_context(|| format!("cannot open the store {}", cli.db.display()))
}

/// A builder for `--db` with the options the command line sets.
fn builder(cli: &Cli) -> tickvault::EngineBuilder {
    let b = Engine::builder(&cli.db);
    if cli.keep_same_time_ticks {
        b.keep_same_time_ticks(true)
    } else {
        b
    }
}

/// Opens the existing store for writing (never creating one).
fn open_existing_write(cli: &Cli) -> Result<Engine> {
    Engine::builder(&cli.db)
        .create_if_missing(false)
        .open()
        .with_context(|| format!("cannot open the store {}", cli.db.display()))
}

/// Opens the existing store read-only.
fn open_read(cli: &Cli) -> Result<Engine> {
    Engine::open_read_only(&cli.db)
        .with_context(|| format!("cannot open the store {}", cli.db.display()))
}

/// The series named by `--symbol --exchange (--interval | --ticks)`.
fn series_key(a: &SeriesArgs) -> Result<SeriesKey> {
    let exchange = table::exchange(&a.exchange)?;
    let key = match (&a.interval, a.ticks) {
        (_, true) => SeriesKey::tick(&a.symbol, exchange)?,
        (Some(i), false) => {
            let interval: Interval = i
                .parse()
                .map_err(|_| anyhow!("unknown interval {i:?}; one of: 1m 1h d w"))?;
            SeriesKey::bar(&a.symbol, exchange, interval)?
        }
        (None, false) => return Err(anyhow!("give --interval or --ticks")),
    };
    Ok(key)
}

/// Bytes in human units.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
