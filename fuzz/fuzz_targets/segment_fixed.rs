//! Fuzz target: `tickvault_tests::fuzz::segment_fixed` (the segment reader behind its
//! checksums, which the harness recomputes) must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tickvault_tests::fuzz::segment_fixed(data));
