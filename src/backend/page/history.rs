//! One target's history, as the status page needs it: every result of the last 48 hours
//! (time, state, the first perfdata value), one record per day for 90 days (milliseconds in
//! each state, the number of results, the first and last problem), the incidents of those 90
//! days and the last result. Bounded: older data is dropped at every result, and the whole
//! stays within [`MAX_BYTES`] encoded ([`super::codec`]) whatever the interval: when results
//! come faster than the 48 hours fit, the oldest of them go first (their days keep counting
//! them).

use super::codec;
use super::time::{day_of, DAY_MS, HOUR_MS};
use crate::result::{keep_tail, perfdata::split_nagios, CheckResult, State};
use std::collections::VecDeque;

/// Results kept one by one.
pub const RECENT_MS: u64 = 48 * HOUR_MS;
/// Days kept, today included.
pub const DAYS: u32 = 90;
/// The most one target's history takes on disk.
pub const MAX_BYTES: usize = 64 * 1024;
/// Incidents kept (the newest), within the 90 days.
pub const MAX_INCIDENTS: usize = 16;
/// How much of the last output is kept (the end, where errors are).
pub const OUTPUT_TAIL: usize = 2048;
/// How much of the output that opened an incident is kept.
pub const INCIDENT_TAIL: usize = 256;
/// The silence after which time counts as stale when the target's timeout is unknown (a
/// result of a target no longer configured): the default `timers.timeout`.
pub const DEFAULT_TIMEOUT_MS: u64 = 180 * 60_000;

/// What a stretch of time was: a result's state, or [`Mark::Stale`] (no result for longer
/// than the target's timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
    Stale = 4,
}

impl Mark {
    pub const ALL: [Mark; 5] = [
        Mark::Ok,
        Mark::Warning,
        Mark::Critical,
        Mark::Unknown,
        Mark::Stale,
    ];

    pub fn of(state: State) -> Mark {
        match state {
            State::Ok => Mark::Ok,
            State::Warning => Mark::Warning,
            State::Critical => Mark::Critical,
            State::Unknown => Mark::Unknown,
        }
    }

    pub fn from_u8(n: u8) -> Option<Mark> {
        Mark::ALL.get(n as usize).copied()
    }

    pub fn label(self) -> &'static str {
        match self {
            Mark::Ok => "OK",
            Mark::Warning => "WARNING",
            Mark::Critical => "CRITICAL",
            Mark::Unknown => "UNKNOWN",
            Mark::Stale => "STALE",
        }
    }

    /// Lower case, for CSS classes and status.json keys.
    pub fn key(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Warning => "warning",
            Mark::Critical => "critical",
            Mark::Unknown => "unknown",
            Mark::Stale => "stale",
        }
    }

    /// How bad: a day or an incident shows its worst. Silence is worse than UNKNOWN (nothing
    /// reports at all), CRITICAL worst.
    pub fn severity(self) -> u8 {
        match self {
            Mark::Ok => 0,
            Mark::Warning => 1,
            Mark::Unknown => 2,
            Mark::Stale => 3,
            Mark::Critical => 4,
        }
    }

    pub fn worse(self, other: Mark) -> Mark {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// One UTC day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    /// Days since 1970-01-01.
    pub day: u32,
    /// Milliseconds in each [`Mark`], by its number (a day has 86,400,000: fits a u32).
    pub ms: [u32; 5],
    pub results: u32,
    /// When the first and the last result other than OK came (ms since the epoch; 0: none).
    pub first_problem_ms: u64,
    pub last_problem_ms: u64,
}

/// A stretch of problems: from the first result other than OK (or the start of a silence)
/// to the next OK result.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub start_ms: u64,
    /// None while it goes on.
    pub end_ms: Option<u64>,
    pub worst: Mark,
    /// The end of the output that opened it (empty for a silence).
    pub output: String,
}

/// One result of the last 48 hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the epoch.
    pub at_s: u32,
    pub state: State,
    /// The first perfdata value; NaN when there was none.
    pub value: f32,
}

