//! Probe integrity on real guests: a freeze never silences the probe, and a
//! guest whose clock stops is a finding (named, gated, exit 3), not a
//! failed run.

use std::time::Instant;

use clockstorm_protocol::{FaultDetail, GuestMessage, HarnessEvent, RecordBody, RunOutcome, RunRecord};
use clockstorm_reports::kernel_events::KernelEvent;
use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

use crate::support::*;

/// Longest the guest may go without a message outside faults, and after a
/// fault ended until its first message: the probe answers a beacon every
/// 250 ms whatever its clocks do, and a SIGSTOPped TCG guest runs again the
/// moment it is continued.
const SILENCE_LIMIT_NS: i64 = 1_000_000_000;

/// (host arrival of each guest message, fault spans as host realtime).
fn timeline(records: &[RunRecord]) -> (Vec<i64>, Vec<(i64, i64)>) {
    let mut guest = Vec::new();
    let mut faults = Vec::new();
    let mut synced = false;
    for r in records {
        match &r.body {
            RecordBody::Guest(GuestMessage::Synced(_)) => synced = true,
            RecordBody::Guest(GuestMessage::Done(_)) => break,
            RecordBody::Guest(_) if synced => guest.push(r.host_realtime_ns),
            RecordBody::Harness(HarnessEvent::FaultEnded(e)) => faults.push((e.began_realtime_ns, e.ended_realtime_ns)),
            _ => {}
        }
    }
    guest.sort_unstable();
    (guest, faults)
}

