//! Classifying one message (timestamp already split off) into either a
//! finished event or a piece of a multi-line report.
//!
//! All patterns are anchored and run as one `RegexSet` pass, then one
//! capture pass for the pattern that matched; messages longer than
//! `MAX_MATCH_LEN` are never matched (printk lines are at most 1 KiB), so
//! the work per message is bounded.

use std::sync::OnceLock;

use regex::{Captures, Regex, RegexSet};

use super::events::{CurrentClocksource, KernelEvent, RcuStallKind, SkewSign};

/// Longer messages are kept as `Other` without being matched.
pub const MAX_MATCH_LEN: usize = 2048;

/// One classified message. The 7.x watchdog's pieces: `FreqSkewInterval` is
/// a `Watchdog W interval: Nns` line (`watchdog: true`) or a `Clocksource X
/// interval: Nns` line; `CpuSkewCycles` is `CPUa N < CPUb M (cycles)`, a
/// being behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Event(KernelEvent),
    SkewHeader { cpu: Option<u32>, clocksource: String },
    SkewWd(SkewClock),
    SkewCs(SkewClock),
    Skewed { clocksource: String, skew_ns: i64, watchdog: String, interval_ns: i64 },
    Current(CurrentClocksource),
    RcuHeader(RcuHeader),
    RcuCpu { cpu: u32 },
    RcuTail(RcuTail),
    TimerWakeup { flavor: String, jiffies: u64 },
    TimerIssue { cpu: u32, softirq: Option<u64> },
    SyncHeader { clocksource: String, from_cpu: u32, to_cpus: Option<String> },
    SyncAheadBehind { cpus: String, ahead: bool, cpu: u32, clocksource: String },
    SyncDurations { cpu: u32, min_ns: u64, max_ns: u64, clocksource: String },
    FreqSkewHeader { clocksource: String },
    FreqSkewInterval { watchdog: bool, name: String, interval_ns: u64 },
    CpuSkewHeader { clocksource: String },
    CpuSkewCycles { behind_cpu: u32, behind_cycles: u64, ahead_cpu: u32, ahead_cycles: u64 },
    Unmatched,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkewClock {
    pub name: String,
    pub nsec: Option<i64>,
    pub now: u64,
    pub last: u64,
    pub mask: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RcuHeader {
    pub flavor: Option<String>,
    pub stall: RcuStallKind,
    pub cpus: Vec<u32>,
    pub tail: Option<RcuTail>,
    /// Single-line forms (and inline tails) need no detail lines.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RcuTail {
    pub detected_by: Option<u32>,
    pub t_jiffies: Option<u64>,
    pub g: Option<i64>,
    pub q: Option<u64>,
    pub ncpus: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K {
    Legacy,
    SkewHeader,
    SkewWd,
    SkewCs,
    Skewed,
    Current,
    TscMark,
    TscAfterBoot,
    TscWarp,
    SchedClock,
    Register,
    Switch,
    Installed,
    Override,
    LongReadout,
    Retried,
    ReadBackOld,
    ReadBackNew,
    WdWd,
    Skipped,
    Checking,
    AheadBehind,
    Durations,
    NotEnough,
    FreqSkewHeader,
    FreqSkewWd,
    FreqSkewCs,
    CpuSkewHeader,
    CpuSkewCycles,
    WdReadTimeout,
    RemoteTimeout,
    FreqDetected,
    FreqRefined,
    FreqHpet,
    SoftLockup,
    HardLockup,
    RcuSelf,
    RcuOthers,
    RcuCpuOld,
    RcuRhel6Cpu,
    RcuRhel6Stalls,
    RcuCsd,
    RcuCpuLine,
    RcuTailLine,
    RcuStarved,
    RcuTimerWake,
    RcuTimerIssue,
    Hrtimer,
    RtThrottle,
    HpetLost,
    HungTask,
    CsdStuck,
    CsdUnstuck,
    TkDebug,
}

const PATTERNS: &[(K, &str)] = &[
    (
        K::Legacy,
        r"^[Cc]locksource (\S+) unstable \(delta = (-?\d+) ns\)(\.? +Enable clocksource failover by adding clocksource_failover kernel parameter\.)?$",
    ),
    (
        K::SkewHeader,
        r"^(?:clocksource: ?)?timekeeping watchdog(?: on CPU(\d+))?: Marking clocksource '([^']+)' as unstable,? because the skew is too large:?$",
    ),
    (K::SkewWd, r"^(?:clocksource:)?\s*'([^']+)' (?:wd_nsec: (-?\d+) )?wd_now: ([0-9a-f]+) wd_last: ([0-9a-f]+) mask: ([0-9a-f]+)$"),
    (K::SkewCs, r"^(?:clocksource:)?\s*'([^']+)' (?:cs_nsec: (-?\d+) )?cs_now: ([0-9a-f]+) cs_last: ([0-9a-f]+) mask: ([0-9a-f]+)$"),
    (
        K::Skewed,
        r"^(?:clocksource:)?\s*Clocksource '([^']+)' skewed (-?\d+) ns \((-?\d+) ms\) over watchdog '([^']+)' interval of (-?\d+) ns \((-?\d+) ms\)$",
    ),
    (
        K::Current,
        r"^(?:clocksource:)?\s*(?:'([^']+)' is current clocksource\.|'([^']+)' \(not '([^']+)'\) is current clocksource\.|(No current clocksource\.))$",
    ),
    (K::TscMark, r"^(?:tsc: )?Marking TSC unstable due to (.+)$"),
    (K::TscAfterBoot, r"^TSC found unstable after boot, most likely due to broken BIOS\. Use 'tsc=unstable'\.$"),
    (K::TscWarp, r"^(?:tsc: )?Measured (-?\d+) cycles TSC warp between CPUs, turning off TSC clock\.$"),
    (K::SchedClock, r"^sched_clock: Marking (un)?stable \((-?\d+), (-?\d+)\)(?:<-|->)\((-?\d+), (-?\d+)\)$"),
    (K::Register, r"^(?:clocksource:? )?([^\s:]+): mask: 0x([0-9a-f]+) max_cycles: 0x([0-9a-f]+), max_idle_ns: (\d+) ns$"),
    (K::Switch, r"^(?:clocksource: )?Switch(?:ed|ing) to clocksource (\S+)$"),
    (K::Installed, r"^Time: (\S+) clocksource has been installed\.$"),
    (K::Override, r"^(?:clocksource: )?Override clocksource (\S+) (is .+)$"),
    (K::LongReadout, r"^(?:clocksource: )?Long readout interval, skipping watchdog check: cs_nsec: (-?\d+) wd_nsec: (-?\d+)$"),
    (K::Retried, r"^(?:clocksource: )?timekeeping watchdog on CPU(\d+): (\S+) retried (\d+) times before success$"),
    (K::ReadBackOld, r"^(?:clocksource: )?timekeeping watchdog on CPU(\d+): (\S+) read-back delay of (\d+)ns, attempt (\d+), marking unstable$"),
    (
        K::ReadBackNew,
        r"^(?:clocksource: )?timekeeping watchdog on CPU(\d+): wd-(\S+)-wd excessive read-back delay of (\d+)ns vs\. limit of (\d+)ns, wd-wd read-back delay only (\d+)ns, attempt (\d+), marking (\S+) unstable$",
    ),
    (K::WdWd, r"^(?:clocksource: )?timekeeping watchdog on CPU(\d+): (\S+) wd-wd read-back delay of (\d+)ns$"),
    (K::Skipped, r"^(?:clocksource: )?wd-(\S+)-wd read-back delay of (\d+)ns, clock-skew test skipped!$"),
    (K::Checking, r"^(?:clocksource: )?Checking clocksource (\S+) synchronization from CPU (\d+)(?: to CPUs ([0-9,\-]+))?\.$"),
    (K::AheadBehind, r"^(?:clocksource:)?\s*CPUs ([0-9,\-]+) (ahead of|behind) CPU (\d+) for clocksource (\S+)\.$"),
    (K::Durations, r"^(?:clocksource:)?\s*CPU (\d+) check durations (\d+)ns - (\d+)ns for clocksource (\S+)\.$"),
    (K::NotEnough, r"^(?:clocksource: )?Not enough CPUs to check clocksource '([^']+)'\.$"),
    // 7.x: the rewritten watchdog (kernel/time/clocksource.c, "clocksource: Rewrite watchdog code completely").
    (K::FreqSkewHeader, r"^(?:clocksource: )?Marking clocksource (\S+) unstable due to frequency skew$"),
    (K::FreqSkewWd, r"^(?:clocksource: )?Watchdog +(\S+) interval: +(\d+)ns$"),
    (K::FreqSkewCs, r"^(?:clocksource: )?Clocksource +(\S+) interval: +(\d+)ns$"),
    (K::CpuSkewHeader, r"^(?:clocksource: )?Marking clocksource (\S+) unstable due to inter CPU skew$"),
    (K::CpuSkewCycles, r"^(?:clocksource: )?CPU(\d+) +(\d+) < CPU(\d+) +(\d+) \(cycles\)$"),
    (K::WdReadTimeout, r"^(?:clocksource: )?Watchdog (\S+) read timed out\. Readout sequence took: (\d+)ns$"),
    (K::RemoteTimeout, r"^(?:clocksource: )?Watchdog remote CPU (\d+) read timed out$"),
    (K::FreqDetected, r"^(?:tsc: )?Detected (\d+)\.(\d{3}) MHz (?:processor|TSC)\.?$"),
    (K::FreqRefined, r"^(?:tsc: )?Refined TSC clocksource calibration: (\d+)\.(\d{3}) MHz\.?$"),
    (K::FreqHpet, r"^hpet0: \d+ comparators, \d+-bit (\d+)\.(\d{6}) MHz counter$"),
    (K::SoftLockup, r"^((?:NMI )?watchdog: )?BUG: soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.*):(\d+)\]$"),
    (K::HardLockup, r"^(?:(?:NMI )?watchdog: )?Watchdog detected hard LOCKUP on cpu (\d+)"),
    (K::RcuSelf, r"^(?:rcu: )?INFO: (rcu_\w+) self-detected stall on CPU\b(.*)$"),
    (K::RcuOthers, r"^(?:rcu: )?INFO: (rcu_\w+) detected stalls on CPUs/tasks:(.*)$"),
    (K::RcuCpuOld, r"^(?:rcu: )?INFO: (rcu_\w+) detected stall on CPU (\d+) \(t=(\d+) jiffies\)$"),
    (K::RcuRhel6Cpu, r"^INFO: RCU detected CPU (\d+) stall \(t=(\d+) jiffies\)$"),
    (K::RcuRhel6Stalls, r"^INFO: RCU detected CPU stalls:(.*)$"),
    (K::RcuCsd, r"^(?:rcu: )?INFO: (rcu_\w+) detected stall, but suppressed full report due to a stuck CSD-lock\.$"),
    (K::RcuCpuLine, r"^(?:rcu:)?\s+(\d+)(?:-[^:\s]{1,8})?: \("),
    (K::RcuTailLine, r"^(?:rcu:)?\s+\(\s*(?:detected by \d+, )?t=\d+ jiffies[^)]*\)"),
    (K::RcuStarved, r"^(?:rcu: )?(rcu_\w+) kthread starved for (\d+) jiffies!(.*)$"),
    (K::RcuTimerWake, r"^(?:rcu: )?(rcu_\w+) kthread timer wakeup didn't happen for (\d+) jiffies!"),
    (K::RcuTimerIssue, r"^(?:rcu:)?\s*Possible timer handling issue on cpu=(\d+)(?: timer-softirq=(\d+))?"),
    (K::Hrtimer, r"^hrtimer: interrupt took (\d+) ns$"),
    (K::RtThrottle, r"^sched: RT throttling activated$"),
    (K::HpetLost, r"^(?:hpet: Lost (\d+) RTC interrupts|hpet1: lost (\d+) rtc interrupts)$"),
    (K::HungTask, r"^INFO: task (.+):(\d+) blocked for more than (\d+) seconds\.$"),
    (K::CsdStuck, r"^(?:csd: )?(Detected|Continued) non-responsive CSD lock \(#(\d+)\) on CPU#(\d+), waiting (\d+) ns for CPU#(\d+)"),
    (K::CsdUnstuck, r"^(?:csd: )?CSD lock \(#(\d+)\) got unstuck on CPU#(\d+), CPU#(\d+) released the lock\.$"),
    (
        K::TkDebug,
        r"^(?:WARNING|INFO): (?:timekeeping: Cycle offset \(-?\d+\) is larger than (?:allowed by )?the '([^']+)' clock's|(?:Overflow|Underflow) in clocksource '([^']+)' observed)",
    ),
];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| Compiled {
        set: RegexSet::new(PATTERNS.iter().map(|(_, p)| *p)).expect("kernel event patterns compile"),
        each: PATTERNS.iter().map(|(_, p)| Regex::new(p).expect("kernel event pattern compiles")).collect(),
    })
}

