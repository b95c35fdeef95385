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
  3  server unreachable, timed out, 5xx, 408, 425 or 429: results are queued, not lost,
     and go out with the next delivery; registrations are retried by the next run
  4  refused by the server (4xx other than 408/425/429, e.g. a wrong key): results kept in
     rejected/, see `status`
  5  queue full: the result was NOT accepted (with several backends: not by the
     backend whose queue is full; the others took it)
`status --check` exits as a monitoring plugin: 0 OK (no queued result older than its
target's timers.timeout), 2 CRITICAL (some are; they are named), 3 UNKNOWN (the config is
missing or broken, or the state cannot be read; the first line says why).

Config: --config PATH, else $NIXCLOUD_MONITORING_CONFIG, else /etc/nixcloud-monitoring/config.toml";

/// `--version`: the package version, with ` (git <rev>)` when built from a checkout (build.rs).
pub const VERSION: &str = match option_env!("NIXCLOUD_MONITORING_BUILD_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

/// Registers monitoring targets, runs passive checks and delivers their results durably.
#[derive(Debug, Parser)]
#[command(name = "nixcloud-monitoring", version = VERSION, after_help = EXIT_CODES, propagate_version = true)]
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
        /// After a transient failure (5xx, unreachable, timeout) try again after a minute,
        /// then at most every 5 minutes, until the server takes the registration.
        #[arg(long)]
        retry: bool,
        /// Target ids; all targets when none are given.
        ids: Vec<String>,
    },
    /// Run a passive target's script and deliver its result.
    Run {
        /// The passive target's id.
        id: String,
    },
    /// Report how a watched unit's run ended, as a result of the passive target ID (run by
    /// the module's nixcloud.monitoring-watch@ID unit from OnSuccess=/OnFailure=).
    ReportUnit {
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
        /// 0 or OK, 1 or WARNING, 2 or CRITICAL, 3 or UNKNOWN.
        #[arg(value_parser = parse_state, allow_hyphen_values = true)]
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
        /// Report only the backlog, as a monitoring plugin does: exit 0 (OK) while every queued
        /// result is younger than its target's timers.timeout, 2 (CRITICAL) otherwise.
        #[arg(long, conflicts_with = "json")]
        check: bool,
    },
    /// Check the config and print what would be registered, sending nothing.
    Check,
    /// Send the notices that are due: queued ones, those held for the grouping window,
    /// "no result" for silent targets, reminders; waits while any is held or cannot be sent
    /// yet, then exits (the timers mode's nixcloud.monitoring-notify unit runs this).
    Notify {
        /// Send a test notice through every channel instead, to prove each path.
        #[arg(long)]
        test: bool,
    },
    /// Hold every notice about a target (or all) for a while; when it ends, the target's
    /// state goes out if it differs from the last notice.
    Silence {
        /// The target's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every target.
        #[arg(long)]
        all: bool,
        /// How long: `30m`, `2h`, `1d` (at most a year).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, for `status`.
        #[arg(long)]
        reason: Option<String>,
    },
    /// End a silence now.
    Unsilence {
        /// The target's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// The silence of every target (`silence --all`), and each target's own.
        #[arg(long)]
        all: bool,
    },
    /// Run continuously: registration, passive scripts and delivery on their schedules.
    Daemon,
}

