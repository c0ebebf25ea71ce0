//! The guardian: a small process that outlives the harness and undoes what a
//! harness killed outright (SIGKILL, the OOM killer, a crash) left in place.
//!
//! Why a process: the in-process guards (`Drop`, the Ctrl-C handler) run on
//! every exit but SIGKILL, and PR_SET_PDEATHSIG only kills QEMU, which is not
//! enough: a vCPU thread in a FROZEN freezer cgroup cannot die until the
//! cgroup is thawed, so QEMU stayed a zombie holding its memory and the
//! cgroup stayed frozen. cgroup v2's `cgroup.kill` would not help on v1
//! hosts, and a frozen cgroup still has to be thawed and removed.
//!
//! How: before a run touches the host, the harness starts `clockstorm
//! guardian` in its own session with a pipe on its stdin. Every guard that
//! sets something up (a cgroup write, a cgroup, a guest process, a private
//! socket dir) sends a `watch` order first and a `forget` when it undid it
//! itself. When the pipe ends without `done` (the kernel closes it when the
//! harness dies, however it dies), the guardian undoes what is still watched
//! within [`CLEANUP_BOUND`] and says what it did on stderr and in the results
//! directory's `guardian.log`. See docs/safety.md.

mod link;
mod order;
pub mod proc_stat;
mod serve;
mod undo;

pub use link::{start, watch, Session, Watch};
pub use order::{Item, Order};
pub use serve::run;
pub use undo::CLEANUP_BOUND;
