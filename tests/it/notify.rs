//! The `notify` destination end to end: the built agent telling a real SMTP server on
//! 127.0.0.1 (aiosmtpd), through SMTP directly and through Debian's real msmtp as the
//! sendmail; an ntfy stand-in that answers as ntfy's publish API does; webhooks. Every mail
//! is parsed by Python's own MIME parser.

use crate::smtp::{certificate, Mail, Smtp};
use crate::util::{output_text, Reply, Sandbox, TestServer};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// local + notify through one SMTP channel on `port`; `notify` holds extra `[notify]` keys.
fn smtp_config(port: u16, notify: &str) -> String {
    format!(
        "backends = [\"local\", \"notify\"]\nstateDir = \"{{state}}\"\ndelivery = {{ timeout = 3 }}\n\
         [notify]\nwindow = 0\n{notify}\n\
         [notify.channels.relay]\ntype = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         to = [\"admin@example.org\"]\nfrom = \"monitor@web1.example.org\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"backup\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"disk\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"load\"\n"
    )
}

fn submit(sb: &Sandbox, id: &str, output: &str, state: &str) -> std::process::Output {
    sb.cmd(&["submit", id, output, "", state]).output().unwrap()
}

/// Submits and expects exit `code`.
fn submit_ok(sb: &Sandbox, id: &str, output: &str, state: &str, code: i32) -> String {
    let out = submit(sb, id, output, state);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(code), "{text}");
    text
}

/// The relay channel's state for target `id` as if it had first seen the target `minutes` ago
/// and never a result since (the clock cannot be moved for the built binary).
fn first_seen_minutes_ago(sb: &Sandbox, id: &str, minutes: u64) {
    let dir = sb.state_dir().join("notify/relay/targets");
    std::fs::create_dir_all(&dir).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let seen = now_ms - minutes * 60_000;
    std::fs::write(
        dir.join(format!("{id}.json")),
        format!("{{\"first_seen_ms\": {seen}}}"),
    )
    .unwrap();
}

fn subjects(mails: &[Mail]) -> Vec<&str> {
    mails.iter().map(Mail::subject).collect()
}

#[test]
fn a_problem_and_its_recovery_are_mailed_threaded_with_the_headers_machines_expect() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    submit_ok(
        &sb,
        "web1-backup",
        "restic failed: 快乐 is locked\nsecond line",
        "2",
        0,
    );
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(
        subjects(&mails),
        ["[web1] CRITICAL backup: restic failed: 快乐 is locked"]
    );
    let problem = &mails[0];
    for header in ["Date", "Message-ID", "From", "To"] {
        assert!(
            !problem.header(header).is_empty(),
            "{header} missing: {problem:?}"
        );
    }
    assert_eq!(problem.header("Auto-Submitted"), "auto-generated");
    assert_eq!(problem.charset.as_deref(), Some("utf-8"));
    assert!(
        problem
            .body
            .contains("restic failed: 快乐 is locked\nsecond line"),
        "{}",
        problem.body
    );
    assert!(problem.body.contains("CRITICAL since "), "{}", problem.body);
    assert_eq!(
        problem.envelope["to"],
        serde_json::json!(["admin@example.org"])
    );
    assert_eq!(problem.envelope["from"], "monitor@web1.example.org");

    submit_ok(&sb, "web1-backup", "backup done", "0", 0);
    let mails = smtp.wait_for(2, LONG);
    assert_eq!(mails.len(), 2);
    let recovery = &mails[1];
    assert_eq!(recovery.subject(), "[web1] OK backup: backup done");
    let problem_id = problem.header("Message-ID");
    assert_eq!(recovery.header("In-Reply-To"), problem_id);
    assert!(
        recovery.header("References").contains(problem_id),
        "{recovery:?}"
    );
    assert!(
        recovery.body.contains("Before: CRITICAL since "),
        "{}",
        recovery.body
    );
}

#[test]
fn an_ok_result_that_changes_nothing_sends_nothing() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    for _ in 0..3 {
        submit_ok(&sb, "web1-backup", "fine", "0", 0);
    }
    submit_ok(&sb, "web1-backup", "broken", "2", 0);
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(subjects(&mails), ["[web1] CRITICAL backup: broken"]);
}

