//! The Icinga2 backend against a real Icinga2 on 127.0.0.1 (started by .ci/icinga2-setup.sh).
//!
//! Each test marks its objects with its own owner and names, so tests run in parallel and
//! again and again against one Icinga2 without seeing each other's objects.

use crate::util::{output_text, Reply, Sandbox, TestServer};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connection settings written by .ci/icinga2-setup.sh.
struct Icinga {
    env: HashMap<String, String>,
}

impl Icinga {
    /// The running test Icinga2, or `None` when NIXCLOUD_SKIP_ICINGA2=1 says to go without.
    fn get() -> Option<Icinga> {
        if std::env::var("NIXCLOUD_SKIP_ICINGA2").as_deref() == Ok("1") {
            crate::util::skip(
                std::thread::current().name().unwrap_or("an Icinga2 test"),
                "NIXCLOUD_SKIP_ICINGA2=1",
            );
            return None;
        }
        let path = std::env::var("NIXCLOUD_ICINGA2_ENV")
            .unwrap_or_else(|_| "/tmp/nixcloud-icinga2/env".into());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e}: start a test Icinga2 with `bash .ci/icinga2-setup.sh` (or set NIXCLOUD_SKIP_ICINGA2=1)")
        });
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let icinga = Icinga { env };
        let (code, _) = icinga.api("GET", "/v1/objects/hosts?attrs=__name", None);
        assert_eq!(code, 200, "the Icinga2 API in {path} does not answer: (re)start it with `bash .ci/icinga2-setup.sh`");
        Some(icinga)
    }

    fn var(&self, key: &str) -> &str {
        &self.env[key]
    }

    /// A config for the icinga2 backend with this test's owner mark, plus `targets`.
    fn config(&self, sb: &Sandbox, owner: &str, targets: &str) {
        sb.config(&format!(
            "backend = \"icinga2\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 2\ntimeout = 10\n\
             [icinga2]\nurl = \"{}\"\nuser = \"{}\"\npasswordFile = \"{}\"\ncaFile = \"{}\"\nserverName = \"{}\"\nowner = \"{owner}\"\n{targets}",
            self.var("ICINGA2_URL"),
            self.var("ICINGA2_USER"),
            self.var("ICINGA2_PASSWORD_FILE"),
            self.var("ICINGA2_CA_FILE"),
            self.var("ICINGA2_SERVER_NAME"),
        ));
    }

    /// Calls the API with curl (an independent client); returns status and JSON body.
    fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let name = self.var("ICINGA2_SERVER_NAME");
        let password = std::fs::read_to_string(self.var("ICINGA2_PASSWORD_FILE")).unwrap();
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            "--cacert",
            self.var("ICINGA2_CA_FILE"),
        ])
        .args(["--resolve", &format!("{name}:5665:127.0.0.1")])
        .args([
            "-u",
            &format!("{}:{}", self.var("ICINGA2_USER"), password.trim()),
        ])
        .args(["-H", "Accept: application/json"])
        .arg(format!("https://{name}:5665{path}"));
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

    /// A service's attributes, or `None` when it does not exist.
    fn service(&self, full_name: &str) -> Option<Value> {
        let (code, doc) = self.api(
            "GET",
            &format!("/v1/objects/services/{}", encode(full_name)),
            None,
        );
        (code == 200).then(|| doc["results"][0]["attrs"].clone())
    }

    /// Asks Icinga2 to run a service's check now.
    fn check_now(&self, host: &str, service: &str) {
        let body = serde_json::json!({
            "type": "Service",
            "filter": "host.name == h && service.name == s",
            "filter_vars": { "h": host, "s": service },
            "force": true,
        });
        let (code, doc) = self.api(
            "POST",
            "/v1/actions/reschedule-check",
            Some(&body.to_string()),
        );
        assert_eq!(code, 200, "{doc}");
    }

    /// Waits until the service's state and output satisfy `ok`; returns its attributes.
    fn wait_for(&self, full_name: &str, within: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let attrs = self.service(full_name).unwrap_or(Value::Null);
            if ok(&attrs) {
                return attrs;
            }
            assert!(
                Instant::now() < deadline,
                "{full_name} never got there; last seen: {attrs:#}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Icinga {
    /// Asks Icinga2 to run every check of `owner`'s services now.
    fn check_owned_now(&self, owner: &str) {
        let body = serde_json::json!({
            "type": "Service",
            "filter": "service.vars.nixcloud_monitoring_owner == o",
            "filter_vars": { "o": owner },
            "force": true,
        });
        let (code, doc) = self.api(
            "POST",
            "/v1/actions/reschedule-check",
            Some(&body.to_string()),
        );
        assert_eq!(code, 200, "{doc}");
    }

    /// Waits until Icinga2 has a check result for the service that ended after `since`.
    fn wait_checked(&self, full_name: &str, since: f64) -> Value {
        self.wait_for(full_name, Duration::from_secs(30), |a| {
            a["last_check_result"]["execution_end"]
                .as_f64()
                .is_some_and(|end| end > since)
        })
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP server on 127.0.0.1 that greets every connection with `banner`, like sshd.
fn banner_server(banner: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = conn.write_all(banner.as_bytes());
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = conn.read(&mut [0; 256]);
            });
        }
    });
    port
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A name unique to this test run.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

