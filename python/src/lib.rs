//! `tickvault._tickvault`: the engine for Python.
//!
//! The Python packages (`pysrc/tickvault`, `pysrc/vnpy_tickvault`) wrap this module; it takes and
//! returns plain values: strings for exchanges and intervals, nanoseconds since the epoch (UTC) for
//! times, and numpy arrays for columns. Every engine call runs with the GIL released. Loaded
//! numeric columns become numpy arrays that own the decoded buffers (no copy). vn.py objects are
//! built here, not in a Python loop (`objects.rs`).

mod objects;

/// The extension allocates with mimalloc, which keeps freed memory for the next allocation:
/// with glibc's malloc each load into fresh arrays page-faults its whole result in again (a
/// backtest that loads the same range hundreds of times pays it every time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use tickvault::SmolStr;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use tickvault::codec::OwnedColumn;
use tickvault::{
    BarColumns, Columns, Engine, Error, Exchange, Interval, SeriesKey, SyncPolicy, TickColumns,
    Timestamp,
};

create_exception!(
    _tickvault,
    TickvaultError,
    PyException,
    "An error from the tickvault engine."
);
create_exception!(
    _tickvault,
    CorruptionError,
    TickvaultError,
    "Stored bytes failed a check (a corrupt or truncated file)."
);
create_exception!(
    _tickvault,
    LockedError,
    TickvaultError,
    "Another process holds the store's writer lock."
);

/// The engine's error as a Python exception carrying its message.
pub(crate) fn py_err(e: Error) -> PyErr {
    let text = e.to_string();
    match e {
        Error::InvalidArgument(_) => PyValueError::new_err(text),
        Error::Corruption { .. } | Error::ChecksumMismatch { .. } => CorruptionError::new_err(text),
        Error::Locked { .. } => LockedError::new_err(text),
        _ => TickvaultError::new_err(text),
    }
}

pub(crate) fn exchange(s: &str) -> PyResult<Exchange> {
    s.parse()
        .map_err(|_| PyValueError::new_err(format!("unknown exchange {s:?}")))
}

pub(crate) fn interval(s: &str) -> PyResult<Interval> {
    s.parse()
        .map_err(|_| PyValueError::new_err(format!("unknown interval {s:?}")))
}

fn bar_key(symbol: &str, ex: &str, iv: &str) -> PyResult<SeriesKey> {
    SeriesKey::bar(symbol, exchange(ex)?, interval(iv)?).map_err(py_err)
}

fn tick_key(symbol: &str, ex: &str) -> PyResult<SeriesKey> {
    SeriesKey::tick(symbol, exchange(ex)?).map_err(py_err)
}

/// `None` bounds mean the whole series.
/// `RangeStats` as a dict (times as ns since the epoch, None without rows).
fn stats_dict<'py>(py: Python<'py>, st: &tickvault::RangeStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", st.count)?;
    d.set_item("first", st.first.map(Timestamp::as_ns))?;
    d.set_item("last", st.last.map(Timestamp::as_ns))?;
    if st.count > 0 {
        d.set_item("open", st.open)?;
        d.set_item("high", st.high)?;
        d.set_item("low", st.low)?;
        d.set_item("close", st.close)?;
        d.set_item("volume", st.volume)?;
        d.set_item("turnover", st.turnover)?;
        d.set_item("mean_close", st.mean_close())?;
    }
    Ok(d)
}

pub(crate) fn bounds(start: Option<i64>, end: Option<i64>) -> (Timestamp, Timestamp) {
    (
        start.map_or(Timestamp::MIN, Timestamp::from_ns),
        end.map_or(Timestamp::MAX, Timestamp::from_ns),
    )
}

/// An int64 array viewed as datetime64[ns].
fn datetime64<'py>(array: Bound<'py, PyArray1<i64>>) -> PyResult<Bound<'py, PyAny>> {
    array.call_method1("view", ("datetime64[ns]",))
}

