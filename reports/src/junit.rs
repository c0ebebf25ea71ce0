//! JUnit XML for CI systems: one test case per run (did it complete) and one
//! per gate per run.

use crate::model::Report;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

pub fn render(r: &Report) -> String {
    let mut cases = Vec::new();
    for s in &r.runs {
        let failure = match s.status.as_str() {
            "completed" | "skipped" => None,
            other => Some(format!("{other}: {}", s.detail.clone().unwrap_or_default())),
        };
        let skipped = s.status == "skipped";
        cases.push((s.run_id.clone(), "run".to_string(), failure, skipped, s.detail.clone()));
    }
    for g in &r.gates {
        cases.push((g.run_id.clone(), g.gate.clone(), (!g.passed).then(|| g.message.clone()), false, None));
    }
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let skipped = cases.iter().filter(|c| c.3).count();
    let suite = escape(&r.provenance.scenario.name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"clockstorm\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n", cases.len()));
    out.push_str(&format!("  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n", cases.len()));
    for (class, name, failure, skip, detail) in cases {
        out.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\"", escape(&class), escape(&name)));
        match (failure, skip) {
            (Some(message), _) => out.push_str(&format!(">\n      <failure message=\"{}\"/>\n    </testcase>\n", escape(&message))),
            (None, true) => out.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", escape(&detail.unwrap_or_default()))),
            (None, false) => out.push_str("/>\n"),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
