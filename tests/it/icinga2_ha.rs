//! `icinga2.url` with several endpoints, against two real Icinga2 nodes forming one HA zone on
//! 127.0.0.1 (tests/icinga2-ha/setup.sh: zone "master", endpoints ha1 on 5667 and ha2 on
//! 5668, cluster sync over loopback) and stand-ins that fail in each way.
//!
//! These tests stop and start the nodes, so they take a lock: one at a time, and each leaves
//! both nodes running. Without the pair they are skipped (and fail under CI).

use crate::util::{output_text, Reply, Sandbox, TestServer};
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static PAIR: Mutex<()> = Mutex::new(());

/// The pair's settings (written by tests/icinga2-ha/setup.sh) and the lock on it.
struct Pair {
    env: HashMap<String, String>,
    urls: Vec<String>,
    nodes: Vec<String>,
    _lock: MutexGuard<'static, ()>,
}

impl Pair {
    fn get(test: &str) -> Option<Pair> {
        if std::env::var("NIXCLOUD_SKIP_ICINGA2").as_deref() == Ok("1") {
            crate::util::skip(test, "NIXCLOUD_SKIP_ICINGA2=1");
            return None;
        }
        let path = std::env::var("NIXCLOUD_ICINGA2_HA_ENV")
            .unwrap_or_else(|_| "/tmp/nixcloud-icinga2-ha/env".into());
        let Ok(text) = std::fs::read_to_string(&path) else {
            crate::util::skip(
                test,
                &format!("no Icinga2 HA pair ({path} is missing): start it with `bash tests/icinga2-ha/setup.sh` after .ci/icinga2-setup.sh"),
            );
            return None;
        };
        let lock = PAIR.lock().unwrap_or_else(|e| e.into_inner());
        let env: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let words =
            |k: &str| -> Vec<String> { env[k].split_whitespace().map(str::to_string).collect() };
        let pair = Pair {
            urls: words("ICINGA2_HA_URLS"),
            nodes: words("ICINGA2_HA_NODES"),
            env,
            _lock: lock,
        };
        // A test that failed half-way may have left a node stopped.
        for i in 0..2 {
            if pair.api(i, "GET", "/v1/objects/hosts?attrs=__name", None).0 != 200 {
                pair.start(i);
            }
        }
        Some(pair)
    }

    fn var(&self, key: &str) -> &str {
        &self.env[key]
    }

    fn port(&self, i: usize) -> &str {
        self.urls[i].rsplit(':').next().unwrap()
    }

