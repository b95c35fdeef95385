//! What the server made of the calendar fields the agent sent, learned from its answers and
//! kept in `<stateDir>/healthchecks/calendar-answers.json` (observed on the real server,
//! docs/healthchecks.md):
//!
//! - it stores a current name for an old zone (`US/Eastern` as `America/New_York`): the
//!   agent sends the server's name from then on, so an unchanged check is seen as unchanged
//!   instead of being written again at every registration;
//! - it refuses a zone its own time-zone data lacks (`Factory`, a zone newer than its
//!   tzdata) and a `schedule` its calendar parser does not take: the check gets the longest
//!   gap as a plain `timeout` instead, at once from then on.

use crate::state::{read_json, write_atomic};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Answers {
    /// A zone as sent → the server's name for it; `None`: refused.
    zones: BTreeMap<String, Option<String>>,
    /// Schedules the server refused, as sent.
    refused_schedules: BTreeSet<String>,
}

pub(super) struct CalendarAnswers {
    file: PathBuf,
    answers: Mutex<Option<Answers>>,
}

/// Which calendar field a 400 answer refused, by the server's own error text.
pub(super) enum Refused {
    Zone,
    Schedule,
}

impl Refused {
    pub(super) fn of(error: &str) -> Option<Refused> {
        if error.contains("tz is not a valid timezone") {
            Some(Refused::Zone)
        } else if error.contains("schedule is") {
            // "… is not a valid cron or OnCalendar expression", "… is too long".
            Some(Refused::Schedule)
        } else {
            None
        }
    }
}

impl CalendarAnswers {
    pub(super) fn new(file: PathBuf) -> CalendarAnswers {
        CalendarAnswers {
            file,
            answers: Mutex::new(None),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Answers) -> T) -> T {
        let mut guard = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        // Unreadable (garbage, a planted link): learned again from the next answers.
        let answers =
            guard.get_or_insert_with(|| read_json(&self.file).ok().flatten().unwrap_or_default());
        f(answers)
    }

    /// What to send for `schedule` in `tz`: the server's name for the zone, or `None` when
    /// the server refused either.
    pub(super) fn zone_to_send(&self, schedule: &str, tz: &str) -> Option<String> {
        self.with(|a| {
            if a.refused_schedules.contains(schedule) {
                return None;
            }
            match a.zones.get(tz) {
                Some(name) => name.clone(),
                None => Some(tz.to_string()),
            }
        })
    }

    /// Keeps what the server answered: `stored` is its name for the zone `sent`.
    pub(super) fn stored(&self, sent: &str, stored: &str) {
        if sent != stored {
            self.keep(|a| a.zones.insert(sent.into(), Some(stored.into())).is_none());
        }
    }

    pub(super) fn refused(&self, what: Refused, schedule: &str, tz: &str) {
        self.keep(|a| match what {
            Refused::Zone => a.zones.insert(tz.into(), None).is_none(),
            Refused::Schedule => a.refused_schedules.insert(schedule.into()),
        });
    }

    /// Applies `change` and writes the file when it changed something. Best effort: a lost
    /// file costs one refused or repeated request.
    fn keep(&self, change: impl FnOnce(&mut Answers) -> bool) {
        let Some(answers) = self.with(|a| change(a).then(|| a.clone())) else {
            return;
        };
        let written = self
            .file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(serde_json::to_vec_pretty(&answers)?))
            .and_then(|json| write_atomic(&self.file, &json, false));
        if let Err(e) = written {
            tracing::warn!("could not keep {}: {e:#}", self.file.display());
        }
    }
}
