//! `sync`: the main job once. Register everything, run every passive script, deliver, and
//! print one table of what happened.

use crate::agent::Agent;
use crate::backend::bounded;
use crate::deliver;
use crate::exit::{self, Code};
use crate::passive;
use crate::targets::Target;

/// Scripts run side by side, but not so many that they fight over a small machine.
const SCRIPTS_AT_ONCE: usize = 4;

pub async fn run(agent: &Agent) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let backends = agent.backends()?;
    let targets = &agent.config.targets;
    // What waited from earlier runs goes first, so results arrive in the order measured.
    let backlog = deliver::flush_all(agent, &backends).await?;
    let registered = super::register::register(agent, &backends, targets, true).await?;
    let mut code = super::register::code_of(&registered);

    let scripted: Vec<Target> = targets
        .iter()
        .filter(|t| t.passive().is_some_and(|p| !p.script.is_empty()))
        .cloned()
        .collect();
    let scratch = agent.state.root().join("tmp");
    let backends = std::sync::Arc::new(backends);
    let shared = backends.clone();
    let results = bounded(scripted, SCRIPTS_AT_ONCE, move |t: Target| {
        let (scratch, backends) = (scratch.clone(), shared.clone());
        async move {
            let p = t.passive().expect("filtered to passive targets");
            let run = passive::run(&t, &p.script, p.script_timeout, &scratch);
            tokio::join!(run, crate::backend::started(&backends, &t)).0
        }
    })
    .await;

    // Queue every result first, then deliver them in one pass over one connection.
    let mut ran = Vec::new();
    for result in results {
        let result = result?;
        // Only an accepted result is a target's last one (a full queue refuses it).
        match deliver::enqueue(agent, &result) {
            Ok(()) => ran.push(result),
            Err(e) => {
                code = code.worst(exit::code_of(&e));
                eprintln!("{}: {e:#}", result.target);
            }
        }
    }
    let mut report = deliver::flush_all(agent, &backends).await?;
    report.delivered += backlog.delivered;
    report.rejected.extend(backlog.rejected);
    code = code.worst(report.code());

    println!(
        "{:<44} {:<15} {:<12} {:<10} DELIVERY",
        "TARGET", "KIND", "REGISTERED", "RESULT"
    );
    for t in targets {
        let regs: Vec<_> = registered.iter().filter(|r| r.target == t.id).collect();
        let reg = if regs.iter().all(|r| r.outcome.is_ok()) {
            "ok"
        } else {
            "FAILED"
        };
        let (result, delivery) = match ran.iter().find(|r| r.target == t.id) {
            Some(r) => (r.state.label(), deliver::whereabouts(agent, &r.id)),
            None => ("-", "-".to_string()),
        };
        println!(
            "{:<44} {:<15} {:<12} {:<10} {delivery}",
            t.id,
            t.kind_name(),
            reg,
            result
        );
    }
    for r in registered.iter().filter_map(|r| r.outcome.as_ref().err()) {
        eprintln!("{r}");
    }
    if let Some(e) = &report.error {
        eprintln!(
            "delivery stopped, {} result(s) kept in the queue: {e}",
            report.remaining
        );
    }
    println!(
        "{} registrations, {} scripts run, {} results delivered, {} queued, {} refused",
        registered.len(),
        ran.len(),
        report.delivered,
        report.remaining,
        report.rejected.len()
    );
    Ok(code)
}
