//! The decision, driven through results and time without a clock or a network.

use super::*;

const MIN: u64 = 60_000;
const T0: u64 = 1_800_000_000_000;

fn rules() -> Rules {
    Rules {
        failure_threshold: 1,
        success_threshold: 1,
        recovery: true,
        repeat_ms: 0,
        timeout_ms: 180 * MIN,
    }
}

const WHO: Who<'static> = Who {
    id: "h-backup",
    host: "h",
    name: "backup",
    timeout_minutes: 180,
};

fn result(state: State, at_ms: u64) -> CheckResult {
    CheckResult {
        id: format!("{:020}-1-0", at_ms as u128 * 1_000_000),
        target: "h-backup".into(),
        host: "h".into(),
        name: "backup".into(),
        state,
        output: format!("{} at {at_ms}", state.label()),
        perfdata: String::new(),
        measured_at_ms: at_ms,
        duration_ms: None,
    }
}

/// Feeds results as the notifier does (each taken in, then decided at its own time) and
/// returns what was told: (kind, condition, at, changes).
fn feed(
    t: &mut Tracked,
    rules: &Rules,
    results: &[(State, u64)],
) -> Vec<(Kind, Condition, u64, u32)> {
    let mut out = Vec::new();
    for &(state, at) in results {
        t.absorb(&result(state, at), rules);
        out.extend(
            t.decide(&WHO, rules, at, false)
                .map(|e| (e.kind, e.condition, e.at_ms, e.changes)),
        );
    }
    out
}

use Condition::{NoResult, Ok as Fine};
use State::{Critical, Ok, Warning};
const CRIT: Condition = Condition::Problem(Critical);
const WARN: Condition = Condition::Problem(Warning);

#[test]
fn the_first_problem_is_told_at_once_and_its_recovery_too() {
    let mut t = Tracked::default();
    let told = feed(
        &mut t,
        &rules(),
        &[
            (Ok, T0),
            (Critical, T0 + MIN),
            (Critical, T0 + 2 * MIN),
            (Ok, T0 + 3 * MIN),
        ],
    );
    assert_eq!(
        told,
        [
            (Kind::Problem, CRIT, T0 + MIN, 1),
            (Kind::Recovery, Fine, T0 + 3 * MIN, 1)
        ]
    );
}

#[test]
fn a_target_that_starts_ok_tells_nothing() {
    let mut t = Tracked::default();
    assert!(feed(&mut t, &rules(), &[(Ok, T0), (Ok, T0 + MIN)]).is_empty());
}

#[test]
fn a_problem_waits_for_failure_threshold_results_in_a_row_and_dates_from_the_first() {
    let r = Rules {
        failure_threshold: 3,
        ..rules()
    };
    let mut t = Tracked::default();
    // Two failures, then an OK: the row is broken, nothing told.
    assert!(feed(
        &mut t,
        &r,
        &[(Critical, T0), (Critical, T0 + MIN), (Ok, T0 + 2 * MIN)]
    )
    .is_empty());
    // Three in a row: told with the third, since the first of them, 3 in a row.
    t.absorb(&result(Critical, T0 + 3 * MIN), &r);
    assert!(t.decide(&WHO, &r, T0 + 3 * MIN, false).is_none());
    t.absorb(&result(Warning, T0 + 4 * MIN), &r);
    assert!(
        t.decide(&WHO, &r, T0 + 4 * MIN, false).is_none(),
        "WARNING and CRITICAL are both non-OK: 2 in a row"
    );
    t.absorb(&result(Critical, T0 + 5 * MIN), &r);
    let e = t
        .decide(&WHO, &r, T0 + 5 * MIN, false)
        .expect("the third non-OK result in a row");
    assert_eq!(
        (e.kind, e.condition, e.since_ms, e.in_a_row),
        (Kind::Problem, CRIT, T0 + 3 * MIN, 3)
    );
    assert_eq!(e.previous, Fine);
}

#[test]
fn a_recovery_waits_for_success_threshold_oks_in_a_row() {
    let r = Rules {
        success_threshold: 2,
        ..rules()
    };
    let mut t = Tracked::default();
    let told = feed(
        &mut t,
        &r,
        &[
            (Critical, T0),
            (Ok, T0 + MIN),
            (Critical, T0 + 2 * MIN),
            (Ok, T0 + 3 * MIN),
            (Ok, T0 + 4 * MIN),
        ],
    );
    assert_eq!(
        told,
        [
            (Kind::Problem, CRIT, T0, 1),
            (Kind::Recovery, Fine, T0 + 4 * MIN, 1)
        ]
    );
    assert_eq!(
        t.current_since_ms,
        T0 + 3 * MIN,
        "OK since the first of the two"
    );
}

