//! The typed kernel events. Every variant carries the guest kernel's
//! timestamp in microseconds (`ts_us`), when the line had one.

use serde::{Deserialize, Serialize};

/// Sign of a skew `cs_nsec - wd_nsec`: positive means the watched clock
/// (usually tsc) advanced more than the watchdog (watchdog frozen or
/// wrapped); negative means the watched clock lagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkewSign {
    Positive,
    Negative,
    Zero,
}

impl SkewSign {
    pub fn of(v: i64) -> SkewSign {
        match v.cmp(&0) {
            std::cmp::Ordering::Greater => SkewSign::Positive,
            std::cmp::Ordering::Less => SkewSign::Negative,
            std::cmp::Ordering::Equal => SkewSign::Zero,
        }
    }
}

/// Where a skew value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkewSource {
    /// `cs_nsec - wd_nsec` from the 5.14+ `wd_nsec:`/`cs_nsec:` lines.
    Nsec,
    /// The 6.6+ "Clocksource 'X' skewed N ns" line.
    Skewed,
    /// Computed from the 4.18 `*_now`/`*_last`/`mask` cycles and each
    /// clock's frequency (see `wd_freq_hz`/`cs_freq_hz`).
    Cycles,
    /// The legacy `delta = N ns` line.
    Delta,
}

/// The "… is current clocksource." line of a 5.14+ skew report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CurrentClocksource {
    /// `'X' is current clocksource.`: X (the skewed one) was current.
    Is { name: String },
    /// `'X' (not 'Y') is current clocksource.`: X was current, not the skewed Y.
    IsNot { name: String, not: String },
    /// `No current clocksource.`
    NoCurrent,
}

/// One RCU stall report, header plus its grouped detail lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RcuStallKind {
    /// `INFO: rcu_sched self-detected stall on CPU`
    SelfDetected,
    /// `INFO: rcu_sched detected stalls on CPUs/tasks:`
    Others,
    /// 2.6.32 RHEL6 `INFO: RCU detected CPU N stall` /
    /// `INFO: rcu_sched_state detected stall on CPU N (t=…)`.
    Cpu,
    /// 6.12 `INFO: rcu_X detected stall, but suppressed full report due to a stuck CSD-lock.`
    SuppressedCsd,
}

