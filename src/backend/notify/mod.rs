//! The `notify` destination: tells people when a target's state changes, through one channel
//! per lane (mail by `sendmail` or SMTP, ntfy, a webhook), so a mail server that is down
//! delays only its own notices and loses none: a notice that cannot be sent leaves its results
//! in the lane's queue, and the next pass decides them again, folded into one notice.
//!
//! The stages, each in its own file: [`decide`] (does this result need a notice: thresholds,
//! "no result", mutes, flapping, reminders), [`group`] (the window that gathers changes into
//! one notice), [`notice`] (what it says), [`channel`] (how it leaves), [`store`] and
//! [`mute`] (what is remembered). Only this file does I/O between them.

mod channel;
pub mod decide;
mod group;
pub mod mute;
mod notice;
pub mod store;

use super::{Api, Registered};
use crate::config::{Channel, Config};
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::{now_ms, StateDir};
use crate::targets::Target;
use decide::{Event, Kind, Rules, Tracked, Who};
use mute::Mutes;
use std::collections::BTreeMap;
use store::Store;

/// How many queued results one pass decides together (and so folds into one notice).
const BATCH: usize = 1000;

/// One channel of the `notify` destination.
pub struct Notify {
    channel: String,
    sender: channel::Sender,
    store: Store,
    state: StateDir,
    window_ms: u64,
    machine: String,
}

/// What a pass over the clock found: when it should look again.
#[derive(Debug, Default)]
pub struct Ticked {
    /// The earliest time something may be due without a new result (a held notice's window,
    /// a "no result" deadline, a flap hold or a mute that ends, a reminder).
    pub next_due_ms: Option<u64>,
}

