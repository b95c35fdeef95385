//! The `prometheus` backend: the node exporter's textfile collector. Every registration and
//! result rewrites one `.prom` file (default `<stateDir>/prometheus/nixcloud-monitoring.prom`,
//! `[prometheus] textfile` elsewhere) that the node exporter serves and Prometheus scrapes;
//! alert rules on it (state, staleness against the timeout) live on the Prometheus side.
//!
//! Only passive targets appear: Prometheus runs the active ones itself, with the blackbox
//! exporter the NixOS module configures. What the file is made from is kept in
//! `<stateDir>/prometheus/targets.json` ([`store`]); the file is rewritten whole each time,
//! under a lock, so a `register` and a delivery in two processes do not undo each other.

mod exposition;
mod perfdata;
mod store;

use super::{rows_of_one_write, Api, Registered};
use crate::config::Config;
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::{now_ms, write_atomic, StateDir};
use crate::targets::Target;
use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use store::Store;

/// Writes the textfile from the state in `<stateDir>/prometheus/`.
pub struct Prometheus {
    /// `<stateDir>/prometheus`: `targets.json` and the lock.
    dir: PathBuf,
    textfile: PathBuf,
}

impl Prometheus {
    pub fn new(config: &Config, state: &StateDir) -> anyhow::Result<Prometheus> {
        let dir = state.root().join("prometheus");
        let textfile = config
            .prometheus
            .textfile
            .clone()
            .unwrap_or_else(|| dir.join("nixcloud-monitoring.prom"));
        Ok(Prometheus { dir, textfile })
    }

    /// Loads the store under the lock, lets `change` edit it, saves it when `change` says it
    /// changed, and rewrites the textfile.
    fn update(&self, change: impl FnOnce(&mut Store) -> bool) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        let lock_path = self.dir.join("lock");
        let lock = crate::state::no_follow()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| crate::state::open_error(&lock_path, e))?;
        lock.lock()
            .with_context(|| format!("could not lock {}", lock_path.display()))?;
        let state_path = self.dir.join("targets.json");
        let started = std::time::Instant::now();
        let mut store = load(&state_path);
        let loaded = started.elapsed();
        let changed = change(&mut store);
        if changed {
            let json = serde_json::to_vec(&store).context("could not encode the targets")?;
            // Not fsynced (as `last/` is not): a crash loses at most the newest results of the
            // textfile, which the next result of each target puts right, and an fsync per
            // result would be most of the rewrite's time (benches/prometheus-textfile.sh).
            write_atomic(&state_path, &json, false)?;
        }
        let saved = started.elapsed();
        let text = exposition::render(&store);
        let rendered = started.elapsed();
        write_textfile(&self.textfile, text.as_bytes())?;
        // benches/prometheus-textfile.sh reads this line.
        tracing::debug!(
            "prometheus: {} targets: store read {} µs, saved {} µs{}, rendered {} µs, \
             textfile {} ({} bytes) written {} µs; total {} µs",
            store.targets.len(),
            loaded.as_micros(),
            (saved - loaded).as_micros(),
            if changed { "" } else { " (unchanged)" },
            (rendered - saved).as_micros(),
            self.textfile.display(),
            text.len(),
            (started.elapsed() - rendered).as_micros(),
            started.elapsed().as_micros(),
        );
        drop(lock);
        Ok(())
    }
}

/// The store, or an empty one when there is none yet. One that cannot be read is started
/// afresh with a warning: it only holds what the next registration and results give again,
/// and refusing would stop every delivery.
fn load(path: &Path) -> Store {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}; starting it afresh", path.display());
            Store::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Store::default(),
        Err(e) => {
            tracing::warn!("could not read {}: {e}; starting it afresh", path.display());
            Store::default()
        }
    }
}

/// Replaces the textfile atomically with mode 0644 (the node exporter runs as its own user).
/// The temporary file's name does not end in `.prom`: the collector reads every `*.prom` in
/// the directory, hidden ones too, and would serve a half-written copy (or the same series
/// twice, which fails the whole scrape). That is why this is not [`write_atomic`], whose
/// temporary file keeps the name's ending. Not fsynced: the file is made again from the
/// (durable) store at every change.
fn write_textfile(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::create_dir_all(dir).and_then(|()| {
        // Made anew, never through a link planted in its place (see state::write_atomic).
        let _ = std::fs::remove_file(&tmp);
        let mut file = crate::state::no_follow()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        // Set on the open file, so the umask does not matter.
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("could not write the textfile {}", path.display()))
}

impl Api for Prometheus {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        let at_ms = now_ms();
        let written = self.update(|store| {
            store.register(targets, complete, at_ms);
            true
        });
        let passive = targets.iter().filter(|t| t.passive().is_some());
        rows_of_one_write(passive, &written, "prometheus: registering")
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        self.update(|store| store.record(result, target))
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("prometheus: {e:#}")))
    }

    /// A backlog (or `sync`'s many results) costs one rewrite per 1,000 results, not one per
    /// result.
    fn batch(&self) -> usize {
        1000
    }

    async fn deliver_many(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
    ) -> Result<(), DeliveryError> {
        self.update(|store| {
            items.iter().fold(false, |changed, (result, target)| {
                store.record(result, *target) | changed
            })
        })
        .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("prometheus: {e:#}")))
    }

    /// No secret: the file is local.
    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}