/// A typed kernel message. `Other` keeps every line that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KernelEvent {
    /// 2.6.32/3.10: `Clocksource X unstable (delta = N ns)`, with
    /// `failover_hint` when the RHEL 6 "Enable clocksource failover…"
    /// suffix is present (printed instead of failing over).
    ClocksourceUnstableLegacy {
        ts_us: Option<u64>,
        clocksource: String,
        /// `cs_nsec - wd_nsec`.
        delta_ns: i64,
        skew_sign: SkewSign,
        failover_hint: bool,
    },
    /// The multi-line "Marking clocksource 'X' as unstable because the skew
    /// is too large:" report (4.18, 5.14, 6.1, 6.6+), grouped.
    ClocksourceSkew {
        ts_us: Option<u64>,
        cpu: Option<u32>,
        clocksource: String,
        watchdog: Option<String>,
        wd_nsec: Option<i64>,
        cs_nsec: Option<i64>,
        wd_now: Option<u64>,
        wd_last: Option<u64>,
        wd_mask: Option<u64>,
        cs_now: Option<u64>,
        cs_last: Option<u64>,
        cs_mask: Option<u64>,
        /// Frequencies used to convert cycles (4.18 form only).
        wd_freq_hz: Option<u64>,
        cs_freq_hz: Option<u64>,
        /// `cs_nsec - wd_nsec`, from whichever source had it.
        skew_ns: Option<i64>,
        skew_sign: Option<SkewSign>,
        skew_source: Option<SkewSource>,
        /// 6.6+: the watchdog interval printed on the "skewed" line.
        wd_interval_ns: Option<i64>,
        current: Option<CurrentClocksource>,
        /// How many lines were grouped into this event.
        lines: u32,
    },
    /// 5.14/6.1: `timekeeping watchdog on CPUn: W retried N times before success`
    ClocksourceRetried { ts_us: Option<u64>, cpu: u32, watchdog: String, retries: u32 },
    /// 5.14 `W read-back delay of Nns, attempt N, marking unstable` and
    /// 6.6 `wd-X-wd excessive read-back delay of Nns vs. limit of Nns, wd-wd
    /// read-back delay only Nns, attempt N, marking X unstable`.
    ClocksourceReadBackDelay {
        ts_us: Option<u64>,
        cpu: u32,
        /// 5.14: the watchdog's name; 6.6: the clocksource in `wd-X-wd`.
        clock: String,
        delay_ns: u64,
        attempt: u32,
        limit_ns: Option<u64>,
        wd_wd_delay_ns: Option<u64>,
        /// 6.6: the clocksource marked unstable.
        marked: Option<String>,
    },
    /// 6.1+: `timekeeping watchdog on CPUn: W wd-wd read-back delay of Nns`
    ClocksourceWdWdDelay { ts_us: Option<u64>, cpu: u32, watchdog: String, delay_ns: u64 },
    /// 6.1+: `wd-X-wd read-back delay of Nns, clock-skew test skipped!`
    /// (the watchdog is then suspended for 300 s).
    ClocksourceSkewTestSkipped { ts_us: Option<u64>, clocksource: String, delay_ns: u64 },
    /// 6.6+ (and 6.1.y backports): `Long readout interval, skipping watchdog
    /// check: cs_nsec: N wd_nsec: N`. Rate-limited by doubling.
    ClocksourceLongReadout { ts_us: Option<u64>, cs_nsec: i64, wd_nsec: i64, skew_ns: i64, skew_sign: SkewSign },
    /// 5.14+: the per-CPU synchronization check, grouped: the `Checking
    /// clocksource X synchronization from CPU n to CPUs …` header and its
    /// `CPUs … ahead of/behind CPU n` and `CPU n check durations` lines.
    ClocksourceSyncCheck {
        ts_us: Option<u64>,
        clocksource: String,
        from_cpu: Option<u32>,
        to_cpus: Option<String>,
        cpus_ahead: Option<String>,
        cpus_behind: Option<String>,
        check_min_ns: Option<u64>,
        check_max_ns: Option<u64>,
        lines: u32,
    },
    /// `Not enough CPUs to check clocksource 'X'.`
    ClocksourceNotEnoughCpus { ts_us: Option<u64>, clocksource: String },
    /// 7.x (the rewritten watchdog): `Marking clocksource X unstable due to
    /// frequency skew` with its `Watchdog W interval: Nns` and `Clocksource X
    /// interval: Nns` lines, grouped. The boot CPU compared X against the
    /// watchdog W over one watchdog interval (0.5 s nominal) and the two
    /// intervals differed by more than ~500 ppm (both calibrated) or ~4000
    /// ppm, plus the readout time: X is marked unstable.
    ClocksourceFreqSkew {
        ts_us: Option<u64>,
        clocksource: String,
        watchdog: Option<String>,
        wd_interval_ns: Option<u64>,
        cs_interval_ns: Option<u64>,
        /// `cs_interval_ns - wd_interval_ns` (same sign as `cs_nsec - wd_nsec`).
        skew_ns: Option<i64>,
        skew_sign: Option<SkewSign>,
        /// `skew_ns` per million ns of the watchdog interval.
        skew_ppm: Option<i64>,
        lines: u32,
    },
    /// 7.x: `Marking clocksource X unstable due to inter CPU skew` with its
    /// `CPUa N < CPUb M (cycles)` line, grouped. CPU a read X after CPU b
    /// had read it and got the smaller count: a is behind b by at least
    /// `M - N` cycles. X is marked unstable.
    ClocksourceCpuSkew {
        ts_us: Option<u64>,
        clocksource: String,
        behind_cpu: Option<u32>,
        behind_cycles: Option<u64>,
        ahead_cpu: Option<u32>,
        ahead_cycles: Option<u64>,
        /// X's frequency, from the same log (tsc: its calibration line;
        /// hpet: its hpet0 line, else 100 MHz; acpi_pm: 3.579545 MHz).
        cs_freq_hz: Option<u64>,
        /// `ahead_cycles - behind_cycles` in ns at `cs_freq_hz`.
        behind_by_ns: Option<i64>,
        lines: u32,
    },
    /// 7.x: `Watchdog W read timed out. Readout sequence took: Nns`: three
    /// watchdog–clocksource–watchdog readouts in a row took longer than
    /// 50 µs; the check is skipped and retried next interval (rate-limited,
    /// 2 per 5 s). Nothing is marked unstable.
    ClocksourceWatchdogReadTimeout { ts_us: Option<u64>, watchdog: String, readout_ns: u64 },
    /// 7.x: `Watchdog remote CPU n read timed out`: CPU n did not answer
    /// the inter-CPU check within its timeout (50 µs without NUMA); retried
    /// next interval. Printed once per boot.
    ClocksourceRemoteReadTimeout { ts_us: Option<u64>, cpu: u32 },
    /// `Marking TSC unstable due to REASON`
    TscMarkedUnstable { ts_us: Option<u64>, reason: String },
    /// `TSC found unstable after boot, most likely due to broken BIOS. Use 'tsc=unstable'.`
    TscUnstableAfterBoot { ts_us: Option<u64> },
    /// `Measured N cycles TSC warp between CPUs, turning off TSC clock.`
    TscWarp { ts_us: Option<u64>, cycles: i64 },
    /// `sched_clock: Marking unstable (a, b)<-(c, d)` (or `stable … ->`).
    SchedClockMarked { ts_us: Option<u64>, stable: bool, values: [i64; 4] },
    /// `clocksource: X: mask: 0x… max_cycles: 0x…, max_idle_ns: N ns`
    ClocksourceRegistered { ts_us: Option<u64>, clocksource: String, mask: u64, max_cycles: u64, max_idle_ns: u64 },
    /// `Switching to clocksource X` (2.6.32), `Switched to clocksource X`
    /// (3.10+), `Time: X clocksource has been installed.` (older).
    /// Boot-time switches are not stall effects.
    ClocksourceSwitched { ts_us: Option<u64>, clocksource: String },
    /// The `Override clocksource X …` lines.
    ClocksourceOverride { ts_us: Option<u64>, clocksource: String, reason: String },
    /// A clock frequency: `tsc: Detected N MHz processor`, `tsc: Refined TSC
    /// clocksource calibration: N MHz`, `hpet0: … N MHz counter`.
    ClockFrequency { ts_us: Option<u64>, clock: String, khz: u64, source: String },
    /// `BUG: soft lockup - CPU#n stuck for Ns! [comm:pid]`, any prefix.
    SoftLockup { ts_us: Option<u64>, cpu: u32, stuck_s: u64, comm: String, pid: u32, prefix: Option<String> },
    /// `Watchdog detected hard LOCKUP on cpu N`
    HardLockup { ts_us: Option<u64>, cpu: u32 },
    /// An RCU stall report, header plus grouped detail lines.
    RcuStall {
        ts_us: Option<u64>,
        /// `rcu_sched`, `rcu_preempt`, `rcu_bh`, `rcu_sched_state`; None for 2.6.32's "RCU".
        flavor: Option<String>,
        stall: RcuStallKind,
        /// CPUs named by the report (header braces or `\tN-....:` lines).
        cpus: Vec<u32>,
        detected_by: Option<u32>,
        t_jiffies: Option<u64>,
        g: Option<i64>,
        q: Option<u64>,
        ncpus: Option<u32>,
        lines: u32,
    },
    /// `rcu: X kthread starved for N jiffies! g… f… STATE ->state=… ->cpu=N`
    RcuKthreadStarved { ts_us: Option<u64>, flavor: String, jiffies: u64, cpu: Option<u32> },
    /// `rcu: X kthread timer wakeup didn't happen for N jiffies! …` plus its
    /// `Possible timer handling issue on cpu=N timer-softirq=N` line.
    RcuTimerWakeupMissed { ts_us: Option<u64>, flavor: String, jiffies: u64, timer_cpu: Option<u32>, timer_softirq: Option<u64> },
    /// `INFO: task comm:pid blocked for more than N seconds.`
    HungTask { ts_us: Option<u64>, comm: String, pid: u32, seconds: u64 },
    /// `hrtimer: interrupt took N ns` (once per boot).
    HrtimerInterruptTook { ts_us: Option<u64>, ns: u64 },
    /// `sched: RT throttling activated` (once per boot).
    RtThrottling { ts_us: Option<u64> },
    /// `hpet1: lost N rtc interrupts` (≤4.18) / `hpet: Lost N RTC interrupts` (5.14+).
    HpetLostRtc { ts_us: Option<u64>, lost: u64 },
    /// `csd: Detected|Continued non-responsive CSD lock (#n) on CPU#n, waiting N ns for CPU#n …`
    CsdLockStuck { ts_us: Option<u64>, continued: bool, lock: u64, cpu: u32, waiting_ns: u64, target_cpu: u32 },
    /// `csd: CSD lock (#n) got unstuck on CPU#n, CPU#n released the lock.`
    CsdLockUnstuck { ts_us: Option<u64>, lock: u64, cpu: u32, released_by: u32 },
    /// CONFIG_DEBUG_TIMEKEEPING warnings (cycle offset, overflow, underflow).
    TimekeepingDebug { ts_us: Option<u64>, clocksource: Option<String>, text: String },
    /// Anything else, kept verbatim (message without its prefix).
    Other { ts_us: Option<u64>, text: String },
}

