//! The guest's clocks, kept the lazy way a kernel keeps them.
//!
//! Guest CLOCK_MONOTONIC is host CLOCK_MONOTONIC minus how far the guest is
//! behind (its boot, then every loss); CLOCK_REALTIME is that plus a base the
//! initial sync steps; CLOCK_MONOTONIC_RAW is CLOCK_MONOTONIC here. The TSC
//! is host time at a fixed rate: it never stops and never loses.
//!
//! A kernel only notices time passing when it runs and reads its counter, so
//! this clock only notices when a guest thread reads it: a read that comes
//! more than [`FELT_GAP_NS`] of unpaused host time after the last read of
//! any guest thread is a freeze the guest "felt", and costs what the model
//! says ([`super::model::loss_for_freeze`]). vCPU 0 reads every millisecond,
//! so it is the timekeeper and a freeze is felt once. A QMP pause is told by
//! the QMP thread ([`PauseLedger`]) and costs its length when the model says
//! so; it is never also felt as a freeze. The clock never goes backwards: a
//! loss larger than the freeze (acpi_pm frozen for 3 s loses a 4.687 s
//! wrap) makes it stand still until host time catches up, as a kernel whose
//! masked counter delta looks negative does.
//!
//! Readers take no lock (a sequence counter, written only when a gap is
//! felt, a pause accounted or realtime stepped): a vCPU thread frozen by the
//! cgroup freezer in the middle of a read must not stop the other vCPUs.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockstorm_protocol::ClockId;

use super::model::{loss_for_freeze, ClockModel};
use super::pause::PauseLedger;

/// Unpaused host time between two reads of the guest clock beyond which the
/// guest felt a freeze. vCPU 0 reads every ~1.3 ms; 20 ms is far above
/// scheduling noise on a loaded host yet below any fault worth modelling.
pub const FELT_GAP_NS: u64 = 20_000_000;
/// The fake TSC's rate: 2 ticks per ns, a 2 GHz CPU (the boot log says so).
pub const TSC_TICKS_PER_NS: u64 = 2;
/// Guest CLOCK_MONOTONIC when the fake starts: the "kernel" has booted.
pub const BOOTED_MONO_NS: u64 = 800_000_000;
/// How far behind its whole seconds the guest's RTC runs, beyond the
/// truncation: the realtime clock starts 0.3-1.3 s behind host time, and
/// the initial sync steps it forward.
pub const RTC_LAG_NS: i64 = 300_000_000;

/// Where host time comes from: the seam that lets tests move time by hand.
pub trait HostClock: Send + Sync {
    fn monotonic_ns(&self) -> u64;
    fn realtime_ns(&self) -> i64;
}

/// The host's own clocks.
pub struct RealHost;

impl HostClock for RealHost {
    fn monotonic_ns(&self) -> u64 {
        clock_ns(libc::CLOCK_MONOTONIC) as u64
    }
    fn realtime_ns(&self) -> i64 {
        clock_ns(libc::CLOCK_REALTIME)
    }
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// One read of the guest's clocks, all from the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Host CLOCK_MONOTONIC of the read (for pacing, never reported).
    pub host_ns: u64,
    pub mono_ns: u64,
    pub realtime_ns: i64,
    pub tsc: u64,
}

impl Reading {
    /// The value of `clock`, in ns.
    pub fn value(&self, clock: ClockId) -> u64 {
        match clock {
            ClockId::Monotonic | ClockId::MonotonicRaw => self.mono_ns,
            ClockId::Realtime => self.realtime_ns.max(0) as u64,
        }
    }
}

/// A freeze the guest felt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeltGap {
    /// Unpaused host time without a read, in ns.
    pub gap_ns: u64,
    /// What it cost the guest's clocks, in ns.
    pub lost_ns: u64,
    /// Guest CLOCK_MONOTONIC right after, in ns.
    pub mono_ns: u64,
}

