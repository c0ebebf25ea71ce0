//! The probe standalone on this host against the reference server, then
//! imported and reported: no guest is booted, but the exchanges measure
//! loopback timing, which a busy parallel stage spoils (a probe spinning
//! beside other tests starved the server's answers), so it runs here, one
//! test at a time.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clockstorm_protocol::{GuestMessage, ProbeOutcome};

use crate::support::*;

#[test]
fn standalone_probe_measures_this_host_against_the_reference_server() {
    let mut server = Command::new(BIN).args(["reference-server", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _server = KillOnDrop(server);
    let addr = first.trim().strip_prefix("listening on ").expect(&first).to_owned();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("probe.jsonl");
    let o = Command::new(static_probe())
        .args(["--standalone", "--duration", "2s", "--reference", &addr, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let msgs: Vec<GuestMessage> = std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(matches!(msgs[0], GuestMessage::Hello(_)), "{:?}", msgs[0]);
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::Synced(_))));
    let exchanges: Vec<_> = msgs.iter().filter_map(|m| if let GuestMessage::Exchange(e) = m { Some(*e) } else { None }).collect();
    assert!(exchanges.len() >= 10, "{}", exchanges.len());
    // Loopback TCP: the round trip is tens of µs; 1 ms bounds it with room.
    let mut unc: Vec<i64> = exchanges.iter().map(|e| e.uncertainty_ns).collect();
    unc.sort();
    assert!(unc[unc.len() / 2] < 1_000_000, "{unc:?}");
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::Window(w) if w.samples > 0)));
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::TickWindow(t) if t.expirations > 0)));
    assert!(matches!(msgs.last(), Some(GuestMessage::Done(d)) if d.outcome == ProbeOutcome::Completed), "{:?}", msgs.last());
    imports_and_reports(&file, out.path());
}

/// This machine's name, as the provenance should give it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned()
}

/// The fleet path after the probe: `import-standalone`, then `report` in
/// every file format, as an operator would with a real VM's probe output.
/// Called by `standalone_probe_measures_this_host_against_the_reference_server`,
/// with its reference server still up, so that only one probe spins this machine's
/// CPUs at a time (two at once starve the reference server's answers).
fn imports_and_reports(file: &std::path::Path, work: &std::path::Path) {
    let out = work.join("results");
    let host = hostname();
    let o = Command::new(BIN)
        .args(["import-standalone", "--machine", &host, "--reference-here", "--out"])
        .arg(&out)
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for name in ["manifest.json", "report.json", "report.md", "report.html", "summary.json"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }

    let report = |format: &str| {
        let o = Command::new(BIN).args(["report", "--format", format]).arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    let run = &json["runs"][0];
    let (samples, exchanges) = (run["samples"].as_u64().unwrap(), run["exchanges"].as_u64().unwrap());
    let uncertainty = run["offset_uncertainty_median_ns"].as_i64().unwrap();
    eprintln!(
        "standalone on loopback: {samples} samples, {exchanges} exchanges, median offset uncertainty {uncertainty} ns, offset median {} ns",
        run["offset_median_ns"]
    );
    assert_eq!(run["status"], "completed", "{run}");
    assert!(samples > 0 && exchanges >= 10, "{run}");
    // How tight it is on loopback the probe's own check above bounds; here: it is the report's figure.
    assert!(uncertainty > 0, "{uncertainty}");
    // No harness saw the lines arrive: no wall time or overhead is claimed.
    assert!(run["wall_ms"].is_null() && run["overhead_ms"].is_null(), "{run}");

    let p = &json["provenance"];
    assert_eq!(p["accel"], "standalone");
    assert_eq!(p["scenario"]["name"], "standalone");
    let machine = &p["standalone"]["machines"][0];
    assert_eq!(machine["name"], host.as_str());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap().trim().to_owned();
    assert_eq!(machine["kernel_release"], release.as_str());
    assert_eq!(p["standalone"]["reference_host"], host.as_str());
    // --reference-here: the reference server's machine (this one) is the host.
    assert_eq!(p["host"]["kernel_release"], release.as_str());

    let markdown = report("markdown");
    assert!(markdown.contains(&format!("- machine {host} (run ")), "{markdown}");
    assert!(markdown.contains(&format!("- reference host {host} ")), "{markdown}");
    let html = report("html");
    assert!(html.contains("<dt>standalone</dt>") && html.contains(&format!("machine {host} (run ")), "html provenance");
    assert!(report("terminal").starts_with(&format!("machine {host} (run ")));

    // The same directory is not imported over.
    let o = Command::new(BIN).args(["import-standalone", "--out"]).arg(&out).arg(file).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
