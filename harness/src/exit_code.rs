//! The process exit codes, documented in the README. Stable: CI scripts
//! branch on them.

/// Every run completed (or was skipped for a stated reason, e.g. kvm-clock under TCG).
pub const SUCCESS: u8 = 0;
/// At least one guest failed: QEMU died, the kernel panicked, the probe
/// failed or never said hello, or the clocksource was not honored.
pub const RUN_FAILED: u8 = 1;
/// Bad input: command-line arguments, scenario file, kernel path. Nothing ran.
pub const USAGE: u8 = 2;
/// A scenario gate failed.
pub const GATE_FAILED: u8 = 3;
/// `report --baseline`: a metric got worse than the baseline, significantly
/// (Welch, p < 0.05) and by more than its noise threshold.
pub const REGRESSION: u8 = 4;
/// The host lacks something: QEMU, a guest kernel, the probe binary, a
/// writable output directory. Nothing ran, or nothing more could.
pub const ENVIRONMENT: u8 = 5;
/// Stopped by Ctrl-C (or SIGTERM); what was measured is kept.
pub const INTERRUPTED: u8 = crate::signals::EXIT_INTERRUPTED;
