//! Human-readable numbers.

/// Formats nanoseconds with a unit that keeps 3 significant figures.
pub fn ns(value: f64) -> String {
    let a = value.abs();
    let (scaled, unit) = if a >= 1e9 {
        (value / 1e9, "s")
    } else if a >= 1e6 {
        (value / 1e6, "ms")
    } else if a >= 1e3 {
        (value / 1e3, "µs")
    } else {
        (value, "ns")
    };
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$} {unit}")
}

/// "value ± bound" in ns units, when both are known.
pub fn ns_pm(value: Option<i64>, plus_minus: Option<i64>) -> Option<String> {
    Some(format!("{} ± {}", ns(value? as f64), ns(plus_minus? as f64)))
}

/// Three significant figures, without an exponent for everyday magnitudes
/// (NaN and infinities as Rust prints them).
pub fn significant(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

/// Formats an integer count with thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn units_scale_and_keep_three_figures() {
        assert_eq!(super::ns(94.0), "94.0 ns");
        assert_eq!(super::ns(1_534.0), "1.53 µs");
        assert_eq!(super::ns(-4_687_000_000.0), "-4.69 s");
        assert_eq!(super::ns(250_000_000.0), "250 ms");
        assert_eq!(super::count(1_234_567), "1,234,567");
        assert_eq!(super::count(12), "12");
    }
}
