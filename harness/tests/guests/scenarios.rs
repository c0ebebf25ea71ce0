//! Every shipped scenario runs (shortened) on a real guest: the smoke test
//! of each scenario file users copy.

use std::collections::BTreeSet;
use std::process::Command;

use clockstorm_protocol::RunOutcome;

use crate::support::*;

/// Each shipped scenario, shortened: one clocksource, and the timeline cut
/// to its first fault at 1 s for 2 s (kernel-ci keeps its four kernels and
/// its own 3 s freeze), so the whole set runs in about two minutes.
#[test]
fn every_shipped_scenario_runs_shortened_on_a_real_guest() {
    let list = Command::new(BIN).args(["scenario", "list"]).output().unwrap();
    assert!(list.status.success(), "{}", text(&list));
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect();
    assert_eq!(names.len(), 9, "{names:?}");
    // stopped-clock runs whole in integrity.rs, with every assertion about
    // it; time-service's guest (chrony on a user-mode network) is the
    // subject of time_service.rs, and its file is checked in the parallel
    // stage like every shipped scenario's.
    for name in names.iter().filter(|n| !matches!(n.as_str(), "stopped-clock" | "time-service")) {
        let show = Command::new(BIN).args(["scenario", "show", name]).output().unwrap();
        assert!(show.status.success(), "{}", text(&show));
        let shown = String::from_utf8_lossy(&show.stdout).into_owned();
        let first_fault_kind = shown
            .lines()
            .skip_while(|l| !l.starts_with("faults"))
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned);
        // failover is about leaving tsc: it keeps its clocksource. kernel-ci
        // runs whole on acpi_pm, whose 3 s freeze tells its kernels apart.
        let clocksource = match name.as_str() {
            "failover" => "tsc",
            "kernel-ci" => "acpi_pm",
            _ => "hpet",
        };
        let mut args: Vec<String> = vec!["run".into(), name.clone(), "--clocksource".into(), clocksource.into(), "--repetitions".into(), "1".into()];
        if name != "kernel-ci" {
            args.extend(["--duration".into(), "4s".into()]);
        }
        if let Some(kind) = first_fault_kind.as_ref().filter(|_| name != "kernel-ci") {
            let fault = match kind.as_str() {
                // failover unbinds tsc at 2 s, before its freeze (at 5 s in
                // the file): the shortened timeline keeps that order, so the
                // switch has exchanges on both sides outside the fault. (A
                // freeze at 1 s+2 s held the unbind back until the freeze
                // ended, and whether an exchange came between the resume and
                // the switch was a race: it failed once in a CI run here.)
                "freeze" if name == "failover" => "freeze:2500ms+1s".to_owned(),
                "starve" => "starve:1s+2s,duty=80".to_owned(),
                other => format!("{other}:1s+2s"),
            };
            args.extend(["--fault".into(), fault]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, o) = clockstorm(&argv);
        assert!(matches!(o.status.code(), Some(0) | Some(3)), "{name}: {}", text(&o));
        let m = manifest(out.path());
        assert!(!m.runs.is_empty(), "{name}");
        for run in &m.runs {
            assert!(matches!(run.outcome, Some(RunOutcome::Completed { .. })), "{name}: {run:?}\n{}", text(&o));
        }
        if name == "kernel-ci" {
            kernel_ci_agrees_with_each_kernels_profile(out.path(), &m);
        }
        if name == "failover" {
            // tsc was unbound inside the guest: every run ended elsewhere.
            for s in summaries(out.path()) {
                assert!(!s.clocksource_changes.is_empty(), "{name}: {s:#?}");
                // What the switch cost is measured: unbinding a clocksource
                // that keeps time costs nothing beyond the exchanges' bound.
                let w = &s.switches[0];
                let (step, bound) = (w.offset_step_ns.expect("exchanges around the switch"), w.uncertainty_ns.unwrap());
                assert!(step.abs() <= bound + 10_000_000, "{name}: {w:?}");
                assert!(s.actions.iter().all(|a| a.contains("ok")), "{name}: {:?}", s.actions);
            }
        }
    }
}

