//! `starve`: host CPU starvation of the vCPU threads. Each vCPU thread is
//! pinned to a host CPU and a busy thread pinned beside it runs for `duty`
//! percent of every period (optionally SCHED_FIFO, so it always wins); an
//! optional CPU quota caps the vCPU threads through the cgroup cpu
//! controller. The achieved effect is read from /proc/<tid>/schedstat (time
//! run and time spent waiting for a CPU) and the quota's throttled time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{FaultDetail, ThreadSched};
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use super::{select_vcpus, FaultContext, FaultError, Injector};
use crate::faults::cgroup::{self, CpuQuota};

/// The busy threads' duty-cycle period: short against the guest's 4 ms tick
/// so starvation is spread evenly, long against a context switch.
pub const DUTY_PERIOD: Duration = Duration::from_millis(10);
/// SCHED_FIFO priority of the busy threads with `rt=true`: above every normal
/// thread (QEMU's included), below the kernel's own real-time work.
const BUSY_RT_PRIORITY: i32 = 1;

pub struct Starve {
    pid: u32,
    tids: Vec<u32>,
    duty: u8,
    rt: bool,
    quota_percent: Option<u8>,
    cgroup_root: std::path::PathBuf,
    saved_affinity: Vec<(u32, CpuSet)>,
    busy: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    quota: Option<CpuQuota>,
    before: Vec<(u64, u64)>,
    detail: Option<FaultDetail>,
}

impl Starve {
    pub fn new(ctx: &FaultContext, duty: u8, rt: bool, quota: Option<u8>) -> Result<Self, FaultError> {
        Ok(Starve {
            pid: ctx.qemu_pid,
            tids: select_vcpus(ctx, None)?,
            duty,
            rt,
            quota_percent: quota,
            cgroup_root: ctx.cgroup_root.clone(),
            saved_affinity: Vec::new(),
            busy: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            quota: None,
            before: Vec::new(),
            detail: None,
        })
    }
}

/// (run ns, wait ns) of a thread from /proc/<pid>/task/<tid>/schedstat.
pub fn schedstat(pid: u32, tid: u32) -> Option<(u64, u64)> {
    parse_schedstat(&std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?)
}

/// Parses "run_ns wait_ns timeslices". Pure.
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The host CPU vCPU number `i` is pinned to: counting down from the last
/// CPU, away from CPU 0 where the harness and interrupts usually are.
pub fn host_cpu_for(i: usize, host_cpus: usize) -> usize {
    (host_cpus - 1 - i % host_cpus) % host_cpus
}

fn busy_loop(cpu: usize, duty: u8, rt: bool, stop: Arc<AtomicBool>) {
    let mut set = CpuSet::new();
    let _ = set.set(cpu);
    let _ = sched_setaffinity(Pid::from_raw(0), &set);
    if rt {
        let param = libc::sched_param { sched_priority: BUSY_RT_PRIORITY };
        // SAFETY: valid sched_param; pid 0 is the calling thread.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    }
    let busy = DUTY_PERIOD * duty as u32 / 100;
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        while t0.elapsed() < busy {
            std::hint::spin_loop();
        }
        if let Some(rest) = DUTY_PERIOD.checked_sub(t0.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

impl Injector for Starve {
    fn apply(&mut self) -> Result<(), FaultError> {
        let host_cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        self.before = self.tids.iter().map(|&t| schedstat(self.pid, t).unwrap_or_default()).collect();
        for (i, &tid) in self.tids.iter().enumerate() {
            let cpu = host_cpu_for(i, host_cpus);
            let what = || format!("pinning vCPU thread {tid} to host CPU {cpu}");
            let saved = sched_getaffinity(Pid::from_raw(tid as i32)).map_err(|e| FaultError::failed(what(), e))?;
            self.saved_affinity.push((tid, saved));
            let mut set = CpuSet::new();
            set.set(cpu).map_err(|e| FaultError::failed(what(), e))?;
            sched_setaffinity(Pid::from_raw(tid as i32), &set).map_err(|e| FaultError::failed(what(), e))?;
            if self.duty > 0 {
                let (duty, rt, stop) = (self.duty, self.rt, self.stop.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("clockstorm-busy-{cpu}"))
                    .spawn(move || busy_loop(cpu, duty, rt, stop))
                    .map_err(|e| FaultError::failed("starting a busy thread", e))?;
                self.busy.push(handle);
            }
        }
        if let Some(percent) = self.quota_percent {
            let name = format!("clockstorm-{}-starve", self.pid);
            self.quota = Some(cgroup::cpu_quota(&self.cgroup_root, &name, self.pid, &self.tids, percent)?);
        }
        Ok(())
    }

    fn lift(&mut self) -> Result<FaultDetail, FaultError> {
        if let Some(detail) = &self.detail {
            return Ok(detail.clone());
        }
        self.stop.store(true, Ordering::Relaxed);
        let busy_threads = self.busy.len() as u32;
        for h in self.busy.drain(..) {
            let _ = h.join();
        }
        let mut first_error = None;
        let throttled_ns = match self.quota.take() {
            Some(mut q) => match q.release() {
                Ok(stats) => Some(stats.throttled_ns),
                Err(e) => {
                    first_error = Some(FaultError::from(e));
                    None
                }
            },
            None => None,
        };
        for (tid, set) in self.saved_affinity.drain(..) {
            // A thread that exited (QEMU gone) has nothing to restore.
            let _ = sched_setaffinity(Pid::from_raw(tid as i32), &set);
        }
        let threads = self
            .tids
            .iter()
            .zip(&self.before)
            .map(|(&tid, &(run0, wait0))| {
                let (run, wait) = schedstat(self.pid, tid).unwrap_or((run0, wait0));
                ThreadSched { tid, run_ns: run.saturating_sub(run0), wait_ns: wait.saturating_sub(wait0) }
            })
            .collect();
        let detail = FaultDetail::Starve { threads, busy_threads, throttled_ns };
        self.detail = Some(detail.clone());
        match first_error {
            Some(e) => Err(e),
            None => Ok(detail),
        }
    }
}

impl Drop for Starve {
    fn drop(&mut self) {
        let _ = self.lift();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_parses_and_cpus_count_down_from_the_last() {
        assert_eq!(parse_schedstat("123 456 7\n"), Some((123, 456)));
        assert_eq!(parse_schedstat("x"), None);
        assert_eq!((host_cpu_for(0, 2), host_cpu_for(1, 2), host_cpu_for(2, 2)), (1, 0, 1));
        assert_eq!(host_cpu_for(0, 1), 0);
    }
}
