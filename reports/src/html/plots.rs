//! The report's plots: offset and tick backlog over time, the gap
//! histogram, the timer latency CDF and the comparison bars, each an inline
//! SVG that renders something sensible (a frame and "no data") when empty.

use std::collections::BTreeMap;

use super::svg::{self, esc, num, Axis, Frame, Swatch};
use crate::format::ns;
use crate::model::{group_of, GroupStats, Report};
use crate::series::{Bin, Mark, Point, RunSeries, Span};

/// Colour-blind-safe colours (Okabe–Ito, then two darker ones), handed to
/// clocksources in name order so a clocksource has one colour everywhere.
const PALETTE: [&str; 8] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c564b", "#333333"];
/// Runs of one clocksource share its colour and differ by dash pattern.
const DASHES: [&str; 5] = ["", "6 3", "2 2", "9 3 2 3", "1 3"];
const UNKNOWN: &str = "#888888";

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 64.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

/// Every clocksource the report names, sorted: the palette's order.
pub struct Palette(Vec<String>);

impl Palette {
    pub fn of(r: &Report) -> Palette {
        let mut names: Vec<String> = r.series.iter().map(|s| s.clocksource.clone()).collect();
        names.extend(r.runs.iter().map(|s| s.clocksource.clone()));
        names.extend(r.provenance.runs.iter().map(|m| m.clocksource.to_string()));
        names.sort();
        names.dedup();
        Palette(names)
    }

    pub fn colour(&self, clocksource: &str) -> &'static str {
        self.0.iter().position(|n| n == clocksource).map_or(UNKNOWN, |i| PALETTE[i % PALETTE.len()])
    }
}

/// Colour and dash of each series, by its index in the report.
fn styles(series: &[RunSeries], palette: &Palette) -> Vec<(&'static str, &'static str)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    series
        .iter()
        .map(|s| {
            let rank = seen.entry(&s.clocksource).or_insert(0);
            *rank += 1;
            (palette.colour(&s.clocksource), DASHES[(*rank - 1) % DASHES.len()])
        })
        .collect()
}

fn finite(p: &&Point) -> bool {
    p.x.is_finite() && p.y.is_finite()
}

/// Smallest and largest of some values, ignoring those not finite.
fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

/// One fault span per fault index over several runs: runs see the same
/// fault at slightly different host times, so draw the widest.
fn merged_spans<'a>(series: impl IntoIterator<Item = &'a RunSeries>) -> Vec<Span> {
    let mut by_index: BTreeMap<usize, Span> = BTreeMap::new();
    for span in series.into_iter().flat_map(|s| &s.faults).filter(|s| s.start_s.is_finite() && s.end_s.is_finite()) {
        by_index
            .entry(span.index)
            .and_modify(|m| {
                m.start_s = m.start_s.min(span.start_s);
                m.end_s = m.end_s.max(span.end_s);
            })
            .or_insert_with(|| span.clone());
    }
    by_index.into_values().collect()
}

struct Line<'a> {
    label: &'a str,
    colour: &'static str,
    dash: &'static str,
    points: &'a [Point],
}

fn figure(svg: String, caption: &str) -> String {
    if caption.is_empty() {
        format!("<figure>\n{svg}</figure>\n")
    } else {
        format!("<figure>\n{svg}<figcaption>{}</figcaption>\n</figure>\n", esc(caption))
    }
}

