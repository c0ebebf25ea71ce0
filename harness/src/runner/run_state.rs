//! What a run knows so far, and the one place every event it receives goes
//! through: the run loop, the drain after QEMU exits and the drain after
//! teardown all call [`RunState::dispatch`], so an event is recorded the same
//! way whenever it arrives.
//!
//! It also watches the guest from evidence that needs no guest timer: the
//! probe answers the host's beacons (paced by the host's clock), so a guest
//! whose clock stopped is seen stopping (the [`StopDetector`] on the
//! beacons), and a guest that answers nothing at all outside faults is
//! silent, with what each probe thread said last.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clockstorm_protocol::{GuestMessage, HarnessEvent, ProbeOutcome, RecordBody, ThreadSeen};
use clockstorm_reports::liveness::{BeaconPoint, ClockStop, StopDetector, Transition};

use super::record_file::RecordFile;
use crate::event_stream::{ConsoleSignal, Event};

/// How often the host sends a beacon once the probe said hello.
pub const BEACON_INTERVAL: Duration = Duration::from_millis(250);
/// No message from any probe thread for this long outside faults (and after
/// the last fault ended) makes the guest silent. The channel thread answers
/// a beacon every 250 ms whatever the guest's clocks do, so this is a hang,
/// not a slow guest; it leaves room for a loaded CI host.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(15);
pub use crate::scenario::CLOCK_STOP_GIVE_UP;

/// What the run loop must do after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Nothing,
    /// The probe synced: measurement began, start the fault timeline.
    StartFaults,
    /// The run cannot go on (the probe failed, the kernel panicked, a protocol error).
    Fail(String),
    /// The guest's clock has stood still since it was first seen at this value.
    ClockStopped(ClockStop),
    ClockResumed(ClockStop),
}

/// The probe thread a message comes from.
pub fn thread_of(msg: &GuestMessage) -> String {
    match msg {
        GuestMessage::Window(w) => format!("sampler-{}", w.cpu),
        GuestMessage::Gap(g) => format!("sampler-{}", g.cpu),
        GuestMessage::TickWindow(_) | GuestMessage::TimerStall(_) => "timer".into(),
        GuestMessage::KernelCounters(_) | GuestMessage::ClocksourceChanged(_) => "poller".into(),
        GuestMessage::KernelLog(_) => "kmsg".into(),
        GuestMessage::ServiceLog(_) => "time-service".into(),
        _ => "channel".into(),
    }
}

fn kind_of(msg: &GuestMessage) -> &'static str {
    match msg {
        GuestMessage::Hello(_) => "hello",
        GuestMessage::Ping { .. } => "ping",
        GuestMessage::Exchange(_) => "exchange",
        GuestMessage::PtpOffset(_) => "ptp_offset",
        GuestMessage::Synced(_) => "synced",
        GuestMessage::Window(_) => "window",
        GuestMessage::Gap(_) => "gap",
        GuestMessage::TickWindow(_) => "tick_window",
        GuestMessage::TimerStall(_) => "timer_stall",
        GuestMessage::Beacon(_) => "beacon",
        GuestMessage::KernelCounters(_) => "kernel_counters",
        GuestMessage::KernelLog(_) => "kernel_log",
        GuestMessage::ServiceLog(_) => "service_log",
        GuestMessage::ClocksourceChanged(_) => "clocksource_changed",
        GuestMessage::ActionResult(_) => "action_result",
        GuestMessage::Benchmark(_) => "benchmark",
        GuestMessage::Degraded { .. } => "degraded",
        GuestMessage::Done(_) => "done",
        GuestMessage::Failure { .. } => "failure",
    }
}

#[derive(Debug)]
pub struct RunState {
    pub hello_at: Option<Instant>,
    pub hello_vcpus: u32,
    pub done: Option<ProbeOutcome>,
    pub done_at: Option<Instant>,
    pub sentinel: bool,
    synced: bool,
    faults_active: usize,
    /// Last time the guest was heard from or a fault ended.
    quiet_since: Option<Instant>,
    heard: BTreeMap<String, (Instant, &'static str)>,
    stops: StopDetector,
    /// Since when (host) the clock has been stopped, as the detector said.
    stopped_since: Option<Instant>,
    /// Host time the clock stood still in stops that ended: the probe
    /// measures by its own clock, so its end comes that much later.
    pub stopped_total: Duration,
    next_beacon: u64,
    /// The data channel's health, once it closed.
    pub channel: Option<clockstorm_protocol::ChannelHealth>,
    /// The data channel and the console reached their ends: what the guest
    /// sent last has been received.
    pub data_closed: bool,
    pub console_closed: bool,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            hello_at: None,
            hello_vcpus: 0,
            done: None,
            done_at: None,
            sentinel: false,
            synced: false,
            faults_active: 0,
            quiet_since: None,
            heard: BTreeMap::new(),
            stops: StopDetector::new(),
            stopped_since: None,
            stopped_total: Duration::ZERO,
            next_beacon: 0,
            channel: None,
            data_closed: false,
            console_closed: false,
        }
    }
}

