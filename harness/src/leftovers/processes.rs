//! Guest processes of a dead harness that outlived it (PR_SET_PDEATHSIG
//! should have killed them; a process stuck in a frozen cgroup is handled by
//! the cgroup sweep, which runs first). Recognised by their command line: a
//! QEMU with its QMP socket in a clockstorm private dir, or the fake guest.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{held_by_live_harness, Finding, Roots};

/// Whether a NUL-separated command line is a clockstorm guest's.
pub(super) fn is_guest_cmdline(argv: &[&str]) -> bool {
    let Some(program) = argv.first().map(|p| p.rsplit('/').next().unwrap_or(p)) else { return false };
    let qemu = program.starts_with("qemu-system") && argv.iter().any(|a| a.contains("/clockstorm-") && a.contains("qmp.sock"));
    let fake = program.starts_with("clockstorm") && argv.get(1) == Some(&"fake-guest");
    qemu || fake
}

pub(super) fn sweep(roots: &Roots) -> Vec<Finding> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&roots.proc).into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let text = String::from_utf8_lossy(&raw);
        let argv: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
        if !is_guest_cmdline(&argv) || held_by_live_harness(&roots.proc, pid) {
            continue;
        }
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGCONT);
        let done = match kill(Pid::from_raw(pid as i32), Signal::SIGKILL) {
            Ok(()) => "killed".to_string(),
            Err(e) => format!("could not kill it: {e}"),
        };
        found.push(Finding { what: format!("guest process {pid} ({})", argv.first().copied().unwrap_or("?")), done });
    }
    found
}
