//! The mapping on real domain XML as virt-install and OpenStack Nova write
//! it (harness/tests/fixtures/libvirt/, README there), on a hand-made one,
//! and on small domains for each rule; the written file for each fixture
//! is pinned by a snapshot and reads back as the same scenario.

use super::*;
use crate::scenario::{parse, PitPolicy, RtcBase, RtcDriftfix};

/// A host roomy enough that no fixture warns, unless a test says otherwise.
const HOST: HostLimits = HostLimits { memory_mib: Some(65536), cpus: Some(32) };

fn fixture(name: &str) -> (String, String) {
    let origin = format!("harness/tests/fixtures/libvirt/{name}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/libvirt/").to_owned() + name;
    (std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")), origin)
}

fn import_fixture(name: &str) -> Import {
    let (text, origin) = fixture(name);
    import(&text, &origin, None, &HOST).unwrap()
}

/// A domain with `body` inside `<domain type='kvm'>`.
fn domain(body: &str) -> Import {
    import(&format!("<domain type='kvm'>\n<name>t</name>\n{body}\n</domain>\n"), "t.xml", None, &HOST).unwrap()
}

fn not_mapped_text(i: &Import) -> String {
    i.not_mapped().map(|n| format!("{} | {:?}\n", n.element, n.kind)).collect()
}

/// The note on the first element whose text contains `needle`.
fn note<'a>(i: &'a Import, needle: &str) -> &'a NoteKind {
    &i.notes
        .iter()
        .find(|n| n.element.contains(needle))
        .unwrap_or_else(|| panic!("no note on {needle}: {:#?}", i.notes))
        .kind
}

fn exact(kind: &NoteKind) -> bool {
    matches!(kind, NoteKind::Mapped { exact: true, .. })
}

/// Written, then read back by the scenario loader: the same scenario.
fn assert_round_trips(i: &Import) {
    let written = render(i);
    let loaded = parse(&written, &i.origin).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(loaded.scenario, i.scenario, "{written}");
}

/// virt-install's defaults for a modern x86 KVM guest (virtinst's
/// domain/clock.py): rtc tickpolicy catchup, pit tickpolicy delay, hpet
/// present no, offset utc; a q35 machine and host-passthrough CPU.
#[test]
fn virt_install_linux_defaults_rtc_catchup_pit_delay_no_hpet() {
    let i = import_fixture("virt-install-linux2020.xml");
    let t = &i.scenario.guest.timers;
    assert_eq!(
        (t.rtc_base, t.rtc_driftfix, t.pit_lost_tick_policy, t.hpet, t.kvmclock),
        (RtcBase::Utc, RtcDriftfix::Slew, Some(PitPolicy::Delay), false, true)
    );
    assert_eq!(i.scenario.clocksources, vec![Clocksource::Tsc, Clocksource::AcpiPm, Clocksource::KvmClock], "no hpet: its HPET is off");
    assert!(i.clocksource_rule.contains("no hpet"), "{}", i.clocksource_rule);
    assert_eq!((i.scenario.guest.vcpus, i.scenario.guest.memory_mib), (2, 128), "<memory>65536</memory> is 64 MiB, raised to the 128 MiB a guest needs");
    assert_eq!((i.scenario.guest.machine.as_str(), i.scenario.guest.cpu_model.as_str()), ("q35", "auto"));
    for key in ["<clock offset='utc'>", "<timer name='rtc'", "<timer name='pit'", "<timer name='hpet'"] {
        assert!(exact(note(&i, key)), "{key}: {:?}", note(&i, key));
    }
    assert!(not_mapped_text(&i).contains("host-passthrough under TCG"), "{}", not_mapped_text(&i));
    assert_round_trips(&i);
}

/// virt-install for Windows adds offset localtime and hypervclock, which
/// clockstorm does not model.
#[test]
fn virt_install_windows_is_localtime_and_its_hypervclock_is_not_mapped() {
    let i = import_fixture("virt-install-kvm-win10.xml");
    assert_eq!(i.scenario.guest.timers.rtc_base, RtcBase::Localtime);
    assert!(matches!(note(&i, "hypervclock"), NoteKind::NotMapped { why } if why.contains("Hyper-V")));
    assert!(matches!(note(&i, "<hyperv>"), NoteKind::NotMapped { .. }));
    assert_round_trips(&i);
}

