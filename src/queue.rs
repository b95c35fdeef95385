//! The durable queue of results not yet delivered.
//!
//! One JSON file per result in `queue/`, named by the result id, so the directory listing is
//! the delivery order. A result is written (temp file, fsync, rename, fsync of the directory)
//! before the first delivery attempt: once `submit` returns, the result survives a crash or a
//! kill in mid-delivery. Whoever delivers holds an exclusive lock on `queue/.lock`, so parallel
//! runs never send one result twice; appending needs no lock, since every name is new.
//!
//! `spool/` is the inbox for group members who may not read the key: they drop results there
//! (group-writable), and the next delivery, run as the service user, moves them into `queue/`.
//! `rejected/` keeps what the server refused for good. `queue/corrupt/` keeps what was found
//! in `queue/` or `spool/` under a result's name but is no result (truncated, empty, not JSON,
//! a directory, a FIFO): it is moved there with a `<name>.reason` beside it and a warning, so it
//! never blocks delivery and `status` counts it.
//!
//! With several backends each has a lane of its own, `queue/<backend>/` (with its own
//! `corrupt/`, `.lock` and `.last-error`) and `rejected/<backend>/`: every accepted result is
//! written to each lane, so a backend that is down holds up only its own. Whoever delivers
//! the first lane adopts the spool into every lane, and also what a single-backend agent left
//! in `queue/` itself, so switching to several backends loses nothing.

use crate::config::QueueSettings;
use crate::result::CheckResult;
use crate::state::{now_ms, write_atomic, StateDir};
use anyhow::{bail, Context};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The queue directories below the state directory.
#[derive(Debug, Clone)]
pub struct Queue {
    queue: PathBuf,
    spool: PathBuf,
    rejected: PathBuf,
    corrupt: PathBuf,
    limits: QueueSettings,
    /// `queue/` itself when this is a lane: results queued before there were several backends.
    legacy: Option<PathBuf>,
    /// Set for a command that knows one target only ([`Queue::only_target`]).
    only: Option<String>,
}

/// A queued result and the file that holds it.
#[derive(Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub result: CheckResult,
}

/// Proof of holding the delivery lock; released on drop.
pub struct DeliveryLock {
    _file: File,
}

/// How full the queue is, for `status` and the daemon.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct QueueStats {
    pub count: usize,
    pub bytes: u64,
    /// Measurement time (ms since the epoch) of the oldest queued result.
    pub oldest_ms: Option<u64>,
    pub spooled: usize,
    pub rejected: usize,
    /// Unreadable entries moved aside to `queue/corrupt/`.
    pub corrupt: usize,
    /// Entries in the queue that are no result and wait to be moved aside by the next
    /// delivery (counted by [`Queue::survey`] only; not in `count`).
    pub unreadable: usize,
    /// The error that stopped the last delivery, if it failed.
    pub last_error: Option<String>,
}

impl QueueStats {
    /// Adds another lane's figures (the oldest of both; the errors one after the other).
    pub fn add(&mut self, other: QueueStats) {
        self.count += other.count;
        self.bytes += other.bytes;
        self.oldest_ms = match (self.oldest_ms, other.oldest_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // One spool serves every lane.
        self.spooled = self.spooled.max(other.spooled);
        self.rejected += other.rejected;
        self.corrupt += other.corrupt;
        self.unreadable += other.unreadable;
        self.last_error = match (self.last_error.take(), other.last_error) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
    }
}

/// A queue as `status` sees it ([`Queue::survey`]).
pub struct Survey {
    pub stats: QueueStats,
    /// The queued results, oldest first.
    pub results: Vec<CheckResult>,
    /// Entries that are no result, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The queue is at its bound; the caller must not pretend the result was accepted.
#[derive(Debug)]
pub struct QueueFull(pub String);

impl std::fmt::Display for QueueFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueueFull {}

impl Queue {
    /// The queue in `state` with the configured bounds.
    pub fn new(state: &StateDir, limits: QueueSettings) -> Queue {
        let root = state.root();
        Queue {
            queue: root.join("queue"),
            spool: root.join("spool"),
            rejected: root.join("rejected"),
            corrupt: root.join("queue").join("corrupt"),
            limits,
            legacy: None,
            only: None,
        }
    }

