//! One insta snapshot of the parsed events per fixture file.

use clockstorm_reports::kernel_events::{parse_messages, parse_text, KernelEvent};

use crate::{fixture_dir, read_fixture};

fn snapshot_name(file: &str) -> String {
    file.trim_end_matches(".log").trim_end_matches(".jsonl").replace('.', "_")
}

#[test]
fn every_log_fixture_matches_its_snapshot() {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "fixtures: {names:?}");
    for name in names {
        let text = read_fixture(&name);
        let events = parse_text(&text);
        // Never dropped: at least one event per non-empty line that is not
        // a detail line folded into a group.
        assert!(!events.is_empty(), "{name}");
        insta::assert_yaml_snapshot!(snapshot_name(&name), events);
    }
}

#[test]
fn kmsg_records_of_the_debian_guest() {
    let text = read_fixture("guest-debian-6.1.0-50-tcg-tsc.kmsg.jsonl");
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = parse_messages(records.iter().map(|r| (r["ts_us"].as_u64(), r["message"].as_str().unwrap())));
    assert_eq!(events.len(), records.len());
    let long: Vec<&KernelEvent> = events.iter().filter(|e| e.kind() == "clocksource_long_readout").collect();
    assert_eq!(long.len(), 2);
    assert_eq!(
        long[1],
        &KernelEvent::ClocksourceLongReadout {
            ts_us: Some(12_066_582),
            cs_nsec: 6_473_708_936,
            wd_nsec: 6_473_653_720,
            skew_ns: 55_216,
            skew_sign: clockstorm_reports::kernel_events::SkewSign::Positive,
        }
    );
    insta::assert_yaml_snapshot!("guest_kmsg_debian_6_1_0_50_tcg_tsc", events);
}

#[test]
fn console_and_kmsg_agree_on_the_guest_clock_events() {
    let console = parse_text(&read_fixture("guest-debian-6.1.0-50-tcg-tsc.console.log"));
    let kmsg_text = read_fixture("guest-debian-6.1.0-50-tcg-tsc.kmsg.jsonl");
    let kmsg = parse_messages(
        kmsg_text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["ts_us"].as_u64(), v["message"].as_str().unwrap().to_string())
            })
            .collect::<Vec<_>>()
            .iter()
            .map(|(t, m)| (*t, m.as_str())),
    );
    let pick = |evs: &[KernelEvent]| -> Vec<KernelEvent> {
        evs.iter()
            .filter(|e| matches!(e.kind(), "clocksource_long_readout" | "clocksource_switched" | "clock_frequency"))
            .cloned()
            .collect()
    };
    assert_eq!(pick(&console), pick(&kmsg));
}

/// The clock events (not boot bookkeeping) of one fixture, as `kind` names.
fn clock_kinds(events: &[KernelEvent]) -> Vec<&'static str> {
    events.iter().filter(|e| e.is_clock_event() && !e.is_informational()).map(|e| e.kind()).collect()
}

