use std::path::Path;
use std::time::Duration;

use super::*;

fn roots(dir: &Path) -> Roots {
    Roots { cgroup: dir.join("cgroup"), proc: "/proc".into(), tmp: dir.join("tmp") }
}

#[test]
fn cgroup_names_carry_the_pid() {
    assert_eq!(cgroups::pid_of("clockstorm-1234-vcpu"), Some(1234));
    assert_eq!(cgroups::pid_of("clockstorm-1234-starve"), Some(1234));
    assert_eq!(cgroups::pid_of("clockstorm-x-vcpu"), None);
    assert_eq!(cgroups::pid_of("clockstorm-1234"), None);
    assert_eq!(cgroups::pid_of("user.slice"), None);
}

#[test]
fn guest_command_lines_are_recognised() {
    assert!(processes::is_guest_cmdline(&["/usr/bin/qemu-system-x86_64", "-qmp", "unix:/tmp/clockstorm-Ab12/qmp.sock,server=on"]));
    assert!(processes::is_guest_cmdline(&["/x/target/debug/clockstorm", "fake-guest", "--data", "/tmp/clockstorm-A/data.sock"]));
    assert!(!processes::is_guest_cmdline(&["/usr/bin/qemu-system-x86_64", "-qmp", "unix:/run/libvirt/qmp.sock"]));
    assert!(!processes::is_guest_cmdline(&["/x/clockstorm", "run", "idle"]));
    assert!(!processes::is_guest_cmdline(&[]));
}

#[test]
fn a_frozen_cgroup_of_a_gone_process_is_thawed_and_its_quota_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let freezer = dir.path().join("cgroup/freezer");
    let cpu = dir.path().join("cgroup/cpu");
    std::fs::create_dir_all(&freezer).unwrap();
    std::fs::create_dir_all(&cpu).unwrap();
    std::fs::write(freezer.join("tasks"), "").unwrap();
    std::fs::write(cpu.join("tasks"), "").unwrap();
    let frozen = freezer.join(format!("clockstorm-{}-vcpu", u32::MAX - 1));
    std::fs::create_dir(&frozen).unwrap();
    std::fs::write(frozen.join("freezer.state"), "FROZEN").unwrap();
    std::fs::write(frozen.join("tasks"), "").unwrap();
    let limited = cpu.join(format!("clockstorm-{}-starve", u32::MAX - 1));
    std::fs::create_dir(&limited).unwrap();
    std::fs::write(limited.join("cpu.cfs_quota_us"), "20000").unwrap();
    // Not ours: left alone whatever it holds.
    let other = freezer.join("machine");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("freezer.state"), "FROZEN").unwrap();

    let mut found = cgroups::sweep_with(&roots(dir.path()), Duration::ZERO);
    found.sort_by(|a, b| a.what.cmp(&b.what));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(std::fs::read_to_string(frozen.join("freezer.state")).unwrap(), "THAWED");
    assert_eq!(std::fs::read_to_string(limited.join("cpu.cfs_quota_us")).unwrap(), "-1");
    assert_eq!(std::fs::read_to_string(other.join("freezer.state")).unwrap(), "FROZEN");
    assert!(found[0].what.contains("(CPU quota 20000 µs)"), "{found:#?}");
    assert!(found[1].what.contains("(FROZEN)"), "{found:#?}");
    // A plain tempdir is not cgroupfs: its control files keep rmdir from
    // succeeding, and the finding says so rather than claiming removal.
    assert!(found[1].done.starts_with("thawed, could not remove it"), "{found:#?}");
}

#[test]
fn private_dirs_go_only_when_their_harness_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let dead = tmp.join("clockstorm-dead");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join("owner"), format!("{} 1\n", u32::MAX - 1)).unwrap();
    std::fs::write(dead.join("qmp.sock"), "").unwrap();
    let live = tmp.join("clockstorm-live");
    std::fs::create_dir(&live).unwrap();
    let _watch = own_private_dir(&live).unwrap();
    let fresh_unowned = tmp.join("clockstorm-fresh");
    std::fs::create_dir(&fresh_unowned).unwrap();
    std::fs::write(fresh_unowned.join("data.sock"), "").unwrap();
    let unrelated = tmp.join("other-dir");
    std::fs::create_dir(&unrelated).unwrap();

    let found = private_dirs::sweep(&roots(dir.path()));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].what.contains("clockstorm-dead") && found[0].what.contains("is gone"), "{found:#?}");
    assert_eq!(found[0].done, "removed");
    assert!(!dead.exists() && live.exists() && fresh_unowned.exists() && unrelated.exists());
}

#[test]
fn this_test_process_is_not_held_by_a_harness() {
    // Its parent is the test runner, not clockstorm.
    assert!(!held_by_live_harness(Path::new("/proc"), std::process::id()));
    assert!(!held_by_live_harness(Path::new("/proc"), u32::MAX - 1));
}
