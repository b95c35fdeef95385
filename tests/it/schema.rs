//! One schema. The NixOS module's options (nix/options.nix and nix/targets.nix, walked without
//! nixpkgs by nix/tests/options-schema.nix through the stand-in lib of
//! nix/tests/options-stub-lib.nix) are held against what the built agent accepts, in both
//! directions, and against docs/config.md:
//!
//! * module → agent: every config-file key of the module, set to its default (and example,
//!   and every value of a bool or enum), is accepted by `check`;
//! * agent → module: serde's `deny_unknown_fields` message for a deliberately unknown key
//!   (`unknown field `__probe`, expected one of `a`, `b`, …`) lists the keys the agent
//!   accepts in each table; each must be an option (or a key the module renders itself);
//! * types: a table given where a value belongs makes serde name the agent's type
//!   (`expected u32`, `expected a string`, `unknown variant …, expected one of …`); the
//!   module's type must fit into it (string to string, an integer range inside the agent's);
//! * defaults: what `check` shows for a target with nothing set (`would register …` with the
//!   full payload) equals the module's defaults, and so does `delivery.attempts` (counted
//!   against a server answering 500);
//! * docs/config.md documents exactly the config-file keys, with the module's defaults.
//!
//! docs/nixos.md's option table is compared the same way (`nixos_md_option_tables_match_the_module`).

use crate::util::{nix_eval_json, output_text, Reply, Sandbox, TestServer};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::sync::OnceLock;

/// A config key path, `["targets", "passive", "timers", "check"]`.
type KeyPath = Vec<String>;

/// One config-file key of the module.
#[derive(Debug, Clone)]
struct Entry {
    path: KeyPath,
    /// `value`, `table` (a set of options or a submodule) or `tables` (a list of submodules).
    kind: String,
    /// `{ name, elemType?, values?, min?, max? }` as options-stub-lib.nix records it.
    ty: Value,
    /// `None`: no default; `Some(Null)`: default null (the key is left out of the file).
    default: Option<Value>,
    example: Option<Value>,
}

struct Schema {
    entries: Vec<Entry>,
    /// Options that never reach the file (render.nix moduleOnlyTopKeys/moduleOnlyTargetKeys).
    module_only: Vec<Entry>,
    /// Top-level keys render.nix writes that are no option (`stateDir`), with their values.
    rendered: Map<String, Value>,
}

/// Keys whose module default the module's own assertions refuse (nix/checks.nix: "every target
/// needs a non-empty `host` and `name`"): the default is a placeholder, only the example and
/// other values are given to the agent.
const PLACEHOLDER_DEFAULTS: &[&str] = &["host"];

/// Options whose module default null stands for an agent default that depends on another key:
/// `timers.check` and `timers.timeout` are 60 and 180 unless `timers.calendar` is set.
const NULL_STANDS_FOR: &[(&str, i64)] = &[
    ("targets.passive.timers.check", 60),
    ("targets.passive.timers.timeout", 180),
];

/// Keys that only go together with a sibling: a sample of the first is written with the
/// sibling set to this value (`timers.grace` belongs to `timers.calendar`).
const COMPANIONS: &[(&str, &str, &str)] = &[("targets.passive.timers.grace", "calendar", "daily")];

/// Integer options whose module type allows values the agent's type refuses: such a value
/// passes NixOS's evaluation and then fails every unit on the config file. None today (the
/// module's timeouts and `delivery.attempts` are `types.ints.between 1 4294967295`, the agent's
/// u32); the test fails if one appears, or if this list keeps one that was fixed.
const KNOWN_RANGE_GAPS: &[&str] = &[];

/// The name of the one notify channel the configs here have (`notify.channels.<name>`).
const NAME: &str = "x";

fn dotted(path: &[String]) -> String {
    path.join(".")
}

fn key_path(dotted: &str) -> KeyPath {
    dotted.split('.').map(str::to_string).collect()
}

// --- the module side ---------------------------------------------------------------------------

fn strings(v: &Value) -> KeyPath {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn entry(e: &Value) -> Entry {
    Entry {
        path: strings(&e["path"]),
        kind: e["kind"].as_str().unwrap().to_string(),
        ty: e["type"].clone(),
        // A default options-schema.nix cannot evaluate (`package`) is absent: not compared.
        default: e.get("default").cloned(),
        example: e.get("example").cloned(),
    }
}

/// The module's schema, evaluated once per test process (None: no nix-instantiate, skipped).
fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let v = nix_eval_json(
                "schema (the module's options)",
                "import ./nix/tests/options-schema.nix",
            )?;
            let entries =
                |k: &str| -> Vec<Entry> { v[k].as_array().unwrap().iter().map(entry).collect() };
            Some(Schema {
                entries: entries("entries"),
                module_only: entries("moduleOnly"),
                rendered: v["rendered"].as_object().unwrap().clone(),
            })
        })
        .as_ref()
}

impl Schema {
    fn entry(&self, path: &[String]) -> &Entry {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no option {}", dotted(path)))
    }

