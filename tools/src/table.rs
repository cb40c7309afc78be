//! Rows as text: reading CSV into columns and writing columns as CSV or JSON Lines, for bars
//! and ticks alike, driven by each kind's column schema.
//!
//! CSV columns are vn.py's field names, except that bar prices use the Data Manager's short
//! names (`open`, `high`, `low`, `close`); the long names are accepted on import too.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chrono_tz::Tz;
use tickvault::codec::{ColumnMut, ColumnRef};
use tickvault::{Columns, Exchange, Interval, SeriesKey, SeriesKind, Timestamp};

use crate::time::{self, ReadOptions};

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
pub fn required(kind: SeriesKind, field: &str) -> bool {
    match kind {
        SeriesKind::Bar => matches!(
            field,
            "datetime" | "open_price" | "high_price" | "low_price" | "close_price" | "volume"
        ),
        SeriesKind::Tick => matches!(field, "datetime" | "last_price"),
    }
}

/// One input row: its line number and, per schema column, the text of its cell if present.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Line number in the input (1-based; the header is line 1 of a CSV file).
    pub line: u64,
    /// One cell per schema column, `None` when the input has no such column or value.
    pub cells: Vec<Option<String>>,
    /// The cells of the columns that name the row's series ([`SERIES_COLUMNS`]).
    pub series: SeriesCells,
}

/// Columns of an imported file that name each row's series, so that one file can hold many:
/// `symbol`, `exchange`, `interval`, and `vt_symbol` (vn.py's `SYMBOL.EXCHANGE`).
pub const SERIES_COLUMNS: [&str; 4] = ["symbol", "exchange", "interval", "vt_symbol"];

/// A row's cells in the [`SERIES_COLUMNS`], `None` where the file has no such column.
pub type SeriesCells = [Option<String>; 4];

/// For each of the [`SERIES_COLUMNS`], the index of the column holding it, if any.
pub fn series_layout<'a>(
    headers: impl Iterator<Item = &'a str> + Clone,
    opts: &ReadOptions,
) -> [Option<usize>; 4] {
    SERIES_COLUMNS.map(|name| headers.clone().position(|h| opts.holds(name, name, h)))
}

/// Where the rows of an import go: the series the command line names, completed row by row
/// by the file's series columns (an option, when given, wins over a column, so that an export
/// imports back under another name).
#[derive(Debug, Clone)]
pub struct Route {
    /// Bars or ticks.
    pub kind: SeriesKind,
    /// `--symbol`.
    pub symbol: Option<String>,
    /// `--exchange`.
    pub exchange: Option<Exchange>,
    /// `--interval` (bars).
    pub interval: Option<Interval>,
}

