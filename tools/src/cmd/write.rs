//! Writing verbs: `import` and `delete`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tickvault::{BarColumns, Columns, SeriesKind, TickColumns};

use super::{open_existing_write, open_write, series_key};
use crate::cli::{Cli, DeleteArgs, ImportArgs};
use crate::{table, time};

pub fn import(cli: &Cli, a: &ImportArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let tz = time::zone(a.tz.as_deref())?;
    let format = table::FileFormat::of(&a.file, a.format)?;
    // The whole file is read and checked before anything is written: one bad line, no change.
    let (n, first, last) = match key.kind() {
        SeriesKind::Bar => {
            let cols: BarColumns = table::read_file(&a.file, tz, format)?;
            let db = open_write(cli)?;
            db.save_bar_columns(key.symbol(), key.exchange(), key.interval(), &cols)?;
            (
                cols.len(),
                cols.datetime.iter().min().copied(),
                cols.datetime.iter().max().copied(),
            )
        }
        SeriesKind::Tick => {
            let cols: TickColumns = table::read_file(&a.file, tz, format)?;
            let db = open_write(cli)?;
            db.save_tick_columns(key.symbol(), key.exchange(), &cols)?;
            (
                cols.len(),
                cols.datetime.iter().min().copied(),
                cols.datetime.iter().max().copied(),
            )
        }
    };
    let span = match (first, last) {
        (Some(a), Some(b)) => format!(" from {} to {}", table::when(a, tz), table::when(b, tz)),
        _ => String::new(),
    };
    if cli.json {
        println!(
            "{}",
            json!({"type": "import", "series": key.to_string(), "rows": n})
        );
    } else {
        eprintln!("imported {n} rows into {key}{span}");
    }
    Ok(())
}

pub fn delete(cli: &Cli, a: &DeleteArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let tz = time::zone(a.range.tz.as_deref())?;
    let bound = |s: &Option<String>, what: &str| {
        s.as_deref()
            .map(|s| time::parse(s, tz).context(what.to_string()))
            .transpose()
    };
    let (start, end) = (
        bound(&a.range.start, "--start")?,
        bound(&a.range.end, "--end")?,
    );
    let ranged = start.is_some() || end.is_some();
    let what = if ranged {
        format!(
            "the rows of {key} from {} to {}",
            start.map_or("the first".into(), |t| time::format(t, tz)),
            end.map_or("the last".into(), |t| time::format(t, tz))
        )
    } else {
        format!("every row of {key}")
    };
    let db = open_existing_write(cli)?;
    if !a.yes && std::io::stdin().is_terminal() {
        eprint!("delete {what}? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not deleted");
        }
    }
    let n = if ranged {
        db.delete_range(
            &key,
            start.unwrap_or(tickvault::Timestamp::MIN),
            end.unwrap_or(tickvault::Timestamp::MAX),
        )?
    } else {
        db.delete_series(&key)?
    };
    if cli.json {
        println!(
            "{}",
            json!({"type": "delete", "series": key.to_string(), "rows": n})
        );
    } else {
        println!("{n}");
    }
    Ok(())
}