#[test]
fn recoveries_can_be_turned_off_and_the_next_problem_is_news_again() {
    let r = Rules {
        recovery: false,
        ..rules()
    };
    let mut t = Tracked::default();
    let told = feed(
        &mut t,
        &r,
        &[
            (Critical, T0),
            (Ok, T0 + MIN),
            (Critical, T0 + 2 * FLAP_HOLD_MS),
        ],
    );
    assert_eq!(
        told,
        [
            (Kind::Problem, CRIT, T0, 1),
            (Kind::Problem, CRIT, T0 + 2 * FLAP_HOLD_MS, 1)
        ]
    );
}

#[test]
fn warning_to_critical_and_back_are_told_at_once_even_within_the_hour() {
    let mut t = Tracked::default();
    let told = feed(
        &mut t,
        &rules(),
        &[(Warning, T0), (Critical, T0 + MIN), (Warning, T0 + 2 * MIN)],
    );
    assert_eq!(
        told,
        [
            (Kind::Problem, WARN, T0, 1),
            (Kind::Problem, CRIT, T0 + MIN, 1),
            (Kind::Problem, WARN, T0 + 2 * MIN, 1)
        ]
    );
    assert_eq!(t.told, WARN);
}

#[test]
fn repeats_and_older_results_change_nothing() {
    let mut t = Tracked::default();
    let r = rules();
    let crit = result(Critical, T0);
    assert!(t.absorb(&crit, &r));
    assert!(
        !t.absorb(&crit, &r),
        "the same result again (a crash between send and removal)"
    );
    assert!(
        !t.absorb(&result(Ok, T0 - MIN), &r),
        "older than the newest"
    );
    assert_eq!((t.current, t.in_a_row), (CRIT, 1));
}

#[test]
fn silence_longer_than_the_timeout_is_told_and_the_next_result_ends_it() {
    let r = rules();
    let mut t = Tracked::default();
    feed(&mut t, &r, &[(Ok, T0)]);
    t.tick(&r, T0 + 179 * MIN);
    assert!(
        t.decide(&WHO, &r, T0 + 179 * MIN, false).is_none(),
        "not yet"
    );
    t.tick(&r, T0 + 180 * MIN);
    let e = t
        .decide(&WHO, &r, T0 + 180 * MIN, false)
        .expect("no result");
    assert_eq!(
        (e.kind, e.condition, e.since_ms, e.at_ms),
        (Kind::Problem, NoResult, T0, T0 + 180 * MIN)
    );
    t.tick(&r, T0 + 500 * MIN);
    assert!(
        t.decide(&WHO, &r, T0 + 500 * MIN, false).is_none(),
        "told once"
    );
    // Results come back: OK is a recovery, whatever the success threshold.
    let strict = Rules {
        success_threshold: 5,
        ..r
    };
    let told = feed(&mut t, &strict, &[(Ok, T0 + 600 * MIN)]);
    assert_eq!(told, [(Kind::Recovery, Fine, T0 + 600 * MIN, 1)]);
}

#[test]
fn results_that_come_back_failing_turn_no_result_into_that_problem() {
    let r = Rules {
        failure_threshold: 3,
        ..rules()
    };
    let mut t = Tracked::default();
    t.tick(&r, T0);
    t.tick(&r, T0 + 180 * MIN);
    let e = t.decide(&WHO, &r, T0 + 180 * MIN, false).unwrap();
    assert_eq!(
        (e.condition, e.since_ms),
        (NoResult, T0),
        "never reported: counted from first seen"
    );
    let told = feed(&mut t, &r, &[(Critical, T0 + 200 * MIN)]);
    assert_eq!(
        told,
        [(Kind::Problem, CRIT, T0 + 200 * MIN, 1)],
        "no threshold: it was a problem already"
    );
}

