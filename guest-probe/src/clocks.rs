//! Thin, allocation-free clock reads for the hot loops.

/// Reads a POSIX clock in nanoseconds. Through the vDSO this costs one
/// clocksource read (plus a trap to the hypervisor for hpet and acpi_pm).
#[inline(always)]
pub fn now_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used here always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// CLOCK_MONOTONIC in ns (never negative on Linux).
#[inline(always)]
pub fn monotonic_ns() -> u64 {
    now_ns(libc::CLOCK_MONOTONIC) as u64
}

/// CLOCK_REALTIME in ns since the epoch.
#[inline(always)]
pub fn realtime_ns() -> i64 {
    now_ns(libc::CLOCK_REALTIME)
}

/// CLOCK_BOOTTIME in ns: time since the kernel started, including suspend.
pub fn boottime_ns() -> u64 {
    now_ns(libc::CLOCK_BOOTTIME) as u64
}

/// The time stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Steps CLOCK_REALTIME by `step_ns` in one kernel call (ADJ_SETOFFSET), so
/// no time passes between reading and writing the clock.
pub fn step_realtime(step_ns: i64) -> std::io::Result<()> {
    const NS: i64 = 1_000_000_000;
    // SAFETY: an all-zero timex is a valid "change nothing" request.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
    // With ADJ_NANO the "usec" field carries nanoseconds and must be in [0, 1e9).
    tx.time.tv_sec = step_ns.div_euclid(NS);
    tx.time.tv_usec = step_ns.rem_euclid(NS);
    // SAFETY: `tx` is a valid timex for the duration of the call.
    let rc = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, &mut tx) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
