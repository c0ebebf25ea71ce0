//! A run's progress as text, a pure function of its updates and the time
//! each arrived: the lines each update prints (the same on a terminal and
//! in a CI log) and the live status a terminal redraws (one line per guest
//! running, one for the matrix, with an estimate of the time left).
//! [`update_of`] reads the updates off the run's one event stream; the
//! runner adds the starts and ends of guests. Times are offsets from the
//! start of the matrix, so a test can script them (the snapshots do).

use std::time::Duration;

use clockstorm_protocol::{FaultKindName, GuestMessage, HarnessEvent, RunOutcome};

use super::Verbosity;
use crate::event_stream::Event;

/// Where a guest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Started, the probe has not said hello yet.
    Booting,
    /// The probe said hello and syncs its clock to the host's.
    Syncing,
    /// Measurement began (fault times count from here).
    Measuring,
    /// The probe finished, or the run ended: faults lifted, the guest torn down.
    TearingDown,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Booting => "booting",
            Phase::Syncing => "syncing",
            Phase::Measuring => "measuring",
            Phase::TearingDown => "tearing down",
        }
    }
}

/// One run of the matrix as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub id: String,
    /// How long it measures (duration, benchmark, faults); None: skipped.
    pub measuring: Option<Duration>,
    /// Faults on its timeline.
    pub faults: usize,
}

/// Something that happened to the matrix or one of its guests.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The runs to go, in order, and how many run at once.
    Matrix {
        runs: Vec<PlannedRun>,
        jobs: usize,
    },
    /// A guest starts; `pinned` names the host CPUs it is pinned to.
    Started {
        id: String,
        clocksource: String,
        pinned: Option<String>,
    },
    Phase {
        id: String,
        phase: Phase,
    },
    FaultStarted {
        id: String,
        index: usize,
        kind: FaultKindName,
        planned_ms: u64,
    },
    FaultEnded {
        id: String,
        index: usize,
        kind: FaultKindName,
        achieved_ms: u64,
        error: Option<String>,
    },
    /// A finding said while the guest runs (its clock stopped, moves again,
    /// a degraded data channel).
    Note {
        id: String,
        text: String,
    },
    Finished {
        id: String,
        outcome: RunOutcome,
    },
}

/// The update an event of run `id` makes, if any. Pure.
pub fn update_of(id: &str, event: &Event) -> Option<Update> {
    let phase = |phase| Some(Update::Phase { id: id.to_owned(), phase });
    match event {
        Event::Data(_, inner) => update_of(id, inner),
        Event::Guest(_, GuestMessage::Hello(_)) => phase(Phase::Syncing),
        Event::Guest(_, GuestMessage::Synced(_)) => phase(Phase::Measuring),
        Event::Guest(_, GuestMessage::Done(_)) => phase(Phase::TearingDown),
        Event::Harness(HarnessEvent::FaultStarted { index, kind, planned_duration_ms, .. }) => {
            Some(Update::FaultStarted { id: id.to_owned(), index: *index, kind: *kind, planned_ms: *planned_duration_ms })
        }
        Event::Harness(HarnessEvent::FaultEnded(e)) => {
            Some(Update::FaultEnded { id: id.to_owned(), index: e.index, kind: e.kind, achieved_ms: e.achieved_ns / 1_000_000, error: e.error.clone() })
        }
        _ => None,
    }
}

/// A guest that is running.
#[derive(Debug, Clone)]
struct Active {
    id: String,
    started: Duration,
    phase: Phase,
    phase_since: Duration,
    faults_done: usize,
    /// The fault in effect: index, kind, planned length (ms), since when.
    fault: Option<(usize, FaultKindName, u64, Duration)>,
}

/// The matrix so far.
#[derive(Debug, Clone, Default)]
pub struct Board {
    planned: Vec<PlannedRun>,
    jobs: usize,
    active: Vec<Active>,
    /// Finished runs: id, wall time, whether it failed (not a finding, not skipped).
    finished: Vec<(String, Duration, bool)>,
}

