//! The samplers: one thread pinned to each vCPU, reading a clock back to back
//! as fast as the vCPU allows, with a TSC read between two clock reads every
//! few iterations (the bracket gives the TSC rate against the clock) and a
//! cross-vCPU warp check every few more. Each window reads one clock; the
//! samplers rotate through the configured clocks window by window.
//!
//! The loop body is one clock read plus bookkeeping, so the sampling rate
//! stays close to the raw read rate (see `clockstorm bench`).

mod live;
mod warp;
mod window;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use clockstorm_protocol::{ClockId, Gap, GuestMessage};

use crate::clocks::{monotonic_ns, now_ns, rdtsc};
use crate::outbox::{Outbox, Producer};
pub use live::{SamplerLive, StillClock};
use warp::WarpCheck;
pub use window::WindowAccumulator;

/// A TSC read every this many clock reads (a power of two). Under TCG a TSC
/// read is a helper call that reads the host's clock: every read would cost
/// the tsc clocksource ~10 % of its read rate, one in 16 still cost it
/// several per cent (`clockstorm bench`). The window's first and last
/// brackets give the TSC rate; the reads between only look for a TSC
/// stepping back, which one in 64 sees as well.
const TSC_EVERY: u64 = 64;
/// A cross-vCPU check every this many clock reads (a power of two, a multiple
/// of TSC_EVERY): it takes a lock shared by all vCPUs.
const WARP_EVERY: u64 = 64;
/// The window's end is checked every this many reads (a power of two, a
/// multiple of TSC_EVERY): at
/// ~1 µs per read at worst (hpet under TCG) that is ~1 ms of lateness.
const END_CHECK_EVERY: u64 = 1024;

/// What the samplers share with the rest of the probe.
#[derive(Default)]
pub struct SamplerShared {
    pub stop: AtomicBool,
    /// Whether there are other samplers to warp against: with one vCPU the
    /// cross-vCPU check has nothing to compare and only costs read rate (its
    /// lock is an atomic, a helper call under TCG).
    pub cross_checks: AtomicBool,
    pub samples: AtomicU64,
    pub windows: AtomicU64,
    /// Each sampler's progress, for the beacons (registered at spawn).
    pub live: std::sync::RwLock<Vec<Arc<SamplerLive>>>,
    /// The timer thread's wake-ups and CLOCK_MONOTONIC at its last one.
    pub timer_wakeups: AtomicU64,
    pub timer_last_wake_ns: AtomicU64,
    warp: WarpCheck,
}

impl SamplerShared {
    /// What the beacons report of every sampler.
    pub fn progress(&self) -> Vec<clockstorm_protocol::SamplerProgress> {
        self.live.read().map(|l| l.iter().map(|s| s.snapshot()).collect()).unwrap_or_default()
    }
}

/// Settings of every sampler.
#[derive(Clone)]
pub struct SamplerSettings {
    pub clocks: Vec<ClockId>,
    pub window_ns: u64,
    pub gap_event_ns: u64,
}

pub fn clock_id(clock: ClockId) -> libc::clockid_t {
    match clock {
        ClockId::Monotonic => libc::CLOCK_MONOTONIC,
        ClockId::MonotonicRaw => libc::CLOCK_MONOTONIC_RAW,
        ClockId::Realtime => libc::CLOCK_REALTIME,
    }
}

/// Places tried for the window accumulator, and the rounds and length of
/// each one's trial.
const PLACES: usize = 4;
const PLACE_ROUNDS: u32 = 5;
const PLACE_TRIAL_NS: u64 = 1_000_000;

