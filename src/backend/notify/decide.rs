//! Does this result need a notice? A pure state machine per target and channel: results and
//! the clock go in, [`Event`]s come out. No I/O, no clock of its own: every function takes
//! the time it runs at, so the tests below drive it through days in microseconds.
//!
//! The rules (README "Notifications"):
//! * a problem is told after `failureThreshold` non-OK results in a row, a recovery after
//!   `successThreshold` OK results in a row (when recoveries are on); a change from one problem
//!   state to another (WARNING → CRITICAL) is told at once;
//! * a passive target silent for longer than its `timers.timeout` is a problem of its own, "no
//!   result", ended by the next result whatever it says;
//! * what is told is compared with what was told last (level, not edge): while a target is
//!   muted (`silence`) nothing is told, and when the mute ends a state that differs from the
//!   last notice goes out;
//! * a target that flaps tells at most one new problem and one recovery per hour; what it did
//!   meanwhile is counted, and the next notice (or a summary once the hour is over) says how
//!   often it changed;
//! * reminders every `repeat` while a problem lasts.

use crate::result::{keep_tail, CheckResult, State};
use serde::{Deserialize, Serialize};

/// How long a flapping target's second new problem (or second recovery) waits.
pub const FLAP_HOLD_MS: u64 = 3_600_000;
/// How much of an output a notice keeps (the end, where errors are).
pub const SHOWN_OUTPUT: usize = 4096;
/// How much of the perfdata a notice keeps.
pub const SHOWN_PERFDATA: usize = 1024;

/// What a target's results amount to once the thresholds are applied; also what a notice
/// tells. Written as the state's name (`"CRITICAL"`, `"NO RESULT"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Condition {
    #[default]
    Ok,
    /// WARNING, CRITICAL or UNKNOWN.
    Problem(State),
    /// No result within `timers.timeout`.
    NoResult,
}

impl Condition {
    pub fn label(self) -> &'static str {
        match self {
            Condition::Ok => "OK",
            Condition::Problem(s) => s.label(),
            Condition::NoResult => "NO RESULT",
        }
    }

    pub fn is_problem(self) -> bool {
        self != Condition::Ok
    }

    /// How bad, for picking a digest's headline: OK < WARNING < UNKNOWN < NO RESULT < CRITICAL.
    pub fn severity(self) -> u8 {
        match self {
            Condition::Ok => 0,
            Condition::Problem(State::Ok) | Condition::Problem(State::Warning) => 1,
            Condition::Problem(State::Unknown) => 2,
            Condition::NoResult => 3,
            Condition::Problem(State::Critical) => 4,
        }
    }
}

impl From<Condition> for String {
    fn from(c: Condition) -> String {
        c.label().to_string()
    }
}

impl TryFrom<String> for Condition {
    type Error = String;
    fn try_from(s: String) -> Result<Condition, String> {
        Ok(match s.as_str() {
            "OK" => Condition::Ok,
            "WARNING" => Condition::Problem(State::Warning),
            "CRITICAL" => Condition::Problem(State::Critical),
            "UNKNOWN" => Condition::Problem(State::Unknown),
            "NO RESULT" => Condition::NoResult,
            other => return Err(format!("not a condition: {other:?}")),
        })
    }
}

/// One target's rules, everything defaulted (from its `failureThreshold`, `notify` table and
/// `timers.timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub recovery: bool,
    /// Between reminders while a problem lasts; 0: none.
    pub repeat_ms: u64,
    /// Silence after which the target has "no result".
    pub timeout_ms: u64,
}

/// The part of a result a notice shows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Shown {
    pub state: Option<State>,
    pub measured_at_ms: u64,
    pub output: String,
    pub perfdata: String,
    pub duration_ms: Option<u64>,
}

impl Shown {
    fn of(r: &CheckResult) -> Shown {
        Shown {
            state: Some(r.state),
            measured_at_ms: r.measured_at_ms,
            output: keep_tail(&r.output, SHOWN_OUTPUT),
            perfdata: keep_tail(&r.perfdata, SHOWN_PERFDATA),
            duration_ms: r.duration_ms,
        }
    }
}

/// What kind of notice an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A problem began, or changed (WARNING → CRITICAL, results → no result).
    Problem,
    Recovery,
    /// The problem still lasts (`repeat`).
    Reminder,
    /// The target changed and changed back while its notices were held (flapping); it is as
    /// last told.
    Flapped,
}

/// Something to tell about one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub target: String,
    pub host: String,
    pub name: String,
    pub kind: Kind,
    /// The target's condition now, and what the last notice told (since when).
    pub condition: Condition,
    pub previous: Condition,
    pub previous_since_ms: u64,
    /// When it happened: the result's measurement, or the time the clock said so.
    pub at_ms: u64,
    /// Since when `condition` holds (the first of the results in a row; for "no result", the
    /// last result, or when the notifier first saw the target).
    pub since_ms: u64,
    /// Results of this kind in a row (0 for "no result").
    pub in_a_row: u32,
    /// How often the condition changed since the last notice (1 unless it flapped).
    pub changes: u32,
    /// The newest result, if there is one.
    pub result: Option<Shown>,
    /// `timers.timeout` in minutes, for "no result since … (expected within … min)".
    pub timeout_minutes: u64,
}