/// Nova's libvirt driver (`_set_clock`, `_set_kvm_timers`) under
/// virt_type=kvm: offset utc, pit tickpolicy delay, rtc tickpolicy catchup,
/// hpet present no unless the image sets hw_time_hpet; Nova's own
/// libvirt.xml (13.1.0, Mitaka): memory without a unit nor currentMemory.
#[test]
fn nova_defaults_pit_delay_rtc_catchup_no_hpet() {
    for name in ["nova-mitaka-libvirt.xml", "nova-ocata-realtime-dumpxml.xml"] {
        let i = import_fixture(name);
        let t = &i.scenario.guest.timers;
        assert_eq!(
            (t.rtc_base, t.rtc_driftfix, t.pit_lost_tick_policy, t.hpet),
            (RtcBase::Utc, RtcDriftfix::Slew, Some(PitPolicy::Delay), false),
            "{name}"
        );
        assert_eq!(i.scenario.clocksources, vec![Clocksource::Tsc, Clocksource::AcpiPm, Clocksource::KvmClock], "{name}");
        assert_round_trips(&i);
    }
    let mitaka = import_fixture("nova-mitaka-libvirt.xml");
    assert_eq!((mitaka.scenario.guest.vcpus, mitaka.scenario.guest.memory_mib), (16, 16384));
    assert!(matches!(note(&mitaka, "<cputune>"), NoteKind::NotMapped { .. }));
}

/// A Nova guest booted from a kernel (cirros uec) with a real-time flavor:
/// Nova's `root=/dev/vda console=tty0 console=ttyS0` is all dropped, and
/// the pinning and locked memory are listed.
#[test]
fn nova_kernel_boot_drops_root_and_console_and_lists_the_realtime_tuning() {
    let i = import_fixture("nova-ocata-realtime-dumpxml.xml");
    assert!(i.scenario.guest.kernel_params.is_empty(), "{:?}", i.scenario.guest.kernel_params);
    let nm = not_mapped_text(&i);
    for part in
        ["root=/dev/vda in <cmdline>", "console=tty0 in <cmdline>", "console=ttyS0 in <cmdline>", "<memoryBacking>", "<numatune>", "<topology", "<kernel>"]
    {
        assert!(nm.contains(part), "{part} missing from\n{nm}");
    }
    assert!(nm.contains("vCPUs 2-3 fifo"), "{nm}");
    assert_eq!(i.scenario.guest.machine, "pc");
    assert!(!exact(note(&i, "pc-i440fx-2.7")), "a versioned machine type maps to its family, approximately");
}

/// The hand-made domain: clocksource= on the command line is the one
/// measured; kvmclock off, a fixed TSC frequency, invtsc, current vCPUs and memory.
#[test]
fn handmade_cmdline_clocksource_kvmclock_off_and_tsc_frequency() {
    let i = import_fixture("handmade-clocksource-localtime.xml");
    let s = &i.scenario;
    assert_eq!(s.clocksources, vec![Clocksource::Tsc]);
    assert!(i.clocksource_rule.contains("clocksource=tsc"), "{}", i.clocksource_rule);
    assert_eq!(s.guest.kernel_params, ["tsc=reliable", "no_timer_check", "quiet"]);
    let t = &s.guest.timers;
    assert_eq!(
        (t.kvmclock, t.tsc_frequency_hz, t.invtsc, t.pit_lost_tick_policy, t.rtc_base),
        (false, Some(2_400_000_000), true, Some(PitPolicy::Discard), RtcBase::Localtime)
    );
    assert_eq!((s.guest.vcpus, s.guest.memory_mib, s.guest.cpu_model.as_str()), (2, 1536, "Skylake-Server"));
    assert!(!exact(note(&i, "<currentMemory")), "the balloon target differs from <memory>: approximate");
    assert_eq!(s.name, "tsc-pinned-hand-made");
    let nm = not_mapped_text(&i);
    for part in ["track='guest'", "hypervclock", "mode='native'", "<memoryBacking>", "console=ttyS0,115200", "hypervisor (disable)"] {
        assert!(nm.contains(part), "{part} missing from\n{nm}");
    }
    assert_round_trips(&i);
}

#[test]
fn written_scenarios_of_the_fixtures() {
    for name in
        ["virt-install-linux2020", "virt-install-kvm-win10", "nova-mitaka-libvirt", "nova-ocata-realtime-dumpxml", "handmade-clocksource-localtime"]
    {
        let i = import_fixture(&format!("{name}.xml"));
        insta::assert_snapshot!(name, render(&i));
    }
}

