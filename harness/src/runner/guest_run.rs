//! One guest, start to finish: the backend's command, the guest process
//! under its guard, data channel, QMP, console, the run loop, teardown.
//! Everything it learns goes into the run's record file as it happens. It
//! knows nothing of QEMU: the backend made the command line.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clockstorm_protocol::{DataDevice, HarnessEvent, HostMessage, ProbeConfig, ProbeOutcome, RunOutcome, RECORD_FORMAT_VERSION};

use super::console::{self, ConsoleTail};
use super::data_channel::{self, HostWriter};
use super::record_file::RecordFile;
use super::run_state::{RunState, Step};
use super::{RunContext, RunError, RunSpec};
use crate::backend::process::GuestProcess;
use crate::backend::GuestLaunch;
use crate::event_stream::Event;
use crate::faults::{spawn_timeline, FaultContext, TimelineHandle};
use crate::initramfs::module_path_in_guest;
use crate::output::progress::{self, Update};
use crate::qemu::args::{DataChannelKind, VIRTIO_PORT_NAME};
use crate::qemu::qmp::Qmp;
use crate::results::RunFiles;

/// After the requested duration, time allowed for the probe's initial sync,
/// its last windows and Done to arrive.
pub const DONE_GRACE: Duration = Duration::from_secs(30);
/// After Done, time for the guest to print its sentinel and power off.
pub const POWEROFF_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the run loop wakes to check on the guest and Ctrl-C.
const LOOP_TICK: Duration = Duration::from_millis(50);
/// After the guest exited, the longest the run loop waits for its console
/// and data channel to reach their ends (they do within milliseconds).
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long the guest has to serve QMP after it started: QEMU opens the
/// socket while parsing its command line, well before the guest boots.
pub const QMP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The host NTP server's log, in the run's directory.
pub const TIME_SERVER_LOG: &str = "time-server.log";

/// Runs one guest; the outcome is also the record file's last line.
pub fn run_guest(ctx: &RunContext, spec: &RunSpec, files: &RunFiles, host_cpus: Option<&[usize]>) -> Result<RunOutcome, RunError> {
    files.create_dir().map_err(|source| RunError::Io { what: format!("creating {}", files.dir().display()), source })?;
    let records_path = files.records();
    let mut records = RecordFile::create(&records_path).map_err(|source| RunError::Io { what: format!("creating {}", records_path.display()), source })?;
    let outcome = match &spec.skip {
        Some(reason) => RunOutcome::Skipped { reason: reason.clone() },
        None => boot_and_measure(ctx, spec, files, &mut records, host_cpus)?,
    };
    let _ = records.harness(HarnessEvent::RunFinished(outcome.clone()));
    match records.take_failure() {
        Some(e) => Err(RunError::ResultsWrite(e)),
        None => Ok(outcome),
    }
}

/// The probe's config for `spec`: its settings, the data device its kernel
/// gets, and the modules that device needs.
pub fn probe_config(spec: &RunSpec) -> ProbeConfig {
    let (data_device, modules) = match spec.kernel.data_channel {
        DataChannelKind::IsaSerial => (DataDevice::IsaSerial { path: "/dev/ttyS1".into() }, vec![]),
        DataChannelKind::Virtio => {
            (DataDevice::VirtioPort { name: VIRTIO_PORT_NAME.into() }, spec.kernel.modules.iter().map(|(name, _)| module_path_in_guest(name)).collect())
        }
    };
    let mut config = spec.probe.probe_config(&spec.id, Some(spec.clocksource.kernel_name()), data_device, modules);
    config.benchmark_phase_ms = spec.benchmark_phase.map(|p| p.as_millis() as u64);
    config.time_service = time_service_launch(spec);
    config
}

