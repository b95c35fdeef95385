//! The nixcloud backend end to end: exact wire bodies for the seed example, results, errors.

use crate::util::{dead_url, output_text, Reply, Sandbox, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

const KEY: &str = "4d3c5jdl-3kv6-6c92-43c2-bddcd6949e41";
const HTTP_HASH: &str = "9eb5d01c8fad76772a157338dcdce6ed1337c1f7dea90bbe2128ed14f4c02adc";
const SSL_HASH: &str = "aebd29fe1a9c4571534bab85747275ea6e59f15e11b0d639ea7e003a941c9ab4";

/// examples/seed.toml, pointed at the test server and a key file in the sandbox.
fn seed(server: &TestServer) -> Sandbox {
    let sb = Sandbox::new();
    let key = sb.write("key", &format!("{KEY}\n"));
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.toml"))
        .unwrap();
    let text = text
        .replace("https://status.nixcloud.io", &server.url())
        .replace("/run/keys/nixcloud-monitoring", &key.display().to_string())
        .replace("/var/lib/nixcloud-monitoring", "{state}")
        .replace("attempts = 3", "attempts = 1");
    sb.config(&text);
    sb
}

fn active(hash: &str, kind: &str, payload: Value) -> Value {
    json!({ "command": { "hash": hash, "name": kind }, "payload": payload })
}

fn both_families(hash: &str, kind: &str, base: Value) -> Vec<Value> {
    let mut out = Vec::new();
    for (v4, label) in [(true, "IPv4"), (false, "IPv6")] {
        let mut p = base.clone();
        let name = format!("{} ({label})", p["name"].as_str().unwrap());
        p["name"] = json!(name);
        p["ipv4"] = json!(v4);
        p["ipv6"] = json!(!v4);
        out.push(active(hash, kind, p));
    }
    out
}

#[test]
fn register_sends_the_originals_bodies_for_the_seed_example() {
    let server = TestServer::start();
    let sb = seed(&server);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let mut want = Vec::new();
    for host in ["example.org", "nixcloud.io", "fractalide.com"] {
        want.extend(both_families(SSL_HASH, "check_ssl_cert", json!({
            "host": host, "name": "SSL", "port": 443, "public": true, "tags": [], "timeout": 15, "warningDays": 1000
        })));
    }
    for (host, url, contains) in [
        ("nixcloud.io", "/main/en", "individual"),
        ("kotalla.de", "", "Aktuelles"),
    ] {
        want.extend(both_families(HTTP_HASH, "check_http", json!({
            "host": host, "name": "HTTP", "port": 80, "public": true, "tags": [], "url": url, "contains": contains
        })));
    }
    want.push(json!({ "payload": {
        "host": "mail.lastlog.de", "name": "sometest", "public": true, "script": "", "tags": [],
        "timers": { "check": 600, "timeout": 660 }
    }}));

    let reqs = server.requests_to("/api/services");
    let mut got: Vec<Value> = reqs.iter().map(|r| r.json()).collect();
    let key = |v: &Value| v.to_string();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.header("authorization"),
            Some(format!("ApiKey {KEY}").as_str())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(
            !String::from_utf8_lossy(&r.body).contains(KEY),
            "the key must not be in the payload"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("registered 11 of 11"), "{stdout}");
}

/// (payload host, payload name) of the registrations the server saw after the first `skip`,
/// sorted.
fn sent_registrations(server: &TestServer, skip: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = server.requests_to("/api/services")[skip..]
        .iter()
        .map(|r| {
            let p = &r.json()["payload"];
            (
                p["host"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn register_can_pick_targets_by_id() {
    let server = TestServer::start();
    let sb = seed(&server);
    sb.cmd(&["register", "kotalla.de-HTTP"]).assert().success();
    // Exactly kotalla.de's two registrations: not nixcloud.io's HTTP target of the same name.
    assert_eq!(
        sent_registrations(&server, 0),
        [
            ("kotalla.de".to_string(), "HTTP (IPv4)".to_string()),
            ("kotalla.de".to_string(), "HTTP (IPv6)".to_string()),
        ]
    );
    let before = server.requests_to("/api/services").len();
    sb.cmd(&["register", "mail.lastlog.de-sometest", "example.org-SSL"])
        .assert()
        .success();
    assert_eq!(
        sent_registrations(&server, before),
        [
            ("example.org".to_string(), "SSL (IPv4)".to_string()),
            ("example.org".to_string(), "SSL (IPv6)".to_string()),
            ("mail.lastlog.de".to_string(), "sometest".to_string()),
        ]
    );
    sb.cmd(&["register", "no-such-target"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no target \"no-such-target\""));
    // The same target twice (also by its escaped form) is registered once (issue 23.6).
    let before = server.requests_to("/api/services").len();
    sb.cmd(&[
        "register",
        "mail.lastlog.de-sometest",
        "mail.lastlog.de-sometest",
    ])
    .assert()
    .success()
    .stdout("registered 1 of 1 (0 failed)\n");
    assert_eq!(
        sent_registrations(&server, before),
        [("mail.lastlog.de".to_string(), "sometest".to_string())]
    );
}

#[test]
fn submit_sends_the_originals_result_body() {
    let server = TestServer::start();
    let sb = seed(&server);
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "快乐", "", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let reqs = server.requests_to("/api/services/results");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json(),
        json!({"host":"mail.lastlog.de","name":"sometest","output":"快乐","perfdata":"","state":0})
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("ApiKey {KEY}").as_str())
    );
    assert!(reqs[0]
        .header("idempotency-key")
        .is_some_and(|id| !id.is_empty()));
    assert!(
        sb.files_in("queue").is_empty(),
        "a delivered result leaves the queue"
    );
}

#[test]
fn submit_passes_hostile_text_byte_for_byte() {
    let server = TestServer::start();
    let sb = seed(&server);
    let output = "it's \"quoted\" $(touch /tmp/pwned) `id`\nsecond line 快乐";
    let perfdata = "-x=1;2;3 'y'=$HOME";
    sb.cmd(&["submit", "mail.lastlog.de-sometest", output, perfdata, "2"])
        .assert()
        .success();
    let body = server.requests_to("/api/services/results")[0].json();
    assert_eq!(body["output"], output);
    assert_eq!(body["perfdata"], perfdata);
    assert_eq!(body["state"], 2);
}

#[test]
fn submit_refuses_state_7_and_sends_nothing() {
    let server = TestServer::start();
    let sb = seed(&server);
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "x", "", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("state 7 is not one of 0 (OK)"),
        "{}",
        output_text(&out)
    );
    assert!(server.requests().is_empty());
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn submit_needs_exactly_three_values() {
    let server = TestServer::start();
    let sb = seed(&server);
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "only output"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("<PERFDATA>"),
        "{}",
        output_text(&out)
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_401_names_target_url_status_and_answer_but_never_the_key() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(401, r#"{"error":"invalid api key"}"#.into()));
    let sb = seed(&server);
    let out = sb
        .cmd(&["-vv", "submit", "mail.lastlog.de-sometest", "x", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    for needle in [
        "mail.lastlog.de-sometest",
        &format!("{}/api/services/results", server.url()),
        "401",
        "invalid api key",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
    assert!(!text.contains(KEY), "the key leaked: {text}");
    assert_eq!(sb.files_in("rejected").len(), 1, "a refused result is kept");
    let status = sb.cmd(&["status"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("1 refused"),
        "{}",
        output_text(&status)
    );
}

#[test]
fn register_401_exits_4_and_status_shows_it() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(401, "bad key".into()));
    let sb = seed(&server);
    let out = sb
        .cmd(&["register", "mail.lastlog.de-sometest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", output_text(&out));
    let status = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let t = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "mail.lastlog.de-sometest")
        .unwrap();
    assert_eq!(t["registered"], false);
    assert!(t["registration_error"].as_str().unwrap().contains("401"));
}

#[test]
fn a_500_keeps_the_result_queued_and_flush_delivers_it_later() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(500, "database is down".into()));
    let sb = seed(&server);
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "later", "", "1"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("500") && text.contains("database is down") && text.contains("queue"),
        "{text}"
    );
    assert_eq!(sb.files_in("queue").len(), 1);

    server.reply(|_| Reply::Status(200, "{}".into()));
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let results = server.requests_to("/api/services/results");
    assert_eq!(results.last().unwrap().json()["output"], "later");
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn connection_refused_queues_and_exits_3() {
    let server = TestServer::start();
    let sb = seed(&server);
    let dead = dead_url();
    sb.edit_config(&server.url(), &dead);
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "x", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("could not connect") && text.contains(&dead),
        "{text}"
    );
    assert_eq!(sb.files_in("queue").len(), 1);
}

#[test]
fn a_server_that_never_answers_times_out_and_queues() {
    let server = TestServer::start();
    server.reply(|_| Reply::Hang);
    let sb = seed(&server);
    sb.edit_config("timeout = 30", "timeout = 1");
    let started = std::time::Instant::now();
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "x", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        output_text(&out).contains("no answer in time"),
        "{}",
        output_text(&out)
    );
    assert_eq!(sb.files_in("queue").len(), 1);
}

fn passive_config(server: &TestServer, sb: &Sandbox, script: &str, extra: &str) {
    let key = sb.write("key", KEY);
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"job\"\n{extra}\nscript = '''\n{script}\n'''\n",
        server.url(),
        key.display()
    ));
}

#[test]
fn run_uploads_what_the_script_set() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    passive_config(
        &server,
        &sb,
        "exit=1\nstatus=\"disk at 85% — it's fine\"\nperfdata='used=85%;80;90'",
        "",
    );
    let out = sb.cmd(&["run", "h-job"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let body = server.requests_to("/api/services/results")[0].json();
    assert_eq!(
        body,
        json!({"host":"h","name":"job","output":"disk at 85% — it's fine","perfdata":"used=85%;80;90","state":1})
    );
    let status = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(doc["targets"][0]["last"]["duration_ms"].is_u64());
}

#[test]
fn a_hung_script_is_killed_and_reported_unknown() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    passive_config(&server, &sb, "sleep 600", "scriptTimeout = 1");
    let started = std::time::Instant::now();
    let out = sb.cmd(&["run", "h-job"]).output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(out.status.success(), "{}", output_text(&out));
    let body = server.requests_to("/api/services/results")[0].json();
    assert_eq!(body["state"], 3);
    assert!(
        body["output"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s and was killed"),
        "{body}"
    );
}

#[test]
fn duplicate_ids_are_all_listed_with_lines() {
    let sb = Sandbox::new();
    sb.config(
        "[[targets.active.check_http]]\nhost = \"a\"\n[[targets.active.check_ssl_cert]]\nhost = \"a\"\nname = \"HTTP\"\n\
         [[targets.passive]]\nhost = \"b\"\nname = \"x\"\n[[targets.passive]]\nhost = \"b\"\nname = \"x\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("a-HTTP (check_http, line 1), a-HTTP (check_ssl_cert, line 3)"),
        "{text}"
    );
    assert!(
        text.contains("b-x (passive, line 6), b-x (passive, line 9)"),
        "{text}"
    );
}

#[test]
fn a_typod_key_names_file_line_and_key() {
    let sb = Sandbox::new();
    sb.config("[[targets.active.check_http]]\nhost = \"a\"\ncontians = \"x\"\n");
    let out = sb.cmd(&["sync"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("config.toml:3") && text.contains("unknown field `contians`"),
        "{text}"
    );
    assert!(text.contains("[[targets.active.check_http]] #1"), "{text}");
}

#[test]
fn check_warns_about_a_literal_key_and_sends_nothing() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    sb.config(&format!(
        "apiHost = \"{}\"\napiKey = \"{KEY}\"\n[[targets.active.check_ssh]]\nhost = \"h\"\n",
        server.url()
    ));
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: apiKey at the top level is a literal key"),
        "{text}"
    );
    assert!(
        text.contains("would register h-SSH (SSH (IPv4))") && text.contains("SSH (IPv6)"),
        "{text}"
    );
    assert!(!text.contains(KEY));
    assert!(server.requests().is_empty());
}

#[test]
fn config_path_comes_from_flag_before_or_after_the_command() {
    let sb = Sandbox::new();
    sb.config("backend = \"local\"\n");
    let path = sb.path("config.toml").display().to_string();
    for args in [
        vec!["--config", &path, "check"],
        vec!["check", "--config", &path],
    ] {
        let out = sb
            .cmd(&args)
            .env("NIXCLOUD_MONITORING_CONFIG", "/nonexistent.toml")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    let out = sb
        .cmd(&["check"])
        .env("NIXCLOUD_MONITORING_CONFIG", "/nonexistent.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(output_text(&out).contains("could not read config file /nonexistent.toml"));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Sandbox::new().cmd(&["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for code in [
        "0  done",
        "2  usage or config error",
        "3  server unreachable",
        "4  refused by the server",
        "5  queue full",
    ] {
        assert!(text.contains(code), "{code:?} missing from --help:\n{text}");
    }
}

#[test]
fn a_missing_key_file_keeps_results_queued_until_it_is_fixed() {
    let server = TestServer::start();
    let sb = seed(&server);
    std::fs::remove_file(sb.path("key")).unwrap();
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", "x", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("could not read secret file") && text.contains("key"),
        "{text}"
    );
    assert_eq!(sb.files_in("queue").len(), 1);
    assert!(server.requests().is_empty());
    sb.write("key", KEY);
    sb.cmd(&["flush"]).assert().success();
    assert_eq!(server.requests_to("/api/services/results").len(), 1);
}

#[test]
fn register_against_a_dead_server_exits_3_and_names_the_url() {
    let server = TestServer::start();
    let sb = seed(&server);
    let dead = dead_url();
    sb.edit_config(&server.url(), &dead);
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("registered 0 of 11 (11 failed)"), "{text}");
    assert!(
        text.contains("registering kotalla.de-HTTP (HTTP (IPv6))"),
        "{text}"
    );
    assert!(
        text.contains(&format!("POST {dead}/api/services: could not connect")),
        "{text}"
    );
}

#[test]
fn an_oversized_output_is_cut_keeping_its_end_and_said_so() {
    let server = TestServer::start();
    let sb = seed(&server);
    let output = format!("{}the error is here", "x".repeat(100_000));
    let out = sb
        .cmd(&["submit", "mail.lastlog.de-sometest", &output, "", "2"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("output is 100017 bytes; only the last 65536 are kept"),
        "{text}"
    );
    let body = server.requests_to("/api/services/results")[0].json();
    let sent = body["output"].as_str().unwrap();
    assert!(
        sent.len() <= 65536
            && sent.starts_with("[cut: first ")
            && sent.ends_with("the error is here")
    );
}

/// `status --json`'s registration summary.
fn registration(sb: &Sandbox) -> Value {
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["registration"].clone()
}

fn epoch_ms(rfc3339: &Value) -> u64 {
    let t = humantime::parse_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn a_refused_registration_is_due_again_after_a_minute_then_two_and_status_says_when() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "maintenance".into()));
    let sb = seed(&server);
    sb.cmd(&["register"]).assert().code(3);
    let first = registration(&sb);
    assert_eq!(first["last_success"], Value::Null, "{first}");
    assert!(
        first["last_error"].as_str().unwrap().contains("503"),
        "{first}"
    );
    let gap = |r: &Value| {
        (epoch_ms(&r["next_try"]) / 1000) as i64 - (epoch_ms(&r["last_failure"]) / 1000) as i64
    };
    assert!((59..=61).contains(&gap(&first)), "{first}");
    let text = String::from_utf8_lossy(&sb.cmd(&["status"]).output().unwrap().stdout).to_string();
    assert!(
        text.contains("registration: last succeeded never; failed 20")
            && text.contains("; next try 20"),
        "{text}"
    );

    sb.cmd(&["register"]).assert().code(3);
    assert!((119..=121).contains(&gap(&registration(&sb))));

    server.reply(|_| Reply::Status(200, "{}".into()));
    sb.cmd(&["register"]).assert().success();
    let ok = registration(&sb);
    assert_eq!(ok["next_try"], Value::Null, "{ok}");
    assert!(ok["last_success"].is_string(), "{ok}");
}

