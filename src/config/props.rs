//! Property tests of the config parser ([`Config::parse`], [`Config::load`]): any text, any
//! bytes, and examples/seed.toml with random edits. The parser never panics; it returns either
//! a config whose targets obey the rules, or an error that names the file. Settings (256 cases,
//! fixed seed, `PROPTEST_CASES` / `PROPTEST_RNG_SEED`) are `result::props::settings`.

use crate::config::Config;
use crate::result::props::{any_text, settings};
use crate::targets::{escape, TargetKind};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use std::collections::BTreeSet;
use std::path::Path;

const FILE: &str = "/etc/nixcloud-monitoring/prop-test.toml";
const SEED: &str = include_str!("../../examples/seed.toml");

fn parse(text: &str) -> anyhow::Result<Config> {
    Config::parse(Path::new(FILE), text)
}

/// Ok with a config that keeps the rules, or an error naming `file` (of `text`).
fn sound(
    outcome: anyhow::Result<Config>,
    file: &str,
    text: &str,
) -> Result<Option<Config>, TestCaseError> {
    let lines = text.split('\n').count();
    match outcome {
        Err(e) => {
            let e = format!("{e:#}");
            prop_assert!(e.contains(file), "the error does not name {file}: {e}");
            Ok(None)
        }
        Ok(cfg) => {
            prop_assert_eq!(&cfg.path, Path::new(file));
            let mut ids = BTreeSet::new();
            for t in &cfg.targets {
                prop_assert_eq!(&t.id, &format!("{}-{}", t.host, t.name));
                prop_assert!(!t.name.is_empty(), "{:?}", t.id);
                let control = |c: char| c < ' ' || c == '\x7f';
                prop_assert!(!t.id.contains(control), "{:?}", t.id);
                prop_assert!(ids.insert(t.escaped_id()), "duplicate {:?}", t.id);
                prop_assert!(t.line >= 1 && t.line <= lines, "line {}", t.line);
                if let TargetKind::Passive(p) = &t.kind {
                    prop_assert!(1 <= p.check_minutes && p.check_minutes < p.timeout_minutes);
                }
            }
            Ok(Some(cfg))
        }
    }
}

fn check(text: &str) -> Result<Option<Config>, TestCaseError> {
    sound(parse(text), FILE, text)
}

/// One random edit of a config text.
#[derive(Debug, Clone)]
enum Edit {
    /// Delete up to n chars at a position.
    Delete(Index, usize),
    /// Insert a fragment at a position.
    Insert(Index, String),
    /// Replace the value of the i-th `key = value` line.
    Value(Index, String),
    /// Replace the key of the i-th `key = value` line.
    Key(Index, String),
    DuplicateLine(Index),
    DeleteLine(Index),
    SwapLines(Index, Index),
    Truncate(Index),
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let assignments: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" = "))
        .collect();
    let char_at = |i: &Index| {
        let n = i.index(text.chars().count() + 1);
        text.char_indices().nth(n).map_or(text.len(), |(b, _)| b)
    };
    match edit {
        Edit::Delete(at, n) => {
            let start = char_at(at);
            let end = text[start..]
                .char_indices()
                .nth(*n)
                .map_or(text.len(), |(b, _)| start + b);
            return format!("{}{}", &text[..start], &text[end..]);
        }
        Edit::Insert(at, s) => {
            let at = char_at(at);
            return format!("{}{s}{}", &text[..at], &text[at..]);
        }
        Edit::Truncate(at) => return text[..char_at(at)].to_string(),
        Edit::Value(i, value) | Edit::Key(i, value) if !assignments.is_empty() => {
            let line = &mut lines[assignments[i.index(assignments.len())]];
            let (key, old) = line.split_once(" = ").unwrap();
            *line = match edit {
                Edit::Value(..) => format!("{key} = {value}"),
                _ => format!("{value} = {old}"),
            };
        }
        Edit::Value(..) | Edit::Key(..) => {}
        Edit::DuplicateLine(i) => {
            let i = i.index(lines.len());
            lines.insert(i, lines[i].clone());
        }
        Edit::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Edit::SwapLines(i, j) => {
            let (i, j) = (i.index(lines.len()), j.index(lines.len()));
            lines.swap(i, j);
        }
    }
    lines.join("\n")
}

