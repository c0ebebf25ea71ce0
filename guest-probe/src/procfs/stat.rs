//! Parser for `/proc/stat`.
//!
//! ```text
//! cpu  65876 0 8787 209945 917 0 138 14 0 0
//! cpu0 33001 0 3970 105493 151 0 35 6 0 0
//! ...
//! ctxt 1171286
//! btime 1795621241
//! ```
//!
//! The `cpu` lines hold cumulative times in `USER_HZ` ticks (almost always
//! 1/100 s, see `sysconf(_SC_CLK_TCK)`), in the column order user, nice,
//! system, idle, iowait (2.5.41+), irq, softirq (2.6.0+), steal (2.6.11+),
//! guest (2.6.24+), guest_nice (2.6.33+). Older kernels print fewer columns;
//! the missing ones read as 0.
//!
//! Everything here is pure and never panics; malformed input yields `None`
//! or skips the offending line.

/// Cumulative CPU times from one `cpu`/`cpuN` line of `/proc/stat`, in
/// `USER_HZ` ticks. Columns the kernel does not print are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time in user mode (includes `guest`).
    pub user: u64,
    /// Time in user mode at low priority (includes `guest_nice`).
    pub nice: u64,
    /// Time in kernel mode.
    pub system: u64,
    /// Time idle.
    pub idle: u64,
    /// Time idle waiting for I/O (not reliable; see proc(5)).
    pub iowait: u64,
    /// Time servicing hard interrupts.
    pub irq: u64,
    /// Time servicing soft interrupts.
    pub softirq: u64,
    /// Time stolen by the hypervisor while this (virtual) CPU wanted to run.
    pub steal: u64,
    /// Time running a virtual CPU for a guest (already counted in `user`).
    pub guest: u64,
    /// Time running a niced guest (already counted in `nice`).
    pub guest_nice: u64,
}

impl CpuTimes {
    /// Sum of all non-overlapping columns (everything except `guest` and
    /// `guest_nice`, which the kernel already folds into `user` and `nice`).
    /// Saturates instead of overflowing.
    pub fn total(&self) -> u64 {
        [self.user, self.nice, self.system, self.idle, self.iowait, self.irq, self.softirq, self.steal]
            .iter()
            .fold(0u64, |acc, v| acc.saturating_add(*v))
    }

    /// Parses the numbers after the `cpu`/`cpuN` label. Needs at least the
    /// four columns every kernel prints (user nice system idle); extra
    /// columns beyond the ten known ones are ignored.
    fn parse_fields(rest: &str) -> Option<CpuTimes> {
        let mut v = [0u64; 10];
        let mut n = 0usize;
        for tok in rest.split_ascii_whitespace() {
            if n == v.len() {
                break;
            }
            v[n] = tok.parse().ok()?;
            n += 1;
        }
        if n < 4 {
            return None;
        }
        Some(CpuTimes {
            user: v[0],
            nice: v[1],
            system: v[2],
            idle: v[3],
            iowait: v[4],
            irq: v[5],
            softirq: v[6],
            steal: v[7],
            guest: v[8],
            guest_nice: v[9],
        })
    }
}

/// The aggregate `cpu` line and the `cpuN` lines, in file order.
///
/// Returns `None` if the aggregate line is missing or malformed. A malformed
/// `cpuN` line is skipped. The per-CPU list only has *online* CPUs, so with
/// CPUs offline its index is not the CPU number (see [`cpu_times_into`]).
pub fn cpu_times(text: &str) -> Option<(CpuTimes, Vec<CpuTimes>)> {
    let mut per_cpu = Vec::new();
    let all = cpu_times_into(text, &mut per_cpu)?;
    Some((all, per_cpu.into_iter().map(|(_, t)| t).collect()))
}

