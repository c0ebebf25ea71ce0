//! Property tests: arbitrary input never panics, work is linear in the
//! input, and buffering is bounded.

use clockstorm_reports::kernel_events::{group, parse_lines, Parser, MAX_MATCH_LEN};
use proptest::prelude::*;

use crate::read_fixture;

/// Work units per byte and per line the parser may spend: a RegexSet pass
/// and one capture pass per message, plus bounded bookkeeping per line.
const PER_BYTE: u64 = 2;
const PER_LINE: u64 = 2 + 8 * (group::MAX_PENDING as u64 + 2) + 2 * group::MAX_GROUP_SPAN;

fn real_lines() -> Vec<String> {
    let mut v = Vec::new();
    for f in [
        "interleaved.log",
        "formats-5.14.log",
        "formats-6.6.log",
        "formats-7.x.log",
        "public-harvester-564.log",
        "public-linux-t113-2.log",
        "formats-4.18.log",
    ] {
        v.extend(read_fixture(f).lines().map(str::to_string));
    }
    v
}

fn run(lines: &[String]) -> (Parser, usize) {
    let mut p = Parser::new();
    let mut n = 0;
    let mut max_buffered = 0;
    for l in lines {
        n += p.push_line(l).len();
        max_buffered = max_buffered.max(p.buffered());
    }
    n += p.finish().len();
    assert!(max_buffered as u64 <= group::MAX_GROUP_SPAN + group::MAX_PENDING as u64 + 1, "buffered {max_buffered}");
    (p, n)
}

fn check_linear(lines: &[String], p: &Parser) {
    let bytes: u64 = lines.iter().map(|l| l.len().min(MAX_MATCH_LEN) as u64).sum();
    let bound = PER_BYTE * bytes + PER_LINE * lines.len() as u64 + PER_LINE;
    assert!(p.work() <= bound, "work {} > bound {bound} for {} lines / {bytes} bytes", p.work(), lines.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(lines in prop::collection::vec(any::<String>(), 0..40)) {
        let (p, n) = run(&lines);
        check_linear(&lines, &p);
        // Nothing is dropped: at most one event per line, at least one per group.
        prop_assert!(n <= lines.len());
        prop_assert!(lines.is_empty() || n >= 1);
    }

    #[test]
    fn kernel_shaped_noise_never_panics(lines in prop::collection::vec(
        "(\\[ *[0-9]{1,6}\\.[0-9]{1,6}\\] )?(clocksource: |rcu: |\\t| {8,30})?('[a-z_]{1,8}' |Clocksource |CPU[0-9] |INFO: rcu_sched )?[ -~]{0,60}", 0..60)) {
        let (p, _) = run(&lines);
        check_linear(&lines, &p);
    }

    #[test]
    fn interleavings_of_real_lines_never_panic(idx in prop::collection::vec(any::<prop::sample::Index>(), 0..200)) {
        let real = real_lines();
        let lines: Vec<String> = idx.iter().map(|i| real[i.index(real.len())].clone()).collect();
        let (p, n) = run(&lines);
        check_linear(&lines, &p);
        prop_assert!(n <= lines.len());
    }
}

#[test]
fn work_per_line_is_constant_for_repeated_input() {
    // The same report repeated N times costs N times one copy (± the first).
    let one: Vec<String> = real_lines();
    let mut p1 = Parser::new();
    for l in &one {
        p1.push_line(l);
    }
    p1.finish();
    let copies = 50;
    let many: Vec<String> = (0..copies).flat_map(|_| one.clone()).collect();
    let (pn, n) = run(&many);
    assert!(pn.work() <= copies * p1.work() + p1.work(), "{} vs {}", pn.work(), p1.work());
    assert_eq!(n, copies as usize * parse_lines(one.iter().map(String::as_str)).len());
}

#[test]
fn headers_without_details_do_not_pile_up() {
    let header = "clocksource: timekeeping watchdog on CPU0: Marking clocksource 'tsc' as unstable because the skew is too large:";
    let lines: Vec<String> = (0..10_000).map(|_| header.to_string()).collect();
    let (p, n) = run(&lines);
    assert_eq!(n, lines.len());
    check_linear(&lines, &p);
}

#[test]
fn endless_rcu_details_are_cut_into_bounded_groups() {
    let mut lines = vec!["rcu: INFO: rcu_sched detected stalls on CPUs/tasks:".to_string()];
    lines.extend((0..5_000).map(|i| format!("rcu: \t{}-...!: (0 ticks this GP) idle=cf8/0/0x0 softirq=20/20 fqs=0", i % 512)));
    let (p, n) = run(&lines);
    check_linear(&lines, &p);
    assert!(n >= 1);
}

#[test]
fn huge_line_is_other() {
    let long = format!("clocksource: {}", "x".repeat(1 << 20));
    let ev = parse_lines([long.as_str()]);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind(), "other");
}
