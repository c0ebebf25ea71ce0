//! UTC timestamps for directory names, without a date crate.

/// `YYYYmmddTHHMMSSZ` for a Unix time in seconds.
pub fn utc_compact(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let (y, m, d) = clockstorm_reports::format::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        // `date -u -d @0` and `date -u -d @1764085280 +%Y%m%dT%H%M%SZ`
        assert_eq!(super::utc_compact(0), "19700101T000000Z");
        assert_eq!(super::utc_compact(1_764_085_280), "20251125T154120Z");
        assert_eq!(super::utc_compact(951_782_400), "20000229T000000Z");
    }
}