    /// Node `i`'s API through curl: status and JSON body.
    fn api(&self, i: usize, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (name, port) = (&self.nodes[i], self.port(i));
        let password = std::fs::read_to_string(self.var("ICINGA2_PASSWORD_FILE")).unwrap();
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-m", "10", "-w", "\n%{http_code}", "-X", method])
            .args(["--cacert", self.var("ICINGA2_CA_FILE")])
            .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
            .args(["-u", &format!("nixcloud-test:{}", password.trim())])
            .args(["-H", "Accept: application/json"])
            .arg(format!("https://{name}:{port}{path}"));
        if let Some(body) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data", body]);
        }
        let out = cmd.output().expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let (json, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (
            code.trim().parse().unwrap_or(0),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    }

    fn setup(&self, what: &str, i: usize) {
        let out = Command::new("bash")
            .args([self.var("ICINGA2_HA_SETUP"), what, &(i + 1).to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what} {i}: {}", output_text(&out));
    }

    fn stop(&self, i: usize) {
        self.setup("stop-node", i);
        assert_eq!(
            self.api(i, "GET", "/v1/objects/hosts", None).0,
            0,
            "stopped"
        );
    }

    fn start(&self, i: usize) {
        self.setup("start-node", i);
    }

    /// `owner`'s services on node `i`: full name → last output.
    fn outputs(&self, i: usize, owner: &str) -> HashMap<String, String> {
        let body = serde_json::json!({
            "filter": "service.vars.nixcloud_monitoring_owner == o",
            "filter_vars": { "o": owner },
            "attrs": ["__name", "last_check_result"],
        });
        let (code, doc) = self.api(i, "GET", "/v1/objects/services", Some(&body.to_string()));
        assert_eq!(code, 200, "{doc}");
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let attrs = &r["attrs"];
                (
                    attrs["__name"].as_str().unwrap().to_string(),
                    attrs["last_check_result"]["output"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }

    /// Waits until node `i` has exactly `want` for `owner`.
    fn wait_outputs(&self, i: usize, owner: &str, want: &HashMap<String, String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = self.outputs(i, owner);
            if &seen == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never showed {want:#?}; last seen {seen:#?}",
                self.nodes[i]
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A config for `urls` (with their node names), owner `owner`, `n` passive targets.
    fn config(&self, sb: &Sandbox, urls: &[String], names: &[String], owner: &str, n: usize) {
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let targets: String = (0..n)
            .map(|k| format!("[[targets.passive]]\nhost = \"{owner}\"\nname = \"p{k}\"\n"))
            .collect();
        sb.config(&format!(
            "backend = \"icinga2\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\ntimeout = 3\n\
             [icinga2]\nurl = {}\nuser = \"nixcloud-test\"\npasswordFile = \"{}\"\ncaFile = \"{}\"\n\
             serverName = {}\nowner = \"{owner}\"\n{targets}",
            list(urls),
            self.var("ICINGA2_PASSWORD_FILE"),
            self.var("ICINGA2_CA_FILE"),
            list(names),
        ));
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// `submit` one result per target `p0..pn` with output `<text> <k>`; what Icinga2 should show.
fn submit_all(
    sb: &Sandbox,
    owner: &str,
    n: usize,
    text: &str,
) -> (String, HashMap<String, String>) {
    let mut logs = String::new();
    let mut want = HashMap::new();
    for k in 0..n {
        let output = format!("{text} {k}");
        let out = sb
            .cmd(&["submit", &format!("{owner}-p{k}"), &output, "", "0"])
            .output()
            .unwrap();
        let all = output_text(&out);
        assert!(out.status.success(), "{all}");
        logs.push_str(&all);
        want.insert(format!("{owner}!p{k}"), output);
    }
    (logs, want)
}

fn nothing_queued(sb: &Sandbox) {
    assert_eq!(sb.files_in("queue"), Vec::<std::path::PathBuf>::new());
    assert_eq!(sb.files_in("rejected"), Vec::<std::path::PathBuf>::new());
}

#[test]
fn the_zone_goes_on_when_either_node_is_stopped_and_both_end_up_with_everything() {
    let Some(pair) = Pair::get("icinga2_ha::either_node_stopped") else {
        return;
    };
    let owner = unique("ha");
    let n = 5;
    let (url, node) = (pair.urls.clone(), pair.nodes.clone());
    let moved = |from: usize, to: usize| {
        format!(
            "moved from https://{}:{} to https://{}:{}",
            node[from],
            pair.port(from),
            node[to],
            pair.port(to)
        )
    };

    // ha1 down: the agent, listing ha1 first, registers and submits through ha2.
    let sb = Sandbox::new();
    pair.config(&sb, &url, &node, &owner, n);
    pair.stop(0);
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("registered {n} of {n} (0 failed)")),
        "{text}"
    );
    assert!(text.contains(&moved(0, 1)), "the move is logged: {text}");
    // Each submit starts at the endpoint register moved to (kept in the state directory).
    let (logs, want) = submit_all(&sb, &owner, n, "via ha2");
    assert!(!logs.contains("moved from"), "{logs}");
    nothing_queued(&sb);
    pair.wait_outputs(1, &owner, &want);

    // ha1 back: what ha2 accepted meanwhile reaches it (runtime objects and the replay log).
    pair.start(0);
    pair.wait_outputs(0, &owner, &want);

    // ha2 down: an agent listing ha2 first goes on through ha1.
    let sb2 = Sandbox::new();
    let (rev_url, rev_node) = (
        vec![url[1].clone(), url[0].clone()],
        vec![node[1].clone(), node[0].clone()],
    );
    pair.config(&sb2, &rev_url, &rev_node, &owner, n);
    pair.stop(1);
    let out = sb2.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&moved(1, 0)), "{text}");
    let (logs, want) = submit_all(&sb2, &owner, n, "via ha1");
    assert!(!logs.contains("moved from"), "{logs}");
    nothing_queued(&sb2);
    pair.wait_outputs(0, &owner, &want);
    pair.start(1);
    pair.wait_outputs(1, &owner, &want);

    // Both up: the first endpoint answers, nothing moves; a full register prunes on both.
    pair.config(&sb, &url, &node, &owner, n - 1);
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("moved from"), "{text}");
    let mut fewer = want.clone();
    fewer.remove(&format!("{owner}!p{}", n - 1));
    pair.wait_outputs(0, &owner, &fewer);
    pair.wait_outputs(1, &owner, &fewer);
}

#[test]
fn a_timeout_and_a_503_move_on_and_the_agent_sticks_to_the_node_that_answered() {
    let Some(pair) = Pair::get("icinga2_ha::timeout_and_503") else {
        return;
    };
    let owner = unique("ha-stick");
    let n = 4;
    let hang = TestServer::start();
    hang.reply(|_| Reply::Hang);
    let busy = TestServer::start();
    busy.reply(|_| Reply::Status(503, r#"{"error":503,"status":"busy"}"#.into()));
    let sb = Sandbox::new();
    pair.config(
        &sb,
        &[hang.url(), busy.url(), pair.urls[0].clone()],
        &["hang".into(), "busy".into(), pair.nodes[0].clone()],
        &owner,
        n,
    );
    let started = Instant::now();
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("registered {n} of {n} (0 failed)")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "moved from http://hang:{} to https://{}:{}",
            hang.addr.port(),
            pair.nodes[0],
            pair.port(0)
        )),
        "{text}"
    );
    // The first requests (the two reads, side by side) waited for the timeout (3 s) once;
    // every later one went straight to ha1.
    assert!(started.elapsed() < Duration::from_secs(20), "{text}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hang.requests().len(), 2, "{:#?}", hang.requests());
    assert_eq!(busy.requests().len(), 2, "{:#?}", busy.requests());
    // Each submit is a process of its own: it starts at the endpoint the last one moved to
    // (kept in the state directory), so the hanging and the busy one hear nothing more.
    assert_eq!(
        std::fs::read_to_string(sb.state_dir().join("icinga2-endpoint")).unwrap(),
        format!("https://{}:{}", pair.nodes[0], pair.port(0))
    );
    let (logs, want) = submit_all(&sb, &owner, n, "past a hang and a 503");
    assert!(!logs.contains("moved from"), "{logs}");
    assert_eq!(hang.requests().len(), 2, "{:#?}", hang.requests());
    assert_eq!(busy.requests().len(), 2, "{:#?}", busy.requests());
    nothing_queued(&sb);
    pair.wait_outputs(0, &owner, &want);
    pair.wait_outputs(1, &owner, &want);
}

#[test]
fn a_4xx_is_final_and_no_other_endpoint_is_asked() {
    let Some(pair) = Pair::get("icinga2_ha::4xx_is_final") else {
        return;
    };
    let owner = unique("ha-401");
    let refusing = TestServer::start();
    refusing.reply(|_| Reply::Status(401, r#"{"error":401,"status":"Unauthorized"}"#.into()));
    let sb = Sandbox::new();
    pair.config(
        &sb,
        &[refusing.url(), pair.urls[0].clone()],
        &["refusing".into(), pair.nodes[0].clone()],
        &owner,
        1,
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "a refusal: {text}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("moved from"), "{text}");
    assert!(pair.outputs(0, &owner).is_empty(), "nothing reached ha1");
}

#[test]
fn url_and_server_name_lists_are_checked() {
    let sb = Sandbox::new();
    sb.write("password", "x\n");
    let base = "backend = \"icinga2\"\nstateDir = \"{state}\"\n[icinga2]\nuser = \"u\"\npasswordFile = \"{dir}/password\"\n";
    for (extra, wanted) in [
        ("url = []\n", "icinga2.url is an empty list"),
        (
            "url = [\"https://a:5665\", \"https://b:5665\"]\nserverName = [\"a\"]\n",
            "icinga2.serverName lists 1 names for 2 URLs",
        ),
        (
            "url = [\"https://a:5665\", \"https://u:p@b:5665\"]\n",
            "has a user or password part",
        ),
        (
            "url = { x = 1 }\n",
            "expected a string or a list of strings",
        ),
    ] {
        sb.config(&format!("{base}{extra}"));
        let out = sb.cmd(&["check"]).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra}: {text}");
        assert!(text.contains(wanted), "{extra}: {text}");
    }
    for ok in [
        "url = [\"https://a:5665\", \"https://b:5665\"]\nserverName = [\"a\", \"b\"]\n",
        "url = [\"https://a:5665\", \"https://b:5665\"]\nserverName = \"master\"\n",
        "url = \"https://a:5665\"\n",
    ] {
        sb.config(&format!("{base}{ok}"));
        let out = sb.cmd(&["check"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{ok}: {}", output_text(&out));
    }
}