/// Keys the config knows (and a few it does not), top level and in tables.
fn key() -> impl Strategy<Value = String> {
    select(vec![
        "backend",
        "apiHost",
        "apiKey",
        "apiKeyFile",
        "public",
        "stateDir",
        "maxCount",
        "maxBytes",
        "attempts",
        "timeout",
        "concurrency",
        "host",
        "name",
        "tags",
        "ipv4",
        "ipv6",
        "port",
        "url",
        "contains",
        "warningDays",
        "script",
        "timers",
        "check",
        "scriptTimeout",
        "user",
        "passwordFile",
        "icinga2",
        "queue",
        "targets",
        "passive",
        "\"quoted key\"",
        "a.b",
        "unknown",
    ])
    .prop_map(str::to_string)
}

/// TOML values, well-formed or nearly, of every type, nested a little.
fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-2i64..100_000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any_text(24).prop_map(|s| toml::Value::String(s).to_string()),
        select(vec![
            "\"\"",
            "\"https://\"",
            "\"http://user:pw@h/\"",
            "\"https://h/?q\"",
            "\"https://[::1]:5665\"",
            "\"local\"",
            "\"icinga2\"",
            "\"nixcloud\"",
            "1979-05-27T07:32:00Z",
            "07:32:00",
            "inf",
            "-nan",
            "0x7f",
            "1_000",
            "1e400",
            "\"\\u0000\"",
            "'''multi\nline'''",
            "\"unterminated",
            "[",
            "{",
            "= =",
        ])
        .prop_map(str::to_string),
    ];
    scalar.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            vec((key(), inner), 0..4).prop_map(|kv| {
                let kv: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", kv.join(", "))
            }),
        ]
    })
}

