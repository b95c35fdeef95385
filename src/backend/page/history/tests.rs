//! The history store's rules: day roll-over, silences, incidents, the bounds (48 h, 90 days,
//! 64 KiB whatever the interval), repeated deliveries, and the file format round trip.

use super::*;
use crate::backend::page::codec;
use crate::backend::page::time::{DAY_MS, HOUR_MS};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const MIN: u64 = 60_000;

fn result(at_ms: u64, state: State, output: &str, perfdata: &str) -> CheckResult {
    CheckResult {
        id: format!("{at_ms:020}-1-0"),
        target: "h-n".into(),
        host: "h".into(),
        name: "n".into(),
        state,
        output: output.into(),
        perfdata: perfdata.into(),
        measured_at_ms: at_ms,
        duration_ms: Some(1500),
    }
}

fn history(timeout_min: u32) -> History {
    let mut h = History::new("h-n", "h", "n", T0);
    h.check_s = 60;
    h.timeout_s = timeout_min * 60;
    h
}

#[test]
fn time_between_two_results_is_split_at_midnight() {
    let mut h = history(180);
    assert!(h.record(&result(T0 - 10 * MIN, State::Ok, "a", "")));
    assert!(h.record(&result(T0 + 10 * MIN, State::Warning, "b", "")));
    assert_eq!(h.days.len(), 2);
    let (before, after) = (&h.days[0], &h.days[1]);
    assert_eq!(
        (before.day, before.ms[0], before.results),
        (day_of(T0) - 1, 10 * MIN as u32, 1)
    );
    assert_eq!(
        (after.day, after.ms[0], after.ms[1], after.results),
        (day_of(T0), 10 * MIN as u32, 0, 1)
    );
    assert_eq!(
        (after.first_problem_ms, after.last_problem_ms),
        (T0 + 10 * MIN, T0 + 10 * MIN)
    );
    assert_eq!(before.first_problem_ms, 0);
    assert_eq!(h.since_ms, T0 + 10 * MIN);
    assert_eq!(
        (h.last_ok_ms, h.last_problem_ms),
        (T0 - 10 * MIN, T0 + 10 * MIN)
    );
}

#[test]
fn a_silence_longer_than_the_timeout_counts_as_stale_and_is_an_incident() {
    let mut h = history(30);
    h.record(&result(T0, State::Ok, "", ""));
    h.record(&result(T0 + 2 * HOUR_MS, State::Ok, "", ""));
    let day = &h.days[0];
    assert_eq!(day.ms[Mark::Ok as usize], 30 * MIN as u32);
    assert_eq!(day.ms[Mark::Stale as usize], 90 * MIN as u32);
    assert_eq!(
        h.incidents,
        [Incident {
            start_ms: T0 + 30 * MIN,
            end_ms: Some(T0 + 2 * HOUR_MS),
            worst: Mark::Stale,
            output: String::new()
        }]
    );
    assert_eq!(
        h.since_ms,
        T0 + 2 * HOUR_MS,
        "a new run begins after a silence"
    );
}

#[test]
fn an_incident_keeps_the_output_that_opened_it_and_its_worst_state() {
    let mut h = history(180);
    h.record(&result(T0, State::Ok, "fine", ""));
    h.record(&result(T0 + MIN, State::Warning, "disk 81%", ""));
    h.record(&result(T0 + 2 * MIN, State::Critical, "disk 95%", ""));
    h.record(&result(T0 + 3 * MIN, State::Warning, "disk 85%", ""));
    assert_eq!(
        h.incidents,
        [Incident {
            start_ms: T0 + MIN,
            end_ms: None,
            worst: Mark::Critical,
            output: "disk 81%".into()
        }]
    );
    h.record(&result(T0 + 4 * MIN, State::Ok, "fine", ""));
    assert_eq!(h.incidents[0].end_ms, Some(T0 + 4 * MIN));
    let long = format!("{}END", "x".repeat(10_000));
    h.record(&result(T0 + 5 * MIN, State::Unknown, &long, ""));
    let opened = &h.incidents[1].output;
    assert!(
        opened.len() <= INCIDENT_TAIL && opened.ends_with("xEND"),
        "{opened}"
    );
    assert!(h.last.as_ref().unwrap().output.len() <= OUTPUT_TAIL);
}

#[test]
fn a_repeated_or_older_result_changes_nothing() {
    let mut h = history(180);
    let r = result(T0, State::Critical, "x", "");
    assert!(h.record(&r));
    let before = h.clone();
    assert!(!h.record(&r), "the same result delivered twice");
    assert!(!h.record(&result(T0 - 1, State::Ok, "late", "")));
    // (Compared as bytes: a result without perfdata holds NaN, never equal to itself.)
    assert_eq!(codec::encode(&h), codec::encode(&before));
}

