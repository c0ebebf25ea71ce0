//! Per fault: how much time the guest lost across it, and how sure we are.
//!
//! Time lost = (host elapsed) − (guest elapsed) over a window that brackets
//! the fault, which is the change of the host−guest offset from the last good
//! exchange before the fault to the first good one after it. "Good" is the
//! smallest round trip among a few exchanges on each side (the probe bursts
//! exchanges right after a gap, so the after-side has tight ones). The
//! uncertainty is the sum of the two exchanges' uncertainties: a bound, not
//! a standard error.

use clockstorm_protocol::{Exchange, FaultDetail, FaultEffect, GuestMessage, HarnessEvent, RecordBody, RunRecord};
use serde::{Deserialize, Serialize};

use crate::kernel_events::{KernelEvent, Parser};

/// Exchanges considered on each side of a fault.
pub const BRACKET_EXCHANGES: usize = 8;
/// Kernel lines up to this long after a fault ended count as its reaction:
/// the clocksource watchdog runs every 0.5 s and the soft-lockup detector
/// reports within seconds of the vCPU coming back.
pub const KERNEL_REACTION_NS: i64 = 10_000_000_000;

/// Windows that arrive up to this long after a fault ended still count as
/// showing it (a window is sent at its end, and the probe catches up).
pub const WINDOW_SLACK_NS: i64 = 1_500_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    pub index: usize,
    pub kind: String,
    pub planned_start_ms: u64,
    pub planned_duration_ms: u64,
    /// How long it was in effect, as the host measured it.
    pub achieved_ns: u64,
    pub error: Option<String>,
    /// Time the guest lost across the fault (positive: the guest is behind), ± bound.
    pub lost_ns: Option<i64>,
    pub lost_uncertainty_ns: Option<i64>,
    /// Largest gap between clock reads in the windows around the fault.
    pub max_gap_ns: Option<u64>,
    pub detail: Option<FaultDetail>,
    /// What the guest kernel said about clocks and stalls during the fault
    /// and in the following [`KERNEL_REACTION_NS`], parsed (see
    /// `kernel_events`), each with its guest timestamp.
    pub kernel_events: Vec<KernelEvent>,
}

/// One summary per fault that ended, in timeline order.
pub fn summarize(records: &[RunRecord]) -> Vec<FaultSummary> {
    let mut planned = std::collections::HashMap::new();
    let mut effects: Vec<&FaultEffect> = Vec::new();
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut windows: Vec<(i64, u64)> = Vec::new();
    let mut parser = Parser::new();
    // Guest printk time (µs) -> host time of the record that carried it.
    let mut host_time_of: std::collections::BTreeMap<u64, i64> = std::collections::BTreeMap::new();
    let mut kernel: Vec<KernelEvent> = Vec::new();
    let mut synced = false;
    for r in records {
        match &r.body {
            RecordBody::Harness(HarnessEvent::FaultStarted { index, planned_start_ms, planned_duration_ms, .. }) => {
                planned.insert(*index, (*planned_start_ms, *planned_duration_ms));
            }
            RecordBody::Harness(HarnessEvent::FaultEnded(e)) => effects.push(e),
            RecordBody::Guest(GuestMessage::Synced(_)) => synced = true,
            RecordBody::Guest(GuestMessage::Exchange(e)) if synced => exchanges.push(*e),
            RecordBody::Guest(GuestMessage::Window(w)) => windows.push((r.host_realtime_ns, w.max_gap_ns)),
            RecordBody::Guest(GuestMessage::KernelLog(k)) => {
                host_time_of.entry(k.ts_us).or_insert(r.host_realtime_ns);
                kernel.extend(parser.push_message(Some(k.ts_us), &k.message));
            }
            _ => {}
        }
    }
    kernel.extend(parser.finish());
    // Clock and stall events only; registrations, frequencies and other
    // lines say nothing about a fault.
    let kernel: Vec<(i64, KernelEvent)> = kernel
        .into_iter()
        .filter(|e| e.is_clock_event() && !e.is_informational())
        .filter_map(|e| Some((*host_time_of.get(&e.ts_us()?)?, e)))
        .collect();
    // Each event belongs to the latest fault that began before it (and only
    // within KERNEL_REACTION_NS of that fault's end): a later fault's
    // reaction is not an earlier one's.
    let owner = |t: i64| -> Option<usize> {
        effects
            .iter()
            .filter(|e| e.began_realtime_ns <= t && t <= e.ended_realtime_ns + KERNEL_REACTION_NS)
            .max_by_key(|e| e.began_realtime_ns)
            .map(|e| e.index)
    };
    let kernel: Vec<(Option<usize>, KernelEvent)> = kernel.into_iter().map(|(t, k)| (owner(t), k)).collect();
    effects
        .iter()
        .map(|e| {
            let (planned_start_ms, planned_duration_ms) = planned.get(&e.index).copied().unwrap_or_default();
            let lost = time_lost(&exchanges, e.began_realtime_ns, e.ended_realtime_ns);
            let max_gap_ns = windows
                .iter()
                .filter(|(t, _)| *t >= e.began_realtime_ns && *t <= e.ended_realtime_ns + WINDOW_SLACK_NS)
                .map(|(_, g)| *g)
                .max();
            FaultSummary {
                index: e.index,
                kind: e.kind.clone(),
                planned_start_ms,
                planned_duration_ms,
                achieved_ns: e.achieved_ns,
                error: e.error.clone(),
                lost_ns: lost.map(|l| l.0),
                lost_uncertainty_ns: lost.map(|l| l.1),
                max_gap_ns,
                detail: e.detail.clone(),
                kernel_events: kernel.iter().filter(|(owner, _)| *owner == Some(e.index)).map(|(_, k)| k.clone()).collect(),
            }
        })
        .collect()
}

