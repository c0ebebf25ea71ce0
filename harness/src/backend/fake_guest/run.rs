//! One fake guest, start to finish, in the order QEMU and the probe go:
//! QMP listening, the data channel connected, the vCPU threads up, the boot
//! log on the console; then the probe's run: hello, initial sync, the
//! measuring threads and the exchanges for the configured duration of guest
//! time, Done, and the sentinel on the console.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{ClockId, Done, Dropped, GuestMessage, Hello, ProbeConfig, ProbeOutcome, ReadCost, PROTOCOL_VERSION};

use super::channel::{spawn_reader, Link, Pongs};
use super::clock::HostClock;
use super::console::Console;
use super::exchange::{exchange, initial_sync, ShutDown};
use super::guest::{Ending, Guest, Phase};
use super::model::{parse_model, ClockModel, Hostile};
use super::qmp_server::{self, OnQuit};
use super::{hostile, kmsg, poller, timer, vcpu, FakeGuestArgs};

/// Reads per clock in the hello's read-cost calibration.
const CALIBRATION_READS: u64 = 2_000;
/// How long the end waits for the samplers to close their windows: a window
/// and then some (longer only if a vCPU is frozen right at the end).
const SAMPLERS_GRACE: Duration = Duration::from_secs(5);
/// The longest the exchange loop sleeps before looking again (the probe's CHANNEL_POLL).
const LOOP_POLL: Duration = Duration::from_millis(10);
/// The most vCPUs a fake guest takes: each is a thread reading in bursts.
pub const MAX_VCPUS: u32 = 64;

/// Where the fake runs.
pub struct Options {
    /// The console (the process's stdout).
    pub console: Box<dyn Write + Send>,
    pub host: Arc<dyn HostClock>,
    /// The fake is its own process (`clockstorm fake-guest`): `quit` exits
    /// it, and the end does not wait for its vCPU threads (one may still be
    /// frozen by a fault; the process's exit ends them). False inside a test.
    pub own_process: bool,
}

/// How the fake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done sent and the success sentinel printed.
    Success,
    /// The failure sentinel printed with this reason.
    Failure(String),
    /// QMP `quit`.
    Quit,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Success | Outcome::Quit => 0,
            Outcome::Failure(_) => 1,
        }
    }
}

pub fn run_guest(args: &FakeGuestArgs, options: Options) -> Outcome {
    let console = Arc::new(Console::new(options.console));
    let failed = |reason: String| {
        eprintln!("clockstorm fake-guest: {reason}");
        console.failure(&reason);
        Outcome::Failure(reason)
    };
    // What QEMU would refuse on its command line, before it opens anything.
    let (model, config) = match prepare(args) {
        Ok(p) => p,
        Err(reason) => return failed(reason),
    };
    let _ = std::fs::remove_file(&args.qmp_socket);
    let qmp_listener = match UnixListener::bind(&args.qmp_socket) {
        Ok(l) => l,
        Err(e) => return failed(format!("listening for QMP on {}: {e}", args.qmp_socket.display())),
    };
    let (link, reader_stream) = match Link::connect(&args.data_socket) {
        Ok(l) => l,
        Err(e) => return failed(e.to_string()),
    };
    let hostile = model.hostile();
    let guest = Arc::new(Guest::new(config, args.vcpus, model, console.clone(), link, options.host));
    let mut vcpus = Vec::new();
    let mut tids = Vec::new();
    for cpu in 0..args.vcpus {
        match vcpu::spawn(guest.clone(), cpu) {
            Ok((handle, tid)) => {
                vcpus.push(handle);
                tids.push(tid);
            }
            Err(e) => guest.fail(format!("starting vCPU {cpu}: {e}")),
        }
    }
    let on_quit = if options.own_process { OnQuit::ExitProcess } else { OnQuit::EndRun };
    let qmp = qmp_server::spawn(guest.clone(), qmp_listener, tids, on_quit);
    if let Err(e) = &qmp {
        guest.fail(format!("starting the QMP server: {e}"));
    }
    guest.kernel.boot(&args.kernel_release, guest.config.expected_clocksource.as_deref());
    let pongs = Arc::new(Pongs::default());
    let mut threads = Vec::new();
    if !guest.is_shut_down() {
        if let Err(reason) = probe(&guest, &args.kernel_release, reader_stream, &pongs, hostile, &mut threads) {
            guest.fail(reason);
        }
    }
    let ending = guest.ending();
    guest.shut_down();
    for t in threads {
        let _ = t.join();
    }
    if !options.own_process {
        for t in vcpus.into_iter().chain(qmp.ok()) {
            let _ = t.join();
        }
    }
    match ending {
        None => {
            console.success();
            Outcome::Success
        }
        Some(Ending::Quit) => Outcome::Quit,
        Some(Ending::Fatal(reason)) => {
            // As the probe: said on the channel (if it still works), then on the console.
            let _ = guest.send(&GuestMessage::Failure { message: reason.clone() });
            console.failure(&reason);
            Outcome::Failure(reason)
        }
    }
}

