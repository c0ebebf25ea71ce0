//! Drawing primitives for the report's inline SVG: escaping, coordinates,
//! scales with "nice" ticks, axes and legends. Pure functions of numbers
//! and text, so every plot is deterministic and testable without a browser.

/// Escapes text for HTML and SVG, in element content and attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most two decimals. Anything not finite becomes 0
/// and magnitudes are capped, so no NaN, inf or exponent reaches an attribute.
pub fn num(v: f64) -> String {
    let v = if v.is_finite() { v.clamp(-1e6, 1e6) } else { 0.0 };
    let mut s = format!("{v:.2}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// A value range that ticks can be put on: finite, ordered, not empty.
fn usable_range(lo: f64, hi: f64) -> (f64, f64) {
    // Beyond this, i64 tick indices and two-decimal labels stop making sense.
    const LIMIT: f64 = 1e15;
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let (lo, hi) = (lo.min(hi).clamp(-LIMIT, LIMIT), lo.max(hi).clamp(-LIMIT, LIMIT));
    if hi - lo > hi.abs().max(lo.abs()) * 1e-9 {
        return (lo, hi);
    }
    let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    (lo - pad, hi + pad)
}

/// A step of 1, 2 or 5 × 10^k giving about `target` intervals over `span`,
/// as (1, 2 or 5; k), so ticks can be computed without accumulating error.
fn nice_step(span: f64, target: f64) -> (f64, i32) {
    let raw = span / target;
    if !(raw.is_finite() && raw > 0.0) {
        return (1.0, 0);
    }
    let k = raw.log10().floor() as i32;
    let norm = raw / 10f64.powi(k);
    match norm {
        n if n < 1.5 => (1.0, k),
        n if n < 3.0 => (2.0, k),
        n if n < 7.0 => (5.0, k),
        _ => (1.0, k + 1),
    }
}

/// Ticks at a multiple of a 1/2/5 × 10^k step that cover [lo, hi]: the
/// first is at or below lo, the last at or above hi (they bound the axis).
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = usable_range(lo, hi);
    let (m, k) = nice_step(hi - lo, 5.0);
    // i·m/10^-k rather than i·(m·10^k): 0.3, not 0.30000000000000004.
    let at = |i: i64| if k >= 0 { i as f64 * m * 10f64.powi(k) } else { i as f64 * m / 10f64.powi(-k) };
    let step = at(1);
    // The slack keeps 0.3/0.1 = 2.9999999999999996 on tick 3.
    let (first, last) = ((lo / step + 1e-9).floor(), (hi / step - 1e-9).ceil());
    if !(first.is_finite() && last.is_finite()) || last - first > 100.0 {
        return vec![lo, hi];
    }
    (first as i64..=last as i64).map(at).collect()
}

/// Decimals that tell ticks `step` apart, and no more.
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (-(step.log10() + 1e-9).floor()).clamp(0.0, 12.0) as usize
}

/// A tick's text with `decimals` decimals (never "-0").
pub fn tick_label(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_owned()
    } else {
        s
    }
}

/// Ticks of a logarithmic axis covering [lo, hi] (both > 0): whole decades,
/// with 2 and 5 between them when there are few decades. The first and
/// last are decades and bound the axis.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > 0.0) {
        return vec![1.0, 10.0];
    }
    let a = (lo.min(hi).log10() + 1e-9).floor().clamp(-15.0, 15.0) as i32;
    let mut b = (lo.max(hi).log10() - 1e-9).ceil().clamp(-15.0, 15.0) as i32;
    if b <= a {
        b = a + 1;
    }
    let between: &[f64] = if b - a <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut out = Vec::new();
    for e in a..b {
        out.extend(between.iter().map(|m| m * 10f64.powi(e)));
    }
    out.push(10f64.powi(b));
    out
}

/// A mapping from data values to pixels, linear or logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    log: bool,
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    pub fn linear(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { log: false, domain, range }
    }

    pub fn log(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { log: true, domain, range }
    }

    /// The pixel of `v`, clamped to the range: a value the domain does not
    /// hold (or cannot, e.g. 0 on a log axis) stays on the frame.
    pub fn map(&self, v: f64) -> f64 {
        let t = |x: f64| {
            if !self.log {
                x
            } else if x > 0.0 {
                x.log10()
            } else {
                f64::NEG_INFINITY
            }
        };
        let (a, b, x) = (t(self.domain.0), t(self.domain.1), t(v));
        let f = (x - a) / (b - a);
        let f = if f.is_nan() { 0.5 } else { f.clamp(0.0, 1.0) };
        self.range.0 + f * (self.range.1 - self.range.0)
    }
}

