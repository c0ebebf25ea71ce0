//! The report's tables: comparisons, the baseline, runs, faults, gates and
//! the statistics over repetitions. Wording follows the Markdown report.

use super::svg::esc;
use crate::format::{count, ns, ns_pm};
use crate::model::{BaselineReport, Report};
use crate::stats::with_unit;

const DASH: &str = "–";

/// A figure with three significant digits and no exponent for everyday
/// magnitudes; infinities and NaN as words a reader understands.
pub fn fig(v: f64) -> String {
    if v.is_nan() {
        return DASH.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞".into() } else { "−∞".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    crate::format::significant(v)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "&lt; 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// A table row of cells already escaped (or built from escaped parts).
pub(super) fn row(class: &str, cells: &[String]) -> String {
    let open = if class.is_empty() { "<tr>".to_owned() } else { format!("<tr class=\"{class}\">") };
    let cells: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
    format!("{open}{cells}</tr>\n")
}

pub(super) fn head(names: &[&str]) -> String {
    let cells: String = names.iter().map(|n| format!("<th>{}</th>", esc(n))).collect();
    format!("<table>\n<thead><tr>{cells}</tr></thead>\n<tbody>\n")
}

pub(super) const END: &str = "</tbody>\n</table>\n";

fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

pub fn comparisons(r: &Report) -> String {
    let mut out = String::from("<section id=\"comparisons\">\n<h2>Comparisons</h2>\n");
    if r.comparisons.is_empty() {
        out.push_str(
            "<p>No comparisons: they need two combinations that differ in one dimension (clocksource, kernel or variant), \
             each with at least two completed runs.</p>\n",
        );
    } else {
        out.push_str(&head(&["metric", "a", "b", "mean a", "mean b", "test", "p", "Hedges' g", "noise threshold", "differs"]));
        for c in &r.comparisons {
            out.push_str(&row(
                if c.differs { "differs" } else { "" },
                &[
                    esc(&c.metric),
                    format!("{} (n = {})", code(&c.a), c.n_a),
                    format!("{} (n = {})", code(&c.b), c.n_b),
                    esc(&with_unit(c.mean_a, &c.unit)),
                    esc(&with_unit(c.mean_b, &c.unit)),
                    esc(&c.test),
                    p_text(c.p_value),
                    fig(c.effect_size),
                    esc(&with_unit(c.noise_threshold, &c.unit)),
                    if c.differs { "<strong>yes</strong>".into() } else { "no".into() },
                ],
            ));
            out.push_str(&format!("<tr class=\"sentence\"><td colspan=\"10\">{}</td></tr>\n", esc(&c.sentence)));
        }
        out.push_str(END);
    }
    out.push_str("</section>\n");
    out
}

pub fn baseline(b: &BaselineReport, current_sha256: &str) -> String {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let mut out = String::from("<section id=\"baseline\">\n<h2>Against the baseline</h2>\n");
    out.push_str(&format!(
        "<p>Baseline {}: scenario {}{}, clockstorm {}. <strong class=\"{}\">{} regression{}</strong> in {} comparison{}.</p>\n",
        code(&b.dir),
        code(&short(&b.scenario_sha256)),
        if b.scenario_sha256 == current_sha256 { " (the same scenario)" } else { " (<strong>a different scenario</strong>)" },
        esc(&b.clockstorm_version),
        if b.regressions() > 0 { "bad" } else { "good" },
        b.regressions(),
        if b.regressions() == 1 { "" } else { "s" },
        b.changes.len(),
        if b.changes.len() == 1 { "" } else { "s" }
    ));
    if !b.changes.is_empty() {
        out.push_str(&head(&["metric", "now", "baseline", "p", "Hedges' g", "noise threshold", "verdict"]));
        for ch in &b.changes {
            let c = &ch.comparison;
            let verdict = match (ch.regression, c.differs) {
                (true, _) => "<strong class=\"bad\">✗ regression</strong>",
                (false, true) => "better",
                (false, false) => "no change",
            };
            out.push_str(&row(
                if ch.regression { "fail" } else { "" },
                &[
                    esc(&c.metric),
                    format!("{} ({}, n = {})", esc(&with_unit(c.mean_a, &c.unit)), code(&c.a), c.n_a),
                    format!("{} (n = {})", esc(&with_unit(c.mean_b, &c.unit)), c.n_b),
                    p_text(c.p_value),
                    fig(c.effect_size),
                    esc(&with_unit(c.noise_threshold, &c.unit)),
                    verdict.into(),
                ],
            ));
        }
        out.push_str(END);
    }
    if !b.not_compared.is_empty() {
        out.push_str("<p>Not compared:</p>\n<ul>\n");
        for n in &b.not_compared {
            out.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

pub fn runs(r: &Report) -> String {
    let mut out = String::from("<section id=\"runs\">\n<h2>Runs</h2>\n");
    if r.runs.is_empty() {
        out.push_str("<p>No runs.</p>\n</section>\n");
        return out;
    }
    out.push_str(&head(&[
        "run",
        "clocksource (changes: offset step)",
        "status",
        "max gap",
        "back steps",
        "tick backlog",
        "drift (ppm, 95 % CI)",
        "offset to host",
        "max |offset|",
        "read cost",
    ]));
    for s in &r.runs {
        let mut status = match &s.detail {
            Some(d) => format!("{}<br><small>{}</small>", esc(&s.status), esc(d)),
            None => esc(&s.status),
        };
        if let Some(note) = crate::channel::note(s) {
            status.push_str(&format!("<br><small class=\"degraded\">{}</small>", esc(&note)));
        }
        for t in &s.timer_stops {
            status.push_str(&format!("<br><small class=\"degraded\">{}</small>", esc(&t.evidence())));
        }
        let mut clocksource = esc(&s.clocksource);
        for w in &s.switches {
            let step = ns_pm(w.offset_step_ns, w.uncertainty_ns).unwrap_or_else(|| DASH.into());
            clocksource.push_str(&format!("<br><small>→ {} at {}: {step}</small>", esc(&w.to), ns(w.at_s * 1e9)));
        }
        out.push_str(&row(
            if s.status == "completed" { "" } else { "notdone" },
            &[
                code(&s.run_id),
                clocksource,
                status,
                s.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(|| DASH.into()),
                if s.samples > 0 { count(s.backwards_steps) } else { DASH.into() },
                s.ticks.as_ref().and_then(|t| t.timer_expirations).map(|b| format!("{:.1}", b.total)).unwrap_or_else(|| DASH.into()),
                s.drift_ppm.map(|d| format!("{} [{}, {}]", fig(d.ppm), fig(d.low), fig(d.high))).unwrap_or_else(|| DASH.into()),
                ns_pm(s.offset_median_ns, s.offset_uncertainty_median_ns).unwrap_or_else(|| DASH.into()),
                ns_pm(s.offset_max_abs_ns, s.offset_max_abs_uncertainty_ns).unwrap_or_else(|| DASH.into()),
                s.read_cost_ns.map(ns).unwrap_or_else(|| DASH.into()),
            ],
        ));
    }
    out.push_str(END);
    if let Some(sentence) = crate::reference::sentence(&r.runs) {
        out.push_str(&format!("<p class=\"reference\">{}</p>\n", esc(&sentence)));
    }
    out.push_str("</section>\n");
    out
}

pub fn faults(r: &Report) -> String {
    let mut rows: Vec<_> = r.runs.iter().flat_map(|s| s.faults.iter().map(move |f| (s, f))).collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort_by_key(|(_, f)| f.index);
    let mut out = String::from("<section id=\"faults\">\n<h2>Time lost per fault</h2>\n");
    out.push_str(&head(&["fault", "kind", "start", "length", "run", "time lost", "max gap", "recovered after", "kernel events"]));
    for (s, f) in rows {
        let lost = match (f.lost_ns, f.lost_uncertainty_ns, &f.error) {
            (_, _, Some(e)) => format!("error: {}", esc(e)),
            (Some(l), Some(u), None) => format!("{} ± {}", ns(l as f64), ns(u as f64)),
            _ => DASH.into(),
        };
        let recovery = match (f.recovery_s, f.lost_ns) {
            (Some(t), _) => ns(t * 1e9),
            (None, Some(_)) => "never".into(),
            (None, None) => DASH.into(),
        };
        let mut events: Vec<String> = f
            .kernel_events
            .iter()
            .map(|e| format!("+{:.1} s {}: {}", e.after_start_s, code(e.event.kind()), esc(&e.event.summary())))
            .collect();
        events.extend(f.findings().into_iter().map(|(at, finding)| {
            let at = at.map(|a| format!("{} ", crate::format::from_start(a))).unwrap_or_default();
            format!("{at}<strong>guest</strong>: {}", esc(&finding))
        }));
        if let Some(c) = &f.correction {
            let service = s.time_service.as_deref().unwrap_or("time service");
            events.push(format!("<strong>measured</strong>: {}", esc(&crate::correction::describe(c, f.recovery_s))));
            events.extend(
                c.service_lines
                    .iter()
                    .map(|l| format!("+{:.1} s {}: {}", l.after_start_s, code(service), esc(crate::terminal::strip_stamp(&l.line)))),
            );
        }
        out.push_str(&row(
            "",
            &[
                f.index.to_string(),
                esc(f.kind.as_str()),
                ns(f.planned_start_ms as f64 * 1e6),
                ns(f.planned_duration_ms as f64 * 1e6),
                code(&s.run_id),
                lost,
                f.max_gap_ns.map(|g| ns(g as f64)).unwrap_or_else(|| DASH.into()),
                recovery,
                if events.is_empty() { DASH.into() } else { events.join("<br>") },
            ],
        ));
    }
    out.push_str(END);
    out.push_str("</section>\n");
    out
}

pub fn gates(r: &Report) -> String {
    let mut out = String::from("<section id=\"gates\">\n<h2>Gates</h2>\n");
    if r.gates.is_empty() {
        out.push_str("<p>No gates checked.</p>\n</section>\n");
        return out;
    }
    let failed = r.gates.iter().filter(|g| !g.passed).count();
    let class = if failed > 0 { "bad" } else { "good" };
    out.push_str(&format!("<p>{} checked, <strong class=\"{class}\">{failed} failed</strong></p>\n", r.gates.len()));
    out.push_str(&head(&["result", "run", "gate", "measured and allowed"]));
    let mut gates: Vec<_> = r.gates.iter().collect();
    gates.sort_by_key(|g| g.passed);
    for g in gates {
        out.push_str(&row(
            if g.passed { "" } else { "fail" },
            &[
                if g.passed { "✓ passed".into() } else { "<strong class=\"bad\">✗ failed</strong>".into() },
                code(&g.run_id),
                code(&g.gate),
                esc(&g.message),
            ],
        ));
    }
    out.push_str(END);
    out.push_str("</section>\n");
    out
}

pub fn groups(r: &Report) -> String {
    let mut out = String::from("<section id=\"groups\">\n<h2>Over repetitions</h2>\n");
    let Some(first) = r.groups.first() else {
        out.push_str("<p>No combination has two completed runs: no statistics over repetitions.</p>\n</section>\n");
        return out;
    };
    out.push_str(&format!(
        "<p>Mean with a Student-t 95 % CI; median with a percentile-bootstrap 95 % CI ({} resamples, seed {}).</p>\n",
        first.median.resamples, first.median.seed
    ));
    out.push_str(&head(&["combination", "metric", "n", "runs", "mean [95 % CI]", "median [95 % CI]", "note"]));
    for g in &r.groups {
        let u = |v: f64| with_unit(v, &g.unit);
        let (low, high, _) = g.shown_interval();
        out.push_str(&row(
            "",
            &[
                code(&g.group),
                esc(&g.metric),
                g.mean.n.to_string(),
                esc(&g.values.iter().map(|v| u(*v)).collect::<Vec<_>>().join(", ")),
                esc(&format!("{} [{}, {}]", u(g.mean.mean), u(low), u(high))),
                esc(&format!("{} [{}, {}]", u(g.median.median), u(g.median.low), u(g.median.high))),
                esc(&g.interval_notes().join("; ")),
            ],
        ));
    }
    out.push_str(END);
    out.push_str("</section>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_keep_three_significant_digits() {
        assert_eq!(super::fig(4.687_15), "4.69");
        assert_eq!(super::fig(2_430.0), "2430");
        assert_eq!(super::fig(-0.012_34), "-0.0123");
        assert_eq!(super::fig(0.0), "0");
        assert_eq!(super::fig(f64::NEG_INFINITY), "−∞");
        assert_eq!(super::fig(f64::NAN), "–");
    }
}
