//! Edge cases of the input: odd ids and names, secret files that are not regular files, URLs
//! that cannot be an API base, and states outside 0..3. Each must be refused with a message that
//! says what is wrong, and nothing may be sent.

use crate::util::{output_text, Sandbox, TestServer};

/// Runs `check` on a config (below a first `stateDir` line, so its line 1 is line 2) and expects a config error (exit 2) whose stderr holds `want`.
fn check_refuses(config: &str, want: &str) {
    let sb = Sandbox::new();
    sb.config(&format!("stateDir = \"{{state}}\"\n{config}"));
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = sb.path("config.toml").display().to_string();
    assert!(stderr.contains(&file), "the file is named: {text}");
    assert!(stderr.contains(want), "want {want:?}: {text}");
}

#[test]
fn check_refuses_an_active_target_with_an_empty_host() {
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_http]]\nhost = \"\"\n",
        "config.toml:3: target -HTTP (check_http): host is empty",
    );
}

#[test]
fn check_refuses_a_passive_target_with_an_empty_or_missing_name() {
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\nname = \"\"\n",
        "config.toml:3: passive target for host \"h\" has an empty name (name is required)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\n",
        "config.toml:3: passive target for host \"h\" has no name",
    );
}

#[test]
fn check_refuses_control_characters_in_host_and_name() {
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_ssh]]\nhost = \"a\\nb\"\n",
        "config.toml:3: target a\\nb-SSH (check_ssh): host contains a control character (U+000A)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\nname = \"x\\ty\"\n",
        "config.toml:3: target h-x\\ty (passive): name contains a control character (U+0009)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\\u007f\"\nname = \"n\"\n",
        "host contains a control character (U+007F)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_ping]]\nhost = \"h\"\nname = \"\\u0000\"\n",
        "name contains a control character (U+0000)",
    );
}

/// Makes a FIFO (nothing ever writes to it: opening it for reading the usual way blocks).
fn mkfifo(path: &std::path::Path) -> &std::path::Path {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

/// A passive target `h-n` on the nixcloud backend at `server`, key settings as given.
fn nixcloud_config(sb: &Sandbox, server: &TestServer, keys: &str, target_keys: &str) {
    sb.config(&format!(
        "stateDir = \"{{state}}\"\napiHost = \"{}\"\ndelivery = {{ attempts = 1 }}\n{keys}\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n{target_keys}\n",
        server.url()
    ));
}

/// Runs the agent with a short timeout: a blocked read shows as a killed process.
fn run_quickly(mut cmd: assert_cmd::Command) -> (std::process::Output, String) {
    let out = cmd
        .timeout(std::time::Duration::from_secs(15))
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.code().is_some(), "killed (blocked?): {text}");
    (out, text)
}

#[test]
fn check_reports_a_fifo_key_file_without_blocking() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let fifo = mkfifo(&sb.path("key")).display().to_string();
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{fifo}\""), "");
    let (out, text) = run_quickly(sb.cmd(&["check"]));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "warning: the key in file {fifo} cannot be read: secret file {fifo} is not a regular \
             file (it is a FIFO)"
        )),
        "{text}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn submit_and_register_with_a_fifo_key_file_do_not_block_and_send_nothing() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let fifo = mkfifo(&sb.path("key")).display().to_string();
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{fifo}\""), "");
    let want = format!("secret file {fifo} is not a regular file (it is a FIFO)");
    let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", "0"]));
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains(&want), "{text}");
    let (out, text) = run_quickly(sb.cmd(&["register"]));
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&want), "{text}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn a_targets_own_fifo_key_file_is_refused() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let good = sb.write("key", "k\n").display().to_string();
    let fifo = mkfifo(&sb.path("target-key")).display().to_string();
    nixcloud_config(
        &sb,
        &server,
        &format!("apiKeyFile = \"{good}\""),
        &format!("apiKeyFile = \"{fifo}\""),
    );
    let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", "0"]));
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!(
            "secret file {fifo} is not a regular file (it is a FIFO)"
        )),
        "{text}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_fifo_in_the_credentials_directory_is_refused() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let good = sb.write("key", "k\n").display().to_string();
    std::fs::create_dir(sb.path("creds")).unwrap();
    let fifo = mkfifo(&sb.path("creds/api-key")).display().to_string();
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{good}\""), "");
    let mut cmd = sb.cmd(&["submit", "h-n", "out", "", "0"]);
    cmd.env("CREDENTIALS_DIRECTORY", sb.path("creds"));
    let (out, text) = run_quickly(cmd);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!(
            "secret file {fifo} is not a regular file (it is a FIFO)"
        )),
        "{text}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_fifo_icinga2_password_file_is_refused() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let fifo = mkfifo(&sb.path("password")).display().to_string();
    sb.config(&format!(
        "stateDir = \"{{state}}\"\nbackend = \"icinga2\"\ndelivery = {{ attempts = 1 }}\n\
         [icinga2]\nurl = \"{}\"\nuser = \"u\"\npasswordFile = \"{fifo}\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
        server.url()
    ));
    let want = format!("secret file {fifo} is not a regular file (it is a FIFO)");
    let (out, text) = run_quickly(sb.cmd(&["check"]));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "warning: icinga2.passwordFile in file {fifo} cannot be read: {want}"
        )),
        "{text}"
    );
    let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", "0"]));
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&want), "{text}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn check_refuses_an_api_host_that_cannot_be_an_api_base() {
    for (url, want) in [
        (
            "ftp://status.example.org",
            "the scheme must be https or http, not \"ftp\"",
        ),
        (
            "https://status.example.org/api?x=1",
            "has a query or fragment",
        ),
        ("https://status.example.org/#x", "has a query or fragment"),
        ("https:///api", "has no host"),
        ("status.example.org", "is not a URL"),
    ] {
        check_refuses(
            &format!("backend = \"local\"\napiHost = \"{url}\"\n"),
            &format!("config.toml:3: apiHost {url:?}: {want}"),
        );
    }
}