/// Like [`cpu_times`], but fills `per_cpu` (cleared first) with
/// `(cpu number, times)` pairs so that a caller sampling at a fixed rate can
/// reuse one allocation, and so offline CPUs cannot shift indices.
/// Returns the aggregate `cpu` line, or `None` if it is missing/malformed.
pub fn cpu_times_into(text: &str, per_cpu: &mut Vec<(u32, CpuTimes)>) -> Option<CpuTimes> {
    per_cpu.clear();
    let mut all = None;
    let mut seen_cpu = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            // The cpu lines come first; stop at the first other line after them.
            if seen_cpu {
                break;
            }
            continue;
        };
        seen_cpu = true;
        let (label, fields) = rest.split_at(rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len()));
        if label.is_empty() {
            if all.is_none() {
                all = CpuTimes::parse_fields(fields);
            }
        } else if let (Ok(id), Some(t)) = (label.parse::<u32>(), CpuTimes::parse_fields(fields)) {
            per_cpu.push((id, t));
        }
    }
    all
}

/// Value of a `key value` line such as `ctxt 1171286` (first match).
/// Returns `None` if there is no such line or the value is not a `u64`.
pub fn field(text: &str, key: &str) -> Option<u64> {
    if key.is_empty() {
        return None;
    }
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        // Require a separator so "procs" does not match "procs_running".
        if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
            return None;
        }
        rest.split_ascii_whitespace().next()?.parse().ok()
    })
}

/// Boot time (`btime`), in seconds since the Unix epoch. Note the kernel
/// derives it from the current realtime clock minus uptime, so it moves when
/// `CLOCK_REALTIME` is stepped.
pub fn btime(text: &str) -> Option<u64> {
    field(text, "btime")
}

