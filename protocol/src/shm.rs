//! NTP-style time exchange over a shared memory page (ivshmem).
//!
//! The guest takes t1 on its clock and publishes a request; the host answers
//! with t2 (its `CLOCK_REALTIME`); the guest takes t3 when it sees the answer.
//! Both sides spin on memory, so the round trip (and the error bound of the
//! offset `t2 - (t1 + t3) / 2`) stays short.
//!
//! Both sides work on a `&[AtomicU64]` view of the page; turning the mapping
//! (a PCI BAR in the guest, an mmap'd file on the host) into that slice is the
//! caller's business, which keeps this module free of `unsafe`.
//!
//! Requests carry a sequence number that the response repeats before and after
//! t2 (seqlock style), so a stale or torn answer is never paired with a request.

use std::sync::atomic::{AtomicU64, Ordering};

pub const SHM_MAGIC: u64 = 0x636c_6f63_6b73_686d; // "clockshm"
pub const SHM_VERSION: u64 = 1;
/// Words the page needs (512 bytes; the regions below sit on separate 64-byte cache lines).
pub const SHM_WORDS: usize = 64;
/// Bytes the backing file/BAR must have at least (power of two, what QEMU's ivshmem needs).
pub const SHM_BYTES: usize = 4096;

// Layout, as word indices. Request and response sit on separate cache lines so
// that one side spinning on the other's line does not bounce its own.
//
// Line 0 (words 0..8): set-up and liveness.
/// [`SHM_MAGIC`]; the host writes it last at init (Release), so a guest that sees it sees the rest initialised.
pub const WORD_MAGIC: usize = 0;
/// [`SHM_VERSION`], written by the host at init before the magic.
pub const WORD_VERSION: usize = 1;
/// Incremented by the host on every poll that answers and on [`HostSide::heartbeat`]: tells the guest the host is alive.
pub const WORD_HOST_HEARTBEAT: usize = 2;
/// Written by the guest: how often it will ask, in ns (0 = not announced); the host uses it to know when to spin.
pub const WORD_GUEST_PERIOD_NS: usize = 3;
/// Written by the guest right after each exchange: in how many ns (of its own
/// clock) it will ask next, plus one (0 = not announced); 1 means at once (a
/// burst). The host spins from its answer plus that, so it need not guess the
/// guest's schedule from its wake-up jitter.
pub const WORD_GUEST_NEXT_IN_NS: usize = 4;
// Line 1 (words 8..16): the request, written by the guest only.
/// Sequence number of the latest request (0 = never asked). Written after [`WORD_REQ_T1`], with Release.
pub const WORD_REQ_SEQ: usize = 8;
/// Guest time t1 of the latest request (i64 bits).
pub const WORD_REQ_T1: usize = 9;
// Line 2 (words 16..24): the response, written by the host only, in the order begin, t2, end.
/// Seq of the response being written; written first.
pub const WORD_RESP_SEQ_BEGIN: usize = 16;
/// Host time t2 (i64 bits).
pub const WORD_RESP_T2: usize = 17;
/// Seq of the response completely written; written last.
pub const WORD_RESP_SEQ_END: usize = 18;

/// One completed exchange: t1 and t3 on the guest clock, t2 on the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmExchange {
    pub seq: u64,
    pub t1_ns: i64,
    pub t2_ns: i64,
    pub t3_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShmError {
    /// The page is smaller than SHM_WORDS.
    #[error("shared memory page has {words} words, the time exchange needs {SHM_WORDS}")]
    TooSmall { words: usize },
    /// No host initialised the page (magic or version differ): the device is there but nobody answers.
    #[error("no host on the shared memory page (magic {magic:#x}, version {version}; want {SHM_MAGIC:#x}, {SHM_VERSION})")]
    NoHost { magic: u64, version: u64 },
    /// The host did not answer request `seq` before the guest gave up.
    #[error("host did not answer shared memory request {seq}")]
    Timeout { seq: u64 },
}

fn check_size(words: &[AtomicU64]) -> Result<(), ShmError> {
    (words.len() >= SHM_WORDS).then_some(()).ok_or(ShmError::TooSmall { words: words.len() })
}

/// The seq after `seq`, skipping 0 (which means "never asked"), so the wrap from `u64::MAX` lands on 1.
fn next_seq(seq: u64) -> u64 {
    match seq.wrapping_add(1) {
        0 => 1,
        s => s,
    }
}

/// Host side: answers the guest's requests.
pub struct HostSide<'a> {
    words: &'a [AtomicU64],
    /// Last seq answered (0 = none): each request is answered once, so a seq appears in the response line for one write only.
    answered: u64,
}

