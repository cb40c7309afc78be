//! vn.py's `BarData` and `TickData` objects, read and built natively.
//!
//! Built objects are what vnpy_sqlite returns: every dataclass field, `gateway_name = "DB"`,
//! `extra = None`, `vt_symbol`, and datetimes aware in the database zone (microseconds, as Python
//! keeps them). Reading never changes the caller's objects (vnpy_sqlite rewrites their datetimes
//! and enum fields in place).

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDateAccess, PyDateTime, PyDict, PyList, PyString, PyTimeAccess, PyTzInfo};
use tickvault::codec::{ColumnMut, ColumnRef};
use tickvault::{
    BarColumns, BarData, Columns, SeriesKey, SeriesKind, TickColumns, TickData, Timestamp,
};

fn zone(tz: &str) -> PyResult<Tz> {
    tz.parse()
        .map_err(|_| PyValueError::new_err(format!("unknown time zone {tz:?}")))
}

/// The instant of a Python datetime: aware ones by their offset, naive ones as wall clock in
/// `tz` (`fold` picks the second of a repeated hour, as Python does).
fn instant(dt: &Bound<'_, PyAny>, tz: Tz) -> PyResult<Timestamp> {
    let py = dt.py();
    let d = dt.cast::<PyDateTime>()?;
    let naive = NaiveDate::from_ymd_opt(d.get_year(), d.get_month().into(), d.get_day().into())
        .and_then(|day| {
            day.and_hms_micro_opt(
                d.get_hour().into(),
                d.get_minute().into(),
                d.get_second().into(),
                d.get_microsecond(),
            )
        })
        .ok_or_else(|| PyValueError::new_err(format!("invalid datetime {dt}")))?;
    let utc = if dt.getattr(intern!(py, "tzinfo"))?.is_none() {
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.naive_utc(),
            LocalResult::Ambiguous(a, b) => {
                if d.get_fold() {
                    b.naive_utc()
                } else {
                    a.naive_utc()
                }
            }
            LocalResult::None => {
                return Err(PyValueError::new_err(format!(
                    "{naive} does not exist in {tz} (skipped by a daylight-saving change)"
                )))
            }
        }
    } else {
        let offset: chrono::TimeDelta = dt.call_method0(intern!(py, "utcoffset"))?.extract()?;
        naive - offset
    };
    utc.and_utc()
        .timestamp_nanos_opt()
        .map(Timestamp::from_ns)
        .ok_or_else(|| PyValueError::new_err("datetime outside the years 1678 to 2261"))
}

fn value_str(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    // Enums carry their string in `value`; plain strings are taken as they are.
    match obj.getattr(intern!(obj.py(), "value")) {
        Ok(v) => v.extract(),
        Err(_) => obj.extract(),
    }
}

/// Reads vn.py objects of kind `C` (or any objects with their attributes) into rows: every
/// schema field by its name, the series from `key_of`. The objects are only read.
fn read<C: Columns>(
    objs: &Bound<'_, PyAny>,
    tz: &str,
    key_of: impl Fn(&Bound<'_, PyAny>) -> PyResult<SeriesKey>,
) -> PyResult<Vec<C::Row>> {
    let py = objs.py();
    let tz = zone(tz)?;
    let names: Vec<Bound<'_, PyString>> = C::schema()
        .iter()
        .map(|s| PyString::intern(py, s.name))
        .collect();
    let (mut cols, mut keys) = (C::default(), Vec::new());
    for obj in objs.try_iter()? {
        let obj = obj?;
        keys.push(key_of(&obj)?);
        let i = cols.len();
        cols.resize(i + 1);
        for (name, col) in names.iter().zip(cols.muts()) {
            let value = obj.getattr(name)?;
            match col {
                ColumnMut::Time(v) => v[i] = instant(&value, tz)?,
                ColumnMut::OptTime(v) if value.is_none() => v[i] = None,
                ColumnMut::OptTime(v) => v[i] = Some(instant(&value, tz)?),
                ColumnMut::F64(v) => v[i] = value.extract()?,
                ColumnMut::Str(v) => v[i] = value.extract::<String>()?.into(),
            }
        }
    }
    Ok(keys
        .iter()
        .enumerate()
        .map(|(i, k)| cols.row(i, k))
        .collect())
}

fn symbol_exchange(obj: &Bound<'_, PyAny>) -> PyResult<(String, tickvault::Exchange)> {
    let py = obj.py();
    let exchange = crate::exchange(&value_str(&obj.getattr(intern!(py, "exchange"))?)?)?;
    Ok((obj.getattr(intern!(py, "symbol"))?.extract()?, exchange))
}

/// Reads vn.py `BarData` objects.
pub fn read_bars(bars: &Bound<'_, PyAny>, tz: &str) -> PyResult<Vec<BarData>> {
    read::<BarColumns>(bars, tz, |obj| {
        let (symbol, exchange) = symbol_exchange(obj)?;
        let interval = crate::interval(&value_str(&obj.getattr(intern!(obj.py(), "interval"))?)?)?;
        SeriesKey::bar(&symbol, exchange, interval).map_err(crate::py_err)
    })
}

/// Reads vn.py `TickData` objects.
pub fn read_ticks(ticks: &Bound<'_, PyAny>, tz: &str) -> PyResult<Vec<TickData>> {
    read::<TickColumns>(ticks, tz, |obj| {
        let (symbol, exchange) = symbol_exchange(obj)?;
        SeriesKey::tick(&symbol, exchange).map_err(crate::py_err)
    })
}

/// What a load needs of vn.py: `(cls, exchange_member, interval_member_or_None, tzinfo)`.
struct Kinds<'py> {
    new: Bound<'py, PyAny>,
    cls: Bound<'py, PyAny>,
    exchange: Bound<'py, PyAny>,
    interval: Bound<'py, PyAny>,
    tzinfo: Bound<'py, PyTzInfo>,
}