/// Columns as `{name: numpy array}`: floats as float64, times as datetime64[ns] (UTC; NaT for a
/// tick without local time), names as a list of str. Arrays take over the decoded buffers.
fn to_numpy<'py, C: Columns>(py: Python<'py>, cols: C) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (spec, col) in C::schema().iter().zip(cols.into_owned()) {
        let value: Bound<'py, PyAny> = match col {
            OwnedColumn::Time(v) => datetime64(PyArray1::from_vec(py, tickvault_times_as_ns(v)))?,
            OwnedColumn::OptTime(v) => {
                let ns: Vec<i64> = v
                    .iter()
                    .map(|t| t.map_or(i64::MIN, |t| t.as_ns()))
                    .collect();
                datetime64(PyArray1::from_vec(py, ns))?
            }
            OwnedColumn::F64(v) => PyArray1::from_vec(py, v).into_any(),
            OwnedColumn::Str(v) => {
                let list = PyList::empty(py);
                let mut last: Option<(SmolStr, Bound<'py, PyString>)> = None;
                for s in &v {
                    // Names repeat: one Python string per run of equal names.
                    let obj = match &last {
                        Some((prev, obj)) if **prev == **s => obj.clone(),
                        _ => {
                            let obj = PyString::new(py, s);
                            last = Some((s.clone(), obj.clone()));
                            obj
                        }
                    };
                    list.append(obj)?;
                }
                list.into_any()
            }
        };
        out.set_item(spec.name, value)?;
    }
    Ok(out)
}

/// Times as nanoseconds, reusing the buffer (`Timestamp` is a transparent `i64`).
fn tickvault_times_as_ns(v: Vec<Timestamp>) -> Vec<i64> {
    v.into_iter().map(Timestamp::as_ns).collect()
}

/// Columns of kind `C` from `{name: array}`: `datetime` (int64 ns or datetime64[ns]) is required;
/// a missing float column is zeros, a missing `localtime` is none, a missing `name` is empty.
fn from_numpy<C: Columns>(columns: &Bound<'_, PyDict>) -> PyResult<C> {
    let get = |name: &str| columns.get_item(name);
    let datetime = get("datetime")?
        .ok_or_else(|| PyKeyError::new_err("the columns need a `datetime` column"))?;
    let times = int64(&datetime, "datetime")?;
    let n = times.len();
    let mut owned = Vec::new();
    for spec in C::schema() {
        let col = get(spec.name)?;
        let check = |len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(PyValueError::new_err(format!(
                    "column {} has {len} rows but datetime has {n}",
                    spec.name
                )))
            }
        };
        owned.push(match (spec.name, spec.ty) {
            ("datetime", _) => {
                OwnedColumn::Time(times.iter().copied().map(Timestamp::from_ns).collect())
            }
            ("localtime", _) => match col {
                None => OwnedColumn::OptTime(vec![None; n]),
                Some(c) => {
                    let v = int64(&c, "localtime")?;
                    check(v.len())?;
                    OwnedColumn::OptTime(
                        v.into_iter()
                            .map(|t| (t != i64::MIN).then(|| Timestamp::from_ns(t)))
                            .collect(),
                    )
                }
            },
            (_, tickvault::codec::ColumnType::Str) => match col {
                None => OwnedColumn::Str(vec![SmolStr::default(); n]),
                Some(c) => {
                    let mut out: Vec<SmolStr> = Vec::with_capacity(n);
                    let mut last: Option<(String, SmolStr)> = None;
                    for item in c.try_iter()? {
                        let s: String = item?.extract()?;
                        let a = match &last {
                            Some((p, a)) if *p == s => a.clone(),
                            _ => {
                                let a: SmolStr = SmolStr::from(s.as_str());
                                last = Some((s, a.clone()));
                                a
                            }
                        };
                        out.push(a);
                    }
                    check(out.len())?;
                    OwnedColumn::Str(out)
                }
            },
            (name, _) => match col {
                None => OwnedColumn::F64(vec![0.0; n]),
                Some(c) => {
                    let array: PyReadonlyArray1<'_, f64> = c
                        .call_method1("astype", ("float64",))
                        .and_then(|a| a.extract())
                        .map_err(|e| {
                            PyValueError::new_err(format!("column {name} is not numbers: {e}"))
                        })?;
                    let v = array.as_array().to_vec();
                    check(v.len())?;
                    OwnedColumn::F64(v)
                }
            },
        });
    }
    C::from_owned(owned).map_err(py_err)
}

