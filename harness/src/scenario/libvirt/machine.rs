//! The machine around the clocks: vCPUs, memory, machine type, CPU model,
//! and the elements that shape timing but have no scenario key (memory
//! backing, CPU tuning, NUMA, Hyper-V and KVM features).

use roxmltree::Node;

use super::notes::{NoteKind, Notes};
use super::xml::{child, children, describe, Source};
use super::{HostLimits, LibvirtError};
use crate::scenario::GuestSettings;

/// The scenario's vCPU limit (scenario/mod.rs `validate`).
const MAX_VCPUS: u64 = 64;
/// Less than the scenario's own floor (64 MiB) would allow, by measurement:
/// a Debian 6.1 cloud kernel with clockstorm's initramfs exited before its
/// first console line at 64 MiB and took 18 s to boot at 96 MiB (7 s at 128).
const MIN_MEMORY_MIB: u64 = 128;

pub(super) fn map(
    src: &Source,
    domain: Node,
    host: &HostLimits,
    g: &mut GuestSettings,
    notes: &mut Notes,
    warnings: &mut Vec<String>,
) -> Result<(), LibvirtError> {
    match domain.attribute("type") {
        Some("kvm") => notes.as_is(src, domain, "a KVM guest: not a scenario key; run with --accel kvm (auto picks KVM where it works). The PIT policy, kvmclock and TSC frequency keys act under KVM only"),
        Some("qemu") => notes.as_is(src, domain, "a TCG (emulated) guest: not a scenario key; run with --accel tcg"),
        Some(other) => notes.not_mapped(src, domain, format!("type='{other}': clockstorm runs QEMU guests, under KVM or TCG")),
        None => {}
    }
    vcpus(src, domain, host, g, notes, warnings)?;
    memory(src, domain, host, g, notes, warnings)?;
    if let Some(os) = child(domain, "os") {
        os_type(src, os, g, notes);
        for name in ["kernel", "initrd"] {
            if let Some(n) = child(os, name) {
                notes.not_mapped(src, n, "clockstorm boots its own kernel (guest.kernels = [\"default\"]) with its probe's initramfs; `--kernel PATH` boots this one if it is a bzImage on this host");
            }
        }
        if let Some(n) = child(os, "loader") {
            notes.not_mapped(src, n, "firmware: clockstorm boots the kernel directly (-kernel), without firmware of the domain's");
        }
    }
    cpu(src, domain, g, notes);
    tuning(src, domain, notes);
    Ok(())
}

/// `<vcpu current=N>MAX</vcpu>` → `guest.vcpus` (the vCPUs that run).
fn vcpus(src: &Source, domain: Node, host: &HostLimits, g: &mut GuestSettings, notes: &mut Notes, warnings: &mut Vec<String>) -> Result<(), LibvirtError> {
    let Some(v) = child(domain, "vcpu") else {
        notes.absent("(no <vcpu>)", NoteKind::AsIs { how: "libvirt's default, one vCPU, as here".into() });
        return Ok(());
    };
    let max = src.number(v)?;
    let current = src.number_attr(v, "current")?;
    let n = current.unwrap_or(max);
    if n == 0 {
        return Err(src.bad(v, "0 vCPUs: libvirt requires at least one"));
    }
    let kept = n.min(MAX_VCPUS);
    g.vcpus = kept as u32;
    let how = match current {
        Some(c) if c != max => format!("-smp {c}: the vCPUs it boots with (current='{c}'); the {max} it may hotplug up to are not modelled"),
        _ => format!("-smp {n}"),
    };
    notes.mapped(
        src,
        v,
        "guest.vcpus",
        kept.to_string(),
        kept == n,
        if kept == n { how } else { format!("{n} vCPUs is above the scenario's limit of {MAX_VCPUS}: {MAX_VCPUS}") },
    );
    if v.attribute("cpuset").is_some() {
        notes.part(
            src,
            v,
            format!("cpuset='{}' of {}", v.attribute("cpuset").unwrap_or(""), describe(v)),
            NoteKind::NotMapped {
                why: "host CPUs for the vCPU threads: clockstorm places them itself (each guest on its own share with --jobs, pinned by starve faults)"
                    .into(),
            },
        );
    }
    if let Some(cpus) = host.cpus.filter(|&c| u64::from(c) < kept) {
        warnings.push(format!("the domain has {kept} vCPUs and this host {cpus} CPUs: the vCPUs will share host CPUs, which is CPU contention the domain may not have where it runs"));
    }
    Ok(())
}

