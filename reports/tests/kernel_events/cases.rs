//! Table-driven: one case per format per kernel generation, from real lines
//! (the format strings of kernel-messages.md, public bug reports, and the
//! guests booted here). Each case names the first clock event expected and
//! its one-line summary.

use clockstorm_reports::kernel_events::{parse_lines, KernelEvent};

struct Case {
    generation: &'static str,
    source: &'static str,
    lines: &'static [&'static str],
    kind: &'static str,
    summary: &'static str,
}

const CASES: &[Case] = &[
    // ---- 2.6.32 (RHEL 6) ----
    Case { generation: "2.6.32", source: "sungju.org (RHEL 6 syslog)", lines: &["2013-07-16T05:00:05.181538-04:00 xxxxxx kernel: Clocksource tsc unstable (delta = -95170507948 ns).  Enable clocksource failover by adding clocksource_failover kernel parameter."], kind: "clocksource_unstable_legacy", summary: "tsc delta=-95170507948ns (no clocksource_failover)" },
    Case { generation: "2.6.32", source: "the incident (docs/clock-model.md)", lines: &["[2423264.824259] Clocksource tsc unstable (delta = 6824818792 ns).  Enable clocksource failover by adding clocksource_failover kernel parameter."], kind: "clocksource_unstable_legacy", summary: "tsc delta=6824818792ns (no clocksource_failover)" },
    Case { generation: "2.6.32", source: "katona.hatenadiary.org", lines: &["Clocksource tsc unstable (delta = 76024924 ns)"], kind: "clocksource_unstable_legacy", summary: "tsc marked unstable delta=76024924ns" },
    Case { generation: "2.6.32", source: "kernel-messages.md", lines: &["Override clocksource tsc is not HRT compatible. Cannot switch while in HRT/NOHZ mode"], kind: "clocksource_override", summary: "tsc: is not HRT compatible. Cannot switch while in HRT/NOHZ mode" },
    Case { generation: "2.6.32", source: "kernel-messages.md", lines: &["Switching to clocksource acpi_pm"], kind: "clocksource_switched", summary: "acpi_pm" },
    Case { generation: "2.6.32", source: "kernel-messages.md", lines: &["Marking TSC unstable due to clocksource_watchdog"], kind: "tsc_marked_unstable", summary: "reason=clocksource_watchdog" },
    Case { generation: "2.6.32", source: "minikube#5708 (dmesg -H)", lines: &["[  +5.000712] hpet1: lost 318 rtc interrupts"], kind: "hpet_lost_rtc", summary: "lost=318" },
    Case { generation: "2.6.32", source: "kernel-messages.md", lines: &["INFO: RCU detected CPU 1 stall (t=4295672000 jiffies)"], kind: "rcu_stall", summary: "RCU cpu cpus=[1] detected_by=? t=4295672000 jiffies" },
    Case { generation: "2.6.32", source: "kernel-messages.md", lines: &["INFO: RCU detected CPU stalls: 1 2 (detected by 0, t=15002 jiffies)"], kind: "rcu_stall", summary: "RCU others cpus=[1, 2] detected_by=0 t=15002 jiffies" },
    Case { generation: "2.6.32", source: "zfs#557", lines: &["Nov 24 19:39:04 gsan1-coy kernel: [ 3556.510903] INFO: rcu_sched_state detected stall on CPU 0 (t=105060 jiffies)"], kind: "rcu_stall", summary: "rcu_sched_state cpu cpus=[0] detected_by=? t=105060 jiffies" },
    Case { generation: "2.6.32", source: "mptcp#99", lines: &["[2870707.887079] BUG: soft lockup - CPU#10 stuck for 23s! [migration/10:346]"], kind: "soft_lockup", summary: "cpu=10 stuck=23s [migration/10:346]" },
    // ---- 3.10 (RHEL 7) ----
    Case { generation: "3.10", source: "kernel-messages.md", lines: &["Switched to clocksource hpet"], kind: "clocksource_switched", summary: "hpet" },
    Case { generation: "3.10", source: "kernel-messages.md", lines: &["NMI watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [qemu-kvm:4242]"], kind: "soft_lockup", summary: "cpu=0 stuck=23s [qemu-kvm:4242]" },
    Case { generation: "3.10", source: "zfs#557", lines: &["[12757.540104] INFO: rcu_sched_state detected stalls on CPUs/tasks: { 2} (detected by 7, t=15002 jiffies)"], kind: "rcu_stall", summary: "rcu_sched_state others cpus=[2] detected_by=7 t=15002 jiffies" },
    Case { generation: "3.10", source: "kernel-messages.md", lines: &["sched: RT throttling activated"], kind: "rt_throttling", summary: "" },
    Case { generation: "3.10", source: "qubes#2044", lines: &["[    0.000000] clocksource xen: mask: 0xffffffffffffffff max_cycles: 0x1cd42e4dffb, max_idle_ns: 881590591483 ns"], kind: "clocksource_registered", summary: "xen mask=0xffffffffffffffff max_idle_ns=881590591483" },
    Case { generation: "3.10", source: "raspberrypi#1777", lines: &["[  324.072607] INFO: rcu_sched self-detected stall on CPU", "[  324.072632] \t1-...: (1 GPs behind) idle=7db/2/0 softirq=4884/4886 fqs=6999 ", "[  324.072638] \t (t=21000 jiffies g=962 c=961 q=108)"], kind: "rcu_stall", summary: "rcu_sched self_detected cpus=[1] detected_by=? t=21000 jiffies" },
    // ---- 4.18 (RHEL 8) ----
    Case { generation: "4.18", source: "qubes#2044 (Xen guest)", lines: &["[271095.072610] timekeeping watchdog: Marking clocksource 'tsc' as unstable, because the skew is too large:", "[271095.072619]         'xen' wd_now: f6aa707c0c8f wd_last: f6a8d4762faa mask: ffffffffffffffff", "[271095.072624]         'tsc' cs_now: 1b6861d00 cs_last: 21d7172f2b8c4 mask: ffffffffffffffff"], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs xen wd_nsec=? cs_nsec=? skew=?ns" },
    Case { generation: "4.18", source: "sozu#500 (+ tsc frequency line)", lines: &["[    0.000000] tsc: Detected 2600.000 MHz processor", "[335323.734091] clocksource: timekeeping watchdog on CPU5: Marking clocksource 'tsc' as unstable because the skew is too large:", "[335323.737925] clocksource:                       'hpet' wd_now: 5ca548fd wd_last: 5932c25f mask: ffffffff", "[335323.808006] clocksource:                       'tsc' cs_now: bb8a0f7168a0d4 cs_last: bb8a0f234df0c3 mask: ffffffffffffffff"], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs hpet wd_nsec=578372140 cs_nsec=503989175 skew=-74382965ns (cycles) cpu=5" },
    Case { generation: "4.18", source: "arpl#244 (kern.log)", lines: &["kernel: [  384.258940] clocksource: timekeeping watchdog: Marking clocksource 'tsc' as unstable because the skew is too large:", "kernel: [  384.261201] clocksource: 'acpi_pm' wd_now: 8d5199 wd_last: 60e92e mask: ffffff", "kernel: [  384.263168] clocksource: 'tsc' cs_now: 1981c973dc9 cs_last: 1940283c820 mask: ffffffffffffffff"], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs acpi_pm wd_nsec=? cs_nsec=? skew=?ns" },
    Case { generation: "4.18", source: "corefreq#308", lines: &["[1346249.945415] clocksource: Override clocksource tsc is unstable and not HRT compatible - cannot switch while in HRT/NOHZ mode"], kind: "clocksource_override", summary: "tsc: is unstable and not HRT compatible - cannot switch while in HRT/NOHZ mode" },
    Case { generation: "4.18", source: "kernel-messages.md", lines: &["clocksource: Override clocksource tsc is not currently HRT compatible - deferring"], kind: "clocksource_override", summary: "tsc: is not currently HRT compatible - deferring" },
    Case { generation: "4.18", source: "propolis#328", lines: &["[ 8996.144274] tsc: Marking TSC unstable due to clocksource watchdog"], kind: "tsc_marked_unstable", summary: "reason=clocksource watchdog" },
    Case { generation: "4.18", source: "propolis#328", lines: &["[ 8996.144401] TSC found unstable after boot, most likely due to broken BIOS. Use 'tsc=unstable'."], kind: "tsc_unstable_after_boot", summary: "" },
    Case { generation: "4.18", source: "propolis#328", lines: &["[ 8996.144403] sched_clock: Marking unstable (8996101633485, 42749061)<-(8996259532949, -115136521)"], kind: "sched_clock_marked", summary: "unstable [8996101633485, 42749061, 8996259532949, -115136521]" },
    Case { generation: "4.18", source: "openrisc#12", lines: &["[90216.140000] watchdog: BUG: soft lockup - CPU#0 stuck for 186s! [kworker/u3:3:2073]"], kind: "soft_lockup", summary: "cpu=0 stuck=186s [kworker/u3:3:2073]" },
    Case { generation: "4.18", source: "op-build#482", lines: &["[  758.995964] INFO: task opal-prd:3266 blocked for more than 120 seconds."], kind: "hung_task", summary: "opal-prd:3266 blocked >120s" },
    Case { generation: "4.18", source: "sozu#500", lines: &["[335538.326632] hrtimer: interrupt took 6663395 ns"], kind: "hrtimer_interrupt_took", summary: "6663395ns" },
    // ---- 5.14 ----
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU0: kvm-clock retried 2 times before success"], kind: "clocksource_retried", summary: "kvm-clock retried 2 cpu=0" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU1: hpet read-back delay of 72345ns, attempt 4, marking unstable"], kind: "clocksource_read_back_delay", summary: "hpet delay=72345ns limit=? attempt=4 marked=? cpu=1" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc' as unstable because the skew is too large:", "clocksource:                       'hpet' wd_nsec: 503071040 wd_now: 2b2f1e40 wd_last: 28519c00 mask: ffffffff", "clocksource:                       'tsc' cs_nsec: 7504052000 cs_now: 1d1a94a2000 cs_last: 1c1c1e00000 mask: ffffffffffffffff", "clocksource:                       'tsc' is current clocksource."], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs hpet wd_nsec=503071040 cs_nsec=7504052000 skew=7000980960ns (nsec) cpu=1 current=tsc" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["clocksource: Checking clocksource tsc synchronization from CPU 3 to CPUs 0-2,4-7.", "clocksource:         CPUs 0,2 ahead of CPU 3 for clocksource tsc.", "clocksource:         CPU 3 check durations 1234ns - 5678ns for clocksource tsc."], kind: "clocksource_sync_check", summary: "tsc from=3 to=0-2,4-7 ahead=0,2 behind=? durations=1234-5678ns" },
    Case { generation: "5.14", source: "propolis#328 (5.10 form)", lines: &["[ 8996.145058] clocksource: Checking clocksource tsc synchronization from CPU 5."], kind: "clocksource_sync_check", summary: "tsc from=5 to=? ahead=? behind=? durations=?-?ns" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["clocksource: Not enough CPUs to check clocksource 'tsc'."], kind: "clocksource_not_enough_cpus", summary: "tsc" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["hpet: Lost 7 RTC interrupts"], kind: "hpet_lost_rtc", summary: "lost=7" },
    Case { generation: "5.14", source: "tetragon#328", lines: &["[  103.088153] rcu: rcu_sched kthread starved for 38227 jiffies! g-1127 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402 ->cpu=1"], kind: "rcu_kthread_starved", summary: "rcu_sched starved 38227 jiffies cpu=1" },
    Case { generation: "5.14", source: "tetragon#328", lines: &["[  103.087243] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", "[  103.087558] rcu: \t1-...!: (0 ticks this GP) idle=cf8/0/0x0 softirq=20/20 fqs=0 ", "[  103.087821] \t(detected by 0, t=38227 jiffies, g=-1127, q=10)"], kind: "rcu_stall", summary: "rcu_sched others cpus=[1] detected_by=0 t=38227 jiffies" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5000000032 ns for CPU#01 do_nothing+0x0/0x10(0x0)."], kind: "csd_lock_stuck", summary: "detected lock#1 cpu=0 waiting=5000000032ns for cpu=1" },
    Case { generation: "5.14", source: "kernel-messages.md", lines: &["csd: CSD lock (#1) got unstuck on CPU#00, CPU#01 released the lock."], kind: "csd_lock_unstuck", summary: "lock#1 cpu=0 released_by=1" },
    // ---- 6.1 ----
    Case { generation: "6.1", source: "lede#9028 (5.15 logread)", lines: &["Tue Mar  8 13:19:34 2022 kern.info kernel: [14669.048261] clocksource: timekeeping watchdog on CPU1: acpi_pm wd-wd read-back delay of 144431ns"], kind: "clocksource_wd_wd_delay", summary: "acpi_pm wd-wd delay=144431ns cpu=1" },
    Case { generation: "6.1", source: "lede#9028 (5.15 logread)", lines: &["Tue Mar  8 13:19:34 2022 kern.info kernel: [14669.056895] clocksource: wd-tsc-wd read-back delay of 124876ns, clock-skew test skipped!"], kind: "clocksource_skew_test_skipped", summary: "tsc delay=124876ns skipped" },
    Case { generation: "6.1", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:", "clocksource:                       'kvm-clock' wd_nsec: 500123456 wd_now: 15d3ef79800 wd_last: 15d3ef79800 mask: ffffffffffffffff", "clocksource:                       'tsc' cs_nsec: 7500123456 cs_now: 4a817c8000 cs_last: 3c336080000 mask: ffffffffffffffff", "clocksource:                       'kvm-clock' (not 'tsc') is current clocksource."], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs kvm-clock wd_nsec=500123456 cs_nsec=7500123456 skew=7000000000ns (nsec) cpu=0 current=kvm-clock" },
    Case { generation: "6.1", source: "Debian 6.1.0-50-cloud-amd64 TCG guest", lines: &["[   12.066582] clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720"], kind: "clocksource_long_readout", summary: "cs_nsec=6473708936 wd_nsec=6473653720 skew=55216ns" },
    Case { generation: "6.1", source: "Debian 6.1.0-50-cloud-amd64 TCG guest", lines: &["[    1.882268] clocksource: Switched to clocksource tsc"], kind: "clocksource_switched", summary: "tsc" },
    Case { generation: "6.1", source: "Debian 6.1.0-50-cloud-amd64 TCG guest", lines: &["[    1.881032] tsc: Refined TSC clocksource calibration: 2599.978 MHz"], kind: "clock_frequency", summary: "tsc 2599.978 MHz (refined)" },
    Case { generation: "6.1", source: "Debian 6.1.0-50-cloud-amd64 TCG guest", lines: &["[    0.701760] hpet0: 3 comparators, 64-bit 100.000000 MHz counter"], kind: "clock_frequency", summary: "hpet 100.000 MHz (hpet0)" },
    Case { generation: "6.1", source: "Debian 6.1.0-50-cloud-amd64 TCG guest", lines: &["[    1.881730] clocksource: tsc: mask: 0xffffffffffffffff max_cycles: 0x257a27475a6, max_idle_ns: 440795243614 ns"], kind: "clocksource_registered", summary: "tsc mask=0xffffffffffffffff max_idle_ns=440795243614" },
    // ---- 6.6 ----
    Case { generation: "6.6", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU2: wd-tsc-wd excessive read-back delay of 213450ns vs. limit of 125000ns, wd-wd read-back delay only 45230ns, attempt 3, marking tsc unstable"], kind: "clocksource_read_back_delay", summary: "tsc delay=213450ns limit=125000 attempt=3 marked=tsc cpu=2" },
    Case { generation: "6.6", source: "Debian 6.1 guest here (docs/clock-model.md)", lines: &["clocksource: Long readout interval, skipping watchdog check: cs_nsec: 7250480443 wd_nsec: 7250437990"], kind: "clocksource_long_readout", summary: "cs_nsec=7250480443 wd_nsec=7250437990 skew=42453ns" },
    Case { generation: "6.6", source: "kernel-messages.md", lines: &["clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:", "clocksource:                       'hpet' wd_nsec: 499821800 wd_now: 8f0d1800 wd_last: 8c2f5000 mask: ffffffff", "clocksource:                       'tsc' cs_nsec: 506832100 cs_now: 2f4b1c9e5a0 cs_last: 2f4457d4b80 mask: ffffffffffffffff", "clocksource:                       Clocksource 'tsc' skewed 7010300 ns (7 ms) over watchdog 'hpet' interval of 499821800 ns (499 ms)", "clocksource:                       'tsc' is current clocksource."], kind: "clocksource_skew", summary: "tsc marked unstable (skew too large) vs hpet wd_nsec=499821800 cs_nsec=506832100 skew=7010300ns (nsec) cpu=0 current=tsc" },
    Case { generation: "6.6", source: "propolis#376", lines: &["[  553.456118] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", "[  553.457413] rcu: \t0-...!: (0 ticks this GP) idle=5fc/0/0x0 softirq=11204/11204 fqs=0  (false positive?)", "[  553.460077] \t(detected by 1, t=5252 jiffies, g=12425, q=473)"], kind: "rcu_stall", summary: "rcu_sched others cpus=[0] detected_by=1 t=5252 jiffies" },
    Case { generation: "6.6", source: "linux_kernel_t113#2", lines: &["[   89.912085] rcu: rcu_sched kthread timer wakeup didn't happen for 1518 jiffies! g-1055 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402", "[   89.923288] rcu:     Possible timer handling issue on cpu=0 timer-softirq=1623"], kind: "rcu_timer_wakeup_missed", summary: "rcu_sched 1518 jiffies timer_cpu=0" },
    // ---- 6.12 ----
    Case { generation: "6.12", source: "propolis#1153 (journal)", lines: &["Jun 11 14:12:22 oxcolo kernel: rcu: INFO: rcu_preempt self-detected stall on CPU", "Jun 11 14:12:22 oxcolo kernel: rcu:         0-....: (1 GPs behind) idle=3514/0/0x3 softirq=671080/671080 fqs=3762", "Jun 11 14:12:22 oxcolo kernel: rcu:         (t=21002 jiffies g=1292137 q=85 ncpus=2)"], kind: "rcu_stall", summary: "rcu_preempt self_detected cpus=[0] detected_by=? t=21002 jiffies" },
    Case { generation: "6.12", source: "kernel-messages.md", lines: &["rcu: INFO: rcu_preempt detected stall, but suppressed full report due to a stuck CSD-lock."], kind: "rcu_stall", summary: "rcu_preempt suppressed_csd cpus=[] detected_by=? t=? jiffies" },
    Case { generation: "6.12", source: "kernel-messages.md", lines: &["clocksource: Checking clocksource tsc synchronization from CPU 1 to CPUs 0,2-3."], kind: "clocksource_sync_check", summary: "tsc from=1 to=0,2-3 ahead=? behind=? durations=?-?ns" },
    Case { generation: "6.12", source: "kernel-messages.md", lines: &["WARNING: Overflow in clocksource 'tsc' observed, time update capped."], kind: "timekeeping_debug", summary: "WARNING: Overflow in clocksource 'tsc' observed" },
    Case { generation: "6.12", source: "thesofproject#5008 (journal)", lines: &["May 20 15:52:21 ba-lnlm-rvp-nocodec-01 kernel: watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [rtcwake:72543]"], kind: "soft_lockup", summary: "cpu=1 stuck=45s [rtcwake:72543]" },
    Case { generation: "6.12", source: "kernel-messages.md", lines: &["NMI watchdog: Watchdog detected hard LOCKUP on cpu 2"], kind: "hard_lockup", summary: "cpu=2" },
    // ---- 7.x (the rewritten watchdog) ----
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest, 2 vCPUs, starved", lines: &["[   17.905703] clocksource: Marking clocksource tsc unstable due to frequency skew", "[   17.905818] clocksource: Watchdog                    hpet interval:        526952440ns", "[   17.905860] clocksource: Clocksource                  tsc interval:        529347977ns"], kind: "clocksource_freq_skew", summary: "tsc marked unstable: frequency skew against watchdog hpet, tsc interval 529347977ns vs hpet 526952440ns, skew=+2395537ns (+4546 ppm)" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest, 2 vCPUs, vCPU-thread freeze", lines: &["[   13.379015] clocksource: Marking clocksource tsc unstable due to frequency skew", "[   13.379091] clocksource: Watchdog                    hpet interval:        503267970ns", "[   13.379128] clocksource: Clocksource                  tsc interval:        505179259ns"], kind: "clocksource_freq_skew", summary: "tsc marked unstable: frequency skew against watchdog hpet, tsc interval 505179259ns vs hpet 503267970ns, skew=+1911289ns (+3797 ppm)" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest, 2 vCPUs, boot", lines: &["[    2.069711] clocksource: Watchdog remote CPU 1 read timed out"], kind: "clocksource_remote_read_timeout", summary: "cpu=1 did not answer, check skipped" },
    Case { generation: "7.x", source: "kernel/time/clocksource.c (7.x format)", lines: &["clocksource: Watchdog hpet read timed out. Readout sequence took: 73215ns"], kind: "clocksource_watchdog_read_timeout", summary: "hpet readout took 73215ns, check skipped" },
    Case { generation: "7.x", source: "kernel/time/clocksource.c (7.x format) + a 7.3.4 calibration line", lines: &["[    3.246585] tsc: Refined TSC clocksource calibration: 1996.236 MHz", "clocksource: Marking clocksource tsc unstable due to inter CPU skew", "clocksource: CPU1         52345678 < CPU0         52349678 (cycles)"], kind: "clocksource_cpu_skew", summary: "tsc marked unstable: inter-CPU skew, CPU1 read 52345678 after CPU0 read 52349678 cycles, behind by >= 2003ns" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest", lines: &["[   17.906134] tsc: Marking TSC unstable due to clocksource watchdog"], kind: "tsc_marked_unstable", summary: "reason=clocksource watchdog" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest", lines: &["[   17.906554] sched_clock: Marking unstable (17956959461, -50613287)<-(17921373927, -15018120)"], kind: "sched_clock_marked", summary: "unstable [17956959461, -50613287, 17921373927, -15018120]" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest", lines: &["[   17.915382] clocksource: Override clocksource tsc is unstable and not HRT compatible - cannot switch while in HRT/NOHZ mode"], kind: "clocksource_override", summary: "tsc: is unstable and not HRT compatible - cannot switch while in HRT/NOHZ mode" },
    Case { generation: "7.x", source: "Debian 7.3.4 TCG guest", lines: &["[   17.927235] clocksource: Switched to clocksource hpet"], kind: "clocksource_switched", summary: "hpet" },
];

#[test]
fn every_case_parses_to_its_event() {
    let mut failures = Vec::new();
    for c in CASES {
        let events = parse_lines(c.lines.iter().copied());
        let first = events
            .iter()
            .find(|e| e.is_clock_event() && !e.is_informational())
            .or_else(|| events.iter().find(|e| e.is_clock_event()));
        match first {
            Some(e) if e.kind() == c.kind && e.summary() == c.summary => {}
            other => failures.push(format!(
                "[{} / {}] {:?}\n   want {} `{}`\n   got  {:?}",
                c.generation,
                c.source,
                c.lines.first(),
                c.kind,
                c.summary,
                other.map(|e| (e.kind(), e.summary()))
            )),
        }
        // A grouped report is one event, whatever its line count.
        if matches!(
            c.kind,
            "clocksource_skew" | "clocksource_freq_skew" | "clocksource_cpu_skew" | "rcu_stall" | "clocksource_sync_check" | "rcu_timer_wakeup_missed"
        ) {
            let n = events.iter().filter(|e| e.is_clock_event() && !e.is_informational()).count();
            if n != 1 {
                failures.push(format!("[{} / {}] grouped into {n} events: {events:?}", c.generation, c.source));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn every_generation_has_cases() {
    for g in ["2.6.32", "3.10", "4.18", "5.14", "6.1", "6.6", "6.12", "7.x"] {
        assert!(CASES.iter().filter(|c| c.generation == g).count() >= 5, "{g}");
    }
}

#[test]
fn unmatched_lines_are_kept() {
    let ev = parse_lines(["[    1.409857] Run /init as init process", "clockstorm-probe: done: success", ""]);
    assert_eq!(
        ev,
        vec![
            KernelEvent::Other { ts_us: Some(1_409_857), text: "Run /init as init process".into() },
            KernelEvent::Other { ts_us: None, text: "clockstorm-probe: done: success".into() },
            KernelEvent::Other { ts_us: None, text: String::new() },
        ]
    );
}
