//! Corrupt state is said, naming the file, instead of being hidden (issue 23.5): `status` and
//! `status --check` count the queue the same way, and a garbage `last/*.json`,
//! `registrations.json` or `registration.json` is a warning, not "no last result" or "not
//! registered yet".

use crate::util::{dead_url, output_text, Sandbox};

/// A sandbox whose server is unreachable, with one result of `h-n` queued.
fn one_queued() -> Sandbox {
    let sb = Sandbox::new();
    let key = sb.write("key", "k");
    sb.config(&format!(
        "apiHost = \"{}\"\napiKeyFile = \"{}\"\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
        dead_url(),
        key.display()
    ));
    let out = sb
        .cmd(&["submit", "h-n", "queued", "", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    sb
}

fn stdout_stderr(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String, String) {
    let out = sb
        .cmd(args)
        .timeout(std::time::Duration::from_secs(15))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_and_status_check_count_a_corrupt_queue_entry_alike_and_name_it() {
    let sb = one_queued();
    // Sorts before the queued result (delivery reaches it first, the server being away);
    // the oldest shown is still the result's.
    let junk = sb.state_dir().join("queue/00000000000000000001-1-0.json");
    std::fs::write(&junk, "{\"id\": \"9").unwrap();
    let warning = format!(
        "warning: {} is not a readable result (truncated (9 bytes): ",
        junk.display()
    );
    let moves = format!(
        "not counted as queued; the next delivery moves it to {}",
        sb.state_dir().join("queue/corrupt").display()
    );

    let (code, stdout, stderr) = stdout_stderr(&sb, &["status"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let queue_line = stdout.lines().find(|l| l.starts_with("queue: ")).unwrap();
    assert!(
        queue_line.starts_with("queue: 1 waiting (")
            && queue_line.ends_with("; 0 spooled; 0 refused; 1 unreadable (see the warnings)"),
        "{queue_line}"
    );
    assert!(
        stderr.contains(&warning) && stderr.contains(&moves),
        "{stderr}"
    );

    let (code, stdout, stderr) = stdout_stderr(&sb, &["status", "--check"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(
            "OK: 1 results queued (1 unreadable entries not counted, see stderr), the oldest from "
        ),
        "{stdout}"
    );
    assert!(stderr.contains(&warning), "{stderr}");

    let (_, stdout, _) = stdout_stderr(&sb, &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&doc["queue"]["count"], &doc["queue"]["unreadable"]),
        (&1.into(), &1.into())
    );
    assert!(doc["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with(&warning["warning: ".len()..]));

    // Delivery moves it aside; then both count it as corrupt, not as waiting.
    let (_, _, _) = stdout_stderr(&sb, &["flush"]);
    let (_, stdout, stderr) = stdout_stderr(&sb, &["status"]);
    assert!(
        stdout.contains("queue: 1 waiting (") && stdout.contains("; 1 corrupt (moved to "),
        "{stdout}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn garbage_last_and_registration_files_are_warnings_naming_them() {
    let sb = one_queued();
    let last = sb.state_dir().join("last/h-n.json");
    std::fs::write(&last, "not json").unwrap();
    let regs = sb.state_dir().join("registrations.json");
    std::fs::write(&regs, "[1, 2").unwrap();
    let round = sb.state_dir().join("registration.json");
    std::fs::write(&round, "").unwrap();
    let (code, stdout, stderr) = stdout_stderr(&sb, &["status"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for (file, then) in [
        (&last, "h-n is shown without a last result"),
        (&regs, "every target is shown as not registered yet"),
        (&round, "shown as if no registration was recorded"),
    ] {
        let want = format!(
            "warning: {} cannot be read (not what the agent writes there: ",
            file.display()
        );
        let line = stderr.lines().find(|l| l.starts_with(&want));
        assert!(
            line.is_some_and(|l| l.ends_with(then)),
            "{want} … {then}: {stderr}"
        );
    }
    let (_, stdout, stderr) = stdout_stderr(&sb, &["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        doc["warnings"].as_array().unwrap().len(),
        3,
        "{doc} {stderr}"
    );
}

/// A FIFO as the last result blocked `status` for ever.
#[test]
fn a_last_result_that_is_a_fifo_is_a_warning_not_a_hang() {
    let sb = one_queued();
    let last = sb.state_dir().join("last/h-n.json");
    std::fs::remove_file(&last).unwrap();
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(last.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }
    let (code, stdout, stderr) = stdout_stderr(&sb, &["status"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: {} cannot be read (a FIFO, not a regular file): h-n is shown without a last result",
            last.display()
        )),
        "{stderr}"
    );
}