/// Lines over host time, with fault spans shaded and kernel events marked.
fn time_chart(title: &str, y_label: &str, lines: &[Line], spans: &[Span], marks: &[(&str, &Mark)], with_zero: bool) -> String {
    const X_LABEL: &str = "seconds since the timeline origin";
    let mut entries: Vec<(String, Swatch)> = lines.iter().map(|l| (l.label.to_owned(), Swatch::Line { colour: l.colour, dash: l.dash })).collect();
    if !spans.is_empty() {
        entries.push(("fault".into(), Swatch::Class { class: "span", line: false }));
    }
    if !marks.is_empty() {
        entries.push(("kernel event".into(), Swatch::Class { class: "event", line: true }));
    }
    let right = svg::legend_width(entries.iter().map(|e| e.0.as_str()));
    let f = Frame { width: WIDTH, height: HEIGHT, left: LEFT, right, top: TOP, bottom: BOTTOM };
    let mut s = svg::open(&f, title);
    let points = || lines.iter().flat_map(|l| l.points.iter().filter(finite));
    let (Some(xs), Some(ys)) = (extent(points().map(|p| p.x)), extent(points().map(|p| p.y))) else {
        s.push_str(&svg::no_data(&f, X_LABEL, y_label));
        s.push_str(svg::CLOSE);
        return s;
    };
    let (x_lo, x_hi) =
        extent([xs.0, xs.1].into_iter().chain(spans.iter().flat_map(|s| [s.start_s, s.end_s])).chain(marks.iter().map(|m| m.1.t_s))).unwrap_or(xs);
    let (y_lo, y_hi) = if with_zero { (ys.0.min(0.0), ys.1.max(0.0)) } else { ys };
    let x = Axis::linear(x_lo, x_hi, f.xs());
    let y = Axis::linear(y_lo, y_hi, f.ys());
    s.push_str(&svg::axes(&f, &x, &y, (X_LABEL, y_label), (true, true)));
    for span in spans {
        let (a, b) = (x.map(span.start_s.min(span.end_s)), x.map(span.start_s.max(span.end_s)));
        s.push_str(&format!(
            "<g><title>fault {} ({}): {:.2} s to {:.2} s</title><rect class=\"span\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\
             <text class=\"spanlabel\" x=\"{}\" y=\"{}\">#{} {}</text></g>\n",
            span.index,
            esc(span.kind.as_str()),
            span.start_s,
            span.end_s,
            num(a),
            num(f.y0()),
            num(b - a),
            num(f.y1() - f.y0()),
            num(a + 3.0),
            num(f.y0() + 12.0),
            span.index,
            esc(span.kind.as_str())
        ));
    }
    for l in lines {
        let points: Vec<&Point> = l.points.iter().filter(finite).collect();
        let d = svg::path_segments(split_at_gaps(&points).into_iter().map(|seg| seg.iter().map(|p| (x.map(p.x), y.map(p.y))).collect::<Vec<_>>()));
        if d.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "<path class=\"series\" d=\"{d}\" stroke=\"{}\"{}><title>{}</title></path>\n",
            l.colour,
            svg::dash_attr(l.dash),
            esc(l.label)
        ));
    }
    for (run, m) in marks.iter().filter(|m| m.1.t_s.is_finite()) {
        let px = num(x.map(m.t_s));
        let (y0, y1) = (num(f.y0()), num(f.y1()));
        s.push_str(&format!(
            "<g><title>{} at {:.2} s ({}): {}</title><line class=\"event\" x1=\"{px}\" y1=\"{y0}\" x2=\"{px}\" y2=\"{y1}\"/>\
             <line class=\"hit\" x1=\"{px}\" y1=\"{y0}\" x2=\"{px}\" y2=\"{y1}\"/></g>\n",
            esc(&m.kind),
            m.t_s,
            esc(run),
            esc(&m.summary)
        ));
    }
    s.push_str(&svg::legend(&f, &entries));
    s.push_str(svg::CLOSE);
    s
}

/// Pieces of a series between stretches without data: a step in x longer
/// than half a second and five times the median step.
fn split_at_gaps<'a>(points: &[&'a Point]) -> Vec<Vec<&'a Point>> {
    let mut steps: Vec<f64> = points.windows(2).map(|w| w[1].x - w[0].x).collect();
    steps.sort_by(|a, b| a.total_cmp(b));
    let limit = steps.get(steps.len() / 2).map_or(f64::INFINITY, |m| (5.0 * m).max(0.5));
    let mut out: Vec<Vec<&Point>> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        if i == 0 || p.x - points[i - 1].x > limit {
            out.push(Vec::new());
        }
        out.last_mut().expect("a piece was started").push(p);
    }
    out
}

