//! Fuzz target: `tickvault_cli::fuzz::json` (the bytes imported as a json file, bars and ticks,
//! abort and skip) must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tickvault_cli::fuzz::json(data));
