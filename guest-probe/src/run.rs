//! One probe run: settle and check the clocksource, calibrate, hello,
//! initial sync, then the measuring threads and the channel loop for the
//! configured duration, then Done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{
    Beacon, ClockId, ClocksourceState, Done, GuestMessage, Hello, HostMessage, ProbeConfig, ProbeOutcome, ReadCost, Synced, PROTOCOL_VERSION,
};

use crate::clocks::{boottime_ns, monotonic_ns, now_ns, rdtsc, realtime_ns};
use crate::exchange::{best_of, exchange};
use crate::link::Link;
use crate::outbox::{Inbox, Outbox, OUTBOX_CAPACITY};
use crate::sampler::{self, clock_id, SamplerSettings, SamplerShared};
use crate::shm_reference::SharedReference;
use crate::{actions, counters, kmsg, sched, sysinfo, ticks};

/// Reads per clock in the read-cost calibration loop.
const CALIBRATION_READS: u64 = 20_000;

/// How long to wait for the kernel to settle on the requested clocksource.
/// With `clocksource=tsc` the kernel first runs on `tsc-early` and switches
/// to `tsc` only after its refined calibration (a delayed work item ~1 s
/// after boot; later under a slow TCG boot).
const CLOCKSOURCE_SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Jiffies are counted over at least this long to tell HZ apart: at HZ=100,
/// 150 ms is 15 +- 1 jiffies, within the 10 % the estimate snaps with.
const HZ_ESTIMATE_SPAN: Duration = Duration::from_millis(150);

// The channel thread (this one) runs under SCHED_OTHER on purpose. It was
// SCHED_FIFO once, so a pong would preempt a spinning sampler at once; but a
// freeze is charged to whatever task was on the vCPU, and when that was an RT
// task the kernel throttled every RT task for about the freeze's length
// afterwards (`sched: RT throttling activated`), silencing the channel right
// when the fault's aftermath was to be measured. The channel thread is now
// SCHED_OTHER at nice -20: its wake-up preempts the samplers (nice 0), so it
// keeps prompt pongs without being an RT task. Only the timer thread stays
// SCHED_FIFO (as cyclictest's), so the kernel's RT reaction is still measured
// (its `TimerStall`s), not suppressed. The channel thread runs at nice -20 so
// that a wake-up also preempts a normal workload beside the probe.

/// The timer thread reports a stall only beyond this (or the gap threshold,
/// if longer): under TCG its wake-ups scatter by up to tens of ms.
const TIMER_STALL_MIN_NS: u64 = 50_000_000;

/// Longest the channel loop waits for host messages before draining the
/// outbox again. What it must act on at once (a gap, which starts a burst
/// of exchanges) wakes it through the outbox (`Outbox::send_now`); the
/// rest (windows, tick windows, counters: ~30 messages a second) waits for
/// the next exchange, beacon or this. It was 10 ms, 100 wake-ups a second
/// of a thread that preempts the workload beside the probe: the channel
/// loop alone cost a CPU-bound task 2.6-4.8 % then and -0.6-0.5 % now, and
/// every part beside it 2-6 points less (`clockstorm bench`, tsc, three
/// alternating boots each).
const CHANNEL_POLL: Duration = Duration::from_millis(100);

/// CLOCK_BOOTTIME at the probe's start and when its data channel opened
/// (set once each, by whoever reached that step), for Hello's boot phases.
pub static PROBE_STARTED_NS: AtomicU64 = AtomicU64::new(0);
pub static MODULES_LOADED_NS: AtomicU64 = AtomicU64::new(0);
pub static CHANNEL_OPEN_NS: AtomicU64 = AtomicU64::new(0);

/// jiffies and the time they were read at the probe's start (as /init,
/// right after /proc is mounted): the HZ estimate then spans the probe's
/// setup and needs no wait of its own (it slept up to 150 ms before).
static JIFFIES_AT_START: std::sync::OnceLock<(Instant, Option<u64>)> = std::sync::OnceLock::new();

/// Reads jiffies for the HZ estimate; the first call counts.
pub fn note_jiffies() {
    let _ = JIFFIES_AT_START.set((Instant::now(), counters::jiffies()));
}

