//! tickvault: an embedded, columnar time-series storage engine for market data.
//!
//! Bars and ticks are stored per series (symbol, exchange, interval) as immutable, compressed,
//! checksummed column segments; a manifest is the single commit point. [`Engine`] implements the
//! [`Database`] trait (vn.py's `BaseDatabase`) and offers columnar fast paths
//! ([`BarColumns`], [`TickColumns`]) and bounded-memory scans.
//!
//! ```
//! use tickvault::{BarData, Database, Engine, Exchange, Interval, Timestamp};
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Engine::open(dir.path().join("store"))?;
//! let mut bar = BarData::new("rb2610", Exchange::SHFE, Interval::Minute, Timestamp::from_secs(60));
//! bar.close_price = 3517.0;
//! db.save_bar_data(&[bar.clone()], false)?;
//! let loaded = db.load_bar_data("rb2610", Exchange::SHFE, Interval::Minute, Timestamp::MIN, Timestamp::MAX)?;
//! assert_eq!(loaded, vec![bar]);
//! # Ok::<(), tickvault::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod backup;
mod cache;
mod checksum;
pub mod codec;
mod columns;
mod compaction;
mod db;
mod engine;
mod error;
pub mod io;
pub mod manifest;
mod memtable;
pub mod model;
mod progress;
mod read;
pub mod sample;
pub mod segment;
mod snapshot;
mod stats;
mod stream;
mod verify;
pub mod wal;
mod write;

pub use backup::{
    list_backups, list_backups_on, prune_backups, prune_backups_on, restore, restore_on,
    restore_with_progress, BackupEntry, BackupInfo,
};
pub use cache::BlockCacheStats;
pub use columns::{BarColumns, ColumnSpec, Columns, TickColumns};
pub use compaction::CompactStats;
pub use db::Database;
pub use engine::{Engine, EngineBuilder, StoreInfo, BLOCK_CACHE_BYTES, SEGMENT_EXTENSION};
pub use error::{Error, Result};
pub use model::{
    BarData, BarOverview, Exchange, Interval, SeriesKey, SeriesKind, TickData, TickOverview,
    Timestamp,
};
pub use progress::{OnProgress, Progress};
pub use read::Scan;
/// The string type of symbols and tick names: up to 23 bytes inline, so cloning one into each
/// loaded row copies it instead of counting a shared reference.
pub use smol_str::SmolStr;
pub use snapshot::Snapshot;
pub use stats::RangeStats;
pub use verify::{verify, verify_on, verify_with_progress, Problem, VerifyReport};
pub use wal::SyncPolicy;
pub use write::StagedSeries;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
