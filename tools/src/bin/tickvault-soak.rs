//! `tickvault-soak`: the kill -9 soak runner. It drives `tickvault record` children, kills them
//! with SIGKILL at random moments (including while they recover the store), and checks every
//! acknowledged row. Exit status 0 when every row is present, 1 when one is lost or wrong.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tickvault_cli::soak::{run, Soak};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Kill -9 soak: tickvault record children killed at random moments"
)]
struct Args {
    /// Kill cycles.
    #[arg(long, default_value_t = 1000)]
    cycles: u64,
    /// Seed of batch sizes and kill moments (repeat a failing run with its seed).
    #[arg(long, default_value_t = 0x5eed_2026)]
    seed: u64,
    /// The longest a child runs before it is killed, in milliseconds.
    #[arg(long, default_value_t = 40)]
    max_delay_ms: u64,
    /// Check the store after this many cycles.
    #[arg(long, default_value_t = 10)]
    check_every: u64,
    /// The store to record into (default: a new temporary directory, removed after a clean run).
    #[arg(long)]
    db: Option<PathBuf>,
    /// The `tickvault` binary (default: the one beside this binary).
    #[arg(long)]
    tickvault: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let tickvault = args.tickvault.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("tickvault")))
            .unwrap_or_else(|| PathBuf::from("tickvault"))
    });
    let temp = match &args.db {
        Some(_) => None,
        None => match tempfile::tempdir() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot make a temporary directory: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let db = args
        .db
        .clone()
        .or_else(|| temp.as_ref().map(|t| t.path().join("db")))
        .unwrap_or_default();
    let soak = Soak {
        tickvault,
        db: db.clone(),
        cycles: args.cycles,
        seed: args.seed,
        max_delay: Duration::from_millis(args.max_delay_ms),
        check_every: args.check_every,
    };
    let start = Instant::now();
    let mut last_print = Instant::now();
    let result = run(&soak, &mut |cycles, rows| {
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!("{cycles} cycles, {rows} acknowledged rows present");
            last_print = Instant::now();
        }
    });
    match result {
        Ok(r) => {
            println!(
                "{} kill -9 cycles ({} killed before any acknowledgement), {} acknowledged rows, \
                 every one present in {} checks; {:.0} s, seed {}",
                r.cycles,
                r.killed_before_ack,
                r.acknowledged,
                r.checks,
                start.elapsed().as_secs_f64(),
                args.seed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Keep the store for a post-mortem.
            let kept = temp.map(|t| t.keep()).map(|p| p.join("db")).unwrap_or(db);
            eprintln!(
                "LOST: {e} (store kept at {}; repeat with --seed {})",
                kept.display(),
                args.seed
            );
            ExitCode::from(1)
        }
    }
}