/// The newest result taken in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub at_ms: u64,
    pub id: String,
    pub state: State,
}

/// Everything the notifier remembers about one target (on one channel).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tracked {
    pub last: Option<Seen>,
    /// The newest result's shown part, for notices the clock makes.
    pub shown: Option<Shown>,
    /// Results of the same kind (OK or not) in a row, the newest included, and since when.
    pub in_a_row: u32,
    pub row_since_ms: u64,
    pub current: Condition,
    pub current_since_ms: u64,
    /// What the last notice told, when, and since when that held.
    pub told: Condition,
    pub told_at_ms: Option<u64>,
    pub told_since_ms: u64,
    /// Changes of `current` since the last notice.
    pub untold_changes: u32,
    /// When the last new problem (from OK) and the last recovery were told: the flap limit.
    pub opened_ms: Option<u64>,
    pub recovered_ms: Option<u64>,
    pub reminded_ms: Option<u64>,
    /// When this channel first saw the target (the start of a "no result" that never ended).
    pub first_seen_ms: Option<u64>,
    /// The Message-ID of the mail that told the last problem, so its recovery threads under
    /// it (set by the sender, which knows the ID; replaced by the next problem's).
    pub problem_notice: Option<String>,
}

impl Tracked {
    /// Takes one result in. A result older than (or the same as) the newest taken is ignored
    /// (`false`): a repeat after a crash, or a late one from the spool.
    pub fn absorb(&mut self, r: &CheckResult, rules: &Rules) -> bool {
        if let Some(last) = &self.last {
            if (r.measured_at_ms, r.id.as_str()) <= (last.at_ms, last.id.as_str()) {
                return false;
            }
        }
        let ok = r.state == State::Ok;
        let same_kind = self
            .last
            .as_ref()
            .is_some_and(|l| (l.state == State::Ok) == ok);
        if same_kind && self.current != Condition::NoResult {
            self.in_a_row = self.in_a_row.saturating_add(1);
        } else {
            self.in_a_row = 1;
            self.row_since_ms = r.measured_at_ms;
        }
        self.last = Some(Seen {
            at_ms: r.measured_at_ms,
            id: r.id.clone(),
            state: r.state,
        });
        self.shown = Some(Shown::of(r));
        let next = match self.current {
            // Results are back: the silence is over, whatever they say.
            Condition::NoResult if ok => Condition::Ok,
            Condition::NoResult => Condition::Problem(r.state),
            Condition::Ok if !ok && self.in_a_row >= rules.failure_threshold => {
                Condition::Problem(r.state)
            }
            Condition::Ok => Condition::Ok,
            Condition::Problem(_) if ok && self.in_a_row >= rules.success_threshold => {
                Condition::Ok
            }
            Condition::Problem(s) if ok => Condition::Problem(s),
            Condition::Problem(_) => Condition::Problem(r.state),
        };
        if next != self.current {
            // A problem that needed several results began with the first of them; a change
            // between problem states begins now.
            let opened_or_recovered = next.is_problem() != self.current.is_problem();
            self.current_since_ms = if opened_or_recovered && self.current != Condition::NoResult {
                self.row_since_ms
            } else {
                r.measured_at_ms
            };
            self.current = next;
            self.untold_changes = self.untold_changes.saturating_add(1);
        }
        true
    }

    /// Time passes without a result: once the silence is longer than the timeout, the target
    /// has "no result". `first_seen_ms` is set on the first look, so a target that never
    /// reports counts from then.
    pub fn tick(&mut self, rules: &Rules, now_ms: u64) {
        let first_seen = *self.first_seen_ms.get_or_insert(now_ms);
        let since = self.last.as_ref().map_or(first_seen, |l| l.at_ms);
        if self.current != Condition::NoResult && now_ms >= since.saturating_add(rules.timeout_ms) {
            self.current = Condition::NoResult;
            self.current_since_ms = since;
            self.in_a_row = 0;
            self.untold_changes = self.untold_changes.saturating_add(1);
        }
    }

