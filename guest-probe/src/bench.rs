//! The in-guest benchmark: the physical limit against the probe.
//!
//! Phases on vCPU 0 with nothing else of the probe running except where said:
//! 1. a bare `clock_gettime(CLOCK_MONOTONIC)` loop (the ceiling) and the
//!    sampler's own loop on the same clock (histogram, TSC brackets, still-
//!    clock checks and all), alternating in slices of a hundredth of a
//!    phase, bare loop first and last;
//! 2. a CPU-bound task alone;
//! 3. the same task beside each part of the probe in turn, then beside all
//!    of them (the caller runs these through [`cpu_task`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clockstorm_protocol::{BenchPart, BenchResult, ClockId};

use crate::clocks::monotonic_ns;
use crate::outbox::Outbox;
use crate::sampler::{self, SamplerSettings, SamplerShared, WindowAccumulator};

/// Reads of the bare loop between two looks at the deadline.
const RAW_BATCH: u64 = 1024;
/// Task iterations between two looks at the stop flag.
const TASK_BATCH: u64 = 4096;

/// Sampler slices between bare-loop slices: `SLICES` sampler slices and
/// one bare slice more, each a hundredth of a phase (20 ms at the default
/// 2 s phase), the sampler's window as long as its slice. Slices of half a
/// second ranged from 66 % to 147 % on a 2-core host under TCG, and of
/// 100 ms from 71 % to 135 %: the guest's speed moves within a tenth of a
/// second, so short slices and the median of many follow it.
const SLICES: usize = 100;

/// The bare loop against the sampler.
pub struct Limits {
    pub raw_reads_per_s: f64,
    pub sampler_reads_per_s: f64,
    pub bare_slices: Vec<f64>,
    pub sampler_slices: Vec<f64>,
}

/// Phase 1; phases 2 and 3 need the probe's threads and are run by the
/// caller through [`task_alone`] and [`cpu_task`].
pub fn measure_limits(phase: Duration) -> Limits {
    // Both loops under the samplers' own policy and CPU; the calling thread
    // gets its policy and CPUs back afterwards.
    let cpus = crate::sched::online_cpus();
    crate::sched::set_normal_policy();
    let _ = crate::sched::pin_to_cpu(0);
    // The guest's speed drifts under TCG (either way, by several per cent
    // within seconds: one bare slice before and one after a single sampler
    // phase put the sampler at 115 % once), so the loops alternate and each
    // sampler slice is compared with the bare slices on either side of it.
    let slice = phase / SLICES as u32;
    // Placed once, as each sampler places its own at its start.
    let mut acc = sampler::placed_accumulator(0, ClockId::Monotonic, u64::MAX);
    let mut raw = vec![raw_loop(slice)];
    let mut sampled = Vec::new();
    for _ in 0..SLICES {
        sampled.push(sampler_loop(slice, &mut acc));
        raw.push(raw_loop(slice));
    }
    let _ = crate::sched::pin_to_cpus(&cpus);
    let _ = crate::sched::set_top_nice();
    Limits { raw_reads_per_s: mean(&raw), sampler_reads_per_s: mean(&sampled), bare_slices: raw, sampler_slices: sampled }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn raw_loop(phase: Duration) -> f64 {
    let start = monotonic_ns();
    let end = start + phase.as_nanos() as u64;
    let mut reads = 0u64;
    loop {
        for _ in 0..RAW_BATCH {
            std::hint::black_box(monotonic_ns());
        }
        reads += RAW_BATCH + 1;
        let now = monotonic_ns();
        if now >= end {
            return reads as f64 / ((now - start) as f64 / 1e9);
        }
    }
}

/// The samplers' hot loop, run here for whole windows until `phase` passed.
fn sampler_loop(phase: Duration, acc: &mut WindowAccumulator) -> f64 {
    let shared = Arc::new(SamplerShared::default());
    // As the samplers of this guest would: cross-vCPU checks only with
    // more than one vCPU.
    shared.cross_checks.store(crate::sched::online_cpus().len() > 1, Ordering::Relaxed);
    // Windows go nowhere: the queue is dropped with this function.
    let (outbox, _rx) = Outbox::new(64);
    let settings = SamplerSettings { clocks: vec![ClockId::Monotonic], window_ns: phase.as_nanos() as u64, gap_event_ns: u64::MAX };
    let started = Instant::now();
    sampler::run_for(0, &settings, &shared, &outbox, phase, acc);
    shared.samples.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A CPU-bound task (xorshift hashing) until `stop`; returns operations per second.
pub fn cpu_task(stop: &AtomicBool) -> f64 {
    crate::sched::set_normal_policy();
    let _ = crate::sched::pin_to_cpu(0);
    let started = Instant::now();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut ops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..TASK_BATCH {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        ops += TASK_BATCH;
    }
    std::hint::black_box(x);
    ops as f64 / started.elapsed().as_secs_f64()
}

/// Rounds of the task alone and beside a part, each way a tenth of a phase
/// (the pairs alternate, so the guest's drift cancels).
pub const TASK_ROUNDS: u32 = 5;

/// The CPU task alone for `length`, ops per second (the calling thread
/// sleeps meanwhile).
pub fn task_alone(length: Duration) -> f64 {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let h = s.spawn(|| cpu_task(&stop));
        std::thread::sleep(length);
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap_or(0.0)
    })
}

/// Assembles the message; the last of `parts` is the probe in all.
pub fn result(phase: Duration, limits: Limits, mut parts: Vec<BenchPart>) -> BenchResult {
    let all = parts.pop();
    BenchResult {
        phase_ms: phase.as_millis() as u64,
        raw_reads_per_s: limits.raw_reads_per_s,
        sampler_reads_per_s: limits.sampler_reads_per_s,
        bare_slices: limits.bare_slices,
        sampler_slices: limits.sampler_slices,
        task_ops_per_s_alone: all.as_ref().map(|a| a.task_ops_per_s_alone).unwrap_or(0.0),
        task_ops_per_s_with_probe: all.as_ref().map(|a| a.task_ops_per_s).unwrap_or(0.0),
        task_ops_per_s_with_part: parts,
    }
}