#[test]
fn a_mail_server_that_is_down_delays_notices_loses_none_and_folds_what_waited() {
    let mut smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    smtp.stop();
    let text = submit_ok(&sb, "web1-backup", "repository locked", "2", 3);
    assert!(
        text.contains("web1-backup (notify-relay): not delivered yet, kept in the queue"),
        "{text}"
    );
    assert!(text.contains("web1-backup (local): delivered"), "{text}");
    submit_ok(&sb, "web1-backup", "backup done", "0", 3);
    let status = sb.cmd(&["status"]).output().unwrap();
    let status = output_text(&status);
    assert!(
        status.contains("queue (notify-relay): 2 waiting"),
        "{status}"
    );
    assert!(status.contains("queue (local): 0 waiting"), "{status}");

    smtp.restart();
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(
        mails.len(),
        1,
        "one notice for what waited: {:?}",
        subjects(&mails)
    );
    let subject = mails[0].subject();
    assert!(
        subject.starts_with("[web1] OK backup: CRITICAL from ") && subject.ends_with(", OK again"),
        "{subject}"
    );
    // Nothing is sent twice.
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    submit_ok(&sb, "web1-backup", "backup done", "0", 0);
    assert_eq!(smtp.wait_for(2, Duration::from_millis(500)).len(), 1);
    let status = output_text(&sb.cmd(&["status"]).output().unwrap());
    assert!(
        status.contains("queue (notify-relay): 0 waiting"),
        "{status}"
    );
}

#[test]
fn a_refusal_is_kept_in_rejected_and_shown_a_temporary_failure_waits() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    smtp.mode("tempfail");
    let text = submit_ok(&sb, "web1-backup", "broken", "2", 3);
    assert!(text.contains("451"), "{text}");
    smtp.mode("reject");
    let out = sb.cmd(&["flush"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("554") && text.contains("refused"), "{text}");
    let rejected = sb.files_in("rejected/notify-relay");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let status = output_text(&sb.cmd(&["status"]).output().unwrap());
    assert!(
        status.contains("queue (notify-relay): 0 waiting (0 bytes); 0 spooled; 1 refused"),
        "{status}"
    );
    assert!(smtp.mails().is_empty());
}

#[test]
fn a_mail_server_that_hangs_times_out_and_the_notice_waits() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    smtp.mode("hang");
    let text = submit_ok(&sb, "web1-backup", "broken", "2", 3);
    assert!(
        text.contains("timed out") || text.contains("no answer within"),
        "{text}"
    );
    smtp.mode("ok");
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        subjects(&smtp.wait_for(1, LONG)),
        ["[web1] CRITICAL backup: broken"]
    );
}

#[test]
fn changes_within_the_window_wait_and_go_out_together_as_one_digest() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, "").replace("window = 0", "window = 3"));
    submit_ok(&sb, "web1-backup", "backup broken", "2", 0);
    assert_eq!(
        smtp.wait_for(1, LONG).len(),
        1,
        "the first change goes out at once"
    );
    submit_ok(&sb, "web1-disk", "/ is 97% full", "2", 0);
    submit_ok(&sb, "web1-load", "load 12", "1", 0);
    assert_eq!(smtp.mails().len(), 1, "the next ones wait for the window");
    assert!(
        sb.state_dir().join("notify/due/relay").exists(),
        "the channel says it is due"
    );
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(2, LONG);
    assert_eq!(mails.len(), 2, "{:?}", subjects(&mails));
    assert_eq!(
        mails[1].subject(),
        "[web1] 2 targets: 1 CRITICAL, 1 WARNING"
    );
    let body = &mails[1].body;
    assert!(body.contains("STATE     TARGET     SINCE"), "{body}");
    assert!(
        body.contains("CRITICAL  web1-disk") && body.contains("/ is 97% full"),
        "{body}"
    );
    assert!(body.contains("WARNING   web1-load"), "{body}");
    assert!(
        !sb.state_dir().join("notify/due/relay").exists(),
        "nothing waits any more"
    );
}

/// A sendmail wrapper around Debian's real msmtp with its own config file, as NixOS's
/// programs.msmtp gives /run/wrappers/bin/sendmail with /etc/msmtprc.
fn msmtp_sendmail(sb: &Sandbox, port: u16) -> String {
    let rc = sb.write(
        "msmtprc",
        &format!(
            "defaults\nauth off\ntls off\nlogfile -\naccount default\nhost 127.0.0.1\nport {port}\n\
             from monitor@web1.example.org\n"
        ),
    );
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let wrapper = sb.write(
        "sendmail",
        &format!("#!/bin/sh\nexec msmtp -C {} \"$@\"\n", rc.display()),
    );
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    wrapper.display().to_string()
}