/// Text fragments that TOML gives meaning to.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "\n",
            "[[targets.passive]]\n",
            "[[targets.active.check_http]]\n",
            "[[targets.active.check_ping]]\n",
            "[icinga2]\n",
            "[queue]\n",
            "[targets]\n",
            "\"",
            "'",
            "[",
            "]",
            "{",
            "}",
            "=",
            "#",
            ".",
            ",",
            "\\",
            "\"\"\"",
            "\r",
            "\u{feff}",
            "\0",
        ])
        .prop_map(str::to_string),
        (key(), value()).prop_map(|(k, v)| format!("\n{k} = {v}\n")),
        any_text(8),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        2 => (any::<Index>(), fragment()).prop_map(|(i, s)| Edit::Insert(i, s)),
        4 => (any::<Index>(), value()).prop_map(|(i, v)| Edit::Value(i, v)),
        1 => (any::<Index>(), key()).prop_map(|(i, k)| Edit::Key(i, k)),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        1 => any::<Index>().prop_map(Edit::DeleteLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Edit::SwapLines(i, j)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// `s` as a TOML basic string, escapes and all.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Found by `passive_timers_are_checked`: the default script timeout, `timers.check * 60`
/// seconds, overflowed (a panic in a debug build) for timers.check above u64::MAX / 60, even
/// with scriptTimeout set (fixed in b3fa3a5), and such a timers.check passed and overflowed
/// the daemon's clock (issue 23): it is refused now, naming the key and its bounds.
#[test]
fn huge_timers_check_is_refused_naming_the_key() {
    for script_timeout in ["", "scriptTimeout = 60\n"] {
        let text = format!(
            "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n{script_timeout}\
             timers = {{ check = {}, timeout = {} }}\n",
            u64::MAX / 60 + 1,
            i64::MAX
        );
        let line = 4 + usize::from(!script_timeout.is_empty());
        assert_eq!(
            format!("{:#}", parse(&text).unwrap_err()),
            format!(
                "{FILE}:{line}: target h-n: timers.check = {} is out of range: from 1 to 525600 minutes",
                u64::MAX / 60 + 1
            )
        );
    }
}

#[test]
fn the_seed_itself_parses() {
    let cfg = check(SEED).unwrap().expect("examples/seed.toml is valid");
    assert_eq!(cfg.targets.len(), 6);
}

proptest! {
    #![proptest_config(settings())]

    #[test]
    fn any_text_parses_or_names_the_file(text in any_text(400)) {
        check(&text)?;
    }

    #[test]
    fn any_bytes_parse_or_name_the_file(bytes in vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    /// What the parser reads is the file: bytes that are not UTF-8 are refused by name too.
    #[test]
    fn any_file_loads_or_names_the_file(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..200),
            vec(edit(), 0..3).prop_map(|edits| {
                edits.iter().fold(SEED.to_string(), |t, e| apply(&t, e)).into_bytes()
            }),
        ],
    ) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let path = file.path().to_str().unwrap();
        sound(Config::load(file.path()), path, &String::from_utf8_lossy(&bytes))?;
    }

    /// The seed with up to 8 random edits: wrong types, odd values, moved and cut lines.
    #[test]
    fn edited_seed_parses_or_names_the_file(edits in vec(edit(), 1..8)) {
        let text = edits.iter().fold(SEED.to_string(), |t, e| apply(&t, e));
        check(&text)?;
    }

    /// A passive target's host and name come back exactly as written, whatever they hold,
    /// or the error says which file, line and rule.
    #[test]
    fn passive_host_and_name_are_faithful(host in any_text(12), name in any_text(12)) {
        let text = format!("\n[[targets.passive]]\nhost = {}\nname = {}\n", quoted(&host), quoted(&name));
        let control = |c: char| crate::config::limits::forbidden(c).is_some();
        let valid = !name.is_empty() && !name.contains(control) && !host.contains(control);
        // An empty passive host was allowed (id `-<name>`); the module refuses it and the
        // agent is following. Either way is fine here, as long as it is no panic.
        if host.is_empty() {
            check(&text)?;
            return Ok(());
        }
        match check(&text)? {
            Some(cfg) => {
                prop_assert!(valid, "accepted {host:?} {name:?}");
                prop_assert_eq!(&cfg.targets[0].host, &host);
                prop_assert_eq!(&cfg.targets[0].name, &name);
                prop_assert_eq!(cfg.targets[0].line, 2);
            }
            None => {
                let e = format!("{:#}", parse(&text).unwrap_err());
                prop_assert!(!valid, "refused {:?} {:?}: {}", host, name, e);
                prop_assert!(e.contains(&format!("{FILE}:2")), "{}", e);
            }
        }
    }

    /// Timers: any integers; accepted exactly when each is within its bounds (limits.rs) and
    /// check < timeout, kept as written; the script may run scriptTimeout seconds, else
    /// timers.check minutes.
    #[test]
    fn passive_timers_are_checked(
        check_min in prop_oneof![any::<i64>(), -2i64..200, 525_590i64..525_610, Just(i64::MAX - 1)],
        timeout in prop_oneof![any::<i64>(), -2i64..200, 527_030i64..527_050, Just(i64::MAX)],
        script_timeout in prop::option::of(prop_oneof![0i64..1_000_000, 31_622_390i64..31_622_410]),
    ) {
        let mut text = format!(
            "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\ntimers = {{ check = {check_min}, timeout = {timeout} }}\n"
        );
        if let Some(s) = script_timeout {
            text.push_str(&format!("scriptTimeout = {s}\n"));
        }
        let within = |v: i64, r: std::ops::RangeInclusive<u64>| u64::try_from(v).is_ok_and(|v| r.contains(&v));
        use crate::config::limits::{SCRIPT_TIMEOUT, TIMERS_CHECK, TIMERS_TIMEOUT};
        let valid = within(check_min, TIMERS_CHECK)
            && within(timeout, TIMERS_TIMEOUT)
            && check_min < timeout
            && script_timeout.is_none_or(|s| within(s, SCRIPT_TIMEOUT));
        match check(&text)? {
            Some(cfg) => {
                let TargetKind::Passive(p) = &cfg.targets[0].kind else { panic!("not passive") };
                prop_assert!(valid);
                prop_assert_eq!((p.check_minutes as i64, p.timeout_minutes as i64), (check_min, timeout));
                let seconds = script_timeout.map_or(p.check_minutes * 60, |s| s as u64);
                prop_assert_eq!(p.script_timeout.as_secs(), seconds);
            }
            None => prop_assert!(!valid, "refused {check_min} < {timeout}"),
        }
    }

    /// Active targets of every kind: host, name and address families are checked, the name
    /// defaults per kind, and a refusal names file and line.
    #[test]
    fn active_targets_are_checked(
        kind in select(KINDS.to_vec()),
        host in prop_oneof![any_text(6), Just(String::new()), Just("example.org".to_string())],
        name in prop::option::of(any_text(6)),
        ipv4 in any::<bool>(),
        ipv6 in any::<bool>(),
    ) {
        let mut text = format!("# a comment\n[[targets.active.{}]]\nhost = {}\nipv4 = {ipv4}\nipv6 = {ipv6}\n", kind.0, quoted(&host));
        if let Some(name) = &name {
            text.push_str(&format!("name = {}\n", quoted(name)));
        }
        let control = |c: char| crate::config::limits::forbidden(c).is_some();
        let want_name = name.clone().unwrap_or(kind.1.to_string());
        let valid = !host.is_empty()
            && !host.contains(control)
            && !want_name.is_empty()
            && !want_name.contains(control)
            && (ipv4 || ipv6);
        match check(&text)? {
            Some(cfg) => {
                prop_assert!(valid, "accepted {}", text);
                let t = &cfg.targets[0];
                prop_assert_eq!((&t.host, &t.name, t.line), (&host, &want_name, 2));
                prop_assert_eq!(t.families().len(), usize::from(ipv4) + usize::from(ipv6));
            }
            None => {
                let e = format!("{:#}", parse(&text).unwrap_err());
                prop_assert!(!valid, "refused {}: {}", text, e);
                prop_assert!(e.contains(&format!("{FILE}:2")), "{}", e);
            }
        }
    }

    /// Several targets whose ids may clash, also only after escaping: accepted exactly when
    /// every escaped id is unique, else refused with a message that names the file.
    #[test]
    fn duplicate_ids_are_refused(
        targets in vec((any::<bool>(), select(vec!["a", "b", "a.b", "a_b", "a b", "A"]),
                        select(vec!["n", "HTTP", "x y", "x_y", "x.y"])), 1..5),
    ) {
        let mut text = String::new();
        let mut escaped = Vec::new();
        for (passive, host, name) in &targets {
            let table = if *passive { "passive" } else { "active.check_http" };
            text.push_str(&format!("[[targets.{table}]]\nhost = \"{host}\"\nname = \"{name}\"\n"));
            escaped.push(escape(&format!("{host}-{name}")));
        }
        let unique = escaped.iter().collect::<BTreeSet<_>>().len() == escaped.len();
        match check(&text)? {
            Some(cfg) => {
                prop_assert!(unique, "accepted duplicates: {}", text);
                prop_assert_eq!(cfg.targets.len(), targets.len());
            }
            None => {
                let e = format!("{:#}", parse(&text).unwrap_err());
                prop_assert!(!unique, "refused {}: {}", text, e);
                prop_assert!(e.contains("duplicate target ids"), "{}", e);
            }
        }
    }
}

/// Every active kind, as written in the config, and its default name.
const KINDS: &[(&str, &str)] = &[
    ("check_http", "HTTP"),
    ("check_ssl_cert", "SSL"),
    ("check_dns", "DNS"),
    ("check_ping", "PING"),
    ("check_smtp", "SMTP"),
    ("check_ssh", "SSH"),
    // `<project>_<jobset>`, both empty here
    ("check_hydra", "_"),
];
