//! The soak's plan: for each run a fault kind, an interruption and the
//! moment it comes. Pure and seeded: the same seed gives the same soak.

use std::time::Duration;

use crate::faults::expand::splitmix64;

/// How a run is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Interruption {
    /// The run is left to finish.
    None,
    /// SIGINT to the harness (Ctrl-C).
    Sigint,
    /// SIGTERM to the harness.
    Sigterm,
    /// SIGKILL to the harness: only the guardian can clean up.
    SigkillHarness,
    /// SIGKILL to the guest process (QEMU or the fake guest).
    SigkillGuest,
    /// A guest kernel that panics (real kernels only: `rdinit=` pointing
    /// nowhere makes the kernel panic at boot, "VFS: Unable to mount root fs").
    GuestPanic,
}

impl Interruption {
    pub const ALL: [Interruption; 6] = [
        Interruption::None,
        Interruption::Sigint,
        Interruption::Sigterm,
        Interruption::SigkillHarness,
        Interruption::SigkillGuest,
        Interruption::GuestPanic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Interruption::None => "none",
            Interruption::Sigint => "SIGINT",
            Interruption::Sigterm => "SIGTERM",
            Interruption::SigkillHarness => "SIGKILL of the harness",
            Interruption::SigkillGuest => "SIGKILL of the guest",
            Interruption::GuestPanic => "guest panic",
        }
    }
}

/// The fault kinds a soak run gets, as `--fault` specs from 1 s for 3 s.
pub const FAULTS: [&str; 4] = ["freeze:1s+3s", "vcpu-freeze:1s+3s", "pause:1s+3s", "starve:1s+3s,duty=80,quota=30"];

/// One planned run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakRun {
    pub fault: &'static str,
    pub interruption: Interruption,
    /// From the harness's start; spans boot, measuring and the fault.
    pub at: Duration,
}

/// `runs` runs; interruptions come within `window` of the harness's start.
/// Without a real kernel (`panics` false) a planned panic becomes a SIGKILL
/// of the guest, the nearest thing the fake can do.
pub fn plan(runs: u32, seed: u64, window: Duration, panics: bool) -> Vec<SoakRun> {
    let mut state = splitmix64(seed);
    let mut next = || {
        state = splitmix64(state);
        state
    };
    (0..runs)
        .map(|_| {
            let fault = FAULTS[(next() % FAULTS.len() as u64) as usize];
            let mut interruption = Interruption::ALL[(next() % Interruption::ALL.len() as u64) as usize];
            if interruption == Interruption::GuestPanic && !panics {
                interruption = Interruption::SigkillGuest;
            }
            let min = Duration::from_millis(300);
            let at = min + Duration::from_millis(next() % (window.saturating_sub(min).as_millis().max(1) as u64));
            SoakRun { fault, interruption, at }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_soak_and_every_kind_comes_up() {
        let a = plan(60, 7, Duration::from_secs(10), true);
        assert_eq!(a, plan(60, 7, Duration::from_secs(10), true));
        assert_ne!(a, plan(60, 8, Duration::from_secs(10), true));
        for kind in Interruption::ALL {
            assert!(a.iter().any(|r| r.interruption == kind), "{kind:?} never planned");
        }
        for f in FAULTS {
            assert!(a.iter().any(|r| r.fault == f), "{f} never planned");
        }
        assert!(a.iter().all(|r| r.at >= Duration::from_millis(300) && r.at < Duration::from_secs(10)));
    }

    #[test]
    fn the_fake_gets_no_panics() {
        assert!(plan(60, 7, Duration::from_secs(5), false).iter().all(|r| r.interruption != Interruption::GuestPanic));
    }
}
