//! See clockstorm::fuzzing::kernel_log (harness/src/fuzzing.rs) for what is fed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clockstorm::fuzzing::kernel_log(data));
