//! The table printed at the end of `clockstorm run`.

use crate::format::{count, ns, ns_pm};
use crate::RunSummary;

const HEADERS: [&str; 10] = ["run", "status", "boot→hello", "samples", "max gap", "back steps", "tick backlog", "offset to host", "read cost", "overhead"];

/// The decision, printed before everything else: the ranked settings,
/// how they were ranked, and the recommendation.
pub fn render_decision(report: &crate::model::Report) -> String {
    use crate::decision::table;
    let d = &report.decision;
    let mut out = String::from("decision:\n");
    if !d.settings.is_empty() {
        out.push_str(&aligned(&table::headers(d), &table::rows(d)));
        out.push_str(&format!("{}\n", table::legend()));
    }
    for note in table::notes(d) {
        out.push_str(&format!("{note}\n"));
    }
    let steps = table::shown_steps(d);
    if !steps.is_empty() {
        out.push_str("ranked by:\n");
        for step in steps {
            out.push_str(&format!("  {}\n", step.sentence));
        }
    }
    let (lead, rest) = table::recommendation(d);
    out.push_str(&format!("{}: {rest}\n", lead.to_lowercase()));
    out
}

/// Columns padded to their widest cell, a rule under the headers.
fn aligned(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(headers);
    out.push_str(&line(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>()));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// One row per run, then one line per run that needs explaining.
pub fn render(summaries: &[RunSummary]) -> String {
    let rows: Vec<[String; 10]> = summaries.iter().map(row).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push_str(&line(&widths.map(|w| "─".repeat(w))));
    for r in &rows {
        out.push_str(&line(r));
    }
    if let Some(sentence) = crate::reference::sentence(summaries) {
        out.push_str(&sentence);
        out.push('\n');
    }
    for s in summaries {
        if let Some(detail) = &s.detail {
            out.push_str(&format!("{}: {}\n", run_label(s), detail));
        }
        if let Some(note) = crate::channel::note(s) {
            out.push_str(&format!("{}: {}\n", run_label(s), note));
        }
        for t in &s.timer_stops {
            out.push_str(&format!("{}: {}\n", run_label(s), t.evidence()));
        }
    }
    if summaries.iter().any(|s| !s.faults.is_empty()) {
        out.push('\n');
        out.push_str(&render_faults(summaries));
    }
    out
}

/// One line per fault and clocksource: the time the guest lost across it.
pub fn render_faults(summaries: &[RunSummary]) -> String {
    let mut out = format!("{:<5} {:<12} {:>8} {:>8}  {:<11} {:>26} {:>9}\n", "fault", "kind", "start", "length", "run", "time lost", "max gap");
    let mut rows: Vec<(usize, &RunSummary, &crate::faults::FaultSummary)> =
        summaries.iter().flat_map(|s| s.faults.iter().map(move |f| (f.index, s, f))).collect();
    rows.sort_by_key(|(i, _, _)| *i);
    for (_, s, f) in rows {
        let lost = match (f.lost_ns, f.lost_uncertainty_ns, &f.error) {
            (_, _, Some(e)) => format!("error: {e}"),
            (Some(l), Some(u), None) => format!("{} ± {}", ns(l as f64), ns(u as f64)),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "{:<5} {:<12} {:>8} {:>8}  {:<11} {:>26} {:>9}\n",
            f.index,
            f.kind,
            ns(f.planned_start_ms as f64 * 1e6),
            ns(f.planned_duration_ms as f64 * 1e6),
            run_label(s),
            lost,
            f.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(|| "–".into()),
        ));
        for timed in &f.kernel_events {
            let event = &timed.event;
            out.push_str(&format!(
                "{:<5} {:<12} {:>8} {:>8}  {:<11}   kernel +{:.1} s: {} {}\n",
                "",
                "",
                "",
                "",
                "",
                timed.after_start_s,
                event.kind(),
                event.summary()
            ));
        }
        for (at, finding) in f.findings() {
            let at = at.map(|a| format!(" {}", crate::format::from_start(a))).unwrap_or_default();
            out.push_str(&format!("{:<49}   guest{at}: {finding}\n", ""));
        }
        if let Some(c) = &f.correction {
            let service = s.time_service.as_deref().unwrap_or("time service");
            out.push_str(&format!("{:<49}   measured: {}\n", "", crate::correction::describe(c, f.recovery_s)));
            for l in &c.service_lines {
                out.push_str(&format!("{:<49}   {service} +{:.1} s: {}\n", "", l.after_start_s, strip_stamp(&l.line)));
            }
        }
    }
    out
}

/// A log line without its leading ISO timestamp (the report places it).
pub fn strip_stamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((stamp, rest)) if stamp.len() >= 19 && stamp.as_bytes()[4] == b'-' && stamp.contains('T') => rest,
        _ => line,
    }
}