fn sendmail_config(command: &str) -> String {
    format!(
        "backends = [\"local\", \"notify\"]\nstateDir = \"{{state}}\"\ndelivery = {{ timeout = 5 }}\n\
         [notify]\nwindow = 0\n\
         [notify.channels.mail]\ntype = \"sendmail\"\ncommand = \"{command}\"\n\
         to = [\"admin@example.org\"]\nfrom = \"monitor@web1.example.org\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"backup\"\n"
    )
}

#[test]
fn msmtp_as_the_sendmail_delivers_the_same_mail() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&sendmail_config(&msmtp_sendmail(&sb, smtp.port)));
    submit_ok(&sb, "web1-backup", "restic: 快乐 failed", "2", 0);
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(
        subjects(&mails),
        ["[web1] CRITICAL backup: restic: 快乐 failed"]
    );
    assert_eq!(mails[0].header("Auto-Submitted"), "auto-generated");
    assert_eq!(mails[0].envelope["from"], "monitor@web1.example.org");
    assert_eq!(
        mails[0].envelope["to"],
        serde_json::json!(["admin@example.org"])
    );
}

#[test]
fn a_sendmail_that_fails_keeps_the_notice_with_its_own_words() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    let broken = sb.write(
        "broken-sendmail",
        "#!/bin/sh\ncat >/dev/null\necho 'sendmail: cannot connect to mail.example.org, port 25: Connection refused' >&2\nexit 75\n",
    );
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sb.config(&sendmail_config(&broken.display().to_string()));
    let text = submit_ok(&sb, "web1-backup", "broken", "2", 3);
    assert!(
        text.contains("exited with status 75: sendmail: cannot connect to mail.example.org"),
        "{text}"
    );
    // A sendmail that is not there at all says so, and the notice still waits.
    sb.edit_config(&broken.display().to_string(), "/nonexistent/sendmail");
    let out = sb.cmd(&["flush"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("sendmail /nonexistent/sendmail: could not start it"),
        "{text}"
    );
    // Fixed: the waiting notice goes out.
    sb.edit_config("/nonexistent/sendmail", &msmtp_sendmail(&sb, smtp.port));
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        subjects(&smtp.wait_for(1, LONG)),
        ["[web1] CRITICAL backup: broken"]
    );
}

#[test]
fn starttls_and_a_password_from_a_file() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificate(certs.path());
    let smtp = Smtp::start_with(&[
        "--tls",
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        "--auth",
        "monitor:s3cret",
    ]);
    let sb = Sandbox::new();
    let config = smtp_config(smtp.port, "")
        .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
        .replace(
            "tls = \"none\"",
            &format!(
                "tls = \"starttls\"\ncaFile = \"{}\"\nuser = \"monitor\"\npasswordFile = \"{{dir}}/password\"",
                ca.display()
            ),
        );
    sb.config(&config);
    // The password file is missing: the notice waits, and the message names the file.
    let text = submit_ok(&sb, "web1-backup", "broken", "2", 3);
    assert!(
        text.contains("password") && text.contains("/password"),
        "{text}"
    );
    sb.write("password", "s3cret\n");
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(subjects(&mails), ["[web1] CRITICAL backup: broken"]);
    assert_eq!(mails[0].envelope["tls"], true);
    assert_eq!(mails[0].envelope["login"], "monitor");
    // A wrong password is a refusal (535): kept in rejected/.
    sb.write("password", "wrong\n");
    let text = submit_ok(&sb, "web1-backup", "fine", "0", 4);
    assert!(text.contains("535"), "{text}");
}

