use clockstorm_protocol::{Accel, GuestMessage, HarnessEvent, RecordBody, RunOutcome, RunRecord};

use super::*;

/// A real `guest-probe --standalone` output, cut down: hello, the initial
/// burst and step, one of each periodic message, six post-sync lines, done.
const PROBE: &str = include_str!("testdata/probe.jsonl");

fn source() -> Source<'static> {
    Source { file: "vm1.jsonl", machine: "vm1", run_id: "vm1" }
}

fn import(text: &str) -> Result<ImportedRun, ImportError> {
    convert(&source(), text)
}

fn harness_events(run: &ImportedRun) -> Vec<&HarnessEvent> {
    run.records.iter().filter_map(|r| if let RecordBody::Harness(h) = &r.body { Some(h) } else { None }).collect()
}

#[test]
fn a_probe_output_becomes_one_run_framed_like_a_harness_run() {
    let run = import(PROBE).unwrap();
    let events = harness_events(&run);
    assert!(matches!(events[0], HarnessEvent::RunStarted { accel: Accel::Standalone, qemu_argv, .. } if qemu_argv.is_empty()));
    assert!(matches!(events[1], HarnessEvent::Imported { probe_output, .. } if probe_output == "vm1.jsonl"));
    assert!(events.iter().any(|e| matches!(e, HarnessEvent::TimelineOrigin)));
    assert!(matches!(events.last(), Some(HarnessEvent::RunFinished(RunOutcome::Completed { .. }))));
    // Every probe message is kept, in order, and nothing else is invented.
    let guest = run.records.iter().filter(|r| matches!(r.body, RecordBody::Guest(_))).count();
    assert_eq!(guest, PROBE.lines().count());
    assert!(run.referenced && run.notes.is_empty());
    assert_eq!((run.run.id.as_str(), run.run.dir.as_str(), run.machine.name.as_str()), ("vm1", "runs/vm1", "vm1"));
    assert_eq!(run.machine.kernel_release, run.run.kernel);
}

#[test]
fn host_times_are_the_reference_clock_where_an_exchange_measured_it() {
    let run = import(PROBE).unwrap();
    // An exchange's line sits at its t3 plus its own offset: t2 moved on by
    // the reply's half of the round trip, on the reference host's clock.
    for r in &run.records {
        if let RecordBody::Guest(GuestMessage::Exchange(e)) = &r.body {
            assert_eq!(r.host_realtime_ns, e.t3_ns + e.offset_ns);
            assert!((r.host_realtime_ns - e.t2_ns).abs() <= e.uncertainty_ns.abs() + 1, "{r:?}");
        }
        assert_eq!(r.host_monotonic_ns, 0, "nothing measured the reference's monotonic clock");
    }
    let times: Vec<i64> = run.records.iter().map(|r| r.host_realtime_ns).collect();
    assert!(times.iter().all(|t| *t > 1_700_000_000_000_000_000), "realtime ns since the epoch");
}

#[test]
fn the_host_time_estimate_follows_the_probes_step() {
    use clockstorm_protocol::{Exchange, Synced};
    let e = Exchange::from_timestamps(0, 1_000, 11_000, 1_200); // host 10 µs ahead
    let synced = Synced { best: e, step_ns: 10_000 };
    let msgs = vec![
        GuestMessage::Exchange(e),
        GuestMessage::Synced(synced),
        // After the step the guest's clock reads host time.
        GuestMessage::Ping { seq: 1, t1_ns: 20_000 },
    ];
    assert_eq!(host_times(&msgs), vec![1_200 + e.offset_ns, 1_200 + e.offset_ns - 10_000, 20_000 + e.offset_ns - 10_000]);
    // No reference: the guest's clock is all there is.
    assert_eq!(host_times(&[GuestMessage::Ping { seq: 0, t1_ns: 5 }]), vec![5]);
}

#[test]
fn reading_back_the_records_gives_the_probes_figures_without_wall_time() {
    let run = import(PROBE).unwrap();
    let summary = clockstorm_reports::summary::summarize(&run.records);
    assert_eq!(summary.status, "completed");
    assert_eq!(summary.run_id, "vm1");
    assert!(summary.samples > 0 && summary.exchanges == 3, "{summary:?}");
    assert!(summary.offset_uncertainty_median_ns.is_some());
    // No harness saw the run's lines arrive: no wall time, overhead or boot time.
    assert_eq!((summary.wall_ms, summary.overhead_ms, summary.boot_to_hello_ms), (None, None, None));
}

