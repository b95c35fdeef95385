//! The spool is a trust boundary (issue 23.1): group members who may not read the API key drop
//! results there, and the service delivers them with the machine's key. A spooled result is
//! delivered only when its target is in the config and its target, host and name agree; its
//! output and perfdata get the 64 KiB cut; anything else goes to `queue/corrupt/` with the
//! reason. Each test writes the spool as a group member (uid 65534, the service's group) and
//! delivers as the service user, as on NixOS; they run as root only and fail otherwise.

use crate::queue::{as_user, own, require_root_and_setpriv, sandbox, Flaky, GROUP, OWNER};
use crate::util::{output_text, Reply, Sandbox};
use std::sync::atomic::Ordering;

/// The module's layout: state 0750 and spool 2770 of the service user and its group, the
/// key readable by the service user only.
fn service_layout(sb: &Sandbox) {
    own(sb.dir.path(), 0, 0, 0o755);
    own(&sb.path("config.toml"), 0, 0, 0o644);
    own(&sb.path("key"), OWNER, OWNER, 0o400);
    std::fs::create_dir_all(sb.state_dir().join("spool")).unwrap();
    own(&sb.state_dir(), OWNER, GROUP, 0o750);
    own(&sb.state_dir().join("spool"), OWNER, GROUP, 0o2770);
}

/// A group member (uid 65534, the service's group) writes `bytes` to `spool/<name>`.
fn member_writes(sb: &Sandbox, name: &str, bytes: &[u8]) {
    use std::io::Write;
    let path = sb.state_dir().join("spool").join(name);
    let mut child = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            &format!("--regid={GROUP}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            "umask 007 && cat > \"$0\"",
        ])
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    assert!(child.wait().unwrap().success(), "the member wrote {name}");
}

/// A member runs a shell command (in the spool directory).
fn member_runs(sb: &Sandbox, script: &str) {
    let status = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            &format!("--regid={GROUP}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            script,
        ])
        .current_dir(sb.state_dir().join("spool"))
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// A result as JSON with the given fields; the id's time is `n` ns after a fixed instant.
fn spooled(
    n: u64,
    target: &str,
    host: &str,
    name: &str,
    output: &str,
    at_ms: u64,
) -> (String, String) {
    let id = format!("{:020}-7-0", 1_700_000_000_000_000_000u64 + n);
    let json = serde_json::json!({
        "id": id, "target": target, "host": host, "name": name, "state": 0,
        "output": output, "perfdata": "", "measured_at_ms": at_ms, "duration_ms": null,
    });
    (format!("{id}.json"), json.to_string())
}

/// The reason files in `queue/corrupt/`, by entry name.
fn corrupt_reasons(sb: &Sandbox) -> Vec<(String, String)> {
    let dir = sb.state_dir().join("queue/corrupt");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let entry = name.strip_suffix(".reason")?.to_string();
            let why = std::fs::read_to_string(e.path()).unwrap();
            Some((entry, why.lines().next().unwrap_or_default().to_string()))
        })
        .collect();
    v.sort();
    v
}

fn flush_as_owner(sb: &Sandbox) -> std::process::Output {
    let out = as_user(sb, OWNER, GROUP, "022", &["flush"]);
    assert!(
        out.status.code().is_some_and(|c| c < 100),
        "{}",
        output_text(&out)
    );
    out
}

#[test]
fn a_spooled_result_for_any_other_host_name_or_target_is_set_aside_never_sent() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    service_layout(&sb);
    let t = 1_700_000_000_000;
    let forged = spooled(
        1,
        "backup-nightly",
        "victim.example",
        "forged",
        "forged host",
        t,
    );
    let unknown = spooled(
        2,
        "victim.example-forged",
        "victim.example",
        "forged",
        "unknown",
        t,
    );
    let good = spooled(
        3,
        "backup-nightly",
        "backup",
        "nightly",
        "a member's result",
        t,
    );
    for (name, json) in [&forged, &unknown, &good] {
        member_writes(&sb, name, json.as_bytes());
    }
    let out = flush_as_owner(&sb);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(
        flaky.outputs(),
        ["a member's result"],
        "only the honest one went out"
    );
    assert_eq!(
        corrupt_reasons(&sb),
        [
            (
                forged.0.clone(),
                "refused from the spool: its host and name (\"victim.example\", \"forged\") are \
                 not those of its target backup-nightly (\"backup\", \"nightly\")"
                    .to_string()
            ),
            (
                unknown.0.clone(),
                "refused from the spool: its target \"victim.example-forged\" is not in the config"
                    .to_string()
            ),
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{} is not a readable result (refused from the spool",
            sb.state_dir().join("spool").join(&forged.0).display()
        )),
        "{stderr}"
    );
    assert!(sb.files_in("spool").is_empty());
    // status counts them.
    let status = as_user(&sb, OWNER, GROUP, "022", &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["queue"]["corrupt"], 2, "{doc}");
}