fn state(attrs: &Value) -> Option<u64> {
    attrs["last_check_result"]["state"]
        .as_f64()
        .map(|s| s as u64)
}

fn output(attrs: &Value) -> &str {
    attrs["last_check_result"]["output"].as_str().unwrap_or("")
}

#[test]
fn registration_creates_the_objects_and_icinga_runs_check_http_ok_then_critical() {
    let Some(icinga) = Icinga::get() else { return };
    let web = TestServer::start();
    web.reply(|_| Reply::Status(200, "<html>hello from the test server</html>".into()));
    let owner = unique("http");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &owner,
        &format!(
            "[[targets.active.check_http]]\nhost = \"127.0.0.1\"\nname = \"{owner}\"\nport = {}\nurl = \"/status\"\ncontains = \"hello\"\nipv6 = false\n",
            web.addr.port()
        ),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let service = format!("127.0.0.1!{owner} (IPv4)");
    let attrs = icinga
        .service(&service)
        .expect("the service exists after register");
    assert_eq!(attrs["check_command"], "http");
    assert_eq!(attrs["vars"]["http_port"], web.addr.port());
    assert_eq!(attrs["vars"]["http_uri"], "/status");
    assert_eq!(attrs["vars"]["http_string"], "hello");
    assert_eq!(attrs["vars"]["nixcloud_monitoring_owner"], owner);
    assert_eq!(
        attrs["vars"]["nixcloud_monitoring_id"],
        format!("127.0.0.1-{owner}")
    );

    icinga.check_now("127.0.0.1", &format!("{owner} (IPv4)"));
    let ok = icinga.wait_for(&service, Duration::from_secs(30), |a| state(a) == Some(0));
    assert!(output(&ok).contains("HTTP OK"), "{ok:#}");
    assert!(
        web.requests().iter().any(|r| r.path == "/status"),
        "Icinga's check_http reached the test server"
    );

    web.reply(|_| Reply::Status(200, "<html>goodbye</html>".into()));
    icinga.check_now("127.0.0.1", &format!("{owner} (IPv4)"));
    let critical = icinga.wait_for(&service, Duration::from_secs(30), |a| state(a) == Some(2));
    assert!(
        output(&critical).contains("hello") && output(&critical).contains("not found"),
        "{critical:#}"
    );
}

#[test]
fn a_pushed_result_shows_up_with_output_perfdata_and_execution_time() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("push");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &host,
        &format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"backup\"\n"),
    );
    sb.cmd(&["register"]).assert().success();
    let out = sb
        .cmd(&[
            "submit",
            &format!("{host}-backup"),
            "it's done 快乐",
            "files=42;100;200 'time spent'=3s",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let attrs = icinga.wait_for(&format!("{host}!backup"), Duration::from_secs(10), |a| {
        state(a) == Some(1)
    });
    assert_eq!(output(&attrs), "it's done 快乐");
    assert_eq!(
        attrs["last_check_result"]["performance_data"],
        serde_json::json!(["files=42;100;200", "'time spent'=3s"])
    );
    assert_eq!(attrs["check_command"], "dummy");
}

#[test]
fn a_script_result_carries_its_real_execution_time() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("script");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &host,
        &format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"slow\"\nscript = 'sleep 1; exit=0; status=slept; perfdata={{\"\"\"\"s\"\"\"\":1}}'\n"),
    );
    sb.cmd(&["register"]).assert().success();
    let out = sb.cmd(&["run", &format!("{host}-slow")]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let attrs = icinga.wait_for(&format!("{host}!slow"), Duration::from_secs(10), |a| {
        output(a) == "slept"
    });
    let r = &attrs["last_check_result"];
    let took = r["execution_end"].as_f64().unwrap() - r["execution_start"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&took), "execution time {took}: {r:#}");
}

#[test]
fn a_passive_service_without_pushes_goes_stale() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("stale");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &host,
        &format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"heartbeat\"\n"),
    );
    sb.cmd(&["register"]).assert().success();
    let service = format!("{host}!heartbeat");
    let registered = icinga.service(&service).unwrap();
    assert_eq!(
        registered["check_interval"].as_f64(),
        Some(180.0 * 60.0),
        "timers.timeout is the allowed silence"
    );
    // A new service must not raise the stale alarm before anyone had a chance to push.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let next = registered["next_check"].as_f64().unwrap();
    assert!(
        next > now + 170.0 * 60.0,
        "first stale check at {next}, now {now}"
    );
    // timers are minutes; make the allowed silence 2 s so the test does not wait 3 hours.
    let (code, doc) = icinga.api(
        "POST",
        &format!("/v1/objects/services/{}", encode(&service)),
        Some(r#"{"attrs":{"check_interval":2,"retry_interval":2}}"#),
    );
    assert_eq!(code, 200, "{doc}");

    sb.cmd(&["submit", &format!("{host}-heartbeat"), "alive", "", "0"])
        .assert()
        .success();
    icinga.wait_for(&service, Duration::from_secs(10), |a| state(a) == Some(0));
    let stale = icinga.wait_for(&service, Duration::from_secs(30), |a| state(a) == Some(3));
    assert!(
        output(&stale).contains("STALE") && output(&stale).contains(&format!("{host}-heartbeat")),
        "{stale:#}"
    );
}

