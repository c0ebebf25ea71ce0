//! Kernel messages about clocks, parsed into typed events.
//!
//! Pure: no OS code. Input is console output, `dmesg` (plain, `-T`, `-H`,
//! `-x`), /var/log/messages or journal lines, or /dev/kmsg records already
//! split into `{ts_us, message}`. Every printk format from 2.6.32 to 7.x
//! listed in `docs/kernel-messages.md` is recognised on every version
//! (distribution kernels backport). Lines that match nothing come out as
//! [`KernelEvent::Other`], never dropped.
//!
//! Multi-line reports (the clocksource skew report, the 7.x frequency-skew
//! and inter-CPU skew reports, RCU stalls, the RCU timer-wakeup line pair,
//! the per-CPU synchronization check) are grouped
//! into one event by [`Parser`], even when other CPUs' lines are
//! interleaved; see [`group`] for the bounds.
//!
//! ```
//! use clockstorm_reports::kernel_events::{parse_lines, KernelEvent};
//! let ev = parse_lines(["[   12.066582] clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720"]);
//! assert!(matches!(ev[0], KernelEvent::ClocksourceLongReadout { ts_us: Some(12_066_582), skew_ns: 55216, .. }));
//! ```

pub mod events;
pub mod group;
pub mod line;
mod parse;

pub use events::{CurrentClocksource, KernelEvent, RcuStallKind, SkewSign, SkewSource};
pub use group::Parser;
pub use line::{split_line, SplitLine};
pub use parse::MAX_MATCH_LEN;

/// Parses raw log lines (any supported prefix) into events, in line order,
/// multi-line reports grouped.
pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<KernelEvent> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    for l in lines {
        out.extend(p.push_line(l));
    }
    out.extend(p.finish());
    out
}

/// Parses a whole text (e.g. a console log) line by line.
pub fn parse_text(text: &str) -> Vec<KernelEvent> {
    parse_lines(text.lines())
}

/// Parses messages whose timestamp is already split off (/dev/kmsg
/// records), in order, multi-line reports grouped.
pub fn parse_messages<'a>(messages: impl IntoIterator<Item = (Option<u64>, &'a str)>) -> Vec<KernelEvent> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    for (ts, m) in messages {
        out.extend(p.push_message(ts, m));
    }
    out.extend(p.finish());
    out
}

/// Classifies one message on its own, without grouping: a report header
/// gives its event with only the header's fields, a detail line of a
/// multi-line report gives `Other`. Use [`Parser::push_message`] for a
/// stream of records.
pub fn parse_message(ts_us: Option<u64>, message: &str) -> KernelEvent {
    let mut p = Parser::new();
    let mut out = p.push_message(ts_us, message);
    out.extend(p.finish());
    out.into_iter().next().unwrap_or(KernelEvent::Other { ts_us, text: message.to_string() })
}