impl Notify {
    /// The channel `name` of `[notify.channels]`.
    pub fn new(config: &Config, state: &StateDir, name: &str) -> anyhow::Result<Notify> {
        let settings = config
            .notify
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no [notify] table in {}", config.path.display()))?;
        let channel: &Channel = settings
            .channels
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| anyhow::anyhow!("no channel {name:?} in [notify.channels]"))?;
        let machine = super::machine_name();
        let timeout = std::time::Duration::from_secs(config.delivery.timeout);
        let sender = channel::Sender::new(channel, timeout, &machine).map_err(|e| {
            e.context(format!(
                "could not set up the notify channel {name} ({})",
                channel.type_name()
            ))
        })?;
        Ok(Notify {
            channel: name.to_string(),
            sender,
            store: Store::new(state, name),
            state: state.clone(),
            window_ms: settings.window.as_millis() as u64,
            machine,
        })
    }

    /// Takes results in, oldest first, and tells what they change. `single`: a lone result,
    /// whose refusal is final (its state is kept, the result goes to `rejected/`); a refused
    /// batch keeps nothing, and the lane then tries its results one by one.
    async fn take(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
        single: bool,
    ) -> Result<(), DeliveryError> {
        let now = now_ms();
        let mutes = self.mutes()?;
        let mut tracked: BTreeMap<String, Tracked> = BTreeMap::new();
        let mut events = Vec::new();
        for (result, target) in items {
            // A target removed from the config has nobody to tell about it any more.
            let Some((target, rules)) = target.and_then(rules_of) else {
                continue;
            };
            let t = tracked
                .entry(target.id.clone())
                .or_insert_with(|| self.store.tracked(&target.id));
            if t.absorb(result, &rules) {
                // Decided at its own time, so a backlog keeps the order and the times.
                let at = result.measured_at_ms.min(now);
                let muted = mutes.holding(&target.id, at).is_some();
                events.extend(t.decide(&who(target), &rules, at, muted));
            }
        }
        match self.send_or_hold(tracked, events, now).await {
            Err(DeliveryError::Rejected(e)) if !single => Err(DeliveryError::Rejected(e)),
            other => other,
        }
    }

    /// The clock's pass: "no result" for silent targets, mutes and flap holds that ended,
    /// reminders, and held notices whose window is over. Runs only after the lane's queue
    /// went out (so nothing older waits), with the whole config: targets no longer in it are
    /// forgotten.
    pub async fn tick(&self, targets: &[Target]) -> Result<Ticked, DeliveryError> {
        let now = now_ms();
        let mutes = self.mutes()?;
        let mut tracked = BTreeMap::new();
        let mut events = Vec::new();
        let mut next_due: Option<u64> = mutes.next_end(now);
        for (target, rules) in targets.iter().filter_map(rules_of) {
            let mut t = self.store.tracked(&target.id);
            let before = t.clone();
            t.tick(&rules, now);
            let muted = mutes.holding(&target.id, now).is_some();
            events.extend(t.decide(&who(target), &rules, now, muted));
            next_due = earliest(next_due, t.next_due(&rules));
            if t != before {
                tracked.insert(target.id.clone(), t);
            }
        }
        let known: Vec<String> = targets.iter().map(Target::escaped_id).collect();
        for escaped in self.store.tracked_ids() {
            if !known.contains(&escaped) {
                self.store.forget(&escaped);
            }
        }
        self.send_or_hold(tracked, events, now).await?;
        Ok(Ticked {
            next_due_ms: earliest(next_due, self.store.outbox().due_ms()),
        })
    }

    /// Sends the notice for `events` and what the outbox holds once the window allows, or
    /// holds them; saves the new state only when that worked (a failure leaves everything as
    /// it was, and the caller's results queued).
    async fn send_or_hold(
        &self,
        mut tracked: BTreeMap<String, Tracked>,
        events: Vec<Event>,
        now: u64,
    ) -> Result<(), DeliveryError> {
        let mut outbox = self.store.outbox();
        let held_before = outbox.held.len();
        let due = outbox.take_due(events, now, self.window_ms);
        if due.is_empty() {
            self.save(&tracked)?;
            if outbox.held.len() != held_before {
                self.store
                    .save_outbox(&outbox)
                    .map_err(DeliveryError::Transient)?;
                self.store.mark_due();
            }
            return Ok(());
        }
        let mut threads = BTreeMap::new();
        for e in &due {
            let t = tracked
                .entry(e.target.clone())
                .or_insert_with(|| self.store.tracked(&e.target));
            if let Some(id) = &t.problem_notice {
                threads.insert(e.target.clone(), id.clone());
            }
        }
        let notice = notice::compose(due, &threads, &self.machine, &self.channel);
        let sent = self.sender.send(&notice).await;
        if let Err(DeliveryError::Transient(e)) = sent {
            // Nothing saved: the results stay queued and are decided again next time.
            self.store.mark_due();
            return Err(DeliveryError::Transient(e));
        }
        // Sent, or refused for good (then it is kept in rejected/ by the lane, and the
        // decision stands): the problems it told are the threads recoveries answer.
        for e in &notice.events {
            if e.kind == Kind::Problem {
                if let Some(t) = tracked.get_mut(&e.target) {
                    t.problem_notice = Some(notice.message_id.clone());
                }
            }
        }
        self.save(&tracked)?;
        self.store
            .save_outbox(&outbox)
            .map_err(DeliveryError::Transient)?;
        match sent {
            Err(DeliveryError::Rejected(e)) => Err(DeliveryError::Rejected(e.context(format!(
                "notify channel {} refused the notice {:?}",
                self.channel, notice.subject
            )))),
            _ => Ok(()),
        }
    }

    fn save(&self, tracked: &BTreeMap<String, Tracked>) -> Result<(), DeliveryError> {
        for (id, t) in tracked {
            self.store
                .save_tracked(id, t)
                .map_err(DeliveryError::Transient)?;
        }
        Ok(())
    }

    fn mutes(&self) -> Result<Mutes, DeliveryError> {
        Mutes::load(&self.state).map_err(DeliveryError::Transient)
    }

    /// Sends a test notice (`notify --test`), outside of any target's state.
    pub async fn send_test(&self) -> Result<(), DeliveryError> {
        let notice = notice::test_notice(&self.machine, &self.channel, now_ms());
        self.sender.send(&notice).await
    }

    /// This channel's files.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Api for Notify {
    async fn register(&self, _targets: &[Target], _complete: bool) -> Vec<Registered> {
        // Nothing to register: people are told about results, not about targets.
        Vec::new()
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        self.take(&[(result, target)], true).await
    }

    fn batch(&self) -> usize {
        BATCH
    }

    async fn deliver_many(
        &self,
        items: &[(&CheckResult, Option<&Target>)],
    ) -> Result<(), DeliveryError> {
        self.take(items, false).await
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}

/// A passive target's rules, if it is one whose changes are told.
pub fn rules_of(target: &Target) -> Option<(&Target, Rules)> {
    let p = target.passive()?;
    p.notify.enabled.then(|| {
        (
            target,
            Rules {
                failure_threshold: target.failure_threshold,
                success_threshold: p.notify.success_threshold,
                recovery: p.notify.recovery,
                repeat_ms: p.notify.repeat_minutes.saturating_mul(60_000),
                timeout_ms: p.timeout_minutes.saturating_mul(60_000),
            },
        )
    })
}

fn who(target: &Target) -> Who<'_> {
    Who {
        id: &target.id,
        host: &target.host,
        name: &target.name,
        timeout_minutes: target.passive().map_or(0, |p| p.timeout_minutes),
    }
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