#[test]
fn a_mute_holds_everything_and_its_end_tells_only_what_differs() {
    let r = rules();
    let mut t = Tracked::default();
    // Muted while it fails: nothing; the mute ends while it still fails: the problem goes out.
    t.absorb(&result(Critical, T0), &r);
    assert!(t.decide(&WHO, &r, T0, true).is_none());
    let e = t
        .decide(&WHO, &r, T0 + 10 * MIN, false)
        .expect("differs from the last notice");
    assert_eq!((e.kind, e.condition, e.changes), (Kind::Problem, CRIT, 1));
    // Muted while it recovers and fails again: at the end it is as told, nothing goes out.
    for (i, s) in [Ok, Critical, Ok, Critical].into_iter().enumerate() {
        t.absorb(&result(s, T0 + (20 + i as u64) * MIN), &r);
        assert!(t
            .decide(&WHO, &r, T0 + (20 + i as u64) * MIN, true)
            .is_none());
    }
    assert!(t.decide(&WHO, &r, T0 + 30 * MIN, false).is_none());
    assert!(
        t.decide(&WHO, &r, T0 + 300 * MIN, false).is_none(),
        "nor later"
    );
}

#[test]
fn a_restart_loop_tells_one_problem_and_one_recovery_per_hour_and_how_often_it_flapped() {
    let r = rules();
    let mut t = Tracked::default();
    // 20 failures and recoveries in 10 minutes.
    let mut loop_results = Vec::new();
    for i in 0..20u64 {
        loop_results.push((Critical, T0 + i * 30_000));
        loop_results.push((Ok, T0 + i * 30_000 + 15_000));
    }
    let told = feed(&mut t, &r, &loop_results);
    assert_eq!(
        told,
        [
            (Kind::Problem, CRIT, T0, 1),
            (Kind::Recovery, Fine, T0 + 15_000, 1)
        ]
    );
    // Nothing while the hour lasts; then one summary: as last told (OK), 38 changes.
    t.tick(&r, T0 + 59 * MIN);
    assert!(t.decide(&WHO, &r, T0 + 59 * MIN, false).is_none());
    let e = t
        .decide(&WHO, &r, T0 + 15_000 + FLAP_HOLD_MS, false)
        .expect("the summary");
    assert_eq!((e.kind, e.condition, e.changes), (Kind::Flapped, Fine, 38));
    assert!(
        t.decide(&WHO, &r, T0 + 2 * FLAP_HOLD_MS, false).is_none(),
        "told once"
    );
}

#[test]
fn a_flapping_target_that_ends_failing_tells_so_when_the_hour_is_over() {
    let r = rules();
    let mut t = Tracked::default();
    let told = feed(
        &mut t,
        &r,
        &[(Critical, T0), (Ok, T0 + MIN), (Critical, T0 + 2 * MIN)],
    );
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(
        t.next_due(&r),
        Some(T0 + FLAP_HOLD_MS),
        "the end of the hold is scheduled"
    );
    let e = t
        .decide(&WHO, &r, T0 + FLAP_HOLD_MS, false)
        .expect("held problem");
    assert_eq!(
        (e.kind, e.condition, e.changes, e.at_ms),
        (Kind::Problem, CRIT, 1, T0 + 2 * MIN)
    );
}

#[test]
fn reminders_come_every_repeat_while_the_problem_lasts() {
    let r = Rules {
        repeat_ms: 60 * MIN,
        ..rules()
    };
    let mut t = Tracked::default();
    feed(&mut t, &r, &[(Critical, T0)]);
    assert_eq!(t.next_due(&r), Some(T0 + 60 * MIN));
    assert!(t.decide(&WHO, &r, T0 + 59 * MIN, false).is_none());
    let e = t.decide(&WHO, &r, T0 + 60 * MIN, false).unwrap();
    assert_eq!((e.kind, e.condition), (Kind::Reminder, CRIT));
    assert!(t.decide(&WHO, &r, T0 + 100 * MIN, false).is_none());
    assert!(t.decide(&WHO, &r, T0 + 120 * MIN, false).is_some());
    // Muted: no reminders.
    assert!(t.decide(&WHO, &r, T0 + 500 * MIN, true).is_none());
    // Over: no more reminders.
    feed(&mut t, &r, &[(Ok, T0 + 501 * MIN)]);
    assert!(t.decide(&WHO, &r, T0 + 900 * MIN, false).is_none());
    assert_eq!(
        t.next_due(&r),
        Some(T0 + 501 * MIN + 180 * MIN),
        "only the no-result deadline"
    );
}

