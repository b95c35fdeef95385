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

    /// The last registration round, or a default when none was recorded (or the file is
    /// unreadable: see [`StateDir::registration_round_checked`]).
    pub fn registration_round(&self) -> RegistrationRound {
        self.registration_round_checked().0
    }

    /// [`StateDir::registration_round`] and, when `registration.json` is there but cannot be
    /// read, a warning naming it.
    pub fn registration_round_checked(&self) -> (RegistrationRound, Option<String>) {
        let path = self.root.join("registration.json");
        match read_json(&path) {
            Ok(round) => (round.unwrap_or_default(), None),
            Err(why) => (
                RegistrationRound::default(),
                Some(format!(
                    "{} cannot be read ({why}): shown as if no registration was recorded",
                    path.display()
                )),
            ),
        }
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
        let a: Activity = read_json(&self.root.join("activity.json")).ok()??;
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
        // An unreadable file (garbage, a planted link or FIFO) is replaced, counting afresh.
        let before: Option<LastRecord> = read_json(&path).ok().flatten();
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

    /// A target's latest result, if any was recorded; a warning naming the file when it is
    /// there but cannot be read (garbage, a FIFO, …): `status` says so instead of showing
    /// "no last result" as if nothing had come.
    pub fn last(&self, target_id: &str) -> Result<Option<CheckResult>, String> {
        Ok(self.last_record(target_id)?.map(|r| r.result))
    }

    /// [`StateDir::last`] with the non-OK results in a row it ends.
    pub fn last_record(&self, target_id: &str) -> Result<Option<LastRecord>, String> {
        let path = self
            .root
            .join("last")
            .join(format!("{}.json", crate::targets::escape(target_id)));
        read_json(&path).map_err(|why| {
            format!(
                "{} cannot be read ({why}): {target_id} is shown without a last result",
                path.display()
            )
        })
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

    /// What `register` last achieved, per target id (none when unreadable: see
    /// [`StateDir::registrations_checked`]).
    pub fn registrations(&self) -> BTreeMap<String, Registration> {
        self.registrations_checked().0
    }

    /// [`StateDir::registrations`] and, when `registrations.json` is there but cannot be
    /// read, a warning naming it (`status` would show every target as not registered yet).
    pub fn registrations_checked(&self) -> (BTreeMap<String, Registration>, Option<String>) {
        let path = self.root.join("registrations.json");
        match read_json(&path) {
            Ok(all) => (all.unwrap_or_default(), None),
            Err(why) => (
                BTreeMap::new(),
                Some(format!(
                    "{} cannot be read ({why}): every target is shown as not registered yet",
                    path.display()
                )),
            ),
        }
    }
}

/// The most the agent reads of one of its own state files (`registrations.json` of 10,000
/// targets is about 1.5 MB).
const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// Reads one of the agent's state files: `None` when it is not there. Only a regular file is
/// read, not through a link and never blocking (a FIFO or a link to a device would hang
/// `status`), and not beyond [`MAX_STATE_FILE`]; anything else is the reason why not.
pub fn read_own_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err("a symbolic link, not the agent's file".into())
        }
        Err(e) => return Err(e.to_string()),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!(
            "{}, not a regular file",
            crate::secrets::file_type_name(&meta)
        ));
    }
    if meta.len() > MAX_STATE_FILE {
        return Err(format!(
            "{} bytes, more than the agent ever writes there",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(Some(bytes))
}

/// [`read_own_file`] as JSON of `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match read_own_file(path)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("not what the agent writes there: {e}")),
    }
}

/// Writes a file so that readers see the old or the new content, never a mix: a temporary file
/// beside it, optionally `fsync`ed (with the directory) when the data must survive a crash.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> anyhow::Result<()> {
    write_atomic_mode(path, bytes, durable, None)
}

/// [`write_atomic`] with the file's mode set on the open file (so the umask does not matter)
/// before it gets its name. Neither the temporary file nor the file itself is ever written
/// through a symbolic link: the temporary one is made anew (`O_CREAT|O_EXCL`, which never
/// follows a link) after removing whatever has its name, and the rename replaces a link at
/// `path` instead of writing where it points.
pub fn write_atomic_mode(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    mode: Option<u32>,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let result = (|| {
        // A stale one of this pid's, or a link planted in its place.
        let _ = std::fs::remove_file(&tmp);
        let mut file = no_follow().write(true).create_new(true).open(&tmp)?;
        if let Some(mode) = mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
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

/// Options for opening a file the agent writes in its state directory: never through a
/// symbolic link (`O_NOFOLLOW`). A link planted at `local/results.jsonl` made the agent append,
/// as the service user, to whatever file it pointed at.
pub fn no_follow() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW);
    options
}

/// The error of opening `path` with [`no_follow`], saying so when it is a link.
pub fn open_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        anyhow::anyhow!(
            "could not open {}: it is a symbolic link, and the agent never writes through one \
             (remove it)",
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("could not open {}", path.display()))
    }
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
    fn atomic_writes_replace_a_link_and_never_write_through_one() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        let path = dir.path().join("f.json");
        // At the file's name, and at the temporary file's (this process's pid).
        let tmp = dir
            .path()
            .join(format!(".tmp-{}-f.json", std::process::id()));
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        write_atomic_mode(&path, b"new", false, Some(0o640)).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(tmp.symlink_metadata().is_err(), "no temporary file left");
    }

    #[test]
    fn no_follow_refuses_a_link_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        let link = dir.path().join("results.jsonl");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = no_follow()
            .append(true)
            .create(true)
            .open(&link)
            .unwrap_err();
        assert_eq!(
            format!("{:#}", open_error(&link, e)),
            format!(
                "could not open {}: it is a symbolic link, and the agent never writes through \
                 one (remove it)",
                link.display()
            )
        );
        let e = no_follow()
            .write(true)
            .open(dir.path().join("none"))
            .unwrap_err();
        assert!(format!("{:#}", open_error(&dir.path().join("none"), e))
            .ends_with("No such file or directory (os error 2)"));
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
