//! `silence ID|--all --for DURATION [--reason TEXT]` and `unsilence ID|--all`: hold a target's
//! notices (or every target's) for a while. Ending a silence early sends what differs from
//! the last notice at once.

use crate::agent::Agent;
use crate::backend::notify::mute::{Mute, Mutes};
use crate::exit::{self, Code};
use crate::queue::format_ms;
use crate::state::now_ms;
use std::time::Duration;

/// The longest silence: a year (a forgotten one should end some day).
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

pub fn silence(
    agent: &Agent,
    id: Option<&str>,
    duration: &str,
    reason: Option<&str>,
) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let length = humantime::parse_duration(duration).map_err(|e| {
        exit::usage(anyhow::anyhow!(
            "--for {duration:?} is not a duration ({e}); write it like 30m, 2h or 1d"
        ))
    })?;
    if length.is_zero() || length > LONGEST {
        return Err(exit::usage(anyhow::anyhow!(
            "--for {duration:?}: a silence lasts more than nothing and at most a year"
        )));
    }
    let target = id
        .map(|id| agent.target(id).map(|t| t.id.clone()))
        .transpose()?;
    let now = now_ms();
    let mute = Mute {
        since_ms: now,
        until_ms: now + length.as_millis() as u64,
        reason: reason.map(str::to_string),
    };
    let mut mutes = Mutes::load(&agent.state)?;
    match &target {
        Some(id) => {
            mutes.targets.insert(id.clone(), mute.clone());
        }
        None => mutes.all = Some(mute.clone()),
    }
    mutes.save(&agent.state)?;
    println!(
        "{}: no notices until {}{}",
        target.as_deref().unwrap_or("every target"),
        format_ms(mute.until_ms),
        reason.map(|r| format!(" ({r})")).unwrap_or_default()
    );
    if !agent
        .config
        .backends
        .contains(&crate::config::BackendKind::Notify)
    {
        eprintln!(
            "warning: notify is not among the backends of {}: nothing would be sent anyway",
            agent.config.path.display()
        );
    }
    Ok(Code::Ok)
}

pub async fn unsilence(
    agent: &Agent,
    config_path: &std::path::Path,
    id: Option<&str>,
) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let mut mutes = Mutes::load(&agent.state)?;
    let now = now_ms();
    let ended = match id {
        Some(id) => {
            let id = agent.target(id)?.id.clone();
            let had = mutes.targets.remove(&id).is_some_and(|m| m.until_ms > now);
            if mutes.all.as_ref().is_some_and(|m| m.until_ms > now) {
                eprintln!("warning: a silence of every target (silence --all) still holds for {id}: end it with unsilence --all");
            }
            had.then(|| id.clone())
        }
        None => {
            let had = mutes.all.take().is_some_and(|m| m.until_ms > now)
                | mutes.targets.values().any(|m| m.until_ms > now);
            mutes.targets.clear();
            had.then(|| "every target".to_string())
        }
    };
    mutes.save(&agent.state)?;
    match ended {
        Some(who) => println!("{who}: notices are on again"),
        None => println!("no silence was in force"),
    }
    // What differs from the last notice goes out now, not with the next minute's look.
    if agent
        .config
        .backends
        .contains(&crate::config::BackendKind::Notify)
    {
        return super::notify::run(agent, config_path, false).await;
    }
    Ok(Code::Ok)
}
