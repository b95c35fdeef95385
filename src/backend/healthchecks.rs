//! The Healthchecks backend: the Management API v3 to register, ping URLs for results.
//!
//! `register` creates or updates one check per passive target (`unique: ["name"]` with the
//! target id as name, so repeating it is safe), timeout and grace from `timers`, tagged
//! `nixcloud-monitoring nixcloud-owner:<owner>`; with the whole config it deletes this owner's
//! checks that are no longer configured. The ping URLs it answers with are kept in
//! `<stateDir>/healthchecks/checks.json`. A result is a ping with the exit status
//! (`<ping_url>/<state>`: 0 is success, WARNING/CRITICAL/UNKNOWN are failures, since
//! Healthchecks knows only up and down), its output and perfdata in the body. Healthchecks
//! keeps only the first bytes of a body, as many as it announces in the `Ping-Body-Limit`
//! header of every successful ping (10,000 by default; its admin may set another), so a long
//! output is cut here to that, keeping its end, where the error usually is. The announced
//! limit is kept in `<stateDir>/healthchecks/ping-body-limit` and used from the next ping on
//! (a script's start signal, sent first, already brings it). Healthchecks runs no checks:
//! active targets are skipped (and alone they are a config error).
//!
//! What a real server answers is recorded in docs/healthchecks.md.

mod refusals;

use super::{bounded, machine_name, Api, Registered};
use crate::config::Config;
use crate::http::{self, ClientOptions};
use crate::result::{keep_tail, CheckResult};
use crate::retry::DeliveryError;
use crate::secrets::{KeySource, SecretError};
use crate::state::{write_atomic, StateDir};
use crate::targets::Target;
use anyhow::Context;
use refusals::{CalendarAnswers, Refused};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a server keeps of a ping body until it said otherwise (Healthchecks' default
/// `PING_BODY_LIMIT`).
const BODY_LIMIT: usize = 10_000;
/// The largest announced limit believed: a body is never longer than a result's output and
/// perfdata (64 KiB each) anyway.
const BODY_LIMIT_MAX: usize = 1024 * 1024;
/// Healthchecks' bounds for `timeout` and `grace`, in seconds (inclusive).
const SECONDS_MIN: u64 = 60;
const SECONDS_MAX: u64 = 31_536_000;

/// A Healthchecks project, reached through its API key.
pub struct Healthchecks {
    shared: Arc<Shared>,
    concurrency: usize,
}

/// What register's parallel requests share.
struct Shared {
    client: reqwest::Client,
    api: String,
    key: KeySource,
    owner_tag: String,
    /// `<stateDir>/healthchecks/checks.json`.
    file: PathBuf,
    /// The checks known, by target id; read from `file` at first use.
    checks: Mutex<Option<BTreeMap<String, Check>>>,
    /// `<stateDir>/healthchecks/in-a-row.json`: per target id, its non-OK results in a row.
    rows_file: PathBuf,
    /// `<stateDir>/healthchecks/ping-body-limit`: what the server last announced.
    limit_file: PathBuf,
    /// The server's ping body limit; read from `limit_file` at first use.
    body_limit: Mutex<Option<usize>>,
    /// Its names for our zones, and the calendars it refused.
    calendar_answers: CalendarAnswers,
}

/// A target's run of non-OK results, as sent so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Row {
    failures: u32,
    /// The last result counted (a delivery repeated after a crash counts once).
    last_id: String,
    measured_at_ms: u64,
}

impl Row {
    /// The row once `result` is counted.
    fn after(&self, result: &CheckResult) -> Row {
        if result.id == self.last_id || result.measured_at_ms < self.measured_at_ms {
            return self.clone();
        }
        Row {
            failures: match result.state {
                crate::result::State::Ok => 0,
                _ => self.failures.saturating_add(1),
            },
            last_id: result.id.clone(),
            measured_at_ms: result.measured_at_ms,
        }
    }
}

/// Healthchecks' longest `schedule`.
const SCHEDULE_MAX: usize = 100;

/// A check as kept between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Check {
    uuid: String,
    ping_url: String,
}