impl Route {
    /// The series of a row with these cells, or the failing column and why.
    pub fn key(
        &self,
        cells: &SeriesCells,
    ) -> std::result::Result<SeriesKey, (&'static str, String)> {
        let text = |i: usize| {
            cells
                .get(i)
                .and_then(|c| c.as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let (mut symbol, mut exchange) = (text(0), text(1));
        if self.symbol.is_none() || self.exchange.is_none() {
            if let Some(vt) = text(3) {
                let (s, e) = vt
                    .rsplit_once('.')
                    .ok_or_else(|| ("vt_symbol", format!("{vt:?} is not SYMBOL.EXCHANGE")))?;
                symbol = symbol.or(Some(s));
                exchange = exchange.or(Some(e));
            }
        }
        let symbol = self.symbol.as_deref().or(symbol).ok_or((
            "symbol",
            "no symbol: give --symbol or a symbol column".to_string(),
        ))?;
        let exchange = match (self.exchange, exchange) {
            (Some(e), _) => e,
            (None, Some(e)) => self::exchange(e).map_err(|e| ("exchange", e.to_string()))?,
            (None, None) => {
                return Err((
                    "exchange",
                    "no exchange: give --exchange or an exchange column".to_string(),
                ))
            }
        };
        let key = match self.kind {
            SeriesKind::Tick => SeriesKey::tick(symbol, exchange),
            SeriesKind::Bar => {
                let interval = match (self.interval, text(2)) {
                    (Some(i), _) => i,
                    (None, Some(i)) => interval(i).map_err(|e| ("interval", e.to_string()))?,
                    (None, None) => {
                        return Err((
                            "interval",
                            "no interval: give --interval, --ticks or an interval column"
                                .to_string(),
                        ))
                    }
                };
                SeriesKey::bar(symbol, exchange, interval)
            }
        };
        key.map_err(|e| ("symbol", e.to_string()))
    }
}

/// A vn.py interval from its value (`1m`, `1h`, `d`, `w`).
pub fn interval(s: &str) -> Result<Interval> {
    s.parse()
        .map_err(|_| anyhow!("unknown interval {s:?}; one of: 1m 1h d w"))
}

/// For each schema column of `C`, the index of the CSV column holding it; errors name a
/// missing required column.
pub fn csv_layout<C: Columns>(
    headers: &csv::StringRecord,
    opts: &ReadOptions,
    source: &str,
) -> Result<Vec<Option<usize>>> {
    let mut layout = Vec::new();
    for spec in C::schema() {
        let short = csv_name(spec.name);
        let idx = headers.iter().position(|h| opts.holds(spec.name, short, h));
        if idx.is_none() && required(C::KIND, spec.name) {
            bail!(
                "{source}: no column {short:?} in the header (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        }
        layout.push(idx);
    }
    Ok(layout)
}

/// A CSV record as a raw row.
pub fn csv_row(
    rec: &csv::StringRecord,
    layout: &[Option<usize>],
    series: &[Option<usize>; 4],
) -> RawRow {
    let cell = |i: &Option<usize>| i.and_then(|i| rec.get(i)).map(str::to_string);
    RawRow {
        line: rec.position().map_or(0, |p| p.line()),
        cells: layout.iter().map(cell).collect(),
        series: series.each_ref().map(cell),
    }
}

/// A JSON object (one line of JSON Lines) as a raw row of `C`.
pub fn json_row<C: Columns>(
    text: &str,
    line: u64,
    opts: &ReadOptions,
    source: &str,
) -> Result<RawRow> {
    let value: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{source} line {line}: not JSON"))?;
    json_value_row::<C>(&value, line, opts, source)
}

/// A parsed JSON object as a raw row of `C`.
pub fn json_value_row<C: Columns>(
    value: &serde_json::Value,
    line: u64,
    opts: &ReadOptions,
    source: &str,
) -> Result<RawRow> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("{source} line {line}: not a JSON object"))?;
    let cell = |name: &str, short: &str| {
        let v = match obj.get(name).or_else(|| obj.get(short)) {
            Some(v) if opts.map.is_empty() => v,
            _ => obj
                .iter()
                .find(|(k, _)| opts.holds(name, short, k))
                .map(|(_, v)| v)?,
        };
        match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    };
    let cells = C::schema()
        .iter()
        .map(|spec| cell(spec.name, csv_name(spec.name)))
        .collect();
    let series = SERIES_COLUMNS.map(|name| cell(name, name));
    Ok(RawRow {
        line,
        cells,
        series,
    })
}

/// Parses raw rows into columns, column by column. Naive times are read in `tz`. Any bad value
/// fails the whole batch, naming the source, line and column.
pub fn fill<C: Columns>(rows: &[RawRow], times: &ReadOptions, source: &str) -> Result<C> {
    let mut cols = C::default();
    cols.resize(rows.len());
    for (c, (spec, col)) in C::schema().iter().zip(cols.muts()).enumerate() {
        let value = |i: usize| {
            rows.get(i)
                .and_then(|r| r.cells.get(c))
                .and_then(|v| v.as_deref())
        };
        let at = |i: usize, what: String| {
            let line = rows.get(i).map_or(0, |r| r.line);
            anyhow!(
                "{source} line {line}: column {:?}: {what}",
                csv_name(spec.name)
            )
        };
        let needed = required(C::KIND, spec.name);
        match col {
            ColumnMut::Time(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    let v = value(i).ok_or_else(|| at(i, "no value".into()))?;
                    *slot = times.read(v).map_err(|e| at(i, e.to_string()))?;
                }
            }
            ColumnMut::OptTime(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = match value(i).filter(|v| !v.is_empty()) {
                        None => None,
                        Some(v) => Some(times.read(v).map_err(|e| at(i, e.to_string()))?),
                    };
                }
            }
            ColumnMut::F64(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = match value(i).filter(|v| !v.is_empty()) {
                        None if !needed => 0.0,
                        None => return Err(at(i, "no value".into())),
                        Some(v) => v
                            .parse()
                            .map_err(|_| at(i, format!("cannot read {v:?} as a number")))?,
                    };
                }
            }
            ColumnMut::Str(out) => {
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = tickvault::SmolStr::from(value(i).unwrap_or(""));
                }
            }
        }
    }
    Ok(cols)
}

