//! What the page shows of a target, computed from its history at the moment it is rendered:
//! its state (PENDING before its first result, STALE once its last result is older than its
//! timeout), uptimes, the 90 day bars, the sparkline. Its HTML, JSON and badge are made from
//! this alone.

use super::history::{History, Mark, Point, DAYS, RECENT_MS};
use super::store::stem;
use super::time::{day_of, DAY_MS, HOUR_MS};
use crate::result::State;

/// A target's state as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Known, no result yet.
    Pending,
    Is(Mark),
}

impl Shown {
    pub fn label(self) -> &'static str {
        match self {
            Shown::Pending => "PENDING",
            Shown::Is(m) => m.label(),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Shown::Pending => "pending",
            Shown::Is(m) => m.key(),
        }
    }

    /// Problems first: CRITICAL, STALE, UNKNOWN, WARNING, PENDING, OK.
    pub fn rank(self) -> u8 {
        match self {
            Shown::Is(Mark::Critical) => 0,
            Shown::Is(Mark::Stale) => 1,
            Shown::Is(Mark::Unknown) => 2,
            Shown::Is(Mark::Warning) => 3,
            Shown::Pending => 4,
            Shown::Is(Mark::Ok) => 5,
        }
    }
}

/// The uptime windows.
pub const WINDOWS: [(&str, u64); 4] = [
    ("24h", 24 * HOUR_MS),
    ("7d", 7 * DAY_MS),
    ("30d", 30 * DAY_MS),
    ("90d", 90 * DAY_MS),
];

/// One day bar.
#[derive(Debug, Clone)]
pub struct DayView {
    pub day: u32,
    /// The worst of the day; none without any data.
    pub worst: Option<Mark>,
    /// Milliseconds in each mark, today's up to now.
    pub ms: [u64; 5],
    pub results: u32,
    pub first_problem_ms: u64,
    pub last_problem_ms: u64,
}

/// The first perfdata item over the last 48 hours.
#[derive(Debug, Clone)]
pub struct Spark {
    pub label: String,
    pub unit: String,
    /// (ms, value): the mean of each half hour that has values, oldest first.
    pub points: Vec<(u64, f32)>,
    /// Of the single values.
    pub min: f32,
    pub max: f32,
    pub last: f32,
}

/// Half hours in 48 hours: the sparkline's (and status.json's) points.
pub const SPARK_BUCKETS: u64 = 96;

/// One target.
pub struct TargetView<'a> {
    pub h: &'a History,
    /// When it was computed.
    pub now_ms: u64,
    /// Its file name (badge, anchor).
    pub stem: String,
    pub shown: Shown,
    pub show_output: bool,
    /// By [`WINDOWS`]: the share of watched time in OK or WARNING; none without data.
    pub uptime: [Option<f64>; 4],
    /// Oldest first, [`DAYS`] of them, the last one today.
    pub days: Vec<DayView>,
    pub spark: Option<Spark>,
}

/// The page's own staleness: it is rewritten at least as often as the most frequent target
/// reports, so older than that interval plus the timers' random delay (a tenth, at most a
/// minute) and a minute for the script, nothing has been rewriting it. Without any interval
/// (no passive target known) the daily registration is what rewrites it: 25 hours.
pub fn stale_after_ms(check_s: impl Iterator<Item = u32>) -> u64 {
    match check_s.filter(|&s| s > 0).min() {
        Some(s) => {
            let check = u64::from(s) * 1000;
            check + (check / 10).min(60_000) + 60_000
        }
        None => 25 * HOUR_MS,
    }
}

/// The state shown at `now` for a last result (time, state) and a timeout.
pub fn shown_at(last: Option<(u64, State)>, timeout_ms: u64, now_ms: u64) -> Shown {
    match last {
        None => Shown::Pending,
        Some((at, _)) if now_ms.saturating_sub(at) > timeout_ms => Shown::Is(Mark::Stale),
        Some((_, state)) => Shown::Is(Mark::of(state)),
    }
}

/// What the page shows of `h` at `now`.
pub fn target(h: &History, show_output: bool, now_ms: u64) -> TargetView<'_> {
    let last = h.last.as_ref().map(|l| (l.measured_ms, l.state));
    let shown = shown_at(last, h.timeout_ms(), now_ms);
    let days = days(h, now_ms);
    let mut uptime = [None; 4];
    uptime[0] = share(&recent_ms(h, now_ms - WINDOWS[0].1.min(now_ms), now_ms));
    for (i, (_, window)) in WINDOWS.iter().enumerate().skip(1) {
        let n = (window / DAY_MS) as usize;
        let mut sum = [0u64; 5];
        for d in days.iter().rev().take(n) {
            for (s, ms) in sum.iter_mut().zip(d.ms) {
                *s += ms;
            }
        }
        uptime[i] = share(&sum);
    }
    TargetView {
        h,
        now_ms,
        stem: stem(&h.id),
        shown,
        show_output,
        uptime,
        days,
        spark: if show_output { spark(h, now_ms) } else { None },
    }
}

