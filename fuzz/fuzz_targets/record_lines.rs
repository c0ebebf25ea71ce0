//! See clockstorm::fuzzing::record_lines (harness/src/fuzzing.rs) for what is fed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clockstorm::fuzzing::record_lines(data));