/// A file format for import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// JSON Lines: one object per line.
    Jsonl,
    /// Apache Parquet (zstd), timestamps as `Timestamp(ns, "UTC")`.
    Parquet,
    /// An Excel workbook (.xlsx; .xls and .ods are read too).
    Xlsx,
}

impl FileFormat {
    /// The format `given`, else the one the file's extension names.
    pub fn of(path: &Path, given: Option<FileFormat>) -> Result<FileFormat> {
        if let Some(f) = given {
            return Ok(f);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") | Some("txt") => Ok(FileFormat::Csv),
            Some("json") => Ok(FileFormat::Json),
            Some("jsonl") | Some("ndjson") => Ok(FileFormat::Jsonl),
            Some("parquet") | Some("pq") => Ok(FileFormat::Parquet),
            Some("xlsx") | Some("xlsm") | Some("xls") | Some("ods") => Ok(FileFormat::Xlsx),
            _ => bail!(
                "cannot tell the format of {} from its extension; give --format csv|json|jsonl|parquet|xlsx",
                path.display()
            ),
        }
    }
}

/// Rows per batch of a streamed import: memory holds one batch's text and columns.
pub fn batch_rows(kind: SeriesKind) -> usize {
    match kind {
        SeriesKind::Bar => 65_536,
        SeriesKind::Tick => 16_384,
    }
}

/// What an import does with a row it cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Fail the import; nothing is written.
    Abort,
    /// Skip the row, count it, and list it in --rejects.
    Skip,
}

/// Turns raw rows into columns under the import's policy: bad rows abort or are skipped (and
/// written to the rejects file), and rows that parse but look wrong are counted as warnings
/// (errors with `strict`).
#[derive(Debug)]
pub struct Checker {
    on_error: OnError,
    strict: bool,
    /// Where rows go.
    pub route: Route,
    rejects: Option<csv::Writer<std::fs::File>>,
    /// Rows read from the file.
    pub read: u64,
    /// Rows skipped.
    pub skipped: u64,
    /// Warnings by kind.
    pub warnings: std::collections::BTreeMap<&'static str, u64>,
    /// Counts rows read, for a progress display.
    pub progress: indicatif::ProgressBar,
}

impl Checker {
    /// A checker; `rejects` is created (with a `line,error` header) when given.
    pub fn new(
        route: Route,
        on_error: OnError,
        strict: bool,
        rejects: Option<&Path>,
    ) -> Result<Checker> {
        let rejects = match rejects {
            None => None,
            Some(p) => {
                let mut w = csv::Writer::from_path(p)
                    .with_context(|| format!("cannot create {}", p.display()))?;
                w.write_record(["line", "error"])?;
                Some(w)
            }
        };
        Ok(Checker {
            on_error,
            strict,
            route,
            rejects,
            read: 0,
            skipped: 0,
            warnings: Default::default(),
            progress: indicatif::ProgressBar::hidden(),
        })
    }

