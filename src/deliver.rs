//! Accepting a result and delivering the queue: the path every result takes.
//!
//! A result is first written to the queue, then the whole queue is delivered oldest first under
//! the delivery lock. Writing first means a result is never only in memory: a kill in
//! mid-delivery leaves it queued, and the result id lets the server drop the rare second copy.
//! The write is made durable (fsync) only when the result is still queued at the end: a
//! delivery that succeeds at once costs no fsync, and a result is still on disk for good
//! before the command returns saying "queued".

use crate::agent::Agent;
use crate::backend::{Api, Backend};
use crate::exit::Code;
use crate::privileges::Role;
use crate::queue;
use crate::result::CheckResult;
use crate::retry::{DeliveryError, RetryPolicy};
use crate::secrets::SecretError;
use crate::targets::{self, Target};
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

/// Queues `result` durably, then delivers the queue. Only a process that is not the owner of
/// the state directory (a group member) hands the result to the service through the spool
/// instead. When the queue is full, what is queued is delivered first; only if that leaves no
/// room is the result refused ([`queue::QueueFull`], exit 5), and then it is not recorded
/// anywhere, not even as its target's last result.
pub async fn accept(agent: &Agent, backend: &Backend, result: CheckResult) -> anyhow::Result<Fate> {
    if agent.role == Role::Guest {
        // The service records a spooled result for `status` when it adopts the file.
        tracing::info!("not the owner of the state directory: handing the result to the service");
        return agent.queue.push_spool(&result).map(Fate::Spooled);
    }
    // The owner's own delivery is the only one there is: a key it cannot read now would make
    // a spooled result wait for ever, so the result is queued and the problem said loudly.
    let target = targets::find(&agent.config.targets, &result.target);
    let key_problem = match backend.check_access(target) {
        Err(SecretError::PermissionDenied(e)) => Some(format!(
            "{e:#}: the API key cannot be read by this user (uid {}), the owner of {}",
            // SAFETY: a plain getter without arguments.
            unsafe { libc::geteuid() },
            agent.config.state_dir.display()
        )),
        // Other key problems (no key configured, a missing file) are told by the delivery.
        _ => None,
    };
    let path = match agent.queue.push_unsynced(&result) {
        Ok(path) => path,
        Err(e) if e.downcast_ref::<queue::QueueFull>().is_some() => {
            make_room(agent, backend, &result).await?
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = agent.state.record_last(&result) {
        tracing::warn!("{e:#}");
    }
    let flushed = flush(agent, backend).await;
    let error = flushed
        .as_ref()
        .ok()
        .and_then(|r| why_waiting(r, &result.id));
    let fate = match (fate_of(agent, &result.id, error), key_problem) {
        (Fate::Queued(_), Some(why)) => Fate::KeyUnreadable(why),
        (fate, _) => fate,
    };
    if let Fate::Queued(_) | Fate::KeyUnreadable(_) = fate {
        queue::sync_file_and_dir(&path)?;
    }
    flushed?;
    Ok(fate)
}

/// The queue was full when `result` came: delivers what is queued, then queues `result` if
/// that made room. Still full: the result is refused, the message naming the counts and why
/// delivery did not help.
async fn make_room(
    agent: &Agent,
    backend: &Backend,
    result: &CheckResult,
) -> anyhow::Result<PathBuf> {
    let why = match flush(agent, backend).await {
        Ok(report) => report.error,
        Err(e) => Some(format!("{e:#}")),
    };
    agent.queue.push_unsynced(result).map_err(|e| {
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

/// Where a queued result stands after a delivery pass: gone from the queue means delivered.
pub fn fate_of(agent: &Agent, id: &str, error: Option<String>) -> Fate {
    match agent.queue.whereabouts(id) {
        None => Fate::Delivered,
        Some("rejected") => Fate::Rejected(agent.queue.rejection_reason(id)),
        // Its file was found unreadable (it cannot be sent any more): kept aside, not queued.
        Some("corrupt") => Fate::Rejected(format!(
            "its queued file was unreadable and was moved to {}: {}",
            agent.queue.corrupt_dir().display(),
            agent.queue.corrupt_reason(id)
        )),
        Some(_) => Fate::Queued(error.unwrap_or_else(|| "another delivery is in progress".into())),
    }
}

/// Delivers everything queued, oldest first. Stops at the first result the server cannot take
/// now (keeping the order); moves results it refuses for good to `rejected/`. Entries that are
/// no result (truncated, empty, a directory, …) are moved to `queue/corrupt/` with a warning
/// and neither stop nor fail the pass.
pub async fn flush(agent: &Agent, backend: &Backend) -> anyhow::Result<FlushReport> {
    let lock = agent.queue.lock()?;
    deliver_pending(
        agent,
        backend,
        &lock,
        &RetryPolicy::new(agent.config.delivery.attempts),
    )
    .await
}

/// The delivery loop, for callers that already hold the lock (the daemon takes it without
/// waiting).
pub async fn deliver_pending(
    agent: &Agent,
    backend: &Backend,
    lock: &crate::queue::DeliveryLock,
    retry: &RetryPolicy,
) -> anyhow::Result<FlushReport> {
    for adopted in agent.queue.adopt_spool(lock)? {
        if let Err(e) = agent.state.record_last(&adopted) {
            tracing::warn!("{e:#}");
        }
    }
    let pending = agent.queue.pending(lock)?;
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
            agent.config.server_url().map(str::to_string),
        )
    });
    for (i, entry) in pending.iter().enumerate() {
        // Results of targets removed from the config are still delivered (with the top-level
        // key), so nothing accepted is dropped.
        let target = by_id.get(entry.result.target.as_str()).copied();
        match retry.run(|| backend.deliver(&entry.result, target)).await {
            Ok(()) => {
                agent.queue.remove(entry)?;
                report.delivered += 1;
            }
            Err(DeliveryError::Rejected(e)) => {
                let why = format!("{e:#}");
                tracing::error!("{why}; kept in rejected/");
                agent.queue.reject(entry, &why)?;
                report.rejected.push(why);
            }
            Err(DeliveryError::Transient(e)) => {
                report.remaining = pending.len() - i;
                report.error = Some(format!("{e:#}"));
                report.stopped_at = Some((entry.result.id.clone(), entry.result.target.clone()));
                break;
            }
        }
    }
    agent.queue.set_last_error(report.error.as_deref());
    Ok(report)
}
