//! Several backends at once: every result goes to each, each through its own queue, so one
//! that is down delays only its own deliveries and loses nothing.

use crate::util::{output_text, Reply, Sandbox, TestServer};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `backends = ["nixcloud", "local"]` against `server`, one passive target.
fn two_backends(server: &TestServer, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "backends = [\"nixcloud\", \"local\"]\napiHost = \"{}\"\napiKeyFile = \"{}\"\n\
         stateDir = \"{{state}}\"\n{extra}\n[delivery]\nattempts = 1\ntimeout = 5\n\
         [[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n",
        server.url(),
        key.display()
    ));
    sb
}

/// A nixcloud server that answers 503 until `up` is set.
fn switchable() -> (TestServer, Arc<AtomicBool>) {
    let server = TestServer::start();
    let up = Arc::new(AtomicBool::new(false));
    let u = up.clone();
    server.reply(move |_| match u.load(Ordering::SeqCst) {
        true => Reply::Status(200, "{}".into()),
        false => Reply::Status(503, "maintenance".into()),
    });
    (server, up)
}

fn local_outputs(sb: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(sb.state_dir().join("local/results.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["output"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The outputs of results sent to `server`, leaving out the first `skip` requests (those
/// answered 503 while it was down).
fn delivered_outputs(server: &TestServer, skip: usize) -> Vec<String> {
    server.requests_to("/api/services/results")[skip..]
        .iter()
        .map(|r| r.json()["output"].as_str().unwrap().to_string())
        .collect()
}

fn sent(server: &TestServer) -> usize {
    server.requests_to("/api/services/results").len()
}

fn status(sb: &Sandbox) -> Value {
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_backend_that_is_down_delays_only_its_own_lane() {
    let (server, up) = switchable();
    let sb = two_backends(&server, "");
    for i in 0..3 {
        let out = sb
            .cmd(&["submit", "backup-nightly", &format!("run {i}"), "", "0"])
            .output()
            .unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(3), "{text}");
        assert!(text.contains("backup-nightly (local): delivered"), "{text}");
        assert!(
            text.contains("backup-nightly (nixcloud): not delivered yet, kept in the queue"),
            "{text}"
        );
    }
    // The local backend has every result already; the nixcloud lane keeps its three.
    assert_eq!(local_outputs(&sb), ["run 0", "run 1", "run 2"]);
    assert_eq!(sb.files_in("queue/nixcloud").len(), 3);
    assert!(sb.files_in("queue/local").is_empty());
    let doc = status(&sb);
    assert_eq!(doc["backends"], serde_json::json!(["nixcloud", "local"]));
    assert_eq!(doc["queues"]["nixcloud"]["count"], 3);
    assert_eq!(doc["queues"]["local"]["count"], 0);
    assert_eq!(doc["queue"]["count"], 3);
    assert_eq!(doc["targets"][0]["last"]["delivery"], "queued for nixcloud");
    let human = sb.cmd(&["status"]).output().unwrap();
    let text = output_text(&human);
    assert!(text.contains("queue (nixcloud): 3 waiting"), "{text}");
    assert!(text.contains("queue (local): 0 waiting"), "{text}");
    assert!(text.contains("last delivery error: nixcloud: "), "{text}");

    let refused = sent(&server);
    up.store(true, Ordering::SeqCst);
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        delivered_outputs(&server, refused),
        ["run 0", "run 1", "run 2"]
    );
    // Each backend got each result once.
    assert_eq!(local_outputs(&sb), ["run 0", "run 1", "run 2"]);
    assert!(sb.files_in("queue/nixcloud").is_empty());
    assert_eq!(status(&sb)["targets"][0]["last"]["delivery"], "delivered");
}

#[test]
fn a_full_lane_refuses_only_there_and_the_others_still_deliver() {
    let (server, _up) = switchable();
    let sb = two_backends(&server, "[queue]\nmaxCount = 2");
    for i in 0..2 {
        let out = sb
            .cmd(&["submit", "backup-nightly", &format!("run {i}"), "", "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    let out = sb
        .cmd(&["submit", "backup-nightly", "run 2", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("queue/nixcloud is full"), "{text}");
    assert_eq!(local_outputs(&sb), ["run 0", "run 1", "run 2"]);
    assert_eq!(sb.files_in("queue/nixcloud").len(), 2);
}

#[test]
fn results_queued_before_a_second_backend_was_added_go_to_both() {
    let (server, up) = switchable();
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n\
         [delivery]\nattempts = 1\n[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n",
        server.url(),
        key.display()
    ));
    for i in 0..2 {
        let out = sb
            .cmd(&["submit", "backup-nightly", &format!("old {i}"), "", "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    assert_eq!(sb.files_in("queue").len(), 2);
    sb.edit_config("apiHost", "backends = [\"nixcloud\", \"local\"]\napiHost");
    let refused = sent(&server);
    up.store(true, Ordering::SeqCst);
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(delivered_outputs(&server, refused), ["old 0", "old 1"]);
    assert_eq!(local_outputs(&sb), ["old 0", "old 1"]);
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn the_backend_list_is_checked() {
    let cases = [
        (
            "backend = \"local\"\nbackends = [\"local\"]",
            "both backend and backends are set",
        ),
        ("backends = []", "backends is empty"),
        (
            "backends = [\"local\", \"local\"]",
            "backends names \"local\" twice",
        ),
        (
            "backends = [\"healthchecks\"]",
            "backend \"healthchecks\" needs a [healthchecks] table (apiKeyFile)",
        ),
        (
            "backends = [\"icinga2\", \"local\"]",
            "backend \"icinga2\" needs an [icinga2] table",
        ),
        ("backends = [\"zabbix\"]", "unknown variant `zabbix`"),
    ];
    for (toml, want) in cases {
        let sb = Sandbox::new();
        sb.config(&format!("{toml}\nstateDir = \"{{state}}\"\n"));
        let out = sb.cmd(&["check"]).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{toml}: {text}");
        assert!(text.contains(want), "{toml}: {text}");
    }
}

#[test]
fn healthchecks_alone_refuses_active_targets() {
    let sb = Sandbox::new();
    sb.config(
        "backends = [\"healthchecks\"]\nstateDir = \"{state}\"\n\
         [healthchecks]\napiKeyFile = \"/run/keys/hc\"\n\
         [[targets.active.check_http]]\nhost = \"web\"\nname = \"site\"\nurl = \"/\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "target web-site is an active check (check_http), but none of the backends runs it: \
             Healthchecks only waits for pings"
        ),
        "{text}"
    );
    // With a backend that runs it, the same target is fine.
    sb.edit_config("[\"healthchecks\"]", "[\"healthchecks\", \"local\"]");
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("backends healthchecks, local"), "{text}");
}

#[test]
fn flush_names_the_backend_that_stopped() {
    let (server, _up) = switchable();
    let sb = two_backends(&server, "");
    let out = sb
        .cmd(&["submit", "backup-nightly", "run 0", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "delivered 0, refused 0, still queued 1\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "delivery stopped: nixcloud: delivering the result for backup-nightly: POST \
             {}/api/services/results: HTTP 503 Service Unavailable: maintenance\n",
            server.url()
        )
    );
}

#[test]
fn a_lane_that_cannot_be_written_stops_the_command_before_any_delivery() {
    let (server, _up) = switchable();
    let sb = two_backends(&server, "");
    std::fs::create_dir_all(sb.state_dir().join("queue")).unwrap();
    std::fs::write(sb.state_dir().join("queue/nixcloud"), "in the way").unwrap();
    let out = sb
        .cmd(&["submit", "backup-nightly", "run 0", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: could not create {}: File exists (os error 17)\n",
            sb.state_dir().join("queue/nixcloud").display()
        )
    );
    assert_eq!(sent(&server), 0);
    assert_eq!(
        local_outputs(&sb),
        Vec::<String>::new(),
        "not delivered anywhere"
    );
    // The first lane failed: the result was not queued in the lane after it either.
    assert_eq!(sb.files_in("queue/local"), Vec::<std::path::PathBuf>::new());
}

#[test]
fn a_refused_lane_logs_what_became_of_the_result_in_the_others() {
    let (server, _up) = switchable();
    let sb = two_backends(&server, "[queue]\nmaxCount = 1");
    sb.cmd(&["submit", "backup-nightly", "run 0", "", "0"])
        .assert()
        .code(3);
    let out = sb
        .cmd(&["-v", "submit", "backup-nightly", "run 1", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    // The lane that took it is logged before the error of the one that refused it.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(" INFO local: delivered\nerror: the queue in ")
            && err.contains("/queue/nixcloud is full: 1 results, ")
            && err.lines().count() == 2,
        "{text}"
    );
}

/// A scripted target on the local backend alone (no server), with `extra` settings.
fn scripted_local(extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.config(&format!(
        "backends = [\"local\"]\nstateDir = \"{{state}}\"\n{extra}\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"job\"\nscript = 'exit=0; status=tick'\n"
    ));
    sb
}

#[test]
fn sync_queues_a_scripts_result_and_says_so_when_every_lane_refuses_it() {
    let sb = scripted_local("");
    let out = sb.cmd(&["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(local_outputs(&sb), ["tick"]);

    // A full queue that delivering cannot empty (the local record cannot be written, a
    // directory is in its place): the second result is refused, said so, and not recorded as
    // the target's last result. (A queue.maxBytes too small for any result is a config error.)
    let sb = Sandbox::new();
    sb.config(
        "backends = [\"local\"]\nstateDir = \"{state}\"\n[queue]\nmaxCount = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"job\"\nscript = 'exit=0; status=\"tick $$\"'\n",
    );
    std::fs::create_dir_all(sb.state_dir().join("local/results.jsonl")).unwrap();
    let out = sb.cmd(&["sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let first = status(&sb)["targets"][0]["last"]["output"].clone();
    assert!(first.as_str().unwrap().starts_with("tick "), "{first}");
    let out = sb.cmd(&["sync"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "h-job: the queue in {} is full: 1 results, ",
            sb.state_dir().join("queue").display()
        )) && stderr
            .contains("(limits: queue.maxCount = 1, queue.maxBytes = 67108864), oldest measured ")
            && stderr.contains("; the result for h-job was NOT accepted."),
        "{text}"
    );
    assert_eq!(sb.files_in("queue").len(), 1);
    assert_eq!(status(&sb)["targets"][0]["last"]["output"], first);
}