/// The window accumulator (its histogram inline, 16 KiB) on the heap, at
/// whichever of [`PLACES`] allocations let the loop read `clock` fastest in
/// a short trial (rounds alternating between them, 20 ms in all). Under
/// TCG where it lies matters: with user address randomisation off
/// (`norandmaps`, one fixed layout) the tsc sampler ran at 71.7-71.9 % of
/// the bare loop with it on the stack and 91.7-92.9 % with it on the heap
/// (three guests each); with randomisation on, the stack placement
/// measured anywhere from 71 % to 96 % from one boot to the next, each
/// boot's own spread tight. The likely cause: QEMU's software TLB is
/// direct-mapped, so a page of the hot loop that shares an index with
/// another it touches is refilled on every read. The trial costs each
/// sampler 20 ms once, before its first window.
pub fn placed_accumulator(cpu: usize, clock: ClockId, gap_event_ns: u64) -> Box<WindowAccumulator> {
    let trial = SamplerSettings { clocks: vec![clock], window_ns: PLACE_TRIAL_NS, gap_event_ns: u64::MAX };
    let shared = SamplerShared::default();
    // Trial windows go nowhere: the queue is dropped with this function.
    let (outbox, _rx) = Outbox::new(PLACES * PLACE_ROUNDS as usize + 1);
    // All alive at once, so each is a different allocation.
    let mut candidates: Vec<(Box<WindowAccumulator>, u64, u64)> = (0..PLACES).map(|_| (Box::new(WindowAccumulator::new(u64::MAX)), 0, 0)).collect();
    for round in 0..PLACE_ROUNDS {
        for (acc, reads, ns) in candidates.iter_mut() {
            let before = shared.samples.load(Ordering::Relaxed);
            let t0 = monotonic_ns();
            sample_window(cpu as u32, round as u64, clock, &trial, &shared, &outbox, acc, None);
            *ns += monotonic_ns().saturating_sub(t0);
            *reads += shared.samples.load(Ordering::Relaxed) - before;
        }
    }
    let best = candidates.iter().enumerate().max_by(|a, b| rate(a.1).total_cmp(&rate(b.1))).map(|(i, _)| i).unwrap_or(0);
    let mut acc = candidates.swap_remove(best).0;
    acc.reset(gap_event_ns);
    acc
}

fn rate(c: &(Box<WindowAccumulator>, u64, u64)) -> f64 {
    c.1 as f64 / c.2.max(1) as f64
}

/// Starts one sampler per CPU in `cpus`.
pub fn spawn_all(cpus: &[usize], settings: &SamplerSettings, shared: &Arc<SamplerShared>, outbox: &Outbox) -> std::io::Result<Vec<JoinHandle<()>>> {
    shared.cross_checks.store(cpus.len() > 1, Ordering::Relaxed);
    cpus.iter()
        .map(|&cpu| {
            let (settings, shared, outbox) = (settings.clone(), shared.clone(), outbox.clone());
            let live = Arc::new(SamplerLive::new(cpu as u32));
            if let Ok(mut l) = shared.live.write() {
                l.push(live.clone());
            }
            std::thread::Builder::new().name(format!("sampler-{cpu}")).spawn(move || run(cpu, &settings, &shared, &outbox, &live))
        })
        .collect()
}

fn run(cpu: usize, settings: &SamplerSettings, shared: &SamplerShared, outbox: &Outbox, live: &SamplerLive) {
    // SCHED_OTHER at nice 0 (not the channel thread's inherited nice -20):
    // the channel thread's wake-up preempts a spinning sampler, and a sampler
    // is never an RT task, so a freeze charged to it cannot set off RT
    // throttling. Not SCHED_IDLE: after a freeze the kernel's normal threads
    // kept SCHED_IDLE threads off the CPU for over a second.
    crate::sched::set_normal_policy();
    // Unpinned (e.g. standalone in a container that forbids it), the sampler
    // still measures; cross-vCPU warps are then between whatever CPUs it ran on.
    let _ = crate::sched::pin_to_cpu(cpu);
    let mut acc = placed_accumulator(cpu, settings.clocks[0], settings.gap_event_ns);
    let mut still = StillClock::default();
    let mut index = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let clock = settings.clocks[(index as usize) % settings.clocks.len()];
        sample_window(cpu as u32, index, clock, settings, shared, outbox, &mut acc, Some((live, &mut still)));
        index += 1;
    }
}

