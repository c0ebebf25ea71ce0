//! One run's record file reduced to the figures of the terminal summary.

use std::collections::BTreeMap;

use clockstorm_protocol::{
    BenchResult, ClockId, Exchange, FaultEffect, GuestMessage, HarnessEvent, KernelCounters, ProbeOutcome, RecordBody, RunOutcome, RunRecord, TickWindow,
};

use crate::kernel_events::KernelEvent;
use crate::series::{RunSeries, SeriesInputs};
use crate::ticks::TickSummary;
use crate::timebase::Timebase;
use serde::{Deserialize, Serialize};

/// [`RunSummary::reference`]: exchanges over the ivshmem reference.
pub const REFERENCE_SHM: &str = "shared memory";
/// [`RunSummary::reference`]: exchanges over the data channel.
pub const REFERENCE_CHANNEL: &str = "data channel";

/// The headline figures of one run. Every figure is `None` when the run did
/// not get far enough to measure it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Where boot_to_hello_ms went, phase by phase (None without a probe
    /// that reports its steps, or without the harness's spawn time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootSummary>,
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
    /// Largest |host - guest| over those exchanges, in ns, with that
    /// exchange's uncertainty.
    pub offset_max_abs_ns: Option<i64>,
    pub offset_max_abs_uncertainty_ns: Option<i64>,
    /// Median uncertainty (half round trip) of those exchanges, in ns.
    pub offset_uncertainty_median_ns: Option<i64>,
    /// Smallest and 99th-percentile uncertainty, in ns.
    pub offset_uncertainty_min_ns: Option<i64>,
    pub offset_uncertainty_p99_ns: Option<i64>,
    /// Exchanges the host did not answer in time.
    pub exchanges_lost: u64,
    /// Shared-memory exchanges the host's thread did not answer within the
    /// probe's 5 ms (the group's first unanswered one; 0 without the reference).
    #[serde(default)]
    pub shm_exchanges_lost: u64,
    /// Parts of the probe that could not run as asked, each `component:
    /// reason` (e.g. the shared-memory reference missing, so the exchanges
    /// went over the data channel alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_degraded: Vec<String>,
    /// What the exchanges behind every offset went over: "shared memory"
    /// (the ivshmem reference) or "data channel".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// With the shared-memory reference: the data channel's exchanges of
    /// the same run, for comparison (count, median and p99 uncertainty).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub channel_exchanges: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_offset_uncertainty_median_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_offset_uncertainty_p99_ns: Option<i64>,
    /// Drift of the guest's clock against the host's, in ppm (positive: the
    /// guest runs slow), with its 95 % interval; faults excluded.
    pub drift_ppm: Option<crate::drift::Drift>,
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
    /// What each change cost: the step of the offset to the host across it.
    pub switches: Vec<crate::faults::SwitchCost>,
    pub final_clocksource: Option<String>,
    /// Every stretch in which the guest's CLOCK_MONOTONIC stood still while
    /// its TSC ran on (see `liveness`), recovered or not.
    #[serde(default)]
    pub clock_stops: Vec<crate::liveness::ClockStop>,
    /// Every stretch in which the probe's periodic timer did not fire while
    /// the guest's CLOCK_MONOTONIC ran on (see `liveness::timer_stop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timer_stops: Vec<crate::liveness::TimerStop>,
    /// Soft lockup and RCU stall reports in the guest's kernel log.
    pub soft_lockups: u64,
    /// Every clock and stall event the guest kernel reported, parsed.
    pub kernel_events: Vec<crate::kernel_events::KernelEvent>,
    /// In-guest actions and their results ("set_clocksource acpi_pm: ok, now acpi_pm").
    pub actions: Vec<String>,
    /// The time service that ran in the guest (by its log), e.g. `chrony`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_service: Option<String>,
    /// Lines its log had.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub time_service_lines: u64,
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
    /// How the data channel behaved, as the harness's reader saw it
    /// (None: a record file from before the harness recorded it).
    #[serde(default)]
    pub channel: Option<clockstorm_protocol::ChannelHealth>,
    /// Record lines that did not decode and were skipped: a torn last line
    /// (a full disk, a crash) or damage (set by whoever read the file).
    #[serde(default)]
    pub undecodable_lines: u64,
}

