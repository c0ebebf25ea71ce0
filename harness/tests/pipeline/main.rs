//! End-to-end tests of the pipeline on the fake backend (`--backend fake`):
//! the real `clockstorm` binary, its real data channel, QMP, faults, records
//! and reports, with the fake guest process in place of QEMU. Seconds each,
//! in parallel. Also the bad-input paths (nothing starts) and the probe
//! standalone on this host. What only a real guest can show lives in the
//! `guests` test binary.

mod bad_input;
mod characterize;
mod ci_examples;
mod cli;
mod fake;
mod faults;
mod hostile;
mod interrupt;
mod kernels;
mod kill;
mod libvirt;
mod probe;
mod reports;
mod scenarios;
#[path = "../support/mod.rs"]
mod support;
