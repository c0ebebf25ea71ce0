//! Runs a plan: one guest per run, each streaming into its own directory of
//! the results directory, and a manifest kept current after every run.

mod console;
mod data_channel;
mod guest_run;
mod line_reader;
mod record_file;
mod run_state;

use std::path::PathBuf;

use clockstorm_protocol::{Manifest, RunOutcome};

use crate::backend::process::GuardError;
use crate::backend::{BackendError, VmBackend};
use crate::output::progress::{PlannedRun, Update};
use crate::output::sink::Progress;
pub use crate::plan::{KernelSetup, RunSpec};
use crate::qemu::accel::Accel;
use crate::results::{ResultsDir, WriteError};
pub use data_channel::read_channel;
pub use guest_run::{probe_config, DONE_GRACE, POWEROFF_TIMEOUT, QMP_CONNECT_TIMEOUT};
pub use run_state::CLOCK_STOP_GIVE_UP;

/// What every run of a plan shares.
pub struct RunContext<'a> {
    /// What starts the guests.
    pub backend: &'a dyn VmBackend,
    /// The accelerator the guests run under (recorded with every run).
    pub accel: Accel,
    /// Root of the host's cgroup mounts, for faults that need cgroups.
    pub cgroup_root: PathBuf,
    /// Whether the user asked the runs to stop (Ctrl-C): the CLI passes
    /// `signals::interrupted`; a test can pass its own flag.
    pub stop_requested: fn() -> bool,
    /// chronyd for the host's NTP server, when a run has a time service.
    pub time_service: Option<std::sync::Arc<crate::time_service::chrony::ChronyInstall>>,
    /// Where the runs' progress goes (stderr, live on a terminal).
    pub progress: &'a Progress,
}

/// Errors that stop a run from being attempted or recorded at all (a guest
/// that fails is not an error: it is a [`RunOutcome::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Guest(#[from] GuardError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Results(#[from] WriteError),
    #[error("{0}")]
    TimeServer(String),
    /// A run's results could not be written mid-run (a full disk): the run
    /// was ended, its guest torn down; what was written before is kept.
    #[error("{0}; the run was ended and its guest torn down; everything written before it is kept (`clockstorm report` reads it)")]
    ResultsWrite(WriteError),
}

/// Runs every spec, `jobs` guests at a time (in order when 1), updating the
/// manifest after each. Stops early, keeping everything recorded, when the
/// user presses Ctrl-C. With more than one job, each worker's QEMU is pinned
/// to its own share of the host CPUs ([`partition_cpus`]).
pub fn run_all(ctx: &RunContext, specs: &[RunSpec], results: &ResultsDir, manifest: &mut Manifest, jobs: usize) -> Result<(), RunError> {
    let jobs = jobs.clamp(1, specs.len().max(1));
    let groups = if jobs > 1 { Some(partition_cpus(&host_cpus(), jobs)) } else { None };
    let planned = specs
        .iter()
        .map(|s| PlannedRun { id: s.id.clone(), measuring: s.skip.is_none().then(|| guest_run::expected_measuring(s)), faults: s.faults.len() })
        .collect();
    ctx.progress.send(Update::Matrix { runs: planned, jobs });
    let next = std::sync::atomic::AtomicUsize::new(0);
    let manifest = std::sync::Mutex::new(manifest);
    let worker = |slot: usize| -> Result<(), RunError> {
        let cpus = groups.as_ref().map(|g| g[slot].as_slice());
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(spec) = specs.get(i) else { return Ok(()) };
            if (ctx.stop_requested)() {
                return Ok(());
            }
            ctx.progress
                .send(Update::Started { id: spec.id.clone(), clocksource: spec.clocksource.to_string(), pinned: cpus.map(|c| format!("{c:?}")) });
            let outcome = match guest_run::run_guest(ctx, spec, &results.run(&spec.id), cpus) {
                Ok(outcome) => outcome,
                Err(e) => {
                    record_failure(results, &mut manifest.lock().unwrap_or_else(|e| e.into_inner()), spec, &e);
                    return Err(e);
                }
            };
            ctx.progress.send(Update::Finished { id: spec.id.clone(), outcome: outcome.clone() });
            let mut m = manifest.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(run) = m.runs.iter_mut().find(|r| r.id == spec.id) {
                run.outcome = Some(outcome);
            }
            results.write_manifest(&m)?;
        }
    };
    if jobs == 1 {
        return worker(0);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs).map(|slot| scope.spawn(move || worker(slot))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Ok(()))).collect::<Result<Vec<()>, _>>().map(|_| ())
    })
}

