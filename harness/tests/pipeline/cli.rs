//! The command line as a CI script uses it: `--version` names the build,
//! `--format json` parses on every command that lists or reports, shell
//! completions and the man page come out, `-q` keeps progress off stderr,
//! progress is plain lines off a terminal, and a duration too short for
//! the scenario's faults names both ways out (`--no-faults` is one).

use std::process::Command;

use crate::support::*;

fn stdout_json(args: &[&str]) -> serde_json::Value {
    let o = Command::new(BIN)
        .args(args)
        .env("CLOCKSTORM_CACHE", std::env::temp_dir().join("clockstorm-cli-test-no-cache"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&o)))
}

#[test]
fn version_names_the_build_as_the_manifest_does() {
    let o = Command::new(BIN).arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(v, format!("clockstorm {}", clockstorm::build_info::VERSION));
    assert!(v.contains(&format!("{} (", env!("CARGO_PKG_VERSION"))), "{v}");
}

#[test]
fn format_json_on_every_command_that_lists() {
    let list = stdout_json(&["scenario", "list", "--format", "json"]);
    assert!(list.as_array().unwrap().iter().any(|s| s["name"] == "vf-reload"), "{list}");
    let show = stdout_json(&["scenario", "show", "vf-reload", "--format", "json"]);
    assert_eq!(show["scenario"]["name"], "vf-reload");
    assert_eq!(show["faults"].as_array().unwrap().len(), 3, "{show}");
    assert!(show["runs"][0]["id"].as_str().unwrap().starts_with("vf-reload-"), "{show}");
    let kernels = stdout_json(&["kernel", "list", "--format", "json"]);
    assert!(kernels["kernels"].is_array(), "{kernels}");
    // validate: every file with its verdict, and the exit code of the first error.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n").unwrap();
    let o = Command::new(BIN).args(["scenario", "validate", "--format", "json", "vf-reload"]).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v[0]["valid"].as_bool(), v[1]["valid"].as_bool()), (Some(true), Some(false)), "{v}");
    assert!(v[1]["error"].as_str().unwrap().contains("bad.toml"), "{v}");
    // events: --format json, and --json still works with a warning.
    let log = dir.path().join("console.log");
    std::fs::write(&log, "[    1.882268] clocksource: Switched to clocksource tsc\n").unwrap();
    let new = Command::new(BIN).args(["events", "--format", "json"]).arg(&log).output().unwrap();
    let old = Command::new(BIN).args(["events", "--json"]).arg(&log).output().unwrap();
    assert_eq!(new.stdout, old.stdout, "{}", text(&old));
    assert!(String::from_utf8_lossy(&old.stderr).contains("--json is deprecated: use --format json"), "{}", text(&old));
    let e: serde_json::Value = serde_json::from_slice(&new.stdout).unwrap();
    assert_eq!(e["kind"], "clocksource_switched");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("no-faults"), "{shell}");
    }
    let o = Command::new(BIN).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH clockstorm"), "{}", text(&o));
}

#[test]
fn a_duration_too_short_for_the_scenarios_faults_names_both_ways_out() {
    let o = Command::new(BIN).args(["run", "--clocksource", "tsc", "--duration", "5s"]).args(FAKE).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--duration: fault 1 (freeze) of scenario vf-reload ends at 12s, after the measurement (5s)"), "{err}");
    assert!(err.contains("--duration 12s or more") && err.contains("--no-faults"), "{err}");
    // --no-faults measures the same scenario without them; -q leaves only the report.
    let (out, o) = fake(&["-q", "run", "--clocksource", "tsc", "--duration", "1s", "--no-faults"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("[1/") && !err.contains("measuring") && !err.contains("done,") && !err.contains("scenario idle"),
        "-q: no progress: {}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("results: "), "the final result still goes to stdout: {}", text(&o));
    let s = &summaries(out.path())[0];
    assert!(s.faults.is_empty() && s.status == "completed", "{s:#?}");
    assert!(manifest(out.path()).clockstorm_version.starts_with(&format!("{} (", env!("CARGO_PKG_VERSION"))));
}

/// Off a terminal (a pipe here) progress is one line per event, no
/// carriage returns or escape sequences: started, measuring, each fault,
/// done with the matrix's count.
#[test]
fn progress_off_a_terminal_is_plain_lines() {
    let (_out, o) = fake(&["run", "idle", "--clocksource", "tsc", "--duration", "2s", "--fault", "freeze:500ms+300ms"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    for needle in [
        "[1/1] idle-tsc (tsc)",
        "idle-tsc: measuring for",
        "idle-tsc: fault 0 (1 of 1): freeze for 300 ms applied",
        "idle-tsc: fault 0 (1 of 1): freeze lifted after",
        "idle-tsc: completed in",
        "1/1 done, ",
    ] {
        assert!(err.contains(needle), "{needle:?} in:\n{err}");
    }
}

/// `clockstorm kernel list | head -1`: a closed pipe ends a command that
/// only prints quietly, as it would any Unix tool (it panicked before).
#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::io::Read;
    let mut child = Command::new(BIN)
        .args(["scenario", "show", "vf-reload", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert!(status.success() || status.signal() == Some(libc::SIGPIPE), "{status:?}: {stderr}");
}