    /// One backend's lane when there are several: `queue/<name>/`, `rejected/<name>/`.
    pub fn lane(state: &StateDir, limits: QueueSettings, name: &str) -> Queue {
        let root = state.root();
        let queue = root.join("queue").join(name);
        Queue {
            corrupt: queue.join("corrupt"),
            queue,
            spool: root.join("spool"),
            rejected: root.join("rejected").join(name),
            limits,
            legacy: Some(root.join("queue")),
            only: None,
        }
    }

    /// This queue as a command that read one target of the config alone sees it: its
    /// delivery passes send that target's results only and leave the spool alone, since the
    /// keys and settings of other targets are unknown to it. Whoever queued the others
    /// delivers them (every command delivers after queuing), and so do `flush`, the flush
    /// timer and the daemon.
    pub fn only_target(mut self, id: &str) -> Queue {
        self.only = Some(id.to_string());
        self
    }

    /// Whether any result waits here, in the spool or (for a lane) in `queue/` itself: cheap,
    /// it stops at the first.
    pub fn has_results(&self) -> bool {
        let any_json = |dir: &Path| {
            std::fs::read_dir(dir)
                .map(|mut d| {
                    d.any(|e| {
                        e.is_ok_and(|e| {
                            let name = e.file_name();
                            let name = name.to_string_lossy();
                            !name.starts_with('.') && name.ends_with(".json")
                        })
                    })
                })
                .unwrap_or(false)
        };
        any_json(&self.queue) || self.has_spooled()
    }

    /// Durably appends a result; fails with [`QueueFull`] at the configured bounds.
    pub fn push(&self, result: &CheckResult) -> anyhow::Result<PathBuf> {
        let path = self.push_unsynced(result)?;
        sync_file_and_dir(&path)?;
        Ok(path)
    }

    /// Appends a result without waiting for the disk: it survives the process being killed
    /// (the page cache has it) but not a power cut until [`sync_file_and_dir`] is called.
    /// `submit` uses this so that a delivery that succeeds at once costs no fsync.
    pub fn push_unsynced(&self, result: &CheckResult) -> anyhow::Result<PathBuf> {
        create_dir(&self.queue)?;
        let json = serde_json::to_vec(result).context("could not encode a result")?;
        let stats = self.stats();
        if stats.count >= self.limits.max_count
            || stats.bytes + json.len() as u64 > self.limits.max_bytes
        {
            let oldest = stats
                .oldest_ms
                .map(|ms| format!(", oldest measured {}", format_ms(ms)))
                .unwrap_or_default();
            return Err(anyhow::Error::new(QueueFull(format!(
                "the queue in {} is full: {} results, {} bytes (limits: queue.maxCount = {}, queue.maxBytes = {}){oldest}; \
                 the result for {} was NOT accepted. Is the server reachable? See `nixcloud-monitoring status`.",
                self.queue.display(),
                stats.count,
                stats.bytes,
                self.limits.max_count,
                self.limits.max_bytes,
                result.target
            ))));
        }
        let path = self.queue.join(format!("{}.json", result.id));
        write_atomic(&path, &json, false)?;
        Ok(path)
    }

    /// Drops a result into the group-writable spool for the service to deliver.
    pub fn push_spool(&self, result: &CheckResult) -> anyhow::Result<PathBuf> {
        let json = serde_json::to_vec(result).context("could not encode a result")?;
        let path = self.spool.join(format!("{}.json", result.id));
        // On NixOS the module creates it; elsewhere the first submit or delivery does.
        if let Err(e) = self.ensure_spool() {
            tracing::debug!("{e:#}");
        }
        // Readable by the service user, who moves it into the queue.
        crate::state::write_atomic_mode(&path, &json, true, Some(0o660)).with_context(|| {
            format!(
                "could not hand the result to the nixcloud-monitoring service through {}: \
                 only root and members of the group nixcloud-monitoring may submit results",
                self.spool.display()
            )
        })?;
        Ok(path)
    }

