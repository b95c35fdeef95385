//! `status [--json]`: every target, its schedule, last result and registration; the queue.
//! `status --check`: the backlog as a monitoring-plugin check.

use crate::agent::Agent;
use crate::exit::Code;
use crate::queue::{format_ms, QueueStats, Survey};
use serde_json::json;

pub fn run(agent: &Agent, as_json: bool) -> anyhow::Result<Code> {
    // Corrupt state is said, naming the file, instead of being shown as "nothing yet".
    let mut warnings = Vec::new();
    let (regs, problem) = agent.state.registrations_checked();
    warnings.extend(problem);
    let several = agent.lanes.len() > 1;
    let lanes: Vec<(String, QueueStats)> = agent
        .lanes
        .iter()
        .map(|l| (l.name(), surveyed(agent, l, several, &mut warnings).stats))
        .collect();
    let mut queue = QueueStats::default();
    for (_, stats) in &lanes {
        queue.add(stats.clone());
    }
    let (round, problem) = agent.state.registration_round_checked();
    warnings.extend(problem);
    let now_ms = crate::state::now_ms();
    let activity = agent.state.activity().map(|a| a.describe(now_ms));
    let notices = Notices::load(agent);
    let mut rows = Vec::new();
    for t in &agent.config.targets {
        let record = agent.state.last_record(&t.id).unwrap_or_else(|w| {
            warnings.push(w);
            None
        });
        let last = record.as_ref().map(|r| r.result.clone());
        let reg = regs.get(&t.id);
        let timing = timing(t, last.as_ref().map(|l| l.measured_at_ms), now_ms);
        rows.push(json!({
            "notify": notices.of(t, now_ms),
            "id": t.id,
            "kind": t.kind_name(),
            // Where the NixOS module took the target from; null for targets written by hand.
            "origin": agent.config.origins.get(&t.id),
            "schedule": t.schedule(),
            "next_run": timing.next_run.map(format_ms),
            "late_since": timing.late_since.map(format_ms),
            "failure_threshold": t.failure_threshold,
            "failures_in_a_row": record.as_ref().map(|r| r.failures_in_a_row),
            "registered": reg.map(|r| r.ok),
            "registered_at": reg.map(|r| format_ms(r.at_ms)),
            "registration_error": reg.and_then(|r| r.error.clone()),
            "last": last.as_ref().map(|r| json!({
                "state": u8::from(r.state),
                "state_label": r.state.label(),
                "output": r.output,
                "perfdata": r.perfdata,
                "measured_at": format_ms(r.measured_at_ms),
                "duration_ms": r.duration_ms,
                "delivery": crate::deliver::whereabouts(agent, &r.id),
            })),
        }));
    }
    if as_json {
        let doc = json!({
            "backend": agent.config.backends[0].name(),
            "backends": agent.config.backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
            "targets": rows,
            // Summed over the backends; `queues` has each one's own.
            "queue": queue,
            "queues": lanes
                .iter()
                .map(|(name, stats)| (name.to_string(), json!(stats)))
                .collect::<serde_json::Map<_, _>>(),
            "registration": {
                "last_success": round.last_success_ms.map(format_ms),
                "last_failure": round.last_failure_ms.map(format_ms),
                "last_error": round.last_error,
                "next_try": round.next_try_ms.map(format_ms),
            },
            "waiting_for": activity,
            "warnings": warnings,
        });
        warn(&warnings);
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Code::Ok);
    }
    warn(&warnings);
    for r in &rows {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let registered = match r["registered"].as_bool() {
            Some(true) => format!("registered {}", s(&r["registered_at"])),
            Some(false) => format!("registration FAILED: {}", s(&r["registration_error"])),
            None => "not registered yet".to_string(),
        };
        println!(
            "{}  [{}]  {}  {registered}",
            s(&r["id"]),
            s(&r["kind"]),
            s(&r["schedule"])
        );
        if let Some(origin) = r["origin"].as_str() {
            println!("    from {origin}");
        }
        if let Some(next) = r["next_run"].as_str() {
            println!("    next run: {next}");
        }
        if let Some(since) = r["late_since"].as_str() {
            println!("    LATE since {since}: no result by then");
        }
        let last = &r["last"];
        if !last.is_null() {
            let took = last["duration_ms"]
                .as_u64()
                .map(|ms| format!(", ran {ms} ms"))
                .unwrap_or_default();
            let output: String = s(&last["output"])
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect();
            let row = in_a_row(
                r["failures_in_a_row"].as_u64().unwrap_or(0),
                r["failure_threshold"].as_u64().unwrap_or(1),
            );
            println!(
                "    last: {}{row} at {} ({}{took}): {output}",
                s(&last["state_label"]),
                s(&last["measured_at"]),
                s(&last["delivery"])
            );
        }
        if let Some(line) = Notices::line(&r["notify"]) {
            println!("    notify: {line}");
        }
    }
    for (name, stats) in &lanes {
        print_queue(agent, several.then_some(name.as_str()), stats);
    }
    let when = |ms: Option<u64>| ms.map(format_ms).unwrap_or_else(|| "never".into());
    print!(
        "registration: last succeeded {}",
        when(round.last_success_ms)
    );
    if let (Some(at), Some(error)) = (round.last_failure_ms, &round.last_error) {
        if Some(at) > round.last_success_ms {
            print!("; failed {}: {error}", format_ms(at));
        }
    }
    match round.next_try_ms {
        Some(next) => println!("; next try {}", format_ms(next)),
        None => println!(),
    }
    if let Some(a) = &activity {
        println!("now: {a}");
    }
    println!("state directory: {}", agent.state.root().display());
    Ok(Code::Ok)
}