#[test]
fn a_target_removed_from_the_config_is_gone_after_the_next_register() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("prune");
    let sb = Sandbox::new();
    let keep = format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"keep\"\n");
    let gone = format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"gone\"\n[[targets.passive]]\nhost = \"{host}-other\"\nname = \"gone\"\n");
    icinga.config(&sb, &host, &format!("{keep}{gone}"));
    sb.cmd(&["register"]).assert().success();
    assert!(icinga.service(&format!("{host}!gone")).is_some());
    // Nothing else on the host: the stock apply rules for hosts with an address (kept by
    // .ci/icinga2-setup.sh) do not catch the agent's hosts, so nothing keeps it from going.
    let filter = encode(&format!("host.name==\"{host}-other\""));
    let (code, doc) = icinga.api(
        "GET",
        &format!("/v1/objects/services?attrs=__name&filter={filter}"),
        None,
    );
    assert_eq!(code, 200, "{doc}");
    let names: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, [format!("{host}-other!gone")], "{doc:#}");

    icinga.config(&sb, &host, &keep);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        icinga.service(&format!("{host}!gone")).is_none(),
        "removed target still in Icinga2"
    );
    assert!(
        icinga.service(&format!("{host}!keep")).is_some(),
        "the kept target survives"
    );
    let (code, _) = icinga.api(
        "GET",
        &format!("/v1/objects/hosts/{}", encode(&format!("{host}-other"))),
        None,
    );
    assert_eq!(code, 404, "a host left without services is removed too");
}

#[test]
fn a_result_for_a_target_not_yet_registered_registers_it() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("late");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &host,
        &format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"first\"\n"),
    );
    let out = sb
        .cmd(&[
            "submit",
            &format!("{host}-first"),
            "before register",
            "",
            "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let attrs = icinga.wait_for(&format!("{host}!first"), Duration::from_secs(10), |a| {
        state(a) == Some(0)
    });
    assert_eq!(output(&attrs), "before register");
}