#[test]
fn check_refuses_credentials_in_the_api_host_without_repeating_them() {
    check_refuses(
        "backend = \"local\"\napiHost = \"https://user:hunter2@status.example.org\"\n",
        "config.toml:3: apiHost \"https://<redacted>@status.example.org\": has a user or password \
         part (user@ or user:password@); credentials go in apiKeyFile",
    );
    let sb = Sandbox::new();
    sb.config("backend = \"local\"\napiHost = \"https://user:hunter2@status.example.org\"\n");
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn check_refuses_a_bad_icinga2_url_with_its_line() {
    check_refuses(
        "backend = \"icinga2\"\n[icinga2]\nuser = \"u\"\npasswordFile = \"/p\"\n\
         url = \"https://root:pw@icinga:5665\"\n",
        "config.toml:6: icinga2.url \"https://<redacted>@icinga:5665\": has a user or password part \
         (user@ or user:password@); credentials go in icinga2.user and icinga2.passwordFile",
    );
    check_refuses(
        "backend = \"icinga2\"\n[icinga2]\nurl = \"icinga:5665\"\nuser = \"u\"\npasswordFile = \"/p\"\n",
        "config.toml:4: icinga2.url \"icinga:5665\": is not a URL",
    );
}

#[test]
fn submit_with_a_bad_api_host_sends_nothing() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", "k\n").display().to_string();
    let url = format!("{}/?token=x", server.url());
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{key}\""), "");
    sb.edit_config(&format!("\"{}\"", server.url()), &format!("\"{url}\""));
    let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", "0"]));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "config.toml:2: apiHost {url:?}: has a query or fragment"
        )),
        "{text}"
    );
    assert!(server.requests().is_empty());
    assert!(sb.files_in("queue").is_empty(), "nothing is queued either");
}

#[test]
fn submit_refuses_states_other_than_0_to_3_and_sends_nothing() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", "k\n").display().to_string();
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{key}\""), "");
    for state in ["00", " 1", "4", "7", "-1", "ok", "Warning", ""] {
        let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", state]));
        assert_eq!(out.status.code(), Some(2), "{state:?}: {text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("invalid value '{state}' for '<STATE>'")),
            "{state:?}: {text}"
        );
        assert!(
            stderr.contains(&format!(
                "state {state} is not one of 0 (OK), 1 (WARNING), 2 (CRITICAL), 3 (UNKNOWN): give \
                 exactly the digit or the upper-case name"
            )),
            "{state:?}: {text}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn submit_takes_state_names_and_digits() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", "k\n").display().to_string();
    nixcloud_config(&sb, &server, &format!("apiKeyFile = \"{key}\""), "");
    let states = [
        ("OK", 0),
        ("WARNING", 1),
        ("CRITICAL", 2),
        ("UNKNOWN", 3),
        ("0", 0),
        ("3", 3),
    ];
    for (state, _) in states {
        let (out, text) = run_quickly(sb.cmd(&["submit", "h-n", "out", "", state]));
        assert_eq!(out.status.code(), Some(0), "{state:?}: {text}");
    }
    let sent: Vec<serde_json::Value> = server
        .requests_to("/api/services/results")
        .iter()
        .map(|r| r.json()["state"].clone())
        .collect();
    let want: Vec<serde_json::Value> = states.iter().map(|(_, n)| (*n).into()).collect();
    assert_eq!(sent, want);
}

/// A settled config (older than 2 s) is indexed by the first one-target command; the next reads
/// its target from the index, and an edit of the file is seen at once (the index is not used).
#[test]
fn one_target_commands_use_the_config_index_until_the_file_changes() {
    let sb = crate::util::Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n\
         [[targets.passive]]\nhost = \"a\"\nname = \"one\"\n\
         [[targets.passive]]\nhost = \"b\"\nname = \"two\"\n",
    );
    let settle = |sb: &crate::util::Sandbox| {
        let status = std::process::Command::new("touch")
            .args(["-d", "1 minute ago"])
            .arg(sb.path("config.toml"))
            .status()
            .unwrap();
        assert!(status.success());
        // The change time cannot be set back: the index waits until it is 2 s old too.
        std::thread::sleep(std::time::Duration::from_millis(2100));
    };
    settle(&sb);
    let submit = |args: &[&str]| {
        let out = sb.cmd(args).output().unwrap();
        assert!(out.status.success(), "{}", crate::util::output_text(&out));
        crate::util::output_text(&out)
    };
    // The first call makes the state directory, the second indexes into it.
    for _ in 0..2 {
        let first = submit(&["-vv", "submit", "a-one", "x", "", "0"]);
        assert!(!first.contains("read from the config index"), "{first}");
    }
    let index = sb.state_dir().join(".config-index");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&index).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let second = submit(&["-vv", "submit", "b-two", "y", "", "0"]);
    assert!(
        second.contains("target b-two read from the config index"),
        "{second}"
    );
    // An edit (same length: only the identity tells) makes the next call read the file.
    sb.edit_config("name = \"two\"", "name = \"owt\"");
    settle(&sb);
    let out = sb.cmd(&["submit", "b-two", "z", "", "0"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the stale index still knew b-two: {}",
        crate::util::output_text(&out)
    );
    // That full load indexed the edited file.
    let third = submit(&["-vv", "submit", "b-owt", "z", "", "0"]);
    assert!(
        third.contains("target b-owt read from the config index"),
        "{third}"
    );
    let results = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 4);
}