/// The run's id without its scenario prefix: the clocksource, then any
/// kernel, variant and repetition parts.
fn run_label(s: &RunSummary) -> String {
    match s.run_id.find(&format!("-{}", s.clocksource)) {
        Some(i) if !s.clocksource.is_empty() => s.run_id[i + 1..].to_owned(),
        _ => s.clocksource.clone(),
    }
}

fn row(s: &RunSummary) -> [String; 10] {
    let dash = || "–".to_string();
    let offset = ns_pm(s.offset_median_ns, s.offset_uncertainty_median_ns).unwrap_or_else(dash);
    let measured = s.samples > 0;
    [
        run_label(s),
        s.status.clone(),
        s.boot_to_hello_ms.map(|m| ns(m * 1e6)).unwrap_or_else(dash),
        if measured { count(s.samples) } else { dash() },
        s.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(dash),
        if measured { count(s.backwards_steps) } else { dash() },
        s.ticks.as_ref().and_then(|t| t.timer_expirations).map(|b| format!("{:.1}", b.total)).unwrap_or_else(dash),
        offset,
        s.read_cost_ns.map(ns).unwrap_or_else(dash),
        s.overhead_ms.map(|o| ns(o as f64 * 1e6)).unwrap_or_else(dash),
    ]
}

/// The gates, failed ones first.
pub fn render_gates(results: &[crate::gates::GateResult]) -> String {
    let failed = results.iter().filter(|g| !g.passed).count();
    let mut out = format!("gates: {} checked, {failed} failed\n", results.len());
    let mut sorted: Vec<_> = results.iter().collect();
    sorted.sort_by_key(|g| g.passed);
    for g in sorted {
        let mark = if g.passed { "pass" } else { "FAIL" };
        out.push_str(&format!("  {mark}  {:<22} {:<28} {}\n", g.gate, g.run_id, g.message));
    }
    out
}

/// Verdicts per fault, the comparisons between groups that found a
/// difference, and the baseline's changes.
pub fn render_comparisons(report: &crate::model::Report) -> String {
    let mut out = String::new();
    for run in &report.runs {
        for w in &run.switches {
            let step = match (w.offset_step_ns, w.uncertainty_ns) {
                (Some(o), Some(u)) => format!("offset step {} ± {}", ns(o as f64), ns(u as f64)),
                _ => "offset step unknown (no exchanges around it)".into(),
            };
            out.push_str(&format!("{}: clocksource {} -> {} at {}: {step}\n", run.run_id, w.from, w.to, ns(w.at_s * 1e9)));
        }
    }
    if !report.verdicts.is_empty() {
        out.push_str("verdicts:\n");
        for v in &report.verdicts {
            out.push_str(&format!("  fault {}: {}\n", v.fault, v.sentence));
        }
    }
    if !report.kernel_rules.is_empty() {
        out.push_str("kernels' clock rules:\n");
        for k in &report.kernel_rules {
            out.push_str(&format!("  {k}\n"));
        }
    }
    if !report.backsteps.is_empty() {
        out.push_str("backward steps:\n");
        for e in &report.backsteps {
            out.push_str(&format!("  {}\n", e.sentence));
        }
    }
    let completed = report.runs.iter().filter(|r| r.status == "completed").count();
    if report.comparisons.is_empty() && completed > 1 {
        let settings: std::collections::BTreeSet<_> =
            report.provenance.runs.iter().map(|r| (r.clocksource.kernel_name(), r.kernel.as_str(), r.variant.as_str())).collect();
        out.push_str(if settings.len() < 2 {
            "comparisons: none (one setting: a test compares two that differ in one of clocksource, kernel or variant)\n"
        } else {
            "comparisons: none (a test needs two completed runs of each combination: --repetitions 2 or more)\n"
        });
    }
    if !report.comparisons.is_empty() {
        let differ: Vec<_> = report.comparisons.iter().filter(|c| c.differs).collect();
        out.push_str(&format!("comparisons: {} made, {} differ (Welch p < 0.05 and above the noise threshold)\n", report.comparisons.len(), differ.len()));
        for c in differ {
            out.push_str(&format!("  {}\n", c.sentence));
        }
    }
    if let Some(b) = &report.baseline {
        out.push_str(&format!("baseline {}: {} compared, {} regression(s)\n", b.dir, b.changes.len(), b.regressions()));
        for c in b.changes.iter().filter(|c| c.regression || c.comparison.differs) {
            let mark = if c.regression { "REGRESSION" } else { "improved" };
            out.push_str(&format!("  {mark}  {}\n", c.comparison.sentence));
        }
        for n in &b.not_compared {
            out.push_str(&format!("  not compared: {n}\n"));
        }
    }
    out
}
