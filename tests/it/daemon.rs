//! The daemon under a fake systemd: READY, STATUS, WATCHDOG, delivery, spool, SIGTERM.

use crate::util::{output_text, KillOnDrop, Reply, Sandbox, TestServer};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Collects sd_notify messages until `done` says enough or the deadline passes.
fn collect(sock: &UnixDatagram, within: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !done(&seen) {
        if let Ok(n) = sock.recv(&mut buf) {
            seen.extend(
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .map(str::to_string),
            );
        }
    }
    seen
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The process state letter of `pid` (`R`, `S`, `Z`, …); `None` once it is gone (reaped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S …": the name may hold spaces and parentheses, the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Starts a daemon under [`KillOnDrop`] in a thread of its own, waits for its READY=1 and
/// hands it to `then`, which ends the thread. The daemon's pid.
fn daemon_in_a_thread(sb: &Sandbox, then: fn(KillOnDrop)) -> (u32, std::thread::Result<()>) {
    let sock_path = sb.path("notify.sock");
    let _ = std::fs::remove_file(&sock_path);
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut cmd = sb.std_cmd(&["daemon"]);
    cmd.env("NOTIFY_SOCKET", &sock_path);
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let child = KillOnDrop::spawn(&mut cmd);
        tx.send(child.id()).unwrap();
        let seen = collect(&sock, Duration::from_secs(15), |s| {
            s.iter().any(|l| l == "READY=1")
        });
        assert!(seen.iter().any(|l| l == "READY=1"), "{seen:?}");
        then(child);
    });
    let pid = rx.recv().unwrap();
    (pid, thread.join())
}

/// The guard the daemon tests start their daemons under: a test that fails while its daemon
/// runs leaves none behind, and neither does a test thread that ends without dropping it.
#[test]
fn a_daemon_started_by_a_test_does_not_outlive_it() {
    let sb = Sandbox::new();
    sb.config("backend = \"local\"\nstateDir = \"{state}\"\n[[targets.passive]]\nhost = \"h\"\nname = \"m\"\n");
    // An assertion fails (quietly: no panic message in the test output).
    let (pid, ended) = daemon_in_a_thread(&sb, |_child| std::panic::resume_unwind(Box::new(())));
    assert!(ended.is_err());
    assert_eq!(process_state(pid), None, "killed and reaped by the guard");

    // The guard is lost without running (as when the test binary is killed): the kernel kills
    // the daemon when the thread that started it ends. It stays a zombie until reaped here.
    let (pid, ended) = daemon_in_a_thread(&sb, std::mem::forget);
    assert!(ended.is_ok());
    wait_for(
        Duration::from_secs(10),
        "the kernel kills the daemon",
        || process_state(pid) == Some('Z'),
    );
    let mut status = 0;
    assert_eq!(
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) },
        pid as libc::pid_t
    );
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
}

#[test]
fn daemon_says_ready_status_and_watchdog_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n[[targets.passive]]\nhost = \"h\"\nname = \"tick\"\n\
         script = 'exit=0; status=tick'\n[[targets.active.check_ssh]]\nhost = \"h\"\n",
    );
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut child = KillOnDrop::spawn(
        sb.std_cmd(&["daemon"])
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "200000"),
    );
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l == "READY=1")
            && s.iter().filter(|l| *l == "WATCHDOG=1").count() >= 2
            && s.iter()
                .any(|l| l.starts_with("STATUS=2 targets, 0 queued, last delivery"))
    });
    assert!(seen.iter().any(|l| l == "READY=1"), "{seen:?}");
    assert!(
        seen.iter().filter(|l| *l == "WATCHDOG=1").count() >= 2,
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("STATUS=2 targets, 0 queued, last delivery")),
        "{seen:?}"
    );

    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}");
    let after = collect(&sock, Duration::from_secs(1), |s| {
        s.iter().any(|l| l == "STOPPING=1")
    });
    assert!(after.iter().any(|l| l == "STOPPING=1"), "{after:?}");
    // The script ran and its result was recorded by the local backend.
    let results = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    assert!(results.contains("\"output\":\"tick\""), "{results}");
}

