use super::*;

#[test]
fn shipped_scenarios_parse() {
    for (name, _) in SHIPPED {
        let loaded = load(name).unwrap();
        assert_eq!(&loaded.scenario.name, name);
    }
}

#[test]
fn unknown_keys_are_named_with_line_and_column() {
    let text = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[guest]\nvcpu = 2\n";
    let err = parse(text, "my.toml").unwrap_err().to_string();
    assert!(err.starts_with("scenario my.toml:"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("unknown field `vcpu`"), "{err}");
    assert!(err.contains("vcpus"), "expected the allowed keys: {err}");
}

#[test]
fn unknown_clocksource_names_the_value_and_the_allowed_ones() {
    let text = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\", \"hpte\"]\n";
    let err = parse(text, "my.toml").unwrap_err().to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("hpte") && err.contains("acpi_pm"), "{err}");
}

#[test]
fn bad_durations_and_ranges_name_their_key() {
    let text = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[probe]\nduration = \"10\"\n";
    let err = parse(text, "my.toml").unwrap_err().to_string();
    assert!(err.contains("line 5") && err.contains("no unit"), "{err}");
    let text = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[guest]\nvcpus = 0\n";
    let err = parse(text, "my.toml").unwrap_err().to_string();
    assert_eq!(err, "scenario my.toml: key guest.vcpus: 0 is out of range 1..=64");
}

#[test]
fn a_name_that_is_neither_file_nor_shipped_lists_the_shipped_ones() {
    let err = load("no-such-scenario").unwrap_err().to_string();
    assert!(err.contains("vf-reload") && err.contains("idle"), "{err}");
    let err = load("/nonexistent/x.toml").unwrap_err().to_string();
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
}

#[test]
fn the_probes_own_limits_name_the_scenario_key() {
    let base = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[probe]\n";
    let err = parse(&format!("{base}tick_rate_hz = 20000\n"), "my.toml").unwrap_err().to_string();
    assert_eq!(err, "scenario my.toml: key probe.tick_rate_hz: 20000 is outside 0..=10000 (0: no periodic timer)");
    let err = parse(&format!("{base}poll_interval = \"5ms\"\n"), "my.toml").unwrap_err().to_string();
    assert_eq!(err, "scenario my.toml: key probe.poll_interval: 5 is below 10");
}

/// Found by the `scenario_toml` fuzz target (fuzz/regressions/scenario_toml/):
/// two kernels of the same name made two runs with one id, and so one
/// result directory.
#[test]
fn runs_that_would_share_an_id_are_refused() {
    let head = "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n";
    let err = parse(&format!("{head}[guest]\nkernels = [\"a/k\", \"b/k\"]\n"), "t.toml").unwrap_err().to_string();
    assert!(err.contains("key guest.kernels") && err.contains("\"x-tsc.k\""), "{err}");
    let err = parse(&format!("{head}[guest]\nkernels = [\"k\", \"k\"]\n"), "t.toml").unwrap_err().to_string();
    assert!(err.contains("key guest.kernels"), "{err}");
    // A dotted kernel and a dotted variant can add up to the same id too.
    let text = format!("{head}[guest]\nkernels = [\"a\", \"a.b\"]\n[[variants]]\nname = \"b.c\"\n[[variants]]\nname = \"c\"\n");
    let err = parse(&text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("key variants") && err.contains("\"x-tsc.a.b.c\""), "{err}");
}

/// Found writing that target: a few KiB of kernels, variants and
/// repetitions made a matrix of millions of runs, built in full.
#[test]
fn a_matrix_of_more_than_max_runs_is_refused() {
    let kernels: Vec<String> = (0..11).map(|i| format!("\"k{i}\"")).collect();
    let text = format!("name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\nrepetitions = 1000\n[guest]\nkernels = [{}]\n", kernels.join(","));
    let err = parse(&text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("11000 runs, more than the 10000"), "{err}");
}
