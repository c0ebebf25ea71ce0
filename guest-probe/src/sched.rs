//! Scheduling policy and CPU pinning for the probe's threads.

use anyhow::{Context, Result};

/// Puts the calling thread under SCHED_FIFO at `priority`.
pub fn set_fifo(priority: i32) -> Result<()> {
    let param = libc::sched_param { sched_priority: priority };
    // SAFETY: `param` is a valid sched_param; pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("setting SCHED_FIFO priority {priority}"));
    }
    Ok(())
}

/// Gives the calling thread the highest normal priority (nice -20): it
/// stays SCHED_OTHER, so RT throttling never touches it, but a wake-up
/// preempts any nice-0 thread (a user's workload beside a standalone probe,
/// the benchmark's CPU task) instead of waiting for its slice.
pub fn set_top_nice() -> Result<()> {
    // SAFETY: plain syscalls; gettid names the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, -20) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("setting nice -20");
    }
    Ok(())
}

/// Puts the calling thread back under SCHED_OTHER at nice 0 (threads
/// inherit their creator's policy and nice value).
pub fn set_normal_policy() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: valid sched_param; pid 0 means the calling thread.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    // SAFETY: plain syscall on the calling thread.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 0) };
}

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// Lets the calling thread run on any of `cpus`.
pub fn pin_to_cpus(cpus: &[usize]) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// The CPUs this process may run on.
pub fn online_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect(),
        Err(_) => vec![0],
    }
}