/// Notes CLOCK_BOOTTIME now in `step`.
pub fn mark(step: &AtomicU64) {
    step.store(boottime_ns(), Ordering::Relaxed);
}

/// Runs the whole measurement over `link`.
pub fn measure(config: &ProbeConfig, link: &mut dyn Link) -> Result<()> {
    config.validate().map_err(|e| anyhow::anyhow!("invalid probe config: {e}"))?;
    let ptp_device = crate::ptp::find_kvm_ptp(std::path::Path::new("/sys/class/ptp"));
    let settle_started = Instant::now();
    let clocksource = wait_for_clocksource(config.expected_clocksource.as_deref())?;
    let clocksource_settle_ms = settle_started.elapsed().as_millis() as u64;
    let clocksource_settled_ns = boottime_ns();
    // Not fatal standalone without root: exchanges are then less tight
    // beside a busy workload.
    let priority = sched::set_top_nice();

    note_jiffies();
    let hz_start = *JIFFIES_AT_START.get().expect("set just above");
    let read_cost = read_cost(&config.clocks);
    std::thread::sleep(HZ_ESTIMATE_SPAN.saturating_sub(hz_start.0.elapsed()));
    let hz = match (hz_start.1, counters::jiffies()) {
        (Some(a), Some(b)) => crate::procfs::timer_list::estimate_hz(b.saturating_sub(a), hz_start.0.elapsed().as_nanos() as u64),
        _ => None,
    };
    link.send(&GuestMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        probe_version: env!("CARGO_PKG_VERSION").into(),
        run_id: config.run_id.clone(),
        kernel_release: sysinfo::kernel_release(),
        clocksource: clocksource.clone(),
        vcpus: sysinfo::vcpus(),
        tsc_flags: sysinfo::tsc_flags(),
        hz,
        boottime_ns: boottime_ns(),
        clocksource_settle_ms,
        ptp_device: ptp_device.as_ref().map(|p| p.display().to_string()),
        read_cost,
        boot_phases: Some(clockstorm_protocol::BootPhases {
            probe_started_ns: PROBE_STARTED_NS.load(Ordering::Relaxed),
            modules_loaded_ns: MODULES_LOADED_NS.load(Ordering::Relaxed).max(PROBE_STARTED_NS.load(Ordering::Relaxed)),
            channel_open_ns: CHANNEL_OPEN_NS.load(Ordering::Relaxed),
            clocksource_settled_ns,
        }),
    }))?;
    if let Err(e) = priority {
        link.send(&degraded("channel-priority", format!("{e:#}")))?;
    }
    if let Some(requested) = &config.expected_clocksource {
        if *requested != clocksource.current {
            let outcome = ProbeOutcome::ClocksourceNotHonored { requested: requested.clone(), got: clocksource.current };
            return send_done(link, outcome, &Totals::default());
        }
    }
    let mut seq = 0;
    let shared = Arc::new(SamplerShared::default());
    if link.has_reference() {
        initial_sync(config, link, &mut seq, &shared)?;
    }

    // The shared-memory reference beside the data channel; without it the
    // run measures over the data channel alone, and says why.
    let shm = match (config.shm_reference && link.has_reference()).then(|| SharedReference::open(Duration::from_millis(config.exchange_interval_ms))) {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            link.send(&degraded("shm-reference", format!("{e:#}; exchanges over the data channel only")))?;
            None
        }
        None => None,
    };
    if let Some(phase_ms) = config.benchmark_phase_ms {
        benchmark(config, link, &mut seq, Duration::from_millis(phase_ms), &clocksource.current, shm.as_ref())?;
    }

    let (outbox, rx) = outbox_for_the_run(link)?;
    let mut threads = Vec::new();
    let settings = SamplerSettings { clocks: config.clocks.clone(), window_ns: config.window_ms * 1_000_000, gap_event_ns: config.gap_event_threshold_ns };
    let started = sampler::spawn_all(&sched::online_cpus(), &settings, &shared, &outbox)
        .context("starting the samplers")
        .map(|samplers| threads.extend(samplers))
        .and_then(|()| spawn_background(config, &clocksource.current, Parts::all(config), &shared, &outbox, link, &mut threads));
    // A service that cannot start is said, not fatal: the run measures the
    // guest without it, as it does without one.
    let service = match (&config.time_service, &started) {
        (Some(launch), Ok(())) => match crate::time_service::start(launch, &outbox) {
            Ok(s) => Some(s),
            Err(e) => {
                link.send(&degraded("time-service", format!("{}: {e:#}", launch.name)))?;
                None
            }
        },
        _ => None,
    };
    let mut totals = Totals::default();
    let duration = Duration::from_millis(config.duration_ms);
    let sources = Sources { ptp: ptp_device.as_deref(), shm: shm.as_ref(), exchanges: true };
    let result = started.and_then(|()| channel_loop(config, duration, link, &rx, &mut seq, &mut totals, sources, &shared));
    if let Some(s) = service {
        s.stop();
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    result?;
    // The threads' last messages.
    for msg in rx.take_all() {
        link.send(&msg)?;
    }
    totals.samples = shared.samples.load(Ordering::Relaxed);
    totals.windows = shared.windows.load(Ordering::Relaxed);
    totals.dropped = outbox.dropped();
    send_done(link, ProbeOutcome::Completed, &totals)
}

