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
    let backends = agent.backends()?;
    let fates = deliver::accept(agent, &backends, result).await?;
    super::report_fates(&target.id, &fates);
    Ok(fates.code())
}
