//! `report-unit ID`: the outcome of a watched unit's run, as a result of the passive target
//! ID (what the module's `nixcloud.monitoring-watch@<id>.service` runs; see `crate::watch`).

use crate::agent::Agent;
use crate::deliver;
use crate::exit::{self, Code};
use crate::result::CheckResult;
use crate::watch::{self, Run};

pub async fn run(agent: &Agent, id: &str) -> anyhow::Result<Code> {
    let target = agent.passive_target(id)?;
    let run = Run::from_env(|k| std::env::var(k).ok()).map_err(exit::usage)?;
    let journal = watch::journal_of(&run.invocation_id).unwrap_or_else(|e| {
        tracing::warn!("{e:#}");
        format!("(the log could not be read: {e:#})")
    });
    let seconds = watch::run_seconds(&run.unit);
    let (output, perfdata) = watch::describe(&run, seconds, &journal);
    let mut result = CheckResult::new(target, run.state(), &output, &perfdata);
    result.duration_ms = seconds.map(|s| s * 1000);
    let backend = agent.backend()?;
    let fate = deliver::accept(agent, &backend, result).await?;
    super::report_fate(&target.id, &fate);
    Ok(fate.code())
}