/// An int64 (or datetime64[ns]) array's values.
fn int64(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<i64>> {
    let array = obj
        .call_method1("astype", ("datetime64[ns]",))
        .and_then(|a| a.call_method1("view", ("int64",)))
        .and_then(|a| a.extract::<PyReadonlyArray1<'_, i64>>())
        .map_err(|e| {
            PyValueError::new_err(format!(
                "column {name} must be datetime64[ns] or int64 nanoseconds: {e}"
            ))
        })?;
    Ok(array.as_array().to_vec())
}

/// (symbol, exchange, interval, count, start ns, end ns) of a bar series.
type BarSummary = (String, String, String, u64, i64, i64);
/// (symbol, exchange, count, start ns, end ns) of a tick series.
type TickSummary = (String, String, u64, i64, i64);

/// An open store.
#[pyclass(module = "tickvault._tickvault", frozen)]
struct Store {
    engine: Engine,
}

/// A background scan: the next batch is decoded on another thread while Python works on this
/// one.
#[pyclass(module = "tickvault._tickvault")]
struct ScanIter {
    /// `None` once the scan has ended.
    rx: Mutex<Option<Receiver<tickvault::Result<Batch>>>>,
}

enum Batch {
    Bars(BarColumns),
    Ticks(Box<TickColumns>),
}

#[pymethods]
impl ScanIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let taken = self
            .rx
            .lock()
            .map_err(|_| TickvaultError::new_err("scan poisoned"))?
            .take();
        let Some(rx) = taken else {
            return Ok(None);
        };
        let (rx, next) = py.detach(move || {
            let next = rx.recv().ok();
            (rx, next)
        });
        if matches!(next, Some(Ok(_))) {
            *self
                .rx
                .lock()
                .map_err(|_| TickvaultError::new_err("scan poisoned"))? = Some(rx);
        }
        match next {
            None => Ok(None),
            Some(Err(e)) => Err(py_err(e)),
            Some(Ok(Batch::Bars(c))) => to_numpy(py, c).map(Some),
            Some(Ok(Batch::Ticks(c))) => to_numpy(py, *c).map(Some),
        }
    }
}

fn spawn_scan<C: Columns>(
    engine: &Engine,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
    batch_rows: usize,
    wrap: fn(C) -> Batch,
) -> PyResult<ScanIter> {
    let scan = engine
        .scan::<C>(key, start, end, batch_rows.max(1))
        .map_err(py_err)?;
    // One batch in flight ahead of the consumer: memory stays at about two batches.
    let (tx, rx) = sync_channel(1);
    std::thread::spawn(move || {
        for batch in scan {
            let failed = batch.is_err();
            if tx.send(batch.map(wrap)).is_err() || failed {
                break;
            }
        }
    });
    Ok(ScanIter {
        rx: Mutex::new(Some(rx)),
    })
}

