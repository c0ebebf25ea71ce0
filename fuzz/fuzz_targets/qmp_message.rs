//! See clockstorm::fuzzing::qmp_message (harness/src/fuzzing.rs) for what is fed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clockstorm::fuzzing::qmp_message(data));
