//! What a channel remembers between processes, in `<stateDir>/notify/<channel>/`:
//! `targets/<escaped id>.json` (each target's [`Tracked`]), `outbox.json` (events held for
//! the window), and the wake-up mark `notify/due/<channel>` that starts the timers mode's
//! notify unit while something waits.
//!
//! Target files are small and rewritten without fsync (a crash costs at most a notice sent
//! twice); the outbox is fsynced whenever it holds events, since the results that made them
//! have left the queue by then.

use super::decide::Tracked;
use super::group::Outbox;
use crate::state::{write_atomic, StateDir};
use crate::targets::escape;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// One channel's files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    due: PathBuf,
}

impl Store {
    pub fn new(state: &StateDir, channel: &str) -> Store {
        let notify = state.root().join("notify");
        Store {
            dir: notify.join(channel),
            due: notify.join("due").join(channel),
        }
    }

    fn target_path(&self, id: &str) -> PathBuf {
        self.dir
            .join("targets")
            .join(format!("{}.json", escape(id)))
    }

    /// A target's state; a fresh one when none was kept. An unreadable file is set aside as
    /// `<name>.corrupt` with a warning (the target then starts afresh: at worst one notice
    /// is repeated), so it never blocks notices.
    pub fn tracked(&self, id: &str) -> Tracked {
        let path = self.target_path(id);
        read_json(&path).unwrap_or_default()
    }

    pub fn save_tracked(&self, id: &str, tracked: &Tracked) -> anyhow::Result<()> {
        let path = self.target_path(id);
        write_json(&path, tracked, false)
    }

    /// The escaped ids that have a state file (for pruning targets gone from the config).
    pub fn tracked_ids(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.dir.join("targets")) else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json")
                    .filter(|_| !name.starts_with('.'))
                    .map(str::to_string)
            })
            .collect()
    }

    /// Forgets a target no longer in the config (by escaped id).
    pub fn forget(&self, escaped: &str) {
        let path = self.dir.join("targets").join(format!("{escaped}.json"));
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::debug!("could not remove {}: {e}", path.display());
        }
    }

    pub fn outbox(&self) -> Outbox {
        read_json(&self.dir.join("outbox.json")).unwrap_or_default()
    }

    pub fn save_outbox(&self, outbox: &Outbox) -> anyhow::Result<()> {
        write_json(
            &self.dir.join("outbox.json"),
            outbox,
            !outbox.held.is_empty(),
        )
    }

    /// Says that this channel has something waiting (held events, a notice that failed):
    /// the timers mode's path unit starts `nixcloud-monitoring notify` for it.
    pub fn mark_due(&self) {
        let dir = self.due.parent().unwrap_or(Path::new("."));
        let written = std::fs::create_dir_all(dir)
            .map_err(anyhow::Error::from)
            // Replaced, never written through: a link planted there stays harmless.
            .and_then(|()| write_atomic(&self.due, b"", false));
        if let Err(e) = written {
            tracing::warn!("could not write {}: {e:#}", self.due.display());
        }
    }

    /// Nothing waits any more (called with the lane's lock held, so no one marks it meanwhile).
    pub fn clear_due(&self) {
        let _ = std::fs::remove_file(&self.due);
    }
}

/// The JSON in `path`; `None` when it is missing, or unreadable (then moved aside). Read as
/// the agent reads its own state: not through a link, never blocking on a FIFO.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    match crate::state::read_json(path) {
        Ok(v) => v,
        Err(why) => {
            let aside = path.with_extension("json.corrupt");
            tracing::warn!(
                "{} is not readable notification state ({why}): moved to {}; it starts afresh",
                path.display(),
                aside.display()
            );
            let _ = std::fs::rename(path, &aside);
            None
        }
    }
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T, durable: bool) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let json = serde_json::to_vec(value).context("could not encode notification state")?;
    write_atomic(path, &json, durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_garbage_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&StateDir::new(dir.path().to_path_buf()), "mail");
        let t = Tracked {
            in_a_row: 4,
            ..Default::default()
        };
        store.save_tracked("h-a b", &t).unwrap();
        assert_eq!(store.tracked("h-a b"), t);
        assert_eq!(store.tracked_ids(), ["h-a_b"]);
        let path = dir.path().join("notify/mail/targets/h-a_b.json");
        std::fs::write(&path, b"{\"in_a_row\": ").unwrap();
        assert_eq!(store.tracked("h-a b"), Tracked::default());
        assert!(dir
            .path()
            .join("notify/mail/targets/h-a_b.json.corrupt")
            .exists());
        store.forget("h-a_b");
        assert!(store.tracked_ids().is_empty());
    }

    #[test]
    fn the_due_mark_comes_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&StateDir::new(dir.path().to_path_buf()), "mail");
        let mark = dir.path().join("notify/due/mail");
        store.mark_due();
        assert!(mark.exists());
        store.clear_due();
        assert!(!mark.exists());
    }
}
