//! JUnit XML for CI systems: one test case per run (did it measure) and
//! one per gate per run, sorted by kernel, then clocksource (then variant,
//! repetition; a run's own case before its gates), so a CI system's list
//! reads like the matrix.
//!
//! - `time=`: a run's host wall time (QEMU start to exit); a gate takes no
//!   time of its own; the suite's is the results directory's start to end.
//! - A guest that crashed or a harness that could not measure it (failed,
//!   not honored, incomplete, interrupted) is an `<error>`; a failed gate is
//!   a `<failure>`. A guest whose clock stopped or that went silent is a
//!   finding: its run case passes with the finding in `<system-out>`, and
//!   the gate that checks it fails.
//! - `<system-out>`: the run's status and detail, and the end of its console
//!   where the run kept it (the model's provenance carries it for failed
//!   and silent guests).

use clockstorm_protocol::{ManifestRun, RunOutcome};

use crate::model::Report;
use crate::RunSummary;

/// `s` without terminal escape sequences (ESC [ … final byte) and the
/// control characters XML 1.0 has no place for.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        break;
                    }
                }
            }
            continue;
        }
        if !c.is_control() || matches!(c, '\n' | '\t') {
            out.push(c);
        }
    }
    out
}

fn escape(s: &str) -> String {
    printable(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// How a test case ended.
enum Verdict {
    Passed,
    Skipped(String),
    /// The run could not measure: the guest crashed, the harness failed.
    Error {
        kind: String,
        message: String,
    },
    /// A gate failed.
    Failure(String),
}

struct Case {
    /// Sort key: kernel, clocksource, variant, repetition, run id, then 0
    /// for the run and 1 for its gates.
    key: (String, String, String, u32, String, u8, String),
    classname: String,
    name: String,
    time_s: f64,
    verdict: Verdict,
    out: Vec<String>,
}

/// The kernel a run ran, as a reader knows it: its release where the
/// provenance has it, else the name the scenario gave.
fn kernel_of(r: &Report, run: Option<&ManifestRun>, summary: Option<&RunSummary>) -> String {
    if let Some(release) = summary.and_then(|s| s.kernel_release.clone()) {
        return release;
    }
    let name = run.map(|m| m.kernel.as_str()).unwrap_or("");
    r.provenance.kernels.iter().find(|k| k.name == name).map(|k| k.release.clone()).unwrap_or_else(|| name.to_owned())
}

/// `tsc`, `tsc tsc-reliable r1`: the run within its kernel (a run the
/// provenance does not list is named by its id).
fn setting(clocksource: &str, run_id: &str, run: Option<&ManifestRun>, repetitions: bool) -> String {
    let Some(m) = run else { return run_id.to_owned() };
    let mut s = clocksource.to_owned();
    if !m.variant.is_empty() && m.variant != "default" {
        s.push_str(&format!(" {}", m.variant));
    }
    if repetitions {
        s.push_str(&format!(" r{}", m.repetition));
    }
    s
}

fn console_tail(run: Option<&ManifestRun>) -> &[String] {
    match run.and_then(|m| m.outcome.as_ref()) {
        Some(RunOutcome::Failed { console_tail, .. }) | Some(RunOutcome::Silent { console_tail, .. }) => console_tail,
        _ => &[],
    }
}

fn run_case(r: &Report, s: &RunSummary, repetitions: bool) -> Case {
    let run = r.provenance.runs.iter().find(|m| m.id == s.run_id);
    let kernel = kernel_of(r, run, Some(s));
    let detail = s.detail.clone().unwrap_or_default();
    let verdict = match s.status.as_str() {
        "completed" | "clock stopped" | "silent" => Verdict::Passed,
        "skipped" => Verdict::Skipped(detail.clone()),
        other => Verdict::Error { kind: other.to_owned(), message: if detail.is_empty() { other.to_owned() } else { format!("{other}: {detail}") } },
    };
    let mut out = vec![format!("{}: {}{}", s.run_id, s.status, if detail.is_empty() { String::new() } else { format!(": {detail}") })];
    // Per fault what it cost and, with a time service, how the clock came
    // back: the lines a CI engineer reads first in a failed job's output.
    for f in &s.faults {
        let lost = match (f.lost_ns, f.lost_uncertainty_ns) {
            (Some(l), Some(u)) => format!("lost {} ± {}", crate::format::ns(l as f64), crate::format::ns(u as f64)),
            _ => "time lost not measured".to_owned(),
        };
        let mut line = format!("fault {} ({} {} ms at {} ms): {lost}", f.index, f.kind, f.planned_duration_ms, f.planned_start_ms);
        if let Some(c) = &f.correction {
            line.push_str(&format!("; {}", crate::correction::describe(c, f.recovery_s)));
        }
        out.push(line);
    }
    let tail = console_tail(run);
    if !tail.is_empty() {
        out.push("last console lines:".into());
        out.extend(tail.iter().map(|l| format!("| {l}")));
    }
    let name = format!("{} run", setting(&s.clocksource, &s.run_id, run, repetitions));
    Case {
        key: (
            kernel.clone(),
            s.clocksource.clone(),
            run.map(|m| m.variant.clone()).unwrap_or_default(),
            run.map(|m| m.repetition).unwrap_or(0),
            s.run_id.clone(),
            0,
            String::new(),
        ),
        classname: format!("{}.{kernel}", r.provenance.scenario.name),
        name,
        time_s: s.wall_ms.unwrap_or(0) as f64 / 1e3,
        verdict,
        out,
    }
}

fn gate_case(r: &Report, g: &crate::gates::GateResult, repetitions: bool) -> Case {
    let run = r.provenance.runs.iter().find(|m| m.id == g.run_id);
    let summary = r.runs.iter().find(|s| s.run_id == g.run_id);
    let kernel = kernel_of(r, run, summary);
    let clocksource = summary
        .map(|s| s.clocksource.clone())
        .or_else(|| run.map(|m| m.clocksource.kernel_name().to_owned()))
        .unwrap_or_default();
    Case {
        key: (
            kernel.clone(),
            clocksource.clone(),
            run.map(|m| m.variant.clone()).unwrap_or_default(),
            run.map(|m| m.repetition).unwrap_or(0),
            g.run_id.clone(),
            1,
            g.gate.clone(),
        ),
        classname: format!("{}.{kernel}", r.provenance.scenario.name),
        name: format!("{} gate {}", setting(&clocksource, &g.run_id, run, repetitions), g.gate),
        time_s: 0.0,
        verdict: if g.passed { Verdict::Passed } else { Verdict::Failure(g.message.clone()) },
        out: vec![format!("{} {}: {}", g.run_id, g.gate, g.message)],
    }
}

pub fn render(r: &Report) -> String {
    let repetitions = r.provenance.runs.iter().any(|m| m.repetition > 0);
    let mut cases: Vec<Case> = r.runs.iter().map(|s| run_case(r, s, repetitions)).collect();
    cases.extend(r.gates.iter().map(|g| gate_case(r, g, repetitions)));
    cases.sort_by(|a, b| a.key.cmp(&b.key));
    let count = |f: fn(&Verdict) -> bool| cases.iter().filter(|c| f(&c.verdict)).count();
    let failures = count(|v| matches!(v, Verdict::Failure(_)));
    let errors = count(|v| matches!(v, Verdict::Error { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped(_)));
    let p = &r.provenance;
    let time = p
        .finished_at_unix_ms
        .map(|f| f.saturating_sub(p.started_at_unix_ms) as f64 / 1e3)
        .unwrap_or_else(|| cases.iter().map(|c| c.time_s).sum());
    let counts = format!("tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\"", cases.len());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"clockstorm\" {counts}>\n"));
    out.push_str(&format!("  <testsuite name=\"{}\" {counts} timestamp=\"{}\">\n", escape(&p.scenario.name), iso8601(p.started_at_unix_ms)));
    for c in cases {
        out.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n", escape(&c.classname), escape(&c.name), c.time_s));
        match &c.verdict {
            Verdict::Passed => {}
            Verdict::Skipped(m) => out.push_str(&format!("      <skipped message=\"{}\"/>\n", escape(m))),
            Verdict::Error { kind, message } => out.push_str(&format!("      <error type=\"{}\" message=\"{}\"/>\n", escape(kind), escape(message))),
            Verdict::Failure(m) => out.push_str(&format!("      <failure type=\"gate\" message=\"{}\"/>\n", escape(m))),
        }
        out.push_str(&format!("      <system-out>{}</system-out>\n", escape(&c.out.join("\n"))));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `2026-12-02T03:35:03` (UTC, no zone: JUnit's `timestamp` is xs:dateTime
/// without one).
fn iso8601(unix_ms: u64) -> String {
    let full = crate::format::iso8601_utc(unix_ms);
    full.split('.').next().unwrap_or(&full).trim_end_matches('Z').to_owned()
}

#[cfg(test)]
mod tests;
