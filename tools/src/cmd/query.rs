//! Read-only verbs: `info`, `overview`, `load`, `export`.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use serde_json::json;
use tickvault::{
    BarColumns, Columns, Database, Engine, SeriesKey, SeriesKind, TickColumns, Timestamp,
};

use super::{human_bytes, open_read, series_key};
use crate::cli::{Cli, ExportArgs, LoadArgs, LoadFormat, OverviewArgs, RangeArgs, StatsArgs};
use crate::{table, time};

pub fn info(cli: &Cli) -> Result<()> {
    let info = open_read(cli)?.info()?;
    let rows = info.bar_rows + info.tick_rows;
    if cli.json {
        println!(
            "{}",
            json!({"type": "info", "path": info.root.display().to_string(), "bar_series": info.bar_series,
                   "tick_series": info.tick_series, "bar_rows": info.bar_rows, "tick_rows": info.tick_rows,
                   "segments": info.segments, "segment_bytes": info.segment_bytes})
        );
    } else {
        println!("store        {}", info.root.display());
        println!("bar series   {} ({} bars)", info.bar_series, info.bar_rows);
        println!(
            "tick series  {} ({} ticks)",
            info.tick_series, info.tick_rows
        );
        println!(
            "segments     {} ({})",
            info.segments,
            human_bytes(info.segment_bytes)
        );
        if rows > 0 {
            println!(
                "bytes/row    {:.1}",
                info.segment_bytes as f64 / rows as f64
            );
        }
    }
    Ok(())
}

/// Prints the overview of `db` (used by `overview` and `demo`).
pub fn print_overview(
    db: &Engine,
    bars: bool,
    ticks: bool,
    symbol: Option<&str>,
    json: bool,
    tz: chrono_tz::Tz,
) -> Result<()> {
    let mut rows: Vec<(String, String, String, u64, Timestamp, Timestamp)> = Vec::new();
    if bars {
        for o in db.get_bar_overview()? {
            rows.push((
                o.symbol.to_string(),
                o.exchange.to_string(),
                o.interval.to_string(),
                o.count,
                o.start,
                o.end,
            ));
        }
    }
    if ticks {
        for o in db.get_tick_overview()? {
            rows.push((
                o.symbol.to_string(),
                o.exchange.to_string(),
                "tick".into(),
                o.count,
                o.start,
                o.end,
            ));
        }
    }
    rows.retain(|r| symbol.is_none_or(|p| super::migrate::glob(p, &r.0)));
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        for (symbol, exchange, interval, count, start, end) in rows {
            let v = json!({"type": "overview", "symbol": symbol, "exchange": exchange, "interval": interval,
                           "count": count, "start": time::format(start, tz), "end": time::format(end, tz)});
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let w = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "{:<w$}  {:<8}  {:<8}  {:>12}  {:<25}  {:<25}",
        "symbol", "exchange", "interval", "count", "start", "end"
    )?;
    for (symbol, exchange, interval, count, start, end) in rows {
        writeln!(
            out,
            "{symbol:<w$}  {exchange:<8}  {interval:<8}  {count:>12}  {:<25}  {:<25}",
            time::format(start, tz),
            time::format(end, tz)
        )?;
    }
    Ok(())
}

pub fn overview(cli: &Cli, a: &OverviewArgs) -> Result<()> {
    let db = open_read(cli)?;
    let tz = time::zone(a.tz.as_deref())?;
    print_overview(&db, !a.ticks, !a.bars, a.symbol.as_deref(), cli.json, tz)
}

/// The inclusive range and print zone of `--start/--end/--tz`.
fn range(a: &RangeArgs) -> Result<(Timestamp, Timestamp, chrono_tz::Tz)> {
    let tz = time::zone(a.tz.as_deref())?;
    let start = a
        .start
        .as_deref()
        .map(|s| time::parse(s, tz).context("--start"))
        .transpose()?;
    let end = a
        .end
        .as_deref()
        .map(|s| time::parse(s, tz).context("--end"))
        .transpose()?;
    Ok((
        start.unwrap_or(Timestamp::MIN),
        end.unwrap_or(Timestamp::MAX),
        tz,
    ))
}