#[test]
fn a_registration_refused_for_good_is_not_retried() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(401, "bad key".into()));
    let sb = seed(&server);
    // --retry would wait forever if it retried a 401; it must end at once with exit 4.
    sb.cmd(&["register", "--retry"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(4);
    let r = registration(&sb);
    assert_eq!(r["next_try"], Value::Null, "{r}");
    assert!(r["last_error"].as_str().unwrap().contains("401"), "{r}");
}

// The interface hashes of the other five kinds, pinned: they may only change when a kind's
// fields or defaults do (then the server must learn the new interface). Computed outside the
// agent as SHA-256 over the hand-written interface text, e.g. for check_ssh:
// "check_ssh\nhost:String=\"\"\nname:String=<per kind>\ntags:Vec<String>=[]\n
// public:bool=<global public>\nipv4:bool=true\nipv6:bool=true\nport:u16=22\n
// remoteVersion:String=String::new()\ntimeout:u32=10\n" (the same recipe gives HTTP_HASH).
const DNS_HASH: &str = "549934738cfd44e066e6464e42ea88781d67d38782e14bceb4491e44a242a1a4";
const PING_HASH: &str = "d8b67fe9ed59bb4f0ee6e12da1035f0b48325998b783fb9d05cc0745d2e43f4f";
const SMTP_HASH: &str = "160edd90e16b3152abe7563e59d37c22ef90fd3955da8a7dbcfeeb95c8fcb4bb";
const SSH_HASH: &str = "b1f62249a4a4d0e6c003efe5c22461b2b6658b0163f2a68f9a33541261b53e69";
const HYDRA_HASH: &str = "53e46704d01cc2317511dd23c1217721cd00ea4ef195b9a80bd49494fa68a3d1";

#[test]
fn register_sends_exact_bodies_with_defaults_for_dns_ping_smtp_ssh_and_hydra() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", KEY);
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.active.check_dns]]\nhost = \"example.org\"\n\
         [[targets.active.check_ping]]\nhost = \"example.org\"\n\
         [[targets.active.check_smtp]]\nhost = \"mail.example.org\"\n\
         [[targets.active.check_ssh]]\nhost = \"example.org\"\n\
         [[targets.active.check_hydra]]\nhost = \"https://hydra.nixos.org\"\nproject = \"nixpkgs\"\njobset = \"trunk\"\n",
        server.url(),
        key.display()
    ));
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let mut want = Vec::new();
    want.extend(both_families(
        DNS_HASH,
        "check_dns",
        json!({
            "host": "example.org", "name": "DNS", "public": true, "tags": [],
            "server": "", "timeout": 10, "expected-address": "", "expect-authority": ""
        }),
    ));
    want.extend(both_families(
        PING_HASH,
        "check_ping",
        json!({
            "host": "example.org", "name": "PING", "public": true, "tags": [],
            "warning": "10,2%", "critical": "20,5%", "timeout": 10
        }),
    ));
    want.extend(both_families(
        SMTP_HASH,
        "check_smtp",
        json!({
            "host": "mail.example.org", "name": "SMTP", "public": true, "tags": [],
            "port": 25, "certificate": 1000, "starttls": false, "timeout": 10
        }),
    ));
    want.extend(both_families(
        SSH_HASH,
        "check_ssh",
        json!({
            "host": "example.org", "name": "SSH", "public": true, "tags": [],
            "port": 22, "remoteVersion": "", "timeout": 10
        }),
    ));
    want.extend(both_families(
        HYDRA_HASH,
        "check_hydra",
        json!({
            "host": "https://hydra.nixos.org", "name": "nixpkgs_trunk", "public": true, "tags": [],
            "project": "nixpkgs", "jobset": "trunk"
        }),
    ));
    let mut got: Vec<Value> = server
        .requests_to("/api/services")
        .iter()
        .map(|r| r.json())
        .collect();
    let key = |v: &Value| v.to_string();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

