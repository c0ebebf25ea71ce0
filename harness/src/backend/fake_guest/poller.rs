//! The poller: the current clocksource at the configured interval and the
//! kernel's counters (local timer interrupts per vCPU, jiffies) on every
//! tenth poll, as the probe's poller reads them from sysfs and /proc. It is also where the
//! fake kernel's clocksource watchdog takes its turn: a watchdog runs every
//! half second in a real kernel; here it reacts to the freezes felt since
//! the last poll, so its switch is seen by the same poll.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{ClocksourceChange, GuestMessage, Jiffies, KernelCounters};

use super::guest::{Guest, Phase};

/// The counters are read on every this many polls, as the probe reads them.
pub const COUNTERS_EVERY: u64 = 10;
/// The fake kernel's tick rate (CONFIG_HZ), which its hello reports.
pub const HZ: u64 = 250;
/// jiffies at boot: -300 s worth, so they wrap 5 minutes after boot on
/// 32-bit (INITIAL_JIFFIES, as an unsigned long of a 64-bit kernel).
pub const INITIAL_JIFFIES: u64 = (-300i64 * HZ as i64) as u32 as u64;

/// The counters at this moment.
pub fn read_counters(guest: &Guest) -> KernelCounters {
    let r = guest.clock.read();
    KernelCounters {
        mono_ns: r.mono_ns,
        realtime_ns: r.realtime_ns,
        local_timer_interrupts: guest.local_timer.iter().map(|l| l.load(Relaxed)).collect(),
        jiffies: Some(Jiffies { value: INITIAL_JIFFIES + r.mono_ns / (1_000_000_000 / HZ), realtime_ns: r.realtime_ns }),
        steal_ticks: None,
    }
}

/// Starts the poller; it ends when measuring does, after a last reading
/// with jiffies (so a backlog is followed to the end).
pub fn spawn(guest: Arc<Guest>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("fake-poller".into()).spawn(move || run(&guest))
}

fn run(guest: &Guest) {
    let interval = Duration::from_millis(guest.config.poll_interval_ms);
    let mut clocksource = guest.kernel.current_clocksource();
    let mut polls = 0u64;
    while guest.phase() == Phase::Measuring {
        if !guest.on_vcpu0() {
            return;
        }
        guest.kernel.watchdog(&guest.clock.take_felt(), &guest.clock);
        if polls % COUNTERS_EVERY == 0 {
            guest.send(&GuestMessage::KernelCounters(read_counters(guest)));
        }
        polls += 1;
        let now = guest.kernel.current_clocksource();
        if now != clocksource {
            let change = ClocksourceChange { mono_ns: guest.clock.read().mono_ns, old: clocksource, new: now.clone() };
            guest.send(&GuestMessage::ClocksourceChanged(change));
            clocksource = now;
        }
        if !guest.sleep(interval) {
            return;
        }
    }
    if guest.on_vcpu0() {
        guest.send(&GuestMessage::KernelCounters(read_counters(guest)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jiffies_start_five_minutes_before_their_32_bit_wrap() {
        assert_eq!(INITIAL_JIFFIES, 4_294_892_296);
    }
}