#[test]
fn a_wrong_password_is_refused_and_named() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("auth");
    let sb = Sandbox::new();
    let wrong = sb.write("wrong-password", "not-the-password\n");
    icinga.config(
        &sb,
        &host,
        &format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"x\"\n"),
    );
    sb.edit_config(
        icinga.var("ICINGA2_PASSWORD_FILE"),
        &wrong.display().to_string(),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("401") && text.contains("/v1/objects/hosts/"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"));
}

#[test]
fn every_kind_runs_with_arguments_its_plugin_accepts() {
    // A variable the plugin does not know ends as UNKNOWN with a usage text (check_dns 2.3
    // and `-q`, for one); the checks here run against 127.0.0.1 and closed ports only.
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("kinds");
    let (closed, ssh) = (
        closed_port(),
        banner_server("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
    );
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &o,
        &format!(
            "[[targets.active.check_ssl_cert]]\nhost = \"127.0.0.1\"\nname = \"{o}-ssl\"\nport = {closed}\ntimeout = 3\nwarningDays = 10\nipv6 = false\n\
             [[targets.active.check_dns]]\nhost = \"127.0.0.1\"\nname = \"{o}-dns\"\nserver = \"127.0.0.1\"\ntimeout = 3\nexpected-address = \"127.0.0.1\"\nexpect-authority = \"yes\"\n\
             [[targets.active.check_ping]]\nhost = \"127.0.0.1\"\nname = \"{o}-ping\"\ntimeout = 5\nipv6 = false\n\
             [[targets.active.check_ping]]\nhost = \"::1\"\nname = \"{o}-ping\"\ntimeout = 5\nipv4 = false\n\
             [[targets.active.check_smtp]]\nhost = \"127.0.0.1\"\nname = \"{o}-smtp\"\nport = {closed}\nstarttls = true\ncertificate = 10\ntimeout = 3\nipv6 = false\n\
             [[targets.active.check_ssh]]\nhost = \"127.0.0.1\"\nname = \"{o}-ssh\"\nport = {ssh}\ntimeout = 3\nipv6 = false\n"
        ),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let since = now();
    icinga.check_owned_now(&o);
    // Service and the state it must reach; None: any state but UNKNOWN.
    let expected = [
        (format!("127.0.0.1!{o}-ssl (IPv4)"), Some(2)),
        (format!("127.0.0.1!{o}-dns (IPv4)"), None),
        (format!("127.0.0.1!{o}-dns (IPv6)"), None),
        (format!("127.0.0.1!{o}-ping (IPv4)"), Some(0)),
        (format!("::1!{o}-ping (IPv6)"), None),
        (format!("127.0.0.1!{o}-smtp (IPv4)"), Some(2)),
        (format!("127.0.0.1!{o}-ssh (IPv4)"), Some(0)),
    ];
    for (service, state_wanted) in expected {
        let attrs = icinga.wait_checked(&service, since);
        let r = &attrs["last_check_result"];
        let text = format!("{service}: {} (ran {})", output(&attrs), r["command"]);
        assert!(
            !output(&attrs).contains("Usage") && !output(&attrs).contains("invalid option"),
            "{text}"
        );
        match state_wanted {
            Some(s) => assert_eq!(state(&attrs), Some(s), "{text}"),
            None => assert_ne!(state(&attrs), Some(3), "{text}"),
        }
    }
}

#[test]
fn ssh_remote_version_is_checked_against_the_banner() {
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("sshver");
    let port = banner_server("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    let sb = Sandbox::new();
    let target = |name: &str, version: &str| {
        format!("[[targets.active.check_ssh]]\nhost = \"127.0.0.1\"\nname = \"{o}-{name}\"\nport = {port}\ntimeout = 3\nremoteVersion = \"{version}\"\nipv6 = false\n")
    };
    icinga.config(
        &sb,
        &o,
        &format!(
            "{}{}",
            target("same", "OpenSSH_9.2p1 Debian-2"),
            target("other", "OpenSSH_9.2p1")
        ),
    );
    sb.cmd(&["register"]).assert().success();
    let since = now();
    icinga.check_owned_now(&o);
    let same = icinga.wait_checked(&format!("127.0.0.1!{o}-same (IPv4)"), since);
    assert_eq!(state(&same), Some(0), "{same:#}");
    // check_ssh -r compares the whole version text: a prefix is a mismatch, CRITICAL.
    let other = icinga.wait_checked(&format!("127.0.0.1!{o}-other (IPv4)"), since);
    assert_eq!(state(&other), Some(2), "{other:#}");
}

#[test]
fn a_hydra_jobset_with_an_evaluation_error_is_critical() {
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("hydra");
    let hydra = TestServer::start();
    hydra.reply(|_| {
        Reply::Status(
            200,
            r#"{"name":"trunk","errormsg":"","fetcherrormsg":""}"#.into(),
        )
    });
    let sb = Sandbox::new();
    let host = format!("http://127.0.0.1:{}/hydra", hydra.addr.port());
    icinga.config(
        &sb,
        &o,
        &format!("[[targets.active.check_hydra]]\nhost = \"{host}\"\nname = \"{o}\"\nproject = \"nixpkgs\"\njobset = \"trunk\"\nipv6 = false\n"),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let service = format!("{host}!{o} (IPv4)");
    let since = now();
    icinga.check_owned_now(&o);
    let ok = icinga.wait_checked(&service, since);
    assert_eq!(state(&ok), Some(0), "{ok:#}");
    let asked = hydra.requests_to("/hydra/jobset/nixpkgs/trunk");
    assert!(!asked.is_empty(), "{:?}", hydra.requests());
    assert_eq!(asked[0].header("Accept"), Some("application/json"));

    hydra.reply(|_| {
        Reply::Status(
            200,
            r#"{"name":"trunk","errormsg":"error: attribute 'x' missing","fetcherrormsg":""}"#
                .into(),
        )
    });
    icinga.check_owned_now(&o);
    let critical = icinga.wait_for(&service, Duration::from_secs(30), |a| state(a) == Some(2));
    assert!(output(&critical).contains("HTTP CRITICAL"), "{critical:#}");
}

#[test]
fn a_changed_target_is_updated_and_its_dropped_variables_go() {
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("update");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &o,
        &format!("[[targets.active.check_http]]\nhost = \"127.0.0.1\"\nname = \"{o}\"\nport = 8081\ncontains = \"hello\"\nipv6 = false\n"),
    );
    sb.cmd(&["register"]).assert().success();
    let service = format!("127.0.0.1!{o} (IPv4)");
    assert_eq!(
        icinga.service(&service).unwrap()["vars"]["http_string"],
        "hello"
    );

    sb.edit_config("port = 8081\ncontains = \"hello\"\n", "port = 8082\n");
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let vars = icinga.service(&service).unwrap()["vars"].clone();
    assert_eq!(vars["http_port"], 8082);
    assert!(vars.get("http_string").is_none(), "{vars:#}");
    assert_eq!(vars["nixcloud_monitoring_owner"], o.as_str());
}

#[test]
fn objects_made_by_the_icinga_admin_are_never_changed_or_removed() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("admin");
    // The admin's own host and service, without the agent's owner mark.
    let (code, doc) = icinga.api(
        "PUT",
        &format!("/v1/objects/hosts/{}", encode(&host)),
        Some(
            r#"{"attrs":{"check_command":"dummy","display_name":"admin's","vars":{"os":"Linux"}}}"#,
        ),
    );
    assert_eq!(code, 200, "{doc}");
    let (code, doc) = icinga.api(
        "PUT",
        &format!("/v1/objects/services/{}", encode(&format!("{host}!clash"))),
        Some(r#"{"attrs":{"check_command":"dummy","vars":{"dummy_text":"admin's"}}}"#),
    );
    assert_eq!(code, 200, "{doc}");

    let sb = Sandbox::new();
    let mine = format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"mine\"\n");
    let clash = format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"clash\"\n");
    icinga.config(&sb, &host, &format!("{mine}{clash}"));
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "a refusal: {text}");
    assert!(
        text.contains(&format!("{host}!clash"))
            && text.contains("without vars.nixcloud_monitoring_owner"),
        "{text}"
    );
    // The service went onto the admin's host; host and service stay as the admin made them.
    let attrs = icinga
        .service(&format!("{host}!mine"))
        .expect("mine is registered");
    assert_eq!(attrs["vars"]["nixcloud_monitoring_owner"], host.as_str());
    let clash_attrs = icinga.service(&format!("{host}!clash")).unwrap();
    assert_eq!(
        clash_attrs["vars"],
        serde_json::json!({"dummy_text": "admin's"})
    );
    let (_, doc) = icinga.api("GET", &format!("/v1/objects/hosts/{}", encode(&host)), None);
    let h = &doc["results"][0]["attrs"];
    assert_eq!(
        (&h["display_name"], &h["vars"]),
        (
            &serde_json::json!("admin's"),
            &serde_json::json!({"os": "Linux"})
        )
    );

    // Without the clash, a complete register prunes; the admin's objects are not its to prune.
    icinga.config(&sb, &host, &mine);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(icinga.service(&format!("{host}!clash")).is_some());
    let (code, _) = icinga.api("GET", &format!("/v1/objects/hosts/{}", encode(&host)), None);
    assert_eq!(code, 200);
}

