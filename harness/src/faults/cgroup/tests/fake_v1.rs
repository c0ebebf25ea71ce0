//! cgroup v1 against the fake kernel.

use super::super::*;
use super::fake::{s, v1, v1_host};

#[test]
fn freeze_thaw_moves_back_to_origin_and_removes_dir() {
    let h = v1_host();
    let ctx = h.ctx(v1);
    let mut f = ThreadFreeze::freeze(&ctx, "cs-100-vcpu", 100, &[101, 102]).unwrap();
    let dir = h.cg().join("freezer/cs-100-vcpu");
    assert_eq!(f.cgroup_dir(), dir);
    assert_eq!(std::fs::read_to_string(dir.join("freezer.state")).unwrap(), "FROZEN");
    assert_eq!(std::fs::read_to_string(dir.join("tasks")).unwrap(), "101\n102\n");
    assert!(!f.is_released());

    f.release().unwrap();
    assert!(!dir.exists());
    assert!(f.is_released());
    assert_eq!(
        h.kernel.writes_rel(&h.cg()),
        vec![
            s("freezer/cs-100-vcpu/tasks", "101"),
            s("freezer/cs-100-vcpu/tasks", "102"),
            s("freezer/cs-100-vcpu/freezer.state", "FROZEN"),
            s("freezer/cs-100-vcpu/freezer.state", "THAWED"),
            s("freezer/tasks", "102"),
            s("freezer/orig/tasks", "101"),
        ]
    );
    // Idempotent: nothing more is written.
    f.release().unwrap();
    drop(f);
    assert_eq!(h.kernel.writes().len(), 6);
}

#[test]
fn drop_releases() {
    let h = v1_host();
    let dir = h.cg().join("freezer/cs");
    {
        let _f = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101]).unwrap();
        assert!(dir.exists());
    }
    assert!(!dir.exists());
    assert_eq!(std::fs::read_to_string(h.cg().join("freezer/orig/tasks")).unwrap(), "101\n");
}

#[test]
fn second_tid_failing_moves_first_back_and_removes_dir() {
    let h = v1_host();
    let tasks = h.cg().join("freezer/cs/tasks");
    h.kernel.fail_write(&tasks, "102", libc::EINVAL);
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101, 102]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"102\"") && msg.contains(&tasks.display().to_string()), "{msg}");
    assert!(!h.cg().join("freezer/cs").exists());
    assert_eq!(h.kernel.writes_rel(&h.cg()), vec![s("freezer/cs/tasks", "101"), s("freezer/orig/tasks", "101")]);
}

#[test]
fn missing_proc_entry_for_second_tid_is_cleaned_up() {
    let h = v1_host();
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101, 999]).unwrap_err();
    assert!(matches!(err, CgroupError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/100/task/999/cgroup"), "{err}");
    assert!(!h.cg().join("freezer/cs").exists());
    assert_eq!(std::fs::read_to_string(h.cg().join("freezer/orig/tasks")).unwrap(), "101\n");
}

#[test]
fn freeze_timeout_thaws_and_cleans_up() {
    let h = v1_host();
    h.kernel.stuck_freezing.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CgroupError::Timeout { .. }), "{msg}");
    assert!(msg.contains("freezer/cs/freezer.state") && msg.contains("\"FROZEN\"") && msg.contains("\"FREEZING\""), "{msg}");
    assert_eq!(
        h.kernel.writes_rel(&h.cg()),
        vec![
            s("freezer/cs/tasks", "101"),
            s("freezer/cs/freezer.state", "FROZEN"),
            s("freezer/cs/freezer.state", "THAWED"),
            s("freezer/orig/tasks", "101"),
        ]
    );
    assert!(!h.cg().join("freezer/cs").exists());
}

#[test]
fn missing_freezer_controller_is_named() {
    let h = v1_host();
    std::fs::remove_dir_all(h.cg().join("freezer")).unwrap();
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("freezer controller not mounted at {}/freezer (cgroup v1): mount it or use a host with cgroup v2", h.cg().display())
    );
    assert!(h.kernel.writes().is_empty());
}

