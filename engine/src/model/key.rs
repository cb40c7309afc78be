//! Series keys and their partition directory names.
//!
//! Invariant: `SeriesKey::dir_name` is injective and its output uses only `[a-z0-9._%-]`, never
//! starts with `.`, and is at most 255 bytes, so no symbol can name a path outside the store and
//! names differing only in case map to different directories even on case-insensitive file systems.

use std::fmt;

use smol_str::SmolStr;

use super::{Exchange, Interval};
use crate::error::{Error, Result};

/// The longest symbol accepted, in bytes of UTF-8.
pub const SYMBOL_MAX_BYTES: usize = 64;

/// Checks a symbol: non-empty, at most [`SYMBOL_MAX_BYTES`] bytes, no NUL or control characters.
pub fn validate_symbol(symbol: &str) -> Result<()> {
    if symbol.is_empty() {
        return Err(Error::InvalidArgument("symbol is empty".into()));
    }
    if symbol.len() > SYMBOL_MAX_BYTES {
        return Err(Error::InvalidArgument(format!(
            "symbol is {} bytes, more than the {SYMBOL_MAX_BYTES} allowed",
            symbol.len()
        )));
    }
    if let Some(c) = symbol.chars().find(|c| c.is_control()) {
        return Err(Error::InvalidArgument(format!(
            "symbol {symbol:?} contains the control character {:?}",
            c
        )));
    }
    Ok(())
}

/// Whether a series holds bars or ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeriesKind {
    /// K-line bars of one interval.
    Bar,
    /// Level-2 ticks.
    Tick,
}

/// The key of one series (one partition): symbol, exchange and interval (`tick` for ticks).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    symbol: SmolStr,
    exchange: Exchange,
    interval: Interval,
}

impl SeriesKey {
    /// The key of a bar series; the symbol is validated and the interval may not be `tick`.
    pub fn bar(symbol: &str, exchange: Exchange, interval: Interval) -> Result<Self> {
        if interval == Interval::Tick {
            return Err(Error::InvalidArgument(
                "bars cannot have the interval `tick`; save ticks as TickData".into(),
            ));
        }
        Self::new(symbol.into(), exchange, interval)
    }

    /// The key of a tick series; the symbol is validated.
    pub fn tick(symbol: &str, exchange: Exchange) -> Result<Self> {
        Self::new(symbol.into(), exchange, Interval::Tick)
    }

    pub(crate) fn new(symbol: SmolStr, exchange: Exchange, interval: Interval) -> Result<Self> {
        validate_symbol(&symbol)?;
        Ok(SeriesKey {
            symbol,
            exchange,
            interval,
        })
    }

    /// The same key with a symbol of its own allocation (so that threads cloning it do not
    /// contend on one reference count): a symbol of more than 23 bytes is shared and counted
    /// when cloned, while a shorter one is inline and copied anyway.
    pub fn with_own_symbol(&self) -> Self {
        SeriesKey {
            symbol: SmolStr::new(self.symbol.as_str()),
            exchange: self.exchange,
            interval: self.interval,
        }
    }

    /// The symbol.
    pub fn symbol(&self) -> &SmolStr {
        &self.symbol
    }

    /// The exchange.
    pub fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// The interval (`tick` for a tick series).
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// Bars or ticks.
    pub fn kind(&self) -> SeriesKind {
        if self.interval == Interval::Tick {
            SeriesKind::Tick
        } else {
            SeriesKind::Bar
        }
    }

    /// The partition directory name: `<symbol>.<exchange>.<interval>`, with the symbol
    /// percent-encoded (every byte outside `[a-z0-9_-]`, upper case included, becomes `%xx`).
    pub fn dir_name(&self) -> String {
        let mut out = String::with_capacity(self.symbol.len() * 3 + 16);
        for &b in self.symbol.as_bytes() {
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        out.push('.');
        out.push_str(&self.exchange.as_str().to_ascii_lowercase());
        out.push('.');
        out.push_str(self.interval.as_str());
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} {}", self.symbol, self.exchange, self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hostile_symbols_stay_inside() {
        for s in [
            "../x",
            "/etc/passwd",
            "a\\b",
            ".",
            "..",
            "a/../../b",
            "CON",
            "x.y",
        ] {
            let name = SeriesKey::bar(s, Exchange::SSE, Interval::Minute)
                .unwrap()
                .dir_name();
            assert!(!name.contains('/') && !name.contains('\\'), "{name}");
            assert!(!name.starts_with('.'), "{name}");
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._%-".contains(&b)));
        }
        let long = "é".repeat(32);
        let name = SeriesKey::tick(&long, Exchange::IDEALPRO)
            .unwrap()
            .dir_name();
        assert!(name.len() <= 255, "{}", name.len());
    }

    #[test]
    fn case_variants_get_distinct_case_insensitive_names() {
        let names: HashSet<String> = ["ab", "AB", "Ab", "aB", "%41b", "a.b", "a%2eb"]
            .iter()
            .map(|s| {
                SeriesKey::bar(s, Exchange::SSE, Interval::Daily)
                    .unwrap()
                    .dir_name()
                    .to_lowercase()
            })
            .collect();
        assert_eq!(names.len(), 7);
        assert_eq!(
            SeriesKey::bar("IF2406", Exchange::CFFEX, Interval::Minute)
                .unwrap()
                .dir_name(),
            "%49%462406.cffex.1m"
        );
    }

    #[test]
    fn a_long_symbol_gets_an_allocation_of_its_own() {
        let key = SeriesKey::bar(&"S".repeat(40), Exchange::SSE, Interval::Minute).unwrap();
        let own = key.with_own_symbol();
        assert_eq!(own, key);
        assert!(own.symbol().is_heap_allocated());
        assert_ne!(own.symbol().as_ptr(), key.symbol().as_ptr());
        // A clone shares the allocation (and its reference count).
        assert_eq!(key.clone().symbol().as_ptr(), key.symbol().as_ptr());
    }

    #[test]
    fn invalid_symbols_are_refused() {
        let too_long = "x".repeat(65);
        for s in ["", "a\0b", "a\nb", "\u{7f}", too_long.as_str()] {
            assert!(
                matches!(validate_symbol(s), Err(Error::InvalidArgument(_))),
                "{s:?}"
            );
        }
        assert!(validate_symbol(&"x".repeat(64)).is_ok());
        assert!(matches!(
            SeriesKey::bar("x", Exchange::SSE, Interval::Tick),
            Err(Error::InvalidArgument(_))
        ));
    }
}
