//! The fake kernel: its log (printk to the console and to the record
//! buffer the kmsg thread forwards), its clocksources, the sysfs writes the
//! host's actions make, and the clocksource watchdog's reaction to a felt
//! freeze when the model asks for one. Its lines are the ones a 6.1 kernel
//! prints (/work/shared/docs/kernel-messages.md), so the reports' parser
//! reads them as it reads a real guest's.

use std::sync::{Arc, Mutex};

use clockstorm_protocol::{Action, ActionResult, ClocksourceState};

use super::clock::{FeltGap, GuestClock, TSC_TICKS_PER_NS};
use super::clocksources::{Clocksources, Switch};
use super::console::Console;
use super::model::{default_wrap_ns, ClockModel};

/// The probe's path for actions, named in their errors as the probe names it.
const CLOCKSOURCE_SYSFS: &str = "/sys/devices/system/clocksource/clocksource0";
/// The watchdog's interval (WATCHDOG_INTERVAL, 0.5 s on every version):
/// what its clocks count besides the freeze.
const WATCHDOG_INTERVAL_NS: u64 = 500_000_000;

/// printk levels.
const KERN_WARNING: u8 = 4;
const KERN_INFO: u8 = 6;
/// The skew report's detail lines, indented as 6.1 indents them.
const DETAIL: &str = "clocksource:                       ";

/// One record of the kernel's log buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub ts_us: u64,
    pub level: u8,
    pub message: String,
}

pub struct Kernel {
    console: Arc<Console>,
    log: Mutex<Vec<LogRecord>>,
    clocksources: Mutex<Clocksources>,
    model: ClockModel,
}

impl Kernel {
    pub fn new(console: Arc<Console>, model: ClockModel, requested: Option<&str>) -> Kernel {
        let clocksources = Clocksources::boot(requested, model.honors_clocksource());
        Kernel { console, log: Mutex::new(Vec::new()), clocksources: Mutex::new(clocksources), model }
    }

    pub fn model(&self) -> &ClockModel {
        &self.model
    }

    /// Logs `message` at guest CLOCK_MONOTONIC `ts_us`, on the console too.
    pub fn printk(&self, level: u8, ts_us: u64, message: String) {
        self.console.kernel(ts_us, &message);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let seq = log.len() as u64;
        log.push(LogRecord { seq, ts_us, level, message });
    }

    /// The boot log up to `/init` (the fake has booted by the time it starts).
    pub fn boot(&self, release: &str, requested: Option<&str>) {
        let current = self.current_clocksource();
        let mut lines = vec![(0, format!("Linux version {release} (clockstorm fake guest) #1 SMP PREEMPT_DYNAMIC"))];
        if let Some(cs) = requested {
            lines.push((0, format!("Command line: console=ttyS0 clocksource={cs}")));
        }
        lines.extend([
            (0, "tsc: Detected 2000.000 MHz processor".to_owned()),
            (20_000, "clocksource: hpet: mask: 0xffffffff max_cycles: 0xffffffff, max_idle_ns: 19112604467 ns".into()),
            (40_000, "clocksource: tsc: mask: 0xffffffffffffffff max_cycles: 0x39a85c9bff6, max_idle_ns: 881590591483 ns".into()),
            (300_000, format!("clocksource: Switched to clocksource {current}")),
            (320_000, "clocksource: acpi_pm: mask: 0xffffff max_cycles: 0xffffff, max_idle_ns: 2085701024 ns".into()),
            (600_000, "Run /init as init process".into()),
        ]);
        for (ts_us, line) in lines {
            self.printk(KERN_INFO, ts_us, line);
        }
    }

