//! The vCPU threads: one per `--vcpus`, named as QEMU names its KVM vCPU
//! threads, their TIDs what QMP `query-cpus-fast` reports. Each keeps the
//! guest's time by reading its clock every iteration (vCPU 0's beat is what
//! the other guest threads run on), counts its local timer ticks, and once
//! measuring is that vCPU's sampler.
//!
//! A real sampler spins on one vCPU; several fakes share a 2-core CI host,
//! so this one reads in bursts of [`BURST_NS`] and sleeps [`VCPU_SLEEP`]
//! between them (about a fifth of a core per vCPU). The planned sleep is
//! taken out of the interval across it, so the window shows what a sampler
//! spinning through it would have seen: scheduling noise, and every fault.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{ClockId, Gap, GuestMessage};

use super::clock::Reading;
use super::guest::{Guest, Phase};
use super::sampler::{StillClock, WindowAcc};

/// Sleep between two read bursts.
pub const VCPU_SLEEP: Duration = Duration::from_millis(1);
/// Host time one read burst lasts.
pub const BURST_NS: u64 = 250_000;
/// A TSC bracket every this many reads, as the probe's sampler.
const TSC_EVERY: u64 = 16;
/// The local timer's period (HZ=250): a vCPU that runs takes one tick per
/// 4 ms of guest time, a frozen one none.
const TICK_NS: u64 = 4_000_000;

/// Starts vCPU `cpu`'s thread; returns it with its host TID.
pub fn spawn(guest: Arc<Guest>, cpu: u32) -> std::io::Result<(JoinHandle<()>, u32)> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new().name(format!("CPU {cpu}/KVM")).spawn(move || {
        let _ = tx.send(nix::unistd::gettid().as_raw() as u32);
        run(&guest, cpu);
    })?;
    let tid = rx.recv().map_err(|_| std::io::Error::other(format!("vCPU {cpu}'s thread ended before it started")))?;
    Ok((handle, tid))
}

fn run(guest: &Guest, cpu: u32) {
    let mut sampler = Sampler::new(guest, cpu);
    let mut tick = 0u64;
    while guest.vcpu_may_run() {
        if cpu == 0 {
            guest.beat();
        }
        let r = sampler.iteration(guest);
        if r.mono_ns / TICK_NS != tick {
            tick = r.mono_ns / TICK_NS;
            if let Some(loc) = guest.local_timer.get(cpu as usize) {
                loc.fetch_add(1, Relaxed);
            }
        }
        std::thread::sleep(VCPU_SLEEP);
    }
}

/// One vCPU's sampler: windows of one clock each, rotating through the
/// configured clocks.
struct Sampler {
    cpu: u32,
    clocks: Vec<ClockId>,
    window_ns: u64,
    gap_event_ns: u64,
    burst_after_gap_ns: u64,
    index: u64,
    /// In a window (counted in `Guest::samplers_busy`).
    active: bool,
    acc: WindowAcc,
    still: StillClock,
    /// The last value read of the window's clock.
    prev: u64,
}

impl Sampler {
    fn new(guest: &Guest, cpu: u32) -> Sampler {
        let c = &guest.config;
        Sampler {
            cpu,
            clocks: c.clocks.clone(),
            window_ns: c.window_ms * 1_000_000,
            gap_event_ns: c.gap_event_threshold_ns,
            burst_after_gap_ns: c.burst_after_gap_ns,
            index: 0,
            active: false,
            acc: WindowAcc::default(),
            still: StillClock::default(),
            prev: 0,
        }
    }

    fn clock(&self) -> ClockId {
        self.clocks[(self.index % self.clocks.len() as u64) as usize]
    }

    /// One iteration of the vCPU: a read burst when sampling, else one
    /// read (the kernel keeping time on this vCPU).
    fn iteration(&mut self, guest: &Guest) -> Reading {
        if self.active {
            return self.burst(guest, true);
        }
        if self.begin_window(guest) {
            return self.burst(guest, false);
        }
        guest.clock.read()
    }

    /// Starts a window if measuring goes on; false otherwise.
    fn begin_window(&mut self, guest: &Guest) -> bool {
        // Counted before the phase is checked, so the end (which sets the
        // phase, then waits for none to be busy) cannot miss a window starting.
        guest.samplers_busy.fetch_add(1, SeqCst);
        if guest.phase() != Phase::Measuring {
            guest.samplers_busy.fetch_sub(1, SeqCst);
            return false;
        }
        let r = guest.clock.read();
        self.acc.start(self.index, self.cpu, self.clock(), r.mono_ns);
        self.still.reset();
        self.prev = r.value(self.clock());
        self.active = true;
        true
    }

    /// Reads for [`BURST_NS`]; `after_sleep`: the first interval spans the
    /// planned sleep (not when the window began just now).
    fn burst(&mut self, guest: &Guest, after_sleep: bool) -> Reading {
        let clock = self.clock();
        let mut r = guest.clock.read();
        let end = r.host_ns + BURST_NS;
        let mut credit = if after_sleep { VCPU_SLEEP.as_nanos() as u64 } else { 0 };
        let mut reads = 0u64;
        loop {
            let v = r.value(clock);
            if let Some(d) = self.acc.record(self.prev, v, credit, r.mono_ns) {
                if d > self.gap_event_ns {
                    guest.send(&GuestMessage::Gap(Gap { cpu: self.cpu, at_ns: r.mono_ns, gap_ns: d }));
                    if d >= self.burst_after_gap_ns {
                        guest.burst_requested.store(true, SeqCst);
                    }
                }
            }
            credit = 0;
            self.prev = v;
            reads += 1;
            if reads % TSC_EVERY == 0 {
                self.acc.record_tsc(r.tsc, v);
            }
            if r.host_ns >= end {
                break;
            }
            r = guest.clock.read();
        }
        self.still.check(self.prev, r.tsc, reads);
        if let Some(live) = guest.samplers.get(self.cpu as usize) {
            live.publish(clock, &self.still);
        }
        if r.mono_ns.saturating_sub(self.acc.start_ns()) >= self.window_ns {
            self.finish_window(guest, r.mono_ns);
        }
        r
    }

    fn finish_window(&mut self, guest: &Guest, mono: u64) {
        let window = self.acc.finish(mono);
        guest.samples.fetch_add(window.samples, Relaxed);
        guest.windows.fetch_add(1, Relaxed);
        guest.send(&GuestMessage::Window(window));
        self.index += 1;
        self.active = false;
        guest.samplers_busy.fetch_sub(1, SeqCst);
    }
}