/// Runs the sampler loop on the calling thread, pinned to `cpu`, for whole
/// windows until `duration` has passed, with `acc` (the benchmark's sampler
/// slices: placed once, as a sampler does at its start).
pub fn run_for(
    cpu: usize,
    settings: &SamplerSettings,
    shared: &SamplerShared,
    outbox: &Outbox,
    duration: std::time::Duration,
    acc: &mut WindowAccumulator,
) {
    let _ = crate::sched::pin_to_cpu(cpu);
    let end = monotonic_ns() + duration.as_nanos() as u64;
    acc.reset(settings.gap_event_ns);
    // The still-clock checks the beacons read run here too: the loop
    // measured is the loop that runs.
    let live = SamplerLive::new(cpu as u32);
    let mut still = StillClock::default();
    let mut index = 0;
    while monotonic_ns() < end {
        let clock = settings.clocks[(index as usize) % settings.clocks.len()];
        sample_window(cpu as u32, index, clock, settings, shared, outbox, acc, Some((&live, &mut still)));
        index += 1;
    }
}

/// Reads `clock` for one window and sends its summary, through a copy of
/// the loop made for that clock and the accumulator's fast path
/// ([`sample_window_of`], [`WindowAccumulator::long_reads`]).
// Eight parts, passed as they are: bundling them would put the hot loop's
// inputs behind another reference.
#[allow(clippy::too_many_arguments)]
fn sample_window(
    cpu: u32,
    index: u64,
    clock: ClockId,
    settings: &SamplerSettings,
    shared: &SamplerShared,
    outbox: &Outbox,
    acc: &mut WindowAccumulator,
    live: Option<(&SamplerLive, &mut StillClock)>,
) {
    use libc::{CLOCK_MONOTONIC as MONO, CLOCK_MONOTONIC_RAW as RAW, CLOCK_REALTIME as REAL};
    match (clock, acc.long_reads()) {
        (ClockId::Monotonic, false) => sample_window_of::<MONO, false>(cpu, index, clock, settings, shared, outbox, acc, live),
        (ClockId::Monotonic, true) => sample_window_of::<MONO, true>(cpu, index, clock, settings, shared, outbox, acc, live),
        (ClockId::MonotonicRaw, false) => sample_window_of::<RAW, false>(cpu, index, clock, settings, shared, outbox, acc, live),
        (ClockId::MonotonicRaw, true) => sample_window_of::<RAW, true>(cpu, index, clock, settings, shared, outbox, acc, live),
        (ClockId::Realtime, false) => sample_window_of::<REAL, false>(cpu, index, clock, settings, shared, outbox, acc, live),
        (ClockId::Realtime, true) => sample_window_of::<REAL, true>(cpu, index, clock, settings, shared, outbox, acc, live),
    }
}

