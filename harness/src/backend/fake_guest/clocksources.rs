//! The fake kernel's clocksources, as sysfs shows them and as writes to
//! `current_clocksource` and `unbind_clocksource` change them; pure.
//!
//! It follows the kernel's rules: the best-rated stable clocksource is used
//! unless one is asked for by name; writing an unknown name to
//! `current_clocksource` is accepted and changes nothing; unbinding the
//! current one switches to the next best; unbinding an unknown one fails
//! with ENODEV, the last one with EBUSY.

use clockstorm_protocol::ClocksourceState;

/// The clocksources every fake guest has, in sysfs order.
pub const BUILT_IN: [&str; 3] = ["tsc", "hpet", "acpi_pm"];

/// The kernel's rating of a clocksource (arch/x86: kvm-clock 400, tsc 300,
/// hpet 250, acpi_pm 200): the highest stable one wins.
fn rating(name: &str) -> u32 {
    match name {
        "kvm-clock" => 400,
        "tsc" => 300,
        "hpet" => 250,
        "acpi_pm" => 200,
        _ => 100,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clocksources {
    current: String,
    available: Vec<String>,
    unstable: Vec<String>,
}

/// A change of the current clocksource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub old: String,
    pub new: String,
}

impl Clocksources {
    /// Booted with `clocksource=requested`; when `honored` is false the
    /// kernel ended up on another one (as when it finds the requested one
    /// unusable).
    pub fn boot(requested: Option<&str>, honored: bool) -> Clocksources {
        let mut available: Vec<String> = BUILT_IN.iter().map(|s| s.to_string()).collect();
        if let Some(r) = requested.filter(|r| !BUILT_IN.contains(r)) {
            available.insert(0, r.to_owned());
        }
        let current = match requested {
            Some(r) if honored => r.to_owned(),
            Some(r) => available.iter().find(|c| *c != r).cloned().unwrap_or_else(|| "tsc".into()),
            None => best(&available, &[]).unwrap_or_else(|| "tsc".into()),
        };
        Clocksources { current, available, unstable: Vec::new() }
    }

    pub fn current(&self) -> &str {
        &self.current
    }

    pub fn state(&self) -> ClocksourceState {
        ClocksourceState { current: self.current.clone(), available: self.available.clone() }
    }

    pub fn is_unstable(&self, name: &str) -> bool {
        self.unstable.iter().any(|u| u == name)
    }

    /// A write of `name` to current_clocksource: a known stable one is
    /// switched to; anything else changes nothing (the kernel accepts the
    /// write either way). Returns the switch, if any.
    pub fn set(&mut self, name: &str) -> Option<Switch> {
        if name == self.current || !self.available.iter().any(|a| a == name) || self.is_unstable(name) {
            return None;
        }
        Some(self.switch_to(name.to_owned()))
    }

    /// A write of `name` to unbind_clocksource. Err: the errno the write fails with.
    pub fn unbind(&mut self, name: &str) -> Result<Option<Switch>, i32> {
        if !self.available.iter().any(|a| a == name) {
            return Err(libc::ENODEV);
        }
        let mut switch = None;
        if name == self.current {
            let Some(next) = best(&self.available, &[name]).or_else(|| self.available.iter().find(|a| *a != name).cloned()) else {
                return Err(libc::EBUSY);
            };
            switch = Some(self.switch_to(next));
        }
        self.available.retain(|a| a != name);
        Ok(switch)
    }

    /// The watchdog marks the current clocksource unstable: the next best
    /// stable one takes over. None when there is none to switch to.
    pub fn mark_current_unstable(&mut self) -> Option<Switch> {
        let old = self.current.clone();
        if !self.is_unstable(&old) {
            self.unstable.push(old.clone());
        }
        let next = best(&self.available, &self.unstable.iter().map(String::as_str).collect::<Vec<_>>())?;
        Some(self.switch_to(next))
    }

    /// The clocksource that watches `name` (the watchdog: the best-rated
    /// other one that does not need watching itself).
    pub fn watchdog_for(&self, name: &str) -> String {
        ["hpet", "acpi_pm"]
            .iter()
            .find(|w| **w != name && self.available.iter().any(|a| a == *w))
            .map_or_else(|| "jiffies".to_owned(), |w| w.to_string())
    }

    fn switch_to(&mut self, new: String) -> Switch {
        let old = std::mem::replace(&mut self.current, new.clone());
        Switch { old, new }
    }
}

/// The highest-rated of `available` not in `except`.
fn best(available: &[String], except: &[&str]) -> Option<String> {
    available.iter().filter(|a| !except.contains(&a.as_str())).max_by_key(|a| rating(a)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_uses_the_requested_clocksource_unless_told_to_refuse_it() {
        let c = Clocksources::boot(Some("acpi_pm"), true);
        assert_eq!(c.state(), ClocksourceState { current: "acpi_pm".into(), available: vec!["tsc".into(), "hpet".into(), "acpi_pm".into()] });
        assert_eq!(Clocksources::boot(Some("tsc"), false).current(), "hpet");
        assert_eq!(Clocksources::boot(Some("hpet"), false).current(), "tsc");
        let kvm = Clocksources::boot(Some("kvm-clock"), true);
        assert_eq!((kvm.current(), kvm.state().available[0].as_str()), ("kvm-clock", "kvm-clock"));
        assert_eq!(Clocksources::boot(None, true).current(), "tsc");
    }

    #[test]
    fn writes_switch_and_unbind_as_the_kernel_does() {
        let mut c = Clocksources::boot(Some("tsc"), true);
        assert_eq!(c.set("nope"), None, "an unknown name changes nothing");
        assert_eq!(c.set("tsc"), None);
        assert_eq!(c.set("acpi_pm"), Some(Switch { old: "tsc".into(), new: "acpi_pm".into() }));
        assert_eq!(c.unbind("nope"), Err(libc::ENODEV));
        // Unbinding the current one falls back to the best other.
        assert_eq!(c.unbind("acpi_pm"), Ok(Some(Switch { old: "acpi_pm".into(), new: "tsc".into() })));
        assert_eq!(c.unbind("hpet"), Ok(None));
        assert_eq!(c.unbind("tsc"), Err(libc::EBUSY), "the last one stays");
        assert_eq!(c.state().available, vec!["tsc".to_string()]);
    }

    #[test]
    fn an_unstable_clocksource_is_left_for_the_next_best_and_not_taken_back() {
        let mut c = Clocksources::boot(Some("tsc"), true);
        assert_eq!(c.watchdog_for("tsc"), "hpet");
        assert_eq!(c.mark_current_unstable(), Some(Switch { old: "tsc".into(), new: "hpet".into() }));
        assert!(c.is_unstable("tsc"));
        assert_eq!(c.set("tsc"), None);
        assert_eq!(c.watchdog_for("hpet"), "acpi_pm");
        assert_eq!(c.mark_current_unstable(), Some(Switch { old: "hpet".into(), new: "acpi_pm".into() }));
        assert_eq!(c.mark_current_unstable(), None);
    }
}
