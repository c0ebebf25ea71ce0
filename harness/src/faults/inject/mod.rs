//! The injectors: one per fault kind, each able to apply its fault and to
//! lift it again. `lift` is idempotent and also runs on drop, so a fault is
//! lifted on every exit path (error, panic, Ctrl-C).

mod command;
mod freeze;
mod pause;
mod starve;
mod vcpu_freeze;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clockstorm_protocol::FaultDetail;

use super::spec::FaultKind;
use crate::qemu::qmp::{Qmp, VcpuThread};

/// What every injector may need about the guest's QEMU.
#[derive(Clone)]
pub struct FaultContext {
    pub qemu_pid: u32,
    pub qmp: Option<Arc<Mutex<Qmp>>>,
    pub vcpus: Vec<VcpuThread>,
    /// Root of the cgroup mounts (/sys/fs/cgroup).
    pub cgroup_root: PathBuf,
    /// `--allow-commands` was given.
    pub allow_commands: bool,
}

/// Errors applying or lifting a fault.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
    #[error(transparent)]
    Cgroup(#[from] super::cgroup::CgroupError),
    #[error(transparent)]
    Qmp(#[from] crate::qemu::qmp::QmpError),
}

impl FaultError {
    pub fn failed(what: impl Into<String>, message: impl ToString) -> Self {
        FaultError::Failed { what: what.into(), message: message.to_string() }
    }
}

/// One fault, ready to apply.
pub trait Injector: Send {
    /// Applies the fault; returns once it is in effect.
    fn apply(&mut self) -> Result<(), FaultError>;
    /// Lifts the fault (idempotent) and says what it measured.
    fn lift(&mut self) -> Result<FaultDetail, FaultError>;
}

/// The injector for `kind`.
pub fn injector_for(kind: &FaultKind, ctx: &FaultContext) -> Result<Box<dyn Injector>, FaultError> {
    Ok(match kind {
        FaultKind::Freeze => Box::new(freeze::ProcessFreeze::new(ctx.qemu_pid)),
        FaultKind::Pause => Box::new(pause::QmpPause::new(ctx)?),
        FaultKind::VcpuFreeze { vcpus } => Box::new(vcpu_freeze::VcpuFreeze::new(ctx, vcpus.as_deref())?),
        FaultKind::Starve { duty, rt, quota } => Box::new(starve::Starve::new(ctx, *duty, *rt, *quota)?),
        FaultKind::Command { argv } => Box::new(command::HostCommand::new(argv, ctx.allow_commands)?),
    })
}

/// The vCPU threads named by `indexes` (all when None).
pub(crate) fn select_vcpus(ctx: &FaultContext, indexes: Option<&[u32]>) -> Result<Vec<u32>, FaultError> {
    match indexes {
        None => Ok(ctx.vcpus.iter().map(|v| v.thread_id).collect()),
        Some(want) => want
            .iter()
            .map(|i| {
                ctx.vcpus
                    .iter()
                    .find(|v| v.cpu_index == *i)
                    .map(|v| v.thread_id)
                    .ok_or_else(|| FaultError::failed("selecting vCPUs", format!("vCPU {i} does not exist (the guest has {})", ctx.vcpus.len())))
            })
            .collect(),
    }
}

/// The state letter of /proc/<pid>/task/<tid>/stat (after the command name).
pub(crate) fn thread_state(pid: u32, tid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
