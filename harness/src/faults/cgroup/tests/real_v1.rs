//! Real cgroup v1 tests: need root and the v1 freezer and cpu hierarchies at
//! /sys/fs/cgroup (the CI host). They fail, with the reason, where those are
//! missing.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::*;

/// A child process killed and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busy_child() -> Kid {
    let kid = Kid(Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("spawn sh"));
    std::thread::sleep(Duration::from_millis(50));
    kid
}

/// The host context, failing loudly unless `controller` is a mounted v1 hierarchy.
fn v1_host(controller: &'static str) -> CgroupContext {
    let ctx = CgroupContext::host().unwrap_or_else(|e| panic!("cgroup v1 test needs /sys/fs/cgroup: {e}"));
    match ctx.hierarchy {
        Hierarchy::V1 { .. } => {}
        Hierarchy::V2 { .. } => {
            panic!("this test needs cgroup v1 at /sys/fs/cgroup but found cgroup v2")
        }
    }
    if let Err(e) = ctx.hierarchy.v1_controller_dir(controller) {
        panic!("{e}");
    }
    ctx
}

fn name(tag: &str) -> String {
    format!("clockstorm-test-{}-{tag}", std::process::id())
}

fn run_ns(pid: u32, tid: u32) -> u64 {
    thread_run_time_ns(Path::new(DEFAULT_PROC_ROOT), pid, tid).unwrap()
}

#[test]
fn real_v1_freeze_and_thaw_a_busy_process() {
    let ctx = v1_host("freezer");
    let kid = busy_child();
    let pid = kid.0.id();
    let proc_root = Path::new(DEFAULT_PROC_ROOT);

    let t0 = Instant::now();
    let root = ctx.hierarchy.root();
    let mut f = freeze_threads(root, &name("proc"), pid, &[pid]).unwrap();
    eprintln!("freeze took {:?}", t0.elapsed());
    let dir = f.path().to_path_buf();
    assert_eq!(dir, root.join("freezer").join(name("proc")));
    assert_eq!(std::fs::read_to_string(dir.join("freezer.state")).unwrap().trim(), "FROZEN");
    let state = thread_state(proc_root, pid, pid).unwrap();
    eprintln!("frozen busy process shows state {state:?}");
    assert_eq!(state, 'D', "v1 frozen task observed as D on this host");
    let r0 = run_ns(pid, pid);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(run_ns(pid, pid), r0, "a frozen task must not run");

    let t1 = Instant::now();
    f.release().unwrap();
    eprintln!("thaw + move back + rmdir took {:?}", t1.elapsed());
    assert!(!dir.exists(), "{} must be removed", dir.display());
    assert_eq!(v1_cgroup_of_thread(proc_root, pid, pid, "freezer").unwrap(), "/");
    let r1 = run_ns(pid, pid);
    std::thread::sleep(Duration::from_millis(200));
    assert!(run_ns(pid, pid) > r1, "a thawed busy task must run again");
    eprintln!("thawed busy process shows state {:?}", thread_state(proc_root, pid, pid).unwrap());
}

#[test]
fn real_v1_freezes_one_thread_while_its_process_runs() {
    let ctx = v1_host("freezer");
    let pid = std::process::id();
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let spinner = {
        let (counter, stop) = (counter.clone(), stop.clone());
        std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw() as u32).unwrap();
            while !stop.load(Ordering::Relaxed) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let tid = rx.recv().unwrap();
    {
        // Dropping this guard (also on panic) thaws the spinner before we join it.
        let mut f = ThreadFreeze::freeze(&ctx, &name("thread"), pid, &[tid]).unwrap();
        let state = thread_state(Path::new(DEFAULT_PROC_ROOT), pid, tid).unwrap();
        eprintln!("frozen thread {tid} shows state {state:?}");
        assert_eq!(state, 'D');
        let c0 = counter.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(100)); // this thread still runs
        assert_eq!(counter.load(Ordering::Relaxed), c0, "frozen thread advanced");
        f.release().unwrap();
    }
    let c1 = counter.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    assert!(counter.load(Ordering::Relaxed) > c1, "thawed thread did not run");
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();
}

#[test]
fn real_v1_cpu_quota_throttles_a_busy_process() {
    let ctx = v1_host("cpu");
    let kid = busy_child();
    let pid = kid.0.id();
    let mut q = cpu_quota(ctx.hierarchy.root(), &name("cpu"), pid, &[pid], 20u8).unwrap();
    let dir = q.cgroup_dir().to_path_buf();
    assert_eq!(std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap().trim(), "20000");
    let (r0, t0) = (run_ns(pid, pid), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (ran, wall) = (run_ns(pid, pid) - r0, t0.elapsed().as_nanos() as u64);
    let stats = q.release().unwrap();
    assert_eq!(q.release().unwrap(), stats, "second release returns the same counters");
    let share = ran as f64 / wall as f64;
    eprintln!("20% quota: ran {:.1}% of wall time; {stats:?}", share * 100.0);
    assert!(stats.nr_throttled > 0 && stats.throttled_ns > 0, "{stats:?}");
    assert!(share <= 0.40, "ran {:.1}% of wall time under a 20% quota", share * 100.0);
    assert!(share > 0.05, "ran only {:.1}%: was it running at all?", share * 100.0);
    assert!(!dir.exists(), "{} must be removed", dir.display());
    assert_eq!(v1_cgroup_of_thread(Path::new(DEFAULT_PROC_ROOT), pid, pid, "cpu").unwrap(), "/");
    // Released threads must run again promptly (not stay throttled).
    let (r2, t2) = (run_ns(pid, pid), Instant::now());
    while run_ns(pid, pid) == r2 {
        assert!(t2.elapsed() < Duration::from_millis(150), "still throttled after release");
        std::thread::sleep(Duration::from_millis(1));
    }
    eprintln!("ran again {:?} after release", t2.elapsed());
}