impl RunSummary {
    /// Whether the run measured (and so is gated and compared): it
    /// completed, or the guest stopped keeping time or went silent, which
    /// are findings about the guest with everything up to them analysed.
    pub fn measured(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "clock stopped" | "silent")
    }

    /// The clocksource in use `t_s` host seconds after the timeline origin:
    /// the last change before then, else the one the guest started on.
    pub fn clocksource_at(&self, t_s: f64) -> &str {
        self.switches
            .iter()
            .rev()
            .find(|w| w.at_s <= t_s)
            .map(|w| w.to.as_str())
            .or(self.clocksource_in_guest.as_deref())
            .unwrap_or(&self.clocksource)
    }
}

/// Reduces one run's records (in file order) to its summary.
pub fn summarize(records: &[RunRecord]) -> RunSummary {
    let mut summarizer = Summarizer::new();
    records.iter().for_each(|r| summarizer.push(r.clone()));
    summarizer.finish().0
}

/// One pass over a run's records, one record at a time: memory grows with
/// the exchanges, timer windows and kernel lines a run keeps for its
/// time-based figures (tens of bytes each), never with the records read.
pub struct Summarizer {
    s: RunSummary,
    spawned_at: Option<u64>,
    origin_realtime_ns: Option<i64>,
    synced: bool,
    vcpus: Option<u32>,
    window_ns: u64,
    /// Exchanges after the sync.
    exchanges: Vec<Exchange>,
    tick_windows: Vec<TickWindow>,
    counters: Vec<KernelCounters>,
    /// (host realtime at the window's arrival, guest CLOCK_REALTIME when its
    /// largest gap ended if known, that gap)
    window_gaps: Vec<(i64, Option<i64>, crate::faults::WindowPoint)>,
    /// Guest CLOCK_REALTIME - CLOCK_MONOTONIC, from the latest reading
    /// that carried both (timer windows, counters).
    mono_to_realtime: Option<i64>,
    planned: Vec<(usize, u64, u64)>,
    effects: Vec<FaultEffect>,
    parser: crate::kernel_events::Parser,
    /// Per kernel line (by its timestamp): host realtime when it arrived
    /// first, and guest realtime when the probe read it.
    kernel_line_at: BTreeMap<u64, (i64, Option<i64>)>,
    /// (host arrival, guest CLOCK_MONOTONIC at its end) of each sampler gap event.
    sampler_gaps: Vec<(i64, u64)>,
    timer_stalls: Vec<clockstorm_protocol::TimerStall>,
    stops: crate::liveness::StopDetector,
    timer: crate::liveness::TimerStopDetector,
    kernel: Vec<KernelEvent>,
    /// (host realtime when reported, old, new) per clocksource change.
    switches: Vec<(i64, String, String)>,
    /// (host realtime of arrival, line) of the time service's log.
    service_lines: Vec<(i64, String)>,
    /// The records were imported from a standalone probe's output: their
    /// host times are estimates, not arrival stamps.
    imported: bool,
}

impl Default for Summarizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Summarizer {
    pub fn new() -> Summarizer {
        Summarizer {
            s: empty_summary(),
            spawned_at: None,
            origin_realtime_ns: None,
            synced: false,
            vcpus: None,
            window_ns: 0,
            exchanges: Vec::new(),
            tick_windows: Vec::new(),
            counters: Vec::new(),
            window_gaps: Vec::new(),
            mono_to_realtime: None,
            planned: Vec::new(),
            effects: Vec::new(),
            parser: crate::kernel_events::Parser::new(),
            kernel_line_at: BTreeMap::new(),
            sampler_gaps: Vec::new(),
            timer_stalls: Vec::new(),
            stops: crate::liveness::StopDetector::new(),
            timer: crate::liveness::TimerStopDetector::new(),
            kernel: Vec::new(),
            switches: Vec::new(),
            service_lines: Vec::new(),
            imported: false,
        }
    }