#[test]
fn daemon_registers_runs_scripts_and_delivers_the_backlog_and_the_spool() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "down".into()));
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"job\"\nscript = 'exit=1; status=from-daemon'\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"manual\"\n",
        server.url(),
        key.display()
    ));
    // A backlog from an outage.
    sb.cmd(&["submit", "h-manual", "backlog", "", "0"])
        .assert()
        .code(3);
    server.reply(|_| Reply::Status(200, "{}".into()));
    // The submit's own try (answered 503) is not a delivery.
    let refused = server.requests_to("/api/services/results").len();
    assert_eq!(refused, 1);

    let mut child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).stderr(std::process::Stdio::piped()));
    let outputs = |server: &TestServer| -> Vec<String> {
        server.requests_to("/api/services/results")[refused..]
            .iter()
            .map(|r| r.json()["output"].as_str().unwrap().to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(outputs(&server).contains(&"backlog".to_string())
        && outputs(&server).contains(&"from-daemon".to_string()))
    {
        assert!(
            Instant::now() < deadline,
            "daemon did not deliver: {:?}",
            outputs(&server)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.requests_to("/api/services").len(),
        2,
        "both targets registered at start"
    );

    // A result a group member dropped into the spool arrives within seconds.
    let spooled = sb.state_dir().join("spool");
    std::fs::create_dir_all(&spooled).unwrap();
    let result = format!(
        "{{\"id\":\"{:020}-1-0\",\"target\":\"h-manual\",\"host\":\"h\",\"name\":\"manual\",\"state\":0,\
          \"output\":\"spooled\",\"perfdata\":\"\",\"measured_at_ms\":1,\"duration_ms\":null}}",
        1_700_000_000_000_000_000u128
    );
    std::fs::write(
        spooled.join(format!("{:020}-1-0.json", 1_700_000_000_000_000_000u128)),
        result,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !outputs(&server).contains(&"spooled".to_string()) {
        assert!(
            Instant::now() < deadline,
            "spooled result not delivered: {:?}",
            outputs(&server)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = terminate(&mut child);
    let out = child.wait_with_output();
    assert!(status.success(), "{}", output_text(&out));
}

#[test]
fn with_a_server_that_never_answers_status_and_the_daemon_say_what_they_wait_for() {
    let server = TestServer::start();
    server.reply(|_| Reply::Hang);
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n\
         [delivery]\nattempts = 1\ntimeout = 60\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"a\"\n[[targets.passive]]\nhost = \"h\"\nname = \"b\"\n",
        server.url(),
        key.display()
    ));
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).env("NOTIFY_SOCKET", &sock_path));
    let waiting = format!(
        "STATUS=registering 2 targets: no answer from {} for ",
        server.url()
    );
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l.starts_with(&waiting))
    });
    let line = seen.iter().find(|l| l.starts_with(&waiting));
    assert!(line.is_some(), "{seen:?}");
    assert!(line.unwrap().ends_with(" s"), "{seen:?}");

    let out = sb.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let now_line = format!(
        "now: registering 2 targets: no answer from {} for ",
        server.url()
    );
    assert!(text.contains(&now_line), "{text}");
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["waiting_for"]
            .as_str()
            .unwrap()
            .starts_with("registering 2 targets: no answer from http://127.0.0.1:"),
        "{doc}"
    );
    terminate(&mut child);
    // Nobody waits any more: status says nothing of it.
    let out = sb.cmd(&["status"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("now: "),
        "{}",
        output_text(&out)
    );
}

/// Sends SIGHUP to the daemon.
fn hang_up(child: &std::process::Child) {
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGHUP) },
        0
    );
}

