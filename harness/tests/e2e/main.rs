//! End-to-end tests: the real `clockstorm` binary booting real guests under
//! QEMU (TCG here) with the cached Debian kernel and the static probe.
//!
//! They need what `ci/setup-host.sh` installs (QEMU, a cached kernel, the
//! static probe); without it they fail with the command that fixes it.
//! Guests measure timing, so the tests run one at a time
//! (`--test-threads=1`, see ci/test.sh).

mod bad_input;
mod faults;
mod guests;
mod integrity;
mod interrupt;
mod probe;
mod reports;
mod scenarios;
mod support;
