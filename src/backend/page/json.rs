//! The facts of the page for machines, in the shape docs/page.md documents (tests/it/page.rs
//! holds the files against those tables): `status.json` with every target's state, and
//! `targets/<escaped id>.json` with its days, perfdata and incidents (written only when that
//! target changes, so a result does not rewrite 90 days of every target). Times are RFC 3339
//! UTC strings; hidden outputs are `null`.

use super::history::Mark;
use super::time::{date, rfc3339};
use super::view::{Shown, TargetView, WINDOWS};
use serde::Serialize;
use std::collections::BTreeMap;

/// The file without its targets, which are joined in as rendered (see `cache`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    version: u32,
    generated_at: String,
    generated_at_ms: u64,
    stale_after_seconds: u64,
    counts: BTreeMap<&'static str, usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target<'a> {
    id: &'a str,
    host: &'a str,
    name: &'a str,
    state: &'static str,
    since: Option<String>,
    last_result_at: Option<String>,
    last_state: Option<&'static str>,
    output_hidden: bool,
    output: Option<&'a str>,
    check_interval_seconds: Option<u32>,
    timeout_seconds: Option<u32>,
    uptime: BTreeMap<&'static str, Option<f64>>,
    last_success_at: Option<String>,
    last_failure_at: Option<String>,
    run_seconds: Option<f64>,
    badge: String,
    details: String,
    figures_at: String,
}

/// `targets/<escaped id>.json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Details<'a> {
    id: &'a str,
    figures_at: String,
    perfdata: Option<Perfdata<'a>>,
    days: Vec<Day>,
    incidents: Vec<Incident<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Perfdata<'a> {
    label: &'a str,
    unit: &'a str,
    /// `[ms, value]`, oldest first.
    points: Vec<(u64, f32)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Day {
    date: String,
    state: Option<&'static str>,
    seconds: Seconds,
    results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_problem_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_problem_at: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Incident<'a> {
    state: &'static str,
    start: String,
    end: Option<String>,
    /// None while it goes on.
    seconds: Option<u64>,
    output: Option<&'a str>,
}

/// Milliseconds in each mark, as an object of the states the day had and their seconds
/// (written straight from the array: 90 maps a target otherwise).
struct Seconds([u64; 5]);

impl Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let had = || Mark::ALL.into_iter().filter(|&m| self.0[m as usize] > 0);
        let mut map = s.serialize_map(Some(had().count()))?;
        for m in had() {
            map.serialize_entry(m.key(), &((self.0[m as usize] + 500) / 1000))?;
        }
        map.end()
    }
}

fn at(ms: u64) -> Option<String> {
    (ms > 0).then(|| rfc3339(ms))
}

fn nonzero(s: u32) -> Option<u32> {
    (s > 0).then_some(s)
}

/// A target's object in status.json's `targets`.
pub fn target<'a>(t: &'a TargetView) -> String {
    let h = t.h;
    let show = |s: &'a str| t.show_output.then_some(s);
    let target = Target {
        id: &h.id,
        host: &h.host,
        name: &h.name,
        state: t.shown.label(),
        since: h.last.as_ref().and_then(|_| at(h.since_ms)),
        last_result_at: h.last.as_ref().map(|l| rfc3339(l.measured_ms)),
        last_state: h.last.as_ref().map(|l| l.state.label()),
        output_hidden: !t.show_output,
        output: h.last.as_ref().and_then(|l| show(&l.output)),
        check_interval_seconds: nonzero(h.check_s),
        timeout_seconds: nonzero(h.timeout_s),
        uptime: WINDOWS
            .iter()
            .zip(t.uptime)
            .map(|((name, _), share)| (*name, share))
            .collect(),
        last_success_at: at(h.last_ok_ms),
        last_failure_at: at(h.last_problem_ms),
        run_seconds: h
            .last
            .as_ref()
            .and_then(|l| l.duration_ms)
            .map(|ms| ms as f64 / 1000.0),
        badge: format!("badges/{}.svg", t.stem),
        details: format!("targets/{}.json", t.stem),
        figures_at: rfc3339(t.now_ms),
    };
    // Strings and numbers only: encoding cannot fail.
    serde_json::to_string(&target).unwrap_or_default()
}

/// A target's `targets/<escaped id>.json`.
pub fn details<'a>(t: &'a TargetView) -> String {
    let h = t.h;
    let show = |s: &'a str| t.show_output.then_some(s);
    let details = Details {
        id: &h.id,
        figures_at: rfc3339(t.now_ms),
        perfdata: t.spark.as_ref().map(|s| Perfdata {
            label: &s.label,
            unit: &s.unit,
            points: s.points.clone(),
        }),
        days: t
            .days
            .iter()
            .map(|d| Day {
                date: date(d.day),
                state: d.worst.map(Mark::label),
                seconds: Seconds(d.ms),
                results: d.results,
                first_problem_at: at(d.first_problem_ms),
                last_problem_at: at(d.last_problem_ms),
            })
            .collect(),
        incidents: h
            .incidents
            .iter()
            .rev()
            .map(|i| Incident {
                state: i.worst.label(),
                start: rfc3339(i.start_ms),
                end: i.end_ms.map(rfc3339),
                seconds: i.end_ms.map(|end| end.saturating_sub(i.start_ms) / 1000),
                output: show(&i.output),
            })
            .collect(),
    };
    // Strings and numbers only (the sparkline keeps finite values): cannot fail.
    serde_json::to_string(&details).unwrap_or_default()
}

/// The whole file: the head and the targets' objects in the page's order.
pub fn page(
    now_ms: u64,
    stale_after_ms: u64,
    counts: &[(Shown, usize)],
    targets: &[&str],
) -> Vec<u8> {
    let head = Head {
        version: 1,
        generated_at: rfc3339(now_ms),
        generated_at_ms: now_ms,
        stale_after_seconds: stale_after_ms / 1000,
        counts: counts.iter().map(|(s, n)| (s.key(), *n)).collect(),
    };
    let mut out = serde_json::to_vec(&head).unwrap_or_default();
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"targets\":[");
    for (i, t) in targets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}