/// A sandbox with two passive targets: `h-own` with its own key settings `own`, `h-global`
/// with none; the top-level key comes from `top`.
fn two_keys_config(server: &TestServer, sb: &Sandbox, top: &str, own: &str) {
    sb.config(&format!(
        "apiHost = \"{}\"\n{top}\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"own\"\n{own}\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"global\"\n",
        server.url()
    ));
}

/// The Authorization header of the last result request for `target` (`host-name`).
fn authorization_for(server: &TestServer, name: &str) -> String {
    server
        .requests_to("/api/services/results")
        .iter()
        .rev()
        .find(|r| r.json()["name"] == name)
        .unwrap_or_else(|| panic!("no result for {name}"))
        .header("authorization")
        .unwrap()
        .to_string()
}

#[test]
fn a_targets_own_api_key_is_used_instead_of_the_global_one() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let global = sb.write("global-key", "global-key-value\n");
    two_keys_config(
        &server,
        &sb,
        &format!("apiKeyFile = \"{}\"", global.display()),
        "apiKey = \"own-literal-key\"",
    );
    for id in ["h-own", "h-global"] {
        let out = sb.cmd(&["submit", id, "x", "", "0"]).output().unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    assert_eq!(authorization_for(&server, "own"), "ApiKey own-literal-key");
    assert_eq!(
        authorization_for(&server, "global"),
        "ApiKey global-key-value"
    );
    // Registration uses the same per-target key.
    sb.cmd(&["register"]).assert().success();
    let auth: Vec<(String, String)> = server
        .requests_to("/api/services")
        .iter()
        .map(|r| {
            (
                r.json()["payload"]["name"].as_str().unwrap().to_string(),
                r.header("authorization").unwrap().to_string(),
            )
        })
        .collect();
    let mut auth = auth;
    auth.sort();
    assert_eq!(
        auth,
        [
            ("global".to_string(), "ApiKey global-key-value".to_string()),
            ("own".to_string(), "ApiKey own-literal-key".to_string()),
        ]
    );
}

