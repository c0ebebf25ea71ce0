//! The bound between the data channel's reader and the run loop: how many
//! bytes of messages may wait to be recorded. A guest that floods the
//! channel makes the reader wait here (and so stop reading the socket, which
//! pushes back on the guest) instead of queueing without limit.
//!
//! Backpressure rather than dropping: every message waiting is a
//! measurement (windows, exchanges, beacons), and the real transport already
//! pushes back: QEMU stops draining the virtio queue, the probe's own
//! bounded queue fills and it counts what it drops (its `Done`). Only once
//! the run is being torn down does the reader give up on what it cannot
//! queue, and counts it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Message bytes (their lines, plus [`OVERHEAD_BYTES`] each) that may wait
/// for the run loop: a few seconds of a real probe's traffic many times over,
/// and a bound on what a flood can make the harness hold.
pub const BACKLOG_CAP_BYTES: usize = 4 << 20;
/// What one waiting message costs beyond its line: the decoded message and
/// the channel's node, so tiny messages are bounded in number too.
pub const OVERHEAD_BYTES: usize = 256;

#[derive(Debug, Default)]
struct State {
    queued: usize,
    closed: bool,
}

/// The shared count of bytes waiting.
#[derive(Debug)]
pub struct Backlog {
    state: Mutex<State>,
    freed: Condvar,
    cap: usize,
}

/// One message's share of the backlog, given back when it is dropped (after
/// the run loop recorded the message, or with the queue at the run's end).
#[derive(Debug)]
pub struct Credit {
    backlog: Arc<Backlog>,
    bytes: usize,
}

impl Drop for Credit {
    fn drop(&mut self) {
        let mut s = self.backlog.state.lock().unwrap_or_else(|e| e.into_inner());
        s.queued -= self.bytes;
        self.backlog.freed.notify_all();
    }
}

/// What admitting a message took.
#[derive(Debug)]
pub enum Admission {
    /// Queued at once.
    Now(Credit),
    /// Queued after waiting this long for the run loop.
    Waited(Credit, Duration),
    /// Not queued: the backlog was closed (the run is being torn down).
    Closed,
}

impl Backlog {
    pub fn new(cap: usize) -> Arc<Backlog> {
        Arc::new(Backlog { state: Mutex::new(State::default()), freed: Condvar::new(), cap })
    }

    /// The credit for a message of `line_bytes`, waiting while the backlog is
    /// full. A message larger than the whole cap is let in when nothing waits.
    pub fn admit(self: &Arc<Self>, line_bytes: usize) -> Admission {
        let bytes = line_bytes + OVERHEAD_BYTES;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut waited_since = None;
        while !s.closed && s.queued > 0 && s.queued + bytes > self.cap {
            waited_since.get_or_insert_with(Instant::now);
            s = self.freed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.closed {
            return Admission::Closed;
        }
        s.queued += bytes;
        let credit = Credit { backlog: self.clone(), bytes };
        match waited_since {
            Some(t) => Admission::Waited(credit, t.elapsed()),
            None => Admission::Now(credit),
        }
    }

    /// No more waiting: the run loop will take nothing more until teardown is over.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.freed.notify_all();
    }

    /// Bytes waiting now.
    pub fn queued(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_waits_until_the_run_loop_takes_a_message() {
        let b = Backlog::new(2 * OVERHEAD_BYTES + 100);
        let first = match b.admit(50) {
            Admission::Now(c) => c,
            other => panic!("{other:?}"),
        };
        let _second = match b.admit(50) {
            Admission::Now(c) => c,
            other => panic!("{other:?}"),
        };
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || matches!(b.admit(50), Admission::Waited(..)))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(b.queued(), 2 * (50 + OVERHEAD_BYTES), "the third waits");
        drop(first);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_message_larger_than_the_cap_gets_in_alone_and_close_ends_waiting() {
        let b = Backlog::new(100);
        let big = match b.admit(1000) {
            Admission::Now(c) => c,
            other => panic!("{other:?}"),
        };
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || matches!(b.admit(10), Admission::Closed))
        };
        std::thread::sleep(Duration::from_millis(20));
        b.close();
        assert!(waiter.join().unwrap());
        drop(big);
        assert_eq!(b.queued(), 0);
    }
}