/// Waits until `cond` holds, failing with `what` after `within`.
fn wait_for(within: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sighup_reloads_the_config_keeps_the_queue_and_survives_a_broken_config() {
    let server = TestServer::start();
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Outputs of the results the server took, in arrival order.
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (u, a) = (up.clone(), accepted.clone());
    server.reply(move |req| {
        if !u.load(std::sync::atomic::Ordering::SeqCst) {
            return Reply::Status(503, "down".into());
        }
        if req.path == "/api/services/results" {
            let output = req.json()["output"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            a.lock().unwrap().push(output);
        }
        Reply::Status(200, "{}".into())
    });
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    let head = format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n",
        server.url(),
        key.display()
    );
    sb.config(&format!(
        "{head}[[targets.passive]]\nhost = \"h\"\nname = \"keep\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"gone\"\n"
    ));
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let log = sb.path("daemon.log");
    let mut child = KillOnDrop::spawn(
        sb.std_cmd(&["daemon"])
            .env("NOTIFY_SOCKET", &sock_path)
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l == "READY=1")
    });
    assert!(seen.iter().any(|l| l == "READY=1"), "{seen:?}");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // A result queued during the outage.
    sb.cmd(&["submit", "h-keep", "queued during the outage", "", "0"])
        .assert()
        .code(3);
    // The admin adds a scripted target and removes one.
    sb.config(&format!(
        "{head}[[targets.passive]]\nhost = \"h\"\nname = \"keep\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"new\"\nscript = 'exit=0; status=from-the-new-script'\n"
    ));
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let registered_before = server.requests_to("/api/services").len();
    hang_up(&child);

    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l == "READY=1")
    });
    let reloading = seen.iter().position(|l| l == "RELOADING=1");
    let ready = seen.iter().position(|l| l == "READY=1");
    assert!(
        reloading.is_some() && ready.is_some() && reloading < ready,
        "RELOADING=1, then READY=1: {seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.starts_with(&format!(
            "STATUS=reloaded {}: 2 targets (added: h-new; removed: h-gone)",
            sb.path("config.toml").display()
        ))),
        "{seen:?}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon died on SIGHUP: {}",
        log_text()
    );

    let outputs = || -> Vec<String> { accepted.lock().unwrap().clone() };
    wait_for(
        Duration::from_secs(20),
        "the queued result and the new script's result are delivered",
        || {
            let o = outputs();
            o.contains(&"queued during the outage".to_string())
                && o.contains(&"from-the-new-script".to_string())
        },
    );
    let once = |what: &str| outputs().iter().filter(|o| *o == what).count() == 1;
    assert!(
        once("queued during the outage") && once("from-the-new-script"),
        "{:?}",
        outputs()
    );
    wait_for(Duration::from_secs(5), "the queue is empty", || {
        sb.files_in("queue").is_empty()
    });
    // Registered at once with the new set: the new target, not the removed one.
    let names: Vec<String> = server.requests_to("/api/services")[registered_before..]
        .iter()
        .map(|r| {
            r.json()["payload"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(names.contains(&"new".to_string()), "{names:?}");
    assert!(names.contains(&"keep".to_string()), "{names:?}");
    assert!(!names.contains(&"gone".to_string()), "{names:?}");

    // A config that no longer parses: the daemon goes on with the one it has.
    let config = sb.path("config.toml");
    std::fs::write(&config, "this is [[ not TOML").unwrap();
    hang_up(&child);
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l == "READY=1")
    });
    assert!(seen.iter().any(|l| l == "RELOADING=1"), "{seen:?}");
    assert!(seen.iter().any(|l| l == "READY=1"), "{seen:?}");
    let failed = format!("could not reload the config from {}", config.display());
    assert!(
        seen.iter()
            .any(|l| l.starts_with(&format!("STATUS={failed}"))),
        "{seen:?}"
    );
    wait_for(
        Duration::from_secs(5),
        "the failed reload is logged naming the file",
        || log_text().contains(&failed),
    );
    assert!(
        log_text().contains("still running with the config loaded before"),
        "{}",
        log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon died on a broken config: {}",
        log_text()
    );
    // Still at work with the config it had: a result left in the spool goes out.
    let spool = sb.state_dir().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let id = format!("{:020}-1-0", 1_700_000_000_000_000_000u128);
    std::fs::write(
        spool.join(format!("{id}.json")),
        format!(
            "{{\"id\":\"{id}\",\"target\":\"h-new\",\"host\":\"h\",\"name\":\"new\",\"state\":0,\
              \"output\":\"after the broken reload\",\"perfdata\":\"\",\"measured_at_ms\":1,\"duration_ms\":null}}"
        ),
    )
    .unwrap();
    wait_for(
        Duration::from_secs(10),
        "the daemon still delivers after a failed reload",
        || outputs().contains(&"after the broken reload".to_string()),
    );

    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}: {}", log_text());
}