/// kernel-ci on acpi_pm: four kernel generations, each predicted by its own
/// measured profile, no disagreement, and the report says why they differ.
fn kernel_ci_agrees_with_each_kernels_profile(dir: &std::path::Path, m: &clockstorm_protocol::Manifest) {
    let releases: BTreeSet<&str> = m.kernels.iter().map(|k| k.release.as_str()).collect();
    assert_eq!(releases.len(), 4, "four kernel generations: {releases:?}");
    for k in &m.kernels {
        assert_eq!(k.data_channel, "virtio", "{k:?}");
        let rule = k.clock_rule.as_ref().unwrap_or_else(|| panic!("{} has no profile", k.release));
        assert!(rule.source.contains("profile of"), "{rule:?}");
    }
    let report: clockstorm_reports::model::Report = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let acpi: Vec<_> = report.verdicts.iter().filter(|v| v.clocksource == "acpi_pm").collect();
    assert_eq!(acpi.len(), 4, "{:#?}", report.verdicts);
    for v in &report.verdicts {
        assert!(!v.disagrees_with_model, "{}", v.sentence);
    }
    // Every guest, 7.3 on acpi_pm too, honoured its clocksource and measured.
    for s in &report.runs {
        assert_eq!(s.clocksource_in_guest.as_deref(), Some(s.clocksource.as_str()), "{s:#?}");
        assert!(s.exchanges >= 10, "{s:#?}");
    }
    // 5.10 and 6.1 lose a wrap at 3 s, 6.12 and 7.3 nothing: by their profiles.
    for v in acpi {
        let old = v.group.contains("bullseye") || v.group.contains("bookworm");
        let lost_wrap = (v.lost_ns - clockstorm_reports::predict::ACPI_PM_WRAP_NS).abs() < 20e6;
        assert_eq!(lost_wrap, old, "{}", v.sentence);
        assert!(v.model_rule.as_deref().is_some_and(|r| r.contains("profile of")), "{}", v.sentence);
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("The kernels' clock rules") && md.contains("the threshold moved from"), "{md}");
    // Every failed backward-steps gate names its steps and what the model expects.
    for g in report.gates.iter().filter(|g| g.gate == "max_backwards_steps" && !g.passed) {
        assert!(g.message.contains("stepped back") && g.message.contains("the model expects"), "{g:?}");
    }
}

/// A VM as virt-install defines it, imported and run on a real guest: its
/// timers (no HPET, RTC catch-up) and size (2 vCPUs) reach QEMU.
#[test]
fn a_virt_install_domain_imported_from_libvirt_runs_on_a_real_guest() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("linux2020.toml");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/libvirt/virt-install-linux2020.xml");
    let o = std::process::Command::new(BIN).args(["scenario", "import-libvirt", fixture, "-o"]).arg(&scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (out, o) = clockstorm(&["run", scenario.to_str().unwrap(), "--clocksource", "acpi_pm", "--duration", "2s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let recs = records(&records_path(out.path(), "linux2020-acpi_pm"));
    let argv = recs
        .iter()
        .find_map(|r| match &r.body {
            clockstorm_protocol::RecordBody::Harness(clockstorm_protocol::HarnessEvent::RunStarted { qemu_argv, .. }) => Some(qemu_argv.join(" ")),
            _ => None,
        })
        .expect("the run recorded its QEMU command line");
    for want in ["hpet=off", "driftfix=slew", "-smp 2", "-m 128"] {
        assert!(argv.contains(want), "{want} not in {argv}");
    }
    let s = &summaries(out.path())[0];
    assert_eq!(s.status, "completed", "{s:#?}");
    assert_eq!(s.clocksource_in_guest.as_deref(), Some("acpi_pm"), "{s:#?}");
}
