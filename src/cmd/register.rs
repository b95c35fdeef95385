//! `register [--retry] [ID...]`: create or refresh targets on the server.
//!
//! With `--retry` (what the timers mode's register unit runs), a round that fails for a
//! transient reason (5xx, unreachable, timeout) is tried again after a minute, then at most
//! every 5 minutes ([`RetryPolicy::registration`]), re-reading the config each time, until the
//! server takes it. A refusal (4xx) ends it: retrying cannot fix a wrong key.

use crate::agent::Agent;
use crate::backend::{Api, Backend, Registered};
use crate::exit::Code;
use crate::retry::RetryPolicy;
use crate::state::{now_ms, Registration};
use crate::targets::Target;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub async fn run(agent: &Agent, ids: &[String], retry_with: Option<&Path>) -> anyhow::Result<Code> {
    let mut code = once(agent, ids).await?;
    let Some(config_path) = retry_with else {
        return Ok(code);
    };
    let mut round = agent.state.registration_round();
    while let Some(next_ms) = round.next_try_ms {
        let wait = Duration::from_millis(next_ms.saturating_sub(now_ms()));
        eprintln!(
            "warning: registration not done: {}; trying again in {} s",
            round.last_error.as_deref().unwrap_or("?"),
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        // A `nixos-rebuild switch` may have changed the targets meanwhile.
        let fresh = Agent::load(config_path)?;
        code = once(&fresh, ids).await?;
        round = fresh.state.registration_round();
    }
    Ok(code)
}

async fn once(agent: &Agent, ids: &[String]) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let selected: Vec<Target> = if ids.is_empty() {
        agent.config.targets.clone()
    } else {
        let mut selected: Vec<Target> = Vec::with_capacity(ids.len());
        for id in ids {
            let target = agent.target(id)?;
            // `register a a` (or an id and its escaped form) registers it once.
            if !selected.iter().any(|t| t.id == target.id) {
                selected.push(target.clone());
            }
        }
        selected
    };
    let backends = agent.backends()?;
    // Talking to the server anyway: deliver what waited first.
    let flushed = crate::deliver::flush_all(agent, &backends).await?;
    let outcomes = register(agent, &backends, &selected, ids.is_empty()).await?;
    let failed: Vec<&Registered> = outcomes.iter().filter(|o| o.outcome.is_err()).collect();
    for o in &outcomes {
        match &o.outcome {
            Ok(()) => tracing::info!("registered {} ({})", o.target, o.what),
            Err(e) => eprintln!("{e}"),
        }
    }
    println!(
        "registered {} of {} ({} failed)",
        outcomes.len() - failed.len(),
        outcomes.len(),
        failed.len()
    );
    Ok(code_of(&outcomes).worst(flushed.code()))
}

/// Registers `targets` with every backend at once and records the outcome per target for
/// `status`. With several backends each row names its backend.
pub async fn register(
    agent: &Agent,
    backends: &[Backend],
    targets: &[Target],
    complete: bool,
) -> anyhow::Result<Vec<Registered>> {
    let outcomes = {
        let servers: Vec<&str> = agent
            .lanes
            .iter()
            .filter_map(|l| agent.config.server_url(l.kind))
            .collect();
        let _waiting = agent.state.begin_activity(
            format!("registering {} targets", targets.len()),
            (!servers.is_empty()).then(|| servers.join(", ")),
        );
        let rounds = backends.iter().map(|b| b.register(targets, complete));
        let rounds = futures_util::future::join_all(rounds).await;
        let several = rounds.len() > 1;
        agent
            .lanes
            .iter()
            .zip(rounds)
            .flat_map(|(lane, outcomes)| {
                outcomes.into_iter().map(move |mut o| {
                    if several {
                        o.what = format!("{}: {}", lane.name(), o.what);
                    }
                    o
                })
            })
            .collect::<Vec<_>>()
    };
    let at_ms = now_ms();
    let mut per_target: BTreeMap<String, Registration> = BTreeMap::new();
    for o in &outcomes {
        let entry = per_target.entry(o.target.clone()).or_insert(Registration {
            at_ms,
            ok: true,
            error: None,
        });
        if let Err(e) = &o.outcome {
            entry.ok = false;
            entry.error = Some(e.to_string());
        }
    }
    agent.state.record_registrations(&per_target)?;
    record_round(agent, &outcomes, at_ms)?;
    Ok(outcomes)
}

/// Updates `registration.json`: the last success or failure, and when a round that failed for
/// a transient reason is due again.
fn record_round(agent: &Agent, outcomes: &[Registered], at_ms: u64) -> anyhow::Result<()> {
    let mut round = agent.state.registration_round();
    let errors: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.outcome.as_ref().err())
        .collect();
    if errors.is_empty() {
        round.last_success_ms = Some(at_ms);
        round.failures_in_a_row = 0;
        round.next_try_ms = None;
    } else {
        round.last_failure_ms = Some(at_ms);
        let first = errors
            .iter()
            .find(|e| e.is_transient())
            .unwrap_or(&errors[0]);
        round.last_error = Some(format!("{first}"));
        if errors.iter().any(|e| e.is_transient()) {
            round.failures_in_a_row += 1;
            let pause = RetryPolicy::registration().delay(round.failures_in_a_row);
            round.next_try_ms = Some(at_ms + pause.as_millis() as u64);
        } else {
            round.failures_in_a_row = 0;
            round.next_try_ms = None;
        }
    }
    agent.state.record_registration_round(&round)
}

/// Exit code for a set of registrations: rejected beats transient beats ok.
pub fn code_of(outcomes: &[Registered]) -> Code {
    outcomes.iter().fold(Code::Ok, |code, o| match &o.outcome {
        Ok(()) => code,
        Err(e) if e.is_transient() => code.worst(Code::Queued),
        Err(_) => code.worst(Code::Rejected),
    })
}