/// The model and the probe's config, checked.
fn prepare(args: &FakeGuestArgs) -> Result<(ClockModel, ProbeConfig), String> {
    let model = ClockModel::new(parse_model(&args.model)?);
    if !(1..=MAX_VCPUS).contains(&args.vcpus) {
        return Err(format!("--vcpus {} is outside 1..={MAX_VCPUS}", args.vcpus));
    }
    Ok((model, read_config(&args.config)?))
}

/// Reads the probe's config as the probe does, and checks it the same way.
fn read_config(path: &Path) -> Result<ProbeConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let config: ProbeConfig = serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    if config.protocol_version != PROTOCOL_VERSION {
        return Err(format!("config is for protocol version {}, this probe speaks {PROTOCOL_VERSION}", config.protocol_version));
    }
    config.validate().map_err(|e| format!("invalid probe config: {e}"))?;
    Ok(config)
}

/// The probe's part. Err: why it cannot go on; a shutdown from another
/// thread (the channel closed, quit) returns Ok and leaves its reason.
fn probe(
    guest: &Arc<Guest>,
    kernel_release: &str,
    reader: std::os::unix::net::UnixStream,
    pongs: &Arc<Pongs>,
    hostile: Hostile,
    threads: &mut Vec<JoinHandle<()>>,
) -> Result<(), String> {
    if !guest.on_vcpu0() {
        return Ok(());
    }
    let read_cost = read_cost(guest, &guest.config.clocks);
    let state = guest.kernel.clocksource_state();
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        probe_version: format!("fake-{}", env!("CARGO_PKG_VERSION")),
        run_id: guest.config.run_id.clone(),
        kernel_release: kernel_release.to_owned(),
        clocksource: state.clone(),
        vcpus: guest.vcpus,
        tsc_flags: ["tsc", "constant_tsc", "nonstop_tsc"].map(String::from).to_vec(),
        hz: Some(poller::HZ as u32),
        boottime_ns: guest.clock.read().mono_ns,
        clocksource_settle_ms: 0,
        ptp_device: None,
        read_cost,
        // The fake guest does not boot.
        boot_phases: None,
    };
    if !guest.send(&GuestMessage::Hello(hello)) {
        return Ok(());
    }
    threads.push(spawn_reader(guest.clone(), reader, pongs.clone()).map_err(|e| format!("starting the channel thread: {e}"))?);
    if let Some(requested) = &guest.config.expected_clocksource {
        if *requested != state.current {
            let outcome = ProbeOutcome::ClocksourceNotHonored { requested: requested.clone(), got: state.current };
            send_done(guest, outcome, &Totals::default());
            return Ok(());
        }
    }
    let mut seq = 0;
    match initial_sync(guest, pongs, &mut seq) {
        Ok(()) => {}
        Err(Some(reason)) => return Err(reason),
        Err(None) => return Ok(()),
    }
    if guest.config.benchmark_phase_ms.is_some() {
        let reason = "the fake guest has no benchmark".to_owned();
        if !guest.send(&GuestMessage::Degraded { component: "benchmark".into(), reason }) {
            return Ok(());
        }
    }
    guest.set_phase(Phase::Measuring);
    let mut measuring = Vec::new();
    let spawned = [
        (guest.config.tick_rate_hz > 0).then(|| timer::spawn(guest.clone())),
        Some(poller::spawn(guest.clone())),
        guest.config.forward_kmsg.then(|| kmsg::spawn(guest.clone())),
        hostile::spawn(guest.clone(), hostile),
    ];
    for t in spawned.into_iter().flatten() {
        match t {
            Ok(t) => measuring.push(t),
            Err(e) => guest.fail(format!("starting a measuring thread: {e}")),
        }
    }
    let mut totals = Totals::default();
    let measured = exchange_loop(guest, pongs, &mut seq, &mut totals);
    guest.set_phase(Phase::Finishing);
    // The timer, poller and kmsg threads send their last messages and end.
    for t in measuring {
        let _ = t.join();
    }
    if measured.is_err() {
        return Ok(());
    }
    wait_for_samplers(guest);
    if guest.is_shut_down() {
        return Ok(());
    }
    totals.samples = guest.samples.load(Relaxed);
    totals.windows = guest.windows.load(Relaxed);
    send_done(guest, ProbeOutcome::Completed, &totals);
    Ok(())
}

