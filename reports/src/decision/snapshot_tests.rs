//! The decision section as the terminal and report.md print it, on three
//! fixtures: a clear answer, a tie, and evidence missing.

use clockstorm_protocol::{ManifestRun, RunOutcome};

use crate::fixtures::{fixture_runs, manifest, report_of, FixtureSetting};
use crate::model::{build, Report};

fn setting(clocksource: &'static str, lost_ns: i64, read_cost_ns: f64, repetitions: u32) -> FixtureSetting {
    FixtureSetting { clocksource, lost_ns, read_cost_ns, repetitions }
}

/// acpi_pm loses a wrap per 6 s freeze; hpet and tsc lose nothing, and tsc
/// reads six times faster.
fn clear() -> Report {
    report_of(&[setting("acpi_pm", 4_687_000_000, 2_410.0, 2), setting("hpet", 40_000, 1_534.0, 2), setting("tsc", 30_000, 240.0, 2)])
}

/// hpet and tsc lose nothing and read within 1.5x of each other.
fn tie() -> Report {
    report_of(&[setting("hpet", 40_000, 1_534.0, 2), setting("tsc", 60_000, 1_600.0, 2)])
}

/// hpet three times; tsc once, without a time-lost figure for its freeze
/// (no exchange after it); kvm-clock skipped (TCG).
fn missing() -> Report {
    let (mut runs, mut summaries, series) = fixture_runs(&[setting("hpet", 40_000, 1_534.0, 3), setting("tsc", 30_000, 240.0, 1)]);
    for s in summaries.iter_mut().filter(|s| s.clocksource == "tsc") {
        s.faults[0].lost_ns = None;
        s.faults[0].lost_uncertainty_ns = None;
        s.faults[0].error = Some("no exchange after the fault".into());
    }
    let reason = "kvm-clock is KVM's paravirtual clock and does not exist under TCG";
    for rep in 0..2 {
        let id = format!("vf-reload-kvm-clock.r{rep}");
        runs.push(ManifestRun {
            id: id.clone(),
            clocksource: "kvm-clock".parse().expect("a clocksource"),
            kernel: "default".into(),
            variant: "default".into(),
            repetition: rep,
            dir: format!("runs/{id}"),
            outcome: Some(RunOutcome::Skipped { reason: reason.into() }),
            time_service: None,
        });
        let mut s = crate::summarize(&[]);
        s.run_id = id;
        s.clocksource = "kvm-clock".into();
        s.status = "skipped".into();
        s.detail = Some(reason.into());
        summaries.push(s);
    }
    build(manifest(runs), summaries, series, vec![])
}

#[test]
fn a_clear_answer() {
    let r = clear();
    assert_eq!(r.decision.recommendation.setting.as_deref(), Some("tsc"), "{}", r.decision.recommendation.sentence);
    insta::assert_snapshot!("clear_terminal", crate::terminal::render_decision(&r));
    insta::assert_snapshot!("clear_markdown", crate::markdown::render_decision(&r));
}

#[test]
fn a_tie() {
    let r = tie();
    assert_eq!(r.decision.recommendation.setting, None);
    insta::assert_snapshot!("tie_terminal", crate::terminal::render_decision(&r));
    insta::assert_snapshot!("tie_markdown", crate::markdown::render_decision(&r));
}

#[test]
fn missing_evidence() {
    let r = missing();
    assert_eq!(r.decision.recommendation.setting, None);
    assert_eq!(r.decision.not_measured.len(), 1);
    insta::assert_snapshot!("missing_terminal", crate::terminal::render_decision(&r));
    insta::assert_snapshot!("missing_markdown", crate::markdown::render_decision(&r));
}

/// The same figures under swapped names give the same answer, renamed:
/// no rule reads a clocksource's name.
#[test]
fn names_decide_nothing() {
    let swapped = report_of(&[setting("tsc", 4_687_000_000, 2_410.0, 2), setting("hpet", 40_000, 1_534.0, 2), setting("acpi_pm", 30_000, 240.0, 2)]);
    assert_eq!(swapped.decision.recommendation.setting.as_deref(), Some("acpi_pm"));
    let rename = |s: &str| s.replace("tsc", "@").replace("acpi_pm", "tsc").replace('@', "acpi_pm");
    assert_eq!(swapped.decision.recommendation.sentence, rename(&clear().decision.recommendation.sentence));
}

#[test]
fn the_decision_comes_first_in_every_format() {
    let r = clear();
    let md = crate::markdown::render(&r);
    assert!(md.find("**Decision**").unwrap() < md.find("| run | status").unwrap());
    let html = crate::html::render(&r);
    assert!(html.find("<section id=\"decision\">").unwrap() < html.find("<section id=\"provenance\">").unwrap());
    assert!(html.contains("<strong>Recommendation:</strong> use tsc: "));
}
