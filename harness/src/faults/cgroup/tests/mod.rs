//! Tests: a fake kernel over tempdir trees (v1, v2), detection and proc
//! parsing, and real cgroup v1 tests that run as root on the CI host.

mod detect_proc;
mod fake;
mod fake_v1;
mod fake_v2;
mod real_v1;
mod real_v2_hybrid;