/// Series indices per clocksource, clocksources in name order (only series
/// with offsets: a skipped run has nothing to draw).
fn by_clocksource(series: &[RunSeries]) -> BTreeMap<&str, Vec<usize>> {
    let mut out: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate().filter(|(_, s)| !s.offset_ms.is_empty()) {
        out.entry(s.clocksource.as_str()).or_default().push(i);
    }
    out
}

/// One chart per clocksource (one empty chart when there are no runs).
fn offset_charts(r: &Report, styles: &[(&'static str, &'static str)]) -> Vec<String> {
    const Y_LABEL: &str = "offset host − guest (ms)";
    let groups = by_clocksource(&r.series);
    if groups.is_empty() {
        return vec![time_chart("Offset to host over time", Y_LABEL, &[], &[], &[], false)];
    }
    groups
        .iter()
        .map(|(clocksource, indices)| {
            let runs: Vec<&RunSeries> = indices.iter().map(|&i| &r.series[i]).collect();
            let lines: Vec<Line> = indices
                .iter()
                .map(|&i| Line { label: &r.series[i].run_id, colour: styles[i].0, dash: styles[i].1, points: &r.series[i].offset_ms })
                .collect();
            let marks: Vec<(&str, &Mark)> = runs.iter().flat_map(|s| s.kernel_events.iter().map(move |m| (s.run_id.as_str(), m))).collect();
            let title = format!("Offset to host over time: {clocksource}");
            time_chart(&title, Y_LABEL, &lines, &merged_spans(runs.iter().copied()), &marks, false)
        })
        .collect()
}

fn backlog_chart(r: &Report, styles: &[(&'static str, &'static str)]) -> String {
    let lines: Vec<Line> = r
        .series
        .iter()
        .zip(styles)
        .filter(|(s, _)| !s.backlog_ticks.is_empty())
        .map(|(s, st)| Line { label: &s.run_id, colour: st.0, dash: st.1, points: &s.backlog_ticks })
        .collect();
    time_chart("Tick backlog over time", "timer backlog (ticks)", &lines, &merged_spans(&r.series), &[], true)
}

/// The bins of several histograms on one axis. Power-of-two bins are
/// completed into an unbroken run, so equal widths stay a log axis.
fn common_bins<'a>(bins: impl IntoIterator<Item = &'a Bin>) -> Vec<(u64, u64)> {
    let mut keys: Vec<(u64, u64)> = bins.into_iter().map(|b| (b.low_ns, b.high_ns)).collect();
    keys.sort();
    keys.dedup();
    let power_of_two = |&(low, high): &(u64, u64)| low.is_power_of_two() && (Some(high) == low.checked_mul(2) || high == u64::MAX);
    if keys.is_empty() || !keys.iter().all(power_of_two) {
        return keys;
    }
    let (first, last) = (keys[0].0.trailing_zeros(), keys[keys.len() - 1].0.trailing_zeros());
    (first..=last).map(|k| (1u64 << k, if k == 63 { u64::MAX } else { 1u64 << (k + 1) })).collect()
}

