use super::*;

fn spec(channel: DataChannelKind, accel: Accel) -> QemuSpec {
    QemuSpec {
        binary: "qemu-system-x86_64".into(),
        name: "clockstorm-tsc".into(),
        accel,
        machine: machine_arg("q35", accel, &TimerHardware::default()),
        cpu: cpu_arg("auto", accel, &TimerHardware::default()),
        timer_args: timer_args(accel, &TimerHardware::default()),
        vcpus: 2,
        memory_mib: 256,
        kernel: "/k/vmlinuz".into(),
        initrd: "/c/abc.cpio".into(),
        append: kernel_cmdline(Some("tsc"), &[]),
        data_channel: channel,
        data_socket: "/tmp/x/data.sock".into(),
        qmp_socket: "/tmp/x/qmp.sock".into(),
        user_network: false,
        shm_reference: None,
    }
}

#[test]
fn the_shared_memory_reference_is_an_ivshmem_device_on_the_harness_file() {
    let plain = joined(&build_args(&spec(DataChannelKind::Virtio, Accel::Tcg)));
    assert!(!plain.contains("ivshmem"), "{plain}");
    let mut s = spec(DataChannelKind::Virtio, Accel::Tcg);
    s.shm_reference = Some("/tmp/x/reference.shm".into());
    let with = joined(&build_args(&s));
    assert!(
        with.contains(
            "-object memory-backend-file,id=clockstorm-ref,share=on,size=4096,mem-path=/tmp/x/reference.shm -device ivshmem-plain,memdev=clockstorm-ref,id=clockstorm-ref-dev"
        ),
        "{with}"
    );
}

#[test]
fn the_time_service_gets_a_user_mode_network_and_nothing_else_does() {
    let plain = joined(&build_args(&spec(DataChannelKind::Virtio, Accel::Tcg)));
    assert!(!plain.contains("-netdev"), "{plain}");
    let mut s = spec(DataChannelKind::Virtio, Accel::Tcg);
    s.user_network = true;
    let with = joined(&build_args(&s));
    assert!(with.contains("-netdev user,id=clockstorm-net,restrict=off -device virtio-net-pci,netdev=clockstorm-net"), "{with}");
}

fn joined(args: &[OsString]) -> String {
    args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}

#[test]
fn cmdline_puts_the_clocksource_and_lets_extra_params_come_last() {
    assert_eq!(kernel_cmdline(Some("hpet"), &[]), "console=ttyS0 panic=-1 cryptomgr.notests clocksource=hpet");
    assert_eq!(
        kernel_cmdline(Some("tsc"), &["tsc=reliable".into(), "no-kvmclock".into()]),
        "console=ttyS0 panic=-1 cryptomgr.notests clocksource=tsc tsc=reliable no-kvmclock"
    );
    assert_eq!(kernel_cmdline(None, &[]), "console=ttyS0 panic=-1 cryptomgr.notests");
}

#[test]
fn isa_serial_data_channel_is_the_second_uart() {
    let line = joined(&build_args(&spec(DataChannelKind::IsaSerial, Accel::Tcg)));
    insta::assert_snapshot!(line, @"-name clockstorm-tsc,debug-threads=on -machine q35,accel=tcg,hpet=on -cpu max -smp 2 -m 256 -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=console,signal=off -serial chardev:console -rtc base=utc,driftfix=none -chardev socket,id=data,path=/tmp/x/data.sock -serial chardev:data -qmp unix:/tmp/x/qmp.sock,server=on,wait=off -kernel /k/vmlinuz -initrd /c/abc.cpio -append console=ttyS0 panic=-1 cryptomgr.notests clocksource=tsc");
}

#[test]
fn virtio_data_channel_is_a_named_port() {
    let line = joined(&build_args(&spec(DataChannelKind::Virtio, Accel::Kvm)));
    assert!(line.contains("-machine q35,accel=kvm,hpet=on -cpu host"));
    assert!(line.contains("-device virtio-serial-pci,id=clockstorm-vser -device virtserialport,chardev=data,name=org.clockstorm.data"));
    assert!(!line.contains("-serial chardev:data"));
}

#[test]
fn the_append_string_stays_one_argument() {
    let args = build_args(&spec(DataChannelKind::IsaSerial, Accel::Tcg));
    let i = args.iter().position(|a| a == "-append").unwrap();
    assert_eq!(args[i + 1], "console=ttyS0 panic=-1 cryptomgr.notests clocksource=tsc");
    assert_eq!(args.len(), i + 2);
}

#[test]
fn timer_hardware_maps_onto_machine_cpu_and_rtc_arguments_and_kvm_only_parts_stay_out_of_tcg() {
    use crate::qemu::timers::{PitPolicy, RtcBase, RtcDriftfix};
    let t = TimerHardware {
        hpet: false,
        rtc_base: RtcBase::Localtime,
        rtc_driftfix: RtcDriftfix::Slew,
        pit_lost_tick_policy: Some(PitPolicy::Discard),
        kvmclock: false,
        invtsc: true,
        tsc_frequency_hz: Some(2_000_000_000),
    };
    assert_eq!(machine_arg("q35", Accel::Tcg, &t), "q35,accel=tcg,hpet=off");
    assert_eq!(cpu_arg("auto", Accel::Tcg, &t), "max,+invtsc");
    assert_eq!(cpu_arg("auto", Accel::Kvm, &t), "host,+invtsc,-kvmclock,-kvmclock-stable-bit,tsc-frequency=2000000000");
    assert_eq!(cpu_arg("Skylake-Server", Accel::Kvm, &TimerHardware::default()), "Skylake-Server");
    assert_eq!(timer_args(Accel::Tcg, &t), vec!["-rtc", "base=localtime,driftfix=slew"]);
    assert_eq!(timer_args(Accel::Kvm, &t), vec!["-rtc", "base=localtime,driftfix=slew", "-global", "kvm-pit.lost_tick_policy=discard"]);
}