impl Board {
    /// Takes `update` (arrived `at` after the matrix started) and returns
    /// the lines it prints at `verbosity`, each a whole line without its
    /// newline. Pure.
    pub fn apply(&mut self, update: &Update, at: Duration, verbosity: Verbosity) -> Vec<String> {
        let mut lines = Vec::new();
        let mut say = |level: Verbosity, line: String| {
            if verbosity >= level {
                lines.push(line);
            }
        };
        match update {
            Update::Matrix { runs, jobs } => {
                self.planned = runs.clone();
                self.jobs = (*jobs).max(1);
            }
            Update::Started { id, clocksource, pinned } => {
                let pinned = pinned.as_ref().map(|c| format!(" on host CPUs {c}")).unwrap_or_default();
                say(Verbosity::Normal, format!("clockstorm: [{}/{}] {id} ({clocksource}){pinned}", self.number_of(id), self.planned.len()));
                self.active
                    .push(Active { id: id.clone(), started: at, phase: Phase::Booting, phase_since: at, faults_done: 0, fault: None });
            }
            Update::Phase { id, phase } => {
                let measuring = self.measuring_of(id);
                if let Some(a) = self.active.iter_mut().find(|a| &a.id == id).filter(|a| a.phase != *phase) {
                    let (level, line) = match phase {
                        Phase::Booting => (Verbosity::Verbose, format!("{id}: booting")),
                        Phase::Syncing => (Verbosity::Verbose, format!("{id}: the probe said hello after {}; syncing", human(at - a.started))),
                        Phase::Measuring => (
                            Verbosity::Normal,
                            format!(
                                "{id}: measuring{} (booted and synced in {})",
                                measuring.map(|m| format!(" for {}", human(m))).unwrap_or_default(),
                                human(at - a.started)
                            ),
                        ),
                        Phase::TearingDown => (Verbosity::Verbose, format!("{id}: tearing down after {}", human(at - a.started))),
                    };
                    say(level, format!("clockstorm:   {line}"));
                    a.phase = *phase;
                    a.phase_since = at;
                }
            }
            Update::FaultStarted { id, index, kind, planned_ms } => {
                let total = self.faults_of(id, *index);
                if let Some(a) = self.active.iter_mut().find(|a| &a.id == id) {
                    a.fault = Some((*index, *kind, *planned_ms, at));
                }
                say(Verbosity::Normal, format!("clockstorm:   {id}: fault {index}{total}: {kind} for {} applied", human_ms(*planned_ms)));
            }
            Update::FaultEnded { id, index, kind, achieved_ms, error } => {
                let total = self.faults_of(id, *index);
                if let Some(a) = self.active.iter_mut().find(|a| &a.id == id) {
                    a.fault = None;
                    a.faults_done += 1;
                }
                let how = match error {
                    Some(e) => format!("ended with an error: {e}"),
                    None => format!("lifted after {}", human_ms(*achieved_ms)),
                };
                say(Verbosity::Normal, format!("clockstorm:   {id}: fault {index}{total}: {kind} {how}"));
            }
            Update::Note { id, text } => say(Verbosity::Normal, format!("clockstorm:   {id}: {text}")),
            Update::Finished { id, outcome } => {
                let started = self.active.iter().find(|a| &a.id == id).map(|a| a.started).unwrap_or(at);
                self.active.retain(|a| &a.id != id);
                let failed = matches!(outcome, RunOutcome::Failed { .. } | RunOutcome::ClocksourceNotHonored { .. });
                self.finished.push((id.clone(), at.saturating_sub(started), failed || matches!(outcome, RunOutcome::Skipped { .. })));
                for line in outcome_lines(id, outcome, at.saturating_sub(started)) {
                    say(Verbosity::Normal, line);
                }
                say(Verbosity::Normal, format!("clockstorm: {}", self.matrix_line(at)));
            }
        }
        lines
    }

    /// The live status at `at`: one line per guest running, then the
    /// matrix's. Pure.
    pub fn live_lines(&self, at: Duration) -> Vec<String> {
        let mut lines: Vec<String> = self
            .active
            .iter()
            .map(|a| {
                let mut line = format!("  {}  {} {}", a.id, a.phase.name(), human(at.saturating_sub(a.phase_since)));
                if a.phase == Phase::Measuring {
                    if let Some(m) = self.measuring_of(&a.id) {
                        line = format!("  {}  measuring {} of {}", a.id, human(at.saturating_sub(a.phase_since)), human(m));
                    }
                }
                let total = self.planned.iter().find(|p| p.id == a.id).map(|p| p.faults).unwrap_or(0);
                if let Some((index, kind, planned, since)) = a.fault {
                    line.push_str(&format!(", fault {index}: {kind} {}, {} in", human_ms(planned), human(at.saturating_sub(since))));
                } else if total > 0 && a.phase != Phase::Booting && a.phase != Phase::Syncing {
                    line.push_str(&format!(", {}/{total} faults done", a.faults_done));
                }
                line.push_str(&format!(" (up {})", human(at.saturating_sub(a.started))));
                line
            })
            .collect();
        lines.push(format!("  {}", self.matrix_line(at)));
        lines
    }

    /// `3/8 done (1 failed), 2m 30s elapsed, about 3m 10s left`.
    fn matrix_line(&self, at: Duration) -> String {
        let failed = self.finished.iter().filter(|f| f.2 && self.measuring_of(&f.0).is_some()).count();
        let failed = if failed > 0 { format!(" ({failed} failed)") } else { String::new() };
        let left = match self.estimate_left(at) {
            Estimate::Done => String::new(),
            Estimate::About(d) => format!(", about {} left", human(d)),
            Estimate::AtLeast(d) => format!(", at least {} left", human(d)),
        };
        format!("{}/{} done{failed}, {} elapsed{left}", self.finished.len(), self.planned.len(), human(at))
    }