/// The loop of [`sample_window`] for the clock `ID`, on the long-read fast
/// path if `LONG`.
///
/// Sixty-three plain reads (in pairs), then one read followed by the TSC
/// bracket, then the rarer checks on a counter of such rounds. Two things
/// in its shape are there for TCG, where every guest instruction and every
/// translated block costs read rate (`clockstorm bench`, tsc, alternating
/// boots on one 2-core host): the clock id is a constant, which leaves a
/// register free for `clock_gettime`'s address (before, it was loaded from
/// the GOT on every read, a memory access the bare loop does not make), and
/// the reads go in pairs, so a read's fast path runs on into the next
/// read's call instead of ending its block at the loop's branch: two
/// blocks a read, as in the bare loop. Before both: 91.7-94.4 % of the bare
/// loop over nine boots; with the constant alone 92.3-95.4 % (six); with
/// both 94.2-95.4 % (six).
#[allow(clippy::too_many_arguments)]
fn sample_window_of<const ID: libc::clockid_t, const LONG: bool>(
    cpu: u32,
    index: u64,
    clock: ClockId,
    settings: &SamplerSettings,
    shared: &SamplerShared,
    outbox: &Outbox,
    acc: &mut WindowAccumulator,
    mut live: Option<(&SamplerLive, &mut StillClock)>,
) {
    let id = ID;
    if let Some((l, still)) = live.as_mut() {
        l.set_clock(clock);
        still.reset();
    }
    let read = || now_ns(id) as u64;
    let start = monotonic_ns();
    if let Some(gap_ns) = acc.start(index, cpu, clock, start) {
        outbox.send_now(Producer::Sampler, GuestMessage::Gap(Gap { cpu, at_ns: start, gap_ns }));
    }
    let gap_event = |acc: &WindowAccumulator, at: u64| {
        let at_ns = if clock == ClockId::Monotonic { at } else { monotonic_ns() };
        let gap_ns = acc.last_gap();
        outbox.send_now(Producer::Sampler, GuestMessage::Gap(Gap { cpu, at_ns, gap_ns }));
    };
    let cross_checks = shared.cross_checks.load(Ordering::Relaxed);
    let mut prev = read();
    let mut rounds: u64 = 0;
    loop {
        let mut limit = acc.fast_limit();
        let mut step = |acc: &mut WindowAccumulator, limit: &mut u64| {
            let now = read();
            if acc.record_with::<LONG>(limit, prev, now) {
                gap_event(acc, now);
            }
            prev = now;
        };
        for _ in 0..TSC_EVERY / 2 - 1 {
            step(acc, &mut limit);
            step(acc, &mut limit);
        }
        step(acc, &mut limit);
        rounds += 1;
        // With WARP_EVERY == TSC_EVERY every round checks; the modulo stays
        // so the two constants can part again.
        #[allow(clippy::modulo_one)]
        let warp_round = rounds % (WARP_EVERY / TSC_EVERY) == 0;
        let now = if warp_round && cross_checks {
            let (now, behind) = shared.warp.check(clock, read);
            if behind > 0 {
                acc.record_warp(behind);
            }
            now
        } else {
            read()
        };
        if acc.record::<LONG>(prev, now) {
            gap_event(acc, now);
        }
        acc.record_tsc(rdtsc(), now);
        prev = now;
        if rounds % (END_CHECK_EVERY / TSC_EVERY) == 0 {
            // Whether the clock still moves, paced by read counts and the
            // TSC, never by the clock itself: a clock that stopped never
            // ends its window.
            if let Some((l, still)) = live.as_mut() {
                still.check(now, rdtsc(), END_CHECK_EVERY);
                l.publish(still);
            }
            let mono = monotonic_ns();
            if mono.saturating_sub(acc.start_ns()) >= settings.window_ns {
                // Gap positions were read on `clock`; shift them onto CLOCK_MONOTONIC.
                let offset = mono as i128 - now as i128;
                let window = acc.finish(mono, outbox.dropped().sampler, |at| (at as i128 + offset).max(0) as u64);
                shared.samples.fetch_add(window.samples, Ordering::Relaxed);
                shared.windows.fetch_add(1, Ordering::Relaxed);
                outbox.send(Producer::Sampler, GuestMessage::Window(window));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placed_accumulator_starts_clean_with_the_runs_threshold() {
        // A real trial on this machine's clock (20 ms), then a real window.
        let mut acc = placed_accumulator(0, ClockId::Monotonic, 10_000_000);
        let (outbox, rx) = Outbox::new(8);
        let shared = SamplerShared::default();
        let settings = SamplerSettings { clocks: vec![ClockId::Monotonic], window_ns: 2_000_000, gap_event_ns: 10_000_000 };
        sample_window(0, 0, ClockId::Monotonic, &settings, &shared, &outbox, &mut acc, None);
        let msgs = rx.take_all();
        assert!(!msgs.iter().any(|m| matches!(m, GuestMessage::Gap(_))), "the trial left a hole: {msgs:?}");
        let Some(GuestMessage::Window(w)) = msgs.back() else { panic!("no window: {msgs:?}") };
        assert!(w.samples > 0 && w.index == 0, "{w:?}");
        assert_eq!(shared.samples.load(Ordering::Relaxed), w.samples, "the trial's reads are not the run's");
    }
}
