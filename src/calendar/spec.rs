//! One calendar expression in systemd's normalized form (as `systemd-analyze calendar` prints
//! it: `[WEEKDAYS ]YEAR-MONTH-DAY HOUR:MINUTE:SECOND[ ZONE]`, `~` before the day for days
//! counted from the end of the month), and the instants it elapses at.
//!
//! systemd parses what the user wrote (shorthands such as `daily` or `quarterly`, ranges,
//! abbreviations) and prints this form; this module only reads that form, whose grammar is
//! small: each field is `*` or a comma-separated list of `START[..STOP][/REPEAT]`, seconds with
//! an optional six-digit fraction.
//!
//! Which wall-clock times elapse is what systemd.time(7) says: every combination of the listed
//! values on the matching days. Where a time zone changes its offset, systemd's timers (and
//! `systemd-analyze calendar`, the reference the tests hold this module to) do this, and so
//! does [`Spec::elapses_after`]: a wall-clock time that does not exist that day (skipped by a
//! spring-forward change) does not elapse; one that exists twice (a fall-back change) elapses
//! once, at its first occurrence.

use jiff::tz::{AmbiguousOffset, TimeZone};
use std::fmt;

/// Microseconds in a second, a minute, an hour, a day.
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
/// systemd accepts no later year.
const MAX_YEAR: i16 = 2199;
/// Most elapses in one day this module expands (one a second is 86,400): past it an
/// expression is refused rather than enumerated.
const MAX_PER_DAY: usize = 200_000;

/// Where the wall-clock times of an expression are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// The machine's time zone (no zone in the expression).
    Local,
    Utc,
    /// A zone name from the expression (`Europe/Berlin`).
    Named(String),
}

/// One `START[..STOP][/REPEAT]` of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    start: i64,
    stop: Option<i64>,
    repeat: i64,
}

/// A parsed normalized expression.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Bit 0 Monday … bit 6 Sunday.
    weekdays: u8,
    years: Option<Vec<Item>>,
    months: Option<Vec<Item>>,
    days: Option<Vec<Item>>,
    /// `~`: days count back from the end of the month (`~01` is the last day).
    end_of_month: bool,
    /// The times of day it elapses at, in microseconds after midnight, sorted.
    times: Vec<i64>,
    pub zone: Zone,
    tz: TimeZone,
}

/// Why a normalized form cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(normalized: &str, why: impl fmt::Display) -> SpecError {
    SpecError(format!(
        "cannot read systemd's normalized form {normalized:?}: {why}"
    ))
}