#[test]
fn a_torn_last_line_is_left_out_and_noted_anything_else_is_an_error_naming_file_and_line() {
    let torn = &PROBE[..PROBE.len() - 40];
    let run = import(torn).unwrap();
    assert_eq!(run.notes.len(), 1, "{:?}", run.notes);
    assert!(run.notes[0].starts_with(&format!("vm1.jsonl:{}: the last line is cut short", PROBE.lines().count())), "{:?}", run.notes);
    // Without the done message the run did not complete, and says why.
    assert!(matches!(&run.run.outcome, Some(RunOutcome::Failed { reason, .. }) if reason.contains("ends before the probe's done")));

    // The same damage in the middle is not a torn write.
    let mut lines: Vec<&str> = PROBE.lines().collect();
    lines[3] = "{\"type\":\"exch";
    let e = import(&(lines.join("\n") + "\n")).unwrap_err().to_string();
    assert!(e.starts_with("vm1.jsonl:4: not a probe message: "), "{e}");

    assert_eq!(import("").unwrap_err().to_string(), "vm1.jsonl: empty: not a `guest-probe --standalone` output (it starts with the probe's hello)");
    assert_eq!(import("\n\n").unwrap_err().to_string(), "vm1.jsonl: empty: not a `guest-probe --standalone` output (it starts with the probe's hello)");
    let e = import("{\"host_realtime_ns\":1,\"host_monotonic_ns\":1,\"harness\":{\"event\":\"sentinel_seen\"}}\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("vm1.jsonl:1: not a `guest-probe --standalone` output"), "{e}");
    let e = import("hello world\n").unwrap_err().to_string();
    assert!(e.starts_with("vm1.jsonl:1: not a"), "{e}");

    let old = PROBE.replacen("\"protocol_version\":3", "\"protocol_version\":1", 1);
    let e = import(&old).unwrap_err().to_string();
    assert!(e.starts_with("vm1.jsonl:1: probe speaks protocol version 1"), "{e}");

    let other = PROBE.replacen("\"current\":\"tsc\"", "\"current\":\"hyperv_clocksource_tsc_page\"", 1);
    let e = import(&other).unwrap_err().to_string();
    assert!(e.starts_with("vm1.jsonl: the machine ran on clocksource \"hyperv_clocksource_tsc_page\""), "{e}");
}

#[test]
fn run_ids_come_from_machine_names_and_stay_apart() {
    assert_eq!(sanitize("vm-1.example.org"), "vm-1-example-org");
    assert_eq!(sanitize(""), "probe");
    let first = import(PROBE).unwrap();
    assert_eq!(super::unique_id("vm1", std::slice::from_ref(&first)), "vm1-2");
    assert_eq!(super::file_stem(std::path::Path::new("/x/db-3.probe.jsonl")), "db-3");
}

#[test]
fn the_manifest_names_the_machine_and_the_reference_and_claims_no_qemu() {
    let run = import(PROBE).unwrap();
    let files = vec!["vm1.jsonl".to_owned()];
    let reference = Reference { name: Some("ref1".into()), here: None };
    let command_line = vec!["clockstorm".into(), "import-standalone".into(), "vm1.jsonl".into(), "--out".into(), "res".into()];
    let manifest = build_manifest(&[run], &files, "ab".repeat(32), command_line, reference);
    let mut value = serde_json::to_value(&manifest).unwrap();
    // Changes with every release, says nothing about the import.
    value["clockstorm_version"] = "[version]".into();
    insta::assert_snapshot!(serde_json::to_string_pretty(&value).unwrap());
    // What `report` reads back is what was written.
    let back: clockstorm_protocol::Manifest = serde_json::from_str(&serde_json::to_string(&manifest).unwrap()).unwrap();
    assert_eq!(back, manifest);
}

#[test]
fn records_round_trip_through_the_record_reader() {
    let run = import(PROBE).unwrap();
    for r in &run.records {
        let line = serde_json::to_string(r).unwrap();
        assert_eq!(&RunRecord::from_line(line.as_bytes()).unwrap(), r, "{line}");
    }
}

#[test]
fn without_a_reference_the_manifest_names_no_host_and_says_whose_clock_the_times_are() {
    // The probe's output with every exchange-related line left out.
    let text: String = PROBE
        .lines()
        .filter(|l| !l.contains("\"type\":\"exchange\"") && !l.contains("\"type\":\"synced\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let lone = import(&text).unwrap();
    assert!(!lone.referenced);
    let reference = || Reference { name: Some("ref1".into()), here: None };
    let m = build_manifest(std::slice::from_ref(&lone), &["vm1.jsonl".into()], String::new(), vec![], reference());
    let info = m.standalone.unwrap();
    assert_eq!(info.reference_host, None);
    assert!(info.host_times.starts_with("the guest's own CLOCK_REALTIME"), "{}", info.host_times);
    assert!(m.host.cpu_model.starts_with("no host"), "{}", m.host.cpu_model);
    // One VM with a reference, one without: each is said.
    let mut with = import(PROBE).unwrap();
    with.run.id = "vm2".into();
    let m = build_manifest(&[lone, with], &[], String::new(), vec![], reference());
    let info = m.standalone.unwrap();
    assert_eq!(info.reference_host.as_deref(), Some("ref1"));
    assert!(info.host_times.starts_with("runs vm1 had no reference"), "{}", info.host_times);
}
