//! Writing verbs: `import` and `delete`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use serde_json::json;
use tickvault::{BarColumns, Columns, SeriesKind, TickColumns, Timestamp};

use super::{open_existing_write, open_write, series_key};
use crate::cli::{Cli, DeleteArgs, ImportArgs};
use crate::{table, time};

pub fn import(cli: &Cli, a: &ImportArgs) -> Result<()> {
    let route = table::Route {
        kind: if a.series.ticks {
            SeriesKind::Tick
        } else {
            SeriesKind::Bar
        },
        symbol: a.series.symbol.clone(),
        exchange: a
            .series
            .exchange
            .as_deref()
            .map(table::exchange)
            .transpose()?,
        interval: a
            .series
            .interval
            .as_deref()
            .map(table::interval)
            .transpose()?,
    };
    if let Some(symbol) = &route.symbol {
        // A hostile --symbol fails before the file is read.
        tickvault::SeriesKey::tick(symbol, tickvault::Exchange::SSE)?;
    }
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
    let mut checker = table::Checker::new(route, a.on_error, a.strict, a.rejects.as_deref())?;
    checker.progress = cli.progress_counter("importing", "rows");
    let began = std::time::Instant::now();
    let existed = cli.db.exists();
    let db = open_write(cli)?;
    let imported = match checker.route.kind {
        SeriesKind::Bar => import_as::<BarColumns>(&db, &a.file, &reader, format, &mut checker),
        SeriesKind::Tick => import_as::<TickColumns>(&db, &a.file, &reader, format, &mut checker),
    };
    checker.finish()?;
    checker.progress.finish_and_clear();
    let series = match imported {
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
    let secs = began.elapsed().as_secs_f64();
    let rate = checker.read as f64 / secs.max(1e-9);
    let stored: u64 = series.iter().map(|s| s.stored()).sum();
    let replaced: u64 = series.iter().map(|s| s.report.replaced).sum();
    if cli.json {
        for s in &series {
            println!(
                "{}",
                json!({"type": "import_series", "series": s.key.to_string(),
                       "rows": s.stored(), "replaced": s.report.replaced,
                       "first": s.first.map(|t| t.as_ns()), "last": s.last.map(|t| t.as_ns())})
            );
        }
        println!(
            "{}",
            json!({"type": "import", "series": series.len(), "read": checker.read,
                   "rows": stored, "replaced": replaced, "skipped": checker.skipped,
                   "warnings": checker.warnings, "seconds": secs, "rows_per_second": rate})
        );
    } else {
        for s in &series {
            let span = match (s.first, s.last) {
                (Some(a), Some(b)) => {
                    format!(" from {} to {}", table::when(a, tz), table::when(b, tz))
                }
                _ => String::new(),
            };
            eprintln!(
                "imported {} rows into {}{span} ({} replaced)",
                s.stored(),
                s.key,
                s.report.replaced
            );
        }
        eprintln!(
            "{} read, {stored} stored in {} series, {replaced} replaced, {} skipped, {} warnings, {secs:.2} s ({} rows/s)",
            checker.read,
            series.len(),
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

/// What an import did to one series.
struct Imported {
    key: tickvault::SeriesKey,
    report: tickvault::StagedSeries,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl Imported {
    /// Rows of the file stored (a time repeated in the file counts once).
    fn stored(&self) -> u64 {
        let r = &self.report;
        r.rows - r.repeated_in_batch - r.repeated_across
    }
}

/// Streams the file into one staged save of every series it holds: batches are parsed and
/// written as they come (bounded memory), and the store changes only if every row is good (one
/// commit at the end). A time repeated across batches is a warning (an error with --strict),
/// like one repeated within a batch.
fn import_as<C: Columns>(
    db: &tickvault::Engine,
    file: &std::path::Path,
    reader: &time::ReadOptions,
    format: table::FileFormat,
    checker: &mut table::Checker,
) -> Result<Vec<Imported>> {
    // Per series: first and last time.
    let mut spans: Vec<(tickvault::SeriesKey, Timestamp, Timestamp)> = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    let strict = checker.strict();
    let saved = db.save_staged_many::<C>(|sink| {
        let mut each = |key: tickvault::SeriesKey, cols: C| -> Result<()> {
            let t = cols.datetimes();
            if let (Some(&lo), Some(&hi)) = (t.iter().min(), t.iter().max()) {
                match spans.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, first, last)) => {
                        *first = (*first).min(lo);
                        *last = (*last).max(hi);
                    }
                    None => spans.push((key.clone(), lo, hi)),
                }
            }
            let report = sink(&key, cols)?;
            if strict && report.repeated_across > 0 {
                bail!(
                    "{}: {key}: a time repeated in an earlier part of the file (--strict)",
                    file.display()
                );
            }
            Ok(())
        };
        table::read_batches::<C>(file, reader, format, checker, &mut each).map_err(|e| {
            let engine = tickvault::Error::InvalidArgument(format!("{e:#}"));
            failure = Some(e);
            engine
        })
    });
    let report = match saved {
        Ok(report) => report,
        Err(_) if failure.is_some() => {
            return Err(failure
                .take()
                .unwrap_or_else(|| anyhow::anyhow!("import failed")))
        }
        Err(e) => return Err(e.into()),
    };
    let repeated: u64 = report.iter().map(|(_, r)| r.repeated_across).sum();
    if repeated > 0 {
        *checker.warnings.entry("repeated time").or_default() += repeated;
    }
    Ok(report
        .into_iter()
        .map(|(key, report)| {
            let span = spans.iter().find(|(k, _, _)| *k == key);
            Imported {
                first: span.map(|s| s.1),
                last: span.map(|s| s.2),
                key,
                report,
            }
        })
        .collect())
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
