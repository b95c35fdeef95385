//! What the textfile is made from: per target id its labels, timers, registration time and
//! last result, kept in `<stateDir>/prometheus/targets.json` (the textfile itself is only ever
//! written, never read back).

use super::perfdata::{self, Value};
use crate::result::{CheckResult, State};
use crate::targets::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every target the textfile shows, by id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub targets: BTreeMap<String, Entry>,
}

/// One target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub host: String,
    pub name: String,
    /// `timers.check`, when the target is (or was, at its last result) configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_minutes: Option<u64>,
    /// `timers.timeout`, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u64>,
    /// `failureThreshold`, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Non-OK results in a row up to the last one.
    #[serde(default)]
    pub failures_in_a_row: u32,
    /// When `register` last covered it (milliseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Last>,
}

/// The fields of the newest result the textfile needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Last {
    /// The result's id, so a repeated delivery is recognised.
    pub id: String,
    pub state: State,
    pub measured_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Parsed once here, not at every rewrite.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perfdata: Vec<Value>,
}

impl Entry {
    fn from_target(t: &Target) -> Entry {
        let passive = t.passive();
        Entry {
            host: t.host.clone(),
            name: t.name.clone(),
            check_minutes: passive.map(|p| p.check_minutes),
            timeout_minutes: passive.map(|p| p.timeout_minutes),
            failure_threshold: passive.map(|_| t.failure_threshold),
            failures_in_a_row: 0,
            registered_ms: None,
            last: None,
        }
    }
}

impl Store {
    /// Records a registration at `at_ms`. Only passive targets are kept (the blackbox exporter
    /// runs active ones); with `complete`, whatever is not among `targets` goes.
    pub fn register(&mut self, targets: &[Target], complete: bool, at_ms: u64) {
        if complete {
            self.targets
                .retain(|id, _| targets.iter().any(|t| &t.id == id && t.passive().is_some()));
        }
        for t in targets {
            if t.passive().is_none() {
                // An id that was passive and is now an active check.
                self.targets.remove(&t.id);
                continue;
            }
            let before = self.targets.remove(&t.id);
            let mut entry = Entry::from_target(t);
            // The first registration's time: the stale rule fires for a target registered
            // longer ago than its timeout without any result, and a time renewed by every
            // daily registration would never let a timeout over 24 h pass.
            entry.registered_ms = before
                .as_ref()
                .and_then(|e| e.registered_ms)
                .or(Some(at_ms));
            entry.failures_in_a_row = before.as_ref().map_or(0, |e| e.failures_in_a_row);
            entry.last = before.and_then(|e| e.last);
            self.targets.insert(t.id.clone(), entry);
        }
    }

