//! Reports end to end on the fake backend: repetitions, the HTML report opened
//! in a real headless browser, comparisons between clocksources, and a
//! baseline that a longer freeze regresses.

use std::path::{Path, PathBuf};
use std::process::Command;

use clockstorm_reports::model::Report;

use crate::support::*;

/// hpet and acpi_pm, two repetitions each, one 5 s freeze: in the fake's
/// clock model (as on real guests) acpi_pm loses one 4.687 s wrap each
/// time, hpet nothing.
const SCENARIO: &str = r#"
name = "html"
description = "hpet vs acpi_pm across a 5 s freeze, twice each"
clocksources = ["hpet", "acpi_pm"]
repetitions = 2
seed = 7
faults = ["freeze:2s+5s"]

[probe]
duration = "8s"
"#;

#[test]
fn reports_compare_clocksources_render_in_a_browser_and_catch_a_regression() {
    let scenario_dir = tempfile::tempdir().unwrap();
    let scenario = scenario_file(scenario_dir.path(), SCENARIO);
    let scenario = scenario.to_str().unwrap();
    // The fake guests are light: all four at once.
    let (current, o) = fake(&["run", scenario, "--jobs", "4"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Every renderer's file is there; the model compares the clocksources.
    for file in ["report.json", "report.md", "junit.xml", "report.html"] {
        assert!(current.path().join(file).is_file(), "{file} missing");
    }
    let report: Report = serde_json::from_str(&std::fs::read_to_string(current.path().join("report.json")).unwrap()).unwrap();
    let lost = report
        .comparisons
        .iter()
        .find(|c| c.metric == "time lost, fault 0")
        .unwrap_or_else(|| panic!("no time-lost comparison: {:#?}", report.comparisons));
    assert!(lost.differs, "acpi_pm loses a wrap, hpet nothing: {lost:#?}");
    // The decision comes first and picks hpet on time lost (the fake's read
    // costs are the host's, so read cost cannot separate them).
    let d = &report.decision;
    assert_eq!(d.settings.iter().map(|s| (s.label.as_str(), s.rank)).collect::<Vec<_>>(), [("hpet", 1), ("acpi_pm", 2)], "{d:#?}");
    assert_eq!(d.recommendation.setting.as_deref(), Some("hpet"), "{}", d.recommendation.sentence);
    let md = std::fs::read_to_string(current.path().join("report.md")).unwrap();
    let first_section = md.lines().find(|l| l.starts_with("**") || l.starts_with("## ")).unwrap_or_default();
    assert!(first_section.to_lowercase().contains("decision"), "{md}");
    // The same report for a spreadsheet: a row per run and metric, one per fault.
    let csv = std::process::Command::new(BIN).args(["report", current.path().to_str().unwrap(), "--format", "csv"]).output().unwrap();
    assert!(csv.status.success(), "{}", text(&csv));
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.starts_with("row,run,clocksource,status,metric,value,unit,fault,"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("fault,")).count(), 4, "one 5 s freeze in each of 4 runs: {csv}");
    assert!(csv.lines().any(|l| l.starts_with("run,") && l.contains(",read cost,")), "{csv}");
    assert_eq!(report.series.len(), 4);
    assert!(report.series.iter().all(|s| !s.offset_ms.is_empty() && s.faults.len() == 1), "{:#?}", report.series);

    // The HTML report, rendered by a real browser: no script errors and
    // every plot drawn with a non-empty box.
    let html = current.path().join("report.html");
    let browser = Browser::find();
    let dom = browser.dump_dom(&html);
    assert!(!dom.contains("data-errors"), "script errors: {dom}");
    let expected = attribute(&dom, "data-plots-expected").expect("the self-check ran");
    let rendered = attribute(&dom, "data-plots-rendered").expect("the self-check ran");
    assert!(expected >= 5, "{expected} plots");
    assert_eq!(rendered, expected, "plots with an empty box");
    let png = current.path().join("report.png");
    browser.screenshot(&html, &png);
    assert!(std::fs::metadata(&png).unwrap().len() > 20_000, "a blank screenshot");

    // `report --format html` prints the same document the run wrote.
    let printed = Command::new(BIN).args(["report", current.path().to_str().unwrap(), "--format", "html"]).output().unwrap();
    assert_eq!(printed.status.code(), Some(0), "{}", text(&printed));
    assert_eq!(String::from_utf8_lossy(&printed.stdout), std::fs::read_to_string(&html).unwrap());

    // Against itself: nothing changed, exit 0.
    let dir = current.path().to_str().unwrap();
    let same = Command::new(BIN).args(["report", dir, "--baseline", dir]).output().unwrap();
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));

    // A baseline where the freeze was 1 s (acpi_pm lost nothing): the 5 s
    // freeze is a significant regression of acpi_pm's time lost: exit 4.
    let (baseline, o) = fake(&["run", scenario, "--clocksource", "acpi_pm", "--fault", "freeze:2s+1s", "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let worse = Command::new(BIN)
        .args(["report", dir, "--baseline", baseline.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(worse.status.code(), Some(4), "{}", text(&worse));
    let report: Report = serde_json::from_slice(&worse.stdout).unwrap();
    let b = report.baseline.expect("a baseline section");
    // (The longer freeze's max gap is a regression too.)
    assert!(b.changes.iter().any(|c| c.regression && c.comparison.metric == "time lost, fault 0"), "{:#?}", b.changes);
    assert!(b.not_compared.iter().any(|n| n.contains("html-hpet: not in the baseline")), "{:?}", b.not_compared);

    // A baseline that is not a results directory is a usage error naming it.
    let bad = Command::new(BIN).args(["report", dir, "--baseline", "/nonexistent"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/manifest.json"), "{}", text(&bad));
}

/// The value of a numeric attribute in a dumped DOM.
fn attribute(dom: &str, name: &str) -> Option<u32> {
    let at = dom.find(&format!("{name}=\""))? + name.len() + 2;
    dom[at..].split('"').next()?.parse().ok()
}

/// Debian's chromium in headless mode, with a private profile directory.
struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    /// $CLOCKSTORM_CHROMIUM, or chromium / chromium-browser on PATH;
    /// ci/setup-host.sh installs Debian's.
    fn find() -> Browser {
        let candidates: Vec<PathBuf> = std::env::var_os("CLOCKSTORM_CHROMIUM")
            .map(PathBuf::from)
            .into_iter()
            .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
            .collect();
        let binary = candidates
            .into_iter()
            .find(|p| p.is_file())
            .expect("no chromium: run ci/setup-host.sh (apt-get install chromium) or set CLOCKSTORM_CHROMIUM");
        Browser { binary, profile: tempfile::tempdir().unwrap() }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-extensions", "--virtual-time-budget=5000"])
            .arg(format!("--user-data-dir={}", self.profile.path().display()));
        c
    }

    fn dump_dom(&self, page: &Path) -> String {
        let o = self.command().arg("--dump-dom").arg(format!("file://{}", page.display())).output().unwrap();
        assert!(o.status.success(), "chromium: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn screenshot(&self, page: &Path, png: &Path) {
        let o = self
            .command()
            .arg(format!("--screenshot={}", png.display()))
            .arg("--window-size=1280,3000")
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "chromium: {}", text(&o));
    }
}
