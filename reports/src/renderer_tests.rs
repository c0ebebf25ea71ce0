//! Snapshots of every renderer on a fixed fixture (fixed times, paths and
//! host: nothing to redact).

use clockstorm_protocol::*;

use crate::gates::GateResult;
use crate::model::build;
use crate::summary::tests::completed_run;

fn manifest() -> Manifest {
    crate::fixtures::manifest(vec![])
}

fn fault(index: usize, kind: FaultKindName, length_ms: u64, lost_ns: i64) -> crate::faults::FaultSummary {
    crate::faults::FaultSummary {
        index,
        kind,
        planned_start_ms: 2_000,
        planned_duration_ms: length_ms,
        achieved_ns: length_ms * 1_000_000,
        error: None,
        lost_ns: Some(lost_ns),
        lost_uncertainty_ns: Some(300_000),
        rate: None,
        max_gap_ns: Some(length_ms * 1_000_000),
        detail: None,
        kernel_events: vec![],
        recovery_s: None,
        correction: None,
        clock_stops: Vec::new(),
        rt_throttled_ns: None,
        backsteps: Vec::new(),
    }
}

fn report() -> crate::model::Report {
    let mut a = crate::summarize(&completed_run());
    a.run_id = "vf-reload-hpet.r0".into();
    // hpet loses nothing on a 2 s freeze (as the model says) and, in this
    // made-up fixture, 4.69 s on a 6 s one (which the model flags).
    a.faults = vec![fault(0, FaultKindName::Freeze, 2_000, 40_000), fault(1, FaultKindName::Freeze, 6_000, 4_687_000_000)];
    let mut b = a.clone();
    b.run_id = "vf-reload-hpet.r1".into();
    b.max_gap_ns = Some(9_000_000);
    b.read_cost_ns = Some(1600.0);
    b.faults = vec![fault(0, FaultKindName::Freeze, 2_000, -20_000), fault(1, FaultKindName::Freeze, 6_000, 4_687_100_000)];
    // Its guest sent garbage and a line of 4 MiB; its record file ends torn.
    b.channel = Some(ChannelHealth {
        messages: 1_200,
        bytes: 4_500_000,
        malformed_lines: 3,
        overlong_lines: 1,
        longest_line_bytes: 4 << 20,
        line_cap_bytes: 256 << 10,
        first_offending: Some("\\xff\\x00not json".into()),
        peak_messages_per_s: 80,
        backlog_cap_bytes: 4 << 20,
        harness_peak_rss_kib: Some(12_288),
        ..ChannelHealth::default()
    });
    b.undecodable_lines = 1;
    let gates = vec![
        GateResult { run_id: a.run_id.clone(), gate: "max_gap".into(), passed: true, message: "max gap 7000000 ns, allowed 8000000 ns".into() },
        GateResult { run_id: b.run_id.clone(), gate: "max_gap".into(), passed: false, message: "max gap 9000000 ns, allowed 8000000 ns".into() },
    ];
    build(manifest(), vec![a, b], vec![], gates)
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(crate::markdown::render(&report()));
}

/// The fixture with comparisons, kernel events and a baseline in which
/// acpi_pm lost less: a regression, and hpet unchanged.
fn compared_report() -> crate::model::Report {
    let mut r = crate::fixtures::report();
    let mut before = r.runs.clone();
    for run in before.iter_mut().filter(|run| run.clocksource == "acpi_pm") {
        for f in &mut run.faults {
            f.lost_ns = f.lost_ns.map(|l| l - 4_000_000_000);
        }
    }
    r.baseline = Some(crate::model::compare_with_baseline(&r.runs, &before, "results/last-week", &r.provenance));
    r
}

#[test]
fn markdown_with_comparisons_and_baseline_snapshot() {
    let r = compared_report();
    let b = r.baseline.as_ref().unwrap();
    assert_eq!(b.regressions(), 1, "{:#?}", b.changes);
    insta::assert_snapshot!(crate::markdown::render(&r));
}