/// `submit`'s STATE: exactly `0`, `1`, `2`, `3` or `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
/// Nothing else (`00`, ` 1`, `ok`, `4`, `-1`) is taken for a state: a caller that sends one
/// has a bug, and guessing would report a wrong state.
fn parse_state(text: &str) -> Result<State, String> {
    match text {
        "0" | "OK" => Ok(State::Ok),
        "1" | "WARNING" => Ok(State::Warning),
        "2" | "CRITICAL" => Ok(State::Critical),
        "3" | "UNKNOWN" => Ok(State::Unknown),
        // The wording of the old message (`state 7 is not one of …`), which callers may match.
        _ => Err(format!(
            "state {text} is not one of 0 (OK), 1 (WARNING), 2 (CRITICAL), 3 (UNKNOWN): give \
             exactly the digit or the upper-case name"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(arg: &str) -> Result<State, String> {
        let cli = Cli::try_parse_from(["nixcloud-monitoring", "submit", "h-n", "out", "", arg])
            .map_err(|e| {
                assert_eq!(e.exit_code(), 2, "a usage error");
                e.to_string()
            })?;
        match cli.command {
            Command::Submit { state, .. } => Ok(state),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn states_are_digits_or_upper_case_names() {
        for (arg, want) in [
            ("0", State::Ok),
            ("1", State::Warning),
            ("2", State::Critical),
            ("3", State::Unknown),
            ("OK", State::Ok),
            ("WARNING", State::Warning),
            ("CRITICAL", State::Critical),
            ("UNKNOWN", State::Unknown),
        ] {
            assert_eq!(state(arg), Ok(want), "{arg:?}");
        }
    }

    #[test]
    fn anything_else_is_a_usage_error() {
        for arg in [
            "00", " 1", "1 ", "+1", "4", "7", "-1", "-0", "ok", "Ok", "warning", "", "0x1", "1.0",
            "３",
        ] {
            let e = state(arg).expect_err(arg);
            assert!(
                e.contains(&format!("invalid value '{arg}' for '<STATE>'")),
                "{arg:?}: {e}"
            );
            assert!(
                e.contains(&format!(
                    "state {arg} is not one of 0 (OK), 1 (WARNING), 2 (CRITICAL), 3 (UNKNOWN): \
                     give exactly the digit or the upper-case name"
                )),
                "{arg:?}: {e}"
            );
        }
    }

    #[test]
    fn output_and_perfdata_may_still_start_with_a_hyphen() {
        let cli =
            Cli::try_parse_from(["nixcloud-monitoring", "submit", "h-n", "-x", "-y", "2"]).unwrap();
        let Command::Submit {
            output,
            perfdata,
            state,
            ..
        } = cli.command
        else {
            panic!("not submit")
        };
        assert_eq!(
            (output.as_str(), perfdata.as_str(), state),
            ("-x", "-y", State::Critical)
        );
    }

    /// What build.rs generated from these definitions (also copied to target/assets/).
    macro_rules! generated {
        ($file:literal) => {
            include_str!(concat!(env!("OUT_DIR"), "/", $file))
        };
    }
    const BASH: &str = generated!("nixcloud-monitoring.bash");
    const ZSH: &str = generated!("_nixcloud-monitoring");
    const FISH: &str = generated!("nixcloud-monitoring.fish");

    #[test]
    fn man_pages_and_completions_are_generated() {
        let man = generated!("man/nixcloud-monitoring.1");
        assert!(man.contains(".TH nixcloud-monitoring 1"), "{man}");
        assert!(man.contains("nixcloud\\-monitoring\\-submit(1)"), "{man}");
        assert!(man.contains("Exit codes:"), "{man}");
        let submit = generated!("man/nixcloud-monitoring-submit.1");
        assert!(submit.contains("<\\fISTATE\\fR>"), "{submit}");
        for (shell, script) in [("bash", BASH), ("zsh", ZSH), ("fish", FISH)] {
            for word in ["submit", "register", "json", "config"] {
                assert!(script.contains(word), "{shell} completion lacks {word}");
            }
        }
    }

    /// The bash completion works past the subcommand too (build.rs works around
    /// clap-rs/clap#6421, where a hyphen in the binary's name broke exactly that).
    #[test]
    fn bash_completes_subcommands_and_their_options() {
        let complete = |words: &str| {
            let script = format!(
                "{BASH}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
                 _nixcloud__monitoring nixcloud-monitoring \"${{COMP_WORDS[COMP_CWORD]}}\" \
                 \"${{COMP_WORDS[COMP_CWORD-1]}}\"\necho \"${{COMPREPLY[*]}}\""
            );
            let out = std::process::Command::new("bash")
                .args(["--norc", "-c", &script])
                .output()
                .expect("bash runs");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        assert_eq!(complete("nixcloud-monitoring su"), "submit");
        assert_eq!(complete("nixcloud-monitoring status --j"), "--json");
        assert_eq!(complete("nixcloud-monitoring register --r"), "--retry");
    }

    #[test]
    fn version_names_the_package_version_and_the_git_revision() {
        use clap::CommandFactory;
        let version = Cli::command().render_version();
        let rest = version
            .trim_end()
            .strip_prefix(&format!(
                "nixcloud-monitoring {}",
                env!("CARGO_PKG_VERSION")
            ))
            .unwrap_or_else(|| panic!("{version:?}"));
        if !rest.is_empty() {
            let rev = rest
                .strip_prefix(" (git ")
                .and_then(|r| r.strip_suffix(')'));
            assert!(
                rev.is_some_and(|r| r.len() >= 7 && r.chars().all(|c| c.is_ascii_hexdigit())),
                "{version:?}"
            );
        }
        // Built from a checkout with git at hand (as in CI), the revision is named.
        let checkout = std::process::Command::new("git")
            .args([
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "rev-parse",
                "--show-toplevel",
            ])
            .output()
            .is_ok_and(|o| {
                o.status.success()
                    && std::path::Path::new(String::from_utf8_lossy(&o.stdout).trim())
                        .canonicalize()
                        .ok()
                        == std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                            .canonicalize()
                            .ok()
            });
        assert_eq!(!rest.is_empty(), checkout, "{version:?}");
        // Subcommands say the same.
        let e = Cli::try_parse_from(["nixcloud-monitoring", "submit", "--version"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(e.to_string().contains(VERSION), "{e}");
    }
}