impl Spec {
    /// Reads a normalized form; `local` is the machine's time zone.
    pub fn parse(normalized: &str, local: &TimeZone) -> Result<Spec, SpecError> {
        let mut words = normalized.split(' ').filter(|w| !w.is_empty()).peekable();
        let weekdays = match words.peek() {
            Some(w) if w.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                let w = words.next().unwrap_or_default();
                weekday_bits(w).ok_or_else(|| bad(normalized, "weekdays"))?
            }
            _ => 0x7f,
        };
        let date = words.next().ok_or_else(|| bad(normalized, "no date"))?;
        let time = words.next().ok_or_else(|| bad(normalized, "no time"))?;
        let zone_name: Vec<&str> = words.collect();
        let (zone, tz) = match zone_name.join(" ").as_str() {
            "" => (Zone::Local, local.clone()),
            "UTC" => (Zone::Utc, TimeZone::UTC),
            name => {
                let tz = TimeZone::get(name)
                    .map_err(|e| bad(normalized, format!("time zone {name:?}: {e}")))?;
                (Zone::Named(name.to_string()), tz)
            }
        };
        let (years, rest) = date
            .split_once('-')
            .ok_or_else(|| bad(normalized, "date"))?;
        let end_of_month = rest.contains('~');
        let (months, days) = rest
            .split_once(['-', '~'])
            .ok_or_else(|| bad(normalized, "date"))?;
        let mut hms = time.split(':');
        let (Some(h), Some(m), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next())
        else {
            return Err(bad(normalized, "time"));
        };
        let field = |text: &str, unit: i64| chain(text, unit).ok_or_else(|| bad(normalized, text));
        let hours = values(&field(h, 1)?, 0, 23);
        let minutes = values(&field(m, 1)?, 0, 59);
        let seconds = values(&field(s, SECOND)?, 0, MINUTE - 1);
        if hours.len() * minutes.len() * seconds.len() > MAX_PER_DAY {
            return Err(SpecError(format!(
                "{normalized:?} elapses more than {MAX_PER_DAY} times a day, which the agent \
                 does not follow"
            )));
        }
        let mut times = Vec::with_capacity(hours.len() * minutes.len() * seconds.len());
        for h in &hours {
            for m in &minutes {
                times.extend(seconds.iter().map(|s| h * HOUR + m * MINUTE + s));
            }
        }
        Ok(Spec {
            weekdays,
            years: field(years, 1)?,
            months: field(months, 1)?,
            days: field(days, 1)?,
            end_of_month,
            times,
            zone,
            tz,
        })
    }

    /// Whether the expression's date fields match this civil date.
    fn matches(&self, date: jiff::civil::Date) -> bool {
        let (y, m, d) = (date.year(), date.month(), date.day());
        let weekday = date.weekday().to_monday_zero_offset();
        if self.weekdays & (1 << weekday) == 0 {
            return false;
        }
        let within = |chain: &Option<Vec<Item>>, v: i64| {
            chain
                .as_ref()
                .is_none_or(|items| items.iter().any(|i| i.matches(v)))
        };
        if !within(&self.years, y.into()) || !within(&self.months, m.into()) {
            return false;
        }
        let Some(items) = &self.days else {
            return true;
        };
        if !self.end_of_month {
            return items.iter().any(|i| i.matches(d.into()));
        }
        // Counted from the end: `~N` is day L+1-N, and a range `~A..B` runs forward from
        // L+1-A to L+1-B (systemd swaps the two ends).
        let last = i64::from(date.days_in_month());
        items.iter().any(|i| {
            let start = last + 1 - i.start;
            let item = match i.stop {
                Some(stop) => Item {
                    start: start.min(last + 1 - stop),
                    stop: Some(start.max(last + 1 - stop)),
                    repeat: i.repeat,
                },
                None => Item {
                    start,
                    stop: Some(last),
                    repeat: i.repeat,
                },
            };
            start >= 1 && item.matches(d.into())
        })
    }

    /// The instants (microseconds since the Unix epoch) the expression elapses at after
    /// `after`, in order; ends when none is left before the year 2200.
    pub fn elapses_after(&self, after: i64) -> Elapses<'_> {
        let start = jiff::Timestamp::from_microsecond(after)
            .map(|t| self.tz.to_datetime(t).date())
            .unwrap_or(jiff::civil::date(1970, 1, 1));
        Elapses {
            spec: self,
            // A day early: that day's last times may still come after `after` where the
            // offset is large.
            date: start.yesterday().ok(),
            after,
            day: Vec::new(),
            next: 0,
        }
    }

    /// The elapses of one matching day, in order.
    fn day(&self, date: jiff::civil::Date, out: &mut Vec<i64>) {
        out.clear();
        let civil = days_from_civil(date) * DAY;
        let midnight = date.to_datetime(jiff::civil::Time::midnight());
        // A day with no offset change: one offset for every time (the fast path, taken on all
        // but a few days a year).
        if let AmbiguousOffset::Unambiguous { offset } =
            self.tz.to_ambiguous_timestamp(midnight).offset()
        {
            let offset = i64::from(offset.seconds()) * SECOND;
            let start = civil - offset;
            let changes = jiff::Timestamp::from_microsecond(start)
                .ok()
                .and_then(|t| self.tz.following(t).next())
                .map(|t| t.timestamp().as_microsecond());
            if changes.is_none_or(|at| at > start + DAY + 3 * HOUR) {
                out.extend(self.times.iter().map(|t| start + t));
                return;
            }
        }
        for &t in &self.times {
            let Some(dt) = civil_datetime(date, t) else {
                continue;
            };
            let offset = match self.tz.to_ambiguous_timestamp(dt).offset() {
                AmbiguousOffset::Unambiguous { offset } => offset,
                AmbiguousOffset::Gap { .. } => continue,
                AmbiguousOffset::Fold { before, .. } => before,
            };
            out.push(civil + t - i64::from(offset.seconds()) * SECOND);
        }
    }
}

