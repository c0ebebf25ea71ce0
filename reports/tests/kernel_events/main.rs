//! Kernel message parser: fixtures (snapshots), a table of real lines per
//! format and kernel generation, grouping under interleaving, and property
//! tests (never panics, linear work).

mod cases;
mod fixtures;
mod grouping;
mod props;

use std::path::PathBuf;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kernel")
}

pub fn read_fixture(name: &str) -> String {
    let p = fixture_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}
