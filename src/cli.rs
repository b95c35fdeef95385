//! The command line, as clap types only: nothing here does any work.

use crate::result::State;
use clap::{ArgAction, Parser, Subcommand};
use std::path::PathBuf;

/// The exit codes, shown at the end of `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  done: everything delivered / registered
  1  other failure (I/O, unexpected errors); see the message
  2  usage or config error: nothing was sent
  3  server unreachable or 5xx: results are queued, not lost, and go out with the next delivery
  4  refused by the server (4xx, e.g. a wrong key): results kept in rejected/, see `status`
  5  queue full: the result was NOT accepted

Config: --config PATH, else $NIXCLOUD_MONITORING_CONFIG, else /etc/nixcloud-monitoring/config.toml";

/// Registers monitoring targets, runs passive checks and delivers their results durably.
#[derive(Debug, Parser)]
#[command(name = "nixcloud-monitoring", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// Config file to read.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// A target id is `<host>-<name>` (or its escaped form, as in unit names).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register the given targets, or all, with the server.
    Register {
        /// Target ids; all targets when none are given.
        ids: Vec<String>,
    },
    /// Run a passive target's script and deliver its result.
    Run {
        /// The passive target's id.
        id: String,
    },
    /// Deliver one result for a passive target (what the per-target commands call).
    Submit {
        /// The passive target's id.
        id: String,
        /// Status text (one line by convention; any UTF-8).
        #[arg(allow_hyphen_values = true)]
        output: String,
        /// Performance data ("" for none).
        #[arg(allow_hyphen_values = true)]
        perfdata: String,
        /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
        state: State,
    },
    /// Deliver every queued result, oldest first.
    Flush,
    /// The main job once: register all, run every passive script, deliver; print a summary.
    Sync,
    /// Show every target with its schedule, last result and registration, and the queue.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the config and print what would be registered, sending nothing.
    Check,
    /// Run continuously: registration, passive scripts and delivery on their schedules.
    Daemon,
}
