//! `daemon`: placeholder.

use crate::agent::Agent;
use crate::exit::Code;

pub async fn run(_agent: &Agent) -> anyhow::Result<Code> {
    anyhow::bail!("not implemented yet")
}
