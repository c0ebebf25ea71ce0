//! The run plan: everything `clockstorm run` will do, fully validated before
//! anything on the host is touched (no QEMU looked up, no kernel read, no
//! directory created). The command line and the scenario become a
//! [`RunPlan`] (commands::run::plan); the host's resources are then
//! resolved for it in one place (host::resources); the runner runs the
//! [`RunSpec`]s made from both; the reports render what the runs recorded.
//!
//! ```text
//!  RunArgs ──parse──▶ RunPlan ──host::resources──▶ HostResources
//!                        └──────────── specs ───────────┘
//!                                       ▼
//!                          runner::run_all ──▶ results dir ──▶ reports
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clockstorm_protocol::Manifest;
use clockstorm_reports::gates::GateLimits;

use crate::clocksource::Clocksource;
use crate::faults::FaultEvent;
use crate::kernel::KernelImage;
use crate::qemu::accel::{Accel, AccelChoice};
use crate::qemu::args::{DataChannelChoice, DataChannelKind};
use crate::scenario::matrix::{MatrixRun, Shard};
use crate::scenario::{Gates, GuestSettings, LoadedScenario, ProbeSettings, Scenario, ScheduledAction};

/// Which backend runs the guests (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Real QEMU guests (KVM or TCG).
    Qemu,
    /// The fake guest process: a testing aid, its figures measure nothing.
    Fake,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Qemu => "qemu",
            BackendKind::Fake => "fake",
        })
    }
}

/// A validated `clockstorm run`.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario as loaded (origin and text, hashed into the manifest).
    pub loaded: LoadedScenario,
    /// The scenario with the command line's overrides applied and re-checked.
    pub scenario: Scenario,
    /// The fault timeline, expanded (times from the probe's sync).
    pub faults: Vec<FaultEvent>,
    /// The runs of this invocation, in run order (sharded, then shuffled by the seed).
    pub runs: Vec<MatrixRun>,
    pub shard: Option<Shard>,
    /// The results directory.
    pub out: PathBuf,
    /// `--resume`: the earlier manifest of `out`, checked to be this plan's.
    pub resume: Option<Manifest>,
    /// Guests at once.
    pub jobs: usize,
    pub limits: Limits,
    pub host: HostRequest,
    /// Run the in-guest benchmark first, each phase this long (`bench`).
    pub benchmark_phase: Option<Duration>,
    /// Command faults may run (`--allow-commands`).
    pub allow_commands: bool,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
}

/// The plan's limits: the gates its runs are held to. (The probe's give-up
/// time, `probe.clock_stop_limit`, travels with each run's probe settings.)
#[derive(Debug, Clone)]
pub struct Limits {
    pub gates: GateLimits,
}

/// What the plan needs from the host, still unresolved: names and choices
/// as the user gave them, resolved by host::resources.
#[derive(Debug, Clone)]
pub struct HostRequest {
    pub backend: BackendKind,
    /// `--fake-model`, already checked to parse.
    pub fake_model: String,
    pub accel: AccelChoice,
    pub data_channel: DataChannelChoice,
    /// `--qemu`.
    pub qemu: Option<String>,
    /// `--probe`.
    pub probe: Option<PathBuf>,
    /// `--kernel`: replaces every kernel of the scenario.
    pub kernel: Option<PathBuf>,
    /// The scenario's kernel names (after `--kernel`), each once.
    pub kernels: Vec<String>,
    /// The time services the runs use (enabled ones), each once.
    pub time_services: Vec<crate::time_service::TimeServiceSetting>,
    /// `guest.boot`.
    pub boot: crate::kernel::pvh::BootChoice,
}

/// A kernel of the matrix, ready to boot.
#[derive(Debug)]
pub struct KernelSetup {
    /// The scenario's name for it ("default", a cached name or a path).
    pub name: String,
    pub image: KernelImage,
    /// What QEMU's `-kernel` gets (the bzImage, or its kernel for a PVH boot).
    pub boot: crate::kernel::pvh::BootImage,
    pub data_channel: DataChannelKind,
    /// (file name, bytes) of kernel modules the data channel needs, in load order.
    pub modules: Vec<(String, Vec<u8>)>,
    /// (file name, bytes) of the modules the guest network needs, in load
    /// order, or why this kernel has none (`[guest] time_service`).
    pub net_modules: Result<Vec<(String, Vec<u8>)>, String>,
    /// The rule of this build's measured clock profile (kernel::profiles),
    /// for the report's model; None: the model uses the generic rule.
    pub clock_rule: Option<clockstorm_protocol::ClockRule>,
}

/// One guest to boot.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Deterministic id, also the run's directory name.
    pub id: String,
    pub clocksource: Clocksource,
    pub kernel: Arc<KernelSetup>,
    pub variant: String,
    pub repetition: u32,
    /// The guest; its kernel_params already include the variant's.
    pub guest: GuestSettings,
    pub probe: ProbeSettings,
    /// Set when the run cannot happen here (e.g. kvm-clock under TCG).
    pub skip: Option<String>,
    /// Run the in-guest benchmark first, each phase this long.
    pub benchmark_phase: Option<Duration>,
    /// The fault timeline, expanded (times from the probe's sync).
    pub faults: Vec<FaultEvent>,
    /// Command faults may run (`--allow-commands`).
    pub allow_commands: bool,
    /// In-guest actions, times from the probe's sync.
    pub actions: Vec<ScheduledAction>,
}

impl RunPlan {
    /// One spec per run of the plan, in run order, with the kernels resolved
    /// (by name) and the accelerator decided. Pure.
    pub fn specs(&self, kernels: &std::collections::BTreeMap<String, Arc<KernelSetup>>, accel: Accel) -> Vec<RunSpec> {
        let s = &self.scenario;
        let mut actions = s.actions.clone();
        actions.sort_by_key(|a| a.at);
        self.runs
            .iter()
            .map(|m| {
                let mut guest = s.guest.clone();
                guest.kernel_params.extend(m.variant.kernel_params.iter().cloned());
                if let Some(t) = &m.variant.time_service {
                    guest.time_service = t.clone();
                }
                RunSpec {
                    id: m.id.clone(),
                    clocksource: m.clocksource,
                    kernel: kernels[&m.kernel].clone(),
                    variant: m.variant.name.clone(),
                    repetition: m.repetition,
                    guest,
                    probe: s.probe.clone(),
                    skip: m.clocksource.unavailable_reason(accel),
                    benchmark_phase: self.benchmark_phase,
                    faults: self.faults.clone(),
                    allow_commands: self.allow_commands,
                    actions: actions.clone(),
                }
            })
            .collect()
    }
}

/// The scenario's `[gates]` as the evaluator's plain limits.
pub fn gate_limits(g: &Gates) -> GateLimits {
    GateLimits {
        max_time_lost_ns: g.max_time_lost.map(|d| d.as_nanos() as u64),
        max_gap_ns: g.max_gap.map(|d| d.as_nanos() as u64),
        no_clocksource_switch: g.no_clocksource_switch,
        final_clocksource: g.final_clocksource.clone(),
        no_soft_lockup: g.no_soft_lockup,
        max_backwards_steps: g.max_backwards_steps,
        max_tick_backlog: g.max_tick_backlog,
        no_stopped_clock: !g.allow_stopped_clock,
        max_clock_stopped_ns: g.max_clock_stopped.map(|d| d.as_nanos() as u64),
    }
}
