//! Bad input: a clear message naming what was wrong, the documented exit
//! code, and no guest started.

use std::process::Command;

use crate::support::*;

const USAGE: i32 = 2;
const ENVIRONMENT: i32 = 5;

fn assert_fails(args: &[&str], code: i32, needle: &str) {
    let (_out, o) = clockstorm(args);
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    assert!(!stderr.contains("[1/"), "no guest may start: {stderr}");
}

#[test]
fn unknown_clocksource_is_a_usage_error_naming_the_value_and_the_choices() {
    assert_fails(&["run", "idle", "--clocksource", "tsc,hpte"], USAGE, "unknown clocksource \"hpte\": expected one of tsc, hpet, acpi_pm, kvm-clock");
}

#[test]
fn a_clocksource_named_twice_is_a_usage_error() {
    assert_fails(&["run", "idle", "--clocksource", "tsc,hpet,tsc"], USAGE, "--clocksource: tsc is named twice");
}

#[test]
fn missing_kernel_path_is_a_usage_error() {
    assert_fails(&["run", "idle", "--kernel", "/nonexistent/vmlinuz"], USAGE, "/nonexistent/vmlinuz");
}

#[test]
fn a_file_that_is_not_a_kernel_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("vmlinuz");
    std::fs::write(&fake, vec![0u8; 4096]).unwrap();
    assert_fails(&["run", "idle", "--kernel", fake.to_str().unwrap()], USAGE, "is not an x86 bzImage");
}

#[test]
fn missing_qemu_is_an_environment_error_with_the_fix() {
    assert_fails(&["run", "idle", "--qemu", "/nonexistent/qemu-system-x86_64"], ENVIRONMENT, "apt-get install qemu-system-x86");
}

#[test]
fn unwritable_output_directory_is_an_environment_error() {
    // Under a regular file: not creatable even for root.
    let o = Command::new(BIN).args(["run", "idle", "--out", "/etc/hostname/results"]).output().unwrap();
    assert_eq!(o.status.code(), Some(ENVIRONMENT), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("output directory /etc/hostname/results is not writable"), "{}", text(&o));
}

#[test]
fn bad_scenario_key_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(dir.path(), "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[probe]\nduraton = \"2s\"\n");
    assert_fails(&["run", scenario.to_str().unwrap()], USAGE, "line 5");
    assert_fails(&["run", scenario.to_str().unwrap()], USAGE, "duraton");
}

#[test]
fn bad_duration_flag_is_a_usage_error() {
    assert_fails(&["run", "idle", "--duration", "10"], USAGE, "--duration: \"10\" has no unit");
}

/// Bad input is found before the host is asked for anything: on a machine
/// without QEMU (none in PATH, none named) it still exits 2 with its own
/// message, not 5 for the missing QEMU.
#[test]
fn bad_input_exits_2_on_a_machine_without_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_kernel = dir.path().join("vmlinuz");
    std::fs::write(&not_a_kernel, vec![0u8; 4096]).unwrap();
    let bad_key = scenario_file(dir.path(), "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[probe]\nduraton = \"2s\"\n");
    let cases: [(&[&str], &str); 5] = [
        (&["run", "idle", "--duration", "10"], "--duration: \"10\" has no unit"),
        (&["run", "idle", "--clocksource", "hpte"], "unknown clocksource \"hpte\""),
        (&["run", "idle", "--kernel", "/nonexistent/vmlinuz"], "--kernel: kernel file /nonexistent/vmlinuz does not exist"),
        (&["run", "idle", "--kernel", not_a_kernel.to_str().unwrap()], "is not an x86 bzImage"),
        (&["run", bad_key.to_str().unwrap()], "duraton"),
    ];
    for (args, needle) in cases {
        let o = Command::new(BIN).args(args).env("PATH", "/nonexistent").env_remove("CLOCKSTORM_QEMU").output().unwrap();
        assert_eq!(o.status.code(), Some(USAGE), "{args:?}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in:\n{stderr}");
        assert!(!stderr.contains("QEMU not found"), "{args:?}: {stderr}");
    }
}

/// A scenario with a time service, written to a private directory.
fn time_service_scenario(service: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ntp.toml");
    let text = format!(
        "name = \"ntp\"\ndescription = \"x\"\nclocksources = [\"tsc\"]\nseed = 1\nfaults = []\n\n[guest]\n{service}\n\n[probe]\nduration = \"2s\"\n"
    );
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

#[test]
fn an_unknown_time_service_is_a_usage_error_naming_file_line_and_value() {
    let (_dir, file) = time_service_scenario("time_service = \"ntpd\"");
    assert_fails(&["run", file.to_str().unwrap()], USAGE, "ntp.toml");
    let (_out, o) = clockstorm(&["run", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 8") && stderr.contains("ntpd") && stderr.contains("chrony"), "{stderr}");
}

/// chrony's own verdict on the configuration, before any guest boots (on
/// the real backend: the check runs the chronyd the guests would get).
#[test]
fn a_configuration_chrony_rejects_is_a_usage_error_with_chronys_message() {
    let (_dir, file) = time_service_scenario("time_service = { kind = \"chrony\", directives = [\"makestep banana\"] }");
    let (_out, o) = clockstorm(&["run", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(USAGE), "{}", text(&o));
    assert!(stderr.contains("chrony rejects the configuration") && stderr.contains("makestep"), "{stderr}");
    assert!(!stderr.contains("[1/"), "no guest may start: {stderr}");
}

/// A host without chronyd (here: the one named by $CLOCKSTORM_CHRONYD is
/// not there; the same error lists the cache and /usr/sbin when unset).
#[test]
fn a_host_without_chronyd_is_an_environment_error_with_the_fix() {
    let (_dir, file) = time_service_scenario("time_service = \"chrony\"");
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(out.path())
        .env("CLOCKSTORM_CHRONYD", "/nonexistent/chronyd")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(ENVIRONMENT), "{}", text(&o));
    assert!(stderr.contains("/nonexistent/chronyd") && stderr.contains("ci/setup-host.sh"), "{stderr}");
    assert!(!stderr.contains("[1/"), "no guest may start: {stderr}");
    // Nothing left behind that ran: no run directory.
    assert!(!out.path().join("runs").exists() || std::fs::read_dir(out.path().join("runs")).unwrap().next().is_none());
}

/// `guest.boot = "pvh"` with a kernel that cannot be entered there: exit 2
/// naming the setting and why (here a gzip payload), before any guest.
#[test]
fn a_pvh_boot_of_a_kernel_without_one_is_a_usage_error_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    // A bzImage header (boot protocol 2.15, one setup sector, a version
    // string) whose payload is gzip, which clockstorm does not unpack.
    let mut bz = vec![0u8; 0x400];
    bz[0x1f1] = 1;
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    bz[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    bz[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
    bz[0x300..0x30c].copy_from_slice(b"6.1.0-gz #1\0");
    bz[0x24c..0x250].copy_from_slice(&16u32.to_le_bytes());
    bz.extend([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0]);
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, bz).unwrap();
    let scenario = scenario_file(dir.path(), "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[guest]\nboot = \"pvh\"\n");
    assert_fails(&["run", scenario.to_str().unwrap(), "--kernel", kernel.to_str().unwrap(), "--duration", "1s"], USAGE, "guest.boot = \"pvh\": kernel ");
    assert_fails(
        &["run", scenario.to_str().unwrap(), "--kernel", kernel.to_str().unwrap(), "--duration", "1s"],
        USAGE,
        "vmlinuz: a gzip payload (not unpacked here: LZ4 and zstd are)",
    );
}
