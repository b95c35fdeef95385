//! `notify`: send what the notify lanes have due, and stay while something waits (a notice
//! held for the grouping window, one a channel could not take yet); `notify --test`: a test
//! notice through every channel.
//!
//! In timers mode the module's `nixcloud.monitoring-notify` unit runs this: its timer every
//! minute (for "no result", reminders, the end of a silence or a flap hold), and its path unit
//! whenever a channel marks itself due (`notify/due/<channel>`). The daemon runs [`pass`]
//! itself.

use crate::agent::{Agent, Lane};
use crate::backend::{notify::Notify, Backend};
use crate::deliver;
use crate::exit::Code;
use crate::retry::{DeliveryError, RetryPolicy};
use crate::state::now_ms;
use std::path::Path;
use std::time::Duration;

/// The first pause after a channel failed, doubling to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// How soon to look again at a lane someone else is delivering.
const BUSY_AGAIN: Duration = Duration::from_secs(2);

/// What one notify lane's pass found.
#[derive(Debug, Default)]
pub struct LanePass {
    /// Another process held the lane's lock: nothing was done.
    pub busy: bool,
    /// Why it stopped, when a notice could not be sent.
    pub error: Option<String>,
    /// Results still queued in the lane.
    pub queued: usize,
    /// When held notices are due; `None` when none is held.
    pub held_until_ms: Option<u64>,
    /// When the clock may next have something to say.
    pub next_due_ms: Option<u64>,
}

impl LanePass {
    /// Whether something still waits in this lane (so `notify` stays).
    pub fn waiting(&self) -> bool {
        self.busy || self.error.is_some() || self.queued > 0 || self.held_until_ms.is_some()
    }
}

/// The notify lanes with their backends.
pub fn notify_lanes<'a>(
    agent: &'a Agent,
    backends: &'a [Backend],
) -> Vec<(usize, &'a Lane, &'a Notify)> {
    agent
        .lanes
        .iter()
        .zip(backends)
        .enumerate()
        .filter_map(|(i, (lane, b))| match b {
            Backend::Notify(n) => Some((i, lane, n)),
            _ => None,
        })
        .collect()
}

/// One pass over the notify lane `lane`: its queue goes out (one attempt per result), then,
/// when nothing is queued any more, the clock's pass. `wait`: wait for the lane's lock
/// (else a busy lane is skipped).
pub async fn pass(
    agent: &Agent,
    lane: &Lane,
    backend: &Backend,
    notify: &Notify,
    wait: bool,
) -> anyhow::Result<LanePass> {
    let lock = match wait {
        true => Some(lane.queue.lock()?),
        false => lane.queue.try_lock()?,
    };
    let Some(lock) = lock else {
        return Ok(LanePass {
            busy: true,
            ..Default::default()
        });
    };
    let report =
        deliver::deliver_pending(agent, lane, backend, &lock, &RetryPolicy::new(1)).await?;
    let mut out = LanePass {
        queued: report.remaining,
        error: report.error,
        ..Default::default()
    };
    if out.queued == 0 {
        match notify.tick(&agent.config.targets).await {
            Ok(ticked) => out.next_due_ms = ticked.next_due_ms,
            Err(DeliveryError::Transient(e)) => out.error = Some(format!("{e:#}")),
            Err(DeliveryError::Rejected(e)) => {
                // Refused for good: told in the journal and kept nowhere else; the next
                // change is news again.
                tracing::error!("{}: {e:#}", lane.name());
            }
        }
        lane.queue.set_last_error(out.error.as_deref());
    }
    out.held_until_ms = notify.store().outbox().due_ms();
    if !out.waiting() {
        // Under the lane's lock: nobody can hold a notice meanwhile.
        notify.store().clear_due();
    }
    drop(lock);
    Ok(out)
}

pub async fn run(first: &Agent, config_path: &Path, test: bool) -> anyhow::Result<Code> {
    first.require_owner()?;
    if test {
        return send_tests(first).await;
    }
    let mut backoff = BACKOFF_FIRST;
    let mut agent_now: Option<Agent> = None;
    loop {
        let agent = agent_now.as_ref().unwrap_or(first);
        let backends = agent.backends()?;
        let lanes = notify_lanes(agent, &backends);
        if lanes.is_empty() {
            println!("no notify channels in {}", agent.config.path.display());
            return Ok(Code::Ok);
        }
        let mut wake: Option<u64> = None;
        let mut failed = false;
        let mut waiting = false;
        for (i, lane, notify) in lanes {
            let p = pass(agent, lane, &backends[i], notify, true).await?;
            if let Some(e) = &p.error {
                eprintln!(
                    "warning: {}: not sent yet, kept (nothing is lost): {e}",
                    lane.name()
                );
                failed = true;
            }
            waiting |= p.waiting();
            // While it waits anyway, a "no result" deadline or a silence's end in the
            // meantime is kept too (the minute timer would be up to a minute late).
            wake = earliest(wake, earliest(p.held_until_ms, p.next_due_ms));
        }
        if !waiting {
            return Ok(Code::Ok);
        }
        let pause = match failed {
            true => {
                let pause = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                pause
            }
            false => {
                backoff = BACKOFF_FIRST;
                wake.map_or(BUSY_AGAIN, |ms| {
                    Duration::from_millis(ms.saturating_sub(now_ms()))
                        .max(Duration::from_millis(200))
                })
            }
        };
        tokio::time::sleep(pause).await;
        // A `nixos-rebuild switch` may have changed the channels meanwhile.
        agent_now = Some(Agent::load(config_path)?);
    }
}

/// A test notice through every channel; exits 3 if one could not be sent now, 4 if one was
/// refused.
async fn send_tests(agent: &Agent) -> anyhow::Result<Code> {
    let backends = agent.backends()?;
    let lanes = notify_lanes(agent, &backends);
    if lanes.is_empty() {
        return Err(crate::exit::usage(anyhow::anyhow!(
            "{} has no notify channels: add \"notify\" to backends and a [notify.channels.<name>] table",
            agent.config.path.display()
        )));
    }
    let mut code = Code::Ok;
    for (_, lane, notify) in lanes {
        match notify.send_test().await {
            Ok(()) => println!("{}: test notice sent", lane.name()),
            Err(e) => {
                eprintln!("{}: the test notice was not sent: {e}", lane.name());
                code = code.worst(match e {
                    DeliveryError::Transient(_) => Code::Queued,
                    DeliveryError::Rejected(_) => Code::Rejected,
                });
            }
        }
    }
    Ok(code)
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