/// Bars per bin, one per clocksource (its runs' windows added up).
fn gap_histogram(r: &Report, palette: &Palette) -> String {
    const X_LABEL: &str = "largest gap in a window (power-of-two bins, log scale)";
    const Y_LABEL: &str = "windows";
    let groups = by_clocksource(&r.series);
    let bins = common_bins(r.series.iter().flat_map(|s| &s.gap_histogram));
    let counts: Vec<(&str, usize, Vec<u64>)> = groups
        .iter()
        .map(|(cs, indices)| {
            let mut per_bin = vec![0u64; bins.len()];
            for b in indices.iter().flat_map(|&i| &r.series[i].gap_histogram) {
                if let Ok(k) = bins.binary_search(&(b.low_ns, b.high_ns)) {
                    per_bin[k] = per_bin[k].saturating_add(b.count);
                }
            }
            (*cs, indices.len(), per_bin)
        })
        .filter(|c| !c.2.is_empty())
        .collect();
    let entries: Vec<(String, Swatch)> = counts
        .iter()
        .map(|(cs, runs, _)| (format!("{cs} ({runs} run{})", if *runs == 1 { "" } else { "s" }), Swatch::Box { colour: palette.colour(cs) }))
        .collect();
    let right = svg::legend_width(entries.iter().map(|e| e.0.as_str()));
    let f = Frame { width: WIDTH, height: HEIGHT, left: LEFT, right, top: TOP, bottom: BOTTOM };
    let mut s = svg::open(&f, "Gap histogram");
    if bins.is_empty() || counts.is_empty() {
        s.push_str(&svg::no_data(&f, X_LABEL, Y_LABEL));
        s.push_str(svg::CLOSE);
        return s;
    }
    let n = bins.len();
    // Label at most ~8 bin edges, so "1.05 ms"-wide labels do not collide.
    let every = n.div_ceil(8).max(1);
    let edge = |i: usize| if i < n { bins[i].0 } else { bins[n - 1].1 };
    let ticks = (0..=n).filter(|i| i % every == 0).map(|i| (i as f64, ns(edge(i) as f64))).collect();
    let x = Axis { scale: svg::Scale::linear((0.0, n as f64), f.xs()), ticks };
    let top = counts.iter().flat_map(|c| c.2.iter()).copied().max().unwrap_or(0);
    let y = Axis::linear(0.0, top.max(1) as f64, f.ys());
    s.push_str(&svg::axes(&f, &x, &y, (X_LABEL, Y_LABEL), (false, true)));
    let slot = (f.x1() - f.x0()) / n as f64;
    let bar = slot * 0.8 / counts.len() as f64;
    for (c, (cs, _, per_bin)) in counts.iter().enumerate() {
        let colour = palette.colour(cs);
        for (i, &count) in per_bin.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let (x0, top) = (f.x0() + slot * (i as f64 + 0.1) + bar * c as f64, y.map(count as f64));
            s.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\"><title>{}: {} window{} with a largest gap in [{}, {})</title></rect>\n",
                num(x0),
                num(top),
                num(bar),
                num(f.y1() - top),
                esc(cs),
                crate::format::count(count),
                if count == 1 { "" } else { "s" },
                ns(bins[i].0 as f64),
                ns(bins[i].1 as f64)
            ));
        }
    }
    s.push_str(&svg::legend(&f, &entries));
    s.push_str(svg::CLOSE);
    s
}

/// Step lines of each run's distribution of per-window p99 latency.
fn latency_cdf(r: &Report, styles: &[(&'static str, &'static str)]) -> String {
    const X_LABEL: &str = "p99 wake-up latency of a window (µs, log scale)";
    const Y_LABEL: &str = "fraction of windows";
    // A log axis has no place for 0 or less.
    let usable = |p: &&Point| p.x.is_finite() && p.x > 0.0 && p.y.is_finite();
    let entries: Vec<(String, Swatch)> = r
        .series
        .iter()
        .zip(styles)
        .filter(|(s, _)| s.latency_p99_cdf.iter().any(|p| usable(&p)))
        .map(|(s, st)| (s.run_id.clone(), Swatch::Line { colour: st.0, dash: st.1 }))
        .collect();
    let right = svg::legend_width(entries.iter().map(|e| e.0.as_str()));
    let f = Frame { width: WIDTH, height: HEIGHT, left: LEFT, right, top: TOP, bottom: BOTTOM };
    let mut s = svg::open(&f, "Timer latency CDF");
    let Some((lo, hi)) = extent(r.series.iter().flat_map(|s| s.latency_p99_cdf.iter().filter(usable).map(|p| p.x))) else {
        s.push_str(&svg::no_data(&f, X_LABEL, Y_LABEL));
        s.push_str(svg::CLOSE);
        return s;
    };
    let x = Axis::log(lo, hi, f.xs());
    let y = Axis::linear(0.0, 1.0, f.ys());
    s.push_str(&svg::axes(&f, &x, &y, (X_LABEL, Y_LABEL), (true, true)));
    for (series, (colour, dash)) in r.series.iter().zip(styles) {
        let mut points: Vec<&Point> = series.latency_p99_cdf.iter().filter(usable).collect();
        if points.is_empty() {
            continue;
        }
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        // Up from 0 at the first value, then along and up at each next one,
        // and on at the last fraction to the right edge.
        let mut corners = vec![(x.map(points[0].x), y.map(0.0))];
        let mut level = 0.0;
        for p in &points {
            corners.push((x.map(p.x), y.map(level)));
            level = p.y.clamp(0.0, 1.0);
            corners.push((x.map(p.x), y.map(level)));
        }
        corners.push((f.x1(), y.map(level)));
        s.push_str(&format!(
            "<path class=\"series\" d=\"{}\" stroke=\"{colour}\"{}><title>{}</title></path>\n",
            svg::path(corners),
            svg::dash_attr(dash),
            esc(&series.run_id)
        ));
    }
    s.push_str(&svg::legend(&f, &entries));
    s.push_str(svg::CLOSE);
    s
}