    /// The time left: what the runs still to go measure, plus what each
    /// finished run took beyond its measuring (boot, sync, teardown), over
    /// the jobs. Before any run finished, that overhead is unknown and the
    /// estimate a lower bound. Pure.
    pub fn estimate_left(&self, at: Duration) -> Estimate {
        let measured: Vec<Duration> =
            self.finished.iter().filter(|f| !f.2).filter_map(|f| self.measuring_of(&f.0).map(|m| f.1.saturating_sub(m))).collect();
        let overhead = (!measured.is_empty()).then(|| measured.iter().sum::<Duration>() / measured.len() as u32);
        let mut work = Duration::ZERO;
        let mut runs = 0u32;
        for p in &self.planned {
            if self.finished.iter().any(|f| f.0 == p.id) {
                continue;
            }
            let Some(m) = p.measuring else { continue };
            let whole = m + overhead.unwrap_or_default();
            runs += 1;
            work += match self.active.iter().find(|a| a.id == p.id) {
                Some(a) => whole.saturating_sub(at.saturating_sub(a.started)),
                None => whole,
            };
        }
        if runs == 0 {
            return Estimate::Done;
        }
        let left = work / runs.min(self.jobs.max(1) as u32);
        match overhead {
            Some(_) => Estimate::About(left),
            None => Estimate::AtLeast(left),
        }
    }

    fn number_of(&self, id: &str) -> usize {
        self.planned.iter().position(|p| p.id == id).map(|i| i + 1).unwrap_or(self.finished.len() + self.active.len() + 1)
    }

    fn measuring_of(&self, id: &str) -> Option<Duration> {
        self.planned.iter().find(|p| p.id == id).and_then(|p| p.measuring)
    }

    /// ` (2 of 3)` after fault 1's index when the run has 3 faults.
    fn faults_of(&self, id: &str, index: usize) -> String {
        match self.planned.iter().find(|p| p.id == id).map(|p| p.faults) {
            Some(n) if n > 0 => format!(" ({} of {n})", index + 1),
            _ => String::new(),
        }
    }
}

/// What is left of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimate {
    Done,
    About(Duration),
    /// Only the measuring time is known yet.
    AtLeast(Duration),
}

/// The lines a finished run prints: its outcome, why, and for a failed
/// guest the end of its console.
fn outcome_lines(id: &str, outcome: &RunOutcome, took: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    match outcome {
        RunOutcome::Failed { reason, console_tail } => {
            lines.push(format!("clockstorm:   {id}: failed after {}: {reason}", human(took)));
            if !console_tail.is_empty() {
                lines.push("clockstorm:   last console lines:".into());
                for line in console_tail.iter().rev().take(10).rev() {
                    lines.push(format!("    | {line}"));
                }
            }
        }
        RunOutcome::Skipped { reason } => lines.push(format!("clockstorm:   {id}: skipped: {reason}")),
        RunOutcome::ClocksourceNotHonored { got, .. } => lines.push(format!("clockstorm:   {id}: clocksource not honored: got {got}")),
        RunOutcome::ClockStopped { clock, stopped_ms, evidence, .. } => lines.push(format!(
            "clockstorm:   {id}: the guest's CLOCK_{} stopped advancing and had not recovered after {:.1} s; run ended, its records kept: {evidence}",
            clock.to_uppercase(),
            *stopped_ms as f64 / 1e3
        )),
        RunOutcome::Silent { silent_ms, last_seen, .. } => {
            lines.push(format!(
                "clockstorm:   {id}: the guest went silent: no message from the probe for {:.1} s outside faults; last heard:",
                *silent_ms as f64 / 1e3
            ));
            for t in last_seen {
                match (&t.last, t.ago_ms) {
                    (Some(what), Some(ago)) => lines.push(format!("    {}: {what}, {:.1} s before", t.thread, ago as f64 / 1e3)),
                    _ => lines.push(format!("    {}: never", t.thread)),
                }
            }
        }
        other => lines.push(format!("clockstorm:   {id}: {} in {}", other.label(), human(took))),
    }
    lines
}

/// A length for people: `850 ms`, `4.2 s`, `42 s`, `3m 05s`, `1h 02m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    match d.as_secs() {
        _ if s < 1.0 => format!("{} ms", d.as_millis()),
        0..=9 => format!("{s:.1} s"),
        10..=59 => format!("{} s", d.as_secs()),
        60..=3599 => format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60),
        _ => format!("{}h {:02}m", d.as_secs() / 3600, d.as_secs() / 60 % 60),
    }
}

fn human_ms(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests;