pub struct GuestClock {
    host: Arc<dyn HostClock>,
    pauses: PauseLedger,
    pause_lost: bool,
    /// The model's refusal threshold, a fraction of a wrap.
    refuse_above: f64,
    seq: AtomicU64,
    /// Host CLOCK_MONOTONIC at guest CLOCK_MONOTONIC zero, before any loss.
    boot_host_ns: u64,
    /// Host CLOCK_MONOTONIC minus guest CLOCK_MONOTONIC (before the clamp).
    behind_ns: AtomicU64,
    /// Guest CLOCK_REALTIME minus guest CLOCK_MONOTONIC.
    realtime_base_ns: AtomicI64,
    /// Host time of the last read by any guest thread.
    last_read_ns: AtomicU64,
    /// Pause time already accounted for.
    pause_seen_ns: AtomicU64,
    /// The highest CLOCK_MONOTONIC handed out: it never goes back.
    high_water_ns: AtomicU64,
    /// The current clocksource's wrap period (f64 bits; 0.0: none).
    wrap_bits: AtomicU64,
    felt: Mutex<Vec<FeltGap>>,
}

impl GuestClock {
    /// A clock that reads [`BOOTED_MONO_NS`] now, with a realtime clock off
    /// the way an RTC with whole seconds leaves it; `clocksource` is the
    /// current one, whose wrap the model gives.
    pub fn new(host: Arc<dyn HostClock>, model: &ClockModel, clocksource: &str) -> GuestClock {
        let (host_mono, host_rt) = (host.monotonic_ns(), host.realtime_ns());
        let boot_host_ns = host_mono.saturating_sub(BOOTED_MONO_NS);
        let mono = host_mono - boot_host_ns;
        // The RTC was read at boot, in whole seconds.
        let rt_at_boot = host_rt - mono as i64;
        let error = -rt_at_boot.rem_euclid(1_000_000_000) - RTC_LAG_NS;
        let clock = GuestClock {
            host,
            pauses: PauseLedger::default(),
            pause_lost: model.pause_lost(),
            refuse_above: model.refuse_above(),
            seq: AtomicU64::new(0),
            boot_host_ns,
            behind_ns: AtomicU64::new(boot_host_ns),
            realtime_base_ns: AtomicI64::new(host_rt + error - mono as i64),
            last_read_ns: AtomicU64::new(host_mono),
            pause_seen_ns: AtomicU64::new(0),
            high_water_ns: AtomicU64::new(0),
            wrap_bits: AtomicU64::new(0),
            felt: Mutex::new(Vec::new()),
        };
        clock.set_wrap(model.wrap_ns(clocksource));
        clock
    }

    pub fn host(&self) -> &dyn HostClock {
        &*self.host
    }

    /// Reads the guest's clocks (and feels a freeze if one just ended).
    pub fn read(&self) -> Reading {
        let mut spins = 0u32;
        loop {
            let s = self.seq.load(SeqCst);
            if s & 1 == 1 {
                backoff(&mut spins);
                continue;
            }
            let h = self.host.monotonic_ns();
            let last = self.last_read_ns.load(SeqCst);
            let paused = self.pauses.total_at(h);
            if paused != self.pause_seen_ns.load(SeqCst) || h.saturating_sub(last) > FELT_GAP_NS {
                if self.seq.compare_exchange(s, s + 1, SeqCst, SeqCst).is_ok() {
                    let felt = self.account(h, paused);
                    self.seq.store(s + 2, SeqCst);
                    if let Some(f) = felt {
                        self.felt.lock().unwrap_or_else(|e| e.into_inner()).push(f);
                    }
                }
                continue;
            }
            let behind = self.behind_ns.load(SeqCst);
            let base = self.realtime_base_ns.load(SeqCst);
            if self.seq.load(SeqCst) != s {
                continue;
            }
            if h > last {
                self.last_read_ns.fetch_max(h, SeqCst);
            }
            let raw = h.saturating_sub(behind);
            let mono = self.high_water_ns.fetch_max(raw, SeqCst).max(raw);
            return Reading { host_ns: h, mono_ns: mono, realtime_ns: mono as i64 + base, tsc: h.wrapping_mul(TSC_TICKS_PER_NS) };
        }
    }

