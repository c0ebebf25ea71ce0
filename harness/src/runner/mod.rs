//! Runs a plan: one guest per run, each streaming into its own directory of
//! the results directory, and a manifest kept current after every run.

mod console;
mod data_channel;
pub mod events;
mod guest_run;
mod record_file;
mod results_dir;

use std::path::PathBuf;

use clockstorm_protocol::{DataDevice, Manifest, ProbeConfig, RunOutcome, PROTOCOL_VERSION};

use crate::clocksource::Clocksource;
use crate::initramfs::InitramfsError;
use crate::kernel::KernelImage;
use crate::qemu::accel::Accel;
use crate::qemu::args::DataChannelKind;
use crate::qemu::guard::GuardError;
use crate::scenario::{GuestSettings, ProbeSettings};
use crate::signals;
pub use guest_run::{DONE_GRACE, HELLO_TIMEOUT_KVM, HELLO_TIMEOUT_TCG, POWEROFF_TIMEOUT};
pub use results_dir::{ResultsDir, RUNS_DIR};

/// What every run of a plan shares.
pub struct RunContext {
    pub qemu: PathBuf,
    pub accel: Accel,
    /// The static probe binary's bytes (it becomes `/init`).
    pub probe: Vec<u8>,
    pub initramfs_cache: PathBuf,
    /// Root of the host's cgroup mounts, for faults that need cgroups.
    pub cgroup_root: PathBuf,
}

/// A kernel of the matrix, ready to boot.
#[derive(Debug)]
pub struct KernelSetup {
    /// The scenario's name for it ("default", a cached name or a path).
    pub name: String,
    pub image: KernelImage,
    pub data_channel: DataChannelKind,
    /// (file name, bytes) of kernel modules the data channel needs, in load order.
    pub modules: Vec<(String, Vec<u8>)>,
}

/// One guest to boot.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Deterministic id, also the run's directory name.
    pub id: String,
    pub clocksource: Clocksource,
    pub kernel: std::sync::Arc<KernelSetup>,
    pub variant: String,
    pub repetition: u32,
    /// The guest; its kernel_params already include the variant's.
    pub guest: GuestSettings,
    pub probe: ProbeSettings,
    /// Set when the run cannot happen here (e.g. kvm-clock under TCG).
    pub skip: Option<String>,
    /// Run the in-guest benchmark first, each phase this long.
    pub benchmark_phase: Option<std::time::Duration>,
    /// The fault timeline, expanded (times from the probe's sync).
    pub faults: Vec<crate::faults::FaultEvent>,
    /// Command faults may run (`--allow-commands`).
    pub allow_commands: bool,
    /// In-guest actions, times from the probe's sync.
    pub actions: Vec<crate::scenario::ScheduledAction>,
}

/// Errors that stop a run from being attempted or recorded at all (a guest
/// that fails is not an error: it is a [`RunOutcome::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Qemu(#[from] GuardError),
    #[error(transparent)]
    Initramfs(#[from] InitramfsError),
}

/// The probe's config for a run with these settings. Pure.
pub fn probe_config_for(
    probe: &ProbeSettings,
    run_id: &str,
    clocksource: Option<&str>,
    data_device: DataDevice,
    modules: Vec<String>,
) -> ProbeConfig {
    ProbeConfig {
        protocol_version: PROTOCOL_VERSION,
        run_id: run_id.to_owned(),
        expected_clocksource: clocksource.map(str::to_owned),
        duration_ms: probe.duration.as_millis() as u64,
        window_ms: probe.window.as_millis() as u64,
        exchange_interval_ms: probe.exchange_interval.as_millis() as u64,
        initial_sync_exchanges: probe.initial_sync_exchanges,
        gap_event_threshold_ns: probe.gap_event_threshold.as_nanos() as u64,
        burst_after_gap_ns: probe.burst_after_gap.as_nanos() as u64,
        burst_exchanges: probe.burst_exchanges,
        clocks: probe.clocks.clone(),
        tick_rate_hz: probe.tick_rate_hz,
        poll_interval_ms: probe.poll_interval.as_millis() as u64,
        forward_kmsg: probe.forward_kmsg,
        benchmark_phase_ms: None,
        data_device,
        modules,
    }
}

/// Runs every spec in order, updating the manifest after each. Stops early,
/// keeping everything recorded, when the user presses Ctrl-C.
pub fn run_all(ctx: &RunContext, specs: &[RunSpec], results: &ResultsDir, manifest: &mut Manifest) -> Result<(), RunError> {
    for (i, spec) in specs.iter().enumerate() {
        if signals::interrupted() {
            break;
        }
        eprintln!("clockstorm: [{}/{}] {} ({})", i + 1, specs.len(), spec.id, spec.clocksource);
        let outcome = guest_run::run_guest(ctx, spec, &results.run_dir(&spec.id))?;
        report_progress(&outcome);
        if let Some(run) = manifest.runs.iter_mut().find(|r| r.id == spec.id) {
            run.outcome = Some(outcome);
        }
        results.write_manifest(manifest)?;
    }
    Ok(())
}

fn report_progress(outcome: &RunOutcome) {
    match outcome {
        RunOutcome::Failed { reason, console_tail } => {
            eprintln!("clockstorm:   failed: {reason}");
            if !console_tail.is_empty() {
                eprintln!("clockstorm:   last console lines:");
                for line in console_tail.iter().rev().take(10).rev() {
                    eprintln!("    | {line}");
                }
            }
        }
        RunOutcome::Skipped { reason } => eprintln!("clockstorm:   skipped: {reason}"),
        RunOutcome::ClocksourceNotHonored { got, .. } => eprintln!("clockstorm:   clocksource not honored: got {got}"),
        other => eprintln!("clockstorm:   {}", other.label()),
    }
}
