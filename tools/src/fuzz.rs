//! Harnesses of the import fuzz targets (`fuzz/fuzz_targets/{csv,json,jsonl}.rs`), also run over
//! their checked-in corpora as ordinary tests (`tools/tests/fuzz_corpus.rs`). Each takes
//! arbitrary bytes as a file to import, as bars and as ticks, under both `--on-error` policies,
//! and must never panic; every batch it yields must be well formed.

use std::io::Write;

use tickvault::{BarColumns, Columns, Exchange, Interval, SeriesKind, TickColumns};

use crate::table::{self, Checker, FileFormat, OnError, Route};
use crate::time::ReadOptions;

/// The bytes as a CSV file.
pub fn csv(data: &[u8]) {
    import(data, FileFormat::Csv);
}

/// The bytes as a JSON array of objects.
pub fn json(data: &[u8]) {
    import(data, FileFormat::Json);
}

/// The bytes as JSON Lines.
pub fn jsonl(data: &[u8]) {
    import(data, FileFormat::Jsonl);
}

fn import(data: &[u8], format: FileFormat) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).and_then(|()| file.flush()).is_err() {
        return;
    }
    for on_error in [OnError::Abort, OnError::Skip] {
        read::<BarColumns>(file.path(), format, on_error);
        read::<TickColumns>(file.path(), format, on_error);
    }
}

fn read<C: Columns>(path: &std::path::Path, format: FileFormat, on_error: OnError) {
    let route = Route {
        kind: C::KIND,
        symbol: None,
        exchange: Some(Exchange::SSE),
        interval: (C::KIND == SeriesKind::Bar).then_some(Interval::Minute),
    };
    let Ok(mut checker) = Checker::new(route, on_error, false, None) else {
        return;
    };
    let opts = ReadOptions {
        tz: chrono_tz::UTC,
        epoch: None,
        format: None,
        map: Vec::new(),
        columns: None,
    };
    let mut rows = 0u64;
    let result = table::read_batches::<C>(path, &opts, format, &mut checker, &mut |key, cols| {
        assert_eq!(key.kind(), C::KIND);
        cols.check_lengths().map_err(anyhow::Error::from)?;
        rows += cols.len() as u64;
        Ok(())
    });
    // Rows handed over and rows skipped never exceed rows read.
    assert!(
        rows + checker.skipped <= checker.read,
        "{rows} + {} > {}",
        checker.skipped,
        checker.read
    );
    if on_error == OnError::Skip && result.is_ok() {
        assert_eq!(rows + checker.skipped, checker.read);
    }
}
