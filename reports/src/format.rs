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

/// A Unix time in ms as ISO 8601 UTC with milliseconds, e.g.
/// `2026-12-02T03:35:03.137Z`.
pub fn iso8601_utc(unix_ms: u64) -> String {
    let (secs, ms) = (unix_ms / 1000, unix_ms % 1000);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar):
/// (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn unix_ms_reads_as_iso_8601_utc() {
        assert_eq!(super::iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        // The sample run of the README: started 1796182503137 (unix ms).
        assert_eq!(super::iso8601_utc(1_796_182_503_137), "2026-12-02T03:35:03.137Z");
        assert_eq!(super::iso8601_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}

/// Seconds from a fault's start, signed: `+6.0 s`, `-0.2 s` (a finding
/// first seen just before the fault it belongs to); never `-0.0`.
pub fn from_start(s: f64) -> String {
    let tenths = (s * 10.0).round();
    if tenths < 0.0 {
        format!("-{:.1} s", -tenths / 10.0)
    } else {
        format!("+{:.1} s", tenths.abs() / 10.0)
    }
}

#[cfg(test)]
mod from_start_tests {
    #[test]
    fn signed_tenths_without_a_negative_zero() {
        assert_eq!((super::from_start(6.04), super::from_start(-0.2), super::from_start(-0.04)), ("+6.0 s".into(), "-0.2 s".into(), "+0.0 s".into()));
    }
}
