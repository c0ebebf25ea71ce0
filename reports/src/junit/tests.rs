//! JUnit as CI systems read it: durations, errors against failures, the
//! console tail, cases in kernel then clocksource order.

use clockstorm_protocol::{Clocksource, ManifestRun, RunOutcome};

use crate::fixtures::manifest;
use crate::gates::GateResult;
use crate::model::build;
use crate::summary::tests::completed_run;

fn run(id: &str, clocksource: Clocksource, kernel: &str, outcome: RunOutcome) -> ManifestRun {
    ManifestRun {
        id: id.into(),
        clocksource,
        kernel: kernel.into(),
        variant: String::new(),
        repetition: 0,
        dir: format!("runs/{id}"),
        outcome: Some(outcome),
        time_service: None,
    }
}

/// A kernel matrix of two kernels: a completed run, a guest that panicked,
/// a skipped kvm-clock, a clock that stopped (a finding, gated), listed in
/// the order they ran (not the order a reader wants).
fn matrix_report() -> crate::model::Report {
    let panicked = RunOutcome::Failed {
        reason: "the guest exited (exit status: 0) before the probe finished".into(),
        console_tail: vec![
            "[    3.1] Kernel panic - not syncing: Attempted to kill init! \u{1b}[0m".into(),
            "[    3.1] ---[ end Kernel panic ]---".into(),
        ],
    };
    let stopped =
        RunOutcome::ClockStopped { clock: "monotonic".into(), stopped_ms: 10_000, evidence: "38 beacons".into(), wall_ms: 31_000, requested_ms: 20_000 };
    let runs = vec![
        run("k-acpi_pm.6-12", Clocksource::AcpiPm, "debian-trixie-cloud-amd64", stopped.clone()),
        run("k-tsc.6-12", Clocksource::Tsc, "debian-trixie-cloud-amd64", RunOutcome::Completed { wall_ms: 27_500, requested_ms: 20_000 }),
        run("k-acpi_pm.6-1", Clocksource::AcpiPm, "debian-bookworm-cloud-amd64", panicked.clone()),
        run("k-kvm-clock.6-1", Clocksource::KvmClock, "debian-bookworm-cloud-amd64", RunOutcome::Skipped { reason: "no KVM".into() }),
    ];
    let mut m = manifest(runs.clone());
    m.scenario.name = "k".into();
    let summaries = runs
        .iter()
        .map(|r| {
            let mut s = crate::summarize(&completed_run());
            s.run_id = r.id.clone();
            s.clocksource = r.clocksource.kernel_name().into();
            s.kernel_release = Some(if r.kernel.contains("trixie") { "6.12.117+deb13-cloud-amd64" } else { "6.1.0-50-cloud-amd64" }.into());
            s.apply_outcome(r.outcome.as_ref().unwrap());
            s
        })
        .collect();
    let gates = vec![
        GateResult { run_id: "k-acpi_pm.6-12".into(), gate: "no_stopped_clock".into(), passed: false, message: "the guest's clock stopped".into() },
        GateResult { run_id: "k-tsc.6-12".into(), gate: "no_stopped_clock".into(), passed: true, message: "no clock stopped".into() },
    ];
    build(m, summaries, vec![], gates)
}

#[test]
fn junit_of_a_kernel_matrix() {
    let xml = crate::junit::render(&matrix_report());
    insta::assert_snapshot!(xml);
    assert!(!xml.contains('\u{1b}'), "no control characters in XML");
    // A crashed guest is an error, a failed gate a failure; the finding's own case passes.
    assert!(xml.contains("failures=\"1\" errors=\"1\" skipped=\"1\""), "{xml}");
    let names: Vec<&str> = xml.lines().filter_map(|l| l.split(" name=\"").nth(1)).filter_map(|n| n.split('"').next()).collect();
    assert_eq!(
        names[2..],
        ["acpi_pm run", "kvm-clock run", "acpi_pm run", "acpi_pm gate no_stopped_clock", "tsc run", "tsc gate no_stopped_clock"],
        "kernel (6.1 before 6.12), then clocksource: {xml}"
    );
}