/// How the probe starts the run's time service, if it has one. The files
/// it names are the ones the backend puts into the initramfs.
fn time_service_launch(spec: &RunSpec) -> Option<clockstorm_protocol::TimeServiceLaunch> {
    use crate::time_service::{chrony, GUEST_ADDRESS};
    let setting = &spec.guest.time_service;
    if !setting.enabled() {
        return None;
    }
    let net_modules = spec
        .kernel
        .net_modules
        .as_ref()
        .map(|m| m.iter().map(|(name, _)| module_path_in_guest(name)).collect())
        .unwrap_or_default();
    Some(clockstorm_protocol::TimeServiceLaunch {
        name: setting.kind.to_string(),
        net_modules,
        address: GUEST_ADDRESS.into(),
        config_path: chrony::CONFIG_IN_GUEST.into(),
        source_line: format!("{} {}", chrony::SOURCE_LINE, setting.server_options).trim_end().to_owned(),
        argv: chrony::guest_argv(),
        dirs: chrony::GUEST_DIRS.iter().map(|d| d.to_string()).collect(),
    })
}

fn boot_and_measure(
    ctx: &RunContext,
    spec: &RunSpec,
    files: &RunFiles,
    records: &mut RecordFile,
    host_cpus: Option<&[usize]>,
) -> Result<RunOutcome, RunError> {
    let private = tempfile::Builder::new()
        .prefix("clockstorm-")
        .tempdir()
        .map_err(|source| RunError::Io { what: "creating a private temp dir".into(), source })?;
    let _private_watch = crate::leftovers::own_private_dir(private.path())
        .map_err(|source| RunError::Io { what: format!("writing the owner of {}", private.path().display()), source })?;
    let (data_socket, qmp_socket) = (private.path().join("data.sock"), private.path().join("qmp.sock"));
    let mut config = probe_config(spec);
    // The shared-memory reference (QEMU only: the fake guest has no PCI
    // bus); the probe falls back to the data channel, and says so, without it.
    let shm_reference = if spec.probe.shm_reference && ctx.backend.kind() == crate::backend::BackendKind::Qemu {
        Some(
            crate::backend::shm_reference::SharedReference::start(private.path())
                .map_err(|source| RunError::Io { what: "setting up the shared-memory reference".into(), source })?,
        )
    } else {
        None
    };
    config.shm_reference = shm_reference.is_some();
    // The host's NTP server first: the guest's service asks it right after the sync.
    let time_server = match (&ctx.time_service, spec.guest.time_service.enabled()) {
        (Some(install), true) => Some(
            crate::backend::time_server::TimeServer::start(install, private.path(), &files.dir().join(TIME_SERVER_LOG))
                .map_err(|e| RunError::TimeServer(e.to_string()))?,
        ),
        _ => None,
    };
    let launch = GuestLaunch {
        spec,
        probe_config: &config,
        private_dir: private.path(),
        data_socket: &data_socket,
        qmp_socket: &qmp_socket,
        time_server_port: time_server.as_ref().map(|s| s.port),
        shm_reference: shm_reference.as_ref().map(|r| r.path.as_path()),
    };
    let command = ctx.backend.command(&launch)?;
    let records_path = records.path().to_owned();
    records
        .harness(HarnessEvent::RunStarted {
            record_format_version: RECORD_FORMAT_VERSION,
            run_id: spec.id.clone(),
            clocksource: spec.clocksource,
            accel: ctx.accel,
            qemu_argv: command.argv(),
        })
        .map_err(|source| RunError::Io { what: format!("writing {}", records_path.display()), source })?;

    let listener =
        data_channel::listen(&data_socket).map_err(|source| RunError::Io { what: format!("listening on {}", data_socket.display()), source })?;
    let started = Instant::now();
    let stderr_path = files.guest_stderr(ctx.backend.kind());
    let (mut process, console_pipe) = GuestProcess::spawn(&command.program, &command.args, &stderr_path, host_cpus)?;
    let _ = records.harness(HarnessEvent::QemuSpawned { pid: process.pid() });

    let (tx, rx) = channel();
    let tail = ConsoleTail::default();
    let console_path = files.console();
    let console_log =
        std::fs::File::create(&console_path).map_err(|source| RunError::Io { what: format!("creating {}", console_path.display()), source })?;
    let console_thread = console::spawn_reader(console_pipe, console_log, console_path.clone(), tail.clone(), tx.clone())
        .map_err(|source| RunError::Io { what: "starting the console thread".into(), source })?;

    let stream = match data_channel::accept(&listener, || process.try_wait().is_none()) {
        Ok(s) => s,
        Err(e) => {
            let exit = process.shutdown();
            let _ = console_thread.join();
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Ok(failed(format!("{e}; the guest process said: {} ({exit:?})", stderr.trim()), &tail));
        }
    };
    let shutdown_handle = stream.try_clone().ok();
    let fault_tx = tx.clone();
    let (data_thread, host_writer) =
        data_channel::spawn_reader(stream, tx).map_err(|source| RunError::Io { what: "starting the data channel thread".into(), source })?;

    let qmp = connect_qmp(&qmp_socket, &mut process, records);
    let mut guest = LiveGuest {
        ctx,
        spec,
        process: &mut process,
        records: &mut *records,
        rx: &rx,
        tail: &tail,
        started,
        state: RunState::default(),
        faults: FaultPlan { spec, qmp, tx: fault_tx, timeline: None, origin: None, actions_sent: 0 },
        host_writer,
    };
    let outcome = guest.run_loop();
    let LiveGuest { mut faults, mut state, .. } = guest;
    ctx.progress.send(Update::Phase { id: spec.id.clone(), phase: progress::Phase::TearingDown });

    // Teardown in order: faults lifted, the guest, then the socket, then the reader threads.
    if let Some(mut timeline) = faults.timeline.take() {
        timeline.stop();
    }
    let exit = process.shutdown();
    if let Some(s) = shutdown_handle {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let _ = data_thread.join();
    let _ = console_thread.join();
    // Messages that arrived between the loop's end and teardown.
    drain(&rx, records, &mut state);
    if let Some(h) = state.channel.as_ref().filter(|h| !h.degraded().is_empty()) {
        ctx.progress.send(Update::Note {
            id: spec.id.clone(),
            text: format!("the data channel was degraded ({}): {}", h.degraded().join(", "), clockstorm_reports::channel::sentence(h)),
        });
    }
    // A results write failed: the guest is down, the run ends here.
    if let Some(e) = records.take_failure() {
        return Err(RunError::ResultsWrite(e));
    }
    let status = exit.map_err(RunError::from)?;
    let _ = records.harness(HarnessEvent::QemuExited {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
    });
    Ok(outcome)
}

/// A guest that is running, and everything its run loop works with.
struct LiveGuest<'a> {
    ctx: &'a RunContext<'a>,
    spec: &'a RunSpec,
    process: &'a mut GuestProcess,
    records: &'a mut RecordFile,
    rx: &'a Receiver<Event>,
    tail: &'a ConsoleTail,
    started: Instant,
    state: RunState,
    faults: FaultPlan<'a>,
    host_writer: HostWriter,
}