#[test]
fn two_owners_on_one_host_prune_only_their_own_objects() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("shared");
    let (owner_a, owner_b) = (format!("{host}-a"), format!("{host}-b"));
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let target =
        |name: &str| format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"{name}\"\n");
    icinga.config(
        &a,
        &owner_a,
        &format!("{}{}", target("from-a"), target("also-a")),
    );
    icinga.config(&b, &owner_b, &target("from-b"));
    a.cmd(&["register"]).assert().success();
    b.cmd(&["register"]).assert().success();

    // A drops one of its targets; its full register prunes that one and nothing of B's.
    icinga.config(&a, &owner_a, &target("also-a"));
    let out = a.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        icinga.service(&format!("{host}!from-a")).is_none(),
        "A's removed target is gone"
    );
    assert!(
        icinga.service(&format!("{host}!also-a")).is_some(),
        "A's kept target stays"
    );
    let b_service = icinga
        .service(&format!("{host}!from-b"))
        .expect("B's service survives A's prune");
    assert_eq!(
        b_service["vars"]["nixcloud_monitoring_owner"],
        owner_b.as_str()
    );
    let (code, _) = icinga.api("GET", &format!("/v1/objects/hosts/{}", encode(&host)), None);
    assert_eq!(code, 200, "the shared host stays while it has services");
}

#[test]
fn registering_some_targets_by_id_prunes_nothing() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("partial");
    let sb = Sandbox::new();
    let targets = format!(
        "[[targets.passive]]\nhost = \"{host}\"\nname = \"one\"\n[[targets.passive]]\nhost = \"{host}\"\nname = \"two\"\n"
    );
    icinga.config(&sb, &host, &targets);
    sb.cmd(&["register"]).assert().success();
    let out = sb
        .cmd(&["register", &format!("{host}-one")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        icinga.service(&format!("{host}!two")).is_some(),
        "a partial registration must not remove the targets it did not name"
    );
}

#[test]
fn tls_with_a_wrong_ca_or_a_wrong_server_name_is_refused() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("tls");
    let target = format!("[[targets.passive]]\nhost = \"{host}\"\nname = \"x\"\n");
    for (what, from, to) in [
        // The system's roots do not contain Icinga2's own CA.
        (
            "a CA that did not sign the certificate",
            format!("caFile = \"{}\"", icinga.var("ICINGA2_CA_FILE")),
            "caFile = \"/etc/ssl/certs/ca-certificates.crt\"".to_string(),
        ),
        (
            "a name the certificate is not for",
            format!("serverName = \"{}\"", icinga.var("ICINGA2_SERVER_NAME")),
            "serverName = \"not-the-icinga-node\"".to_string(),
        ),
    ] {
        let sb = Sandbox::new();
        icinga.config(&sb, &host, &target);
        sb.edit_config(&from, &to);
        let out = sb.cmd(&["register"]).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(3), "{what}: {text}");
        assert!(
            text.to_lowercase().contains("certificate"),
            "{what}: the error names the certificate: {text}"
        );
        assert!(
            icinga.service(&format!("{host}!x")).is_none(),
            "{what}: nothing was registered"
        );
    }
}

/// A plain-HTTP proxy on 127.0.0.1 in front of the test Icinga2: the agent talks to it (an
/// `http://` url, as behind a TLS-terminating proxy), it forwards every request with curl and
/// records it, so a test can count what the agent wrote. `intercept` may answer a request
/// itself instead (to make the API fail).
fn proxy(
    icinga: &Icinga,
    intercept: impl Fn(&crate::util::Request) -> Option<Reply> + Send + Sync + 'static,
) -> TestServer {
    let server = TestServer::start();
    let name = icinga.var("ICINGA2_SERVER_NAME").to_string();
    let ca = icinga.var("ICINGA2_CA_FILE").to_string();
    server.reply(move |req| {
        if let Some(reply) = intercept(req) {
            return reply;
        }
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            &req.method,
            "--cacert",
            &ca,
        ])
        .args(["--resolve", &format!("{name}:5665:127.0.0.1")])
        // No `Expect: 100-continue` round trip for larger bodies.
        .args(["-H", "Expect:"]);
        for (k, v) in &req.headers {
            let skip = ["host", "content-length", "connection", "transfer-encoding"];
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                cmd.args(["-H", &format!("{k}: {v}")]);
            }
        }
        if !req.body.is_empty() {
            cmd.args(["--data-binary", "@-"]);
        }
        cmd.arg(format!("https://{name}:5665{}", req.path))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("curl runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&req.body).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        Reply::Status(code.trim().parse().unwrap_or(502), body.to_string())
    });
    server
}

