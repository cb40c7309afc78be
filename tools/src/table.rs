//! Rows as text: reading CSV into columns and writing columns as CSV or JSON Lines, for bars
//! and ticks alike, driven by each kind's column schema.
//!
//! CSV columns are vn.py's field names, except that bar prices use the Data Manager's short
//! names (`open`, `high`, `low`, `close`); the long names are accepted on import too.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use chrono_tz::Tz;
use tickvault::codec::{ColumnMut, ColumnRef};
use tickvault::{Columns, Exchange, SeriesKey, SeriesKind, Timestamp};

use crate::time;

/// The CSV name of a schema column.
pub fn csv_name(field: &str) -> &str {
    match field {
        "open_price" | "high_price" | "low_price" | "close_price" => {
            field.trim_end_matches("_price")
        }
        other => other,
    }
}

/// Whether a column must be present in an imported file.
fn required(kind: SeriesKind, field: &str) -> bool {
    match kind {
        SeriesKind::Bar => matches!(
            field,
            "datetime" | "open_price" | "high_price" | "low_price" | "close_price" | "volume"
        ),
        SeriesKind::Tick => matches!(field, "datetime" | "last_price"),
    }
}

/// Reads a CSV file with a header into columns. Naive times are read in `tz`. Any bad value
/// fails the whole file, naming the line and column.
pub fn read_csv<C: Columns>(path: &Path, tz: Tz) -> Result<C> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let find = |field: &str| {
        let short = csv_name(field);
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(field) || h.eq_ignore_ascii_case(short))
    };
    let mut sources = Vec::new();
    for spec in C::schema() {
        let idx = find(spec.name);
        if idx.is_none() && required(C::KIND, spec.name) {
            bail!(
                "{}: no column {:?} in the header (found: {})",
                path.display(),
                csv_name(spec.name),
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        }
        sources.push(idx);
    }
    let mut records = Vec::new();
    for rec in rdr.records() {
        records.push(rec.with_context(|| format!("{}: malformed CSV", path.display()))?);
    }
    let mut cols = C::default();
    cols.resize(records.len());
    for ((spec, src), col) in C::schema().iter().zip(&sources).zip(cols.muts()) {
        let Some(src) = *src else { continue };
        let value = |i: usize| records.get(i).and_then(|r| r.get(src)).unwrap_or("");
        let at = |i: usize, what: String| {
            let line = records
                .get(i)
                .and_then(|r| r.position())
                .map_or(0, |p| p.line());
            anyhow!(
                "{} line {line}: column {:?}: {what}",
                path.display(),
                csv_name(spec.name)
            )
        };
        match col {
            ColumnMut::Time(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = time::parse(value(i), tz).map_err(|e| at(i, e.to_string()))?;
                }
            }
            ColumnMut::OptTime(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    let v = value(i);
                    *slot = if v.is_empty() {
                        None
                    } else {
                        Some(time::parse(v, tz).map_err(|e| at(i, e.to_string()))?)
                    };
                }
            }
            ColumnMut::F64(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    let v = value(i);
                    *slot = if v.is_empty() && !required(C::KIND, spec.name) {
                        0.0
                    } else {
                        v.parse()
                            .map_err(|_| at(i, format!("cannot read {v:?} as a number")))?
                    };
                }
            }
            ColumnMut::Str(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = Arc::from(value(i));
                }
            }
        }
    }
    Ok(cols)
}

fn cell(col: &ColumnRef<'_>, i: usize, tz: Tz) -> String {
    match col {
        ColumnRef::Time(v) => v.get(i).map(|t| time::format(*t, tz)).unwrap_or_default(),
        ColumnRef::OptTime(v) => v
            .get(i)
            .copied()
            .flatten()
            .map(|t| time::format(t, tz))
            .unwrap_or_default(),
        // Rust prints the shortest text that parses back to the same f64.
        ColumnRef::F64(v) => v.get(i).map(|x| x.to_string()).unwrap_or_default(),
        ColumnRef::Str(v) => v.get(i).map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Writes columns as CSV: `symbol, exchange`, then the schema's columns.
pub fn write_csv<C: Columns>(
    out: impl Write,
    key: &SeriesKey,
    cols: &C,
    tz: Tz,
    header: bool,
) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if header {
        let mut names = vec!["symbol", "exchange"];
        names.extend(C::schema().iter().map(|s| csv_name(s.name)));
        w.write_record(&names)?;
    }
    let refs = cols.refs();
    let (symbol, exchange) = (key.symbol().to_string(), key.exchange().to_string());
    let mut row = Vec::with_capacity(refs.len() + 2);
    for i in 0..cols.len() {
        row.clear();
        row.push(symbol.clone());
        row.push(exchange.clone());
        row.extend(refs.iter().map(|c| cell(c, i, tz)));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes columns as JSON Lines, one object per row with a `type` field.
pub fn write_jsonl<C: Columns>(
    mut out: impl Write,
    key: &SeriesKey,
    cols: &C,
    tz: Tz,
) -> Result<()> {
    let refs = cols.refs();
    let kind = match C::KIND {
        SeriesKind::Bar => "bar",
        SeriesKind::Tick => "tick",
    };
    for i in 0..cols.len() {
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), kind.into());
        obj.insert("symbol".into(), key.symbol().to_string().into());
        obj.insert("exchange".into(), key.exchange().as_str().into());
        if C::KIND == SeriesKind::Bar {
            obj.insert("interval".into(), key.interval().as_str().into());
        }
        for (spec, col) in C::schema().iter().zip(&refs) {
            let v = match col {
                ColumnRef::F64(v) => v
                    .get(i)
                    .map_or(serde_json::Value::Null, |x| serde_json::json!(x)),
                ColumnRef::OptTime(v) if v.get(i).copied().flatten().is_none() => {
                    serde_json::Value::Null
                }
                other => cell(other, i, tz).into(),
            };
            obj.insert(spec.name.into(), v);
        }
        serde_json::to_writer(&mut out, &obj)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Parses an exchange code, with the list of valid ones on error.
pub fn exchange(s: &str) -> Result<Exchange> {
    s.parse().map_err(|_| {
        let all: Vec<_> = Exchange::ALL.iter().map(|e| e.as_str()).collect();
        anyhow!("unknown exchange {s:?}; one of: {}", all.join(" "))
    })
}

/// Formats a timestamp for messages.
pub fn when(ts: Timestamp, tz: Tz) -> String {
    time::format(ts, tz)
}
