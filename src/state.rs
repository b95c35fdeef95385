//! The state directory: last results and registrations for `status`, and atomic file writes.

use crate::result::CheckResult;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Paths below the state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// What `register` last achieved for one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Registration {
    /// Milliseconds since the epoch of the last attempt.
    pub at_ms: u64,
    /// Whether every request for the target succeeded.
    pub ok: bool,
    /// The error of the last failed attempt.
    pub error: Option<String>,
}

/// The last registration round as a whole: when it last succeeded, the last failure, and
/// when the next try is due after a transient failure (`registration.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistrationRound {
    pub last_success_ms: Option<u64>,
    pub last_failure_ms: Option<u64>,
    pub last_error: Option<String>,
    /// Transient failures since the last success; decides the next pause.
    pub failures_in_a_row: u32,
    /// When the next try is due; none while nothing needs retrying.
    pub next_try_ms: Option<u64>,
}

/// What a process is waiting for right now (`activity.json`), so that `status` can say so
/// while a server does not answer. Removed when the step ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Activity {
    pub pid: u32,
    /// "registering 12 targets", "delivering 3 queued results".
    pub what: String,
    pub server: Option<String>,
    pub since_ms: u64,
}

impl Activity {
    /// "registering 12 targets: no answer from http://… for 14 s".
    pub fn describe(&self, now_ms: u64) -> String {
        let secs = now_ms.saturating_sub(self.since_ms) / 1000;
        match &self.server {
            Some(server) => format!("{}: no answer from {server} for {secs} s", self.what),
            None => format!("{} for {secs} s", self.what),
        }
    }
}

/// Removes `activity.json` when the step it describes ends.
pub struct ActivityGuard<'a> {
    state: &'a StateDir,
}

impl Drop for ActivityGuard<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.state.root.join("activity.json"));
    }
}

impl StateDir {
    /// Records the round's outcome in `registration.json`.
    pub fn record_registration_round(&self, round: &RegistrationRound) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("could not create state directory {}", self.root.display()))?;
        let json = serde_json::to_vec_pretty(round).context("could not encode registration")?;
        write_atomic(&self.root.join("registration.json"), &json, false)
    }

    /// The last registration round, or a default when none was recorded.
    pub fn registration_round(&self) -> RegistrationRound {
        std::fs::read(self.root.join("registration.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Says what this process waits for until the guard is dropped. Best effort: `status`
    /// only reads it.
    pub fn begin_activity(&self, what: String, server: Option<String>) -> ActivityGuard<'_> {
        let activity = Activity {
            pid: std::process::id(),
            what,
            server,
            since_ms: now_ms(),
        };
        let written = std::fs::create_dir_all(&self.root)
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(serde_json::to_vec(&activity)?))
            .and_then(|json| write_atomic(&self.root.join("activity.json"), &json, false));
        if let Err(e) = written {
            tracing::debug!("could not record what this process waits for: {e:#}");
        }
        ActivityGuard { state: self }
    }

    /// The step a live process is waiting on, if any.
    pub fn activity(&self) -> Option<Activity> {
        let bytes = std::fs::read(self.root.join("activity.json")).ok()?;
        let a: Activity = serde_json::from_slice(&bytes).ok()?;
        // A process that died in mid-step leaves the file behind.
        Path::new(&format!("/proc/{}", a.pid)).exists().then_some(a)
    }

    /// The state directory at `root` (created on first write).
    pub fn new(root: PathBuf) -> StateDir {
        StateDir { root }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A subdirectory, created if missing.
    pub fn subdir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("could not create state directory {}", dir.display()))?;
        Ok(dir)
    }

    /// Remembers a target's latest result for `status`, with how many non-OK results in a
    /// row it ends (the `failureThreshold` count `status` shows). Not fsynced: losing it on a
    /// crash only makes `status` older, and the result itself is in the queue or delivered.
    /// A result already recorded, or older than the one recorded, changes nothing.
    pub fn record_last(&self, result: &CheckResult) -> anyhow::Result<()> {
        let dir = self.subdir("last")?;
        let path = dir.join(format!("{}.json", crate::targets::escape(&result.target)));
        let before: Option<LastRecord> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(b) = &before {
            if (b.result.measured_at_ms, b.result.id.as_str())
                >= (result.measured_at_ms, result.id.as_str())
            {
                return Ok(());
            }
        }
        let failures_in_a_row = match result.state {
            crate::result::State::Ok => 0,
            _ => before.map_or(0, |b| b.failures_in_a_row) + 1,
        };
        let record = LastRecord {
            result: result.clone(),
            failures_in_a_row,
        };
        let json = serde_json::to_vec(&record).context("could not encode a result")?;
        write_atomic(&path, &json, false)
    }

    /// A target's latest result, if any was recorded.
    pub fn last(&self, target_id: &str) -> Option<CheckResult> {
        self.last_record(target_id).map(|r| r.result)
    }

    /// A target's latest result and the non-OK results in a row it ends.
    pub fn last_record(&self, target_id: &str) -> Option<LastRecord> {
        let path = self
            .root
            .join("last")
            .join(format!("{}.json", crate::targets::escape(target_id)));
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Merges this run's registration outcomes into `registrations.json`.
    pub fn record_registrations(
        &self,
        outcomes: &BTreeMap<String, Registration>,
    ) -> anyhow::Result<()> {
        let mut all = self.registrations();
        all.extend(outcomes.iter().map(|(k, v)| (k.clone(), v.clone())));
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("could not create state directory {}", self.root.display()))?;
        let json = serde_json::to_vec_pretty(&all).context("could not encode registrations")?;
        write_atomic(&self.root.join("registrations.json"), &json, false)
    }

    /// What `register` last achieved, per target id.
    pub fn registrations(&self) -> BTreeMap<String, Registration> {
        std::fs::read(self.root.join("registrations.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

/// Writes a file so that readers see the old or the new content, never a mix: a temporary file
/// beside it, optionally `fsync`ed (with the directory) when the data must survive a crash.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok::<_, std::io::Error>(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("could not write {}", path.display()))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one", true).unwrap();
        write_atomic(&path, b"two", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn registrations_merge() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().to_path_buf());
        let reg = |ok| Registration {
            at_ms: 1,
            ok,
            error: None,
        };
        state
            .record_registrations(&BTreeMap::from([("a".into(), reg(true))]))
            .unwrap();
        state
            .record_registrations(&BTreeMap::from([("b".into(), reg(false))]))
            .unwrap();
        let all = state.registrations();
        assert_eq!(all.len(), 2);
        assert!(all["a"].ok && !all["b"].ok);
    }
}

/// `last/<id>.json`: the result, and the count beside its fields (older files lack it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastRecord {
    #[serde(flatten)]
    pub result: CheckResult,
    #[serde(default)]
    pub failures_in_a_row: u32,
}
