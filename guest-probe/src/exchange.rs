//! NTP-style exchanges with the host (guest t1, host t2, guest t3).

use std::time::{Duration, Instant};

use anyhow::Result;
use clockstorm_protocol::{Exchange, GuestMessage, HostMessage};

use crate::clocks::realtime_ns;
use crate::link::Link;

/// How long to wait for the host's answer to one ping. The round trip under
/// TCG is about a millisecond; a host that has not answered in this time is
/// gone or stalled, and the exchange is counted as lost rather than blocking
/// the run.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one exchange. `Ok(None)` means the host did not answer in time.
/// Other host messages that arrive meanwhile (actions, beacons) are
/// appended to `pending`.
pub fn exchange(link: &mut dyn Link, seq: u64, pending: &mut Vec<HostMessage>) -> Result<Option<Exchange>> {
    let t1 = realtime_ns();
    link.send(&GuestMessage::Ping { seq, t1_ns: t1 })?;
    let deadline = Instant::now() + PONG_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // No outbox wake-up here: what it would say waits for the answer.
        match link.recv(left, None)? {
            Some(HostMessage::Pong { seq: s, t2_ns }) if s == seq => {
                let t3 = realtime_ns();
                return Ok(Some(Exchange::from_timestamps(seq, t1, t2_ns, t3)));
            }
            // A late answer to an earlier ping that already timed out.
            Some(HostMessage::Pong { .. }) => continue,
            Some(other) => pending.push(other),
            None => return Ok(None),
        }
    }
}

/// Picks the exchange with the smallest round trip: its offset has the
/// tightest bound.
pub fn best_of(exchanges: &[Exchange]) -> Option<Exchange> {
    exchanges.iter().copied().min_by_key(|e| e.uncertainty_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_exchange_is_the_one_with_the_smallest_round_trip() {
        let a = Exchange::from_timestamps(0, 0, 500, 1000);
        let b = Exchange::from_timestamps(1, 2000, 2100, 2200);
        let c = Exchange::from_timestamps(2, 3000, 3300, 3600);
        assert_eq!(best_of(&[a, b, c]), Some(b));
        assert_eq!(best_of(&[]), None);
    }
}
