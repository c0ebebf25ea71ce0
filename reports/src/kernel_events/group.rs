//! Multi-line grouping: the streaming `Parser`.
//!
//! A report header opens a pending group; detail lines join the group they
//! fit by shape and by the clocksource they name, even with unrelated lines
//! (other CPUs' output) in between. A group is closed by its last line, by
//! `WINDOW` lines without a fitting detail, by growing past `MAX_GROUP_LINES`
//! or `MAX_GROUP_SPAN`, by more than `MAX_PENDING` open groups, or by
//! `finish()`. Events come out in the order of their first line, so events
//! after an open group wait (at most `MAX_GROUP_SPAN` lines) until it closes.

use std::collections::VecDeque;

use super::events::{CurrentClocksource, KernelEvent, SkewSign, SkewSource};
use super::line::split_line;
use super::parse::{classify, Piece, RcuHeader, SkewClock};

/// A pending group closes after this many lines without a fitting detail.
pub const WINDOW: u64 = 24;
/// … or when it spans this many lines since its header.
pub const MAX_GROUP_SPAN: u64 = 256;
/// … or when it has collected this many lines.
pub const MAX_GROUP_LINES: u32 = 64;
/// At most this many groups are open at once (the oldest closes first).
pub const MAX_PENDING: usize = 8;

/// Clock frequencies learnt from the log, to convert cycle counts to ns (the
/// 4.18 skew report, the 7.x inter-CPU skew report).
#[derive(Debug, Clone, Default)]
struct Freqs {
    tsc_khz: Option<u64>,
    hpet_hz: Option<u64>,
}

