//! The poller: kernel counters from /proc and the current clocksource,
//! at the configured interval (default 10 Hz), from a normal-priority thread.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{ClocksourceChange, GuestMessage, KernelCounters};

use crate::clocks::{monotonic_ns, realtime_ns};
use crate::outbox::{Outbox, Producer};
use crate::procfs;
use crate::sampler::SamplerShared;

/// Reads the counters once.
pub fn read_counters() -> KernelCounters {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let interrupts = read("/proc/interrupts");
    let stat = read("/proc/stat");
    KernelCounters {
        mono_ns: monotonic_ns(),
        realtime_ns: realtime_ns(),
        local_timer_interrupts: procfs::interrupts::local_timer_interrupts(&interrupts).unwrap_or_default(),
        jiffies: jiffies(),
        steal_ticks: procfs::stat::cpu_times(&stat).map(|(all, _)| all.steal),
    }
}

/// Current jiffies from /proc/timer_list (read only up to the first value).
pub fn jiffies() -> Option<u64> {
    procfs::timer_list::read_snapshot(Path::new("/proc/timer_list")).ok().flatten().map(|s| s.jiffies)
}

pub fn spawn(
    interval: Duration,
    mut clocksource: String,
    shared: Arc<SamplerShared>,
    outbox: Outbox,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("counters".into()).spawn(move || {
        let current = Path::new(crate::actions::CLOCKSOURCE_SYSFS).join("current_clocksource");
        while !shared.stop.load(Ordering::Relaxed) {
            outbox.send(Producer::Kernel, GuestMessage::KernelCounters(read_counters()));
            let now = std::fs::read_to_string(&current).unwrap_or_default().trim().to_owned();
            if !now.is_empty() && now != clocksource {
                let change = ClocksourceChange { mono_ns: monotonic_ns(), old: clocksource.clone(), new: now.clone() };
                outbox.send(Producer::Kernel, GuestMessage::ClocksourceChanged(change));
                clocksource = now;
            }
            std::thread::sleep(interval);
        }
    })
}
