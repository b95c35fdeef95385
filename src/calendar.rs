//! Calendar schedules: a passive target's `timers.calendar`, one systemd `OnCalendar=`
//! expression or several, and the silence to expect between two of its runs.
//!
//! systemd itself decides what an expression means: `systemd-analyze calendar` (on every
//! machine with systemd, and on every NixOS unit's PATH) accepts or refuses it, quoting its
//! reason, and gives the normalized form. From that form [`spec`] enumerates the runs, the way
//! systemd's timers elapse (tests/it/calendar.rs holds it to `systemd-analyze calendar
//! --iterations`, time zones with daylight-saving changes included), and the longest gap
//! between two runs over the next year is what a backend waits before it calls a target
//! silent. Both are kept in `<stateDir>/calendar.json`, keyed by the expressions and the
//! machine's time zone, so `check` asks systemd once and `submit`, `run` and the daemon read
//! the answer.

mod analyze;
mod spec;

use crate::state::{now_ms, write_atomic};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use spec::Spec;
pub use spec::DAY;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The file in the state directory.
pub const CACHE_NAME: &str = "calendar.json";
/// How far ahead the longest gap is looked for.
const HORIZON: i64 = 366 * DAY;
/// How long a computed gap is used before it is computed again (the year ahead moves on, and
/// an expression may stop elapsing).
const FRESH_MS: u64 = 7 * 24 * 3600 * 1000;

/// A checked calendar: the expressions, as systemd normalized them, and the longest gap
/// between two runs.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// As `systemd-analyze` normalized them, in the same order.
    pub normalized: Vec<String>,
    /// The longest time between two runs over the next year, in seconds.
    pub gap_seconds: u64,
    specs: Vec<Spec>,
}

/// Why a calendar cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// systemd refused an expression; its message.
    Refused { expr: String, message: String },
    /// No run is left (a past date, a day that never comes).
    Never,
    /// One run is left, then none: there is no "time between two runs".
    Once { at: String },
    /// systemd-analyze could not be run, or its answer not read.
    Tool(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Refused { expr, message } => {
                write!(f, "systemd refuses {expr:?}: {message}")
            }
            Problem::Never => f.write_str(
                "it never elapses again (systemd-analyze calendar: \"Next elapse: never\"), so \
                 no result would ever be due",
            ),
            Problem::Once { at } => write!(
                f,
                "it elapses only once more ({at}) and then never, so there is no time between \
                 two runs to wait for"
            ),
            Problem::Tool(why) => f.write_str(why),
        }
    }
}

impl Calendar {
    /// The time zone its wall-clock times are read in, by name, for a server that follows
    /// the calendar itself (Healthchecks): the zone the expressions name, else the
    /// machine's. `None` when they name different zones or the machine's has no name.
    pub fn zone_name(&self) -> Option<String> {
        let mut names = self.specs.iter().map(|s| match &s.zone {
            spec::Zone::Local => local_zone().1,
            spec::Zone::Utc => "UTC".to_string(),
            spec::Zone::Named(n) => n.clone(),
        });
        let first = names.next()?;
        (!first.is_empty() && names.all(|n| n == first)).then_some(first)
    }

    /// The first run after `after_ms` (milliseconds since the Unix epoch), if any.
    pub fn next_after_ms(&self, after_ms: u64) -> Option<u64> {
        let after = i64::try_from(after_ms).ok()?.saturating_mul(1000);
        merged(&self.specs, after)
            .next()
            .map(|us| (us / 1000).max(0) as u64)
    }
}

/// The machine's time zone, and the name the cache and Healthchecks know it by.
pub fn local_zone() -> (TimeZone, String) {
    let tz = TimeZone::system();
    let name = tz.iana_name().unwrap_or("").to_string();
    (tz, name)
}

/// The runs of several expressions after `after` (µs), merged in order, each instant once.
fn merged(specs: &[Spec], after: i64) -> impl Iterator<Item = i64> + '_ {
    let mut streams: Vec<_> = specs
        .iter()
        .map(|s| s.elapses_after(after).peekable())
        .collect();
    std::iter::from_fn(move || {
        let (i, t) = streams
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.peek().map(|&t| (i, t)))
            .min_by_key(|&(_, t)| t)?;
        streams[i].next();
        for s in streams.iter_mut() {
            while s.peek() == Some(&t) {
                s.next();
            }
        }
        Some(t)
    })
}

/// The longest time between two consecutive runs from `now` (µs) over the next year, and
/// the first run after it (so a yearly job's gap is its year).
fn longest_gap(specs: &[Spec], now: i64) -> Result<u64, Problem> {
    let mut runs = merged(specs, now);
    let first = runs.next().ok_or(Problem::Never)?;
    let (mut prev, mut longest) = (first, None::<i64>);
    for t in runs {
        longest = Some(longest.unwrap_or(0).max(t - prev));
        prev = t;
        if t > now + HORIZON {
            break;
        }
    }
    let Some(longest) = longest else {
        return Err(Problem::Once {
            at: utc_text(first),
        });
    };
    // Whole seconds, rounded up: a gap of 7.5 s waits 8.
    Ok(((longest + 999_999) / 1_000_000) as u64)
}

