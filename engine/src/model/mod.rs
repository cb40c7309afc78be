//! The data model: vn.py's enums and records, timestamps, and series keys.

mod data;
mod exchange;
mod key;
mod timestamp;

pub use data::{BarData, BarOverview, TickData, TickOverview};
pub use exchange::{Exchange, Interval};
pub use key::{validate_symbol, SeriesKey, SeriesKind, SYMBOL_MAX_BYTES};
pub use timestamp::{write_fraction, Timestamp};
