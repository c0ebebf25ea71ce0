//! The scenario file an import writes: a comment block saying where each
//! libvirt element went and what could not go anywhere, then the TOML,
//! which `scenario::parse` reads back to the same scenario.

use serde::Serialize;

use super::notes::{Note, NoteKind};
use super::Import;
use crate::clocksource::Clocksource;
use crate::scenario::GuestSettings;

/// The keys an import sets; the rest keep their defaults.
#[derive(Serialize)]
struct Written<'a> {
    name: &'a str,
    description: &'a str,
    clocksources: &'a [Clocksource],
    guest: &'a GuestSettings,
}

/// The scenario file: comments, then TOML.
pub fn render(import: &Import) -> String {
    let mut out = String::new();
    let mut line = |s: &str| comment(&mut out, s);
    line("A clockstorm scenario written by `clockstorm scenario import-libvirt` from a libvirt domain definition.");
    let domain = if import.domain_name.is_empty() { String::new() } else { format!(", domain {:?}", import.domain_name) };
    let kind = if import.domain_type.is_empty() { String::new() } else { format!(", type {}", import.domain_type) };
    line(&format!("source: {}{domain}{kind}", import.origin));
    line("Only what shapes the guest's clocks is carried over: devices (disks, NICs, consoles, graphics) are not,");
    line("since clockstorm boots its own kernel with its probe as init. No faults yet: add `faults = [...]`");
    line("(README, \"Faults\") or run it with --fault. Exact: clockstorm gives QEMU what libvirt would;");
    line("approximate: the note says how it differs.");
    line("");
    line("What each libvirt element became:");
    for n in import.notes.iter().filter(|n| !matches!(n.kind, NoteKind::NotMapped { .. })) {
        line(&format!("  {}", head(n)));
        match &n.kind {
            NoteKind::Mapped { key, value, exact, how } => {
                line(&format!("      -> {key} = {} ({}: {how})", value_text(value), if *exact { "exact" } else { "approximate" }))
            }
            NoteKind::AsIs { how } => line(&format!("      -> no key needed: {how}")),
            NoteKind::NotMapped { .. } => {}
        }
    }
    line("");
    line(&format!("clocksources: {}", import.clocksource_rule));
    line("");
    let not_mapped: Vec<&Note> = import.not_mapped().collect();
    line(&format!("Not mapped ({}):", not_mapped.len()));
    if not_mapped.is_empty() {
        line("  nothing");
    }
    for n in not_mapped {
        if let NoteKind::NotMapped { why } = &n.kind {
            line(&format!("  {}: {why}", head(n)));
        }
    }
    if !import.warnings.is_empty() {
        line("");
        line("Warnings:");
        for w in &import.warnings {
            line(&format!("  {w}"));
        }
    }
    out.push('\n');
    let s = &import.scenario;
    let written = Written { name: &s.name, description: &s.description, clocksources: &s.clocksources, guest: &s.guest };
    out.push_str(&toml::to_string(&written).expect("a scenario always serializes"));
    out
}

/// Comment lines wrap here, continuing under the text they continue.
const WIDTH: usize = 110;

/// `s` as comment lines: wrapped at word boundaries, a continued line
/// indented past the leading spaces and `-> ` of the first.
fn comment(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("#\n");
        return;
    }
    let lead = s.len() - s.trim_start().len();
    let indent = lead + if s.trim_start().starts_with("-> ") { 3 } else { 2 };
    let mut current = String::from("# ");
    current.push_str(&s[..lead]);
    let mut first_word = true;
    for word in s.split_whitespace() {
        if !first_word && current.len() + 1 + word.len() > WIDTH {
            out.push_str(current.trim_end());
            out.push('\n');
            current = format!("# {}", " ".repeat(indent));
        } else if !first_word {
            current.push(' ');
        }
        current.push_str(word);
        first_word = false;
    }
    out.push_str(current.trim_end());
    out.push('\n');
}

/// `line 24  <clock offset='utc'>`, or the element alone when the domain leaves it out.
pub fn head(n: &Note) -> String {
    match n.line {
        Some(l) => format!("line {l}: {}", n.element),
        None => n.element.clone(),
    }
}

/// A value as TOML would write it (strings quoted), "unset" as a comment.
fn value_text(v: &str) -> String {
    if v == "unset" {
        "(unset)".to_owned()
    } else if v.parse::<f64>().is_ok() || v == "true" || v == "false" || v.starts_with('[') || v.starts_with('"') {
        v.to_owned()
    } else {
        format!("{v:?}")
    }
}