/// `, 2 of 3 in a row` while a failureThreshold above 1 is not passed; `, 4 in a row` past it;
/// nothing for a single failure where one is enough.
fn in_a_row(n: u64, threshold: u64) -> String {
    match n {
        0 => String::new(),
        n if threshold > 1 && n <= threshold => format!(", {n} of {threshold} in a row"),
        1 => String::new(),
        n => format!(", {n} in a row"),
    }
}

/// When a passive target runs next and since when it is late.
struct Timing {
    next_run: Option<u64>,
    late_since: Option<u64>,
}

/// A calendar target's next run, and its late time: the first run after its last result (or,
/// before any, after `now` less the gap) plus the grace. An interval target is late
/// `timers.timeout` minutes after its last result.
fn timing(t: &crate::targets::Target, last_ms: Option<u64>, now_ms: u64) -> Timing {
    let Some(p) = t.passive() else {
        return Timing {
            next_run: None,
            late_since: None,
        };
    };
    let due = match &p.calendar {
        Some(c) => {
            let grace_ms = (p.timeout_minutes - p.check_minutes) * 60_000;
            let from = last_ms.unwrap_or(now_ms.saturating_sub(c.gap_seconds * 1000));
            c.next_after_ms(from).map(|at| at + grace_ms)
        }
        None => last_ms.map(|at| at + p.timeout_minutes * 60_000),
    };
    Timing {
        next_run: p.calendar.as_ref().and_then(|c| c.next_after_ms(now_ms)),
        late_since: due.filter(|&d| d <= now_ms),
    }
}

/// What the notify lanes remember per target, for `status`.
struct Notices {
    /// (channel, its store) per notify lane.
    stores: Vec<(String, crate::backend::notify::store::Store)>,
    mutes: crate::backend::notify::mute::Mutes,
}

impl Notices {
    fn load(agent: &Agent) -> Notices {
        use crate::backend::notify::{mute::Mutes, store::Store};
        let stores = agent
            .lanes
            .iter()
            .filter_map(|l| l.channel.clone())
            .map(|c| {
                let store = Store::new(&agent.state, &c);
                (c, store)
            })
            .collect();
        let mutes = Mutes::load(&agent.state).unwrap_or_else(|e| {
            eprintln!("warning: {e:#}");
            Mutes::default()
        });
        Notices { stores, mutes }
    }

