use super::*;

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

#[test]
fn the_issue_examples_parse() {
    let f = parse_fault("freeze:3s+6s").unwrap();
    assert_eq!(f, FaultSpec { kind: FaultKind::Freeze, start: s(3.0), duration: s(6.0), count: 1, period: s(0.0), jitter: s(0.0) });
    assert_eq!(parse_fault("pause:15s+3s").unwrap().kind, FaultKind::Pause);
    assert_eq!(parse_fault("starve:2s+10s,duty=80").unwrap().kind, FaultKind::Starve { duty: 80, rt: false, quota: None });
    let f = parse_fault("freeze:2s+1s,count=3,period=5s,jitter=200ms").unwrap();
    assert_eq!((f.count, f.period, f.jitter), (3, s(5.0), s(0.2)));
    assert_eq!(parse_fault("vcpu-freeze:4s+2s,vcpus=0/1").unwrap().kind, FaultKind::VcpuFreeze { vcpus: Some(vec![0, 1]) });
    assert_eq!(parse_fault("starve:1s+1s,duty=100,rt=true,quota=20").unwrap().kind, FaultKind::Starve { duty: 100, rt: true, quota: Some(20) });
    assert_eq!(
        parse_fault("command:5s+0s,argv=/usr/bin/logger;VF reset, pf 0").unwrap().kind,
        FaultKind::Command { argv: vec!["/usr/bin/logger".into(), "VF reset, pf 0".into()] }
    );
}

#[test]
fn bad_faults_say_what_is_wrong() {
    let e = |t: &str| parse_fault(t).unwrap_err().to_string();
    assert!(e("melt:1s+1s").contains("unknown kind \"melt\": expected one of freeze, vcpu-freeze, pause, starve, command"));
    assert!(e("freeze:1s").contains("START+DURATION"));
    assert!(e("freeze").contains("KIND:START+DURATION"));
    assert!(e("freeze:1x+1s").contains("start:"));
    assert!(e("starve:1s+1s").contains("duty=PERCENT"));
    assert!(e("starve:1s+1s,duty=150").contains("duty: \"150\""));
    assert!(e("freeze:1s+1s,duty=5").contains("unknown option \"duty\" for freeze"));
    assert!(e("freeze:1s+2s,count=2,period=1s").contains("overlap"));
    assert!(e("freeze:1s+2s,count=0").contains("count"));
    assert!(e("command:1s+0s").contains("argv="));
    assert!(e("freeze:1s+1s,oops").contains("not KEY=VALUE"));
}

#[test]
fn the_typed_name_is_the_one_serde_and_the_parser_use() {
    for text in ["freeze:1s+1s", "vcpu-freeze:1s+1s", "pause:1s+1s", "starve:1s+1s,duty=50", "command:1s+0s,argv=/bin/true"] {
        let kind = parse_fault(text).unwrap().kind;
        let tag = serde_json::to_value(&kind).unwrap()["kind"].clone();
        assert_eq!(tag, serde_json::to_value(kind.name()).unwrap(), "{text}");
        assert_eq!(text.split(':').next(), Some(kind.name().as_str()));
    }
}

/// Found by the `fault_spec` fuzz target: a count of millions was accepted
/// and its expansion took seconds (see `expand::MAX_EVENTS`).
#[test]
fn a_count_above_max_count_is_refused_when_parsed() {
    let err = parse_fault("freeze:13s+1s,count=6297115,period=3s,jitter=5038s").unwrap_err();
    assert!(err.message.contains("from 1 to 10000"), "{err}");
    assert_eq!(parse_fault("freeze:0s+1s,count=10000,period=1s").unwrap().count, MAX_COUNT);
}