    /// The write section of a read: pause time since the last read (lost
    /// or kept, per the model) and, beyond it, a felt freeze.
    fn account(&self, h: u64, paused_total: u64) -> Option<FeltGap> {
        let pause = paused_total.saturating_sub(self.pause_seen_ns.load(SeqCst));
        self.pause_seen_ns.store(paused_total, SeqCst);
        let gap = h.saturating_sub(self.last_read_ns.load(SeqCst)).saturating_sub(pause);
        let mut behind = self.behind_ns.load(SeqCst);
        if self.pause_lost {
            behind += pause;
        }
        let felt = (gap > FELT_GAP_NS).then(|| {
            let lost_ns = loss_for_freeze(self.wrap_ns(), gap, self.refuse_above);
            behind += lost_ns;
            FeltGap { gap_ns: gap, lost_ns, mono_ns: 0 }
        });
        self.behind_ns.store(behind, SeqCst);
        self.last_read_ns.fetch_max(h, SeqCst);
        let mono = self.high_water_ns.load(SeqCst).max(h.saturating_sub(behind));
        felt.map(|f| FeltGap { mono_ns: mono, ..f })
    }

    /// Steps CLOCK_REALTIME by `step_ns` (the initial sync).
    pub fn step_realtime(&self, step_ns: i64) {
        let mut spins = 0u32;
        loop {
            let s = self.seq.load(SeqCst);
            if s & 1 == 0 && self.seq.compare_exchange(s, s + 1, SeqCst, SeqCst).is_ok() {
                self.realtime_base_ns.fetch_add(step_ns, SeqCst);
                self.seq.store(s + 2, SeqCst);
                return;
            }
            backoff(&mut spins);
        }
    }

    /// The wrap period of the current clocksource changed (a switch).
    pub fn set_wrap(&self, wrap_ns: Option<f64>) {
        self.wrap_bits.store(wrap_ns.filter(|w| *w > 0.0).unwrap_or(0.0).to_bits(), SeqCst);
    }

    fn wrap_ns(&self) -> Option<f64> {
        Some(f64::from_bits(self.wrap_bits.load(SeqCst))).filter(|w| *w > 0.0)
    }

    /// QMP `stop`: false when already paused.
    pub fn pause(&self) -> bool {
        self.pauses.stop(self.host.monotonic_ns())
    }

    /// QMP `cont`: the pause's length, None when not paused.
    pub fn resume(&self) -> Option<Duration> {
        self.pauses.cont(self.host.monotonic_ns()).map(Duration::from_nanos)
    }

    pub fn is_paused(&self) -> bool {
        self.pauses.is_paused()
    }