/// The clocksource a combination ran on, for its colour.
fn clocksource_of<'a>(r: &'a Report, group: &str) -> &'a str {
    r.provenance
        .runs
        .iter()
        .find(|m| group_of(&m.id) == group)
        .map(|m| m.clocksource.kernel_name())
        .or_else(|| r.runs.iter().find(|s| group_of(&s.run_id) == group).map(|s| s.clocksource.as_str()))
        .unwrap_or("")
}

/// Horizontal bars of one metric's means per combination, with 95 % CI whiskers.
fn metric_bars(r: &Report, palette: &Palette, metric: &str, unit: &str, rows: &[&GroupStats]) -> String {
    const ROW: f64 = 30.0;
    let labels: Vec<String> = rows.iter().map(|g| svg::shorten(&g.group, 44)).collect();
    let left = (labels.iter().map(|l| svg::text_width(l)).fold(0.0, f64::max) + 16.0).clamp(LEFT, 320.0);
    let height = TOP + BOTTOM + 8.0 + ROW * rows.len().max(2) as f64;
    let f = Frame { width: WIDTH, height, left, right: 24.0, top: TOP, bottom: BOTTOM };
    let x_label = format!("{metric} ({unit})");
    let mut s = svg::open(&f, &format!("{metric}: mean and 95 % CI per combination"));
    // Bars start at 0, so 0 is on the axis whenever there is a bar; the
    // runs themselves are drawn too, so they must fit.
    let values = rows.iter().flat_map(|g| {
        let (low, high, _) = g.shown_interval();
        [g.mean.mean, low, high].into_iter().chain(g.values.iter().copied())
    });
    let Some((lo, hi)) = extent(values).map(|(lo, hi)| (lo.min(0.0), hi.max(0.0))) else {
        s.push_str(&svg::no_data(&f, &x_label, "combination"));
        s.push_str(svg::CLOSE);
        return s;
    };
    let x = Axis::linear(lo, hi, f.xs());
    let ticks = labels.iter().enumerate().map(|(i, l)| (i as f64 + 0.5, l.clone())).collect();
    let y = Axis { scale: svg::Scale::linear((0.0, rows.len() as f64), (f.y0() + 4.0, f.y1() - 4.0)), ticks };
    s.push_str(&svg::axes(&f, &x, &y, (&x_label, ""), (true, false)));
    for (i, g) in rows.iter().enumerate() {
        let cy = y.map(i as f64 + 0.5);
        let (zero, mean) = (x.map(0.0), x.map(g.mean.mean));
        // A bound that is not a number shrinks the whisker to the mean.
        let bound = |v: f64| if v.is_finite() { x.map(v) } else { mean };
        let (shown_low, shown_high, clipped) = g.shown_interval();
        let (low, high) = (bound(shown_low), bound(shown_high));
        let runs = g.values.iter().map(|v| super::tables::fig(*v)).collect::<Vec<_>>().join(", ");
        s.push_str(&format!(
            "<g><title>{}: mean {} {}, 95 % CI [{}, {}]{}, n = {}, runs: {}</title>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"{}\" fill-opacity=\"0.75\"/>\
             <path class=\"whisker\" d=\"M{},{}H{}M{},{}V{}M{},{}V{}\"/></g>\n",
            esc(&g.group),
            super::tables::fig(g.mean.mean),
            esc(unit),
            super::tables::fig(shown_low),
            super::tables::fig(shown_high),
            if clipped { " (clipped at the metric's floor)" } else { "" },
            g.mean.n,
            runs,
            num(zero.min(mean)),
            num(cy - 9.0),
            num((mean - zero).abs()),
            palette.colour(clocksource_of(r, &g.group)),
            num(low),
            num(cy),
            num(high),
            num(low),
            num(cy - 5.0),
            num(cy + 5.0),
            num(high),
            num(cy - 5.0),
            num(cy + 5.0),
        ));
        // Each run as a dot on the bar's row: with few runs they say more
        // than the interval.
        for v in g.values.iter().filter(|v| v.is_finite()) {
            s.push_str(&format!("<circle class=\"run\" cx=\"{}\" cy=\"{}\" r=\"3\"/>\n", num(x.map(*v)), num(cy)));
        }
        // The figures beside the bar where they fit, else on it.
        let few = if g.mean.n < crate::model::FEW_RUNS { format!(", n = {}", g.mean.n) } else { String::new() };
        let label = format!("{} [{}, {}]{few}", super::tables::fig(g.mean.mean), super::tables::fig(shown_low), super::tables::fig(shown_high));
        let (from, to) = (zero.min(mean).min(low), zero.max(mean).max(high));
        let width = svg::text_width(&label);
        if to + 6.0 + width <= f.x1() {
            s.push_str(&format!("<text x=\"{}\" y=\"{}\" dy=\"4\">{}</text>\n", num(to + 6.0), num(cy), esc(&label)));
        } else if from - 6.0 - width >= f.x0() {
            s.push_str(&format!("<text x=\"{}\" y=\"{}\" dy=\"4\" text-anchor=\"end\">{}</text>\n", num(from - 6.0), num(cy), esc(&label)));
        } else if (mean - zero).abs() >= width + 40.0 {
            s.push_str(&format!(
                "<text class=\"onbar\" x=\"{}\" y=\"{}\" dy=\"4\" text-anchor=\"middle\">{}</text>\n",
                num(zero.min(mean) + (mean - zero).abs() / 2.0),
                num(cy),
                esc(&label)
            ));
        }
    }
    s.push_str(svg::CLOSE);
    s
}