    /// Log records from `cursor` on (a /dev/kmsg reader's position).
    pub fn log_from(&self, cursor: usize) -> Vec<LogRecord> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).get(cursor..).map(<[_]>::to_vec).unwrap_or_default()
    }

    pub fn clocksource_state(&self) -> ClocksourceState {
        self.clocksources().state()
    }

    pub fn current_clocksource(&self) -> String {
        self.clocksources().current().to_owned()
    }

    fn clocksources(&self) -> std::sync::MutexGuard<'_, Clocksources> {
        self.clocksources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out a host action as the probe does, through "sysfs".
    pub fn perform(&self, id: u64, action: &Action, clock: &GuestClock) -> ActionResult {
        let mono_ns = clock.read().mono_ns;
        let (file, name, result) = match action {
            Action::SetClocksource { name } => {
                let mut cs = self.clocksources();
                if cs.is_unstable(name) {
                    drop(cs);
                    let line =
                        format!("clocksource: Override clocksource {name} is unstable and not HRT compatible - cannot switch while in HRT/NOHZ mode");
                    self.printk(KERN_WARNING, mono_ns / 1000, line);
                    ("current_clocksource", name, Ok(None))
                } else {
                    ("current_clocksource", name, Ok(cs.set(name)))
                }
            }
            Action::UnbindClocksource { name } => ("unbind_clocksource", name, self.clocksources().unbind(name)),
        };
        let error = match result {
            Ok(switch) => {
                if let Some(s) = switch {
                    self.switched(&s, clock, mono_ns);
                }
                None
            }
            Err(errno) => {
                let e = std::io::Error::from_raw_os_error(errno);
                Some(format!("writing {name:?} to {CLOCKSOURCE_SYSFS}/{file}: {e}"))
            }
        };
        ActionResult { id, action: action.clone(), mono_ns, error, clocksource_after: self.current_clocksource() }
    }

    /// The watchdog's turn: a felt freeze at least as long as the model's
    /// `unstable-after` makes it mark the current clocksource unstable and
    /// switch to the next best.
    pub fn watchdog(&self, felt: &[FeltGap], clock: &GuestClock) {
        for gap in felt {
            // For the record (QEMU's stderr log): what the model made of each freeze.
            let s = |ns: u64| ns as f64 / 1e9;
            eprintln!(
                "clockstorm fake-guest: felt a freeze of {:.3} s ending at {:.3} s guest time; the clock lost {:.3} s ({:.3} s so far)",
                s(gap.gap_ns),
                s(gap.mono_ns),
                s(gap.lost_ns),
                s(clock.lost_ns())
            );
        }
        let Some(limit) = self.model.unstable_after() else { return };
        for gap in felt.iter().filter(|g| g.gap_ns >= limit.as_nanos() as u64) {
            let mut cs = self.clocksources();
            let current = cs.current().to_owned();
            if cs.is_unstable(&current) {
                continue;
            }
            let watchdog = cs.watchdog_for(&current);
            let switch = cs.mark_current_unstable();
            drop(cs);
            // Printed when the watchdog next ran: right after the freeze.
            let host_ns = clock.host().monotonic_ns();
            let ts_us = gap.mono_ns / 1000;
            for line in skew_report(&current, &watchdog, gap.gap_ns, host_ns, &self.model) {
                self.printk(KERN_WARNING, ts_us, line);
            }
            if current == "tsc" {
                self.printk(KERN_INFO, ts_us, "tsc: Marking TSC unstable due to clocksource watchdog".into());
                self.printk(KERN_WARNING, ts_us, "TSC found unstable after boot, most likely due to broken BIOS. Use 'tsc=unstable'.".into());
            }
            if let Some(s) = switch {
                self.switched(&s, clock, ts_us * 1000);
            }
        }
    }

    /// A switch took effect: the clock now loses what the new counter loses.
    fn switched(&self, s: &Switch, clock: &GuestClock, mono_ns: u64) {
        clock.set_wrap(self.model.wrap_ns(&s.new));
        self.printk(KERN_INFO, mono_ns / 1000, format!("clocksource: Switched to clocksource {}", s.new));
    }
}

/// The 6.1 watchdog's report on `cs` watched by `wd` after a freeze of
/// `gap_ns`, with their raw counter values. The clocksource counted the
/// watchdog's interval and the freeze (modulo its wrap). The watchdog counted
/// the freeze modulo its own wrap when the freeze outlasted that wrap (the
/// real cause of such a report); a shorter freeze could not have set it off,
/// so the model that forces the report makes the watchdog have missed it (as
/// one standing still through the freeze would): either way the skew shown
/// is what the freeze did to the two counters.
fn skew_report(cs: &str, wd: &str, gap_ns: u64, host_ns: u64, model: &ClockModel) -> Vec<String> {
    let interval = gap_ns + WATCHDOG_INTERVAL_NS;
    let seen = |wrap: Option<f64>| match wrap {
        Some(w) => (interval as f64 % w) as u64,
        None => interval,
    };
    let wd_seen = match default_wrap_ns(wd) {
        Some(w) if interval as f64 >= w => seen(Some(w)),
        _ => WATCHDOG_INTERVAL_NS,
    };
    let detail = |name: &str, kind: &str, nsec: u64| {
        let (now, mask) = counter(name, host_ns);
        let (last, _) = counter(name, host_ns.saturating_sub(interval));
        format!("{DETAIL}'{name}' {kind}_nsec: {nsec} {kind}_now: {now:x} {kind}_last: {last:x} mask: {mask:x}")
    };
    vec![
        format!("clocksource: timekeeping watchdog on CPU0: Marking clocksource '{cs}' as unstable because the skew is too large:"),
        detail(wd, "wd", wd_seen),
        detail(cs, "cs", seen(model.wrap_ns(cs))),
        format!("{DETAIL}'{cs}' is current clocksource."),
    ]
}

