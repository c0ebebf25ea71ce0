//! `<clock>` and its `<timer>`s → `[guest.timers]`, as libvirt's QEMU
//! driver turns them into QEMU arguments (qemu_command.c:
//! `qemuBuildClockArgStr` for `-rtc`, `qemuBuildClockCommandLine` for the
//! PIT and HPET, `qemuBuildCpuCommandLine` for kvmclock, hypervclock and
//! the TSC frequency; qemu_validate.c for what it refuses).

use roxmltree::Node;

use super::notes::{NoteKind, Notes};
use super::xml::{children, describe, Source};
use super::LibvirtError;
use crate::scenario::{PitPolicy, RtcBase, RtcDriftfix, TimerHardware};

/// What the timers leave the guest, for choosing clocksources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimerFacts {
    pub hpet: bool,
    pub kvmclock: bool,
}

/// The attributes a `<timer>` may carry (libvirt's schema).
const TIMER_ATTRIBUTES: [&str; 6] = ["name", "present", "tickpolicy", "track", "frequency", "mode"];

pub(super) fn map(src: &Source, domain: Node, timers: &mut TimerHardware, notes: &mut Notes) -> Result<TimerFacts, LibvirtError> {
    let mut facts = TimerFacts { hpet: true, kvmclock: true };
    let Some(clock) = super::xml::child(domain, "clock") else {
        notes.absent(
            "(no <clock>)",
            NoteKind::AsIs { how: "libvirt's default is offset='utc' with the hypervisor's timers: -rtc base=utc, as here".into() },
        );
        return Ok(facts);
    };
    offset(src, clock, timers, notes);
    for timer in children(clock, "timer") {
        let name = timer.attribute("name").unwrap_or("");
        let present = src.yes_no(timer, "present")?;
        let policy = tickpolicy(src, timer)?;
        match name {
            "hpet" => hpet(src, timer, present, policy, timers, notes, &mut facts),
            "rtc" => rtc(src, timer, present, policy, timers, notes)?,
            "pit" => pit(src, timer, present, policy, timers, notes),
            "kvmclock" => kvmclock(src, timer, present, timers, notes, &mut facts),
            "tsc" => tsc(src, timer, present, timers, notes)?,
            "hypervclock" => match present {
                Some(true) => notes.not_mapped(
                    src,
                    timer,
                    "Hyper-V enlightenment (-cpu ...,hv-time=on), a paravirtual clock for Windows guests; not modelled: clockstorm compares tsc, hpet, acpi_pm and kvm-clock",
                ),
                _ => notes.as_is(src, timer, "libvirt adds no hv-time, as here"),
            },
            "platform" => notes.not_mapped(src, timer, "libvirt refuses the platform timer for QEMU"),
            "armvtimer" => notes.not_mapped(src, timer, "an Arm timer; clockstorm boots x86 guests"),
            "" => notes.not_mapped(src, timer, "a <timer> without a name; libvirt refuses it"),
            other => notes.not_mapped(src, timer, format!("unknown timer {other:?}")),
        }
        for a in timer.attributes().filter(|a| !TIMER_ATTRIBUTES.contains(&a.name())) {
            notes.part(src, timer, attr_of(timer, a.name()), NoteKind::NotMapped { why: "not a <timer> attribute".into() });
        }
    }
    Ok(facts)
}

/// An attribute as a note names it: `track='guest' of <timer name='rtc' track='guest'>`.
fn attr_of(node: Node, attr: &str) -> String {
    format!("{attr}='{}' of {}", node.attribute(attr).unwrap_or(""), describe(node))
}

