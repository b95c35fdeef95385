//! Accepting a result and delivering the queue: the path every result takes.
//!
//! A result is first written to the queue, then the whole queue is delivered oldest first under
//! the delivery lock. Writing first means a result is never only in memory: a kill in
//! mid-delivery leaves it queued, and the result id lets the server drop the rare second copy.
//! The write is made durable (fsync) only when the result is still queued at the end: a
//! delivery that succeeds at once costs no fsync, and a result is still on disk for good
//! before the command returns saying "queued".

use crate::agent::{Agent, Lane};
use crate::backend::{Api, Backend};
use crate::exit::Code;
use crate::privileges::Role;
use crate::queue::{self, DeliveryLock, Queue};
use crate::result::CheckResult;
use crate::retry::{DeliveryError, RetryPolicy};
use crate::secrets::SecretError;
use crate::targets::{self, Target};
use anyhow::Context;
use std::collections::HashMap;
use std::path::PathBuf;

/// What became of an accepted result.
#[derive(Debug)]
pub enum Fate {
    /// The server has it.
    Delivered,
    /// Still queued; the reason delivery stopped.
    Queued(String),
    /// Queued because the owner of the state directory cannot read the API key: nothing goes
    /// out until that is fixed. The message names the key file.
    KeyUnreadable(String),
    /// Handed to the service through the spool (this user does not own the state directory).
    Spooled(PathBuf),
    /// The server refused it for good; kept in `rejected/`.
    Rejected(String),
}

impl Fate {
    /// The exit code for this fate.
    pub fn code(&self) -> Code {
        match self {
            Fate::Delivered | Fate::Spooled(_) => Code::Ok,
            Fate::Queued(_) | Fate::KeyUnreadable(_) => Code::Queued,
            Fate::Rejected(_) => Code::Rejected,
        }
    }

    /// A short word for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::Queued(_) | Fate::KeyUnreadable(_) => "queued",
            Fate::Spooled(_) => "spooled",
            Fate::Rejected(_) => "rejected",
        }
    }
}

/// What one delivery pass achieved.
#[derive(Debug, Default)]
pub struct FlushReport {
    pub delivered: usize,
    pub rejected: Vec<String>,
    pub remaining: usize,
    /// Why delivery stopped early (the server is unreachable, …).
    pub error: Option<String>,
    /// The result (id, target id) the server could not take, where delivery stopped.
    pub stopped_at: Option<(String, String)>,
}

impl FlushReport {
    /// Delivery stopped at `entry` with `left` results still queued, because of `error`.
    fn stop(&mut self, left: usize, error: &anyhow::Error, entry: &queue::Entry) {
        self.remaining = left;
        self.error = Some(format!("{error:#}"));
        self.stopped_at = Some((entry.result.id.clone(), entry.result.target.clone()));
    }

    /// The exit code for this pass.
    pub fn code(&self) -> Code {
        if self.remaining > 0 {
            Code::Queued
        } else if !self.rejected.is_empty() {
            Code::Rejected
        } else {
            Code::Ok
        }
    }
}

/// What became of an accepted result at each lane (by its name), in the config's order.
#[derive(Debug)]
pub struct Fates(pub Vec<(String, Fate)>);

impl Fates {
    /// The worst of the backends' exit codes.
    pub fn code(&self) -> Code {
        self.0
            .iter()
            .fold(Code::Ok, |worst, (_, fate)| worst.worst(fate.code()))
    }
}