impl LiveGuest<'_> {
    /// Until the guest is done, fails, stops for good or the user stops the run.
    fn run_loop(&mut self) -> RunOutcome {
        let hello_timeout = self.ctx.backend.hello_timeout();
        loop {
            if (self.ctx.stop_requested)() {
                return RunOutcome::Interrupted;
            }
            // The results disk is full (or the file otherwise unwritable):
            // measuring on would record nothing. Teardown follows as on any end.
            if let Some(e) = self.records.failure() {
                return failed(format!("the run's results could not be written: {e}"), self.tail);
            }
            self.ctx.progress.tick();
            match self.rx.recv_timeout(LOOP_TICK) {
                Ok(event) => match self.dispatch(event) {
                    Step::Nothing => {}
                    Step::StartFaults => {
                        self.faults.origin = Some(Instant::now());
                        if let Err(reason) = self.faults.start(self.ctx, self.process.pid()) {
                            return failed(reason, self.tail);
                        }
                    }
                    Step::Fail(reason) => return failed(reason, self.tail),
                    Step::ClockStopped(stop) => self.note(format!("the guest's clock stopped: {}", stop.evidence())),
                    Step::ClockResumed(stop) => {
                        self.note(format!("the guest's clock moves again after standing still for {:.2} s", stop.stopped_ns() as f64 / 1e9))
                    }
                },
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
            self.faults.send_due_actions(&self.host_writer, self.records);
            if let Some(seq) = self.state.beacon_due(Instant::now()) {
                let _ = data_channel::send(&self.host_writer, &HostMessage::Beacon { seq });
            }
            if let Some(status) = self.process.try_wait() {
                self.receive_the_last_words();
                return finished(self.spec, &self.state, status, self.started, self.tail);
            }
            if let Some(outcome) = self.verdict_by_time(Instant::now(), hello_timeout) {
                return outcome;
            }
        }
    }

    /// Records `event` (through the one dispatcher) and tells the progress
    /// what it means for the run.
    fn dispatch(&mut self, event: Event) -> Step {
        let update = progress::update_of(&self.spec.id, &event);
        let step = self.state.dispatch(event, self.records);
        if let Some(u) = update {
            self.ctx.progress.send(u);
        }
        step
    }

    fn note(&self, text: String) {
        self.ctx.progress.send(Update::Note { id: self.spec.id.clone(), text });
    }

    /// After the guest exited: what its console and data channel still
    /// hold, up to their ends (the sentinel may be the console's last line,
    /// and a loaded host may take a while to schedule the readers), or at
    /// most [`EXIT_GRACE`] when something else holds them open.
    fn receive_the_last_words(&mut self) {
        let deadline = Instant::now() + EXIT_GRACE;
        while !(self.state.console_closed && self.state.data_closed) && Instant::now() < deadline {
            if let Ok(event) = self.rx.recv_timeout(LOOP_TICK) {
                let _ = self.dispatch(event);
            }
        }
        drain(self.rx, self.records, &mut self.state);
    }

    /// The outcome the clock decides: a clock stopped for good, a silent
    /// guest, or a deadline passed.
    fn verdict_by_time(&self, now: Instant, hello_timeout: Duration) -> Option<RunOutcome> {
        let (spec, state, tail) = (self.spec, &self.state, self.tail);
        if let Some((stop, lasted)) = state.stopped_for_good(now, spec.probe.clock_stop_limit) {
            return Some(RunOutcome::ClockStopped {
                clock: stop.clock.clone(),
                stopped_ms: lasted.as_millis() as u64,
                evidence: stop.evidence(),
                wall_ms: self.started.elapsed().as_millis() as u64,
                requested_ms: requested(spec).as_millis() as u64,
            });
        }
        if let Some(quiet) = state.silent_for(now) {
            return Some(RunOutcome::Silent { silent_ms: quiet.as_millis() as u64, last_seen: state.last_seen(now), console_tail: tail.lines() });
        }
        let measuring = expected_measuring(spec) + DONE_GRACE + state.stopped_total + state.stopped_now(now);
        match (state.hello_at, state.done_at) {
            (None, _) if now - self.started > hello_timeout => Some(failed(self.ctx.backend.no_hello_message(hello_timeout), tail)),
            (Some(h), None) if now - h > measuring => {
                Some(failed(format!("the probe did not finish within {measuring:?} of its hello, though it answered the host's beacons"), tail))
            }
            (_, Some(d)) if now - d > POWEROFF_TIMEOUT => {
                Some(failed(format!("the guest did not power off within {POWEROFF_TIMEOUT:?} after the probe finished"), tail))
            }
            _ => None,
        }
    }
}

