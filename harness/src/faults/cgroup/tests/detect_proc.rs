//! Detection and /proc parsing on fake trees.

use std::path::Path;

use super::super::*;
use super::fake::{v1_host, v2_host, FakeHost};

#[test]
fn detects_v1_v2_and_nothing() {
    let h1 = v1_host();
    assert_eq!(detect(&h1.cg()).unwrap(), Hierarchy::V1 { root: h1.cg() });
    let h2 = v2_host();
    assert_eq!(detect(&h2.cg()).unwrap(), Hierarchy::V2 { root: h2.cg() });
    let empty = FakeHost::new();
    let msg = detect(&empty.cg()).unwrap_err().to_string();
    assert!(msg.contains("cgroup.controllers") && msg.contains("freezer"), "{msg}");
}

#[test]
fn v1_controller_needs_tasks_file() {
    let h = FakeHost::new();
    std::fs::create_dir(h.cg().join("cpu")).unwrap(); // bare dir on a tmpfs: not mounted
    let hier = detect(&h.cg()).unwrap();
    assert!(matches!(hier.v1_controller_dir("cpu"), Err(CgroupError::ControllerNotMounted { .. })));
}

#[test]
fn stat_state_survives_odd_comm() {
    let h = FakeHost::new();
    let task = h.proc().join("7/task/8");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::write(task.join("stat"), "8 (a b) c) D 1 2 3").unwrap();
    std::fs::write(task.join("schedstat"), "123456 789 10\n").unwrap();
    std::fs::create_dir_all(h.proc().join("7/task/9")).unwrap();
    assert_eq!(thread_state(&h.proc(), 7, 8).unwrap(), 'D');
    assert_eq!(thread_states(&h.proc(), 7, &[8]).unwrap(), vec![(8, 'D')]);
    assert_eq!(thread_run_time_ns(&h.proc(), 7, 8).unwrap(), 123456);
    assert_eq!(thread_ids(&h.proc(), 7).unwrap(), vec![8, 9]);
    assert!(thread_state(&h.proc(), 7, 9).unwrap_err().to_string().contains("7/task/9/stat"));
}

#[test]
fn cgroup_lines_are_parsed() {
    let h = v1_host();
    assert_eq!(v1_cgroup_of_thread(&h.proc(), 100, 101, "freezer").unwrap(), "/orig");
    assert_eq!(v1_cgroup_of_thread(&h.proc(), 100, 101, "cpuacct").unwrap(), "/");
    let msg = v1_cgroup_of_thread(&h.proc(), 100, 101, "blkio").unwrap_err().to_string();
    assert!(msg.contains("no line for the blkio controller"), "{msg}");
    let (cg, _) = v2_cgroup_of_process(&h.proc(), 100).unwrap();
    assert_eq!(cg, "/");
}

#[test]
fn this_host_is_detected() {
    // The CI host: v1 controllers under /sys/fs/cgroup (a v2 host would say V2).
    let hier = detect(Path::new(DEFAULT_CGROUP_ROOT)).unwrap();
    assert_eq!(hier.root(), Path::new("/sys/fs/cgroup"));
}