/// OK and WARNING over all watched time (a warning is no outage).
fn share(ms: &[u64; 5]) -> Option<f64> {
    let total: u64 = ms.iter().sum();
    (total > 0).then(|| (ms[Mark::Ok as usize] + ms[Mark::Warning as usize]) as f64 / total as f64)
}

/// The time from `from` to `to` after a result of `mark`: held for the timeout, stale after.
fn held(timeout: u64, from: u64, to: u64, mark: Mark, mut add: impl FnMut(u64, u64, Mark)) {
    let until = to.min(from.saturating_add(timeout));
    if until > from {
        add(from, until, mark);
    }
    if to > until {
        add(until.max(from), to, Mark::Stale);
    }
}

/// Milliseconds in each mark within `start..now`, from the results kept one by one.
fn recent_ms(h: &History, start: u64, now: u64) -> [u64; 5] {
    let mut ms = [0u64; 5];
    let timeout = h.timeout_ms();
    let at = |p: &Point| u64::from(p.at_s) * 1000;
    // Only the results from the one before `start` on matter.
    let first = h
        .recent
        .partition_point(|p| at(p) < start)
        .saturating_sub(1);
    let mut points = h.recent.range(first..).peekable();
    while let Some(p) = points.next() {
        let next = points.peek().map_or(now, |n| at(n)).min(now);
        held(timeout, at(p), next, Mark::of(p.state), |a, b, mark| {
            let (a, b) = (a.max(start), b.min(now));
            if b > a {
                ms[mark as usize] += b - a;
            }
        });
    }
    ms
}

/// The 90 day bars: the stored days, plus the time since the last result up to now.
fn days(h: &History, now_ms: u64) -> Vec<DayView> {
    let today = day_of(now_ms);
    let first = today.saturating_sub(DAYS - 1);
    let mut out: Vec<DayView> = (first..=today)
        .map(|day| DayView {
            day,
            worst: None,
            ms: [0; 5],
            results: 0,
            first_problem_ms: 0,
            last_problem_ms: 0,
        })
        .collect();
    for d in h.days.iter().filter(|d| d.day >= first && d.day <= today) {
        let v = &mut out[(d.day - first) as usize];
        for (m, ms) in v.ms.iter_mut().zip(d.ms) {
            *m += u64::from(ms);
        }
        v.results = d.results;
        v.first_problem_ms = d.first_problem_ms;
        v.last_problem_ms = d.last_problem_ms;
    }
    if let Some(last) = &h.last {
        let window = u64::from(first) * DAY_MS;
        held(
            h.timeout_ms(),
            last.measured_ms,
            now_ms,
            Mark::of(last.state),
            |a, b, mark| {
                let mut at = a.max(window);
                while at < b {
                    let day = day_of(at);
                    let end = b.min((u64::from(day) + 1) * DAY_MS);
                    if day >= first {
                        out[(day - first) as usize].ms[mark as usize] += end - at;
                    }
                    at = end;
                }
            },
        );
    }
    for v in &mut out {
        v.worst = Mark::ALL
            .into_iter()
            .filter(|&m| v.ms[m as usize] > 0)
            .reduce(Mark::worse)
            .or((v.results > 0).then_some(if v.first_problem_ms > 0 {
                Mark::Unknown
            } else {
                Mark::Ok
            }));
    }
    out
}

/// The first perfdata value of the results of the last 48 hours, as half-hour means.
fn spark(h: &History, now_ms: u64) -> Option<Spark> {
    let last = h.last.as_ref()?;
    let start = now_ms.saturating_sub(RECENT_MS);
    let bucket_ms = RECENT_MS / SPARK_BUCKETS;
    let mut sums = vec![(0.0f64, 0u32); SPARK_BUCKETS as usize];
    let (mut min, mut max, mut newest) = (f32::INFINITY, f32::NEG_INFINITY, None);
    for p in &h.recent {
        let at = u64::from(p.at_s) * 1000;
        if at < start || at > now_ms || !p.value.is_finite() {
            continue;
        }
        let i = (((at - start) / bucket_ms) as usize).min(sums.len() - 1);
        sums[i].0 += f64::from(p.value);
        sums[i].1 += 1;
        (min, max, newest) = (min.min(p.value), max.max(p.value), Some(p.value));
    }
    let points: Vec<(u64, f32)> = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s.1 > 0)
        .map(|(i, s)| {
            let mid = start + i as u64 * bucket_ms + bucket_ms / 2;
            (mid, (s.0 / f64::from(s.1)) as f32)
        })
        .collect();
    Some(Spark {
        label: last.perf_label.clone(),
        unit: last.perf_unit.clone(),
        points,
        min,
        max,
        last: newest?,
    })
}