impl RunState {
    /// Records `event` and says what the run loop must do about it.
    pub fn dispatch(&mut self, event: Event, records: &mut RecordFile) -> Step {
        let now = Instant::now();
        match event {
            Event::Guest(stamp, msg) => {
                self.heard.insert(thread_of(&msg), (now, kind_of(&msg)));
                self.quiet_since = Some(now);
                let mut step = Step::Nothing;
                match &msg {
                    GuestMessage::Hello(h) => {
                        self.hello_at = Some(now);
                        self.hello_vcpus = h.vcpus;
                    }
                    GuestMessage::Synced(_) if !self.synced => {
                        self.synced = true;
                        let _ = records.harness(HarnessEvent::TimelineOrigin);
                        step = Step::StartFaults;
                    }
                    GuestMessage::Done(d) => {
                        self.done = Some(d.outcome.clone());
                        self.done_at = Some(now);
                    }
                    GuestMessage::Failure { message } => step = Step::Fail(format!("the probe failed: {message}")),
                    GuestMessage::Beacon(b) => step = self.observe_beacon(BeaconPoint::of(stamp.realtime_ns, b), now),
                    _ => {}
                }
                let _ = records.write(stamp, RecordBody::Guest(msg));
                step
            }
            Event::Garbled { stamp, line, error } => {
                let _ = records.write(stamp, RecordBody::Harness(HarnessEvent::Garbled { line, error }));
                Step::Nothing
            }
            Event::Protocol(message) => Step::Fail(message),
            Event::Harness(event) => {
                match &event {
                    HarnessEvent::ChannelHealth(h) => self.channel = Some(h.clone()),
                    HarnessEvent::FaultStarted { .. } => self.faults_active += 1,
                    HarnessEvent::FaultEnded(_) => {
                        self.faults_active = self.faults_active.saturating_sub(1);
                        self.quiet_since = Some(now);
                    }
                    _ => {}
                }
                let _ = records.harness(event);
                Step::Nothing
            }
            Event::Console(ConsoleSignal::Success) => {
                self.sentinel = true;
                let _ = records.harness(HarnessEvent::SentinelSeen);
                Step::Nothing
            }
            Event::Console(ConsoleSignal::ProbeFailure(reason)) => Step::Fail(format!("the probe failed: {reason}")),
            Event::Console(ConsoleSignal::KernelPanic(line)) => Step::Fail(format!("the guest kernel panicked: {line}")),
            Event::DataClosed => {
                self.data_closed = true;
                Step::Nothing
            }
            Event::ConsoleClosed => {
                self.console_closed = true;
                Step::Nothing
            }
            // The credit goes back once the message is recorded, not before:
            // that is what bounds the messages waiting.
            Event::Data(credit, event) => {
                let step = self.dispatch(*event, records);
                drop(credit);
                step
            }
            Event::WriteFailed { path, error } => {
                records.failed_elsewhere(crate::results::WriteError { path, source: error });
                Step::Nothing
            }
        }
    }

    fn observe_beacon(&mut self, point: BeaconPoint, now: Instant) -> Step {
        match self.stops.observe(point) {
            Some(Transition::Stopped(stop)) => {
                // It stood still since it was first seen at that value.
                let already = Duration::from_nanos((stop.last_seen_ns - stop.first_seen_ns).max(0) as u64);
                self.stopped_since = Some(now.checked_sub(already).unwrap_or(now));
                Step::ClockStopped(stop)
            }
            Some(Transition::Resumed(stop)) => {
                self.stopped_since = None;
                self.stopped_total += Duration::from_nanos(stop.stopped_ns().max(0) as u64);
                Step::ClockResumed(stop)
            }
            None => Step::Nothing,
        }
    }

    /// The next beacon's sequence number, when one is due at `now` (one
    /// every [`BEACON_INTERVAL`] after hello, paced by the host's clock).
    pub fn beacon_due(&mut self, now: Instant) -> Option<u64> {
        let hello = self.hello_at?;
        if self.done.is_some() {
            return None;
        }
        let due = hello + BEACON_INTERVAL * self.next_beacon as u32;
        (now >= due).then(|| {
            let seq = self.next_beacon;
            // After a stall of the harness, go on from now.
            let behind = (now - hello).as_millis() / BEACON_INTERVAL.as_millis();
            self.next_beacon = (self.next_beacon + 1).max(behind as u64 + 1);
            seq
        })
    }

    /// How long the stop in progress has lasted (zero when none).
    pub fn stopped_now(&self, now: Instant) -> Duration {
        self.stopped_since.map(|s| now.saturating_duration_since(s)).unwrap_or_default()
    }

    /// The stop in progress and how long it has lasted, once past `limit`
    /// (the scenario's `probe.clock_stop_limit`, by default [`CLOCK_STOP_GIVE_UP`]).
    pub fn stopped_for_good(&self, now: Instant, limit: Duration) -> Option<(ClockStop, Duration)> {
        let since = self.stopped_since?;
        let lasted = now.saturating_duration_since(since);
        (lasted >= limit).then(|| (self.stops.stopped().expect("a stop is open while stopped_since is set"), lasted))
    }

    /// How long the guest has been silent outside faults, once past [`SILENCE_LIMIT`].
    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        if self.hello_at.is_none() || self.done.is_some() || self.faults_active > 0 {
            return None;
        }
        let quiet = now.saturating_duration_since(self.quiet_since?);
        (quiet >= SILENCE_LIMIT).then_some(quiet)
    }

    /// What each probe thread said last (the threads a probe with
    /// `hello_vcpus` samplers runs), as of `now`.
    pub fn last_seen(&self, now: Instant) -> Vec<ThreadSeen> {
        let mut threads: Vec<String> = ["channel", "timer", "poller", "kmsg"].iter().map(|t| t.to_string()).collect();
        threads.extend((0..self.hello_vcpus).map(|c| format!("sampler-{c}")));
        for t in self.heard.keys() {
            if !threads.contains(t) {
                threads.push(t.clone());
            }
        }
        threads
            .into_iter()
            .map(|thread| {
                let seen = self.heard.get(&thread);
                ThreadSeen {
                    ago_ms: seen.map(|(at, _)| now.saturating_duration_since(*at).as_millis() as u64),
                    last: seen.map(|(_, kind)| kind.to_string()),
                    thread,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
