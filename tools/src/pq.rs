//! Parquet files of bars and ticks, through the `parquet` and `arrow` crates.
//!
//! Export writes `symbol`, `exchange` (and `interval` for bars) as strings, then every schema
//! column under vn.py's name: times as `Timestamp(ns, "UTC")` (`localtime` nullable), numbers as
//! `Float64`, `name` as a string; zstd-compressed, in row groups of up to 1,048,576 rows.
//!
//! Import reads any file whose columns carry those names (the Data Manager's short `open`, `high`,
//! `low`, `close` too): times as timestamps of any unit (naive ones read in `--tz`), integers of
//! nanoseconds, or text; numbers as any float or integer type. A bad or missing value is reported
//! with its row number (1-based) and column.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tickvault::codec::{ColumnMut, ColumnRef};
use tickvault::{Columns, SeriesKey, SeriesKind, Timestamp};

use crate::table::{csv_name, required, SeriesCells};
use crate::time::{self, ReadOptions};

const ROW_GROUP_ROWS: usize = 1 << 20;

/// The Arrow schema of an export of `C`.
pub fn schema<C: Columns>() -> Arc<Schema> {
    let utc = Some(Arc::from("UTC"));
    let mut fields = vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("exchange", DataType::Utf8, false),
    ];
    if C::KIND == SeriesKind::Bar {
        fields.push(Field::new("interval", DataType::Utf8, false));
    }
    for spec in C::schema() {
        fields.push(match spec.name {
            "localtime" => Field::new(
                spec.name,
                DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
                true,
            ),
            "datetime" => Field::new(
                spec.name,
                DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
                false,
            ),
            "name" => Field::new(spec.name, DataType::Utf8, false),
            _ => Field::new(spec.name, DataType::Float64, false),
        });
    }
    Arc::new(Schema::new(fields))
}

/// One record batch of `cols`.
fn batch<C: Columns>(schema: &Arc<Schema>, key: &SeriesKey, cols: &C) -> Result<RecordBatch> {
    let n = cols.len();
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![key.symbol().as_ref(); n])),
        Arc::new(StringArray::from(vec![key.exchange().as_str(); n])),
    ];
    if C::KIND == SeriesKind::Bar {
        arrays.push(Arc::new(StringArray::from(vec![
            key.interval().as_str();
            n
        ])));
    }
    for col in cols.refs() {
        arrays.push(match col {
            ColumnRef::Time(v) => Arc::new(
                TimestampNanosecondArray::from(v.iter().map(|t| t.as_ns()).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            ColumnRef::OptTime(v) => Arc::new(
                TimestampNanosecondArray::from(
                    v.iter().map(|t| t.map(|t| t.as_ns())).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            ColumnRef::F64(v) => Arc::new(Float64Array::from(v.to_vec())),
            ColumnRef::Str(v) => Arc::new(StringArray::from(
                v.iter().map(|s| s.as_ref()).collect::<Vec<&str>>(),
            )),
        });
    }
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// A Parquet writer for series `key` of kind `C` into `out`.
pub struct Writer<W: Write + Send> {
    inner: ArrowWriter<W>,
    schema: Arc<Schema>,
    key: SeriesKey,
}

impl<W: Write + Send> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("pq::Writer")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> Writer<W> {
    /// Starts a file.
    pub fn new<C: Columns>(out: W, key: &SeriesKey) -> Result<Self> {
        let schema = schema::<C>();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        Ok(Writer {
            inner: ArrowWriter::try_new(out, schema.clone(), Some(props))?,
            schema,
            key: key.clone(),
        })
    }

    /// Appends rows.
    pub fn write<C: Columns>(&mut self, cols: &C) -> Result<()> {
        if !cols.is_empty() {
            self.inner.write(&batch(&self.schema, &self.key, cols)?)?;
        }
        Ok(())
    }

    /// Finishes the file (its footer); returns the writer.
    pub fn finish(self) -> Result<W> {
        Ok(self.inner.into_inner()?)
    }
}

/// Nanoseconds of a timestamp value in `unit`, or `None` beyond the years 1678 to 2261.
fn scale(v: i64, unit: &TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => v.checked_mul(1_000_000_000),
        TimeUnit::Millisecond => v.checked_mul(1_000_000),
        TimeUnit::Microsecond => v.checked_mul(1_000),
        TimeUnit::Nanosecond => Some(v),
    }
}

/// The instants of a time column; `None` for nulls. Naive timestamps are wall clock in `tz`.
fn times(
    col: &dyn Array,
    reader: &ReadOptions,
    at: &dyn Fn(usize, String) -> anyhow::Error,
) -> Result<Vec<Option<Timestamp>>> {
    let mut out = Vec::with_capacity(col.len());
    match col.data_type() {
        DataType::Timestamp(unit, zone) => {
            let raw: Vec<Option<i64>> = match unit {
                TimeUnit::Second => col.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => col
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .collect(),
                TimeUnit::Microsecond => col
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .collect(),
                TimeUnit::Nanosecond => col
                    .as_primitive::<TimestampNanosecondType>()
                    .iter()
                    .collect(),
            };
            for (i, v) in raw.into_iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(v) => {
                        let ns = scale(v, unit).ok_or_else(|| {
                            at(i, format!("{v} is outside the years 1678 to 2261"))
                        })?;
                        Some(if zone.is_some() {
                            Timestamp::from_ns(ns)
                        } else {
                            // A naive timestamp: its fields are wall clock in the file's zone.
                            let naive = chrono::DateTime::from_timestamp_nanos(ns).naive_utc();
                            time::from_naive(naive, reader.tz).map_err(|e| at(i, e.to_string()))?
                        })
                    }
                });
            }
        }
        DataType::Int64 => {
            let unit = reader.epoch.unwrap_or(time::Epoch::Ns);
            for (i, v) in col.as_primitive::<Int64Type>().iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(v) => Some(time::at_epoch(v, unit).map_err(|e| at(i, e.to_string()))?),
                });
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            for (i, v) in strings(col)?.into_iter().enumerate() {
                out.push(match v.filter(|s| !s.is_empty()) {
                    None => None,
                    Some(s) => Some(reader.read(&s).map_err(|e| at(i, e.to_string()))?),
                });
            }
        }
        other => {
            bail!("a time column of type {other} (expected a timestamp, int64 nanoseconds or text)")
        }
    }
    Ok(out)
}

