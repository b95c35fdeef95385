//! The page backend through the built agent: the files it writes against docs/page.md's
//! tables, a page directory the service cannot write, an unreadable history.

use crate::util::{output_text, Sandbox};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Three passive targets on two hosts; one with HTML, URL and file-name characters in its id.
pub const TARGETS: &str = r#"
[[targets.passive]]
host = "web1"
name = "backup"
timers = { check = 60, timeout = 180 }

[[targets.passive]]
host = "web1"
name = "<b>disk</b> & \"/root\"?#%"
timers = { check = 5, timeout = 15 }

[[targets.passive]]
host = "db1"
name = "replication"
timers = { check = 1, timeout = 3 }

[[targets.active.check_http]]
host = "example.org"
"#;

pub fn sandbox(page: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.config(&format!(
        "backends = [\"local\", \"page\"]\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [page]\ndir = \"{{dir}}/www\"\n{page}\n{TARGETS}"
    ));
    sb
}

pub fn run_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.cmd(args).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

/// Registers, then one result each (the hostile one CRITICAL with perfdata).
pub fn fill(sb: &Sandbox) {
    run_ok(sb, &["register"]);
    run_ok(
        sb,
        &[
            "submit",
            "web1-backup",
            "backup ok: 1234 files",
            "files=1234",
            "0",
        ],
    );
    run_ok(
        sb,
        &[
            "submit",
            "web1-<b>disk</b> & \"/root\"?#%",
            "<script>alert(1)</script> & <img src=x onerror=alert(2)>",
            "'root /'=95%;80;90;0;100",
            "2",
        ],
    );
}

/// `(key, type)` rows of the table under `heading` in docs/page.md.
fn documented(heading: &str) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/page.md")).unwrap();
    let start = text
        .lines()
        .position(|l| l == heading)
        .unwrap_or_else(|| panic!("docs/page.md has no {heading:?}"));
    text.lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect()
}

const STATES: [&str; 6] = ["ok", "warning", "critical", "unknown", "stale", "pending"];

/// Every key path of `v` with its JSON type (`targets[].id`, maps keyed by state as
/// `<state>`).
fn flatten(path: &str, v: &Value, doc: &BTreeMap<String, String>, out: &mut Vec<(String, String)>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    // An array's elements are documented by their keys.
    if !path.is_empty() && !path.ends_with("[]") {
        out.push((path.to_string(), kind.to_string()));
    }
    let join = |k: &str| match path.is_empty() {
        true => k.to_string(),
        false => format!("{path}.{k}"),
    };
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let keyed = join("<state>");
                let key = match doc.contains_key(&keyed) {
                    true => {
                        assert!(STATES.contains(&k.as_str()), "{path}: {k} is no state");
                        keyed
                    }
                    false => join(k),
                };
                flatten(&key, x, doc, out);
            }
        }
        // Pairs of numbers (perfdata points) are documented as the array itself.
        Value::Array(items) if !path.ends_with("points") => {
            for x in items {
                flatten(&format!("{path}[]"), x, doc, out);
            }
        }
        _ => {}
    }
}