/// The run's outbox, with its wake-up; without one (no eventfd) the run
/// goes on, its gaps forwarded on the channel loop's schedule, and says so.
fn outbox_for_the_run(link: &mut dyn Link) -> Result<(Outbox, Inbox)> {
    match Outbox::with_wake(OUTBOX_CAPACITY) {
        Ok(pair) => Ok(pair),
        Err(e) => {
            link.send(&degraded("outbox", format!("eventfd: {e}: gaps wait up to {CHANNEL_POLL:?} for the channel loop")))?;
            Ok(Outbox::new(OUTBOX_CAPACITY))
        }
    }
}

/// The probe's parts beside its samplers, which the benchmark runs one at a
/// time to say what the probe's cost is made of.
#[derive(Clone, Copy, Default)]
struct Parts {
    timer: bool,
    /// The benchmark's floor for `timer`: a periodic timer at the same rate
    /// and priority that does nothing on its wake-ups (`ticks::spawn_bare`).
    bare_timer: bool,
    poller: bool,
    kmsg: bool,
    /// The host-reference exchanges (without them the channel loop only
    /// forwards and answers beacons).
    exchanges: bool,
    /// A benchmark round, not the measurement: the kernel log is read
    /// from its end (what the run needs of it comes once, in the run).
    benchmark: bool,
}

impl Parts {
    fn all(config: &ProbeConfig) -> Parts {
        Parts { timer: true, bare_timer: false, poller: true, kmsg: config.forward_kmsg, exchanges: true, benchmark: false }
    }

    /// Each part alone, named as the benchmark reports it; `channel` is the
    /// channel loop that runs in every phase.
    fn one_by_one(config: &ProbeConfig) -> Vec<(&'static str, Parts)> {
        let none = Parts { benchmark: true, ..Parts::default() };
        let mut v = vec![("channel", none)];
        if config.tick_rate_hz > 0 {
            v.push(("timer", Parts { timer: true, ..none }));
            v.push(("bare timer", Parts { bare_timer: true, ..none }));
        }
        v.push(("poller", Parts { poller: true, ..none }));
        if config.forward_kmsg {
            v.push(("kmsg", Parts { kmsg: true, ..none }));
        }
        v.push(("exchanges", Parts { exchanges: true, ..none }));
        v
    }
}

/// Starts the timer, poller and kmsg threads that `parts` asks for.
fn spawn_background(
    config: &ProbeConfig,
    clocksource: &str,
    parts: Parts,
    shared: &Arc<SamplerShared>,
    outbox: &Outbox,
    link: &mut dyn Link,
    threads: &mut Vec<std::thread::JoinHandle<()>>,
) -> Result<()> {
    let window_ns = config.window_ms * 1_000_000;
    if parts.timer && config.tick_rate_hz > 0 {
        threads.push(ticks::spawn(config.tick_rate_hz, window_ns, config.gap_event_threshold_ns.max(TIMER_STALL_MIN_NS), shared.clone(), outbox.clone())?);
    }
    if parts.bare_timer && config.tick_rate_hz > 0 {
        threads.push(ticks::spawn_bare(config.tick_rate_hz, shared.clone())?);
    }
    if parts.poller {
        let poll = Duration::from_millis(config.poll_interval_ms);
        threads.push(counters::spawn(poll, clocksource.to_owned(), shared.clone(), outbox.clone()).context("starting the poller")?);
    }
    if parts.kmsg {
        match kmsg::spawn(shared.clone(), outbox.clone(), parts.benchmark) {
            Ok(t) => threads.push(t),
            Err(e) => link.send(&degraded("kmsg", format!("opening /dev/kmsg: {e}")))?,
        }
    }
    Ok(())
}