#[test]
fn a_silence_holds_notices_and_its_end_sends_what_differs() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    let out = sb
        .cmd(&[
            "silence",
            "web1-backup",
            "--for",
            "2h",
            "--reason",
            "moving the repository",
        ])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("web1-backup: no notices until "), "{text}");
    submit_ok(&sb, "web1-backup", "broken", "2", 0);
    submit_ok(&sb, "web1-disk", "full", "2", 0);
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(
        subjects(&mails),
        ["[web1] CRITICAL disk: full"],
        "only the other target"
    );
    let status = output_text(&sb.cmd(&["status"]).output().unwrap());
    assert!(
        status.contains("silenced until ") && status.contains("(moving the repository)"),
        "{status}"
    );
    let json = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let backup = &doc["targets"][0];
    assert_eq!(backup["id"], "web1-backup");
    assert_eq!(backup["notify"]["silence_reason"], "moving the repository");
    assert_eq!(
        backup["notify"]["channels"]["relay"]["condition"],
        "CRITICAL"
    );
    assert_eq!(
        backup["notify"]["channels"]["relay"]["last_notice"],
        serde_json::Value::Null
    );

    let out = sb.cmd(&["unsilence", "web1-backup"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(2, LONG);
    assert_eq!(subjects(&mails)[1], "[web1] CRITICAL backup: broken");
    // Bad input: a silence of nothing, of no time, of an unknown target.
    for (args, want) in [
        (vec!["silence", "--for", "2h"], "required"),
        (
            vec!["silence", "web1-backup", "--for", "soon"],
            "is not a duration",
        ),
        (
            vec!["silence", "web1-backup", "--for", "0s"],
            "at most a year",
        ),
        (vec!["silence", "nope", "--for", "1h"], "no target \"nope\""),
    ] {
        let out = sb.cmd(&args).output().unwrap();
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(want), "{args:?}: {text}");
    }
}