/// The measuring time the run asked for: the duration and the benchmark.
fn requested(spec: &RunSpec) -> Duration {
    spec.probe.duration + spec.benchmark_phase.map(|p| p.mul_f64(clockstorm_protocol::BENCHMARK_PHASES)).unwrap_or_default()
}

/// How long the probe measures after its hello: the duration, plus the
/// benchmark's phases when there is one, plus every fault's length (a
/// pause stops the guest's clocks, so its measuring stretches by the pause).
pub(super) fn expected_measuring(spec: &RunSpec) -> Duration {
    let faults: Duration = spec.faults.iter().map(|f| f.duration).sum();
    requested(spec) + faults
}

fn finished(spec: &RunSpec, p: &RunState, status: std::process::ExitStatus, started: Instant, tail: &ConsoleTail) -> RunOutcome {
    let wall_ms = started.elapsed().as_millis() as u64;
    match (&p.done, p.sentinel) {
        (Some(ProbeOutcome::Completed), true) => RunOutcome::Completed { wall_ms, requested_ms: requested(spec).as_millis() as u64 },
        (Some(ProbeOutcome::ClocksourceNotHonored { requested, got }), true) => {
            RunOutcome::ClocksourceNotHonored { requested: requested.clone(), got: got.clone() }
        }
        (Some(_), false) => failed(format!("the guest exited ({status}) without the probe's sentinel on the console"), tail),
        (None, _) if p.hello_at.is_none() => failed(format!("the guest exited ({status}) before the probe said hello"), tail),
        (None, _) => failed(format!("the guest exited ({status}) before the probe finished"), tail),
    }
}

