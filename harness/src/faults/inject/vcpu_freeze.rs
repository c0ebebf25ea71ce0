//! `vcpu-freeze`: only the vCPU threads frozen with the cgroup freezer while
//! QEMU's other threads (and its device clocks) run on: a device reset
//! blocking the vCPUs in the host kernel. SIGSTOP cannot do this; it stops
//! every thread of the process.

use std::time::Duration;

use clockstorm_protocol::FaultDetail;

use super::{select_vcpus, thread_state, FaultContext, FaultError, Injector};
use crate::faults::cgroup::{self, FrozenThreads};

pub struct VcpuFreeze {
    pid: u32,
    tids: Vec<u32>,
    cgroup_root: std::path::PathBuf,
    frozen: Option<FrozenThreads>,
    states: Vec<String>,
    cgroup: String,
}

impl VcpuFreeze {
    pub fn new(ctx: &FaultContext, vcpus: Option<&[u32]>) -> Result<Self, FaultError> {
        Ok(VcpuFreeze {
            pid: ctx.qemu_pid,
            tids: select_vcpus(ctx, vcpus)?,
            cgroup_root: ctx.cgroup_root.clone(),
            frozen: None,
            states: Vec::new(),
            cgroup: String::new(),
        })
    }
}

impl Injector for VcpuFreeze {
    fn apply(&mut self) -> Result<(), FaultError> {
        let name = format!("clockstorm-{}-vcpu", self.pid);
        let frozen = cgroup::freeze_threads(&self.cgroup_root, &name, self.pid, &self.tids)?;
        self.cgroup = frozen.path().display().to_string();
        self.frozen = Some(frozen);
        // What the kernel shows for the frozen threads, for the record.
        std::thread::sleep(Duration::from_millis(1));
        self.states = self.tids.iter().map(|&t| thread_state(self.pid, t).map(String::from).unwrap_or_default()).collect();
        Ok(())
    }

    fn lift(&mut self) -> Result<FaultDetail, FaultError> {
        if let Some(mut frozen) = self.frozen.take() {
            frozen.release()?;
        }
        Ok(FaultDetail::VcpuFreeze { threads: self.tids.clone(), states: self.states.clone(), cgroup: self.cgroup.clone() })
    }
}

impl Drop for VcpuFreeze {
    fn drop(&mut self) {
        let _ = self.lift();
    }
}
