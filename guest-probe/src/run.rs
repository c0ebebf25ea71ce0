//! One probe run: hello, clocksource check, calibration, initial sync, then
//! sampling and exchanges for the configured duration, then Done.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{
    Done, GuestMessage, Hello, ProbeConfig, ProbeOutcome, ReadCost, Synced, CONFIG_PATH_IN_GUEST, PROTOCOL_VERSION,
};

use crate::channel::Channel;
use crate::clocks::{boottime_ns, monotonic_ns, rdtsc};
use crate::exchange::{best_of, exchange};
use crate::sampler::{self, SamplerControl};
use crate::sysinfo;

/// Capacity of the queue between the sampler and the channel writer, in
/// messages. At the default 100 ms window this is over 25 s of windows, more
/// than any stall of the writer the probe expects; beyond it, windows are
/// dropped and counted, never waited for.
const SAMPLER_QUEUE: usize = 256;

/// Reads per clock in the read-cost calibration loop.
const CALIBRATION_READS: u64 = 20_000;

/// How long to wait for the kernel to settle on the requested clocksource.
/// With `clocksource=tsc` the kernel first runs on `tsc-early` and switches
/// to `tsc` only after its refined calibration (a delayed work item ~1 s
/// after boot; later under a slow TCG boot).
const CLOCKSOURCE_SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Real-time priority of the thread that talks to the host. The sampler
/// spins at normal priority; without this, a pong that arrives while the
/// sampler holds the only vCPU waits for the next tick (4 ms at HZ=250),
/// which shows up directly as exchange uncertainty.
const CHANNEL_THREAD_RT_PRIORITY: i32 = 10;

pub fn run_as_init() -> Result<()> {
    let config = read_config()?;
    load_modules(&config.modules)?;
    let mut ch = Channel::open(&config.data_device)?;
    let result = measure(&config, &mut ch);
    if let Err(e) = &result {
        let _ = ch.send(&GuestMessage::Failure { message: format!("{e:#}") });
    }
    ch.flush();
    result
}

fn read_config() -> Result<ProbeConfig> {
    let text = std::fs::read_to_string(CONFIG_PATH_IN_GUEST).with_context(|| format!("reading {CONFIG_PATH_IN_GUEST}"))?;
    let config: ProbeConfig = serde_json::from_str(&text).with_context(|| format!("parsing {CONFIG_PATH_IN_GUEST}"))?;
    if config.protocol_version != PROTOCOL_VERSION {
        bail!("config is for protocol version {}, this probe speaks {PROTOCOL_VERSION}", config.protocol_version);
    }
    Ok(config)
}

fn load_modules(modules: &[String]) -> Result<()> {
    for path in modules {
        let file = std::fs::File::open(path).with_context(|| format!("opening module {path}"))?;
        // SAFETY: finit_module reads the module from a valid open fd; the params string is a valid empty C string.
        let rc = unsafe { libc::syscall(libc::SYS_finit_module, std::os::fd::AsRawFd::as_raw_fd(&file), c"".as_ptr(), 0) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(err).with_context(|| format!("loading module {path}"));
            }
        }
    }
    Ok(())
}

