//! HTML: one self-contained page (inline CSS, inline SVG plots, no
//! external resources) that can be mailed or archived as a single file.
//! Output is deterministic: the same report gives the same bytes.

mod decision;
mod plots;
mod svg;
mod tables;

#[cfg(test)]
mod tests;

use crate::model::Report;
use svg::esc;

/// Catches errors from the start (before the body exists) for the
/// headless-browser check, which reads them from `data-errors`.
const ON_ERROR: &str = "<script>window.__errs=[];window.onerror=function(m){var b=document.body;\
if(b)b.dataset.errors=(b.dataset.errors||'')+m+';';else window.__errs.push(m)};</script>\n";

/// Counts the plots the browser laid out with a non-empty box.
const CHECK: &str = "<script>\nfunction __err(e){var b=document.body;b.dataset.errors=(b.dataset.errors||'')+e+';'}\
try{window.addEventListener('load',function(){try{(window.__errs||[]).forEach(__err);\
var p=document.querySelectorAll('svg.plot'),n=0;for(var i=0;i<p.length;i++){var r=p[i].getBBox();if(r.width>0&&r.height>0)n++}\
document.body.dataset.plotsRendered=String(n);document.body.dataset.plotsExpected=String(p.length)}catch(e){__err(e)}})}catch(e){__err(e)}\n</script>\n";