/// `<currentMemory>` (else `<memory>`) with its unit → `guest.memory_mib`.
fn memory(
    src: &Source,
    domain: Node,
    host: &HostLimits,
    g: &mut GuestSettings,
    notes: &mut Notes,
    warnings: &mut Vec<String>,
) -> Result<(), LibvirtError> {
    let max = child(domain, "memory");
    let current = child(domain, "currentMemory");
    let Some(node) = current.or(max) else {
        notes.absent("(no <memory>)", NoteKind::AsIs { how: format!("clockstorm's default, {} MiB", g.memory_mib) });
        return Ok(());
    };
    let mib = mebibytes(src, node)?;
    let mut how = format!("-m {mib}");
    let mut exact = true;
    if let (Some(_), Some(max)) = (current, max) {
        let max_mib = mebibytes(src, max)?;
        if max_mib != mib {
            exact = false;
            how = format!("the balloon's target, <currentMemory>: QEMU boots with <memory> ({max_mib} MiB) and the balloon takes the rest back; clockstorm's guest has no balloon");
        }
    }
    let kept = mib.max(MIN_MEMORY_MIB);
    if kept != mib {
        exact = false;
        how = format!("{mib} MiB is below the {MIN_MEMORY_MIB} MiB clockstorm's guest needs to boot (its kernel and initramfs): {MIN_MEMORY_MIB}");
    }
    let Ok(kept32) = u32::try_from(kept) else {
        return Err(src.bad(node, format!("{mib} MiB is more than a scenario can ask for ({} MiB)", u32::MAX)));
    };
    g.memory_mib = kept32;
    notes.mapped(src, node, "guest.memory_mib", kept.to_string(), exact, how);
    if let Some(host_mib) = host.memory_mib.filter(|&h| h < kept) {
        warnings.push(format!("the domain has {kept} MiB of memory and this host {host_mib} MiB in all: QEMU may fail to start the guest, or the host may swap it (lower guest.memory_mib; clockstorm's scenarios use 256 MiB by default)"));
    }
    Ok(())
}

/// A memory element's size in MiB (rounded up), by libvirt's units (KiB when none).
fn mebibytes(src: &Source, node: Node) -> Result<u64, LibvirtError> {
    let n = src.number(node)?;
    let unit = node.attribute("unit").unwrap_or("KiB");
    let bytes_per: u128 = match unit {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1000 * 1000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1000 * 1000 * 1000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1000u128.pow(4),
        "T" | "TiB" => 1 << 40,
        other => return Err(src.bad(node, format!("unit='{other}': expected one of b, bytes, KB, k, KiB, MB, M, MiB, GB, G, GiB, TB, T, TiB"))),
    };
    let bytes = u128::from(n) * bytes_per;
    Ok(u64::try_from(bytes.div_ceil(1 << 20)).unwrap_or(u64::MAX))
}

/// `<os><type arch machine>` → `guest.machine` (its family).
fn os_type(src: &Source, os: Node, g: &mut GuestSettings, notes: &mut Notes) {
    let Some(t) = child(os, "type") else { return };
    match t.attribute("arch") {
        None | Some("x86_64") => {}
        Some(arch) => {
            notes.part(src, t, format!("arch='{arch}' of {}", describe(t)), NoteKind::NotMapped { why: "clockstorm boots x86_64 guests".into() })
        }
    }
    let Some(machine) = t.attribute("machine") else { return };
    let key = "guest.machine";
    let family = if machine == "q35" || machine.starts_with("pc-q35-") {
        "q35"
    } else if machine == "pc" || machine.starts_with("pc-i440fx-") || machine.starts_with("pc-") {
        "pc"
    } else {
        notes.not_mapped(src, t, format!("machine '{machine}' is not a pc or q35 machine; the scenario keeps q35"));
        return;
    };
    g.machine = family.to_owned();
    if machine == family {
        notes.mapped(src, t, key, family, true, format!("-machine {family}"));
    } else {
        notes.mapped(
            src,
            t,
            key,
            family,
            false,
            format!("{machine} is a versioned (or distribution's) {family} machine that pins older defaults for migration and may not exist in this host's QEMU; its family, the newest {family}, is used"),
        );
    }
}