#[derive(Default)]
struct Totals {
    samples: u64,
    windows: u64,
    exchanges: u64,
    exchanges_lost: u64,
}

/// Exchanges every `exchange_interval_ms` of guest time, and a burst after
/// a sampler saw a long gap, until `duration_ms` of guest time has passed.
fn exchange_loop(guest: &Guest, pongs: &Pongs, seq: &mut u64, totals: &mut Totals) -> Result<(), ShutDown> {
    let c = &guest.config;
    let interval = c.exchange_interval_ms * 1_000_000;
    let start = guest.clock.read().mono_ns;
    let deadline = start + c.duration_ms * 1_000_000;
    let mut next_exchange = start;
    let mut burst_left = 0u32;
    loop {
        if !guest.on_vcpu0() {
            return Err(ShutDown);
        }
        let now = guest.clock.read().mono_ns;
        if now >= deadline {
            return Ok(());
        }
        if guest.burst_requested.swap(false, SeqCst) {
            burst_left = c.burst_exchanges;
        }
        if burst_left > 0 || now >= next_exchange {
            match exchange(guest, pongs, *seq)? {
                Some(mut e) => {
                    e.burst = burst_left > 0;
                    if !guest.send(&GuestMessage::Exchange(e)) {
                        return Err(ShutDown);
                    }
                    totals.exchanges += 1;
                }
                None => totals.exchanges_lost += 1,
            }
            *seq += 1;
            if burst_left > 0 {
                burst_left -= 1;
            } else {
                // After a stall, go on from now rather than fire the missed ones back to back.
                next_exchange = (next_exchange + interval).max(guest.clock.read().mono_ns);
            }
            continue;
        }
        let wait = next_exchange.min(deadline) - now;
        std::thread::sleep(Duration::from_nanos(wait).min(LOOP_POLL));
    }
}

/// Waits for every sampler to close its window (its last Window is sent before Done).
fn wait_for_samplers(guest: &Guest) {
    let deadline = Instant::now() + SAMPLERS_GRACE;
    while guest.samplers_busy.load(SeqCst) > 0 && Instant::now() < deadline && !guest.is_shut_down() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// ns per read of each clock, and of the TSC (a host clock read here).
fn read_cost(guest: &Guest, clocks: &[ClockId]) -> ReadCost {
    let host = guest.clock.host();
    let time = |f: &dyn Fn() -> u64| {
        let t0 = host.monotonic_ns();
        let mut sink = 0u64;
        for _ in 0..CALIBRATION_READS {
            sink = sink.wrapping_add(f());
        }
        std::hint::black_box(sink);
        host.monotonic_ns().saturating_sub(t0) as f64 / CALIBRATION_READS as f64
    };
    ReadCost {
        clocks: clocks.iter().map(|&c| (c, time(&|| guest.clock.read().value(c)))).collect(),
        rdtsc_ns: time(&|| host.monotonic_ns()),
        reads: CALIBRATION_READS,
    }
}

fn send_done(guest: &Guest, outcome: ProbeOutcome, t: &Totals) {
    let (cpu_user_ms, cpu_system_ms) = cpu_time_ms();
    guest.send(&GuestMessage::Done(Done {
        outcome,
        samples: t.samples,
        windows: t.windows,
        dropped: Dropped::default(),
        exchanges: t.exchanges,
        exchanges_lost: t.exchanges_lost,
        shm_exchanges: 0,
        shm_exchanges_lost: 0,
        peak_rss_kib: peak_rss_kib(),
        cpu_user_ms,
        cpu_system_ms,
    }));
}

/// Peak resident set size (VmHWM) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of this process, in ms.
pub fn cpu_time_ms() -> (u64, u64) {
    // SAFETY: an all-zero rusage is valid storage for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid and writable for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0, 0);
    }
    let ms = |tv: libc::timeval| tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000;
    (ms(ru.ru_utime), ms(ru.ru_stime))
}