#[test]
fn a_spooled_result_gets_the_64_kib_cut_and_a_huge_file_is_not_read() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    service_layout(&sb);
    let (name, json) = spooled(
        1,
        "backup-nightly",
        "backup",
        "nightly",
        &format!("{}END", "o".repeat(1_000_000)),
        1,
    );
    let json = json.replace(
        "\"perfdata\":\"\"",
        &format!("\"perfdata\":\"{}\"", "p".repeat(1_000_000)),
    );
    member_writes(&sb, &name, json.as_bytes());
    // 17 MiB of spaces before a result: larger than any result, set aside unread.
    let (big, small) = spooled(2, "backup-nightly", "backup", "nightly", "huge", 1);
    let mut huge = vec![b' '; 17 * 1024 * 1024];
    huge.extend_from_slice(small.as_bytes());
    member_writes(&sb, &big, &huge);

    let out = flush_as_owner(&sb);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let sent = flaky.accepted.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    let output = body["output"].as_str().unwrap();
    let perfdata = body["perfdata"].as_str().unwrap();
    assert!(
        output.len() <= 65536 && output.starts_with("[cut: first ") && output.ends_with("END"),
        "{}",
        &output[..80]
    );
    assert!(
        perfdata.len() <= 65536 && perfdata.starts_with("[cut: first "),
        "{}",
        &perfdata[..80]
    );
    assert_eq!(
        corrupt_reasons(&sb),
        [(
            big.clone(),
            format!(
                "{} bytes, larger than any result (16777216 bytes at most)",
                huge.len()
            )
        )]
    );
    // What `status` shows as the last result is the cut one too.
    let status = as_user(&sb, OWNER, GROUP, "022", &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(doc["targets"][0]["last"]["output"].as_str().unwrap().len() <= 65536);
}

/// A spooled `measured_at_ms` after the year 9999 made flush, submit, run, sync, status
/// --check and the daemon panic (exit 134 in a release build), and was never set aside: every
/// delivery stopped for good.
#[test]
fn a_spooled_result_from_after_the_year_9999_is_set_aside_and_nothing_panics() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    service_layout(&sb);
    let late = spooled(
        1,
        "backup-nightly",
        "backup",
        "nightly",
        "from the future",
        253_402_300_800_000,
    );
    // An id whose time is after 9999 too (it orders the queue and `status` shows it).
    let late_id = (
        "99999999999999999999999-1-0.json".to_string(),
        late.1
            .replace(&late.0.replace(".json", ""), "99999999999999999999999-1-0")
            .replace("253402300800000", "1"),
    );
    member_writes(&sb, &late.0, late.1.as_bytes());
    member_writes(&sb, &late_id.0, late_id.1.as_bytes());
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["status", "--check"],
    ] {
        let out = as_user(&sb, OWNER, GROUP, "022", args);
        assert!(
            out.status.code().is_some_and(|c| c < 100),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    let out = as_user(
        &sb,
        OWNER,
        GROUP,
        "022",
        &["submit", "backup-nightly", "after it", "", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(flaky.outputs(), ["after it"]);
    assert_eq!(
        corrupt_reasons(&sb),
        [
            (
                late.0.clone(),
                "measured_at_ms 253402300800000 is after the year 9999".to_string()
            ),
            (
                late_id.0.clone(),
                "its id \"99999999999999999999999-1-0\" is not <nanoseconds>-<pid>-<counter> \
                 of a time up to the year 9999"
                    .to_string()
            ),
        ]
    );
    // The same in the queue itself and as the last result: status shows the time as what it
    // is, delivery sets the entry aside.
    let queued = sb.state_dir().join("queue").join(&late.0);
    std::fs::write(&queued, &late.1).unwrap();
    own(&queued, OWNER, GROUP, 0o600);
    let last = sb.state_dir().join("last/backup-nightly.json");
    std::fs::write(&last, &late.1).unwrap();
    own(&last, OWNER, GROUP, 0o600);
    let out = as_user(&sb, OWNER, GROUP, "022", &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("last: OK at 253402300800000 ms after 1970 (after the year 9999)"),
        "{}",
        output_text(&out)
    );
    for args in [
        &["status", "--check"][..],
        &["flush"],
        &["sync"],
        &["status", "--json"],
    ] {
        let out = as_user(&sb, OWNER, GROUP, "022", args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            output_text(&out)
        );
    }
    assert!(sb.files_in("queue").is_empty());
    assert_eq!(corrupt_reasons(&sb).len(), 3);
}

/// A link a member plants in the spool could make the service read one of its own files: it
/// is set aside as a link, unread.
#[test]
fn a_link_in_the_spool_is_set_aside_unread() {
    require_root_and_setpriv();
    let flaky = Flaky::new(Reply::Drop);
    flaky.up.store(true, Ordering::SeqCst);
    let sb = sandbox(&flaky.server.url(), "");
    service_layout(&sb);
    let (name, _) = spooled(1, "backup-nightly", "backup", "nightly", "x", 1);
    member_runs(&sb, &format!("ln -s ../../key {name}"));
    let out = flush_as_owner(&sb);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(flaky.outputs().is_empty());
    assert_eq!(
        corrupt_reasons(&sb),
        [(name, "a symbolic link, not a result file".to_string())]
    );
}