/// The benchmark (see `bench`): limits first, then the CPU task beside each
/// part of the probe, then beside all of them, each in rounds alternating
/// with the task alone.
fn benchmark(config: &ProbeConfig, link: &mut dyn Link, seq: &mut u64, phase: Duration, clocksource: &str, shm: Option<&SharedReference>) -> Result<()> {
    let limits = crate::bench::measure_limits(phase);
    let round = phase / (2 * crate::bench::TASK_ROUNDS);
    let mut parts = Vec::new();
    for (name, p) in Parts::one_by_one(config).into_iter().chain([("all", Parts { benchmark: true, ..Parts::all(config) })]) {
        let (mut alone, mut beside) = (0.0, 0.0);
        for _ in 0..crate::bench::TASK_ROUNDS {
            alone += crate::bench::task_alone(round);
            beside += task_beside(config, link, seq, round, clocksource, p, shm)?;
        }
        let rounds = crate::bench::TASK_ROUNDS as f64;
        parts.push(clockstorm_protocol::BenchPart { part: name.into(), task_ops_per_s_alone: alone / rounds, task_ops_per_s: beside / rounds });
    }
    link.send(&GuestMessage::Benchmark(crate::bench::result(phase, limits, parts)))
}

/// The CPU task's rate over `phase` beside `parts` of the probe and the
/// channel loop.
#[allow(clippy::too_many_arguments)]
fn task_beside(
    config: &ProbeConfig,
    link: &mut dyn Link,
    seq: &mut u64,
    phase: Duration,
    clocksource: &str,
    parts: Parts,
    shm: Option<&SharedReference>,
) -> Result<f64> {
    let (outbox, rx) = outbox_for_the_run(link)?;
    let shared = Arc::new(SamplerShared::default());
    let mut threads = Vec::new();
    let task_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = {
        let stop = task_stop.clone();
        std::thread::Builder::new().name("bench-task".into()).spawn(move || crate::bench::cpu_task(&stop))?
    };
    // The task must not inherit the channel thread's nice -20: it is spawned
    // from here, so it resets itself like the samplers do.
    let started = spawn_background(config, clocksource, parts, &shared, &outbox, link, &mut threads);
    let mut totals = Totals::default();
    let sources = Sources { ptp: None, shm, exchanges: parts.exchanges };
    let result = started.and_then(|()| channel_loop(config, phase, link, &rx, seq, &mut totals, sources, &shared));
    shared.stop.store(true, Ordering::Relaxed);
    task_stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let with = task.join().unwrap_or(0.0);
    result?;
    // What the threads sent last.
    for msg in rx.take_all() {
        link.send(&msg)?;
    }
    Ok(with)
}

/// The references the channel loop reads beside the data channel's exchanges.
#[derive(Default, Clone, Copy)]
struct Sources<'a> {
    /// The KVM PTP clock's device, read after each exchange.
    ptp: Option<&'a std::path::Path>,
    /// The shared-memory reference, exchanged with before each.
    shm: Option<&'a SharedReference>,
    /// Whether to exchange at all (the benchmark's phases without them only
    /// forward).
    exchanges: bool,
}

#[derive(Default)]
struct Totals {
    samples: u64,
    windows: u64,
    dropped: clockstorm_protocol::Dropped,
    exchanges: u64,
    exchanges_lost: u64,
    shm_exchanges: u64,
    shm_exchanges_lost: u64,
}

