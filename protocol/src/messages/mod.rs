//! Messages between the probe and the host, one JSON object per line.

mod exchange;
mod hello;
mod kernel;
mod liveness;
mod sampling;
mod ticks;
mod time_service;

use serde::{Deserialize, Serialize};

pub use exchange::*;
pub use hello::*;
pub use kernel::*;
pub use liveness::*;
pub use sampling::*;
pub use ticks::*;
pub use time_service::*;

/// Everything the probe sends to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum GuestMessage {
    Hello(Hello),
    /// First half of an NTP-style exchange: `t1` is the guest's
    /// CLOCK_REALTIME just before sending, in ns since the epoch.
    Ping {
        seq: u64,
        t1_ns: i64,
    },
    /// A completed exchange, as the guest computed it.
    Exchange(Exchange),
    /// An offset read from the KVM PTP clock (ptp_kvm), where the guest has one.
    PtpOffset(PtpReading),
    /// The initial clock step the probe applied (see `ProbeConfig::initial_sync_exchanges`).
    Synced(Synced),
    /// One sampler window of one vCPU.
    Window(Window),
    /// A single gap between clock reads longer than the configured threshold.
    Gap(Gap),
    /// One window of the periodic timer: expirations, overruns, wake-up latency.
    TickWindow(TickWindow),
    /// The timer thread was kept from running for longer than the gap threshold.
    TimerStall(TimerStall),
    /// The answer to a host beacon (liveness that needs no guest timer).
    Beacon(Beacon),
    /// Cumulative kernel counters read from /proc (interrupts, jiffies, steal).
    KernelCounters(KernelCounters),
    /// A line from /dev/kmsg.
    KernelLog(KernelLog),
    /// A line of the time service's log (`[guest] time_service`).
    ServiceLog(ServiceLog),
    /// The current clocksource changed.
    ClocksourceChanged(ClocksourceChange),
    /// The result of an action the host asked for.
    ActionResult(ActionResult),
    /// Figures of the in-guest benchmark (when the config asks for one).
    Benchmark(BenchResult),
    /// Part of the measurement is unavailable or stopped working; the run
    /// goes on without it.
    Degraded {
        component: String,
        reason: String,
    },
    Done(Done),
    /// The probe cannot go on; the run is failed with this reason.
    Failure {
        message: String,
    },
}

/// What the host sends to the probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostMessage {
    /// Second half of an exchange: `t2` is the host's CLOCK_REALTIME when the
    /// matching ping was read, in ns since the epoch.
    Pong { seq: u64, t2_ns: i64 },
    /// Asks the probe to act on the guest (failover scenarios).
    Action { id: u64, action: Action },
    /// Paced by the host's clock: the probe answers with a [`Beacon`] at once.
    Beacon { seq: u64 },
}