impl Healthchecks {
    pub fn new(config: &Config, state: &StateDir) -> anyhow::Result<Healthchecks> {
        let s = config
            .healthchecks
            .as_ref()
            .context("backend \"healthchecks\" needs a [healthchecks] table")?;
        let client = http::client(&ClientOptions {
            base_url: &s.url,
            timeout: Duration::from_secs(config.delivery.timeout),
            ..Default::default()
        })?;
        let owner = s.owner.clone().unwrap_or_else(machine_name);
        Ok(Healthchecks {
            shared: Arc::new(Shared {
                client,
                api: format!("{}/api/v3/checks/", s.url),
                key: s.api_key(),
                // Tags are split on spaces by the server.
                owner_tag: format!("nixcloud-owner:{}", owner.replace(char::is_whitespace, "_")),
                file: state.root().join("healthchecks").join("checks.json"),
                checks: Mutex::new(None),
                rows_file: state.root().join("healthchecks").join("in-a-row.json"),
                limit_file: state.root().join("healthchecks").join("ping-body-limit"),
                body_limit: Mutex::new(None),
                calendar_answers: CalendarAnswers::new(
                    state
                        .root()
                        .join("healthchecks")
                        .join("calendar-answers.json"),
                ),
            }),
            concurrency: config.delivery.concurrency,
        })
    }
}