    /// Every table of the file: the top level and each `table`/`tables` entry.
    fn tables(&self) -> Vec<KeyPath> {
        let mut t = vec![Vec::new()];
        // A `named` entry (notify.channels) is no table of keys: its tables follow under
        // `<name>`.
        t.extend(
            self.entries
                .iter()
                .filter(|e| e.kind != "value" && e.kind != "named")
                .map(|e| e.path.clone()),
        );
        t
    }

    /// The config-file keys of a table: its options, plus what render.nix adds at the top.
    fn keys_of(&self, table: &[String]) -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = self
            .entries
            .iter()
            .filter(|e| e.path.len() == table.len() + 1 && e.path.starts_with(table))
            .map(|e| e.path.last().unwrap().clone())
            .collect();
        if table.is_empty() {
            keys.extend(self.rendered.keys().cloned());
        }
        keys
    }

    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.kind == "value")
    }

    /// The lists of targets (`targets.active.<kind>`, `targets.passive`).
    fn target_lists(&self) -> Vec<KeyPath> {
        self.entries
            .iter()
            .filter(|e| e.kind == "tables")
            .map(|e| e.path.clone())
            .collect()
    }

    /// What a table needs so the agent (and the module's assertions) accept it at all:
    /// `stateDir` in the sandbox and complete `[icinga2]` and `[healthchecks]` tables at the
    /// top (so that `backend = "icinga2"` and `"healthchecks"` can be tried), a non-empty `host` in every target, a `name` in a
    /// passive target (it has no default). Values are the options' examples.
    fn base(&self, table: &[String]) -> Value {
        let example = |k: &str| {
            let mut p = table.to_vec();
            p.push(k.to_string());
            self.entry(&p).example.clone().expect("an example")
        };
        let t: Vec<&str> = table.iter().map(String::as_str).collect();
        match t.as_slice() {
            [] => {
                let icinga2 = self.base(&key_path("icinga2"));
                let healthchecks = self.base(&key_path("healthchecks"));
                let channel = self.base(&key_path("notify.channels.<name>"));
                json!({
                    "stateDir": "{state}", "icinga2": icinga2, "healthchecks": healthchecks,
                    "notify": { "channels": { NAME: channel } },
                })
            }
            // What every channel type needs, so that each `type` can be tried; the keys of
            // other types are ignored (with a warning).
            ["notify", "channels", "<name>"] => json!({
                "type": "ntfy", "topic": "alerts", "to": example("to"),
                "host": "mail.example.org", "user": "monitor", "url": example("url"),
            }),
            ["icinga2"] => json!({
                "url": example("url"), "user": example("user"),
                "passwordFile": example("passwordFile"),
            }),
            ["healthchecks"] => json!({ "apiKeyFile": example("apiKeyFile") }),
            ["targets", "active", _] => json!({ "host": example("host") }),
            ["targets", "passive"] => json!({ "host": example("host"), "name": example("name") }),
            _ => json!({}),
        }
    }

    /// The base config with `value` at `path` (tables and target lists created on the way;
    /// `<name>` in a path is the channel [`NAME`]).
    fn config_with(&self, path: &[String], value: Value) -> Value {
        let mut root = self.base(&[]);
        let mut cur = &mut root;
        let key = |k: &String| match k.as_str() {
            "<name>" => NAME.to_string(),
            _ => k.clone(),
        };
        for i in 0..path.len() - 1 {
            let prefix = &path[..=i];
            let is_list = self
                .entries
                .iter()
                .any(|e| e.path == prefix && e.kind == "tables");
            let slot = cur
                .as_object_mut()
                .unwrap()
                .entry(key(&path[i]))
                .or_insert_with(|| {
                    if is_list {
                        json!([self.base(prefix)])
                    } else {
                        self.base(prefix)
                    }
                });
            cur = if is_list { &mut slot[0] } else { slot };
        }
        cur[key(path.last().unwrap())] = value;
        for (k, sibling, v) in COMPANIONS {
            if dotted(path) == *k {
                cur[*sibling] = json!(v);
            }
        }
        root
    }
}

// --- the agent side ----------------------------------------------------------------------------

/// Keys whose value must name a file that is there (the agent refuses a missing one): their
/// samples are `{dir}/ca.crt`, which [`check`] writes into its sandbox.
const EXISTING_FILES: &[&str] = &["icinga2.caFile"];

