//! The name of a fault's kind, spelled once: on the command line
//! (`freeze:3s+6s`), in the records (`fault_started`, `fault_ended`) and in
//! the reports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which kind of fault, without its settings (the harness's `FaultKind`
/// carries those).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum FaultKindName {
    Freeze,
    VcpuFreeze,
    Pause,
    Starve,
    Command,
}

impl FaultKindName {
    /// In the order error messages list them.
    pub const ALL: [FaultKindName; 5] =
        [FaultKindName::Freeze, FaultKindName::VcpuFreeze, FaultKindName::Pause, FaultKindName::Starve, FaultKindName::Command];

    /// The name used on the command line, in records and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKindName::Freeze => "freeze",
            FaultKindName::VcpuFreeze => "vcpu-freeze",
            FaultKindName::Pause => "pause",
            FaultKindName::Starve => "starve",
            FaultKindName::Command => "command",
        }
    }

    /// All names, for error messages.
    pub fn allowed_names() -> String {
        Self::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Pads like a `&str` (`{:<12}` in tables).
impl fmt::Display for FaultKindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Error for a name that is not a kind of fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault kind {name:?}: expected one of {}", FaultKindName::allowed_names())]
pub struct UnknownFaultKind {
    pub name: String,
}

/// Exact names only (no trimming, no other case).
impl FromStr for FaultKindName {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownFaultKind { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str_with_the_old_strings() {
        let names = ["freeze", "vcpu-freeze", "pause", "starve", "command"];
        assert_eq!(FaultKindName::ALL.map(FaultKindName::as_str), names);
        for kind in FaultKindName::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<FaultKindName>(&json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<FaultKindName>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(FaultKindName::allowed_names(), "freeze, vcpu-freeze, pause, starve, command");
    }

    #[test]
    fn unknown_names_are_errors_that_list_the_kinds() {
        for name in ["Freeze", "vcpu_freeze", " pause", "stop", ""] {
            assert!(name.parse::<FaultKindName>().is_err(), "{name:?}");
            assert!(serde_json::from_str::<FaultKindName>(&format!("{name:?}")).is_err(), "{name:?}");
        }
        let err = "stop".parse::<FaultKindName>().unwrap_err().to_string();
        assert_eq!(err, "unknown fault kind \"stop\": expected one of freeze, vcpu-freeze, pause, starve, command");
    }

    #[test]
    fn display_pads_like_a_str() {
        assert_eq!(format!("[{:<8}]", FaultKindName::Pause), "[pause   ]");
        assert_eq!(format!("[{:>8}]", FaultKindName::Freeze), format!("[{:>8}]", "freeze"));
    }
}
