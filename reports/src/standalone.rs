//! Where standalone probe runs ran, in words, for every renderer's
//! provenance: a report of runs on real VMs must say which machines and
//! which reference host, and that their host times are estimates.

use clockstorm_protocol::StandaloneInfo;

/// One line per machine, then the reference host and how host times were had.
pub fn lines(info: &StandaloneInfo) -> Vec<String> {
    let mut out: Vec<String> = info
        .machines
        .iter()
        .map(|m| {
            format!(
                "machine {} (run {}): kernel {}, clocksource {} (available: {}), {} vCPU{}, HZ {}, TSC flags {}; probe {} from {}",
                m.name,
                m.run_id,
                m.kernel_release,
                m.clocksource,
                m.clocksources_available.join(" "),
                m.vcpus,
                if m.vcpus == 1 { "" } else { "s" },
                m.hz.map(|h| h.to_string()).unwrap_or_else(|| "unknown".into()),
                if m.tsc_flags.is_empty() { "none".into() } else { m.tsc_flags.join(" ") },
                m.probe_version,
                m.probe_output
            )
        })
        .collect();
    out.push(match &info.reference_host {
        Some(host) => format!("reference host {host} (clockstorm reference-server)"),
        None => "no reference host: the probes ran without a reference server".into(),
    });
    out.push(format!("host times: {}", info.host_times));
    out
}

#[cfg(test)]
mod tests {
    use clockstorm_protocol::{MachineInfo, StandaloneInfo};

    #[test]
    fn names_each_machine_and_the_reference() {
        let info = StandaloneInfo {
            reference_host: Some("ref1".into()),
            host_times: "estimated".into(),
            machines: vec![MachineInfo {
                run_id: "vm1".into(),
                name: "vm1".into(),
                probe_output: "vm1.jsonl".into(),
                probe_version: "0.1.0".into(),
                kernel_release: "6.1.0".into(),
                clocksource: "kvm-clock".into(),
                clocksources_available: vec!["kvm-clock".into(), "tsc".into()],
                vcpus: 1,
                tsc_flags: vec![],
                hz: Some(250),
            }],
        };
        let lines = super::lines(&info);
        assert_eq!(
            lines[0],
            "machine vm1 (run vm1): kernel 6.1.0, clocksource kvm-clock (available: kvm-clock tsc), 1 vCPU, HZ 250, TSC flags none; probe 0.1.0 from vm1.jsonl"
        );
        assert_eq!(lines[1], "reference host ref1 (clockstorm reference-server)");
        assert_eq!(lines[2], "host times: estimated");
    }
}