    /// Whether rows that look wrong are errors.
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Warnings in all.
    pub fn warning_count(&self) -> u64 {
        self.warnings.values().sum()
    }

    /// Finishes the rejects file.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.rejects.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    /// A row that could not even be split into cells: an error, or skipped.
    pub fn reject(&mut self, line: u64, e: anyhow::Error) -> Result<()> {
        if self.on_error == OnError::Abort {
            return Err(e);
        }
        self.read += 1;
        self.skip(line, &e)
    }

    /// Columns of the good rows of a batch, by series.
    pub fn convert<C: Columns>(
        &mut self,
        rows: &[RawRow],
        opts: &ReadOptions,
        source: &str,
    ) -> Result<Vec<(SeriesKey, C)>> {
        self.read += rows.len() as u64;
        self.progress.inc(rows.len() as u64);
        let mut good: Vec<&RawRow> = Vec::new();
        let cols = match fill::<C>(rows, opts, source) {
            Ok(cols) => cols,
            Err(e) if self.on_error == OnError::Abort => return Err(e),
            Err(_) => {
                // Find the bad rows one by one (only batches that have one pay for this).
                let mut kept = Vec::with_capacity(rows.len());
                for row in rows {
                    match fill::<C>(std::slice::from_ref(row), opts, source) {
                        Ok(_) => {
                            kept.push(row.clone());
                            good.push(row);
                        }
                        Err(e) => self.skip(row.line, &e)?,
                    }
                }
                fill::<C>(&kept, opts, source)?
            }
        };
        let row = |i: usize| {
            if good.is_empty() {
                rows.get(i)
            } else {
                good.get(i).copied()
            }
        };
        self.route(
            cols,
            source,
            &|i| row(i).map(|r| &r.series),
            &|i| row(i).map_or(0, |r| r.line),
            "line",
        )
    }

    /// Counts a skipped row and lists it in the rejects file.
    fn skip(&mut self, line: u64, e: &anyhow::Error) -> Result<()> {
        self.skipped += 1;
        if let Some(w) = self.rejects.as_mut() {
            w.write_record([line.to_string(), format!("{e:#}")])?;
        }
        Ok(())
    }

