//! The daemon's schedule, driven with made-up instants: no test here sleeps.

use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Passive targets `h-<name>` from `(name, script, extra keys)`; `extra` goes into the
/// target's table (`timers = …`, `scriptTimeout = …`).
fn targets(passive: &[(&str, &str, &str)]) -> Vec<Target> {
    let mut text = String::from("backend = \"local\"\nstateDir = \"/nonexistent\"\n");
    for (name, script, extra) in passive {
        text.push_str(&format!(
            "[[targets.passive]]\nhost = \"h\"\nname = \"{name}\"\nscript = '{script}'\n{extra}\n"
        ));
    }
    text.push_str("[[targets.active.check_ssh]]\nhost = \"h\"\n");
    crate::config::Config::parse(std::path::Path::new("t.toml"), &text)
        .unwrap()
        .targets
}

/// Two scripted targets (`h-a` every 10 minutes, `h-b` every 60), one by hand, one active.
fn two_jobs() -> Vec<Target> {
    targets(&[
        ("a", "exit=0", "timers = { check = 10, timeout = 20 }"),
        ("manual", "", ""),
        ("b", "exit=0", ""),
    ])
}

#[test]
fn at_start_everything_is_due_at_once_and_the_scripts_start_a_little_apart() {
    let t0 = Instant::now();
    let s = Schedule::new(&two_jobs(), 2, t0);
    assert_eq!(s.next_wake(), t0);
    assert_eq!(
        s.due(t0),
        [
            Timer::Register,
            Timer::Spool,
            Timer::Lane(0),
            Timer::Lane(1),
            Timer::Job(0)
        ]
    );
    assert_eq!(s.lanes_due(t0), [true, true]);
    let jobs: Vec<(&str, Instant, Duration, bool)> = s
        .jobs
        .iter()
        .map(|j| (j.target.id.as_str(), j.next, j.every, j.running))
        .collect();
    // Only the scripted passive targets are jobs; the active and the by-hand one are not.
    assert_eq!(
        jobs,
        [
            ("h-a", t0, secs(600), false),
            ("h-b", t0 + JOB_SPACING, secs(3600), false),
        ]
    );
    assert_eq!(
        s.due(t0 + JOB_SPACING),
        [
            Timer::Register,
            Timer::Spool,
            Timer::Lane(0),
            Timer::Lane(1),
            Timer::Job(0),
            Timer::Job(1)
        ]
    );
}

/// A schedule whose every timer is at a different time, an hour or more after `t0`.
fn spread(t0: Instant) -> Schedule {
    let mut s = Schedule::new(&two_jobs(), 2, t0);
    s.register = t0 + secs(3600);
    s.spool = t0 + secs(3601);
    s.lanes[0].next = Some(t0 + secs(3602));
    s.lanes[1].next = None;
    s.jobs[0].next = t0 + secs(3603);
    s.jobs[1].next = t0 + secs(3604);
    s
}

#[test]
fn the_loop_wakes_at_the_earliest_timer_whichever_it_is() {
    let t0 = Instant::now();
    let s = spread(t0);
    assert_eq!(s.next_wake(), t0 + secs(3600));
    assert!(s.due(t0 + secs(3599)).is_empty());

    let soon = t0 + secs(7);
    let mut s = spread(t0);
    s.spool = soon;
    assert_eq!(s.next_wake(), soon);
    let mut s = spread(t0);
    s.lanes[1].next = Some(soon);
    assert_eq!(s.next_wake(), soon);
    let mut s = spread(t0);
    s.jobs[1].next = soon;
    assert_eq!(s.next_wake(), soon);
    // A job that runs has no timer: it does not start twice.
    s.jobs[1].running = true;
    assert_eq!(s.next_wake(), t0 + secs(3600));
}

#[test]
fn a_timer_is_due_from_its_instant_on_not_before() {
    let t0 = Instant::now();
    let s = spread(t0);
    let just_before = t0 + secs(3602) - Duration::from_nanos(1);
    assert_eq!(s.due(just_before), [Timer::Register, Timer::Spool]);
    assert_eq!(
        s.due(t0 + secs(3602)),
        [Timer::Register, Timer::Spool, Timer::Lane(0)]
    );
    assert_eq!(s.lanes_due(just_before), [false, false]);
    assert_eq!(s.lanes_due(t0 + secs(3602)), [true, false]);
    assert_eq!(
        s.due(t0 + secs(3604)),
        [
            Timer::Register,
            Timer::Spool,
            Timer::Lane(0),
            Timer::Job(0),
            Timer::Job(1)
        ]
    );
}