#[test]
fn a_test_notice_proves_each_channel() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, ""));
    let out = sb.cmd(&["notify", "--test"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("notify-relay: test notice sent"), "{text}");
    let mails = smtp.wait_for(1, LONG);
    assert!(
        mails[0]
            .subject()
            .contains("test notice from nixcloud-monitoring (relay)"),
        "{mails:?}"
    );
    // A channel that cannot be reached: exit 3, naming it.
    drop(smtp);
    let out = sb.cmd(&["notify", "--test"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("notify-relay: the test notice was not sent"),
        "{text}"
    );
}

#[test]
fn a_target_silent_past_its_timeout_gets_a_no_result_notice() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&smtp_config(smtp.port, "").replace(
        "name = \"backup\"\n",
        "name = \"backup\"\ntimers = { check = 60, timeout = 120 }\n",
    ));
    // The channel first saw the target 3 hours ago and it never reported (as after 3 hours
    // of a timer that stopped firing).
    first_seen_minutes_ago(&sb, "web1-backup", 180);
    let out = sb.cmd(&["notify"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(mails.len(), 1, "{:?}", subjects(&mails));
    assert!(
        mails[0]
            .subject()
            .starts_with("[web1] NO RESULT backup: no result since "),
        "{mails:?}"
    );
    assert!(
        mails[0]
            .body
            .contains("one was expected within 120 minutes (timers.timeout)"),
        "{}",
        mails[0].body
    );
    // Told once; a result ends it with a recovery.
    sb.cmd(&["notify"]).assert().success();
    submit_ok(&sb, "web1-backup", "backup done", "0", 0);
    let mails = smtp.wait_for(2, LONG);
    assert_eq!(subjects(&mails)[1], "[web1] OK backup: backup done");
    assert_eq!(mails.len(), 2);
}

#[test]
fn a_4_mb_output_is_cut_keeping_its_end() {
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}[[targets.passive]]\nhost = \"web1\"\nname = \"big\"\nscript = '''\nstatus=\"$(head -c 4000000 /dev/zero | tr '\\0' x) THE END\"\nexit=2\n'''\n",
        smtp_config(smtp.port, "")
    ));
    let out = sb.cmd(&["run", "web1-big"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mails = smtp.wait_for(1, LONG);
    let mail = &mails[0];
    assert!(
        mail.subject().starts_with("[web1] CRITICAL big: xxxx"),
        "{}",
        mail.subject()
    );
    assert!(mail.subject().chars().count() <= 150);
    assert!(mail.body.contains("x THE END\n"), "the end is kept");
    assert!(mail.body.len() < 10_000, "{} bytes", mail.body.len());
}

/// Answers as ntfy's publish API does (docs.ntfy.sh/publish): 200 with the message as JSON;
/// 401 for a wrong token; 429 when told to.
fn ntfy_standin(
    server: &TestServer,
    token: &'static str,
    limited: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    server.reply(move |r| {
        if limited.load(std::sync::atomic::Ordering::SeqCst) {
            return Reply::Status(429, r#"{"code":42901,"http":429,"error":"limit reached: too many requests, please be nice","link":"https://ntfy.sh/docs/publish/#limitations"}"#.into());
        }
        if r.header("authorization") != Some(&format!("Bearer {token}")) {
            return Reply::Status(401, r#"{"code":40101,"http":401,"error":"unauthorized","link":"https://ntfy.sh/docs/publish/#authentication"}"#.into());
        }
        let topic = r.path.trim_start_matches('/');
        Reply::Status(
            200,
            serde_json::json!({
                "id": "sPs71M8A2T", "time": 1_700_000_000u64, "expires": 1_700_043_200u64,
                "event": "message", "topic": topic,
                "title": r.header("title"), "message": String::from_utf8_lossy(&r.body),
            })
            .to_string(),
        )
    });
}

#[test]
fn ntfy_gets_title_priority_tags_and_the_token() {
    let server = TestServer::start();
    let limited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    ntfy_standin(&server, "tk_good", limited.clone());
    let sb = Sandbox::new();
    sb.write("token", "tk_good\n");
    sb.config(&format!(
        "backends = [\"notify\"]\nstateDir = \"{{state}}\"\n[notify]\nwindow = 0\n\
         [notify.channels.phone]\ntype = \"ntfy\"\nurl = \"{}\"\ntopic = \"alerts\"\ntokenFile = \"{{dir}}/token\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"快乐\"\n",
        server.url()
    ));
    submit_ok(&sb, "web1-快乐", "broken", "2", 0);
    let reqs = server.requests_to("/alerts");
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("priority"), Some("5"));
    assert_eq!(r.header("tags"), Some("rotating_light"));
    // "[web1] CRITICAL 快乐: broken" as an RFC 2047 encoded word.
    assert_eq!(
        r.header("title"),
        Some("=?UTF-8?B?W3dlYjFdIENSSVRJQ0FMIOW/q+S5kDogYnJva2Vu?=")
    );
    assert!(String::from_utf8_lossy(&r.body).starts_with("CRITICAL web1-快乐\n"));
    // Rate-limited: the notice waits. A wrong token: refused for good.
    limited.store(true, std::sync::atomic::Ordering::SeqCst);
    let text = submit_ok(&sb, "web1-快乐", "fine", "0", 3);
    assert!(text.contains("429"), "{text}");
    limited.store(false, std::sync::atomic::Ordering::SeqCst);
    sb.write("token", "tk_wrong\n");
    let out = sb.cmd(&["flush"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("401") && text.contains("unauthorized"),
        "{text}"
    );
}

#[test]
fn webhooks_get_the_documented_body_or_a_preset() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    sb.write("gotify-token", "AbCdEf\n");
    sb.write(
        "slack-url",
        &format!("{}/services/T000/B000/XXXXSECRET\n", server.url()),
    );
    sb.config(&format!(
        "backends = [\"notify\"]\nstateDir = \"{{state}}\"\n[notify]\nwindow = 0\n\
         [notify.channels.json]\ntype = \"webhook\"\nurl = \"{url}/hook\"\n\
         [notify.channels.gotify]\ntype = \"webhook\"\nurl = \"{url}/message\"\nformat = \"gotify\"\ntokenFile = \"{{dir}}/gotify-token\"\n\
         [notify.channels.slack]\ntype = \"webhook\"\nurlFile = \"{{dir}}/slack-url\"\nformat = \"slack\"\n\
         [notify.channels.discord]\ntype = \"webhook\"\nurl = \"{url}/api/webhooks/1/x\"\nformat = \"discord\"\n\
         [[targets.passive]]\nhost = \"web1\"\nname = \"backup\"\n",
        url = server.url()
    ));
    submit_ok(&sb, "web1-backup", "restic failed", "2", 0);
    let body = |path: &str| {
        let reqs = server.requests_to(path);
        assert_eq!(reqs.len(), 1, "{path}");
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        (reqs[0].clone(), reqs[0].json())
    };
    let (_, json) = body("/hook");
    assert_eq!(json["version"], 1);
    assert_eq!(json["condition"], "CRITICAL");
    assert_eq!(json["subject"], "[web1] CRITICAL backup: restic failed");
    assert_eq!(json["test"], false);
    let e = &json["events"][0];
    for (key, want) in [
        ("target", "web1-backup"),
        ("host", "web1"),
        ("name", "backup"),
        ("kind", "problem"),
        ("condition", "CRITICAL"),
        ("previous", "OK"),
        ("output", "restic failed"),
    ] {
        assert_eq!(e[key], want, "{key}: {json}");
    }
    for key in [
        "at",
        "since",
        "measured_at",
        "in_a_row",
        "changes",
        "perfdata",
        "duration_ms",
    ] {
        assert!(e.get(key).is_some(), "{key} missing: {e}");
    }
    let (req, gotify) = body("/message");
    assert_eq!(req.header("x-gotify-key"), Some("AbCdEf"));
    assert_eq!(gotify["title"], "[web1] CRITICAL backup: restic failed");
    assert_eq!(gotify["priority"], 8);
    assert!(gotify["message"]
        .as_str()
        .unwrap()
        .contains("restic failed"));
    let (_, slack) = body("/services/T000/B000/XXXXSECRET");
    assert!(slack["text"]
        .as_str()
        .unwrap()
        .starts_with("*[web1] CRITICAL backup: restic failed*\n"));
    let (_, discord) = body("/api/webhooks/1/x");
    assert!(discord["content"]
        .as_str()
        .unwrap()
        .starts_with("**[web1] CRITICAL backup: restic failed**\n"));
    // A webhook that fails: its URL (a secret for Slack) is never in the message.
    server.reply(|_| Reply::Status(500, "oops".into()));
    let text = submit_ok(&sb, "web1-backup", "ok", "0", 3);
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(!text.contains("XXXXSECRET"), "{text}");
}

#[test]
fn check_names_channels_and_unreadable_secrets() {
    let sb = Sandbox::new();
    sb.config(
        "backends = [\"local\", \"notify\"]\nstateDir = \"{state}\"\n\
         [notify.channels.relay]\ntype = \"smtp\"\nhost = \"mail.example.org\"\nuser = \"u\"\npasswordFile = \"{dir}/missing\"\nto = [\"a@example.org\"]\n\
         [notify.channels.phone]\ntype = \"ntfy\"\ntopic = \"t\"\n",
    );
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("backends local, notify"), "{text}");
    assert!(
        text.contains("notify channel phone (ntfy)")
            && text.contains("notify channel relay (smtp)"),
        "{text}"
    );
    assert!(
        text.contains("warning: notify.channels.relay.passwordFile in file ")
            && text.contains("/missing cannot be read"),
        "{text}"
    );
    // A malformed address is a config error, exit 2, naming the channel.
    sb.edit_config("to = [\"a@example.org\"]", "to = [\"a.example.org\"]");
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("notify.channels.relay: \"a.example.org\" is not a mail address"),
        "{text}"
    );
}