/// Streams the rows of `[start, end]` through `fw` in scan batches (bounded memory); returns
/// the count.
fn stream_rows<C: Columns, W: Write + Send>(
    db: &Engine,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
    tz: chrono_tz::Tz,
    mut fw: table::FileWriter<W>,
    progress: &indicatif::ProgressBar,
) -> Result<(u64, W)> {
    let mut n = 0u64;
    for batch in db.scan::<C>(key, start, end, table::batch_rows(C::KIND))? {
        let batch = batch?;
        n += batch.len() as u64;
        progress.inc(batch.len() as u64);
        fw.write(key, &batch, tz)?;
    }
    Ok((n, fw.finish::<C>(key, tz)?))
}

#[allow(clippy::too_many_arguments)]
fn stream_any<W: Write + Send>(
    db: &Engine,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
    tz: chrono_tz::Tz,
    out: W,
    format: table::FileFormat,
    progress: &indicatif::ProgressBar,
) -> Result<(u64, W)> {
    match key.kind() {
        SeriesKind::Bar => {
            let fw = table::FileWriter::new::<BarColumns>(out, key, format)?;
            stream_rows::<BarColumns, W>(db, key, start, end, tz, fw, progress)
        }
        SeriesKind::Tick => {
            let fw = table::FileWriter::new::<TickColumns>(out, key, format)?;
            stream_rows::<TickColumns, W>(db, key, start, end, tz, fw, progress)
        }
    }
}

pub fn load(cli: &Cli, a: &LoadArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let (start, end, tz) = range(&a.range)?;
    let db = open_read(cli)?;
    let format = a.format.unwrap_or(if cli.json {
        LoadFormat::Jsonl
    } else {
        LoadFormat::Csv
    });
    if format != LoadFormat::Table && a.columns.is_none() && a.limit.is_none() {
        // Every column of every row: the export writers, streamed.
        // `Stdout` (not its lock) is `Send`, as the Parquet writer needs of any output.
        let out = BufWriter::with_capacity(1 << 16, std::io::stdout());
        let file_format = match format {
            LoadFormat::Jsonl => table::FileFormat::Jsonl,
            _ => table::FileFormat::Csv,
        };
        let (_, mut out) = stream_any(
            &db,
            &key,
            start,
            end,
            tz,
            out,
            file_format,
            &indicatif::ProgressBar::hidden(),
        )?;
        out.flush()?;
        return Ok(());
    }
    match key.kind() {
        SeriesKind::Bar => load_some::<BarColumns>(&db, &key, start, end, tz, a, format),
        SeriesKind::Tick => load_some::<TickColumns>(&db, &key, start, end, tz, a, format),
    }
}

