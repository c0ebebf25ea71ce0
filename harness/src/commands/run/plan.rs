//! Parse: the command line and the scenario into a validated [`RunPlan`].
//! Nothing here touches the host beyond reading the files the user named
//! (the scenario, `--resume`'s manifest) and checking that a kernel path
//! exists: bad input exits 2 on a machine without QEMU.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::time_text::{unix_ms_now, utc_compact};
use crate::cli::args::RunArgs;
use crate::clocksource::Clocksource;
use crate::duration::parse_duration;
use crate::error::Error;
use crate::faults::{self, parse_fault, FaultEvent, FaultKind};
use crate::plan::{gate_limits, BackendKind, HostRequest, Limits, RunPlan};
use crate::results::ResultsDir;
use crate::scenario::{self, matrix, Scenario};

/// Builds the plan of `clockstorm run` (or `bench`, with a phase).
pub fn plan(args: &RunArgs, benchmark_phase: Option<Duration>, argv: &[String]) -> Result<RunPlan, Error> {
    let loaded = scenario::load(&args.scenario)?;
    let scenario = with_overrides(&loaded.scenario, args)?;
    let faults = fault_events(&scenario, args)?;
    let shard = args
        .shard
        .as_deref()
        .map(str::parse::<matrix::Shard>)
        .transpose()
        .map_err(|message| Error::BadFlag { flag: "shard", message })?;
    if args.backend == BackendKind::Fake {
        crate::backend::fake_guest::parse_model(&args.fake_model).map_err(|message| Error::BadFlag { flag: "fake-model", message })?;
    } else if !args.fake_model.is_empty() {
        return Err(Error::BadFlag { flag: "fake-model", message: "applies to --backend fake only".into() });
    }
    check_kernel_paths(&scenario, args)?;

    let canonical = matrix::expand(&scenario);
    let selected = match shard {
        Some(s) => matrix::shard(&canonical, s),
        None => canonical,
    };
    let runs = matrix::shuffled(selected, scenario.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-{}", scenario.name, utc_compact(unix_ms_now() / 1000))));
    let resume = if args.resume { Some(earlier_manifest(&out, &loaded, &scenario, shard)?) } else { None };
    // The time services of the runs (the guest's, or a variant's), each once.
    let mut time_services: Vec<crate::time_service::TimeServiceSetting> = Vec::new();
    for run in &runs {
        let t = run.variant.time_service.as_ref().unwrap_or(&scenario.guest.time_service);
        if t.enabled() && !time_services.contains(t) {
            time_services.push(t.clone());
        }
    }
    if args.backend == BackendKind::Fake && !time_services.is_empty() {
        return Err(Error::BadFlag {
            flag: "backend",
            message: "the fake backend cannot run a time service (the scenario's time_service): use --backend qemu".into(),
        });
    }
    let mut kernels: Vec<String> = Vec::new();
    for k in &scenario.guest.kernels {
        if !kernels.contains(k) {
            kernels.push(k.clone());
        }
    }
    Ok(RunPlan {
        limits: Limits { gates: gate_limits(&scenario.gates) },
        host: HostRequest {
            backend: args.backend,
            fake_model: args.fake_model.clone(),
            accel: args.accel,
            data_channel: args.data_channel,
            qemu: args.qemu.clone(),
            probe: args.probe.clone(),
            kernel: args.kernel.clone(),
            kernels,
            time_services,
            boot: scenario.guest.boot,
        },
        loaded,
        scenario,
        faults,
        runs,
        shard,
        out,
        resume,
        jobs: args.jobs as usize,
        benchmark_phase,
        allow_commands: args.allow_commands,
        command_line: argv.to_vec(),
    })
}

/// The scenario with the command line's overrides applied and re-checked.
pub fn with_overrides(scenario: &Scenario, args: &RunArgs) -> Result<Scenario, Error> {
    let mut s = scenario.clone();
    if let Some(names) = &args.clocksource {
        s.clocksources = names.iter().map(|n| n.parse()).collect::<Result<Vec<Clocksource>, _>>()?;
        if let Some(dup) = s.clocksources.iter().enumerate().find_map(|(i, c)| s.clocksources[..i].contains(c).then_some(c)) {
            return Err(Error::BadFlag { flag: "clocksource", message: format!("{dup} is named twice") });
        }
    }
    if let Some(d) = &args.duration {
        s.probe.duration = parse_duration(d).map_err(|message| Error::BadFlag { flag: "duration", message })?;
        if s.probe.duration < s.probe.window {
            return Err(Error::BadFlag { flag: "duration", message: format!("{d} is shorter than one window") });
        }
    }
    if !args.faults.is_empty() {
        s.faults = args.faults.iter().map(|f| parse_fault(f)).collect::<Result<Vec<_>, _>>()?;
    }
    if args.no_faults {
        s.faults.clear();
    }
    if args.no_shm_reference {
        s.probe.shm_reference = false;
    }
    if let Some(k) = &args.kernel {
        // --kernel replaces the scenario's kernels: one kernel, named by its path.
        s.guest.kernels = vec![k.display().to_string()];
    }
    if let Some(r) = args.repetitions {
        if r == 0 {
            return Err(Error::BadFlag { flag: "repetitions", message: "must be at least 1".into() });
        }
        s.repetitions = r;
    }
    if let Err((_, message)) = scenario::check_matrix(&s) {
        return Err(Error::BadFlag { flag: if args.repetitions.is_some() { "repetitions" } else { "clocksource" }, message });
    }
    Ok(s)
}

/// The fault timeline, expanded and checked against the measurement.
pub fn fault_events(s: &Scenario, args: &RunArgs) -> Result<Vec<FaultEvent>, Error> {
    let events = faults::expand(&s.faults, s.seed, s.probe.duration).map_err(|e| timeline_error(&e, s, args))?;
    if !args.allow_commands && events.iter().any(|e| matches!(e.kind, FaultKind::Command { .. })) {
        return Err(Error::BadFlag { flag: "fault", message: "command faults run host commands: add --allow-commands".into() });
    }
    if let Some(a) = s.actions.iter().find(|a| a.at >= s.probe.duration) {
        return Err(Error::BadFlag { flag: "duration", message: format!("an action at {:?} falls after the measurement", a.at) });
    }
    Ok(events)
}

/// A timeline the command line broke, with the ways out: a fault past
/// the end came from `--fault` (move it, or lengthen the duration) or,
/// when the scenario's own faults no longer fit, from `--duration`
/// (lengthen it, or measure without the faults).
fn timeline_error(e: &faults::expand::TimelineError, s: &Scenario, args: &RunArgs) -> Error {
    let faults::expand::TimelineError::PastEnd { index, kind, end, duration } = e else {
        return Error::BadFlag { flag: "fault", message: e.to_string() };
    };
    if !args.faults.is_empty() {
        return Error::BadFlag { flag: "fault", message: format!("{e}, or start the fault earlier") };
    }
    Error::BadFlag {
        flag: "duration",
        message: format!(
            "fault {index} ({kind}) of scenario {} ends at {end}, after the measurement ({duration}): lengthen the duration (--duration {end} or more), \
             or measure without the scenario's faults (--no-faults, or a scenario without faults such as `idle`)",
            s.name
        ),
    }
}

/// A kernel named by path must exist: the user's typo is bad input, found
/// before anything else is looked up. (Whether it is a kernel is checked
/// when it is read, with the host's resources.) The fake backend boots no
/// kernel and reads none.
fn check_kernel_paths(s: &Scenario, args: &RunArgs) -> Result<(), Error> {
    if args.backend == BackendKind::Fake {
        return Ok(());
    }
    if let Some(k) = &args.kernel {
        // A bare name is a kernel cache entry, looked up with the host's resources.
        if crate::host::kernels::names_a_path(&k.to_string_lossy()) && !k.exists() {
            return Err(Error::KernelPathMissing { origin: "--kernel".into(), path: k.clone() });
        }
        return Ok(());
    }
    for (i, name) in s.guest.kernels.iter().enumerate() {
        if crate::host::kernels::names_a_path(name) && !Path::new(name).exists() {
            return Err(Error::KernelPathMissing { origin: format!("guest.kernels[{i}] entry {name:?}"), path: name.into() });
        }
    }
    Ok(())
}

/// `--resume`: the manifest `out` holds, checked to be of this scenario,
/// seed and shard.
fn earlier_manifest(
    out: &Path,
    loaded: &scenario::LoadedScenario,
    s: &Scenario,
    shard: Option<matrix::Shard>,
) -> Result<clockstorm_protocol::Manifest, Error> {
    let dir = ResultsDir::open(out);
    let old = dir.read_manifest().map_err(|e| Error::BadFlag { flag: "resume", message: e.to_string() })?;
    let sha = super::manifest::scenario_sha256(&loaded.text);
    let shard_text = shard.map(|s| format!("{}/{}", s.index, s.count));
    if old.scenario.sha256 != sha || old.seed != s.seed || old.shard != shard_text {
        return Err(Error::BadFlag {
            flag: "resume",
            message: format!(
                "{} holds scenario {} (sha256 {}), seed {}, shard {:?}: not this run",
                out.display(),
                old.scenario.name,
                old.scenario.sha256,
                old.seed,
                old.shard
            ),
        });
    }
    Ok(old)
}
