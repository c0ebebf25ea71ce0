//! Multi-line reports stay one event when other CPUs' lines interleave.

use clockstorm_reports::kernel_events::{parse_lines, parse_message, CurrentClocksource, KernelEvent, Parser, SkewSign, SkewSource};

use crate::read_fixture;

#[test]
fn interleaved_skew_report_and_rcu_stall_are_grouped() {
    let text = read_fixture("interleaved.log");
    let events = parse_lines(text.lines());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "clocksource_skew",
            "soft_lockup",
            "rcu_stall",
            "other",
            "tsc_marked_unstable",
            "clocksource_sync_check",
            "sched_clock_marked",
            "clocksource_switched"
        ]
    );
    match &events[0] {
        KernelEvent::ClocksourceSkew { clocksource, watchdog, skew_ns, skew_sign, skew_source, wd_interval_ns, current, lines, .. } => {
            assert_eq!(clocksource, "tsc");
            assert_eq!(watchdog.as_deref(), Some("hpet"));
            assert_eq!(*skew_ns, Some(7_010_300));
            assert_eq!(*skew_sign, Some(SkewSign::Positive));
            assert_eq!(*skew_source, Some(SkewSource::Nsec));
            assert_eq!(*wd_interval_ns, Some(499_821_800));
            assert_eq!(current, &Some(CurrentClocksource::Is { name: "tsc".into() }));
            assert_eq!(*lines, 5);
        }
        e => panic!("{e:?}"),
    }
    match &events[2] {
        KernelEvent::RcuStall { cpus, detected_by, t_jiffies, lines, .. } => {
            assert_eq!(cpus, &[1, 3]);
            assert_eq!((*detected_by, *t_jiffies, *lines), (Some(0), Some(38227), 4));
        }
        e => panic!("{e:?}"),
    }
    match &events[5] {
        KernelEvent::ClocksourceSyncCheck { cpus_ahead, check_max_ns, lines, .. } => {
            assert_eq!((cpus_ahead.as_deref(), *check_max_ns, *lines), (Some("1"), Some(2345), 3));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn two_skew_reports_of_two_cpus_interleaved() {
    let lines = [
        "clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:",
        "clocksource: timekeeping watchdog on CPU1: Marking clocksource 'hpet' as unstable because the skew is too large:",
        "clocksource:                       'hpet' wd_nsec: 500000000 wd_now: 1 wd_last: 0 mask: ffffffff",
        "clocksource:                       'acpi_pm' wd_nsec: 500000000 wd_now: 1 wd_last: 0 mask: ffffff",
        "clocksource:                       'hpet' cs_nsec: 400000000 cs_now: 1 cs_last: 0 mask: ffffffff",
        "clocksource:                       'tsc' cs_nsec: 7500000000 cs_now: 1 cs_last: 0 mask: ffffffffffffffff",
        "clocksource:                       'tsc' is current clocksource.",
        "clocksource:                       'tsc' (not 'hpet') is current clocksource.",
    ];
    let events = parse_lines(lines);
    assert_eq!(events.len(), 2, "{events:?}");
    let skews: Vec<(String, Option<String>, Option<i64>)> = events
        .iter()
        .map(|e| match e {
            KernelEvent::ClocksourceSkew { clocksource, watchdog, skew_ns, .. } => (clocksource.clone(), watchdog.clone(), *skew_ns),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(skews[0], ("tsc".into(), Some("hpet".into()), Some(7_000_000_000)));
    assert_eq!(skews[1], ("hpet".into(), Some("acpi_pm".into()), Some(-100_000_000)));
}

#[test]
fn legacy_418_skew_is_computed_from_cycles_with_the_logged_tsc_frequency() {
    // QEMU-like: hpet 100 MHz watchdog frozen while the TSC ran 7 s more.
    let events = parse_lines([
        "[    0.000000] tsc: Detected 2600.000 MHz processor",
        "[  120.500000] clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc' as unstable because the skew is too large:",
        "[  120.500010] clocksource:                       'hpet' wd_now: 2faf080 wd_last: 0 mask: ffffffff",
        // 7.5 s of TSC at 2.6 GHz = 19_500_000_000 cycles = 0x48A4A6300
        "[  120.500020] clocksource:                       'tsc' cs_now: 48a4a6300 cs_last: 0 mask: ffffffffffffffff",
    ]);
    match &events[1] {
        KernelEvent::ClocksourceSkew { wd_nsec, cs_nsec, skew_ns, skew_sign, skew_source, wd_freq_hz, cs_freq_hz, .. } => {
            assert_eq!((*wd_nsec, *cs_nsec), (Some(500_000_000), Some(7_500_000_000)));
            assert_eq!(*skew_ns, Some(7_000_000_000));
            assert_eq!(*skew_sign, Some(SkewSign::Positive));
            assert_eq!(*skew_source, Some(SkewSource::Cycles));
            assert_eq!((*wd_freq_hz, *cs_freq_hz), (Some(100_000_000), Some(2_600_000_000)));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn acpi_pm_wrap_is_masked() {
    // propolis#328: acpi_pm wd_now < wd_last, 24-bit mask.
    let events = parse_lines([
        "[ 8996.144253] clocksource: timekeeping watchdog on CPU2: Marking clocksource 'tsc' as unstable because the skew is too large:",
        "[ 8996.144260] clocksource:                       'acpi_pm' wd_now: f4b7d wd_last: 6c50c5 mask: ffffff",
        "[ 8996.144261] clocksource:                       'tsc' cs_now: 1ca324f62cac cs_last: 1ca0b7a50c00 mask: ffffffffffffffff",
    ]);
    // No TSC frequency in this excerpt: cycles are kept, no skew invented.
    match &events[0] {
        KernelEvent::ClocksourceSkew { wd_mask, skew_ns, cs_freq_hz, lines, .. } => {
            assert_eq!((*wd_mask, *skew_ns, *cs_freq_hz, *lines), (Some(0xffffff), None, None, 3));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_header_alone_is_flushed_after_the_window_and_at_finish() {
    let mut p = Parser::new();
    let mut out = p.push_line("[ 1.0] clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:");
    assert!(out.is_empty());
    for i in 0..clockstorm_reports::kernel_events::group::WINDOW {
        out.extend(p.push_line(&format!("[ 2.{i:06}] unrelated line {i}")));
    }
    assert_eq!(out.first().map(|e| e.kind()), Some("clocksource_skew"), "{out:?}");
    assert_eq!(out.len() as u64, 1 + clockstorm_reports::kernel_events::group::WINDOW, "order kept, nothing lost");
    let mut p = Parser::new();
    assert!(p.push_line("rcu: INFO: rcu_preempt self-detected stall on CPU").is_empty());
    assert_eq!(p.finish().len(), 1);
}

#[test]
fn detail_lines_without_a_header_are_kept_as_other() {
    let events = parse_lines(["clocksource:                       'tsc' is current clocksource.", "\t(detected by 0, t=5 jiffies, g=1, q=1)"]);
    assert!(events.iter().all(|e| e.kind() == "other"), "{events:?}");
    assert_eq!(events.len(), 2);
}

#[test]
fn rcu_boot_lines_with_tabs_are_not_stall_details() {
    let events = parse_lines([
        "[    0.101657] rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=1.",
        "[    0.569151] rcu: \tMax phase no-delay instances is 1000.",
    ]);
    assert!(events.iter().all(|e| e.kind() == "other"));
}

#[test]
fn parse_message_classifies_a_lone_kmsg_record() {
    let e = parse_message(Some(12_066_582), "clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720");
    assert_eq!(e.kind(), "clocksource_long_readout");
    assert_eq!(e.ts_us(), Some(12_066_582));
    let h = parse_message(Some(1), "clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:");
    assert_eq!(h.kind(), "clocksource_skew");
    let o = parse_message(None, "anything");
    assert_eq!(o, KernelEvent::Other { ts_us: None, text: "anything".into() });
}

#[test]
fn events_round_trip_through_json() {
    let events = parse_lines(read_fixture("formats-6.6.log").lines());
    for e in events {
        let j = serde_json::to_string(&e).unwrap();
        let back: KernelEvent = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
        assert!(j.starts_with(&format!("{{\"kind\":\"{}\"", e.kind())), "{j}");
    }
}

#[test]
fn frequency_skew_report_of_7x_is_grouped_across_other_lines() {
    // The lines of a 7.3.4 guest, with another CPU's lines in between.
    let lines = [
        "[   17.905703] clocksource: Marking clocksource tsc unstable due to frequency skew",
        "[   17.905750] rcu: INFO: rcu_preempt detected stall, but suppressed full report due to a stuck CSD-lock.",
        "[   17.905818] clocksource: Watchdog                    hpet interval:        526952440ns",
        "[   17.905830] some driver: unrelated",
        "[   17.905860] clocksource: Clocksource                  tsc interval:        529347977ns",
        "[   17.906134] tsc: Marking TSC unstable due to clocksource watchdog",
    ];
    let events = parse_lines(lines);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["clocksource_freq_skew", "rcu_stall", "other", "tsc_marked_unstable"]);
    assert_eq!(
        events[0],
        KernelEvent::ClocksourceFreqSkew {
            ts_us: Some(17_905_703),
            clocksource: "tsc".into(),
            watchdog: Some("hpet".into()),
            wd_interval_ns: Some(526_952_440),
            cs_interval_ns: Some(529_347_977),
            skew_ns: Some(2_395_537),
            skew_sign: Some(SkewSign::Positive),
            skew_ppm: Some(4546),
            lines: 3,
        }
    );
    assert!(events[0].summary().starts_with("tsc marked unstable: frequency skew against watchdog hpet"), "{}", events[0].summary());
}

#[test]
fn frequency_skew_detail_lines_alone_are_other() {
    let events = parse_lines([
        "clocksource: Watchdog                    hpet interval:        526952440ns",
        "clocksource: Clocksource                  tsc interval:        529347977ns",
        "clocksource: CPU1         52345678 < CPU0         52349678 (cycles)",
    ]);
    assert!(events.iter().all(|e| e.kind() == "other"), "{events:?}");
    // The header alone still says what happened.
    let e = parse_message(Some(1), "clocksource: Marking clocksource acpi_pm unstable due to frequency skew");
    assert!(
        matches!(&e, KernelEvent::ClocksourceFreqSkew { clocksource, watchdog: None, skew_ns: None, lines: 1, .. } if clocksource == "acpi_pm"),
        "{e:?}"
    );
    assert_eq!(e.summary(), "acpi_pm marked unstable: frequency skew against watchdog ?");
}

#[test]
fn negative_frequency_skew_has_a_negative_sign() {
    let events = parse_lines([
        "clocksource: Marking clocksource acpi_pm unstable due to frequency skew",
        "clocksource: Watchdog                    hpet interval:        500000000ns",
        "clocksource: Clocksource              acpi_pm interval:        497500000ns",
    ]);
    match &events[0] {
        KernelEvent::ClocksourceFreqSkew { watchdog, skew_ns, skew_sign, skew_ppm, .. } => {
            assert_eq!((watchdog.as_deref(), *skew_ns, *skew_sign, *skew_ppm), (Some("hpet"), Some(-2_500_000), Some(SkewSign::Negative), Some(-5000)));
        }
        e => panic!("{e:?}"),
    }
}

/// The inter-CPU skew report prints raw counter values; the frequency comes
/// from the same log: the TSC's calibration line, the hpet0 line, or
/// acpi_pm's fixed 3.579545 MHz.
#[test]
fn inter_cpu_skew_cycles_become_ns_with_the_frequency_of_the_same_log() {
    let tsc = parse_lines([
        "[    0.056000] tsc: Detected 1996.184 MHz processor",
        "[    3.020289] tsc: Refined TSC clocksource calibration: 2000.000 MHz",
        "[   20.000000] clocksource: Marking clocksource tsc unstable due to inter CPU skew",
        "[   20.000001] clocksource: CPU1         52345678 < CPU0         52349678 (cycles)",
    ]);
    let ev = tsc.iter().find(|e| e.kind() == "clocksource_cpu_skew").unwrap();
    assert_eq!(
        ev,
        &KernelEvent::ClocksourceCpuSkew {
            ts_us: Some(20_000_000),
            clocksource: "tsc".into(),
            behind_cpu: Some(1),
            behind_cycles: Some(52_345_678),
            ahead_cpu: Some(0),
            ahead_cycles: Some(52_349_678),
            cs_freq_hz: Some(2_000_000_000),
            behind_by_ns: Some(2000),
            lines: 2,
        }
    );
    // No calibration line in the log: the cycles stay cycles.
    let bare = parse_lines(["clocksource: Marking clocksource tsc unstable due to inter CPU skew", "clocksource: CPU1 10 < CPU0 20 (cycles)"]);
    assert!(matches!(bare[0], KernelEvent::ClocksourceCpuSkew { cs_freq_hz: None, behind_by_ns: None, behind_cycles: Some(10), .. }), "{bare:?}");
    // hpet at the rate its hpet0 line printed; acpi_pm at 3.579545 MHz.
    let hpet = parse_lines([
        "[    1.842342] hpet0: 3 comparators, 64-bit 24.000000 MHz counter",
        "clocksource: Marking clocksource hpet unstable due to inter CPU skew",
        "clocksource: CPU3             1000 < CPU0             1024 (cycles)",
    ]);
    assert!(matches!(hpet.last().unwrap(), KernelEvent::ClocksourceCpuSkew { cs_freq_hz: Some(24_000_000), behind_by_ns: Some(1000), .. }), "{hpet:?}");
    let pm = parse_lines(["clocksource: Marking clocksource acpi_pm unstable due to inter CPU skew", "clocksource: CPU1 0 < CPU0 3579545 (cycles)"]);
    assert!(matches!(pm[0], KernelEvent::ClocksourceCpuSkew { cs_freq_hz: Some(3_579_545), behind_by_ns: Some(1_000_000_000), .. }), "{pm:?}");
}

#[test]
fn watchdog_timeouts_of_7x_are_single_line_events() {
    let mut p = Parser::new();
    let mut ev = p.push_line("[    2.069711] clocksource: Watchdog remote CPU 1 read timed out");
    ev.extend(p.push_line("[   30.000000] clocksource: Watchdog acpi_pm read timed out. Readout sequence took: 120345ns"));
    ev.extend(p.finish());
    assert_eq!(
        ev,
        vec![
            KernelEvent::ClocksourceRemoteReadTimeout { ts_us: Some(2_069_711), cpu: 1 },
            KernelEvent::ClocksourceWatchdogReadTimeout { ts_us: Some(30_000_000), watchdog: "acpi_pm".into(), readout_ns: 120_345 },
        ]
    );
}