/// Classifies one message. `work` grows by the bytes scanned (at most two
/// passes over the message), the unit the linear-time test counts.
pub(crate) fn classify(ts_us: Option<u64>, message: &str, work: &mut u64) -> Piece {
    let m = message.trim_end();
    if m.len() > MAX_MATCH_LEN {
        *work += 1;
        return Piece::Unmatched;
    }
    let c = compiled();
    *work += m.len() as u64 + 1;
    let Some(idx) = c.set.matches(m).iter().next() else {
        return Piece::Unmatched;
    };
    *work += m.len() as u64 + 1;
    let Some(caps) = c.each[idx].captures(m) else {
        return Piece::Unmatched;
    };
    build(PATTERNS[idx].0, ts_us, &caps).unwrap_or(Piece::Unmatched)
}

fn s(c: &Captures, i: usize) -> Option<String> {
    c.get(i).map(|m| m.as_str().to_string())
}
fn n<T: std::str::FromStr>(c: &Captures, i: usize) -> Option<T> {
    c.get(i)?.as_str().parse().ok()
}
fn hex(c: &Captures, i: usize) -> Option<u64> {
    u64::from_str_radix(c.get(i)?.as_str(), 16).ok()
}
/// "2599.978" as kHz, from the integer and 3-digit fraction groups.
fn khz(c: &Captures) -> Option<u64> {
    n::<u64>(c, 1)?.checked_mul(1000)?.checked_add(n::<u64>(c, 2)?)
}

