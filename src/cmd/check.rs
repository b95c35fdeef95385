//! `check`: validate the config and show what `register` would send, sending nothing.

use crate::agent::Agent;
use crate::backend::nixcloud_bodies;
use crate::config::BackendKind;
use crate::exit::Code;
use crate::secrets::{KeySource, SecretError};
use anyhow::Context;
use std::io::Write;

pub fn run(agent: &Agent) -> anyhow::Result<Code> {
    let cfg = &agent.config;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let passive = cfg.targets.iter().filter(|t| t.passive().is_some()).count();
    let names: Vec<&str> = cfg.backends.iter().map(|b| b.name()).collect();
    println!(
        "{}: OK, {} targets ({} active, {} passive), {} {}, state in {}",
        cfg.path.display(),
        cfg.targets.len(),
        cfg.targets.len() - passive,
        passive,
        if names.len() > 1 {
            "backends"
        } else {
            "backend"
        },
        names.join(", "),
        cfg.state_dir.display()
    );
    for kind in &cfg.backends {
        match kind {
            BackendKind::Nixcloud => warn_about_keys(agent),
            BackendKind::Icinga2 => {
                if let Some(password) = cfg.icinga2.as_ref().map(|s| s.password()) {
                    warn_if_unreadable("icinga2.passwordFile", &password);
                }
            }
            BackendKind::Healthchecks => {
                if let Some(key) = cfg.healthchecks.as_ref().map(|s| s.api_key()) {
                    warn_if_unreadable("healthchecks.apiKeyFile", &key);
                }
            }
            BackendKind::Notify => check_channels(cfg),
            BackendKind::Local | BackendKind::Prometheus | BackendKind::Page => {}
        }
    }
    // One buffered writer: stdout is line-buffered, and a line per write made 10,000 targets
    // cost 20,000 write calls.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for t in &cfg.targets {
        // Where the module took the target from (`origin`); only shown, never sent.
        let from = cfg
            .origins
            .get(&t.id)
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        for (what, body) in nixcloud_bodies(t) {
            match cfg.backends[0] {
                BackendKind::Nixcloud => writeln!(
                    out,
                    "would register {} ({what}){from}: POST {}/api/services {body}",
                    t.id, cfg.api_host
                ),
                _ => writeln!(out, "would register {} ({what}){from}", t.id),
            }
            .context("could not write to stdout")?;
        }
    }
    out.flush().context("could not write to stdout")?;
    Ok(Code::Ok)
}

/// Names every notify channel, warns about secrets this user cannot read, and sets each
/// channel up (a CA file that is no certificate, …) without sending anything.
fn check_channels(cfg: &crate::config::Config) {
    let Some(notify) = &cfg.notify else {
        return;
    };
    for c in &notify.channels {
        println!("notify channel {} ({})", c.name, c.type_name());
        for (key, source) in c.secrets() {
            warn_if_unreadable(&format!("notify.channels.{}.{key}", c.name), &source);
        }
    }
}

/// Says which targets have no key, or a key this user cannot read (never the key itself).
fn warn_about_keys(agent: &Agent) {
    let cfg = &agent.config;
    let keyless: Vec<&str> = cfg
        .targets
        .iter()
        .filter(|t| t.key.is_none() && cfg.key.is_none())
        .map(|t| t.id.as_str())
        .collect();
    if !keyless.is_empty() {
        eprintln!(
            "warning: no apiKeyFile/apiKey for {}: registering them will fail",
            keyless.join(", ")
        );
    }
    let sources = cfg
        .key
        .iter()
        .chain(cfg.targets.iter().filter_map(|t| t.key.as_ref()));
    for source in sources {
        warn_if_unreadable("the key", source);
    }
}

/// Warns when a secret cannot be read, saying whether it is this user's rights (the service
/// user may still read it) or the file itself (missing, empty, not a regular file).
fn warn_if_unreadable(what: &str, source: &KeySource) {
    match source.read() {
        Ok(_) => {}
        Err(e @ SecretError::PermissionDenied(_)) => eprintln!(
            "warning: {what} in {} cannot be read by this user: {e}",
            source.describe()
        ),
        Err(e) => eprintln!(
            "warning: {what} in {} cannot be read: {e}",
            source.describe()
        ),
    }
}
