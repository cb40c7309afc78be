//! `Timestamp`: nanoseconds since the Unix epoch, UTC, the only time type of the engine.
//!
//! Naive wall-clock times are converted at the edges (CLI, SQL bridge) with an explicit zone;
//! inside the engine every instant is one `i64`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant as nanoseconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bytemuck::Pod, bytemuck::Zeroable,
)]
#[repr(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant (1677-09-21).
    pub const MIN: Timestamp = Timestamp(i64::MIN + 1);
    /// The latest representable instant (2262-04-11).
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The value stored for "no time" in optional columns; never a valid row time.
    pub(crate) const NONE_NS: i64 = i64::MIN;

    /// From nanoseconds since the epoch.
    pub const fn from_ns(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// From whole seconds since the epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NS_PER_SEC))
    }

    /// From milliseconds since the epoch (saturating).
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_ns(self) -> i64 {
        self.0
    }

    /// This instant plus `ns` nanoseconds (saturating).
    pub const fn add_ns(self, ns: i64) -> Self {
        Timestamp(self.0.saturating_add(ns))
    }

    /// From a UTC calendar date and time; `None` when a field is out of range.
    pub fn from_utc(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
            || nanos >= 1_000_000_000
        {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        let secs = days
            .checked_mul(SECS_PER_DAY)?
            .checked_add(i64::from(hour * 3600 + minute * 60 + second))?;
        let ns = secs
            .checked_mul(NS_PER_SEC)?
            .checked_add(i64::from(nanos))?;
        (ns != Self::NONE_NS).then_some(Timestamp(ns))
    }

    /// The UTC calendar fields: (year, month, day, hour, minute, second, nanosecond).
    pub fn to_utc(self) -> (i32, u32, u32, u32, u32, u32, u32) {
        let secs = self.0.div_euclid(NS_PER_SEC);
        let nanos = self.0.rem_euclid(NS_PER_SEC) as u32;
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
        let (y, m, d) = civil_from_days(days);
        (y as i32, m, d, sod / 3600, sod / 60 % 60, sod % 60, nanos)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// RFC 3339 in UTC: `2024-01-02T09:00:00Z`, with a fraction only when it is nonzero.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, ns) = self.to_utc();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        write_fraction(f, ns)?;
        f.write_str("Z")
    }
}

/// Writes `.fff`, `.ffffff` or `.fffffffff` (the shortest of the three that is exact), or nothing.
pub fn write_fraction(f: &mut impl fmt::Write, ns: u32) -> fmt::Result {
    if ns == 0 {
        Ok(())
    } else if ns.is_multiple_of(1_000_000) {
        write!(f, ".{:03}", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        write!(f, ".{:06}", ns / 1_000)
    } else {
        write!(f, ".{ns:09}")
    }
}

/// Parses RFC 3339 with `Z` or a numeric offset (`2024-01-02T09:00:00.5+08:00`); a space may
/// stand for the `T`. Naive times are refused here: zones are the caller's business.
impl FromStr for Timestamp {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("not an RFC 3339 time with an offset: {s:?}"));
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<u32> {
            let part = b.get(r).ok_or_else(bad)?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            std::str::from_utf8(part)
                .map_err(|_| bad())?
                .parse()
                .map_err(|_| bad())
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(bad());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let year = num(0..4)? as i32;
        let (month, day) = (num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let digits = end - start;
            if digits == 0 || digits > 9 {
                return Err(bad());
            }
            nanos = num(start..end)? * 10u32.pow(9 - digits as u32);
            i = end;
        }
        let offset_secs: i64 = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let secs = i64::from(oh * 3600 + om * 60);
                if sign == b'-' {
                    -secs
                } else {
                    secs
                }
            }
            _ => return Err(bad()),
        };
        let local =
            Timestamp::from_utc(year, month, day, hour, minute, second, nanos).ok_or_else(bad)?;
        local
            .0
            .checked_sub(offset_secs * NS_PER_SEC)
            .filter(|&ns| ns != Self::NONE_NS)
            .map(Timestamp)
            .ok_or_else(bad)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let t = Timestamp::from_utc(2024, 1, 2, 9, 30, 5, 250_000_000).unwrap();
        assert_eq!(t.to_string(), "2024-01-02T09:30:05.250Z");
        assert_eq!("2024-01-02T09:30:05.250Z".parse::<Timestamp>().unwrap(), t);
        assert_eq!(
            "2024-01-02 17:30:05.25+08:00".parse::<Timestamp>().unwrap(),
            t
        );
        assert_eq!(Timestamp::from_ns(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_ns(-1).to_string(),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            Timestamp::from_ns(1_500).to_string(),
            "1970-01-01T00:00:00.000001500Z"
        );
    }

    #[test]
    fn civil_conversion_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        for days in [-800_000, -1, 0, 59, 10_000, 20_000, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn parse_rejects_naive_and_malformed() {
        for s in [
            "2024-01-02T09:00:00",
            "2024-13-02T09:00:00Z",
            "2024-02-30T00:00:00Z",
            "garbage",
            "2024-01-02T09:00:00+8:00",
            "2024-01-02T09:00:00.Z",
        ] {
            assert!(
                matches!(s.parse::<Timestamp>(), Err(Error::InvalidArgument(_))),
                "{s}"
            );
        }
    }
}
