//! One run's record file reduced to the figures of the terminal summary.

use clockstorm_protocol::{BenchResult, ClockId, GuestMessage, HarnessEvent, ProbeOutcome, RecordBody, RunOutcome, RunRecord};

use crate::ticks::TickSummary;
use crate::timebase::Timebase;
use serde::{Deserialize, Serialize};

/// The headline figures of one run. Every figure is `None` when the run did
/// not get far enough to measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub clocksource: String,
    /// completed, not honored, skipped, failed, interrupted, incomplete.
    pub status: String,
    /// Why it was skipped or failed, or what the kernel used instead.
    pub detail: Option<String>,
    pub kernel_release: Option<String>,
    /// The guest's clocksource when the probe started.
    pub clocksource_in_guest: Option<String>,
    /// Host time from starting QEMU to the probe's hello, in ms.
    pub boot_to_hello_ms: Option<f64>,
    /// Guest CLOCK_BOOTTIME at hello: kernel start to probe start, in ms.
    pub guest_uptime_at_hello_ms: Option<f64>,
    pub samples: u64,
    pub windows: u64,
    /// Messages the probe dropped (full queue), all producers.
    pub dropped_messages: u64,
    /// Longest interval between consecutive clock reads, in ns.
    pub max_gap_ns: Option<u64>,
    pub backwards_steps: u64,
    pub worst_backwards_ns: u64,
    pub tsc_backwards_steps: u64,
    /// Cross-vCPU warps and the worst one, in ns.
    pub warps: u64,
    pub worst_warp_ns: u64,
    /// Exchanges with the host after the initial sync.
    pub exchanges: usize,
    /// Median offset host - guest after the initial sync, in ns.
    pub offset_median_ns: Option<i64>,
    /// Median uncertainty (half round trip) of those exchanges, in ns.
    pub offset_uncertainty_median_ns: Option<i64>,
    /// Smallest and 99th-percentile uncertainty, in ns.
    pub offset_uncertainty_min_ns: Option<i64>,
    pub offset_uncertainty_p99_ns: Option<i64>,
    /// Exchanges the host did not answer in time.
    pub exchanges_lost: u64,
    /// The guest's HZ as the probe estimated it.
    pub hz: Option<u32>,
    /// Tick backlog and timer latency.
    pub ticks: Option<TickSummary>,
    /// The in-guest benchmark, when the run had one.
    pub benchmark: Option<BenchResult>,
    /// The samplers' reads per second over their windows (all vCPUs together).
    pub sampler_reads_per_s: Option<f64>,
    /// Every fault of the timeline, with the time lost across it.
    pub faults: Vec<crate::faults::FaultSummary>,
    /// Clocksource changes the probe saw ("old -> new"), and the last one in use.
    pub clocksource_changes: Vec<String>,
    pub final_clocksource: Option<String>,
    /// Soft lockup and RCU stall reports in the guest's kernel log.
    pub soft_lockups: u64,
    /// Every clock and stall event the guest kernel reported, parsed.
    pub kernel_events: Vec<crate::kernel_events::KernelEvent>,
    /// In-guest actions and their results ("set_clocksource acpi_pm: ok, now acpi_pm").
    pub actions: Vec<String>,
    /// ns per clock_gettime(CLOCK_MONOTONIC) in the probe's calibration loop.
    pub read_cost_ns: Option<f64>,
    pub rdtsc_cost_ns: Option<f64>,
    /// Host wall time from starting QEMU to its exit, and the part of it
    /// that was neither the requested measuring time nor time the guest lost
    /// (a guest behind the host measures longer in host time).
    pub wall_ms: Option<u64>,
    pub requested_ms: Option<u64>,
    pub overhead_ms: Option<i64>,
    pub probe_peak_rss_kib: Option<u64>,
}