#[test]
fn kvmclock_present_no_takes_kvm_clock_out_and_hpet_in_when_present() {
    let i = domain("<clock offset='utc'><timer name='kvmclock' present='no'/><timer name='hpet' present='yes'/></clock>");
    assert_eq!(i.scenario.clocksources, vec![Clocksource::Tsc, Clocksource::Hpet, Clocksource::AcpiPm]);
    assert!(!i.scenario.guest.timers.kvmclock);
    assert!(i.clocksource_rule.contains("no kvm-clock (<timer name='kvmclock' present='no'>)"), "{}", i.clocksource_rule);
    // Nothing said about the HPET: QEMU's default, on.
    assert!(domain("<clock offset='utc'/>").scenario.clocksources.contains(&Clocksource::Hpet));
}

#[test]
fn kernel_parameters_that_turn_clocks_off_count_too() {
    let i = domain("<os><cmdline>no-kvmclock nohpet</cmdline></os>");
    assert_eq!(i.scenario.clocksources, vec![Clocksource::Tsc, Clocksource::AcpiPm]);
    assert_eq!(i.scenario.guest.kernel_params, ["no-kvmclock", "nohpet"]);
}

#[test]
fn an_unknown_clocksource_on_the_cmdline_falls_back_to_the_timers() {
    let i = domain("<os><cmdline>clocksource=jiffies</cmdline></os>");
    assert_eq!(i.scenario.clocksources.len(), 4);
    assert!(matches!(note(&i, "clocksource=jiffies"), NoteKind::NotMapped { why } if why.contains("not a clocksource clockstorm compares")));
}

#[test]
fn a_cmdline_clocksource_the_timers_turned_off_is_kept_with_a_warning() {
    let i = domain("<os><cmdline>clocksource=hpet</cmdline></os><clock offset='utc'><timer name='hpet' present='no'/></clock>");
    assert_eq!(i.scenario.clocksources, vec![Clocksource::Hpet]);
    assert!(i.warnings.iter().any(|w| w.contains("clocksource=hpet but its HPET is off")), "{:?}", i.warnings);
}

#[test]
fn rtc_and_pit_policies_follow_libvirt() {
    let i = domain("<clock offset='utc'><timer name='rtc' tickpolicy='delay'/><timer name='pit'/></clock>");
    assert_eq!(i.scenario.guest.timers.rtc_driftfix, RtcDriftfix::None);
    assert_eq!(i.scenario.guest.timers.pit_lost_tick_policy, Some(PitPolicy::Delay), "libvirt adds delay when no tickpolicy is given");
    let i = domain("<clock offset='utc'><timer name='pit' tickpolicy='catchup'/></clock>");
    assert_eq!(i.scenario.guest.timers.pit_lost_tick_policy, None);
    assert!(matches!(note(&i, "<timer name='pit'"), NoteKind::Mapped { how, .. } if how.contains("QEMU's default, delay")));
    let i = domain("<clock offset='utc'><timer name='rtc' tickpolicy='merge'/><timer name='pit' tickpolicy='merge'/></clock>");
    assert_eq!(i.not_mapped().count(), 2, "libvirt refuses merge for both: {}", not_mapped_text(&i));
}

#[test]
fn offsets_libvirt_computes_at_start_are_approximate() {
    for (clock, base) in [
        ("<clock offset='timezone' timezone='Europe/Paris'/>", RtcBase::Localtime),
        ("<clock offset='variable' adjustment='3600' basis='localtime'/>", RtcBase::Localtime),
        ("<clock offset='variable' adjustment='-60'/>", RtcBase::Utc),
        ("<clock offset='absolute' start='1000000'/>", RtcBase::Utc),
    ] {
        let i = domain(clock);
        assert_eq!(i.scenario.guest.timers.rtc_base, base, "{clock}");
        assert!(!exact(note(&i, "<clock")), "{clock}");
    }
    assert!(matches!(note(&domain("<clock offset='variable' adjustment='3600'/>"), "<clock"), NoteKind::Mapped { how, .. } if how.contains("now+3600 s")));
}

#[test]
fn memory_units_round_up_to_mebibytes_and_the_floor_is_128() {
    for (memory, mib) in [
        ("<memory unit='GiB'>2</memory>", 2048),
        ("<memory unit='G'>1</memory>", 1024),
        ("<memory unit='MB'>1000</memory>", 954),
        ("<memory unit='bytes'>1048577</memory>", 128),
        ("<memory>524288</memory>", 512),
        ("<memory unit='k'>131072</memory>", 128),
    ] {
        assert_eq!(domain(memory).scenario.guest.memory_mib, mib, "{memory}");
    }
    assert!(!exact(note(&domain("<memory unit='MiB'>32</memory>"), "<memory")), "raised to the floor");
}