/// `check` on a config (a JSON value written as TOML) in a fresh sandbox.
fn check(config: &Value) -> Output {
    let sb = Sandbox::new();
    sb.write("ca.crt", "");
    sb.config(&toml::to_string(config).unwrap());
    sb.cmd(&["check"]).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `f` over `items` on a few threads, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// The names in backticks after `expected` in a serde message (`expected one of `a`, `b``,
/// `expected `a` or `b``, `expected `a``); empty for "there are no fields".
fn expected_names(message: &str) -> Option<Vec<String>> {
    if message.contains("there are no fields") {
        return Some(Vec::new());
    }
    let rest = &message[message.find("expected ")? + "expected ".len()..];
    let rest = rest.lines().next().unwrap_or("");
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// The keys the agent accepts in a table, from serde's message for an unknown key.
fn agent_keys(schema: &Schema, table: &[String]) -> BTreeSet<String> {
    let mut path = table.to_vec();
    path.push("__probe".into());
    let out = check(&schema.config_with(&path, json!(1)));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        err.contains("unknown field `__probe`"),
        "table {}: no unknown-field message: {err}",
        dotted(table)
    );
    expected_names(&err).unwrap().into_iter().collect()
}

/// The agent's type of one key, as serde names it.
#[derive(Debug, Clone, PartialEq)]
enum AgentType {
    Str,
    PathStr,
    Bool,
    Int(i128, i128),
    Seq(Box<AgentType>),
    /// A string or a list of strings (`icinga2.url`).
    StrOrStrs,
    /// A boolean or a list of strings (`page.showOutput`).
    BoolOrStrs,
    Enum(BTreeSet<String>),
    Other(String),
}

fn int_range(name: &str) -> Option<(i128, i128)> {
    let bits: u32 = match name.trim_start_matches(['u', 'i']) {
        "size" => usize::BITS,
        n => n.parse().ok()?,
    };
    match name.chars().next()? {
        'u' => Some((0, (1i128 << bits) - 1)),
        'i' => Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)),
        _ => None,
    }
}

/// Gives the key a table (`{ __probe = 1 }`), which no value type accepts, and reads the type
/// from the message: `invalid type: map, expected u32`, `unknown variant `__probe`, expected
/// one of …`. A sequence is probed once more with a table as its element.
fn agent_type(schema: &Schema, path: &[String], wrap_in_list: bool) -> AgentType {
    let probe = json!({ "__probe": 1 });
    let value = if wrap_in_list { json!([probe]) } else { probe };
    let out = check(&schema.config_with(path, value));
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{} = {{ __probe = 1 }} was accepted: {}",
        dotted(path),
        output_text(&out)
    );
    if err.contains("unknown variant `__probe`") {
        return AgentType::Enum(expected_names(&err).unwrap().into_iter().collect());
    }
    let Some(at) = err.find("invalid type: map, expected ") else {
        return AgentType::Other(err);
    };
    let name = err[at + "invalid type: map, expected ".len()..]
        .lines()
        .next()
        .unwrap()
        .trim();
    match name {
        "a string" => AgentType::Str,
        "path string" => AgentType::PathStr,
        "a boolean" => AgentType::Bool,
        "a string or a list of strings" => AgentType::StrOrStrs,
        "a boolean or a list of target ids" => AgentType::BoolOrStrs,
        "a sequence" if !wrap_in_list => AgentType::Seq(Box::new(agent_type(schema, path, true))),
        n => match int_range(n) {
            Some((lo, hi)) => AgentType::Int(lo, hi),
            None => AgentType::Other(n.to_string()),
        },
    }
}

/// Whether a module type fits the agent's. `Err((true, why))`: only the integer range differs.
fn fits(module: &Value, agent: &AgentType) -> Result<(), (bool, String)> {
    let name = module["name"].as_str().unwrap();
    match (name, agent) {
        ("nullOr", _) => fits(&module["elemType"], agent),
        ("str" | "lines" | "secretPath" | "path", AgentType::Str | AgentType::PathStr) => Ok(()),
        ("bool", AgentType::Bool) => Ok(()),
        ("int" | "positiveInt" | "intBetween" | "port", AgentType::Int(lo, hi)) => {
            let (min, max) = (
                module["min"].as_i64().unwrap() as i128,
                module["max"].as_i64().unwrap() as i128,
            );
            if *lo <= min && max <= *hi {
                Ok(())
            } else {
                Err((
                    true,
                    format!("module {name} allows {min}..={max}, the agent only {lo}..={hi}"),
                ))
            }
        }
        ("enum", AgentType::Enum(variants)) => {
            let values: BTreeSet<String> = strings(&module["values"]).into_iter().collect();
            if &values == variants {
                Ok(())
            } else {
                Err((false, format!("module enum {values:?}, agent {variants:?}")))
            }
        }
        ("listOf", AgentType::Seq(elem)) => fits(&module["elemType"], elem),
        ("either", AgentType::StrOrStrs) => fits(&module["left"], &AgentType::Str)
            .and_then(|()| fits(&module["right"], &AgentType::Seq(Box::new(AgentType::Str)))),
        ("either", AgentType::BoolOrStrs) => fits(&module["left"], &AgentType::Bool)
            .and_then(|()| fits(&module["right"], &AgentType::Seq(Box::new(AgentType::Str)))),
        _ => Err((false, format!("module type {module}, agent {agent:?}"))),
    }
}

