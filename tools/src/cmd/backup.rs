//! `backup`, `backups`, `restore`, `verify`.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use tickvault::{Engine, Error};

use super::human_bytes;
use crate::cli::{BackupArgs, BackupsArgs, Cli, RestoreArgs, VerifyArgs};

/// `7d`, `12h`, `30m`, `90s`.
pub(crate) fn duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow!("bad duration {s:?}: use e.g. 7d, 12h, 30m"))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" | "" => n,
        _ => bail!("bad duration {s:?}: use e.g. 7d, 12h, 30m"),
    };
    Ok(Duration::from_secs(secs))
}

/// Feeds the library's progress reports to a bar.
fn show(bar: &indicatif::ProgressBar) -> impl Fn(tickvault::Progress) + '_ {
    move |p| {
        if bar.message() != p.stage {
            bar.set_message(p.stage);
            bar.reset();
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
    }
}

pub fn backup(cli: &Cli, a: &BackupArgs) -> Result<()> {
    let keep_within = a.keep_within.as_deref().map(duration).transpose()?;
    // The writer (a recorder) may be running: then back up what it has committed.
    let db = match Engine::builder(&cli.db).create_if_missing(false).open() {
        Err(Error::Locked { .. }) => Engine::open_read_only(&cli.db),
        other => other,
    }
    .with_context(|| format!("cannot open the store {}", cli.db.display()))?;
    let bar = cli.byte_progress();
    let info = db.backup_with_progress(&a.dest, &show(&bar))?;
    bar.finish_and_clear();
    let removed = tickvault::prune_backups(&a.dest, a.keep_last, keep_within)?;
    if cli.json {
        println!(
            "{}",
            json!({"type": "backup", "name": info.name, "path": info.path.display().to_string(), "segments": info.segments,
                   "rows": info.rows, "bytes": info.bytes, "new_bytes": info.new_bytes, "removed": removed})
        );
    } else {
        println!(
            "backup {} : {} rows, {} in {} segments ({} new)",
            info.path.display(),
            info.rows,
            human_bytes(info.bytes),
            info.segments,
            human_bytes(info.new_bytes)
        );
        for name in removed {
            println!("removed old backup {name}");
        }
    }
    Ok(())
}

pub fn list(cli: &Cli, a: &BackupsArgs) -> Result<()> {
    for b in tickvault::list_backups(&a.dest)? {
        if cli.json {
            println!(
                "{}",
                json!({"type": "backup", "name": b.name, "created": b.created.to_string(), "segments": b.segments,
                       "bytes": b.bytes, "shared_bytes": b.shared_bytes})
            );
        } else {
            println!(
                "{}  {} segments  {}  ({} shared with other backups)",
                b.name,
                b.segments,
                human_bytes(b.bytes),
                human_bytes(b.shared_bytes)
            );
        }
    }
    Ok(())
}

pub fn restore(cli: &Cli, a: &RestoreArgs) -> Result<()> {
    let bar = cli.byte_progress();
    let aside = tickvault::restore_with_progress(&a.backup, &a.to, a.force, &show(&bar))?;
    bar.finish_and_clear();
    if cli.json {
        println!(
            "{}",
            json!({"type": "restore", "to": a.to.display().to_string(), "moved_aside": aside.map(|p| p.display().to_string())})
        );
    } else {
        if let Some(old) = aside {
            println!(
                "the store that was at {} is now at {}",
                a.to.display(),
                old.display()
            );
        }
        println!("restored {} to {}", a.backup.display(), a.to.display());
    }
    Ok(())
}

pub fn verify(cli: &Cli, a: &VerifyArgs) -> Result<()> {
    let path = a.path.clone().unwrap_or_else(|| cli.db.clone());
    let bar = cli.byte_progress();
    let report = tickvault::verify_with_progress(&path, a.deep, &show(&bar))?;
    bar.finish_and_clear();
    for o in &report.orphans {
        if cli.json {
            println!(
                "{}",
                json!({"type": "orphan", "file": o.display().to_string()})
            );
        } else {
            println!(
                "note: {}: no manifest entry names it (a write in progress or interrupted; the next writer open removes it)",
                o.display()
            );
        }
    }
    for p in &report.problems {
        if cli.json {
            println!(
                "{}",
                json!({"type": "problem", "file": p.file.display().to_string(), "offset": p.offset, "what": p.what})
            );
        } else {
            println!("{p}");
        }
    }
    if cli.json {
        println!(
            "{}",
            json!({"type": "verify", "problems": report.problems.len(), "orphans": report.orphans.len(), "segments": report.segments,
                   "rows": report.rows, "bytes": report.bytes, "wal_records": report.wal_records})
        );
    } else {
        println!(
            "{} problems; {} segments, {} rows, {} checked; {} WAL records past the last flush",
            report.problems.len(),
            report.segments,
            report.rows,
            human_bytes(report.bytes),
            report.wal_records
        );
    }
    if !report.problems.is_empty() {
        use std::io::Write;
        std::io::stdout().flush()?;
        std::process::exit(1);
    }
    Ok(())
}