/// The newest result.
#[derive(Debug, Clone, PartialEq)]
pub struct Last {
    /// The result's id, so that a repeated delivery is recognised.
    pub id: String,
    pub measured_ms: u64,
    pub state: State,
    pub duration_ms: Option<u64>,
    /// The end of the output ([`OUTPUT_TAIL`]).
    pub output: String,
    /// Label and unit of the first perfdata item (the sparkline's), empty when none.
    pub perf_label: String,
    pub perf_unit: String,
}

/// A target's history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    pub id: String,
    pub host: String,
    pub name: String,
    /// `timers.check` and `timers.timeout` in seconds, as last configured (0: unknown).
    pub check_s: u32,
    pub timeout_s: u32,
    /// When the page first knew the target.
    pub created_ms: u64,
    /// When the current state began (the first result of the current run of equal states,
    /// or the first after a silence); 0 before any result.
    pub since_ms: u64,
    /// The newest OK result and the newest other one (0: none): a watched unit's last success
    /// and last failure.
    pub last_ok_ms: u64,
    pub last_problem_ms: u64,
    pub last: Option<Last>,
    /// Oldest first, at most [`DAYS`].
    pub days: Vec<Day>,
    /// Oldest first, at most [`MAX_INCIDENTS`].
    pub incidents: Vec<Incident>,
    /// Oldest first, within [`RECENT_MS`] of the last result (a deque: each new result
    /// usually pushes one old one out).
    pub recent: VecDeque<Point>,
}

impl History {
    pub fn new(id: &str, host: &str, name: &str, created_ms: u64) -> History {
        History {
            id: id.to_string(),
            host: host.to_string(),
            name: name.to_string(),
            created_ms,
            ..History::default()
        }
    }

    /// The silence after which time counts as stale.
    pub fn timeout_ms(&self) -> u64 {
        match self.timeout_s {
            0 => DEFAULT_TIMEOUT_MS,
            s => u64::from(s) * 1000,
        }
    }

    /// Records `result` unless it is not newer than the last one (a repeated or late delivery
    /// changes nothing). Returns whether anything changed.
    pub fn record(&mut self, result: &CheckResult) -> bool {
        let t = result.measured_at_ms;
        let prev = self.last.as_ref().map(|l| (l.measured_ms, l.state));
        if let Some(last) = &self.last {
            if (last.measured_ms, last.id.as_str()) >= (t, result.id.as_str()) {
                return false;
            }
        }
        let mut after_silence = false;
        if let Some((prev_t, prev_state)) = prev {
            after_silence = self.account(prev_t, t, Mark::of(prev_state));
        }
        let problem = result.state != State::Ok;
        let day = self.day_mut(day_of(t));
        day.results += 1;
        if problem {
            if day.first_problem_ms == 0 {
                day.first_problem_ms = t;
            }
            day.last_problem_ms = t;
            self.last_problem_ms = t;
        } else {
            self.last_ok_ms = t;
        }
        self.track_incident(t, result.state, &result.output);
        if after_silence || prev.map(|p| p.1) != Some(result.state) {
            self.since_ms = t;
        }
        let (perf_label, value, perf_unit) =
            first_perfdata(&result.perfdata).unwrap_or((String::new(), f32::NAN, String::new()));
        self.recent.push_back(Point {
            at_s: (t / 1000) as u32,
            state: result.state,
            value,
        });
        self.last = Some(Last {
            id: result.id.clone(),
            measured_ms: t,
            state: result.state,
            duration_ms: result.duration_ms,
            output: keep_tail(&result.output, OUTPUT_TAIL),
            perf_label,
            perf_unit,
        });
        self.prune(t);
        true
    }

    /// Counts `from..to` (the time between two results) as `mark` for at most the timeout,
    /// the rest as stale; a silence opens an incident unless one is open. Returns whether
    /// there was a silence.
    fn account(&mut self, from: u64, to: u64, mark: Mark) -> bool {
        let held_to = to.min(from.saturating_add(self.timeout_ms()));
        self.add(from, held_to, mark);
        if to <= held_to {
            return false;
        }
        self.add(held_to, to, Mark::Stale);
        if self.incidents.last().is_none_or(|i| i.end_ms.is_some()) {
            self.incidents.push(Incident {
                start_ms: held_to,
                end_ms: Some(to),
                worst: Mark::Stale,
                output: String::new(),
            });
        }
        true
    }

