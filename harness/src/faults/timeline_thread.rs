//! The timeline thread: waits for each event's start, applies the fault,
//! holds it for its duration, lifts it, and reports both ends with host
//! timestamps. On stop (Ctrl-C, a failed run) it lifts the active fault at
//! once; the injectors also lift on drop, so a panic leaves nothing applied.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{FaultEffect, HarnessEvent};

use super::inject::{injector_for, FaultContext};
use super::FaultEvent;
use crate::event_stream::{Event, HostStamp};

/// The timeline thread checks for stop at least this often while waiting.
const STOP_POLL: Duration = Duration::from_millis(5);

/// The running timeline; stopping it lifts the active fault.
pub struct TimelineHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TimelineHandle {
    /// Stops the timeline and waits until every fault is lifted. Idempotent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TimelineHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the timeline with `origin` as time zero.
pub fn spawn_timeline(events: Vec<FaultEvent>, ctx: FaultContext, origin: Instant, tx: Sender<Event>) -> std::io::Result<TimelineHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new().name("clockstorm-faults".into()).spawn(move || {
            for event in events {
                if !sleep_until(origin + event.start, &stop) {
                    return;
                }
                let _ = tx.send(Event::Harness(HarnessEvent::FaultStarted {
                    index: event.index,
                    kind: event.kind.name(),
                    planned_start_ms: event.start.as_millis() as u64,
                    planned_duration_ms: event.duration.as_millis() as u64,
                }));
                let effect = run_one(&event, &ctx, &stop);
                let _ = tx.send(Event::Harness(HarnessEvent::FaultEnded(effect)));
            }
        })?
    };
    Ok(TimelineHandle { stop, thread: Some(thread) })
}

/// Applies, holds and lifts one fault.
fn run_one(event: &FaultEvent, ctx: &FaultContext, stop: &AtomicBool) -> FaultEffect {
    let mut errors = Vec::new();
    let mut began = HostStamp::now();
    let mut began_at = Instant::now();
    let mut detail = None;
    // A command's effect is its run; every other fault counts from the
    // moment it is in effect.
    let counts_from_apply = !matches!(event.kind, super::FaultKind::Command { .. });
    match injector_for(&event.kind, ctx) {
        Err(e) => errors.push(e.to_string()),
        Ok(mut injector) => {
            match injector.apply() {
                Ok(()) => {
                    if counts_from_apply {
                        began = HostStamp::now();
                        began_at = Instant::now();
                    }
                    sleep_until(began_at + event.duration, stop);
                }
                Err(e) => errors.push(e.to_string()),
            }
            match injector.lift() {
                Ok(d) => detail = Some(d),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let ended = HostStamp::now();
    let achieved_ns = if errors.is_empty() { began_at.elapsed().as_nanos() as u64 } else { 0 };
    if stop.load(Ordering::SeqCst) {
        errors.push("interrupted: lifted early".into());
    }
    FaultEffect {
        index: event.index,
        kind: event.kind.name(),
        began_realtime_ns: began.realtime_ns,
        began_monotonic_ns: began.monotonic_ns,
        ended_realtime_ns: ended.realtime_ns,
        ended_monotonic_ns: ended.monotonic_ns,
        achieved_ns,
        detail,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// Sleeps until `deadline`; false if stopped first.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}