fn kinds<'py>(kinds: &Bound<'py, PyAny>) -> PyResult<Kinds<'py>> {
    let py = kinds.py();
    Ok(Kinds {
        new: py
            .import("builtins")?
            .getattr("object")?
            .getattr("__new__")?,
        cls: kinds.get_item(0)?,
        exchange: kinds.get_item(1)?,
        interval: kinds.get_item(2)?,
        tzinfo: kinds.get_item(3)?.cast_into::<PyTzInfo>()?,
    })
}

/// Python datetimes of instants, aware in `tz`.
struct Clock<'py> {
    tz: Tz,
    tzinfo: Bound<'py, PyTzInfo>,
}

impl<'py> Clock<'py> {
    /// The naive wall-clock time of `t` in the zone.
    fn naive(&self, py: Python<'py>, t: Timestamp) -> PyResult<Bound<'py, PyDateTime>> {
        let local = DateTime::from_timestamp_nanos(t.as_ns())
            .with_timezone(&self.tz)
            .naive_local();
        PyDateTime::new(
            py,
            local.year(),
            local.month() as u8,
            local.day() as u8,
            local.hour() as u8,
            local.minute() as u8,
            local.second() as u8,
            local.nanosecond() / 1000,
            None,
        )
    }

    fn datetime(&self, py: Python<'py>, t: Timestamp) -> PyResult<Bound<'py, PyDateTime>> {
        let utc = DateTime::from_timestamp_nanos(t.as_ns());
        let here = utc.with_timezone(&self.tz);
        let local = here.naive_local();
        // The second time a repeated wall-clock time happens has fold = 1. That needs a
        // backward change of offset in the hours before: look for one cheaply first.
        let before = (utc - chrono::TimeDelta::hours(3)).with_timezone(&self.tz);
        let fold = before.offset().fix() != here.offset().fix()
            && match self.tz.from_local_datetime(&local) {
                LocalResult::Ambiguous(_, b) => b.naive_utc() == utc.naive_utc(),
                _ => false,
            };
        PyDateTime::new_with_fold(
            py,
            local.year(),
            local.month() as u8,
            local.day() as u8,
            local.hour() as u8,
            local.minute() as u8,
            local.second() as u8,
            local.nanosecond() / 1000,
            Some(&self.tzinfo),
            fold,
        )
    }
}

/// vn.py objects (`BarData` or `TickData`, as `kinds` says) of the rows of `cols`.
pub fn build<'py, C: Columns>(
    py: Python<'py>,
    key: &SeriesKey,
    cols: &C,
    kinds_: &Bound<'py, PyAny>,
    tz: &str,
) -> PyResult<Bound<'py, PyList>> {
    let k = kinds(kinds_)?;
    let clock = Clock {
        tz: zone(tz)?,
        tzinfo: k.tzinfo.clone(),
    };
    let names: Vec<Bound<'py, PyString>> = C::schema()
        .iter()
        .map(|s| PyString::intern(py, s.name))
        .collect();
    let refs = cols.refs();
    let mut last_name: Option<(tickvault::SmolStr, Bound<'py, PyString>)> = None;
    let mut fill = |i: usize, d: &Bound<'py, PyDict>| -> PyResult<()> {
        if C::KIND == SeriesKind::Bar {
            d.set_item(intern!(py, "interval"), &k.interval)?;
        }
        for (name, col) in names.iter().zip(&refs) {
            match col {
                ColumnRef::Time(v) => d.set_item(name, clock.datetime(py, v[i])?)?,
                // vnpy_sqlite returns local times naive, in the database zone.
                ColumnRef::OptTime(v) => match v[i] {
                    Some(t) => d.set_item(name, clock.naive(py, t)?)?,
                    None => d.set_item(name, py.None())?,
                },
                ColumnRef::F64(v) => d.set_item(name, v[i])?,
                ColumnRef::Str(v) => {
                    // Names repeat: one Python string per run of equal names.
                    let s = match &last_name {
                        Some((a, s)) if **a == *v[i] => s.clone(),
                        _ => {
                            let s = PyString::new(py, &v[i]);
                            last_name = Some((v[i].clone(), s.clone()));
                            s
                        }
                    };
                    d.set_item(name, s)?;
                }
            }
        }
        Ok(())
    };
    let out = PyList::empty(py);
    if cols.is_empty() {
        return Ok(out);
    }
    // Every object's __dict__ starts as a copy of this one, keys in the dataclass's order; a
    // row then only replaces values, so the dict never grows or rehashes.
    let template = PyDict::new(py);
    template.set_item(intern!(py, "gateway_name"), PyString::new(py, "DB"))?;
    template.set_item(intern!(py, "extra"), py.None())?;
    template.set_item(intern!(py, "symbol"), PyString::new(py, key.symbol()))?;
    template.set_item(intern!(py, "exchange"), &k.exchange)?;
    fill(0, &template)?;
    let vt_symbol = format!("{}.{}", key.symbol(), key.exchange());
    template.set_item(intern!(py, "vt_symbol"), PyString::new(py, &vt_symbol))?;
    let dict = intern!(py, "__dict__");
    for i in 0..cols.len() {
        let d = template.copy()?;
        fill(i, &d)?;
        let obj = k.new.call1((&k.cls,))?;
        obj.setattr(dict, d)?;
        out.append(obj)?;
    }
    Ok(out)
}
