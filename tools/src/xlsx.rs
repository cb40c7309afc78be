//! Excel workbooks: written with `rust_xlsxwriter` (constant-memory worksheets), read with
//! `calamine` (.xlsx, .xlsm, .xls, .ods).
//!
//! A workbook holds one sheet: a header row with the CSV column names, then one row per bar or
//! tick. Times are Excel datetimes of the wall clock in `--tz` (Excel keeps milliseconds and has
//! no zones; times before 1900 are written as ISO text), numbers are numbers (NaN and infinities,
//! which Excel cannot hold, as the text `NaN`, `inf`, `-inf`). A sheet holds at most 1,048,575
//! data rows: a longer export is refused with a message saying so, and leaves no file.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use calamine::{Data, Reader};
use chrono::Datelike;
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, Workbook};
use tickvault::codec::ColumnRef;
use tickvault::{Columns, SeriesKey, SeriesKind, Timestamp};

use crate::table::{csv_layout, csv_name, send, Checker, RawRow};
use crate::time::ReadOptions;

/// Data rows a worksheet holds (1,048,576 rows, less the header).
pub const MAX_ROWS: u64 = 1_048_575;

/// An Excel workbook being written batch by batch.
pub struct Writer<W: Write + Send> {
    out: W,
    book: Workbook,
    date: Format,
    row: u32,
}

impl<W: Write + Send> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("xlsx::Writer")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

fn xerr(e: rust_xlsxwriter::XlsxError) -> anyhow::Error {
    anyhow!("Excel: {e}")
}

impl<W: Write + Send> Writer<W> {
    /// Starts a workbook for series `key` of kind `C`, with the header row.
    pub fn new<C: Columns>(out: W) -> Result<Self> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet_with_constant_memory().map_err(xerr)?;
        let mut names = vec!["symbol", "exchange"];
        if C::KIND == SeriesKind::Bar {
            names.push("interval");
        }
        names.extend(C::schema().iter().map(|s| csv_name(s.name)));
        for (c, name) in names.iter().enumerate() {
            sheet.write_string(0, c as u16, *name).map_err(xerr)?;
        }
        Ok(Writer {
            out,
            book,
            date: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
            row: 1,
        })
    }

    /// Appends rows; fails once the sheet would pass `MAX_ROWS`.
    pub fn write<C: Columns>(&mut self, key: &SeriesKey, cols: &C, tz: Tz) -> Result<()> {
        if u64::from(self.row) - 1 + cols.len() as u64 > MAX_ROWS {
            bail!(
                "an Excel sheet holds at most {MAX_ROWS} rows and {key} has more in this range: \
                 narrow it with --start/--end, or export CSV or Parquet"
            );
        }
        let sheet = self.book.worksheet_from_index(0).map_err(xerr)?;
        let refs = cols.refs();
        let (symbol, exchange, interval) = (
            key.symbol().to_string(),
            key.exchange().as_str(),
            key.interval().as_str(),
        );
        for i in 0..cols.len() {
            let r = self.row;
            let mut c: u16 = 0;
            let text = |sheet: &mut rust_xlsxwriter::Worksheet, c: &mut u16, s: &str| {
                let res = sheet.write_string(r, *c, s).map(|_| ()).map_err(xerr);
                *c += 1;
                res
            };
            text(sheet, &mut c, &symbol)?;
            text(sheet, &mut c, exchange)?;
            if C::KIND == SeriesKind::Bar {
                text(sheet, &mut c, interval)?;
            }
            for col in &refs {
                match col {
                    ColumnRef::Time(v) => write_time(sheet, r, c, Some(v[i]), tz, &self.date)?,
                    ColumnRef::OptTime(v) => write_time(sheet, r, c, v[i], tz, &self.date)?,
                    ColumnRef::F64(v) if v[i].is_finite() => {
                        sheet.write_number(r, c, v[i]).map_err(xerr)?;
                    }
                    ColumnRef::F64(v) => {
                        sheet.write_string(r, c, v[i].to_string()).map_err(xerr)?;
                    }
                    ColumnRef::Str(v) => {
                        sheet.write_string(r, c, &*v[i]).map_err(xerr)?;
                    }
                }
                c += 1;
            }
            self.row += 1;
        }
        Ok(())
    }

    /// Finishes the workbook into the output.
    pub fn finish(mut self) -> Result<W> {
        self.book.save_to_writer(&mut self.out).map_err(xerr)?;
        Ok(self.out)
    }
}

