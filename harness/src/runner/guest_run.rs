//! One guest, start to finish: initramfs, QEMU, data channel, console, the
//! run loop, teardown. Everything it learns goes into the run's record file
//! as it happens.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clockstorm_protocol::{
    DataDevice, HarnessEvent, ProbeOutcome, RunOutcome, RECORD_FORMAT_VERSION,
};

use super::console::{self, ConsoleTail};
use super::data_channel;
use super::events::Event;
use super::run_state::{RunState, Step};
use super::record_file::RecordFile;
use super::{RunContext, RunError, RunSpec};
use crate::faults::{spawn_timeline, FaultContext, TimelineHandle};
use crate::initramfs::{self, module_path_in_guest, Contents};
use crate::qemu::qmp::Qmp;
use crate::qemu::accel::Accel;
use crate::qemu::args::{build_args, cpu_arg, kernel_cmdline, machine_arg, timer_args, DataChannelKind, QemuSpec, VIRTIO_PORT_NAME};
use crate::qemu::guard::QemuProcess;
use crate::signals;

/// Boot to the probe's hello under TCG: ~1.5 s on an idle 2-core machine;
/// the margin covers a loaded CI host emulating a slow boot.
pub const HELLO_TIMEOUT_TCG: Duration = Duration::from_secs(60);
/// Boot to hello under KVM takes well under a second. A KVM guest that is
/// silent this long is most likely on a /dev/kvm that cannot run it.
pub const HELLO_TIMEOUT_KVM: Duration = Duration::from_secs(20);
/// After the requested duration, time allowed for the probe's initial sync,
/// its last windows and Done to arrive.
pub const DONE_GRACE: Duration = Duration::from_secs(30);
/// After Done, time for the guest to print its sentinel and power off.
pub const POWEROFF_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the run loop wakes to check on QEMU and Ctrl-C.
const LOOP_TICK: Duration = Duration::from_millis(50);

/// Runs one guest; the outcome is also the record file's last line.
pub fn run_guest(ctx: &RunContext, spec: &RunSpec, run_dir: &Path, host_cpus: Option<&[usize]>) -> Result<RunOutcome, RunError> {
    let io = |what: &str, path: &Path| {
        let what = format!("{what} {}", path.display());
        move |source| RunError::Io { what, source }
    };
    std::fs::create_dir_all(run_dir).map_err(io("creating", run_dir))?;
    let records_path = run_dir.join("records.jsonl");
    let mut records = RecordFile::create(&records_path).map_err(io("creating", &records_path))?;
    let outcome = match &spec.skip {
        Some(reason) => RunOutcome::Skipped { reason: reason.clone() },
        None => boot_and_measure(ctx, spec, run_dir, &mut records, host_cpus)?,
    };
    records.harness(HarnessEvent::RunFinished(outcome.clone())).map_err(io("writing", &records_path))?;
    Ok(outcome)
}