/// Exchanges on schedule (and in bursts after gaps), forwards everything the
/// measuring threads queue, answers the host's beacons and carries out its
/// actions. Every host message wakes it, so it keeps forwarding even when the
/// guest's clocks stop and its poll timeouts never expire.
#[allow(clippy::too_many_arguments)]
fn channel_loop(
    config: &ProbeConfig,
    duration: Duration,
    link: &mut dyn Link,
    rx: &Inbox,
    seq: &mut u64,
    totals: &mut Totals,
    sources: Sources<'_>,
    shared: &SamplerShared,
) -> Result<()> {
    let interval = Duration::from_millis(config.exchange_interval_ms);
    let deadline = Instant::now() + duration;
    let mut next_exchange = Instant::now();
    let mut burst_left = 0u32;
    let mut pending: Vec<HostMessage> = Vec::new();
    let mut ptp_dev = sources.ptp;
    let mut shm = sources.shm;
    while Instant::now() < deadline {
        let now = Instant::now();
        if sources.exchanges && link.has_reference() && (burst_left > 0 || now >= next_exchange) {
            // Shared memory first: on schedule, where the host spins for it.
            if let Some(r) = shm {
                // An answer that never came is a lost exchange; a page that
                // no longer reads as the reference (the host's side gone) is
                // said once and the run goes on over the data channel: a
                // measurement is never ended by its better reference.
                let got = match r.best_exchange() {
                    Ok(got) => got,
                    Err(e) => {
                        link.send(&degraded("shm-reference", format!("{e:#}; exchanges over the data channel from here on")))?;
                        shm = None;
                        None
                    }
                };
                // When the next one comes, as the schedule below will have
                // it: at once within a burst, else the next due time.
                let now = Instant::now();
                let next = match burst_left {
                    0 => (next_exchange + interval).saturating_duration_since(now),
                    1 => next_exchange.saturating_duration_since(now),
                    _ => Duration::ZERO,
                };
                if shm.is_some() {
                    r.announce_next_in(next);
                }
                match got {
                    Some(mut e) => {
                        e.burst = burst_left > 0;
                        link.send(&GuestMessage::Exchange(e))?;
                        totals.shm_exchanges += 1;
                    }
                    None if shm.is_some() => totals.shm_exchanges_lost += 1,
                    None => {}
                }
            }
            match exchange(link, *seq, &mut pending)? {
                Some(mut e) => {
                    e.burst = burst_left > 0;
                    link.send(&GuestMessage::Exchange(e))?;
                    totals.exchanges += 1;
                }
                None => totals.exchanges_lost += 1,
            }
            *seq += 1;
            if let Some(dev) = ptp_dev {
                let reading = ptp_reading(dev);
                if matches!(reading, GuestMessage::Degraded { .. }) {
                    ptp_dev = None; // said once; not retried every exchange
                }
                link.send(&reading)?;
            }
            if burst_left > 0 {
                burst_left -= 1;
            } else {
                // After a stall, go on from now rather than firing the missed exchanges back to back.
                next_exchange = (next_exchange + interval).max(Instant::now());
            }
        }
        for msg in rx.take_all() {
            if let GuestMessage::Gap(g) = &msg {
                if sources.exchanges && g.gap_ns >= config.burst_after_gap_ns {
                    burst_left = config.burst_exchanges;
                }
            }
            link.send(&msg)?;
        }
        for msg in pending.drain(..) {
            answer(link, msg, Some(shared))?;
        }
        let next_due = if sources.exchanges { next_exchange.min(deadline) } else { deadline };
        let wait = if burst_left > 0 { Duration::ZERO } else { next_due.saturating_duration_since(Instant::now()).min(CHANNEL_POLL) };
        if let Some(msg) = link.recv(wait, rx.wake_fd())? {
            pending.push(msg);
        }
    }
    Ok(())
}

/// Carries out one host message other than a pong: an action, or a beacon
/// answered at once with what the probe's threads have done (`shared`:
/// None before the samplers exist).
fn answer(link: &mut dyn Link, msg: HostMessage, shared: Option<&SamplerShared>) -> Result<()> {
    match msg {
        HostMessage::Action { id, action } => {
            let sysfs = std::path::Path::new(actions::CLOCKSOURCE_SYSFS);
            link.send(&GuestMessage::ActionResult(actions::perform(id, &action, sysfs, monotonic_ns())))
        }
        HostMessage::Beacon { seq } => link.send(&GuestMessage::Beacon(beacon(seq, shared))),
        HostMessage::Pong { .. } => Ok(()), // late: its exchange already timed out
    }
}