/// (lost, uncertainty) across a fault from `began` to `ended` (host
/// realtime), or None without exchanges on both sides. Pure.
pub fn time_lost(exchanges: &[Exchange], began: i64, ended: i64) -> Option<(i64, i64)> {
    let before = exchanges.iter().filter(|e| e.t2_ns < began).rev().take(BRACKET_EXCHANGES).min_by_key(|e| e.uncertainty_ns)?;
    let after = exchanges.iter().filter(|e| e.t2_ns > ended).take(BRACKET_EXCHANGES).min_by_key(|e| e.uncertainty_ns)?;
    Some((after.offset_ns - before.offset_ns, after.uncertainty_ns + before.uncertainty_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exchange whose host stamp is `t2` and whose offset is `offset`, ± `unc`.
    fn ex(t2: i64, offset: i64, unc: i64) -> Exchange {
        let mid = t2 - offset;
        Exchange::from_timestamps(0, mid - unc, t2, mid + unc)
    }

    #[test]
    fn the_offset_step_across_the_fault_is_the_time_lost() {
        let s = 1_000_000_000;
        // Before: offset ~0. The fault from 10 s to 16 s costs the guest one
        // acpi_pm wrap (4.687 s): after it, the host is 4.687 s ahead.
        let exchanges = vec![
            ex(8 * s, 100, 300_000),
            ex(9 * s, -50, 200_000), // the tightest before
            ex(9 * s + 900_000_000, 20, 900_000),
            ex(16 * s + 10_000_000, 4_687_000_000, 2_000_000),
            ex(16 * s + 12_000_000, 4_687_000_100, 250_000), // the tightest after
            ex(17 * s, 4_687_000_300, 300_000),
        ];
        let (lost, unc) = time_lost(&exchanges, 10 * s, 16 * s).unwrap();
        assert_eq!(lost, 4_687_000_150);
        assert_eq!(unc, 450_000);
        assert_eq!(time_lost(&exchanges, 1, 2), None, "nothing before");
        assert_eq!(time_lost(&exchanges, 20 * s, 21 * s), None, "nothing after");
    }

    #[test]
    fn kernel_lines_during_and_after_a_fault_are_attached_to_it() {
        use clockstorm_protocol::KernelLog;
        let s = 1_000_000_000i64;
        let rec = |t: i64, body| RunRecord { host_realtime_ns: t, host_monotonic_ns: t as u64, body };
        let klog = |m: &str| {
            let ts_us = m.len() as u64; // distinct per line, enough to place them
            RecordBody::Guest(GuestMessage::KernelLog(KernelLog { seq: 0, ts_us, level: 4, message: m.into() }))
        };
        let effect = FaultEffect {
            index: 0,
            kind: "freeze".into(),
            began_realtime_ns: 10 * s,
            began_monotonic_ns: 0,
            ended_realtime_ns: 16 * s,
            ended_monotonic_ns: 0,
            achieved_ns: 6 * s as u64,
            detail: None,
            error: None,
        };
        let records = vec![
            rec(s, klog("clocksource: Switched to clocksource tsc")), // boot: before the fault
            rec(16 * s + 500_000_000, klog("clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720")),
            rec(17 * s, klog("virtio_net: link up")), // not about clocks
            rec(40 * s, klog("watchdog: BUG: soft lockup - CPU#0 stuck for 23s!")), // too late
            rec(16 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect))),
        ];
        let f = &summarize(&records)[0];
        assert_eq!(f.kernel_events.len(), 1, "{:?}", f.kernel_events);
        assert_eq!(f.kernel_events[0].kind(), "clocksource_long_readout");
    }

    #[test]
    fn a_kernel_event_belongs_to_the_latest_fault_before_it() {
        use clockstorm_protocol::KernelLog;
        let s = 1_000_000_000i64;
        let rec = |t: i64, body| RunRecord { host_realtime_ns: t, host_monotonic_ns: t as u64, body };
        let effect = |index, began: i64, ended: i64| FaultEffect {
            index,
            kind: "freeze".into(),
            began_realtime_ns: began,
            began_monotonic_ns: 0,
            ended_realtime_ns: ended,
            ended_monotonic_ns: 0,
            achieved_ns: 0,
            detail: None,
            error: None,
        };
        let line = "clocksource: Long readout interval, skipping watchdog check: cs_nsec: 5499708708 wd_nsec: 5499662080";
        let records = vec![
            rec(13 * s, RecordBody::Guest(GuestMessage::KernelLog(KernelLog { seq: 1, ts_us: 13_000_000, level: 4, message: line.into() }))),
            rec(4 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(0, 2 * s, 4 * s)))),
            rec(12 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(1, 7 * s, 12 * s)))),
        ];
        let f = summarize(&records);
        assert!(f[0].kernel_events.is_empty(), "fault 0 ended 9 s before: {:?}", f[0].kernel_events);
        assert_eq!(f[1].kernel_events.len(), 1);
    }

    #[test]
    fn only_the_nearest_exchanges_count() {
        let s = 1_000_000_000;
        // A very tight exchange long before the fault must not be used: the
        // guest may have drifted since.
        let mut exchanges = vec![ex(s, 0, 1)];
        for i in 0..BRACKET_EXCHANGES as i64 {
            exchanges.push(ex(2 * s + i * 100_000_000, 1_000, 100_000));
        }
        exchanges.push(ex(10 * s, 1_000, 100_000));
        let (lost, _) = time_lost(&exchanges, 5 * s, 6 * s).unwrap();
        assert_eq!(lost, 0);
    }
}
