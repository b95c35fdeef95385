//! `silence ID|--all --for 2h [--reason TEXT]` and `unsilence`: while a mute holds, no notice
//! about the target goes out on any channel. One file for all channels,
//! `<stateDir>/notify/silences.json`; a mute that has ended is dropped at the next write.

use crate::state::{now_ms, write_atomic, StateDir};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One mute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    pub since_ms: u64,
    pub until_ms: u64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Every mute in force (or ended since the last write).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mutes {
    /// `--all`: every target.
    pub all: Option<Mute>,
    /// By target id.
    pub targets: BTreeMap<String, Mute>,
}

impl Mutes {
    fn path(state: &StateDir) -> PathBuf {
        state.root().join("notify").join("silences.json")
    }

    /// The mutes; none when the file is missing. An unreadable file is an error naming it:
    /// guessing "no mute" would send what the admin silenced.
    pub fn load(state: &StateDir) -> anyhow::Result<Mutes> {
        let path = Self::path(state);
        // As the agent reads its own state: not through a link, never blocking on a FIFO.
        match crate::state::read_own_file(&path) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a list of silences", path.display())),
            Ok(None) => Ok(Mutes::default()),
            Err(why) => Err(anyhow::anyhow!("could not read {}: {why}", path.display())),
        }
    }

    /// Writes the mutes, without those that have ended.
    pub fn save(&self, state: &StateDir) -> anyhow::Result<()> {
        let now = now_ms();
        let mut kept = self.clone();
        kept.all = kept.all.filter(|m| m.until_ms > now);
        kept.targets.retain(|_, m| m.until_ms > now);
        let path = Self::path(state);
        let dir = path.parent().expect("a file in notify/");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let json = serde_json::to_vec_pretty(&kept).context("could not encode silences")?;
        write_atomic(&path, &json, true)
    }

    /// The mute that holds for `id` at `at_ms` (the one that lasts longer when both do).
    pub fn holding(&self, id: &str, at_ms: u64) -> Option<&Mute> {
        [self.all.as_ref(), self.targets.get(id)]
            .into_iter()
            .flatten()
            .filter(|m| m.since_ms <= at_ms && at_ms < m.until_ms)
            .max_by_key(|m| m.until_ms)
    }

    /// When the next mute in force ends (a notice may be due then).
    pub fn next_end(&self, now_ms: u64) -> Option<u64> {
        self.all
            .iter()
            .chain(self.targets.values())
            .map(|m| m.until_ms)
            .filter(|&t| t > now_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mute(since_ms: u64, until_ms: u64) -> Mute {
        Mute {
            since_ms,
            until_ms,
            reason: None,
        }
    }

    #[test]
    fn a_mute_holds_from_its_start_to_its_end_for_its_target_or_all() {
        let mut m = Mutes::default();
        m.targets.insert("h-a".into(), mute(100, 200));
        assert!(m.holding("h-a", 99).is_none());
        assert!(m.holding("h-a", 100).is_some());
        assert!(m.holding("h-a", 200).is_none());
        assert!(m.holding("h-b", 150).is_none());
        m.all = Some(mute(0, 300));
        assert_eq!(m.holding("h-a", 150).unwrap().until_ms, 300);
        assert!(m.holding("h-b", 250).is_some());
        assert_eq!(m.next_end(150), Some(200));
        assert_eq!(m.next_end(250), Some(300));
        assert_eq!(m.next_end(300), None);
    }

    #[test]
    fn saving_drops_what_ended_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().to_path_buf());
        assert_eq!(Mutes::load(&state).unwrap(), Mutes::default());
        let now = now_ms();
        let mut m = Mutes::default();
        m.targets.insert("old".into(), mute(0, 1));
        m.targets.insert("new".into(), mute(now, now + 3_600_000));
        m.all = Some(mute(0, 1));
        m.save(&state).unwrap();
        let back = Mutes::load(&state).unwrap();
        assert_eq!(back.targets.keys().collect::<Vec<_>>(), ["new"]);
        assert_eq!(back.all, None, "an --all that ended is dropped");
        m.all = Some(mute(now, now + 60_000));
        m.save(&state).unwrap();
        assert_eq!(
            Mutes::load(&state).unwrap().all,
            m.all,
            "one in force is kept"
        );
        std::fs::write(dir.path().join("notify/silences.json"), b"[").unwrap();
        let e = format!("{:#}", Mutes::load(&state).unwrap_err());
        assert!(
            e.contains("notify/silences.json is not a list of silences"),
            "{e}"
        );
        // Unreadable (here: a directory) is an error too, not "no silences".
        std::fs::remove_file(dir.path().join("notify/silences.json")).unwrap();
        std::fs::create_dir(dir.path().join("notify/silences.json")).unwrap();
        let e = format!("{:#}", Mutes::load(&state).unwrap_err());
        assert!(
            e.contains("could not read") && e.contains("silences.json"),
            "{e}"
        );
    }
}
