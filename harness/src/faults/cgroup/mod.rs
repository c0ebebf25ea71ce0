//! Host-side cgroup faults on QEMU threads: freeze/thaw chosen threads (vCPUs)
//! and put a CPU quota on them, on cgroup v1 or v2.
//!
//! ```text
//! let ctx = CgroupContext::host()?;            // /sys/fs/cgroup + /proc
//! let pid = 1234;
//! let vcpus = [1240, 1241];
//! let mut frozen = ThreadFreeze::freeze(&ctx, &format!("clockstorm-{pid}-vcpu"), pid, &vcpus)?;
//! // ... guest clocks stall ...
//! frozen.release()?;                            // thaw, move back, rmdir
//! ```
//!
//! Everything takes its roots from [`CgroupContext`], so tests run against a
//! fake tree in a tempdir with a fake [`CgroupFs`] that plays the kernel.

mod context;
mod detect;
mod error;
mod fs;
mod guard;
mod host;
mod proc;
mod stats;
mod undo;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

pub use context::{CgroupContext, FREEZE_TIMEOUT};
pub use detect::{detect, Hierarchy, DEFAULT_CGROUP_ROOT, DEFAULT_ROOT};
pub use error::CgroupError;
pub use fs::{CgroupFs, RealFs, POLL_INTERVAL};
pub use guard::{CpuLimit, CpuQuota, ThreadFreeze};
pub use host::{cpu_quota, freeze_threads, FrozenThreads};
pub use proc::{thread_ids, thread_run_time_ns, thread_state, thread_states, v1_cgroup_of_thread, v2_cgroup_of_process, DEFAULT_PROC_ROOT};
pub use stats::ThrottleStats;
