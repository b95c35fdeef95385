//! What `register` must write: the objects as Icinga2 has them (read once, before any write)
//! against the objects the config wants.
//!
//! Only the attributes the agent sets are read and compared, each as a whole (`vars` is one
//! dictionary: a variable someone added by hand makes it differ, and the update then replaces
//! it, as every update did before). Icinga2 gives back what it stored, not what was sent:
//! numbers come back as JSON numbers of its own choosing (`10.0` is `10`, `300` may be
//! `300.0`), so both sides are compared on a normal form where every number is an `f64`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The agent's objects as Icinga2 has them: full name → the attributes read.
#[derive(Debug, Default)]
pub struct Current {
    /// This owner's hosts, plus the wanted hosts that exist with another mark or none.
    pub hosts: BTreeMap<String, Map<String, Value>>,
    /// This owner's services.
    pub services: BTreeMap<String, Map<String, Value>>,
}

/// What to do with one wanted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not there (or not known to be ours): PUT, and on "already exists" the filtered POST.
    Ensure,
    /// Ours, but an attribute differs: the filtered POST.
    Update,
    /// Nothing to write: as wanted, or a host the Icinga2 admin made (used as it is).
    Keep,
}

impl Current {
    /// The action for a host: `found` is what the read gave for it.
    pub fn host(&self, name: &str, wanted: &Map<String, Value>) -> Action {
        match self.hosts.get(name) {
            None => Action::Ensure,
            // The admin's own host: the services go onto it, the host is never changed.
            Some(found) if owner(found).is_none() => Action::Keep,
            Some(found) => decide(wanted, found),
        }
    }

    /// The action for a service (`host!name`).
    pub fn service(&self, full_name: &str, wanted: &Map<String, Value>) -> Action {
        match self.services.get(full_name) {
            None => Action::Ensure,
            Some(found) => decide(wanted, found),
        }
    }

    /// Names of `owner`'s objects among `objects` (the hosts read by name may be others').
    pub fn owned<'a>(
        objects: &'a BTreeMap<String, Map<String, Value>>,
        owner_mark: &'a str,
    ) -> impl Iterator<Item = &'a String> + 'a {
        objects
            .iter()
            .filter(move |(_, attrs)| self::owner(attrs) == Some(owner_mark))
            .map(|(name, _)| name)
    }
}

fn decide(wanted: &Map<String, Value>, found: &Map<String, Value>) -> Action {
    if same(wanted, found) {
        Action::Keep
    } else {
        Action::Update
    }
}

/// The owner mark of an object's attributes read from Icinga2, if it has one.
pub fn owner(attrs: &Map<String, Value>) -> Option<&str> {
    attrs
        .get("vars")
        .and_then(|v| v.get("nixcloud_monitoring_owner"))
        .and_then(Value::as_str)
}

/// Whether every attribute in `wanted` is in `found` with the same value (normal forms).
/// Attributes in `found` that the agent does not set are not looked at.
pub fn same(wanted: &Map<String, Value>, found: &Map<String, Value>) -> bool {
    wanted
        .iter()
        .all(|(key, value)| found.get(key).is_some_and(|f| normal(value) == normal(f)))
}

/// A value with every number as an `f64` (objects compare by key whatever their order).
fn normal(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| value.clone(), Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(normal).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normal(v))).collect())
        }
        other => other.clone(),
    }
}

/// The attribute names to read for objects with these wanted attributes: their union.
pub fn attr_names<'a>(wanted: impl IntoIterator<Item = &'a Map<String, Value>>) -> Vec<String> {
    let mut names: Vec<String> = wanted
        .into_iter()
        .flat_map(|attrs| attrs.keys().cloned())
        .collect();
    // Always the owner mark, so the admin's hosts can be told from ours.
    names.push("vars".into());
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn numbers_compare_by_value_whatever_icinga_made_of_them() {
        let wanted =
            map(json!({"check_interval": 300, "vars": {"ping_wrta": 10.0, "p": [1, 2.5]}}));
        let found =
            map(json!({"check_interval": 300.0, "vars": {"p": [1.0, 2.5], "ping_wrta": 10}}));
        assert!(same(&wanted, &found));
    }

    #[test]
    fn a_changed_dropped_or_added_variable_differs() {
        let wanted = map(json!({"vars": {"http_port": 80, "o": "me"}}));
        for found in [
            json!({"vars": {"http_port": 81, "o": "me"}}),
            json!({"vars": {"o": "me"}}),
            json!({"vars": {"http_port": 80, "o": "me", "http_string": "x"}}),
            json!({"vars": null}),
            json!({}),
        ] {
            assert!(!same(&wanted, &map(found.clone())), "{found}");
        }
    }

    #[test]
    fn types_are_not_conflated() {
        let wanted = map(json!({"a": true, "b": "1", "c": [], "d": ""}));
        assert!(!same(
            &wanted,
            &map(json!({"a": 1, "b": "1", "c": [], "d": ""}))
        ));
        assert!(!same(
            &wanted,
            &map(json!({"a": true, "b": 1, "c": [], "d": ""}))
        ));
        assert!(!same(
            &wanted,
            &map(json!({"a": true, "b": "1", "c": {}, "d": ""}))
        ));
        assert!(!same(
            &wanted,
            &map(json!({"a": true, "b": "1", "c": [], "d": null}))
        ));
        assert!(same(
            &wanted,
            &map(json!({"a": true, "b": "1", "c": [], "d": "", "x": 1}))
        ));
    }

    #[test]
    fn actions_follow_presence_mark_and_difference() {
        let wanted =
            map(json!({"check_command": "dummy", "vars": {"nixcloud_monitoring_owner": "me"}}));
        let mut current = Current::default();
        current.hosts.insert("mine".into(), wanted.clone());
        current.hosts.insert(
            "admins".into(),
            map(json!({"check_command": "hostalive", "vars": null})),
        );
        current.hosts.insert(
            "theirs".into(),
            map(json!({"check_command": "dummy", "vars": {"nixcloud_monitoring_owner": "other"}})),
        );
        current.services.insert(
            "h!s".into(),
            map(json!({"check_command": "http", "vars": {}})),
        );
        assert_eq!(current.host("mine", &wanted), Action::Keep);
        assert_eq!(current.host("admins", &wanted), Action::Keep);
        assert_eq!(current.host("theirs", &wanted), Action::Update);
        assert_eq!(current.host("new", &wanted), Action::Ensure);
        assert_eq!(current.service("h!s", &wanted), Action::Update);
        assert_eq!(current.service("h!t", &wanted), Action::Ensure);
        assert_eq!(
            Current::owned(&current.hosts, "me").collect::<Vec<_>>(),
            ["mine"]
        );
    }

    #[test]
    fn the_attributes_read_are_those_set_plus_vars() {
        let a = map(json!({"check_command": "x", "max_check_attempts": 1}));
        let b = map(json!({"check_command": "y", "check_interval": 5}));
        assert_eq!(
            attr_names([&a, &b]),
            [
                "check_command",
                "check_interval",
                "max_check_attempts",
                "vars"
            ]
        );
    }
}