    /// Takes the record by value: what a run keeps (counters, faults) moves
    /// into the summarizer instead of being copied.
    pub fn push(&mut self, r: RunRecord) {
        let s = &mut self.s;
        match r.body {
            RecordBody::Harness(h) => match h {
                HarnessEvent::RunStarted { run_id, clocksource, .. } => {
                    s.run_id = run_id;
                    s.clocksource = clocksource.kernel_name().to_owned();
                }
                HarnessEvent::QemuSpawned { .. } => self.spawned_at = Some(r.host_monotonic_ns),
                HarnessEvent::TimelineOrigin => self.origin_realtime_ns = Some(r.host_realtime_ns),
                HarnessEvent::FaultStarted { index, planned_start_ms, planned_duration_ms, .. } => {
                    self.planned.push((index, planned_start_ms, planned_duration_ms))
                }
                HarnessEvent::FaultEnded(e) => self.effects.push(e),
                HarnessEvent::RunFinished(outcome) => apply_outcome(s, &outcome),
                HarnessEvent::ChannelHealth(h) => s.channel = Some(h),
                HarnessEvent::Imported { .. } => self.imported = true,
                _ => {}
            },
            RecordBody::Guest(g) => match g {
                GuestMessage::Window(w) => {
                    s.samples += w.samples;
                    s.windows += 1;
                    self.window_ns += w.end_ns.saturating_sub(w.start_ns);
                    s.max_gap_ns = Some(s.max_gap_ns.unwrap_or(0).max(w.max_gap_ns));
                    s.backwards_steps += w.backwards_steps;
                    s.worst_backwards_ns = s.worst_backwards_ns.max(w.worst_backwards_ns);
                    s.tsc_backwards_steps += w.tsc_backwards_steps;
                    s.warps += w.warps;
                    s.worst_warp_ns = s.worst_warp_ns.max(w.worst_warp_ns);
                    let gap_end = self.mono_to_realtime.map(|o| w.max_gap_at_ns as i64 + o);
                    let point = crate::faults::WindowPoint {
                        at_ns: r.host_realtime_ns,
                        arrived_ns: r.host_realtime_ns,
                        max_gap_ns: w.max_gap_ns,
                        clock: w.clock,
                        backward_steps: w.backwards_steps,
                        worst_backward_ns: w.worst_backwards_ns,
                        tsc_backward_steps: w.tsc_backwards_steps,
                    };
                    self.window_gaps.push((r.host_realtime_ns, gap_end, point));
                }
                GuestMessage::Exchange(e) if self.synced => self.exchanges.push(e),
                GuestMessage::TickWindow(t) => {
                    self.mono_to_realtime = Some(t.realtime_ns - t.mono_ns as i64);
                    self.tick_windows.push(t)
                }
                GuestMessage::Gap(g) => self.sampler_gaps.push((r.host_realtime_ns, g.at_ns)),
                GuestMessage::TimerStall(t) => self.timer_stalls.push(t),
                GuestMessage::Beacon(b) => {
                    self.stops.observe(crate::liveness::BeaconPoint::of(r.host_realtime_ns, &b));
                    self.timer.observe(r.host_realtime_ns, &b);
                }
                GuestMessage::KernelCounters(c) => {
                    self.mono_to_realtime = Some(c.realtime_ns - c.mono_ns as i64);
                    self.counters.push(c)
                }
                GuestMessage::Hello(h) => {
                    s.kernel_release = Some(h.kernel_release.clone());
                    s.clocksource_in_guest = Some(h.clocksource.current.clone());
                    s.final_clocksource = Some(h.clocksource.current.clone());
                    s.guest_uptime_at_hello_ms = Some(h.boottime_ns as f64 / 1e6);
                    s.boot_to_hello_ms = self.spawned_at.map(|t| r.host_monotonic_ns.saturating_sub(t) as f64 / 1e6);
                    s.boot = s.boot_to_hello_ms.zip(h.boot_phases).map(|(total, p)| BootSummary::of(total, h.boottime_ns, &p));
                    s.read_cost_ns = h.read_cost.of(ClockId::Monotonic);
                    s.rdtsc_cost_ns = Some(h.read_cost.rdtsc_ns);
                    s.hz = h.hz;
                    self.vcpus = Some(h.vcpus.max(1));
                }
                GuestMessage::Synced(_) => self.synced = true,
                GuestMessage::Benchmark(b) => {
                    // The benchmark's phases ran the timer and the poller on
                    // their own, each from zero: what they sent describes
                    // the benchmark, not the measurement that follows.
                    self.tick_windows.clear();
                    self.counters.clear();
                    self.timer_stalls.clear();
                    s.benchmark = Some(b)
                }
                GuestMessage::ClocksourceChanged(c) => {
                    s.clocksource_changes.push(format!("{} -> {}", c.old, c.new));
                    self.switches.push((r.host_realtime_ns, c.old.clone(), c.new.clone()));
                    s.final_clocksource = Some(c.new.clone());
                }
                GuestMessage::KernelLog(k) => {
                    self.kernel_line_at.entry(k.ts_us).or_insert((r.host_realtime_ns, k.read_realtime_ns));
                    self.kernel.extend(self.parser.push_message(Some(k.ts_us), &k.message));
                }
                GuestMessage::Degraded { component, reason } => s.probe_degraded.push(format!("{component}: {reason}")),
                GuestMessage::ServiceLog(l) => {
                    s.time_service.get_or_insert(l.service);
                    self.service_lines.push((r.host_realtime_ns, l.line));
                }
                GuestMessage::ActionResult(a) => {
                    s.actions.push(format!("{:?}: {}, now {}", a.action, a.error.as_deref().unwrap_or("ok"), a.clocksource_after))
                }
                GuestMessage::Done(d) => {
                    s.probe_peak_rss_kib = Some(d.peak_rss_kib);
                    s.dropped_messages = d.dropped.total();
                    s.exchanges_lost = d.exchanges_lost;
                    s.shm_exchanges_lost = d.shm_exchanges_lost;
                    if let ProbeOutcome::ClocksourceNotHonored { got, .. } = d.outcome {
                        s.clocksource_in_guest = Some(got);
                    }
                }
                _ => {}
            },
        }
    }