/// `<cpu>` → `guest.cpu_model` and `guest.timers.invtsc`.
fn cpu(src: &Source, domain: Node, g: &mut GuestSettings, notes: &mut Notes) {
    let Some(cpu) = child(domain, "cpu") else { return };
    let key = "guest.cpu_model";
    let tcg = domain.attribute("type") == Some("qemu");
    match cpu.attribute("mode").unwrap_or("custom") {
        "host-passthrough" => {
            g.cpu_model = "auto".into();
            notes.mapped(src, cpu, key, "auto", !tcg, "libvirt gives -cpu host; auto is host under KVM, max under TCG");
            notes.not_mapped(src, cpu, "host-passthrough under TCG: TCG cannot pass the host CPU through; `auto` gives QEMU's max model there");
        }
        "maximum" => {
            g.cpu_model = "auto".into();
            notes.mapped(src, cpu, key, "auto", tcg, "libvirt gives -cpu max; auto is max under TCG and host under KVM");
        }
        "host-model" => {
            g.cpu_model = "auto".into();
            notes.mapped(
                src,
                cpu,
                key,
                "auto",
                false,
                "libvirt expands host-model to the named model nearest the host's CPU; auto is host under KVM, max under TCG",
            );
        }
        _ => match child(cpu, "model").and_then(|m| m.text()).map(str::trim).filter(|m| !m.is_empty()) {
            Some(model) => {
                g.cpu_model = model.to_owned();
                notes.mapped(src, cpu, key, model, true, format!("-cpu {model}"));
            }
            None => notes.as_is(src, cpu, "no CPU model: clockstorm's auto (host under KVM, max under TCG)"),
        },
    }
    let mut other_features = Vec::new();
    for f in children(cpu, "feature") {
        let name = f.attribute("name").unwrap_or("");
        let policy = f.attribute("policy").unwrap_or("require");
        if name == "invtsc" {
            let on = matches!(policy, "require" | "force");
            g.timers.invtsc = on;
            notes.mapped(
                src,
                f,
                "guest.timers.invtsc",
                on.to_string(),
                policy != "optional",
                if on { "-cpu ...,invtsc=on" } else { "-cpu ...,invtsc=off" },
            );
        } else {
            other_features.push(format!("{name} ({policy})"));
        }
    }
    if !other_features.is_empty() {
        notes.part(
            src,
            cpu,
            format!("<feature>s of {}", describe(cpu)),
            NoteKind::NotMapped {
                why: format!("CPU features other than invtsc are not carried over (the model's defaults apply): {}", other_features.join(", ")),
            },
        );
    }
    if let Some(t) = child(cpu, "topology") {
        notes.not_mapped(src, t, format!("sockets/cores/threads: clockstorm's guest has its {} vCPUs as -smp {}, one socket", g.vcpus, g.vcpus));
    }
    if let Some(n) = child(cpu, "numa") {
        notes.not_mapped(src, n, "guest NUMA cells: clockstorm's guest has one node");
    }
}

/// Elements that change how the guest is scheduled or backed on the host,
/// which clockstorm's own guest does not copy.
fn tuning(src: &Source, domain: Node, notes: &mut Notes) {
    if let Some(m) = child(domain, "memoryBacking") {
        let parts: Vec<&str> = m.children().filter(|c| c.is_element()).map(|c| c.tag_name().name()).collect();
        notes.not_mapped(src, m, format!("{}: clockstorm's guest memory is ordinary anonymous memory", parts.join(", ")));
    }
    if let Some(t) = child(domain, "cputune") {
        let rt: Vec<String> = children(t, "vcpusched")
            .map(|s| format!("vCPUs {} {}", s.attribute("vcpus").unwrap_or("?"), s.attribute("scheduler").unwrap_or("?")))
            .collect();
        let mut why = "vCPU/emulator pinning, shares and quotas: clockstorm pins and throttles vCPU threads itself (a starve fault models CPU contention)"
            .to_owned();
        if !rt.is_empty() {
            why.push_str(&format!("; real-time vCPU scheduling ({}) is not modelled", rt.join(", ")));
        }
        notes.not_mapped(src, t, why);
    }
    if let Some(n) = child(domain, "numatune") {
        notes.not_mapped(src, n, "host NUMA placement of the guest's memory: not modelled");
    }
    if let Some(features) = child(domain, "features") {
        if let Some(h) = child(features, "hyperv") {
            notes.not_mapped(src, h, "Hyper-V enlightenments (for Windows guests): not modelled");
        }
        if let Some(k) = child(features, "kvm") {
            notes.not_mapped(src, k, "KVM paravirtual features (hidden, hint-dedicated, poll-control): not modelled");
        }
        if child(features, "acpi").is_none() {
            notes.not_mapped(
                src,
                features,
                "no <acpi/>: the domain's guest has no ACPI, so no acpi_pm clocksource; clockstorm's guest has ACPI (acpi_pm is still compared)",
            );
        }
    }
}
