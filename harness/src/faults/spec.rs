//! What a fault is: its kind, when it starts, how long it lasts, how often it
//! repeats, and how much seeded jitter it gets.
//!
//! On the command line: `KIND:START+DURATION[,KEY=VALUE...]`, e.g.
//! `freeze:3s+6s`, `pause:15s+3s`, `starve:2s+10s,duty=80`,
//! `freeze:2s+1s,count=3,period=5s,jitter=200ms`,
//! `vcpu-freeze:4s+2s,vcpus=0/1`, `command:5s+0s,argv=/usr/bin/logger;VF reset`.

use std::time::Duration;

use clockstorm_protocol::FaultKindName;
use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, parse_duration};

/// The host-side cause to reproduce (see docs/faults.md, "Which freeze each kind models").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultKind {
    /// The VF-reload model: the whole QEMU process stopped (SIGSTOP/SIGCONT)
    /// while host time runs on.
    Freeze,
    /// Only the vCPU threads frozen (cgroup freezer); device clocks run on.
    VcpuFreeze {
        /// vCPU indexes to freeze; all when absent.
        #[serde(default)]
        vcpus: Option<Vec<u32>>,
    },
    /// QMP `stop` / `cont`: QEMU freezes its virtual clock.
    Pause,
    /// Host CPU starvation of the vCPU threads: busy threads on their host
    /// CPUs for `duty` percent of the time, optionally real-time, and/or a
    /// CPU quota (percent of one CPU) on the vCPU threads.
    Starve {
        duty: u8,
        #[serde(default)]
        rt: bool,
        #[serde(default)]
        quota: Option<u8>,
    },
    /// A host command at this point of the timeline (argument vector, never a
    /// shell string). Opt-in: `--allow-commands`.
    Command { argv: Vec<String> },
}

impl FaultKind {
    /// The name used on the command line, in records and in reports.
    pub fn name(&self) -> FaultKindName {
        match self {
            FaultKind::Freeze => FaultKindName::Freeze,
            FaultKind::VcpuFreeze { .. } => FaultKindName::VcpuFreeze,
            FaultKind::Pause => FaultKindName::Pause,
            FaultKind::Starve { .. } => FaultKindName::Starve,
            FaultKind::Command { .. } => FaultKindName::Command,
        }
    }
}

