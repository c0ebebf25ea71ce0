//! The search behind `clockstorm characterize`, pure: which freeze lengths
//! the next guest tries, what each freeze's outcome was, and where the
//! outcome changes. No guest is booted here (tests run it on made-up rules).
//!
//! A guest takes several freezes one after another. A freeze whose outcome
//! is "the clock stops for good" ends its guest, so a guest probes at most
//! one bracket next to that regime, and in the order that keeps it alive
//! longest: upwards out of the regime below a stop, downwards out of the
//! regime above one.

use clockstorm_protocol::{FreezeOutcome, RegimeBoundary, RegimeSpan};

/// What the search is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// The freeze lengths searched, inclusive.
    pub from_ns: u64,
    pub to_ns: u64,
    /// Each boundary to within ± this.
    pub resolution_ns: u64,
    /// How much later than the freeze's end the kernel may have read the
    /// counter last before it (one tick): added to every bound.
    pub slack_ns: u64,
    pub freezes_per_guest: usize,
    pub max_guests: u32,
    /// The counter's wrap period: where a stop's regime may end.
    pub wrap_ns: u64,
}

/// One measured freeze: its achieved length and outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub length_ns: u64,
    pub outcome: FreezeOutcome,
}

/// Two freezes closer than this are the same point: no guest repeats one.
const MIN_SPACING_NS: u64 = 5_000_000;

/// The outcome of a freeze that lost `lost_ns` (± `uncertainty_ns`) on a
/// counter of wrap `wrap_ns`, or ClockStopped when the clock stopped for
/// good after it. A loss within 50 ms (or three times its ±) of a whole
/// number of wraps is that many wraps.
pub fn classify(lost_ns: i64, uncertainty_ns: i64, wrap_ns: f64, stopped_for_good: bool) -> FreezeOutcome {
    if stopped_for_good {
        return FreezeOutcome::ClockStopped;
    }
    let wraps = (lost_ns as f64 / wrap_ns).round();
    let residual = (lost_ns as f64 - wraps * wrap_ns).abs();
    if wraps < 0.0 || residual > (50e6f64).max(3.0 * uncertainty_ns as f64) {
        return FreezeOutcome::Irregular;
    }
    FreezeOutcome::WrapsLost { wraps: wraps as u32 }
}

/// The measured points sorted by length.
fn sorted(points: &[Point]) -> Vec<Point> {
    let mut p = points.to_vec();
    p.sort_by_key(|p| p.length_ns);
    p
}

/// Where the outcome changes between neighbouring lengths: one boundary per
/// change, bracketed by the two freezes, with its bound.
pub fn boundaries(settings: &SearchSettings, points: &[Point]) -> Vec<RegimeBoundary> {
    sorted(points)
        .windows(2)
        .filter(|w| w[0].outcome != w[1].outcome)
        .map(|w| {
            let (a, b) = (w[0].length_ns, w[1].length_ns);
            let plus_minus_ns = (b - a) / 2 + settings.slack_ns;
            RegimeBoundary {
                below: w[0].outcome,
                above: w[1].outcome,
                at_ns: a + (b - a) / 2,
                plus_minus_ns,
                longest_below_ns: a,
                shortest_above_ns: b,
                resolved: plus_minus_ns <= settings.resolution_ns,
            }
        })
        .collect()
}

/// The runs of equal outcome, in order of length.
pub fn regimes(points: &[Point]) -> Vec<(FreezeOutcome, u64, u64, u32)> {
    let mut out: Vec<(FreezeOutcome, u64, u64, u32)> = Vec::new();
    for p in sorted(points) {
        match out.last_mut() {
            Some(last) if last.0 == p.outcome => {
                last.2 = p.length_ns;
                last.3 += 1;
            }
            _ => out.push((p.outcome, p.length_ns, p.length_ns, 1)),
        }
    }
    out
}

/// A regime span with no step statistics yet (the caller adds them).
pub fn span(outcome: FreezeOutcome, shortest_ns: u64, longest_ns: u64, freezes: u32) -> RegimeSpan {
    RegimeSpan { outcome, shortest_ns, longest_ns, freezes, stepped_back: 0, worst_backward_ns: 0, stood_still: 0 }
}