/// The longest silence between guest messages that no fault explains.
fn longest_unexplained_silence(records: &[RunRecord]) -> i64 {
    let (guest, faults) = timeline(records);
    guest
        .windows(2)
        .map(|w| {
            // Time inside faults is expected to be silent.
            let frozen: i64 = faults.iter().map(|(b, e)| (w[1].min(*e) - w[0].max(*b)).max(0)).sum();
            w[1] - w[0] - frozen
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn whole_vm_freezes_never_silence_the_probe_and_every_fault_gets_its_figure() {
    let (out, o) = clockstorm(&[
        "run",
        "idle",
        "--clocksource",
        "tsc,acpi_pm",
        // One run per clocksource: freezes of every length on acpi_pm are
        // characterize's subject (characterize.rs), and every fault of
        // every run still needs its figure here.
        "--repetitions",
        "1",
        "--duration",
        "20s",
        "--fault",
        "freeze:1s+2s",
        "--fault",
        "freeze:4s+5s",
        "--fault",
        "freeze:10s+9s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let summaries = summaries(out.path());
    assert_eq!(summaries.len(), 2);
    let (mut with, mut without) = (0, 0);
    for s in &summaries {
        let ctx = format!("{}: {:#?}", s.run_id, s.faults);
        assert_eq!(s.status, "completed", "{ctx}");
        assert_eq!(s.faults.len(), 3, "{ctx}");
        for f in &s.faults {
            if f.lost_ns.is_some() {
                with += 1;
            } else {
                without += 1;
            }
        }
        let silence = longest_unexplained_silence(&records(&records_path(out.path(), &s.run_id)));
        eprintln!("{}: longest silence outside faults {:.3} s", s.run_id, silence as f64 / 1e9);
        assert!(silence <= SILENCE_LIMIT_NS, "{}: the probe was silent {silence} ns outside faults", s.run_id);
        // Every long-readout line is about the freeze it is attached to: the
        // watchdog's interval (cs_nsec) spans that freeze, not another one.
        for f in &s.faults {
            for k in &f.kernel_events {
                if let KernelEvent::ClocksourceLongReadout { cs_nsec, .. } = k.event {
                    // The watched clock is tsc, which loses nothing: its
                    // interval is the freeze plus up to a watchdog period
                    // or two (0.5 s each).
                    let freeze_ns = f.achieved_ns as i64;
                    let ok = cs_nsec >= freeze_ns - 100_000_000 && cs_nsec <= freeze_ns + 1_500_000_000;
                    assert!(ok, "{}: fault {} ({freeze_ns} ns) got {k:?}", s.run_id, f.index);
                }
            }
        }
        // 2 s is below half a wrap (2.34 s): nothing lost; 5 s: acpi_pm loses
        // one wrap, 9 s two; tsc nothing. Each freeze is a gap of its length
        // less what the clock lost (acpi_pm jumps only by what survived the wraps).
        let wraps = |n: f64| if s.clocksource == "acpi_pm" { n * ACPI_PM_WRAP_NS } else { 0.0 };
        for (f, (secs, lost_wraps)) in s.faults.iter().zip([(2.0, 0.0), (5.0, 1.0), (9.0, 2.0)]) {
            if f.lost_ns.is_none() {
                continue; // counted below
            }
            crate::faults::assert_lost(f, wraps(lost_wraps), &ctx);
            let expected = secs - wraps(lost_wraps) / 1e9;
            let gap = f.max_gap_ns.unwrap() as f64 / 1e9;
            assert!(gap > expected - 0.1 && gap < expected + 0.5, "fault {} gap {gap} s, expected {expected}: {ctx}", f.index);
            assert!(matches!(f.detail, Some(FaultDetail::Freeze { stopped_state: Some('T') })), "{ctx}");
            // No time service in this guest: a lost wrap is never corrected,
            // and no correction is claimed (time_service.rs has chrony's).
            if lost_wraps > 0.0 && s.clocksource == "acpi_pm" {
                assert_eq!((f.recovery_s, &f.correction), (None, &None), "fault {}: {ctx}", f.index);
            }
        }
        // The kernel's watchdog noticed the long freezes on tsc.
        if s.clocksource == "tsc" {
            assert!(s.faults[1].kernel_events.iter().any(|e| e.event.kind() == "clocksource_long_readout"), "{ctx}");
        }
    }
    eprintln!("faults with a time-lost figure: {with}, without: {without}");
    assert_eq!(without, 0, "every fault of every run has a time-lost figure");
}

#[test]
fn a_guest_whose_clock_stops_is_named_with_its_evidence_and_fails_its_gate() {
    let started = Instant::now();
    let (out, o) = clockstorm(&["run", "stopped-clock"]);
    let wall = started.elapsed();
    assert_eq!(o.status.code(), Some(3), "a finding about the guest: a gate, not a failed run: {}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("the guest's clock stopped"), "said while the guest ran: {}", text(&o));
    let m = manifest(out.path());
    let run = &m.runs[0];
    let Some(RunOutcome::ClockStopped { clock, stopped_ms, evidence, .. }) = &run.outcome else { panic!("{:?}\n{}", run.outcome, text(&o)) };
    assert_eq!(clock, "monotonic");
    assert!((10_000..12_000).contains(stopped_ms), "ended once the 10 s limit passed: {stopped_ms} ms");
    assert!(evidence.contains("TSC advanced"), "{evidence}");
    // Bounded: boot, 3 s, the 4.4 s freeze, ~1 s to call it, the 10 s limit, teardown.
    assert!(wall.as_secs() < 60, "took {wall:?}");
    let s = &summaries(out.path())[0];
    assert_eq!(s.status, "clock stopped");
    assert_eq!(s.clock_stops.len(), 1, "{:#?}", s.clock_stops);
    assert!(!s.clock_stops[0].recovered());
    let f = &s.faults[0];
    assert_eq!(f.clock_stops.len(), 1, "the stop belongs to the freeze before it: {f:#?}");
    let after = f.clock_stops[0].after_start_s;
    assert!(after > 4.0 && after < 6.5, "first seen right after the 4.4 s freeze: +{after} s");
    let gates: Vec<clockstorm_reports::gates::GateResult> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("gates.json")).unwrap()).unwrap();
    assert!(gates.iter().any(|g| g.gate == "no_stopped_clock" && !g.passed), "{gates:?}");
    // Every renderer names it.
    for file in ["report.md", "report.html", "junit.xml"] {
        let body = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(body.contains("clock stopped") || body.contains("did not advance"), "{file} does not name the stopped clock");
    }
    // The records up to the end parse (a clean end: the harness ended the run).
    let recs = records(&records_path(out.path(), &run.id));
    assert!(recs.iter().any(|r| matches!(r.body, RecordBody::Guest(GuestMessage::Beacon(_)))));
    assert!(matches!(outcome(&recs), Some(RunOutcome::ClockStopped { .. })));
}