/// The number after `key` in `text` (e.g. `t=` in `(t=2100 jiffies g=5 …)`).
fn field<T: std::str::FromStr>(text: &str, key: &str) -> Option<T> {
    let at = text.find(key)? + key.len();
    let rest = &text[at..];
    let end = rest.char_indices().find(|&(i, ch)| !(ch.is_ascii_digit() || (i == 0 && ch == '-'))).map_or(rest.len(), |(i, _)| i);
    rest[..end].parse().ok()
}

/// Parses an inline RCU tail: `(detected by 7, t=15002 jiffies, g=…, q=…)`.
fn tail_of(text: &str) -> Option<RcuTail> {
    let open = text.find('(')?;
    let inner = &text[open..];
    let t_jiffies = field(inner, "t=")?;
    Some(RcuTail {
        detected_by: field(inner, "detected by "),
        t_jiffies: Some(t_jiffies),
        g: field(inner, "g="),
        q: field(inner, "q="),
        ncpus: field(inner, "ncpus="),
    })
}

/// CPU numbers listed before the tail: `{ 1 2}` or `1 2 3`.
fn cpus_of(text: &str) -> Vec<u32> {
    let head = text.split('(').next().unwrap_or("");
    head.split(|ch: char| !ch.is_ascii_digit()).filter(|t| !t.is_empty()).filter_map(|t| t.parse().ok()).take(64).collect()
}