impl Icinga {
    /// Like [`Icinga::config`], but the agent talks to Icinga2 through `proxy`.
    fn config_via(&self, sb: &Sandbox, proxy: &TestServer, owner: &str, targets: &str) {
        sb.config(&format!(
            "backend = \"icinga2\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 2\ntimeout = 10\n\
             [icinga2]\nurl = \"{}\"\nuser = \"{}\"\npasswordFile = \"{}\"\nowner = \"{owner}\"\n{targets}",
            proxy.url(),
            self.var("ICINGA2_USER"),
            self.var("ICINGA2_PASSWORD_FILE"),
        ));
    }
}

/// The requests that change something in Icinga2 (everything but GET), as
/// `METHOD object-name`: the name from the path (PUT, DELETE) or from the POST's filter_vars.
fn writes(requests: &[crate::util::Request]) -> Vec<String> {
    let mut out: Vec<String> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or("");
            let name = match r.method.as_str() {
                "POST" if path.starts_with("/v1/objects/") => r.json()["filter_vars"]["name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                _ => decode(path.rsplit('/').next().unwrap_or("")),
            };
            format!(
                "{} {} {name}",
                r.method,
                path.split('/').nth(3).unwrap_or(path)
            )
        })
        .collect();
    out.sort();
    out
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail.get(..2)) {
            (b'%', Some(hex)) => {
                out.push(u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap());
                rest = &tail[2..];
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// How many requests the proxy has answered once the last one is recorded: the server records
/// a request after answering it, so the agent may have exited a moment before.
fn settled(proxy: &TestServer) -> usize {
    let mut seen = proxy.requests().len();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = proxy.requests().len();
        if now == seen {
            return now;
        }
        seen = now;
    }
}

/// The requests after the first `first`, once all are recorded.
fn since(proxy: &TestServer, first: usize) -> Vec<crate::util::Request> {
    settled(proxy);
    proxy.requests().split_off(first)
}

/// A check_http target named `name` (IPv4 only: one service).
fn http_target(host: &str, name: &str, port: u16) -> String {
    format!("[[targets.active.check_http]]\nhost = \"{host}\"\nname = \"{name}\"\nport = {port}\ncontains = \"hello\"\nipv6 = false\n")
}

#[test]
fn an_unchanged_registration_reads_and_writes_nothing() {
    // Every kind, so every variable Icinga2 stores (and may give back in its own form:
    // numbers, lists, booleans) is compared as it comes back.
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("same");
    let proxy = proxy(&icinga, |_| None);
    let sb = Sandbox::new();
    // Hosts of this test's own: a host shared with other owners (127.0.0.1 in other tests)
    // is marked by whoever registered it last, and taking it back is a write.
    let targets = format!(
        "{}{}\
         [[targets.active.check_http]]\nhost = \"{o}\"\nname = \"both\"\nport = 8081\n\
         [[targets.active.check_ssl_cert]]\nhost = \"{o}\"\nname = \"ssl\"\nwarningDays = 10\n\
         [[targets.active.check_dns]]\nhost = \"{o}\"\nname = \"dns\"\nserver = \"127.0.0.1\"\nexpected-address = \"127.0.0.1\"\n\
         [[targets.active.check_ping]]\nhost = \"{o}\"\nname = \"ping\"\nwarning = \"10.5,2%\"\n\
         [[targets.active.check_smtp]]\nhost = \"{o}\"\nname = \"smtp\"\ncertificate = 10\n\
         [[targets.active.check_ssh]]\nhost = \"{o}\"\nname = \"ssh\"\nremoteVersion = \"OpenSSH_9.2p1\"\n\
         [[targets.active.check_hydra]]\nhost = \"http://{o}:1/hydra\"\nname = \"hydra\"\nproject = \"p\"\njobset = \"j\"\n\
         [[targets.passive]]\nhost = \"{o}-passive\"\nname = \"backup\"\ntags = [\"a\", \"b\"]\n",
        http_target(&o, "one", 8081),
        http_target(&format!("{o}-web"), "web", 8082),
    );
    icinga.config_via(&sb, &proxy, &o, &targets);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let first = settled(&proxy);
    assert!(
        !writes(&proxy.requests()).is_empty(),
        "the first registration writes"
    );

    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("registered 17 of 17 (0 failed)"), "{text}");
    let second = &since(&proxy, first);
    assert_eq!(writes(second), Vec::<String>::new(), "unchanged: no writes");
    // The two reads, this owner's hosts and services, and nothing else.
    let mut read: Vec<&str> = second.iter().map(|r| r.path.as_str()).collect();
    read.sort();
    assert_eq!(
        read,
        ["/v1/objects/hosts", "/v1/objects/services"],
        "{second:#?}"
    );
}