    /// `null` for targets the notify lanes do not tell about; else the silence in force and
    /// each channel's view: the condition, results in a row (of how many needed), the last
    /// notice and when.
    fn of(&self, t: &crate::targets::Target, now_ms: u64) -> serde_json::Value {
        let Some((_, rules)) = crate::backend::notify::rules_of(t) else {
            return serde_json::Value::Null;
        };
        if self.stores.is_empty() {
            return serde_json::Value::Null;
        }
        let mute = self.mutes.holding(&t.id, now_ms);
        let channels: serde_json::Map<String, serde_json::Value> = self
            .stores
            .iter()
            .map(|(name, store)| {
                let tr = store.tracked(&t.id);
                let last_ok = tr
                    .last
                    .as_ref()
                    .map(|l| l.state == crate::result::State::Ok);
                // How far a change has come: "2 of 3" while the threshold is not reached.
                let needed = match (tr.current.is_problem(), last_ok) {
                    (false, Some(false)) => Some(rules.failure_threshold),
                    (true, Some(true)) => Some(rules.success_threshold),
                    _ => None,
                };
                (
                    name.clone(),
                    json!({
                        "condition": tr.current.label(),
                        "in_a_row": tr.in_a_row,
                        "needed": needed.filter(|&n| tr.in_a_row < n),
                        "last_notice": tr.told_at_ms.map(|_| tr.told.label()),
                        "last_notice_at": tr.told_at_ms.map(format_ms),
                    }),
                )
            })
            .collect();
        json!({
            "silenced_until": mute.map(|m| format_ms(m.until_ms)),
            "silence_reason": mute.and_then(|m| m.reason.clone()),
            "channels": channels,
        })
    }