/// Queues `result` durably in every backend's lane, then delivers the lanes at once. Only a
/// process that is not the owner of the state directory (a group member) hands the result to
/// the service through the spool instead. When a lane is full, what it holds is delivered
/// first; only if that leaves no room is the result refused there ([`queue::QueueFull`],
/// exit 5). Refused by every lane, it is not recorded anywhere, not even as its target's last
/// result; refused by some, the others still deliver it and the command exits 5.
pub async fn accept(
    agent: &Agent,
    backends: &[Backend],
    result: CheckResult,
) -> anyhow::Result<Fates> {
    if agent.role == Role::Guest {
        // The service records a spooled result for `status` when it adopts the file.
        tracing::info!("not the owner of the state directory: handing the result to the service");
        let path = agent.queue().push_spool(&result)?;
        return Ok(Fates(vec![(agent.lanes[0].name(), Fate::Spooled(path))]));
    }
    let target = targets::find(&agent.config.targets, &result.target);
    let mut paths = Vec::with_capacity(agent.lanes.len());
    let mut refused = Vec::new();
    for (lane, backend) in agent.lanes.iter().zip(backends) {
        let queued = match lane.queue.push_unsynced(&result) {
            Err(e) if e.downcast_ref::<queue::QueueFull>().is_some() => {
                make_room(agent, lane, backend, &result).await
            }
            other => other,
        };
        match queued {
            Ok(path) => paths.push(Some(path)),
            Err(e) if e.downcast_ref::<queue::QueueFull>().is_some() => {
                paths.push(None);
                refused.push(e);
            }
            Err(e) => return Err(e),
        }
    }
    if paths.iter().all(Option::is_none) {
        return Err(refused.remove(0));
    }
    if let Err(e) = agent.state.record_last(&result) {
        tracing::warn!("{e:#}");
    }
    let reports = flush_lanes(agent, backends, |lane| lane.queue.lock().map(Some)).await;
    let mut fates = Vec::with_capacity(agent.lanes.len());
    for (((lane, backend), path), report) in
        agent.lanes.iter().zip(backends).zip(paths).zip(reports)
    {
        let Some(path) = path else {
            continue;
        };
        let report = report?.unwrap_or_default();
        let fate = match fate_of(&lane.queue, &result.id, why_waiting(&report, &result.id)) {
            Fate::Queued(why) => match key_problem(agent, backend, target) {
                Some(problem) => Fate::KeyUnreadable(problem),
                None => Fate::Queued(why),
            },
            fate => fate,
        };
        if let Fate::Queued(_) | Fate::KeyUnreadable(_) = fate {
            queue::sync_file_and_dir(&path)?;
        }
        fates.push((lane.name(), fate));
    }
    if let Some(full) = refused.into_iter().next() {
        for (name, fate) in &fates {
            tracing::info!("{name}: {}", fate.label());
        }
        return Err(full);
    }
    Ok(Fates(fates))
}

/// The owner's own delivery is the only one there is: a key it cannot read would make a
/// result wait for ever, so that is said loudly, naming the key file.
fn key_problem(agent: &Agent, backend: &Backend, target: Option<&Target>) -> Option<String> {
    match backend.check_access(target) {
        Err(SecretError::PermissionDenied(e)) => Some(format!(
            "{e:#}: the API key cannot be read by this user (uid {}), the owner of {}",
            // SAFETY: a plain getter without arguments.
            unsafe { libc::geteuid() },
            agent.config.state_dir.display()
        )),
        // Other key problems (no key configured, a missing file) are told by the delivery.
        _ => None,
    }
}

/// A lane was full when `result` came: delivers what it holds, then queues `result` if that
/// made room. Still full: the result is refused there, the message naming the counts and why
/// delivery did not help.
async fn make_room(
    agent: &Agent,
    lane: &Lane,
    backend: &Backend,
    result: &CheckResult,
) -> anyhow::Result<PathBuf> {
    let why = match flush_lane(agent, lane, backend).await {
        Ok(report) => report.error,
        Err(e) => Some(format!("{e:#}")),
    };
    lane.queue.push_unsynced(result).map_err(|e| {
        match (e.downcast_ref::<queue::QueueFull>(), why) {
            (Some(full), Some(why)) => anyhow::Error::new(queue::QueueFull(format!(
                "{full} Delivering the queued results first did not make room: {why}"
            ))),
            _ => e,
        }
    })
}

/// Why the result `id` is still queued after `report`'s pass. When delivery stopped at an
/// older result (of this or another target), that is said first, so the message does not read
/// as if this result had gone to another target.
fn why_waiting(report: &FlushReport, id: &str) -> Option<String> {
    let error = report.error.as_deref()?;
    Some(match &report.stopped_at {
        Some((stopped, target)) if stopped != id => {
            format!("it waits behind an older queued result of {target}, which the server did not take: {error}")
        }
        _ => error.to_string(),
    })
}

/// Where a result is now, over every lane: "delivered" when no lane holds it; else what each
/// lane holds it as ("queued", "rejected", …), naming the backend when there are several.
pub fn whereabouts(agent: &Agent, id: &str) -> String {
    let several = agent.lanes.len() > 1;
    let held: Vec<String> = agent
        .lanes
        .iter()
        .filter_map(|lane| {
            let place = lane.queue.whereabouts(id)?;
            Some(match several {
                true => format!("{place} for {}", lane.name()),
                false => place.to_string(),
            })
        })
        .collect();
    match held.is_empty() {
        true => "delivered".to_string(),
        false => held.join(", "),
    }
}