/// `load` with chosen columns, a row limit or as a table.
fn load_some<C: Columns>(
    db: &Engine,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
    tz: chrono_tz::Tz,
    a: &LoadArgs,
    format: LoadFormat,
) -> Result<()> {
    let mut names: Vec<String> = vec!["symbol".into(), "exchange".into()];
    if C::KIND == SeriesKind::Bar {
        names.push("interval".into());
    }
    names.extend(
        C::schema()
            .iter()
            .map(|s| table::csv_name(s.name).to_string()),
    );
    let chosen: Vec<usize> = match &a.columns {
        None => (0..names.len()).collect(),
        Some(cols) => cols
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(c.trim()))
                    .ok_or_else(|| {
                        anyhow::anyhow!("no column {c:?} (one of: {})", names.join(", "))
                    })
            })
            .collect::<Result<_>>()?,
    };
    let fixed = names.len() - C::schema().len();
    let limit = a.limit.unwrap_or(u64::MAX);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut csv_out =
        (format == LoadFormat::Csv).then(|| csv::Writer::from_writer(std::io::stdout()));
    let mut table_rows: Vec<Vec<String>> = Vec::new();
    if let Some(w) = csv_out.as_mut() {
        w.write_record(chosen.iter().map(|&i| &names[i]))?;
    }
    let mut printed = 0u64;
    'scan: for batch in db.scan::<C>(key, start, end, table::batch_rows(C::KIND))? {
        let batch = batch?;
        let refs = batch.refs();
        for r in 0..batch.len() {
            if printed >= limit {
                break 'scan;
            }
            let text = |i: usize| -> String {
                match i {
                    0 => key.symbol().to_string(),
                    1 => key.exchange().to_string(),
                    2 if fixed == 3 => key.interval().to_string(),
                    i => table::cell(&refs[i - fixed], r, tz),
                }
            };
            match format {
                LoadFormat::Csv => {
                    if let Some(w) = csv_out.as_mut() {
                        w.write_record(chosen.iter().map(|&i| text(i)))?;
                    }
                }
                LoadFormat::Jsonl => {
                    let mut obj = serde_json::Map::new();
                    obj.insert(
                        "type".into(),
                        if fixed == 3 { "bar" } else { "tick" }.into(),
                    );
                    for &i in &chosen {
                        let v = match refs.get(i.wrapping_sub(fixed)) {
                            Some(tickvault::codec::ColumnRef::F64(v)) if i >= fixed => json!(v[r]),
                            _ => text(i).into(),
                        };
                        obj.insert(names[i].clone(), v);
                    }
                    serde_json::to_writer(&mut out, &obj)?;
                    out.write_all(b"\n")?;
                }
                LoadFormat::Table => table_rows.push(chosen.iter().map(|&i| text(i)).collect()),
            }
            printed += 1;
        }
    }
    if let Some(mut w) = csv_out {
        w.flush()?;
    }
    if format == LoadFormat::Table {
        let header: Vec<String> = chosen.iter().map(|&i| names[i].clone()).collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                table_rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in std::iter::once(&header).chain(&table_rows) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            writeln!(out, "{}", line.join("  ").trim_end())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A file name for a series: `SYMBOL.EXCHANGE.INTERVAL.ext`, with characters that file systems
/// or shells treat specially percent-encoded.
fn series_file_name(key: &SeriesKey, ext: &str) -> String {
    let mut symbol = String::new();
    for (i, c) in key.symbol().chars().enumerate() {
        if c.is_control() || "/\\:*?\"<>|%".contains(c) || (i == 0 && c == '.') {
            for b in c.to_string().bytes() {
                symbol.push_str(&format!("%{b:02X}"));
            }
        } else {
            symbol.push(c);
        }
    }
    format!("{symbol}.{}.{}.{ext}", key.exchange(), key.interval())
}

/// `export --all DIR`: every selected series into its own file, one series per core at a time,
/// each streamed in batches (memory: a batch per worker).
fn export_all(cli: &Cli, a: &ExportArgs) -> Result<()> {
    use rayon::prelude::*;
    use tickvault::Database;
    let (start, end, tz) = range(&a.range)?;
    let format = a.format.unwrap_or(table::FileFormat::Csv);
    let ext = match format {
        table::FileFormat::Csv => "csv",
        table::FileFormat::Json => "json",
        table::FileFormat::Jsonl => "jsonl",
        table::FileFormat::Parquet => "parquet",
        table::FileFormat::Xlsx => "xlsx",
    };
    let db = open_read(cli)?;
    let exchange = a.exchange.as_deref().map(table::exchange).transpose()?;
    let mut keys: Vec<SeriesKey> = Vec::new();
    if !a.ticks {
        for o in db.get_bar_overview()? {
            if a.interval
                .as_deref()
                .is_none_or(|i| i == o.interval.as_str())
            {
                keys.push(SeriesKey::bar(&o.symbol, o.exchange, o.interval)?);
            }
        }
    }
    if a.ticks || a.interval.is_none() {
        for o in db.get_tick_overview()? {
            keys.push(SeriesKey::tick(&o.symbol, o.exchange)?);
        }
    }
    keys.retain(|k| {
        a.symbol
            .as_deref()
            .is_none_or(|p| super::migrate::glob(p, k.symbol()))
            && exchange.is_none_or(|e| e == k.exchange())
    });
    std::fs::create_dir_all(&a.file)
        .with_context(|| format!("cannot create {}", a.file.display()))?;
    let bar = cli.progress_bar(keys.len() as u64, "series");
    let results: Vec<(SeriesKey, Result<u64>)> = keys
        .par_iter()
        .map(|key| {
            let path = a.file.join(series_file_name(key, ext));
            let r = export_one(
                &db,
                key,
                start,
                end,
                tz,
                &path,
                format,
                &indicatif::ProgressBar::hidden(),
            );
            bar.inc(1);
            (key.clone(), r)
        })
        .collect();
    bar.finish_and_clear();
    let mut failed = 0;
    let mut total = 0;
    for (key, r) in results {
        match r {
            Ok(n) => {
                total += n;
                if cli.json {
                    println!(
                        "{}",
                        json!({"type": "export", "series": key.to_string(), "rows": n})
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{key}: {e:#}");
            }
        }
    }
    if !cli.json {
        eprintln!(
            "exported {total} rows of {} series to {}",
            keys.len() - failed,
            a.file.display()
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} series could not be exported");
    }
    Ok(())
}

/// Streams one series into `path` (through a temporary file renamed at the end).
#[allow(clippy::too_many_arguments)]
fn export_one(
    db: &Engine,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
    tz: chrono_tz::Tz,
    path: &std::path::Path,
    format: table::FileFormat,
    progress: &indicatif::ProgressBar,
) -> Result<u64> {
    if format == table::FileFormat::Xlsx && start == Timestamp::MIN && end == Timestamp::MAX {
        // Refuse a whole series too long for a sheet before writing anything.
        use tickvault::Database;
        let count = match key.kind() {
            SeriesKind::Bar => db
                .get_bar_overview()?
                .iter()
                .find(|o| {
                    *o.symbol == **key.symbol()
                        && o.exchange == key.exchange()
                        && o.interval == key.interval()
                })
                .map_or(0, |o| o.count),
            SeriesKind::Tick => db
                .get_tick_overview()?
                .iter()
                .find(|o| *o.symbol == **key.symbol() && o.exchange == key.exchange())
                .map_or(0, |o| o.count),
        };
        if count > crate::xlsx::MAX_ROWS {
            anyhow::bail!(
                "an Excel sheet holds at most {} rows and {key} has {count}: narrow it with \
                 --start/--end, or export CSV or Parquet",
                crate::xlsx::MAX_ROWS
            );
        }
    }
    let tmp = path.with_extension("tickvault-partial");
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = stream_any(
        db,
        key,
        start,
        end,
        tz,
        BufWriter::new(file),
        format,
        progress,
    )
    .and_then(|(n, mut w)| {
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(n)
    });
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

pub fn export(cli: &Cli, a: &ExportArgs) -> Result<()> {
    if a.all {
        return export_all(cli, a);
    }
    let key = series_key(&crate::cli::SeriesArgs {
        symbol: a.symbol.clone().unwrap_or_default(),
        exchange: a.exchange.clone().unwrap_or_default(),
        interval: a.interval.clone(),
        ticks: a.ticks,
    })?;
    let (start, end, tz) = range(&a.range)?;
    let format = table::FileFormat::of(&a.file, a.format)?;
    let db = open_read(cli)?;
    // Written beside the target and renamed, so a failed export leaves no partial file.
    let progress = cli.progress_counter("exporting", "rows");
    let n = export_one(&db, &key, start, end, tz, &a.file, format, &progress)?;
    progress.finish_and_clear();
    if cli.json {
        println!(
            "{}",
            json!({"type": "export", "series": key.to_string(), "rows": n, "file": a.file.display().to_string()})
        );
    } else {
        eprintln!("exported {n} rows of {key} to {}", a.file.display());
    }
    Ok(())
}

pub fn stats(cli: &Cli, a: &StatsArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let (start, end, tz) = range(&a.range)?;
    let db = open_read(cli)?;
    // Whole blocks from their footer statistics, cut ones decoded: memory stays at one block.
    let acc = match key.kind() {
        SeriesKind::Bar => db.range_stats::<BarColumns>(&key, start, end)?,
        SeriesKind::Tick => db.range_stats::<TickColumns>(&key, start, end)?,
    };
    let (count, first, last) = (acc.count, acc.first, acc.last);
    let price = (acc.count > 0).then(|| {
        let mut p = json!({"open": acc.open, "high": acc.high, "low": acc.low, "close": acc.close,
                           "volume": acc.volume, "mean_close": acc.mean_close()});
        if key.kind() == SeriesKind::Bar {
            p["turnover"] = json!(acc.turnover);
        }
        p
    });
    let mut v = json!({"type": "stats", "series": key.to_string(), "count": count,
                       "first": first.map(|t| time::format(t, tz)), "last": last.map(|t| time::format(t, tz))});
    if let (Some(obj), Some(serde_json::Value::Object(p))) = (v.as_object_mut(), price) {
        obj.extend(p);
    }
    if cli.json {
        println!("{v}");
    } else if let Some(obj) = v.as_object() {
        for (k, val) in obj.iter().filter(|(k, _)| *k != "type") {
            println!(
                "{k:<12} {}",
                val.as_str().map_or_else(|| val.to_string(), str::to_string)
            );
        }
    }
    Ok(())
}