impl KernelEvent {
    /// The guest kernel timestamp in µs, when the line had one.
    pub fn ts_us(&self) -> Option<u64> {
        use KernelEvent::*;
        match self {
            ClocksourceUnstableLegacy { ts_us, .. }
            | ClocksourceSkew { ts_us, .. }
            | ClocksourceRetried { ts_us, .. }
            | ClocksourceReadBackDelay { ts_us, .. }
            | ClocksourceWdWdDelay { ts_us, .. }
            | ClocksourceSkewTestSkipped { ts_us, .. }
            | ClocksourceLongReadout { ts_us, .. }
            | ClocksourceSyncCheck { ts_us, .. }
            | ClocksourceNotEnoughCpus { ts_us, .. }
            | ClocksourceFreqSkew { ts_us, .. }
            | ClocksourceCpuSkew { ts_us, .. }
            | ClocksourceWatchdogReadTimeout { ts_us, .. }
            | ClocksourceRemoteReadTimeout { ts_us, .. }
            | TscMarkedUnstable { ts_us, .. }
            | TscUnstableAfterBoot { ts_us }
            | TscWarp { ts_us, .. }
            | SchedClockMarked { ts_us, .. }
            | ClocksourceRegistered { ts_us, .. }
            | ClocksourceSwitched { ts_us, .. }
            | ClocksourceOverride { ts_us, .. }
            | ClockFrequency { ts_us, .. }
            | SoftLockup { ts_us, .. }
            | HardLockup { ts_us, .. }
            | RcuStall { ts_us, .. }
            | RcuKthreadStarved { ts_us, .. }
            | RcuTimerWakeupMissed { ts_us, .. }
            | HungTask { ts_us, .. }
            | HrtimerInterruptTook { ts_us, .. }
            | RtThrottling { ts_us }
            | HpetLostRtc { ts_us, .. }
            | CsdLockStuck { ts_us, .. }
            | CsdLockUnstuck { ts_us, .. }
            | TimekeepingDebug { ts_us, .. }
            | Other { ts_us, .. } => *ts_us,
        }
    }

