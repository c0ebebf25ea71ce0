//! Replays the fuzzers' kept inputs on stable, without a fuzzer: every file
//! of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through the
//! same function the fuzz target calls (`clockstorm::fuzzing`). A panic or a
//! failed property here is a regression of something the fuzzer once
//! reached or found. See docs/fuzzing.md.

use std::path::{Path, PathBuf};

use clockstorm::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Every input of `kind` (corpus or regressions) for every target; returns
/// how many ran.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    for (name, target) in TARGETS {
        for file in inputs(&fuzz_dir().join(kind).join(name)) {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails (replay it with `cargo +nightly fuzz run {name} {}`)", file.display(), file.display());
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_corpus_input_passes_its_target() {
    for (name, _) in TARGETS {
        assert!(!inputs(&fuzz_dir().join("corpus").join(name)).is_empty(), "fuzz/corpus/{name} is empty");
        assert!(fuzz_dir().join("fuzz_targets").join(format!("{name}.rs")).is_file(), "no fuzz target for {name}");
    }
    assert!(replay("corpus") > 0);
}

#[test]
fn every_input_a_fuzzer_found_failing_passes_now() {
    replay("regressions");
}
