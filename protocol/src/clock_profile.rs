//! A kernel's clock profile: what freezes of each length did to a narrow
//! clocksource on one kernel build, as `clockstorm characterize` measured
//! it (docs/clock-model.md, "Per-kernel profiles"). The harness writes it
//! beside the kernel in the kernel cache; the report's model reads the
//! rule it implies ([`ClockRule`]) through the manifest.

use serde::{Deserialize, Serialize};

use crate::{Accel, Clocksource};

/// Version of [`ClockProfile`]'s JSON. Bump on an incompatible change.
pub const CLOCK_PROFILE_VERSION: u32 = 1;

/// What one freeze did to the guest's clock: the regime it fell in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum FreezeOutcome {
    /// The guest lost this many whole wraps of the counter (0: time kept).
    WrapsLost { wraps: u32 },
    /// The guest's clock stopped advancing after the freeze and had not
    /// advanced again when the run ended.
    ClockStopped,
    /// It lost an amount that is no whole number of wraps.
    Irregular,
}

impl std::fmt::Display for FreezeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FreezeOutcome::WrapsLost { wraps: 0 } => f.write_str("time kept"),
            FreezeOutcome::WrapsLost { wraps: 1 } => f.write_str("one wrap lost"),
            FreezeOutcome::WrapsLost { wraps } => write!(f, "{wraps} wraps lost"),
            FreezeOutcome::ClockStopped => f.write_str("the clock stops for good"),
            FreezeOutcome::Irregular => f.write_str("a loss of no whole number of wraps"),
        }
    }
}

/// The kernel build a profile was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProfiledKernel {
    /// The kernel cache entry (or path) it was given as.
    pub name: String,
    pub release: String,
    /// SHA-256 of the kernel image, lowercase hex.
    pub sha256: String,
}

/// One freeze of a characterization and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FreezeObservation {
    /// Which guest (1-based) and which of its freezes.
    pub guest: u32,
    pub fault: usize,
    pub planned_ms: u64,
    /// How long the freeze held, as the host measured it.
    pub achieved_ns: u64,
    pub lost_ns: Option<i64>,
    pub lost_uncertainty_ns: Option<i64>,
    /// None: not measured (the guest's run ended before it, or it has no
    /// time-lost figure).
    pub outcome: Option<FreezeOutcome>,
    /// Steps back of the sampled clock right after the freeze, and the largest.
    pub backward_steps: u64,
    pub worst_backward_ns: u64,
    /// The guest's clock stood still after the freeze and ran again.
    pub stood_still: bool,
    /// The clock lines the kernel printed about this freeze, verbatim.
    pub kernel_lines: Vec<String>,
}

/// A stretch of freeze lengths with one outcome, as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RegimeSpan {
    pub outcome: FreezeOutcome,
    /// The shortest and the longest freeze (achieved) seen with it.
    pub shortest_ns: u64,
    pub longest_ns: u64,
    pub freezes: u32,
    /// Of those, how many stepped the clock back, and the largest step.
    pub stepped_back: u32,
    pub worst_backward_ns: u64,
    /// How many stood still for a while and ran again.
    pub stood_still: u32,
}

/// A freeze length at which the outcome changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RegimeBoundary {
    pub below: FreezeOutcome,
    pub above: FreezeOutcome,
    /// The middle of the bracket and its half-width, which includes the
    /// slack of where the kernel last read the counter (one tick).
    pub at_ns: u64,
    pub plus_minus_ns: u64,
    /// The bracket: the longest freeze seen below and the shortest above.
    pub longest_below_ns: u64,
    pub shortest_above_ns: u64,
    /// The bound is within the resolution asked for.
    pub resolved: bool,
}

/// How a profile was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProfileProvenance {
    pub clockstorm_version: String,
    /// `qemu`, or `fake` (a testing aid: such a profile measures nothing).
    pub backend: String,
    /// First line of `qemu-system-x86_64 --version`.
    pub qemu_version: String,
    pub accel: Accel,
    pub host_cpu_model: String,
    pub host_kernel_release: String,
    pub started_at_unix_ms: u64,
    pub wall_ms: u64,
    pub guests: u32,
    /// The command line it was measured with.
    pub command_line: Vec<String>,
}

/// A kernel's measured clock profile for one clocksource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClockProfile {
    pub profile_version: u32,
    pub kernel: ProfiledKernel,
    pub clocksource: Clocksource,
    /// The counter's wrap period as Linux reads it.
    pub wrap_ns: f64,
    /// The freeze lengths searched and the resolution asked for (± ns).
    pub searched_from_ns: u64,
    pub searched_to_ns: u64,
    pub resolution_ns: u64,
    /// In order of freeze length.
    pub regimes: Vec<RegimeSpan>,
    pub boundaries: Vec<RegimeBoundary>,
    pub observations: Vec<FreezeObservation>,
    pub measured_by: ProfileProvenance,
}

/// What happens once the kernel refuses a masked counter delta as negative
/// motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum AfterRefusal {
    /// The clock stands still until the counter passes its last value
    /// again: the next whole wrap is lost (5.10, 6.1).
    WaitsForTheWrap,
    /// The clock stops for good (6.12 with 7/8 of a wrap, measured here).
    StopsForGood,
}

/// The rule a profile implies for every narrow clocksource of that kernel:
/// a freeze of D costs floor(D/W) wraps while D mod W is at most
/// `refuses_above` × W, and beyond that what `after` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClockRule {
    /// The fraction of a wrap above which a masked delta is refused, and ±.
    pub refuses_above: f64,
    pub plus_minus: f64,
    pub after: AfterRefusal,
    /// Where the rule comes from, in words: "the generic half-wrap rule", or
    /// the profile's kernel, clocksource and file.
    pub source: String,
    /// The profile was measured on this very build (same sha256), not only
    /// the same release.
    pub same_build: bool,
}
