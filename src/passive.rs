//! Runs a passive target's bash `script` and turns what it set into a result.
//!
//! The script runs in `bash` with `exit=3`, `status="not set, your script is incomplete"` and
//! `perfdata=""` preset, as in the original. An EXIT trap writes the three variables back,
//! NUL-separated (bash variables cannot hold NUL), into a private file: no text ever passes
//! through another shell, so quotes, `$(...)`, newlines and any UTF-8 arrive byte for byte. The
//! script's own stdout and stderr go to our stderr (the journal, under systemd).
//!
//! The script runs in its own process group; at its timeout the whole group is killed, so a
//! `sleep` it started cannot keep anything waiting.
//!
//! A command the script calls that is not on its PATH (bash's exit 127) makes the result
//! UNKNOWN, whatever `exit` says: on NixOS a unit's PATH is short, and `used=$(df | awk ...)`
//! without awk would otherwise report OK with an empty number. bash's
//! `command_not_found_handle` records each missing name (in subshells too), and the tail of
//! the script's stderr goes into the output so the admin sees what happened.

use crate::result::{CheckResult, State};
use crate::targets::Target;
use anyhow::Context;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Environment variable naming the file the EXIT trap writes to.
const RESULT_FILE_ENV: &str = "NIXCLOUD_MONITORING_RESULT_FILE";
/// Environment variable naming the file that collects commands not found.
const MISSING_FILE_ENV: &str = "NIXCLOUD_MONITORING_MISSING_FILE";
/// How much of the end of the script's stderr an UNKNOWN result quotes.
const STDERR_TAIL: usize = 1024;

const PRELUDE: &str = r#"exit=3
status="not set, your script is incomplete"
perfdata=""
__nixcloud_monitoring_result=$NIXCLOUD_MONITORING_RESULT_FILE
__nixcloud_monitoring_missing=$NIXCLOUD_MONITORING_MISSING_FILE
unset NIXCLOUD_MONITORING_RESULT_FILE NIXCLOUD_MONITORING_MISSING_FILE
command_not_found_handle() {
  printf '%s\n' "$1" >> "$__nixcloud_monitoring_missing"
  printf '%s: command not found\n' "$1" >&2
  return 127
}
trap 'printf "%s\0%s\0%s" "$exit" "$status" "$perfdata" > "$__nixcloud_monitoring_result"' EXIT
"#;

/// Runs `script` for `target`, with `scratch` as a private directory for the hand-back file.
pub async fn run(
    target: &Target,
    script: &str,
    timeout: Duration,
    scratch: &Path,
) -> anyhow::Result<CheckResult> {
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("could not create {}", scratch.display()))?;
    let result_file = scratch.join(format!(
        "{}-{}.result",
        target.escaped_id(),
        std::process::id()
    ));
    let missing_file = result_file.with_extension("missing");
    let _ = std::fs::remove_file(&result_file);
    let _ = std::fs::remove_file(&missing_file);
    let program = format!("{PRELUDE}{script}\n");
    let stderr = std::io::stderr();
    let to_stderr = || -> anyhow::Result<Stdio> {
        use std::os::fd::AsFd;
        Ok(Stdio::from(
            stderr
                .as_fd()
                .try_clone_to_owned()
                .context("could not duplicate stderr")?,
        ))
    };

    let started = Instant::now();
    let mut child = tokio::process::Command::new("bash")
        .arg("--noprofile")
        .arg("--norc")
        .arg("-c")
        .arg(&program)
        .arg(format!("nixcloud-monitoring:{}", target.id))
        .env(RESULT_FILE_ENV, &result_file)
        .env(MISSING_FILE_ENV, &missing_file)
        .stdin(Stdio::null())
        .stdout(to_stderr()?)
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not start bash for the script of {}", target.id))?;

    let pid = child.id();
    let stderr_tail = tokio::spawn(forward_stderr(child.stderr.take()));
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let duration = started.elapsed();
    let (state, output, perfdata) = match waited {
        Err(_) => {
            kill_group(pid);
            let _ = child.wait().await;
            let msg = format!(
                "script of {} timed out after {} and was killed (scriptTimeout)",
                target.id,
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            );
            (State::Unknown, msg, String::new())
        }
        Ok(status) => {
            let status =
                status.with_context(|| format!("waiting for the script of {}", target.id))?;
            // The script may have left children behind; they must not outlive the check.
            kill_group(pid);
            read_back(&result_file, &target.id, status)
        }
    };
    // The group is dead, so the pipe closes; a child that left the group could keep it open.
    let tail = tokio::time::timeout(Duration::from_secs(1), stderr_tail)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (state, output, perfdata) = match missing_commands(&missing_file) {
        Some(missing) => (
            State::Unknown,
            format!(
                "script of {} ran a command that is not on its PATH: {missing} (add its package to the target's `path`); its status was: {output}; end of its stderr: {}",
                target.id,
                String::from_utf8_lossy(&tail).trim_end()
            ),
            String::new(),
        ),
        None => (state, output, perfdata),
    };
    let _ = std::fs::remove_file(&result_file);
    let _ = std::fs::remove_file(&missing_file);
    let mut result = CheckResult::new(target, state, &output, &perfdata);
    result.duration_ms = Some(duration.as_millis() as u64);
    Ok(result)
}

/// Parses what the EXIT trap wrote: `exit`, `status`, `perfdata`.
fn read_back(path: &Path, id: &str, status: std::process::ExitStatus) -> (State, String, String) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => {
            let msg = format!("script of {id} ended ({status}) before setting its result: a syntax error? see the log");
            return (State::Unknown, msg, String::new());
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut parts = text.splitn(3, '\0');
    let (exit, out, perf) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    match exit.parse::<State>() {
        Ok(state) => (state, out.to_string(), perf.to_string()),
        Err(why) => (
            State::Unknown,
            format!("script of {id} set exit={exit:?}: {why}; its status was: {out}"),
            perf.to_string(),
        ),
    }
}

/// Copies the script's stderr to ours (the journal) and keeps its last [`STDERR_TAIL`] bytes.
async fn forward_stderr(pipe: Option<tokio::process::ChildStderr>) -> Vec<u8> {
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let _ = std::io::stderr().write_all(&buf[..n]);
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    tail
}

/// The distinct commands bash did not find, in order, or None when there were none.
fn missing_commands(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut names: Vec<&str> = Vec::new();
    for name in text.lines().filter(|l| !l.is_empty()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    (!names.is_empty()).then(|| names.join(", "))
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: plain syscall on a process group we created; no memory is shared.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests;