    /// The run's summary and its plot series.
    pub fn finish(mut self) -> (RunSummary, RunSeries) {
        let mut s = self.s;
        if self.imported {
            // No harness saw these lines arrive: there is no host wall time of
            // the run, so no overhead either (the import's estimates would
            // only echo the guest's own clock back).
            s.wall_ms = None;
            s.overhead_ms = None;
            s.boot_to_hello_ms = None;
            s.boot = None;
        }
        if self.window_ns > 0 {
            // Per vCPU: windows of different vCPUs overlap in time.
            s.sampler_reads_per_s = Some(s.samples as f64 / (self.window_ns as f64 / 1e9) * self.vcpus.unwrap_or(1) as f64);
        }
        self.kernel.extend(self.parser.finish());
        s.soft_lockups = self.kernel.iter().filter(|e| matches!(e.kind(), "soft_lockup" | "rcu_stall")).count() as u64;
        self.kernel.retain(|e| e.is_clock_event() && !e.is_informational());
        // The shared-memory reference, when the run had one, is the run's
        // reference for every figure; the data channel's exchanges are kept
        // only as a comparison.
        let (shm, channel): (Vec<Exchange>, Vec<Exchange>) = self.exchanges.iter().partition(|e| e.shared_memory);
        if !shm.is_empty() {
            s.reference = Some(REFERENCE_SHM.into());
            let mut u: Vec<i64> = channel.iter().map(|e| e.uncertainty_ns).collect();
            s.channel_exchanges = channel.len();
            s.channel_offset_uncertainty_median_ns = median(&mut u);
            s.channel_offset_uncertainty_p99_ns = quantile_sorted(&u, 0.99);
            // A reference that stopped answering mid-run (the probe said so)
            // hands over to the data channel: its exchanges after the last
            // shared-memory one carry the rest of the run's figures.
            let handed_over = s.probe_degraded.iter().any(|d| d.starts_with("shm-reference:"));
            let last_shm_t3 = shm.iter().map(|e| e.t3_ns).max().unwrap_or(i64::MAX);
            let mut reference = shm;
            if handed_over {
                reference.extend(channel.into_iter().filter(|e| e.t1_ns > last_shm_t3));
            }
            self.exchanges = reference;
        } else if !channel.is_empty() {
            s.reference = Some(REFERENCE_CHANNEL.into());
        }
        let timebase = Timebase::new(&self.exchanges);
        // Events placed on the host's time line where the guest read their
        // first line (through the exchanges' offset), whenever it arrived;
        // lines of a probe too old to stamp them go by their arrival.
        let timed: Vec<(i64, KernelEvent)> = self
            .kernel
            .iter()
            .filter_map(|e| {
                let (arrived, read) = *self.kernel_line_at.get(&e.ts_us()?)?;
                let at = read.and_then(|g| timebase.host_after(g)).unwrap_or(arrived);
                Some((at, e.clone()))
            })
            .collect();
        s.kernel_events = self.kernel;
        s.clock_stops = self.stops.finish();
        s.timer_stops = self.timer.finish();
        // Each window's largest gap placed where it ended in the guest
        // (through the exchanges' offset), whenever the window arrived: a
        // window the probe sent late still shows the fault it spans.
        let windows: Vec<crate::faults::WindowPoint> = self
            .window_gaps
            .iter()
            .map(|&(arrived, gap_end, point)| crate::faults::WindowPoint {
                at_ns: gap_end.and_then(|g| timebase.host_after(g)).unwrap_or(arrived),
                ..point
            })
            .collect();
        let drift = crate::drift::drift_ppm(&self.exchanges, &self.effects);
        s.faults = crate::faults::attribute(&crate::faults::FaultInputs {
            planned: &self.planned,
            effects: &self.effects,
            exchanges: &self.exchanges,
            windows: &windows,
            kernel: &timed,
            sampler_gaps: &self.sampler_gaps,
            timer_stalls: &self.timer_stalls,
            clock_stops: &s.clock_stops,
            service_lines: &self.service_lines,
            drift,
        });
        s.time_service_lines = self.service_lines.len() as u64;
        // A guest that lost time measured that much longer in host time (its
        // duration runs on its own clock): that is not the harness's overhead.
        let lost_ms: i64 = s.faults.iter().filter_map(|f| f.lost_ns).map(|l| l.max(0) / 1_000_000).sum();
        if let Some(o) = s.overhead_ms.as_mut() {
            *o -= lost_ms;
        }
        if let Some(worst) = self.exchanges.iter().max_by_key(|e| e.offset_ns.unsigned_abs()) {
            s.offset_max_abs_ns = Some(worst.offset_ns.abs());
            s.offset_max_abs_uncertainty_ns = Some(worst.uncertainty_ns);
        }
        let mut offsets: Vec<i64> = self.exchanges.iter().map(|e| e.offset_ns).collect();
        let mut uncertainties: Vec<i64> = self.exchanges.iter().map(|e| e.uncertainty_ns).collect();
        s.exchanges = offsets.len();
        s.offset_median_ns = median(&mut offsets);
        s.offset_uncertainty_min_ns = uncertainties.iter().copied().min();
        s.offset_uncertainty_median_ns = median(&mut uncertainties);
        s.offset_uncertainty_p99_ns = quantile_sorted(&uncertainties, 0.99);
        s.drift_ppm = drift;
        let origin = self.origin_realtime_ns.unwrap_or(0);
        s.switches = self.switches.iter().map(|(t, old, new)| crate::faults::switch_cost(&self.exchanges, *t, origin, old, new)).collect();
        if !self.tick_windows.is_empty() || !self.counters.is_empty() {
            s.ticks = Some(crate::ticks::summarize(&self.tick_windows, &self.counters, s.hz, &timebase));
        }
        let gaps: Vec<u64> = self.window_gaps.iter().map(|g| g.2.max_gap_ns).collect();
        let series = crate::series::of_run(&SeriesInputs {
            run_id: &s.run_id,
            clocksource: &s.clocksource,
            origin_realtime_ns: self.origin_realtime_ns,
            exchanges: &self.exchanges,
            ticks: &self.tick_windows,
            window_gaps: &gaps,
            faults: &self.effects,
            kernel_events: &timed,
            timebase: &timebase,
        });
        (s, series)
    }
}

