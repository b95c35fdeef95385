//! nixcloud-monitoring: parse the command line, run the command, exit with its code.

mod agent;
mod backend;
mod calendar;
mod checks;
mod cli;
mod cmd;
mod config;
mod deliver;
mod exit;
mod http;
mod passive;
mod privileges;
mod queue;
mod result;
mod retry;
mod secrets;
mod state;
mod targets;
mod watch;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if !matches!(cli.command, cli::Command::Daemon) {
        // `nixcloud-monitoring status | head` should end quietly like any Unix tool, not panic
        // on a closed stdout. The daemon keeps Rust's default (ignored), as it prints nothing.
        // SAFETY: called before any thread exists; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let level = match cli.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .without_time()
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(cmd::dispatch(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("could not start the async runtime")),
    };
    let code = match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code_of(&e)
        }
    };
    std::process::ExitCode::from(code.value())
}