    /// The freezes felt since the last call, oldest first.
    pub fn take_felt(&self) -> Vec<FeltGap> {
        std::mem::take(&mut *self.felt.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Time the guest's CLOCK_MONOTONIC has lost against host time so far, in ns.
    pub fn lost_ns(&self) -> u64 {
        self.behind_ns.load(SeqCst) - self.boot_host_ns
    }
}

/// Waiting for a writer: spin briefly (a write takes nanoseconds), then
/// sleep, so a writer frozen mid-write does not make the readers burn a core.
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        std::thread::sleep(Duration::from_micros(20));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::fake_guest::model::{parse_model, ModelOverrides};
    use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// Host time that moves only when told to.
    pub(crate) struct FakeHost {
        mono: AtomicU64,
        realtime: AtomicI64,
    }

    impl FakeHost {
        pub(crate) fn new() -> Arc<FakeHost> {
            Arc::new(FakeHost { mono: AtomicU64::new(100 * S), realtime: AtomicI64::new(1_764_000_000_250_000_000) })
        }
        pub(crate) fn advance(&self, ns: u64) {
            self.mono.fetch_add(ns, SeqCst);
            self.realtime.fetch_add(ns as i64, SeqCst);
        }
    }

    impl HostClock for FakeHost {
        fn monotonic_ns(&self) -> u64 {
            self.mono.load(SeqCst)
        }
        fn realtime_ns(&self) -> i64 {
            self.realtime.load(SeqCst)
        }
    }

    fn clock(model: &str, clocksource: &str) -> (Arc<FakeHost>, GuestClock) {
        let host = FakeHost::new();
        let model = ClockModel::new(parse_model(model).unwrap());
        let clock = GuestClock::new(host.clone(), &model, clocksource);
        (host, clock)
    }

    /// Reads every millisecond for `ns`, as vCPU 0 does.
    fn run_for(host: &FakeHost, clock: &GuestClock, ns: u64) -> Reading {
        let mut r = clock.read();
        for _ in 0..ns / MS {
            host.advance(MS);
            let next = clock.read();
            assert!(next.mono_ns >= r.mono_ns, "the clock never goes back");
            r = next;
        }
        r
    }

    #[test]
    fn it_starts_booted_with_a_realtime_clock_behind_by_its_rtc() {
        let (host, clock) = clock("", "tsc");
        let r = clock.read();
        assert_eq!(r.mono_ns, BOOTED_MONO_NS);
        assert_eq!(r.tsc, host.monotonic_ns() * TSC_TICKS_PER_NS);
        let error = r.realtime_ns - host.realtime_ns();
        // Host realtime at boot is .450 s past a second: truncated, then the lag.
        assert_eq!(error, -450_000_000 - RTC_LAG_NS);
        assert_eq!(r.value(ClockId::Realtime), r.realtime_ns as u64);
        assert_eq!(r.value(ClockId::MonotonicRaw), r.mono_ns);
        clock.step_realtime(-error);
        assert_eq!(clock.read().realtime_ns, host.realtime_ns());
    }

    #[test]
    fn regular_reads_keep_host_time_and_feel_nothing() {
        let (host, clock) = clock("", "acpi_pm");
        let start = clock.read();
        let end = run_for(&host, &clock, 2 * S);
        assert_eq!(end.mono_ns - start.mono_ns, 2 * S);
        assert_eq!((clock.lost_ns(), clock.take_felt()), (0, vec![]));
        // Just under the threshold is not a freeze either.
        host.advance(FELT_GAP_NS);
        clock.read();
        assert_eq!(clock.take_felt(), vec![]);
    }

    #[test]
    fn a_freeze_is_felt_once_by_the_first_read_after_it() {
        let (host, clock) = clock("", "tsc");
        let before = run_for(&host, &clock, 100 * MS);
        host.advance(2 * S);
        let after = clock.read();
        assert_eq!(after.mono_ns - before.mono_ns, 2 * S, "tsc loses nothing: the gap shows");
        assert_eq!(clock.take_felt(), vec![FeltGap { gap_ns: 2 * S, lost_ns: 0, mono_ns: after.mono_ns }]);
        run_for(&host, &clock, 10 * MS);
        assert_eq!(clock.take_felt(), vec![], "felt once");
    }

    #[test]
    fn acpi_pm_loses_whole_wraps_and_stands_still_rather_than_go_back() {
        let wrap = ACPI_PM_WRAP_NS.round() as u64;
        let (host, clock) = clock("", "acpi_pm");
        // 6 s: one wrap lost, the rest shows as a gap.
        let before = clock.read();
        host.advance(6 * S);
        let after = clock.read();
        assert_eq!(after.mono_ns - before.mono_ns, 6 * S - wrap);
        assert_eq!(clock.lost_ns(), wrap);
        // 3 s: one wrap lost, more than the freeze: it stands still until
        // host time has made up the difference (1.687 s), then runs.
        let before = clock.read();
        host.advance(3 * S);
        assert_eq!(clock.read().mono_ns, before.mono_ns);
        let standing = wrap - 3 * S;
        let mid = run_for(&host, &clock, standing / MS * MS - 10 * MS);
        assert_eq!(mid.mono_ns, before.mono_ns, "still standing");
        let later = run_for(&host, &clock, 50 * MS);
        assert!(later.mono_ns > before.mono_ns, "moves again");
        assert_eq!(clock.lost_ns(), 2 * wrap);
        assert_eq!(clock.take_felt().iter().map(|f| f.lost_ns).collect::<Vec<_>>(), vec![wrap, wrap]);
    }

    #[test]
    fn a_lost_pause_stops_the_clock_and_is_not_felt_as_a_freeze() {
        let (host, clock) = clock("", "acpi_pm");
        let before = run_for(&host, &clock, 10 * MS);
        assert!(clock.pause());
        assert!(clock.is_paused());
        host.advance(3 * S);
        // A straggler reading during the pause sees the clock stopped.
        assert_eq!(clock.read().mono_ns, before.mono_ns);
        host.advance(2 * S);
        assert_eq!(clock.resume(), Some(Duration::from_secs(5)));
        host.advance(MS);
        let after = clock.read();
        assert_eq!(after.mono_ns - before.mono_ns, MS);
        assert_eq!(clock.lost_ns(), 5 * S);
        assert_eq!(clock.take_felt(), vec![], "a pause is not a freeze, even one longer than a wrap");
        assert_eq!(clock.resume(), None);
    }

    #[test]
    fn a_kept_pause_runs_through() {
        let (host, clock) = clock("pause=kept", "tsc");
        let before = clock.read();
        clock.pause();
        host.advance(3 * S);
        clock.resume();
        let after = clock.read();
        assert_eq!(after.mono_ns - before.mono_ns, 3 * S);
        assert_eq!((clock.lost_ns(), clock.take_felt()), (0, vec![]));
    }

    #[test]
    fn a_freeze_right_before_a_pause_is_still_felt() {
        let (host, clock) = clock("wrap=1s", "tsc");
        clock.read();
        host.advance(2 * S); // frozen, no read
        clock.pause();
        host.advance(S);
        clock.resume();
        clock.read();
        // 2 s of unpaused silence: two 1 s wraps; plus the 1 s pause, lost.
        assert_eq!(clock.take_felt().iter().map(|f| (f.gap_ns, f.lost_ns)).collect::<Vec<_>>(), vec![(2 * S, 2 * S)]);
        assert_eq!(clock.lost_ns(), 3 * S);
    }

    #[test]
    fn a_switch_changes_the_wrap_of_later_freezes() {
        let (host, clock) = clock("", "tsc");
        clock.read();
        host.advance(3 * S);
        clock.read();
        assert_eq!(clock.lost_ns(), 0);
        clock.set_wrap(ClockModel::new(ModelOverrides::default()).wrap_ns("acpi_pm"));
        host.advance(3 * S);
        clock.read();
        assert_eq!(clock.lost_ns(), ACPI_PM_WRAP_NS.round() as u64);
    }

    #[test]
    fn concurrent_readers_feel_a_freeze_once_and_never_go_back() {
        let (host, clock) = clock("", "acpi_pm");
        let clock = Arc::new(clock);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (clock, stop) = (clock.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut last = 0;
                    while !stop.load(SeqCst) {
                        let m = clock.read().mono_ns;
                        assert!(m >= last);
                        last = m;
                    }
                })
            })
            .collect();
        let wrap = ACPI_PM_WRAP_NS.round() as u64;
        for k in 1..=5 {
            host.advance(6 * S);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while clock.lost_ns() < k * wrap && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        stop.store(true, SeqCst);
        for r in readers {
            r.join().unwrap();
        }
        let felt = clock.take_felt();
        assert_eq!(felt.len(), 5, "{felt:?}");
        assert_eq!(clock.lost_ns(), 5 * wrap);
    }
}
