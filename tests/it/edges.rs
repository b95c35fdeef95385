//! Edge cases of the input: odd ids and names, secret files that are not regular files, URLs
//! that cannot be an API base, and states outside 0..3. Each must be refused with a message that
//! says what is wrong, and nothing may be sent.

use crate::util::{output_text, Sandbox};

/// Runs `check` on a config (below a first `stateDir` line, so its line 1 is line 2) and expects a config error (exit 2) whose stderr holds `want`.
fn check_refuses(config: &str, want: &str) {
    let sb = Sandbox::new();
    sb.config(&format!("stateDir = \"{{state}}\"\n{config}"));
    let out = sb.cmd(&["check"]).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = sb.path("config.toml").display().to_string();
    assert!(stderr.contains(&file), "the file is named: {text}");
    assert!(stderr.contains(want), "want {want:?}: {text}");
}

#[test]
fn check_refuses_an_active_target_with_an_empty_host() {
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_http]]\nhost = \"\"\n",
        "config.toml:3: target -HTTP (check_http): host is empty",
    );
}

#[test]
fn check_refuses_a_passive_target_with_an_empty_or_missing_name() {
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\nname = \"\"\n",
        "config.toml:3: passive target for host \"h\" has an empty name (name is required)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\n",
        "config.toml:3: passive target for host \"h\" has no name",
    );
}

#[test]
fn check_refuses_control_characters_in_host_and_name() {
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_ssh]]\nhost = \"a\\nb\"\n",
        "config.toml:3: target a\\nb-SSH (check_ssh): host contains a control character (U+000A)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\"\nname = \"x\\ty\"\n",
        "config.toml:3: target h-x\\ty (passive): name contains a control character (U+0009)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.passive]]\nhost = \"h\\u007f\"\nname = \"n\"\n",
        "host contains a control character (U+007F)",
    );
    check_refuses(
        "backend = \"local\"\n[[targets.active.check_ping]]\nhost = \"h\"\nname = \"\\u0000\"\n",
        "name contains a control character (U+0000)",
    );
}
