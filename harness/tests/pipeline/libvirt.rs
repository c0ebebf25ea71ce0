//! `clockstorm scenario import-libvirt` end to end: real domain XML as
//! virt-install and OpenStack Nova write it (tests/fixtures/libvirt/) in,
//! a scenario the project's own loader accepts out, what could not be
//! mapped on stderr; bad input exits 2 naming the file and line; and the
//! imported scenario runs on the fake backend.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/libvirt")).join(name)
}

fn import(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN).args(["scenario", "import-libvirt"]).args(args).output().unwrap()
}

/// Each fixture, written with -o, validates with `clockstorm scenario validate`.
#[test]
fn imported_fixtures_validate_and_list_what_was_not_mapped() {
    let dir = tempfile::tempdir().unwrap();
    for (name, runs, not_mapped) in [
        // virt-install's Linux defaults: rtc catchup, pit delay, hpet off: tsc, acpi_pm, kvm-clock.
        ("virt-install-linux2020.xml", 3, "host-passthrough under TCG"),
        ("virt-install-kvm-win10.xml", 3, "<timer name='hypervclock' present='yes'>: Hyper-V enlightenment"),
        // Nova's defaults are the same three timers.
        ("nova-mitaka-libvirt.xml", 3, "<cputune>"),
        ("nova-ocata-realtime-dumpxml.xml", 3, "console=ttyS0 in <cmdline>: clockstorm sets console=ttyS0 itself"),
        // clocksource=tsc on its command line: one clocksource.
        ("handmade-clocksource-localtime.xml", 1, "track='guest'"),
    ] {
        let out = dir.path().join(name.replace(".xml", ".toml"));
        let o = import(&[fixture(name).as_os_str(), "-o".as_ref(), out.as_os_str()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("clockstorm: not mapped ("), "{name}: {err}");
        assert!(err.contains(not_mapped), "{name}: {not_mapped} missing from\n{err}");
        let written = std::fs::read_to_string(&out).unwrap();
        assert!(written.starts_with("# A clockstorm scenario written by `clockstorm scenario import-libvirt`"), "{written}");
        assert!(written.contains(&format!("# source: {}", fixture(name).display())), "{written}");
        let v = Command::new(BIN).args(["scenario", "validate"]).arg(&out).output().unwrap();
        assert_eq!(v.status.code(), Some(0), "{name}: {}\n{written}", text(&v));
        assert!(String::from_utf8_lossy(&v.stdout).contains(&format!("({runs} runs)")), "{name}: {}", text(&v));
    }
}

/// Without -o the scenario goes to stdout and the notes to stderr, so a
/// pipe gets only the scenario.
#[test]
fn without_output_the_scenario_goes_to_stdout_and_its_name_can_be_set() {
    let o = import(&[fixture("virt-install-linux2020.xml").as_os_str(), "--name".as_ref(), "their-vm".as_ref()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("name = \"their-vm\"") && !stdout.contains("clockstorm: not mapped"), "{stdout}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("clockstorm: not mapped (1):"), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), &stdout);
    let v = Command::new(BIN).args(["scenario", "validate"]).arg(&file).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

/// The imported scenario runs: the hand-made domain (one clocksource) on
/// the fake backend.
#[test]
fn an_imported_scenario_runs_on_the_fake_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("handmade.toml");
    let o = import(&[fixture("handmade-clocksource-localtime.xml").as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (results, r) = fake(&["run", out.to_str().unwrap(), "--duration", "2s"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    let ids: Vec<String> = manifest(results.path()).runs.into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["tsc-pinned-hand-made-tsc"]);
}

fn assert_bad_input(o: &std::process::Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "{needle} missing from\n{err}");
}

#[test]
fn a_missing_file_is_bad_input() {
    let o = import(&["/nonexistent/domain.xml".as_ref()]);
    assert_bad_input(&o, "clockstorm: error: reading libvirt domain /nonexistent/domain.xml: No such file or directory");
}

#[test]
fn a_file_that_is_not_xml_is_bad_input_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("domain.xml");
    std::fs::write(&path, "<domain type='kvm'>\n  <name>x</name>\n  <vcpu>2</cpu>\n</domain>\n").unwrap();
    let o = import(&[path.as_os_str()]);
    assert_bad_input(&o, &format!("libvirt domain {}: line 3, column", path.display()));
    assert_bad_input(&o, "not well-formed XML");
    std::fs::write(&path, "name = \"not xml at all\"\n").unwrap();
    assert_bad_input(&import(&[path.as_os_str()]), "line 1, column 1: not well-formed XML");
}

#[test]
fn xml_that_is_not_a_domain_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.xml");
    std::fs::write(&path, "<network>\n  <name>default</name>\n</network>\n").unwrap();
    assert_bad_input(&import(&[path.as_os_str()]), "line 1: the root element is <network>, not <domain>");
}

#[test]
fn an_unwritable_output_is_an_environment_error() {
    let o = import(&[fixture("virt-install-linux2020.xml").as_os_str(), "-o".as_ref(), "/nonexistent/dir/s.toml".as_ref()]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
}