    /// Splits `cols` by series (row `i` names its series in `series(i)`, else the command
    /// line does), failing on or skipping rows whose series cannot be read, and checks each
    /// part. Rows are named as `{source} {unit} {line(i)}` in messages.
    pub fn route<'s, C: Columns>(
        &mut self,
        cols: C,
        source: &str,
        series: &dyn Fn(usize) -> Option<&'s SeriesCells>,
        line: &dyn Fn(usize) -> u64,
        unit: &str,
    ) -> Result<Vec<(SeriesKey, C)>> {
        let n = cols.len();
        let named = (0..n).any(|i| series(i).is_some_and(|c| c.iter().any(Option::is_some)));
        let at = |i: usize| format!("{source} {unit} {}", line(i));
        if !named {
            if n == 0 {
                return Ok(Vec::new());
            }
            let key = self
                .route
                .key(&SeriesCells::default())
                .map_err(|(_, why)| anyhow!("{source}: {why}"))?;
            self.check(&cols, &at)?;
            return Ok(vec![(key, cols)]);
        }
        // Rows by series, in the order first seen.
        let mut parts: Vec<(SeriesKey, Vec<usize>)> = Vec::new();
        let mut last: Option<(&SeriesCells, usize)> = None;
        let none = SeriesCells::default();
        for i in 0..n {
            let cells = series(i).unwrap_or(&none);
            if let Some((prev, part)) = last {
                if prev == cells {
                    if let Some((_, rows)) = parts.get_mut(part) {
                        rows.push(i);
                    }
                    continue;
                }
            }
            match self.route.key(cells) {
                Ok(key) => {
                    let part = match parts.iter().position(|(k, _)| *k == key) {
                        Some(p) => p,
                        None => {
                            parts.push((key, Vec::new()));
                            parts.len() - 1
                        }
                    };
                    if let Some((_, rows)) = parts.get_mut(part) {
                        rows.push(i);
                    }
                    last = Some((cells, part));
                }
                Err((column, why)) => {
                    let e = anyhow!("{}: column {column:?}: {why}", at(i));
                    if self.on_error == OnError::Abort {
                        return Err(e);
                    }
                    self.skip(line(i), &e)?;
                    last = None;
                }
            }
        }
        if let [(key, rows)] = parts.as_slice() {
            if rows.len() == n {
                // One series, no row skipped: the columns as they are.
                self.check(&cols, &at)?;
                return Ok(vec![(key.clone(), cols)]);
            }
        }
        let mut out = Vec::with_capacity(parts.len());
        for (key, rows) in parts {
            let mut part = C::with_capacity(rows.len());
            for &i in &rows {
                part.push_from(&cols, i);
            }
            self.check(&part, &|j| at(rows.get(j).copied().unwrap_or(0)))?;
            out.push((key, part));
        }
        Ok(out)
    }

    /// Counts rows that parse but look wrong: high below low, a negative volume, a price that
    /// is NaN or infinite, a time repeated within the batch. With `strict`, the first is an
    /// error naming `at(row)`.
    pub fn check<C: Columns>(&mut self, cols: &C, at: &dyn Fn(usize) -> String) -> Result<()> {
        let refs = cols.refs();
        let col = |name: &str| {
            C::schema()
                .iter()
                .position(|s| s.name == name)
                .and_then(|i| match refs.get(i) {
                    Some(ColumnRef::F64(v)) => Some(*v),
                    _ => None,
                })
        };
        let mut found: Vec<(&'static str, usize, &str)> = Vec::new();
        if let (Some(high), Some(low)) = (col("high_price"), col("low_price")) {
            if C::KIND == SeriesKind::Bar {
                found.extend(
                    high.iter()
                        .zip(low)
                        .enumerate()
                        .filter(|(_, (h, l))| h < l)
                        .map(|(i, _)| ("high below low", i, "high")),
                );
            }
        }
        if let Some(v) = col("volume") {
            found.extend(
                v.iter()
                    .enumerate()
                    .filter(|(_, x)| **x < 0.0)
                    .map(|(i, _)| ("negative volume", i, "volume")),
            );
        }
        for spec in C::schema().iter().filter(|s| s.name.ends_with("_price")) {
            if let Some(v) = col(spec.name) {
                found.extend(
                    v.iter()
                        .enumerate()
                        .filter(|(_, x)| !x.is_finite())
                        .map(|(i, _)| ("NaN or infinite price", i, csv_name(spec.name))),
                );
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(cols.len());
        for (i, t) in cols.datetimes().iter().enumerate() {
            if !seen.insert(*t) {
                found.push(("repeated time", i, "datetime"));
            }
        }
        if self.strict {
            if let Some((what, i, column)) = found.iter().min_by_key(|(_, i, _)| *i) {
                bail!("{}: column {column:?}: {what} (--strict)", at(*i));
            }
        }
        for (what, _, _) in found {
            *self.warnings.entry(what).or_default() += 1;
        }
        Ok(())
    }
}

/// Reads a file of any supported format in batches of columns of `C`, handing each to `sink`;
/// bad rows abort or are skipped as `checker` says (naming file, line or row, and column).
pub fn read_batches<C: Columns>(
    path: &Path,
    times: &ReadOptions,
    format: FileFormat,
    checker: &mut Checker,
    sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
) -> Result<()> {
    let source = path.display().to_string();
    let rows_per = batch_rows(C::KIND);
    let mut batch: Vec<RawRow> = Vec::with_capacity(rows_per);
    let mut push =
        |row: RawRow, source: &str, batch: &mut Vec<RawRow>, checker: &mut Checker| -> Result<()> {
            batch.push(row);
            if batch.len() >= rows_per {
                send(checker.convert(batch, times, source)?, sink)?;
                batch.clear();
            }
            Ok(())
        };
    match format {
        FileFormat::Parquet => return crate::pq::read_batches(path, times, checker, sink),
        FileFormat::Xlsx => return crate::xlsx::read_batches(path, times, checker, sink),
        FileFormat::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .flexible(true)
                .has_headers(times.columns.is_none())
                .from_path(path)
                .with_context(|| format!("cannot open {source}"))?;
            let headers = match &times.columns {
                Some(names) => csv::StringRecord::from(names.clone()),
                None => rdr
                    .headers()
                    .with_context(|| format!("{source}: cannot read the header"))?
                    .clone(),
            };
            let layout = csv_layout::<C>(&headers, times, &source)?;
            let series = series_layout(headers.iter(), times);
            let mut rec = csv::StringRecord::new();
            let width = headers.len();
            loop {
                match rdr.read_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) if rec.len() != width => {
                        let line = rec.position().map_or(0, |p| p.line());
                        let e = anyhow!(
                            "{source} line {line}: {} fields where the header has {width}",
                            rec.len()
                        );
                        checker.reject(line, e)?;
                    }
                    Ok(true) => push(
                        csv_row(&rec, &layout, &series),
                        &source,
                        &mut batch,
                        checker,
                    )?,
                    Err(e) if e.is_io_error() => {
                        return Err(anyhow!("{source}: cannot read: {e}"));
                    }
                    Err(e) => {
                        // Not UTF-8, say: the reader moves past the record.
                        let line = e.position().map_or(0, |p| p.line());
                        checker
                            .reject(line, anyhow!("{source} line {line}: malformed CSV: {e}"))?;
                    }
                }
            }
        }
        FileFormat::Jsonl => {
            let file =
                std::fs::File::open(path).with_context(|| format!("cannot open {source}"))?;
            for (i, line) in std::io::BufRead::lines(std::io::BufReader::new(file)).enumerate() {
                let line = line.with_context(|| format!("{source} line {}: cannot read", i + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                match json_row::<C>(&line, i as u64 + 1, times, &source) {
                    Ok(row) => push(row, &source, &mut batch, checker)?,
                    Err(e) => checker.reject(i as u64 + 1, e)?,
                }
            }
        }
        FileFormat::Json => {
            let file =
                std::fs::File::open(path).with_context(|| format!("cannot open {source}"))?;
            let element = format!("{source} element");
            let mut n = 0u64;
            let mut failed: Option<anyhow::Error> = None;
            let mut each = |v: serde_json::Value| -> bool {
                n += 1;
                let r = match json_value_row::<C>(&v, n, times, &element) {
                    Ok(row) => push(row, &element, &mut batch, checker),
                    Err(e) => checker.reject(n, e),
                };
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            };
            let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
            let parsed = serde::de::DeserializeSeed::deserialize(JsonArray(&mut each), &mut de);
            if let Some(e) = failed {
                return Err(e);
            }
            parsed.map_err(|e| anyhow!("{source}: not a JSON array of objects: {e}"))?;
            de.end()
                .map_err(|e| anyhow!("{source}: text after the array: {e}"))?;
            if !batch.is_empty() {
                send(checker.convert(&batch, times, &element)?, sink)?;
            }
            return Ok(());
        }
    }
    if !batch.is_empty() {
        send(checker.convert(&batch, times, &source)?, sink)?;
    }
    Ok(())
}

/// Hands each series' part of a batch to `sink`.
pub fn send<C>(
    parts: Vec<(SeriesKey, C)>,
    sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
) -> Result<()> {
    parts
        .into_iter()
        .try_for_each(|(key, cols)| sink(key, cols))
}

/// Streams the elements of a JSON array to a callback, one at a time; the callback returns
/// `false` to stop.
struct JsonArray<'a>(&'a mut dyn FnMut(serde_json::Value) -> bool);

