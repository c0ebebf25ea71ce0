//! Prefix stripping: from a raw log line to (kernel timestamp, message).
//!
//! Accepted wrappers, outermost first (each optional):
//! - syslog / journal / logread: `Nov 25 10:00:00 host kernel: `,
//!   `2013-07-16T05:00:05.181538-04:00 host kernel: `,
//!   `Tue Mar  8 13:19:34 2022 kern.info kernel: `, or a bare `kernel: `;
//! - a `<N>` console log level;
//! - `dmesg -x` facility/level: `kern  :warn  : `;
//! - /dev/kmsg records: `6,1234,5678901,-;message` (timestamp in µs);
//! - the kernel timestamp `[  123.456789] ` (kept, in µs), `dmesg -T`
//!   `[Tue Nov 25 10:00:00 2025] ` and `dmesg -H` `[Nov25 10:00] `,
//!   `[  +0.000123] ` (dropped: not a kernel timestamp);
//! - a printk caller id `[    T1] ` after the timestamp.
//!
//! The message keeps its leading whitespace after the single separator
//! space: multi-line reports are recognised by their indentation.

use std::sync::OnceLock;

use regex::Regex;

/// A line split into the kernel timestamp (µs since boot) and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitLine<'a> {
    pub ts_us: Option<u64>,
    pub message: &'a str,
}

struct Prefixes {
    syslog: Regex,
    level: Regex,
    facility: Regex,
    kmsg: Regex,
    ts: Regex,
    wall: Regex,
    caller: Regex,
}

fn prefixes() -> &'static Prefixes {
    static P: OnceLock<Prefixes> = OnceLock::new();
    P.get_or_init(|| Prefixes {
        // Date forms: "Nov 25 10:00:00", "Tue Mar  8 13:19:34 2022",
        // ISO 8601; then up to two words (host, facility.level), then "kernel:".
        syslog: Regex::new(
            r"^\s*(?:(?:[A-Z][a-z]{2} +)?[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?(?: \d{4})?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)(?: +[^\s:]+(?:\[\d+\])?){0,2} +kernel(?:\[\d+\])?: ?|^\s*kernel: ?",
        )
        .unwrap(),
        level: Regex::new(r"^<\d{1,3}>").unwrap(),
        facility: Regex::new(r"^[a-z]{2,8} *:[a-z]{3,6} *: ").unwrap(),
        kmsg: Regex::new(r"^\d{1,3},\d+,(\d{1,20}),[^;]{0,16};").unwrap(),
        ts: Regex::new(r"^\[ *(\d{1,12})\.(\d{1,9})\] ?").unwrap(),
        wall: Regex::new(
            r"^\[(?:[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}|[A-Z][a-z]{2} ?\d{1,2} \d\d:\d\d|[ +]*\d+\.\d+)\] ?",
        )
        .unwrap(),
        caller: Regex::new(r"^\[ *[TC]\d{1,7}\] ?").unwrap(),
    })
}

/// Splits one raw log line. Never fails: a line without any recognised
/// prefix is returned whole as the message, without a timestamp.
pub fn split_line(raw: &str) -> SplitLine<'_> {
    let p = prefixes();
    let mut s = raw.trim_end_matches(['\r', '\n']);
    if let Some(m) = p.syslog.find(s) {
        s = &s[m.end()..];
    }
    if let Some(m) = p.level.find(s) {
        s = &s[m.end()..];
    }
    if let Some(m) = p.facility.find(s) {
        s = &s[m.end()..];
    }
    let mut ts_us = None;
    if let Some(c) = p.kmsg.captures(s) {
        ts_us = c[1].parse().ok();
        s = &s[c.get(0).unwrap().end()..];
    } else if let Some(c) = p.ts.captures(s) {
        let secs: u64 = c[1].parse().unwrap_or(0);
        let frac = &c[2];
        // Scale the fraction to µs: "456789" → 456789, "5" → 500000, "123456789" → 123456.
        let mut us: u64 = 0;
        for d in frac.bytes().chain(std::iter::repeat(b'0')).take(6) {
            us = us * 10 + u64::from(d - b'0');
        }
        ts_us = secs.checked_mul(1_000_000).and_then(|v| v.checked_add(us));
        s = &s[c.get(0).unwrap().end()..];
    } else if let Some(m) = p.wall.find(s) {
        s = &s[m.end()..];
    }
    if let Some(m) = p.caller.find(s) {
        s = &s[m.end()..];
    }
    SplitLine { ts_us, message: s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console() {
        let l = split_line("[   12.066582] clocksource: Long readout interval");
        assert_eq!(l.ts_us, Some(12_066_582));
        assert_eq!(l.message, "clocksource: Long readout interval");
    }

    #[test]
    fn short_fraction_and_caller() {
        let l = split_line("[    1.5][    T1] x");
        assert_eq!(l.ts_us, Some(1_500_000));
        assert_eq!(l.message, "x");
    }

    #[test]
    fn syslog_with_ts_keeps_indentation() {
        let l = split_line("Nov 25 10:00:00 host kernel: [ 1.000002] clocksource:                       'hpet' wd_now: 1");
        assert_eq!(l.ts_us, Some(1_000_002));
        assert_eq!(l.message, "clocksource:                       'hpet' wd_now: 1");
    }

    #[test]
    fn journal_and_iso_and_logread() {
        assert_eq!(split_line("Sep 23 21:33:08 c4v3 kernel: clocksource: x").message, "clocksource: x");
        let l = split_line("2013-07-16T05:00:05.181538-04:00 xxxxxx kernel: Clocksource tsc unstable");
        assert_eq!((l.ts_us, l.message), (None, "Clocksource tsc unstable"));
        let l = split_line("Tue Mar  8 13:19:34 2022 kern.info kernel: [14669.048261] clocksource: y");
        assert_eq!((l.ts_us, l.message), (Some(14_669_048_261), "clocksource: y"));
        let l = split_line(" kernel:[405108.698255] watchdog: BUG");
        assert_eq!((l.ts_us, l.message), (Some(405_108_698_255), "watchdog: BUG"));
    }

    #[test]
    fn dmesg_wall_forms() {
        assert_eq!(split_line("[Thu Mar 25 00:50:20 2021] rcu: INFO").message, "rcu: INFO");
        assert_eq!(split_line("[  +5.000712] hpet1: lost 318 rtc interrupts").ts_us, None);
        assert_eq!(split_line("[Oct23 15:18] hpet1: lost").message, "hpet1: lost");
        // Not timestamps: kernel messages that start with brackets.
        assert_eq!(split_line("[drm] Initialized").message, "[drm] Initialized");
        assert_eq!(split_line("[Firmware Bug]: TSC").message, "[Firmware Bug]: TSC");
    }

    #[test]
    fn kmsg_and_levels() {
        let l = split_line("4,1234,12066582,-;clocksource: z");
        assert_eq!((l.ts_us, l.message), (Some(12_066_582), "clocksource: z"));
        assert_eq!(split_line("<4>[ 2.000000] x").ts_us, Some(2_000_000));
        assert_eq!(split_line("kern  :warn  : [ 3.000000] x").ts_us, Some(3_000_000));
    }
}
