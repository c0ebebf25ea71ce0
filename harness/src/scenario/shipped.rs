//! Scenarios that ship inside the binary, so `clockstorm run baseline` works
//! from any directory. Their source is `scenarios/*.toml`.

/// (name, TOML text) of every shipped scenario.
pub const SHIPPED: &[(&str, &str)] = &[
    ("vf-reload", include_str!("../../../scenarios/vf-reload.toml")),
    ("idle", include_str!("../../../scenarios/idle.toml")),
    ("pause", include_str!("../../../scenarios/pause.toml")),
    ("starvation", include_str!("../../../scenarios/starvation.toml")),
    ("vcpu-freeze", include_str!("../../../scenarios/vcpu-freeze.toml")),
    ("failover", include_str!("../../../scenarios/failover.toml")),
    ("kernel-ci", include_str!("../../../scenarios/kernel-ci.toml")),
    ("stopped-clock", include_str!("../../../scenarios/stopped-clock.toml")),
    ("time-service", include_str!("../../../scenarios/time-service.toml")),
];

/// The scenario `clockstorm run` uses when none is named.
pub const DEFAULT_SCENARIO: &str = "vf-reload";

/// The text of the shipped scenario `name`.
pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
