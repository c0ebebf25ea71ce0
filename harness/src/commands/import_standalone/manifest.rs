//! The manifest of an imported results directory: honest about what ran
//! where. No QEMU, no kernel image clockstorm booted; the machines are the
//! ones the probes described, the host is the reference server's.

use clockstorm_protocol::{HostInfo, Manifest, QemuInfo, ScenarioInfo, StandaloneInfo, MANIFEST_VERSION};

use super::convert::{ImportedRun, HOST_TIMES_REFERENCED, HOST_TIMES_UNREFERENCED};

/// The scenario name imported directories carry.
pub const SCENARIO: &str = "standalone";

/// What the manifest says about the reference host.
pub struct Reference {
    /// `--reference-host`, or this machine's name with `--reference-here`.
    pub name: Option<String>,
    /// This machine's description with `--reference-here` (the reference
    /// server ran here); None: the host was not inspected.
    pub here: Option<HostInfo>,
}

/// Builds the manifest. `sha256` is over the probe outputs' bytes, in order.
pub fn build(runs: &[ImportedRun], files: &[String], sha256: String, command_line: Vec<String>, reference: Reference) -> Manifest {
    let referenced = runs.iter().any(|r| r.referenced);
    let times = || runs.iter().flat_map(|r| r.records.iter().map(|x| x.host_realtime_ns));
    let start = times().filter(|t| *t > 0).min().unwrap_or(0);
    let end = times().max().unwrap_or(start);
    let unix_ms = |ns: i64| (ns.max(0) / 1_000_000) as u64;
    let host = reference.here.unwrap_or_else(|| HostInfo {
        kernel_release: "unknown".into(),
        clocksource: "unknown".into(),
        cpu_model: match &reference.name {
            Some(name) if referenced => format!("the reference host {name}, not inspected (import with --reference-here on it to describe it)"),
            _ if referenced => "the reference host, unnamed and not inspected (give --reference-host or --reference-here)".into(),
            _ => "no host: the probes ran without a reference server".into(),
        },
        cpu_flags: Vec::new(),
        cpus: 0,
    });
    Manifest {
        manifest_version: MANIFEST_VERSION,
        clockstorm_version: crate::build_info::VERSION.into(),
        command_line,
        scenario: ScenarioInfo { name: SCENARIO.into(), origin: format!("guest-probe --standalone output: {}", files.join(", ")), sha256 },
        seed: 0,
        shard: None,
        accel: clockstorm_protocol::Accel::Standalone,
        qemu: QemuInfo { path: String::new(), version: "none: guest-probe --standalone ran on the machine itself".into() },
        // No kernel image was booted by clockstorm; each machine's running kernel is in `standalone`.
        kernels: Vec::new(),
        host,
        started_at_unix_ms: unix_ms(start),
        finished_at_unix_ms: Some(unix_ms(end)),
        runs: runs.iter().map(|r| r.run.clone()).collect(),
        standalone: Some(StandaloneInfo {
            reference_host: if referenced { reference.name.or_else(|| Some("unnamed (give --reference-host)".into())) } else { None },
            host_times: host_times(runs),
            machines: runs.iter().map(|r| r.machine.clone()).collect(),
        }),
    }
}

/// How the host times were had, over all runs (each run's `imported` record says it for that run).
fn host_times(runs: &[ImportedRun]) -> String {
    let without: Vec<&str> = runs.iter().filter(|r| !r.referenced).map(|r| r.run.id.as_str()).collect();
    match without.len() {
        0 => HOST_TIMES_REFERENCED.into(),
        n if n == runs.len() => HOST_TIMES_UNREFERENCED.into(),
        _ => format!(
            "runs {} had no reference, their host times are the guest's own CLOCK_REALTIME; the others: {HOST_TIMES_REFERENCED}",
            without.join(", ")
        ),
    }
}
