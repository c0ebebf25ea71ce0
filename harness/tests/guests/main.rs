//! End-to-end tests whose subject is a real guest: the real `clockstorm`
//! binary booting real kernels under QEMU (TCG here) with the static probe.
//! Clocksources honoured, wraps, freezes, vCPU freezes, starvation, the data
//! channels, and a smoke run of every shipped scenario.
//!
//! They need what `ci/setup-host.sh` installs (QEMU, a cached kernel, the
//! static probe); without it they fail with the command that fixes it.
//! Guests measure timing, so these run one at a time (ci/test.sh runs this
//! binary with `-j 1`, after everything else).

mod bench;
mod characterize;
mod faults;
mod guests;
mod integrity;
mod probe;
mod scenarios;
mod standalone;
#[path = "../support/mod.rs"]
mod support;
mod time_service;
