//! `clockstorm scenario import-libvirt`: a scenario from a libvirt domain
//! definition (`virsh dumpxml`, `/etc/libvirt/qemu/NAME.xml`, what
//! virt-install or OpenStack Nova wrote), so "their VM" can be measured.
//!
//! What maps follows what libvirt itself gives QEMU for each element (its
//! `qemu_command.c`: `qemuBuildClockArgStr`, `qemuBuildClockCommandLine`,
//! `qemuBuildCpuCommandLine`), onto the nearest scenario key; every element
//! that has no scenario key is listed with the reason. Pure: text in,
//! scenario and notes out ([`import`]); reading the file and the host's
//! limits is the command's (commands/scenarios.rs), writing is [`render`].

mod clock;
mod cmdline;
mod machine;
mod notes;
mod render;
mod xml;

use crate::clocksource::Clocksource;

use super::{GuestSettings, Scenario};
pub use notes::{Note, NoteKind};
pub use render::{head, render};

/// What this host can give a guest, for the warnings; None: unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostLimits {
    pub memory_mib: Option<u64>,
    pub cpus: Option<u32>,
}

impl HostLimits {
    /// This host's, from /proc/meminfo and the CPUs this process may use.
    pub fn of_this_host() -> HostLimits {
        let memory_mib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib / 1024)
        });
        let cpus = std::thread::available_parallelism().ok().map(|n| n.get() as u32);
        HostLimits { memory_mib, cpus }
    }
}

/// A domain turned into a scenario.
#[derive(Debug, Clone)]
pub struct Import {
    pub scenario: Scenario,
    /// Where the domain came from (the file as named on the command line).
    pub origin: String,
    /// The domain's `<name>` and `type` (kvm, qemu).
    pub domain_name: String,
    pub domain_type: String,
    /// Each element looked at, in document order: what it became or why it could not.
    pub notes: Vec<Note>,
    /// How the clocksources were chosen.
    pub clocksource_rule: String,
    /// What may not behave as the domain would here (memory beyond this host, ...).
    pub warnings: Vec<String>,
}

impl Import {
    /// The elements that could not be mapped.
    pub fn not_mapped(&self) -> impl Iterator<Item = &Note> {
        self.notes.iter().filter(|n| matches!(n.kind, NoteKind::NotMapped { .. }))
    }
}

/// Errors importing a domain: each names the file, and the line and
/// element where there is one.
#[derive(Debug, thiserror::Error)]
pub enum LibvirtError {
    #[error("reading libvirt domain {}: {source}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("libvirt domain {origin}: line {line}, column {column}: not well-formed XML: {message}")]
    Xml { origin: String, line: u32, column: u32, message: String },
    #[error(
        "libvirt domain {origin}: line {line}: the root element is <{found}>, not <domain>: expected a libvirt domain definition (`virsh dumpxml NAME`)"
    )]
    NotADomain { origin: String, line: u32, found: String },
    #[error("libvirt domain {origin}: line {line}: {element}: {message}")]
    BadValue { origin: String, line: u32, element: String, message: String },
    #[error("--name {name:?}: a scenario name is letters, digits, '-', '_' or '.'")]
    BadName { name: String },
    #[error("libvirt domain {origin}: the scenario it maps to does not validate ({message}); this is a bug of the importer")]
    Unmappable { origin: String, message: String },
}

