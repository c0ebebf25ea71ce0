//! Scenario files: which guests to boot, how long to measure, which
//! clocksources to compare. One TOML file per scenario; every table rejects
//! unknown keys, and errors name the file, line, column and key.

pub use crate::duration;
mod extras;
mod guest;
pub mod libvirt;
pub mod matrix;
mod probe;
mod shipped;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clocksource::Clocksource;
pub use extras::{Gates, ScheduledAction, Variant};
pub use guest::{GuestSettings, PitPolicy, RtcBase, RtcDriftfix, TimerHardware};
pub use probe::{ProbeSettings, CLOCK_STOP_GIVE_UP};
pub use shipped::{shipped, DEFAULT_SCENARIO, SHIPPED};

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
    /// Seed for every randomized choice (fault jitter, run order); recorded
    /// in the manifest.
    #[serde(default)]
    pub seed: u64,
    /// How many times each combination runs.
    #[serde(default = "one")]
    pub repetitions: u32,
    #[serde(default)]
    pub guest: GuestSettings,
    #[serde(default)]
    pub probe: ProbeSettings,
    /// The fault timeline, each written as on the command line
    /// (`"freeze:3s+6s"`); times count from the start of measurement.
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultSpec>,
    /// Named sets of kernel parameters to compare; one run each. Without
    /// any, a single variant "default" with no extra parameters.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// In-guest actions at points of the timeline (failover validation).
    #[serde(default)]
    pub actions: Vec<ScheduledAction>,
    /// What must hold for the scenario to pass.
    #[serde(default)]
    pub gates: Gates,
}

fn one() -> u32 {
    1
}

