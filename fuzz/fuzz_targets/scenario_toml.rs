//! See clockstorm::fuzzing::scenario_toml (harness/src/fuzzing.rs) for what is fed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clockstorm::fuzzing::scenario_toml(data));