#[test]
fn registration_is_repeated_daily_and_retried_sooner_after_a_transient_failure() {
    let t0 = Instant::now();
    let now = t0 + secs(100);
    let mut s = Schedule::new(&[], 1, t0);
    let after_round = |s: &mut Schedule, how| {
        s.registered(now, how);
        s.register
    };
    assert_eq!(
        after_round(&mut s, Registration::Done),
        now + REGISTER_EVERY
    );
    // The state's next try, but never sooner than a minute.
    let failed = |secs_: u64| Registration::Failed {
        retry_in: Some(secs(secs_)),
    };
    assert_eq!(after_round(&mut s, failed(200)), now + secs(200));
    assert_eq!(after_round(&mut s, failed(0)), now + secs(60));
    assert_eq!(after_round(&mut s, failed(59)), now + secs(60));
    // A refusal: retrying cannot fix it; the daily round comes.
    let refused = Registration::Failed { retry_in: None };
    assert_eq!(after_round(&mut s, refused), now + REGISTER_EVERY);
    // Whatever the state says, no overflow: at most a year.
    assert_eq!(after_round(&mut s, failed(u64::MAX)), now + FAR);
}

#[test]
fn a_round_is_judged_by_all_targets_and_the_states_next_try() {
    assert_eq!(
        Registration::of(true, Some(5_000), 1_000),
        Registration::Done
    );
    assert_eq!(Registration::of(true, None, 1_000), Registration::Done);
    assert_eq!(
        Registration::of(false, Some(5_000), 1_000),
        Registration::Failed {
            retry_in: Some(Duration::from_millis(4_000))
        }
    );
    // A next try in the past is due now.
    assert_eq!(
        Registration::of(false, Some(1_000), 5_000),
        Registration::Failed {
            retry_in: Some(Duration::ZERO)
        }
    );
    assert_eq!(
        Registration::of(false, None, 1_000),
        Registration::Failed { retry_in: None }
    );
}

#[test]
fn a_spooled_result_makes_the_first_lane_due_and_the_spool_is_looked_at_every_two_seconds() {
    let t0 = Instant::now();
    let now = t0 + secs(9);
    let mut s = spread(t0);
    s.spool_looked(now, false);
    assert_eq!(s.spool, now + SPOOL_EVERY);
    assert_eq!(s.lanes[0].next, Some(t0 + secs(3602)));
    assert_eq!(s.lanes[1].next, None);

    s.spool_looked(now, true);
    assert_eq!(s.spool, now + SPOOL_EVERY);
    assert_eq!(s.lanes[0].next, Some(now));
    assert_eq!(s.lanes[1].next, None, "the first lane adopts for all");
    // No lanes at all: nothing to make due, and no panic.
    let mut none = Schedule::new(&[], 0, t0);
    none.spool_looked(now, true);
    assert_eq!(none.spool, now + SPOOL_EVERY);
}

#[test]
fn a_lane_with_a_backlog_pauses_longer_each_time_up_to_five_minutes() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&[], 2, t0);
    let mut now = t0;
    let mut pauses = Vec::new();
    for _ in 0..8 {
        s.delivered(0, now, Pass::Backlog);
        let next = s.lanes[0].next.unwrap();
        pauses.push((next - now).as_secs());
        now = next;
    }
    assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 300, 300]);
    // The other lane keeps its own time and pause.
    assert_eq!(s.lanes[1], LaneTimer::at(t0));

    // Emptied: nothing scheduled until a result comes, and the next failure pauses 5 s.
    s.delivered(0, now, Pass::Empty);
    assert_eq!(s.lanes[0].next, None);
    assert_eq!(s.lanes[0].backoff, FLUSH_BACKOFF_FIRST);
    s.delivered(0, now, Pass::Backlog);
    assert_eq!(s.lanes[0].next, Some(now + secs(5)));
}

#[test]
fn a_lane_someone_else_delivers_is_looked_at_again_shortly_with_its_pause_kept() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&[], 1, t0);
    s.delivered(0, t0, Pass::Backlog);
    s.delivered(0, t0 + secs(5), Pass::Busy);
    assert_eq!(
        s.lanes[0],
        LaneTimer {
            next: Some(t0 + secs(5) + SPOOL_EVERY),
            backoff: secs(10),
        }
    );
    // A lane that does not exist (the lanes changed meanwhile): nothing happens.
    s.delivered(3, t0, Pass::Backlog);
    assert_eq!(s.lanes.len(), 1);
}

#[test]
fn a_pass_is_judged_by_what_is_left() {
    let report = |delivered, remaining| FlushReport {
        delivered,
        remaining,
        ..Default::default()
    };
    assert_eq!(Pass::of(None), Pass::Busy);
    assert_eq!(Pass::of(Some(&report(0, 1))), Pass::Backlog);
    assert_eq!(Pass::of(Some(&report(3, 1))), Pass::Backlog);
    assert_eq!(Pass::of(Some(&report(3, 0))), Pass::Empty);
    assert_eq!(Pass::of(Some(&report(0, 0))), Pass::Empty);
}