/// The freeze lengths (ns) the next guest tries, in the order it tries
/// them; empty when every boundary is resolved or the guests are spent.
/// `unmeasured` are lengths an earlier guest planned but never reached
/// (its clock stopped first).
pub fn next_lengths(settings: &SearchSettings, points: &[Point], unmeasured: &[u64], guests_so_far: u32) -> Vec<u64> {
    if guests_so_far >= settings.max_guests {
        return Vec::new();
    }
    let n = settings.freezes_per_guest.max(1);
    if points.is_empty() && unmeasured.is_empty() {
        if n == 1 {
            return vec![settings.from_ns];
        }
        let step = (settings.to_ns - settings.from_ns) as f64 / (n - 1) as f64;
        return (0..n).map(|i| settings.from_ns + (i as f64 * step).round() as u64).collect();
    }
    let open: Vec<RegimeBoundary> = boundaries(settings, points).into_iter().filter(|b| !b.resolved).collect();
    let risky = |b: &RegimeBoundary| b.below == FreezeOutcome::ClockStopped || b.above == FreezeOutcome::ClockStopped;
    // Safe brackets all go in; of the risky ones the widest, alone.
    let mut chosen: Vec<&RegimeBoundary> = open.iter().filter(|b| !risky(b)).collect();
    let risky_one = open.iter().filter(|b| risky(b)).max_by_key(|b| b.shortest_above_ns - b.longest_below_ns);
    chosen.extend(risky_one);
    // A length never reached matters only outside the lengths measured:
    // inside them, the brackets already cover it.
    let (lo, hi) = (points.iter().map(|p| p.length_ns).min().unwrap_or(u64::MAX), points.iter().map(|p| p.length_ns).max().unwrap_or(0));
    let mut pending: Vec<u64> = unmeasured.iter().copied().filter(|&u| u + MIN_SPACING_NS < lo || u > hi + MIN_SPACING_NS).collect();
    pending.truncate(n / 2);
    let budget = n - pending.len();
    // One beyond a stop within the same wrap may stop the clock too: it
    // goes last. One a wrap further on is likely past the stop: first.
    let highest = sorted(points).last().copied();
    let wrap = settings.wrap_ns.max(1);
    let may_stop = |u: u64| highest.is_some_and(|h| h.outcome == FreezeOutcome::ClockStopped && u > h.length_ns && u / wrap == h.length_ns / wrap);
    let (tail, safe_first): (Vec<u64>, Vec<u64>) = pending.into_iter().partition(|&u| may_stop(u));
    // Hand out points one at a time to the bracket whose pieces are widest.
    let mut k = vec![0usize; chosen.len()];
    for _ in 0..budget {
        let Some(i) = (0..chosen.len()).max_by_key(|&i| (chosen[i].shortest_above_ns - chosen[i].longest_below_ns) / (k[i] as u64 + 1)) else { break };
        k[i] += 1;
    }
    let inside = |b: &RegimeBoundary, k: usize| -> Vec<u64> {
        let (a, w) = (b.longest_below_ns, b.shortest_above_ns - b.longest_below_ns);
        (1..=k)
            .map(|j| a + w * j as u64 / (k as u64 + 1))
            .filter(|&l| l - a >= MIN_SPACING_NS && b.shortest_above_ns - l >= MIN_SPACING_NS)
            .collect()
    };
    let mut safe: Vec<u64> = safe_first;
    let mut last: Vec<u64> = Vec::new();
    for (b, &k) in chosen.iter().zip(&k) {
        let mut l = inside(b, k);
        if risky(b) {
            // Out of the stop last: below it upwards, above it downwards.
            if b.below == FreezeOutcome::ClockStopped {
                l.reverse();
            }
            last = l;
        } else {
            safe.extend(l);
        }
    }
    safe.sort_unstable();
    safe.extend(last);
    safe.extend(tail);
    safe
}

#[cfg(test)]
mod tests {
    use super::*;
    use FreezeOutcome::{ClockStopped, WrapsLost};

    const W: f64 = 4_686_902_000.0;
    const MS: u64 = 1_000_000;

    fn settings() -> SearchSettings {
        SearchSettings {
            from_ns: 500 * MS,
            to_ns: 5_500 * MS,
            resolution_ns: 50 * MS,
            slack_ns: 4 * MS,
            freezes_per_guest: 6,
            max_guests: 8,
            wrap_ns: W as u64,
        }
    }

    /// A made-up kernel: refuses above `f` of a wrap, then waits or stops.
    fn kernel(f: f64, stops: bool) -> impl Fn(u64) -> FreezeOutcome {
        move |d| {
            let x = d as f64 / W;
            let (whole, rest) = (x.floor(), x - x.floor());
            match (rest > f, stops) {
                (false, _) => WrapsLost { wraps: whole as u32 },
                (true, false) => WrapsLost { wraps: whole as u32 + 1 },
                (true, true) => ClockStopped,
            }
        }
    }

