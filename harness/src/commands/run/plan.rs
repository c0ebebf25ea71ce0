//! From a scenario and the command line to the runs to make.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clockstorm_reports::gates::GateLimits;

use crate::cli::args::RunArgs;
use crate::clocksource::Clocksource;
use crate::error::Error;
use crate::faults::{self, parse_fault, FaultEvent, FaultKind};
use crate::qemu::accel::Accel;
use crate::runner::{KernelSetup, RunSpec};
use crate::scenario::duration::parse_duration;
use crate::scenario::matrix::MatrixRun;
use crate::scenario::{Gates, Scenario};

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
    Ok(s)
}

/// The fault timeline, expanded and checked against the measurement.
pub fn fault_events(s: &Scenario, args: &RunArgs) -> Result<Vec<FaultEvent>, Error> {
    let events = faults::expand(&s.faults, s.seed, s.probe.duration).map_err(|e| Error::BadFlag { flag: "fault", message: e.to_string() })?;
    if !args.allow_commands && events.iter().any(|e| matches!(e.kind, FaultKind::Command { .. })) {
        return Err(Error::BadFlag { flag: "fault", message: "command faults run host commands: add --allow-commands".into() });
    }
    if let Some(a) = s.actions.iter().find(|a| a.at >= s.probe.duration) {
        return Err(Error::BadFlag { flag: "duration", message: format!("an action at {:?} falls after the measurement", a.at) });
    }
    Ok(events)
}

/// One spec per matrix run, in `ordered`'s order.
pub fn specs(
    ordered: &[MatrixRun],
    s: &Scenario,
    kernels: &BTreeMap<String, Arc<KernelSetup>>,
    accel: Accel,
    benchmark_phase: Option<Duration>,
    faults: &[FaultEvent],
    args: &RunArgs,
) -> Vec<RunSpec> {
    let mut actions = s.actions.clone();
    actions.sort_by_key(|a| a.at);
    ordered
        .iter()
        .map(|m| {
            let mut guest = s.guest.clone();
            guest.kernel_params.extend(m.variant.kernel_params.iter().cloned());
            RunSpec {
                id: m.id.clone(),
                clocksource: m.clocksource,
                kernel: kernels[&m.kernel].clone(),
                variant: m.variant.name.clone(),
                repetition: m.repetition,
                guest,
                probe: s.probe.clone(),
                skip: m.clocksource.unavailable_reason(accel),
                benchmark_phase,
                faults: faults.to_vec(),
                allow_commands: args.allow_commands,
                actions: actions.clone(),
            }
        })
        .collect()
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
