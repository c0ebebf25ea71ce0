//! Faults on a seeded timeline: the host-side causes of the incident
//! (whole-VM freezes, vCPU freezes, pauses, CPU starvation, host commands),
//! applied at the planned times and measured as they happen.

pub mod cgroup;
pub mod expand;
pub mod inject;
pub mod spec;
mod timeline_thread;

pub use expand::{expand, FaultEvent};
pub use inject::FaultContext;
pub use spec::{parse_fault, FaultKind, FaultSpec};
pub use timeline_thread::{spawn_timeline, TimelineHandle};
