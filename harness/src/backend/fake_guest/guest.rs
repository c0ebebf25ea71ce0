//! What every thread of the fake guest shares: its clock and kernel, the
//! data channel's writer, the counters the beacons and Done report, and the
//! two gates that make host faults reach the guest's threads as they reach
//! a real guest's:
//!
//! - a vCPU thread runs unless the VM is paused (QMP `stop`), and is frozen
//!   or throttled for real by the host (the harness finds it by its TID);
//! - every other guest thread (channel, timer, poller, kmsg, the main one)
//!   behaves as if it ran on vCPU 0: it waits while vCPU 0 has not run for
//!   [`VCPU0_SILENT_NS`], so freezing the vCPUs silences the whole guest.
//!
//! Both gates wait by sleeping [`GATE_POLL`]: a frozen guest costs the host
//! a few thousand short wake-ups a second, not a core.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockstorm_protocol::{GuestMessage, ProbeConfig, SamplerProgress};

use super::channel::Link;
use super::clock::{GuestClock, HostClock};
use super::console::Console;
use super::kernel::Kernel;
use super::model::ClockModel;
use super::sampler::SamplerLive;

/// vCPU 0 beats every ~1.3 ms; silent for longer than this it is frozen,
/// parked or starved, and the threads "on" it do not run either.
pub const VCPU0_SILENT_NS: u64 = 20_000_000;
/// How often a waiting thread looks again.
pub const GATE_POLL: Duration = Duration::from_millis(1);

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Hello and the initial sync: nothing is sampled yet.
    Booting = 0,
    /// After the sync: the samplers, timer, poller and kmsg threads run.
    Measuring = 1,
    /// The duration is over: samplers finish their window, the rest stop.
    Finishing = 2,
}

/// Why the guest ended other than by finishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The probe could not go on (it says why on the console and the channel).
    Fatal(String),
    /// QMP `quit`.
    Quit,
}

pub struct Guest {
    pub config: ProbeConfig,
    pub vcpus: u32,
    pub clock: GuestClock,
    pub kernel: Kernel,
    link: Link,
    heartbeat_ns: AtomicU64,
    phase: AtomicU8,
    shutdown: AtomicBool,
    ending: Mutex<Option<Ending>>,
    /// A sampler saw a gap long enough for a burst of exchanges.
    pub burst_requested: AtomicBool,
    /// Samplers in the middle of a window (the end waits for them).
    pub samplers_busy: AtomicU32,
    pub samplers: Vec<Arc<SamplerLive>>,
    pub samples: AtomicU64,
    pub windows: AtomicU64,
    pub timer_wakeups: AtomicU64,
    pub timer_last_wake_ns: AtomicU64,
    /// Local timer interrupts per vCPU (/proc/interrupts LOC).
    pub local_timer: Vec<AtomicU64>,
}

impl Guest {
    pub fn new(config: ProbeConfig, vcpus: u32, model: ClockModel, console: Arc<Console>, link: Link, host: Arc<dyn HostClock>) -> Guest {
        let kernel = Kernel::new(console, model, config.expected_clocksource.as_deref());
        let clock = GuestClock::new(host, kernel.model(), &kernel.current_clocksource());
        let now = clock.host().monotonic_ns();
        Guest {
            config,
            vcpus,
            clock,
            kernel,
            link,
            heartbeat_ns: AtomicU64::new(now),
            phase: AtomicU8::new(Phase::Booting as u8),
            shutdown: AtomicBool::new(false),
            ending: Mutex::new(None),
            burst_requested: AtomicBool::new(false),
            samplers_busy: AtomicU32::new(0),
            samplers: (0..vcpus).map(|c| Arc::new(SamplerLive::new(c))).collect(),
            samples: AtomicU64::new(0),
            windows: AtomicU64::new(0),
            timer_wakeups: AtomicU64::new(0),
            timer_last_wake_ns: AtomicU64::new(0),
            local_timer: (0..vcpus).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(SeqCst) {
            0 => Phase::Booting,
            1 => Phase::Measuring,
            _ => Phase::Finishing,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, SeqCst);
    }

    /// Whether every thread must end now (a fatal error, quit, or the end).
    pub fn is_shut_down(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    pub fn shut_down(&self) {
        self.shutdown.store(true, SeqCst);
    }

    /// Ends the run for `ending`; the first reason given is the one reported.
    pub fn end(&self, ending: Ending) {
        self.ending.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(ending);
        self.shut_down();
    }

    pub fn fail(&self, reason: impl Into<String>) {
        self.end(Ending::Fatal(reason.into()));
    }

    pub fn ending(&self) -> Option<Ending> {
        self.ending.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends `msg`; a channel that fails ends the run (false).
    pub fn send(&self, msg: &GuestMessage) -> bool {
        match self.link.send(msg) {
            Ok(()) => true,
            Err(e) => {
                self.fail(e.to_string());
                false
            }
        }
    }

    /// Sends bytes as they are (the hostile modes); false as [`Guest::send`].
    pub fn send_raw(&self, bytes: &[u8]) -> bool {
        self.sent(self.link.send_raw(bytes))
    }

    /// Sends one line of `len` bytes, slowly (see `Link::send_long_line`).
    pub fn send_long_line(&self, len: u64, pause: Duration) -> bool {
        self.sent(self.link.send_long_line(len, pause))
    }

    fn sent(&self, result: Result<(), super::channel::ChannelError>) -> bool {
        result.map_err(|e| self.fail(e.to_string())).is_ok()
    }

    /// vCPU 0 ran just now.
    pub fn beat(&self) {
        self.heartbeat_ns.fetch_max(self.clock.host().monotonic_ns(), SeqCst);
    }

    /// For a vCPU thread: waits while the VM is paused; false once the guest shuts down.
    pub fn vcpu_may_run(&self) -> bool {
        loop {
            if self.is_shut_down() {
                return false;
            }
            if !self.clock.is_paused() {
                return true;
            }
            std::thread::sleep(GATE_POLL);
        }
    }

    /// For any other guest thread: waits while the VM is paused or vCPU 0
    /// does not run; false once the guest shuts down.
    pub fn on_vcpu0(&self) -> bool {
        loop {
            if self.is_shut_down() {
                return false;
            }
            let silent = self.clock.host().monotonic_ns().saturating_sub(self.heartbeat_ns.load(SeqCst));
            if !self.clock.is_paused() && silent <= VCPU0_SILENT_NS {
                return true;
            }
            std::thread::sleep(GATE_POLL);
        }
    }

    /// Sleeps `d` of host time, as a guest thread's nanosleep; false once
    /// the guest shuts down (checked every 10 ms, so a long sleep ends promptly).
    pub fn sleep(&self, d: Duration) -> bool {
        const SLICE: Duration = Duration::from_millis(10);
        let mut left = d;
        while !left.is_zero() {
            if self.is_shut_down() {
                return false;
            }
            let step = left.min(SLICE);
            std::thread::sleep(step);
            left -= step;
        }
        !self.is_shut_down()
    }

    /// The samplers' progress as a beacon reports it (none before measuring,
    /// as the probe's samplers do not exist before its sync).
    pub fn sampler_progress(&self) -> Vec<SamplerProgress> {
        if self.phase() == Phase::Booting {
            return Vec::new();
        }
        self.samplers.iter().map(|s| s.snapshot()).collect()
    }
}
