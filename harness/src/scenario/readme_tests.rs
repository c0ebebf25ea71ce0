//! Keeps scenarios/README.md and the scenario types in agreement, and pins
//! the exact error of every kind of broken scenario.

use std::collections::BTreeSet;

use super::*;

/// A scenario with every optional field set, so serializing it names every key.
fn full_scenario() -> Scenario {
    let text = r#"
name = "full"
description = "every key"
clocksources = ["tsc"]
seed = 3
repetitions = 2
faults = ["freeze:1s+1s"]

[guest]
kernels = ["default"]
vcpus = 1
memory_mib = 256
kernel_params = []
machine = "q35"
cpu_model = "auto"
boot = "pvh"

[guest.timers]
hpet = true
rtc_base = "utc"
rtc_driftfix = "slew"
pit_lost_tick_policy = "delay"
kvmclock = true
invtsc = false
tsc_frequency_hz = 1000000000

[guest.time_service]
kind = "chrony"
config = "makestep 1 3"
directives = ["makestep 0.1 -1"]
server_options = "iburst"

[[variants]]
name = "default"
kernel_params = []
time_service = "none"

[[actions]]
at = "2s"
set_clocksource = "hpet"
unbind_clocksource = "tsc"

[probe]
duration = "5s"
clock_stop_limit = "10s"

[gates]
max_time_lost = "1s"
max_gap = "2s"
no_clocksource_switch = true
final_clocksource = "tsc"
no_soft_lockup = true
max_backwards_steps = 0
max_tick_backlog = 10
allow_stopped_clock = false
max_clock_stopped = "5s"
"#;
    // Parsed without validation: this file sets both action keys on purpose.
    toml::from_str(text).unwrap()
}

fn keys(value: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    let toml::Value::Table(t) = value else { return };
    for (k, v) in t {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(_) => keys(v, &path, out),
            // Lists of tables document their keys as `list.key`.
            toml::Value::Array(items) if items.first().is_some_and(|i| i.is_table()) && path != "faults" => {
                out.insert(path.clone());
                keys(&items[0], &path, out);
            }
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn the_readme_documents_every_key_and_no_other() {
    let mut in_types = BTreeSet::new();
    keys(&toml::Value::try_from(full_scenario()).unwrap(), "", &mut in_types);
    // `config_file` is read into `config` at load (so it cannot be set beside
    // it here), and a variant's time_service takes the same keys as the
    // guest's: one row each.
    in_types.insert("guest.time_service.config_file".into());
    in_types.retain(|k| !k.starts_with("variants.time_service."));
    in_types.insert("variants.time_service".into());
    let readme = include_str!("../../../scenarios/README.md");
    let in_readme: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_owned()))
        .filter(|k| k.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !k.contains('-'))
        .collect();
    let shipped: BTreeSet<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
    let in_readme: BTreeSet<String> = in_readme.into_iter().filter(|k| !shipped.contains(k.as_str())).collect();
    assert_eq!(in_readme, in_types, "scenarios/README.md's field table and the types disagree");
}

#[test]
fn every_shipped_scenario_validates_and_says_what_it_shows() {
    let readme = include_str!("../../../scenarios/README.md");
    for (name, text) in SHIPPED {
        let loaded = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&loaded.scenario.name, name);
        assert!(text.contains("What it shows"), "{name}: its comment must say what it shows");
        assert!(readme.contains(&format!("| `{name}` |")), "{name} missing from scenarios/README.md");
    }
}

/// Broken scenarios, each with the exact error (snapshotted).
#[test]
fn broken_scenarios_give_exact_errors() {
    let base = "name = \"x\"\ndescription = \"d\"\n";
    let cases: &[(&str, String)] = &[
        ("type_error", format!("{base}clocksources = [\"tsc\"]\n[guest]\nvcpus = \"two\"\n")),
        ("unknown_key", format!("{base}clocksources = [\"tsc\"]\n[probe]\nduraton = \"2s\"\n")),
        ("bad_duration", format!("{base}clocksources = [\"tsc\"]\n[probe]\nduration = \"10 parsecs\"\n")),
        ("overlapping_faults", format!("{base}clocksources = [\"tsc\"]\nfaults = [\"freeze:1s+5s\", \"pause:3s+1s\"]\n")),
        ("fault_past_the_end", format!("{base}clocksources = [\"tsc\"]\nfaults = [\"freeze:8s+5s\"]\n")),
        ("bad_fault", format!("{base}clocksources = [\"tsc\"]\nfaults = [\"melt:1s+1s\"]\n")),
        ("unknown_clocksource", format!("{base}clocksources = [\"tsc\", \"hpte\"]\n")),
        ("missing_key", "name = \"x\"\nclocksources = [\"tsc\"]\n".to_string()),
        (
            "action_with_two_keys",
            format!("{base}clocksources = [\"tsc\"]\n[[actions]]\nat = \"1s\"\nset_clocksource = \"hpet\"\nunbind_clocksource = \"tsc\"\n"),
        ),
        ("duplicate_variant", format!("{base}clocksources = [\"tsc\"]\n[[variants]]\nname = \"a\"\n[[variants]]\nname = \"a\"\n")),
        ("bad_rtc_base", format!("{base}clocksources = [\"tsc\"]\n[guest.timers]\nrtc_base = \"mars\"\n")),
    ];
    for (name, text) in cases {
        let err = parse(text, &format!("{name}.toml")).unwrap_err().to_string();
        insta::assert_snapshot!(*name, err);
    }
}
