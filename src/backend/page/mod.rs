//! The `page` backend: a status page as static files. Every result and every registration
//! updates the targets' histories in `<stateDir>/page/history/` ([`store`], [`history`]) and
//! rewrites the page's directory (`[page] dir`, default `<stateDir>/page/site`): `index.html`
//! for people, `status.json` for machines (docs/page.md), `badges/<escaped id>.svg`, and each
//! changed target's own page and details (`targets/<escaped id>.html`, `.json`). The web
//! server the machine already runs serves them; the agent runs no server.
//!
//! Only passive targets appear (the server runs active ones and has their results). All of it
//! happens under `<stateDir>/page/lock`, so a `register` and a delivery in two processes do
//! not undo each other.

mod assemble;
mod badge;
mod cache;
mod codec;
mod detail;
#[cfg(test)]
mod fixture;
mod history;
mod html;
mod json;
mod site;
mod store;
mod text;
mod time;
mod view;

use super::{rows_of_one_write, Api, Registered};
use crate::config::{Config, ShowOutput};
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::{now_ms, StateDir};
use crate::targets::Target;
use anyhow::Context;
use history::History;
use std::path::PathBuf;
use store::Store;

/// Writes the page from the histories in `<stateDir>/page/`.
pub struct Page {
    /// `<stateDir>/page`: the histories, the lock, the badge list.
    dir: PathBuf,
    site: PathBuf,
    show: ShowOutput,
}

impl Page {
    pub fn new(config: &Config, state: &StateDir) -> Page {
        let dir = state.root().join("page");
        let site = config.page.dir.clone().unwrap_or_else(|| dir.join("site"));
        Page {
            dir,
            site,
            show: config.page.show_output.clone(),
        }
    }

    /// Under the lock: lets `change` edit the histories, saves what changed and rewrites the
    /// page at `now`, rendering again only the targets that need it ([`cache`]).
    fn update(&self, now: u64, change: impl FnOnce(&mut Store)) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        let lock_path = self.dir.join("lock");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .and_then(|f| f.lock().map(|()| f))
            .with_context(|| format!("could not lock {}", lock_path.display()))?;
        let started = std::time::Instant::now();
        let mut store = Store::open(&self.dir.join("history"))?;
        let cache_path = self.dir.join("rendered");
        let memo = self.dir.join("badges.json");
        let written = site::Written::load(&memo, &self.site);
        // A directory the memo knows nothing of gets every target's files.
        let bytes = match written {
            Some(_) => read_parts(&cache_path),
            None => Vec::new(),
        };
        let mut parts = decode_parts(&cache_path, &bytes);
        change(&mut store);
        let changed = store.save()?;
        let loaded = started.elapsed();
        let rendered = assemble::refresh(&mut parts, &mut store, &changed, &self.show, now, |s| {
            site::has_details(&self.site, s)
        });
        let (n, pages) = (
            rendered.len(),
            rendered.iter().filter(|r| r.details.is_some()).count(),
        );
        let site = assemble::site(&parts, rendered, now);
        let joined = started.elapsed();
        site::write(&self.site, &memo, written, &site)?;
        overwrite(&cache_path, &cache::encode(&parts, bytes.len() + (1 << 16)))?;
        // benches/page.sh reads this line.
        tracing::debug!(
            "page: {} targets, {n} rendered: histories {} µs, page made {} µs, {} ({} bytes) \
             written {} µs; total {} µs; {pages} target pages written",
            parts.parts.len(),
            loaded.as_micros(),
            (joined - loaded).as_micros(),
            self.site.display(),
            site.index.len(),
            (started.elapsed() - joined).as_micros(),
            started.elapsed().as_micros(),
        );
        drop(lock);
        Ok(())
    }
}

/// Writes the rendered parts in place. They are derived data that only this process reads
/// (under the lock): a crash in mid-write leaves a file whose checksum fails, and everything
/// is rendered again. A temporary file renamed over the old one would make ext4 start writing
/// the whole file out at the rename (`auto_da_alloc`), milliseconds for each result.
fn overwrite(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::options()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("could not open {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.set_len(bytes.len() as u64))
        .with_context(|| format!("could not write {}", path.display()))
}

/// The parts file's bytes; none when there is none or it cannot be read.
fn read_parts(path: &std::path::Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::info!(
                "page: rendering every target again ({}: {e})",
                path.display()
            );
            Vec::new()
        }
    }
}

/// The rendered parts in `bytes` (read from `path`), or none (everything is rendered again)
/// when they are not usable.
fn decode_parts<'a>(path: &std::path::Path, bytes: &'a [u8]) -> cache::Cache<'a> {
    if bytes.is_empty() {
        return cache::Cache::default();
    }
    cache::decode(bytes).unwrap_or_else(|e| {
        tracing::info!(
            "page: rendering every target again ({}: {e:#})",
            path.display()
        );
        cache::Cache::default()
    })
}

/// The history of a configured passive target, with its timers as configured now.
fn configure(h: &mut History, t: &Target) -> bool {
    let Some(p) = t.passive() else { return false };
    let (check, timeout) = (
        (p.check_minutes * 60).min(u64::from(u32::MAX)) as u32,
        (p.timeout_minutes * 60).min(u64::from(u32::MAX)) as u32,
    );
    let changed = (
        h.host != t.host,
        h.name != t.name,
        h.check_s != check,
        h.timeout_s != timeout,
    );
    h.host.clone_from(&t.host);
    h.name.clone_from(&t.name);
    h.check_s = check;
    h.timeout_s = timeout;
    changed != (false, false, false, false)
}

/// Records results into the store: each target's history (made from its configuration, or
/// from the result for a target no longer configured).
fn record(store: &mut Store, items: &[(&CheckResult, Option<&Target>)], now: u64) {
    for (result, target) in items {
        let target = target.filter(|t| t.passive().is_some());
        store.edit(
            &result.target,
            || History::new(&result.target, &result.host, &result.name, now),
            |h| {
                let configured = target.is_some_and(|t| configure(h, t));
                h.record(result) | configured
            },
        );
    }
}

impl Api for Page {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        let now = now_ms();
        let passive: Vec<&Target> = targets.iter().filter(|t| t.passive().is_some()).collect();
        let written = self.update(now, |store| {
            // (Histories are kept by file stem, the escaped id.)
            if complete {
                store.retain(|s| passive.iter().any(|t| store::stem(&t.id) == s));
            }
            // An id that was passive and is now an active check.
            store.retain(|s| {
                !targets
                    .iter()
                    .any(|t| t.passive().is_none() && store::stem(&t.id) == s)
            });
            for t in &passive {
                store.edit(
                    &t.id,
                    || History::new(&t.id, &t.host, &t.name, now),
                    |h| configure(h, t),
                );
            }
        });
        rows_of_one_write(passive, &written, "page: registering")
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        self.deliver_many(&[(result, target)]).await
    }

    /// A backlog (or `sync`'s many results) costs one rewrite per 1,000 results.
    fn batch(&self) -> usize {
        1000
    }

    async fn deliver_many(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
    ) -> Result<(), DeliveryError> {
        let now = now_ms();
        self.update(now, |store| record(store, items, now))
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("page: {e:#}")))
    }

    /// No secret: the files are local.
    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
