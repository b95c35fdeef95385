//! `run ID`: run a passive target's script and deliver the result.

use crate::agent::Agent;
use crate::exit::{self, Code};
use crate::privileges::Role;
use crate::{deliver, passive};

pub async fn run(agent: &Agent, id: &str) -> anyhow::Result<Code> {
    let target = agent.passive_target(id)?;
    let Some(p) = target.passive().filter(|p| !p.script.is_empty()) else {
        return Err(exit::usage(anyhow::anyhow!(
            "target {} has no script: its results are pushed with `submit`",
            target.id
        )));
    };
    // A guest cannot write the state directory; its private temp dir will do.
    let scratch = match agent.role {
        Role::Owner => agent.state.root().join("tmp"),
        Role::Guest => std::env::temp_dir(),
    };
    let backends = agent.backends()?;
    let (result, ()) = tokio::join!(
        passive::run(target, &p.script, p.script_timeout, &scratch),
        crate::backend::started(&backends, target)
    );
    let result = result?;
    println!(
        "{}: {} - {}",
        target.id,
        result.state.label(),
        first_line(&result.output)
    );
    let fates = deliver::accept(agent, &backends, result).await?;
    super::report_fates(&target.id, &fates);
    Ok(fates.code())
}

/// The first line of a text, for one-line summaries.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