/// `<clock offset=...>` → `-rtc base=...`.
fn offset(src: &Source, clock: Node, timers: &mut TimerHardware, notes: &mut Notes) {
    let key = "guest.timers.rtc_base";
    match clock.attribute("offset").unwrap_or("utc") {
        "utc" => {
            timers.rtc_base = RtcBase::Utc;
            notes.mapped(src, clock, key, "utc", true, "-rtc base=utc");
        }
        "localtime" => {
            timers.rtc_base = RtcBase::Localtime;
            notes.mapped(src, clock, key, "localtime", true, "-rtc base=localtime");
        }
        "timezone" => {
            timers.rtc_base = RtcBase::Localtime;
            let tz = clock.attribute("timezone").unwrap_or("?");
            notes.mapped(
                src,
                clock,
                key,
                "localtime",
                false,
                format!("libvirt gives -rtc base=localtime with TZ={tz} in QEMU's environment; here the host's own time zone applies"),
            );
        }
        "variable" => {
            let basis = clock.attribute("basis").unwrap_or("utc");
            let adjustment = clock.attribute("adjustment").unwrap_or("0");
            let adjustment = adjustment.trim().parse::<i64>().map(|a| format!("{a:+}")).unwrap_or_else(|_| format!(" {adjustment}"));
            timers.rtc_base = if basis == "localtime" { RtcBase::Localtime } else { RtcBase::Utc };
            notes.mapped(
                src,
                clock,
                key,
                if basis == "localtime" { "localtime" } else { "utc" },
                false,
                format!(
                    "libvirt starts the RTC at now{adjustment:+} s ({basis}) as -rtc base=<that time>; here it starts at now, the adjustment is dropped"
                ),
            );
        }
        "absolute" => {
            timers.rtc_base = RtcBase::Utc;
            let start = clock.attribute("start").unwrap_or("?");
            notes.mapped(
                src,
                clock,
                key,
                "utc",
                false,
                format!("libvirt starts the RTC at the fixed time start={start} (-rtc base=<that time>); here it starts at the host's UTC"),
            );
        }
        other => notes.not_mapped(src, clock, format!("offset='{other}' is not one libvirt knows; the RTC keeps UTC")),
    }
}

/// `tickpolicy=`, checked against libvirt's four.
fn tickpolicy<'a>(src: &Source, timer: Node<'a, '_>) -> Result<Option<&'a str>, LibvirtError> {
    match timer.attribute("tickpolicy") {
        None => Ok(None),
        Some(p @ ("delay" | "catchup" | "merge" | "discard")) => Ok(Some(p)),
        Some(other) => Err(src.bad(timer, format!("tickpolicy='{other}': expected delay, catchup, merge or discard"))),
    }
}

/// `hpet`: only `present` means anything (`-machine hpet=on|off`).
fn hpet(src: &Source, timer: Node, present: Option<bool>, policy: Option<&str>, t: &mut TimerHardware, notes: &mut Notes, facts: &mut TimerFacts) {
    let key = "guest.timers.hpet";
    match present {
        Some(false) => {
            t.hpet = false;
            notes.mapped(src, timer, key, "false", true, "-machine hpet=off (-no-hpet on older QEMU): the guest has no hpet clocksource");
        }
        Some(true) => {
            t.hpet = true;
            notes.mapped(src, timer, key, "true", true, "QEMU's default on x86, hpet=on");
        }
        None => {
            t.hpet = true;
            notes.mapped(src, timer, key, "true", true, "present not given: libvirt leaves QEMU's default, hpet=on");
        }
    }
    facts.hpet = t.hpet;
    if policy.is_some() {
        notes.part(src, timer, attr_of(timer, "tickpolicy"), NoteKind::NotMapped { why: "libvirt's QEMU driver ignores tickpolicy for the HPET".into() });
    }
}

/// `rtc`: `tickpolicy` → `driftfix`, `track` → `clock=`.
fn rtc(src: &Source, timer: Node, present: Option<bool>, policy: Option<&str>, t: &mut TimerHardware, notes: &mut Notes) -> Result<(), LibvirtError> {
    let key = "guest.timers.rtc_driftfix";
    match policy {
        Some("catchup") => {
            t.rtc_driftfix = RtcDriftfix::Slew;
            notes.mapped(src, timer, key, "slew", true, "-rtc driftfix=slew: lost RTC interrupts are re-injected faster until caught up");
        }
        Some("delay") | None => {
            t.rtc_driftfix = RtcDriftfix::None;
            notes.mapped(
                src,
                timer,
                key,
                "none",
                true,
                "libvirt adds no driftfix: QEMU's default, none (missed ticks are delivered late, at the normal rate)",
            );
        }
        Some(p) => notes.not_mapped(src, timer, format!("libvirt refuses rtc tickpolicy '{p}' for QEMU; driftfix stays none")),
    }
    match timer.attribute("track") {
        None => {}
        Some("wall") => notes.as_is(src, timer, "track='wall' is -rtc clock=host, QEMU's default, as here"),
        Some("guest") => notes.part(
            src,
            timer,
            attr_of(timer, "track"),
            NoteKind::NotMapped {
                why: "-rtc clock=vm: the RTC follows QEMU's virtual clock and stops while the VM is paused; clockstorm's RTC follows the host clock (clock=host)".into(),
            },
        ),
        Some("realtime") => notes.part(
            src,
            timer,
            attr_of(timer, "track"),
            NoteKind::NotMapped { why: "-rtc clock=rt (the host's monotonic clock); clockstorm's RTC follows the host's wall clock".into() },
        ),
        Some("boot") => notes.part(src, timer, attr_of(timer, "track"), NoteKind::NotMapped { why: "libvirt refuses track='boot' for QEMU".into() }),
        Some(other) => return Err(src.bad(timer, format!("track='{other}': expected boot, guest, wall or realtime"))),
    }
    if present == Some(false) {
        notes.part(src, timer, attr_of(timer, "present"), NoteKind::NotMapped { why: "QEMU always has an RTC; libvirt ignores present for it".into() });
    }
    if let Some(c) = super::xml::child(timer, "catchup") {
        notes.not_mapped(src, c, "catchup threshold/slew/limit: libvirt's QEMU driver does not pass them on");
    }
    Ok(())
}