/// A scale and its labelled ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub scale: Scale,
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// Linear, bounded by the nice ticks around [lo, hi].
    /// An outer tick that only a sliver of the data needs (noise just
    /// below 0 under a 4.69 s step) would waste a whole step of the axis:
    /// that end of the axis is the data's instead.
    pub fn linear(lo: f64, hi: f64, range: (f64, f64)) -> Axis {
        let (lo, hi) = usable_range(lo, hi);
        let mut values = nice_ticks(lo, hi);
        let decimals = decimals_for(values.get(1).zip(values.first()).map_or(1.0, |(b, a)| b - a));
        let (mut first, mut last) = (values[0], values[values.len() - 1]);
        let sliver = 0.02 * (last - first);
        if values.len() > 3 && values[1] - lo <= sliver {
            values.remove(0);
            first = lo;
        }
        if values.len() > 3 && hi - values[values.len() - 2] <= sliver {
            values.pop();
            last = hi;
        }
        Axis { scale: Scale::linear((first, last), range), ticks: values.into_iter().map(|v| (v, tick_label(v, decimals))).collect() }
    }

    /// Logarithmic, bounded by the decades around [lo, hi].
    pub fn log(lo: f64, hi: f64, range: (f64, f64)) -> Axis {
        let values = log_ticks(lo, hi);
        let (first, last) = (values[0], values[values.len() - 1]);
        let ticks = values.into_iter().map(|v| (v, tick_label(v, decimals_for(v)))).collect();
        Axis { scale: Scale::log((first, last), range), ticks }
    }

    pub fn map(&self, v: f64) -> f64 {
        self.scale.map(v)
    }
}

/// An SVG's size and the margins around its plotting area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn x0(&self) -> f64 {
        self.left
    }
    pub fn x1(&self) -> f64 {
        self.width - self.right
    }
    pub fn y0(&self) -> f64 {
        self.top
    }
    pub fn y1(&self) -> f64 {
        self.height - self.bottom
    }
    /// Horizontal pixels, left to right.
    pub fn xs(&self) -> (f64, f64) {
        (self.x0(), self.x1())
    }
    /// Vertical pixels, bottom to top (values grow upwards).
    pub fn ys(&self) -> (f64, f64) {
        (self.y1(), self.y0())
    }
}

/// Roughly how wide `text` is at the plots' 11 px font: margins and legends
/// are sized from it (no font metrics without a browser).
pub fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.2
}

/// Cuts `text` to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Opens a plot: the `<svg class="plot">` that the page's check counts,
/// its accessible `<title>` and the same title drawn at the top.
pub fn open(f: &Frame, title: &str) -> String {
    let (w, h, t) = (num(f.width), num(f.height), esc(title));
    format!(
        "<svg class=\"plot\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\
         <title>{t}</title><text class=\"pt\" x=\"{}\" y=\"17\">{t}</text>\n",
        num(f.x0())
    )
}

pub const CLOSE: &str = "</svg>\n";

/// The plotting area's border and the axis titles.
fn frame_and_labels(f: &Frame, x_label: &str, y_label: &str) -> String {
    let mut s = format!(
        "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        num(f.x0()),
        num(f.y0()),
        num(f.x1() - f.x0()),
        num(f.y1() - f.y0()),
        num((f.x0() + f.x1()) / 2.0),
        num(f.height - 6.0),
        esc(x_label),
    );
    if !y_label.is_empty() {
        let mid_y = (f.y0() + f.y1()) / 2.0;
        s.push_str(&format!("<text transform=\"rotate(-90)\" x=\"{}\" y=\"14\" text-anchor=\"middle\">{}</text>", num(-mid_y), esc(y_label)));
    }
    s.push('\n');
    s
}