    /// Adds `from..to` to the days it covers, within the days kept.
    fn add(&mut self, from: u64, to: u64, mark: Mark) {
        if to <= from {
            return;
        }
        let first_kept = u64::from(day_of(to).saturating_sub(DAYS - 1)) * DAY_MS;
        let mut at = from.max(first_kept);
        while at < to {
            let day = day_of(at);
            let end = to.min((u64::from(day) + 1) * DAY_MS);
            let slot = &mut self.day_mut(day).ms[mark as usize];
            *slot = slot.saturating_add((end - at) as u32);
            at = end;
        }
    }

    /// The record of `day`, made when missing (days stay sorted).
    fn day_mut(&mut self, day: u32) -> &mut Day {
        let at = match self.days.binary_search_by_key(&day, |d| d.day) {
            Ok(i) => i,
            Err(i) => {
                self.days.insert(
                    i,
                    Day {
                        day,
                        ..Day::default()
                    },
                );
                i
            }
        };
        &mut self.days[at]
    }

    fn track_incident(&mut self, t: u64, state: State, output: &str) {
        let open = self.incidents.last_mut().filter(|i| i.end_ms.is_none());
        match (state == State::Ok, open) {
            (true, Some(incident)) => incident.end_ms = Some(t),
            (true, None) => {}
            (false, Some(incident)) => incident.worst = incident.worst.worse(Mark::of(state)),
            (false, None) => self.incidents.push(Incident {
                start_ms: t,
                end_ms: None,
                worst: Mark::of(state),
                output: keep_tail(output, INCIDENT_TAIL),
            }),
        }
    }

    /// Drops what is older than the days, incidents and 48 hours kept at `now_ms`, then the
    /// oldest results until the whole fits [`MAX_BYTES`].
    pub fn prune(&mut self, now_ms: u64) {
        let first_day = day_of(now_ms).saturating_sub(DAYS - 1);
        self.days.retain(|d| d.day >= first_day);
        let horizon = u64::from(first_day) * DAY_MS;
        self.incidents
            .retain(|i| i.end_ms.is_none_or(|end| end >= horizon));
        let extra = self.incidents.len().saturating_sub(MAX_INCIDENTS);
        self.incidents.drain(..extra);
        let cut = (now_ms.saturating_sub(RECENT_MS) / 1000) as u32;
        let old = self.recent.partition_point(|p| p.at_s < cut);
        self.recent.drain(..old);
        let over = codec::encoded_len(self).saturating_sub(MAX_BYTES);
        if over > 0 {
            let n = over.div_ceil(codec::POINT_BYTES).min(self.recent.len());
            self.recent.drain(..n);
        }
        // Only names of many kilobytes get here: the incidents' texts go next.
        while codec::encoded_len(self) > MAX_BYTES && !self.incidents.is_empty() {
            self.incidents.remove(0);
        }
    }
}

/// Label, value and unit of the first perfdata item (`'root /'=81%;80;90` → `root /`, 81,
/// `%`); none when the first item has no number.
pub fn first_perfdata(perfdata: &str) -> Option<(String, f32, String)> {
    let item = split_nagios(perfdata).into_iter().next()?;
    let (label, rest) = match item.strip_prefix('\'') {
        Some(quoted) => {
            let end = quoted.find('\'')?;
            (&quoted[..end], &quoted[end + 1..])
        }
        None => {
            let eq = item.find('=')?;
            (&item[..eq], &item[eq..])
        }
    };
    let value = rest.strip_prefix('=')?.split(';').next()?;
    let digits = value
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(value.len());
    let number: f32 = value[..digits].parse().ok()?;
    number
        .is_finite()
        .then(|| (label.to_string(), number, value[digits..].to_string()))
}

#[cfg(test)]
mod tests;
