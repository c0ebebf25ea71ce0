//! chrony in a real guest, against the run's own NTP server on the host
//! (chronyd -x): a 5 s freeze on acpi_pm loses one wrap (4.687 s); chrony,
//! polling every 0.25 s and allowed to step (`makestep 0.1 -1`), puts the
//! clock back. (The same freeze without a time service is never corrected:
//! integrity.rs asserts that on its acpi_pm freezes.)
//! Asserted from the probe's exchanges, which the report reads too; the
//! service's log is checked to be there, not believed.

use clockstorm_protocol::{Exchange, FaultEffect, GuestMessage, HarnessEvent, RecordBody};
use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

use crate::faults::assert_lost;
use crate::support::*;

const SCENARIO: &str = r#"
name = "after-a-freeze"
description = "A 5 s freeze on acpi_pm with chrony in the guest"
clocksources = ["acpi_pm"]
seed = 1
faults = ["freeze:3s+5s"]

[probe]
duration = "12s"

[[variants]]
name = "chrony"
kernel_params = []
[variants.time_service]
kind = "chrony"
directives = ["makestep 0.1 -1"]
server_options = "iburst minpoll -2 maxpoll -2"

"#;

#[test]
fn chrony_corrects_a_lost_wrap_and_the_recovery_agrees_with_the_exchanges() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("after-a-freeze.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let (out, o) = clockstorm(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = manifest(out.path());
    let summaries = summaries(out.path());
    assert_eq!(summaries.len(), 1, "{}", text(&o));
    for s in &summaries {
        let ctx = format!("{}: {:#?}", s.run_id, s.faults);
        let f = &s.faults[0];
        assert_lost(f, ACPI_PM_WRAP_NS, &ctx);
        let records = records(&records_path(out.path(), &s.run_id));
        let exchanges: Vec<Exchange> = records
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Guest(GuestMessage::Exchange(e)) => Some(*e),
                _ => None,
            })
            .collect();
        let ended: &FaultEffect = records
            .iter()
            .find_map(|r| match &r.body {
                RecordBody::Harness(HarnessEvent::FaultEnded(e)) => Some(e),
                _ => None,
            })
            .expect("the fault ended");
        // The offset's level before the fault: the tightest of the last 8.
        let level = exchanges
            .iter()
            .filter(|e| e.t2_ns < ended.began_realtime_ns)
            .rev()
            .take(8)
            .min_by_key(|e| e.uncertainty_ns)
            .expect("exchanges before the fault")
            .offset_ns;
        let after: Vec<&Exchange> = exchanges.iter().filter(|e| e.t2_ns > ended.ended_realtime_ns).collect();
        let run = m.runs.iter().find(|r| r.id == s.run_id).unwrap();
        {
            assert_eq!(run.variant, "chrony");
            assert_eq!(s.time_service.as_deref(), Some("chrony"), "{ctx}");
            assert!(s.time_service_lines > 0, "{ctx}");
            assert!(run.time_service.is_some(), "{run:?}");
            let c = f.correction.as_ref().unwrap_or_else(|| panic!("no correction measured: {ctx}"));
            // chrony stepped the clock, as the exchanges show: by about the
            // lost wrap in all (it may overshoot and step back).
            assert!(!c.steps.is_empty() && c.kind.contains("stepped"), "{ctx}");
            let stepped: i64 = c.steps.iter().map(|s| s.step_ns).sum();
            let bound: i64 = c.steps.iter().map(|s| s.uncertainty_ns).sum::<i64>() + 50_000_000;
            assert!((stepped as f64 - ACPI_PM_WRAP_NS).abs() < bound as f64, "stepped {stepped} ns in all: {ctx}");
            // The recovery figure agrees with the offsets: from it on, every
            // exchange is back at the level before the fault, within the band.
            let recovery = f.recovery_s.unwrap_or_else(|| panic!("never recovered: {ctx}"));
            // Within what is left of the run (4 s of guest time after the
            // fault, plus the 4.7 s the guest lost). Seen once at 7.1 s:
            // chrony's first step came 5.8 s after the fault, three smaller
            // ones (+0.21, +0.19, -0.24 s) as its estimate settled.
            assert!(recovery > 0.0 && recovery < 9.0, "{ctx}");
            let from = ended.ended_realtime_ns + (recovery * 1e9) as i64;
            let back: Vec<&&Exchange> = after.iter().filter(|e| e.t2_ns >= from).collect();
            assert!(back.len() >= 3, "{ctx}");
            for e in back {
                assert!((e.offset_ns - level).abs() <= 2 * c.band_ns + e.uncertainty_ns, "{e:?} is outside ± {} of {level}: {ctx}", c.band_ns);
            }
            // Before it, the guest was still wrong: the first exchange after
            // the fault saw the lost wrap.
            assert!((after[0].offset_ns - level - ACPI_PM_WRAP_NS as i64).abs() < 100_000_000, "{:?}: {ctx}", after[0]);
            assert!(c.steps[0].after_end_s <= recovery, "{ctx}");
            // Its log came along, beside (not instead of) the measurement.
            let lines = records
                .iter()
                .filter(|r| matches!(&r.body, RecordBody::Guest(GuestMessage::ServiceLog(l)) if l.service == "chrony"))
                .count();
            assert!(lines > 0, "{ctx}");
        }
    }
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("stepped"), "the correction is in the report: {md}");
}
