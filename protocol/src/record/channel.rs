//! How the data channel behaved over a run, as the harness's reader saw it:
//! what it had to skip, discard or wait for. A guest that sends garbage,
//! endless lines or a flood leaves its mark here instead of in the harness's
//! memory, and the run's other measurements are kept.

use serde::{Deserialize, Serialize};

/// Messages per second (in any one second) above which the channel was
/// flooded: the probe sends tens a second (windows, ticks, exchanges,
/// beacons; ten windows a second per vCPU, so 640 with 64 vCPUs), a few
/// hundred in a kernel-log burst at boot. A flood from a guest at full speed
/// reaches this many times over even on a loaded host.
pub const FLOOD_MESSAGES_PER_S: u64 = 5_000;

/// The data channel's health over one run (the `channel_health` record,
/// written when the channel closes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChannelHealth {
    /// Lines read and decoded into messages, and bytes read in all.
    pub messages: u64,
    pub bytes: u64,
    /// Lines that were not a protocol message (not UTF-8, not JSON, no
    /// known type): skipped.
    pub malformed_lines: u64,
    /// Lines longer than `line_cap_bytes`: discarded to their newline,
    /// unread, and the longest one (its length as far as it came).
    pub overlong_lines: u64,
    pub longest_line_bytes: u64,
    pub line_cap_bytes: u64,
    /// The start of the first offending line, escaped (`\xNN` for bytes
    /// that are not printable ASCII), at most 64 bytes of it.
    pub first_offending: Option<String>,
    /// The most messages read in any one second.
    pub peak_messages_per_s: u64,
    /// Times the reader waited because the run loop had not yet recorded
    /// `backlog_cap_bytes` of messages (the channel pushed back on the
    /// guest), and how long it waited in all, in ms.
    pub backpressure_waits: u64,
    pub backpressure_ms: u64,
    pub backlog_cap_bytes: u64,
    /// Messages read but not recorded: they arrived while the run was
    /// being torn down, behind a full backlog.
    pub dropped_messages: u64,
    /// The harness's peak resident set size (VmHWM) when the channel
    /// closed, in KiB: what bounded memory means, measured.
    pub harness_peak_rss_kib: Option<u64>,
}

impl ChannelHealth {
    /// The named degraded states, empty for a healthy channel:
    /// `malformed`, `overlong`, `flood`, `backpressure`, `dropped`.
    pub fn degraded(&self) -> Vec<&'static str> {
        let mut states = Vec::new();
        if self.malformed_lines > 0 {
            states.push("malformed");
        }
        if self.overlong_lines > 0 {
            states.push("overlong");
        }
        if self.peak_messages_per_s > FLOOD_MESSAGES_PER_S {
            states.push("flood");
        }
        if self.backpressure_waits > 0 {
            states.push("backpressure");
        }
        if self.dropped_messages > 0 {
            states.push("dropped");
        }
        states
    }
}

/// `bytes` as printable ASCII, anything else as `\xNN`, at most `max` bytes of it.
pub fn escape_bytes(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_escaped_and_cut() {
        assert_eq!(escape_bytes(b"ok {\"a\"}", 64), "ok {\"a\"}");
        assert_eq!(escape_bytes(b"\x00\xff\\\n", 64), "\\x00\\xff\\\\\\x0a");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc…");
    }

    #[test]
    fn a_healthy_channel_names_nothing() {
        assert!(ChannelHealth { messages: 5, peak_messages_per_s: 40, ..ChannelHealth::default() }.degraded().is_empty());
        let h = ChannelHealth { malformed_lines: 1, overlong_lines: 2, peak_messages_per_s: 50_000, backpressure_waits: 3, ..ChannelHealth::default() };
        assert_eq!(h.degraded(), vec!["malformed", "overlong", "flood", "backpressure"]);
    }
}