fn write_time(
    sheet: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    c: u16,
    t: Option<Timestamp>,
    tz: Tz,
    date: &Format,
) -> Result<()> {
    let Some(t) = t else {
        return Ok(()); // an empty cell: no local time
    };
    let local = chrono::DateTime::from_timestamp_nanos(t.as_ns())
        .with_timezone(&tz)
        .naive_local();
    if (1900..10_000).contains(&local.year()) {
        sheet
            .write_datetime_with_format(r, c, local, date)
            .map_err(xerr)?;
    } else {
        sheet
            .write_string(r, c, local.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
            .map_err(xerr)?;
    }
    Ok(())
}

/// A cell as the text the importers parse.
fn cell_text(d: &Data) -> Option<String> {
    match d {
        Data::Empty => None,
        Data::Int(v) => Some(v.to_string()),
        Data::Float(v) => Some(v.to_string()),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(dt) => Some(
            dt.as_datetime()
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
                .unwrap_or_else(|| dt.to_string()),
        ),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}

/// Reads the first sheet of a workbook in batches of columns of `C`, as CSV is read: the first
/// row is the header; rows are named by their Excel row number. An `.xlsx` sheet is streamed
/// cell by cell (memory holds one batch and the workbook's shared strings); `.xls` and `.ods`
/// sheets are read whole, as their formats require.
pub fn read_batches<C: Columns>(
    path: &Path,
    opts: &ReadOptions,
    checker: &mut Checker,
    sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
) -> Result<()> {
    let source = path.display().to_string();
    let mut rows = Rows::<C>::new(&source, opts);
    match calamine::open_workbook::<calamine::Xlsx<_>, _>(path) {
        Ok(mut book) => {
            let name = book
                .sheet_names()
                .first()
                .cloned()
                .ok_or_else(|| anyhow!("{source}: the workbook has no sheet"))?;
            let mut cells = book
                .worksheet_cells_reader(&name)
                .with_context(|| format!("{source}: cannot read the first sheet"))?;
            let mut row: Vec<Data> = Vec::new();
            let mut at: Option<u32> = None;
            while let Some(cell) = cells
                .next_cell()
                .with_context(|| format!("{source}: cannot read the first sheet"))?
            {
                let (r, c) = cell.get_position();
                if at.is_some_and(|a| a != r) {
                    rows.push(at.unwrap_or(0), &row, checker, sink)?;
                    row.clear();
                }
                at = Some(r);
                let c = c as usize;
                if row.len() <= c {
                    row.resize(c + 1, Data::Empty);
                }
                if let Some(slot) = row.get_mut(c) {
                    *slot = Data::from(cell.get_value().clone());
                }
            }
            if let Some(r) = at {
                rows.push(r, &row, checker, sink)?;
            }
        }
        Err(_) => {
            // Not an .xlsx file: .xls or .ods, read whole.
            let mut book = calamine::open_workbook_auto(path)
                .with_context(|| format!("{source}: not an Excel workbook"))?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(|| anyhow!("{source}: the workbook has no sheet"))?
                .with_context(|| format!("{source}: cannot read the first sheet"))?;
            let first = range.start().map_or(0, |(r, _)| r);
            for (i, row) in range.rows().enumerate() {
                rows.push(first + i as u32, row, checker, sink)?;
            }
        }
    }
    rows.finish(checker, sink)
}

type SeriesLayout = [Option<usize>; 4];

/// Sheet rows on their way into batches: the header first, then raw rows.
struct Rows<'a, C> {
    source: &'a str,
    opts: &'a ReadOptions,
    /// Per schema column, then per series column, the sheet column holding it.
    layout: Option<(Vec<Option<usize>>, SeriesLayout)>,
    batch: Vec<RawRow>,
    _kind: std::marker::PhantomData<C>,
}

impl<'a, C: Columns> Rows<'a, C> {
    fn new(source: &'a str, opts: &'a ReadOptions) -> Self {
        Rows {
            source,
            opts,
            layout: None,
            batch: Vec::with_capacity(crate::table::batch_rows(C::KIND)),
            _kind: std::marker::PhantomData,
        }
    }

    fn set_layout(&mut self, headers: Vec<String>) -> Result<()> {
        let layout = csv_layout::<C>(
            &csv::StringRecord::from(headers.clone()),
            self.opts,
            self.source,
        )?;
        let series = crate::table::series_layout(headers.iter().map(String::as_str), self.opts);
        self.layout = Some((layout, series));
        Ok(())
    }

    /// Takes the sheet row with 0-based index `r` (the header, if it is the first).
    fn push(
        &mut self,
        r: u32,
        row: &[Data],
        checker: &mut Checker,
        sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
    ) -> Result<()> {
        if self.layout.is_none() {
            match &self.opts.columns {
                Some(names) => self.set_layout(names.clone())?,
                None => {
                    let names = row.iter().map(|d| cell_text(d).unwrap_or_default());
                    return self.set_layout(names.collect());
                }
            }
        }
        if row.iter().all(|d| matches!(d, Data::Empty)) {
            return Ok(());
        }
        let Some((layout, series)) = &self.layout else {
            return Ok(());
        };
        let opts = self.opts;
        self.batch.push(RawRow {
            line: u64::from(r) + 1,
            cells: layout
                .iter()
                .zip(C::schema())
                .map(|(c, spec)| {
                    let cell = c.and_then(|c| row.get(c))?;
                    // A number in a time column without a date format is still an Excel
                    // serial date (unless --epoch says it counts from 1970).
                    match cell {
                        Data::Float(_) | Data::Int(_)
                            if spec.ty == tickvault::codec::ColumnType::I64
                                && opts.epoch.is_none() =>
                        {
                            let serial = match cell {
                                Data::Float(v) => *v,
                                Data::Int(v) => *v as f64,
                                _ => 0.0,
                            };
                            calamine::ExcelDateTime::new(
                                serial,
                                calamine::ExcelDateTimeType::DateTime,
                                false,
                            )
                            .as_datetime()
                            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
                        }
                        other => cell_text(other),
                    }
                })
                .collect(),
            series: series.map(|c| c.and_then(|c| row.get(c)).and_then(cell_text)),
        });
        if self.batch.len() >= crate::table::batch_rows(C::KIND) {
            send(checker.convert(&self.batch, opts, self.source)?, sink)?;
            self.batch.clear();
        }
        Ok(())
    }

    fn finish(
        mut self,
        checker: &mut Checker,
        sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
    ) -> Result<()> {
        if self.layout.is_none() {
            // An empty sheet still needs its required columns.
            self.set_layout(self.opts.columns.clone().unwrap_or_default())?;
        }
        if !self.batch.is_empty() {
            send(checker.convert(&self.batch, self.opts, self.source)?, sink)?;
            self.batch.clear();
        }
        Ok(())
    }
}
