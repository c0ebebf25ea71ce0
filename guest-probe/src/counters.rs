//! The poller: the current clocksource at the configured interval (default
//! 10 Hz) and kernel counters from /proc on every tenth poll, from a
//! normal-priority thread.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{ClocksourceChange, GuestMessage, Jiffies, KernelCounters};

use crate::clocks::{monotonic_ns, realtime_ns};
use crate::outbox::{Outbox, Producer};
use crate::procfs;
use crate::sampler::SamplerShared;

/// The counters (/proc/interrupts, /proc/stat, and jiffies from
/// /proc/timer_list) are read on every this many polls; the current
/// clocksource on every poll. /proc/timer_list's generation is expensive
/// under TCG: at 10 Hz it raised the timer thread's missed wake-ups from ~4
/// to ~15-20 per 4 s and the exchanges' p99 uncertainty from ~0.5 ms to
/// 1-10 ms (hpet guest, 4 s runs, measured twice each). The other two went
/// the same way: what the report makes of the counters is a rate over the
/// run (local timer interrupts), a backlog (jiffies) and a total (steal),
/// which once a second follows as well as ten times; at ten a second they
/// cost a CPU-bound task beside the probe ~3 % under TCG (`clockstorm
/// bench`, the poller's column less the channel's).
pub const COUNTERS_EVERY: u64 = 10;

/// Reads the counters once.
pub fn read_counters() -> KernelCounters {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let interrupts = read("/proc/interrupts");
    let stat = read("/proc/stat");
    let (mono_ns, realtime_ns) = (monotonic_ns(), realtime_ns());
    KernelCounters {
        mono_ns,
        realtime_ns,
        local_timer_interrupts: procfs::interrupts::local_timer_interrupts(&interrupts).unwrap_or_default(),
        jiffies: jiffies_reading(),
        steal_ticks: procfs::stat::cpu_times(&stat).map(|(all, _)| all.steal),
    }
}

/// Current jiffies from /proc/timer_list (read only up to the first value).
pub fn jiffies() -> Option<u64> {
    jiffies_reading().map(|j| j.value)
}

/// jiffies stamped with the kernel's `now at` of the same read, moved onto
/// CLOCK_REALTIME.
fn jiffies_reading() -> Option<Jiffies> {
    let snapshot = procfs::timer_list::read_snapshot(Path::new("/proc/timer_list")).ok().flatten()?;
    let realtime_minus_mono = realtime_ns() - monotonic_ns() as i64;
    Some(Jiffies { value: snapshot.jiffies, realtime_ns: snapshot.now_ns as i64 + realtime_minus_mono })
}

pub fn spawn(interval: Duration, mut clocksource: String, shared: Arc<SamplerShared>, outbox: Outbox) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("counters".into()).spawn(move || {
        // Nice 0 under the channel thread's nice -20 (inherited otherwise).
        // Not SCHED_IDLE: after a freeze the kernel's own normal threads
        // kept SCHED_IDLE threads off the CPU for over a second (kernel
        // lines read, and windows sent, after the next fault).
        crate::sched::set_normal_policy();
        let current = Path::new(crate::actions::CLOCKSOURCE_SYSFS).join("current_clocksource");
        let mut polls = 0u64;
        while !shared.stop.load(Ordering::Relaxed) {
            if polls % COUNTERS_EVERY == 0 {
                outbox.send(Producer::Kernel, GuestMessage::KernelCounters(read_counters()));
            }
            polls += 1;
            let now = std::fs::read_to_string(&current).unwrap_or_default().trim().to_owned();
            if !now.is_empty() && now != clocksource {
                let change = ClocksourceChange { mono_ns: monotonic_ns(), old: clocksource.clone(), new: now.clone() };
                outbox.send(Producer::Kernel, GuestMessage::ClocksourceChanged(change));
                clocksource = now;
            }
            std::thread::sleep(interval);
        }
        // A last jiffies reading, so the backlog covers the whole run.
        outbox.send(Producer::Kernel, GuestMessage::KernelCounters(read_counters()));
    })
}