    /// Creates the spool as the NixOS module does: mode 2770 (setgid, so that every file
    /// dropped there belongs to the group; group-writable) with the state directory's group.
    /// An existing spool is left as it is.
    pub fn ensure_spool(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if self.spool.symlink_metadata().is_ok() {
            return Ok(());
        }
        let state = self.spool.parent().unwrap_or(Path::new("."));
        create_dir(state)?;
        match std::fs::DirBuilder::new().mode(0o770).create(&self.spool) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => {
                return Err(e).with_context(|| format!("could not create {}", self.spool.display()))
            }
        }
        let gid = std::fs::metadata(state)
            .with_context(|| format!("could not stat {}", state.display()))?
            .gid();
        // The group first: changing it clears the setgid bit.
        if let Err(e) = std::os::unix::fs::chown(&self.spool, None, Some(gid)) {
            tracing::warn!(
                "could not give {} the group (gid {gid}) of {}: {e}",
                self.spool.display(),
                state.display()
            );
        }
        set_mode(&self.spool, 0o2770);
        Ok(())
    }

    /// Waits for the exclusive right to deliver.
    pub fn lock(&self) -> anyhow::Result<DeliveryLock> {
        let file = self.lock_file()?;
        file.lock()
            .with_context(|| format!("could not lock {}", self.queue.join(".lock").display()))?;
        Ok(DeliveryLock { _file: file })
    }

