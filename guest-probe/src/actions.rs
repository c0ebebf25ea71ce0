//! Actions the host asks for: switch or unbind the current clocksource
//! through sysfs, the way an operator validates failover before rollout.

use std::path::Path;

use clockstorm_protocol::{Action, ActionResult};

/// The kernel's clocksource directory.
pub const CLOCKSOURCE_SYSFS: &str = "/sys/devices/system/clocksource/clocksource0";

/// Performs `action` under `sysfs` (the clocksource0 directory) and reports
/// the result with the clocksource current afterwards.
pub fn perform(id: u64, action: &Action, sysfs: &Path, mono_ns: u64) -> ActionResult {
    let (file, name) = match action {
        Action::SetClocksource { name } => ("current_clocksource", name),
        Action::UnbindClocksource { name } => ("unbind_clocksource", name),
    };
    let path = sysfs.join(file);
    let error = std::fs::write(&path, name).err().map(|e| format!("writing {name:?} to {}: {e}", path.display()));
    let clocksource_after = std::fs::read_to_string(sysfs.join("current_clocksource")).unwrap_or_default().trim().to_owned();
    ActionResult { id, action: action.clone(), mono_ns, error, clocksource_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_write_the_right_file_and_report_errors_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("current_clocksource"), "tsc\n").unwrap();
        std::fs::write(dir.path().join("unbind_clocksource"), "").unwrap();
        let r = perform(1, &Action::SetClocksource { name: "hpet".into() }, dir.path(), 5);
        assert_eq!(r.error, None);
        // The fake sysfs keeps what was written, as the kernel would report the switch.
        assert_eq!(r.clocksource_after, "hpet");
        let r = perform(2, &Action::UnbindClocksource { name: "hpet".into() }, dir.path(), 6);
        assert_eq!(r.error, None);
        assert_eq!(std::fs::read_to_string(dir.path().join("unbind_clocksource")).unwrap(), "hpet");
        let missing = dir.path().join("nope");
        let r = perform(3, &Action::SetClocksource { name: "x".into() }, &missing, 7);
        assert!(r.error.unwrap().contains("nope/current_clocksource"));
    }
}
