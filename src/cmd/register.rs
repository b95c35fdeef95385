//! `register [ID...]`: create or refresh targets on the server.

use crate::agent::Agent;
use crate::backend::{Api, Backend, Registered};
use crate::exit::Code;
use crate::state::{now_ms, Registration};
use crate::targets::Target;
use std::collections::BTreeMap;

pub async fn run(agent: &Agent, ids: &[String]) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let selected: Vec<Target> = if ids.is_empty() {
        agent.config.targets.clone()
    } else {
        ids.iter()
            .map(|id| agent.target(id).cloned())
            .collect::<anyhow::Result<_>>()?
    };
    let backend = agent.backend()?;
    // Talking to the server anyway: deliver what waited first.
    let flushed = crate::deliver::flush(agent, &backend).await?;
    let outcomes = register(agent, &backend, &selected, ids.is_empty()).await?;
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

/// Registers `targets` and records the outcome per target for `status`.
pub async fn register(
    agent: &Agent,
    backend: &Backend,
    targets: &[Target],
    complete: bool,
) -> anyhow::Result<Vec<Registered>> {
    let outcomes = backend.register(targets, complete).await;
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
    Ok(outcomes)
}

/// Exit code for a set of registrations: rejected beats transient beats ok.
pub fn code_of(outcomes: &[Registered]) -> Code {
    outcomes.iter().fold(Code::Ok, |code, o| match &o.outcome {
        Ok(()) => code,
        Err(e) if e.is_transient() => code.worst(Code::Queued),
        Err(_) => code.worst(Code::Rejected),
    })
}