    /// Takes the delivery lock if nobody holds it.
    pub fn try_lock(&self) -> anyhow::Result<Option<DeliveryLock>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DeliveryLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e)
                .with_context(|| format!("could not lock {}", self.queue.join(".lock").display())),
        }
    }

    fn lock_file(&self) -> anyhow::Result<File> {
        create_dir(&self.queue)?;
        let path = self.queue.join(".lock");
        crate::state::no_follow()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| crate::state::open_error(&path, e))
    }

    /// Moves spooled results into the queue (and a copy into each of `others`, the other
    /// lanes) and returns them. The spool is written by group members who may not read the
    /// key, so each entry is untrusted: one that is no result, or that `vet` refuses (its
    /// target is not in the config, its host and name are not the target's), goes to
    /// `queue/corrupt/` with the reason and is never delivered; output and perfdata get the
    /// 64 KiB cut of every result. What is queued is a copy the service user wrote, not the
    /// group member's file. A file that cannot be moved stays in the spool (a warning), and
    /// the others are still adopted. A lane also adopts what was queued in `queue/` before
    /// there were several backends (written by the owner, so not vetted).
    pub fn adopt_spool(
        &self,
        _lock: &DeliveryLock,
        others: &[&Queue],
        vet: &dyn Fn(&CheckResult) -> Result<(), String>,
    ) -> anyhow::Result<Vec<CheckResult>> {
        // The owner creates the spool, so that group members can hand results in.
        if let Err(e) = self.ensure_spool() {
            tracing::warn!("{e:#}");
        }
        if self.only.is_some() {
            return Ok(Vec::new());
        }
        let mut moved = Vec::new();
        let spooled = list_json(&self.spool)?.into_iter().map(|p| (p, true));
        let legacy = self
            .legacy
            .iter()
            .flat_map(|l| list_json(l).unwrap_or_default());
        for (path, untrusted) in spooled.chain(legacy.map(|p| (p, false))) {
            let result = match inspect(&path) {
                Ok(result) if untrusted => match vet(&result) {
                    Ok(()) => result.cut(),
                    Err(why) => {
                        self.move_corrupt(&path, &format!("refused from the spool: {why}"));
                        continue;
                    }
                },
                Ok(result) => result,
                Err(Unreadable::Gone) => continue,
                Err(Unreadable::Corrupt(why)) => {
                    self.move_corrupt(&path, &why);
                    continue;
                }
            };
            match self.take_in(&path, &result, others) {
                Ok(()) => moved.push(result),
                Err(e) => tracing::warn!(
                    "could not move {} into the queue: {e:#}; it stays where it is",
                    path.display()
                ),
            }
        }
        Ok(moved)
    }

    /// Writes `result` (found in `path`) into this queue and each of `others`, then removes
    /// `path`. Copies first: should this stop half-way, the file is still there and is adopted
    /// again (the copies keep their names, so nothing is queued twice).
    fn take_in(&self, path: &Path, result: &CheckResult, others: &[&Queue]) -> anyhow::Result<()> {
        let name = path.file_name().unwrap_or_default();
        let json = serde_json::to_vec(result).context("could not encode a result")?;
        for queue in std::iter::once(&self.queue).chain(others.iter().map(|l| &l.queue)) {
            create_dir(queue)?;
            write_atomic(&queue.join(name), &json, true)?;
        }
        std::fs::remove_file(path).with_context(|| format!("could not remove {}", path.display()))
    }

    /// Every queued result, oldest first. What is no result (truncated, empty, not JSON, a
    /// directory, …) is moved to `queue/corrupt/` with a warning: it neither stops nor fails
    /// the pass, and a failure to move it is only a warning too (it is skipped). (Delivery
    /// reads them one by one instead: [`Queue::pending_paths`].)
    #[cfg(test)]
    pub fn pending(&self, lock: &DeliveryLock) -> anyhow::Result<Vec<Entry>> {
        let paths = self.pending_paths(lock)?;
        Ok(paths.iter().filter_map(|p| self.entry(p)).collect())
    }

    /// The files of the queued results, oldest first, without reading them: a delivery pass
    /// reads each one when its turn comes ([`Queue::entry`]), so a backlog of 10,000 results
    /// is never in memory at once.
    pub fn pending_paths(&self, _lock: &DeliveryLock) -> anyhow::Result<Vec<PathBuf>> {
        list_json(&self.queue)
    }

    /// The queued result in `path`; `None` when it is gone, belongs to another target (see
    /// [`Queue::only_target`]) or is no result (then moved to `queue/corrupt/` with a warning).
    pub fn entry(&self, path: &Path) -> Option<Entry> {
        match inspect(path) {
            Ok(result) if self.only.as_ref().is_some_and(|id| *id != result.target) => None,
            Ok(result) => Some(Entry {
                path: path.to_path_buf(),
                result,
            }),
            Err(Unreadable::Gone) => None,
            Err(Unreadable::Corrupt(why)) => {
                self.move_corrupt(path, &why);
                None
            }
        }
    }

    /// Moves an unreadable entry to `queue/corrupt/` (keeping its name, with `<name>.reason`
    /// beside it) and warns naming it. Returns where it went; `None` (after a warning) when it
    /// could not be moved.
    fn move_corrupt(&self, path: &Path, why: &str) -> Option<PathBuf> {
        let reason = format!(
            "{why}\n(moved here from {} at {})\n",
            path.display(),
            format_ms(now_ms())
        );
        match set_aside_in(&self.corrupt, path, &reason) {
            Ok(dest) => {
                tracing::warn!(
                    "{} is not a readable result ({why}): moved to {}",
                    path.display(),
                    dest.display()
                );
                Some(dest)
            }
            Err(e) => {
                tracing::warn!(
                    "{} is not a readable result ({why}) and could not be moved aside: {e:#}; skipped",
                    path.display()
                );
                None
            }
        }
    }

    /// What `status` and `status --check` report, read the same way for both so that their
    /// counts agree: every entry is read (without the delivery lock: a result may be delivered
    /// meanwhile); the figures count the results only, and the entries that are no result are
    /// listed with the reason (the next delivery moves them to `queue/corrupt/`).
    pub fn survey(&self) -> Survey {
        let mut stats = self.stats();
        let (mut results, mut unreadable) = (Vec::new(), Vec::new());
        let (mut count, mut bytes) = (0, 0);
        for path in list_json(&self.queue).unwrap_or_default() {
            match inspect(&path) {
                Ok(result) => {
                    count += 1;
                    bytes += std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
                    results.push(result);
                }
                Err(Unreadable::Gone) => {}
                Err(Unreadable::Corrupt(why)) => unreadable.push((path, why)),
            }
        }
        stats.count = count;
        stats.bytes = bytes;
        stats.oldest_ms = results.first().and_then(|r| id_time_ms(&r.id));
        stats.unreadable = unreadable.len();
        Survey {
            stats,
            results,
            unreadable,
        }
    }

    /// Forgets a delivered result. Not fsynced: should the removal be lost in a crash, the
    /// result is sent again with the same id, which the server can drop.
    pub fn remove(&self, entry: &Entry) -> anyhow::Result<()> {
        std::fs::remove_file(&entry.path)
            .with_context(|| format!("could not remove {}", entry.path.display()))
    }

    /// Keeps a result the server refused, with the reason, in `rejected/`.
    pub fn reject(&self, entry: &Entry, reason: &str) -> anyhow::Result<()> {
        self.set_aside(&entry.path, reason)
    }

    fn set_aside(&self, path: &Path, reason: &str) -> anyhow::Result<()> {
        set_aside_in(&self.rejected, path, reason).map(drop)
    }

    /// Where unreadable entries are kept (`<stateDir>/queue/corrupt`).
    pub fn corrupt_dir(&self) -> &Path {
        &self.corrupt
    }

    /// Where a result with this id is now: queued, spooled, rejected, corrupt (its file was
    /// unreadable and moved aside), or none (delivered).
    pub fn whereabouts(&self, id: &str) -> Option<&'static str> {
        let name = format!("{id}.json");
        [
            (&self.queue, "queued"),
            (&self.spool, "spooled"),
            (&self.rejected, "rejected"),
            (&self.corrupt, "corrupt"),
        ]
        .into_iter()
        .find(|(dir, _)| dir.join(&name).symlink_metadata().is_ok())
        .map(|(_, label)| label)
    }

    /// Why the server refused a result, as kept beside it in `rejected/`.
    pub fn rejection_reason(&self, id: &str) -> String {
        std::fs::read_to_string(self.rejected.join(format!("{id}.json.reason"))).unwrap_or_default()
    }

    /// Why a result's file was moved to `queue/corrupt/`, as kept beside it.
    pub fn corrupt_reason(&self, id: &str) -> String {
        std::fs::read_to_string(self.corrupt.join(format!("{id}.json.reason")))
            .map(|s| s.lines().next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Records why the last delivery stopped (or clears it after a good one).
    pub fn set_last_error(&self, error: Option<&str>) {
        let path = self.queue.join(".last-error");
        let _ = match error {
            Some(e) => write_atomic(&path, format!("{} {e}", now_ms()).as_bytes(), false),
            None => std::fs::remove_file(&path).or(Ok(())),
        };
    }

    /// Whether group members left results in the spool, or a lane finds results queued
    /// before there were several backends (cheap enough to poll).
    pub fn has_spooled(&self) -> bool {
        let any_json = |dir: &Path| {
            std::fs::read_dir(dir)
                .map(|mut d| {
                    d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
                })
                .unwrap_or(false)
        };
        any_json(&self.spool) || self.legacy.as_deref().is_some_and(any_json)
    }

    /// Counts and sizes, read from the directory listings.
    pub fn stats(&self) -> QueueStats {
        let mut stats = QueueStats::default();
        for path in list_json(&self.queue).unwrap_or_default() {
            let meta = std::fs::symlink_metadata(&path);
            // A directory named like a result waits for nothing; delivery moves it aside.
            if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                continue;
            }
            stats.count += 1;
            stats.bytes += meta.map(|m| m.len()).unwrap_or(0);
            if stats.oldest_ms.is_none() {
                stats.oldest_ms = path
                    .file_name()
                    .and_then(|n| id_time_ms(&n.to_string_lossy()));
            }
        }
        stats.spooled = list_json(&self.spool).map(|v| v.len()).unwrap_or(0);
        stats.rejected = list_json(&self.rejected).map(|v| v.len()).unwrap_or(0);
        stats.corrupt = count_corrupt(&self.corrupt);
        stats.last_error = std::fs::read_to_string(self.queue.join(".last-error"))
            .ok()
            .map(|s| {
                let (when, what) = s.split_once(' ').unwrap_or(("", &s));
                let when = when.parse().map(format_ms).unwrap_or_default();
                format!("{when}: {what}")
            });
        stats
    }
}

