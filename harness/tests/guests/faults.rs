//! Faults on real TCG guests, asserted from the probe's host-offset
//! measurements (docs/clock-model.md, "The kinds of freeze").
//!
//! Tolerance for "time lost": 10 ms plus the measured bound of the two
//! exchanges that bracket the fault. Exchanges here are bounded to ~0.3 ms
//! at the median and the fault summary picks the tightest of 8 on each side;
//! 10 ms absorbs a loaded CI host while staying 470x below one acpi_pm wrap.

use clockstorm_protocol::FaultDetail;
use clockstorm_reports::faults::FaultSummary;

use crate::support::*;

use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

pub fn assert_lost(f: &FaultSummary, expected_ns: f64, ctx: &str) {
    let lost = f.lost_ns.unwrap_or_else(|| panic!("no time-lost figure for fault {}: {ctx}", f.index)) as f64;
    let bound = clockstorm_reports::predict::tolerance_ns(f.kind, f.achieved_ns as f64) + f.lost_uncertainty_ns.unwrap() as f64;
    assert!((lost - expected_ns).abs() <= bound, "fault {} ({}): lost {lost} ns, expected {expected_ns} ± {bound}: {ctx}", f.index, f.kind);
    assert_eq!(f.error, None, "{ctx}");
}

/// hpet here; tsc and acpi_pm under the same kind of freezes, three times
/// each, in `integrity` (which checks the same figures).
#[test]
fn freezes_cost_hpet_nothing_and_a_pause_costs_its_length() {
    let (out, o) = clockstorm(&[
        "run",
        "idle",
        "--clocksource",
        "hpet",
        "--duration",
        "28s",
        "--fault",
        "freeze:1s+1.5s",
        "--fault",
        "freeze:4s+6s",
        "--fault",
        "freeze:12s+9s",
        "--fault",
        "pause:23s+3s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The report sets the clock model beside every measurement: here they agree.
    let report: clockstorm_reports::model::Report = serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report.verdicts.len(), 4, "{:#?}", report.verdicts);
    for v in &report.verdicts {
        assert!(v.predicted_ns.is_some() && !v.disagrees_with_model, "{}", v.sentence);
    }
    for s in summaries(out.path()) {
        let ctx = format!("{}: {:#?}", s.clocksource, s.faults);
        assert_eq!(s.faults.len(), 4, "{ctx}");
        // The offsets came over the shared-memory reference, with the data
        // channel's exchanges of the same run kept beside for comparison.
        assert_eq!(s.reference.as_deref(), Some("shared memory"), "{:?}", s.probe_degraded);
        assert!(s.channel_exchanges > 0 && s.channel_offset_uncertainty_median_ns.is_some(), "{s:#?}");
        let wraps = |n: f64| if s.clocksource == "acpi_pm" { n * ACPI_PM_WRAP_NS } else { 0.0 };
        // 1.5 s is below half a wrap (2.34 s): nothing lost anywhere.
        assert_lost(&s.faults[0], 0.0, &ctx);
        // 6 s: acpi_pm loses one wrap; 9 s: two. tsc and hpet nothing.
        assert_lost(&s.faults[1], wraps(1.0), &ctx);
        assert_lost(&s.faults[2], wraps(2.0), &ctx);
        // A QMP pause stops QEMU's virtual clock: everyone loses its length.
        let pause = &s.faults[3];
        let achieved = pause.achieved_ns as f64;
        assert!((achieved - 3e9).abs() < 50e6, "pause held {achieved} ns: {ctx}");
        assert_lost(pause, achieved, &ctx);
        assert!(matches!(pause.detail, Some(FaultDetail::Pause { stop_event_us: Some(_), resume_event_us: Some(_) })), "{ctx}");
        // The kernel's watchdog noticed the first two long freezes (it prints
        // again only for an interval over twice the longest so far).
        if s.clocksource == "tsc" {
            assert!(s.faults[1].kernel_events.iter().any(|e| e.event.kind() == "clocksource_long_readout"), "{ctx}");
        }
        // Each SIGSTOP freeze shows up as a gap of its length, less what the
        // clock lost: acpi_pm's clock jumps only by the part of the freeze
        // that survived the wraps (6 s - 4.687 s = 1.31 s).
        for (f, (secs, lost_wraps)) in s.faults[..3].iter().zip([(1.5, 0.0), (6.0, 1.0), (9.0, 2.0)]) {
            let expected = secs - wraps(lost_wraps) / 1e9;
            let gap = f.max_gap_ns.unwrap() as f64 / 1e9;
            assert!(
                gap > expected - 0.1 && gap < expected + 0.5,
                "fault {} gap {gap} s, expected {expected}: {}\n{ctx}",
                f.index,
                long_gaps(&records_path(out.path(), &s.run_id))
            );
            assert!(matches!(f.detail, Some(FaultDetail::Freeze { stopped_state: Some('T') })), "{ctx}");
        }
    }
}

/// What a failure needs to be understood (the results directory is gone
/// with the test): every fault's host times, and every window with a gap
/// over 100 ms with where it arrived and where its gap ended.
fn long_gaps(records_file: &std::path::Path) -> String {
    use clockstorm_protocol::{GuestMessage, HarnessEvent, RecordBody};
    let mut out = String::from("faults and windows with gaps over 100 ms (host realtime ns):");
    for r in records(records_file) {
        match r.body {
            RecordBody::Harness(HarnessEvent::FaultEnded(e)) => {
                out.push_str(&format!("\n  fault {} {:?}: {} .. {}", e.index, e.kind, e.began_realtime_ns, e.ended_realtime_ns))
            }
            RecordBody::Guest(GuestMessage::Window(w)) if w.max_gap_ns > 100_000_000 => out.push_str(&format!(
                "\n  window {} {:?}: gap {} ns ending at guest mono {} (window {}..{}), arrived {}",
                w.index, w.clock, w.max_gap_ns, w.max_gap_at_ns, w.start_ns, w.end_ns, r.host_realtime_ns
            )),
            RecordBody::Guest(GuestMessage::Gap(g)) if g.gap_ns > 100_000_000 => {
                out.push_str(&format!("\n  gap event {} ns at guest mono {}, arrived {}", g.gap_ns, g.at_ns, r.host_realtime_ns))
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_vcpu_freeze_and_starvation_show_up_in_gaps_and_missed_ticks() {
    let (out, o) = clockstorm(&[
        "run",
        "idle",
        "--clocksource",
        "hpet",
        "--duration",
        "9s",
        "--fault",
        "vcpu-freeze:1s+2s",
        "--fault",
        "starve:5s+3s,duty=80,rt=true",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = summaries(out.path()).remove(0);
    let ctx = format!("{s:#?}");
    let (freeze, starve) = (&s.faults[0], &s.faults[1]);
    assert_eq!((freeze.error.as_deref(), starve.error.as_deref()), (None, None), "{ctx}");
    // Only the vCPUs stopped: the vCPU was gone ~2 s...
    let gap = freeze.max_gap_ns.unwrap() as f64 / 1e9;
    assert!((1.9..2.5).contains(&gap), "{ctx}");
    // ...but hpet is a device clock and ran on, so the guest lost no time.
    assert_lost(freeze, 0.0, &ctx);
    assert!(matches!(&freeze.detail, Some(FaultDetail::VcpuFreeze { threads, .. }) if threads.len() == 1), "{ctx}");
    // Starved at 80 % by a real-time thread: the vCPU thread ran at most
    // ~20 % of the 3 s (plus scheduling slack) and waited for the rest.
    let Some(FaultDetail::Starve { threads, busy_threads, .. }) = &starve.detail else { panic!("{ctx}") };
    assert_eq!(*busy_threads, 1, "{ctx}");
    assert!(threads[0].run_ns < 1_200_000_000, "{ctx}");
    assert!(threads[0].wait_ns > 1_500_000_000, "{ctx}");
    // The probe saw it: gaps of the busy thread's on-time (8 ms)...
    assert!(starve.max_gap_ns.unwrap() >= 5_000_000, "{ctx}");
    // ...and timer wake-ups missed: the vCPU freeze's 2 s of them alone
    // (the scenario's rate: the default).
    let missed_s = s.ticks.as_ref().unwrap().timer_missed_wakeups as f64 / clockstorm_protocol::DEFAULT_TICK_RATE_HZ as f64;
    assert!(missed_s > 1.5, "{ctx}");
}

/// The bug that made the guardian: a harness killed with SIGKILL during a
/// vcpu-freeze left a QEMU whose vCPU thread sat in a FROZEN cgroup, a
/// zombie that could never exit. Now the guardian thaws, kills and removes.
#[test]
fn sigkill_of_the_harness_mid_vcpu_freeze_leaves_no_qemu_and_no_cgroup() {
    sigkill_mid_fault(&[], "vcpu-freeze:1s+15s");
}
