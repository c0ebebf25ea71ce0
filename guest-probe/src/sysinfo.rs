//! What the guest says about itself, read from /proc and /sys.

use std::fs;

use clockstorm_protocol::ClocksourceState;

const CLOCKSOURCE_DIR: &str = "/sys/devices/system/clocksource/clocksource0";

/// `uname -r`.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into())
}

/// Current and available clocksources from sysfs.
pub fn clocksource_state() -> std::io::Result<ClocksourceState> {
    let current = fs::read_to_string(format!("{CLOCKSOURCE_DIR}/current_clocksource"))?;
    let available = fs::read_to_string(format!("{CLOCKSOURCE_DIR}/available_clocksource"))?;
    Ok(ClocksourceState { current: current.trim().to_owned(), available: available.split_whitespace().map(str::to_owned).collect() })
}

/// Number of CPUs this process may run on.
pub fn vcpus() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
}

/// TSC-related flags of the first CPU in /proc/cpuinfo.
pub fn tsc_flags() -> Vec<String> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    tsc_flags_from_cpuinfo(&cpuinfo)
}

/// Picks the flags that decide how far the kernel trusts the TSC.
pub fn tsc_flags_from_cpuinfo(cpuinfo: &str) -> Vec<String> {
    const INTERESTING: &[&str] =
        &["tsc", "rdtscp", "constant_tsc", "nonstop_tsc", "tsc_known_freq", "tsc_reliable", "tsc_deadline_timer", "tsc_adjust", "invtsc"];
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags")).and_then(|l| l.split_once(':')).map(|(_, f)| f).unwrap_or("");
    flags.split_whitespace().filter(|f| INTERESTING.contains(f)).map(str::to_owned).collect()
}

/// Peak resident set size (VmHWM) of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU time of this process, in ms.
pub fn cpu_time_ms() -> (u64, u64) {
    // SAFETY: an all-zero rusage is valid storage for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid and writable.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let ms = |tv: libc::timeval| tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000;
    (ms(ru.ru_utime), ms(ru.ru_stime))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tsc_flags_are_picked_from_the_flags_line() {
        let cpuinfo = "processor\t: 0\nflags\t\t: fpu tsc msr constant_tsc rdtscp nonstop_tsc sse\n";
        assert_eq!(super::tsc_flags_from_cpuinfo(cpuinfo), vec!["tsc", "constant_tsc", "rdtscp", "nonstop_tsc"]);
    }
}