pub(crate) fn empty_summary() -> RunSummary {
    RunSummary {
        run_id: String::new(),
        clocksource: String::new(),
        status: "incomplete".into(),
        detail: None,
        kernel_release: None,
        clocksource_in_guest: None,
        boot_to_hello_ms: None,
        boot: None,
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
        offset_max_abs_ns: None,
        offset_max_abs_uncertainty_ns: None,
        offset_uncertainty_median_ns: None,
        offset_uncertainty_min_ns: None,
        offset_uncertainty_p99_ns: None,
        exchanges_lost: 0,
        shm_exchanges_lost: 0,
        probe_degraded: Vec::new(),
        reference: None,
        channel_exchanges: 0,
        channel_offset_uncertainty_median_ns: None,
        channel_offset_uncertainty_p99_ns: None,
        time_service: None,
        time_service_lines: 0,
        drift_ppm: None,
        hz: None,
        ticks: None,
        benchmark: None,
        sampler_reads_per_s: None,
        faults: Vec::new(),
        clocksource_changes: Vec::new(),
        switches: Vec::new(),
        final_clocksource: None,
        clock_stops: Vec::new(),
        timer_stops: Vec::new(),
        soft_lockups: 0,
        kernel_events: Vec::new(),
        actions: Vec::new(),
        read_cost_ns: None,
        rdtsc_cost_ns: None,
        wall_ms: None,
        requested_ms: None,
        overhead_ms: None,
        probe_peak_rss_kib: None,
        channel: None,
        undecodable_lines: 0,
    }
}