/// With two backends, one of them down: the daemon delivers to the other at once, keeps the
/// down one's results in its own queue, names both in STATUS, and delivers the backlog when
/// that server is back.
#[test]
fn daemon_with_one_backend_down_delivers_to_the_other_at_once() {
    let server = TestServer::start();
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let u = up.clone();
    server.reply(move |_| match u.load(std::sync::atomic::Ordering::SeqCst) {
        true => Reply::Status(200, "{}".into()),
        false => Reply::Status(503, "maintenance".into()),
    });
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "backends = [\"nixcloud\", \"local\"]\napiHost = \"{}\"\napiKeyFile = \"{}\"\n\
         stateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"tick\"\nscript = 'exit=0; status=tick'\n",
        server.url(),
        key.display()
    ));
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).env("NOTIFY_SOCKET", &sock_path));
    let local = sb.state_dir().join("local/results.jsonl");
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter()
            .any(|l| l.starts_with("STATUS=1 targets, nixcloud: 1 queued (oldest from "))
    });
    assert!(
        seen.iter().any(
            |l| l.starts_with("STATUS=1 targets, nixcloud: 1 queued (oldest from ")
                && l.contains(", local: 0 queued, last delivery ")
        ),
        "{seen:?}"
    );
    let delivered = std::fs::read_to_string(&local).unwrap_or_default();
    assert_eq!(
        delivered.lines().count(),
        1,
        "local has the result: {delivered}"
    );
    assert_eq!(sb.files_in("queue/nixcloud").len(), 1);

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    // The nixcloud lane's next try comes after its own pause (5 s, then growing).
    let seen = collect(&sock, Duration::from_secs(20), |s| {
        s.iter()
            .any(|l| l.starts_with("STATUS=1 targets, nixcloud: 0 queued, local: 0 queued"))
    });
    assert!(
        seen.iter()
            .any(|l| l.starts_with("STATUS=1 targets, nixcloud: 0 queued, local: 0 queued")),
        "{seen:?}"
    );
    assert_eq!(
        server
            .requests_to("/api/services/results")
            .last()
            .unwrap()
            .json()["output"],
        "tick"
    );
    assert!(terminate(&mut child).success());
}

/// Drops a result for `target` (host `h`, name `name`) into the spool, as a group member's
/// command does; its id is made from `n`.
fn spool_result(sb: &Sandbox, target: &str, name: &str, n: u128, output: &str) {
    let spool = sb.state_dir().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let id = format!("{:020}-1-0", 1_700_000_000_000_000_000u128 + n);
    std::fs::write(
        spool.join(format!("{id}.json")),
        format!(
            "{{\"id\":\"{id}\",\"target\":\"{target}\",\"host\":\"h\",\"name\":\"{name}\",\"state\":0,\
              \"output\":\"{output}\",\"perfdata\":\"\",\"measured_at_ms\":1700000000000,\"duration_ms\":null}}"
        ),
    )
    .unwrap();
}

/// A daemon told to reload a config that became a FIFO used to block in open() for good,
/// without a word: it says why, keeps its config and goes on delivering.
#[test]
fn a_reload_of_a_config_that_became_a_fifo_keeps_the_old_config() {
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n[[targets.passive]]\nhost = \"h\"\nname = \"m\"\n",
    );
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).env("NOTIFY_SOCKET", &sock_path));
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().any(|l| l == "READY=1")
    });
    assert!(seen.iter().any(|l| l == "READY=1"), "{seen:?}");

    let config = sb.path("config.toml");
    std::fs::remove_file(&config).unwrap();
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(config.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }
    hang_up(&child);
    let failed = format!(
        "STATUS=could not reload the config from {0}: could not read config file {0}: it is a \
         FIFO, not a regular file; still running with the config loaded before",
        config.display()
    );
    let seen = collect(&sock, Duration::from_secs(15), |s| s.contains(&failed));
    assert!(seen.contains(&failed), "{seen:?}");
    // Still at work with the old config: a spooled result of its target goes out.
    spool_result(&sb, "h-m", "m", 1, "after the fifo");
    let local = sb.state_dir().join("local/results.jsonl");
    wait_for(Duration::from_secs(10), "the daemon still delivers", || {
        std::fs::read_to_string(&local).is_ok_and(|t| t.contains("after the fifo"))
    });
}

