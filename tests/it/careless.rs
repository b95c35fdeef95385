//! Careless input (issue 23): values that cannot work are refused at `check` and at load,
//! naming the key and its line; a config path that is no regular file is refused without
//! blocking; `status --check` says UNKNOWN when it cannot check. Nothing is sent meanwhile.

use crate::util::{output_text, Sandbox, TestServer};
use std::time::Duration;

/// Runs a command that must end by itself (a blocked open would show as a kill).
fn run(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String, String) {
    let out = sb
        .cmd(args)
        .timeout(Duration::from_secs(15))
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.code().is_some(), "killed (blocked?): {text}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        text,
    )
}

/// The head of every config below: a server that records what it gets, a key, the sandbox's
/// state directory.
fn head(sb: &Sandbox, server: &TestServer) -> String {
    let key = sb.write("key", "k");
    format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\n",
        server.url(),
        key.display()
    )
}

/// `check`, `status` and `submit` (a command about one target, which may read the config
/// index) each refuse the config with exit 2 and a message holding `want` with the file
/// name; nothing reaches the server.
fn refused_everywhere(body: &str, want: &str) {
    let server = TestServer::start();
    let sb = Sandbox::new();
    // Line 1 and 2 are the head; `{line}` in `want` is the config's own line numbering.
    sb.config(&format!("{}{body}", head(&sb, &server)));
    let file = sb.path("config.toml").display().to_string();
    for args in [
        &["check"][..],
        &["status"],
        &["submit", "h-n", "out", "", "0"],
        &["flush"],
    ] {
        let (code, _, text) = run(&sb, args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(
            text.contains(&format!("{file}:")) && text.contains(want),
            "{args:?}: want {want:?}: {text}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

const PASSIVE: &str = "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n";

#[test]
fn delivery_and_queue_settings_that_cannot_work_are_refused_naming_the_key() {
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n[delivery]\ntimeout = 0\n{PASSIVE}"),
        "config.toml:5: delivery.timeout = 0 is out of range: from 1 to 3600 seconds (0 leaves \
         a request no time: every result would be sent again on every pass)",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n[delivery]\nattempts = 0\n{PASSIVE}"),
        "config.toml:5: delivery.attempts = 0 is out of range: from 1 to 100 attempts",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\ndelivery = {{ concurrency = 0 }}\n{PASSIVE}"),
        "config.toml:4: delivery.concurrency = 0 is out of range: at least 1 requests",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n[queue]\nmaxCount = 0\n{PASSIVE}"),
        "config.toml:5: queue.maxCount = 0 is out of range: at least 1 results",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n[queue]\nmaxBytes = 100000\n{PASSIVE}"),
        "config.toml:5: queue.maxBytes = 100000 is out of range: at least 1048576 bytes (the \
         largest result",
    );
}

#[test]
fn durations_are_bounded_where_the_config_is_read() {
    // 2·10^17 minutes passed `check` and overflowed the daemon's clock.
    refused_everywhere(
        &format!(
            "stateDir = \"{{state}}\"\n{PASSIVE}timers = {{ check = 200000000000000000, timeout = 300000000000000000 }}\n"
        ),
        "config.toml:7: target h-n: timers.check = 200000000000000000 is out of range: from 1 \
         to 525600 minutes",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n{PASSIVE}scriptTimeout = 0\n"),
        "config.toml:7: target h-n: scriptTimeout = 0 is out of range: from 1 to 31622400 seconds",
    );
    refused_everywhere(
        &format!(
            "stateDir = \"{{state}}\"\n{PASSIVE}[[targets.active.check_ssh]]\nhost = \"h\"\ntimeout = 0\n"
        ),
        "config.toml:7: target h-SSH (check_ssh): timeout = 0 is out of range: from 1 to \
         4294967295 seconds",
    );
}

#[test]
fn a_state_dir_or_textfile_that_is_no_absolute_path_is_refused() {
    refused_everywhere(
        &format!("stateDir = \"\"\n{PASSIVE}"),
        "config.toml:3: stateDir = \"\" is empty: the state would land below the working \
         directory, / under systemd",
    );
    refused_everywhere(
        &format!("stateDir = \"var/state\"\n{PASSIVE}"),
        "config.toml:3: stateDir = \"var/state\" is not an absolute path",
    );
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n[prometheus]\ntextfile = \"\"\n{PASSIVE}"),
        "config.toml:5: prometheus.textfile = \"\" is empty",
    );
}

#[test]
fn a_missing_icinga2_ca_file_is_refused() {
    refused_everywhere(
        &format!(
            "stateDir = \"{{state}}\"\nbackend = \"icinga2\"\n[icinga2]\nurl = \"https://127.0.0.1:1\"\n\
             user = \"u\"\npasswordFile = \"{{dir}}/key\"\ncaFile = \"{{dir}}/no-such-ca.crt\"\n{PASSIVE}"
        ),
        "no-such-ca.crt cannot be read: No such file or directory (os error 2); it must be the \
         CA certificate (PEM) that signed the Icinga2 API certificate",
    );
}

#[test]
fn ids_too_long_or_that_read_differently_are_refused() {
    let long = "x".repeat(199);
    refused_everywhere(
        &format!("stateDir = \"{{state}}\"\n{PASSIVE}[[targets.passive]]\nhost = \"h\"\nname = \"{long}\"\n"),
        &format!(
            "config.toml:7: target h-{}…: the id is 201 characters long (escaped), more than the \
             200 a unit name can take",
            &long[..38]
        ),
    );
    for (escape, kind) in [
        ("\\u202E", "a bidirectional control character (U+202E)"),
        ("\\u2028", "a line or paragraph separator (U+2028)"),
        ("\\u0085", "a line or paragraph separator (U+0085)"),
    ] {
        refused_everywhere(
            &format!(
                "stateDir = \"{{state}}\"\n{PASSIVE}[[targets.passive]]\nhost = \"h\"\nname = \"a{escape}b\"\n"
            ),
            &format!("config.toml:7: target h-a{}b (passive): name contains {kind}", {
                let c = char::from_u32(u32::from_str_radix(&escape[2..], 16).unwrap()).unwrap();
                c.escape_default().to_string()
            }),
        );
    }
}

#[test]
fn an_id_too_long_for_healthchecks_is_refused_only_with_healthchecks() {
    let name = "y".repeat(99);
    let target = format!("[[targets.passive]]\nhost = \"h\"\nname = \"{name}\"\n");
    refused_everywhere(
        &format!(
            "stateDir = \"{{state}}\"\nbackends = [\"nixcloud\", \"healthchecks\"]\n\
             [healthchecks]\napiKeyFile = \"{{dir}}/key\"\n{PASSIVE}{target}"
        ),
        &format!(
            "backend \"healthchecks\" names each check by target id, and takes at most 100 \
             characters; these ids are longer: h-{name} (line 10, 101 characters)"
        ),
    );
    let sb = Sandbox::new();
    sb.config(&format!(
        "stateDir = \"{{state}}\"\nbackend = \"local\"\n{target}"
    ));
    let (code, _, text) = run(&sb, &["check"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn an_empty_config_is_a_warning_that_nothing_is_monitored() {
    let sb = Sandbox::new();
    sb.config("");
    let (code, _, text) = run(&sb, &["check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "warning: {} has no targets: nothing is registered or monitored",
            sb.path("config.toml").display()
        )),
        "{text}"
    );
}

/// A FIFO where the config belongs blocked every command in `open()`.
#[test]
fn a_config_path_that_is_no_regular_file_is_refused_without_blocking() {
    let sb = Sandbox::new();
    let fifo = sb.path("config.toml");
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }
    let want = format!(
        "could not read config file {}: it is a FIFO, not a regular file",
        fifo.display()
    );
    for args in [
        &["check"][..],
        &["status"],
        &["flush"],
        &["submit", "h-n", "out", "", "0"],
    ] {
        let (code, _, text) = run(&sb, args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains(&want), "{args:?}: {text}");
    }
    let (code, stdout, text) = run(&sb, &["status", "--check"]);
    assert_eq!(code, Some(3), "{text}");
    assert_eq!(stdout, format!("UNKNOWN: {want}\n"), "{text}");

    // A directory is refused alike.
    std::fs::remove_file(&fifo).unwrap();
    std::fs::create_dir(&fifo).unwrap();
    let (code, _, text) = run(&sb, &["check"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("it is a directory, not a regular file"),
        "{text}"
    );
}

/// A monitoring system reads exit 2 as CRITICAL: a check that cannot be made is UNKNOWN.
#[test]
fn status_check_is_unknown_when_the_config_is_missing_or_broken() {
    let sb = Sandbox::new();
    let (code, stdout, text) = run(&sb, &["status", "--check"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        stdout.starts_with(&format!(
            "UNKNOWN: could not read config file {}: ",
            sb.path("config.toml").display()
        )),
        "{text}"
    );
    sb.config("stateDir = \"{state}\"\n[delivery]\ntimeout = 0\n");
    let (code, stdout, text) = run(&sb, &["status", "--check"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        stdout.starts_with("UNKNOWN: ") && stdout.contains("delivery.timeout = 0 is out of range"),
        "{text}"
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line for the monitoring system: {text}"
    );
    // And a good config is still OK.
    sb.config("stateDir = \"{state}\"\nbackend = \"local\"\n");
    let (code, stdout, text) = run(&sb, &["status", "--check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(stdout.starts_with("OK: 0 results queued"), "{text}");
}

/// A 50 MB key went out as a 50 MB header: a key file whose first line is longer than any key
/// is warned about by `check` and never sent; the result stays queued.
#[test]
fn an_api_key_longer_than_any_key_is_never_sent() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", &"k".repeat(5_000_000));
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n{PASSIVE}",
        server.url(),
        key.display()
    ));
    let want = format!(
        "secret file {} holds a first line longer than 4096 bytes (5000000 bytes in all), which \
         is no key or password; refusing to send it",
        key.display()
    );
    let (code, _, text) = run(&sb, &["check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "warning: the key in file {} cannot be read: {want}",
            key.display()
        )),
        "{text}"
    );
    let (code, _, text) = run(&sb, &["submit", "h-n", "out", "", "0"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains(&want), "{text}");
    assert!(
        server.requests().is_empty(),
        "{:?}",
        server.requests().len()
    );
    assert_eq!(sb.files_in("queue").len(), 1, "kept queued");
}