/// A run that ended on an error: its outcome goes into its record file and
/// into the manifest, both best effort, after the reserved space was given
/// back (the error may be a full disk by another name, e.g. creating a file;
/// no run follows an error). The manifest is replaced atomically, so a write
/// that fails leaves the last one whole.
fn record_failure(results: &ResultsDir, manifest: &mut Manifest, spec: &RunSpec, error: &RunError) {
    // The run's record says what happened, not what to do about it (that is stderr's).
    let reason = match error {
        RunError::ResultsWrite(e) => format!("the run's results could not be written: {e}"),
        other => other.to_string(),
    };
    let outcome = RunOutcome::Failed { reason, console_tail: Vec::new() };
    results.release_reserve();
    match record_file::RecordFile::append(&results.run(&spec.id).records()) {
        Ok(mut r) => {
            if let Err(e) = r.harness(clockstorm_protocol::HarnessEvent::RunFinished(outcome.clone())) {
                eprintln!("clockstorm: {}: could not append the run's end to its records: {e}", spec.id);
            }
        }
        // No record file: the run failed before it could start one.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("clockstorm: {}: could not append the run's end to its records: {e}", spec.id),
    }
    if let Some(run) = manifest.runs.iter_mut().find(|r| r.id == spec.id) {
        run.outcome = Some(outcome);
    }
    if let Err(e) = results.write_manifest(manifest) {
        eprintln!("clockstorm: could not record the failure in the manifest either ({e}); the last manifest is kept whole");
    }
}

/// The CPUs this process may run on.
pub fn host_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect(),
        Err(_) => vec![0],
    }
}

/// Splits `cpus` into `jobs` disjoint groups, as even as possible. With more
/// jobs than CPUs the groups cannot be disjoint: they wrap around (the
/// caller warns that the host is oversubscribed). Pure.
pub fn partition_cpus(cpus: &[usize], jobs: usize) -> Vec<Vec<usize>> {
    let jobs = jobs.max(1);
    if cpus.is_empty() {
        return vec![Vec::new(); jobs];
    }
    if jobs > cpus.len() {
        return (0..jobs).map(|j| vec![cpus[j % cpus.len()]]).collect();
    }
    let mut groups = vec![Vec::new(); jobs];
    for (i, &c) in cpus.iter().enumerate() {
        groups[i * jobs / cpus.len()].push(c);
    }
    groups
}

/// Why `jobs` guests of `vcpus` each oversubscribe `host_cpus`, if they do:
/// a TCG guest keeps a host CPU busy per vCPU, plus QEMU's I/O thread.
pub fn oversubscription(jobs: usize, vcpus: u32, host_cpus: usize) -> Option<String> {
    let needed = jobs * (vcpus as usize + 1);
    (jobs > 1 && needed > host_cpus).then(|| {
        format!(
            "{jobs} guests of {vcpus} vCPU(s) want about {needed} host CPUs (one per vCPU plus QEMU's I/O thread) and this host has {host_cpus}: \
             they will disturb each other's timing; fault scenarios measure timing, so the default is --jobs 1"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_split_into_disjoint_even_groups() {
        assert_eq!(partition_cpus(&[0, 1, 2, 3], 2), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(partition_cpus(&[0, 1, 2], 2), vec![vec![0, 1], vec![2]]);
        assert_eq!(partition_cpus(&[0, 1], 3), vec![vec![0], vec![1], vec![0]]);
        assert_eq!(partition_cpus(&[4, 5, 6, 7, 8, 9, 10, 11], 4), vec![vec![4, 5], vec![6, 7], vec![8, 9], vec![10, 11]]);
    }

    #[test]
    fn oversubscription_is_named_with_the_numbers() {
        assert_eq!(oversubscription(1, 4, 2), None);
        assert_eq!(oversubscription(2, 1, 4), None);
        assert!(oversubscription(2, 1, 2).unwrap().starts_with("2 guests of 1 vCPU(s) want about 4 host CPUs"));
    }
}
