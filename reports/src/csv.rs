//! `report --format csv`: the report's figures as rows for a spreadsheet
//! (RFC 4180: comma-separated, fields with a comma, quote or newline
//! quoted, quotes doubled). One row per run and metric (the figures groups
//! are compared on), then one per fault of each run. Pure.

use crate::model::{run_metrics, Report};

const HEADER: &str =
    "row,run,clocksource,status,metric,value,unit,fault,kind,planned_start_ms,planned_length_ms,achieved_ns,lost_ns,lost_plus_minus_ns,max_gap_ns,backward_steps,clock_stops";

/// The report as CSV text, a header line first.
pub fn render(r: &Report) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for run in &r.runs {
        for m in run_metrics(run) {
            let value = m.value.to_string();
            line(&mut out, &["run", &run.run_id, &run.clocksource, &run.status, &m.metric, &value, m.unit, "", "", "", "", "", "", "", "", "", ""]);
        }
    }
    for run in &r.runs {
        for f in &run.faults {
            let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            let cells = [
                "fault".to_owned(),
                run.run_id.clone(),
                run.clocksource.clone(),
                run.status.clone(),
                String::new(),
                String::new(),
                String::new(),
                f.index.to_string(),
                f.kind.to_string(),
                f.planned_start_ms.to_string(),
                f.planned_duration_ms.to_string(),
                f.achieved_ns.to_string(),
                opt(f.lost_ns),
                opt(f.lost_uncertainty_ns),
                f.max_gap_ns.map(|g| g.to_string()).unwrap_or_default(),
                f.clock_backward_steps().to_string(),
                f.clock_stops.len().to_string(),
            ];
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            line(&mut out, &refs);
        }
    }
    out
}

fn line(out: &mut String, cells: &[&str]) {
    let quoted: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
}

/// One field, quoted where RFC 4180 needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_row_has_the_header_s_columns_and_fields_are_quoted() {
        let r = crate::fixtures::report();
        let text = super::render(&r);
        let columns = super::HEADER.split(',').count();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(super::HEADER));
        let rows: Vec<&str> = lines.collect();
        assert!(rows.iter().any(|l| l.starts_with("run,")) && rows.iter().any(|l| l.starts_with("fault,")), "{text}");
        for l in &rows {
            assert_eq!(count_fields(l), columns, "{l}");
        }
        // A metric name with a comma ("time lost, fault 0") is quoted.
        assert!(rows.iter().any(|l| l.contains("\"time lost, fault 0\"")), "{text}");
        let faults = r.runs.iter().map(|s| s.faults.len()).sum::<usize>();
        assert_eq!(rows.iter().filter(|l| l.starts_with("fault,")).count(), faults);
        assert_eq!(super::field("a,b \"c\""), "\"a,b \"\"c\"\"\"");
        assert_eq!(super::field("plain"), "plain");
    }

    /// Fields of one CSV line, commas inside quotes not counted.
    fn count_fields(line: &str) -> usize {
        let mut quoted = false;
        1 + line
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == ',' && !quoted
            })
            .count()
    }
}
