//! The histories on disk: `<stateDir>/page/history/<escaped id>.hist`, one file per target,
//! each replaced whole (temporary file and rename) when it changes, so a crash leaves the old
//! or the new version, never a mix. A file that cannot be read as a history (truncated,
//! garbage, not a file) is moved to `history/corrupt/` with a `.reason` beside it and a
//! warning: the page is still written from the others, and that target's next result or
//! registration starts a new history. Only used under the page's lock.

use super::codec;
use super::history::History;
use crate::state::write_atomic;
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The file name of a target's files (history, badge): the escaped id (`A-Z a-z 0-9 . _ -`,
/// no leading dot), safe in file names and URLs; a very long one is shortened with a hash of
/// the id, to stay within file name limits.
pub fn stem(id: &str) -> String {
    let escaped = crate::targets::escape(id);
    if escaped.len() <= 120 {
        return escaped;
    }
    use sha2::Digest;
    let hash = sha2::Sha256::digest(id.as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &escaped[..100])
}

/// The histories, read when first needed: a result reads its own target's alone.
pub struct Store {
    dir: PathBuf,
    /// The file stems in the directory (`<stem>.hist`).
    on_disk: BTreeSet<String>,
    histories: BTreeMap<String, History>,
    dirty: BTreeSet<String>,
    removed: BTreeSet<String>,
}

impl Store {
    /// Lists the histories in `dir` (created when missing).
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let mut on_disk = BTreeSet::new();
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("could not read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("could not read {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                // Left by a process that died between writing and renaming: under the lock no
                // one else is writing.
                let _ = std::fs::remove_file(entry.path());
            } else if let Some(stem) = name.strip_suffix(".hist") {
                on_disk.insert(stem.to_string());
            }
        }
        Ok(Store {
            dir: dir.to_path_buf(),
            on_disk,
            histories: BTreeMap::new(),
            dirty: BTreeSet::new(),
            removed: BTreeSet::new(),
        })
    }

    /// The stems of every history on disk (changes made here included once saved).
    pub fn stems(&self) -> &BTreeSet<String> {
        &self.on_disk
    }

    /// Reads the history in `<stem>.hist`; one that cannot be read is set aside (and then
    /// no longer on disk).
    pub fn load_stem(&mut self, stem: &str) -> Option<&History> {
        let name = format!("{stem}.hist");
        let path = self.dir.join(&name);
        let read = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| codec::decode(&b));
        match read {
            Ok(h) => {
                let id = h.id.clone();
                Some(self.histories.entry(id).or_insert(h))
            }
            Err(e) => {
                set_aside(&self.dir, &path, &name, &e);
                self.on_disk.remove(stem);
                None
            }
        }
    }

    /// The history of `id`, if there is a readable one.
    pub fn get(&mut self, id: &str) -> Option<&History> {
        if !self.histories.contains_key(id) {
            let stem = stem(id);
            if !self.on_disk.contains(&stem) {
                return None;
            }
            // Another id with the same escaped form is not this one.
            self.load_stem(&stem).filter(|h| h.id == id)?;
        }
        self.histories.get(id)
    }

    /// Lets `change` edit the history of `id` (made by `make` when there is none) and saves
    /// it in [`Store::save`] when `change` says it changed.
    pub fn edit(
        &mut self,
        id: &str,
        make: impl FnOnce() -> History,
        change: impl FnOnce(&mut History) -> bool,
    ) {
        let fresh = self.get(id).is_none();
        if fresh {
            self.histories.insert(id.to_string(), make());
        }
        let h = self.histories.get_mut(id).expect("inserted above");
        if change(h) || fresh {
            self.dirty.insert(id.to_string());
            self.removed.remove(&stem(id));
        }
    }

    /// Removes the histories whose stem `keep` refuses.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self.on_disk.iter().filter(|s| !keep(s)).cloned().collect();
        for s in gone {
            self.on_disk.remove(&s);
            self.removed.insert(s);
        }
        self.histories.retain(|id, _| keep(&stem(id)));
        self.dirty.retain(|id| keep(&stem(id)));
    }

    /// Writes the changed histories and removes the forgotten ones; returns the ids written.
    /// Not fsynced: a crash loses at most the newest results, and an fsync per result would
    /// cost more than the whole page (benches/page.sh).
    pub fn save(&mut self) -> anyhow::Result<BTreeSet<String>> {
        let written = std::mem::take(&mut self.dirty);
        for id in &written {
            let stem = stem(id);
            let path = self.dir.join(format!("{stem}.hist"));
            write_atomic(&path, &codec::encode(&self.histories[id]), false)?;
            self.on_disk.insert(stem);
        }
        for stem in std::mem::take(&mut self.removed) {
            let path = self.dir.join(format!("{stem}.hist"));
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("could not remove {}", path.display()))
                }
                _ => {}
            }
        }
        Ok(written)
    }
}

/// Moves an unreadable history to `corrupt/` (a new name if one is there already) with its
/// reason, and says so. If even that fails, the file is left and the warning says it.
fn set_aside(dir: &Path, path: &Path, name: &str, why: &anyhow::Error) {
    let corrupt = dir.join("corrupt");
    let mut to = corrupt.join(name);
    if to.exists() {
        to = corrupt.join(format!("{name}.{}", crate::state::now_ms()));
    }
    let moved = std::fs::create_dir_all(&corrupt)
        .and_then(|()| std::fs::rename(path, &to))
        .and_then(|()| {
            let mut reason = to.clone().into_os_string();
            reason.push(".reason");
            std::fs::write(reason, format!("{why:#}\n"))
        });
    match moved {
        Ok(()) => tracing::warn!(
            "page: {}: {why:#}; moved to {} (the page is written without it; the target's \
             next result starts a new history)",
            path.display(),
            to.display()
        ),
        Err(e) => tracing::warn!(
            "page: {}: {why:#}; left where it is (could not move it to {}: {e}); the page is \
             written without it",
            path.display(),
            corrupt.display()
        ),
    }
}
