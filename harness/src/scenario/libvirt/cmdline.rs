//! `<os><cmdline>` → the scenario's clocksource and `guest.kernel_params`.
//! clockstorm writes part of the command line itself (`console=ttyS0
//! panic=-1 clocksource=<cs>`) and boots an initramfs whose init is its
//! probe, with no disk and no network: parameters about those are dropped
//! and listed.

use roxmltree::Node;

use super::notes::{NoteKind, Notes};
use super::xml::{child, Source};
use crate::clocksource::Clocksource;

/// What the kernel command line contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Cmdline {
    /// `clocksource=` naming one clockstorm compares.
    pub clocksource: Option<Clocksource>,
    /// The parameters kept, in their order.
    pub kernel_params: Vec<String>,
    /// `no-kvmclock`: the kernel will not use kvm-clock.
    pub no_kvmclock: bool,
    /// `nohpet` or `hpet=disable`: the kernel will not use the HPET.
    pub no_hpet: bool,
}

/// Why a parameter is dropped, or None to keep it.
fn dropped(param: &str) -> Option<&'static str> {
    let key = param.split('=').next().unwrap_or(param);
    Some(match key {
        "console" => "clockstorm sets console=ttyS0 itself: the harness reads the guest's console there",
        "root" | "rootfstype" | "rootflags" | "rootwait" | "rootdelay" | "ro" | "rw" | "resume" => {
            "the guest has no disk: its root is clockstorm's initramfs"
        }
        "init" | "rdinit" => "the probe is the guest's init",
        "initrd" | "BOOT_IMAGE" => "set by a boot loader; clockstorm boots with -kernel and -initrd",
        "panic" => "clockstorm sets panic=-1: a guest kernel panic ends the run at once",
        "ip" => "the guest has no network",
        _ if key.starts_with("rd.") => "dracut's: the initramfs is clockstorm's",
        _ => return None,
    })
}

pub(super) fn map(src: &Source, domain: Node, notes: &mut Notes) -> Cmdline {
    let mut out = Cmdline::default();
    let Some(node) = child(domain, "os").and_then(|os| child(os, "cmdline")) else { return out };
    let text = node.text().unwrap_or("");
    for param in text.split_whitespace() {
        let element = format!("{param} in <cmdline>");
        if let Some(value) = param.strip_prefix("clocksource=") {
            match Clocksource::from_kernel_name(value) {
                Some(cs) => {
                    out.clocksource = Some(cs);
                    notes.part(
                        src,
                        node,
                        element,
                        NoteKind::Mapped {
                            key: "clocksources".into(),
                            value: format!("[\"{cs}\"]"),
                            exact: true,
                            how: "the clocksource the domain's kernel is told to use; clockstorm passes clocksource= itself, per run".into(),
                        },
                    );
                }
                None => notes.part(
                    src,
                    node,
                    element,
                    NoteKind::NotMapped {
                        why: format!("{value} is not a clocksource clockstorm compares ({}); the timers decide", Clocksource::allowed_names()),
                    },
                ),
            }
            continue;
        }
        if let Some(why) = dropped(param) {
            notes.part(src, node, element, NoteKind::NotMapped { why: why.into() });
            continue;
        }
        out.no_kvmclock |= param == "no-kvmclock";
        out.no_hpet |= param == "nohpet" || param == "hpet=disable";
        out.kernel_params.push(param.to_owned());
        notes.part(
            src,
            node,
            element,
            NoteKind::Mapped {
                key: "guest.kernel_params".into(),
                value: format!("{param:?}"),
                exact: true,
                how: "appended after clockstorm's own parameters".into(),
            },
        );
    }
    out
}