/// Holds `files` against the table: every key documented with a fitting type (a number may
/// be an integer; `or null` allows null), every documented key seen.
fn check_shape(heading: &str, files: &[Value]) {
    let doc = documented(heading);
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for file in files {
        let mut keys = Vec::new();
        flatten("", file, &doc, &mut keys);
        for (key, kind) in keys {
            let Some(ty) = doc.get(&key) else {
                problems.push(format!("{heading}: `{key}` ({kind}) is not documented"));
                continue;
            };
            let fits = ty
                .split(" or ")
                .any(|t| t == kind || (t == "number" && kind == "integer"));
            if !fits {
                problems.push(format!("{heading}: `{key}` is {kind}, documented as {ty}"));
            }
            seen.insert(key);
        }
    }
    for key in doc.keys().filter(|k| !seen.contains(*k)) {
        problems.push(format!("{heading}: `{key}` is documented but in no file"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_files_are_written_and_status_json_has_the_documented_shape() {
    let sb = sandbox("");
    fill(&sb);
    // A watched unit's kind of result (a run time), and a recovery: an incident with an end.
    run_ok(
        &sb,
        &["submit", "db1-replication", "lagging", "lag=12s;5;10", "1"],
    );
    run_ok(
        &sb,
        &["submit", "db1-replication", "in sync", "lag=0.2s;5;10", "0"],
    );
    let www = sb.path("www");
    for name in ["index.html", "status.json"] {
        let mode = std::fs::metadata(www.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
    let status = read_json(&www.join("status.json"));
    let targets = status["targets"].as_array().unwrap();
    let ids: Vec<&str> = targets.iter().map(|t| t["id"].as_str().unwrap()).collect();
    // Grouped by host, the host with a problem first; the active target is not there.
    assert_eq!(
        ids,
        [
            "web1-<b>disk</b> & \"/root\"?#%",
            "web1-backup",
            "db1-replication"
        ]
    );
    assert_eq!(
        status["counts"],
        serde_json::json!({ "critical": 1, "ok": 2 })
    );
    let details: Vec<Value> = targets
        .iter()
        .map(|t| read_json(&www.join(t["details"].as_str().unwrap())))
        .collect();
    for t in targets {
        assert!(www.join(t["badge"].as_str().unwrap()).is_file(), "{t}");
    }
    check_shape("## status.json", std::slice::from_ref(&status));
    check_shape("## targets/&lt;escaped id&gt;.json", &details);
    let replication = &details[2];
    assert_eq!(replication["incidents"][0]["state"], "WARNING");
    assert_eq!(replication["incidents"][0]["output"], "lagging");
    assert_eq!(replication["days"].as_array().unwrap().len(), 90);
    assert_eq!(replication["days"][89]["results"], 2);
}

#[test]
fn an_unreadable_history_is_set_aside_with_a_warning_and_the_page_still_written() {
    let sb = sandbox("");
    fill(&sb);
    let history = sb.state_dir().join("page/history/web1-backup.hist");
    std::fs::write(&history, "garbage").unwrap();
    // Rendering everything again (as a new build does) reads every history.
    std::fs::remove_file(sb.state_dir().join("page/rendered")).unwrap();
    let text = run_ok(&sb, &["submit", "db1-replication", "fine", "", "0"]);
    assert!(
        text.contains("web1-backup.hist: not a page history")
            && text.contains("moved to")
            && text.contains("page/history/corrupt/web1-backup.hist"),
        "{text}"
    );
    let status = read_json(&sb.path("www/status.json"));
    let ids: Vec<&str> = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["web1-<b>disk</b> & \"/root\"?#%", "db1-replication"]);
    // Its next registration brings it back, PENDING, with a new history.
    run_ok(&sb, &["register"]);
    let status = read_json(&sb.path("www/status.json"));
    assert_eq!(status["counts"]["pending"], 1, "{status}");
}

/// The service's uid in the permission test (not root, who may write anywhere).
const OWNER: u32 = 4253;

fn as_owner(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={OWNER}"),
            &format!("--regid={OWNER}"),
            "--clear-groups",
            "--",
        ])
        .arg(crate::util::bin())
        .args(args)
        .env("NIXCLOUD_MONITORING_CONFIG", sb.path("config.toml"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap()
}

#[test]
fn a_page_directory_the_service_cannot_write_keeps_the_result_queued_for_the_page_alone() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test must run as root: it drops to an unprivileged user with setpriv"
    );
    let sb = sandbox("");
    let chown = |p: &Path| std::os::unix::fs::chown(p, Some(OWNER), Some(OWNER)).unwrap();
    chown(sb.dir.path());
    std::fs::create_dir_all(sb.state_dir()).unwrap();
    chown(&sb.state_dir());
    // Root's, not the service's.
    std::fs::create_dir_all(sb.path("www")).unwrap();
    std::fs::set_permissions(sb.path("www"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = as_owner(&sb, &["submit", "web1-backup", "to both", "", "0"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("page:")
            && text.contains(&format!("{}/www/", sb.dir.path().display()))
            && text.contains("Permission denied"),
        "{text}"
    );
    let local = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    assert!(
        local.contains("to both"),
        "the other backend has it: {local}"
    );
    // Once the directory is the service's, the queued result reaches the page.
    chown(&sb.path("www"));
    let out = as_owner(&sb, &["flush"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let index = std::fs::read_to_string(sb.path("www/index.html")).unwrap();
    assert!(index.contains("to both"));
}