    /// The serialized `kind` tag, e.g. `clocksource_skew`.
    pub fn kind(&self) -> &'static str {
        use KernelEvent::*;
        match self {
            ClocksourceUnstableLegacy { .. } => "clocksource_unstable_legacy",
            ClocksourceSkew { .. } => "clocksource_skew",
            ClocksourceRetried { .. } => "clocksource_retried",
            ClocksourceReadBackDelay { .. } => "clocksource_read_back_delay",
            ClocksourceWdWdDelay { .. } => "clocksource_wd_wd_delay",
            ClocksourceSkewTestSkipped { .. } => "clocksource_skew_test_skipped",
            ClocksourceLongReadout { .. } => "clocksource_long_readout",
            ClocksourceSyncCheck { .. } => "clocksource_sync_check",
            ClocksourceNotEnoughCpus { .. } => "clocksource_not_enough_cpus",
            ClocksourceFreqSkew { .. } => "clocksource_freq_skew",
            ClocksourceCpuSkew { .. } => "clocksource_cpu_skew",
            ClocksourceWatchdogReadTimeout { .. } => "clocksource_watchdog_read_timeout",
            ClocksourceRemoteReadTimeout { .. } => "clocksource_remote_read_timeout",
            TscMarkedUnstable { .. } => "tsc_marked_unstable",
            TscUnstableAfterBoot { .. } => "tsc_unstable_after_boot",
            TscWarp { .. } => "tsc_warp",
            SchedClockMarked { .. } => "sched_clock_marked",
            ClocksourceRegistered { .. } => "clocksource_registered",
            ClocksourceSwitched { .. } => "clocksource_switched",
            ClocksourceOverride { .. } => "clocksource_override",
            ClockFrequency { .. } => "clock_frequency",
            SoftLockup { .. } => "soft_lockup",
            HardLockup { .. } => "hard_lockup",
            RcuStall { .. } => "rcu_stall",
            RcuKthreadStarved { .. } => "rcu_kthread_starved",
            RcuTimerWakeupMissed { .. } => "rcu_timer_wakeup_missed",
            HungTask { .. } => "hung_task",
            HrtimerInterruptTook { .. } => "hrtimer_interrupt_took",
            RtThrottling { .. } => "rt_throttling",
            HpetLostRtc { .. } => "hpet_lost_rtc",
            CsdLockStuck { .. } => "csd_lock_stuck",
            CsdLockUnstuck { .. } => "csd_lock_unstuck",
            TimekeepingDebug { .. } => "timekeeping_debug",
            Other { .. } => "other",
        }
    }

    /// True for everything but `Other`.
    pub fn is_clock_event(&self) -> bool {
        !matches!(self, KernelEvent::Other { .. })
    }

    /// True for events that are boot-time bookkeeping rather than reactions
    /// to a stall (registration, frequency lines).
    pub fn is_informational(&self) -> bool {
        matches!(self, KernelEvent::ClocksourceRegistered { .. } | KernelEvent::ClockFrequency { .. })
    }

    /// The key fields in one short line (no timestamp, no kind).
    pub fn summary(&self) -> String {
        use KernelEvent::*;
        fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "?".to_string(), |v| v.to_string())
        }
        match self {
            ClocksourceUnstableLegacy { clocksource, delta_ns, failover_hint, .. } => {
                if *failover_hint {
                    format!("{clocksource} delta={delta_ns}ns (no clocksource_failover)")
                } else {
                    format!("{clocksource} marked unstable delta={delta_ns}ns")
                }
            }
            ClocksourceSkew { clocksource, watchdog, wd_nsec, cs_nsec, skew_ns, skew_source, current, cpu, .. } => {
                let mut s = format!(
                    "{clocksource} marked unstable (skew too large) vs {} wd_nsec={} cs_nsec={} skew={}ns",
                    opt(watchdog),
                    opt(wd_nsec),
                    opt(cs_nsec),
                    opt(skew_ns)
                );
                if let Some(src) = skew_source {
                    s.push_str(&format!(" ({})", serde_json::to_value(src).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()));
                }
                if let Some(c) = cpu {
                    s.push_str(&format!(" cpu={c}"));
                }
                match current {
                    Some(CurrentClocksource::Is { name }) | Some(CurrentClocksource::IsNot { name, .. }) => s.push_str(&format!(" current={name}")),
                    Some(CurrentClocksource::NoCurrent) => s.push_str(" current=none"),
                    None => {}
                }
                s
            }
            ClocksourceRetried { cpu, watchdog, retries, .. } => format!("{watchdog} retried {retries} cpu={cpu}"),
            ClocksourceReadBackDelay { cpu, clock, delay_ns, attempt, limit_ns, marked, .. } => {
                format!("{clock} delay={delay_ns}ns limit={} attempt={attempt} marked={} cpu={cpu}", opt(limit_ns), opt(marked))
            }
            ClocksourceWdWdDelay { cpu, watchdog, delay_ns, .. } => format!("{watchdog} wd-wd delay={delay_ns}ns cpu={cpu}"),
            ClocksourceSkewTestSkipped { clocksource, delay_ns, .. } => format!("{clocksource} delay={delay_ns}ns skipped"),
            ClocksourceLongReadout { cs_nsec, wd_nsec, skew_ns, .. } => format!("cs_nsec={cs_nsec} wd_nsec={wd_nsec} skew={skew_ns}ns"),
            ClocksourceSyncCheck { clocksource, from_cpu, to_cpus, cpus_ahead, cpus_behind, check_min_ns, check_max_ns, .. } => format!(
                "{clocksource} from={} to={} ahead={} behind={} durations={}-{}ns",
                opt(from_cpu),
                opt(to_cpus),
                opt(cpus_ahead),
                opt(cpus_behind),
                opt(check_min_ns),
                opt(check_max_ns)
            ),
            ClocksourceNotEnoughCpus { clocksource, .. } => clocksource.clone(),
            ClocksourceFreqSkew { clocksource, watchdog, wd_interval_ns, cs_interval_ns, skew_ns, skew_ppm, .. } => {
                let mut s = format!("{clocksource} marked unstable: frequency skew against watchdog {}", opt(watchdog));
                if let (Some(c), Some(w)) = (cs_interval_ns, wd_interval_ns) {
                    s.push_str(&format!(", {clocksource} interval {c}ns vs {} {w}ns", opt(watchdog)));
                }
                if let Some(k) = skew_ns {
                    s.push_str(&format!(", skew={k:+}ns"));
                }
                if let Some(p) = skew_ppm {
                    s.push_str(&format!(" ({p:+} ppm)"));
                }
                s
            }
            ClocksourceCpuSkew { clocksource, behind_cpu, behind_cycles, ahead_cpu, ahead_cycles, behind_by_ns, .. } => {
                let mut s = format!(
                    "{clocksource} marked unstable: inter-CPU skew, CPU{} read {} after CPU{} read {} cycles",
                    opt(behind_cpu),
                    opt(behind_cycles),
                    opt(ahead_cpu),
                    opt(ahead_cycles)
                );
                if let Some(ns) = behind_by_ns {
                    s.push_str(&format!(", behind by >= {ns}ns"));
                }
                s
            }
            ClocksourceWatchdogReadTimeout { watchdog, readout_ns, .. } => format!("{watchdog} readout took {readout_ns}ns, check skipped"),
            ClocksourceRemoteReadTimeout { cpu, .. } => format!("cpu={cpu} did not answer, check skipped"),
            TscMarkedUnstable { reason, .. } => format!("reason={reason}"),
            TscUnstableAfterBoot { .. } => String::new(),
            TscWarp { cycles, .. } => format!("warp={cycles} cycles"),
            SchedClockMarked { stable, values, .. } => format!("{} {values:?}", if *stable { "stable" } else { "unstable" }),
            ClocksourceRegistered { clocksource, mask, max_idle_ns, .. } => format!("{clocksource} mask={mask:#x} max_idle_ns={max_idle_ns}"),
            ClocksourceSwitched { clocksource, .. } => clocksource.clone(),
            ClocksourceOverride { clocksource, reason, .. } => format!("{clocksource}: {reason}"),
            ClockFrequency { clock, khz, source, .. } => format!("{clock} {}.{:03} MHz ({source})", khz / 1000, khz % 1000),
            SoftLockup { cpu, stuck_s, comm, pid, .. } => format!("cpu={cpu} stuck={stuck_s}s [{comm}:{pid}]"),
            HardLockup { cpu, .. } => format!("cpu={cpu}"),
            RcuStall { flavor, stall, cpus, detected_by, t_jiffies, .. } => format!(
                "{} {} cpus={cpus:?} detected_by={} t={} jiffies",
                flavor.as_deref().unwrap_or("RCU"),
                serde_json::to_value(stall).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                opt(detected_by),
                opt(t_jiffies)
            ),
            RcuKthreadStarved { flavor, jiffies, cpu, .. } => format!("{flavor} starved {jiffies} jiffies cpu={}", opt(cpu)),
            RcuTimerWakeupMissed { flavor, jiffies, timer_cpu, .. } => format!("{flavor} {jiffies} jiffies timer_cpu={}", opt(timer_cpu)),
            HungTask { comm, pid, seconds, .. } => format!("{comm}:{pid} blocked >{seconds}s"),
            HrtimerInterruptTook { ns, .. } => format!("{ns}ns"),
            RtThrottling { .. } => String::new(),
            HpetLostRtc { lost, .. } => format!("lost={lost}"),
            CsdLockStuck { continued, lock, cpu, waiting_ns, target_cpu, .. } => {
                format!("{} lock#{lock} cpu={cpu} waiting={waiting_ns}ns for cpu={target_cpu}", if *continued { "continued" } else { "detected" })
            }
            CsdLockUnstuck { lock, cpu, released_by, .. } => format!("lock#{lock} cpu={cpu} released_by={released_by}"),
            TimekeepingDebug { text, .. } => text.clone(),
            Other { text, .. } => text.clone(),
        }
    }
}