impl RunSummary {
    /// Takes `outcome` as the run's end (for a record file that lacks its
    /// last line, from the manifest).
    pub fn apply_outcome(&mut self, outcome: &RunOutcome) {
        apply_outcome(self, outcome)
    }
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
        RunOutcome::ClockStopped { clock, stopped_ms, evidence, wall_ms, requested_ms } => {
            s.wall_ms = Some(*wall_ms);
            s.requested_ms = Some(*requested_ms);
            s.detail = Some(format!("CLOCK_{} stopped for {:.1} s and did not recover: {evidence}", clock.to_uppercase(), *stopped_ms as f64 / 1e3));
        }
        RunOutcome::Silent { silent_ms, last_seen, .. } => {
            let last: Vec<String> = last_seen
                .iter()
                .map(|t| match (t.ago_ms, &t.last) {
                    (Some(ago), Some(what)) => format!("{} {what} {:.1} s before", t.thread, ago as f64 / 1e3),
                    _ => format!("{} never", t.thread),
                })
                .collect();
            s.detail = Some(format!("no message from the probe for {:.1} s outside faults; last heard: {}", *silent_ms as f64 / 1e3, last.join(", ")));
        }
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

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// From QEMU's start to the probe's hello, in ms: QEMU and the firmware
/// (and with a bzImage boot the kernel's decompression: host time less the
/// guest's uptime),
/// the kernel's boot to /init, then the probe's own steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BootSummary {
    pub before_kernel_ms: f64,
    pub kernel_ms: f64,
    /// Mounts, config, the data channel's modules.
    pub probe_setup_ms: f64,
    /// Finding and opening the data channel's device.
    #[serde(default)]
    pub channel_open_ms: f64,
    /// Waiting for the kernel to be on the requested clocksource.
    pub clocksource_settle_ms: f64,
    /// The HZ estimate and the read-cost calibration.
    pub calibration_ms: f64,
}

impl BootSummary {
    /// `total_ms`: host time from QEMU's spawn to Hello; `uptime_ns`: the
    /// guest's CLOCK_BOOTTIME at Hello. Pure.
    pub fn of(total_ms: f64, uptime_ns: u64, p: &clockstorm_protocol::BootPhases) -> BootSummary {
        let ms = |ns: u64| ns as f64 / 1e6;
        BootSummary {
            before_kernel_ms: total_ms - ms(uptime_ns),
            kernel_ms: ms(p.probe_started_ns),
            probe_setup_ms: ms(p.modules_loaded_ns.saturating_sub(p.probe_started_ns)),
            channel_open_ms: ms(p.channel_open_ns.saturating_sub(p.modules_loaded_ns)),
            clocksource_settle_ms: ms(p.clocksource_settled_ns.saturating_sub(p.channel_open_ns)),
            calibration_ms: ms(uptime_ns.saturating_sub(p.clocksource_settled_ns)),
        }
    }
}
