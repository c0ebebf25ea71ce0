//! Each ranking rule and each reason to withhold a recommendation, on
//! settings made up figure by figure (the fixtures' end-to-end snapshots
//! are in `snapshot_tests`).

use clockstorm_protocol::FaultKindName;

use super::rules::{tiers_of, Span};
use super::*;

const MS: f64 = 1e6;

fn stalls() -> Vec<Stall> {
    [2_000, 5_000, 9_000].map(|length_ms| Stall { kind: FaultKindName::Freeze, length_ms }).to_vec()
}

fn loss(lost_ns: f64, plus_minus_ns: f64) -> Option<StallLoss> {
    Some(StallLoss { lost_ns, plus_minus_ns, runs: 2, stopped_for_good: false })
}

/// A setting measured twice that lost nothing at any stall length and
/// reads in 100 ns.
fn fine(label: &str) -> Setting {
    Setting {
        group: format!("scenario-{label}"),
        label: label.into(),
        clocksource: "unnamed".into(),
        kernel: None,
        variant: None,
        rank: 0,
        runs: 2,
        runs_planned: 2,
        unmeasured_runs: Vec::new(),
        time_lost: vec![loss(20_000.0, 400_000.0); 3],
        clock_stopped_for_good_runs: 0,
        silent_runs: 0,
        clock_stood_still_runs: 0,
        lockups: 0,
        backward_steps: 0,
        watchdog_marks: 0,
        clocksource_changes: 0,
        rt_throttled: 0,
        read_cost: Some(ReadCostFigure { mean_ns: 100.0, min_ns: 95.0, max_ns: 105.0, runs: 2, factor: 1.0 }),
    }
}

fn with(label: &str, change: impl FnOnce(&mut Setting)) -> Setting {
    let mut s = fine(label);
    change(&mut s);
    s
}

fn reads(mean_ns: f64) -> Option<ReadCostFigure> {
    Some(ReadCostFigure { mean_ns, min_ns: mean_ns * 0.95, max_ns: mean_ns * 1.05, runs: 2, factor: 1.0 })
}

fn decide_fixed(settings: Vec<Setting>) -> Decision {
    decide_on(settings, stalls(), Vec::new())
}

fn order(d: &Decision) -> Vec<(usize, &str)> {
    d.settings.iter().map(|s| (s.rank, s.label.as_str())).collect()
}

fn step(d: &Decision, rule: Rule) -> &RankStep {
    d.steps.iter().find(|s| s.rule == rule).unwrap_or_else(|| panic!("no {rule:?} step in {:#?}", d.steps))
}

#[test]
fn a_guest_that_stopped_keeping_time_ranks_below_any_other_whatever_else_it_did() {
    let broken = |s: &mut Setting| {
        s.read_cost = reads(10.0);
        s.clock_stopped_for_good_runs = 1;
    };
    let d = decide_fixed(vec![with("a", broken), with("b", |s| s.read_cost = reads(2_000.0))]);
    assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    let first = &d.steps[0];
    assert_eq!((first.rule, first.tiers.clone()), (Rule::GuestBroke, vec![vec!["b".to_owned()], vec!["a".to_owned()]]));
    assert!(first.sentence.contains("a clock stopped for good in 1 of 2 runs"), "{}", first.sentence);
    // Lockups and a silent guest count the same.
    for change in [|s: &mut Setting| s.lockups = 1, |s: &mut Setting| s.silent_runs = 2] {
        let d = decide_fixed(vec![with("a", change), fine("b")]);
        assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    }
}