/// Where a queued result stands in `queue` after a delivery pass: gone means delivered.
pub fn fate_of(queue: &Queue, id: &str, error: Option<String>) -> Fate {
    match queue.whereabouts(id) {
        None => Fate::Delivered,
        Some("rejected") => Fate::Rejected(queue.rejection_reason(id)),
        // Its file was found unreadable (it cannot be sent any more): kept aside, not queued.
        Some("corrupt") => Fate::Rejected(format!(
            "its queued file was unreadable and was moved to {}: {}",
            queue.corrupt_dir().display(),
            queue.corrupt_reason(id)
        )),
        Some(_) => Fate::Queued(error.unwrap_or_else(|| "another delivery is in progress".into())),
    }
}

/// Delivers every lane, each oldest first and all at once, waiting for each lane's lock.
/// Stops a lane at the first result its server cannot take now (keeping the order); moves
/// results refused for good to `rejected/`. Entries that are no result (truncated, empty, a
/// directory, …) are moved to `corrupt/` with a warning and neither stop nor fail the pass.
pub async fn flush(
    agent: &Agent,
    backends: &[Backend],
) -> Vec<(String, anyhow::Result<FlushReport>)> {
    let reports = flush_lanes(agent, backends, |lane| lane.queue.lock().map(Some)).await;
    agent
        .lanes
        .iter()
        .zip(reports)
        .map(|(lane, report)| (lane.name(), report.map(Option::unwrap_or_default)))
        .collect()
}

/// [`flush`] summed over the lanes, for commands that print one line: errors are prefixed
/// with the backend's name when there are several. An I/O error in any lane is returned.
pub async fn flush_all(agent: &Agent, backends: &[Backend]) -> anyhow::Result<FlushReport> {
    let several = agent.lanes.len() > 1;
    let mut sum = FlushReport::default();
    for (name, report) in flush(agent, backends).await {
        let report = report.with_context(|| format!("delivering to {name}"))?;
        let named = |e: String| match several {
            true => format!("{name}: {e}"),
            false => e,
        };
        sum.delivered += report.delivered;
        sum.remaining += report.remaining;
        sum.rejected.extend(report.rejected.into_iter().map(named));
        if let Some(e) = report.error {
            let e = named(e);
            sum.error = Some(match sum.error.take() {
                Some(before) => format!("{before}; {e}"),
                None => e,
            });
        }
        sum.stopped_at = sum.stopped_at.or(report.stopped_at);
    }
    Ok(sum)
}

/// Queues a result durably in every lane, without delivering (the daemon and `sync` deliver
/// in one pass afterwards) and records it as its target's last result. A lane that is full
/// refuses it with an error in the log; only when every lane refuses is that an error here.
pub fn enqueue(agent: &Agent, result: &CheckResult) -> anyhow::Result<()> {
    let mut accepted = false;
    let mut first_error = None;
    for lane in &agent.lanes {
        match lane.queue.push(result) {
            Ok(_) => accepted = true,
            Err(e) => {
                tracing::error!("{}: {e:#}", lane.name());
                first_error.get_or_insert(e);
            }
        }
    }
    match (accepted, first_error) {
        (false, Some(e)) => Err(e),
        _ => {
            if let Err(e) = agent.state.record_last(result) {
                tracing::warn!("{e:#}");
            }
            Ok(())
        }
    }
}

/// Why a result a group member left in the spool must not go out with this machine's key: its
/// target must be a passive target of the config, and its host and name that target's. (The
/// group may submit results for the configured targets, not for any host and name.)
fn spool_problem(targets: &[Target], result: &CheckResult) -> Result<(), String> {
    let Some(target) = targets.iter().find(|t| t.id == result.target) else {
        return Err(format!(
            "its target {:?} is not in the config",
            result.target.chars().take(200).collect::<String>()
        ));
    };
    if target.passive().is_none() {
        return Err(format!(
            "its target {} is an active check ({}): results cannot be pushed for it",
            target.id,
            target.kind_name()
        ));
    }
    if result.host != target.host || result.name != target.name {
        return Err(format!(
            "its host and name ({:?}, {:?}) are not those of its target {} ({:?}, {:?})",
            result.host.chars().take(200).collect::<String>(),
            result.name.chars().take(200).collect::<String>(),
            target.id,
            target.host,
            target.name
        ));
    }
    Ok(())
}

/// One lane's pass, waiting for its lock.
async fn flush_lane(agent: &Agent, lane: &Lane, backend: &Backend) -> anyhow::Result<FlushReport> {
    let lock = lane.queue.lock()?;
    let retry = RetryPolicy::new(agent.config.delivery.attempts);
    deliver_pending(agent, lane, backend, &lock, &retry).await
}