/// Reduces one run's records (in file order) to its summary.
pub fn summarize(records: &[RunRecord]) -> RunSummary {
    let mut s = RunSummary {
        run_id: String::new(),
        clocksource: String::new(),
        status: "incomplete".into(),
        detail: None,
        kernel_release: None,
        clocksource_in_guest: None,
        boot_to_hello_ms: None,
        guest_uptime_at_hello_ms: None,
        samples: 0,
        windows: 0,
        dropped_messages: 0,
        max_gap_ns: None,
        backwards_steps: 0,
        worst_backwards_ns: 0,
        tsc_backwards_steps: 0,
        warps: 0,
        worst_warp_ns: 0,
        exchanges: 0,
        offset_median_ns: None,
        offset_uncertainty_median_ns: None,
        offset_uncertainty_min_ns: None,
        offset_uncertainty_p99_ns: None,
        exchanges_lost: 0,
        hz: None,
        ticks: None,
        benchmark: None,
        sampler_reads_per_s: None,
        faults: Vec::new(),
        clocksource_changes: Vec::new(),
        final_clocksource: None,
        soft_lockups: 0,
        kernel_events: Vec::new(),
        actions: Vec::new(),
        read_cost_ns: None,
        rdtsc_cost_ns: None,
        wall_ms: None,
        requested_ms: None,
        overhead_ms: None,
        probe_peak_rss_kib: None,
    };
    let mut spawned_at: Option<u64> = None;
    let mut synced = false;
    let mut offsets = Vec::new();
    let mut uncertainties = Vec::new();
    let mut measured_exchanges = Vec::new();
    let mut tick_windows = Vec::new();
    let mut counters = Vec::new();
    let mut window_ns = 0u64;
    let mut parser = crate::kernel_events::Parser::new();
    let mut kernel = Vec::new();
    for r in records {
        match &r.body {
            RecordBody::Harness(HarnessEvent::RunStarted { run_id, clocksource, .. }) => {
                s.run_id = run_id.clone();
                s.clocksource = clocksource.clone();
            }
            RecordBody::Harness(HarnessEvent::QemuSpawned { .. }) => spawned_at = Some(r.host_monotonic_ns),
            RecordBody::Harness(HarnessEvent::RunFinished(outcome)) => apply_outcome(&mut s, outcome),
            RecordBody::Harness(_) => {}
            RecordBody::Guest(GuestMessage::Hello(h)) => {
                s.kernel_release = Some(h.kernel_release.clone());
                s.clocksource_in_guest = Some(h.clocksource.current.clone());
                s.final_clocksource = Some(h.clocksource.current.clone());
                s.guest_uptime_at_hello_ms = Some(h.boottime_ns as f64 / 1e6);
                s.boot_to_hello_ms = spawned_at.map(|t| r.host_monotonic_ns.saturating_sub(t) as f64 / 1e6);
                s.read_cost_ns = h.read_cost.of(ClockId::Monotonic);
                s.rdtsc_cost_ns = Some(h.read_cost.rdtsc_ns);
                s.hz = h.hz;
            }
            RecordBody::Guest(GuestMessage::Synced(_)) => synced = true,
            RecordBody::Guest(GuestMessage::Exchange(e)) if synced => {
                offsets.push(e.offset_ns);
                uncertainties.push(e.uncertainty_ns);
                measured_exchanges.push(*e);
            }
            RecordBody::Guest(GuestMessage::Window(w)) => {
                s.samples += w.samples;
                s.windows += 1;
                window_ns += w.end_ns.saturating_sub(w.start_ns);
                s.max_gap_ns = Some(s.max_gap_ns.unwrap_or(0).max(w.max_gap_ns));
                s.backwards_steps += w.backwards_steps;
                s.worst_backwards_ns = s.worst_backwards_ns.max(w.worst_backwards_ns);
                s.tsc_backwards_steps += w.tsc_backwards_steps;
                s.warps += w.warps;
                s.worst_warp_ns = s.worst_warp_ns.max(w.worst_warp_ns);
            }
            RecordBody::Guest(GuestMessage::TickWindow(t)) => tick_windows.push(*t),
            RecordBody::Guest(GuestMessage::Benchmark(b)) => s.benchmark = Some(*b),
            RecordBody::Guest(GuestMessage::ClocksourceChanged(c)) => {
                s.clocksource_changes.push(format!("{} -> {}", c.old, c.new));
                s.final_clocksource = Some(c.new.clone());
            }
            RecordBody::Guest(GuestMessage::KernelLog(k)) => kernel.extend(parser.push_message(Some(k.ts_us), &k.message)),
            RecordBody::Guest(GuestMessage::ActionResult(a)) => s.actions.push(format!(
                "{:?}: {}, now {}",
                a.action,
                a.error.as_deref().unwrap_or("ok"),
                a.clocksource_after
            )),
            RecordBody::Guest(GuestMessage::KernelCounters(c)) => counters.push(c.clone()),
            RecordBody::Guest(GuestMessage::Done(d)) => {
                s.probe_peak_rss_kib = Some(d.peak_rss_kib);
                s.dropped_messages = d.dropped.total();
                s.exchanges_lost = d.exchanges_lost;
                if let ProbeOutcome::ClocksourceNotHonored { got, .. } = &d.outcome {
                    s.clocksource_in_guest = Some(got.clone());
                }
            }
            RecordBody::Guest(_) => {}
        }
    }
    // Per vCPU: windows of different vCPUs overlap in time.
    let vcpus = records.iter().find_map(|r| match &r.body {
        RecordBody::Guest(GuestMessage::Hello(h)) => Some(h.vcpus.max(1)),
        _ => None,
    });
    if window_ns > 0 {
        s.sampler_reads_per_s = Some(s.samples as f64 / (window_ns as f64 / 1e9) * vcpus.unwrap_or(1) as f64);
    }
    kernel.extend(parser.finish());
    s.soft_lockups = kernel.iter().filter(|e| matches!(e.kind(), "soft_lockup" | "rcu_stall")).count() as u64;
    s.kernel_events = kernel.into_iter().filter(|e| e.is_clock_event() && !e.is_informational()).collect();
    s.faults = crate::faults::summarize(records);
    // A guest that lost time measured that much longer in host time (its
    // duration runs on its own clock): that is not the harness's overhead.
    let lost_ms: i64 = s.faults.iter().filter_map(|f| f.lost_ns).map(|l| l.max(0) / 1_000_000).sum();
    if let Some(o) = s.overhead_ms.as_mut() {
        *o -= lost_ms;
    }
    s.exchanges = offsets.len();
    s.offset_median_ns = median(&mut offsets);
    s.offset_uncertainty_min_ns = uncertainties.iter().copied().min();
    s.offset_uncertainty_median_ns = median(&mut uncertainties);
    s.offset_uncertainty_p99_ns = quantile_sorted(&uncertainties, 0.99);
    if !tick_windows.is_empty() || !counters.is_empty() {
        let timebase = Timebase::new(&measured_exchanges);
        s.ticks = Some(crate::ticks::summarize(&tick_windows, &counters, s.hz, &timebase));
    }
    s
}

fn apply_outcome(s: &mut RunSummary, outcome: &RunOutcome) {
    s.status = outcome.label().into();
    match outcome {
        RunOutcome::Completed { wall_ms, requested_ms } => {
            s.wall_ms = Some(*wall_ms);
            s.requested_ms = Some(*requested_ms);
            s.overhead_ms = Some(*wall_ms as i64 - *requested_ms as i64);
        }
        RunOutcome::ClocksourceNotHonored { got, .. } => s.detail = Some(format!("clocksource not honored: got {got}")),
        RunOutcome::Skipped { reason } => s.detail = Some(reason.clone()),
        RunOutcome::Failed { reason, .. } => s.detail = Some(reason.clone()),
        RunOutcome::Interrupted => {}
    }
}

/// The nearest-rank quantile of values already sorted ascending.
pub fn quantile_sorted(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Median of integer values (the lower middle for an even count, so the
/// result is always a measured value).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
pub(crate) mod tests;