/// `2026-12-03 18:00:00` in UTC, as systemd-analyze prints it (after the weekday).
fn utc_text(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// What `<stateDir>/calendar.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    /// The machine's time zone when these were computed; another zone discards them all.
    zone: String,
    /// By the expressions, joined with newlines.
    calendars: BTreeMap<String, Cached>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    normalized: Vec<String>,
    gap_seconds: u64,
    /// When it was computed (ms since the Unix epoch).
    at_ms: u64,
}

fn read_cache(state_dir: &Path, zone: &str) -> Cache {
    let cache: Cache = std::fs::read(state_dir.join(CACHE_NAME))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    match cache.zone == zone {
        true => cache,
        false => Cache {
            zone: zone.to_string(),
            ..Cache::default()
        },
    }
}

/// Checks every calendar in `lists` (each the expressions of one target), with one call to
/// systemd-analyze for all that the cache in `state_dir` does not hold fresh; writes what it
/// computed back there when this user owns that directory. One answer per list, in order,
/// and warnings for `check`.
pub fn resolve(
    state_dir: &Path,
    lists: &[Vec<String>],
) -> (Vec<Result<Calendar, Problem>>, Vec<String>) {
    let (tz, zone) = local_zone();
    let now = now_ms();
    let mut cache = read_cache(state_dir, &zone);
    let key = |list: &Vec<String>| list.join("\n");
    let fresh = |c: &Cached| c.at_ms <= now && now - c.at_ms < FRESH_MS;
    let mut wanted: Vec<&str> = lists
        .iter()
        .filter(|l| !cache.calendars.get(&key(l)).is_some_and(fresh))
        .flat_map(|l| l.iter().map(String::as_str))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let answers = match wanted.is_empty() {
        true => Ok(Default::default()),
        false => analyze::ask(&wanted).map_err(|e| Problem::Tool(format!("{e:#}"))),
    };
    let mut warnings = Vec::new();
    let mut changed = false;
    let out = lists
        .iter()
        .map(|list| {
            if let Some(c) = cache.calendars.get(&key(list)).filter(|c| fresh(c)) {
                return from_cache(c, &tz);
            }
            let answers = answers.as_ref().map_err(Clone::clone)?;
            let (calendar, warning) = compute(list, answers, &tz, now)?;
            warnings.extend(warning);
            cache.calendars.insert(
                key(list),
                Cached {
                    normalized: calendar.normalized.clone(),
                    gap_seconds: calendar.gap_seconds,
                    at_ms: now,
                },
            );
            changed = true;
            Ok(calendar)
        })
        .collect();
    if changed {
        store(state_dir, &cache);
    }
    (out, warnings)
}

fn from_cache(c: &Cached, tz: &TimeZone) -> Result<Calendar, Problem> {
    let specs = c
        .normalized
        .iter()
        .map(|n| Spec::parse(n, tz).map_err(|e| Problem::Tool(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Calendar {
        normalized: c.normalized.clone(),
        gap_seconds: c.gap_seconds,
        specs,
    })
}

/// A calendar from systemd's answers: the runs enumerated here, their first held against
/// systemd's "Next elapse" (a difference is a warning: the gap may then be wrong too).
fn compute(
    list: &[String],
    answers: &std::collections::HashMap<String, analyze::Answer>,
    tz: &TimeZone,
    now_ms: u64,
) -> Result<(Calendar, Option<String>), Problem> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX / 1000) * 1000;
    let mut normalized = Vec::new();
    let mut specs = Vec::new();
    let mut warning = None;
    for expr in list {
        let (form, next) = match answers.get(expr) {
            Some(analyze::Answer::Valid { normalized, next }) => (normalized, next),
            Some(analyze::Answer::Refused(message)) => {
                return Err(Problem::Refused {
                    expr: expr.clone(),
                    message: message.clone(),
                })
            }
            None => {
                return Err(Problem::Tool(format!(
                    "no answer from systemd for {expr:?}"
                )))
            }
        };
        let spec = Spec::parse(form, tz).map_err(|e| Problem::Tool(e.to_string()))?;
        let ours = spec.elapses_after(now).next().map(utc_text);
        let theirs = next
            .as_ref()
            .map(|n| n.split_once(' ').map_or(n.as_str(), |(_, d)| d));
        if ours.as_deref() != theirs {
            warning = Some(format!(
                "timers.calendar {expr:?}: systemd's next elapse is {}, the agent computes {}; \
                 the expected silence may be off",
                theirs.unwrap_or("never"),
                ours.as_deref().unwrap_or("never")
            ));
        }
        normalized.push(form.clone());
        specs.push(spec);
    }
    let gap_seconds = longest_gap(&specs, now)?;
    Ok((
        Calendar {
            normalized,
            gap_seconds,
            specs,
        },
        warning,
    ))
}

