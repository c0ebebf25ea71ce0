//! The whole page: a snapshot of the fixture, and the properties a browser
//! and an archive rely on (finite coordinates, a known plot count, nothing
//! fetched from elsewhere), also for a report with no runs at all.

use crate::model::Report;

fn empty_report() -> Report {
    crate::model::build(crate::fixtures::manifest(vec![]), vec![], vec![], vec![])
}

/// Plots the page should have: an offset chart per clocksource, backlog,
/// gap histogram and latency CDF, and a bar chart per metric (at least one each).
fn expected_plots(r: &Report) -> usize {
    let mut clocksources: Vec<&str> = r.series.iter().map(|s| s.clocksource.as_str()).collect();
    clocksources.sort();
    clocksources.dedup();
    let mut metrics: Vec<&str> = r.groups.iter().map(|g| g.metric.as_str()).collect();
    metrics.sort();
    metrics.dedup();
    clocksources.len().max(1) + 3 + metrics.len().max(1)
}

fn assert_self_contained_and_finite(html: &str) {
    for bad in ["NaN", "inf", "http://", "https://", "src=", "url(", "@import", "<link", "<img", "<iframe"] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.ends_with("</html>\n"));
    assert_eq!(html.matches("<script>").count(), 2, "the error hook and the check, nothing else");
    assert_eq!(html.matches("<svg").count(), html.matches("<svg class=\"plot\"").count(), "every svg is a plot");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!(super::render(&crate::fixtures::report()));
}

#[test]
fn the_fixture_page_is_self_contained_with_every_plot() {
    let r = crate::fixtures::report();
    let html = super::render(&r);
    assert_self_contained_and_finite(&html);
    assert_eq!(expected_plots(&r), 12);
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 12);
    assert!(!html.contains("no data"), "the fixture has data for every plot");
    for part in [
        "clockstorm report — vf-reload",
        "Offset to host over time: acpi_pm",
        "Offset to host over time: hpet",
        "largest gap between clock reads in each 100 ms window",
        "p99 wake-up latency of each 100 ms timer window",
        "clocksource_unstable at 8.40 s (vf-reload-acpi_pm.r0)",
        "#0 freeze",
        "<code>clockstorm run vf-reload</code>",
        "never",
    ] {
        assert!(html.contains(part), "missing {part:?}");
    }
    let failed = html.find("✗ failed").expect("a failed gate");
    let passed = html.find("✓ passed").expect("a passed gate");
    assert!(failed < passed, "failed gates first");
}

#[test]
fn a_verdict_that_disagrees_with_the_model_is_marked() {
    let mut r = crate::fixtures::report();
    assert!(!super::render(&r).contains("⚠ disagrees"));
    r.verdicts[0].disagrees_with_model = true;
    let html = super::render(&r);
    assert!(html.contains("<li class=\"disagrees\"><span class=\"warn\">⚠ disagrees with the clock model:</span> fault 0: acpi_pm"), "{html}");
    assert!(html.contains("1 verdict disagrees with the clock model"));
}

#[test]
fn an_empty_report_draws_frames_saying_no_data() {
    let r = empty_report();
    let html = super::render(&r);
    assert_self_contained_and_finite(&html);
    assert_eq!(expected_plots(&r), 5);
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 5);
    assert_eq!(html.matches(">no data</text>").count(), 5);
}

#[test]
fn text_from_the_report_is_escaped() {
    let mut r = crate::fixtures::report();
    r.provenance.scenario.name = "<script>alert('x')</script> & \"co\"".into();
    r.series[0].kernel_events[0].summary = "<b>bold</b>".into();
    let html = super::render(&r);
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;") && !html.contains("<b>bold"));
    assert_eq!(html.matches("<script>").count(), 2);
}

#[test]
fn the_same_report_gives_the_same_bytes() {
    assert_eq!(super::render(&crate::fixtures::report()), super::render(&crate::fixtures::report()));
}

/// Writes the fixture page for a look in a browser:
/// `cargo test -p clockstorm-reports write_fixture_page -- --ignored`.
#[test]
#[ignore]
fn write_fixture_page() {
    let path = std::env::temp_dir().join("html-fixture.html");
    std::fs::write(&path, super::render(&crate::fixtures::report())).unwrap();
    let empty = std::env::temp_dir().join("html-empty.html");
    std::fs::write(&empty, super::render(&empty_report())).unwrap();
    eprintln!("wrote {} and {}", path.display(), empty.display());
}

#[test]
fn bars_show_the_runs_keep_intervals_at_the_floor_and_say_when_runs_are_few() {
    let mut r = crate::fixtures::report();
    // Two runs 7 ms and 9 ms: the t interval reaches -4.7 ms.
    let sample = crate::stats::Sample::new(vec![7.0, 9.0]).unwrap();
    for g in r.groups.iter_mut().filter(|g| g.metric == "max gap") {
        g.mean = crate::stats::mean_ci(&sample, 0.95);
        g.median = crate::stats::median_bootstrap_ci(&sample, 0.95, 100, 1);
        g.values = sample.values().to_vec();
    }
    let r = r;
    let gap = r.groups.iter().find(|g| g.metric == "max gap").expect("the fixture has a max gap group");
    assert!(gap.mean.low < 0.0);
    let html = crate::html::render(&r);
    let bars = &html[html.find("id=\"bars\"").unwrap()..];
    let gap_chart = &bars[bars.find("max gap: mean").unwrap()..];
    let gap_chart = &gap_chart[..gap_chart.find("</figure>").unwrap()];
    // One dot per run; the whisker starts at 0, not at the t interval's low end.
    assert_eq!(gap_chart.matches("<circle class=\"run\"").count(), gap.values.len() * r.groups.iter().filter(|g| g.metric == "max gap").count());
    assert!(gap_chart.contains("(clipped at the metric's floor)"), "{gap_chart}");
    assert!(gap_chart.contains("clipped at 0: max gap cannot be negative"), "{gap_chart}");
    assert!(gap_chart.contains("2 runs: too few for the interval to mean much"), "{gap_chart}");
    assert!(!gap_chart.contains(&format!("[{}", super::tables::fig(gap.mean.low))), "the unclipped low end is not drawn: {gap_chart}");
}