impl<'a> HostSide<'a> {
    /// Writes the version, zeroes the other words, then writes the magic.
    ///
    /// The magic goes last with Release, so a guest that attaches (Acquire on
    /// the magic) sees the version and the zeroed words.
    pub fn init(words: &'a [AtomicU64]) -> Result<Self, ShmError> {
        check_size(words)?;
        words[WORD_MAGIC].store(0, Ordering::Relaxed);
        words[WORD_VERSION].store(SHM_VERSION, Ordering::Relaxed);
        for w in &words[WORD_VERSION + 1..SHM_WORDS] {
            w.store(0, Ordering::Relaxed);
        }
        words[WORD_MAGIC].store(SHM_MAGIC, Ordering::Release);
        Ok(HostSide { words, answered: 0 })
    }

    /// Answers a request not answered yet: reads req_seq (Acquire); if it differs from the last answered seq, calls `now()` for t2
    /// and publishes the response. Returns the seq answered, if any.
    ///
    /// Only the newest request is ever answered: if the guest gave up on N and
    /// already asks N+1, N gets no answer, and t2 is taken as late as
    /// possible, right before it is published.
    pub fn poll(&mut self, now: impl FnOnce() -> i64) -> Option<u64> {
        let seq = self.words[WORD_REQ_SEQ].load(Ordering::Acquire);
        if seq == 0 || seq == self.answered {
            return None;
        }
        let t2 = now();
        // Every store is Release so that whichever of them a guest load
        // (Acquire) reads, it also sees the stores before it; the guest's
        // check relies on "saw t2 of answer M => sees begin == M" and
        // "saw end == M => sees t2 of answer M (or later)".
        self.words[WORD_RESP_SEQ_BEGIN].store(seq, Ordering::Release);
        self.words[WORD_RESP_T2].store(t2 as u64, Ordering::Release);
        self.words[WORD_RESP_SEQ_END].store(seq, Ordering::Release);
        self.answered = seq;
        self.heartbeat();
        Some(seq)
    }

    /// The period the guest announced (0 = not announced).
    pub fn guest_period_ns(&self) -> u64 {
        self.words[WORD_GUEST_PERIOD_NS].load(Ordering::Relaxed)
    }

    /// In how long after the last answer the guest said it will ask next
    /// (None = not said).
    pub fn guest_next_in_ns(&self) -> Option<u64> {
        self.words[WORD_GUEST_NEXT_IN_NS].load(Ordering::Relaxed).checked_sub(1)
    }

    /// Tells the guest the host is alive even when there is nothing to answer.
    pub fn heartbeat(&self) {
        self.words[WORD_HOST_HEARTBEAT].fetch_add(1, Ordering::Release);
    }
}

/// Guest side: asks the host for its time.
pub struct GuestSide<'a> {
    words: &'a [AtomicU64],
    /// Seq of the latest request made (or found in the page at attach).
    seq: u64,
}

impl<'a> GuestSide<'a> {
    /// Checks size, magic and version; starts its sequence after whatever req_seq holds (so a restarted probe never reuses a seq
    /// the host already answered, which the host would ignore).
    pub fn attach(words: &'a [AtomicU64]) -> Result<Self, ShmError> {
        check_size(words)?;
        // Acquire pairs with the host's Release of the magic: the version and the zeroed words are visible from here on.
        let magic = words[WORD_MAGIC].load(Ordering::Acquire);
        let version = words[WORD_VERSION].load(Ordering::Relaxed);
        if magic != SHM_MAGIC || version != SHM_VERSION {
            return Err(ShmError::NoHost { magic, version });
        }
        Ok(GuestSide { words, seq: words[WORD_REQ_SEQ].load(Ordering::Relaxed) })
    }

    /// Tells the host how often this guest will ask, in ns.
    pub fn announce_period(&self, period_ns: u64) {
        self.words[WORD_GUEST_PERIOD_NS].store(period_ns, Ordering::Relaxed);
    }

    /// Tells the host the next request comes in `in_ns` (0: at once).
    pub fn announce_next_in(&self, in_ns: u64) {
        self.words[WORD_GUEST_NEXT_IN_NS].store(in_ns.saturating_add(1), Ordering::Relaxed);
    }

    /// The host's heartbeat counter: if it stops moving, the host is gone.
    pub fn host_heartbeat(&self) -> u64 {
        self.words[WORD_HOST_HEARTBEAT].load(Ordering::Acquire)
    }

