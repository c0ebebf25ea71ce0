//! Markdown: a report that fits a pull-request comment.

use crate::format::{count, ns, ns_pm};
use crate::model::Report;

pub fn render(r: &Report) -> String {
    let p = &r.provenance;
    let mut out = format!("### clockstorm: {}\n\n", p.scenario.name);
    let kernels: Vec<String> = p.kernels.iter().map(|k| format!("{} (`{}`)", k.release, &k.sha256[..k.sha256.len().min(12)])).collect();
    out.push_str(&format!(
        "clockstorm {} · {} · accel {} · kernels {} · seed {} · started {}\n\n",
        p.clockstorm_version,
        p.qemu.version,
        p.accel,
        kernels.join(", "),
        p.seed,
        crate::format::iso8601_utc(p.started_at_unix_ms)
    ));
    if let Some(info) = &p.standalone {
        for line in crate::standalone::lines(info) {
            out.push_str(&format!("- {line}\n"));
        }
        out.push('\n');
    }
    out.push_str(&render_decision(r));
    out.push_str(
        "| run | status | max gap | back steps | tick backlog | offset to host | max \\|offset\\| | read cost |\n|---|---|---|---|---|---|---|---|\n",
    );
    for s in &r.runs {
        let dash = || "–".to_string();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            s.run_id,
            s.status,
            s.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(dash),
            if s.samples > 0 { count(s.backwards_steps) } else { dash() },
            s.ticks.as_ref().and_then(|t| t.timer_expirations).map(|b| format!("{:.1}", b.total)).unwrap_or_else(dash),
            ns_pm(s.offset_median_ns, s.offset_uncertainty_median_ns).unwrap_or_else(dash),
            ns_pm(s.offset_max_abs_ns, s.offset_max_abs_uncertainty_ns).unwrap_or_else(dash),
            s.read_cost_ns.map(ns).unwrap_or_else(dash),
        ));
    }
    if let Some(sentence) = crate::reference::sentence(&r.runs) {
        out.push_str(&format!("\n{sentence}\n"));
    }
    let notes: Vec<String> = r.runs.iter().filter_map(|s| crate::channel::note(s).map(|n| format!("- `{}`: {n}\n", s.run_id))).collect();
    if !notes.is_empty() {
        out.push_str("\n**Degraded data channels, probe parts and damaged records**\n\n");
        out.push_str(&notes.concat());
    }
    let timers: Vec<String> = r.runs.iter().flat_map(|s| s.timer_stops.iter().map(move |t| format!("- `{}`: {}\n", s.run_id, t.evidence()))).collect();
    if !timers.is_empty() {
        out.push_str("\n**Guest timers that stopped firing**\n\n");
        out.push_str(&timers.concat());
    }
    let faults: Vec<_> = r.runs.iter().flat_map(|s| s.faults.iter().map(move |f| (s, f))).collect();
    if !faults.is_empty() {
        out.push_str(
            "\n**Time lost per fault**\n\n| fault | kind | start | length | run | time lost | recovery | max gap |\n|---|---|---|---|---|---|---|---|\n",
        );
        for (s, f) in faults {
            let lost = match (f.lost_ns, f.lost_uncertainty_ns, &f.error) {
                (_, _, Some(e)) => format!("error: {e}"),
                (Some(l), Some(u), None) => format!("{} ± {}", ns(l as f64), ns(u as f64)),
                _ => "–".into(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | `{}` | {} | {} | {} |\n",
                f.index,
                f.kind,
                ns(f.planned_start_ms as f64 * 1e6),
                ns(f.planned_duration_ms as f64 * 1e6),
                s.run_id,
                lost,
                f.recovery_s.map(|r| ns(r * 1e9)).unwrap_or_else(|| "never".into()),
                f.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(|| "–".into())
            ));
            for k in &f.kernel_events {
                out.push_str(&format!("|  |  | +{:.1} s |  | `{}` | kernel: {} |  |  |\n", k.after_start_s, s.run_id, k.event.summary()));
            }
            for (at, finding) in f.findings() {
                let at = at.map(crate::format::from_start).unwrap_or_default();
                out.push_str(&format!("|  |  | {at} |  | `{}` | **guest:** {} |  |  |\n", s.run_id, finding.replace('|', "\\|")));
            }
            if let Some(c) = &f.correction {
                let service = s.time_service.as_deref().unwrap_or("time service");
                out.push_str(&format!("|  |  |  |  | `{}` | **measured:** {} |  |  |\n", s.run_id, crate::correction::describe(c, f.recovery_s)));
                for l in &c.service_lines {
                    let line = crate::terminal::strip_stamp(&l.line).replace('|', "\\|");
                    out.push_str(&format!("|  |  | +{:.1} s |  | `{}` | {service}: {line} |  |  |\n", l.after_start_s, s.run_id));
                }
            }
        }
    }
    let switches: Vec<_> = r.runs.iter().flat_map(|s| s.switches.iter().map(move |w| (s, w))).collect();
    if !switches.is_empty() {
        out.push_str("\n**Clocksource changes**\n\n| run | change | at | offset step |\n|---|---|---|---|\n");
        for (s, w) in switches {
            let step = ns_pm(w.offset_step_ns, w.uncertainty_ns).unwrap_or_else(|| "–".into());
            out.push_str(&format!("| `{}` | {} → {} | {} | {step} |\n", s.run_id, w.from, w.to, ns(w.at_s * 1e9)));
        }
    }
    if !r.verdicts.is_empty() {
        out.push_str("\n**Verdicts**\n\n");
        for v in &r.verdicts {
            let mark = if v.disagrees_with_model { "⚠️ " } else { "" };
            out.push_str(&format!("- fault {}: {mark}{}\n", v.fault, v.sentence));
        }
    }
    if !r.kernel_rules.is_empty() {
        out.push_str("\n**The kernels' clock rules**\n\n");
        for k in &r.kernel_rules {
            out.push_str(&format!("- {k}\n"));
        }
    }
    if !r.backsteps.is_empty() {
        out.push_str("\n**Backward steps** (each with what the clock model expects)\n\n");
        for e in &r.backsteps {
            let mark = if e.as_expected { "" } else { "⚠️ " };
            out.push_str(&format!("- {mark}{}\n", e.sentence));
        }
    }
    if !r.groups.is_empty() {
        out.push_str("\n**Over repetitions** (mean, Student-t 95 % CI kept at the metric's floor; median, bootstrap 95 % CI)\n\n| combination | metric | n | runs | mean [95 % CI] | median [95 % CI] | note |\n|---|---|---|---|---|---|---|\n");
        for g in &r.groups {
            let u = |v: f64| crate::stats::with_unit(v, &g.unit);
            let (low, high, _) = g.shown_interval();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} [{}, {}] | {} [{}, {}] | {} |\n",
                g.group,
                g.metric,
                g.mean.n,
                g.values.iter().map(|v| u(*v)).collect::<Vec<_>>().join(", "),
                u(g.mean.mean),
                u(low),
                u(high),
                u(g.median.median),
                u(g.median.low),
                u(g.median.high),
                g.interval_notes().join("; ")
            ));
        }
    }
    let differ: Vec<_> = r.comparisons.iter().filter(|c| c.differs).collect();
    if !r.comparisons.is_empty() {
        out.push_str(&format!(
            "\n**Comparisons** ({} made, {} differ: Welch's t-test p < 0.05 and a difference above the noise threshold)\n\n",
            r.comparisons.len(),
            differ.len()
        ));
        for c in differ {
            out.push_str(&format!("- {}\n", c.sentence));
        }
    }
    if let Some(b) = &r.baseline {
        out.push_str(&format!("\n**Against baseline** `{}`: {} compared, {} regression(s)\n\n", b.dir, b.changes.len(), b.regressions()));
        for c in b.changes.iter().filter(|c| c.comparison.differs) {
            out.push_str(&format!("- {} {}\n", if c.regression { "❌ regression:" } else { "✅ better:" }, c.comparison.sentence));
        }
        for n in &b.not_compared {
            out.push_str(&format!("- not compared: {n}\n"));
        }
    }
    if !r.gates.is_empty() {
        let failed = r.gates.iter().filter(|g| !g.passed).count();
        out.push_str(&format!("\n**Gates**: {} checked, {failed} failed\n\n", r.gates.len()));
        for g in r.gates.iter().filter(|g| !g.passed) {
            out.push_str(&format!("- ❌ `{}` {}: {}\n", g.run_id, g.gate, g.message));
        }
    }
    out
}

/// The decision, first after the provenance line.
pub fn render_decision(r: &Report) -> String {
    use crate::decision::table;
    let d = &r.decision;
    let cell = |c: &str| c.replace('|', "\\|");
    let mut out = String::from("**Decision**\n\n");
    if !d.settings.is_empty() {
        let headers = table::headers(d);
        out.push_str(&format!("| {} |\n|{}\n", headers.join(" | "), "---|".repeat(headers.len())));
        for row in table::rows(d) {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push_str(&format!("\n{}\n", table::legend()));
    }
    let notes = table::notes(d);
    let steps = table::shown_steps(d);
    if !notes.is_empty() || !steps.is_empty() {
        out.push('\n');
    }
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    for step in steps {
        out.push_str(&format!("- ranked by {}\n", step.sentence));
    }
    let mark = if d.recommendation.setting.is_some() { "✅" } else { "⚖️" };
    let (lead, rest) = table::recommendation(d);
    out.push_str(&format!("\n{mark} **{lead}:** {rest}\n\n"));
    out
}
