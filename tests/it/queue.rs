//! Durable delivery: outages, parallel wrappers, a kill in mid-delivery, the bound, the spool.

use crate::util::{output_text, Reply, Request, Sandbox, TestServer};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const KEY: &str = "test-key";

pub(crate) fn sandbox(server_url: &str, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    let key = sb.write("key", KEY);
    sb.config(&format!(
        "apiHost = \"{server_url}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n{extra}\n\
         [delivery]\nattempts = 1\ntimeout = 5\n\
         [[targets.passive]]\nhost = \"backup\"\nname = \"nightly\"\n",
        key.display()
    ));
    sb
}

/// A server that can be switched between down (the given reply) and up, and keeps the
/// results it accepted, in arrival order.
pub(crate) struct Flaky {
    pub(crate) server: TestServer,
    pub(crate) up: Arc<AtomicBool>,
    pub(crate) accepted: Arc<Mutex<Vec<Request>>>,
}

impl Flaky {
    pub(crate) fn new(down: Reply) -> Flaky {
        Flaky::on(TestServer::start(), down)
    }

    fn on(server: TestServer, down: Reply) -> Flaky {
        let up = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (u, a) = (up.clone(), accepted.clone());
        server.reply(move |req| {
            if !u.load(Ordering::SeqCst) {
                return down.clone();
            }
            if req.path == "/api/services/results" {
                a.lock().unwrap().push(req.clone());
            }
            Reply::Status(200, "{}".into())
        });
        Flaky {
            server,
            up,
            accepted,
        }
    }

    pub(crate) fn outputs(&self) -> Vec<String> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.json()["output"].as_str().unwrap().to_string())
            .collect()
    }
}

