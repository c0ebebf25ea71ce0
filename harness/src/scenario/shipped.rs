//! Scenarios that ship inside the binary, so `clockstorm run baseline` works
//! from any directory. Their source is `scenarios/*.toml`.

/// (name, TOML text) of every shipped scenario.
pub const SHIPPED: &[(&str, &str)] = &[("baseline", include_str!("../../../scenarios/baseline.toml"))];

/// The text of the shipped scenario `name`.
pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
