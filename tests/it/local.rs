//! The `local` backend: the README's first command, end to end.

use crate::util::{output_text, Sandbox};
use serde_json::Value;

#[test]
fn sync_then_status_on_the_demo_config() {
    let sb = Sandbox::new();
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo-local.toml"
    ))
    .unwrap();
    sb.config(&format!("stateDir = \"{{state}}\"\n{demo}"));
    let out = sb.cmd(&["sync"]).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("4 registrations, 3 scripts run, 3 results delivered, 0 queued"),
        "{text}"
    );

    let results = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 3);
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let disk = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "localhost-disk-root")
        .unwrap();
    assert!(
        disk["last"]["output"].as_str().unwrap().contains("% full"),
        "{disk}"
    );
    assert!(disk["last"]["perfdata"]
        .as_str()
        .unwrap()
        .starts_with("root_used="));
    assert_eq!(disk["registered"], true);
    assert_eq!(doc["queue"]["count"], 0);

    let human = sb.cmd(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("localhost-load  [passive]  script every 5 min"),
        "{text}"
    );
}