fn boot_and_measure(
    ctx: &RunContext,
    spec: &RunSpec,
    run_dir: &Path,
    records: &mut RecordFile,
    host_cpus: Option<&[usize]>,
) -> Result<RunOutcome, RunError> {
    let private = tempfile::Builder::new().prefix("clockstorm-").tempdir().map_err(|source| RunError::Io {
        what: "creating a private temp dir".into(),
        source,
    })?;
    let initrd = build_initramfs(ctx, spec)?;
    let qemu_spec = QemuSpec {
        binary: ctx.qemu.clone(),
        name: format!("clockstorm-{}", spec.id),
        accel: ctx.accel,
        machine: machine_arg(&spec.guest.machine, ctx.accel, &spec.guest.timers),
        cpu: cpu_arg(&spec.guest.cpu_model, ctx.accel, &spec.guest.timers),
        timer_args: timer_args(ctx.accel, &spec.guest.timers),
        vcpus: spec.guest.vcpus,
        memory_mib: spec.guest.memory_mib,
        kernel: spec.kernel.image.path.clone(),
        initrd,
        append: kernel_cmdline(Some(spec.clocksource.kernel_name()), &spec.guest.kernel_params),
        data_channel: spec.kernel.data_channel,
        data_socket: private.path().join("data.sock"),
        qmp_socket: private.path().join("qmp.sock"),
    };
    let args = build_args(&qemu_spec);
    let mut argv = vec![ctx.qemu.display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
    let records_path = records.path().to_owned();
    let record_err = |source| RunError::Io { what: format!("writing {}", records_path.display()), source };
    records
        .harness(HarnessEvent::RunStarted {
            record_format_version: RECORD_FORMAT_VERSION,
            run_id: spec.id.clone(),
            clocksource: spec.clocksource.kernel_name().into(),
            accel: ctx.accel.to_string(),
            qemu_argv: argv,
        })
        .map_err(record_err)?;

    let listener = data_channel::listen(&qemu_spec.data_socket)
        .map_err(|source| RunError::Io { what: format!("listening on {}", qemu_spec.data_socket.display()), source })?;
    let started = Instant::now();
    let (mut qemu, console_pipe) = QemuProcess::spawn(&ctx.qemu, &args, &run_dir.join("qemu.stderr"), host_cpus)?;
    let _ = records.harness(HarnessEvent::QemuSpawned { pid: qemu.pid() });

    let (tx, rx) = channel();
    let tail = ConsoleTail::default();
    let console_log = std::fs::File::create(run_dir.join("console.log"))
        .map_err(|source| RunError::Io { what: format!("creating {}", run_dir.join("console.log").display()), source })?;
    let console_thread = console::spawn_reader(console_pipe, console_log, tail.clone(), tx.clone())
        .map_err(|source| RunError::Io { what: "starting the console thread".into(), source })?;

    let stream = match data_channel::accept(&listener, || qemu.try_wait().is_none()) {
        Ok(s) => s,
        Err(e) => {
            let exit = qemu.shutdown();
            let _ = console_thread.join();
            let stderr = std::fs::read_to_string(run_dir.join("qemu.stderr")).unwrap_or_default();
            return Ok(failed(format!("{e}; QEMU said: {} ({exit:?})", stderr.trim()), &tail));
        }
    };
    let shutdown_handle = stream.try_clone().ok();
    let fault_tx = tx.clone();
    let (data_thread, host_writer) = data_channel::spawn_reader(stream, tx)
        .map_err(|source| RunError::Io { what: "starting the data channel thread".into(), source })?;

    let qmp = connect_qmp(&qemu_spec.qmp_socket, &mut qemu, records);
    let faults = FaultPlan { spec, qmp, qemu_pid: qemu.pid(), tx: fault_tx, timeline: None, host_writer, origin: None, actions_sent: 0 };
    let mut faults = faults;
    let mut state = RunState::default();
    let outcome = run_loop(ctx, spec, &rx, &mut qemu, records, &tail, started, &mut faults, &mut state);

    // Teardown in order: faults lifted, QEMU, then the socket, then the reader threads.
    if let Some(mut timeline) = faults.timeline.take() {
        timeline.stop();
    }
    let exit = qemu.shutdown();
    if let Some(s) = shutdown_handle {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    let _ = data_thread.join();
    let _ = console_thread.join();
    // Messages that arrived between the loop's end and teardown.
    drain(&rx, records, &mut state);
    let status = exit.map_err(RunError::from)?;
    let _ = records.harness(HarnessEvent::QemuExited {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
    });
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
fn run_loop(
    ctx: &RunContext,
    spec: &RunSpec,
    rx: &Receiver<Event>,
    qemu: &mut QemuProcess,
    records: &mut RecordFile,
    tail: &ConsoleTail,
    started: Instant,
    faults: &mut FaultPlan,
    state: &mut RunState,
) -> RunOutcome {
    let hello_timeout = match ctx.accel {
        Accel::Kvm => HELLO_TIMEOUT_KVM,
        Accel::Tcg => HELLO_TIMEOUT_TCG,
    };
    loop {
        if signals::interrupted() {
            return RunOutcome::Interrupted;
        }
        match rx.recv_timeout(LOOP_TICK) {
            Ok(event) => match state.dispatch(event, records) {
                Step::Nothing => {}
                Step::StartFaults => {
                    faults.origin = Some(Instant::now());
                    if let Err(reason) = faults.start(ctx) {
                        return failed(reason, tail);
                    }
                }
                Step::Fail(reason) => return failed(reason, tail),
                Step::ClockStopped(stop) => eprintln!("clockstorm:   {}: the guest's clock stopped: {}", spec.id, stop.evidence()),
                Step::ClockResumed(stop) => eprintln!(
                    "clockstorm:   {}: the guest's clock moves again after standing still for {:.2} s",
                    spec.id,
                    stop.stopped_ns() as f64 / 1e9
                ),
            },
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        faults.send_due_actions(records);
        if let Some(seq) = state.beacon_due(Instant::now()) {
            let _ = data_channel::send(&faults.host_writer, &clockstorm_protocol::HostMessage::Beacon { seq });
        }
        if let Some(status) = qemu.try_wait() {
            // Let the console and data threads deliver what QEMU wrote last.
            std::thread::sleep(LOOP_TICK);
            drain(rx, records, state);
            return finished(spec, state, status, started, tail);
        }
        let now = Instant::now();
        if let Some((stop, lasted)) = state.stopped_for_good(now, spec.probe.clock_stop_limit) {
            return RunOutcome::ClockStopped {
                clock: stop.clock.clone(),
                stopped_ms: lasted.as_millis() as u64,
                evidence: stop.evidence(),
                wall_ms: started.elapsed().as_millis() as u64,
                requested_ms: requested(spec).as_millis() as u64,
            };
        }
        if let Some(quiet) = state.silent_for(now) {
            return RunOutcome::Silent { silent_ms: quiet.as_millis() as u64, last_seen: state.last_seen(now), console_tail: tail.lines() };
        }
        let measuring = expected_measuring(spec) + DONE_GRACE + state.stopped_total + state.stopped_now(now);
        match (state.hello_at, state.done_at) {
            (None, _) if now - started > hello_timeout => return failed(no_hello_message(ctx.accel, hello_timeout), tail),
            (Some(h), None) if now - h > measuring => {
                return failed(format!("the probe did not finish within {measuring:?} of its hello, though it answered the host's beacons"), tail)
            }
            (_, Some(d)) if now - d > POWEROFF_TIMEOUT => {
                return failed(format!("the guest did not power off within {POWEROFF_TIMEOUT:?} after the probe finished"), tail)
            }
            _ => {}
        }
    }
}

/// The measuring time the run asked for: the duration and the benchmark.
fn requested(spec: &RunSpec) -> Duration {
    spec.probe.duration + spec.benchmark_phase.map(|p| p * 5).unwrap_or_default()
}

/// How long the probe measures after its hello: the duration, plus the
/// benchmark's five phases when there is one, plus every fault's length (a
/// pause stops the guest's clocks, so its measuring stretches by the pause).
fn expected_measuring(spec: &RunSpec) -> Duration {
    let faults: Duration = spec.faults.iter().map(|f| f.duration).sum();
    requested(spec) + faults
}

fn finished(spec: &RunSpec, p: &RunState, status: std::process::ExitStatus, started: Instant, tail: &ConsoleTail) -> RunOutcome {
    let wall_ms = started.elapsed().as_millis() as u64;
    match (&p.done, p.sentinel) {
        (Some(ProbeOutcome::Completed), true) => {
            RunOutcome::Completed { wall_ms, requested_ms: requested(spec).as_millis() as u64 }
        }
        (Some(ProbeOutcome::ClocksourceNotHonored { requested, got }), true) => {
            RunOutcome::ClocksourceNotHonored { requested: requested.clone(), got: got.clone() }
        }
        (Some(_), false) => failed(format!("QEMU exited ({status}) without the probe's sentinel on the console"), tail),
        (None, _) if p.hello_at.is_none() => failed(format!("QEMU exited ({status}) before the probe said hello"), tail),
        (None, _) => failed(format!("QEMU exited ({status}) before the probe finished"), tail),
    }
}

fn no_hello_message(accel: Accel, timeout: Duration) -> String {
    match accel {
        Accel::Kvm => format!(
            "the guest did not say hello within {timeout:?} under KVM; /dev/kvm may not be able to run guests here \
             (e.g. a nested or paravirtual KVM): try --accel tcg"
        ),
        Accel::Tcg => format!("the guest did not say hello within {timeout:?}"),
    }
}

fn failed(reason: String, tail: &ConsoleTail) -> RunOutcome {
    RunOutcome::Failed { reason, console_tail: tail.lines() }
}

/// Everything still queued, through the same dispatcher; what it asks for is
/// moot once QEMU is gone (the outcome is decided from what was recorded).
fn drain(rx: &Receiver<Event>, records: &mut RecordFile, state: &mut RunState) {
    while let Ok(event) = rx.try_recv() {
        let _ = state.dispatch(event, records);
    }
}

#[cfg(test)]
pub(crate) fn drain_for_tests(rx: &Receiver<Event>, records: &mut RecordFile, state: &mut RunState) {
    drain(rx, records, state)
}

/// How long QEMU has to serve QMP after it started: it opens the socket while
/// parsing its command line, well before the guest boots.
pub const QMP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to QMP and records QEMU's version and vCPU threads. A QMP that
/// does not answer is recorded and leaves faults that need it failing with
/// their own error; measuring goes on.
fn connect_qmp(path: &Path, qemu: &mut QemuProcess, records: &mut RecordFile) -> Option<Arc<Mutex<Qmp>>> {
    let mut qmp = match Qmp::connect(path, QMP_CONNECT_TIMEOUT, || qemu.try_wait().is_none()) {
        Ok(q) => q,
        Err(e) => {
            let _ = records.harness(HarnessEvent::Garbled { line: String::new(), error: format!("QMP: {e}") });
            return None;
        }
    };
    let vcpus = qmp.query_cpus_fast().unwrap_or_default();
    let _ = records.harness(HarnessEvent::QemuReady {
        qemu_version: qmp.version(),
        vcpu_threads: vcpus.iter().map(|v| (v.cpu_index, v.thread_id)).collect(),
    });
    Some(Arc::new(Mutex::new(qmp)))
}

/// The run's faults and what applying them needs.
struct FaultPlan<'a> {
    spec: &'a RunSpec,
    qmp: Option<Arc<Mutex<Qmp>>>,
    qemu_pid: u32,
    tx: Sender<Event>,
    timeline: Option<TimelineHandle>,
    host_writer: data_channel::HostWriter,
    /// When measurement began (the probe's sync): time zero of faults and actions.
    origin: Option<Instant>,
    actions_sent: usize,
}

impl FaultPlan<'_> {
    /// Sends the in-guest actions whose time has come (checked every loop
    /// tick: 50 ms resolution; the probe stamps the action's effect itself).
    fn send_due_actions(&mut self, records: &mut RecordFile) {
        let Some(origin) = self.origin else { return };
        while let Some(a) = self.spec.actions.get(self.actions_sent) {
            if Instant::now() < origin + a.at {
                return;
            }
            let id = self.actions_sent as u64;
            self.actions_sent += 1;
            let Some(action) = a.action() else { continue };
            let _ = data_channel::send(&self.host_writer, &clockstorm_protocol::HostMessage::Action { id, action: action.clone() });
            let _ = records.harness(HarnessEvent::ActionSent { id, action });
        }
    }

    /// Starts the fault timeline now (the probe has synced: measurement began).
    fn start(&mut self, ctx: &RunContext) -> Result<(), String> {
        if self.spec.faults.is_empty() {
            return Ok(());
        }
        let vcpus = match &self.qmp {
            Some(q) => q.lock().unwrap_or_else(|e| e.into_inner()).query_cpus_fast().unwrap_or_default(),
            None => Vec::new(),
        };
        let fault_ctx = FaultContext {
            qemu_pid: self.qemu_pid,
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

fn build_initramfs(ctx: &RunContext, spec: &RunSpec) -> Result<std::path::PathBuf, RunError> {
    let (data_device, modules) = match spec.kernel.data_channel {
        DataChannelKind::IsaSerial => (DataDevice::IsaSerial { path: "/dev/ttyS1".into() }, vec![]),
        DataChannelKind::Virtio => (
            DataDevice::VirtioPort { name: VIRTIO_PORT_NAME.into() },
            spec.kernel.modules.iter().map(|(name, _)| module_path_in_guest(name)).collect(),
        ),
    };
    let mut config = super::probe_config_for(&spec.probe, &spec.id, Some(spec.clocksource.kernel_name()), data_device, modules);
    config.benchmark_phase_ms = spec.benchmark_phase.map(|p| p.as_millis() as u64);
    let config_json = serde_json::to_vec_pretty(&config).expect("config always serializes");
    let module_bytes: &[(String, Vec<u8>)] =
        if spec.kernel.data_channel == DataChannelKind::Virtio { &spec.kernel.modules } else { &[] };
    let contents = Contents { probe: &ctx.probe, config_json: &config_json, modules: module_bytes };
    Ok(initramfs::build_cached(&ctx.initramfs_cache, &contents)?)
}
