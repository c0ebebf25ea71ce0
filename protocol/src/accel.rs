//! The accelerator QEMU runs a guest with, as the records and the manifest
//! name it. Choosing it (`--accel auto`, probing the host) is the harness's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What QEMU runs a guest with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Accel {
    Kvm,
    Tcg,
    /// No QEMU of clockstorm's: `guest-probe --standalone` ran on a machine
    /// (a real VM, a bare host) whose virtualisation clockstorm did not set
    /// up and cannot name (`clockstorm import-standalone`).
    Standalone,
}

impl Accel {
    /// The name QEMU's `-machine accel=` takes.
    pub fn qemu_name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            // Never handed to QEMU (no backend resolves to it); the name reports show.
            Accel::Standalone => "standalone",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qemu_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_qemus_and_round_trip_through_serde() {
        for (accel, name) in [(Accel::Kvm, "kvm"), (Accel::Tcg, "tcg")] {
            assert_eq!(accel.qemu_name(), name);
            assert_eq!(accel.to_string(), name);
            assert_eq!(serde_json::to_string(&accel).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Accel>(&format!("\"{name}\"")).unwrap(), accel);
        }
        assert!(serde_json::from_str::<Accel>("\"hvf\"").is_err());
    }
}