/// The iterator of [`Spec::elapses_after`].
pub struct Elapses<'a> {
    spec: &'a Spec,
    /// The next day to look at; `None` past the year 2199.
    date: Option<jiff::civil::Date>,
    after: i64,
    day: Vec<i64>,
    next: usize,
}

impl Iterator for Elapses<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            while let Some(&t) = self.day.get(self.next) {
                self.next += 1;
                if t > self.after {
                    self.after = t;
                    return Some(t);
                }
            }
            let date = self.date?;
            if date.year() > MAX_YEAR {
                self.date = None;
                return None;
            }
            self.date = date.tomorrow().ok();
            if self.spec.matches(date) {
                self.spec.day(date, &mut self.day);
                self.next = 0;
            }
        }
    }
}

impl Item {
    fn matches(&self, v: i64) -> bool {
        if v < self.start || self.stop.is_some_and(|stop| v > stop) {
            return false;
        }
        match self.repeat {
            0 => v == self.start,
            r => (v - self.start) % r == 0,
        }
    }
}

/// `Mon..Fri`, `Sat,Sun`, `Mon,Wed..Fri`: bit 0 Monday … bit 6 Sunday.
fn weekday_bits(text: &str) -> Option<u8> {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let index = |n: &str| NAMES.iter().position(|x| *x == n);
    let mut bits = 0u8;
    for part in text.split(',') {
        match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                for i in a..=b {
                    bits |= 1 << i;
                }
            }
            None => bits |= 1 << index(part)?,
        }
    }
    Some(bits)
}

/// A field: `None` for `*`, else its items. `unit` is 1, or a second in microseconds for the
/// seconds field (which may carry a six-digit fraction).
fn chain(text: &str, unit: i64) -> Option<Option<Vec<Item>>> {
    if text == "*" {
        return Some(None);
    }
    let items = text
        .split(',')
        .map(|part| {
            let (range, repeat) = match part.split_once('/') {
                Some((r, rep)) => (r, Some(number(rep, unit)?)),
                None => (part, None),
            };
            let (start, stop) = match range.split_once("..") {
                Some((a, b)) => (number(a, unit)?, Some(number(b, unit)?)),
                None => (number(range, unit)?, None),
            };
            // systemd leaves out `/1` on a range: every value of it.
            let repeat = repeat.unwrap_or(if stop.is_some() { unit } else { 0 });
            Some(Item {
                start,
                stop,
                repeat,
            })
        })
        .collect::<Option<Vec<Item>>>()?;
    Some(Some(items))
}

/// `07`, `7.500000` (with `unit` a second: microseconds).
fn number(text: &str, unit: i64) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value = whole.parse::<i64>().ok()?.checked_mul(unit)?;
    if !fraction.is_empty() {
        if unit != SECOND || fraction.len() != 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value += fraction.parse::<i64>().ok()?;
    }
    Some(value)
}

/// Every value of a field between `min` and `max`, sorted (`None`: each whole unit).
fn values(chain: &Option<Vec<Item>>, min: i64, max: i64) -> Vec<i64> {
    let Some(items) = chain else {
        let unit = if max > 59 { SECOND } else { 1 };
        return (min..=max).step_by(unit as usize).collect();
    };
    let mut out = Vec::new();
    for item in items {
        let stop = item.stop.unwrap_or(max).min(max);
        if item.repeat == 0 {
            if item.start <= max {
                out.push(item.start);
            }
            continue;
        }
        let mut v = item.start;
        while v <= stop && out.len() <= MAX_PER_DAY {
            out.push(v);
            v += item.repeat;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(date: jiff::civil::Date) -> i64 {
    let (y, m, d) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time `micros` after its midnight.
fn civil_datetime(date: jiff::civil::Date, micros: i64) -> Option<jiff::civil::DateTime> {
    let time = jiff::civil::Time::new(
        (micros / HOUR) as i8,
        (micros / MINUTE % 60) as i8,
        (micros / SECOND % 60) as i8,
        (micros % SECOND * 1000) as i32,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

#[cfg(test)]
mod tests;
