//! Watched units: the outcome of one run of a systemd unit (a backup, any timer job) as a
//! passive result.
//!
//! The module makes the watched unit start our template unit on success and on failure
//! (`OnSuccess=`/`OnFailure=`). systemd (≥ 251) hands the triggering run to it in the
//! environment: `MONITOR_UNIT`, `MONITOR_SERVICE_RESULT`, `MONITOR_EXIT_CODE`,
//! `MONITOR_EXIT_STATUS` and `MONITOR_INVOCATION_ID`. The run time comes from
//! `systemctl show`, the last lines of that very run's log from
//! `journalctl _SYSTEMD_INVOCATION_ID=…`.

use crate::result::State;
use anyhow::{bail, Context};
use std::process::Command;

/// How many lines of the run's journal go into the output.
pub const JOURNAL_LINES: usize = 10;

/// What systemd said about the run that triggered us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub unit: String,
    /// `success`, `exit-code`, `signal`, `timeout`, `core-dump`, `watchdog`, …
    pub result: String,
    /// `exited`, `killed`, `dumped` (may be empty).
    pub exit_code: String,
    /// The exit status or signal name (may be empty).
    pub exit_status: String,
    pub invocation_id: String,
}

impl Run {
    /// The run from `MONITOR_*` variables (`get` reads one); an error naming what is missing
    /// when we were not started by `OnSuccess=`/`OnFailure=`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Run> {
        let need = |k: &str| {
            get(k).filter(|v| !v.is_empty()).with_context(|| {
                format!(
                    "${k} is not set: report-unit runs from a watched unit's OnSuccess=/OnFailure= \
                     (systemd 251 or newer), not by hand"
                )
            })
        };
        Ok(Run {
            unit: need("MONITOR_UNIT")?,
            result: need("MONITOR_SERVICE_RESULT")?,
            exit_code: get("MONITOR_EXIT_CODE").unwrap_or_default(),
            exit_status: get("MONITOR_EXIT_STATUS").unwrap_or_default(),
            invocation_id: need("MONITOR_INVOCATION_ID")?,
        })
    }

    /// OK when the run succeeded, CRITICAL otherwise.
    pub fn state(&self) -> State {
        if self.result == "success" {
            State::Ok
        } else {
            State::Critical
        }
    }
}

/// The result's output and perfdata: the unit, how the run ended, how long it took, and the
/// last lines of its journal.
pub fn describe(run: &Run, seconds: Option<u64>, journal: &str) -> (String, String) {
    let ended = if run.result == "success" {
        "succeeded".to_string()
    } else {
        format!("failed ({})", run.result)
    };
    let status = match (run.exit_code.as_str(), run.exit_status.as_str()) {
        (_, "") => String::new(),
        ("killed" | "dumped", s) => format!(", signal {s}"),
        (_, s) => format!(", exit status {s}"),
    };
    let took = seconds.map(|s| format!(" after {s} s")).unwrap_or_default();
    let mut output = format!("{} {ended}{status}{took}", run.unit);
    let lines: Vec<&str> = journal.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty() {
        output.push_str(&format!(
            "\nlast {} lines of this run's log:\n",
            lines.len()
        ));
        output.push_str(&lines.join("\n"));
    }
    let mut perf = Vec::new();
    if let Some(s) = seconds {
        perf.push(format!("duration={s}s"));
    }
    if run.exit_code == "exited" {
        if let Ok(n) = run.exit_status.parse::<i64>() {
            perf.push(format!("exit_status={n}"));
        }
    }
    (output, perf.join(" "))
}

/// When the run's main process started and how long it ran, from `systemctl show`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Unix seconds (rounded down).
    pub started: Option<u64>,
    pub seconds: Option<u64>,
}

/// The run's [`Timing`] (fields None when systemd does not say).
pub fn run_timing(unit: &str) -> Timing {
    let Ok(out) = Command::new("systemctl")
        .args([
            "show",
            "--timestamp=unix",
            "--property=ExecMainStartTimestamp",
            "--property=ExecMainStartTimestampMonotonic",
            "--property=ExecMainExitTimestampMonotonic",
            "--",
            unit,
        ])
        .output()
    else {
        return Timing::default();
    };
    parse_timing(&String::from_utf8_lossy(&out.stdout))
}

fn parse_timing(text: &str) -> Timing {
    let value = |key: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    let number = |key: &str| -> Option<u64> { value(key)?.parse().ok() };
    let seconds = match (
        number("ExecMainStartTimestampMonotonic"),
        number("ExecMainExitTimestampMonotonic"),
    ) {
        (Some(start), Some(end)) if start > 0 && end >= start => Some((end - start) / 1_000_000),
        _ => None,
    };
    let started = value("ExecMainStartTimestamp")
        .and_then(|v| v.strip_prefix('@'))
        .and_then(|v| v.split('.').next()?.parse().ok());
    Timing { started, seconds }
}

