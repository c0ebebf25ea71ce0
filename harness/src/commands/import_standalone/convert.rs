//! A `guest-probe --standalone` output turned into one run of a results
//! directory. Pure: text in, records and manifest entries out.
//!
//! The probe's output holds its messages only; no harness stamped them as
//! they arrived. What the records carry as host time is therefore an
//! estimate, built from what the run did measure against a host: the
//! reference server's answers. Each line gets the guest's latest own
//! CLOCK_REALTIME reading (a ping's t1, an exchange's t3, a timer window's
//! or counter's realtime, a kernel line's read time; a window's end through
//! the latest realtime − monotonic difference), plus the offset of the
//! latest exchange (after the probe's initial step, that offset less the
//! step). Without a reference the guest's own clock is all there is, and
//! the manifest says so. `host_monotonic_ns` is 0: nothing measured the
//! reference host's monotonic clock.

use clockstorm_protocol::{
    check_hello_version, decode_guest, Accel, Clocksource, DecodeError, GuestMessage, HarnessEvent, Hello, MachineInfo, ManifestRun, ProbeOutcome,
    RecordBody, RunOutcome, RunRecord, RECORD_FORMAT_VERSION,
};

use super::error::ImportError;

/// One imported run.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRun {
    pub run: ManifestRun,
    pub machine: MachineInfo,
    /// The run's record file, line by line.
    pub records: Vec<RunRecord>,
    /// Whether any exchange was answered (else host times are the guest's own clock).
    pub referenced: bool,
    /// Things the user should know that do not stop the import (a torn last line).
    pub notes: Vec<String>,
}

/// What names the run: the file as the user gave it and the machine's name.
pub struct Source<'a> {
    pub file: &'a str,
    pub machine: &'a str,
    pub run_id: &'a str,
}

/// How host times were obtained, for the manifest and the records.
pub const HOST_TIMES_REFERENCED: &str = "estimated: each line at the guest's latest CLOCK_REALTIME reading plus the offset to the reference \
    server of the latest exchange (no harness saw the lines arrive); host monotonic time unknown (0)";
pub const HOST_TIMES_UNREFERENCED: &str = "the guest's own CLOCK_REALTIME: the probe ran without a reference server, so nothing measured \
    a host clock; host monotonic time unknown (0)";

/// Converts one probe output.
pub fn convert(source: &Source<'_>, text: &str) -> Result<ImportedRun, ImportError> {
    let file = || source.file.to_owned();
    let (messages, notes) = decode(source.file, text)?;
    let Some(GuestMessage::Hello(hello)) = messages.first().cloned() else {
        return Err(ImportError::Empty { file: file() });
    };
    let clocksource = Clocksource::from_kernel_name(&hello.clocksource.current)
        .ok_or_else(|| ImportError::Clocksource { file: file(), name: hello.clocksource.current.clone() })?;
    let msgs = messages;
    let host_ns = host_times(&msgs);
    let referenced = msgs.iter().any(|m| matches!(m, GuestMessage::Exchange(_)));
    let start = host_ns.first().copied().unwrap_or(0);
    let end = host_ns.last().copied().unwrap_or(start);
    let at = |t: i64, body| RunRecord { host_realtime_ns: t, host_monotonic_ns: 0, body };
    let mut records = vec![
        at(
            start,
            RecordBody::Harness(HarnessEvent::RunStarted {
                record_format_version: RECORD_FORMAT_VERSION,
                run_id: source.run_id.to_owned(),
                clocksource,
                accel: Accel::Standalone,
                qemu_argv: Vec::new(),
            }),
        ),
        at(
            start,
            RecordBody::Harness(HarnessEvent::Imported {
                probe_output: file(),
                host_times: if referenced { HOST_TIMES_REFERENCED } else { HOST_TIMES_UNREFERENCED }.to_owned(),
            }),
        ),
    ];
    let mut outcome = None;
    for (msg, t) in msgs.iter().zip(&host_ns) {
        match msg {
            GuestMessage::Done(d) => outcome = Some(outcome_of(&d.outcome, &msgs, *t - start)),
            GuestMessage::Failure { message } => {
                outcome = Some(RunOutcome::Failed { reason: format!("the probe gave up: {message}"), console_tail: Vec::new() })
            }
            _ => {}
        }
        records.push(at(*t, RecordBody::Guest(msg.clone())));
        // Measuring begins at the probe's initial step, as in a harness run
        // (where its sync arriving marks the origin of the fault timeline).
        if matches!(msg, GuestMessage::Synced(_)) {
            records.push(at(*t, RecordBody::Harness(HarnessEvent::TimelineOrigin)));
        }
    }
    let outcome = outcome.unwrap_or_else(|| RunOutcome::Failed {
        reason: "the probe output ends before the probe's done message (the probe was stopped or the file cut short); what it holds is kept".into(),
        console_tail: Vec::new(),
    });
    records.push(at(end, RecordBody::Harness(HarnessEvent::RunFinished(outcome.clone()))));
    Ok(ImportedRun {
        run: ManifestRun {
            id: source.run_id.to_owned(),
            clocksource,
            kernel: hello.kernel_release.clone(),
            variant: source.machine.to_owned(),
            repetition: 0,
            dir: crate::results::ResultsDir::run_dir_name(source.run_id),
            outcome: Some(outcome),
            time_service: None,
        },
        machine: machine_info(source, &hello),
        records,
        referenced,
        notes,
    })
}