impl Scenario {
    /// The variants to run: the declared ones, or "default".
    pub fn effective_variants(&self) -> Vec<Variant> {
        if self.variants.is_empty() {
            vec![Variant { name: "default".into(), kernel_params: Vec::new(), time_service: None }]
        } else {
            self.variants.clone()
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
    /// `scenario import-libvirt`: the domain could not be read.
    #[error(transparent)]
    Libvirt(#[from] libvirt::LibvirtError),
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
        return parse_beside(&text, &path.display().to_string(), path.parent());
    }
    match shipped(arg) {
        Some(text) => parse(text, &format!("shipped scenario {arg}")),
        None => Err(ScenarioError::UnknownName { name: arg.to_owned(), available: SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ") }),
    }
}

/// Parses and validates scenario text; `origin` names it in errors. Files
/// it names (`time_service.config_file`) are relative to the working directory.
pub fn parse(text: &str, origin: &str) -> Result<LoadedScenario, ScenarioError> {
    parse_beside(text, origin, None)
}

/// [`parse`] for a scenario file in `dir`: the files it names are beside it.
pub fn parse_beside(text: &str, origin: &str, dir: Option<&Path>) -> Result<LoadedScenario, ScenarioError> {
    let mut scenario: Scenario =
        toml::from_str(text).map_err(|e| ScenarioError::Parse { path: origin.to_owned(), message: e.to_string().trim_end().to_owned() })?;
    read_time_service_files(&mut scenario, origin, dir)?;
    validate(&scenario, origin)?;
    Ok(LoadedScenario { scenario, origin: origin.to_owned(), text: text.to_owned() })
}

/// Reads each `time_service.config_file` into its `config`, so the plan,
/// the manifest and every run see the text the guest gets.
fn read_time_service_files(s: &mut Scenario, origin: &str, dir: Option<&Path>) -> Result<(), ScenarioError> {
    let mut settings = vec![("guest.time_service.config_file".to_owned(), &mut s.guest.time_service)];
    for (i, v) in s.variants.iter_mut().enumerate() {
        if let Some(t) = v.time_service.as_mut() {
            settings.push((format!("variants[{i}].time_service.config_file"), t));
        }
    }
    for (key, t) in settings {
        let Some(file) = &t.config_file else { continue };
        let path = match dir {
            Some(d) if file.is_relative() => d.join(file),
            _ => file.clone(),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::Invalid {
            path: origin.to_owned(),
            key: key.clone(),
            message: format!("reading {}: {e}", path.display()),
        })?;
        t.config = Some(text);
    }
    Ok(())
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
    let probe = s.probe.probe_config("validate", None, clockstorm_protocol::DataDevice::IsaSerial { path: String::new() }, vec![]);
    if let Err(e) = probe.validate() {
        return invalid(&format!("probe.{}", scenario_key_of(e.field)), e.message);
    }
    if let Err(e) = crate::faults::expand(&s.faults, s.seed, s.probe.duration) {
        return invalid("faults", e.to_string());
    }
    if !(1..=1000).contains(&s.repetitions) {
        return invalid("repetitions", format!("{} is out of range 1..=1000", s.repetitions));
    }
    if s.guest.kernels.is_empty() {
        return invalid("guest.kernels", "is empty: name at least one kernel (or \"default\")".into());
    }
    for (i, v) in s.variants.iter().enumerate() {
        if !is_name(&v.name) {
            return invalid(&format!("variants[{i}].name"), format!("{:?} must be non-empty letters, digits, '-', '_' or '.'", v.name));
        }
        if s.variants[..i].iter().any(|o| o.name == v.name) {
            return invalid(&format!("variants[{i}].name"), format!("{:?} is named twice", v.name));
        }
    }
    if s.probe.clock_stop_limit < probe::CLOCK_STOP_LIMIT_MIN {
        return invalid("probe.clock_stop_limit", format!("{:?} is below the minimum of {:?}", s.probe.clock_stop_limit, probe::CLOCK_STOP_LIMIT_MIN));
    }
    for (i, a) in s.actions.iter().enumerate() {
        if let Err(message) = a.validate(s.probe.duration) {
            return invalid(&format!("actions[{i}]"), message);
        }
    }
    if !is_name(&s.name) {
        return invalid("name", format!("{:?} must be non-empty letters, digits, '-', '_' or '.'", s.name));
    }
    if let Err((key, message)) = check_matrix(s) {
        return invalid(key, message);
    }
    Ok(())
}

/// Most runs of one matrix. The plan lists every run before the first
/// starts, and each boots a guest for seconds at least: 10000 runs are days.
pub const MAX_RUNS: u64 = 10_000;

/// Checks that the matrix has at most [`MAX_RUNS`] runs and gives each run
/// its own id (ids name the result directories); on failure, the scenario
/// key to blame and why. The `scenario_toml` fuzz target found two kernels
/// with one file name giving two runs one id (a kernel and a variant whose
/// dotted names add up alike do too); writing it showed that a few KiB of
/// kernels and variants made a matrix of millions of runs, built in full.
pub fn check_matrix(s: &Scenario) -> Result<(), (&'static str, String)> {
    let variants = s.effective_variants().len() as u64;
    let runs = [s.guest.kernels.len() as u64, variants, s.clocksources.len() as u64, u64::from(s.repetitions)]
        .iter()
        .fold(1u64, |a, &n| a.saturating_mul(n));
    if runs > MAX_RUNS {
        let message = format!("kernels × variants × clocksources × repetitions is {runs} runs, more than the {MAX_RUNS} a matrix may have");
        return Err(("guest.kernels", message));
    }
    let mut seen = std::collections::HashMap::new();
    for run in matrix::expand(s) {
        if let Some(other) = seen.insert(run.id.clone(), (run.kernel.clone(), run.variant.name.clone())) {
            let key = if other.1 == run.variant.name { "guest.kernels" } else { "variants" };
            let message = format!(
                "kernel {:?} with variant {:?} and kernel {:?} with variant {:?} would both be run {:?}: rename one",
                other.0, other.1, run.kernel, run.variant.name, run.id
            );
            return Err((key, message));
        }
    }
    Ok(())
}

/// Names that can go into run ids and directory names.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The scenario key behind a probe config field.
fn scenario_key_of(probe_field: &'static str) -> &'static str {
    match probe_field {
        "window_ms" => "window",
        "exchange_interval_ms" => "exchange_interval",
        "poll_interval_ms" => "poll_interval",
        "duration_ms" => "duration",
        other => other,
    }
}

#[cfg(test)]
mod readme_tests;
#[cfg(test)]
mod tests;
