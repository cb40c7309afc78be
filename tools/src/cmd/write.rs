//! Writing verbs: `import` and `delete`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tickvault::{BarColumns, Columns, SeriesKind, TickColumns, Timestamp};

use super::{open_existing_write, open_write, series_key};
use crate::cli::{Cli, DeleteArgs, ImportArgs};
use crate::{table, time};

pub fn import(cli: &Cli, a: &ImportArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let tz = time::zone(a.tz.as_deref())?;
    let reader = time::ReadOptions {
        tz,
        epoch: a.epoch,
        format: a.datetime_format.clone(),
        map: a
            .map
            .as_deref()
            .map(time::ReadOptions::parse_map)
            .transpose()?
            .unwrap_or_default(),
        columns: a.columns.clone(),
    };
    let format = table::FileFormat::of(&a.file, a.format)?;
    if a.rejects.is_some() && a.on_error == table::OnError::Abort {
        bail!("--rejects lists skipped rows: give --on-error skip too");
    }
    let mut checker = table::Checker::new(a.on_error, a.strict, a.rejects.as_deref())?;
    checker.progress = cli.progress_counter("importing", "rows");
    let began = std::time::Instant::now();
    let existed = cli.db.exists();
    let db = open_write(cli)?;
    let imported = match key.kind() {
        SeriesKind::Bar => {
            import_as::<BarColumns>(&db, &key, &a.file, &reader, format, &mut checker)
        }
        SeriesKind::Tick => {
            import_as::<TickColumns>(&db, &key, &a.file, &reader, format, &mut checker)
        }
    };
    checker.finish()?;
    checker.progress.finish_and_clear();
    let (n, first, last) = match imported {
        Ok(v) => v,
        Err(e) => {
            // A store this import created, and left empty, goes with it.
            let empty = db
                .info()
                .is_ok_and(|i| i.bar_series == 0 && i.tick_series == 0 && i.segments == 0);
            drop(db);
            if !existed && empty {
                let _ = std::fs::remove_dir_all(&cli.db);
            }
            return Err(e);
        }
    };
    let span = match (first, last) {
        (Some(a), Some(b)) => format!(" from {} to {}", table::when(a, tz), table::when(b, tz)),
        _ => String::new(),
    };
    let secs = began.elapsed().as_secs_f64();
    let rate = checker.read as f64 / secs.max(1e-9);
    if cli.json {
        println!(
            "{}",
            json!({"type": "import", "series": key.to_string(), "read": checker.read, "rows": n,
                   "skipped": checker.skipped, "warnings": checker.warnings, "seconds": secs,
                   "rows_per_second": rate})
        );
    } else {
        eprintln!(
            "imported {n} rows into {key}{span}: {} read, {} skipped, {} warnings, {secs:.2} s ({} rows/s)",
            checker.read,
            checker.skipped,
            checker.warning_count(),
            rate as u64
        );
        for (what, count) in &checker.warnings {
            eprintln!("  warning: {count} rows with {what}");
        }
    }
    if checker.skipped > 0 {
        // The import ran, but left rows out: exit 1.
        std::process::exit(1);
    }
    Ok(())
}

/// Streams the file into one staged save: batches are parsed and written as they come (bounded
/// memory), and the store changes only if every row is good (one commit at the end).
fn import_as<C: Columns>(
    db: &tickvault::Engine,
    key: &tickvault::SeriesKey,
    file: &std::path::Path,
    reader: &time::ReadOptions,
    format: table::FileFormat,
    checker: &mut table::Checker,
) -> Result<(u64, Option<Timestamp>, Option<Timestamp>)> {
    let (mut first, mut last): (Option<Timestamp>, Option<Timestamp>) = (None, None);
    let mut failure: Option<anyhow::Error> = None;
    let saved = db.save_staged::<C>(key, |sink| {
        let mut each = |cols: C| -> Result<()> {
            let t = cols.datetimes();
            if let (Some(lo), Some(hi)) = (t.iter().min(), t.iter().max()) {
                first = Some(first.map_or(*lo, |f| f.min(*lo)));
                last = Some(last.map_or(*hi, |l| l.max(*hi)));
            }
            sink(cols).map_err(anyhow::Error::from)
        };
        table::read_batches::<C>(file, reader, format, checker, &mut each).map_err(|e| {
            let engine = tickvault::Error::InvalidArgument(format!("{e:#}"));
            failure = Some(e);
            engine
        })
    });
    match saved {
        Ok(n) => Ok((n, first, last)),
        Err(_) if failure.is_some() => Err(failure
            .take()
            .unwrap_or_else(|| anyhow::anyhow!("import failed"))),
        Err(e) => Err(e.into()),
    }
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