/// Best effort, only into a state directory of this user's: a failure means the next
/// process asks systemd again.
fn store(state_dir: &Path, cache: &Cache) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: a plain getter without arguments.
    let uid = unsafe { libc::geteuid() };
    if !std::fs::metadata(state_dir).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
        return;
    }
    let written = serde_json::to_vec(cache)
        .map_err(anyhow::Error::from)
        .and_then(|json| write_atomic(&state_dir.join(CACHE_NAME), &json, false));
    if let Err(e) = written {
        tracing::debug!("could not keep the calendar gaps: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(normalized: &[&str], zone: &str, now_s: i64) -> Result<u64, Problem> {
        let tz = TimeZone::get(zone).unwrap();
        let specs: Vec<Spec> = normalized
            .iter()
            .map(|n| Spec::parse(n, &tz).unwrap())
            .collect();
        longest_gap(&specs, now_s * 1_000_000)
    }

    /// 2026-01-01 00:00 UTC.
    const NEW_YEAR: i64 = 1_767_225_600;
    const H: u64 = 3600;

    #[test]
    fn the_longest_gap_over_a_year() {
        assert_eq!(gap(&["*-*-* 03:00:00"], "UTC", NEW_YEAR), Ok(24 * H));
        // 02:30 does not exist in Berlin on 2026-03-29: that day has no run (the 28th at
        // 02:30 CET to the 30th at 02:30 CEST is 47 hours).
        assert_eq!(
            gap(&["*-*-* 02:30:00"], "Europe/Berlin", NEW_YEAR),
            Ok(47 * H)
        );
        // 03:00 exists every day; the fall-back day is 25 hours long.
        assert_eq!(
            gap(&["*-*-* 03:00:00"], "Europe/Berlin", NEW_YEAR),
            Ok(25 * H)
        );
        assert_eq!(
            gap(&["Mon..Fri *-*-* 18:00:00"], "UTC", NEW_YEAR),
            Ok(72 * H)
        );
        // A list: Friday 18:00, Saturday 12:00, then Monday 18:00.
        assert_eq!(
            gap(
                &["Mon..Fri *-*-* 18:00:00", "Sat *-*-* 12:00:00"],
                "UTC",
                NEW_YEAR
            ),
            Ok(54 * H)
        );
        assert_eq!(gap(&["*-*-* *:00/15:00"], "UTC", NEW_YEAR), Ok(900));
        // Every hour in Berlin: the fall-back hour's second 02:30 does not run.
        assert_eq!(
            gap(&["*-*-* *:30:00"], "Europe/Berlin", NEW_YEAR),
            Ok(2 * H)
        );
        // The last day of each month: February to March is 31 days, March to April 30.
        assert_eq!(gap(&["*-*~01 00:00:00"], "UTC", NEW_YEAR), Ok(31 * 24 * H));
        // Once a year: the gap is the year to the run after the horizon.
        assert_eq!(
            gap(&["*-12-24 18:00:00"], "UTC", NEW_YEAR),
            Ok(365 * 24 * H)
        );
        assert_eq!(
            gap(&["2020-01-01 00:00:00"], "UTC", NEW_YEAR),
            Err(Problem::Never)
        );
        assert_eq!(
            gap(&["*-02-30 00:00:00"], "UTC", NEW_YEAR),
            Err(Problem::Never)
        );
        assert_eq!(
            gap(&["2027-05-01 03:00:00"], "UTC", NEW_YEAR),
            Err(Problem::Once {
                at: "2027-05-01 03:00:00 UTC".into()
            })
        );
        assert_eq!(gap(&["*-*-* *:*:00/7.500000"], "UTC", NEW_YEAR), Ok(8));
    }

    #[test]
    fn systemd_is_asked_once_then_the_cache_answers() {
        let dir = tempfile::tempdir().unwrap();
        let lists = vec![
            vec!["daily".to_string()],
            vec!["Mon 03:00".to_string(), "hourly".to_string()],
            vec!["foo".to_string()],
        ];
        let (first, _) = resolve(dir.path(), &lists);
        assert!(first[0].as_ref().unwrap().gap_seconds >= 24 * H);
        assert_eq!(
            first[1].as_ref().unwrap().normalized,
            ["Mon *-*-* 03:00:00", "*-*-* *:00:00"]
        );
        match &first[2] {
            Err(Problem::Refused { expr, message }) => {
                assert_eq!(expr, "foo");
                assert!(
                    message.contains("Failed to parse calendar specification 'foo'"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        // A made-up gap in the file: what comes back is the file's, not systemd's.
        let path = dir.path().join(CACHE_NAME);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cache: Cache = serde_json::from_str(&text).unwrap();
        cache.calendars.get_mut("daily").unwrap().gap_seconds = 4242;
        std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
        let (again, _) = resolve(dir.path(), &lists[..1]);
        assert_eq!(again[0].as_ref().unwrap().gap_seconds, 4242);
        // Older than a week: computed again.
        cache.calendars.get_mut("daily").unwrap().at_ms -= FRESH_MS + 1;
        std::fs::write(&path, serde_json::to_vec(&cache).unwrap()).unwrap();
        let (renewed, _) = resolve(dir.path(), &lists[..1]);
        assert!(renewed[0].as_ref().unwrap().gap_seconds >= 24 * H);
    }
}