#[test]
fn terminal_comparisons_snapshot() {
    insta::assert_snapshot!(crate::terminal::render_comparisons(&compared_report()));
}

#[test]
fn json_snapshot() {
    // The model itself, as `report --format json` prints it; the plot
    // series cut to two points each to keep the snapshot readable.
    let mut r = compared_report();
    for s in &mut r.series {
        s.offset_ms.truncate(2);
        s.backlog_ticks.truncate(2);
        s.latency_p99_cdf.truncate(2);
        s.gap_histogram.truncate(2);
    }
    r.runs.truncate(2);
    insta::assert_json_snapshot!(r);
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!(crate::junit::render(&report()));
}

#[test]
fn json_snapshot_is_the_model_itself() {
    let r = report();
    let json = serde_json::to_string_pretty(&r).unwrap();
    assert_eq!(serde_json::from_str::<crate::model::Report>(&json).unwrap(), r);
    assert_eq!(r.schema_version, crate::model::REPORT_SCHEMA_VERSION);
    // Two repetitions of one combination: statistics over them.
    let gap = r.groups.iter().find(|g| g.metric == "max gap").unwrap();
    assert_eq!((gap.group.as_str(), gap.mean.n, gap.mean.mean), ("vf-reload-hpet", 2, 8.0));
    assert!(gap.mean.low < 8.0 && gap.mean.high > 8.0);
}

#[test]
fn terminal_runs_snapshot() {
    insta::assert_snapshot!(crate::terminal::render(&report().runs));
}

/// A degraded channel and a torn record file are named by every renderer, in
/// the same words (the JSON carries the counts they are made from).
#[test]
fn every_renderer_names_a_degraded_channel_alike() {
    let r = report();
    let note = crate::channel::note(&r.runs[1]).expect("run b is degraded");
    assert!(note.starts_with("data channel degraded (malformed, overlong): 3 malformed line(s) skipped"), "{note}");
    assert!(crate::channel::note(&r.runs[0]).is_none());
    assert!(crate::terminal::render(&r.runs).contains(&format!("hpet.r1: {note}")));
    assert!(crate::markdown::render(&r).contains(&format!("- `vf-reload-hpet.r1`: {note}")));
    let html = crate::html::render(&r);
    assert!(html.contains("data channel degraded (malformed, overlong): 3 malformed line(s) skipped"), "html");
    assert!(html.contains("records: 1 line(s) did not decode"), "html");
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["runs"][1]["channel"]["malformed_lines"], 3);
    assert_eq!(json["runs"][1]["channel"]["longest_line_bytes"], 4 << 20);
    assert_eq!(json["runs"][1]["undecodable_lines"], 1);
}

#[test]
fn a_timer_that_stopped_firing_is_named_in_the_terminal_and_in_markdown() {
    let mut r = report();
    let stop = crate::liveness::TimerStop {
        wakeups: 1976,
        last_wake_mono_ns: 13_314_475_439,
        first_seen_ns: 1_000_000_000,
        last_seen_ns: 16_970_000_000,
        guest_advanced_ns: 15_620_000_000,
        beacons: 100,
        resumed_ns: None,
    };
    r.runs[0].timer_stops.push(stop.clone());
    let line = format!("{}: {}", "hpet.r0", stop.evidence());
    let terminal = crate::terminal::render(&r.runs);
    assert!(terminal.contains(&line), "{terminal}");
    let markdown = crate::markdown::render(&r);
    assert!(markdown.contains("**Guest timers that stopped firing**") && markdown.contains(&stop.evidence()), "{markdown}");
    let html = crate::html::render(&r);
    assert!(html.contains(&stop.evidence().replace('\'', "&#39;")), "the HTML run table names it too");
    // Absent from a run whose timer kept firing: no empty section.
    assert!(!crate::markdown::render(&report()).contains("stopped firing"));
}
