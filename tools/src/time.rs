//! Time zones at the edge: parsing user times (with an offset, or naive in a zone) and printing
//! instants in a zone with their offset. A naive time that a DST change skips or repeats is an
//! error, never silently shifted.

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use tickvault::Timestamp;

/// The zone named `name`, or the system's zone when `None` (UTC if it cannot be found).
pub fn zone(name: Option<&str>) -> Result<Tz> {
    match name {
        Some(n) => n.parse::<Tz>().map_err(|_| {
            anyhow!("unknown time zone {n:?} (use an IANA name such as Asia/Shanghai or UTC)")
        }),
        None => Ok(iana_time_zone::get_timezone()
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(Tz::UTC)),
    }
}

/// An instant from chrono.
pub fn from_chrono<Z: TimeZone>(dt: &DateTime<Z>) -> Result<Timestamp> {
    dt.timestamp_nanos_opt()
        .map(Timestamp::from_ns)
        .ok_or_else(|| anyhow!("{} is outside the years 1678 to 2261", dt.naive_utc()))
}

/// Reads a naive wall-clock time in `tz`.
pub fn from_naive(naive: NaiveDateTime, tz: Tz) -> Result<Timestamp> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => from_chrono(&dt),
        LocalResult::Ambiguous(a, b) => bail!(
            "{naive} is ambiguous in {tz} (it happens twice, at {} and {}); give the offset",
            a.to_rfc3339(),
            b.to_rfc3339()
        ),
        LocalResult::None => {
            bail!("{naive} does not exist in {tz} (skipped by a daylight-saving change)")
        }
    }
}

/// Parses `2024-01-02T09:00:00+08:00`, `2024-01-02 09:00:00.5Z`, a naive `2024-01-02 09:00[:00]`
/// (read in `tz`), or a date `2024-01-02` (its midnight in `tz`).
pub fn parse(s: &str, tz: Tz) -> Result<Timestamp> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return from_chrono(&dt);
    }
    let t = if s.len() > 10 && s.as_bytes().get(10) == Some(&b' ') {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(&t) {
        return from_chrono(&dt);
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&t, fmt) {
            return from_naive(naive, tz);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).context("midnight")?;
        return from_naive(midnight, tz);
    }
    bail!("cannot read {s:?} as a time (expected ISO 8601, e.g. 2024-01-02T09:30:00+08:00 or 2024-01-02 09:30:00)")
}

/// The unit of integer times in an imported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Epoch {
    /// Seconds since 1970-01-01 UTC.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl Epoch {
    /// Nanoseconds per unit.
    pub fn nanos(self) -> i64 {
        match self {
            Epoch::S => 1_000_000_000,
            Epoch::Ms => 1_000_000,
            Epoch::Us => 1_000,
            Epoch::Ns => 1,
        }
    }
}

/// The instant `v` units after 1970-01-01 UTC.
pub fn at_epoch(v: i64, unit: Epoch) -> Result<Timestamp> {
    v.checked_mul(unit.nanos())
        .map(Timestamp::from_ns)
        .ok_or_else(|| anyhow!("{v} {unit:?} is outside the years 1678 to 2261"))
}

/// How an import reads a file: naive times in `tz`; integers in `epoch` units when given; text
/// in a strftime `format` when given (else ISO 8601); fields under other column names (`map`,
/// field to file column); and, for a CSV file without a header, its column names (`columns`).
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Zone of naive times.
    pub tz: Tz,
    /// Unit of integer times.
    pub epoch: Option<Epoch>,
    /// A strftime format such as `%Y%m%d %H:%M:%S` (with `%z` for an offset).
    pub format: Option<String>,
    /// (field, file column) pairs; a field is vn.py's name or the Data Manager's short one.
    pub map: Vec<(String, String)>,
    /// The names of a header-less CSV file's columns, in order.
    pub columns: Option<Vec<String>>,
}

