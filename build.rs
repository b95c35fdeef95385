//! Build script: the man pages and the bash, zsh and fish completions, generated from the clap
//! definitions in src/cli.rs, and the `--version` text with the git revision when built from a
//! checkout.
//!
//! Outputs go to `$OUT_DIR` and are copied to `target/assets/` (or to
//! `$NIXCLOUD_MONITORING_ASSETS_DIR` when set, as nix/package.nix does):
//!
//!   man/nixcloud-monitoring.1, man/nixcloud-monitoring-<subcommand>.1
//!   nixcloud-monitoring.bash, _nixcloud-monitoring (zsh), nixcloud-monitoring.fish

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::Command;

/// src/cli.rs as it is, compiled here too; it only needs `crate::result::State`.
#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

/// The one crate type src/cli.rs names (the real one is in src/result.rs).
mod result {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum State {
        Ok,
        Warning,
        Critical,
        Unknown,
    }
}

const BIN: &str = "nixcloud-monitoring";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/cli.rs");
    println!("cargo:rerun-if-env-changed=NIXCLOUD_MONITORING_ASSETS_DIR");

    let version = match git_revision() {
        Some(rev) => format!("{} (git {rev})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    // Read by src/cli.rs's VERSION.
    println!("cargo:rustc-env=NIXCLOUD_MONITORING_BUILD_VERSION={version}");

    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let mut cmd = cli::Cli::command();
    let man = out.join("man");
    // Anew each time, so a removed subcommand leaves no page behind.
    let _ = std::fs::remove_dir_all(&man);
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(cmd.clone(), &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, BIN, &out)?;
    }
    fix_bash_subcommands(&out.join(format!("{BIN}.bash")))?;

    let assets = match std::env::var_os("NIXCLOUD_MONITORING_ASSETS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // OUT_DIR is <target>[/<triple>]/<profile>/build/<package>-<hash>/out.
        _ => match out.ancestors().nth(4) {
            Some(target) => target.join("assets"),
            None => return Ok(()),
        },
    };
    copy_assets(&out, &assets)?;
    Ok(())
}

/// `git rev-parse --short HEAD`, only when this package's directory is the top of a git
/// checkout (not, say, a source tarball unpacked inside some other repository). Cargo runs
/// this script again when HEAD moves.
fn git_revision() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    // HEAD, the branch it points to, packed refs and HEAD's log: what moves with a commit or
    // checkout (the branch's own file may only appear with the next commit; the log moves).
    for file in ["HEAD", "packed-refs", "logs/HEAD"] {
        rerun_if_git_path_changed(&git, file);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_git_path_changed(&git, &branch);
    }
    git(&["rev-parse", "--short", "HEAD"])
}

fn rerun_if_git_path_changed(git: &dyn Fn(&[&str]) -> Option<String>, name: &str) {
    if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", name]) {
        // A missing file would make cargo rerun this script on every build.
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// clap_complete (4.6.12 and earlier) spells the bash state of a subcommand of a hyphenated
/// binary two ways: the loop that reads the words sets `nixcloud__monitoring__subcmd__status`,
/// the `case` arms expect `nixcloud__subcmd__monitoring__subcmd__status`, so no option of a
/// subcommand ever completes (clap-rs/clap#6421). Spell the arms as the loop does; a no-op
/// once clap_complete is fixed. src/cli.rs's tests run the result in bash.
fn fix_bash_subcommands(path: &Path) -> std::io::Result<()> {
    let wrong = BIN.replace('-', "__subcmd__");
    let right = BIN.replace('-', "__");
    let script = std::fs::read_to_string(path)?;
    if script.contains(&format!("{wrong}__subcmd__")) {
        std::fs::write(
            path,
            script.replace(&format!("{wrong}__subcmd__"), &format!("{right}__subcmd__")),
        )?;
    }
    Ok(())
}

fn copy_assets(from: &Path, to: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(to.join("man"));
    std::fs::create_dir_all(to.join("man"))?;
    for entry in std::fs::read_dir(from.join("man"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join("man").join(entry.file_name()))?;
    }
    for name in [
        format!("{BIN}.bash"),
        format!("_{BIN}"),
        format!("{BIN}.fish"),
    ] {
        std::fs::copy(from.join(&name), to.join(&name))?;
    }
    Ok(())
}