#[test]
fn a_started_job_runs_again_one_interval_later_and_not_while_it_runs() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&two_jobs(), 1, t0);
    let now = t0 + secs(1);
    assert_eq!(s.start(1, now).map(|t| t.id.as_str()), Some("h-b"));
    assert_eq!(s.jobs[1].next, now + secs(3600));
    assert!(s.jobs[1].running);
    assert!(!s.jobs[0].running);
    // Long after its time, a running job is not due.
    let later = now + secs(7200);
    assert!(!s.due(later).contains(&Timer::Job(1)), "{:?}", s.due(later));
    assert!(s.due(later).contains(&Timer::Job(0)));
    assert!(s.start(2, now).is_none());

    // Another target's end does not free it; its own does, and every lane delivers at once.
    s.lanes[0].next = None;
    s.finished(Some("h-a"), later);
    assert!(s.jobs[1].running);
    assert_eq!(s.lanes[0].next, Some(later));
    s.lanes[0].next = None;
    s.finished(Some("h-b"), later);
    assert!(!s.jobs[1].running);
    assert!(s.due(later).contains(&Timer::Job(1)));
    assert_eq!(s.lanes[0].next, Some(later));
    // A task that ended without a result still makes the lanes try.
    s.lanes[0].next = None;
    s.finished(None, later);
    assert_eq!(s.lanes[0].next, Some(later));
}

#[test]
fn a_finished_script_makes_every_lane_due_also_one_that_pauses() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&two_jobs(), 2, t0);
    s.delivered(0, t0, Pass::Backlog);
    s.delivered(1, t0, Pass::Empty);
    let now = t0 + secs(1);
    s.finished(Some("h-a"), now);
    assert_eq!(s.lanes_due(now), [true, true]);
    // The pause after the next failure keeps growing.
    assert_eq!(s.lanes[0].backoff, secs(10));
}

/// README: "registration at start and every 24 h"; the lane backoff is "growing pauses up to
/// 5 min"; the spool is looked at every 2 s.
#[test]
fn the_documented_intervals() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&[], 1, t0);
    s.registered(t0, Registration::Done);
    assert_eq!(s.register - t0, secs(86_400));
    s.spool_looked(t0, false);
    assert_eq!(s.spool - t0, secs(2));
    assert_eq!(
        (FLUSH_BACKOFF_FIRST, FLUSH_BACKOFF_MAX),
        (secs(5), secs(300))
    );
}

/// The cap that keeps the clock from overflowing must not shorten any interval a config may
/// give: the longest timers.check is 365 days.
#[test]
fn the_longest_interval_a_config_allows_is_kept_exactly() {
    let t0 = Instant::now();
    let targets = targets(&[(
        "long",
        "exit=0",
        "timers = { check = 525600, timeout = 527040 }",
    )]);
    let mut s = Schedule::new(&targets, 1, t0);
    s.start(0, t0);
    assert_eq!(s.jobs[0].next - t0, secs(365 * 24 * 3600));
}

#[test]
fn no_interval_however_long_overflows_the_clock() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&two_jobs(), 1, t0);
    s.jobs[0].every = Duration::MAX;
    s.start(0, t0);
    assert_eq!(s.jobs[0].next, t0 + FAR);
    s.lanes[0].backoff = Duration::MAX;
    s.delivered(0, t0, Pass::Backlog);
    assert_eq!(s.lanes[0].next, Some(t0 + FAR));
    assert_eq!(s.lanes[0].backoff, FLUSH_BACKOFF_MAX);
}

#[test]
fn a_reload_registers_and_delivers_at_once_over_the_new_lanes() {
    let t0 = Instant::now();
    let mut s = spread(t0);
    s.lanes[0].backoff = secs(80);
    let now = t0 + secs(10);
    s.reload(&two_jobs(), 3, now);
    assert_eq!(s.register, now);
    assert_eq!(s.lanes, vec![LaneTimer::at(now); 3]);
    // The spool keeps its time.
    assert_eq!(s.spool, t0 + secs(3601));
}

