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
        failure_threshold: 1,
        kind: TargetKind::Passive(Passive {
            script: String::new(),
            check_minutes: 1,
            timeout_minutes: 2,
            calendar: None,
            script_timeout: Duration::from_secs(60),
            notify: Default::default(),
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

#[tokio::test]
async fn a_command_not_found_makes_the_result_unknown_naming_it() {
    // The README's disk example on a PATH without awk: it would say OK with an empty number.
    let r = run_script(
        "used=$(echo 42 | no-such-awk '{print $1}')\necho 'about to decide' >&2\nexit=0; status=\"used: $used\"; perfdata=\"u=${used}\"",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(r.state, State::Unknown);
    assert!(
        r.output.starts_with(
            "script of h-n ran a command that is not on its PATH: no-such-awk (add its package to the target's `path`); its status was: used: ; end of its stderr: "
        ),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("no-such-awk: command not found\nabout to decide"),
        "{}",
        r.output
    );
    assert_eq!(r.perfdata, "");
}

#[tokio::test]
async fn each_missing_command_is_named_once() {
    let r = run_script(
        "missing-a; missing-b; missing-a; exit=0",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(r.state, State::Unknown);
    assert!(
        r.output.contains("PATH: missing-a, missing-b ("),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn a_command_that_exits_127_by_itself_is_not_a_missing_command() {
    let r = run_script(
        "bash -c 'exit 127'; exit=0; status=fine",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!((r.state, r.output.as_str()), (State::Ok, "fine"));
}

#[tokio::test]
async fn the_stderr_tail_keeps_the_end_of_long_output() {
    let r = run_script(
        "for i in $(seq 2000); do echo \"line $i\" >&2; done; gone-tool; exit=0",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(r.state, State::Unknown);
    assert!(
        r.output
            .ends_with("line 2000\ngone-tool: command not found"),
        "{}",
        r.output
    );
    assert!(!r.output.contains("line 1\n"), "{}", r.output);
    assert!(r.output.len() < 1400, "{}", r.output.len());
}

#[tokio::test]
async fn the_duration_covers_the_scripts_run_time() {
    let r = run_script("sleep 0.3; exit=0; status=slept", Duration::from_secs(10)).await;
    assert_eq!((r.state, r.output.as_str()), (State::Ok, "slept"));
    let ms = r.duration_ms.expect("a script's result has a duration");
    assert!(ms >= 300, "duration_ms {ms} < 300 for `sleep 0.3`");
}

/// Whether `pid` is still a live process: /proc/<pid> exists and is no zombie (a killed
/// orphan may wait briefly for init to reap it; it is dead by then).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
        }
    }
}

/// Reads the pid a script wrote, then waits (hang guard only) until that process is gone.
fn assert_child_gone(pid_file: &std::path::Path) {
    let text = std::fs::read_to_string(pid_file).expect("the script wrote its child's pid");
    let pid: u32 = text.trim().parse().expect("a pid");
    assert!(pid > 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the script's background child {pid} outlived the check"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_background_child_is_gone_after_a_normal_exit() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let script = format!(
        "sleep 600 >/dev/null 2>&1 </dev/null & echo $! > '{}'\nexit=0; status=done",
        pid_file.display()
    );
    let r = run_script(&script, Duration::from_secs(30)).await;
    assert_eq!((r.state, r.output.as_str()), (State::Ok, "done"));
    assert_child_gone(&pid_file);
}

#[tokio::test]
async fn a_background_child_is_gone_after_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    // The script itself would end after 5 s, its child after 10 minutes.
    let script = format!(
        "sleep 600 >/dev/null 2>&1 </dev/null & echo $! > '{}'\nsleep 5",
        pid_file.display()
    );
    let r = run_script(&script, Duration::from_secs(2)).await;
    assert_eq!(r.state, State::Unknown);
    assert!(r.output.contains("timed out"), "{}", r.output);
    assert_child_gone(&pid_file);
}