#[test]
fn time_lost_separates_only_when_the_intervals_are_apart_by_more_than_the_floor() {
    let lost_at_9s = |lost_ns: f64, pm: f64| move |s: &mut Setting| s.time_lost[2] = loss(lost_ns, pm);
    // A wrap lost: separated.
    let d = decide_fixed(vec![with("a", lost_at_9s(9_370.0 * MS, 0.6 * MS)), fine("b")]);
    assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    let s = step(&d, Rule::TimeLost);
    assert_eq!(s.sentence, "worst time lost: b < 1.40 ms (2 runs) ahead of a 9.37 s ± 600 µs per 9.00 s freeze (2 runs)");
    // Overlapping intervals: a tie at this rule.
    let d = decide_fixed(vec![with("a", lost_at_9s(600_000.0, 500_000.0)), fine("b")]);
    assert!(!step(&d, Rule::TimeLost).separated());
    // Apart, but by less than the 10 ms floor: a tie too.
    let d = decide_fixed(vec![with("a", lost_at_9s(6.0 * MS, 0.1 * MS)), with("b", |s| s.time_lost = vec![loss(0.0, 0.1 * MS); 3])]);
    let s = step(&d, Rule::TimeLost);
    assert!(!s.separated() && s.sentence.ends_with("not separated (their intervals overlap or lie within 10.0 ms of each other)"), "{}", s.sentence);
    // The worst over every stall length is what counts, at whichever it was.
    let d = decide_fixed(vec![with("a", |s| s.time_lost[0] = loss(-4_687.0 * MS, 0.5 * MS)), fine("b")]);
    assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    assert!(step(&d, Rule::TimeLost).sentence.contains("a -4.69 s ± 500 µs per 2.00 s freeze"));
}

#[test]
fn overlapping_intervals_chain_into_one_tier_and_a_wide_one_merges_tiers_back() {
    let spans = [(0.0, 1.0, 2.0), (1.0, 3.0, 5.0), (4.0, 6.0, 8.0), (10.0, 10.5, 11.0)];
    let span = |i: usize| Span { low: spans[i].0, mid: spans[i].1, high: spans[i].2 };
    assert_eq!(tiers_of(&[3, 2, 1, 0], span, |_, _| true), vec![vec![0, 1, 2], vec![3]]);
    // Nothing is apart enough: one tier.
    assert_eq!(tiers_of(&[0, 3], span, |_, _| false), vec![vec![0, 3]]);
    // A setting whose interval reaches back over a tier joins everything from there on.
    let spans = [(0.0, 0.5, 1.0), (19.0, 20.0, 21.0), (-9.0, 21.0, 51.0)];
    let span = |i: usize| Span { low: spans[i].0, mid: spans[i].1, high: spans[i].2 };
    assert_eq!(tiers_of(&[0, 1], span, |_, _| true), vec![vec![0], vec![1]]);
    assert_eq!(tiers_of(&[0, 1, 2], span, |_, _| true), vec![vec![0, 1, 2]]);
}

#[test]
fn time_lost_compares_the_stall_lengths_all_were_measured_under() {
    // a lost a wrap at 9 s, where b was not measured: only 2 s and 5 s compare.
    let a = with("a", |s| s.time_lost[2] = loss(9_370.0 * MS, 0.6 * MS));
    let b = with("b", |s| {
        s.time_lost[2] = None;
        s.read_cost = reads(1_000.0);
    });
    let d = decide_fixed(vec![a, b]);
    let s = step(&d, Rule::TimeLost);
    assert!(!s.separated());
    assert!(
        s.sentence
            .starts_with("worst time lost (under the 2.00 s freeze, 5.00 s freeze only: what all of them were measured under)"),
        "{}",
        s.sentence
    );
    // No stall length in common: nothing to compare, said so.
    let a = with("a", |s| s.time_lost = vec![loss(0.0, 0.3 * MS), None, None]);
    let b = with("b", |s| s.time_lost = vec![None, loss(0.0, 0.3 * MS), None]);
    let d = decide_fixed(vec![a, b]);
    assert_eq!(
        step(&d, Rule::TimeLost).sentence,
        "worst time lost: not compared: no stall length all of them were measured under (a: 2.00 s freeze; b: 5.00 s freeze)"
    );
}

