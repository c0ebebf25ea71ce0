//! cgroup v2 against the fake kernel.

use super::super::*;
use super::fake::{s, v2, v2_host};

#[test]
fn freeze_thaw_full_path() {
    let h = v2_host();
    let mut f = ThreadFreeze::freeze(&h.ctx(v2), "clockstorm-vcpu", 100, &[101, 102]).unwrap();
    let dir = h.cg().join("qemu.scope/clockstorm-vcpu");
    assert_eq!(f.cgroup_dir(), dir);
    assert_eq!(std::fs::read_to_string(dir.join("cgroup.type")).unwrap(), "threaded");
    assert_eq!(std::fs::read_to_string(dir.join("cgroup.threads")).unwrap(), "101\n102\n");
    assert!(std::fs::read_to_string(dir.join("cgroup.events")).unwrap().contains("frozen 1"));
    f.release().unwrap();
    assert!(!dir.exists());
    assert_eq!(
        h.kernel.writes_rel(&h.cg()),
        vec![
            s("qemu.scope/clockstorm-vcpu/cgroup.type", "threaded"),
            s("qemu.scope/clockstorm-vcpu/cgroup.threads", "101"),
            s("qemu.scope/clockstorm-vcpu/cgroup.threads", "102"),
            s("qemu.scope/clockstorm-vcpu/cgroup.freeze", "1"),
            s("qemu.scope/clockstorm-vcpu/cgroup.freeze", "0"),
            // Each thread goes back to where it was, not just to the parent.
            s("qemu.scope/io/cgroup.threads", "102"),
            s("qemu.scope/cgroup.threads", "101"),
        ]
    );
    f.release().unwrap();
    assert_eq!(h.kernel.writes().len(), 7);
}

#[test]
fn root_cgroup_is_refused_with_advice() {
    let h = v2_host();
    std::fs::write(h.proc().join("100/cgroup"), "0::/\n").unwrap();
    let err = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CgroupError::ProcessInRootCgroup { pid: 100, .. }), "{msg}");
    assert!(msg.contains("100/cgroup") && msg.contains("root cgroup") && msg.contains("systemd-run"), "{msg}");
    assert!(h.kernel.writes().is_empty());
}

#[test]
fn domain_controllers_in_parent_are_refused_before_mkdir() {
    let h = v2_host();
    h.cg_file("qemu.scope/cgroup.subtree_control", "memory pids");
    let err = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CgroupError::ThreadedNotAllowed { .. }), "{msg}");
    assert!(msg.contains("qemu.scope/cgroup.subtree_control") && msg.contains("\"memory\""), "{msg}");
    assert!(!h.cg().join("qemu.scope/cs").exists());
}

#[test]
fn kernel_refusing_threaded_removes_dir() {
    let h = v2_host();
    h.kernel.fail_write(h.cg().join("qemu.scope/cs/cgroup.type"), "threaded", libc::EOPNOTSUPP);
    let err = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CgroupError::ThreadedNotAllowed { .. }), "{msg}");
    assert!(msg.contains("qemu.scope/cs/cgroup.type") && msg.contains("threaded domain"), "{msg}");
    assert!(!h.cg().join("qemu.scope/cs").exists());
}

#[test]
fn second_thread_failing_moves_first_back() {
    let h = v2_host();
    h.kernel.fail_write(h.cg().join("qemu.scope/cs/cgroup.threads"), "102", libc::ESRCH);
    let err = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101, 102]).unwrap_err();
    assert!(matches!(err, CgroupError::NoSuchThread { tid: 102, .. }), "{err}");
    assert!(!h.cg().join("qemu.scope/cs").exists());
    assert_eq!(std::fs::read_to_string(h.cg().join("qemu.scope/cgroup.threads")).unwrap(), "101\n");
}

#[test]
fn missing_process_cgroup_dir_is_named() {
    let h = v2_host();
    std::fs::write(h.proc().join("100/cgroup"), "0::/gone.scope\n").unwrap();
    let msg = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101]).unwrap_err().to_string();
    assert!(msg.starts_with("reading ") && msg.contains("gone.scope/cgroup.subtree_control"), "{msg}");
}

#[test]
fn control_file_that_is_a_directory_is_named() {
    let h = v2_host();
    std::fs::remove_file(h.cg().join("qemu.scope/cgroup.subtree_control")).unwrap();
    std::fs::create_dir(h.cg().join("qemu.scope/cgroup.subtree_control")).unwrap();
    let msg = ThreadFreeze::freeze(&h.ctx(v2), "cs", 100, &[101]).unwrap_err().to_string();
    assert!(msg.contains("qemu.scope/cgroup.subtree_control failed"), "{msg}");
}

#[test]
fn cpu_quota_enables_cpu_sets_max_and_restores() {
    let h = v2_host();
    let q = CpuQuota::apply(&h.ctx(v2), "cs-cpu", 100, &[101], CpuLimit { percent: 25, period_us: 50_000 }).unwrap();
    let dir = h.cg().join("qemu.scope/cs-cpu");
    assert_eq!(std::fs::read_to_string(dir.join("cpu.max")).unwrap(), "12500 50000");
    assert_eq!(q.limit().quota_us(), 12500);
    assert_eq!(std::fs::read_to_string(h.cg().join("qemu.scope/cgroup.subtree_control")).unwrap(), "cpu");
    std::fs::write(dir.join("cpu.stat"), "usage_usec 9\nnr_periods 7\nnr_throttled 3\nthrottled_usec 5\n").unwrap();
    assert_eq!(q.finish().unwrap(), ThrottleStats { nr_periods: 7, nr_throttled: 3, throttled_ns: 5000 });
    assert!(!dir.exists());
    assert_eq!(std::fs::read_to_string(h.cg().join("qemu.scope/cgroup.subtree_control")).unwrap(), "");
    assert_eq!(
        h.kernel.writes_rel(&h.cg()),
        vec![
            s("qemu.scope/cs-cpu/cgroup.type", "threaded"),
            s("qemu.scope/cgroup.subtree_control", "+cpu"),
            s("qemu.scope/cs-cpu/cgroup.threads", "101"),
            s("qemu.scope/cs-cpu/cpu.max", "12500 50000"),
            s("qemu.scope/cs-cpu/cpu.max", "max 50000"),
            s("qemu.scope/cgroup.threads", "101"),
            s("qemu.scope/cgroup.subtree_control", "-cpu"),
        ]
    );
}

#[test]
fn cpu_already_enabled_is_left_enabled() {
    let h = v2_host();
    h.cg_file("qemu.scope/cgroup.subtree_control", "cpu pids");
    let q = CpuQuota::apply(&h.ctx(v2), "cs-cpu", 100, &[101], CpuLimit::percent(50)).unwrap();
    drop(q);
    assert_eq!(std::fs::read_to_string(h.cg().join("qemu.scope/cgroup.subtree_control")).unwrap(), "cpu pids");
    assert!(!h.kernel.writes_rel(&h.cg()).iter().any(|(p, _)| p == "qemu.scope/cgroup.subtree_control"));
}

#[test]
fn cpu_controller_unavailable_is_named() {
    let h = v2_host();
    h.cg_file("qemu.scope/cgroup.controllers", "pids");
    let err = CpuQuota::apply(&h.ctx(v2), "cs-cpu", 100, &[101], CpuLimit::percent(50)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("cpu controller not available in {}/qemu.scope/cgroup.controllers", h.cg().display())), "{msg}");
    assert!(!h.cg().join("qemu.scope/cs-cpu").exists());
}