fn strings(col: &dyn Array) -> Result<Vec<Option<String>>> {
    Ok(match col.data_type() {
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        DataType::LargeUtf8 => col
            .as_string::<i64>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        DataType::Utf8View => col
            .as_string_view()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        other => bail!("a text column of type {other}"),
    })
}

fn numbers(col: &dyn Array) -> Result<Vec<Option<f64>>> {
    Ok(match col.data_type() {
        DataType::Float64 => col.as_primitive::<Float64Type>().iter().collect(),
        DataType::Float32 => col
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|x| x as f64))
            .collect(),
        DataType::Int32 => col
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        other => bail!("a number column of type {other}"),
    })
}

/// Reads a Parquet file in batches of columns of `C` (one per record batch of up to 65,536
/// rows), handing each to `sink`; stops at the first bad value, naming its row and column.
pub fn read_batches<C: Columns>(
    path: &Path,
    times_in: &ReadOptions,
    checker: &mut crate::table::Checker,
    sink: &mut dyn FnMut(SeriesKey, C) -> Result<()>,
) -> Result<()> {
    let source = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {source}"))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{source}: not a Parquet file"))?
        .with_batch_size(65_536)
        .build()
        .with_context(|| format!("{source}: cannot read"))?;
    let mut row0 = 0usize;
    for batch in reader {
        let batch = batch.with_context(|| format!("{source}: cannot read row group"))?;
        let schema = batch.schema();
        let n = batch.num_rows();
        let mut cols = C::default();
        cols.resize(n);
        for (spec, col) in C::schema().iter().zip(cols.muts()) {
            let short = csv_name(spec.name);
            let idx = schema
                .fields()
                .iter()
                .position(|f| times_in.holds(spec.name, short, f.name()));
            let needed = required(C::KIND, spec.name);
            let Some(idx) = idx else {
                if needed {
                    let names: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    bail!(
                        "{source}: no column {short:?} (found: {})",
                        names.join(", ")
                    );
                }
                continue; // zeros, no local time, empty names
            };
            let array = batch.column(idx);
            let at = |i: usize, what: String| {
                anyhow!("{source} row {}: column {short:?}: {what}", row0 + i + 1)
            };
            let typed = |e: anyhow::Error| anyhow!("{source}: column {short:?}: {e}");
            match col {
                ColumnMut::Time(v) => {
                    for (i, (slot, t)) in v
                        .iter_mut()
                        .zip(times(array, times_in, &at).map_err(typed)?)
                        .enumerate()
                    {
                        *slot = t.ok_or_else(|| at(i, "no value".into()))?;
                    }
                }
                ColumnMut::OptTime(v) => {
                    for (slot, t) in v
                        .iter_mut()
                        .zip(times(array, times_in, &at).map_err(typed)?)
                    {
                        *slot = t;
                    }
                }
                ColumnMut::F64(v) => {
                    for (i, (slot, x)) in
                        v.iter_mut().zip(numbers(array).map_err(typed)?).enumerate()
                    {
                        *slot = match x {
                            Some(x) => x,
                            None if !needed => 0.0,
                            None => return Err(at(i, "no value".into())),
                        };
                    }
                }
                ColumnMut::Str(v) => {
                    for (slot, s) in v.iter_mut().zip(strings(array).map_err(typed)?) {
                        *slot = tickvault::SmolStr::from(s.unwrap_or_default().as_str());
                    }
                }
            }
        }
        checker.read += n as u64;
        checker.progress.inc(n as u64);
        // The columns naming each row's series, if the file has them.
        let names = schema.fields().iter().map(|f| f.name().as_str());
        let mut series: Vec<SeriesCells> = Vec::new();
        for (c, idx) in crate::table::series_layout(names, times_in)
            .into_iter()
            .enumerate()
        {
            let Some(idx) = idx else { continue };
            let name = crate::table::SERIES_COLUMNS.get(c).copied().unwrap_or("");
            let texts = strings(batch.column(idx))
                .map_err(|e| anyhow!("{source}: column {name:?}: {e}"))?;
            series.resize_with(n, SeriesCells::default);
            for (cells, text) in series.iter_mut().zip(texts) {
                if let Some(slot) = cells.get_mut(c) {
                    *slot = text;
                }
            }
        }
        let parts = checker.route(
            cols,
            &source,
            &|i| series.get(i),
            &|i| (row0 + i + 1) as u64,
            "row",
        )?;
        crate::table::send(parts, sink)?;
        row0 += n;
    }
    Ok(())
}