fn outage_then_recovery(down: Reply) {
    let flaky = Flaky::new(down);
    let sb = sandbox(&flaky.server.url(), "");
    for i in 0..10 {
        let out = sb
            .cmd(&["submit", "backup-nightly", &format!("run {i}"), "", "0"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "during the outage: {}",
            output_text(&out)
        );
    }
    assert_eq!(sb.files_in("queue").len(), 10);
    flaky.up.store(true, Ordering::SeqCst);
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let want: Vec<String> = (0..10).map(|i| format!("run {i}")).collect();
    assert_eq!(flaky.outputs(), want, "all delivered, once each, in order");
    assert!(sb.files_in("queue").is_empty());
    // Nothing left: a second flush sends nothing more.
    sb.cmd(&["flush"]).assert().success();
    assert_eq!(flaky.outputs().len(), 10);
}

#[test]
fn results_survive_a_503_outage_in_order() {
    outage_then_recovery(Reply::Status(503, "maintenance".into()));
}

#[test]
fn results_survive_dropped_connections_in_order() {
    outage_then_recovery(Reply::Drop);
}

#[test]
fn results_survive_an_absent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let sb = sandbox(&format!("http://{addr}"), "");
    for i in 0..5 {
        let out = sb
            .cmd(&["submit", "backup-nightly", &format!("run {i}"), "", "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    let flaky = Flaky::on(
        TestServer::start_on(TcpListener::bind(addr).unwrap()),
        Reply::Drop,
    );
    flaky.up.store(true, Ordering::SeqCst);
    // Any command that talks to the server delivers the backlog first.
    let out = sb
        .cmd(&["submit", "backup-nightly", "run 5", "", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let want: Vec<String> = (0..6).map(|i| format!("run {i}")).collect();
    assert_eq!(flaky.outputs(), want);
}

fn parallel_submits(sb: &Sandbox, n: usize) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            sb.std_cmd(&[
                "submit",
                "backup-nightly",
                &format!("parallel {i}"),
                "",
                "0",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn assert_each_once(outputs: &[String], n: usize) {
    let mut seen = outputs.to_vec();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "every result once");
    assert_eq!(outputs.len(), n, "no result twice");
}

#[test]
fn two_hundred_parallel_wrappers_deliver_each_result_once() {
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    for out in parallel_submits(&sb, 200) {
        assert!(out.status.success(), "{}", output_text(&out));
    }
    assert_each_once(&flaky.outputs(), 200);
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn two_hundred_parallel_wrappers_during_an_outage_deliver_once_in_order_after_it() {
    let flaky = Flaky::new(Reply::Status(503, "down".into()));
    let sb = sandbox(&flaky.server.url(), "");
    for out in parallel_submits(&sb, 200) {
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    assert_eq!(sb.files_in("queue").len(), 200);
    flaky.up.store(true, Ordering::SeqCst);
    sb.cmd(&["flush"]).assert().success();
    assert_each_once(&flaky.outputs(), 200);
    let ids: Vec<String> = flaky
        .accepted
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "delivered in order of measurement");
}

/// Starts `submit ID OUTPUT "" STATE` against `flaky`'s hanging server and returns once the
/// agent is in mid-delivery (the server has the request and never answers).
fn submit_into_a_hang(
    sb: &Sandbox,
    flaky: &Flaky,
    output: &str,
    state: &str,
) -> std::process::Child {
    let child = sb
        .std_cmd(&["submit", "backup-nightly", output, "", state])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while flaky.server.requests_to("/api/services/results").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the agent never started delivering"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn a_kill_in_mid_delivery_leaves_the_result_queued() {
    let flaky = Flaky::new(Reply::Hang);
    let sb = sandbox(&flaky.server.url(), "");
    let mut child = submit_into_a_hang(&sb, &flaky, "interrupted", "2");
    child.kill().unwrap();
    child.wait().unwrap();
    let queued = sb.files_in("queue");
    assert_eq!(queued.len(), 1, "the result is still queued after the kill");
    let text = std::fs::read_to_string(&queued[0]).unwrap();
    assert!(text.contains("interrupted"), "{text}");

    flaky.up.store(true, Ordering::SeqCst);
    sb.cmd(&["flush"]).assert().success();
    assert_eq!(flaky.outputs(), ["interrupted"]);
}

/// The message of a full queue, as the agent words it: the counts and bounds, the oldest.
fn full_queue_message(sb: &Sandbox, max_count: usize) -> String {
    let files = sb.files_in("queue");
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let nanos: u64 = files[0].file_name().unwrap().to_string_lossy()[..20]
        .parse()
        .unwrap();
    let oldest = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_millis(nanos / 1_000_000),
    );
    format!(
        "error: the queue in {} is full: {} results, {bytes} bytes (limits: queue.maxCount = {max_count}, \
         queue.maxBytes = 67108864), oldest measured {oldest}; the result for backup-nightly was NOT accepted. \
         Is the server reachable? See `nixcloud-monitoring status`. Delivering the queued results first did not \
         make room: delivering the result for backup-nightly: ",
        sb.state_dir().join("queue").display(),
        files.len(),
    )
}

/// Every file below `dir` whose content contains `text`.
fn files_containing(dir: &std::path::Path, text: &str) -> Vec<std::path::PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).contains(text))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_full_queue_refuses_loudly_and_keeps_what_it_has() {
    let flaky = Flaky::new(Reply::Status(503, "down".into()));
    let sb = sandbox(&flaky.server.url(), "[queue]\nmaxCount = 3\n");
    for i in 0..3 {
        sb.cmd(&["submit", "backup-nightly", &format!("r{i}"), "", "0"])
            .assert()
            .code(3);
    }
    let want = full_queue_message(&sb, 3);
    let out = sb
        .cmd(&["submit", "backup-nightly", "one too many", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&want), "want:\n{want}\n{text}");
    assert!(err.ends_with(": down\n"), "{text}");
    assert_eq!(err.lines().count(), 1, "{text}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // The backlog was tried first (the oldest result, once), the new result never.
    assert_eq!(
        flaky.server.requests_to("/api/services/results").len(),
        4,
        "3 submits + the delivery before refusing"
    );
    let outputs = queued_outputs(&sb);
    assert_eq!(outputs, ["r0", "r1", "r2"]);
    assert_eq!(
        files_containing(&sb.state_dir(), "one too many"),
        Vec::<std::path::PathBuf>::new(),
        "nothing of the refused result is kept"
    );
    // `status` shows the last accepted result, still queued, not the refused one.
    let out = sb.cmd(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    let last: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("    last: "))
        .collect();
    assert_eq!(last.len(), 1, "{status}");
    assert!(
        last[0].starts_with("    last: OK at 20") && last[0].ends_with(" (queued): r2"),
        "{status}"
    );
}

#[test]
fn a_full_queue_is_delivered_first_and_then_takes_the_new_result() {
    let flaky = Flaky::new(Reply::Status(503, "down".into()));
    let sb = sandbox(&flaky.server.url(), "[queue]\nmaxCount = 3\n");
    for i in 0..3 {
        sb.cmd(&["submit", "backup-nightly", &format!("r{i}"), "", "0"])
            .assert()
            .code(3);
    }
    flaky.up.store(true, Ordering::SeqCst);
    let out = sb
        .cmd(&["submit", "backup-nightly", "r3", "", "2"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "backup-nightly: delivered\n"
    );
    assert_eq!(flaky.outputs(), ["r0", "r1", "r2", "r3"]);
    assert!(sb.files_in("queue").is_empty());
    let out = sb.cmd(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("    last: CRITICAL at 20") && l.ends_with(" (delivered): r3")),
        "{status}"
    );
}

#[test]
fn status_shows_the_queue() {
    let flaky = Flaky::new(Reply::Status(503, "maintenance window".into()));
    let sb = sandbox(&flaky.server.url(), "");
    sb.cmd(&["submit", "backup-nightly", "a", "", "0"])
        .assert()
        .code(3);
    sb.cmd(&["submit", "backup-nightly", "b", "", "0"])
        .assert()
        .code(3);
    let out = sb.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("queue: 2 waiting"), "{text}");
    assert!(text.contains("oldest from 20"), "{text}");
    assert!(
        text.contains("last delivery error") && text.contains("maintenance window"),
        "{text}"
    );
    assert!(
        text.contains("(queued"),
        "the last result is marked as queued: {text}"
    );
}

/// Fails (never skips) unless this runs as root with `setpriv`: the permission tests act as
/// unprivileged users, and root reads every file, so they prove nothing as root alone.
pub(crate) fn require_root_and_setpriv() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test must run as root: it drops to unprivileged users with setpriv"
    );
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    assert!(
        setpriv.is_ok_and(|o| o.status.success()),
        "this test needs setpriv (util-linux)"
    );
}

/// The uid and gid of the service user in the permission tests (not root).
pub(crate) const OWNER: u32 = 4243;
pub(crate) const GROUP: u32 = 4242;

/// The agent as `uid`:`gid` (no supplementary groups) with the sandbox's config and the
/// given umask.
pub(crate) fn as_user(
    sb: &Sandbox,
    uid: u32,
    gid: u32,
    umask: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            &format!("umask {umask} && exec \"$0\" \"$@\""),
        ])
        .arg(crate::util::bin())
        .args(args)
        .env("NIXCLOUD_MONITORING_CONFIG", sb.path("config.toml"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap()
}

/// Sets owner, group and mode (chown first: it clears setgid bits).
pub(crate) fn own(p: &std::path::Path, uid: u32, gid: u32, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Mode bits (with setgid) and group of a file.
fn mode_and_group(p: &std::path::Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(p).unwrap();
    (meta.mode() & 0o7777, meta.gid())
}

/// Runs as root only (and fails otherwise): drops to unprivileged users with `setpriv`.
#[test]
fn a_group_member_without_the_key_hands_results_to_the_service() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    // As the module sets it up: state 0750 and spool 2770 of the service user and its group;
    // the key readable by the service user only.
    own(sb.dir.path(), 0, 0, 0o755);
    own(&sb.path("config.toml"), 0, 0, 0o644);
    own(&sb.path("key"), OWNER, OWNER, 0o400);
    std::fs::create_dir_all(sb.state_dir().join("spool")).unwrap();
    own(&sb.state_dir(), OWNER, GROUP, 0o750);
    own(&sb.state_dir().join("spool"), OWNER, GROUP, 0o2770);
    let submit = ["submit", "backup-nightly", "from a member", "", "1"];

    // A strict umask: only the agent's own chmod makes the file readable by the service.
    let member = as_user(&sb, 65534, GROUP, "077", &submit);
    let text = output_text(&member);
    assert_eq!(member.status.code(), Some(0), "{text}");
    let spooled = sb.files_in("spool");
    assert_eq!(spooled.len(), 1, "{text}");
    assert_eq!(
        String::from_utf8_lossy(&member.stdout),
        format!(
            "backup-nightly: handed to the nixcloud-monitoring service ({})\n",
            spooled[0].display()
        )
    );
    assert!(
        flaky.outputs().is_empty(),
        "the member cannot deliver by itself"
    );
    assert_eq!(
        mode_and_group(&spooled[0]),
        (0o660, GROUP),
        "a spooled file is rw for the service's group"
    );
    assert_eq!(
        mode_and_group(&sb.state_dir().join("spool")),
        (0o2770, GROUP)
    );

    let outsider = as_user(&sb, 65534, 31337, "022", &submit);
    let text = output_text(&outsider);
    assert_eq!(outsider.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "could not hand the result to the nixcloud-monitoring service through {}: \
             only root and members of the group nixcloud-monitoring may submit results",
            sb.state_dir().join("spool").display()
        )),
        "{text}"
    );
    assert_eq!(sb.files_in("spool").len(), 1, "the outsider left nothing");

    // The service user (not root: it reads only what the spool's modes let it) delivers it.
    let flush = as_user(&sb, OWNER, GROUP, "022", &["flush"]);
    let text = output_text(&flush);
    assert_eq!(flush.status.code(), Some(0), "{text}");
    assert_eq!(flaky.outputs(), ["from a member"], "{text}");
    assert!(sb.files_in("spool").is_empty());
    assert!(sb.files_in("queue").is_empty());
}