fn machine_info(source: &Source<'_>, hello: &Hello) -> MachineInfo {
    MachineInfo {
        run_id: source.run_id.to_owned(),
        name: source.machine.to_owned(),
        probe_output: source.file.to_owned(),
        probe_version: hello.probe_version.clone(),
        kernel_release: hello.kernel_release.clone(),
        clocksource: hello.clocksource.current.clone(),
        clocksources_available: hello.clocksource.available.clone(),
        vcpus: hello.vcpus,
        tsc_flags: hello.tsc_flags.clone(),
        hz: hello.hz,
    }
}

/// The messages, and notes. The first must be a
/// hello of this protocol version; only the last line may be torn (what a
/// probe stopped mid-write leaves), and only if it lacks its newline.
fn decode(file: &str, text: &str) -> Result<(Vec<GuestMessage>, Vec<String>), ImportError> {
    let mut messages = Vec::new();
    let mut notes = Vec::new();
    let lines: Vec<(usize, &str)> = text.split('\n').enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty()).collect();
    let torn_allowed = !text.ends_with('\n');
    let last = lines.last().map(|l| l.0);
    for &(number, line) in &lines {
        if messages.is_empty() {
            match check_hello_version(line) {
                Ok(hello) => {
                    messages.push(GuestMessage::Hello(hello));
                    continue;
                }
                Err(e @ DecodeError::VersionMismatch { .. }) => {
                    return Err(ImportError::Version { file: file.into(), line: number, message: e.to_string() })
                }
                Err(_) => return Err(ImportError::NotProbeOutput { file: file.into(), line: number }),
            }
        }
        match decode_guest(line) {
            Ok(msg) => messages.push(msg),
            Err(_) if torn_allowed && Some(number) == last => {
                notes.push(format!("{file}:{number}: the last line is cut short (the probe stopped mid-write) and was left out"))
            }
            Err(DecodeError::Malformed { source, .. }) => {
                return Err(ImportError::Malformed { file: file.into(), line: number, message: source.to_string() })
            }
            Err(e) => return Err(ImportError::Malformed { file: file.into(), line: number, message: e.to_string() }),
        }
    }
    if messages.is_empty() {
        return Err(ImportError::Empty { file: file.into() });
    }
    Ok((messages, notes))
}

/// The estimated host time of each message (see the module's comment).
pub fn host_times(msgs: &[GuestMessage]) -> Vec<i64> {
    let mut realtime: Option<i64> = None;
    let mut mono_to_realtime: Option<i64> = None;
    let mut offset: Option<i64> = None;
    let mut guest: Vec<(Option<i64>, Option<i64>)> = Vec::with_capacity(msgs.len());
    for msg in msgs {
        match msg {
            GuestMessage::Ping { t1_ns, .. } => realtime = Some(*t1_ns),
            GuestMessage::Exchange(e) => {
                realtime = Some(e.t3_ns);
                offset = Some(e.offset_ns);
            }
            // The step moved the guest's clock: host − guest shrank by it.
            GuestMessage::Synced(s) => offset = Some(s.best.offset_ns - s.step_ns),
            GuestMessage::TickWindow(t) => {
                realtime = Some(t.realtime_ns);
                mono_to_realtime = Some(t.realtime_ns - t.mono_ns as i64);
            }
            GuestMessage::KernelCounters(c) => {
                realtime = Some(c.realtime_ns);
                mono_to_realtime = Some(c.realtime_ns - c.mono_ns as i64);
            }
            GuestMessage::KernelLog(k) => realtime = k.read_realtime_ns.or(realtime),
            GuestMessage::Beacon(b) => realtime = Some(b.realtime_ns),
            GuestMessage::Window(w) => realtime = mono_to_realtime.map(|o| w.end_ns as i64 + o).or(realtime),
            _ => {}
        }
        guest.push((realtime, offset));
    }
    // Lines before the first reading (the hello) or the first exchange take the first there is.
    let first_realtime = guest.iter().find_map(|g| g.0);
    let first_offset = guest.iter().find_map(|g| g.1);
    guest.into_iter().map(|(r, o)| r.or(first_realtime).unwrap_or(0) + o.or(first_offset).unwrap_or(0)).collect()
}

/// The run's outcome from the probe's done message. The span is on the
/// estimated host time line, hello to done; the reader leaves wall time and
/// overhead out of imported runs, it is kept only so the manifest says how
/// long the probe measured.
fn outcome_of(probe: &ProbeOutcome, msgs: &[GuestMessage], span_ns: i64) -> RunOutcome {
    match probe {
        ProbeOutcome::Completed => {
            let ms = (span_ns.max(0) / 1_000_000) as u64;
            RunOutcome::Completed { wall_ms: ms, requested_ms: measured_ms(msgs).unwrap_or(ms) }
        }
        ProbeOutcome::ClocksourceNotHonored { requested, got } => RunOutcome::ClocksourceNotHonored { requested: requested.clone(), got: got.clone() },
    }
}

/// What the probe measured by its own clock: first window start to last window end.
fn measured_ms(msgs: &[GuestMessage]) -> Option<u64> {
    let windows = msgs.iter().filter_map(|m| if let GuestMessage::Window(w) = m { Some((w.start_ns, w.end_ns)) } else { None });
    let (start, end) = windows.fold(None, |acc: Option<(u64, u64)>, (s, e)| Some(acc.map_or((s, e), |(a, b)| (a.min(s), b.max(e)))))?;
    Some(end.saturating_sub(start) / 1_000_000)
}