/// A value of a module type, for keys without a usable default or example.
fn sample_of(ty: &Value) -> Value {
    match ty["name"].as_str().unwrap() {
        "nullOr" => sample_of(&ty["elemType"]),
        "str" | "lines" => json!("x"),
        "secretPath" | "path" => json!("/run/keys/x"),
        "bool" => json!(true),
        "int" | "positiveInt" | "intBetween" | "port" => json!(ty["min"].as_i64().unwrap().max(1)),
        "enum" => ty["values"][0].clone(),
        "listOf" => json!([sample_of(&ty["elemType"])]),
        "either" => sample_of(&ty["left"]),
        other => panic!("no sample for module type {other}"),
    }
}

/// The values a key is tried with: default, example, every bool and enum value; a made-up
/// value of its type when none of those can be written (null).
fn samples(e: &Entry) -> Vec<Value> {
    let mut v: Vec<Value> = Vec::new();
    let placeholder = PLACEHOLDER_DEFAULTS.contains(&e.path.last().unwrap().as_str())
        && e.path.first().map(String::as_str) == Some("targets");
    if !placeholder {
        v.extend(e.default.clone());
    }
    v.extend(e.example.clone());
    match e.ty["name"].as_str().unwrap() {
        "bool" => v.extend([json!(true), json!(false)]),
        "enum" => v.extend(e.ty["values"].as_array().unwrap().iter().cloned()),
        _ => {}
    }
    v.retain(|x| !x.is_null());
    if v.is_empty() {
        v.push(sample_of(&e.ty));
    }
    if EXISTING_FILES.contains(&dotted(&e.path).as_str()) {
        v = vec![json!("{dir}/ca.crt")];
    }
    let mut seen = Vec::new();
    v.retain(|x| {
        let new = !seen.contains(x);
        seen.push(x.clone());
        new
    });
    v
}

// --- module → agent ----------------------------------------------------------------------------