#[test]
fn keys_from_the_credentials_directory_win_over_the_files() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let global = sb.write("global-key", "file-global\n");
    let own = sb.write("own-key", "file-own\n");
    // The target's id has characters the credential name must escape.
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"web.example\"\nname = \"disk usage\"\napiKeyFile = \"{}\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"global\"\n",
        server.url(),
        global.display(),
        own.display()
    ));
    let creds = sb.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("api-key"), "cred-global\n").unwrap();
    std::fs::write(creds.join("api-key-web.example-disk_usage"), "cred-own\n").unwrap();

    // Without the credentials directory the files are read.
    for id in ["web.example-disk usage", "h-global"] {
        sb.cmd(&["submit", id, "x", "", "0"]).assert().success();
    }
    assert_eq!(authorization_for(&server, "disk usage"), "ApiKey file-own");
    assert_eq!(authorization_for(&server, "global"), "ApiKey file-global");

    for id in ["web.example-disk usage", "h-global"] {
        let out = sb
            .cmd(&["submit", id, "x", "", "0"])
            .env("CREDENTIALS_DIRECTORY", &creds)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    assert_eq!(authorization_for(&server, "disk usage"), "ApiKey cred-own");
    assert_eq!(authorization_for(&server, "global"), "ApiKey cred-global");
}