impl Freqs {
    fn hz(&self, clock: &str) -> Option<u64> {
        match clock {
            "tsc" | "tsc-early" => self.tsc_khz.map(|k| k * 1000),
            // QEMU's HPET runs at 100 MHz; real chipsets print their rate on hpet0.
            "hpet" => Some(self.hpet_hz.unwrap_or(100_000_000)),
            "acpi_pm" => Some(3_579_545),
            // pvclock counts nanoseconds.
            "kvm-clock" | "xen" => Some(1_000_000_000),
            "hyperv_clocksource_tsc_page" | "hyperv_clocksource_msr" => Some(10_000_000),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct SkewAcc {
    cpu: Option<u32>,
    clocksource: String,
    wd: Option<SkewClock>,
    cs: Option<SkewClock>,
    skewed: Option<(i64, String, i64)>,
    current: Option<CurrentClocksource>,
}

#[derive(Debug, Clone)]
struct RcuAcc {
    header: RcuHeader,
}

#[derive(Debug, Clone)]
struct SyncAcc {
    clocksource: String,
    from_cpu: Option<u32>,
    to_cpus: Option<String>,
    ahead: Option<String>,
    behind: Option<String>,
    durations: Option<(u64, u64)>,
}

/// A 7.x frequency-skew report: header, watchdog interval, clocksource interval.
#[derive(Debug, Clone)]
struct FreqSkewAcc {
    clocksource: String,
    wd: Option<(String, u64)>,
    cs: Option<u64>,
}

/// A 7.x inter-CPU skew report: header, then the cycles line.
#[derive(Debug, Clone)]
struct CpuSkewAcc {
    clocksource: String,
    cycles: Option<(u32, u64, u32, u64)>,
}

#[derive(Debug, Clone)]
enum Group {
    Skew(SkewAcc),
    FreqSkew(FreqSkewAcc),
    CpuSkew(CpuSkewAcc),
    Rcu(RcuAcc),
    TimerWakeup { flavor: String, jiffies: u64, timer_cpu: Option<u32>, softirq: Option<u64> },
    Sync(SyncAcc),
}

#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    last_seq: u64,
    ts_us: Option<u64>,
    lines: u32,
    group: Group,
}

/// The streaming parser. Feed it raw lines (`push_line`) or messages whose
/// timestamp is already split off (`push_message`, e.g. /dev/kmsg records);
/// call `finish()` at the end to flush open groups.
#[derive(Debug, Default)]
pub struct Parser {
    seq: u64,
    pending: VecDeque<Pending>,
    /// Finished events, sorted by first-line sequence, not yet released.
    ready: VecDeque<(u64, KernelEvent)>,
    freqs: Freqs,
    work: u64,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// One raw line (console, dmesg, syslog or journal). Returns the events
    /// that are complete, in line order.
    pub fn push_line(&mut self, raw: &str) -> Vec<KernelEvent> {
        let l = split_line(raw);
        self.push_message(l.ts_us, l.message)
    }

    /// One message with its timestamp split off.
    pub fn push_message(&mut self, ts_us: Option<u64>, message: &str) -> Vec<KernelEvent> {
        self.seq += 1;
        let seq = self.seq;
        let piece = classify(ts_us, message, &mut self.work);
        self.work += self.pending.len() as u64 + 1;
        let other = || KernelEvent::Other { ts_us, text: message.trim_end().to_string() };
        match piece {
            Piece::Event(e) => {
                if let KernelEvent::ClockFrequency { clock, khz, .. } = &e {
                    match clock.as_str() {
                        "tsc" => self.freqs.tsc_khz = Some(*khz),
                        "hpet" => self.freqs.hpet_hz = Some(khz * 1000),
                        _ => {}
                    }
                }
                self.emit(seq, e);
            }
            Piece::Unmatched => self.emit(seq, other()),
            Piece::SkewHeader { cpu, clocksource } => {
                self.open(seq, ts_us, Group::Skew(SkewAcc { cpu, clocksource, wd: None, cs: None, skewed: None, current: None }))
            }
            Piece::SkewWd(clock) => {
                let found = self.find(|g| matches!(g, Group::Skew(a) if a.wd.is_none() && a.cs.is_none() && a.clocksource != clock.name));
                match found {
                    Some(i) => {
                        if let Group::Skew(a) = &mut self.pending[i].group {
                            a.wd = Some(clock);
                        }
                        self.touch(i, seq);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::SkewCs(clock) => {
                let found = self.find(|g| matches!(g, Group::Skew(a) if a.cs.is_none() && a.clocksource == clock.name));
                match found {
                    Some(i) => {
                        // 4.18 form (no cs_nsec) ends here; 5.14+ goes on.
                        let last = clock.nsec.is_none();
                        if let Group::Skew(a) = &mut self.pending[i].group {
                            a.cs = Some(clock);
                        }
                        self.touch(i, seq);
                        if last {
                            self.close(i);
                        }
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::Skewed { clocksource, skew_ns, watchdog, interval_ns } => {
                let found = self.find(|g| matches!(g, Group::Skew(a) if a.skewed.is_none() && a.clocksource == clocksource));
                match found {
                    Some(i) => {
                        if let Group::Skew(a) = &mut self.pending[i].group {
                            a.skewed = Some((skew_ns, watchdog, interval_ns));
                        }
                        self.touch(i, seq);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::Current(cur) => {
                let found = self
                    .find(|g| matches!(g, Group::Skew(a) if a.current.is_none() && a.cs.is_some()))
                    .or_else(|| self.find(|g| matches!(g, Group::Skew(a) if a.current.is_none())));
                match found {
                    Some(i) => {
                        if let Group::Skew(a) = &mut self.pending[i].group {
                            a.current = Some(cur);
                        }
                        self.touch(i, seq);
                        self.close(i);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::FreqSkewHeader { clocksource } => self.open(seq, ts_us, Group::FreqSkew(FreqSkewAcc { clocksource, wd: None, cs: None })),
            Piece::FreqSkewInterval { watchdog: true, name, interval_ns } => {
                let found = self.find(|g| matches!(g, Group::FreqSkew(a) if a.wd.is_none() && a.cs.is_none() && a.clocksource != name));
                match found {
                    Some(i) => {
                        if let Group::FreqSkew(a) = &mut self.pending[i].group {
                            a.wd = Some((name, interval_ns));
                        }
                        self.touch(i, seq);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::FreqSkewInterval { watchdog: false, name, interval_ns } => {
                let found = self.find(|g| matches!(g, Group::FreqSkew(a) if a.cs.is_none() && a.clocksource == name));
                match found {
                    Some(i) => {
                        if let Group::FreqSkew(a) = &mut self.pending[i].group {
                            a.cs = Some(interval_ns);
                        }
                        self.touch(i, seq);
                        self.close(i);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::CpuSkewHeader { clocksource } => self.open(seq, ts_us, Group::CpuSkew(CpuSkewAcc { clocksource, cycles: None })),
            Piece::CpuSkewCycles { behind_cpu, behind_cycles, ahead_cpu, ahead_cycles } => {
                match self.find(|g| matches!(g, Group::CpuSkew(a) if a.cycles.is_none())) {
                    Some(i) => {
                        if let Group::CpuSkew(a) = &mut self.pending[i].group {
                            a.cycles = Some((behind_cpu, behind_cycles, ahead_cpu, ahead_cycles));
                        }
                        self.touch(i, seq);
                        self.close(i);
                    }
                    None => self.emit(seq, other()),
                }
            }
            Piece::RcuHeader(h) => {
                if h.complete {
                    let ev = rcu_event(ts_us, h, 1);
                    self.emit(seq, ev);
                } else {
                    self.open(seq, ts_us, Group::Rcu(RcuAcc { header: h }));
                }
            }
            Piece::RcuCpu { cpu } => match self.find(|g| matches!(g, Group::Rcu(_))) {
                Some(i) => {
                    if let Group::Rcu(a) = &mut self.pending[i].group {
                        if a.header.cpus.len() < 64 {
                            a.header.cpus.push(cpu);
                        }
                    }
                    self.touch(i, seq);
                }
                None => self.emit(seq, other()),
            },
            Piece::RcuTail(t) => match self.find(|g| matches!(g, Group::Rcu(_))) {
                Some(i) => {
                    if let Group::Rcu(a) = &mut self.pending[i].group {
                        a.header.tail = Some(t);
                    }
                    self.touch(i, seq);
                    self.close(i);
                }
                None => self.emit(seq, other()),
            },
            Piece::TimerWakeup { flavor, jiffies } => self.open(seq, ts_us, Group::TimerWakeup { flavor, jiffies, timer_cpu: None, softirq: None }),
            Piece::TimerIssue { cpu, softirq: si } => match self.find(|g| matches!(g, Group::TimerWakeup { timer_cpu: None, .. })) {
                Some(i) => {
                    if let Group::TimerWakeup { timer_cpu, softirq, .. } = &mut self.pending[i].group {
                        *timer_cpu = Some(cpu);
                        *softirq = si;
                    }
                    self.touch(i, seq);
                    self.close(i);
                }
                None => self.emit(seq, other()),
            },
            Piece::SyncHeader { clocksource, from_cpu, to_cpus } => {
                self.open(seq, ts_us, Group::Sync(SyncAcc { clocksource, from_cpu: Some(from_cpu), to_cpus, ahead: None, behind: None, durations: None }))
            }
            Piece::SyncAheadBehind { cpus, ahead, cpu, clocksource } => {
                let found = self.find(|g| matches!(g, Group::Sync(a) if a.clocksource == clocksource && a.from_cpu == Some(cpu) && a.durations.is_none()));
                let i = match found {
                    Some(i) => i,
                    None => {
                        self.open(
                            seq,
                            ts_us,
                            Group::Sync(SyncAcc { clocksource, from_cpu: Some(cpu), to_cpus: None, ahead: None, behind: None, durations: None }),
                        );
                        self.pending.len() - 1
                    }
                };
                if let Group::Sync(a) = &mut self.pending[i].group {
                    if ahead {
                        a.ahead = Some(cpus);
                    } else {
                        a.behind = Some(cpus);
                    }
                }
                self.touch(i, seq);
            }
            Piece::SyncDurations { cpu, min_ns, max_ns, clocksource } => {
                let found = self.find(|g| matches!(g, Group::Sync(a) if a.clocksource == clocksource && a.from_cpu == Some(cpu) && a.durations.is_none()));
                match found {
                    Some(i) => {
                        if let Group::Sync(a) = &mut self.pending[i].group {
                            a.durations = Some((min_ns, max_ns));
                        }
                        self.touch(i, seq);
                        self.close(i);
                    }
                    None => {
                        let acc =
                            SyncAcc { clocksource, from_cpu: Some(cpu), to_cpus: None, ahead: None, behind: None, durations: Some((min_ns, max_ns)) };
                        self.emit(seq, sync_event(ts_us, acc, 1));
                    }
                }
            }
        }
        self.expire(seq);
        self.release()
    }

    /// Flushes every open group; returns the remaining events in line order.
    pub fn finish(&mut self) -> Vec<KernelEvent> {
        while !self.pending.is_empty() {
            self.close(0);
        }
        self.release()
    }

    /// Work done so far, in bytes scanned plus per-line bookkeeping: grows
    /// linearly with the input (the property test checks the bound).
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Events and groups currently buffered (bounded).
    pub fn buffered(&self) -> usize {
        self.ready.len() + self.pending.len()
    }

    /// The TSC frequency learnt so far, in kHz.
    pub fn tsc_khz(&self) -> Option<u64> {
        self.freqs.tsc_khz
    }

    fn find(&mut self, pred: impl Fn(&Group) -> bool) -> Option<usize> {
        self.work += self.pending.len() as u64;
        self.pending.iter().position(|p| pred(&p.group))
    }

    fn touch(&mut self, i: usize, seq: u64) {
        let p = &mut self.pending[i];
        p.last_seq = seq;
        p.lines += 1;
    }

    fn open(&mut self, seq: u64, ts_us: Option<u64>, group: Group) {
        if self.pending.len() >= MAX_PENDING {
            self.close(0);
        }
        self.pending.push_back(Pending { seq, last_seq: seq, ts_us, lines: 1, group });
    }

    fn expire(&mut self, now: u64) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &self.pending[i];
            if now - p.last_seq >= WINDOW || now - p.seq >= MAX_GROUP_SPAN || p.lines >= MAX_GROUP_LINES {
                self.close(i);
            } else {
                i += 1;
            }
        }
    }

    fn close(&mut self, i: usize) {
        let Some(p) = self.pending.remove(i) else { return };
        let ev = match p.group {
            Group::Skew(a) => skew_event(p.ts_us, a, p.lines, &self.freqs),
            Group::FreqSkew(a) => freq_skew_event(p.ts_us, a, p.lines),
            Group::CpuSkew(a) => cpu_skew_event(p.ts_us, a, p.lines, &self.freqs),
            Group::Rcu(a) => rcu_event(p.ts_us, a.header, p.lines),
            Group::TimerWakeup { flavor, jiffies, timer_cpu, softirq } => {
                KernelEvent::RcuTimerWakeupMissed { ts_us: p.ts_us, flavor, jiffies, timer_cpu, timer_softirq: softirq }
            }
            Group::Sync(a) => sync_event(p.ts_us, a, p.lines),
        };
        self.emit(p.seq, ev);
    }

    /// Inserts a finished event at its place in line order.
    fn emit(&mut self, seq: u64, ev: KernelEvent) {
        let at = self.ready.partition_point(|(s, _)| *s < seq);
        self.work += 1 + (self.ready.len() - at) as u64;
        self.ready.insert(at, (seq, ev));
    }

    fn release(&mut self) -> Vec<KernelEvent> {
        let horizon = self.pending.iter().map(|p| p.seq).min().unwrap_or(u64::MAX);
        let mut out = Vec::new();
        while self.ready.front().is_some_and(|(s, _)| *s < horizon) {
            out.push(self.ready.pop_front().unwrap().1);
        }
        out
    }
}

fn rcu_event(ts_us: Option<u64>, h: RcuHeader, lines: u32) -> KernelEvent {
    let t = h.tail.unwrap_or_default();
    KernelEvent::RcuStall {
        ts_us,
        flavor: h.flavor,
        stall: h.stall,
        cpus: h.cpus,
        detected_by: t.detected_by,
        t_jiffies: t.t_jiffies,
        g: t.g,
        q: t.q,
        ncpus: t.ncpus,
        lines,
    }
}

fn sync_event(ts_us: Option<u64>, a: SyncAcc, lines: u32) -> KernelEvent {
    KernelEvent::ClocksourceSyncCheck {
        ts_us,
        clocksource: a.clocksource,
        from_cpu: a.from_cpu,
        to_cpus: a.to_cpus,
        cpus_ahead: a.ahead,
        cpus_behind: a.behind,
        check_min_ns: a.durations.map(|d| d.0),
        check_max_ns: a.durations.map(|d| d.1),
        lines,
    }
}

fn freq_skew_event(ts_us: Option<u64>, a: FreqSkewAcc, lines: u32) -> KernelEvent {
    let wd_interval_ns = a.wd.as_ref().map(|w| w.1);
    let cs_interval_ns = a.cs;
    let skew_ns = match (cs_interval_ns, wd_interval_ns) {
        (Some(c), Some(w)) => i64::try_from(c).ok().zip(i64::try_from(w).ok()).and_then(|(c, w)| c.checked_sub(w)),
        _ => None,
    };
    let skew_ppm = skew_ns
        .zip(wd_interval_ns)
        .filter(|&(_, w)| w > 0)
        .and_then(|(k, w)| i64::try_from(i128::from(k) * 1_000_000 / i128::from(w)).ok());
    KernelEvent::ClocksourceFreqSkew {
        ts_us,
        clocksource: a.clocksource,
        watchdog: a.wd.map(|w| w.0),
        wd_interval_ns,
        cs_interval_ns,
        skew_ns,
        skew_sign: skew_ns.map(SkewSign::of),
        skew_ppm,
        lines,
    }
}

fn cpu_skew_event(ts_us: Option<u64>, a: CpuSkewAcc, lines: u32, freqs: &Freqs) -> KernelEvent {
    let cs_freq_hz = freqs.hz(&a.clocksource);
    let behind_by_ns = a.cycles.zip(cs_freq_hz).and_then(|((_, behind, _, ahead), hz)| {
        let cycles = ahead.checked_sub(behind)?;
        i64::try_from(u128::from(cycles) * 1_000_000_000 / u128::from(hz.max(1))).ok()
    });
    KernelEvent::ClocksourceCpuSkew {
        ts_us,
        clocksource: a.clocksource,
        behind_cpu: a.cycles.map(|c| c.0),
        behind_cycles: a.cycles.map(|c| c.1),
        ahead_cpu: a.cycles.map(|c| c.2),
        ahead_cycles: a.cycles.map(|c| c.3),
        cs_freq_hz,
        behind_by_ns,
        lines,
    }
}

/// Cycles elapsed under `mask`, in ns at `hz`.
fn cycles_ns(c: &SkewClock, hz: u64) -> Option<i64> {
    let cycles = c.now.wrapping_sub(c.last) & c.mask;
    let ns = u128::from(cycles) * 1_000_000_000 / u128::from(hz.max(1));
    i64::try_from(ns).ok()
}

fn skew_event(ts_us: Option<u64>, a: SkewAcc, lines: u32, freqs: &Freqs) -> KernelEvent {
    let watchdog = a.wd.as_ref().map(|w| w.name.clone()).or_else(|| a.skewed.as_ref().map(|s| s.1.clone()));
    let mut wd_nsec = a.wd.as_ref().and_then(|w| w.nsec);
    let mut cs_nsec = a.cs.as_ref().and_then(|c| c.nsec);
    let mut wd_freq_hz = None;
    let mut cs_freq_hz = None;
    let (skew_ns, skew_source) = if let (Some(w), Some(c)) = (wd_nsec, cs_nsec) {
        (c.checked_sub(w), Some(SkewSource::Nsec))
    } else if let Some((skew, _, _)) = &a.skewed {
        (Some(*skew), Some(SkewSource::Skewed))
    } else if let (Some(w), Some(c)) = (&a.wd, &a.cs) {
        wd_freq_hz = freqs.hz(&w.name);
        cs_freq_hz = freqs.hz(&c.name);
        match (wd_freq_hz.and_then(|hz| cycles_ns(w, hz)), cs_freq_hz.and_then(|hz| cycles_ns(c, hz))) {
            (Some(wn), Some(cn)) => {
                wd_nsec = Some(wn);
                cs_nsec = Some(cn);
                (cn.checked_sub(wn), Some(SkewSource::Cycles))
            }
            _ => (None, None),
        }
    } else {
        (None, None)
    };
    let skew_source = skew_ns.and(skew_source);
    KernelEvent::ClocksourceSkew {
        ts_us,
        cpu: a.cpu,
        clocksource: a.clocksource,
        watchdog,
        wd_nsec,
        cs_nsec,
        wd_now: a.wd.as_ref().map(|w| w.now),
        wd_last: a.wd.as_ref().map(|w| w.last),
        wd_mask: a.wd.as_ref().map(|w| w.mask),
        cs_now: a.cs.as_ref().map(|c| c.now),
        cs_last: a.cs.as_ref().map(|c| c.last),
        cs_mask: a.cs.as_ref().map(|c| c.mask),
        wd_freq_hz,
        cs_freq_hz,
        skew_ns,
        skew_sign: skew_ns.map(SkewSign::of),
        skew_source,
        wd_interval_ns: a.skewed.as_ref().map(|s| s.2),
        current: a.current,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpet_cycles() {
        let c = SkewClock { name: "hpet".into(), nsec: None, now: 0x10, last: 0xffff_fff0, mask: 0xffff_ffff };
        assert_eq!(cycles_ns(&c, 100_000_000), Some(320));
    }
}