#[test]
fn every_module_key_with_its_default_is_accepted_by_the_agent() {
    let Some(schema) = schema() else { return };
    let cases: Vec<(KeyPath, Value)> = schema
        .values()
        .flat_map(|e| samples(e).into_iter().map(|s| (e.path.clone(), s)))
        .collect();
    assert!(cases.len() > 100, "{}", cases.len());
    let failures: Vec<String> = par_map(&cases, |(path, value)| {
        let out = check(&schema.config_with(path, value.clone()));
        (!out.status.success()).then(|| format!("{} = {value}: {}", dotted(path), stderr(&out)))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "the agent refuses values the module writes:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_table_has_the_same_keys_in_the_module_and_the_agent() {
    let Some(schema) = schema() else { return };
    let tables = schema.tables();
    assert_eq!(tables.len(), 21, "{tables:?}");
    let problems: Vec<String> = par_map(&tables, |table| {
        let agent = agent_keys(schema, table);
        let module = schema.keys_of(table);
        let name = if table.is_empty() {
            "top level".to_string()
        } else {
            dotted(table)
        };
        let mut p = Vec::new();
        for k in agent.difference(&module) {
            p.push(format!(
                "{name}: the agent accepts `{k}`, the module has no such option"
            ));
        }
        for k in module.difference(&agent) {
            p.push(format!(
                "{name}: the module writes `{k}`, the agent refuses it"
            ));
        }
        p
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_module_type_fits_the_agents_type() {
    let Some(schema) = schema() else { return };
    let entries: Vec<&Entry> = schema.values().collect();
    let results = par_map(&entries, |e| {
        (
            dotted(&e.path),
            fits(&e.ty, &agent_type(schema, &e.path, false)),
        )
    });
    let mut gaps = Vec::new();
    let mut mismatches = Vec::new();
    for (path, r) in results {
        match r {
            Ok(()) => {}
            Err((true, why)) => gaps.push((path, why)),
            Err((false, why)) => mismatches.push(format!("{path}: {why}")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let gap_paths: Vec<&str> = gaps.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        gap_paths, KNOWN_RANGE_GAPS,
        "integer ranges the module allows and the agent refuses changed (update \
         KNOWN_RANGE_GAPS only after deciding it is right):\n{gaps:#?}"
    );
}

/// The integer option's `(min, max)` (through `nullOr`), if it is one.
fn int_bounds(ty: &Value) -> Option<(i128, i128)> {
    match ty["name"].as_str()? {
        "nullOr" => int_bounds(&ty["elemType"]),
        "int" | "positiveInt" | "intBetween" | "port" => Some((
            i128::from(ty["min"].as_i64()?),
            i128::from(ty["max"].as_i64()?),
        )),
        _ => None,
    }
}

/// The config with `value` at `path` and what else that value needs to be valid: a
/// `timers.check` needs a longer `timers.timeout`, a `timers.timeout` a shorter check.
fn bounds_config(schema: &Schema, path: &[String], value: i128) -> Value {
    let mut config = schema.config_with(path, json!(value as i64));
    let sibling = |name: &str| {
        let mut p = path.to_vec();
        *p.last_mut().unwrap() = name.to_string();
        p
    };
    let (other, other_value) = match path.last().map(String::as_str) {
        Some("check") if path.ends_with(&key_path("timers.check")) => ("timeout", value + 1),
        Some("timeout") if path.ends_with(&key_path("timers.timeout")) => ("check", 1),
        _ => return config,
    };
    let mut cur = &mut config;
    for (i, k) in sibling(other).iter().enumerate() {
        cur = if i + 1 == path.len() {
            cur[k] = json!(other_value as i64);
            break;
        } else if cur[k].is_array() {
            &mut cur[k][0]
        } else {
            &mut cur[k]
        };
    }
    config
}

/// The module's integer bounds are the agent's, number for number (issue 23: the durations
/// are bounded where the config is read, and a value the module lets through must not fail
/// every unit, nor one the agent takes be refused by the module): `check` takes each integer
/// option's least and greatest value and refuses the next one out on either side, where TOML
/// can write it.
#[test]
fn every_integer_bound_of_the_module_is_the_agents() {
    let Some(schema) = schema() else { return };
    let mut cases: Vec<(KeyPath, i128, bool)> = Vec::new();
    for e in schema.values() {
        let Some((min, max)) = int_bounds(&e.ty) else {
            continue;
        };
        cases.extend([(e.path.clone(), min, true), (e.path.clone(), max, true)]);
        for out in [min - 1, max + 1] {
            if i64::try_from(out).is_ok() {
                cases.push((e.path.clone(), out, false));
            }
        }
    }
    // timers.check and .timeout, scriptTimeout, the queue and delivery settings, the active
    // kinds' ports and timeouts: each has at least two cases.
    assert!(cases.len() > 50, "{}", cases.len());
    let failures: Vec<String> = par_map(&cases, |(path, value, accept)| {
        let out = check(&bounds_config(schema, path, *value));
        let bad = match accept {
            true => !out.status.success(),
            false => out.status.code() != Some(2),
        };
        bad.then(|| {
            let verb = if *accept { "refused" } else { "accepted" };
            format!("{} = {value}: {verb}: {}", dotted(path), output_text(&out))
        })
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "the module's and the agent's bounds differ:\n{}",
        failures.join("\n")
    );
}

// --- defaults ----------------------------------------------------------------------------------

/// Flattens a JSON object into dotted keys (nested objects only; lists stay values).
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v.as_object() {
        Some(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        None => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// One `would register ID (WHAT): POST URL BODY` line of `check`.
struct Registration {
    id: String,
    what: String,
    url: String,
    body: Value,
}

fn registrations(stdout: &str) -> Vec<Registration> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("would register "))
        .map(|l| {
            let (left, right) = l.split_once(": POST ").unwrap();
            let (id, what) = left.split_once(" (").unwrap();
            let (url, body) = right.split_once(' ').unwrap();
            Registration {
                id: id.to_string(),
                what: what.strip_suffix(')').unwrap().to_string(),
                url: url.to_string(),
                body: serde_json::from_str(body).unwrap(),
            }
        })
        .collect()
}

#[test]
fn the_agents_defaults_are_the_modules() {
    let Some(schema) = schema() else { return };
    // Defaults `check` cannot show: the payload always carries `script = ""` (the script stays
    // on the machine). docs/config.md's table is compared for them instead.
    let unobservable = ["targets.passive.script"];
    let default = |path: &[String]| schema.entry(path).default.clone();
    let lists = schema.target_lists();
    let mut problems = Vec::new();
    for list in &lists {
        // A target with only what it needs (its base), nothing else.
        let mut config = schema.base(&[]);
        let (head, last) = list.split_at(list.len() - 1);
        let mut cur = &mut config;
        for k in head {
            cur = cur
                .as_object_mut()
                .unwrap()
                .entry(k.clone())
                .or_insert(json!({}));
        }
        let base = schema.base(list);
        cur[&last[0]] = json!([base.clone()]);
        let out = check(&config);
        assert!(out.status.success(), "{}", output_text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if list.len() == 2 {
            // Top level, once: backend and apiHost.
            let top = |k: &str| default(&key_path(k)).unwrap();
            let backend = top("backend");
            let backend = backend.as_str().unwrap();
            if !stdout.contains(&format!(", backend {backend},")) {
                problems.push(format!("backend: module {backend}, agent: {stdout}"));
            }
        }
        let regs = registrations(&stdout);
        assert!(!regs.is_empty(), "{stdout}");
        let key = |k: &str| [list.clone(), vec![k.to_string()]].concat();
        let host = base["host"].as_str().unwrap_or("").to_string();
        let mut seen: BTreeSet<String> = base
            .as_object()
            .unwrap()
            .keys()
            .map(|k| dotted(&key(k)))
            .collect();
        for r in &regs {
            let api_host = default(&key_path("apiHost")).unwrap();
            if r.url != format!("{}/api/services", api_host.as_str().unwrap()) {
                problems.push(format!(
                    "apiHost: module {api_host}, agent posts to {}",
                    r.url
                ));
            }
            let name = r.id.strip_prefix(&format!("{host}-")).unwrap().to_string();
            if let Some(d) = default(&key("name")) {
                seen.insert(dotted(&key("name")));
                if d != json!(name) {
                    problems.push(format!("{}.name: module {d}, agent {name:?}", dotted(list)));
                }
            }
            let mut payload = BTreeMap::new();
            flatten("", &r.body["payload"], &mut payload);
            for (k, v) in payload {
                let path = key_path(&format!("{}.{k}", dotted(list)));
                let shown = dotted(&path);
                // Set per address family / from the id (compared above and below).
                if ["name", "ipv4", "ipv6"].contains(&k.as_str()) && r.body.get("command").is_some()
                {
                    continue;
                }
                if base.get(&k).is_some() {
                    continue; // set by the base config, not a default
                }
                let Some(entry) = schema.entries.iter().find(|e| e.path == path) else {
                    problems.push(format!(
                        "{shown}: the agent sends it, the module has no option"
                    ));
                    continue;
                };
                seen.insert(shown.clone());
                if unobservable.contains(&shown.as_str()) {
                    continue;
                }
                let stands_for = NULL_STANDS_FOR
                    .iter()
                    .find(|(k, _)| *k == shown)
                    .filter(|_| entry.default == Some(Value::Null))
                    .map(|(_, d)| json!(d));
                if entry.default.as_ref() != Some(&v) && stands_for != Some(v.clone()) {
                    problems.push(format!(
                        "{shown}: module default {:?}, agent {v}",
                        entry.default
                    ));
                }
                if k == "public" {
                    let global = default(&key_path("public"));
                    if global.as_ref() != Some(&v) {
                        problems.push(format!("public: module default {global:?}, agent {v}"));
                    }
                }
            }
        }
        if regs[0].body.get("command").is_some() {
            // Active: one registration per address family on by default.
            for (family, label) in [("ipv4", "IPv4"), ("ipv6", "IPv6")] {
                seen.insert(dotted(&key(family)));
                let agent = regs.iter().any(|r| r.what.ends_with(&format!("({label})")));
                if default(&key(family)) != Some(json!(agent)) {
                    problems.push(format!(
                        "{}.{family}: module {:?}, agent {agent}",
                        dotted(list),
                        default(&key(family))
                    ));
                }
            }
        }
        // Every non-null default of the target was compared (or is known not to be visible).
        for e in schema.values().filter(|e| e.path.starts_with(list)) {
            let shown = dotted(&e.path);
            let set = matches!(&e.default, Some(d) if !d.is_null());
            if set && !seen.contains(&shown) && !unobservable.contains(&shown.as_str()) {
                problems.push(format!(
                    "{shown}: default {:?} not seen in `check`",
                    e.default
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_agents_default_delivery_attempts_are_the_modules() {
    let Some(schema) = schema() else { return };
    let attempts = schema.entry(&key_path("delivery.attempts")).default.clone();
    let server = TestServer::start();
    server.reply(|_| Reply::Status(500, "{}".into()));
    let sb = Sandbox::new();
    sb.config(&format!(
        "stateDir = \"{{state}}\"\napiHost = \"{}\"\napiKey = \"k\"\n\
         [[targets.active.check_http]]\nhost = \"example.com\"\nipv6 = false\n",
        server.url()
    ));
    let out = sb.cmd(&["register"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let tries = server.requests_to("/api/services").len();
    assert_eq!(attempts, Some(json!(tries)), "{}", output_text(&out));
}

// --- docs/config.md and README -----------------------------------------------------------------

/// The rows of every Markdown table in a section (`## title` up to the next `## `), each
/// table a list of rows of cells, header and separator left out.
fn tables_in(text: &str, heading: &str) -> Vec<Vec<Vec<String>>> {
    let start = text
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let level = heading.split(' ').next().unwrap().len();
    let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
    let mut in_table = false;
    for line in text.lines().skip(start + 1) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if !in_table {
            in_table = true;
            tables.push(Vec::new()); // the header row is skipped
            continue;
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ' '))
        {
            continue;
        }
        tables.last_mut().unwrap().push(cells);
    }
    tables
}

/// Names in backticks in a cell; `.user` after `icinga2.url` means `icinga2.user`.
fn cell_keys(cell: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for k in cell.split('`').skip(1).step_by(2) {
        match (k.strip_prefix('.'), keys.last()) {
            (Some(rest), Some(prev)) => {
                let parent = &prev[..prev.rfind('.').unwrap()];
                keys.push(format!("{parent}.{rest}"));
            }
            _ => keys.push(k.to_string()),
        }
    }
    keys
}

/// A default cell: a literal in backticks (`"x"`, `10`, `true`, `[]`, `null`), `none` (null);
/// anything else (prose) is not compared.
fn doc_default(cell: &str) -> Option<Value> {
    if cell == "none" {
        return Some(Value::Null);
    }
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    serde_json::from_str(inner).ok()
}

/// `` `port` [80], `url` [""] `` → key, default (the literal before ` = `, if any).
fn bracket_fields(cell: &str) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    for part in cell.split("], ").map(|p| p.trim_end_matches(']')) {
        let Some((name, rest)) = part.split_once("` [") else {
            continue;
        };
        let name = name.trim_start_matches('`').to_string();
        let literal = rest.split(" = ").next().unwrap();
        out.push((name, serde_json::from_str(literal).ok()));
    }
    out
}

/// What docs/config.md (or README) says, against the module: key sets and defaults.
#[derive(Default)]
struct DocCheck {
    problems: Vec<String>,
}

impl DocCheck {
    fn key_set(&mut self, what: &str, documented: &BTreeSet<String>, module: &BTreeSet<String>) {
        for k in documented.difference(module) {
            self.problems.push(format!(
                "{what}: documents `{k}`, the module has no such key"
            ));
        }
        for k in module.difference(documented) {
            self.problems
                .push(format!("{what}: `{k}` is not documented"));
        }
    }

    fn default_is(
        &mut self,
        what: &str,
        key: &str,
        documented: Option<Value>,
        module: Option<&Value>,
    ) {
        if let Some(d) = documented {
            if module != Some(&d) {
                self.problems.push(format!(
                    "{what}: `{key}` documented default {d}, module default {module:?}"
                ));
            }
        }
    }
}

/// The keys shared by all active targets, and each kind's own.
fn common_and_own(schema: &Schema) -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let kinds: Vec<KeyPath> = schema
        .target_lists()
        .into_iter()
        .filter(|l| l[1] == "active")
        .collect();
    let leaf_keys = |l: &[String]| -> BTreeSet<String> {
        schema
            .values()
            .filter(|e| e.path.starts_with(l))
            .map(|e| dotted(&e.path[l.len()..]))
            .collect()
    };
    let common = kinds
        .iter()
        .map(|k| leaf_keys(k))
        .reduce(|a, b| a.intersection(&b).cloned().collect())
        .unwrap();
    let own = kinds
        .iter()
        .map(|k| {
            (
                k[2].clone(),
                leaf_keys(k).difference(&common).cloned().collect(),
            )
        })
        .collect();
    (common, own)
}

fn default_in(schema: &Schema, prefix: &str, key: &str) -> Option<Value> {
    let full = if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    };
    schema
        .entries
        .iter()
        .chain(&schema.module_only)
        .find(|e| dotted(&e.path) == full)
        .and_then(|e| e.default.clone())
}

#[test]
fn docs_config_md_documents_exactly_the_config_keys_with_the_modules_defaults() {
    let Some(schema) = schema() else { return };
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.md")).unwrap();
    let mut c = DocCheck::default();

    // "## Top level": every key outside targets and icinga2 (those have their own tables).
    let top = tables_in(&text, "## Top level");
    let mut documented = BTreeSet::new();
    for row in &top[0] {
        for k in cell_keys(&row[0])
            .into_iter()
            .filter(|k| !k.ends_with(".*"))
        {
            let module = default_in(schema, "", &k).or_else(|| schema.rendered.get(&k).cloned());
            c.default_is("docs Top level", &k, doc_default(&row[2]), module.as_ref());
            documented.insert(k);
        }
    }
    let module_top: BTreeSet<String> = schema
        .values()
        .map(|e| dotted(&e.path))
        .filter(|k| !k.starts_with("targets.") && !k.starts_with("icinga2."))
        .chain(schema.rendered.keys().cloned())
        .collect();
    c.key_set("docs Top level", &documented, &module_top);

    // "## Targets": common fields, kinds, passive.
    let (common, own) = common_and_own(schema);
    let t = tables_in(&text, "## Targets");
    assert_eq!(
        t.len(),
        3,
        "docs/config.md: expected three tables under ## Targets"
    );
    let mut documented = BTreeSet::new();
    for row in &t[0] {
        for k in cell_keys(&row[0]) {
            let d = doc_default(&row[2]);
            c.default_is(
                "docs common fields",
                &k,
                d,
                default_in(schema, "targets.active.check_http", &k).as_ref(),
            );
            documented.insert(k);
        }
    }
    c.key_set("docs common fields", &documented, &common);

    let mut kinds_documented = BTreeSet::new();
    for row in &t[1] {
        let kind = cell_keys(&row[0]).remove(0);
        let prefix = format!("targets.active.{kind}");
        let fields = bracket_fields(&row[1]);
        let names: BTreeSet<String> = fields.iter().map(|(n, _)| n.clone()).collect();
        for (n, d) in fields {
            c.default_is(
                &format!("docs {kind}"),
                &n,
                d,
                default_in(schema, &prefix, &n).as_ref(),
            );
        }
        c.key_set(
            &format!("docs {kind}"),
            &names,
            own.get(&kind).unwrap_or(&BTreeSet::new()),
        );
        kinds_documented.insert(kind);
    }
    c.key_set(
        "docs kinds",
        &kinds_documented,
        &own.keys().cloned().collect(),
    );

    let passive_own: BTreeSet<String> = schema
        .values()
        .filter(|e| e.path.starts_with(&key_path("targets.passive")))
        .map(|e| dotted(&e.path[2..]))
        .filter(|k| !common.contains(k))
        .collect();
    let mut documented = BTreeSet::new();
    for row in &t[2] {
        for k in cell_keys(&row[0]) {
            c.default_is(
                "docs passive",
                &k,
                doc_default(&row[2]),
                default_in(schema, "targets.passive", &k).as_ref(),
            );
            documented.insert(k);
        }
    }
    c.key_set("docs passive", &documented, &passive_own);

    // "## Icinga2".
    let documented: BTreeSet<String> = tables_in(&text, "## Icinga2")[0]
        .iter()
        .flat_map(|row| cell_keys(&row[0]))
        .collect();
    let module: BTreeSet<String> = schema
        .values()
        .map(|e| dotted(&e.path))
        .filter(|k| k.starts_with("icinga2."))
        .collect();
    c.key_set("docs Icinga2", &documented, &module);

    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
}

#[test]
fn nixos_md_option_tables_match_the_module() {
    let Some(schema) = schema() else { return };
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/nixos.md")).unwrap();
    let mut c = DocCheck::default();
    let t = tables_in(&text, "## Options");
    let mut documented = BTreeSet::new();
    for row in &t[0] {
        for k in cell_keys(&row[0]) {
            if !k.starts_with("targets.") {
                c.default_is(
                    "README options",
                    &k,
                    doc_default(&row[2]),
                    default_in(schema, "", &k).as_ref(),
                );
                // An integer option's bounds, as the module (and the agent) have them.
                let bounds = schema
                    .values()
                    .find(|e| dotted(&e.path) == k)
                    .and_then(|e| int_bounds(&e.ty));
                if let Some((min, max)) = bounds {
                    let want = match max == i128::from(i64::MAX) {
                        true => format!("int ≥ {min}"),
                        false => format!("int {min}..{max}"),
                    };
                    if row[1].trim() != want {
                        c.problems.push(format!(
                            "README options: {k} has the type {:?}, the module's is {want:?}",
                            row[1].trim()
                        ));
                    }
                }
            }
            documented.insert(k);
        }
    }
    let module: BTreeSet<String> = schema
        .values()
        .map(|e| dotted(&e.path))
        .filter(|k| !k.starts_with("targets."))
        .chain(
            schema
                .module_only
                .iter()
                .filter(|e| e.path.len() == 1)
                .map(|e| dotted(&e.path)),
        )
        .chain([
            "targets.active.<kind>".to_string(),
            "targets.passive".to_string(),
        ])
        .collect();
    c.key_set("README options", &documented, &module);

    let (_, own) = common_and_own(schema);
    let mut kinds = BTreeSet::new();
    for row in &t[1] {
        let kind = cell_keys(&row[0]).remove(0);
        let prefix = format!("targets.active.{kind}");
        let fields = bracket_fields(&row[2]);
        let names: BTreeSet<String> = fields.iter().map(|(n, _)| n.clone()).collect();
        for (n, d) in fields {
            c.default_is(
                &format!("README {kind}"),
                &n,
                d,
                default_in(schema, &prefix, &n).as_ref(),
            );
        }
        c.key_set(
            &format!("README {kind}"),
            &names,
            own.get(&kind).unwrap_or(&BTreeSet::new()),
        );
        kinds.insert(kind);
    }
    c.key_set("README kinds", &kinds, &own.keys().cloned().collect());
    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
}

#[test]
fn the_markdown_helpers_read_what_they_should() {
    assert_eq!(
        expected_names("unknown field `zzz`, expected one of `a`, `b-c`, `dE`").unwrap(),
        ["a", "b-c", "dE"]
    );
    assert_eq!(
        expected_names("unknown field `zzz`, expected `check` or `timeout`").unwrap(),
        ["check", "timeout"]
    );
    assert_eq!(
        cell_keys("`icinga2.url`, `.user`"),
        ["icinga2.url", "icinga2.user"]
    );
    assert_eq!(
        bracket_fields(r#"`port` [443], `warningDays` [1000 = not set], `x` ["10,2%"]"#),
        [
            ("port".to_string(), Some(json!(443))),
            ("warningDays".to_string(), Some(json!(1000))),
            ("x".to_string(), Some(json!("10,2%")))
        ]
    );
    assert_eq!(doc_default("`\"nixcloud\"`"), Some(json!("nixcloud")));
    assert_eq!(doc_default("none"), Some(Value::Null));
    assert_eq!(doc_default("top-level key"), None);
    assert_eq!(int_range("u16"), Some((0, 65535)));
    assert_eq!(int_range("i64"), Some((i64::MIN as i128, i64::MAX as i128)));
}