#[test]
fn the_daemon_sends_held_notices_when_their_window_ends_and_no_result_notices() {
    use crate::util::KillOnDrop;
    let smtp = Smtp::start();
    let sb = Sandbox::new();
    sb.config(
        &smtp_config(smtp.port, "")
            .replace("window = 0", "window = 3")
            .replace(
                "name = \"load\"\n",
                "name = \"load\"\ntimers = { check = 1, timeout = 2 }\n",
            ),
    );
    // web1-load: the channel first saw it 3 minutes ago, and it never reported.
    first_seen_minutes_ago(&sb, "web1-load", 3);
    let mut cmd = sb.std_cmd(&["daemon"]);
    let _daemon = KillOnDrop::spawn(&mut cmd);
    let mails = smtp.wait_for(1, LONG);
    assert_eq!(
        subjects(&mails)[0..1],
        ["[web1] NO RESULT load: no result since ".to_string()
            + &mails[0].subject()["[web1] NO RESULT load: no result since ".len()..]]
    );
    // By hand, while the daemon runs: the first at once (the window after the no-result
    // notice is over), the next two held and sent together by the daemon.
    std::thread::sleep(Duration::from_secs(3));
    submit_ok(&sb, "web1-backup", "backup broken", "2", 0);
    let mails = smtp.wait_for(2, LONG);
    assert_eq!(subjects(&mails)[1], "[web1] CRITICAL backup: backup broken");
    submit_ok(&sb, "web1-disk", "/ is full", "2", 0);
    submit_ok(&sb, "web1-backup", "backup done", "0", 0);
    let mails = smtp.wait_for(3, LONG);
    assert_eq!(mails.len(), 3, "{:?}", subjects(&mails));
    assert_eq!(mails[2].subject(), "[web1] 2 targets: 1 CRITICAL, 1 OK");
    // The recovery in the digest answers the problem's mail.
    assert_eq!(
        mails[2].header("In-Reply-To"),
        mails[1].header("Message-ID")
    );
}
