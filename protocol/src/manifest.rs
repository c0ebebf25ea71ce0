//! `manifest.json` at the top of a results directory: what was run, with
//! what, where. Rewritten (atomically) after every run, so an interrupted
//! results directory still describes itself.

use serde::{Deserialize, Serialize};

use crate::RunOutcome;

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    pub clockstorm_version: String,
    /// The harness's own argv.
    pub command_line: Vec<String>,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub accel: String,
    pub data_channel: String,
    pub qemu: QemuInfo,
    pub kernel: KernelInfo,
    pub host: HostInfo,
    pub started_at_unix_ms: u64,
    pub finished_at_unix_ms: Option<u64>,
    pub runs: Vec<ManifestRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    pub name: String,
    /// File path, or "shipped scenario NAME".
    pub origin: String,
    /// sha256 of the scenario's text.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuInfo {
    pub path: String,
    /// First line of `qemu-system-x86_64 --version`.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelInfo {
    pub path: String,
    pub release: String,
    pub sha256: String,
    pub size: u64,
    /// How it was found: flag, env, cache NAME, boot.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    pub kernel_release: String,
    pub clocksource: String,
    pub cpu_model: String,
    pub cpus: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRun {
    pub id: String,
    pub clocksource: String,
    /// `runs/<id>` relative to the results directory.
    pub dir: String,
    /// None until the run has finished.
    pub outcome: Option<RunOutcome>,
}