#[test]
fn each_yes_no_rule_puts_the_settings_without_the_finding_first() {
    type Case = (Rule, fn(&mut Setting), &'static str);
    let cases: [Case; 4] = [
        (Rule::BackwardSteps, |s| s.backward_steps = 3, "a stepped back 3 times (2 runs)"),
        (Rule::ClockStoodStill, |s| s.clock_stood_still_runs = 1, "a stood still in 1 of 2 runs"),
        (Rule::KernelDistrust, |s| s.watchdog_marks = 1, "a 1 watchdog mark, 0 clocksource changes (2 runs)"),
        (Rule::RtThrottling, |s| s.rt_throttled = 2, "a RT throttled after 2 stalls (2 runs)"),
    ];
    for (rule, change, figure) in cases {
        // b reads 5x slower: only the rule under test puts it first.
        let d = decide_fixed(vec![with("a", change), with("b", |s| s.read_cost = reads(500.0))]);
        assert_eq!(order(&d), [(1, "b"), (2, "a")], "{rule:?}");
        let s = step(&d, rule);
        assert!(s.separated() && s.sentence.contains(figure), "{rule:?}: {}", s.sentence);
        assert_eq!(d.steps.iter().filter(|s| s.separated()).count(), 1, "{rule:?}: {:#?}", d.steps);
    }
    // A change of clocksource counts like a watchdog mark.
    let d = decide_fixed(vec![with("a", |s| s.clocksource_changes = 1), fine("b")]);
    assert!(step(&d, Rule::KernelDistrust).separated());
}

#[test]
fn an_earlier_rule_outranks_every_later_one() {
    // a reads 20x faster but steps back; b never does.
    let d = decide_fixed(vec![with("a", |s| s.backward_steps = 1), with("b", |s| s.read_cost = reads(2_000.0))]);
    assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    assert_eq!(d.recommendation.setting.as_deref(), Some("b"));
}

#[test]
fn read_cost_separates_by_a_factor_of_one_and_a_half_and_runs_that_do_not_overlap() {
    let d = decide_fixed(vec![with("a", |s| s.read_cost = reads(2_060.0)), with("b", |s| s.read_cost = reads(240.0))]);
    assert_eq!(order(&d), [(1, "b"), (2, "a")]);
    assert_eq!(step(&d, Rule::ReadCost).sentence, "read cost: b 1.00x (240 ns, 2 runs) ahead of a 8.58x (2.06 µs, 2 runs)");
    // 1.3x apart, runs apart: a tie.
    let d = decide_fixed(vec![with("a", |s| s.read_cost = reads(130.0)), fine("b")]);
    assert_eq!(order(&d), [(1, "b"), (1, "a")], "in a tie, in the order of the last rule's figure");
    assert!(step(&d, Rule::ReadCost).sentence.ends_with("not separated (their runs overlap or lie within 1.5x of each other)"));
    // 3x apart on average, but the runs overlap: a tie.
    let wide = ReadCostFigure { mean_ns: 300.0, min_ns: 100.0, max_ns: 500.0, runs: 2, factor: 1.0 };
    let d = decide_fixed(vec![with("a", |s| s.read_cost = Some(wide)), fine("b")]);
    assert!(!step(&d, Rule::ReadCost).separated());
    // One without a read cost: nothing to compare.
    let d = decide_fixed(vec![with("a", |s| s.read_cost = None), with("b", |s| s.read_cost = reads(1_000.0))]);
    assert!(step(&d, Rule::ReadCost).sentence.contains("not every one has a read-cost figure"));
}

#[test]
fn the_recommendation_names_the_top_and_every_rule_that_put_others_below_it() {
    let d = decide_fixed(vec![
        with("a", |s| s.time_lost[2] = loss(9_370.0 * MS, 0.6 * MS)),
        with("b", |s| s.read_cost = reads(2_060.0)),
        with("c", |s| s.read_cost = reads(240.0)),
    ]);
    assert_eq!(order(&d), [(1, "c"), (2, "b"), (3, "a")]);
    assert_eq!(d.recommendation.setting.as_deref(), Some("c"));
    // Factors are of the cheapest setting measured (a, 100 ns), ranked first or not.
    assert_eq!(
        d.recommendation.sentence,
        "use c: worst time lost: c < 1.40 ms (2 runs) where a 9.37 s ± 600 µs per 9.00 s freeze (2 runs); \
         read cost: c 2.40x (240 ns, 2 runs) where b 20.6x (2.06 µs, 2 runs)"
    );
}

#[test]
fn a_tie_at_the_top_is_said_with_the_figures_that_could_not_separate_it() {
    let d = decide_fixed(vec![fine("a"), with("b", |s| s.read_cost = reads(110.0)), with("c", |s| s.backward_steps = 2)]);
    assert_eq!(order(&d), [(1, "a"), (1, "b"), (3, "c")]);
    assert_eq!(d.recommendation.setting, None);
    let said = &d.recommendation.sentence;
    assert!(said.starts_with("no recommendation: a and b cannot be separated: worst time lost: a < 1.40 ms (2 runs), b < 1.40 ms (2 runs)"), "{said}");
    assert!(
        said.contains("read cost: a 1.00x (100 ns, 2 runs), b 1.10x (110 ns, 2 runs) (their runs overlap or lie within 1.5x of each other)"),
        "{said}"
    );
    assert!(!said.contains("backward steps"), "c is not in the tie: {said}");
}

#[test]
fn too_few_runs_withhold_the_recommendation_but_not_the_ranking() {
    let d = decide_fixed(vec![with("a", |s| s.runs = 1), with("b", |s| s.read_cost = reads(1_000.0))]);
    assert_eq!(order(&d), [(1, "a"), (2, "b")]);
    assert_eq!(d.recommendation.setting, None);
    assert!(d
        .recommendation
        .sentence
        .contains("too few runs: a has 1 run measured; a recommendation needs at least 2 of every setting"));
}

#[test]
fn a_stall_length_the_top_was_not_measured_under_withholds_the_recommendation() {
    let d = decide_fixed(vec![with("a", |s| s.time_lost[2] = None), with("b", |s| s.read_cost = reads(1_000.0))]);
    assert_eq!(order(&d), [(1, "a"), (2, "b")]);
    assert_eq!(d.recommendation.sentence, "no recommendation: a was not measured under the 9.00 s freeze (no time-lost figure in its runs)");
}

#[test]
fn a_lower_setting_missing_a_stall_length_matters_only_where_more_stalls_could_lift_it() {
    // b lost a wrap at 5 s and was not measured at 9 s: nothing there can
    // bring it back above a, which lost nothing anywhere.
    let b = with("b", |s| {
        s.time_lost[1] = loss(4_687.0 * MS, 0.5 * MS);
        s.time_lost[2] = None;
    });
    let d = decide_fixed(vec![fine("a"), b]);
    assert_eq!(d.recommendation.setting.as_deref(), Some("a"), "{}", d.recommendation.sentence);
    // b tied with a on time lost where measured and only read slower: its
    // 9 s freeze could have told them apart.
    let b = with("b", |s| {
        s.time_lost[2] = None;
        s.read_cost = reads(1_000.0);
    });
    let d = decide_fixed(vec![fine("a"), b]);
    assert_eq!(d.recommendation.setting, None);
    assert!(d
        .recommendation
        .sentence
        .ends_with("b was not measured under the 9.00 s freeze (no time-lost figure in its runs), so it cannot be ranked below a"));
    // A broken guest stays below whatever it was not measured under.
    let b = with("b", |s| {
        s.time_lost[2] = None;
        s.clock_stopped_for_good_runs = 2;
    });
    assert_eq!(decide_fixed(vec![fine("a"), b]).recommendation.setting.as_deref(), Some("a"));
}

#[test]
fn with_one_setting_or_none_there_is_nothing_to_choose_between() {
    let not_measured = vec![NotMeasured { group: "g-x".into(), label: "x".into(), runs: 2, reason: "2 runs skipped: needs KVM".into() }];
    let d = decide_on(vec![fine("a")], stalls(), not_measured.clone());
    assert_eq!(
        d.recommendation.sentence,
        "no recommendation: only a was measured (2 runs); there is nothing to compare it with. Not measured, so not compared: x (2 runs skipped: needs KVM)"
    );
    assert!(d.steps.is_empty());
    let d = decide_on(vec![], vec![], not_measured);
    assert!(d.recommendation.sentence.starts_with("no recommendation: no setting was measured. Not measured"));
}

#[test]
fn the_kernels_word_that_it_throttled_rt_tasks_counts_without_a_measured_hold() {
    use crate::faults::FaultKernelEvent;
    use crate::fixtures::{fixture_runs, manifest, FixtureSetting};
    use crate::kernel_events::KernelEvent;
    let (manifest_runs, mut runs, _) = fixture_runs(&[FixtureSetting { clocksource: "hpet", lost_ns: 40_000, read_cost_ns: 1_200.0, repetitions: 2 }]);
    let provenance = manifest(manifest_runs);
    let hpet = |runs: &[crate::RunSummary]| super::figures::gather(&provenance, runs, &[]).settings.remove(0).rt_throttled;
    assert_eq!(hpet(&runs), 0, "the fixture's hpet runs were not throttled");
    runs[0].faults[0]
        .kernel_events
        .push(FaultKernelEvent { after_start_s: 2.0, event: KernelEvent::RtThrottling { ts_us: Some(4_100_000) } });
    assert_eq!(hpet(&runs), 1);
    // Both ways for one fault is still one fault throttled.
    runs[0].faults[0].rt_throttled_ns = Some(300_000_000);
    assert_eq!(hpet(&runs), 1);
}

#[test]
fn the_figures_come_from_the_runs_and_their_verdicts() {
    use crate::fixtures::{report_of, FixtureSetting};
    let r = report_of(&[
        FixtureSetting { clocksource: "acpi_pm", lost_ns: 4_687_000_000, read_cost_ns: 2_410.0, repetitions: 2 },
        FixtureSetting { clocksource: "hpet", lost_ns: 40_000, read_cost_ns: 1_200.0, repetitions: 2 },
    ]);
    let d = &r.decision;
    assert_eq!(d.stalls, [Stall { kind: FaultKindName::Freeze, length_ms: 6_000 }]);
    let acpi_pm = d.settings.iter().find(|s| s.label == "acpi_pm").unwrap();
    assert_eq!((acpi_pm.group.as_str(), acpi_pm.clocksource.as_str(), acpi_pm.kernel.as_deref()), ("vf-reload-acpi_pm", "acpi_pm", Some("default")));
    assert_eq!((acpi_pm.runs, acpi_pm.clock_stood_still_runs, acpi_pm.clock_stopped_for_good_runs), (2, 2, 0));
    assert_eq!((acpi_pm.watchdog_marks, acpi_pm.clocksource_changes, acpi_pm.rt_throttled), (2, 2, 2));
    let lost = acpi_pm.time_lost[0].as_ref().unwrap();
    let verdict = r.verdicts.iter().find(|v| v.group == "vf-reload-acpi_pm").unwrap();
    assert_eq!((lost.lost_ns, lost.plus_minus_ns, lost.runs), (verdict.lost_ns, verdict.plus_minus_ns, 2));
    let reads = acpi_pm.read_cost.as_ref().unwrap();
    assert_eq!((reads.mean_ns, reads.min_ns, reads.max_ns, reads.factor), (2_420.0, 2_410.0, 2_430.0, 2.0));
}