#[test]
fn days_older_than_90_and_results_older_than_48_hours_are_dropped() {
    let mut h = history(180);
    // One result an hour for 200 days.
    for i in 0..200 * 24 {
        h.record(&result(T0 + i * HOUR_MS, State::Ok, "", "x=1"));
    }
    let now = T0 + (200 * 24 - 1) * HOUR_MS;
    assert_eq!(h.days.len(), DAYS as usize);
    assert_eq!(h.days[0].day, day_of(now) - (DAYS - 1));
    assert_eq!(
        h.recent.len(),
        49,
        "48 h of hourly results, both ends included"
    );
    assert!(u64::from(h.recent[0].at_s) * 1000 >= now - RECENT_MS);
    // Every full day kept has 24 results and 24 h of OK.
    assert!(h.days[..89]
        .iter()
        .all(|d| d.results == 24 && d.ms[0] == DAY_MS as u32));
}

#[test]
fn a_fast_interval_stays_within_64_kib_newest_results_kept() {
    let mut h = history(180);
    let long = "o".repeat(100_000);
    // One result every 10 s for 3 days: 25,920 results, far more than fit.
    let n = 3 * 8640;
    for i in 0..n {
        let state = if i % 1000 == 0 {
            State::Critical
        } else {
            State::Ok
        };
        h.record(&result(T0 + i * 10_000, state, &long, "load=0.5;1;2"));
    }
    let bytes = codec::encode(&h);
    assert!(bytes.len() <= MAX_BYTES, "{}", bytes.len());
    assert!(
        bytes.len() > MAX_BYTES - 2 * codec::POINT_BYTES,
        "the room is used"
    );
    let last = T0 + (n - 1) * 10_000;
    assert_eq!(u64::from(h.recent.back().unwrap().at_s) * 1000, last);
    assert_eq!(h.incidents.len(), MAX_INCIDENTS);
    // The days still count every result.
    assert_eq!(h.days.iter().map(|d| d.results).sum::<u32>(), n as u32);
}

#[test]
fn one_minute_results_keep_all_48_hours_in_about_31_kib() {
    let mut h = history(180);
    for i in 0..4 * 1440 {
        h.record(&result(
            T0 + i * MIN,
            State::Ok,
            "backup ok, 1234 files",
            "files=1234",
        ));
    }
    assert_eq!(h.recent.len(), 2881);
    let len = codec::encode(&h).len();
    assert!(len < 32 * 1024, "{len}");
}

#[test]
fn the_file_format_round_trips() {
    let mut h = history(30);
    h.record(&result(T0, State::Ok, "快乐 <b>", "'root /'=81%;80;90"));
    h.record(&result(T0 + 3 * HOUR_MS, State::Critical, "down", ""));
    let bytes = codec::encode(&h);
    let mut again = codec::decode(&bytes).unwrap();
    assert_eq!(codec::encode(&again), bytes);
    // NaN (no value) is never equal to itself: compare the rest as values.
    assert!(again.recent[1].value.is_nan() && h.recent[1].value.is_nan());
    (h.recent[1].value, again.recent[1].value) = (0.0, 0.0);
    assert_eq!(again, h);
    let last = h.last.as_ref().unwrap();
    assert_eq!(
        (last.perf_label.as_str(), last.perf_unit.as_str()),
        ("", "")
    );
    assert_eq!(h.recent[0].value, 81.0);
}

#[test]
fn truncated_or_garbage_bytes_are_refused_with_the_reason() {
    let mut h = history(30);
    h.record(&result(T0, State::Ok, "x", ""));
    let bytes = codec::encode(&h);
    let cut = format!(
        "{:#}",
        codec::decode(&bytes[..bytes.len() - 3]).unwrap_err()
    );
    assert!(cut.contains("checksum mismatch"), "{cut}");
    let mut flipped = bytes.clone();
    flipped[20] ^= 0x40;
    assert!(codec::decode(&flipped).is_err());
    let foreign = format!("{:#}", codec::decode(b"{\"json\": true}").unwrap_err());
    assert!(foreign.contains("not a page history"), "{foreign}");
    assert!(codec::decode(&[]).is_err());
}

#[test]
fn the_first_perfdata_item_gives_label_value_and_unit() {
    let first = first_perfdata;
    assert_eq!(
        first("'root /'=81%;80;90;0;100 inodes=12"),
        Some(("root /".into(), 81.0, "%".into()))
    );
    assert_eq!(
        first("rta=1.5ms;100;200"),
        Some(("rta".into(), 1.5, "ms".into()))
    );
    assert_eq!(
        first("load=-0.25"),
        Some(("load".into(), -0.25, String::new()))
    );
    assert_eq!(first(""), None);
    assert_eq!(first("no-equals-sign"), None);
    assert_eq!(first("x=U;1;2"), None, "U (no value) is no number");
}