/// Axes with tick marks and numbers on both, grid lines where asked.
pub fn axes(f: &Frame, x: &Axis, y: &Axis, (x_label, y_label): (&str, &str), (x_grid, y_grid): (bool, bool)) -> String {
    let mut s = String::new();
    for (v, label) in &x.ticks {
        let px = num(x.map(*v));
        if x_grid {
            s.push_str(&format!("<line class=\"grid\" x1=\"{px}\" y1=\"{}\" x2=\"{px}\" y2=\"{}\"/>", num(f.y0()), num(f.y1())));
        }
        s.push_str(&format!(
            "<line class=\"tick\" x1=\"{px}\" y1=\"{}\" x2=\"{px}\" y2=\"{}\"/><text x=\"{px}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            num(f.y1()),
            num(f.y1() + 4.0),
            num(f.y1() + 16.0),
            esc(label)
        ));
    }
    for (v, label) in &y.ticks {
        let py = num(y.map(*v));
        if y_grid {
            s.push_str(&format!("<line class=\"grid\" x1=\"{}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\"/>", num(f.x0()), num(f.x1())));
        }
        s.push_str(&format!(
            "<line class=\"tick\" x1=\"{}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\"/><text x=\"{}\" y=\"{py}\" dy=\"4\" text-anchor=\"end\">{}</text>\n",
            num(f.x0() - 4.0),
            num(f.x0()),
            num(f.x0() - 6.0),
            esc(label)
        ));
    }
    s.push_str(&frame_and_labels(f, x_label, y_label));
    s
}

/// What an empty plot shows instead of axes over nothing.
pub fn no_data(f: &Frame, x_label: &str, y_label: &str) -> String {
    format!(
        "{}<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n",
        frame_and_labels(f, x_label, y_label),
        num((f.x0() + f.x1()) / 2.0),
        num((f.y0() + f.y1()) / 2.0)
    )
}

/// A polyline through pixel points; points that land on the same pixel
/// coordinates as the previous one are dropped.
pub fn path(points: impl IntoIterator<Item = (f64, f64)>) -> String {
    path_segments(std::iter::once(points))
}

