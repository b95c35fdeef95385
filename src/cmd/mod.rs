//! One file per subcommand; this one only dispatches.

mod check;
mod daemon;
mod flush;
pub mod notify;
mod register;
mod report_unit;
mod run;
mod silence;
mod status;
mod submit;
mod sync;

use crate::agent::Agent;
use crate::cli::{Cli, Command};
use crate::config;
use crate::exit::Code;

/// Runs the parsed command line and says how it ended.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Code> {
    let config_path = config::resolve_path(cli.config.as_deref());
    // A command about one target may read that target alone from a big config.
    let one = match &cli.command {
        Command::Submit { id, .. } | Command::Run { id } | Command::ReportUnit { id } => {
            Some(id.as_str())
        }
        _ => None,
    };
    if let Command::Status { check: true, .. } = cli.command {
        return Ok(status::as_plugin(Agent::load_for(&config_path, one)));
    }
    let agent = Agent::load_for(&config_path, one)?;
    match cli.command {
        Command::Check => check::run(&agent),
        Command::Status { json, .. } => status::run(&agent, json),
        Command::Register { ids, retry } => {
            register::run(&agent, &ids, retry.then_some(config_path.as_path())).await
        }
        Command::Run { id } => run::run(&agent, &id).await,
        Command::Submit {
            id,
            output,
            perfdata,
            state,
        } => submit::run(&agent, &id, &output, &perfdata, state).await,
        Command::Flush => flush::run(&agent).await,
        Command::Sync => sync::run(&agent).await,
        Command::ReportUnit { id } => report_unit::run(&agent, &id).await,
        Command::Daemon => daemon::run(&agent).await,
        Command::Notify { test } => notify::run(&agent, &config_path, test).await,
        Command::Silence {
            id,
            duration,
            reason,
            ..
        } => silence::silence(&agent, id.as_deref(), &duration, reason.as_deref()),
        Command::Unsilence { id, .. } => {
            silence::unsilence(&agent, &config_path, id.as_deref()).await
        }
    }
}

/// One line per backend about a delivered (or not) result, on stdout for success, stderr
/// otherwise. The backend is named only when there are several.
fn report_fates(id: &str, fates: &crate::deliver::Fates) {
    let several = fates.0.len() > 1;
    for (name, fate) in &fates.0 {
        match several {
            true => report_fate(&format!("{id} ({name})"), fate),
            false => report_fate(id, fate),
        }
    }
}

fn report_fate(id: &str, fate: &crate::deliver::Fate) {
    use crate::deliver::Fate;
    match fate {
        Fate::Delivered => println!("{id}: delivered"),
        Fate::Spooled(path) => println!(
            "{id}: handed to the nixcloud-monitoring service ({})",
            path.display()
        ),
        Fate::Queued(why) => eprintln!(
            "warning: {id}: not delivered yet, kept in the queue (nothing is lost; it goes out with the next delivery): {why}"
        ),
        Fate::KeyUnreadable(why) => eprintln!(
            "error: {id}: not delivered, kept in the queue until the key is readable (nothing is lost): {why}"
        ),
        Fate::Rejected(why) => eprintln!("{id}: refused by the server, kept in rejected/: {why}"),
    }
}
