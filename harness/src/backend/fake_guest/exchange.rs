//! NTP-style exchanges with the host (guest t1, host t2, guest t3) and the
//! initial sync, as the probe runs them.

use clockstorm_protocol::{Exchange, GuestMessage, Synced};

use super::channel::Pongs;
use super::guest::Guest;

/// How long an exchange waits for its pong, in guest time (the probe's
/// PONG_TIMEOUT): a guest that does not run does not time out.
pub const PONG_TIMEOUT_NS: u64 = 2_000_000_000;
/// How often the waiting exchange looks at the guest's clock.
const PONG_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// The guest is shutting down: stop what you are doing.
#[derive(Debug, PartialEq, Eq)]
pub struct ShutDown;

/// One exchange; `Ok(None)`: the host did not answer in time.
pub fn exchange(guest: &Guest, pongs: &Pongs, seq: u64) -> Result<Option<Exchange>, ShutDown> {
    if !guest.on_vcpu0() {
        return Err(ShutDown);
    }
    let t1 = guest.clock.read().realtime_ns;
    if !guest.send(&GuestMessage::Ping { seq, t1_ns: t1 }) {
        return Err(ShutDown);
    }
    let deadline = guest.clock.read().mono_ns + PONG_TIMEOUT_NS;
    loop {
        if let Some((t2, t3)) = pongs.wait(seq, PONG_POLL) {
            return Ok(Some(Exchange::from_timestamps(seq, t1, t2, t3)));
        }
        if !guest.on_vcpu0() {
            return Err(ShutDown);
        }
        if guest.clock.read().mono_ns >= deadline {
            return Ok(None);
        }
    }
}

/// The initial burst: every answered exchange is sent, the tightest one
/// steps CLOCK_REALTIME onto host time, and Synced says by how much.
/// `Err(Some(reason))`: the host answered none; `Err(None)`: shutting down.
pub fn initial_sync(guest: &Guest, pongs: &Pongs, seq: &mut u64) -> Result<(), Option<String>> {
    let n = guest.config.initial_sync_exchanges;
    let mut burst = Vec::new();
    for _ in 0..n {
        let got = exchange(guest, pongs, *seq).map_err(|ShutDown| None)?;
        *seq += 1;
        if let Some(e) = got {
            if !guest.send(&GuestMessage::Exchange(e)) {
                return Err(None);
            }
            burst.push(e);
        }
    }
    let best = best_of(&burst).ok_or_else(|| Some(format!("the host answered none of {n} initial exchanges")))?;
    guest.clock.step_realtime(best.offset_ns);
    if !guest.send(&GuestMessage::Synced(Synced { best, step_ns: best.offset_ns })) {
        return Err(None);
    }
    Ok(())
}

/// The exchange with the smallest round trip: its offset is bounded tightest.
pub fn best_of(exchanges: &[Exchange]) -> Option<Exchange> {
    exchanges.iter().copied().min_by_key(|e| e.uncertainty_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_exchange_has_the_smallest_round_trip() {
        let a = Exchange::from_timestamps(0, 0, 500, 1000);
        let b = Exchange::from_timestamps(1, 2000, 2100, 2200);
        assert_eq!(best_of(&[a, b]), Some(b));
        assert_eq!(best_of(&[]), None);
    }
}