/// Total context switches since boot (`ctxt`).
pub fn ctxt(text: &str) -> Option<u64> {
    field(text, "ctxt")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's /proc/stat (2 vCPUs, 6.18, 10 columns).
    const HOST_2CPU: &str = include_str!("../../tests/fixtures/procfs/host-2cpu-stat.txt");
    /// Hand-written 2.6.11-2.6.23-era /proc/stat (8 columns, no guest*).
    const OLD_2CPU: &str = include_str!("../../tests/fixtures/procfs/old-kernel-2cpu-stat.txt");

    fn ct(v: [u64; 10]) -> CpuTimes {
        CpuTimes { user: v[0], nice: v[1], system: v[2], idle: v[3], iowait: v[4], irq: v[5], softirq: v[6], steal: v[7], guest: v[8], guest_nice: v[9] }
    }

    /// (fixture, aggregate, per-CPU, btime, ctxt)
    #[allow(clippy::type_complexity)]
    const CASES: &[(&str, [u64; 10], &[[u64; 10]], u64, u64)] = &[
        (
            HOST_2CPU,
            // awk '$1=="cpu"{$1="";print}' host-2cpu-stat.txt -> 65879 0 8800 210680 920 0 139 14 0 0
            [65879, 0, 8800, 210680, 920, 0, 139, 14, 0, 0],
            &[
                // awk '$1=="cpu0"{$1="";print}' host-2cpu-stat.txt -> 33003 0 3974 105862 151 0 35 6 0 0
                [33003, 0, 3974, 105862, 151, 0, 35, 6, 0, 0],
                // awk '$1=="cpu1"{$1="";print}' host-2cpu-stat.txt -> 32876 0 4825 104818 768 0 103 8 0 0
                [32876, 0, 4825, 104818, 768, 0, 103, 8, 0, 0],
            ],
            // awk '$1=="btime"{print $2}' host-2cpu-stat.txt -> 1795621241
            1795621241,
            // awk '$1=="ctxt"{print $2}' host-2cpu-stat.txt -> 1171980
            1171980,
        ),
        (
            OLD_2CPU,
            // awk '$1=="cpu"{print NF-1; $1="";print}' old-kernel-2cpu-stat.txt -> 8 / 135982 1024 47511 8412235 23310 1203 4405 0
            [135982, 1024, 47511, 8412235, 23310, 1203, 4405, 0, 0, 0],
            &[
                // awk '$1=="cpu0"{$1="";print}' old-kernel-2cpu-stat.txt -> 70112 512 24876 4203001 11950 1100 3011 0
                [70112, 512, 24876, 4203001, 11950, 1100, 3011, 0, 0, 0],
                // awk '$1=="cpu1"{$1="";print}' old-kernel-2cpu-stat.txt -> 65870 512 22635 4209234 11360 103 1394 0
                [65870, 512, 22635, 4209234, 11360, 103, 1394, 0, 0, 0],
            ],
            // awk '$1=="btime"{print $2}' old-kernel-2cpu-stat.txt -> 1199145600
            1199145600,
            // awk '$1=="ctxt"{print $2}' old-kernel-2cpu-stat.txt -> 27183818
            27183818,
        ),
    ];

    #[test]
    fn fixtures() {
        for (i, (text, all, per, bt, cs)) in CASES.iter().enumerate() {
            let (a, p) = cpu_times(text).unwrap_or_else(|| panic!("case {i}: no cpu line"));
            assert_eq!(a, ct(*all), "case {i}: aggregate");
            let want: Vec<CpuTimes> = per.iter().map(|v| ct(*v)).collect();
            assert_eq!(p, want, "case {i}: per-cpu");
            assert_eq!(btime(text), Some(*bt), "case {i}: btime");
            assert_eq!(ctxt(text), Some(*cs), "case {i}: ctxt");
        }
    }

    #[test]
    fn aggregate_is_per_cpu_sum_up_to_rounding() {
        // The kernel converts the summed nanoseconds to ticks once for the
        // aggregate line but each CPU's separately (rounding down), so per
        // column 0 <= aggregate - sum(per-CPU) < number of CPUs.
        // e.g. host system: 8800 vs 3974 + 4825 = 8799.
        for (text, ..) in CASES {
            let (a, p) = cpu_times(text).unwrap();
            let col = |t: &CpuTimes| [t.user, t.nice, t.system, t.idle, t.iowait, t.irq, t.softirq, t.steal, t.guest, t.guest_nice];
            for k in 0..10 {
                let sum: u64 = p.iter().map(|t| col(t)[k]).sum();
                let agg = col(&a)[k];
                assert!(agg >= sum && agg - sum < p.len() as u64, "column {k}: {agg} vs {sum}");
            }
        }
    }

    #[test]
    fn total_excludes_guest() {
        let t = ct([1, 2, 3, 4, 5, 6, 7, 8, 100, 1000]);
        assert_eq!(t.total(), 36);
        assert_eq!(ct([u64::MAX, 1, 0, 0, 0, 0, 0, 0, 0, 0]).total(), u64::MAX);
    }

    #[test]
    fn ids_and_offline_cpus() {
        let text = "cpu  4 0 0 4\ncpu0 1 0 0 1\ncpu3 3 0 0 3\nintr 0\n";
        let mut v = Vec::new();
        let all = cpu_times_into(text, &mut v).unwrap();
        assert_eq!(all.user, 4);
        assert_eq!(v.iter().map(|(id, t)| (*id, t.user)).collect::<Vec<_>>(), [(0, 1), (3, 3)]);
    }

    #[test]
    fn malformed() {
        assert_eq!(cpu_times(""), None);
        assert_eq!(cpu_times("cpu 1 2 3\n"), None); // fewer than 4 columns
        assert_eq!(cpu_times("cpu 1 2 x 4\n"), None);
        assert_eq!(cpu_times("cpu 1 2 3 99999999999999999999\n"), None);
        // malformed cpuN is skipped, later ones kept; extra columns ignored
        let (a, p) = cpu_times("cpu 1 2 3 4 5 6 7 8 9 10 11 12\ncpuX 1 1 1 1\ncpu1 1 1\ncpu2 5 5 5 5\n").unwrap();
        assert_eq!(a, ct([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        assert_eq!(p, [ct([5, 5, 5, 5, 0, 0, 0, 0, 0, 0])]);
        assert_eq!(ctxt("ctxt\n"), None);
        assert_eq!(ctxt("ctxt x\n"), None);
        assert_eq!(ctxt("ctxtx 5\nctxt 6"), Some(6));
        assert_eq!(field("procs_running 2\n", "procs"), None);
        assert_eq!(field("a 1\n", ""), None);
        assert_eq!(btime("no\nnewline\nbtime 7"), Some(7));
    }
}