/// One path of separate polylines: a line must not bridge a stretch with
/// no data (no exchanges while a guest was frozen), or a step would be
/// drawn as a ramp.
pub fn path_segments<S: IntoIterator<Item = (f64, f64)>>(segments: impl IntoIterator<Item = S>) -> String {
    let mut d = String::new();
    for segment in segments {
        let (mut last, mut points) = (String::new(), 0);
        for (x, y) in segment {
            let xy = format!("{},{}", num(x), num(y));
            if xy == last {
                continue;
            }
            d.push_str(match points {
                0 if d.is_empty() => "M",
                0 => " M",
                1 => "L",
                _ => " ",
            });
            d.push_str(&xy);
            last = xy;
            points += 1;
        }
    }
    d
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Swatch {
    /// A series line in a colour and dash pattern ("" for solid).
    Line { colour: &'static str, dash: &'static str },
    /// A filled box in a colour (bars).
    Box { colour: &'static str },
    /// A box or line styled by a CSS class (fault spans, kernel events).
    Class { class: &'static str, line: bool },
}

/// The stroke-dasharray attribute for a dash pattern, if any.
pub fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

/// Pixels one legend row takes.
const LEGEND_ROW: f64 = 16.0;

/// The right margin a legend of these labels needs.
pub fn legend_width<'a>(labels: impl IntoIterator<Item = &'a str>) -> f64 {
    let widest = labels.into_iter().map(text_width).fold(0.0, f64::max);
    (widest + 40.0).clamp(90.0, 260.0)
}

/// A legend to the right of the plotting area. Rows that do not fit are
/// summarized as "+N more" rather than drawn outside the picture.
pub fn legend(f: &Frame, entries: &[(String, Swatch)]) -> String {
    let fits = (((f.y1() - f.y0()) / LEGEND_ROW).floor() as usize).max(1);
    let shown = if entries.len() > fits { fits - 1 } else { entries.len() };
    let x = f.x1() + 12.0;
    let mut s = String::from("<g class=\"legend\">");
    for (i, (label, swatch)) in entries.iter().take(shown).enumerate() {
        let y = f.y0() + 8.0 + i as f64 * LEGEND_ROW;
        let (xs, ys) = (num(x), num(y));
        s.push_str(&match swatch {
            Swatch::Line { colour, dash } => {
                format!("<line class=\"series\" x1=\"{xs}\" y1=\"{ys}\" x2=\"{}\" y2=\"{ys}\" stroke=\"{colour}\"{}/>", num(x + 20.0), dash_attr(dash))
            }
            Swatch::Box { colour } => {
                format!("<rect x=\"{xs}\" y=\"{}\" width=\"20\" height=\"10\" fill=\"{colour}\"/>", num(y - 5.0))
            }
            Swatch::Class { class, line: true } => {
                format!("<line class=\"{class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(x + 10.0), num(y - 6.0), num(x + 10.0), num(y + 6.0))
            }
            Swatch::Class { class, line: false } => {
                format!("<rect class=\"{class}\" x=\"{xs}\" y=\"{}\" width=\"20\" height=\"10\"/>", num(y - 5.0))
            }
        });
        s.push_str(&format!("<text x=\"{}\" y=\"{ys}\" dy=\"4\">{}</text>\n", num(x + 26.0), esc(&shorten(label, 34))));
    }
    if shown < entries.len() {
        let y = f.y0() + 8.0 + shown as f64 * LEGEND_ROW;
        s.push_str(&format!("<text x=\"{}\" y=\"{}\" dy=\"4\">+{} more</text>", num(x + 26.0), num(y), entries.len() - shown));
    }
    s.push_str("</g>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_one_two_five_steps_that_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 4687.0), vec![0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
        assert_eq!(nice_ticks(-0.1, 0.1), vec![-0.1, -0.05, 0.0, 0.05, 0.1]);
        assert_eq!(nice_ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 11.9), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        // Noise and a 4.69 s step on one axis: the step sets the scale.
        assert_eq!(nice_ticks(-0.12, 4687.1), vec![-1000.0, 0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
        assert_eq!(nice_ticks(0.3, 0.7), vec![0.3, 0.4, 0.5, 0.6, 0.7], "no 0.30000000000000004");
    }

    #[test]
    fn degenerate_ranges_still_give_an_axis() {
        assert_eq!(nice_ticks(0.0, 0.0), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(nice_ticks(f64::NAN, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(5.0, 1.0), nice_ticks(1.0, 5.0), "reversed bounds");
        let t = nice_ticks(4687.0, 4687.0);
        assert!(t[0] < 4687.0 && *t.last().unwrap() > 4687.0 && t.len() <= 12, "{t:?}");
        let t = nice_ticks(-f64::MAX, f64::MAX);
        assert!(t.len() >= 2 && t.iter().all(|v| v.is_finite()), "{t:?}");
    }

    #[test]
    fn log_ticks_are_decades_with_two_and_five_when_few() {
        assert_eq!(log_ticks(140.0, 900.0), vec![100.0, 200.0, 500.0, 1000.0]);
        assert_eq!(log_ticks(1.0, 100_000.0), vec![1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0]);
        assert_eq!(log_ticks(100.0, 100.0), vec![100.0, 200.0, 500.0, 1000.0]);
        assert_eq!(log_ticks(0.0, 10.0), vec![1.0, 10.0], "no log of 0");
    }

    #[test]
    fn scales_map_and_clamp_and_never_give_nan() {
        let s = Scale::linear((0.0, 5000.0), (300.0, 20.0));
        assert_eq!(s.map(0.0), 300.0);
        assert_eq!(s.map(5000.0), 20.0);
        assert_eq!(s.map(2500.0), 160.0);
        assert_eq!(s.map(1e9), 20.0, "clamped to the frame");
        assert_eq!(s.map(f64::NAN), 160.0);
        assert_eq!(Scale::linear((1.0, 1.0), (0.0, 100.0)).map(1.0), 50.0, "empty domain");
        let l = Scale::log((100.0, 10_000.0), (0.0, 200.0));
        assert_eq!(l.map(1000.0), 100.0);
        assert_eq!(l.map(0.0), 0.0, "0 sits at the left edge of a log axis");
        let a = Axis::linear(-0.1, 0.1, (0.0, 100.0));
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["-0.10", "-0.05", "0.00", "0.05", "0.10"]);
        let a = Axis::linear(-0.12, 4687.1, (0.0, 100.0));
        assert_eq!(a.ticks.first().map(|t| t.1.as_str()), Some("0"), "no tick at -1000 for a sliver of noise");
        assert_eq!(a.ticks.last().map(|t| t.1.as_str()), Some("5000"));
        assert_eq!(a.map(-0.12), 0.0);
        assert_eq!(a.map(5000.0), 100.0);
        let a = Axis::log(140.0, 900.0, (0.0, 100.0));
        assert_eq!(a.ticks.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["100", "200", "500", "1000"]);
    }

    #[test]
    fn coordinates_are_short_and_finite() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(12.346), "12.35");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(num(1e300), "1000000");
        assert_eq!(tick_label(-0.0, 1), "0.0");
        assert_eq!(path([(0.0, 0.0), (0.001, 0.0), (1.0, 2.0), (3.0, 4.0)]), "M0,0L1,2 3,4");
        assert_eq!(path(std::iter::empty()), "");
        assert_eq!(path_segments([vec![(0.0, 0.0), (1.0, 1.0)], vec![(5.0, 5.0), (6.0, 5.0)]]), "M0,0L1,1 M5,5L6,5");
    }

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(esc(r#"<a href="x">Tom & 'Jerry'</a>"#), "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
        assert_eq!(esc("µs ±"), "µs ±");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