    /// Runs the search against `truth` as guests would: a stop ends the guest.
    fn search(s: &SearchSettings, truth: impl Fn(u64) -> FreezeOutcome) -> (Vec<RegimeBoundary>, u32) {
        let (mut points, mut unmeasured, mut guests) = (Vec::new(), Vec::new(), 0);
        loop {
            let plan = next_lengths(s, &points, &unmeasured, guests);
            if plan.is_empty() {
                return (boundaries(s, &points), guests);
            }
            guests += 1;
            unmeasured.clear();
            let mut stopped = false;
            for l in plan {
                if stopped {
                    unmeasured.push(l);
                    continue;
                }
                let outcome = truth(l);
                stopped = outcome == ClockStopped;
                points.push(Point { length_ns: l, outcome });
            }
        }
    }

    #[test]
    fn the_half_wrap_rule_is_found_within_its_bound_in_three_guests() {
        let (b, guests) = search(&settings(), kernel(0.5, false));
        assert_eq!(b.len(), 1, "{b:#?}");
        assert_eq!((b[0].below, b[0].above), (WrapsLost { wraps: 0 }, WrapsLost { wraps: 1 }));
        assert!(b[0].resolved && b[0].plus_minus_ns <= 50 * MS);
        assert!((b[0].at_ns as f64 - W / 2.0).abs() <= b[0].plus_minus_ns as f64, "{b:#?}");
        assert!(guests <= 3, "{guests} guests");
    }

    #[test]
    fn a_kernel_that_stops_its_clock_gets_both_edges_of_the_stop() {
        let (b, guests) = search(&settings(), kernel(0.875, true));
        let edges: Vec<_> = b.iter().map(|b| (b.below, b.above)).collect();
        assert_eq!(edges, vec![(WrapsLost { wraps: 0 }, ClockStopped), (ClockStopped, WrapsLost { wraps: 1 })], "{b:#?}");
        for (b, truth) in b.iter().zip([0.875 * W, W]) {
            assert!(b.resolved, "{b:#?}");
            assert!((b.at_ns as f64 - truth).abs() <= b.plus_minus_ns as f64, "{b:#?} vs {truth}");
        }
        assert!(guests <= 5, "{guests} guests");
    }

    #[test]
    fn a_narrow_range_just_past_a_stop_takes_two_guests() {
        // What the e2e test asks of 6.12: 3.95 s to 4.25 s, 3 freezes, 2 guests.
        let s = SearchSettings { from_ns: 3_950 * MS, to_ns: 4_250 * MS, freezes_per_guest: 3, max_guests: 2, ..settings() };
        let (b, guests) = search(&s, kernel(0.875, true));
        assert_eq!(guests, 2);
        assert_eq!(b.len(), 1, "{b:#?}");
        assert!(b[0].resolved && (b[0].at_ns as f64 - 0.875 * W).abs() <= b[0].plus_minus_ns as f64, "{b:#?}");
        let s = SearchSettings { from_ns: 2_100 * MS, to_ns: 2_600 * MS, ..s };
        let (b, _) = search(&s, kernel(0.5, false));
        assert!(b.len() == 1 && b[0].resolved, "{b:#?}");
    }

    #[test]
    fn a_rule_no_kernel_has_is_found_too_and_the_guests_stay_bounded() {
        // A third of a wrap, and two wraps inside the range.
        let s = SearchSettings { to_ns: 9_000 * MS, ..settings() };
        let (b, guests) = search(&s, kernel(0.3, false));
        let at: Vec<f64> = b.iter().map(|b| b.at_ns as f64 / W).collect();
        assert_eq!(b.len(), 2, "{b:#?}");
        assert!((at[0] - 0.3).abs() < 0.02 && (at[1] - 1.3).abs() < 0.02, "{at:?}");
        assert!(b.iter().all(|b| b.resolved));
        assert!(guests <= 8);
        // Too few guests: the bound is stated, not pretended.
        let (b, guests) = search(&SearchSettings { max_guests: 1, ..s }, kernel(0.3, false));
        assert_eq!(guests, 1);
        assert!(b.iter().all(|b| !b.resolved && b.plus_minus_ns > 50 * MS), "{b:#?}");
    }

    #[test]
    fn losses_are_named_by_whole_wraps() {
        assert_eq!(classify(1_000_000, 300_000, W, false), WrapsLost { wraps: 0 });
        assert_eq!(classify(4_690_000_000, 300_000, W, false), WrapsLost { wraps: 1 });
        assert_eq!(classify(9_373_000_000, 300_000, W, false), WrapsLost { wraps: 2 });
        assert_eq!(classify(2_000_000_000, 300_000, W, false), FreezeOutcome::Irregular);
        assert_eq!(classify(0, 0, W, true), ClockStopped);
    }
}