/// One fault of a timeline, before expansion into events. In scenario
/// files it is written as on the command line, a string (`"freeze:3s+6s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// From the start of measurement (the probe's sync).
    #[serde(with = "crate::duration::serde_text")]
    pub start: Duration,
    #[serde(with = "crate::duration::serde_text")]
    pub duration: Duration,
    /// How many times it happens (at least 1).
    pub count: u32,
    /// Between the starts of consecutive repetitions.
    #[serde(with = "crate::duration::serde_text")]
    pub period: Duration,
    /// Each start moves by a seeded uniform amount in [-jitter, +jitter].
    #[serde(with = "crate::duration::serde_text")]
    pub jitter: Duration,
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_fault(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Error parsing a `--fault` value; says which part and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fault {text:?}: {message}")]
pub struct FaultParseError {
    pub text: String,
    pub message: String,
}

/// Most repetitions of one fault. Every repetition is an event of the
/// expanded timeline, built before the run: an unbounded count let one short
/// spec take seconds and gigabytes to expand (found by the `fault_spec` fuzz
/// target). A day-long run with a fault every 10 s stays under it.
pub const MAX_COUNT: u32 = 10_000;

/// Parses `KIND:START+DURATION[,KEY=VALUE...]`. Pure.
pub fn parse_fault(text: &str) -> Result<FaultSpec, FaultParseError> {
    let err = |message: String| FaultParseError { text: text.to_owned(), message };
    let (head, options) = match text.split_once(',') {
        Some((h, o)) => (h, Some(o)),
        None => (text, None),
    };
    let (kind_name, times) = head
        .split_once(':')
        .ok_or_else(|| err(format!("expected KIND:START+DURATION, KIND one of {}", FaultKindName::allowed_names())))?;
    let (start, duration) = times.split_once('+').ok_or_else(|| err("expected START+DURATION after the kind, e.g. 3s+6s".into()))?;
    let start = parse_duration(start).map_err(|m| err(format!("start: {m}")))?;
    let duration = parse_duration(duration).map_err(|m| err(format!("duration: {m}")))?;
    let mut opts: Vec<(&str, &str)> = Vec::new();
    if let Some(options) = options {
        // argv= takes the rest of the text: its arguments may contain commas.
        let mut rest = options;
        while !rest.is_empty() {
            if let Some(argv) = rest.strip_prefix("argv=") {
                opts.push(("argv", argv));
                break;
            }
            let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
            let (k, v) = item.split_once('=').ok_or_else(|| err(format!("option {item:?} is not KEY=VALUE")))?;
            opts.push((k, v));
            rest = tail;
        }
    }
    let mut take = |key: &str| opts.iter().position(|(k, _)| *k == key).map(|i| opts.remove(i).1);
    let dur = |key: &str, v: Option<&str>| -> Result<Duration, FaultParseError> {
        v.map(|v| parse_duration(v).map_err(|m| err(format!("{key}: {m}")))).transpose().map(Option::unwrap_or_default)
    };
    let count = match take("count") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|c| (1..=MAX_COUNT).contains(c))
            .ok_or_else(|| err(format!("count: {v:?} is not a whole number from 1 to {MAX_COUNT}")))?,
        None => 1,
    };
    let period = dur("period", take("period"))?;
    let jitter = dur("jitter", take("jitter"))?;
    let kind = match kind_name.parse::<FaultKindName>() {
        Ok(FaultKindName::Freeze) => FaultKind::Freeze,
        Ok(FaultKindName::Pause) => FaultKind::Pause,
        Ok(FaultKindName::VcpuFreeze) => {
            let vcpus = take("vcpus")
                .map(|v| v.split('/').map(|n| n.parse::<u32>().map_err(|_| err(format!("vcpus: {v:?} is not like 0/1/2")))).collect())
                .transpose()?;
            FaultKind::VcpuFreeze { vcpus }
        }
        Ok(FaultKindName::Starve) => {
            let duty = take("duty").ok_or_else(|| err("starve needs duty=PERCENT (0-100)".into()))?;
            let duty = duty.parse::<u8>().ok().filter(|d| *d <= 100).ok_or_else(|| err(format!("duty: {duty:?} is not a percentage 0-100")))?;
            let rt = match take("rt") {
                None | Some("false") => false,
                Some("true") => true,
                Some(v) => return Err(err(format!("rt: {v:?} is not true or false"))),
            };
            let quota = take("quota")
                .map(|q| {
                    q.parse::<u8>()
                        .ok()
                        .filter(|q| (1..=100).contains(q))
                        .ok_or_else(|| err(format!("quota: {q:?} is not a percentage 1-100")))
                })
                .transpose()?;
            FaultKind::Starve { duty, rt, quota }
        }
        Ok(FaultKindName::Command) => {
            let argv = take("argv").ok_or_else(|| err("command needs argv=PROGRAM;ARG;... (arguments separated by ';')".into()))?;
            let argv: Vec<String> = argv.split(';').map(str::to_owned).collect();
            if argv[0].is_empty() {
                return Err(err("argv: the program is empty".into()));
            }
            FaultKind::Command { argv }
        }
        Err(_) => return Err(err(format!("unknown kind {kind_name:?}: expected one of {}", FaultKindName::allowed_names()))),
    };
    if let Some((k, _)) = opts.first() {
        return Err(err(format!("unknown option {k:?} for {kind_name}")));
    }
    if count > 1 && period < duration {
        return Err(err(format!("period {} is shorter than the duration: repetitions would overlap", format_duration(period))));
    }
    Ok(FaultSpec { kind, start, duration, count, period, jitter })
}

#[cfg(test)]
mod tests;