#[test]
fn memory_beyond_this_host_warns() {
    let text = "<domain type='kvm'><name>big</name><memory unit='GiB'>64</memory><vcpu>8</vcpu></domain>";
    let i = import(text, "big.xml", None, &HostLimits { memory_mib: Some(8192), cpus: Some(4) }).unwrap();
    assert_eq!(i.scenario.guest.memory_mib, 65536, "kept as the domain has it");
    assert!(i.warnings.iter().any(|w| w.contains("65536 MiB of memory and this host 8192 MiB")), "{:?}", i.warnings);
    assert!(i.warnings.iter().any(|w| w.contains("8 vCPUs and this host 4 CPUs")), "{:?}", i.warnings);
    assert!(render(&i).contains("# Warnings:"));
}

#[test]
fn vcpus_take_current_and_stop_at_the_scenario_limit() {
    assert_eq!(domain("<vcpu current='3'>8</vcpu>").scenario.guest.vcpus, 3);
    let i = domain("<vcpu>128</vcpu>");
    assert_eq!(i.scenario.guest.vcpus, 64);
    assert!(!exact(note(&i, "<vcpu")));
}

#[test]
fn the_name_can_be_given_and_is_otherwise_made_safe() {
    let text = "<domain type='qemu'><name>my vm/1</name></domain>";
    assert_eq!(import(text, "d.xml", None, &HOST).unwrap().scenario.name, "my-vm-1");
    assert_eq!(import(text, "d.xml", Some("mine"), &HOST).unwrap().scenario.name, "mine");
    assert_eq!(import("<domain/>", "d.xml", None, &HOST).unwrap().scenario.name, "imported");
    let err = import(text, "d.xml", Some("my vm"), &HOST).unwrap_err().to_string();
    assert_eq!(err, "--name \"my vm\": a scenario name is letters, digits, '-', '_' or '.'");
}

#[test]
fn not_xml_names_the_file_line_and_column() {
    let err = import("<domain type='kvm'>\n  <name>x</name>\n  <os><type>hvm</os>\n</domain>\n", "bad.xml", None, &HOST)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("libvirt domain bad.xml: line 3, column"), "{err}");
    assert!(err.contains("not well-formed XML"), "{err}");
}

/// virt-install's test files hold two domains (the install phase and the
/// result): not one document.
#[test]
fn two_domains_in_one_file_are_refused_at_the_second() {
    let (text, _) = fixture("virt-install-linux2020.xml");
    let err = import(&format!("{text}{text}"), "twice.xml", None, &HOST).unwrap_err().to_string();
    let second = text.lines().count() + 1;
    assert!(err.contains(&format!("line {second}, column 1")), "{err}");
}

#[test]
fn a_document_that_is_not_a_domain_names_its_root() {
    let err = import("<?xml version='1.0'?>\n<network><name>default</name></network>\n", "net.xml", None, &HOST)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "libvirt domain net.xml: line 2: the root element is <network>, not <domain>: expected a libvirt domain definition (`virsh dumpxml NAME`)"
    );
}

#[test]
fn values_libvirt_would_refuse_name_the_line_and_element() {
    let cases = [
        (
            "<clock offset='utc'>\n<timer name='hpet' present='maybe'/></clock>",
            "line 4: <timer name='hpet' present='maybe'>: present='maybe': expected 'yes' or 'no'",
        ),
        ("<memory unit='XB'>1</memory>", "line 3: <memory unit='XB'>1</memory>: unit='XB': expected one of"),
        ("<vcpu>two</vcpu>", "line 3: <vcpu>two</vcpu>: \"two\" is not a whole number"),
        ("<vcpu>0</vcpu>", "0 vCPUs"),
        ("<clock><timer name='pit' tickpolicy='slew'/></clock>", "tickpolicy='slew': expected delay, catchup, merge or discard"),
        ("<clock><timer name='tsc' frequency='fast'/></clock>", "frequency='fast' is not a whole number"),
    ];
    for (body, expected) in cases {
        let err = import(&format!("<domain type='kvm'>\n<name>t</name>\n{body}\n</domain>"), "t.xml", None, &HOST)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("libvirt domain t.xml: line "), "{err}");
        assert!(err.contains(expected), "{body}: {err}");
    }
}