fn beacon(seq: u64, shared: Option<&SamplerShared>) -> Beacon {
    Beacon {
        seq,
        tsc: rdtsc(),
        monotonic_ns: monotonic_ns(),
        realtime_ns: realtime_ns(),
        samplers: shared.map(|s| s.progress()).unwrap_or_default(),
        timer_wakeups: shared.map(|s| s.timer_wakeups.load(Ordering::Relaxed)).unwrap_or(0),
        timer_last_wake_ns: shared.map(|s| s.timer_last_wake_ns.load(Ordering::Relaxed)).unwrap_or(0),
    }
}

fn degraded(component: &str, reason: String) -> GuestMessage {
    GuestMessage::Degraded { component: component.into(), reason }
}

/// One reading of the KVM PTP clock, or why it is unusable.
fn ptp_reading(dev: &std::path::Path) -> GuestMessage {
    let mono_ns = monotonic_ns();
    match crate::ptp::read_offset(dev) {
        Ok(o) => GuestMessage::PtpOffset(clockstorm_protocol::PtpReading {
            mono_ns,
            offset_ns: o.offset_ns,
            uncertainty_ns: o.uncertainty_ns,
            precise: o.uncertainty_ns == 0,
        }),
        Err(e) => GuestMessage::Degraded { component: "ptp".into(), reason: format!("reading {}: {e}", dev.display()) },
    }
}

/// Polls sysfs until the current clocksource is `expected` or the settle
/// timeout passes; returns the last state read either way.
fn wait_for_clocksource(expected: Option<&str>) -> Result<ClocksourceState> {
    let deadline = Instant::now() + CLOCKSOURCE_SETTLE_TIMEOUT;
    loop {
        let state = sysinfo::clocksource_state().context("reading the clocksource from sysfs")?;
        if expected.is_none_or(|e| e == state.current) || Instant::now() >= deadline {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn initial_sync(config: &ProbeConfig, link: &mut dyn Link, seq: &mut u64, shared: &SamplerShared) -> Result<()> {
    let mut burst = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..config.initial_sync_exchanges {
        let got = exchange(link, *seq, &mut pending)?;
        // Beacons are answered; actions are not due before measurement begins.
        for msg in pending.drain(..).filter(|m| matches!(m, HostMessage::Beacon { .. })) {
            answer(link, msg, Some(shared))?;
        }
        if let Some(e) = got {
            link.send(&GuestMessage::Exchange(e))?;
            burst.push(e);
        }
        *seq += 1;
    }
    let Some(best) = best_of(&burst) else {
        bail!("the host answered none of {} initial exchanges", config.initial_sync_exchanges);
    };
    crate::clocks::step_realtime(best.offset_ns).context("stepping CLOCK_REALTIME onto host time")?;
    link.send(&GuestMessage::Synced(Synced { best, step_ns: best.offset_ns }))
}

/// ns per read of every clock in `clocks`, and of the TSC.
fn read_cost(clocks: &[ClockId]) -> ReadCost {
    let time = |f: &dyn Fn() -> u64| {
        let t0 = monotonic_ns();
        let mut sink = 0u64;
        for _ in 0..CALIBRATION_READS {
            sink = sink.wrapping_add(f());
        }
        std::hint::black_box(sink);
        (monotonic_ns() - t0) as f64 / CALIBRATION_READS as f64
    };
    ReadCost { clocks: clocks.iter().map(|&c| (c, time(&|| now_ns(clock_id(c)) as u64))).collect(), rdtsc_ns: time(&rdtsc), reads: CALIBRATION_READS }
}

fn send_done(link: &mut dyn Link, outcome: ProbeOutcome, t: &Totals) -> Result<()> {
    let (cpu_user_ms, cpu_system_ms) = sysinfo::cpu_time_ms();
    link.send(&GuestMessage::Done(Done {
        outcome,
        samples: t.samples,
        windows: t.windows,
        dropped: t.dropped,
        exchanges: t.exchanges,
        exchanges_lost: t.exchanges_lost,
        shm_exchanges: t.shm_exchanges,
        shm_exchanges_lost: t.shm_exchanges_lost,
        peak_rss_kib: sysinfo::peak_rss_kib(),
        cpu_user_ms,
        cpu_system_ms,
    }))
}
