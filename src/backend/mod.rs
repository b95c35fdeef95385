//! Backends: where registrations and results go. Each implements [`Api`]; [`Backend`] picks
//! one from the config. Adding a backend means one file here and one match arm below.

mod healthchecks;
mod icinga2;
mod local;
mod nixcloud;
pub mod notify;
mod page;
mod prometheus;

pub use nixcloud::registration_bodies as nixcloud_bodies;

use crate::config::{BackendKind, Config};
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::StateDir;
use crate::targets::Target;
use std::future::Future;
use tokio::task::JoinSet;

/// The outcome of one registration request (one target and address family).
#[derive(Debug)]
pub struct Registered {
    /// The target's id.
    pub target: String,
    /// What was registered, e.g. `HTTP (IPv4)`, or the Icinga2 object name.
    pub what: String,
    pub outcome: Result<(), DeliveryError>,
}

/// What every backend does.
pub trait Api {
    /// Creates or updates the given targets on the server. `complete` says the list is the
    /// whole config, so the backend may remove objects it owns that are no longer in it.
    fn register(&self, targets: &[Target], complete: bool)
        -> impl Future<Output = Vec<Registered>>;

    /// Delivers one result. Must be safe to repeat with the same result id.
    fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> impl Future<Output = Result<(), DeliveryError>>;

    /// How many results [`Api::deliver_many`] takes at once; 1 (most backends): results go
    /// one by one through [`Api::deliver`].
    fn batch(&self) -> usize {
        1
    }

    /// Delivers several results, oldest first, all or none, for backends whose every call
    /// costs the same whatever it carries (a file rewritten whole). Only called with
    /// [`Api::batch`] above 1.
    fn deliver_many(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
    ) -> impl Future<Output = Result<(), DeliveryError>> {
        async move {
            for (result, target) in items {
                self.deliver(result, *target).await?;
            }
            Ok(())
        }
    }

    /// Whether this process may deliver for `target` (reads its secret); a group member
    /// without access gets [`SecretError::PermissionDenied`] and hands the result to the
    /// service instead.
    fn check_access(&self, target: Option<&Target>) -> Result<(), SecretError>;

    /// `target`'s script starts now (Healthchecks shows the run time from this); best effort,
    /// never an error. Most backends need nothing.
    fn started(&self, _target: &Target) -> impl Future<Output = ()> {
        async {}
    }
}

/// The configured backend.
pub enum Backend {
    Nixcloud(nixcloud::Nixcloud),
    Local(local::Local),
    Icinga2(icinga2::Icinga2),
    Prometheus(prometheus::Prometheus),
    Healthchecks(healthchecks::Healthchecks),
    Notify(notify::Notify),
    Page(page::Page),
}

impl Backend {
    /// Sets up one configured backend (no network traffic yet); `channel` is the `notify`
    /// lane's channel.
    pub fn new(
        kind: BackendKind,
        channel: Option<&str>,
        config: &Config,
        state: &StateDir,
    ) -> anyhow::Result<Backend> {
        Ok(match kind {
            BackendKind::Nixcloud => Backend::Nixcloud(nixcloud::Nixcloud::new(config)?),
            BackendKind::Local => Backend::Local(local::Local::new(state)),
            BackendKind::Icinga2 => Backend::Icinga2(icinga2::Icinga2::new(config)?),
            BackendKind::Prometheus => {
                Backend::Prometheus(prometheus::Prometheus::new(config, state)?)
            }
            BackendKind::Healthchecks => {
                Backend::Healthchecks(healthchecks::Healthchecks::new(config, state)?)
            }
            BackendKind::Notify => Backend::Notify(notify::Notify::new(
                config,
                state,
                channel.expect("a notify lane has a channel"),
            )?),
            BackendKind::Page => Backend::Page(page::Page::new(config, state)),
        })
    }
}

