//! The table printed at the end of `clockstorm run`.

use crate::format::{count, ns};
use crate::RunSummary;

const HEADERS: [&str; 10] = [
    "clocksource",
    "status",
    "boot→hello",
    "samples",
    "max gap",
    "back steps",
    "tick backlog",
    "offset to host",
    "read cost",
    "overhead",
];

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
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push_str(&line(&widths.map(|w| "─".repeat(w))));
    for r in &rows {
        out.push_str(&line(r));
    }
    for s in summaries {
        if let Some(detail) = &s.detail {
            out.push_str(&format!("{}: {}\n", s.clocksource, detail));
        }
    }
    out
}

fn row(s: &RunSummary) -> [String; 10] {
    let dash = || "–".to_string();
    let offset = match (s.offset_median_ns, s.offset_uncertainty_median_ns) {
        (Some(o), Some(u)) => format!("{} ± {}", ns(o as f64), ns(u as f64)),
        _ => dash(),
    };
    let measured = s.samples > 0;
    [
        s.clocksource.clone(),
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
