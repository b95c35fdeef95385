//! `flush`: deliver everything queued (and spooled), oldest first.

use crate::agent::Agent;
use crate::deliver;
use crate::exit::Code;

pub async fn run(agent: &Agent) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let backends = agent.backends()?;
    let report = deliver::flush_all(agent, &backends).await?;
    println!(
        "delivered {}, refused {}, still queued {}",
        report.delivered,
        report.rejected.len(),
        report.remaining
    );
    if let Some(e) = &report.error {
        eprintln!("delivery stopped: {e}");
    }
    Ok(report.code())
}
