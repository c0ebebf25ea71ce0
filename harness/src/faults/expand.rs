//! Expanding fault specs into a concrete, sorted list of events: each
//! repetition with its seeded jitter applied. Pure and reproducible: the same
//! specs and seed always give the same events.

use std::time::Duration;

use clockstorm_protocol::FaultKindName;
use serde::{Deserialize, Serialize};

use super::spec::{FaultKind, FaultSpec};
use crate::duration::format_duration;

/// One fault occurrence on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Position in the expanded timeline.
    pub index: usize,
    /// Which spec it came from, and which repetition of it.
    pub spec: usize,
    pub repetition: u32,
    pub kind: FaultKind,
    /// From the start of measurement.
    #[serde(with = "crate::duration::serde_text")]
    pub start: Duration,
    #[serde(with = "crate::duration::serde_text")]
    pub duration: Duration,
}

impl FaultEvent {
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

/// Error expanding a timeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    #[error("fault {a} ({a_kind} at {a_start}) and fault {b} ({b_kind} at {b_start}) overlap: faults run one at a time")]
    Overlap { a: usize, a_kind: FaultKindName, a_start: String, b: usize, b_kind: FaultKindName, b_start: String },
    #[error("fault {index} ({kind}) ends at {end}, after the measurement ({duration}): lengthen the duration")]
    PastEnd { index: usize, kind: FaultKindName, end: String, duration: String },
    #[error("the faults repeat {events} times in all, more than the {max} a timeline holds")]
    TooMany { events: u64, max: usize },
}

/// Most events of one timeline (all specs' repetitions together), so that
/// expanding stays cheap whatever the specs say (see `spec::MAX_COUNT`).
pub const MAX_EVENTS: usize = super::spec::MAX_COUNT as usize;

/// Expands `specs` with `seed`; checks that events do not overlap and end
/// within `measure` (the probe's duration).
pub fn expand(specs: &[FaultSpec], seed: u64, measure: Duration) -> Result<Vec<FaultEvent>, TimelineError> {
    let total: u64 = specs.iter().map(|s| u64::from(s.count)).sum();
    if total > MAX_EVENTS as u64 {
        return Err(TimelineError::TooMany { events: total, max: MAX_EVENTS });
    }
    let mut events = Vec::new();
    for (spec_index, spec) in specs.iter().enumerate() {
        for rep in 0..spec.count {
            let nominal = spec.start + spec.period * rep;
            let start = jittered(nominal, spec.jitter, seed, spec_index as u64, rep as u64);
            events.push(FaultEvent { index: 0, spec: spec_index, repetition: rep, kind: spec.kind.clone(), start, duration: spec.duration });
        }
    }
    events.sort_by_key(|e| (e.start, e.spec, e.repetition));
    for (i, e) in events.iter_mut().enumerate() {
        e.index = i;
    }
    for pair in events.windows(2) {
        if pair[1].start < pair[0].end() {
            return Err(TimelineError::Overlap {
                a: pair[0].index,
                a_kind: pair[0].kind.name(),
                a_start: format_duration(pair[0].start),
                b: pair[1].index,
                b_kind: pair[1].kind.name(),
                b_start: format_duration(pair[1].start),
            });
        }
    }
    if let Some(e) = events.iter().find(|e| e.end() > measure) {
        return Err(TimelineError::PastEnd { index: e.index, kind: e.kind.name(), end: format_duration(e.end()), duration: format_duration(measure) });
    }
    Ok(events)
}

/// `nominal` moved by a uniform amount in [-jitter, +jitter] drawn from
/// (seed, spec, repetition), at millisecond resolution, never below zero.
fn jittered(nominal: Duration, jitter: Duration, seed: u64, spec: u64, rep: u64) -> Duration {
    let j = jitter.as_millis() as i64;
    if j == 0 {
        return nominal;
    }
    let r = splitmix64(seed ^ splitmix64(spec.wrapping_mul(0x9e37_79b9) ^ splitmix64(rep)));
    let shift = (r % (2 * j as u64 + 1)) as i64 - j;
    let ms = (nominal.as_millis() as i64 + shift).max(0);
    Duration::from_millis(ms as u64)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator; enough
/// for reproducible jitter and small enough not to need a crate.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec::parse_fault;

    fn specs(texts: &[&str]) -> Vec<FaultSpec> {
        texts.iter().map(|t| parse_fault(t).unwrap()).collect()
    }

    #[test]
    fn repetitions_expand_in_order() {
        let e = expand(&specs(&["pause:20s+3s", "freeze:2s+1s,count=3,period=5s"]), 1, Duration::from_secs(30)).unwrap();
        let starts: Vec<u64> = e.iter().map(|e| e.start.as_secs()).collect();
        assert_eq!(starts, vec![2, 7, 12, 20]);
        assert_eq!(e.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(e[3].kind, FaultKind::Pause);
    }

    #[test]
    fn jitter_is_reproducible_from_the_seed_and_bounded() {
        let s = specs(&["freeze:10s+1s,count=20,period=3s,jitter=500ms"]);
        let a = expand(&s, 42, Duration::from_secs(100)).unwrap();
        let b = expand(&s, 42, Duration::from_secs(100)).unwrap();
        let c = expand(&s, 43, Duration::from_secs(100)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for e in &a {
            let nominal = 10_000 + 3_000 * e.repetition as i64;
            let shift = e.start.as_millis() as i64 - nominal;
            assert!(shift.abs() <= 500, "{shift}");
        }
        // Not all the same shift: it is jitter, not an offset.
        assert!(a.windows(2).any(|w| (w[1].start - w[0].start) != Duration::from_secs(3)));
    }

    #[test]
    fn overlapping_faults_and_faults_past_the_end_are_refused() {
        let err = expand(&specs(&["freeze:1s+5s", "pause:3s+1s"]), 0, Duration::from_secs(30)).unwrap_err();
        assert_eq!(err.to_string(), "fault 0 (freeze at 1s) and fault 1 (pause at 3s) overlap: faults run one at a time");
        let err = expand(&specs(&["freeze:8s+5s"]), 0, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.to_string(), "fault 0 (freeze) ends at 13s, after the measurement (10s): lengthen the duration");
    }

    /// Found by the `fault_spec` fuzz target (fuzz/regressions/fault_spec/):
    /// `count=6297115` took 10 s and 800 MB to expand before the check that
    /// the faults fit the measurement refused it.
    #[test]
    fn a_timeline_of_more_than_max_events_is_refused_before_expanding() {
        let many = specs(&["freeze:1s+1s,count=6000,period=2s", "pause:0s+0s,count=6000"]);
        let err = expand(&many, 0, Duration::from_secs(86_400)).unwrap_err();
        assert_eq!(err, TimelineError::TooMany { events: 12_000, max: MAX_EVENTS });
        assert!(expand(&specs(&["pause:0s+0s,count=10000"]), 0, Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn splitmix_matches_its_reference_output() {
        // First outputs of SplitMix64 seeded with 0, as in the reference
        // implementation (state advanced by the golden gamma before mixing).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
