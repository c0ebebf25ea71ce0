//! The decision section, first on the page: the ranked settings, how they
//! were ranked, and the recommendation (cells from `decision::table`).

use super::svg::esc;
use super::tables::{head, row, END};
use crate::decision::table;
use crate::model::Report;

pub fn section(r: &Report) -> String {
    let d = &r.decision;
    let mut out = String::from("<section id=\"decision\">\n<h2>Decision</h2>\n");
    let class = if d.recommendation.setting.is_some() { "recommend" } else { "recommend none" };
    let (lead, rest) = table::recommendation(d);
    out.push_str(&format!("<p class=\"{class}\"><strong>{lead}:</strong> {}</p>\n", esc(rest)));
    if !d.settings.is_empty() {
        let headers = table::headers(d);
        out.push_str(&head(&headers.iter().map(String::as_str).collect::<Vec<_>>()));
        for cells in table::rows(d) {
            out.push_str(&row("", &cells.iter().map(|c| esc(c)).collect::<Vec<_>>()));
        }
        out.push_str(END);
        out.push_str(&format!("<p class=\"note\">{}</p>\n", esc(&table::legend())));
    }
    let notes = table::notes(d);
    if !notes.is_empty() {
        out.push_str("<ul>\n");
        for n in notes {
            out.push_str(&format!("<li>{}</li>\n", esc(&n)));
        }
        out.push_str("</ul>\n");
    }
    let steps = table::shown_steps(d);
    if !steps.is_empty() {
        out.push_str("<h3>How they were ranked</h3>\n<ol>\n");
        for s in steps {
            out.push_str(&format!("<li>{}</li>\n", esc(&s.sentence)));
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
    out
}