/// The last [`JOURNAL_LINES`] lines this run logged: the lines tagged with its invocation id,
/// and, since its start, the unit's own lines. journald takes the invocation id from the
/// unit's cgroup, which may be gone when a short process's last line is read (seen in the
/// system test: "backed up 42 files" came without it); the unit's name comes with the stream.
pub fn journal_of(invocation_id: &str, unit: &str, started: Option<u64>) -> anyhow::Result<String> {
    if !invocation_id.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("invocation id {invocation_id:?} is not hexadecimal");
    }
    let mut cmd = Command::new("journalctl");
    cmd.args([
        "--no-pager",
        "--quiet",
        "--output=cat",
        &format!("--lines={JOURNAL_LINES}"),
    ]);
    cmd.arg(format!("_SYSTEMD_INVOCATION_ID={invocation_id}"));
    if let Some(since) = started {
        cmd.arg(format!("--since=@{since}"))
            .arg("+")
            .arg(format!("_SYSTEMD_UNIT={unit}"));
    }
    let out = cmd
        .output()
        .context("could not run journalctl (is systemd's journalctl on the PATH?)")?;
    if !out.status.success() {
        bail!(
            "journalctl failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn failed_run() -> Run {
        Run {
            unit: "restic-backups-daily.service".into(),
            result: "exit-code".into(),
            exit_code: "exited".into(),
            exit_status: "1".into(),
            invocation_id: "0123abcd".into(),
        }
    }

    #[test]
    fn the_run_comes_from_systemds_monitor_variables() {
        let run = Run::from_env(env(&[
            ("MONITOR_UNIT", "restic-backups-daily.service"),
            ("MONITOR_SERVICE_RESULT", "exit-code"),
            ("MONITOR_EXIT_CODE", "exited"),
            ("MONITOR_EXIT_STATUS", "1"),
            ("MONITOR_INVOCATION_ID", "0123abcd"),
        ]))
        .unwrap();
        assert_eq!(run, failed_run());
        assert_eq!(run.state(), State::Critical);
    }

    #[test]
    fn without_the_variables_the_error_says_how_report_unit_is_meant_to_run() {
        let err = Run::from_env(env(&[("MONITOR_UNIT", "x.service")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$MONITOR_SERVICE_RESULT is not set: report-unit runs from a watched unit's \
             OnSuccess=/OnFailure= (systemd 251 or newer), not by hand"
        );
    }

    #[test]
    fn a_success_is_ok_and_says_how_long_it_took() {
        let run = Run {
            result: "success".into(),
            exit_status: "0".into(),
            ..failed_run()
        };
        assert_eq!(run.state(), State::Ok);
        assert_eq!(
            describe(&run, Some(12), "snapshot 4f3a saved\n"),
            (
                "restic-backups-daily.service succeeded, exit status 0 after 12 s\n\
                 last 1 lines of this run's log:\nsnapshot 4f3a saved"
                    .to_string(),
                "duration=12s exit_status=0".to_string()
            )
        );
    }

    #[test]
    fn a_failure_names_the_result_the_status_and_the_last_lines() {
        assert_eq!(
            describe(&failed_run(), Some(3), "Fatal: wrong password\n\n"),
            (
                "restic-backups-daily.service failed (exit-code), exit status 1 after 3 s\n\
                 last 1 lines of this run's log:\nFatal: wrong password"
                    .to_string(),
                "duration=3s exit_status=1".to_string()
            )
        );
    }

    #[test]
    fn a_killed_run_names_the_signal() {
        let run = Run {
            result: "signal".into(),
            exit_code: "killed".into(),
            exit_status: "TERM".into(),
            ..failed_run()
        };
        assert_eq!(
            describe(&run, None, ""),
            (
                "restic-backups-daily.service failed (signal), signal TERM".to_string(),
                String::new()
            )
        );
    }

    #[test]
    fn timing_comes_from_systemctl_show() {
        let t = parse_timing(
            "ExecMainStartTimestamp=@1796018437\nExecMainStartTimestampMonotonic=5000000\n\
             ExecMainExitTimestampMonotonic=17500000\n",
        );
        assert_eq!(
            t,
            Timing {
                started: Some(1796018437),
                seconds: Some(12)
            }
        );
        assert_eq!(
            parse_timing("ExecMainStartTimestampMonotonic=0\n"),
            Timing::default()
        );
    }

    #[test]
    fn an_invocation_id_that_is_not_hex_is_refused() {
        let err = journal_of("x y", "a.service", None).unwrap_err();
        assert_eq!(err.to_string(), "invocation id \"x y\" is not hexadecimal");
    }
}