fn build(k: K, ts_us: Option<u64>, c: &Captures) -> Option<Piece> {
    use KernelEvent as E;
    let ev = |e: KernelEvent| Some(Piece::Event(e));
    match k {
        K::Legacy => {
            let delta_ns: i64 = n(c, 2)?;
            ev(E::ClocksourceUnstableLegacy {
                ts_us,
                clocksource: s(c, 1)?,
                delta_ns,
                skew_sign: SkewSign::of(delta_ns),
                failover_hint: c.get(3).is_some(),
            })
        }
        K::SkewHeader => Some(Piece::SkewHeader { cpu: n(c, 1), clocksource: s(c, 2)? }),
        K::SkewWd | K::SkewCs => {
            let clock = SkewClock { name: s(c, 1)?, nsec: n(c, 2), now: hex(c, 3)?, last: hex(c, 4)?, mask: hex(c, 5)? };
            if c.get(2).is_some() && clock.nsec.is_none() {
                return None;
            }
            Some(if k == K::SkewWd { Piece::SkewWd(clock) } else { Piece::SkewCs(clock) })
        }
        K::Skewed => Some(Piece::Skewed { clocksource: s(c, 1)?, skew_ns: n(c, 2)?, watchdog: s(c, 4)?, interval_ns: n(c, 5)? }),
        K::Current => Some(Piece::Current(if let Some(name) = s(c, 1) {
            CurrentClocksource::Is { name }
        } else if let Some(name) = s(c, 2) {
            CurrentClocksource::IsNot { name, not: s(c, 3)? }
        } else {
            CurrentClocksource::NoCurrent
        })),
        K::TscMark => ev(E::TscMarkedUnstable { ts_us, reason: s(c, 1)? }),
        K::TscAfterBoot => ev(E::TscUnstableAfterBoot { ts_us }),
        K::TscWarp => ev(E::TscWarp { ts_us, cycles: n(c, 1)? }),
        K::SchedClock => ev(E::SchedClockMarked { ts_us, stable: c.get(1).is_none(), values: [n(c, 2)?, n(c, 3)?, n(c, 4)?, n(c, 5)?] }),
        K::Register => ev(E::ClocksourceRegistered { ts_us, clocksource: s(c, 1)?, mask: hex(c, 2)?, max_cycles: hex(c, 3)?, max_idle_ns: n(c, 4)? }),
        K::Switch | K::Installed => ev(E::ClocksourceSwitched { ts_us, clocksource: s(c, 1)? }),
        K::Override => ev(E::ClocksourceOverride { ts_us, clocksource: s(c, 1)?, reason: s(c, 2)? }),
        K::LongReadout => {
            let cs_nsec: i64 = n(c, 1)?;
            let wd_nsec: i64 = n(c, 2)?;
            let skew_ns = cs_nsec.checked_sub(wd_nsec)?;
            ev(E::ClocksourceLongReadout { ts_us, cs_nsec, wd_nsec, skew_ns, skew_sign: SkewSign::of(skew_ns) })
        }
        K::Retried => ev(E::ClocksourceRetried { ts_us, cpu: n(c, 1)?, watchdog: s(c, 2)?, retries: n(c, 3)? }),
        K::ReadBackOld => ev(E::ClocksourceReadBackDelay {
            ts_us,
            cpu: n(c, 1)?,
            clock: s(c, 2)?,
            delay_ns: n(c, 3)?,
            attempt: n(c, 4)?,
            limit_ns: None,
            wd_wd_delay_ns: None,
            marked: None,
        }),
        K::ReadBackNew => ev(E::ClocksourceReadBackDelay {
            ts_us,
            cpu: n(c, 1)?,
            clock: s(c, 2)?,
            delay_ns: n(c, 3)?,
            attempt: n(c, 6)?,
            limit_ns: Some(n(c, 4)?),
            wd_wd_delay_ns: Some(n(c, 5)?),
            marked: Some(s(c, 7)?),
        }),
        K::WdWd => ev(E::ClocksourceWdWdDelay { ts_us, cpu: n(c, 1)?, watchdog: s(c, 2)?, delay_ns: n(c, 3)? }),
        K::Skipped => ev(E::ClocksourceSkewTestSkipped { ts_us, clocksource: s(c, 1)?, delay_ns: n(c, 2)? }),
        K::Checking => Some(Piece::SyncHeader { clocksource: s(c, 1)?, from_cpu: n(c, 2)?, to_cpus: s(c, 3) }),
        K::AheadBehind => Some(Piece::SyncAheadBehind { cpus: s(c, 1)?, ahead: &c[2] == "ahead of", cpu: n(c, 3)?, clocksource: s(c, 4)? }),
        K::Durations => Some(Piece::SyncDurations { cpu: n(c, 1)?, min_ns: n(c, 2)?, max_ns: n(c, 3)?, clocksource: s(c, 4)? }),
        K::NotEnough => ev(E::ClocksourceNotEnoughCpus { ts_us, clocksource: s(c, 1)? }),
        K::FreqSkewHeader => Some(Piece::FreqSkewHeader { clocksource: s(c, 1)? }),
        K::FreqSkewWd | K::FreqSkewCs => Some(Piece::FreqSkewInterval { watchdog: k == K::FreqSkewWd, name: s(c, 1)?, interval_ns: n(c, 2)? }),
        K::CpuSkewHeader => Some(Piece::CpuSkewHeader { clocksource: s(c, 1)? }),
        K::CpuSkewCycles => Some(Piece::CpuSkewCycles { behind_cpu: n(c, 1)?, behind_cycles: n(c, 2)?, ahead_cpu: n(c, 3)?, ahead_cycles: n(c, 4)? }),
        K::WdReadTimeout => ev(E::ClocksourceWatchdogReadTimeout { ts_us, watchdog: s(c, 1)?, readout_ns: n(c, 2)? }),
        K::RemoteTimeout => ev(E::ClocksourceRemoteReadTimeout { ts_us, cpu: n(c, 1)? }),
        K::FreqDetected => ev(E::ClockFrequency { ts_us, clock: "tsc".into(), khz: khz(c)?, source: "detected".into() }),
        K::FreqRefined => ev(E::ClockFrequency { ts_us, clock: "tsc".into(), khz: khz(c)?, source: "refined".into() }),
        K::FreqHpet => {
            // "24.000000 MHz": integer MHz and 6-digit fraction (Hz).
            let hz = n::<u64>(c, 1)?.checked_mul(1_000_000)?.checked_add(n::<u64>(c, 2)?)?;
            ev(E::ClockFrequency { ts_us, clock: "hpet".into(), khz: hz / 1000, source: "hpet0".into() })
        }
        K::SoftLockup => ev(E::SoftLockup {
            ts_us,
            cpu: n(c, 2)?,
            stuck_s: n(c, 3)?,
            comm: s(c, 4)?,
            pid: n(c, 5)?,
            prefix: c.get(1).map(|m| m.as_str().trim_end_matches([' ', ':']).to_string()),
        }),
        K::HardLockup => ev(E::HardLockup { ts_us, cpu: n(c, 1)? }),
        K::RcuSelf | K::RcuOthers | K::RcuRhel6Stalls => {
            let (flavor, rest) = if k == K::RcuRhel6Stalls { (None, s(c, 1)?) } else { (s(c, 1), s(c, 2)?) };
            let stall = if k == K::RcuSelf { RcuStallKind::SelfDetected } else { RcuStallKind::Others };
            let tail = tail_of(&rest);
            Some(Piece::RcuHeader(RcuHeader { flavor, stall, cpus: cpus_of(&rest), complete: tail.is_some(), tail }))
        }
        K::RcuCpuOld => Some(Piece::RcuHeader(RcuHeader {
            flavor: s(c, 1),
            stall: RcuStallKind::Cpu,
            cpus: vec![n(c, 2)?],
            tail: Some(RcuTail { t_jiffies: Some(n(c, 3)?), ..RcuTail::default() }),
            complete: true,
        })),
        K::RcuRhel6Cpu => Some(Piece::RcuHeader(RcuHeader {
            flavor: None,
            stall: RcuStallKind::Cpu,
            cpus: vec![n(c, 1)?],
            tail: Some(RcuTail { t_jiffies: Some(n(c, 2)?), ..RcuTail::default() }),
            complete: true,
        })),
        K::RcuCsd => {
            Some(Piece::RcuHeader(RcuHeader { flavor: s(c, 1), stall: RcuStallKind::SuppressedCsd, cpus: Vec::new(), tail: None, complete: true }))
        }
        K::RcuCpuLine => Some(Piece::RcuCpu { cpu: n(c, 1)? }),
        K::RcuTailLine => Some(Piece::RcuTail(tail_of(c.get(0)?.as_str())?)),
        K::RcuStarved => ev(E::RcuKthreadStarved { ts_us, flavor: s(c, 1)?, jiffies: n(c, 2)?, cpu: field(&c[3], "->cpu=") }),
        K::RcuTimerWake => Some(Piece::TimerWakeup { flavor: s(c, 1)?, jiffies: n(c, 2)? }),
        K::RcuTimerIssue => Some(Piece::TimerIssue { cpu: n(c, 1)?, softirq: n(c, 2) }),
        K::Hrtimer => ev(E::HrtimerInterruptTook { ts_us, ns: n(c, 1)? }),
        K::RtThrottle => ev(E::RtThrottling { ts_us }),
        K::HpetLost => ev(E::HpetLostRtc { ts_us, lost: n(c, 1).or_else(|| n(c, 2))? }),
        K::HungTask => ev(E::HungTask { ts_us, comm: s(c, 1)?, pid: n(c, 2)?, seconds: n(c, 3)? }),
        K::CsdStuck => {
            ev(E::CsdLockStuck { ts_us, continued: &c[1] == "Continued", lock: n(c, 2)?, cpu: n(c, 3)?, waiting_ns: n(c, 4)?, target_cpu: n(c, 5)? })
        }
        K::CsdUnstuck => ev(E::CsdLockUnstuck { ts_us, lock: n(c, 1)?, cpu: n(c, 2)?, released_by: n(c, 3)? }),
        K::TkDebug => ev(E::TimekeepingDebug { ts_us, clocksource: s(c, 1).or_else(|| s(c, 2)), text: c.get(0)?.as_str().to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(compiled().each.len(), PATTERNS.len());
    }

    #[test]
    fn fields() {
        assert_eq!(field::<i64>("(t=5 jiffies g=-1127 q=10)", "g="), Some(-1127));
        assert_eq!(tail_of("\t(detected by 0, t=38227 jiffies, g=-1127, q=10)").unwrap().detected_by, Some(0));
        assert_eq!(cpus_of(" { 2} (detected by 7, t=15002 jiffies)"), vec![2]);
    }
}
