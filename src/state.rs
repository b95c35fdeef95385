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

impl StateDir {
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

    /// Remembers a target's latest result for `status`. Not fsynced: losing it on a crash only
    /// makes `status` older, and the result itself is in the queue or delivered.
    pub fn record_last(&self, result: &CheckResult) -> anyhow::Result<()> {
        let dir = self.subdir("last")?;
        let path = dir.join(format!("{}.json", crate::targets::escape(&result.target)));
        let json = serde_json::to_vec(result).context("could not encode a result")?;
        write_atomic(&path, &json, false)
    }

    /// A target's latest result, if any was recorded.
    pub fn last(&self, target_id: &str) -> Option<CheckResult> {
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