    /// The notice due at `now_ms`, if any, and records it as told. `muted`: a `silence` holds
    /// for this target now (nothing is told; what differs goes out once it ends).
    pub fn decide(
        &mut self,
        target: &Who,
        rules: &Rules,
        now_ms: u64,
        muted: bool,
    ) -> Option<Event> {
        if muted {
            // What happens meanwhile is not news later: once the mute ends, only a state
            // that differs from the last notice goes out.
            self.untold_changes = 0;
            return None;
        }
        if self.current == self.told {
            return self
                .reminder(target, rules, now_ms)
                .or_else(|| self.flapped(target, now_ms));
        }
        let recovery = self.current == Condition::Ok;
        if recovery && !rules.recovery {
            // Not told, but the problem is over: the next one is news again.
            self.told = Condition::Ok;
            self.told_at_ms = Some(now_ms);
            self.told_since_ms = self.current_since_ms;
            self.untold_changes = 0;
            return None;
        }
        let opening = !self.told.is_problem();
        let last = match (recovery, opening) {
            (true, _) => self.recovered_ms,
            (false, true) => self.opened_ms,
            // One problem state to another: always news.
            (false, false) => None,
        };
        if last.is_some_and(|t| now_ms < t.saturating_add(FLAP_HOLD_MS)) {
            return None;
        }
        let kind = if recovery {
            Kind::Recovery
        } else {
            Kind::Problem
        };
        let event = self.event(target, kind, now_ms);
        match (recovery, opening) {
            (true, _) => self.recovered_ms = Some(now_ms),
            (false, true) => self.opened_ms = Some(now_ms),
            (false, false) => {}
        }
        self.told = self.current;
        self.told_at_ms = Some(now_ms);
        self.told_since_ms = self.current_since_ms;
        self.untold_changes = 0;
        self.reminded_ms = None;
        Some(event)
    }

    fn reminder(&mut self, target: &Who, rules: &Rules, now_ms: u64) -> Option<Event> {
        if !self.current.is_problem() || rules.repeat_ms == 0 {
            return None;
        }
        let last = self.reminded_ms.or(self.told_at_ms)?;
        if now_ms < last.saturating_add(rules.repeat_ms) {
            return None;
        }
        self.reminded_ms = Some(now_ms);
        Some(self.event(target, Kind::Reminder, now_ms))
    }

    /// A target that changed and came back while its notices were held tells so once the
    /// hour of the hold is over: "flapped N times, now as last told".
    fn flapped(&mut self, target: &Who, now_ms: u64) -> Option<Event> {
        if self.untold_changes == 0 {
            return None;
        }
        let last = match self.current {
            Condition::Ok => self.recovered_ms,
            _ => self.opened_ms,
        };
        if last.is_some_and(|t| now_ms < t.saturating_add(FLAP_HOLD_MS)) {
            return None;
        }
        let event = self.event(target, Kind::Flapped, now_ms);
        match self.current {
            Condition::Ok => self.recovered_ms = Some(now_ms),
            _ => self.opened_ms = Some(now_ms),
        }
        self.told_at_ms = Some(now_ms);
        self.untold_changes = 0;
        Some(event)
    }

    fn event(&self, target: &Who, kind: Kind, now_ms: u64) -> Event {
        let at_ms = match (kind, &self.last) {
            // A result made it: when that result was measured (folded backlogs keep order).
            (Kind::Problem | Kind::Recovery, Some(last)) if self.current != Condition::NoResult => {
                last.at_ms.min(now_ms)
            }
            _ => now_ms,
        };
        Event {
            target: target.id.to_string(),
            host: target.host.to_string(),
            name: target.name.to_string(),
            kind,
            condition: self.current,
            previous: self.told,
            previous_since_ms: self.told_since_ms,
            at_ms,
            since_ms: self.current_since_ms,
            in_a_row: self.in_a_row,
            changes: self.untold_changes.max(1),
            result: self.shown.clone(),
            timeout_minutes: target.timeout_minutes,
        }
    }

    /// The next time [`Tracked::tick`] and [`Tracked::decide`] may have something to say
    /// without a new result (the "no result" deadline, the end of a flap hold, the next
    /// reminder); `None`: only a result can change anything. For the daemon's schedule.
    pub fn next_due(&self, rules: &Rules) -> Option<u64> {
        let mut due = Vec::new();
        if self.current != Condition::NoResult {
            let since = self.last.as_ref().map(|l| l.at_ms).or(self.first_seen_ms);
            due.extend(since.map(|s| s.saturating_add(rules.timeout_ms)));
        }
        if self.current != self.told || self.untold_changes > 0 {
            let hold = match self.current {
                Condition::Ok => self.recovered_ms,
                _ => self.opened_ms,
            };
            due.extend(hold.map(|t| t.saturating_add(FLAP_HOLD_MS)));
        }
        if self.current.is_problem() && self.current == self.told && rules.repeat_ms > 0 {
            let last = self.reminded_ms.or(self.told_at_ms);
            due.extend(last.map(|t| t.saturating_add(rules.repeat_ms)));
        }
        due.into_iter().min()
    }
}

/// Who an event is about.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub id: &'a str,
    pub host: &'a str,
    pub name: &'a str,
    pub timeout_minutes: u64,
}

#[cfg(test)]
mod tests;
