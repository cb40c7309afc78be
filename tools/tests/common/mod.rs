//! Running the `tickvault` binary from the CLI tests, in UTC.

#![allow(dead_code)] // each test file uses some of these

use std::path::Path;
use std::process::{Command, Output};

/// Runs `tickvault ARGS`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickvault"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run tickvault")
}

/// Runs `tickvault ARGS`, which must succeed; returns its stdout.
pub fn run_ok(args: &[&str]) -> String {
    success(args, run(args))
}

/// Runs `tickvault ARGS`, which must fail with exit code 2; returns its stderr.
pub fn run_fails(args: &[&str]) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

/// Runs `tickvault --db DB ARGS`.
pub fn tv(db: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--db", db.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    run(&all)
}

/// Runs `tickvault --db DB ARGS`, which must succeed; returns its stdout.
pub fn ok(db: &Path, args: &[&str]) -> String {
    success(args, tv(db, args))
}

fn success(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
