//! The guest's time service (chronyd), as an operator's guest runs it: the
//! probe brings up the network, names the host's NTP server in the
//! service's configuration, starts it after the initial sync and forwards
//! every line it logs. What the service does to the clock is measured by
//! the probe's exchanges, like everything else; its log is shown beside.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{GuestMessage, ServiceLog, TimeServiceLaunch, TIME_SERVER_CMDLINE_KEY};

use crate::clocks::{monotonic_ns, realtime_ns};
use crate::outbox::{Outbox, Producer};

/// How long the service has to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A running service and the thread forwarding its log.
pub struct RunningService {
    pid: libc::pid_t,
    stopping: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

/// `ADDRESS:PORT` of [`TIME_SERVER_CMDLINE_KEY`] in a kernel command line.
pub fn server_from_cmdline(cmdline: &str) -> Option<(String, u16)> {
    let value = cmdline.split_whitespace().find_map(|w| w.strip_prefix(TIME_SERVER_CMDLINE_KEY)?.strip_prefix('='))?;
    let (address, port) = value.rsplit_once(':')?;
    Some((address.to_owned(), port.parse().ok()?))
}

/// The source line with the server filled in.
pub fn source_line(template: &str, address: &str, port: u16) -> String {
    template.replace("{address}", address).replace("{port}", &port.to_string())
}

/// Loads the network driver, brings up the network, names the host's
/// server in the configuration and starts the service.
pub fn start(launch: &TimeServiceLaunch, outbox: &Outbox) -> Result<RunningService> {
    crate::modules::load(&launch.net_modules)?;
    let device = crate::net::bring_up(&launch.address)?;
    let cmdline = std::fs::read_to_string("/proc/cmdline").context("reading /proc/cmdline")?;
    let Some((address, port)) = server_from_cmdline(&cmdline) else {
        bail!("the kernel command line names no {TIME_SERVER_CMDLINE_KEY}=ADDRESS:PORT");
    };
    for dir in &launch.dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
        // chronyd refuses a socket directory others can enter (0750, as its package makes it).
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o750)).with_context(|| format!("setting the mode of {dir}"))?;
    }
    let line = source_line(&launch.source_line, &address, port);
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&launch.config_path)
        .with_context(|| format!("opening {}", launch.config_path))?;
    writeln!(config, "\n# Added by clockstorm: the host's NTP server, reached over {device}.\n{line}")
        .with_context(|| format!("writing {}", launch.config_path))?;
    drop(config);
    let Some((program, args)) = launch.argv.split_first() else { bail!("the time service has no command") };
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: the closure only makes async-signal-safe syscalls (setpriority,
    // sched_setscheduler) between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // The service runs as on an ordinary guest: nice 0, SCHED_OTHER,
            // not with the channel thread's nice -20 it would inherit.
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
            libc::setpriority(libc::PRIO_PROCESS, 0, 0);
            Ok(())
        });
    }
    let mut child = command.spawn().with_context(|| format!("starting {program}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stopping = Arc::new(AtomicBool::new(false));
    let name = launch.name.clone();
    let pid = child.id() as libc::pid_t;
    let reader = {
        let (stopping, outbox) = (stopping.clone(), outbox.clone());
        std::thread::Builder::new()
            .name("time-service".into())
            .spawn(move || forward(name, stderr, child, &stopping, &outbox))?
    };
    Ok(RunningService { pid, stopping, reader })
}

/// Forwards each line until the service closes its stderr, then says how it
/// ended if nobody asked it to.
fn forward(name: String, stderr: std::process::ChildStderr, mut child: Child, stopping: &AtomicBool, outbox: &Outbox) {
    for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
        let log = ServiceLog { service: name.clone(), line, read_realtime_ns: realtime_ns(), read_monotonic_ns: monotonic_ns() };
        outbox.send(Producer::Kernel, GuestMessage::ServiceLog(log));
    }
    let status = child.wait();
    if !stopping.load(Ordering::Relaxed) {
        let reason = match status {
            Ok(s) => format!("{name} exited on its own ({s}); its last lines are in the service log"),
            Err(e) => format!("{name}: waiting for it: {e}"),
        };
        outbox.send(Producer::Kernel, GuestMessage::Degraded { component: "time-service".into(), reason });
    }
}

impl RunningService {
    /// Stops the service (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and
    /// waits until its last log line is queued.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::Relaxed);
        // SAFETY: kill() takes no pointers; `pid` is our child, not yet
        // reaped (the reader thread reaps it only after its stderr closed).
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while !self.reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.reader.is_finished() {
            // SAFETY: as above; the child has not been reaped while its reader runs.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        let _ = self.reader.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_comes_from_the_kernel_command_line() {
        let cmdline = "console=ttyS0 panic=-1 clocksource=tsc clockstorm.ntp=10.0.2.2:40123 quiet\n";
        assert_eq!(server_from_cmdline(cmdline), Some(("10.0.2.2".into(), 40123)));
        assert_eq!(server_from_cmdline("console=ttyS0"), None);
        assert_eq!(server_from_cmdline("clockstorm.ntp=10.0.2.2"), None);
        assert_eq!(server_from_cmdline("clockstorm.ntpx=10.0.2.2:1"), None);
        assert_eq!(source_line("server {address} port {port} iburst", "10.0.2.2", 123), "server 10.0.2.2 port 123 iburst");
    }

    #[test]
    fn a_service_is_started_its_log_forwarded_and_its_exit_reported() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("svc.conf");
        std::fs::write(&config, "# given\n").unwrap();
        let (outbox, rx) = Outbox::new(64);
        let script = "echo one >&2; echo two >&2; exit 3";
        let launch = TimeServiceLaunch {
            name: "test".into(),
            net_modules: vec![],
            address: "10.0.2.15/24".into(),
            config_path: config.display().to_string(),
            source_line: "server {address} port {port}".into(),
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            dirs: vec![],
        };
        // The network part needs root and a device; the rest is checked here.
        let (program, args) = launch.argv.split_first().unwrap();
        let mut child = Command::new(program).args(args).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let stopping = AtomicBool::new(false);
        forward("test".into(), stderr, child, &stopping, &outbox);
        let msgs: Vec<GuestMessage> = rx.take_all().into_iter().collect();
        let lines: Vec<&str> = msgs.iter().filter_map(|m| if let GuestMessage::ServiceLog(l) = m { Some(l.line.as_str()) } else { None }).collect();
        assert_eq!(lines, ["one", "two"]);
        assert!(
            matches!(msgs.last(), Some(GuestMessage::Degraded { component, reason }) if component == "time-service" && reason.contains("exit status: 3")),
            "{msgs:?}"
        );
    }
}