fn measure(config: &ProbeConfig, ch: &mut Channel) -> Result<()> {
    let settle_started = Instant::now();
    let clocksource = wait_for_clocksource(config.expected_clocksource.as_deref())?;
    let clocksource_settle_ms = settle_started.elapsed().as_millis() as u64;
    set_realtime_priority(CHANNEL_THREAD_RT_PRIORITY)?;
    ch.send(&GuestMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        probe_version: env!("CARGO_PKG_VERSION").into(),
        run_id: config.run_id.clone(),
        kernel_release: sysinfo::kernel_release(),
        clocksource: clocksource.clone(),
        vcpus: sysinfo::vcpus(),
        tsc_flags: sysinfo::tsc_flags(),
        hz: None,
        boottime_ns: boottime_ns(),
        clocksource_settle_ms,
    }))?;
    if let Some(requested) = &config.expected_clocksource {
        if *requested != clocksource.current {
            let outcome = ProbeOutcome::ClocksourceNotHonored { requested: requested.clone(), got: clocksource.current };
            return send_done(ch, outcome, Counts::default());
        }
    }
    ch.send(&GuestMessage::ReadCost(read_cost()))?;
    let mut seq = 0;
    initial_sync(config, ch, &mut seq)?;

    let ctl = SamplerControl::new();
    let (tx, rx) = sync_channel(SAMPLER_QUEUE);
    let sampler = {
        let ctl = ctl.clone();
        let (window_ns, gap_ns) = (config.window_ms * 1_000_000, config.gap_event_threshold_ns);
        std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || sampler::run(ctl, tx, window_ns, gap_ns))
            .context("starting the sampler thread")?
    };
    let interval = Duration::from_millis(config.exchange_interval_ms);
    let deadline = Instant::now() + Duration::from_millis(config.duration_ms);
    let mut next_exchange = Instant::now();
    let mut exchanges = 0;
    let loop_result = (|| -> Result<()> {
        while Instant::now() < deadline {
            if Instant::now() >= next_exchange {
                if let Some(e) = exchange(ch, seq)? {
                    ch.send(&GuestMessage::Exchange(e))?;
                    exchanges += 1;
                }
                seq += 1;
                next_exchange += interval;
            }
            let wait = next_exchange.min(deadline).saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(msg) => ch.send(&msg)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the sampler thread died"),
            }
        }
        Ok(())
    })();
    ctl.stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    loop_result?;
    // The sampler's last windows.
    while let Ok(msg) = rx.try_recv() {
        ch.send(&msg)?;
    }
    let counts = Counts {
        samples: ctl.samples.load(Ordering::Relaxed),
        windows: ctl.windows.load(Ordering::Relaxed),
        dropped_windows: ctl.dropped.load(Ordering::Relaxed),
        exchanges,
    };
    send_done(ch, ProbeOutcome::Completed, counts)
}

/// Polls sysfs until the current clocksource is `expected` or the settle
/// timeout passes; returns the last state read either way.
fn wait_for_clocksource(expected: Option<&str>) -> Result<clockstorm_protocol::ClocksourceState> {
    let deadline = Instant::now() + CLOCKSOURCE_SETTLE_TIMEOUT;
    loop {
        let state = sysinfo::clocksource_state().context("reading the clocksource from sysfs")?;
        if expected.is_none_or(|e| e == state.current) || Instant::now() >= deadline {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Puts the calling thread under SCHED_FIFO at `priority`.
fn set_realtime_priority(priority: i32) -> Result<()> {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: `param` is a valid sched_param; 0 means the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("setting SCHED_FIFO for the channel thread");
    }
    Ok(())
}

fn initial_sync(config: &ProbeConfig, ch: &mut Channel, seq: &mut u64) -> Result<()> {
    let mut burst = Vec::new();
    for _ in 0..config.initial_sync_exchanges {
        if let Some(e) = exchange(ch, *seq)? {
            ch.send(&GuestMessage::Exchange(e))?;
            burst.push(e);
        }
        *seq += 1;
    }
    let Some(best) = best_of(&burst) else {
        bail!("the host answered none of {} initial exchanges", config.initial_sync_exchanges);
    };
    crate::clocks::step_realtime(best.offset_ns).context("stepping CLOCK_REALTIME onto host time")?;
    ch.send(&GuestMessage::Synced(Synced { best, step_ns: best.offset_ns }))
}

fn read_cost() -> ReadCost {
    let t0 = monotonic_ns();
    let mut sink = 0u64;
    for _ in 0..CALIBRATION_READS {
        sink = sink.wrapping_add(monotonic_ns());
    }
    let t1 = monotonic_ns();
    for _ in 0..CALIBRATION_READS {
        sink = sink.wrapping_add(rdtsc());
    }
    let t2 = monotonic_ns();
    std::hint::black_box(sink);
    ReadCost {
        clock_gettime_monotonic_ns: (t1 - t0) as f64 / CALIBRATION_READS as f64,
        rdtsc_ns: (t2 - t1) as f64 / CALIBRATION_READS as f64,
        reads: CALIBRATION_READS,
    }
}

#[derive(Default)]
struct Counts {
    samples: u64,
    windows: u64,
    dropped_windows: u64,
    exchanges: u64,
}

fn send_done(ch: &mut Channel, outcome: ProbeOutcome, counts: Counts) -> Result<()> {
    let (cpu_user_ms, cpu_system_ms) = sysinfo::cpu_time_ms();
    ch.send(&GuestMessage::Done(Done {
        outcome,
        samples: counts.samples,
        windows: counts.windows,
        dropped_windows: counts.dropped_windows,
        exchanges: counts.exchanges,
        peak_rss_kib: sysinfo::peak_rss_kib(),
        cpu_user_ms,
        cpu_system_ms,
    }))
}
