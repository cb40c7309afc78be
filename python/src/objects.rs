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
use tickvault::codec::ColumnRef;
use tickvault::{BarColumns, BarData, Columns, SeriesKey, TickColumns, TickData, Timestamp};

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

fn f(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<f64> {
    obj.getattr(name)?.extract()
}

/// Reads vn.py `BarData` objects (or any objects with their attributes).
pub fn read_bars(bars: &Bound<'_, PyAny>, tz: &str) -> PyResult<Vec<BarData>> {
    let py = bars.py();
    let tz = zone(tz)?;
    let names = BarColumns::schema()
        .iter()
        .map(|s| PyString::intern(py, s.name))
        .collect::<Vec<_>>();
    let mut out = Vec::new();
    for obj in bars.try_iter()? {
        let obj = obj?;
        let exchange = crate::exchange(&value_str(&obj.getattr(intern!(py, "exchange"))?)?)?;
        let interval = crate::interval(&value_str(&obj.getattr(intern!(py, "interval"))?)?)?;
        let symbol: String = obj.getattr(intern!(py, "symbol"))?.extract()?;
        let datetime = instant(&obj.getattr(intern!(py, "datetime"))?, tz)?;
        let mut bar = BarData::new(&symbol, exchange, interval, datetime);
        for (spec, name) in BarColumns::schema().iter().zip(&names) {
            if spec.name == "datetime" {
                continue;
            }
            let v = f(&obj, name)?;
            match spec.name {
                "open_price" => bar.open_price = v,
                "high_price" => bar.high_price = v,
                "low_price" => bar.low_price = v,
                "close_price" => bar.close_price = v,
                "volume" => bar.volume = v,
                "turnover" => bar.turnover = v,
                "open_interest" => bar.open_interest = v,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unexpected bar field {other}"
                    )))
                }
            }
        }
        out.push(bar);
    }
    Ok(out)
}

/// Reads vn.py `TickData` objects.
pub fn read_ticks(ticks: &Bound<'_, PyAny>, tz: &str) -> PyResult<Vec<TickData>> {
    let py = ticks.py();
    let tz = zone(tz)?;
    let mut out = Vec::new();
    for obj in ticks.try_iter()? {
        let obj = obj?;
        let exchange = crate::exchange(&value_str(&obj.getattr(intern!(py, "exchange"))?)?)?;
        let symbol: String = obj.getattr(intern!(py, "symbol"))?.extract()?;
        let datetime = instant(&obj.getattr(intern!(py, "datetime"))?, tz)?;
        // One row through the columns, so every field is read by its schema name.
        let mut cols = TickColumns::default();
        cols.push_row(&TickData::new(&symbol, exchange, datetime));
        let key = SeriesKey::tick(&symbol, exchange).map_err(crate::py_err)?;
        for (spec, col) in TickColumns::schema().iter().zip(cols.muts()) {
            let name = PyString::intern(py, spec.name);
            match col {
                tickvault::codec::ColumnMut::Time(_) => {}
                tickvault::codec::ColumnMut::OptTime(v) => {
                    let value = obj.getattr(&name)?;
                    v[0] = if value.is_none() {
                        None
                    } else {
                        Some(instant(&value, tz)?)
                    };
                }
                tickvault::codec::ColumnMut::F64(v) => v[0] = f(&obj, &name)?,
                tickvault::codec::ColumnMut::Str(v) => {
                    let s: String = obj.getattr(&name)?.extract()?;
                    v[0] = s.into();
                }
            }
        }
        out.push(cols.row(0, &key));
    }
    Ok(out)
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

/// Builds one object per row: `fields` gives each row's attribute values after the common ones.
fn build<'py>(
    py: Python<'py>,
    key: &SeriesKey,
    k: &Kinds<'py>,
    n: usize,
    mut fill: impl FnMut(usize, &Bound<'py, PyDict>) -> PyResult<()>,
) -> PyResult<Bound<'py, PyList>> {
    let symbol = PyString::new(py, key.symbol());
    let vt_symbol = PyString::new(py, &format!("{}.{}", key.symbol(), key.exchange()));
    let gateway = PyString::new(py, "DB");
    let out = PyList::empty(py);
    if n == 0 {
        return Ok(out);
    }
    // Every object's __dict__ starts as a copy of this one, keys in the dataclass's order; a
    // row then only replaces values, so the dict never grows or rehashes.
    let template = PyDict::new(py);
    template.set_item(intern!(py, "gateway_name"), &gateway)?;
    template.set_item(intern!(py, "extra"), py.None())?;
    template.set_item(intern!(py, "symbol"), &symbol)?;
    template.set_item(intern!(py, "exchange"), &k.exchange)?;
    fill(0, &template)?;
    template.set_item(intern!(py, "vt_symbol"), &vt_symbol)?;
    let dict = intern!(py, "__dict__");
    for i in 0..n {
        let d = template.copy()?;
        fill(i, &d)?;
        let obj = k.new.call1((&k.cls,))?;
        obj.setattr(dict, d)?;
        out.append(obj)?;
    }
    Ok(out)
}

/// vn.py `BarData` objects of `cols`.
pub fn bars<'py>(
    py: Python<'py>,
    key: &SeriesKey,
    cols: &BarColumns,
    kinds_: &Bound<'py, PyAny>,
    tz: &str,
) -> PyResult<Bound<'py, PyList>> {
    let k = kinds(kinds_)?;
    let clock = Clock {
        tz: zone(tz)?,
        tzinfo: k.tzinfo.clone(),
    };
    let names: Vec<Bound<'py, PyString>> = BarColumns::schema()
        .iter()
        .map(|s| PyString::intern(py, s.name))
        .collect();
    let refs = cols.refs();
    let interval = k.interval.clone();
    build(py, key, &k, cols.len(), |i, d| {
        d.set_item(intern!(py, "interval"), &interval)?;
        for (name, col) in names.iter().zip(&refs) {
            match col {
                ColumnRef::Time(v) => d.set_item(name, clock.datetime(py, v[i])?)?,
                ColumnRef::F64(v) => d.set_item(name, v[i])?,
                ColumnRef::OptTime(_) | ColumnRef::Str(_) => {}
            }
        }
        Ok(())
    })
}

/// vn.py `TickData` objects of `cols`.
pub fn ticks<'py>(
    py: Python<'py>,
    key: &SeriesKey,
    cols: &TickColumns,
    kinds_: &Bound<'py, PyAny>,
    tz: &str,
) -> PyResult<Bound<'py, PyList>> {
    let k = kinds(kinds_)?;
    let clock = Clock {
        tz: zone(tz)?,
        tzinfo: k.tzinfo.clone(),
    };
    let names: Vec<Bound<'py, PyString>> = TickColumns::schema()
        .iter()
        .map(|s| PyString::intern(py, s.name))
        .collect();
    let refs = cols.refs();
    let mut last_name: Option<(std::sync::Arc<str>, Bound<'py, PyString>)> = None;
    build(py, key, &k, cols.len(), |i, d| {
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
    })
}