    /// Records a result unless a newer one is already there (then nothing changes, so a
    /// repeated or late delivery is harmless). Returns whether anything changed.
    pub fn record(&mut self, result: &CheckResult, target: Option<&Target>) -> bool {
        let entry = self
            .targets
            .entry(result.target.clone())
            .or_insert_with(|| match target.filter(|t| t.passive().is_some()) {
                Some(t) => Entry::from_target(t),
                None => Entry {
                    host: result.host.clone(),
                    name: result.name.clone(),
                    check_minutes: None,
                    timeout_minutes: None,
                    failure_threshold: None,
                    failures_in_a_row: 0,
                    registered_ms: None,
                    last: None,
                },
            });
        if let Some(last) = &entry.last {
            if (last.measured_at_ms, last.id.as_str()) >= (result.measured_at_ms, &result.id) {
                return false;
            }
        }
        entry.failures_in_a_row = match result.state {
            State::Ok => 0,
            _ => entry.failures_in_a_row.saturating_add(1),
        };
        entry.last = Some(Last {
            id: result.id.clone(),
            state: result.state,
            measured_at_ms: result.measured_at_ms,
            duration_ms: result.duration_ms,
            perfdata: perfdata::parse(&result.perfdata),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Store;
    use crate::result::{CheckResult, State};
    use crate::targets::Target;

    /// h-a, h-b (passive), then example.org (active).
    fn targets() -> Vec<Target> {
        let text = "backend = \"prometheus\"\nstateDir = \"/nonexistent\"\n\
                    [[targets.passive]]\nhost = \"h\"\nname = \"a\"\ntimers = { check = 2, timeout = 7 }\n\
                    [[targets.passive]]\nhost = \"h\"\nname = \"b\"\n\
                    [[targets.active.check_http]]\nhost = \"example.org\"\n";
        let all = crate::config::Config::parse(std::path::Path::new("t.toml"), text)
            .unwrap()
            .targets;
        ["h-a", "h-b", "example.org-HTTP"]
            .iter()
            .map(|id| crate::targets::find(&all, id).unwrap().clone())
            .collect()
    }

    fn result(t: &Target, state: State, at_ms: u64, id: &str) -> CheckResult {
        let mut r = CheckResult::new(t, state, "", "x=1");
        r.measured_at_ms = at_ms;
        r.id = id.into();
        r
    }

    #[test]
    fn registration_keeps_passive_targets_only_and_complete_prunes() {
        let ts = targets();
        let mut store = Store::default();
        store.register(&ts, true, 5);
        assert_eq!(store.targets.keys().collect::<Vec<_>>(), ["h-a", "h-b"]);
        let a = &store.targets["h-a"];
        assert_eq!(
            (a.check_minutes, a.timeout_minutes, a.registered_ms),
            (Some(2), Some(7), Some(5))
        );

        assert!(store.record(&result(&ts[0], State::Warning, 10, "1"), Some(&ts[0])));
        // Partial: h-b alone is registered again, h-a stays with its result; both keep the
        // time they were first registered.
        store.register(&ts[1..2], false, 20);
        assert_eq!(store.targets["h-a"].registered_ms, Some(5));
        assert_eq!(store.targets["h-b"].registered_ms, Some(5));
        assert!(store.targets["h-a"].last.is_some());
        // Complete without h-a: gone, result and all; h-b keeps going.
        store.register(&ts[1..], true, 30);
        assert_eq!(store.targets.keys().collect::<Vec<_>>(), ["h-b"]);
    }

    #[test]
    fn a_repeat_or_an_older_result_changes_nothing() {
        let ts = targets();
        let mut store = Store::default();
        let newer = result(&ts[0], State::Critical, 100, "b");
        assert!(store.record(&newer, Some(&ts[0])));
        assert!(!store.record(&newer, Some(&ts[0])), "the same result again");
        assert!(!store.record(&result(&ts[0], State::Ok, 99, "z"), Some(&ts[0])));
        assert!(!store.record(&result(&ts[0], State::Ok, 100, "a"), Some(&ts[0])));
        assert_eq!(
            store.targets["h-a"].last.as_ref().unwrap().state,
            State::Critical
        );
        assert!(store.record(&result(&ts[0], State::Ok, 101, "c"), Some(&ts[0])));
        assert_eq!(store.targets["h-a"].last.as_ref().unwrap().state, State::Ok);
    }

    #[test]
    fn a_result_for_an_unknown_target_is_kept_until_a_complete_registration() {
        let ts = targets();
        let mut store = Store::default();
        let mut gone = result(&ts[0], State::Ok, 1, "1");
        gone.target = "h-gone".into();
        gone.name = "gone".into();
        assert!(store.record(&gone, None));
        let e = &store.targets["h-gone"];
        assert_eq!(
            (e.host.as_str(), e.name.as_str(), e.check_minutes),
            ("h", "gone", None)
        );
        store.register(&ts, false, 2);
        assert!(store.targets.contains_key("h-gone"));
        store.register(&ts, true, 3);
        assert!(!store.targets.contains_key("h-gone"));
    }
}
