//! `manifest.json` at the top of a results directory: what was run, with
//! what, where. Rewritten (atomically) after every run, so an interrupted
//! results directory still describes itself.

use serde::{Deserialize, Serialize};

use crate::{Accel, Clocksource, RunOutcome};

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Manifest {
    pub manifest_version: u32,
    pub clockstorm_version: String,
    /// The harness's own argv.
    pub command_line: Vec<String>,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    /// `K/N` when this directory holds one shard of the matrix.
    pub shard: Option<String>,
    pub accel: Accel,
    pub qemu: QemuInfo,
    /// Every kernel of the matrix.
    pub kernels: Vec<KernelInfo>,
    pub host: HostInfo,
    pub started_at_unix_ms: u64,
    pub finished_at_unix_ms: Option<u64>,
    /// In the order they ran (shuffled from the seed).
    pub runs: Vec<ManifestRun>,
    /// Set when the runs are `guest-probe --standalone` outputs imported by
    /// `clockstorm import-standalone`: which machine each ran on and what
    /// answered its exchanges. `qemu`, `kernels` and `host` then say that
    /// no QEMU of clockstorm's was involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standalone: Option<StandaloneInfo>,
}

/// Where standalone probe runs ran, and how honest their host times are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StandaloneInfo {
    /// The host of `clockstorm reference-server` (as `--reference-host` named
    /// it); None: the probe ran without a reference, so no exchange exists.
    pub reference_host: Option<String>,
    /// How the records' host timestamps were obtained, in words: no harness
    /// stamped the probe's lines as they arrived.
    pub host_times: String,
    /// One per run, in manifest order.
    pub machines: Vec<MachineInfo>,
}

/// The machine one standalone probe ran on, as its hello described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MachineInfo {
    pub run_id: String,
    /// The machine's name (`--machine`, else the probe output's file name):
    /// the probe does not report its hostname.
    pub name: String,
    /// The probe output it was imported from.
    pub probe_output: String,
    pub probe_version: String,
    pub kernel_release: String,
    pub clocksource: String,
    pub clocksources_available: Vec<String>,
    pub vcpus: u32,
    pub tsc_flags: Vec<String>,
    pub hz: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScenarioInfo {
    pub name: String,
    /// File path, or "shipped scenario NAME".
    pub origin: String,
    /// sha256 of the scenario's text.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QemuInfo {
    pub path: String,
    /// First line of `qemu-system-x86_64 --version`.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KernelInfo {
    /// The name the scenario gave it ("default", a cached name or a path).
    pub name: String,
    pub path: String,
    pub release: String,
    pub sha256: String,
    pub size: u64,
    /// How it was found: flag, env, cache NAME, boot.
    pub origin: String,
    /// The probe's data channel with this kernel: virtio or isa-serial.
    pub data_channel: String,
    /// How it was entered: "pvh" (its uncompressed kernel at the PVH entry)
    /// or "bzimage"; empty with the fake backend, which boots nothing.
    #[serde(default)]
    pub boot_entry: String,
    /// Why a `guest.boot = "auto"` run booted the bzImage.
    #[serde(default)]
    pub boot_note: Option<String>,
    /// The clock rule of this kernel's measured profile, which the report's
    /// model uses; None: no profile matched, the model uses the generic rule.
    #[serde(default)]
    pub clock_rule: Option<crate::ClockRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HostInfo {
    pub kernel_release: String,
    pub clocksource: String,
    pub cpu_model: String,
    /// The CPU's flags (/proc/cpuinfo), for telling hosts apart: constant_tsc,
    /// nonstop_tsc, tsc_known_freq, vmx/svm… Empty in manifests before it.
    #[serde(default)]
    pub cpu_flags: Vec<String>,
    pub cpus: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ManifestRun {
    pub id: String,
    pub clocksource: Clocksource,
    pub kernel: String,
    pub variant: String,
    pub repetition: u32,
    /// `runs/<id>` relative to the results directory.
    pub dir: String,
    /// None until the run has finished.
    pub outcome: Option<RunOutcome>,
    /// The guest's time service and its configuration, e.g. `chrony
    /// (packaged default configuration + `makestep 0.1 -1`), chronyd
    /// (chrony) version 4.3`; None: none ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_service: Option<String>,
}
