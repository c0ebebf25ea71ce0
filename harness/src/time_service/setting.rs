//! `time_service` in `[guest]` and in `[[variants]]`: which service the
//! guest runs and how it is configured. Written either as a name
//! (`time_service = "chrony"`) or as a table:
//!
//! ```toml
//! [guest.time_service]
//! kind = "chrony"
//! # The whole chrony.conf, inline or from a file beside the scenario;
//! # neither: the distribution's packaged chrony.conf, as installed.
//! # config = """..."""
//! # config_file = "chrony.conf"
//! directives = ["makestep 0.1 -1"]   # appended: a later directive wins
//! server_options = "iburst"          # of the line naming the host's server
//! ```

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The time service a guest runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeServiceKind {
    /// None: the probe steps the clock once at start and nothing corrects it.
    #[default]
    None,
    /// chronyd, the default NTP client of Debian, Ubuntu and RHEL.
    Chrony,
}

impl fmt::Display for TimeServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeServiceKind::None => "none",
            TimeServiceKind::Chrony => "chrony",
        })
    }
}

/// Options of the host server's line when none are given: what an
/// administrator writes for a server of their own.
pub const DEFAULT_SERVER_OPTIONS: &str = "iburst";

/// One time service setting, as the scenario gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeServiceSetting {
    pub kind: TimeServiceKind,
    /// The whole configuration. None: the packaged default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Where `config` was read from (relative paths: beside the scenario).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    /// Lines appended after the configuration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub directives: Vec<String>,
    /// Options of the `server` line the harness adds for the host's server.
    pub server_options: String,
}

impl Default for TimeServiceSetting {
    fn default() -> Self {
        TimeServiceSetting {
            kind: TimeServiceKind::None,
            config: None,
            config_file: None,
            directives: Vec::new(),
            server_options: DEFAULT_SERVER_OPTIONS.into(),
        }
    }
}

impl TimeServiceSetting {
    /// No service, nothing else said: left out when a scenario is written.
    pub fn is_default(&self) -> bool {
        *self == TimeServiceSetting::default()
    }

    pub fn enabled(&self) -> bool {
        self.kind != TimeServiceKind::None
    }

    /// What the scenario says about the configuration, for reports:
    /// "packaged default + makestep 0.1 -1".
    pub fn describe(&self) -> String {
        let base = match (&self.config_file, &self.config) {
            (Some(f), _) => format!("{}", f.display()),
            (None, Some(_)) => "inline configuration".to_owned(),
            (None, None) => "packaged default configuration".to_owned(),
        };
        let mut out = format!("{} ({base}", self.kind);
        for d in &self.directives {
            out.push_str(&format!(" + `{d}`"));
        }
        out.push(')');
        out
    }
}

/// The table form; every key optional but `kind`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    kind: TimeServiceKind,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    config_file: Option<PathBuf>,
    #[serde(default)]
    directives: Vec<String>,
    #[serde(default)]
    server_options: Option<String>,
}

impl<'de> Deserialize<'de> for TimeServiceSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TimeServiceSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time service name (\"none\" or \"chrony\") or a table with `kind`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let kind = TimeServiceKind::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(TimeServiceSetting { kind, ..TimeServiceSetting::default() })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if t.config.is_some() && t.config_file.is_some() {
                    return Err(de::Error::custom("set one of `config` and `config_file`, not both"));
                }
                if let Some(bad) = t.directives.iter().find(|d| d.contains('\n')) {
                    return Err(de::Error::custom(format!("directive {bad:?} spans lines: give one directive per entry")));
                }
                let server_options = t.server_options.unwrap_or_else(|| DEFAULT_SERVER_OPTIONS.into());
                if server_options.contains('\n') {
                    return Err(de::Error::custom("server_options must be one line"));
                }
                Ok(TimeServiceSetting { kind: t.kind, config: t.config, config_file: t.config_file, directives: t.directives, server_options })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Holder {
        time_service: TimeServiceSetting,
    }

    fn parse(text: &str) -> Result<TimeServiceSetting, String> {
        toml::from_str::<Holder>(text).map(|h| h.time_service).map_err(|e| e.to_string())
    }

    #[test]
    fn a_name_or_a_table() {
        assert_eq!(parse("time_service = \"chrony\"").unwrap().kind, TimeServiceKind::Chrony);
        assert!(!parse("time_service = \"none\"").unwrap().enabled());
        let t = parse("[time_service]\nkind = \"chrony\"\ndirectives = [\"makestep 0.1 -1\"]\nserver_options = \"iburst minpoll 0\"").unwrap();
        assert_eq!(t.directives, ["makestep 0.1 -1"]);
        assert_eq!(t.server_options, "iburst minpoll 0");
        assert_eq!(t.describe(), "chrony (packaged default configuration + `makestep 0.1 -1`)");
        assert_eq!(parse("[time_service]\nkind = \"chrony\"").unwrap().server_options, DEFAULT_SERVER_OPTIONS);
    }

    #[test]
    fn bad_settings_name_what_is_wrong() {
        let e = parse("time_service = \"ntpd\"").unwrap_err();
        assert!(e.contains("ntpd") && e.contains("chrony") && e.contains("line 1"), "{e}");
        let e = parse("[time_service]\nkind = \"chrony\"\nconfg = \"x\"").unwrap_err();
        assert!(e.contains("confg") && e.contains("line 3"), "{e}");
        let e = parse("[time_service]\nkind = \"chrony\"\nconfig = \"x\"\nconfig_file = \"y\"").unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = parse("[time_service]\nkind = \"chrony\"\ndirectives = [\"a\\nb\"]").unwrap_err();
        assert!(e.contains("spans lines"), "{e}");
        let e = parse("[time_service]\nconfig = \"x\"").unwrap_err();
        assert!(e.contains("kind"), "{e}");
    }
}