#[pymethods]
impl Store {
    /// Opens (creating when missing) the store at `path`.
    #[new]
    #[pyo3(signature = (path, *, read_only = false, wal_sync = "every-commit", keep_same_time_ticks = false, create_if_missing = true, block_cache_bytes = tickvault::BLOCK_CACHE_BYTES))]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        read_only: bool,
        wal_sync: &str,
        keep_same_time_ticks: bool,
        create_if_missing: bool,
        block_cache_bytes: usize,
    ) -> PyResult<Store> {
        let policy: SyncPolicy = wal_sync.parse().map_err(py_err)?;
        let builder = Engine::builder(path)
            .read_only(read_only)
            .wal_sync(policy)
            .keep_same_time_ticks(keep_same_time_ticks)
            .create_if_missing(create_if_missing)
            .block_cache_bytes(block_cache_bytes);
        let engine = py.detach(|| builder.open()).map_err(py_err)?;
        Ok(Store { engine })
    }

    /// The store directory.
    #[getter]
    fn path(&self) -> std::path::PathBuf {
        self.engine.path().to_path_buf()
    }

    /// Saves bar columns (`{name: array}`, `datetime` required) into one series.
    #[pyo3(signature = (symbol, exchange, interval, columns, stream = false))]
    fn save_bars(
        &self,
        py: Python<'_>,
        symbol: &str,
        exchange: &str,
        interval: &str,
        columns: &Bound<'_, PyDict>,
        stream: bool,
    ) -> PyResult<()> {
        let key = bar_key(symbol, exchange, interval)?;
        let cols: BarColumns = from_numpy(columns)?;
        py.detach(|| self.engine.save_columns(&key, &cols, stream))
            .map_err(py_err)
    }

    /// Saves tick columns into one series.
    #[pyo3(signature = (symbol, exchange, columns, stream = false))]
    fn save_ticks(
        &self,
        py: Python<'_>,
        symbol: &str,
        exchange: &str,
        columns: &Bound<'_, PyDict>,
        stream: bool,
    ) -> PyResult<()> {
        let key = tick_key(symbol, exchange)?;
        let cols: TickColumns = from_numpy(columns)?;
        py.detach(|| self.engine.save_columns(&key, &cols, stream))
            .map_err(py_err)
    }

    /// Bars with `start <= datetime <= end` (ns; `None` for open ends) as numpy arrays.
    #[pyo3(signature = (symbol, exchange, interval, start = None, end = None))]
    fn load_bars<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let key = bar_key(symbol, exchange, interval)?;
        let (s, e) = bounds(start, end);
        let cols: BarColumns = py
            .detach(|| self.engine.load_columns(&key, s, e))
            .map_err(py_err)?;
        to_numpy(py, cols)
    }

    /// Ticks with `start <= datetime <= end` as numpy arrays.
    #[pyo3(signature = (symbol, exchange, start = None, end = None))]
    fn load_ticks<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let key = tick_key(symbol, exchange)?;
        let (s, e) = bounds(start, end);
        let cols: TickColumns = py
            .detach(|| self.engine.load_columns(&key, s, e))
            .map_err(py_err)?;
        to_numpy(py, cols)
    }

    /// Batches of at most `batch_rows` bars over the range, decoded ahead in the background.
    #[pyo3(signature = (symbol, exchange, interval, start = None, end = None, batch_rows = 1_000_000))]
    fn scan_bars(
        &self,
        symbol: &str,
        exchange: &str,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
        batch_rows: usize,
    ) -> PyResult<ScanIter> {
        let key = bar_key(symbol, exchange, interval)?;
        let (s, e) = bounds(start, end);
        spawn_scan::<BarColumns>(&self.engine, &key, s, e, batch_rows, Batch::Bars)
    }

    /// Batches of at most `batch_rows` ticks over the range, decoded ahead in the background.
    #[pyo3(signature = (symbol, exchange, start = None, end = None, batch_rows = 1_000_000))]
    fn scan_ticks(
        &self,
        symbol: &str,
        exchange: &str,
        start: Option<i64>,
        end: Option<i64>,
        batch_rows: usize,
    ) -> PyResult<ScanIter> {
        let key = tick_key(symbol, exchange)?;
        let (s, e) = bounds(start, end);
        spawn_scan::<TickColumns>(&self.engine, &key, s, e, batch_rows, |c| {
            Batch::Ticks(Box::new(c))
        })
    }

    /// Statistics of the bars in `[start, end]` (whole blocks from their footer statistics).
    #[pyo3(signature = (symbol, exchange, interval, start=None, end=None))]
    fn bar_stats<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let key = bar_key(symbol, exchange, interval)?;
        let (s, e) = bounds(start, end);
        let st = py
            .detach(|| self.engine.range_stats::<BarColumns>(&key, s, e))
            .map_err(py_err)?;
        stats_dict(py, &st)
    }

    /// Statistics of the ticks in `[start, end]` (prices: last_price; volume: last_volume).
    #[pyo3(signature = (symbol, exchange, start=None, end=None))]
    fn tick_stats<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let key = tick_key(symbol, exchange)?;
        let (s, e) = bounds(start, end);
        let st = py
            .detach(|| self.engine.range_stats::<TickColumns>(&key, s, e))
            .map_err(py_err)?;
        stats_dict(py, &st)
    }

    /// Deletes a bar series; returns how many rows it held.
    fn delete_bars(
        &self,
        py: Python<'_>,
        symbol: &str,
        exchange: &str,
        interval: &str,
    ) -> PyResult<u64> {
        let key = bar_key(symbol, exchange, interval)?;
        py.detach(|| self.engine.delete_series(&key))
            .map_err(py_err)
    }

    /// Deletes a tick series; returns how many rows it held.
    fn delete_ticks(&self, py: Python<'_>, symbol: &str, exchange: &str) -> PyResult<u64> {
        let key = tick_key(symbol, exchange)?;
        py.detach(|| self.engine.delete_series(&key))
            .map_err(py_err)
    }

    /// `[(symbol, exchange, interval, count, start_ns, end_ns)]` of every bar series, exact.
    fn bar_overview(&self, py: Python<'_>) -> PyResult<Vec<BarSummary>> {
        use tickvault::Database;
        let ov = py
            .detach(|| self.engine.get_bar_overview())
            .map_err(py_err)?;
        Ok(ov
            .into_iter()
            .map(|o| {
                (
                    o.symbol.to_string(),
                    o.exchange.as_str().to_string(),
                    o.interval.as_str().to_string(),
                    o.count,
                    o.start.as_ns(),
                    o.end.as_ns(),
                )
            })
            .collect())
    }

    /// `[(symbol, exchange, count, start_ns, end_ns)]` of every tick series, exact.
    fn tick_overview(&self, py: Python<'_>) -> PyResult<Vec<TickSummary>> {
        use tickvault::Database;
        let ov = py
            .detach(|| self.engine.get_tick_overview())
            .map_err(py_err)?;
        Ok(ov
            .into_iter()
            .map(|o| {
                (
                    o.symbol.to_string(),
                    o.exchange.as_str().to_string(),
                    o.count,
                    o.start.as_ns(),
                    o.end.as_ns(),
                )
            })
            .collect())
    }

    /// Writes every memtable (rows saved with `stream=True`) into segments.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.engine.flush()).map_err(py_err)
    }

    /// Merges runs of small segments; returns (segments in, segments out, rows).
    fn compact(&self, py: Python<'_>) -> PyResult<(usize, usize, u64)> {
        let s = py.detach(|| self.engine.compact()).map_err(py_err)?;
        Ok((s.segments_in, s.segments_out, s.rows))
    }

    /// Backs the store up into a repository; returns (name, segments, rows, bytes).
    fn backup(
        &self,
        py: Python<'_>,
        repo: std::path::PathBuf,
    ) -> PyResult<(String, usize, u64, u64)> {
        let b = py.detach(|| self.engine.backup(&repo)).map_err(py_err)?;
        Ok((b.name, b.segments, b.rows, b.bytes))
    }

    /// Checks every checksum and invariant; returns the problems found (empty when sound).
    #[pyo3(signature = (deep = false))]
    fn verify(&self, py: Python<'_>, deep: bool) -> PyResult<Vec<String>> {
        let root = self.engine.path().to_path_buf();
        let report = py
            .detach(|| tickvault::verify(&root, deep))
            .map_err(py_err)?;
        Ok(report
            .problems
            .iter()
            .map(|p| format!("{}: at offset {}: {}", p.file.display(), p.offset, p.what))
            .collect())
    }

    /// Totals: {bar_series, tick_series, segments, bar_rows, tick_rows, segment_bytes}.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = py.detach(|| self.engine.info()).map_err(py_err)?;
        let d = PyDict::new(py);
        d.set_item("bar_series", i.bar_series)?;
        d.set_item("tick_series", i.tick_series)?;
        d.set_item("segments", i.segments)?;
        d.set_item("bar_rows", i.bar_rows)?;
        d.set_item("tick_rows", i.tick_rows)?;
        d.set_item("segment_bytes", i.segment_bytes)?;
        d.set_item("read_only", i.read_only)?;
        let c = self.engine.block_cache_stats();
        d.set_item("block_cache_capacity", c.capacity)?;
        d.set_item("block_cache_bytes", c.bytes)?;
        d.set_item("block_cache_hits", c.hits)?;
        d.set_item("block_cache_misses", c.misses)?;
        Ok(d)
    }

    /// Saves vn.py `BarData` objects (any mix of series; naive datetimes are wall clock in
    /// `tz`). The objects are only read.
    #[pyo3(signature = (bars, tz, stream = false))]
    fn save_bar_objects(
        &self,
        py: Python<'_>,
        bars: &Bound<'_, PyAny>,
        tz: &str,
        stream: bool,
    ) -> PyResult<()> {
        let rows = objects::read_bars(bars, tz)?;
        py.detach(|| tickvault::Database::save_bar_data(&self.engine, &rows, stream))
            .map_err(py_err)
    }

    /// Saves vn.py `TickData` objects.
    #[pyo3(signature = (ticks, tz, stream = false))]
    fn save_tick_objects(
        &self,
        py: Python<'_>,
        ticks: &Bound<'_, PyAny>,
        tz: &str,
        stream: bool,
    ) -> PyResult<()> {
        let rows = objects::read_ticks(ticks, tz)?;
        py.detach(|| tickvault::Database::save_tick_data(&self.engine, &rows, stream))
            .map_err(py_err)
    }

    /// vn.py `BarData` objects of the range, built natively: `kinds` carries vn.py's classes,
    /// `tz` the zone's name and `tzinfo` its Python object.
    #[allow(clippy::too_many_arguments)]
    fn load_bar_objects<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        interval: &str,
        start: Option<i64>,
        end: Option<i64>,
        kinds: &Bound<'py, PyAny>,
        tz: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let key = bar_key(symbol, exchange, interval)?;
        let (s, e) = bounds(start, end);
        let cols: BarColumns = py
            .detach(|| self.engine.load_columns(&key, s, e))
            .map_err(py_err)?;
        objects::build(py, &key, &cols, kinds, tz)
    }

    /// vn.py `TickData` objects of the range, built natively.
    #[allow(clippy::too_many_arguments)]
    fn load_tick_objects<'py>(
        &self,
        py: Python<'py>,
        symbol: &str,
        exchange: &str,
        start: Option<i64>,
        end: Option<i64>,
        kinds: &Bound<'py, PyAny>,
        tz: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let key = tick_key(symbol, exchange)?;
        let (s, e) = bounds(start, end);
        let cols: TickColumns = py
            .detach(|| self.engine.load_columns(&key, s, e))
            .map_err(py_err)?;
        objects::build(py, &key, &cols, kinds, tz)
    }
}

/// The module.
#[pymodule]
fn _tickvault(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Store>()?;
    m.add_class::<ScanIter>()?;
    m.add("TickvaultError", m.py().get_type::<TickvaultError>())?;
    m.add("CorruptionError", m.py().get_type::<CorruptionError>())?;
    m.add("LockedError", m.py().get_type::<LockedError>())?;
    m.add(
        "EXCHANGES",
        Exchange::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
    )?;
    Ok(())
}