#[test]
fn a_changed_target_writes_only_its_own_objects() {
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("one");
    let proxy = proxy(&icinga, |_| None);
    let sb = Sandbox::new();
    let both = |name: &str, port: u16| {
        format!("[[targets.active.check_http]]\nhost = \"{o}\"\nname = \"{name}\"\nport = {port}\n")
    };
    icinga.config_via(
        &sb,
        &proxy,
        &o,
        &format!("{}{}{}", both("a", 8081), both("b", 8081), both("c", 8081)),
    );
    sb.cmd(&["register"]).assert().success();
    let first = settled(&proxy);

    icinga.config_via(
        &sb,
        &proxy,
        &o,
        &format!("{}{}{}", both("a", 8081), both("b", 8089), both("c", 8081)),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("registered 6 of 6 (0 failed)"), "{text}");
    assert_eq!(
        writes(&since(&proxy, first)),
        [
            format!("POST services {o}!b (IPv4)"),
            format!("POST services {o}!b (IPv6)"),
        ]
    );
    for family in ["IPv4", "IPv6"] {
        let vars = &icinga.service(&format!("{o}!b ({family})")).unwrap()["vars"];
        assert_eq!(vars["http_port"], 8089, "{vars:#}");
        let other = &icinga.service(&format!("{o}!a ({family})")).unwrap()["vars"];
        assert_eq!(other["http_port"], 8081, "{other:#}");
    }
}

#[test]
fn a_removed_target_deletes_only_its_objects() {
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("drop");
    let other_host = format!("{o}-other");
    let proxy = proxy(&icinga, |_| None);
    let sb = Sandbox::new();
    let (a, b, c) = (
        http_target(&o, "a", 8081),
        http_target(&o, "b", 8081),
        http_target(&other_host, "c", 8081),
    );
    icinga.config_via(&sb, &proxy, &o, &format!("{a}{b}{c}"));
    sb.cmd(&["register"]).assert().success();
    let first = settled(&proxy);

    // b leaves a host that keeps a; c leaves its host empty.
    icinga.config_via(&sb, &proxy, &o, &a);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        writes(&since(&proxy, first)),
        [
            format!("DELETE hosts {other_host}"),
            format!("DELETE services {o}!b (IPv4)"),
            format!("DELETE services {other_host}!c (IPv4)"),
        ]
    );
    assert!(icinga.service(&format!("{o}!a (IPv4)")).is_some());
    assert!(icinga.service(&format!("{o}!b (IPv4)")).is_none());
    assert!(icinga.service(&format!("{other_host}!c (IPv4)")).is_none());
}

