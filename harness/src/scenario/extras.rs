//! Variants, in-guest actions and gates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration;

/// `[[variants]]`: a named set of kernel parameters to compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub kernel_params: Vec<String>,
    /// Replaces `[guest] time_service` for this variant's runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_service: Option<crate::time_service::TimeServiceSetting>,
}

/// `[[actions]]`: something the probe does inside the guest at a point of
/// the timeline (from the start of measurement). Exactly one of the action
/// keys is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledAction {
    #[serde(with = "duration::serde_text")]
    pub at: Duration,
    /// Write this name to current_clocksource.
    #[serde(default)]
    pub set_clocksource: Option<String>,
    /// Write this name to unbind_clocksource.
    #[serde(default)]
    pub unbind_clocksource: Option<String>,
}

impl ScheduledAction {
    /// The protocol action, when exactly one key is set.
    pub fn action(&self) -> Option<clockstorm_protocol::Action> {
        use clockstorm_protocol::Action;
        match (&self.set_clocksource, &self.unbind_clocksource) {
            (Some(name), None) => Some(Action::SetClocksource { name: name.clone() }),
            (None, Some(name)) => Some(Action::UnbindClocksource { name: name.clone() }),
            _ => None,
        }
    }

    pub fn validate(&self, measure: Duration) -> Result<(), String> {
        if self.action().is_none() {
            return Err("set exactly one of set_clocksource, unbind_clocksource".into());
        }
        if self.at >= measure {
            return Err(format!("at {} is not within the measurement ({})", duration::format_duration(self.at), duration::format_duration(measure)));
        }
        Ok(())
    }
}

/// `[gates]`: what must hold for the scenario to pass, per run (and so over
/// repetitions: every repetition must pass). Absent keys are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gates {
    /// Largest time a guest may lose across any one fault.
    #[serde(default, with = "duration::serde_text_opt")]
    pub max_time_lost: Option<Duration>,
    /// Largest gap between two clock reads.
    #[serde(default, with = "duration::serde_text_opt")]
    pub max_gap: Option<Duration>,
    /// The clocksource must not change during the run.
    pub no_clocksource_switch: bool,
    /// The clocksource the guest must end on.
    pub final_clocksource: Option<String>,
    /// No soft lockup or RCU stall reported by the guest kernel.
    pub no_soft_lockup: bool,
    /// Most backwards steps allowed (0: time never goes backwards).
    pub max_backwards_steps: Option<u64>,
    /// Largest tick backlog (probe timer expirations) allowed.
    pub max_tick_backlog: Option<u64>,
    /// Let a guest clock stop without recovering (off: such a run fails this gate).
    pub allow_stopped_clock: bool,
    /// Longest a guest clock may stand still even when it recovers.
    #[serde(default, with = "duration::serde_text_opt")]
    pub max_clock_stopped: Option<Duration>,
}
