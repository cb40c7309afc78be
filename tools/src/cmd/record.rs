//! `record`: stream saves from stdin, one acknowledgement line per durable commit.
//!
//! The contract crash tests rely on: after `ack N` is printed, the first N rows read are
//! durable under the sync policy, whatever instant the process is killed.

use std::io::{BufRead, Write};

use anyhow::{Context, Result};
use chrono_tz::Tz;
use tickvault::{BarColumns, Columns, Engine, SeriesKey, SeriesKind, SyncPolicy, TickColumns};

use super::series_key;
use crate::cli::{Cli, RecordArgs, RecordFormat};
use crate::table::{csv_layout, csv_row, fill, json_row, RawRow};
use crate::time;

pub fn run(cli: &Cli, a: &RecordArgs) -> Result<()> {
    let key = series_key(&a.series)?;
    let tz = time::zone(a.tz.as_deref())?;
    let policy: SyncPolicy = a.sync.parse()?;
    let db = super::builder(cli)
        .wal_sync(policy)
        .open()
        .with_context(|| format!("cannot open the store {}", cli.db.display()))?;
    match key.kind() {
        SeriesKind::Bar => record::<BarColumns>(&db, &key, a, tz),
        SeriesKind::Tick => record::<TickColumns>(&db, &key, a, tz),
    }?;
    db.flush()?;
    Ok(())
}

struct Acks<'a, C> {
    db: &'a Engine,
    key: &'a SeriesKey,
    tz: Tz,
    batch: usize,
    flush_every: u64,
    flushed_at: u64,
    pending: Vec<RawRow>,
    acked: u64,
    out: std::io::StdoutLock<'static>,
    _kind: std::marker::PhantomData<C>,
}

impl<C: Columns> Acks<'_, C> {
    fn push(&mut self, row: RawRow) -> Result<()> {
        self.pending.push(row);
        if self.pending.len() >= self.batch {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let cols: C = fill(
            &self.pending,
            &crate::time::ReadOptions::iso(self.tz),
            "stdin",
        )?;
        self.db.save_columns(self.key, &cols, true)?;
        self.acked += self.pending.len() as u64;
        self.pending.clear();
        writeln!(self.out, "ack {}", self.acked)?;
        self.out.flush()?;
        if self.flush_every > 0 && self.acked - self.flushed_at >= self.flush_every {
            self.db.flush()?;
            self.flushed_at = self.acked;
        }
        Ok(())
    }
}

fn record<C: Columns>(db: &Engine, key: &SeriesKey, a: &RecordArgs, tz: Tz) -> Result<()> {
    let mut acks = Acks::<C> {
        db,
        key,
        tz,
        batch: a.batch.max(1),
        flush_every: a.flush_every,
        flushed_at: 0,
        pending: Vec::new(),
        acked: 0,
        out: std::io::stdout().lock(),
        _kind: std::marker::PhantomData,
    };
    let stdin = std::io::stdin().lock();
    match a.format {
        RecordFormat::Jsonl => {
            for (i, line) in stdin.lines().enumerate() {
                let line = line.context("reading stdin")?;
                if !line.trim().is_empty() {
                    acks.push(json_row::<C>(
                        &line,
                        i as u64 + 1,
                        &crate::time::ReadOptions::iso(tz),
                        "stdin",
                    )?)?;
                }
            }
        }
        RecordFormat::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(stdin);
            let headers = rdr
                .headers()
                .context("stdin: cannot read the CSV header")?
                .clone();
            let layout = csv_layout::<C>(&headers, &crate::time::ReadOptions::iso(tz), "stdin")?;
            for rec in rdr.records() {
                acks.push(csv_row(
                    &rec.context("stdin: malformed CSV")?,
                    &layout,
                    &[None; 4],
                ))?;
            }
        }
    }
    acks.commit()
}
