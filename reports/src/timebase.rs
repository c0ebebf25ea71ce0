//! Mapping guest CLOCK_REALTIME onto host time through the exchanges.
//!
//! Each exchange says: at guest time (t1+t3)/2 the host was `offset` ahead,
//! within `uncertainty`. Between two exchanges the offset is interpolated
//! linearly; outside them the nearest one holds.

use clockstorm_protocol::Exchange;

/// Exchanges ordered by guest time, ready for lookups.
#[derive(Debug, Clone)]
pub struct Timebase {
    /// (guest midpoint ns, offset ns)
    points: Vec<(i64, i64)>,
}

impl Timebase {
    pub fn new(exchanges: &[Exchange]) -> Timebase {
        let mut points: Vec<(i64, i64)> = exchanges.iter().map(|e| (e.t1_ns / 2 + e.t3_ns / 2, e.offset_ns)).collect();
        points.sort_by_key(|p| p.0);
        Timebase { points }
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Host offset at guest time `guest_ns`.
    pub fn offset_at(&self, guest_ns: i64) -> Option<i64> {
        let first = self.points.first()?;
        let last = self.points.last()?;
        if guest_ns <= first.0 {
            return Some(first.1);
        }
        if guest_ns >= last.0 {
            return Some(last.1);
        }
        let i = self.points.partition_point(|p| p.0 <= guest_ns);
        let (a, b) = (self.points[i - 1], self.points[i]);
        let span = (b.0 - a.0) as f64;
        let frac = if span > 0.0 { (guest_ns - a.0) as f64 / span } else { 0.0 };
        Some(a.1 + ((b.1 - a.1) as f64 * frac).round() as i64)
    }

    /// Host time at guest time `guest_ns` through the offset of the first
    /// exchange at or after it (the last one if none): a step function, so
    /// something the guest stamped just after a fault that cost time gets
    /// the offset after the fault, not one interpolated across it.
    pub fn host_after(&self, guest_ns: i64) -> Option<i64> {
        let i = self.points.partition_point(|p| p.0 < guest_ns);
        self.points.get(i).or(self.points.last()).map(|p| guest_ns + p.1)
    }

    /// Host time at guest time `guest_ns`.
    pub fn host_at(&self, guest_ns: i64) -> Option<i64> {
        self.offset_at(guest_ns).map(|o| guest_ns + o)
    }
}

/// Min-RTT filter: from every run of `group` consecutive exchanges keeps the
/// one with the smallest uncertainty (NTP's clock filter idea: the shortest
/// round trip has the least queueing in it).
pub fn min_rtt_filter(exchanges: &[Exchange], group: usize) -> Vec<Exchange> {
    exchanges.chunks(group.max(1)).filter_map(|c| c.iter().min_by_key(|e| e.uncertainty_ns).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(mid: i64, offset: i64, unc: i64) -> Exchange {
        Exchange::from_timestamps(0, mid - unc, mid + offset, mid + unc)
    }

    #[test]
    fn offsets_interpolate_between_exchanges_and_hold_outside() {
        let tb = Timebase::new(&[ex(1_000, 0, 10), ex(3_000, 2_000, 10)]);
        assert_eq!(tb.offset_at(0), Some(0));
        assert_eq!(tb.offset_at(2_000), Some(1_000));
        assert_eq!(tb.offset_at(5_000), Some(2_000));
        assert_eq!(tb.host_at(2_000), Some(3_000));
        assert_eq!(Timebase::new(&[]).host_at(1), None);
    }

    #[test]
    fn the_filter_keeps_the_shortest_round_trip_of_each_group() {
        let e = [ex(0, 5, 300), ex(10, 7, 100), ex(20, 9, 200), ex(30, 1, 50), ex(40, 2, 60)];
        let kept = min_rtt_filter(&e, 2);
        assert_eq!(kept.iter().map(|e| e.uncertainty_ns).collect::<Vec<_>>(), vec![100, 50, 60]);
    }
}