const STYLE: &str = "<style>
body{font:14px/1.45 system-ui,sans-serif;color:#222;background:#fafafa;margin:0 auto;padding:1em 1.5em 3em;max-width:72em}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-top:1.4em}
nav a{margin-right:1em}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.prov dt{font-weight:600}dl.prov dd{margin:0}
code{font:12px ui-monospace,monospace;background:#f0f0f0;padding:0 .2em;border-radius:2px}
table{border-collapse:collapse;margin:.6em 0;background:#fff}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr.fail td,tr.differs td{background:#fff4f2}tr.notdone td{color:#666}tr.sentence td{color:#555;font-size:.92em;border-top:0}
.bad{color:#b00020}.good{color:#1b7a3a}.warn{color:#b00020;font-weight:600}.note{color:#555}
li.disagrees{background:#fff4f2}
p.recommend{font-size:1.1em;padding:.5em .8em;border-left:4px solid #1b7a3a;background:#fff}p.recommend.none{border-left-color:#b07000}
figure{margin:1em 0}figcaption{color:#555;font-size:.92em}
svg.plot{display:block;max-width:100%;height:auto;background:#fff;border:1px solid #e4e4e4}
svg.plot text{fill:#222}svg.plot text.onbar{fill:#fff;font-weight:600}svg.plot .pt{font-size:13px;font-weight:600}svg.plot .nodata{fill:#888;font-size:16px}
svg.plot .grid{stroke:#ececec}svg.plot .tick{stroke:#888}svg.plot .frame{fill:none;stroke:#999}
svg.plot .series{fill:none;stroke-width:1.5}svg.plot .whisker{fill:none;stroke:#222;stroke-width:1.5}svg.plot .run{fill:#fff;stroke:#222;stroke-width:1.2}
svg.plot .span{fill:#f0a030;fill-opacity:.2}svg.plot .spanlabel{fill:#8a5200;font-size:10px}
svg.plot .event{stroke:#b00020;stroke-width:1.2;stroke-dasharray:4 3}svg.plot .hit{stroke:#000;stroke-opacity:0;stroke-width:8}
</style>
";

/// The report as one HTML5 document.
pub fn render(r: &Report) -> String {
    let title = format!("clockstorm report — {}", r.provenance.scenario.name);
    let mut out = String::with_capacity(128 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
    out.push_str(ON_ERROR);
    out.push_str("<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(&title)));
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n");
    out.push_str(&format!("<h1>{}</h1>\n", esc(&title)));
    out.push_str(&headline(r));
    out.push_str(
        "<nav><a href=\"#decision\">decision</a><a href=\"#provenance\">provenance</a><a href=\"#verdicts\">verdicts</a><a href=\"#plots\">plots</a>\
         <a href=\"#comparisons\">comparisons</a><a href=\"#runs\">runs</a><a href=\"#gates\">gates</a><a href=\"#groups\">over repetitions</a></nav>\n",
    );
    out.push_str(&decision::section(r));
    out.push_str(&provenance(r));
    out.push_str(&verdicts(r));
    out.push_str(&plots::section(r));
    out.push_str(&tables::comparisons(r));
    if let Some(b) = &r.baseline {
        out.push_str(&tables::baseline(b, &r.provenance.scenario.sha256));
    }
    out.push_str(&tables::runs(r));
    out.push_str(&tables::faults(r));
    out.push_str(&tables::gates(r));
    out.push_str(&tables::groups(r));
    out.push_str(CHECK);
    out.push_str("</body>\n</html>\n");
    out
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// One line a reader sees first: how many runs, gates and regressions.
fn headline(r: &Report) -> String {
    let completed = r.runs.iter().filter(|s| s.status == "completed").count();
    let failed = r.gates.iter().filter(|g| !g.passed).count();
    let mut parts = vec![
        format!("{}, {completed} completed", plural(r.runs.len(), "run")),
        format!("gates: {} checked, <strong class=\"{}\">{failed} failed</strong>", r.gates.len(), if failed > 0 { "bad" } else { "good" }),
    ];
    let disagree = r.verdicts.iter().filter(|v| v.disagrees_with_model).count();
    if disagree > 0 {
        let verb = if disagree == 1 { "disagrees" } else { "disagree" };
        parts.push(format!("<strong class=\"warn\">{} {verb} with the clock model</strong>", plural(disagree, "verdict")));
    }
    if let Some(b) = &r.baseline {
        let n = b.regressions();
        parts.push(format!("<strong class=\"{}\">{} against the baseline</strong>", if n > 0 { "bad" } else { "good" }, plural(n, "regression")));
    }
    format!("<p class=\"headline\">{}</p>\n", parts.join(" · "))
}

fn provenance(r: &Report) -> String {
    let p = &r.provenance;
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let code = |s: &str| format!("<code>{}</code>", esc(s));
    let mut rows: Vec<(&str, String)> = vec![
        ("clockstorm", esc(&p.clockstorm_version)),
        ("scenario", format!("{} — {} — sha256 {}", esc(&p.scenario.name), esc(&p.scenario.origin), code(&short(&p.scenario.sha256)))),
        ("seed", p.seed.to_string()),
    ];
    if let Some(shard) = &p.shard {
        rows.push(("shard", esc(shard)));
    }
    rows.push(("accel", esc(p.accel.qemu_name())));
    rows.push(("QEMU", format!("{} ({})", esc(&p.qemu.version), code(&p.qemu.path))));
    rows.push((
        "host",
        format!(
            "kernel {}, clocksource {}, {}, {}",
            esc(&p.host.kernel_release),
            esc(&p.host.clocksource),
            esc(&p.host.cpu_model),
            plural(p.host.cpus as usize, "CPU")
        ),
    ));
    let kernels: Vec<String> = p
        .kernels
        .iter()
        .map(|k| {
            let boot = match (k.boot_entry.as_str(), &k.boot_note) {
                ("", _) => String::new(),
                (entry, None) => format!(", {} boot", esc(entry)),
                (entry, Some(note)) => format!(", {} boot: {}", esc(entry), esc(note)),
            };
            format!(
                "{}: {} sha256 {} ({}, {} channel{boot})",
                esc(&k.name),
                esc(&k.release),
                code(&short(&k.sha256)),
                esc(&k.origin),
                esc(&k.data_channel)
            )
        })
        .collect();
    rows.push(("guest kernels", if kernels.is_empty() { "–".into() } else { kernels.join("<br>") }));
    if let Some(info) = &p.standalone {
        let lines: Vec<String> = crate::standalone::lines(info).iter().map(|l| esc(l)).collect();
        rows.push(("standalone", lines.join("<br>")));
    }
    rows.push(("command line", code(&p.command_line.join(" "))));
    rows.push(("started", crate::format::iso8601_utc(p.started_at_unix_ms)));
    rows.push((
        "finished",
        match p.finished_at_unix_ms {
            Some(f) => format!("{}, {:.1} s later", crate::format::iso8601_utc(f), f.saturating_sub(p.started_at_unix_ms) as f64 / 1e3),
            None => "not finished".into(),
        },
    ));
    rows.push(("report schema", r.schema_version.to_string()));
    let mut out = String::from("<section id=\"provenance\">\n<h2>Provenance</h2>\n<dl class=\"prov\">\n");
    for (k, v) in rows {
        out.push_str(&format!("<dt>{k}</dt><dd>{v}</dd>\n"));
    }
    out.push_str("</dl>\n</section>\n");
    out
}

fn verdicts(r: &Report) -> String {
    let mut out = String::from("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    if r.verdicts.is_empty() {
        out.push_str("<p>No fault with a time-lost figure.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for v in &r.verdicts {
            if v.disagrees_with_model {
                out.push_str(&format!(
                    "<li class=\"disagrees\"><span class=\"warn\">⚠ disagrees with the clock model:</span> fault {}: {}</li>\n",
                    v.fault,
                    esc(&v.sentence)
                ));
            } else {
                out.push_str(&format!("<li>fault {}: {}</li>\n", v.fault, esc(&v.sentence)));
            }
        }
        out.push_str("</ul>\n");
    }
    if !r.kernel_rules.is_empty() {
        out.push_str("<h3>The kernels' clock rules</h3>\n<ul>\n");
        for k in &r.kernel_rules {
            out.push_str(&format!("<li>{}</li>\n", esc(k)));
        }
        out.push_str("</ul>\n");
    }
    if !r.backsteps.is_empty() {
        out.push_str("<h3>Backward steps</h3>\n<ul>\n");
        for e in &r.backsteps {
            let class = if e.as_expected { "" } else { " class=\"disagrees\"" };
            out.push_str(&format!("<li{class}>{}</li>\n", esc(&e.sentence)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}