/// A clocksource's raw counter at host time `host_ns`, and its mask.
fn counter(name: &str, host_ns: u64) -> (u64, u64) {
    match name {
        "hpet" => ((host_ns / 10) & 0xffff_ffff, 0xffff_ffff),
        "acpi_pm" => (((host_ns as u128 * 3_579_545 / 1_000_000_000) as u64) & 0xff_ffff, 0xff_ffff),
        "tsc" => (host_ns.wrapping_mul(TSC_TICKS_PER_NS), u64::MAX),
        _ => (host_ns, u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake_guest::clock::tests::FakeHost;
    use crate::backend::fake_guest::model::parse_model;
    use clockstorm_reports::kernel_events::Parser;

    fn kernel(model: &str, requested: &str) -> (Kernel, GuestClock, Arc<FakeHost>) {
        let model = ClockModel::new(parse_model(model).unwrap());
        let host = FakeHost::new();
        let clock = GuestClock::new(host.clone(), &model, requested);
        let console = Arc::new(Console::new(Box::new(std::io::sink())));
        (Kernel::new(console, model, Some(requested)), clock, host)
    }

    fn messages(k: &Kernel) -> Vec<String> {
        k.log_from(0).into_iter().map(|r| r.message).collect()
    }

    #[test]
    fn the_boot_log_names_the_clocksource_in_use() {
        let (k, _, _) = kernel("honor=no", "tsc");
        k.boot("6.1.0-fake", Some("tsc"));
        let log = k.log_from(0);
        assert!(log[0].message.starts_with("Linux version 6.1.0-fake (clockstorm fake guest)"));
        assert!(log.iter().any(|r| r.message == "clocksource: Switched to clocksource hpet"));
        assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), (0..log.len() as u64).collect::<Vec<_>>());
        assert_eq!(k.log_from(log.len()), vec![]);
    }

    #[test]
    fn actions_switch_report_errors_and_change_the_model() {
        let (k, clock, host) = kernel("", "tsc");
        let set = Action::SetClocksource { name: "acpi_pm".into() };
        let r = k.perform(1, &set, &clock);
        assert_eq!((r.id, r.error.as_deref(), r.clocksource_after.as_str()), (1, None, "acpi_pm"));
        assert_eq!(messages(&k).last().unwrap(), "clocksource: Switched to clocksource acpi_pm");
        // acpi_pm now wraps: a 3 s freeze loses a wrap.
        host.advance(3_000_000_000);
        clock.read();
        assert!(clock.lost_ns() > 4_000_000_000);
        let r = k.perform(2, &Action::UnbindClocksource { name: "nope".into() }, &clock);
        assert_eq!(
            r.error.as_deref(),
            Some("writing \"nope\" to /sys/devices/system/clocksource/clocksource0/unbind_clocksource: No such device (os error 19)")
        );
        assert_eq!(r.clocksource_after, "acpi_pm");
    }

    #[test]
    fn a_long_felt_freeze_makes_the_watchdog_report_what_the_reports_parse() {
        let (k, clock, host) = kernel("unstable-after=1s", "tsc");
        clock.read();
        host.advance(500_000_000);
        clock.read();
        k.watchdog(&clock.take_felt(), &clock);
        assert_eq!(k.current_clocksource(), "tsc", "a shorter freeze leaves it alone");
        host.advance(2_000_000_000);
        clock.read();
        k.watchdog(&clock.take_felt(), &clock);
        assert_eq!(k.current_clocksource(), "hpet");
        let log = messages(&k);
        assert!(log[0].starts_with("clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable"), "{log:?}");
        assert!(log[1].contains("'hpet' wd_nsec: 500000000 "), "the watchdog missed the freeze: {log:?}");
        assert!(log[2].contains("'tsc' cs_nsec: 2500000000 "), "the clocksource counted it: {log:?}");
        assert!(log.iter().any(|l| l == "clocksource: Switched to clocksource hpet"), "{log:?}");
        let mut parser = Parser::new();
        let mut events = Vec::new();
        for r in k.log_from(0) {
            events.extend(parser.push_message(Some(r.ts_us), &r.message));
        }
        events.extend(parser.finish());
        let text = format!("{events:?}");
        assert!(text.contains("tsc") && text.contains("hpet"), "{text}");
        assert!(events.len() >= 3, "skew report, TSC marked unstable, switch: {events:#?}");
        // Once unstable, not again.
        host.advance(2_000_000_000);
        clock.read();
        let before = messages(&k).len();
        k.watchdog(&clock.take_felt(), &clock);
        let after = messages(&k);
        assert!(after[before..].iter().any(|l| l.contains("Marking clocksource 'hpet'")), "the new one can go too: {after:?}");
    }
}