/// Maps domain XML to a scenario. `origin` names the file in notes and
/// errors; `name` overrides the scenario name (else the domain's, made
/// safe for run ids).
pub fn import(text: &str, origin: &str, name: Option<&str>, host: &HostLimits) -> Result<Import, LibvirtError> {
    if let Some(n) = name.filter(|n| !super::is_name(n)) {
        return Err(LibvirtError::BadName { name: n.to_owned() });
    }
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        let pos = e.pos();
        let message = e.to_string();
        let message = message.strip_suffix(&format!(" at {pos}")).unwrap_or(&message).to_owned();
        LibvirtError::Xml { origin: origin.to_owned(), line: pos.row, column: pos.col, message }
    })?;
    let src = xml::Source { doc: &doc, origin };
    let root = doc.root_element();
    if root.tag_name().name() != "domain" || root.tag_name().namespace().is_some() {
        return Err(LibvirtError::NotADomain { origin: origin.to_owned(), line: src.line(root), found: root.tag_name().name().to_owned() });
    }
    let mut notes = notes::Notes::default();
    let mut warnings = Vec::new();
    let mut guest = GuestSettings::default();
    let domain_type = root.attribute("type").unwrap_or("").to_owned();
    let domain_name = xml::child(root, "name").and_then(|n| n.text()).unwrap_or("").trim().to_owned();

    machine::map(&src, root, host, &mut guest, &mut notes, &mut warnings)?;
    let timers = clock::map(&src, root, &mut guest.timers, &mut notes)?;
    let cmd = cmdline::map(&src, root, &mut notes);
    guest.kernel_params = cmd.kernel_params.clone();
    let (clocksources, clocksource_rule) = choose_clocksources(&timers, &cmd, &mut warnings);

    let name = match name {
        Some(n) => n.to_owned(),
        None => scenario_name(&domain_name),
    };
    let description = if domain_name.is_empty() {
        format!("the clocks of the libvirt domain in {origin}")
    } else {
        format!("the clocks of libvirt domain {domain_name:?}, from {origin}")
    };
    let scenario = Scenario {
        name,
        description,
        clocksources,
        seed: 0,
        repetitions: 1,
        guest,
        probe: Default::default(),
        faults: Vec::new(),
        variants: Vec::new(),
        actions: Vec::new(),
        gates: Default::default(),
    };
    // Document order, so the notes read along the file; what the domain
    // leaves out (no line) comes last.
    let mut notes = notes.0;
    notes.sort_by_key(|n| n.line.unwrap_or(u32::MAX));
    super::validate(&scenario, origin).map_err(|e| LibvirtError::Unmappable { origin: origin.to_owned(), message: e.to_string() })?;
    Ok(Import { scenario, origin: origin.to_owned(), domain_name, domain_type, notes, clocksource_rule, warnings })
}

/// The clocksources to compare: the one `clocksource=` names on the
/// domain's kernel command line, else every one its timers allow.
fn choose_clocksources(timers: &clock::TimerFacts, cmd: &cmdline::Cmdline, warnings: &mut Vec<String>) -> (Vec<Clocksource>, String) {
    if let Some(cs) = cmd.clocksource {
        let off = match cs {
            Clocksource::Hpet if !timers.hpet || cmd.no_hpet => Some("its HPET is off"),
            Clocksource::KvmClock if !timers.kvmclock || cmd.no_kvmclock => Some("its kvm-clock is off"),
            _ => None,
        };
        if let Some(off) = off {
            warnings.push(format!(
                "the domain's kernel asks for clocksource={cs} but {off}: its kernel falls back to another clocksource, and a run of this scenario will say the clocksource was not honoured"
            ));
        }
        let rule = format!("the domain's <os><cmdline> names clocksource={cs}, so that one is measured (clockstorm sets clocksource= itself, per run)");
        return (vec![cs], rule);
    }
    let mut chosen = vec![Clocksource::Tsc];
    let mut why = vec!["tsc and acpi_pm always".to_owned()];
    if timers.hpet && !cmd.no_hpet {
        chosen.push(Clocksource::Hpet);
        why.push("hpet as the domain has an HPET".into());
    } else {
        why.push(format!("no hpet ({})", if cmd.no_hpet { "the kernel command line turns it off" } else { "<timer name='hpet' present='no'>" }));
    }
    chosen.push(Clocksource::AcpiPm);
    if timers.kvmclock && !cmd.no_kvmclock {
        chosen.push(Clocksource::KvmClock);
        why.push("kvm-clock as kvmclock is not disabled (measured under KVM only)".into());
    } else {
        why.push(format!(
            "no kvm-clock ({})",
            if cmd.no_kvmclock { "no-kvmclock on the kernel command line" } else { "<timer name='kvmclock' present='no'>" }
        ));
    }
    let rule = format!("no clocksource= on the domain's kernel command line: the clocksources its timers allow: {}", why.join("; "));
    (chosen, rule)
}

/// A scenario name from a domain name: letters, digits, `-`, `_`, `.`.
fn scenario_name(domain: &str) -> String {
    let mut s = String::new();
    for c in domain.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }) {
        if !(c == '-' && s.ends_with('-')) {
            s.push(c);
        }
    }
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() {
        "imported".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
