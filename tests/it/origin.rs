//! `origin`: where the NixOS module took a target from ("auto: services.…", nix/auto.nix). The
//! agent accepts it on every target, shows it in `check` and `status`, and sends it nowhere.

use crate::util::{output_text, Sandbox, TestServer};
use serde_json::Value;

const KEY: &str = "origin-test-key";
const NGINX: &str = "auto: services.nginx.virtualHosts.example.org";
const SSH: &str = "auto: services.openssh.ports";

/// One target of every kind and a passive one, each with an `origin`, plus an explicit
/// check_http target without one.
fn config(api_host: &str, backend: &str) -> String {
    format!(
        r#"backend = "{backend}"
apiHost = "{api_host}"
apiKey = "{KEY}"
stateDir = "{{state}}"

[[targets.active.check_http]]
host = "example.org"
origin = "{NGINX}"

[[targets.active.check_http]]
host = "hand.example.org"

[[targets.active.check_ssl_cert]]
host = "example.org"
warningDays = 21
origin = "{NGINX}"

[[targets.active.check_dns]]
origin = "auto: test"
host = "dns.example.org"

[[targets.active.check_ping]]
host = "ping.example.org"
origin = "auto: test"

[[targets.active.check_smtp]]
host = "web1.example.org"
starttls = true
origin = "auto: services.postfix"

[[targets.active.check_ssh]]
host = "web1.example.org"
port = 2222
name = "SSH-2222"
origin = "{SSH}"

[[targets.active.check_hydra]]
host = "https://hydra.example.org"
project = "p"
jobset = "j"
origin = "auto: test"

[[targets.passive]]
host = "web1.example.org"
name = "backup"
origin = "auto: services.restic.backups.daily"
"#
    )
}

fn status_json(sb: &Sandbox) -> Value {
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn check_accepts_origin_on_every_kind_and_shows_it() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    sb.config(&config(&server.url(), "nixcloud"));
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "would register example.org-HTTP (HTTP (IPv4)) (from {NGINX}): POST "
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "would register web1.example.org-SSH-2222 (SSH-2222 (IPv6)) (from {SSH}): POST "
        )),
        "{text}"
    );
    assert!(
        text.contains("would register web1.example.org-backup (backup) (from auto: services.restic.backups.daily): POST "),
        "{text}"
    );
    // A target written by hand has no origin, and its line is as before.
    let hand: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("would register hand.example.org-HTTP"))
        .collect();
    assert_eq!(hand.len(), 2, "{text}");
    assert!(hand.iter().all(|l| !l.contains("(from ")), "{text}");
    // The payloads shown do not carry it.
    for line in text.lines().filter(|l| l.contains(": POST ")) {
        let body = line.split_once("/api/services ").unwrap().1;
        assert!(
            !body.contains("origin") && !body.contains("auto:"),
            "{line}"
        );
    }
    assert!(server.requests().is_empty());
}

#[test]
fn check_shows_origin_with_the_local_backend_too() {
    let sb = Sandbox::new();
    sb.config(&config("https://status.invalid", "local"));
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "would register example.org-SSL (SSL (IPv4)) (from {NGINX})\n"
        )),
        "{text}"
    );
}

#[test]
fn register_never_sends_origin() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    sb.config(&config(&server.url(), "nixcloud"));
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let reqs = server.requests_to("/api/services");
    // 8 active targets in two families each, one passive
    assert_eq!(reqs.len(), 17);
    for r in &reqs {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("origin") && !body.contains("auto:"),
            "{body}"
        );
    }
}

#[test]
fn status_shows_origin_and_json_has_it() {
    let sb = Sandbox::new();
    sb.config(&config("https://status.invalid", "local"));
    let doc = status_json(&sb);
    let origin_of = |id: &str| {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no target {id}: {doc}"))["origin"]
            .clone()
    };
    assert_eq!(origin_of("example.org-HTTP"), NGINX);
    assert_eq!(origin_of("example.org-SSL"), NGINX);
    assert_eq!(origin_of("web1.example.org-SSH-2222"), SSH);
    assert_eq!(
        origin_of("web1.example.org-backup"),
        "auto: services.restic.backups.daily"
    );
    assert_eq!(origin_of("hand.example.org-HTTP"), Value::Null);

    let out = sb.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "example.org-HTTP  [check_http]  registered daily; checked by the server  not registered yet\n    from {NGINX}\n"
        )),
        "{text}"
    );
    let hand = text
        .lines()
        .skip_while(|l| !l.starts_with("hand.example.org-HTTP"))
        .nth(1)
        .unwrap_or("");
    assert!(!hand.contains("from "), "{text}");
}

#[test]
fn origin_changes_no_refusal() {
    let sb = Sandbox::new();
    // A typo next to an origin is still named with its line and table, and the keys serde
    // expects are the target's own (origin is no option of the module, so it is not listed).
    sb.config(
        "[[targets.active.check_http]]\nhost = \"a\"\norigin = \"auto: x\"\ncontians = \"x\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("config.toml:4") && text.contains("unknown field `contians`"),
        "{text}"
    );
    assert!(text.contains("[[targets.active.check_http]] #1"), "{text}");
    assert!(!text.contains("`origin`"), "{text}");

    // The same for a passive target.
    sb.config(
        "[[targets.passive]]\nhost = \"a\"\nname = \"b\"\norigin = \"auto: x\"\nscirpt = \"\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("config.toml:5") && text.contains("unknown field `scirpt`"),
        "{text}"
    );
    assert!(!text.contains("`origin`"), "{text}");

    // Duplicates are refused as before, origin or not.
    sb.config(
        "backend = \"local\"\n[[targets.active.check_http]]\nhost = \"a\"\norigin = \"auto: x\"\n[[targets.active.check_http]]\nhost = \"a\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("duplicate target ids"), "{text}");

    // origin must be a string.
    sb.config("backend = \"local\"\n[[targets.active.check_http]]\nhost = \"a\"\norigin = 5\n");
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("config.toml:4"), "{text}");
}