    /// One exchange. `clock()` gives guest time (called for t1 and t3). `keep_waiting(polls)` is called while no valid answer is
    /// there, with how many polls of the response line have been made so far (1 on the first call); returning false gives up
    /// (`Err(Timeout)`). Sequence numbers use wrapping_add and skip 0 (0 means "never asked"), so the wrap from u64::MAX is safe.
    ///
    /// A seq is used once even when it times out: the next exchange asks
    /// with the next seq, so a late answer to the abandoned request can never
    /// be taken as the answer to the new one.
    pub fn exchange(&mut self, mut clock: impl FnMut() -> i64, mut keep_waiting: impl FnMut(u64) -> bool) -> Result<ShmExchange, ShmError> {
        let seq = next_seq(self.seq);
        self.seq = seq;
        let t1 = clock();
        self.words[WORD_REQ_T1].store(t1 as u64, Ordering::Relaxed);
        // Release: a host that reads this seq also reads this request's t1.
        self.words[WORD_REQ_SEQ].store(seq, Ordering::Release);
        let mut polls = 0u64;
        loop {
            if let Some(t2) = self.read_response(seq) {
                let t3 = clock();
                return Ok(ShmExchange { seq, t1_ns: t1, t2_ns: t2, t3_ns: t3 });
            }
            polls += 1;
            if !keep_waiting(polls) {
                return Err(ShmError::Timeout { seq });
            }
        }
    }

