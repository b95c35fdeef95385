//! Targets: what is monitored, as the rest of the agent sees it once the config is checked.
//!
//! A target's id is `<host>-<name>`, as in the original's unit names. Where an id must become a
//! unit, command, file or credential name it goes through [`escape`], the one rule the NixOS
//! module applies too (`nix/escape.nix`), so both sides always agree on names.

use crate::checks::ActiveCheck;
use crate::config::NotifyPolicy;
use crate::secrets::KeySource;
use std::time::Duration;

/// One monitored thing, with every default already applied.
#[derive(Debug, Clone)]
pub struct Target {
    /// `<host>-<name>`, unique over all targets.
    pub id: String,
    pub host: String,
    pub name: String,
    pub tags: Vec<String>,
    pub public: bool,
    /// The target's own key, when it overrides the top-level one.
    pub key: Option<KeySource>,
    /// Line of the config file where the target is declared, for error messages.
    pub line: usize,
    /// Non-OK results in a row before the target counts as failing (`failureThreshold`, the
    /// target's own or the top-level one): for an active target the server's count, for a
    /// passive one the agent's and the server's.
    pub failure_threshold: u32,
    pub kind: TargetKind,
}

/// Whether the server checks the target (active) or the agent pushes results (passive).
#[derive(Debug, Clone)]
pub enum TargetKind {
    Active(ActiveCheck),
    Passive(Passive),
}

/// A passive target's schedule and optional script.
#[derive(Debug, Clone)]
pub struct Passive {
    /// Bash snippet setting `exit`, `status` and `perfdata`; empty when results come by hand.
    pub script: String,
    /// Minutes between results (`timers.check`).
    pub check_minutes: u64,
    /// Minutes of silence after which the server raises an alarm (`timers.timeout`). With a
    /// calendar: its longest gap plus the grace, and `check_minutes` the gap (the one place
    /// every backend and `notify` read the expected silence from).
    pub timeout_minutes: u64,
    /// `timers.calendar`, checked by systemd, when results follow a calendar.
    pub calendar: Option<crate::calendar::Calendar>,
    /// How long the script may run before it is killed and reported UNKNOWN.
    pub script_timeout: Duration,
    /// When the `notify` destination tells someone about this target.
    pub notify: NotifyPolicy,
}

/// An IP address family an active check is registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The suffix the original appended to the name: ` (IPv4)` / ` (IPv6)`.
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

impl Target {
    /// The id in the form usable as a file, unit or credential name.
    pub fn escaped_id(&self) -> String {
        escape(&self.id)
    }

    /// `check_http`, …, or `passive`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            TargetKind::Active(check) => check.kind(),
            TargetKind::Passive(_) => "passive",
        }
    }

    /// The families an active target is registered for; empty for passive targets.
    pub fn families(&self) -> Vec<Family> {
        let TargetKind::Active(check) = &self.kind else {
            return Vec::new();
        };
        let common = check.common();
        [(common.ipv4, Family::V4), (common.ipv6, Family::V6)]
            .into_iter()
            .filter_map(|(on, family)| on.then_some(family))
            .collect()
    }

    /// The passive part, if this is a passive target.
    pub fn passive(&self) -> Option<&Passive> {
        match &self.kind {
            TargetKind::Passive(p) => Some(p),
            TargetKind::Active(_) => None,
        }
    }

    /// A human-readable schedule for `status`.
    pub fn schedule(&self) -> String {
        match &self.kind {
            TargetKind::Active(_) => "registered daily; checked by the server".to_string(),
            TargetKind::Passive(p) if p.calendar.is_some() => {
                let c = p
                    .calendar
                    .as_ref()
                    .map(|c| c.normalized.join("; "))
                    .unwrap_or_default();
                let how = if p.script.is_empty() {
                    "pushed by hand"
                } else {
                    "script"
                };
                format!(
                    "{how} on calendar {c}; at most {} min apart, late after {} min",
                    p.check_minutes, p.timeout_minutes
                )
            }
            TargetKind::Passive(p) if p.script.is_empty() => {
                format!("pushed by hand, expected every {} min", p.check_minutes)
            }
            TargetKind::Passive(p) => format!("script every {} min", p.check_minutes),
        }
    }
}

/// Makes an id safe as a systemd unit name, command name, file name and credential name:
/// every character other than `A-Z a-z 0-9 . _ -` becomes `_`, and so does a leading `.`.
pub fn escape(id: &str) -> String {
    id.chars()
        .enumerate()
        .map(|(i, c)| match c {
            '.' if i == 0 => '_',
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

/// Finds a target by its id or its escaped id.
pub fn find<'a>(targets: &'a [Target], id: &str) -> Option<&'a Target> {
    targets
        .iter()
        .find(|t| t.id == id)
        .or_else(|| targets.iter().find(|t| t.escaped_id() == id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same vectors as nix/tests/escape.nix: module and agent must agree.
    #[test]
    fn escape_matches_the_module() {
        let cases = [
            ("mail.lastlog.de-sometest", "mail.lastlog.de-sometest"),
            (
                "https://hydra.nixos.org-nixpkgs_trunk",
                "https___hydra.nixos.org-nixpkgs_trunk",
            ),
            ("2001:db8::1-PING", "2001_db8__1-PING"),
            (".hidden-x", "_hidden-x"),
            ("mail.lastlog.de-快乐", "mail.lastlog.de-__"),
            ("a b/c", "a_b_c"),
            ("..x", "_.x"),
        ];
        for (id, want) in cases {
            assert_eq!(escape(id), want, "escaping {id:?}");
        }
    }

    fn configured(text: &str) -> Vec<Target> {
        crate::config::Config::parse(std::path::Path::new("/etc/test.toml"), text)
            .unwrap()
            .targets
    }

    #[test]
    fn status_shows_each_kind_of_schedule() {
        let ts = configured(concat!(
            "[[targets.active.check_ping]]\nhost = \"a\"\n",
            "[[targets.passive]]\nhost = \"h\"\nname = \"by-hand\"\n",
            "[[targets.passive]]\nhost = \"h\"\nname = \"scripted\"\nscript = \"exit=0\"\n",
            "timers = { check = 5, timeout = 15 }\n",
        ));
        let got: Vec<(&str, String)> = ts.iter().map(|t| (t.id.as_str(), t.schedule())).collect();
        assert_eq!(
            got,
            [
                (
                    "a-PING",
                    "registered daily; checked by the server".to_string()
                ),
                (
                    "h-by-hand",
                    "pushed by hand, expected every 60 min".to_string()
                ),
                ("h-scripted", "script every 5 min".to_string()),
            ]
        );
    }

    #[test]
    fn targets_are_found_by_id_or_by_escaped_id() {
        // `run`, `submit` and `report-unit` take either form (a unit name carries the escaped).
        let ts = configured(concat!(
            "[[targets.passive]]\nhost = \"a:b\"\nname = \"x\"\n",
            "[[targets.passive]]\nhost = \"c\"\nname = \"y\"\n",
        ));
        let found = |id: &str| find(&ts, id).map(|t| t.id.as_str());
        assert_eq!(found("c-y"), Some("c-y"));
        assert_eq!(found("a:b-x"), Some("a:b-x"));
        assert_eq!(found("a_b-x"), Some("a:b-x"));
        assert_eq!(found("c_y"), None);
        assert_eq!(found("a_b-y"), None);
    }
}