#[test]
fn a_reload_keeps_unchanged_times_and_starts_added_and_changed_scripts_soon() {
    let start = Instant::now();
    let later = start + secs(3600);
    let mut s = Schedule::new(
        &targets(&[
            ("same", "exit=0", ""),
            ("edited", "exit=0", ""),
            ("gone", "exit=0", ""),
            ("retimed", "exit=0", ""),
            ("limited", "exit=0", ""),
            ("alarm", "exit=0", ""),
        ]),
        1,
        start,
    );
    for job in &mut s.jobs {
        job.next = later;
    }
    s.jobs[1].running = true;
    let now = start + secs(10);
    s.reload(
        &targets(&[
            ("same", "exit=0", ""),
            ("edited", "exit=1", ""),
            ("added", "exit=0", ""),
            ("manual", "", ""),
            (
                "retimed",
                "exit=0",
                "timers = { check = 30, timeout = 180 }",
            ),
            ("limited", "exit=0", "scriptTimeout = 5"),
            // Only when the server raises the alarm changed: the daemon runs it as before.
            ("alarm", "exit=0", "timers = { check = 60, timeout = 300 }"),
        ]),
        1,
        now,
    );
    let view: Vec<(&str, Option<Duration>, bool)> = s
        .jobs
        .iter()
        .map(|j| {
            let at = match j.next == later {
                true => None,
                false => Some(j.next - now),
            };
            (j.target.id.as_str(), at, j.running)
        })
        .collect();
    let spaced = |i: u32| Some(JOB_SPACING * i);
    assert_eq!(
        view,
        [
            ("h-same", None, false),
            // Its old script still runs: no second run starts before it ends.
            ("h-edited", spaced(1), true),
            ("h-added", spaced(2), false),
            ("h-retimed", spaced(3), false),
            ("h-limited", spaced(4), false),
            ("h-alarm", None, false),
        ]
    );
}

#[test]
fn a_notify_lane_looks_at_its_clock_when_told_and_at_least_every_minute() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&[], 3, t0);
    s.notify_lanes(&[2], t0);
    assert!(s.due(t0).contains(&Timer::Notices(0)));
    // Something is due in 10 s: then. Nothing said: a minute. Due "now" again: a second.
    s.noticed(0, t0, Some(secs(10)));
    assert_eq!(s.notices[0].next, t0 + secs(10));
    s.noticed(0, t0, None);
    assert_eq!(s.notices[0].next, t0 + NOTICES_EVERY);
    s.noticed(0, t0, Some(secs(3600)));
    assert_eq!(s.notices[0].next, t0 + NOTICES_EVERY);
    s.noticed(0, t0, Some(Duration::ZERO));
    assert_eq!(s.notices[0].next, t0 + secs(1));
    // Another process held a notice: due at once; other lanes are not notify lanes.
    s.notices_waiting(1, t0 + secs(1) - Duration::from_millis(1));
    assert_eq!(s.notices[0].next, t0 + secs(1));
    s.notices_waiting(2, t0);
    assert_eq!(s.notices[0].next, t0);
    assert_eq!(s.next_wake(), t0);
    // A reload forgets them until the new lanes are named.
    s.reload(&[], 3, t0);
    assert!(s.notices.is_empty());
}

#[test]
fn a_calendar_job_runs_at_its_calendar_and_catches_up_a_missed_run() {
    // Every day at 03:00 UTC; the wall clock reads 2026-01-01 12:00 UTC.
    let ts = targets(&[(
        "daily",
        "exit=0",
        "timers = { calendar = \"*-*-* 03:00 UTC\" }",
    )]);
    let noon: u64 = 1_767_268_800_000;
    let next_3am = noon + 15 * 3600 * 1000;
    let t0 = Instant::now();
    // Its last result came after this morning's run: it waits for tomorrow's.
    let mut s = Schedule::new(&ts, 1, t0);
    s.follow_calendars(t0, noon, |_| Some(noon - 3600 * 1000));
    assert_eq!(s.jobs[0].next, t0 + Duration::from_millis(next_3am - noon));
    // It ran and the next run is the day after at 03:00.
    let later = t0 + Duration::from_millis(next_3am - noon);
    s.start(0, later);
    assert_eq!(s.jobs[0].next, later + secs(24 * 3600));
    // No result since yesterday's 03:00 run: this morning's was missed, it runs soon.
    let mut s = Schedule::new(&ts, 1, t0);
    s.follow_calendars(t0, noon, |_| Some(noon - 30 * 3600 * 1000));
    assert_eq!(s.jobs[0].next, t0);
    // Never a result: soon too.
    let mut s = Schedule::new(&ts, 1, t0);
    s.follow_calendars(t0, noon, |_| None);
    assert_eq!(s.jobs[0].next, t0);
    // A reload with the same calendar keeps its place; placing happens once.
    let mut s = Schedule::new(&ts, 1, t0);
    s.follow_calendars(t0, noon, |_| Some(noon));
    let placed = s.jobs[0].next;
    s.reload(&ts, 1, t0 + secs(5));
    s.follow_calendars(t0 + secs(5), noon + 5000, |_| None);
    assert_eq!(s.jobs[0].next, placed);
}
