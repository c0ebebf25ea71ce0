//! The clocksources clockstorm compares: typed names shared by the harness,
//! the records, the manifest and the reports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Accel;

/// A guest clocksource, by the name the kernel uses in sysfs and on its
/// command line (`clocksource=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Clocksource {
    #[serde(rename = "tsc")]
    Tsc,
    #[serde(rename = "hpet")]
    Hpet,
    #[serde(rename = "acpi_pm")]
    AcpiPm,
    #[serde(rename = "kvm-clock")]
    KvmClock,
}

impl Clocksource {
    pub const ALL: [Clocksource; 4] = [Clocksource::Tsc, Clocksource::Hpet, Clocksource::AcpiPm, Clocksource::KvmClock];

    /// The kernel's name for it.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Clocksource::Tsc => "tsc",
            Clocksource::Hpet => "hpet",
            Clocksource::AcpiPm => "acpi_pm",
            Clocksource::KvmClock => "kvm-clock",
        }
    }

    /// The clocksource a kernel calls exactly `name` (as sysfs shows it),
    /// None for one clockstorm does not compare (`tsc-early`, `jiffies`,
    /// `refined-jiffies`, …). Unlike [`FromStr`], which reads what a user
    /// typed, nothing is trimmed.
    pub fn from_kernel_name(name: &str) -> Option<Clocksource> {
        Self::ALL.into_iter().find(|c| c.kernel_name() == name)
    }

    /// Why this clocksource cannot be measured under `accel`, if it cannot.
    pub fn unavailable_reason(self, accel: Accel) -> Option<String> {
        match (self, accel) {
            (Clocksource::KvmClock, Accel::Tcg) => Some("kvm-clock is KVM's paravirtual clock and does not exist under TCG".into()),
            _ => None,
        }
    }

    /// All names, for error messages.
    pub fn allowed_names() -> String {
        Self::ALL.iter().map(|c| c.kernel_name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Clocksource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

/// Error for a name that is not a clocksource clockstorm knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown clocksource {name:?}: expected one of {}", Clocksource::allowed_names())]
pub struct UnknownClocksource {
    pub name: String,
}

impl FromStr for Clocksource {
    type Err = UnknownClocksource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.kernel_name() == s.trim()).ok_or_else(|| UnknownClocksource { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed_ones() {
        for cs in Clocksource::ALL {
            assert_eq!(cs.kernel_name().parse::<Clocksource>().unwrap(), cs);
            assert_eq!(Clocksource::from_kernel_name(cs.kernel_name()), Some(cs));
        }
        let err = "hpte".parse::<Clocksource>().unwrap_err().to_string();
        assert_eq!(err, "unknown clocksource \"hpte\": expected one of tsc, hpet, acpi_pm, kvm-clock");
    }

    #[test]
    fn a_kernel_name_is_exact_and_may_be_one_clockstorm_does_not_compare() {
        for name in ["tsc-early", "jiffies", "refined-jiffies", " tsc", "TSC", ""] {
            assert_eq!(Clocksource::from_kernel_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn serde_names_are_the_kernels() {
        for cs in Clocksource::ALL {
            let json = serde_json::to_string(&cs).unwrap();
            assert_eq!(json, format!("\"{}\"", cs.kernel_name()));
            assert_eq!(serde_json::from_str::<Clocksource>(&json).unwrap(), cs);
        }
        assert!(serde_json::from_str::<Clocksource>("\"tsc-early\"").is_err());
    }

    #[test]
    fn kvm_clock_is_skipped_under_tcg_only() {
        assert!(Clocksource::KvmClock.unavailable_reason(Accel::Tcg).is_some());
        assert!(Clocksource::KvmClock.unavailable_reason(Accel::Kvm).is_none());
        assert!(Clocksource::Hpet.unavailable_reason(Accel::Tcg).is_none());
    }
}
