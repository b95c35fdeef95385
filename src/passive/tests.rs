use super::*;
use crate::targets::{Passive, TargetKind};

fn target() -> Target {
    Target {
        id: "h-n".into(),
        host: "h".into(),
        name: "n".into(),
        tags: vec![],
        public: true,
        key: None,
        line: 1,
        kind: TargetKind::Passive(Passive {
            script: String::new(),
            check_minutes: 1,
            timeout_minutes: 2,
            script_timeout: Duration::from_secs(60),
        }),
    }
}

async fn run_script(script: &str, timeout: Duration) -> CheckResult {
    let dir = tempfile::tempdir().unwrap();
    run(&target(), script, timeout, dir.path()).await.unwrap()
}

#[tokio::test]
async fn variables_come_back_byte_for_byte() {
    let r = run_script(
        "exit=1\nstatus=\"it's \\$(rm -rf /) 快乐\nline two\"\nperfdata='{\"x\":5}'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(r.state, State::Warning);
    assert_eq!(r.output, "it's $(rm -rf /) 快乐\nline two");
    assert_eq!(r.perfdata, "{\"x\":5}");
    assert!(r.duration_ms.is_some());
}

#[tokio::test]
async fn an_empty_script_reports_the_preset() {
    let r = run_script("", Duration::from_secs(10)).await;
    assert_eq!(r.state, State::Unknown);
    assert_eq!(r.output, "not set, your script is incomplete");
}

#[tokio::test]
async fn a_hung_script_is_killed_and_reported() {
    let started = Instant::now();
    let r = run_script("sleep 30 & sleep 30", Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.state, State::Unknown);
    assert!(
        r.output.contains("timed out") && r.output.contains("killed"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn an_invalid_exit_is_unknown_and_explained() {
    let r = run_script("exit=7; status=fine", Duration::from_secs(10)).await;
    assert_eq!(r.state, State::Unknown);
    assert!(
        r.output.contains("exit=\"7\"") && r.output.contains("fine"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn a_script_calling_exit_still_reports() {
    let r = run_script(
        "exit=2; status=down; builtin exit 5",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!((r.state, r.output.as_str()), (State::Critical, "down"));
}

#[tokio::test]
async fn huge_output_is_cut_keeping_the_tail() {
    let r = run_script(
        "status=\"$(head -c 200000 /dev/zero | tr '\\0' a)END\"; exit=0",
        Duration::from_secs(10),
    )
    .await;
    assert!(r.output.len() <= crate::result::MAX_TEXT);
    assert!(r.output.starts_with("[cut: ") && r.output.ends_with("aEND"));
}