    /// t2 of the answer to `seq`, if it is completely there.
    ///
    /// Why end, t2, begin in that order, against the host's begin, t2, end:
    /// - end == seq (Acquire) synchronises with the host's Release of end for
    ///   answer `seq`, so the t2 load reads that answer's t2 or a later one,
    ///   never an earlier (stale) one.
    /// - If it read a later answer M's t2, that t2 load (Acquire) synchronises
    ///   with M's Release of t2, and M's begin = M was stored before it; so the
    ///   begin load reads M (or later), not `seq`, and the guest retries.
    ///
    /// Hence begin == end == seq means t2 belongs to answer `seq`. Each seq is
    /// answered at most once per host, so "a later answer" can't carry `seq`
    /// again (short of 2^64 - 1 requests). A single word can't tear itself:
    /// the danger this rules out is a t2 paired with the wrong request.
    fn read_response(&self, seq: u64) -> Option<i64> {
        if self.words[WORD_RESP_SEQ_END].load(Ordering::Acquire) != seq {
            return None;
        }
        let t2 = self.words[WORD_RESP_T2].load(Ordering::Acquire) as i64;
        (self.words[WORD_RESP_SEQ_BEGIN].load(Ordering::Acquire) == seq).then_some(t2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn page() -> Vec<AtomicU64> {
        (0..SHM_WORDS).map(|_| AtomicU64::new(0)).collect()
    }

    /// A guest clock that ticks by 10 on every read.
    fn ticking(start: i64) -> impl FnMut() -> i64 {
        let mut ticks = (start..).step_by(10);
        move || ticks.next().unwrap()
    }

    #[test]
    fn shm_round_trip_with_host_thread() {
        let words = page();
        let mut host = HostSide::init(&words).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // The host clock reads 1_000_000 + k for the k-th answer.
                let mut answers = 0;
                while !stop.load(Ordering::Relaxed) {
                    match host.poll(|| 1_000_000 + answers + 1) {
                        Some(_) => answers += 1,
                        None => std::thread::yield_now(),
                    }
                }
            });
            let mut guest = GuestSide::attach(&words).unwrap();
            let mut clock = ticking(0);
            for k in 1..=200u64 {
                let x = guest
                    .exchange(&mut clock, |polls| {
                        std::thread::yield_now();
                        polls < 10_000_000
                    })
                    .unwrap();
                assert_eq!(x.seq, k);
                assert!(x.t1_ns <= x.t3_ns, "{x:?}");
                assert_eq!(x.t2_ns, 1_000_000 + k as i64, "{x:?}");
            }
            stop.store(true, Ordering::Relaxed);
        });
    }

    #[test]
    fn shm_torn_response_is_not_accepted() {
        let words = page();
        let _host = HostSide::init(&words).unwrap();
        let mut guest = GuestSide::attach(&words).unwrap();

        // begin and t2 written, end still old: not accepted, and the guest gives up.
        let mut calls = 0;
        let r = guest.exchange(ticking(0), |polls| {
            calls += 1;
            if polls == 1 {
                words[WORD_RESP_SEQ_BEGIN].store(1, Ordering::Release);
                words[WORD_RESP_T2].store(777, Ordering::Release);
            }
            polls < 3
        });
        assert_eq!(r, Err(ShmError::Timeout { seq: 1 }));
        assert_eq!(calls, 3);

        // The other half: end and t2 of the new answer but begin of the old one
        // (what a reader overlapping a later write would see) is refused too;
        // once begin matches, the very next poll accepts.
        let mut calls = 0;
        let x = guest
            .exchange(ticking(100), |polls| {
                calls += 1;
                match polls {
                    1 => {
                        words[WORD_RESP_T2].store(888, Ordering::Release);
                        words[WORD_RESP_SEQ_END].store(2, Ordering::Release);
                    }
                    2 => {}
                    3 => words[WORD_RESP_SEQ_BEGIN].store(2, Ordering::Release),
                    _ => panic!("complete answer not accepted"),
                }
                true
            })
            .unwrap();
        assert_eq!(calls, 3);
        assert_eq!((x.seq, x.t2_ns), (2, 888));
    }

    #[test]
    fn shm_sequence_wraps_skipping_zero() {
        let words = page();
        let mut host = HostSide::init(&words).unwrap();
        words[WORD_REQ_SEQ].store(u64::MAX - 1, Ordering::Relaxed);
        let mut guest = GuestSide::attach(&words).unwrap();
        for (want_seq, t2) in [(u64::MAX, 5_000), (1, 6_000)] {
            // Giving up unless the host answers exactly `want_seq` on the first poll.
            let x = guest.exchange(ticking(0), |_| host.poll(|| t2) == Some(want_seq)).unwrap();
            assert_eq!((x.seq, x.t2_ns), (want_seq, t2));
        }
    }

    #[test]
    fn shm_late_host_answer_is_not_taken_for_next_request() {
        let words = page();
        let mut host = HostSide::init(&words).unwrap();
        let mut guest = GuestSide::attach(&words).unwrap();
        assert_eq!(guest.exchange(ticking(0), |_| false), Err(ShmError::Timeout { seq: 1 }));
        // The host wakes up late and answers 1, which nobody waits for any more.
        assert_eq!(host.poll(|| 111), Some(1));

        let mut calls = 0;
        let x = guest
            .exchange(ticking(100), |polls| {
                calls += 1;
                // Being called at all on poll 1 means the stale answer 1 was refused.
                if polls == 2 {
                    assert_eq!(host.poll(|| 222), Some(2));
                }
                polls < 5
            })
            .unwrap();
        assert_eq!(calls, 2);
        assert_eq!((x.seq, x.t2_ns), (2, 222));
        // Nothing new to answer.
        assert_eq!(host.poll(|| panic!("no request pending")), None);
    }

    #[test]
    fn shm_no_host_and_too_small() {
        let words = page();
        assert!(matches!(GuestSide::attach(&words), Err(ShmError::NoHost { magic: 0, version: 0 })));
        words[WORD_MAGIC].store(SHM_MAGIC, Ordering::Relaxed);
        words[WORD_VERSION].store(SHM_VERSION + 1, Ordering::Relaxed);
        assert!(matches!(GuestSide::attach(&words), Err(ShmError::NoHost { magic: SHM_MAGIC, version: 2 })));

        let small: Vec<AtomicU64> = (0..10).map(|_| AtomicU64::new(0)).collect();
        assert!(matches!(GuestSide::attach(&small), Err(ShmError::TooSmall { words: 10 })));
        assert!(matches!(HostSide::init(&small), Err(ShmError::TooSmall { words: 10 })));
        assert!(SHM_WORDS * 8 <= SHM_BYTES && SHM_BYTES.is_power_of_two());
    }

    #[test]
    fn shm_heartbeat_and_period() {
        let words: [AtomicU64; SHM_WORDS] = std::array::from_fn(|_| AtomicU64::new(0));
        let mut host = HostSide::init(&words).unwrap();
        let mut guest = GuestSide::attach(&words).unwrap();
        assert_eq!((host.guest_period_ns(), guest.host_heartbeat()), (0, 0));
        guest.announce_period(1_000_000);
        assert_eq!(host.guest_period_ns(), 1_000_000);
        host.heartbeat();
        assert_eq!(guest.host_heartbeat(), 1);
        guest.exchange(ticking(0), |_| host.poll(|| 42).is_some()).unwrap();
        assert_eq!(guest.host_heartbeat(), 2);
        // A poll with nothing to answer does not beat.
        assert_eq!(host.poll(|| 43), None);
        assert_eq!(guest.host_heartbeat(), 2);
        // The next request's announcement: none yet, then "at once", then 100 ms.
        assert_eq!(host.guest_next_in_ns(), None);
        guest.announce_next_in(0);
        assert_eq!(host.guest_next_in_ns(), Some(0));
        guest.announce_next_in(100_000_000);
        assert_eq!(host.guest_next_in_ns(), Some(100_000_000));
    }
}
