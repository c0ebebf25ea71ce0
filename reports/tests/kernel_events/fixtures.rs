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