fn failed(reason: String, tail: &ConsoleTail) -> RunOutcome {
    RunOutcome::Failed { reason, console_tail: tail.lines() }
}

/// Everything still queued, through the same dispatcher; what it asks for is
/// moot once the guest is gone (the outcome is decided from what was recorded).
fn drain(rx: &Receiver<Event>, records: &mut RecordFile, state: &mut RunState) {
    while let Ok(event) = rx.try_recv() {
        let _ = state.dispatch(event, records);
    }
}

#[cfg(test)]
pub(crate) fn drain_for_tests(rx: &Receiver<Event>, records: &mut RecordFile, state: &mut RunState) {
    drain(rx, records, state)
}

/// Connects to QMP and records the version and vCPU threads. A QMP that
/// does not answer is recorded and leaves faults that need it failing with
/// their own error; measuring goes on.
fn connect_qmp(path: &Path, process: &mut GuestProcess, records: &mut RecordFile) -> Option<Arc<Mutex<Qmp>>> {
    let mut qmp = match Qmp::connect(path, QMP_CONNECT_TIMEOUT, || process.try_wait().is_none()) {
        Ok(q) => q,
        Err(e) => {
            let _ = records.harness(HarnessEvent::Garbled { line: String::new(), error: format!("QMP: {e}") });
            return None;
        }
    };
    let vcpus = qmp.query_cpus_fast().unwrap_or_default();
    let _ =
        records.harness(HarnessEvent::QemuReady { qemu_version: qmp.version(), vcpu_threads: vcpus.iter().map(|v| (v.cpu_index, v.thread_id)).collect() });
    Some(Arc::new(Mutex::new(qmp)))
}

/// The run's faults and actions, and what applying them needs.
struct FaultPlan<'a> {
    spec: &'a RunSpec,
    qmp: Option<Arc<Mutex<Qmp>>>,
    tx: Sender<Event>,
    timeline: Option<TimelineHandle>,
    /// When measurement began (the probe's sync): time zero of faults and actions.
    origin: Option<Instant>,
    actions_sent: usize,
}

impl FaultPlan<'_> {
    /// Sends the in-guest actions whose time has come (checked every loop
    /// tick: 50 ms resolution; the probe stamps the action's effect itself).
    fn send_due_actions(&mut self, writer: &HostWriter, records: &mut RecordFile) {
        let Some(origin) = self.origin else { return };
        while let Some(a) = self.spec.actions.get(self.actions_sent) {
            if Instant::now() < origin + a.at {
                return;
            }
            let id = self.actions_sent as u64;
            self.actions_sent += 1;
            let Some(action) = a.action() else { continue };
            let _ = data_channel::send(writer, &HostMessage::Action { id, action: action.clone() });
            let _ = records.harness(HarnessEvent::ActionSent { id, action });
        }
    }

    /// Starts the fault timeline now (the probe has synced: measurement began).
    fn start(&mut self, ctx: &RunContext, guest_pid: u32) -> Result<(), String> {
        if self.spec.faults.is_empty() {
            return Ok(());
        }
        let vcpus = match &self.qmp {
            Some(q) => q.lock().unwrap_or_else(|e| e.into_inner()).query_cpus_fast().unwrap_or_default(),
            None => Vec::new(),
        };
        let fault_ctx = FaultContext {
            qemu_pid: guest_pid,
            qmp: self.qmp.clone(),
            vcpus,
            cgroup_root: ctx.cgroup_root.clone(),
            allow_commands: self.spec.allow_commands,
        };
        let handle = spawn_timeline(self.spec.faults.clone(), fault_ctx, Instant::now(), self.tx.clone())
            .map_err(|e| format!("starting the fault timeline: {e}"))?;
        self.timeline = Some(handle);
        Ok(())
    }
}