#[test]
fn existing_dir_is_reported_and_left_alone() {
    let h = v1_host();
    h.cg_file("freezer/cs/tasks", "555\n");
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101]).unwrap_err();
    assert!(matches!(err, CgroupError::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("freezer/cs already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(h.cg().join("freezer/cs/tasks")).unwrap(), "555\n");
}

#[test]
fn permission_denied_names_file_and_value() {
    let h = v1_host();
    let state = h.cg().join("freezer/cs/freezer.state");
    h.kernel.fail_write(&state, "FROZEN", libc::EACCES);
    let err = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("permission denied writing FROZEN to {}", state.display())) && msg.contains("run as root"), "{msg}");
    assert!(!h.cg().join("freezer/cs").exists());
}

#[test]
fn cleanup_continues_past_a_failed_step() {
    let h = v1_host();
    // The origin's tasks "file" is a directory: moving 101 back fails (EISDIR).
    std::fs::remove_file(h.cg().join("freezer/orig/tasks")).unwrap();
    std::fs::create_dir(h.cg().join("freezer/orig/tasks")).unwrap();
    let mut f = ThreadFreeze::freeze(&h.ctx(v1), "cs", 100, &[101, 102]).unwrap();
    let err = f.release().unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("cgroup cleanup incomplete: writing \"101\" to "), "{msg}");
    assert!(msg.contains("freezer/orig/tasks"), "{msg}");
    // The other thread still went back and the directory was still removed.
    assert_eq!(std::fs::read_to_string(h.cg().join("freezer/tasks")).unwrap(), "102\n");
    assert!(!h.cg().join("freezer/cs").exists());
    f.release().unwrap();
}

#[test]
fn cpu_quota_writes_period_quota_and_reads_stats() {
    let h = v1_host();
    let ctx = h.ctx(v1);
    let q = CpuQuota::apply(&ctx, "cs-cpu", 100, &[101, 102], CpuLimit::percent(20)).unwrap();
    let dir = h.cg().join("cpu/cs-cpu");
    assert_eq!(q.cgroup_dir(), dir);
    std::fs::write(dir.join("cpu.stat"), "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\nnr_bursts 0\n").unwrap();
    let stats = q.finish().unwrap();
    assert_eq!(stats, ThrottleStats { nr_periods: 10, nr_throttled: 4, throttled_ns: 123456 });
    assert!(!dir.exists());
    assert_eq!(
        h.kernel.writes_rel(&h.cg()),
        vec![
            s("cpu/cs-cpu/tasks", "101"),
            s("cpu/cs-cpu/tasks", "102"),
            s("cpu/cs-cpu/cpu.cfs_period_us", "100000"),
            s("cpu/cs-cpu/cpu.cfs_quota_us", "20000"),
            // Quota lifted before the threads move back.
            s("cpu/cs-cpu/cpu.cfs_quota_us", "-1"),
            s("cpu/tasks", "102"),
            s("cpu/tasks", "101"),
        ]
    );
}

#[test]
fn cpu_stat_missing_field_is_named() {
    let h = v1_host();
    let q = CpuQuota::apply(&h.ctx(v1), "cs-cpu", 100, &[101], CpuLimit::percent(50)).unwrap();
    std::fs::write(q.cgroup_dir().join("cpu.stat"), "nr_periods 1\nnr_throttled 0\n").unwrap();
    let msg = q.stats().unwrap_err().to_string();
    assert!(msg.contains("cpu.stat") && msg.contains("no numeric throttled_time line"), "{msg}");
}

#[test]
fn bad_arguments_are_rejected_before_touching_anything() {
    let h = v1_host();
    let ctx = h.ctx(v1);
    assert!(matches!(ThreadFreeze::freeze(&ctx, "a/b", 100, &[101]), Err(CgroupError::InvalidArgument(_))));
    assert!(matches!(ThreadFreeze::freeze(&ctx, "..", 100, &[101]), Err(CgroupError::InvalidArgument(_))));
    assert!(matches!(ThreadFreeze::freeze(&ctx, "cs", 100, &[]), Err(CgroupError::InvalidArgument(_))));
    let bad = CpuLimit { percent: 0, period_us: 100_000 };
    assert!(matches!(CpuQuota::apply(&ctx, "cs", 100, &[101], bad), Err(CgroupError::InvalidArgument(_))));
    let tiny = CpuLimit { percent: 1, period_us: 10_000 };
    assert!(matches!(CpuQuota::apply(&ctx, "cs", 100, &[101], tiny), Err(CgroupError::InvalidArgument(_))));
    assert!(h.kernel.writes().is_empty());
}