/// Runs as root only (and fails otherwise): the owner of the state directory is a plain user.
#[test]
fn an_owner_who_cannot_read_the_key_keeps_the_result_queued_and_names_the_key_file() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    own(sb.dir.path(), 0, 0, 0o755);
    own(&sb.path("config.toml"), 0, 0, 0o644);
    own(&sb.path("key"), 0, 0, 0o000);
    std::fs::create_dir_all(sb.state_dir()).unwrap();
    own(&sb.state_dir(), OWNER, GROUP, 0o750);

    let out = as_user(
        &sb,
        OWNER,
        GROUP,
        "022",
        &["submit", "backup-nightly", "no key", "", "0"],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: backup-nightly: not delivered, kept in the queue until the key is readable \
             (nothing is lost): could not read secret file {}: Permission denied (os error 13): \
             the API key cannot be read by this user (uid {OWNER}), the owner of {}\n",
            sb.path("key").display(),
            sb.state_dir().display()
        )
    );
    assert!(flaky.outputs().is_empty());
    assert_eq!(sb.files_in("spool"), Vec::<std::path::PathBuf>::new());
    let queued = sb.files_in("queue");
    assert_eq!(queued.len(), 1);
    assert!(std::fs::read_to_string(&queued[0])
        .unwrap()
        .contains("\"output\":\"no key\""));

    // Once the owner can read the key, the next delivery sends it.
    own(&sb.path("key"), OWNER, OWNER, 0o400);
    let out = as_user(&sb, OWNER, GROUP, "022", &["flush"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(flaky.outputs(), ["no key"]);
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn a_spool_the_agent_creates_is_setgid_and_group_writable_with_the_state_group() {
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    std::fs::create_dir_all(sb.state_dir()).unwrap();
    let group = if unsafe { libc::geteuid() } == 0 {
        // Root acts as the owner: the spool gets the state directory's group, not root's.
        own(sb.dir.path(), 0, 0, 0o755);
        own(&sb.path("key"), 0, 0, 0o600);
        own(&sb.state_dir(), OWNER, GROUP, 0o750);
        GROUP
    } else {
        mode_and_group(&sb.state_dir()).1
    };
    assert!(!sb.state_dir().join("spool").exists());
    let out = sb
        .cmd(&["submit", "backup-nightly", "x", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        mode_and_group(&sb.state_dir().join("spool")),
        (0o2770, group),
        "drwxrws--- with the state directory's group"
    );
}

/// Runs as root only: root must not leave files the service user cannot use.
#[test]
fn root_acts_as_the_owner_of_the_state_directory() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let flaky = Flaky::new(Reply::Status(503, "down".into()));
    let sb = sandbox(&flaky.server.url(), "");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(sb.path("key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir_all(sb.state_dir()).unwrap();
    std::os::unix::fs::chown(sb.state_dir(), Some(65534), Some(65534)).unwrap();

    // The key is root's alone, yet root's submit reads it before becoming the owner.
    let out = sb
        .cmd(&["submit", "backup-nightly", "by root", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let mut owners = Vec::new();
    for entry in walk(&sb.state_dir()) {
        owners.push((
            entry.display().to_string(),
            std::fs::metadata(&entry).unwrap().uid(),
        ));
    }
    assert!(owners.len() >= 3, "{owners:?}");
    assert!(
        owners.iter().all(|(_, uid)| *uid == 65534),
        "root left files behind: {owners:?}"
    );

    flaky.up.store(true, Ordering::SeqCst);
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(flaky.outputs(), ["by root"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_result_queued_behind_another_targets_result_says_so_first() {
    let flaky = Flaky::new(Reply::Status(503, "maintenance".into()));
    let sb = sandbox(&flaky.server.url(), "");
    sb.edit_config(
        "name = \"nightly\"\n",
        "name = \"nightly\"\n[[targets.passive]]\nhost = \"box\"\nname = \"manual\"\n",
    );
    sb.cmd(&["submit", "backup-nightly", "first", "", "0"])
        .assert()
        .code(3);
    let out = sb
        .cmd(&["submit", "box-manual", "second", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "warning: box-manual: not delivered yet, kept in the queue (nothing is lost; it goes out with the next delivery): it waits behind an older queued result of backup-nightly, which the server did not take: delivering the result for backup-nightly:"
        ),
        "{err}"
    );
    // The first one's own failure is told as it is.
    let out = sb
        .cmd(&["submit", "backup-nightly", "third", "", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(nothing is lost; it goes out with the next delivery): it waits behind an older queued result of backup-nightly"),
        "{err}"
    );
}

#[test]
fn status_check_turns_critical_only_when_a_queued_result_outlives_its_timeout() {
    let flaky = Flaky::new(Reply::Status(503, "maintenance".into()));
    let sb = sandbox(&flaky.server.url(), "");
    sb.edit_config(
        "name = \"nightly\"\n",
        "name = \"nightly\"\ntimers = { check = 10, timeout = 30 }\n",
    );
    let out = sb.cmd(&["status", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK: 0 results queued, none older than its target's timeout\n"
    );

    sb.cmd(&["submit", "backup-nightly", "a", "", "0"])
        .assert()
        .code(3);
    let out = sb.cmd(&["status", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("OK: 1 results queued, the oldest from 20"));

    // The same result, measured 31 minutes ago: past the target's 30-minute timeout.
    let file = sb.files_in("queue").into_iter().next().unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let at = doc["measured_at_ms"].as_u64().unwrap() - 31 * 60_000;
    doc["measured_at_ms"] = at.into();
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = sb.cmd(&["status", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("CRITICAL: 1 of 1 queued results are older than their target's timeout: backup-nightly from 20")
            && text.contains("(31 min, timeout 30 min); last delivery error: ")
            && text.contains("maintenance"),
        "{text}"
    );
}

#[test]
fn unreadable_queue_entries_are_moved_to_corrupt_and_never_block_delivery() {
    let flaky = Flaky::new(Reply::Status(503, "maintenance".into()));
    let sb = sandbox(&flaky.server.url(), "");
    for output in ["before", "after"] {
        sb.cmd(&["submit", "backup-nightly", output, "", "0"])
            .assert()
            .code(3);
    }
    // Between the two valid results, by name (= by time of measurement): a truncated file, an
    // empty file and a directory, all named like results.
    let queue = sb.state_dir().join("queue");
    let first = sb.files_in("queue")[0].clone();
    let nanos: u128 = first.file_name().unwrap().to_string_lossy()[..20]
        .parse()
        .unwrap();
    let name = |n: u32| format!("{:020}-1-{n}.json", nanos + 1);
    let valid = std::fs::read(&first).unwrap();
    std::fs::write(queue.join(name(0)), &valid[..valid.len() / 2]).unwrap();
    std::fs::write(queue.join(name(1)), b"").unwrap();
    std::fs::create_dir(queue.join(name(2))).unwrap();
    let names: Vec<String> = sb
        .files_in("queue")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(&names[1..4], [name(0), name(1), name(2)], "{names:?}");

    flaky.up.store(true, Ordering::SeqCst);
    let out = sb.cmd(&["flush"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(flaky.outputs(), ["before", "after"], "{text}");
    for n in 0..3 {
        assert!(
            text.contains(&format!(
                "{} is not a readable result",
                queue.join(name(n)).display()
            )),
            "a warning names {}: {text}",
            name(n)
        );
    }
    assert!(
        sb.files_in("queue").is_empty(),
        "{:?}",
        sb.files_in("queue")
    );
    let corrupt = queue.join("corrupt");
    let reason = |n: u32| {
        std::fs::read_to_string(corrupt.join(format!("{}.reason", name(n)))).unwrap_or_default()
    };
    assert!(
        corrupt.join(name(0)).is_file() && reason(0).starts_with("truncated"),
        "{}",
        reason(0)
    );
    assert!(
        corrupt.join(name(1)).is_file() && reason(1).starts_with("empty file"),
        "{}",
        reason(1)
    );
    assert!(
        corrupt.join(name(2)).is_dir() && reason(2).starts_with("a directory"),
        "{}",
        reason(2)
    );
    assert!(sb.files_in("rejected").is_empty());

    let out = sb.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "queue: 0 waiting (0 bytes); 0 spooled; 0 refused; 3 corrupt (moved to {})",
            corrupt.display()
        )),
        "{text}"
    );
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["queue"]["corrupt"], 3, "{doc}");
    assert_eq!(doc["queue"]["count"], 0, "{doc}");
    assert_eq!(doc["queue"]["rejected"], 0, "{doc}");

    // Nothing is left to block or repeat: the next result goes straight out.
    sb.cmd(&["submit", "backup-nightly", "later", "", "0"])
        .assert()
        .success();
    assert_eq!(flaky.outputs(), ["before", "after", "later"]);
}

/// The `output` of each result request the server saw, in order.
fn sent_outputs(server: &TestServer) -> Vec<String> {
    server
        .requests_to("/api/services/results")
        .iter()
        .map(|r| r.json()["output"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn flush_stops_at_the_first_transient_failure_to_keep_the_order() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "down".into()));
    let sb = sandbox(&server.url(), "");
    for output in ["first", "second", "third"] {
        sb.cmd(&["submit", "backup-nightly", output, "", "0"])
            .assert()
            .code(3);
    }
    assert_eq!(sb.files_in("queue").len(), 3);
    let before = server.requests_to("/api/services/results").len();

    // Only the middle result is refused for now.
    server.reply(|req| {
        if req.path == "/api/services/results" && req.json()["output"] == "second" {
            Reply::Status(503, "not this one yet".into())
        } else {
            Reply::Status(200, "{}".into())
        }
    });
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "delivered 1, refused 0, still queued 2\n"
    );
    assert_eq!(
        sent_outputs(&server)[before..],
        ["first", "second"],
        "the third must not be sent past the second"
    );
    let queued = queued_outputs(&sb);
    assert_eq!(queued, ["second", "third"]);

    let after_stop = server.requests_to("/api/services/results").len();
    server.reply(|_| Reply::Status(200, "{}".into()));
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "delivered 2, refused 0, still queued 0\n"
    );
    assert_eq!(sent_outputs(&server)[after_stop..], ["second", "third"]);
    assert!(sb.files_in("queue").is_empty());
}

#[test]
fn each_result_carries_its_queue_id_and_measured_time_in_headers() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "down".into()));
    let sb = sandbox(&server.url(), "");
    for output in ["a", "b"] {
        sb.cmd(&["submit", "backup-nightly", output, "", "0"])
            .assert()
            .code(3);
    }
    // What was queued: file name, the id inside, and the measured time, per output.
    let queued: Vec<(String, String, u64)> = sb
        .files_in("queue")
        .iter()
        .map(|f| {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            assert_eq!(doc["id"], stem.as_str(), "the file is named by the id");
            (
                doc["output"].as_str().unwrap().to_string(),
                stem,
                doc["measured_at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(queued.len(), 2);
    assert_ne!(queued[0].1, queued[1].1);
    let before = server.requests_to("/api/services/results").len();
    server.reply(|_| Reply::Status(200, "{}".into()));
    sb.cmd(&["flush"]).assert().success();
    let sent = server.requests_to("/api/services/results");
    assert_eq!(sent.len() - before, 2);
    for (req, (output, id, measured_ms)) in sent[before..].iter().zip(&queued) {
        assert_eq!(req.json()["output"], output.as_str());
        assert_eq!(req.header("idempotency-key"), Some(id.as_str()));
        let when = humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_millis(*measured_ms),
        )
        .to_string();
        assert_eq!(req.header("x-measured-at"), Some(when.as_str()));
    }
}

/// The outputs of the results waiting in the queue, oldest first.
fn queued_outputs(sb: &Sandbox) -> Vec<String> {
    sb.files_in("queue")
        .iter()
        .map(|f| {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            doc["output"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The message for a result refused for now by a server answering 503 "maintenance".
fn refused_for_now(server: &TestServer) -> String {
    format!(
        "delivering the result for backup-nightly: POST {}/api/services/results: HTTP 503 Service \
         Unavailable: maintenance",
        server.url()
    )
}

#[test]
fn a_result_refused_itself_says_why_without_waiting_behind_anything() {
    let flaky = Flaky::new(Reply::Status(503, "maintenance".into()));
    let sb = sandbox(&flaky.server.url(), "");
    let out = sb
        .cmd(&["submit", "backup-nightly", "first", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "warning: backup-nightly: not delivered yet, kept in the queue (nothing is lost; it goes \
             out with the next delivery): {}\n",
            refused_for_now(&flaky.server)
        )
    );
    // `flush` says the same, without a backend's name when there is one backend.
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "delivered 0, refused 0, still queued 1\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("delivery stopped: {}\n", refused_for_now(&flaky.server))
    );
}

#[test]
fn a_result_refused_for_good_is_sent_once_and_kept_in_rejected() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(400, "bad result".into()));
    let sb = sandbox(&server.url(), "");
    let out = sb
        .cmd(&["submit", "backup-nightly", "bad", "", "0"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    let why = format!(
        "delivering the result for backup-nightly: POST {}/api/services/results: HTTP 400 Bad \
         Request: bad result",
        server.url()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "ERROR nixcloud: {why}; kept in rejected/\n\
             backup-nightly: refused by the server, kept in rejected/: {why}\n"
        ),
        "{text}"
    );
    assert_eq!(sent_outputs(&server), ["bad"], "sent once");
    assert!(sb.files_in("queue").is_empty());
    let rejected = sb.files_in("rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        std::fs::read_to_string(format!("{}.reason", rejected[0].display())).unwrap(),
        why
    );
}

#[test]
fn status_tells_what_a_delivery_in_progress_waits_for() {
    let flaky = Flaky::new(Reply::Hang);
    let sb = sandbox(&flaky.server.url(), "");
    let mut child = submit_into_a_hang(&sb, &flaky, "waiting", "0");
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let waiting = doc["waiting_for"].as_str().unwrap_or_default();
    assert!(
        waiting.starts_with(&format!(
            "delivering 1 queued results: no answer from {} for ",
            flaky.server.url()
        )),
        "{doc}"
    );
}

#[test]
fn an_unreadable_entry_is_not_counted_as_still_queued() {
    let server = TestServer::start();
    server.reply(|_| Reply::Status(503, "down".into()));
    let sb = sandbox(&server.url(), "");
    for output in ["first", "second"] {
        sb.cmd(&["submit", "backup-nightly", output, "", "0"])
            .assert()
            .code(3);
    }
    // An empty file between the two, by name.
    let first = sb.files_in("queue")[0].clone();
    let nanos: u128 = first.file_name().unwrap().to_string_lossy()[..20]
        .parse()
        .unwrap();
    std::fs::write(
        sb.state_dir()
            .join("queue")
            .join(format!("{:020}-1-0.json", nanos + 1)),
        b"",
    )
    .unwrap();
    server.reply(|req| match req.json()["output"] == "first" {
        true => Reply::Status(200, "{}".into()),
        false => Reply::Status(503, "not yet".into()),
    });
    let out = sb.cmd(&["flush"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "delivered 1, refused 0, still queued 1\n"
    );
    assert_eq!(queued_outputs(&sb), ["second"]);
}
