//! The in-guest benchmark: the physical limit against the probe.
//!
//! Phases, each `phase` long, on vCPU 0 with nothing else of the probe running
//! except where said:
//! 1. a bare `clock_gettime(CLOCK_MONOTONIC)` loop (the ceiling), before and
//!    after phase 2;
//! 2. the sampler's own loop on the same clock (histogram, TSC brackets,
//!    warp checks and all);
//! 3. a CPU-bound task alone;
//! 4. the same task while the probe's timer, exchanges, poller and kmsg
//!    threads run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clockstorm_protocol::{BenchResult, ClockId};

use crate::clocks::monotonic_ns;
use crate::outbox::Outbox;
use crate::sampler::{self, SamplerSettings, SamplerShared};

/// Reads of the bare loop between two looks at the deadline.
const RAW_BATCH: u64 = 1024;
/// Task iterations between two looks at the stop flag.
const TASK_BATCH: u64 = 4096;

/// Phases 1 to 3; phase 4 needs the probe's threads and is run by the caller
/// through [`cpu_task`].
pub fn measure_limits(phase: Duration) -> (f64, f64, f64) {
    // Both loops under the samplers' own policy and CPU; the calling thread
    // gets its policy and CPUs back afterwards.
    let cpus = crate::sched::online_cpus();
    crate::sched::set_normal_policy();
    let _ = crate::sched::pin_to_cpu(0);
    // The bare loop runs before and after the sampler and the two rates are
    // averaged, so a slow drift of the guest's speed (seen in either order
    // here) does not favour either side.
    let raw_before = raw_loop(phase);
    let sampled = sampler_loop(phase);
    let raw = (raw_before + raw_loop(phase)) / 2.0;
    let _ = crate::sched::pin_to_cpus(&cpus);
    let _ = crate::sched::set_top_nice();
    let stop = AtomicBool::new(false);
    let task = std::thread::scope(|s| {
        let h = s.spawn(|| cpu_task(&stop));
        std::thread::sleep(phase);
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap_or(0.0)
    });
    (raw, sampled, task)
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
fn sampler_loop(phase: Duration) -> f64 {
    let shared = Arc::new(SamplerShared::default());
    // As the samplers of this guest would: cross-vCPU checks only with
    // more than one vCPU.
    shared.cross_checks.store(crate::sched::online_cpus().len() > 1, Ordering::Relaxed);
    // Windows go nowhere: the queue is dropped with this function.
    let (outbox, _rx) = Outbox::new(64);
    let settings = SamplerSettings { clocks: vec![ClockId::Monotonic], window_ns: 100_000_000, gap_event_ns: u64::MAX };
    let started = Instant::now();
    sampler::run_for(0, &settings, &shared, &outbox, phase);
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

/// Assembles the message.
pub fn result(phase: Duration, limits: (f64, f64, f64), task_with_probe: f64) -> BenchResult {
    BenchResult {
        phase_ms: phase.as_millis() as u64,
        raw_reads_per_s: limits.0,
        sampler_reads_per_s: limits.1,
        task_ops_per_s_alone: limits.2,
        task_ops_per_s_with_probe: task_with_probe,
    }
}
