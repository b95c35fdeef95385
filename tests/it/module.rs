//! The contract between the NixOS module and the agent: the config file the module renders
//! (real `nix-instantiate` on nix/render.nix) is accepted by the agent and means the same as
//! the hand-written examples/seed.toml.

use crate::util::{nix_eval_json, output_text, Sandbox};

fn registrations(sb: &Sandbox) -> Vec<String> {
    let out = sb.cmd(&["check"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("would register"))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn the_modules_config_for_the_seed_example_equals_examples_seed_toml() {
    let Some(rendered) = nix_eval_json(
        "the_modules_config_for_the_seed_example_equals_examples_seed_toml",
        "(import ./nix/lib.nix).renderConfig (import ./nix/tests/fixtures.nix).seed",
    ) else {
        return;
    };
    let from_module = Sandbox::new();
    let mut toml_text = toml::to_string(&rendered).unwrap();
    // The fixture keeps the original's literal key; point the state at the sandbox.
    toml_text = toml_text.replace(
        "/var/lib/nixcloud-monitoring",
        &from_module.state_dir().display().to_string(),
    );
    from_module.config(&toml_text);

    let by_hand = Sandbox::new();
    by_hand.config(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed.toml"))
            .unwrap(),
    );

    let module_lines = registrations(&from_module);
    assert_eq!(module_lines.len(), 11, "{module_lines:#?}");
    assert_eq!(module_lines, registrations(&by_hand));
}

/// README's quick start is examples/notify.nix (which nix/tests/eval-module.nix evaluates with
/// the real nixpkgs lib, and whose script the system test runs): the same text, but for where
/// the module is imported from.
#[test]
fn readme_quick_start_is_examples_notify_nix() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/notify.nix")).unwrap();
    let start = readme
        .find("```nix\n{ config, ... }:")
        .expect("README's quick start block")
        + "```nix\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let body = example
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_eq!(
        block.replace("./nixcloud-monitoring/module.nix", "../module.nix"),
        body
    );
}

/// The module's per-target command passes `--` before its arguments: an OUTPUT such as `-v`
/// (the agent's verbose flag) or `--config` is the result's text, not an option (issue 23.6).
#[test]
fn a_generated_command_takes_an_output_that_looks_like_a_flag() {
    let expr = format!(
        "map (c: c.text) ((import ./nix/lib.nix).units {{ cfg = (import ./nix/tests/fixtures.nix).scripted; \
         exe = \"{}\"; configFile = \"/unused\"; }}).commands",
        crate::util::bin().display()
    );
    let Some(commands) = nix_eval_json(
        "a_generated_command_takes_an_output_that_looks_like_a_flag",
        &expr,
    ) else {
        return;
    };
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n\
         [[targets.passive]]\nhost = \"db.example.org\"\nname = \"backup\"\n",
    );
    let text = commands[0].as_str().unwrap().replace(
        "/etc/nixcloud-monitoring/config.toml",
        &sb.path("config.toml").display().to_string(),
    );
    assert!(
        text.contains(" submit -- db.example.org-backup \"$@\""),
        "{text}"
    );
    for output in ["-v", "--config", "-", "--", "-h", "--help"] {
        let out = std::process::Command::new("bash")
            .args(["-c", &text, "command", output, "-x", "0"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{output:?}: {}",
            output_text(&out)
        );
    }
    let recorded = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    let outputs: Vec<String> = recorded
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            format!(
                "{} {}",
                r["output"].as_str().unwrap(),
                r["perfdata"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outputs,
        [
            "-v -x",
            "--config -x",
            "- -x",
            "-- -x",
            "-h -x",
            "--help -x"
        ]
    );
}