impl<'de> serde::de::DeserializeSeed<'de> for JsonArray<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonArray<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            if !(self.0)(v) {
                // Stop reading; the caller reports why.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// A file being written batch by batch, in any export format.
pub enum FileWriter<W: Write + Send> {
    /// CSV; the header goes before the first row.
    Csv(W, bool),
    /// JSON Lines.
    Jsonl(W),
    /// A JSON array; whether an element has been written.
    Json(W, bool),
    /// Parquet.
    Parquet(Box<crate::pq::Writer<W>>),
    /// An Excel workbook.
    Xlsx(Box<crate::xlsx::Writer<W>>),
}

impl<W: Write + Send> std::fmt::Debug for FileWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileWriter::Csv(..) => "FileWriter::Csv",
            FileWriter::Jsonl(..) => "FileWriter::Jsonl",
            FileWriter::Json(..) => "FileWriter::Json",
            FileWriter::Parquet(..) => "FileWriter::Parquet",
            FileWriter::Xlsx(..) => "FileWriter::Xlsx",
        })
    }
}

impl<W: Write + Send> FileWriter<W> {
    /// Starts a file of series `key` (of kind `C`).
    pub fn new<C: Columns>(mut out: W, key: &SeriesKey, format: FileFormat) -> Result<Self> {
        Ok(match format {
            FileFormat::Csv => FileWriter::Csv(out, false),
            FileFormat::Jsonl => FileWriter::Jsonl(out),
            FileFormat::Json => {
                out.write_all(b"[")?;
                FileWriter::Json(out, false)
            }
            FileFormat::Parquet => {
                FileWriter::Parquet(Box::new(crate::pq::Writer::new::<C>(out, key)?))
            }
            FileFormat::Xlsx => FileWriter::Xlsx(Box::new(crate::xlsx::Writer::new::<C>(out)?)),
        })
    }