/// One bar chart per metric, metrics in the order the report lists them,
/// each with its caption: what the reader must know to read its intervals.
fn comparison_bars(r: &Report, palette: &Palette) -> Vec<(String, String)> {
    let mut metrics: Vec<(&str, &str, Vec<&GroupStats>)> = Vec::new();
    for g in r.groups.iter().filter(|g| g.mean.mean.is_finite()) {
        match metrics.iter_mut().find(|m| m.0 == g.metric) {
            Some(m) => m.2.push(g),
            None => metrics.push((&g.metric, &g.unit, vec![g])),
        }
    }
    if metrics.is_empty() {
        return vec![(metric_bars(r, palette, "no metric", "–", &[]), String::new())];
    }
    metrics
        .iter()
        .map(|(metric, unit, rows)| {
            let notes: Vec<String> = rows.iter().flat_map(|g| g.interval_notes().into_iter().map(move |n| format!("{}: {n}", g.group))).collect();
            (metric_bars(r, palette, metric, unit, rows), notes.join("; "))
        })
        .collect()
}

/// The plots section: every plot in a figure, under its heading.
pub fn section(r: &Report) -> String {
    let palette = Palette::of(r);
    let styles = styles(&r.series, &palette);
    let mut out = String::from("<section id=\"plots\">\n<h2>Plots</h2>\n");
    out.push_str(
        "<h3 id=\"offset\">Offset to host over time</h3>\n<p class=\"note\">Host − guest CLOCK_REALTIME from every exchange after the sync: \
         a guest that lost time is behind (a step up). Shaded: faults; dashed: kernel clock events (hover for details).</p>\n",
    );
    for chart in offset_charts(r, &styles) {
        out.push_str(&figure(chart, ""));
    }
    out.push_str("<h3 id=\"backlog\">Tick backlog over time</h3>\n");
    out.push_str(&figure(backlog_chart(r, &styles), "ticks the probe's timer should have seen by the host's clock, minus ticks it saw"));
    out.push_str("<h3 id=\"gaps\">Gap histogram</h3>\n");
    out.push_str(&figure(gap_histogram(r, &palette), "largest gap between clock reads in each 100 ms window"));
    out.push_str("<h3 id=\"latency\">Timer latency CDF</h3>\n");
    out.push_str(&figure(latency_cdf(r, &styles), "p99 wake-up latency of each 100 ms timer window"));
    out.push_str(
        "<h3 id=\"bars\">Comparison bars with 95 % CIs</h3>\n<p class=\"note\">Mean over the repetitions of each combination; \
         dots: the runs themselves; whiskers: Student-t 95 % confidence interval, kept at the metric's floor (a cost, gap, \
         uncertainty or latency cannot be negative). Only combinations with at least two completed runs; under 5 runs the \
         caption says the interval means little.</p>\n",
    );
    for (chart, caption) in comparison_bars(r, &palette) {
        out.push_str(&figure(chart, &caption));
    }
    out.push_str("</section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_bins_are_completed_into_one_run() {
        let bin = |low: u64, count| Bin { low_ns: low, high_ns: low * 2, count };
        let bins = [bin(1 << 19, 4), bin(1 << 22, 1), bin(1 << 20, 2)];
        let common = common_bins(&bins);
        assert_eq!(common, vec![(1 << 19, 1 << 20), (1 << 20, 1 << 21), (1 << 21, 1 << 22), (1 << 22, 1 << 23)]);
        let odd = [Bin { low_ns: 3, high_ns: 7, count: 1 }];
        assert_eq!(common_bins(&odd), vec![(3, 7)], "other bins are kept as they are");
    }

    #[test]
    fn colours_follow_sorted_clocksource_names() {
        let r = crate::fixtures::report();
        let p = Palette::of(&r);
        assert_eq!((p.colour("acpi_pm"), p.colour("hpet"), p.colour("nope")), (PALETTE[0], PALETTE[1], UNKNOWN));
        let st = styles(&r.series, &p);
        assert_eq!(st[0], (PALETTE[0], DASHES[0]));
        assert_eq!(st[1], (PALETTE[0], DASHES[1]));
        assert_eq!(st[3], (PALETTE[1], DASHES[0]));
    }

    #[test]
    fn spans_of_one_fault_merge_across_runs() {
        let run = |a: f64, b: f64| RunSeries {
            faults: vec![Span { index: 0, kind: clockstorm_protocol::FaultKindName::Freeze, start_s: a, end_s: b }],
            ..RunSeries::default()
        };
        let merged = merged_spans(&[run(2.0, 8.0), run(1.9, 8.2), run(f64::NAN, 9.0)]);
        assert_eq!(merged, vec![Span { index: 0, kind: clockstorm_protocol::FaultKindName::Freeze, start_s: 1.9, end_s: 8.2 }]);
    }

    #[test]
    fn empty_and_non_finite_series_draw_no_data() {
        let mut r = crate::model::build(crate::fixtures::manifest(vec![]), vec![], vec![], vec![]);
        r.series.push(RunSeries {
            run_id: "x".into(),
            clocksource: "tsc".into(),
            offset_ms: vec![Point { x: f64::NAN, y: 1.0 }, Point { x: 1.0, y: f64::INFINITY }],
            latency_p99_cdf: vec![Point { x: 0.0, y: 1.0 }],
            ..RunSeries::default()
        });
        let html = section(&r);
        assert_eq!(html.matches("no data").count(), 5, "{html}");
        assert!(!html.contains("NaN") && !html.contains("inf"), "{html}");
    }
}
