//! Scenario files: which guests to boot, how long to measure, which
//! clocksources to compare. One TOML file per scenario; every table rejects
//! unknown keys, and errors name the file, line, column and key.

pub mod duration;
mod shipped;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clocksource::Clocksource;
use clockstorm_protocol::ClockId;
pub use shipped::{shipped, SHIPPED};

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in run ids and result directories.
    pub name: String,
    /// One line on what the scenario shows.
    pub description: String,
    /// Clocksources to compare, one guest each.
    pub clocksources: Vec<Clocksource>,
    /// Seed for every randomized choice; recorded in the manifest.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub guest: GuestSettings,
    #[serde(default)]
    pub probe: ProbeSettings,
    /// The fault timeline, each written as on the command line
    /// (`"freeze:3s+6s"`); times count from the start of measurement.
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultSpec>,
}

/// The virtual machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuestSettings {
    pub vcpus: u32,
    pub memory_mib: u32,
    /// Extra kernel parameters, appended after clockstorm's own.
    pub kernel_params: Vec<String>,
}

impl Default for GuestSettings {
    fn default() -> Self {
        GuestSettings { vcpus: 1, memory_mib: 256, kernel_params: Vec::new() }
    }
}

/// What the probe does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSettings {
    /// How long each guest measures.
    #[serde(with = "duration::serde_text")]
    pub duration: Duration,
    /// Length of a summary window.
    #[serde(with = "duration::serde_text")]
    pub window: Duration,
    /// Interval between exchanges with the host reference clock.
    #[serde(with = "duration::serde_text")]
    pub exchange_interval: Duration,
    /// Gaps between clock reads longer than this are reported one by one.
    #[serde(with = "duration::serde_text")]
    pub gap_event_threshold: Duration,
    /// Exchanges at start; the best one steps the guest clock onto host time.
    pub initial_sync_exchanges: u32,
    /// A gap at least this long starts a burst of exchanges.
    #[serde(with = "duration::serde_text")]
    pub burst_after_gap: Duration,
    /// Exchanges in such a burst.
    pub burst_exchanges: u32,
    /// Clocks the samplers rotate through, one per window.
    pub clocks: Vec<ClockId>,
    /// Rate of the probe's periodic timer (tick backlog, wake-up latency).
    pub tick_rate_hz: u32,
    /// Interval of the /proc counter and clocksource polls.
    #[serde(with = "duration::serde_text")]
    pub poll_interval: Duration,
    /// Forward the guest's /dev/kmsg.
    pub forward_kmsg: bool,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            duration: Duration::from_secs(10),
            window: Duration::from_millis(100),
            exchange_interval: Duration::from_millis(100),
            gap_event_threshold: Duration::from_millis(10),
            initial_sync_exchanges: 8,
            burst_after_gap: Duration::from_millis(50),
            burst_exchanges: 5,
            clocks: ClockId::ALL.to_vec(),
            tick_rate_hz: 1000,
            poll_interval: Duration::from_millis(100),
            forward_kmsg: true,
        }
    }
}

/// Errors loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading scenario {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("scenario {path}: {message}")]
    Parse { path: String, message: String },
    #[error("scenario {path}: key {key}: {message}")]
    Invalid { path: String, key: String, message: String },
    #[error("no scenario file or shipped scenario named {name:?} (shipped: {available})")]
    UnknownName { name: String, available: String },
}

/// Where a scenario came from, and its text (hashed into the manifest).
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub scenario: Scenario,
    pub origin: String,
    pub text: String,
}

/// Loads `arg` as a file path if it names a file, else as a shipped scenario.
pub fn load(arg: &str) -> Result<LoadedScenario, ScenarioError> {
    let path = Path::new(arg);
    if path.is_file() || arg.ends_with(".toml") {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
        return parse(&text, &path.display().to_string());
    }
    match shipped(arg) {
        Some(text) => parse(text, &format!("shipped scenario {arg}")),
        None => Err(ScenarioError::UnknownName {
            name: arg.to_owned(),
            available: SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Parses and validates scenario text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<LoadedScenario, ScenarioError> {
    let scenario: Scenario =
        toml::from_str(text).map_err(|e| ScenarioError::Parse { path: origin.to_owned(), message: e.to_string().trim_end().to_owned() })?;
    validate(&scenario, origin)?;
    Ok(LoadedScenario { scenario, origin: origin.to_owned(), text: text.to_owned() })
}

fn validate(s: &Scenario, origin: &str) -> Result<(), ScenarioError> {
    let invalid = |key: &str, message: String| Err(ScenarioError::Invalid { path: origin.to_owned(), key: key.into(), message });
    if s.clocksources.is_empty() {
        return invalid("clocksources", "is empty: name at least one clocksource".into());
    }
    if let Some(dup) = s.clocksources.iter().enumerate().find_map(|(i, c)| s.clocksources[..i].contains(c).then_some(c)) {
        return invalid("clocksources", format!("{dup} is named twice"));
    }
    if !(1..=64).contains(&s.guest.vcpus) {
        return invalid("guest.vcpus", format!("{} is out of range 1..=64", s.guest.vcpus));
    }
    if s.guest.memory_mib < 64 {
        return invalid("guest.memory_mib", format!("{} MiB is too little to boot a kernel (at least 64)", s.guest.memory_mib));
    }
    if s.probe.window < Duration::from_millis(10) {
        return invalid("probe.window", "must be at least 10ms".into());
    }
    if s.probe.exchange_interval < Duration::from_millis(10) {
        return invalid("probe.exchange_interval", "must be at least 10ms".into());
    }
    if s.probe.duration < s.probe.window {
        return invalid("probe.duration", "must be at least one window long".into());
    }
    if s.probe.initial_sync_exchanges == 0 {
        return invalid("probe.initial_sync_exchanges", "must be at least 1".into());
    }
    // The probe's own limits, checked here so the error names the scenario key.
    let probe = crate::runner::probe_config_for(&s.probe, "validate", None, clockstorm_protocol::DataDevice::IsaSerial { path: String::new() }, vec![]);
    if let Err(e) = probe.validate() {
        let (field, message) = e.split_once(": ").unwrap_or(("", &e));
        return invalid(&format!("probe.{}", scenario_key_of(field)), message.to_owned());
    }
    if let Err(e) = crate::faults::expand(&s.faults, s.seed, s.probe.duration) {
        return invalid("faults", e.to_string());
    }
    if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return invalid("name", format!("{:?} must be non-empty letters, digits, '-' or '_'", s.name));
    }
    Ok(())
}

/// The scenario key behind a probe config field.
fn scenario_key_of(probe_field: &str) -> &str {
    match probe_field {
        "window_ms" => "window",
        "exchange_interval_ms" => "exchange_interval",
        "poll_interval_ms" => "poll_interval",
        "duration_ms" => "duration",
        other => other,
    }
}

#[cfg(test)]
mod tests;