/// `pit`: `tickpolicy` → `-global kvm-pit.lost_tick_policy=` (KVM's in-kernel PIT).
fn pit(src: &Source, timer: Node, present: Option<bool>, policy: Option<&str>, t: &mut TimerHardware, notes: &mut Notes) {
    let key = "guest.timers.pit_lost_tick_policy";
    match policy {
        Some("delay") => {
            t.pit_lost_tick_policy = Some(PitPolicy::Delay);
            notes.mapped(src, timer, key, "delay", true, "-global kvm-pit.lost_tick_policy=delay (KVM only)");
        }
        None => {
            t.pit_lost_tick_policy = Some(PitPolicy::Delay);
            notes.mapped(src, timer, key, "delay", true, "no tickpolicy: libvirt still adds -global kvm-pit.lost_tick_policy=delay (KVM only)");
        }
        Some("discard") => {
            t.pit_lost_tick_policy = Some(PitPolicy::Discard);
            notes.mapped(src, timer, key, "discard", true, "-global kvm-pit.lost_tick_policy=discard (KVM only)");
        }
        Some("catchup") => {
            t.pit_lost_tick_policy = None;
            // Exact by the rule (libvirt gives QEMU nothing, so does clockstorm),
            // though the guest gets delay, not the catch-up it asked for.
            notes.mapped(src, timer, key, "unset", true, "libvirt passes nothing for catchup, so KVM's PIT keeps QEMU's default, delay; the same here");
        }
        Some(p) => notes.not_mapped(src, timer, format!("libvirt refuses pit tickpolicy '{p}' (QEMU has no such mode)")),
    }
    if present == Some(false) {
        notes.part(src, timer, attr_of(timer, "present"), NoteKind::NotMapped { why: "QEMU always has a PIT; libvirt ignores present for it".into() });
    }
}

/// `kvmclock`: `present` → `-cpu ...,kvmclock=on|off`.
fn kvmclock(src: &Source, timer: Node, present: Option<bool>, t: &mut TimerHardware, notes: &mut Notes, facts: &mut TimerFacts) {
    let key = "guest.timers.kvmclock";
    match present {
        Some(false) => {
            t.kvmclock = false;
            notes.mapped(
                src,
                timer,
                key,
                "false",
                true,
                "-cpu ...,kvmclock=off (here -kvmclock,-kvmclock-stable-bit): kvm-clock is not a clocksource the guest can use",
            );
        }
        Some(true) | None => {
            t.kvmclock = true;
            notes.mapped(src, timer, key, "true", true, "kvm-clock offered, under KVM");
        }
    }
    facts.kvmclock = t.kvmclock;
}

/// `tsc`: only `frequency` reaches QEMU (`-cpu ...,tsc-frequency=`).
fn tsc(src: &Source, timer: Node, present: Option<bool>, t: &mut TimerHardware, notes: &mut Notes) -> Result<(), LibvirtError> {
    if let Some(hz) = src.number_attr(timer, "frequency")? {
        t.tsc_frequency_hz = Some(hz);
        notes.mapped(src, timer, "guest.timers.tsc_frequency_hz", hz.to_string(), true, "-cpu ...,tsc-frequency=N (KVM only)");
    }
    if timer.attribute("mode").is_some() {
        notes.part(
            src,
            timer,
            attr_of(timer, "mode"),
            NoteKind::NotMapped { why: "libvirt's QEMU command line carries only the TSC frequency, not its mode".into() },
        );
    }
    match present {
        Some(false) => notes.part(
            src,
            timer,
            attr_of(timer, "present"),
            NoteKind::NotMapped { why: "QEMU cannot take the TSC away; libvirt ignores present for it (tsc is compared anyway)".into() },
        ),
        _ if t.tsc_frequency_hz.is_none() && timer.attribute("mode").is_none() => {
            notes.as_is(src, timer, "the TSC is always there; tsc is always compared")
        }
        _ => {}
    }
    Ok(())
}
