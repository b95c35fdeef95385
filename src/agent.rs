//! What every command starts from: the checked config, the state directory and the queues.

use crate::backend::Backend;
use crate::config::{BackendKind, Config};
use crate::exit;
use crate::privileges::{self, Role};
use crate::queue::Queue;
use crate::secrets;
use crate::state::StateDir;
use crate::targets::{self, Target};
use std::path::Path;

/// One backend's own queue: each backend gets every result, and one that is down holds up
/// only its own lane. The `notify` destination has one lane per channel.
pub struct Lane {
    pub kind: BackendKind,
    /// The `notify` channel this lane is for.
    pub channel: Option<String>,
    pub queue: Queue,
}

impl Lane {
    /// `icinga2`, or `notify-<channel>`: how messages, `status` and the queue directory name
    /// it. (Not `notify.<channel>`: a channel named `json` would make `queue/notify.json`,
    /// which the adoption of `queue/*.json` results would take for a result.)
    pub fn name(&self) -> String {
        match &self.channel {
            Some(c) => format!("{}-{c}", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }
}

/// The loaded agent.
pub struct Agent {
    pub config: Config,
    pub state: StateDir,
    /// One per configured backend, in the config's order. With a single backend its queue is
    /// `queue/` as it always was; with several, `queue/<backend>/`.
    pub lanes: Vec<Lane>,
    /// Whether this process owns the state directory or may only use the spool.
    pub role: Role,
}

impl Agent {
    /// Loads the config (a config error is a usage error, exit 2).
    pub fn load(path: &Path) -> anyhow::Result<Agent> {
        Agent::load_for(path, None)
    }

    /// Loads the config for a command about the one target `id` (`submit`, `run`,
    /// `report-unit`), or about all with `None`. With a big config, an indexed and unchanged
    /// file gives that target alone ([`Config::load_target`]); it is used only while nothing
    /// else is queued or spooled (a command delivers the whole backlog, which needs every
    /// target's key and settings), and its queues then deliver that target's results only.
    pub fn load_for(path: &Path, id: Option<&str>) -> anyhow::Result<Agent> {
        let (config, partial) = match id {
            Some(id) => Config::load_target(path, id).map_err(exit::usage)?,
            None => (Config::load(path).map_err(exit::usage)?, false),
        };
        let agent = Agent::with_config(config)?;
        if !partial {
            return Ok(agent);
        }
        if agent.lanes.iter().any(|lane| lane.queue.has_results()) {
            return Agent::load_for(path, None);
        }
        let only = agent.config.targets[0].id.clone();
        let Agent {
            config,
            state,
            lanes,
            role,
        } = agent;
        let lanes = lanes
            .into_iter()
            .map(|lane| Lane {
                kind: lane.kind,
                channel: lane.channel,
                queue: lane.queue.only_target(&only),
            })
            .collect();
        Ok(Agent {
            config,
            state,
            lanes,
            role,
        })
    }

    fn with_config(config: Config) -> anyhow::Result<Agent> {
        let role = privileges::settle(&config.state_dir, || secrets::preload(&config.secrets()))?;
        let state = StateDir::new(config.state_dir.clone());
        let mut lanes: Vec<Lane> = Vec::new();
        for &kind in &config.backends {
            let channels = match (kind, &config.notify) {
                (BackendKind::Notify, Some(n)) => {
                    n.channels.iter().map(|c| Some(c.name.clone())).collect()
                }
                _ => vec![None],
            };
            for channel in channels {
                let lane = Lane {
                    kind,
                    channel,
                    queue: Queue::new(&state, config.queue.clone()),
                };
                lanes.push(lane);
            }
        }
        // One lane keeps `queue/` as it always was; several get `queue/<name>/` each.
        if lanes.len() > 1 {
            for lane in &mut lanes {
                lane.queue = Queue::lane(&state, config.queue.clone(), &lane.name());
            }
        }
        Ok(Agent {
            config,
            state,
            lanes,
            role,
        })
    }

    /// The configured backends, one per lane.
    pub fn backends(&self) -> anyhow::Result<Vec<Backend>> {
        self.lanes
            .iter()
            .map(|lane| {
                Backend::new(
                    lane.kind,
                    lane.channel.as_deref(),
                    &self.config,
                    &self.state,
                )
            })
            .collect()
    }

    /// The first lane's queue, which also holds the spool and adopts what is spooled.
    pub fn queue(&self) -> &Queue {
        &self.lanes[0].queue
    }

    /// A target by id (raw or escaped); an unknown id is a usage error that lists the ids.
    pub fn target(&self, id: &str) -> anyhow::Result<&Target> {
        targets::find(&self.config.targets, id).ok_or_else(|| {
            let known: Vec<&str> = self
                .config
                .targets
                .iter()
                .map(|t| t.id.as_str())
                .take(20)
                .collect();
            exit::usage(anyhow::anyhow!(
                "no target {id:?} in {}; known targets: {}",
                self.config.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// Fails unless this process may write the state directory (every command but `submit`,
    /// `run`, `status` and `check`).
    pub fn require_owner(&self) -> anyhow::Result<()> {
        match self.role {
            Role::Owner => Ok(()),
            Role::Guest => Err(anyhow::anyhow!(
                "{} belongs to another user: run this as that user (nixcloud-monitoring on NixOS) or as root",
                self.config.state_dir.display()
            )),
        }
    }

    /// A passive target by id; active ones are a usage error.
    pub fn passive_target(&self, id: &str) -> anyhow::Result<&Target> {
        let target = self.target(id)?;
        match target.passive() {
            Some(_) => Ok(target),
            None => Err(exit::usage(anyhow::anyhow!(
                "target {} is an active check ({}): the server runs it, results cannot be pushed for it",
                target.id,
                target.kind_name()
            ))),
        }
    }
}