impl Api for Backend {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        match self {
            Backend::Nixcloud(b) => b.register(targets, complete).await,
            Backend::Local(b) => b.register(targets, complete).await,
            Backend::Icinga2(b) => b.register(targets, complete).await,
            Backend::Prometheus(b) => b.register(targets, complete).await,
            Backend::Healthchecks(b) => b.register(targets, complete).await,
            Backend::Notify(b) => b.register(targets, complete).await,
            Backend::Page(b) => b.register(targets, complete).await,
        }
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        match self {
            Backend::Nixcloud(b) => b.deliver(result, target).await,
            Backend::Local(b) => b.deliver(result, target).await,
            Backend::Icinga2(b) => b.deliver(result, target).await,
            Backend::Prometheus(b) => b.deliver(result, target).await,
            Backend::Healthchecks(b) => b.deliver(result, target).await,
            Backend::Notify(b) => b.deliver(result, target).await,
            Backend::Page(b) => b.deliver(result, target).await,
        }
    }

    fn batch(&self) -> usize {
        match self {
            Backend::Prometheus(b) => b.batch(),
            Backend::Notify(b) => b.batch(),
            Backend::Page(b) => b.batch(),
            _ => 1,
        }
    }

    async fn deliver_many(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
    ) -> Result<(), DeliveryError> {
        match self {
            Backend::Prometheus(b) => b.deliver_many(items).await,
            Backend::Notify(b) => b.deliver_many(items).await,
            Backend::Page(b) => b.deliver_many(items).await,
            _ => {
                for (result, target) in items {
                    self.deliver(result, *target).await?;
                }
                Ok(())
            }
        }
    }

    async fn started(&self, target: &Target) {
        if let Backend::Healthchecks(b) = self {
            b.started(target).await
        }
    }

    fn check_access(&self, target: Option<&Target>) -> Result<(), SecretError> {
        match self {
            Backend::Nixcloud(b) => b.check_access(target),
            Backend::Local(b) => b.check_access(target),
            Backend::Icinga2(b) => b.check_access(target),
            Backend::Prometheus(b) => b.check_access(target),
            Backend::Healthchecks(b) => b.check_access(target),
            Backend::Notify(b) => b.check_access(target),
            Backend::Page(b) => b.check_access(target),
        }
    }
}

/// The rows of a registration that is one write for all `targets` (a file): each ok, or each
/// failed for the same reason, transient ("`doing` <id>: <why>").
pub fn rows_of_one_write<'a>(
    targets: impl IntoIterator<Item = &'a Target>,
    written: &anyhow::Result<()>,
    doing: &str,
) -> Vec<Registered> {
    targets
        .into_iter()
        .map(|t| Registered {
            target: t.id.clone(),
            what: t.name.clone(),
            outcome: match written {
                Ok(()) => Ok(()),
                Err(e) => Err(DeliveryError::Transient(anyhow::anyhow!(
                    "{doing} {}: {e:#}",
                    t.id
                ))),
            },
        })
        .collect()
}

/// Tells every backend that `target`'s script starts now.
pub async fn started(backends: &[Backend], target: &Target) {
    futures_util::future::join_all(backends.iter().map(|b| b.started(target))).await;
}

/// The machine's host name: the default owner mark of what a backend creates on a server.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "nixcloud-monitoring".to_string())
}

/// Runs `work` on every job with at most `limit` in flight, returning outputs in job order.
/// The jobs share one HTTP client, so this also bounds the connections opened.
pub async fn bounded<J, T, F, Fut>(jobs: Vec<J>, limit: usize, work: F) -> Vec<T>
where
    J: Send + 'static,
    T: Send + 'static,
    F: Fn(J) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut out = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().enumerate();
    let mut spawn_next = |set: &mut JoinSet<(usize, T)>| {
        if let Some((i, job)) = jobs.next() {
            let work = work.clone();
            set.spawn(async move { (i, work(job).await) });
        }
    };
    for _ in 0..limit.max(1) {
        spawn_next(&mut set);
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok(item) => out.push(item),
            // A panic in a request task is a bug; re-raise it rather than lose the outcome.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
        spawn_next(&mut set);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}