    /// Appends rows.
    pub fn write<C: Columns>(&mut self, key: &SeriesKey, cols: &C, tz: Tz) -> Result<()> {
        match self {
            FileWriter::Csv(out, header_done) => {
                write_csv(&mut *out, key, cols, tz, !*header_done)?;
                *header_done = true;
                Ok(())
            }
            FileWriter::Jsonl(out) => write_jsonl(out, key, cols, tz),
            FileWriter::Json(out, started) => {
                let mut lines = Vec::new();
                write_jsonl(&mut lines, key, cols, tz)?;
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if *started {
                        out.write_all(b",\n")?;
                    }
                    out.write_all(line)?;
                    *started = true;
                }
                Ok(())
            }
            FileWriter::Parquet(w) => w.write(cols),
            FileWriter::Xlsx(w) => w.write(key, cols, tz),
        }
    }

    /// Finishes the file; an empty CSV still gets its header.
    pub fn finish<C: Columns>(self, key: &SeriesKey, tz: Tz) -> Result<W> {
        match self {
            FileWriter::Csv(mut out, false) => {
                write_csv(&mut out, key, &C::default(), tz, true)?;
                Ok(out)
            }
            FileWriter::Csv(out, true) | FileWriter::Jsonl(out) => Ok(out),
            FileWriter::Json(mut out, _) => {
                out.write_all(b"]\n")?;
                Ok(out)
            }
            FileWriter::Parquet(w) => w.finish(),
            FileWriter::Xlsx(w) => w.finish(),
        }
    }
}

/// The text of row `i` of a column, as CSV prints it.
pub fn cell(col: &ColumnRef<'_>, i: usize, tz: Tz) -> String {
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