/// Makes a queued file and its directory entry durable.
pub fn sync_file_and_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .and_then(|()| File::open(dir)?.sync_all())
        .with_context(|| format!("could not sync {} to disk", path.display()))
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))
}

/// `*.json` files in `dir`, sorted by name (= by time of measurement); none if it is missing.
fn list_json(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            !name.starts_with('.') && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Why an entry named like a result could not be used.
#[derive(Debug, PartialEq, Eq)]
enum Unreadable {
    /// It vanished meanwhile (nothing to do).
    Gone,
    /// It is no result; the reason, for `<name>.reason`.
    Corrupt(String),
}

/// The largest file read as a result. One the agent writes is at most about 800 KiB (64 KiB
/// of output and of perfdata, every byte JSON-escaped to at most 6); a spooled one may be
/// larger and gets the 64 KiB cut, but one beyond this is set aside unread.
const MAX_RESULT_FILE: u64 = 16 * 1024 * 1024;

/// Reads the result an entry of `queue/` or `spool/` holds. Only a regular file is read,
/// opened without following a link and without blocking (a FIFO would block delivery for
/// ever; a link in the group-writable spool could point at a file of the service user's),
/// and only up to [`MAX_RESULT_FILE`]. A result with a malformed id or a time after the year
/// 9999 is no result either ([`CheckResult::problem`]).
fn inspect(path: &Path) -> Result<CheckResult, Unreadable> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let gone_or = |e: std::io::Error, what: &str| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Unreadable::Gone
        } else {
            Unreadable::Corrupt(format!("{what}: {e}"))
        }
    };
    let opened = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Unreadable::Corrupt(
                "a symbolic link, not a result file".into(),
            ))
        }
        Err(e) => return Err(gone_or(e, "could not open it")),
    };
    let meta = file
        .metadata()
        .map_err(|e| gone_or(e, "could not stat it"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(Unreadable::Corrupt(format!("{what}, not a result file")));
    }
    if meta.len() > MAX_RESULT_FILE {
        return Err(Unreadable::Corrupt(format!(
            "{} bytes, larger than any result ({MAX_RESULT_FILE} bytes at most)",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_RESULT_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| gone_or(e, "could not read it"))?;
    if bytes.is_empty() {
        return Err(Unreadable::Corrupt("empty file (0 bytes)".into()));
    }
    let result: CheckResult = serde_json::from_slice(&bytes).map_err(|e| {
        let what = if e.is_eof() {
            "truncated"
        } else {
            "not a result"
        };
        Unreadable::Corrupt(format!("{what} ({} bytes): {e}", bytes.len()))
    })?;
    if let Some(why) = result.problem() {
        return Err(Unreadable::Corrupt(why));
    }
    if path
        .file_stem()
        .map(|s| s.to_string_lossy() != result.id)
        .unwrap_or(true)
    {
        return Err(Unreadable::Corrupt(format!(
            "the file name does not match the result id {}",
            result.id
        )));
    }
    Ok(result)
}

/// Moves `path` into `dir` under its own name (a suffix `.1`, `.2`, … only when that name is
/// taken) and writes the reason beside it as `<name>.reason`; returns the new path.
fn set_aside_in(dir: &Path, path: &Path, reason: &str) -> anyhow::Result<PathBuf> {
    create_dir(dir)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut dest = dir.join(&name);
    let mut n = 0;
    while dest.symlink_metadata().is_ok() {
        n += 1;
        if n > 1000 {
            bail!("{} holds too many entries named {name}", dir.display());
        }
        dest = dir.join(format!("{name}.{n}"));
    }
    std::fs::rename(path, &dest)
        .with_context(|| format!("could not move {} to {}", path.display(), dest.display()))?;
    let dest_name = dest.file_name().unwrap_or_default().to_string_lossy();
    write_atomic(
        &dir.join(format!("{dest_name}.reason")),
        reason.as_bytes(),
        false,
    )?;
    Ok(dest)
}

/// Entries in `queue/corrupt/`, not counting the `.reason` files.
fn count_corrupt(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    !name.starts_with('.') && !name.ends_with(".reason")
                })
                .count()
        })
        .unwrap_or(0)
}

/// The measurement time encoded at the start of a result id (nanoseconds); none for a name
/// that is no id or a time after the year 9999.
fn id_time_ms(name: &str) -> Option<u64> {
    let nanos: u128 = name.split('-').next()?.parse().ok()?;
    u64::try_from(nanos / 1_000_000)
        .ok()
        .filter(|&ms| ms <= crate::result::LATEST_MS)
}

/// An RFC 3339 UTC time, to the second, for any number: a time after the year 9999 (which
/// RFC 3339 cannot write, and whose formatting panicked) is said to be that.
pub fn format_ms(ms: u64) -> String {
    if ms > crate::result::LATEST_MS {
        return format!("{ms} ms after 1970 (after the year 9999)");
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(test)]
mod tests;