/// STATUS says "none yet" until the daemon delivered something, then the time of day.
#[test]
fn the_status_line_says_when_the_daemon_last_delivered() {
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n[[targets.passive]]\nhost = \"h\"\nname = \"m\"\n",
    );
    let sock_path = sb.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let _child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).env("NOTIFY_SOCKET", &sock_path));
    let idle = "STATUS=1 targets, 0 queued, last delivery none yet";
    // Registered and the (empty) queue looked at: nothing was delivered.
    let seen = collect(&sock, Duration::from_secs(15), |s| {
        s.iter().filter(|l| *l == idle).count() >= 2
    });
    assert!(seen.iter().filter(|l| *l == idle).count() >= 2, "{seen:?}");
    spool_result(&sb, "h-m", "m", 2, "delivered by the daemon");
    let delivered = |l: &String| {
        l.strip_prefix("STATUS=1 targets, 0 queued, last delivery ")
            .is_some_and(|t| t.len() == 9 && t.ends_with('Z') && t.as_bytes()[2] == b':')
    };
    let seen = collect(&sock, Duration::from_secs(15), |s| s.iter().any(delivered));
    assert!(seen.iter().any(delivered), "{seen:?}");
}

/// A spooled result from after the year 9999 made the daemon panic on sending its time (and
/// start again, and panic again): it is set aside, and what comes after it is delivered.
#[test]
fn a_spooled_result_from_after_the_year_9999_does_not_stop_the_daemon() {
    let server = TestServer::start();
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"m\"\n",
        server.url(),
        key.display()
    ));
    let mut child = KillOnDrop::spawn(sb.std_cmd(&["daemon"]).stderr(std::process::Stdio::piped()));
    let spool = sb.state_dir().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let id = format!("{:020}-1-0", 1_700_000_000_000_000_000u128);
    std::fs::write(
        spool.join(format!("{id}.json")),
        format!(
            "{{\"id\":\"{id}\",\"target\":\"h-m\",\"host\":\"h\",\"name\":\"m\",\"state\":0,\
              \"output\":\"late\",\"perfdata\":\"\",\"measured_at_ms\":253402300800000,\"duration_ms\":null}}"
        ),
    )
    .unwrap();
    spool_result(&sb, "h-m", "m", 5, "after the late one");
    let outputs = || -> Vec<String> {
        server
            .requests_to("/api/services/results")
            .iter()
            .map(|r| r.json()["output"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    wait_for(
        Duration::from_secs(15),
        "the next result is delivered",
        || outputs() == ["after the late one"],
    );
    assert!(child.try_wait().unwrap().is_none(), "the daemon died");
    assert!(sb
        .state_dir()
        .join(format!("queue/corrupt/{id}.json"))
        .is_file());
    let status = terminate(&mut child);
    let out = child.wait_with_output();
    assert!(status.success(), "{}", output_text(&out));
}

/// A lane whose pass fails before it delivers anything (here its lock file is a link the
/// agent refuses) pauses like one whose server is away, says why, and delivers once the
/// cause is gone, without a new result to wake it.
#[test]
fn a_lane_that_cannot_even_be_locked_is_retried_after_its_pause() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "down".into()));
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"m\"\n",
        server.url(),
        key.display()
    ));
    sb.cmd(&["submit", "h-m", "waiting", "", "0"])
        .assert()
        .code(3);
    server.reply(|_| Reply::Status(200, "{}".into()));
    let lock = sb.state_dir().join("queue/.lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(sb.path("elsewhere"), &lock).unwrap();
    let log = sb.path("daemon.log");
    let _child = KillOnDrop::spawn(
        sb.std_cmd(&["daemon"])
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let said = format!(
        "nixcloud: 1 result(s) still queued: could not open {}: it is a symbolic link",
        lock.display()
    );
    wait_for(Duration::from_secs(10), "the failed pass is logged", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&said))
    });
    // (The submit's own try, answered 503, is the first request.)
    assert_eq!(server.requests_to("/api/services/results").len(), 1);
    std::fs::remove_file(&lock).unwrap();
    let delivered = || {
        server.requests_to("/api/services/results").len() == 2 && sb.files_in("queue").is_empty()
    };
    wait_for(
        Duration::from_secs(20),
        "delivered after the pause",
        delivered,
    );
}
