//! `submit ID OUTPUT PERFDATA STATE`: one result by hand (the per-target commands call this).

use crate::agent::Agent;
use crate::deliver;
use crate::exit::Code;
use crate::result::{CheckResult, State, MAX_TEXT};

pub async fn run(
    agent: &Agent,
    id: &str,
    output: &str,
    perfdata: &str,
    state: State,
) -> anyhow::Result<Code> {
    let target = agent.passive_target(id)?;
    for (what, text) in [("output", output), ("perfdata", perfdata)] {
        if text.len() > MAX_TEXT {
            tracing::warn!(
                "{what} is {} bytes; only the last {MAX_TEXT} are kept",
                text.len()
            );
        }
    }
    let result = CheckResult::new(target, state, output, perfdata);
    let backend = agent.backend()?;
    let fate = deliver::accept(agent, &backend, result).await?;
    super::report_fate(&target.id, &fate);
    Ok(fate.code())
}