/// The Debian 7.3.4 guests booted here (TCG) and what each was provoked
/// into printing by the rewritten clocksource watchdog; the 6.12 guests
/// given the same faults print the old skew report instead.
#[test]
fn guests_of_7x_and_6_12_print_what_their_faults_provoked() {
    const UNSTABLE_7X: &[&str] =
        &["clocksource_freq_skew", "tsc_marked_unstable", "tsc_unstable_after_boot", "sched_clock_marked", "clocksource_override", "clocksource_switched"];
    let boot = ["clocksource_switched", "sched_clock_marked", "clocksource_switched"];
    let cases: &[(&str, Vec<&str>)] = &[
        ("guest-debian-7.3.4-tcg-tsc-2vcpu-starve.console.log", [&boot[..1], &["clocksource_remote_read_timeout"], &boot[1..], UNSTABLE_7X].concat()),
        ("guest-debian-7.3.4-tcg-tsc-2vcpu-vcpu-freeze.console.log", [&boot[..1], &["clocksource_remote_read_timeout"], &boot[1..], UNSTABLE_7X].concat()),
        ("guest-debian-7.3.4-tcg-tsc-2vcpu-pause.console.log", [&boot[..], UNSTABLE_7X].concat()),
        ("guest-debian-7.3.4-tcg-tsc-2vcpu-nohpet-starve.console.log", [&boot[..], &["clocksource_remote_read_timeout"], UNSTABLE_7X].concat()),
        ("guest-debian-7.3.4-tcg-tsc-2vcpu-rt-starve.console.log", [&boot[..], &["clocksource_remote_read_timeout"]].concat()),
        ("guest-debian-7.3.4-tcg-tsc-unbind.console.log", [&boot[..], &["clocksource_switched"]].concat()),
        ("guest-debian-7.3.4-tcg-tsc-unbind-nohpet.console.log", [&boot[..], &["clocksource_switched"]].concat()),
        (
            "guest-debian-6.12.117-tcg-tsc-2vcpu-vcpu-freeze.console.log",
            [
                &boot[..],
                &[
                    "clocksource_long_readout",
                    "clocksource_skew",
                    "tsc_marked_unstable",
                    "tsc_unstable_after_boot",
                    "sched_clock_marked",
                    "clocksource_sync_check",
                    "clocksource_override",
                    "clocksource_switched",
                    "hrtimer_interrupt_took",
                ],
            ]
            .concat(),
        ),
        (
            "guest-debian-6.12.117-tcg-tsc-2vcpu-pause.console.log",
            [
                &boot[..],
                &[
                    "clocksource_skew",
                    "tsc_marked_unstable",
                    "tsc_unstable_after_boot",
                    "sched_clock_marked",
                    "clocksource_sync_check",
                    "clocksource_override",
                    "clocksource_switched",
                    "hrtimer_interrupt_took",
                ],
            ]
            .concat(),
        ),
    ];
    for (name, want) in cases {
        let events = parse_text(&read_fixture(name));
        assert_eq!(&clock_kinds(&events), want, "{name}");
        // Every skew report says in plain words what the kernel did.
        for e in events.iter().filter(|e| matches!(e.kind(), "clocksource_freq_skew" | "clocksource_skew")) {
            assert!(e.summary().starts_with("tsc marked unstable"), "{name}: {}", e.summary());
        }
    }
    // The figures of each 7.x frequency skew, and the watchdog it was measured against.
    type Skew = (String, Option<String>, Option<i64>, Option<i64>);
    let skews: Vec<Skew> = cases
        .iter()
        .flat_map(|(name, _)| parse_text(&read_fixture(name)))
        .filter_map(|e| match e {
            KernelEvent::ClocksourceFreqSkew { clocksource, watchdog, skew_ns, skew_ppm, .. } => Some((clocksource, watchdog, skew_ns, skew_ppm)),
            _ => None,
        })
        .collect();
    let s = |w: &str, ns: i64, ppm: i64| ("tsc".to_string(), Some(w.to_string()), Some(ns), Some(ppm));
    assert_eq!(skews, [s("hpet", 2_395_537, 4546), s("hpet", 1_911_289, 3797), s("hpet", 13_061_558, 25968), s("acpi_pm", 1_466_573, 2897)]);
}

#[test]
fn kmsg_records_of_the_7x_guest_agree_with_its_console() {
    let console = parse_text(&read_fixture("guest-debian-7.3.4-tcg-tsc-2vcpu-starve.console.log"));
    let text = read_fixture("guest-debian-7.3.4-tcg-tsc-2vcpu-starve.kmsg.jsonl");
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kmsg = parse_messages(records.iter().map(|r| (r["ts_us"].as_u64(), r["message"].as_str().unwrap())));
    // The three lines of the frequency-skew report are one event.
    assert_eq!(kmsg.len(), records.len() - 2);
    let clock = |evs: &[KernelEvent]| -> Vec<KernelEvent> { evs.iter().filter(|e| e.is_clock_event()).cloned().collect() };
    assert_eq!(clock(&console), clock(&kmsg));
    insta::assert_yaml_snapshot!("guest_kmsg_debian_7_3_4_tcg_tsc_2vcpu_starve", kmsg);
}