/// Runs a pass over every lane at once. `lock` takes a lane's lock (or `None`: someone else
/// is delivering it, and that lane's report is `None`).
pub async fn flush_lanes(
    agent: &Agent,
    backends: &[Backend],
    lock: impl Fn(&Lane) -> anyhow::Result<Option<DeliveryLock>>,
) -> Vec<anyhow::Result<Option<FlushReport>>> {
    let retry = RetryPolicy::new(agent.config.delivery.attempts);
    flush_lanes_with(agent, backends, lock, &retry).await
}

/// [`flush_lanes`] with a retry policy of the caller's (the daemon tries once per pass).
pub async fn flush_lanes_with(
    agent: &Agent,
    backends: &[Backend],
    lock: impl Fn(&Lane) -> anyhow::Result<Option<DeliveryLock>>,
    retry: &RetryPolicy,
) -> Vec<anyhow::Result<Option<FlushReport>>> {
    let passes = agent.lanes.iter().zip(backends).map(|(lane, backend)| {
        let lock = lock(lane);
        async move {
            match lock? {
                Some(lock) => deliver_pending(agent, lane, backend, &lock, retry)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    });
    futures_util::future::join_all(passes).await
}

/// The delivery loop of one lane, for callers that already hold its lock. The first lane
/// also adopts the spool, into every lane.
pub async fn deliver_pending(
    agent: &Agent,
    lane: &Lane,
    backend: &Backend,
    lock: &DeliveryLock,
    retry: &RetryPolicy,
) -> anyhow::Result<FlushReport> {
    if std::ptr::eq(lane, &agent.lanes[0]) {
        let others: Vec<&Queue> = agent.lanes[1..].iter().map(|l| &l.queue).collect();
        let vet = |r: &CheckResult| spool_problem(&agent.config.targets, r);
        for adopted in lane.queue.adopt_spool(lock, &others, &vet)? {
            if let Err(e) = agent.state.record_last(&adopted) {
                tracing::warn!("{e:#}");
            }
        }
    }
    let pending = lane.queue.pending_paths(lock)?;
    let by_id: HashMap<&str, &Target> = agent
        .config
        .targets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let mut report = FlushReport::default();
    let _waiting = (!pending.is_empty()).then(|| {
        agent.state.begin_activity(
            format!("delivering {} queued results", pending.len()),
            agent.config.server_url(lane.kind).map(str::to_string),
        )
    });
    // Backends that take many results at once (a file rewritten per call) get them in
    // chunks; the others one by one.
    let mut left = pending.len();
    'chunks: for chunk in pending.chunks(backend.batch().max(1)) {
        let entries: Vec<queue::Entry> = chunk.iter().filter_map(|p| lane.queue.entry(p)).collect();
        // Results of targets removed from the config are still delivered (with the top-level
        // key), so nothing accepted is dropped.
        let target_of = |e: &queue::Entry| by_id.get(e.result.target.as_str()).copied();
        if entries.len() > 1 {
            let items: Vec<_> = entries.iter().map(|e| (&e.result, target_of(e))).collect();
            match retry.run(|| backend.deliver_many(&items)).await {
                Ok(()) => {
                    for entry in &entries {
                        lane.queue.remove(entry)?;
                    }
                    report.delivered += entries.len();
                    left -= chunk.len();
                    continue;
                }
                Err(DeliveryError::Transient(e)) => {
                    report.stop(left, &e, &entries[0]);
                    break;
                }
                // One of them is refused: find which, one by one.
                Err(DeliveryError::Rejected(_)) => {}
            }
        }
        for entry in &entries {
            match retry
                .run(|| backend.deliver(&entry.result, target_of(entry)))
                .await
            {
                Ok(()) => {
                    lane.queue.remove(entry)?;
                    report.delivered += 1;
                }
                Err(DeliveryError::Rejected(e)) => {
                    let why = format!("{e:#}");
                    tracing::error!("{}: {why}; kept in rejected/", lane.name());
                    lane.queue.reject(entry, &why)?;
                    report.rejected.push(why);
                }
                Err(DeliveryError::Transient(e)) => {
                    report.stop(left, &e, entry);
                    break 'chunks;
                }
            }
            left -= 1;
        }
        // Entries found gone or unreadable in this chunk.
        left -= chunk.len() - entries.len();
    }
    lane.queue.set_last_error(report.error.as_deref());
    Ok(report)
}
