//! Fuzz target: `tickvault_tests::fuzz::records` must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tickvault_tests::fuzz::records(data));