impl Shared {
    fn key(&self) -> Result<String, DeliveryError> {
        // Fixed on this machine, not by the server: keep results queued.
        self.key
            .read()
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("{e}")))
    }

    /// The known checks (reading the file at first use).
    fn known(&self) -> std::sync::MutexGuard<'_, Option<BTreeMap<String, Check>>> {
        let mut guard = self.checks.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let read = std::fs::read(&self.file)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            *guard = Some(read.unwrap_or_default());
        }
        guard
    }

    fn ping_url(&self, id: &str) -> Option<String> {
        self.known()
            .as_ref()
            .and_then(|m| m.get(id).map(|c| c.ping_url.clone()))
    }

    /// Records the checks now known; `complete` replaces the whole map.
    fn remember(&self, found: Vec<(String, Check)>, complete: bool) -> anyhow::Result<()> {
        let mut guard = self.known();
        let map = guard.get_or_insert_with(BTreeMap::new);
        if complete {
            map.clear();
        }
        map.extend(found);
        let dir = self.file.parent().unwrap_or(&self.file);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let json = serde_json::to_vec_pretty(&*map).context("could not encode checks")?;
        write_atomic(&self.file, &json, false)
    }

    /// What the check of a passive target should hold (the fields `register` sets). A
    /// calendar target's check follows the calendar itself: its normalized expressions as
    /// the OnCalendar `schedule` (one a line) in the zone they are read in, and the grace.
    /// One whose schedule would be longer than Healthchecks takes, or whose zone has no name,
    /// gets the longest gap as a plain timeout instead.
    fn wanted(&self, target: &Target) -> Value {
        let p = target
            .passive()
            .expect("only passive targets are registered");
        let period = (p.check_minutes * 60).clamp(SECONDS_MIN, SECONDS_MAX);
        let grace = (p.timeout_minutes.saturating_sub(p.check_minutes) * 60)
            .clamp(SECONDS_MIN, SECONDS_MAX);
        let mut check = json!({
            "name": target.id,
            "tags": format!("nixcloud-monitoring {}", self.owner_tag),
            "desc": format!("{} on {} (nixcloud-monitoring)", target.name, target.host),
            "grace": grace,
        });
        let schedule = p.calendar.as_ref().and_then(|c| {
            let text = c.normalized.join("\n");
            if text.len() > SCHEDULE_MAX {
                return None;
            }
            let tz = self.calendar_answers.zone_to_send(&text, &c.zone_name()?)?;
            Some((text, tz))
        });
        match schedule {
            Some((schedule, tz)) => {
                check["schedule"] = json!(schedule);
                check["tz"] = json!(tz);
            }
            None => check["timeout"] = json!(period),
        }
        check
    }

    fn rows(&self) -> BTreeMap<String, Row> {
        // Unreadable (garbage, a planted link or FIFO): counted afresh.
        crate::state::read_json(&self.rows_file)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Records a target's row after a delivered result. Best effort: a lost row only makes
    /// the next failure count from one again.
    fn keep_row(&self, id: &str, row: Row) {
        let mut rows = self.rows();
        rows.insert(id.to_string(), row);
        let dir = self.rows_file.parent().unwrap_or(&self.rows_file);
        let written = std::fs::create_dir_all(dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| serde_json::to_vec(&rows).map_err(anyhow::Error::from))
            .and_then(|json| write_atomic(&self.rows_file, &json, false));
        if let Err(e) = written {
            tracing::warn!("could not keep the failures in a row of {id}: {e:#}");
        }
    }

    /// Creates or updates the check of one passive target; returns it. A calendar the
    /// server refuses (its zone or its schedule) is sent again as a plain timeout.
    async fn upsert(&self, target: &Target) -> Result<Check, DeliveryError> {
        let wanted = self.wanted(target);
        let calendar = wanted["schedule"].as_str().zip(wanted["tz"].as_str());
        match (self.post_check(target, &wanted).await, calendar) {
            (Ok((check, answer)), Some((_, tz))) => {
                if let Some(stored) = answer["tz"].as_str() {
                    self.calendar_answers.stored(tz, stored);
                }
                Ok(check)
            }
            (Err(DeliveryError::Rejected(e)), Some((schedule, tz))) => {
                let Some(what) = Refused::of(&format!("{e:#}")) else {
                    return Err(DeliveryError::Rejected(e));
                };
                tracing::warn!(
                    "{e:#}; {} gets its calendar's longest gap as a plain timeout instead",
                    target.id
                );
                self.calendar_answers.refused(what, schedule, tz);
                let plain = self.wanted(target);
                self.post_check(target, &plain)
                    .await
                    .map(|(check, _)| check)
            }
            (outcome, _) => outcome.map(|(check, _)| check),
        }
    }

    /// Posts one check; returns it and the server's answer.
    async fn post_check(
        &self,
        target: &Target,
        wanted: &Value,
    ) -> Result<(Check, Value), DeliveryError> {
        let mut body = wanted.clone();
        body["unique"] = json!(["name"]);
        let what = format!("registering {} with Healthchecks", target.id);
        let request = self
            .client
            .post(&self.api)
            .header("X-Api-Key", self.key()?)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let answer = http::send(request, &what).await?;
        let check = parse_check(&answer).map_err(|e| DeliveryError::Transient(e.context(what)))?;
        Ok((check, serde_json::from_str(&answer).unwrap_or_default()))
    }

    /// This owner's checks on the server, as listed (one request).
    async fn owned(&self) -> Result<Vec<Value>, DeliveryError> {
        let what = "listing this owner's Healthchecks checks";
        let request = self
            .client
            .get(&self.api)
            .query(&[("tag", &self.owner_tag)])
            .header("X-Api-Key", self.key()?);
        let answer = http::send(request, what).await?;
        let mut doc: Value = serde_json::from_str(&answer).map_err(|e| {
            DeliveryError::Transient(anyhow::anyhow!("{what}: the answer is not JSON: {e}"))
        })?;
        match doc["checks"].take() {
            Value::Array(checks) => Ok(checks),
            _ => Err(DeliveryError::Transient(anyhow::anyhow!(
                "{what}: the answer has no list of checks: {}",
                keep_tail(&answer, 200)
            ))),
        }
    }

    async fn delete(&self, name: &str, uuid: &str) -> Result<(), DeliveryError> {
        let what = format!("removing the Healthchecks check of {name}, no longer configured");
        let request = self
            .client
            .delete(format!("{}{uuid}", self.api))
            .header("X-Api-Key", self.key()?);
        match http::send(request, &what).await {
            // Gone already (deleted by hand, or by a run that stopped half-way).
            Err(DeliveryError::Rejected(e)) if e.to_string().contains("HTTP 404") => Ok(()),
            other => other.map(drop),
        }
    }

    /// How many bytes of a ping body the server keeps: what it last announced, else its
    /// default.
    fn body_limit(&self) -> usize {
        let mut guard = self.body_limit.lock().unwrap_or_else(|e| e.into_inner());
        *guard.get_or_insert_with(|| {
            crate::state::read_own_file(&self.limit_file)
                .ok()
                .flatten()
                .and_then(|b| parse_limit(&String::from_utf8_lossy(&b)))
                .unwrap_or(BODY_LIMIT)
        })
    }

    /// Keeps a limit the server announced (`Ping-Body-Limit`), when it is a new one.
    fn learn_limit(&self, headers: &reqwest::header::HeaderMap) {
        let Some(limit) = headers
            .get("ping-body-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_limit)
        else {
            return;
        };
        if self.body_limit() == limit {
            return;
        }
        tracing::info!("Healthchecks keeps {limit} bytes of a ping body (Ping-Body-Limit)");
        *self.body_limit.lock().unwrap_or_else(|e| e.into_inner()) = Some(limit);
        let written = self
            .limit_file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(anyhow::Error::from)
            .and_then(|()| write_atomic(&self.limit_file, limit.to_string().as_bytes(), false));
        if let Err(e) = written {
            tracing::warn!("{e:#}");
        }
    }

    /// Sends one ping: `<ping_url>/<suffix>` with `body`.
    async fn ping(&self, url: &str, suffix: &str, body: String, what: &str) -> PingOutcome {
        let request = self.client.post(format!("{url}/{suffix}")).body(body);
        match http::send_raw(request, what).await {
            Err(e) => PingOutcome::Failed(e),
            Ok(a) if a.status == 404 => PingOutcome::Unknown(a.error(what)),
            Ok(a) => match crate::retry::classify(a.status) {
                crate::retry::Class::Success => {
                    self.learn_limit(&a.headers);
                    PingOutcome::Done
                }
                crate::retry::Class::Transient => {
                    PingOutcome::Failed(DeliveryError::Transient(a.error(what)))
                }
                crate::retry::Class::Rejected => {
                    PingOutcome::Failed(DeliveryError::Rejected(a.error(what)))
                }
            },
        }
    }
}

enum PingOutcome {
    Done,
    /// The server does not know the check (deleted there): register it again.
    Unknown(anyhow::Error),
    Failed(DeliveryError),
}

impl PingOutcome {
    /// The delivery's outcome; a check still unknown after registering it is refused.
    fn into_result(self) -> Result<(), DeliveryError> {
        match self {
            PingOutcome::Done => Ok(()),
            PingOutcome::Failed(e) => Err(e),
            PingOutcome::Unknown(e) => Err(DeliveryError::Rejected(e)),
        }
    }
}

fn parse_check(answer: &str) -> anyhow::Result<Check> {
    let doc: Value = serde_json::from_str(answer).context("the answer is not JSON")?;
    let field = |k: &str| {
        doc[k]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the answer has no {k}: {}", keep_tail(answer, 200)))
    };
    Ok(Check {
        uuid: field("uuid")?,
        ping_url: field("ping_url")?.trim_end_matches('/').to_string(),
    })
}

/// The ping for a result that ends `failures` non-OK results in a row, its body cut to
/// `limit`: the exit status (`0` success, else a failure), but a `log` ping (recorded, no
/// state change) while the row is below `threshold`, its body then saying so.
fn ping_of(result: &CheckResult, failures: u32, threshold: u32, limit: usize) -> (String, String) {
    if failures > 0 && failures < threshold {
        let note = format!(
            "{} ({failures} of {threshold} in a row; failureThreshold not reached)\n",
            result.state.label()
        );
        let body = format!("{note}{}", ping_body(result, limit));
        return ("log".into(), keep_tail(&body, limit));
    }
    (u8::from(result.state).to_string(), ping_body(result, limit))
}

/// A `Ping-Body-Limit` value: a number of bytes, believed up to [`BODY_LIMIT_MAX`]; one so
/// small that the cut's marker would not fit is no limit to go by.
fn parse_limit(text: &str) -> Option<usize> {
    let n: usize = text.trim().parse().ok()?;
    (100..=BODY_LIMIT_MAX).contains(&n).then_some(n)
}

/// The ping body: the output, then the perfdata after a `|` line as plugins print it, cut to
/// `limit` (what the server keeps), keeping the end.
pub fn ping_body(result: &CheckResult, limit: usize) -> String {
    let text = match result.perfdata.is_empty() {
        true => result.output.clone(),
        false => format!("{}\n| {}", result.output, result.perfdata),
    };
    keep_tail(&text, limit)
}

impl Api for Healthchecks {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        // One listing first: checks that already hold what we want are not written again, and
        // the same listing says what to prune. Without it, everything is written and nothing
        // is pruned.
        let owned = self.shared.owned().await;
        if let Err(e) = &owned {
            tracing::warn!("{e}; registering every check");
        }
        let owned = owned.as_deref().unwrap_or_default();
        let by_name: HashMap<&str, &Value> = owned
            .iter()
            .filter_map(|c| Some((c["name"].as_str()?, c)))
            .collect();
        let mut rows = Vec::new();
        let mut found = Vec::new();
        let mut to_write = Vec::new();
        for t in targets.iter().filter(|t| t.passive().is_some()) {
            match unchanged(&by_name, &self.shared.wanted(t)) {
                Some(check) => {
                    rows.push(Registered {
                        target: t.id.clone(),
                        what: format!("check {} (unchanged)", check.uuid),
                        outcome: Ok(()),
                    });
                    found.push((t.id.clone(), check));
                }
                None => to_write.push(t.clone()),
            }
        }
        let shared = self.shared.clone();
        let done = bounded(to_write, self.concurrency, move |t: Target| {
            let shared = shared.clone();
            async move {
                let outcome = shared.upsert(&t).await;
                (t.id, outcome)
            }
        })
        .await;
        for (id, outcome) in done {
            let what = match &outcome {
                Ok(check) => format!("check {}", check.uuid),
                Err(_) => "check".to_string(),
            };
            rows.push(Registered {
                target: id.clone(),
                what,
                outcome: outcome.map(|check| found.push((id, check))),
            });
        }
        // Prune only after a round where everything was taken: a partial one must not remove
        // what the failed part would have kept.
        let all_ok = rows.iter().all(|r| r.outcome.is_ok());
        if let Err(e) = self.shared.remember(found, complete && all_ok) {
            tracing::warn!("{e:#}");
        }
        if complete && all_ok && !owned.is_empty() {
            rows.extend(self.prune(targets, owned).await);
        }
        rows
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        let what = format!("sending the result of {} to Healthchecks", result.target);
        let row = self
            .shared
            .rows()
            .remove(&result.target)
            .unwrap_or_default()
            .after(result);
        let threshold = target.map_or(1, |t| t.failure_threshold);
        let url = match self.shared.ping_url(&result.target) {
            Some(url) => url,
            None => self.register_one(result, target).await?,
        };
        let (suffix, body) = ping_of(result, row.failures, threshold, self.shared.body_limit());
        let first = self.shared.ping(&url, &suffix, body, &what);
        let outcome = match first.await {
            // Deleted on the server: create it again and send once more.
            PingOutcome::Unknown(e) => {
                tracing::warn!("{e:#}; registering {} again", result.target);
                let url = self.register_one(result, target).await?;
                // The first answer may have announced another body limit.
                let limit = self.shared.body_limit();
                let (suffix, body) = ping_of(result, row.failures, threshold, limit);
                let again = self.shared.ping(&url, &suffix, body, &what);
                again.await.into_result()
            }
            other => other.into_result(),
        };
        if outcome.is_ok() {
            self.shared.keep_row(&result.target, row);
        }
        outcome
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        self.shared.key.read().map(drop)
    }

    async fn started(&self, target: &Target) {
        let Some(url) = self.shared.ping_url(&target.id) else {
            return;
        };
        let what = format!("telling Healthchecks that {} started", target.id);
        // Only so that Healthchecks shows the run time: a failure here changes nothing else.
        match self.shared.ping(&url, "start", String::new(), &what).await {
            PingOutcome::Done => {}
            PingOutcome::Failed(e) => tracing::debug!("{e}"),
            PingOutcome::Unknown(e) => tracing::debug!("{e:#}"),
        }
    }
}

