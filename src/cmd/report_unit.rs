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
    let timing = watch::run_timing(&run.unit);
    let journal = journal_with_patience(&run, timing.started).await;
    let seconds = timing.seconds;
    let (output, perfdata) = watch::describe(&run, seconds, &journal);
    let mut result = CheckResult::new(target, run.state(), &output, &perfdata);
    result.duration_ms = seconds.map(|s| s * 1000);
    let backends = agent.backends()?;
    let fates = deliver::accept(agent, &backends, result).await?;
    super::report_fates(&target.id, &fates);
    Ok(fates.code())
}

/// The run's last log lines. journald takes a unit's output through a stream and may not have
/// indexed the last lines when OnSuccess= starts us (seen in the system test: an empty log for a
/// unit that had printed one line), so an empty answer is asked again for up to 2 s.
async fn journal_with_patience(run: &Run, started: Option<u64>) -> String {
    for _ in 0..10 {
        match watch::journal_of(&run.invocation_id, &run.unit, started) {
            Ok(text) if !text.trim().is_empty() => return text,
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            Err(e) => {
                tracing::warn!("{e:#}");
                return format!("(the log could not be read: {e:#})");
            }
        }
    }
    String::new()
}