#[test]
fn a_backlog_decided_result_by_result_keeps_each_measured_time() {
    // After a channel outage every waiting result is decided at once; the events carry the
    // times they happened, so the notice can say "CRITICAL from 10:02 to 10:40".
    let r = rules();
    let mut t = Tracked::default();
    let now = T0 + 120 * MIN;
    let mut told = Vec::new();
    for (s, at) in [(Critical, T0 + 2 * MIN), (Ok, T0 + 40 * MIN)] {
        t.absorb(&result(s, at), &r);
        told.extend(
            t.decide(&WHO, &r, at, false)
                .map(|e| (e.condition, e.at_ms, e.since_ms)),
        );
    }
    let _ = now;
    assert_eq!(
        told,
        [
            (CRIT, T0 + 2 * MIN, T0 + 2 * MIN),
            (Fine, T0 + 40 * MIN, T0 + 40 * MIN)
        ]
    );
}

#[test]
fn conditions_round_trip_as_their_names() {
    for c in [
        Fine,
        WARN,
        CRIT,
        Condition::Problem(State::Unknown),
        NoResult,
    ] {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            serde_json::from_str::<Condition>(&json).unwrap(),
            c,
            "{json}"
        );
    }
    assert_eq!(serde_json::to_string(&NoResult).unwrap(), "\"NO RESULT\"");
    assert!(serde_json::from_str::<Condition>("\"SOSO\"").is_err());
    assert!(CRIT.severity() > NoResult.severity() && NoResult.severity() > WARN.severity());
}

#[test]
fn a_change_between_problem_states_dates_from_itself_not_from_the_row() {
    let mut t = Tracked::default();
    feed(&mut t, &rules(), &[(Warning, T0), (Warning, T0 + MIN)]);
    t.absorb(&result(Critical, T0 + 2 * MIN), &rules());
    let e = t.decide(&WHO, &rules(), T0 + 2 * MIN, false).unwrap();
    assert_eq!(
        (e.condition, e.since_ms, e.in_a_row),
        (CRIT, T0 + 2 * MIN, 3)
    );
    assert_eq!((e.previous, e.previous_since_ms), (WARN, T0));
}

#[test]
fn an_event_shows_the_newest_result_with_the_end_of_a_long_output() {
    let mut t = Tracked::default();
    let mut r = result(Critical, T0);
    r.output = format!("{}THE END", "x".repeat(10_000));
    r.perfdata = "load=3".into();
    r.duration_ms = Some(1500);
    t.absorb(&r, &rules());
    let shown = t.decide(&WHO, &rules(), T0, false).unwrap().result.unwrap();
    assert!(
        shown.output.ends_with("xTHE END") && shown.output.len() <= SHOWN_OUTPUT,
        "{}",
        shown.output.len()
    );
    assert!(shown.output.starts_with("[cut: first "), "the cut is said");
    assert_eq!(
        (
            shown.state,
            shown.measured_at_ms,
            shown.perfdata.as_str(),
            shown.duration_ms
        ),
        (Some(Critical), T0, "load=3", Some(1500))
    );
}

#[test]
fn a_flap_summary_waits_an_hour_after_the_last_recovery_and_counts_as_one() {
    let r = rules();
    let mut t = Tracked::default();
    // Opened at T0, recovered at T0 + 15 s, then flapping while held.
    feed(
        &mut t,
        &r,
        &[
            (Critical, T0),
            (Ok, T0 + 15_000),
            (Critical, T0 + 30_000),
            (Ok, T0 + 45_000),
        ],
    );
    assert_eq!(
        t.next_due(&r),
        Some(T0 + 15_000 + FLAP_HOLD_MS),
        "the hold of the last recovery"
    );
    assert!(
        t.decide(&WHO, &r, T0 + FLAP_HOLD_MS + 5_000, false)
            .is_none(),
        "an hour after the opening is not enough"
    );
    let e = t
        .decide(&WHO, &r, T0 + 15_000 + FLAP_HOLD_MS, false)
        .unwrap();
    assert_eq!((e.kind, e.changes), (Kind::Flapped, 2));
    // The summary was an OK one: a new problem a minute later is news at once (its opening
    // was more than an hour ago).
    let later = T0 + 15_000 + FLAP_HOLD_MS + MIN;
    let told = feed(&mut t, &r, &[(Critical, later)]);
    assert_eq!(told, [(Kind::Problem, CRIT, later, 1)]);
}

#[test]
fn without_repeat_a_told_problem_is_due_only_for_its_silence() {
    let r = rules();
    let mut t = Tracked::default();
    feed(&mut t, &r, &[(Critical, T0)]);
    assert_eq!(t.next_due(&r), Some(T0 + 180 * MIN));
    // Nothing told yet about a new first sight: its silence alone.
    let mut fresh = Tracked::default();
    fresh.tick(&r, T0);
    assert_eq!(fresh.next_due(&r), Some(T0 + 180 * MIN));
}