#[test]
fn when_reading_the_objects_fails_every_object_is_written() {
    // A failed read (here a 503 for both) does not stop registering: every object is written
    // as without the read, and a full register lists this owner's objects again to prune.
    let Some(icinga) = Icinga::get() else { return };
    let o = unique("noread");
    let reads_to_fail = Arc::new(AtomicUsize::new(0));
    let failing = reads_to_fail.clone();
    let proxy = proxy(&icinga, move |r| {
        let fail = r.method == "GET"
            && failing
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        fail.then(|| Reply::Status(503, r#"{"error":503,"status":"busy"}"#.into()))
    });
    let sb = Sandbox::new();
    let (a, b) = (http_target(&o, "a", 8081), http_target(&o, "b", 8081));
    icinga.config_via(&sb, &proxy, &o, &format!("{a}{b}"));
    sb.cmd(&["register"]).assert().success();
    let first = settled(&proxy);

    icinga.config_via(
        &sb,
        &proxy,
        &o,
        &format!("{a}{}", http_target(&o, "b", 8089)),
    );
    reads_to_fail.store(2, Ordering::SeqCst);
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("writing every object instead"), "{text}");
    let written = writes(&since(&proxy, first));
    assert_eq!(
        written,
        [
            format!("POST hosts {o}"),
            format!("POST services {o}!a (IPv4)"),
            format!("POST services {o}!b (IPv4)"),
            format!("PUT hosts {o}"),
            format!("PUT services {o}!a (IPv4)"),
            format!("PUT services {o}!b (IPv4)"),
        ]
    );
    let gets = since(&proxy, first)
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(
        gets, 4,
        "two failed reads, then the two listings for pruning"
    );
    let vars = &icinga.service(&format!("{o}!b (IPv4)")).unwrap()["vars"];
    assert_eq!(vars["http_port"], 8089, "{vars:#}");
}

/// `failureThreshold = 3` is the passive service's `max_check_attempts`: on the real Icinga2
/// the first and second CRITICAL results in a row are SOFT states, the third is HARD, and a
/// Notification object on the service sends only then (its `notification_number` stays 0
/// until the HARD state).
#[test]
fn failure_threshold_is_soft_until_the_third_and_only_hard_notifies() {
    let Some(icinga) = Icinga::get() else { return };
    let host = unique("threshold");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &host,
        &format!(
            "[[targets.passive]]\nhost = \"{host}\"\nname = \"backup\"\nfailureThreshold = 3\n"
        ),
    );
    sb.cmd(&["register"]).assert().success();
    let service = format!("{host}!backup");
    assert_eq!(
        icinga.service(&service).unwrap()["max_check_attempts"].as_f64(),
        Some(3.0)
    );
    // A user and a command that only exits 0: what counts is whether Icinga2 sends.
    let put = |path: &str, attrs: Value| {
        let body = serde_json::json!({ "attrs": attrs }).to_string();
        let (code, doc) = icinga.api("PUT", path, Some(&body));
        assert_eq!(code, 200, "{path}: {doc}");
    };
    put(
        &format!("/v1/objects/users/{host}-admin"),
        serde_json::json!({}),
    );
    put(
        &format!("/v1/objects/notificationcommands/{host}-true"),
        serde_json::json!({ "command": ["/bin/true"] }),
    );
    let notification = format!("{host}!backup!{host}-mail");
    put(
        &format!("/v1/objects/notifications/{}", encode(&notification)),
        serde_json::json!({
            "host_name": host, "service_name": "backup", "command": format!("{host}-true"),
            "users": [format!("{host}-admin")], "interval": 0,
        }),
    );
    let sent = || {
        let (code, doc) = icinga.api(
            "GET",
            &format!("/v1/objects/notifications/{}", encode(&notification)),
            None,
        );
        assert_eq!(code, 200, "{doc}");
        doc["results"][0]["attrs"]["notification_number"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let submit = |text: &str, state: &str| {
        let out = sb
            .cmd(&["submit", &format!("{host}-backup"), text, "", state])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    };
    submit("fine", "0");
    icinga.wait_for(&service, Duration::from_secs(10), |a| output(a) == "fine");
    // state_type 0 is SOFT, 1 HARD.
    for (n, soft) in [(1, true), (2, true), (3, false)] {
        let text = format!("broken {n}");
        submit(&text, "2");
        let attrs = icinga.wait_for(&service, Duration::from_secs(10), |a| output(a) == text);
        assert_eq!(state(&attrs), Some(2), "{attrs:#}");
        assert_eq!(
            attrs["check_attempt"].as_f64(),
            Some(if soft { n as f64 } else { 1.0 }),
            "result {n}: {attrs:#}"
        );
        assert_eq!(
            attrs["state_type"].as_f64(),
            Some(if soft { 0.0 } else { 1.0 }),
            "result {n}: {attrs:#}"
        );
        if soft {
            std::thread::sleep(Duration::from_millis(500));
            assert_eq!(sent(), 0.0, "no notification on SOFT result {n}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while sent() < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the HARD state sent no notification"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Clean up the objects this test made beside the agent's.
    for path in [
        format!("/v1/objects/notifications/{}", encode(&notification)),
        format!("/v1/objects/users/{host}-admin"),
        format!("/v1/objects/notificationcommands/{host}-true?cascade=1"),
    ] {
        icinga.api("DELETE", &path, None);
    }
}

/// `failureThreshold = 3` on an active target is its services' `max_check_attempts`: on the
/// real Icinga2, after an OK, the first and second CRITICAL results in a row are SOFT states
/// (retried every minute, `retry_interval`), the third is HARD. (From a new service's pending
/// state Icinga2 counts the pending one as the first attempt.)
#[test]
fn an_active_failure_threshold_is_soft_until_the_third_check() {
    let Some(icinga) = Icinga::get() else { return };
    let web = TestServer::start();
    web.reply(|_| Reply::Status(200, "<html>hello</html>".into()));
    let o = unique("active-threshold");
    let sb = Sandbox::new();
    icinga.config(
        &sb,
        &o,
        &format!(
            "[[targets.active.check_http]]\nhost = \"127.0.0.1\"\nname = \"{o}\"\nport = {}\ncontains = \"hello\"\nipv6 = false\nfailureThreshold = 3\n",
            web.addr.port()
        ),
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let service = format!("127.0.0.1!{o} (IPv4)");
    let attrs = icinga.service(&service).expect("registered");
    assert_eq!(attrs["max_check_attempts"].as_f64(), Some(3.0), "{attrs:#}");
    assert_eq!(attrs["retry_interval"].as_f64(), Some(60.0), "{attrs:#}");
    let check = |last: f64| {
        icinga.check_now("127.0.0.1", &format!("{o} (IPv4)"));
        icinga.wait_for(&service, Duration::from_secs(30), |a| {
            a["last_check"].as_f64().unwrap_or(0.0) > last
        })
    };
    let mut a = check(0.0);
    if state(&a) != Some(0) {
        a = icinga.wait_for(&service, Duration::from_secs(30), |a| state(a) == Some(0));
    }
    web.reply(|_| Reply::Status(200, "<html>goodbye</html>".into()));
    // state_type 0 is SOFT, 1 HARD; check_attempt counts the SOFT results.
    for (n, soft) in [(1, true), (2, true), (3, false)] {
        a = check(a["last_check"].as_f64().unwrap());
        assert_eq!(state(&a), Some(2), "check {n}: {a:#}");
        assert_eq!(
            a["state_type"].as_f64(),
            Some(if soft { 0.0 } else { 1.0 }),
            "check {n}: {a:#}"
        );
        if soft {
            assert_eq!(
                a["check_attempt"].as_f64(),
                Some(n as f64),
                "check {n}: {a:#}"
            );
        }
    }
}
