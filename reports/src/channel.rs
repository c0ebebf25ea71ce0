//! A run's data channel and record file, when they were not whole: the
//! sentences every renderer shows for a run whose channel was degraded
//! (garbage, over-long lines, a flood) or whose record file had lines that
//! did not decode (a torn last line after a full disk or a crash).

use clockstorm_protocol::ChannelHealth;

use crate::format::count;
use crate::RunSummary;

/// Bytes as KiB/MiB, three figures.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{} MiB", crate::format::significant(n as f64 / (1u64 << 20) as f64)),
        n if n >= 1 << 10 => format!("{} KiB", crate::format::significant(n as f64 / 1024.0)),
        n => format!("{n} B"),
    }
}

/// What the channel endured, in one sentence (its named states first).
pub fn sentence(h: &ChannelHealth) -> String {
    let mut parts = Vec::new();
    if h.malformed_lines > 0 {
        parts.push(format!("{} malformed line(s) skipped", count(h.malformed_lines)));
    }
    if h.overlong_lines > 0 {
        parts.push(format!(
            "{} over-long line(s) discarded (longest {}, cap {})",
            count(h.overlong_lines),
            bytes(h.longest_line_bytes),
            bytes(h.line_cap_bytes)
        ));
    }
    if let Some(first) = &h.first_offending {
        // A backtick in the guest's bytes would end the quote early (Markdown).
        parts.push(format!("first offending bytes: `{}`", first.replace('`', "\\x60")));
    }
    if h.peak_messages_per_s > clockstorm_protocol::FLOOD_MESSAGES_PER_S {
        parts.push(format!("flooded: up to {} messages/s ({} messages in all)", count(h.peak_messages_per_s), count(h.messages)));
    }
    if h.backpressure_waits > 0 {
        parts.push(format!(
            "the reader waited {} time(s), {} ms in all, for the run loop (backlog cap {}; the channel pushed back on the guest, nothing dropped)",
            count(h.backpressure_waits),
            count(h.backpressure_ms),
            bytes(h.backlog_cap_bytes)
        ));
    }
    if h.dropped_messages > 0 {
        parts.push(format!("{} message(s) dropped at teardown", count(h.dropped_messages)));
    }
    if let Some(rss) = h.harness_peak_rss_kib {
        parts.push(format!("harness peak RSS {}", bytes(rss << 10)));
    }
    parts.join("; ")
}

/// The run's note, when its channel was degraded, a part of the probe could
/// not run as asked, or its records were not whole: `data channel degraded
/// (malformed, flood): …`, `probe: shm-reference: no ivshmem device …`.
pub fn note(s: &RunSummary) -> Option<String> {
    let mut notes = Vec::new();
    if let Some(h) = s.channel.as_ref() {
        let states = h.degraded();
        if !states.is_empty() {
            notes.push(format!("data channel degraded ({}): {}", states.join(", "), sentence(h)));
        }
    }
    for d in &s.probe_degraded {
        notes.push(format!("probe: {d}"));
    }
    if s.undecodable_lines > 0 {
        notes.push(format!(
            "records: {} line(s) did not decode and were skipped (a torn last line is what a full disk or a crash leaves)",
            count(s.undecodable_lines)
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degraded_channel_is_named_with_its_counts() {
        let h = ChannelHealth {
            messages: 120_000,
            malformed_lines: 3,
            overlong_lines: 1,
            longest_line_bytes: 4 << 20,
            line_cap_bytes: 256 << 10,
            first_offending: Some("\\x00\\xffgarbage".into()),
            peak_messages_per_s: 60_000,
            backpressure_waits: 2,
            backpressure_ms: 40,
            backlog_cap_bytes: 4 << 20,
            harness_peak_rss_kib: Some(20_480),
            ..ChannelHealth::default()
        };
        let text = sentence(&h);
        for part in [
            "3 malformed line(s) skipped",
            "1 over-long line(s) discarded (longest 4.00 MiB, cap 256 KiB)",
            "`\\x00\\xffgarbage`",
            "flooded: up to 60,000 messages/s",
            "waited 2 time(s), 40 ms",
            "harness peak RSS 20.0 MiB",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let mut s = crate::summarize(&crate::summary::tests::completed_run());
        assert_eq!(note(&s), None);
        s.channel = Some(ChannelHealth { messages: 10, ..ChannelHealth::default() });
        assert_eq!(note(&s), None, "a healthy channel needs no note");
        s.channel = Some(h);
        s.undecodable_lines = 1;
        let n = note(&s).unwrap();
        assert!(n.starts_with("data channel degraded (malformed, overlong, flood, backpressure): 3 malformed"), "{n}");
        assert!(n.contains("records: 1 line(s) did not decode"), "{n}");
    }
}
