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

/// `status` for a calendar target: its next run, "late since" once a run plus its grace passed
/// without a result, and the failures in a row against `failureThreshold`.
#[test]
fn status_shows_next_run_late_since_and_failures_in_a_row() {
    let sb = Sandbox::new();
    sb.config(
        "backend = \"local\"\nstateDir = \"{state}\"\n\
         [[targets.passive]]\nhost = \"h\"\nname = \"nightly\"\nfailureThreshold = 3\n\
         timers = { calendar = \"*-*-* 03:00 UTC\", grace = 30 }\n",
    );
    for (text, state) in [("broken", "2"), ("still broken", "2")] {
        let out = sb
            .cmd(&["submit", "h-nightly", text, "", state])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    let out = sb.cmd(&["status", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &doc["targets"][0];
    assert_eq!(t["failures_in_a_row"], 2);
    assert_eq!(t["failure_threshold"], 3);
    let next = t["next_run"].as_str().unwrap().to_string();
    assert!(next.ends_with("T03:00:00Z"), "{t}");
    assert!(t["late_since"].is_null(), "a result came just now: {t}");
    let text = String::from_utf8_lossy(&sb.cmd(&["status"]).output().unwrap().stdout).to_string();
    assert!(text.contains("CRITICAL, 2 of 3 in a row at "), "{text}");
    assert!(text.contains(&format!("next run: {next}")), "{text}");
    assert!(
        text.contains(
            "on calendar *-*-* 03:00:00 UTC; at most 1440 min apart, late after 1470 min"
        ),
        "{text}"
    );

    // The last result from three days ago: the first run after it plus 30 minutes has passed.
    let path = sb.state_dir().join("last/h-nightly.json");
    let mut last: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let now_ms = last["measured_at_ms"].as_u64().unwrap();
    let old = now_ms - 3 * 86_400_000;
    last["measured_at_ms"] = old.into();
    std::fs::write(&path, last.to_string()).unwrap();
    let doc: Value =
        serde_json::from_slice(&sb.cmd(&["status", "--json"]).output().unwrap().stdout).unwrap();
    let late = doc["targets"][0]["late_since"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        late.ends_with("T03:30:00Z"),
        "the 03:00 run after it, plus the grace: {late}"
    );
    let text = String::from_utf8_lossy(&sb.cmd(&["status"]).output().unwrap().stdout).to_string();
    assert!(text.contains(&format!("LATE since {late}")), "{text}");
}