impl Healthchecks {
    /// Registers the target of a result whose check is not known yet (the result came before
    /// the first registration); returns its ping URL.
    async fn register_one(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<String, DeliveryError> {
        let target = target.filter(|t| t.passive().is_some()).ok_or_else(|| {
            DeliveryError::Rejected(anyhow::anyhow!(
                "no Healthchecks check for {}: it is no longer a passive target in the config",
                result.target
            ))
        })?;
        let check = self.shared.upsert(target).await?;
        let url = check.ping_url.clone();
        if let Err(e) = self
            .shared
            .remember(vec![(target.id.clone(), check)], false)
        {
            tracing::warn!("{e:#}");
        }
        Ok(url)
    }

    /// Deletes this owner's checks (as listed in `owned`) whose target is no longer
    /// configured.
    async fn prune(&self, targets: &[Target], owned: &[Value]) -> Vec<Registered> {
        let mut rows = Vec::new();
        for check in owned {
            let (Some(name), Some(uuid)) = (check["name"].as_str(), check["uuid"].as_str()) else {
                continue;
            };
            if targets
                .iter()
                .any(|t| t.id == name && t.passive().is_some())
            {
                continue;
            }
            let outcome = self.shared.delete(name, uuid).await;
            if outcome.is_ok() {
                tracing::info!("removed the Healthchecks check of {name} ({uuid})");
            }
            rows.push(Registered {
                target: name.to_string(),
                what: format!("removed check {uuid}"),
                outcome,
            });
        }
        rows
    }
}

/// The listed check named as `wanted` if it already holds every field of it.
fn unchanged(owned: &HashMap<&str, &Value>, wanted: &Value) -> Option<Check> {
    let same = owned.get(wanted["name"].as_str()?)?;
    if !wanted.as_object()?.iter().all(|(k, v)| &same[k] == v) {
        return None;
    }
    Some(Check {
        uuid: same["uuid"].as_str()?.to_string(),
        ping_url: same["ping_url"].as_str()?.trim_end_matches('/').to_string(),
    })
}