impl ReadOptions {
    /// ISO 8601 text, naive times in `tz`, columns by their own names.
    pub fn iso(tz: Tz) -> ReadOptions {
        ReadOptions {
            tz,
            epoch: None,
            format: None,
            map: Vec::new(),
            columns: None,
        }
    }

    /// Whether the file column `name` holds `field` (whose short name is `short`).
    pub fn holds(&self, field: &str, short: &str, name: &str) -> bool {
        match self
            .map
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(field) || f.eq_ignore_ascii_case(short))
        {
            Some((_, col)) => name.eq_ignore_ascii_case(col),
            None => name.eq_ignore_ascii_case(field) || name.eq_ignore_ascii_case(short),
        }
    }

    /// Parses `--map open=Open,datetime=Date`.
    pub fn parse_map(text: &str) -> Result<Vec<(String, String)>> {
        text.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (field, col) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--map wants FIELD=COLUMN pairs, got {pair:?}"))?;
                Ok((field.trim().to_string(), col.trim().to_string()))
            })
            .collect()
    }

    /// Reads one value.
    pub fn read(&self, s: &str) -> Result<Timestamp> {
        let s = s.trim();
        if let Some(unit) = self.epoch {
            let v: i64 = s
                .parse()
                .map_err(|_| anyhow!("cannot read {s:?} as an integer time (--epoch {unit:?})"))?;
            return at_epoch(v, unit);
        }
        if let Some(f) = &self.format {
            if f.contains("%z") || f.contains("%:z") || f.contains("%#z") {
                let dt = DateTime::parse_from_str(s, f)
                    .map_err(|e| anyhow!("cannot read {s:?} with format {f:?}: {e}"))?;
                return from_chrono(&dt);
            }
            if let Ok(naive) = NaiveDateTime::parse_from_str(s, f) {
                return from_naive(naive, self.tz);
            }
            let date = NaiveDate::parse_from_str(s, f)
                .map_err(|e| anyhow!("cannot read {s:?} with format {f:?}: {e}"))?;
            return from_naive(date.and_hms_opt(0, 0, 0).context("midnight")?, self.tz);
        }
        parse(s, self.tz).map_err(|e| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                anyhow!("{e}; for epoch times give --epoch s|ms|us|ns")
            } else {
                e
            }
        })
    }
}

/// RFC 3339 in `tz` with its offset; the fraction only when nonzero.
pub fn format(ts: Timestamp, tz: Tz) -> String {
    DateTime::from_timestamp_nanos(ts.as_ns())
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_naive_times_and_dates() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let t = parse("2024-01-02T09:00:00+08:00", Tz::UTC).unwrap();
        assert_eq!(t.to_string(), "2024-01-02T01:00:00Z");
        assert_eq!(parse("2024-01-02 09:00:00", sh).unwrap(), t);
        assert_eq!(parse("2024-01-02 01:00:00Z", sh).unwrap(), t);
        assert_eq!(
            parse("2024-01-02", sh).unwrap().to_string(),
            "2024-01-01T16:00:00Z"
        );
        assert_eq!(format(t, sh), "2024-01-02T09:00:00+08:00");
        assert_eq!(
            format(t.add_ns(500_000_000), Tz::UTC),
            "2024-01-02T01:00:00.500+00:00"
        );
        assert!(parse("yesterday", sh).is_err());
    }

    #[test]
    fn dst_gaps_and_overlaps_are_errors() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let gap = parse("2024-03-10 02:30:00", ny).unwrap_err().to_string();
        assert!(gap.contains("does not exist"), "{gap}");
        let overlap = parse("2024-11-03 01:30:00", ny).unwrap_err().to_string();
        assert!(overlap.contains("ambiguous"), "{overlap}");
        assert_eq!(
            parse("2024-11-03 01:30:00-04:00", ny).unwrap().to_string(),
            "2024-11-03T05:30:00Z"
        );
    }
}
