//! The Healthchecks backend against `tests/standins/healthchecks.py`, which answers as a real
//! Healthchecks did (docs/healthchecks.md records what was observed and how the two were
//! compared).

use crate::util::{output_text, Sandbox};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const KEY: &str = "KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK";

/// The stand-in on a free loopback port; killed on drop.
struct Standin {
    child: Child,
    port: u16,
    fail_mode: tempfile::NamedTempFile,
}

impl Standin {
    fn start() -> Standin {
        Standin::start_with(&[])
    }

    /// With more arguments for the stand-in (`--ping-body-limit N`).
    fn start_with(args: &[&str]) -> Standin {
        let fail_mode = tempfile::NamedTempFile::new().unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/standins/healthchecks.py"
        );
        let mut child = Command::new("python3")
            .args([script, "--port", "0", "--api-key", KEY, "--fail-mode-file"])
            .arg(fail_mode.path())
            .args(args)
            .stdout(Stdio::piped())
            // Its access log; the tests read what arrived through the API.
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the Healthchecks stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("stand-in said {line:?}"));
        Standin {
            child,
            port,
            fail_mode,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set_mode(&self, mode: &str) {
        std::fs::write(self.fail_mode.path(), mode).unwrap();
    }

    /// GET `path` with the key; the JSON answer.
    fn get(&self, path: &str) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Api-Key: {KEY}\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string()))
    }

    /// POST `body` to `path` with the key (to change a check by hand).
    fn post(&self, path: &str, body: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Api-Key: {KEY}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s.read_to_string(&mut String::new()).unwrap();
    }

    fn checks(&self) -> Vec<Value> {
        self.get("/api/v3/checks/")["checks"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn check(&self, name: &str) -> Value {
        self.checks()
            .into_iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn uuid(&self, name: &str) -> String {
        self.check(name)["uuid"].as_str().unwrap().to_string()
    }

    /// The pings of a check, oldest first: (type, exit status, body size).
    fn pings(&self, name: &str) -> Vec<(String, Option<i64>, u64)> {
        let uuid = self.uuid(name);
        let doc = self.get(&format!("/_standin/checks/{uuid}/pings"));
        doc["pings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["type"].as_str().unwrap().to_string(),
                    p["exitstatus"].as_i64(),
                    p["body_size"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// The body of a check's newest ping, as the real API gives it.
    fn last_body(&self, name: &str) -> String {
        let uuid = self.uuid(name);
        let n = self.check(name)["n_pings"].as_u64().unwrap();
        match self.get(&format!("/api/v3/checks/{uuid}/pings/{n}/body")) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandbox(hc: &Standin, targets: &str) -> Sandbox {
    let sb = Sandbox::new();
    let key = sb.write("hc-key", KEY);
    sb.config(&format!(
        "backends = [\"healthchecks\"]\nstateDir = \"{{state}}\"\n\
         [healthchecks]\nurl = \"{}\"\napiKeyFile = \"{}\"\nowner = \"host-a\"\n\
         [delivery]\nattempts = 1\ntimeout = 5\n{targets}",
        hc.url(),
        key.display()
    ));
    sb
}

const TWO: &str = "[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n\
                   timers = { check = 60, timeout = 180 }\n\
                   [[targets.passive]]\nhost = \"web\"\nname = \"disk\"\n\
                   script = \"status='disk fine'; perfdata='used=42%;80;90'; exit=0\"\n";

#[test]
fn register_creates_one_check_per_passive_target_and_repeating_changes_nothing() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let nightly = hc.check("backup-nightly");
    assert_eq!(nightly["tags"], "nixcloud-monitoring nixcloud-owner:host-a");
    // timers.check 60 min is the period, the rest of timers.timeout is the grace.
    assert_eq!(nightly["timeout"], 3600);
    assert_eq!(nightly["grace"], 7200);
    assert_eq!(nightly["desc"], "nightly on backup (nixcloud-monitoring)");
    let first: Vec<String> = hc.checks().iter().map(|c| c["uuid"].to_string()).collect();
    assert_eq!(first.len(), 2);
    let out = sb.cmd(&["-v", "register"]).output().unwrap();
    let text = output_text(&out);
    let again: Vec<String> = hc.checks().iter().map(|c| c["uuid"].to_string()).collect();
    assert_eq!(again, first, "the same checks");
    // Unchanged checks are not written again (one listing, no upsert).
    assert_eq!(text.matches("(unchanged)").count(), 2, "{text}");

    // A check changed on the server is put back, and only that one is written.
    let uuid = hc.uuid("backup-nightly");
    hc.post(
        &format!("/api/v3/checks/{uuid}"),
        r#"{"desc": "edited by hand"}"#,
    );
    let out = sb.cmd(&["-v", "register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(text.matches("(unchanged)").count(), 1, "{text}");
    assert!(text.contains("registered web-disk (check"), "{text}");
    assert_eq!(
        hc.check("backup-nightly")["desc"],
        "nightly on backup (nixcloud-monitoring)"
    );
}

#[test]
fn removed_targets_lose_their_check_and_other_owners_keep_theirs() {
    let hc = Standin::start();
    let other = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"b\"\nname = \"theirs\"\n",
    );
    other.edit_config("owner = \"host-a\"", "owner = \"host-b\"");
    other.cmd(&["register"]).assert().success();
    let sb = sandbox(&hc, TWO);
    sb.cmd(&["register"]).assert().success();
    assert_eq!(hc.checks().len(), 3);
    sb.edit_config(
        "[[targets.passive]]\nhost = \"backup\"",
        "[[targets.passive]]\nhost = \"backup2\"",
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let names: Vec<String> = hc
        .checks()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["b-theirs", "web-disk", "backup2-nightly"]);
}

#[test]
fn results_are_pings_with_the_exit_status_and_the_output_in_the_body() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    // No register first: the first result registers its target.
    for state in ["0", "1", "2", "3"] {
        let out = sb
            .cmd(&[
                "submit",
                "backup-nightly",
                &format!("state {state}"),
                "rows=5",
                state,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    let exits: Vec<Option<i64>> = hc.pings("backup-nightly").iter().map(|p| p.1).collect();
    assert_eq!(exits, [Some(0), Some(1), Some(2), Some(3)]);
    assert_eq!(hc.last_body("backup-nightly"), "state 3\n| rows=5");
    // WARNING, CRITICAL and UNKNOWN are failures: Healthchecks knows only up and down.
    assert_eq!(hc.check("backup-nightly")["status"], "down");
}

#[test]
fn a_long_output_is_cut_to_the_servers_limit_keeping_its_end() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    let long = format!("{}THE END", "x".repeat(20_000));
    sb.cmd(&["submit", "backup-nightly", &long, "", "2"])
        .assert()
        .success();
    let body = hc.last_body("backup-nightly");
    assert!(body.len() <= 10_000, "{}", body.len());
    assert!(body.ends_with("THE END"), "{}", &body[body.len() - 20..]);
    assert!(body.starts_with("[cut: first "), "{}", &body[..40]);
}

/// The server announces how much of a body it keeps (`Ping-Body-Limit`; its admin may set
/// another than 10,000): the agent cuts to that from the next ping on, keeping the end, and
/// remembers it across runs. The first ping, before the agent heard the limit, is cut to the
/// default (and the server keeps its start).
#[test]
fn the_body_is_cut_to_the_limit_the_server_announces() {
    for limit in [4_000usize, 30_000] {
        let hc = Standin::start_with(&["--ping-body-limit", &limit.to_string()]);
        let sb = sandbox(&hc, TWO);
        let long = format!("{}THE END", "x".repeat(40_000));
        for _ in 0..2 {
            sb.cmd(&["submit", "backup-nightly", &long, "", "2"])
                .assert()
                .success();
        }
        let pings = hc.pings("backup-nightly");
        let sizes: Vec<u64> = pings.iter().map(|p| p.2).collect();
        // The first: the default cut, or what the server kept of it. The second: the
        // server's limit, less what the cut's marker leaves unused.
        let near = |size: u64, max: usize| size <= max as u64 && size > max as u64 - 64;
        assert_eq!(sizes.len(), 2, "{limit}: {sizes:?}");
        assert!(near(sizes[0], limit.min(10_000)), "{limit}: {sizes:?}");
        assert!(near(sizes[1], limit), "{limit}: {sizes:?}");
        let body = hc.last_body("backup-nightly");
        assert!(
            body.ends_with("THE END") && body.starts_with("[cut: first "),
            "{limit}: {}",
            &body[..40]
        );
        assert_eq!(
            std::fs::read_to_string(sb.state_dir().join("healthchecks/ping-body-limit")).unwrap(),
            limit.to_string()
        );
    }
}

/// A script's start signal brings the limit before the result is sent.
#[test]
fn a_scripts_start_signal_brings_the_limit_before_its_result() {
    let hc = Standin::start_with(&["--ping-body-limit", "3000"]);
    let sb = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"web\"\nname = \"long\"\n\
         script = 'status=\"$(printf %05000d 0)THE END\"; exit=0'\n",
    );
    sb.cmd(&["register"]).assert().success();
    let out = sb.cmd(&["run", "web-long"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let pings = hc.pings("web-long");
    let size = pings.last().unwrap().2;
    assert!(size <= 3000 && size > 3000 - 64, "{pings:?}");
    assert!(hc.last_body("web-long").ends_with("THE END"));
}

#[test]
fn a_script_sends_a_start_signal_first() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    sb.cmd(&["register"]).assert().success();
    let out = sb.cmd(&["run", "web-disk"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let pings = hc.pings("web-disk");
    let kinds: Vec<&str> = pings.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(kinds, ["start", "success"]);
    assert_eq!(hc.last_body("web-disk"), "disk fine\n| used=42%;80;90");
}

#[test]
fn an_outage_keeps_results_queued_and_a_check_deleted_on_the_server_comes_back() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    sb.cmd(&["register"]).assert().success();
    hc.set_mode("503");
    let out = sb
        .cmd(&["submit", "backup-nightly", "during", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    hc.set_mode("");
    // Deleted by hand meanwhile: the next delivery creates it again and sends.
    let uuid = hc.uuid("backup-nightly");
    let mut s = TcpStream::connect(("127.0.0.1", hc.port)).unwrap();
    write!(
        s,
        "DELETE /api/v3/checks/{uuid} HTTP/1.0\r\nHost: x\r\nX-Api-Key: {KEY}\r\n\r\n"
    )
    .unwrap();
    s.read_to_string(&mut String::new()).unwrap();
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_ne!(hc.uuid("backup-nightly"), uuid);
    assert_eq!(hc.last_body("backup-nightly"), "during");
}

#[test]
fn a_wrong_key_is_refused_and_named() {
    let hc = Standin::start();
    let sb = sandbox(&hc, TWO);
    sb.write("hc-key", &"W".repeat(32));
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("HTTP 401 Unauthorized: {\"error\": \"wrong api key\"}"),
        "{text}"
    );
    assert!(hc.checks().is_empty());
}

/// `failureThreshold = 3`: the first two non-OK results in a row are `/log` pings, which
/// change nothing on the server; the third is the failure; an OK is a success and starts the
/// count again (the stand-in answers `/log` as the real server does: docs/healthchecks.md).
#[test]
fn results_below_the_failure_threshold_are_log_pings() {
    let hc = Standin::start();
    let sb = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\nfailureThreshold = 3\n",
    );
    let submit = |text: &str, state: &str| {
        let out = sb
            .cmd(&["submit", "backup-nightly", text, "", state])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    };
    submit("fine", "0");
    submit("broken 1", "2");
    assert_eq!(
        hc.check("backup-nightly")["status"],
        "up",
        "a log ping changes no state"
    );
    assert!(hc
        .last_body("backup-nightly")
        .starts_with("CRITICAL (1 of 3 in a row"));
    submit("broken 2", "1");
    assert_eq!(hc.check("backup-nightly")["status"], "up");
    submit("broken 3", "2");
    assert_eq!(
        hc.check("backup-nightly")["status"],
        "down",
        "the third in a row"
    );
    submit("still broken", "2");
    submit("fixed", "0");
    submit("broken again", "2");
    let kinds: Vec<(String, Option<i64>)> = hc
        .pings("backup-nightly")
        .into_iter()
        .map(|(kind, exit, _)| (kind, exit))
        .collect();
    let want = [
        ("success", Some(0)),
        ("log", None),
        ("log", None),
        ("fail", Some(2)),
        ("fail", Some(2)),
        ("success", Some(0)),
        ("log", None),
    ];
    let want: Vec<(String, Option<i64>)> = want.iter().map(|(k, e)| (k.to_string(), *e)).collect();
    assert_eq!(kinds, want);
    assert_eq!(hc.check("backup-nightly")["status"], "up");
}

/// A calendar target's check follows the calendar: its normalized form as the OnCalendar
/// schedule, the zone it names, the grace; switching back to an interval makes it a plain
/// timeout check again.
#[test]
fn a_calendar_target_registers_its_schedule() {
    let hc = Standin::start();
    let sb = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n\
         timers = { calendar = [\"Mon..Fri 03:00 Europe/Berlin\", \"Sat 12:00 Europe/Berlin\"], grace = 30 }\n",
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let check = hc.check("backup-nightly");
    assert_eq!(
        check["schedule"],
        "Mon..Fri *-*-* 03:00:00 Europe/Berlin\nSat *-*-* 12:00:00 Europe/Berlin"
    );
    assert_eq!(check["tz"], "Europe/Berlin");
    assert_eq!(check["grace"], 1800);
    assert!(check.get("timeout").is_none(), "{check}");
    let out = sb.cmd(&["-v", "register"]).output().unwrap();
    assert!(
        output_text(&out).contains("(unchanged)"),
        "{}",
        output_text(&out)
    );
    sb.config(&format!(
        "backends = [\"healthchecks\"]\nstateDir = \"{{state}}\"\n\
         [healthchecks]\nurl = \"{}\"\napiKeyFile = \"{}\"\nowner = \"host-a\"\n\
         [[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n",
        hc.url(),
        sb.path("hc-key").display()
    ));
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(hc.check("backup-nightly")["timeout"], 3600);
}

/// The real server stores a current name for an old zone (US/Eastern as America/New_York,
/// docs/healthchecks.md): the agent learns it from the answer, so the next registration
/// finds the check unchanged instead of writing it again every time.
#[test]
fn a_zone_the_server_renames_is_sent_by_its_name_from_then_on() {
    let hc = Standin::start();
    let sb = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n\
         timers = { calendar = \"03:00 US/Eastern\" }\n",
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let check = hc.check("backup-nightly");
    assert_eq!(check["schedule"], "*-*-* 03:00:00 US/Eastern");
    assert_eq!(check["tz"], "America/New_York");
    let out = sb.cmd(&["-v", "register"]).output().unwrap();
    let text = output_text(&out);
    assert!(text.contains("(unchanged)"), "{text}");
}

/// A zone the server's own time-zone data lacks (it refused Factory) must not keep the
/// target unregistered: its check gets the longest gap as a plain timeout, with a warning
/// naming the target, and the next registration sends that at once.
#[test]
fn a_zone_the_server_refuses_gets_a_plain_timeout() {
    let hc = Standin::start();
    let sb = sandbox(
        &hc,
        "[[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n\
         timers = { calendar = \"03:00 Factory\", grace = 60 }\n",
    );
    let out = sb.cmd(&["register"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("tz is not a valid timezone")
            && text.contains("backup-nightly gets its calendar's longest gap as a plain timeout"),
        "{text}"
    );
    let check = hc.check("backup-nightly");
    assert_eq!(check["timeout"], 86_400, "{check}");
    assert_eq!(check["grace"], 3_600, "{check}");
    assert!(check.get("schedule").is_none(), "{check}");
    let out = sb.cmd(&["-v", "register"]).output().unwrap();
    let text = output_text(&out);
    assert!(text.contains("(unchanged)"), "{text}");
    assert!(!text.contains("tz is not a valid timezone"), "{text}");
}