    /// `CRITICAL, 2 of 3 in a row; mail: last notice CRITICAL at …; silenced until …`.
    fn line(v: &serde_json::Value) -> Option<String> {
        let channels = v["channels"].as_object()?;
        let mut parts = Vec::new();
        for (i, (name, c)) in channels.iter().enumerate() {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            let row = match (c["in_a_row"].as_u64(), c["needed"].as_u64()) {
                (Some(n), Some(of)) => format!(", {n} of {of} in a row"),
                (Some(n), None) if n > 1 => format!(", {n} in a row"),
                _ => String::new(),
            };
            let told = match c["last_notice"].as_str() {
                Some(t) => format!("last notice {t} at {}", s("last_notice_at")),
                None => "no notice yet".to_string(),
            };
            if i == 0 {
                parts.push(format!("{}{row}", s("condition")));
            }
            parts.push(format!("{name}: {told}"));
        }
        if let Some(until) = v["silenced_until"].as_str() {
            let why = v["silence_reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            parts.push(format!("silenced until {until}{why}"));
        }
        Some(parts.join("; "))
    }
}

/// One lane's queue as `status` and `status --check` both count it; with several backends
/// its last error names the backend. Each entry that is no result adds a warning naming it.
fn surveyed(
    agent: &Agent,
    lane: &crate::agent::Lane,
    several: bool,
    warnings: &mut Vec<String>,
) -> Survey {
    let mut survey = lane.queue.survey();
    if several {
        survey.stats.last_error = survey
            .stats
            .last_error
            .map(|e| format!("{}: {e}", lane.name()));
    }
    for (path, why) in &survey.unreadable {
        warnings.push(format!(
            "{} is not a readable result ({why}): not counted as queued; the next delivery \
             moves it to {}",
            path.display(),
            agent.queue().corrupt_dir().display()
        ));
    }
    survey
}

/// The warnings on stderr, where they do not mix with the report (or the JSON).
fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// The `queue:` line (per backend when there are several) and the last delivery error.
fn print_queue(agent: &Agent, backend: Option<&str>, queue: &QueueStats) {
    let oldest = queue
        .oldest_ms
        .map(|ms| format!(", oldest from {}", format_ms(ms)))
        .unwrap_or_default();
    let corrupt = if queue.corrupt > 0 {
        format!(
            "; {} corrupt (moved to {})",
            queue.corrupt,
            agent.queue().corrupt_dir().display()
        )
    } else {
        String::new()
    };
    let label = backend.map(|b| format!(" ({b})")).unwrap_or_default();
    let unreadable = match queue.unreadable {
        0 => String::new(),
        n => format!("; {n} unreadable (see the warnings)"),
    };
    println!(
        "queue{label}: {} waiting ({} bytes){oldest}; {} spooled; {} refused{corrupt}{unreadable}",
        queue.count, queue.bytes, queue.spooled, queue.rejected
    );
    if let Some(e) = &queue.last_error {
        println!("last delivery error: {e}");
    }
}

/// `status --check` as a monitoring plugin: whatever keeps the check from being made (a
/// missing or broken config, an unreadable state directory) is UNKNOWN (exit 3) with the
/// reason on the first line of stdout, where the monitoring system reads it. A config error
/// must not read as CRITICAL (exit 2), which is what a plugin says about the backlog itself.
pub fn as_plugin(agent: anyhow::Result<Agent>) -> Code {
    match agent.and_then(|agent| check_backlog(&agent)) {
        Ok(code) => code,
        Err(e) => {
            println!("UNKNOWN: {}", format!("{e:#}").replace('\n', " "));
            Code::Unknown
        }
    }
}

/// Timeout for results of targets no longer in the config: the default `timers.timeout`.
const DEFAULT_TIMEOUT_MINUTES: u64 = 180;

/// `status --check`: CRITICAL (exit 2) when a queued result has waited longer than its
/// target's `timers.timeout`, the time after which the server raises the alarm anyway. A
/// shorter outage is no alarm: nothing is lost, and the queue goes out when it ends.
pub fn check_backlog(agent: &Agent) -> anyhow::Result<Code> {
    let now_ms = crate::state::now_ms();
    let several = agent.lanes.len() > 1;
    let mut warnings = Vec::new();
    let surveys: Vec<Survey> = agent
        .lanes
        .iter()
        .map(|l| surveyed(agent, l, several, &mut warnings))
        .collect();
    warn(&warnings);
    let unreadable = match warnings.len() {
        0 => String::new(),
        n => format!(" ({n} unreadable entries not counted, see stderr)"),
    };
    let queued: Vec<&crate::result::CheckResult> =
        surveys.iter().flat_map(|s| &s.results).collect();
    let overdue: Vec<String> = queued
        .iter()
        .filter_map(|r| {
            let timeout = crate::targets::find(&agent.config.targets, &r.target)
                .and_then(|t| t.passive())
                .map_or(DEFAULT_TIMEOUT_MINUTES, |p| p.timeout_minutes);
            let age_min = now_ms.saturating_sub(r.measured_at_ms) / 60_000;
            (age_min >= timeout).then(|| {
                format!(
                    "{} from {} ({age_min} min, timeout {timeout} min)",
                    r.target,
                    format_ms(r.measured_at_ms)
                )
            })
        })
        .collect();
    let errors: Vec<String> = surveys
        .iter()
        .filter_map(|s| s.stats.last_error.clone())
        .collect();
    let last_error = match errors.is_empty() {
        true => String::new(),
        false => format!("; last delivery error: {}", errors.join("; ")),
    };
    if overdue.is_empty() {
        let oldest = queued
            .first()
            .map(|r| format!(", the oldest from {}", format_ms(r.measured_at_ms)))
            .unwrap_or_default();
        println!(
            "OK: {} results queued{unreadable}{oldest}, none older than its target's timeout",
            queued.len()
        );
        return Ok(Code::Ok);
    }
    println!(
        "CRITICAL: {} of {} queued results{unreadable} are older than their target's timeout: {}{last_error}",
        overdue.len(),
        queued.len(),
        overdue.join(", ")
    );
    Ok(Code::Critical)
}

#[cfg(test)]
mod in_a_row_tests {
    use super::in_a_row;

    #[test]
    fn the_count_is_shown_against_the_threshold() {
        assert_eq!(in_a_row(0, 3), "");
        assert_eq!(in_a_row(2, 3), ", 2 of 3 in a row");
        assert_eq!(in_a_row(3, 3), ", 3 of 3 in a row");
        assert_eq!(in_a_row(5, 3), ", 5 in a row");
        assert_eq!(in_a_row(1, 1), "");
        assert_eq!(in_a_row(2, 1), ", 2 in a row");
    }
}
