//! What notices say, from events made by hand.

use super::super::decide::Shown;
use super::*;
use crate::result::State;

/// 2026-12-03 10:02:11 UTC.
const T: u64 = 1_796_292_131_000;
const MIN: u64 = 60_000;

fn event(target: &str, kind: Kind, condition: Condition, at_ms: u64) -> Event {
    Event {
        target: format!("web1-{target}"),
        host: "web1".into(),
        name: target.into(),
        kind,
        condition,
        previous: if condition == Condition::Ok {
            Condition::Problem(State::Critical)
        } else {
            Condition::Ok
        },
        previous_since_ms: T - 60 * MIN,
        at_ms,
        since_ms: at_ms,
        in_a_row: 1,
        changes: 1,
        result: Some(Shown {
            state: Some(State::Critical),
            measured_at_ms: at_ms,
            output: "restic failed: repository is locked\nsecond line".into(),
            perfdata: "duration=12s".into(),
            duration_ms: Some(12_000),
        }),
        timeout_minutes: 180,
    }
}

const CRIT: Condition = Condition::Problem(State::Critical);

fn no_threads() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn a_problem_says_host_state_target_and_the_first_line_of_output() {
    let mut e = event("backup", Kind::Problem, CRIT, T);
    e.in_a_row = 3;
    e.since_ms = T - 2 * MIN;
    let n = compose(vec![e], &no_threads(), "web1", "mail");
    assert_eq!(
        n.subject,
        "[web1] CRITICAL backup: restic failed: repository is locked"
    );
    assert_eq!(n.condition, CRIT);
    for part in [
        "CRITICAL web1-backup",
        "CRITICAL since 2026-12-03 10:00:11 UTC, 3 results in a row.",
        "Before: OK since 2026-12-03 09:02:11 UTC.",
        "Run time: 12 s.",
        "Output (2026-12-03 10:02:11 UTC):\nrestic failed: repository is locked\nsecond line\n",
        "Perfdata: duration=12s",
        "nixcloud-monitoring silence web1-backup --for 2h",
    ] {
        assert!(n.text.contains(part), "{part:?} not in:\n{}", n.text);
    }
    assert!(n.replies_to.is_empty());
    assert!(
        n.message_id.starts_with("<nixcloud-monitoring.mail.") && n.message_id.ends_with("@web1>"),
        "{}",
        n.message_id
    );
}

#[test]
fn a_recovery_replies_to_its_problems_mail() {
    let threads = BTreeMap::from([("web1-backup".to_string(), "<p1@web1>".to_string())]);
    let n = compose(
        vec![event("backup", Kind::Recovery, Condition::Ok, T)],
        &threads,
        "web1",
        "mail",
    );
    assert_eq!(n.replies_to, ["<p1@web1>"]);
    assert!(n.subject.starts_with("[web1] OK backup: "), "{}", n.subject);
    assert!(
        n.text
            .contains("Before: CRITICAL since 2026-12-03 09:02:11 UTC."),
        "{}",
        n.text
    );
}

#[test]
fn a_problem_and_its_recovery_that_waited_together_are_one_story() {
    let events = vec![
        event("backup", Kind::Problem, CRIT, T),
        event("backup", Kind::Recovery, Condition::Ok, T + 38 * MIN),
    ];
    let n = compose(events, &no_threads(), "web1", "mail");
    assert_eq!(
        n.subject,
        "[web1] OK backup: CRITICAL from 10:02 UTC to 10:40 UTC, OK again"
    );
    assert!(
        n.text
            .contains("What happened, in order: CRITICAL from 10:02 UTC to 10:40 UTC, OK again."),
        "{}",
        n.text
    );
}

#[test]
fn no_result_says_since_when_and_what_was_expected() {
    let mut e = event("backup", Kind::Problem, Condition::NoResult, T + 200 * MIN);
    e.since_ms = T;
    e.in_a_row = 0;
    let n = compose(vec![e], &no_threads(), "web1", "mail");
    assert_eq!(
        n.subject,
        "[web1] NO RESULT backup: no result since 10:02 UTC"
    );
    assert!(n.text.contains("No result since 2026-12-03 10:02:11 UTC: one was expected within 180 minutes (timers.timeout)."), "{}", n.text);
    assert!(
        n.text
            .contains("The last result (CRITICAL, 2026-12-03 13:22:11 UTC):"),
        "{}",
        n.text
    );
}

#[test]
fn several_targets_make_one_digest_with_a_table_of_all() {
    let mut events: Vec<Event> = (0..25)
        .map(|i| event(&format!("t{i:02}"), Kind::Problem, CRIT, T + i))
        .collect();
    events.push(event("t00", Kind::Recovery, Condition::Ok, T + MIN));
    events.push(event(
        "disk",
        Kind::Problem,
        Condition::Problem(State::Warning),
        T + 2 * MIN,
    ));
    let n = compose(events, &no_threads(), "web1", "mail");
    assert_eq!(n.subject, "[web1] 26 targets: 24 CRITICAL, 1 WARNING, 1 OK");
    assert_eq!(n.condition, CRIT);
    let table_rows = n
        .text
        .lines()
        .filter(|l| l.starts_with("CRITICAL  web1-t"))
        .count();
    assert_eq!(table_rows, 24, "{}", n.text);
    assert!(n.text.contains("OK        web1-t00"), "{}", n.text);
    assert!(
        n.text
            .contains("CRITICAL from 10:02 UTC to 10:03 UTC, OK again"),
        "{}",
        n.text
    );
    assert!(n.text.contains("== CRITICAL web1-t19 =="), "{}", n.text);
    assert!(
        !n.text.contains("== CRITICAL web1-t20 =="),
        "20 in detail, the rest in the table"
    );
    assert!(n.text.contains("… and 6 more targets"), "{}", n.text);
}

#[test]
fn the_same_events_make_the_same_message_id_others_another() {
    let a = || vec![event("backup", Kind::Problem, CRIT, T)];
    let id = |evs| compose(evs, &no_threads(), "web 1!", "mail").message_id;
    assert_eq!(id(a()), id(a()));
    assert_ne!(
        id(a()),
        id(vec![event("backup", Kind::Problem, CRIT, T + 1)])
    );
    assert!(
        id(a()).ends_with("@web1>"),
        "the host part is cleaned: {}",
        id(a())
    );
}

#[test]
fn subjects_are_one_line_and_skip_the_cut_marker() {
    let mut e = event("backup", Kind::Problem, CRIT, T);
    e.result.as_mut().unwrap().output =
        "[cut: first 4128768 of 4194304 bytes dropped] \u{1b}[31mthe end\tof it\n快乐".into();
    let n = compose(vec![e], &no_threads(), "web1", "mail");
    assert_eq!(n.subject, "[web1] CRITICAL backup:  [31mthe end of it");
    assert_eq!(first_line("\n\n  快乐  \nx"), "快乐");
    assert_eq!(one_line(&"x".repeat(200), 10), "xxxxxxxxx…");
}

#[test]
fn a_story_dates_other_days_in_full() {
    let a = event("backup", Kind::Problem, CRIT, T - 24 * 60 * MIN);
    let b = event("backup", Kind::Recovery, Condition::Ok, T);
    assert_eq!(
        story(&[&a, &b]),
        "CRITICAL from 2026-12-02 10:02 UTC to 10:02 UTC, OK again"
    );
}
