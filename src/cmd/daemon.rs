//! `daemon`: one long-running process doing what the timers do.
//!
//! Registration at start and every 24 h (sooner after a failure), each scripted passive target
//! on its own `timers.check` interval, delivery of the queue with growing pauses while the
//! server is away, and a look at the spool every two seconds, where group members' results
//! wait. systemd hears READY once the loop runs, a STATUS line after every change, and
//! WATCHDOG pings from a task of their own. On SIGTERM no new work starts; running scripts get
//! a grace period and their results are queued (delivered by the next start if not now).
//!
//! On SIGHUP (`systemctl reload`) the daemon reads its config file again (the path it was
//! started with), saying RELOADING=1, then READY=1 and a STATUS line. The queue and the last
//! results stay where they are; the scripts' schedule is rebuilt (added targets start soon,
//! removed ones stop, changed ones start again soon with their new settings, unchanged ones
//! keep their times), and a full registration and a delivery pass follow at once. A config
//! that does not load (or that moves `stateDir`, which needs a restart) is logged naming the
//! file, and the daemon goes on with the config it had.

use crate::agent::Agent;
use crate::backend::Backend;
use crate::deliver::{self, FlushReport};
use crate::exit::Code;
use crate::passive;
use crate::result::CheckResult;
use crate::retry::RetryPolicy;
use crate::targets::Target;
use sd_notify::NotifyState;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;
use tokio::time::Instant;

const REGISTER_EVERY: Duration = Duration::from_secs(24 * 3600);
const SPOOL_EVERY: Duration = Duration::from_secs(2);
const ACTIVITY_EVERY: Duration = Duration::from_secs(2);
const FLUSH_BACKOFF_FIRST: Duration = Duration::from_secs(5);
const FLUSH_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Far enough to mean "not scheduled", near enough not to overflow `Instant`.
const IDLE: Duration = Duration::from_secs(365 * 24 * 3600);

/// One scripted passive target and when it runs next.
struct Job {
    target: Target,
    next: Instant,
    running: bool,
}

/// Runs the daemon with `first`, and with the config re-read from `first.config.path` after
/// each SIGHUP.
pub async fn run(first: &Agent) -> anyhow::Result<Code> {
    first.require_owner()?;
    // Shared with the script tasks, which tell the backends a script started.
    let mut backends = std::sync::Arc::new(first.backends()?);
    let mut stop = Stop::new()?;
    let mut hangup = signal(SignalKind::hangup())?;
    let _watchdog = spawn_watchdog();
    // The agent loaded by the last good reload; `first` until then.
    let mut reloaded: Option<Agent> = None;

    let start = Instant::now();
    let scratch = first.state.root().join("tmp");
    let mut jobs = schedule(&first.config.targets, &[], start);
    let mut running: JoinSet<(String, anyhow::Result<CheckResult>)> = JoinSet::new();
    let mut next_register = start;
    // Each backend's lane has its own pause: one that is down holds up only its own.
    let mut next_flush = vec![start; first.lanes.len()];
    let mut next_spool = start;
    let mut backoff = vec![FLUSH_BACKOFF_FIRST; first.lanes.len()];
    let mut last_delivery: Option<std::time::SystemTime> = None;

    notify(&[NotifyState::Ready]);
    loop {
        let agent = reloaded.as_ref().unwrap_or(first);
        let next_job = jobs
            .iter()
            .filter(|j| !j.running)
            .map(|j| j.next)
            .min()
            .unwrap_or(start + IDLE);
        let next_lane = next_flush.iter().copied().min().unwrap_or(start + IDLE);
        let wake = next_register.min(next_lane).min(next_spool).min(next_job);
        let mut reload = false;
        tokio::select! {
            _ = stop.requested() => break,
            _ = hangup.recv() => reload = true,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Some(id) = finished(agent, done) {
                    if let Some(job) = jobs.iter_mut().find(|j| j.target.id == id) {
                        job.running = false;
                    }
                }
                next_flush.fill(Instant::now());
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();

        if reload {
            let path = agent.config.path.clone();
            let mut reloading = vec![
                NotifyState::Reloading,
                NotifyState::Status("reloading the config"),
            ];
            // systemd >= 253 wants the time with RELOADING=1 (Type=notify-reload).
            reloading.extend(NotifyState::monotonic_usec_now().ok());
            notify(&reloading);
            let said = match load_again(agent) {
                Ok((fresh, fresh_backends)) => {
                    let said = format!(
                        "reloaded {}: {}",
                        path.display(),
                        describe_changes(&agent.config.targets, &fresh.config.targets)
                    );
                    tracing::info!("{said}");
                    jobs = schedule(&fresh.config.targets, &jobs, now);
                    backends = std::sync::Arc::new(fresh_backends);
                    // Register the new set at once (a full round: removed targets are pruned
                    // where the backend does that), and deliver with the new settings. The
                    // backends may have changed, and their lanes with them.
                    next_register = now;
                    next_flush = vec![now; fresh.lanes.len()];
                    backoff = vec![FLUSH_BACKOFF_FIRST; fresh.lanes.len()];
                    reloaded = Some(fresh);
                    said
                }
                Err(e) => {
                    let said = format!(
                        "could not reload the config from {}: {e:#}; still running with the config loaded before",
                        path.display()
                    );
                    tracing::error!("{said}");
                    said
                }
            };
            notify(&[NotifyState::Ready, NotifyState::Status(&said)]);
            continue;
        }

        if now >= next_register {
            let Some(outcomes) = watched(
                agent,
                &mut stop,
                super::register::register(agent, &backends, &agent.config.targets, true),
            )
            .await
            else {
                break;
            };
            let ok = match &outcomes {
                Ok(o) => o.iter().all(|r| r.outcome.is_ok()),
                Err(e) => {
                    tracing::error!("{e:#}");
                    false
                }
            };
            for e in outcomes
                .iter()
                .flatten()
                .filter_map(|r| r.outcome.as_ref().err())
            {
                tracing::error!("{e}");
            }
            next_register = match agent.state.registration_round().next_try_ms {
                // A transient failure: again after a minute, then at most every 5 minutes.
                Some(next_ms) if !ok => {
                    let due = Duration::from_millis(next_ms.saturating_sub(crate::state::now_ms()));
                    now + due.max(RetryPolicy::registration().first_delay)
                }
                _ => now + REGISTER_EVERY,
            };
        }
        for job in jobs.iter_mut() {
            if job.running || now < job.next {
                continue;
            }
            let p = job.target.passive().expect("jobs are passive targets");
            job.next = now + Duration::from_secs(p.check_minutes * 60);
            job.running = true;
            let (target, scratch) = (job.target.clone(), scratch.clone());
            let backends = backends.clone();
            running.spawn(async move {
                let p = target.passive().expect("jobs are passive targets");
                let run = passive::run(&target, &p.script, p.script_timeout, &scratch);
                let (result, ()) = tokio::join!(run, crate::backend::started(&backends, &target));
                (target.id, result)
            });
        }
        if now >= next_spool {
            if agent.queue().has_spooled() {
                // The first lane adopts the spool into every lane.
                next_flush[0] = now;
            }
            next_spool = now + SPOOL_EVERY;
        }
        let due: Vec<bool> = next_flush.iter().map(|&t| now >= t).collect();
        if due.iter().any(|&d| d) {
            let pass = flush_due(agent, &backends, &due);
            let Some(reports) = watched(agent, &mut stop, pass).await else {
                break;
            };
            for (i, report) in reports.into_iter().enumerate() {
                let kind = agent.lanes[i].name();
                match report {
                    // Not due, or someone else is delivering: look again shortly.
                    None if due[i] => next_flush[i] = now + SPOOL_EVERY,
                    None => {}
                    Some(report) if report.remaining > 0 => {
                        tracing::warn!(
                            "{kind}: {} result(s) still queued: {}",
                            report.remaining,
                            report.error.unwrap_or_default()
                        );
                        next_flush[i] = now + backoff[i];
                        backoff[i] = (backoff[i] * 2).min(FLUSH_BACKOFF_MAX);
                    }
                    Some(report) => {
                        if report.delivered > 0 {
                            last_delivery = Some(std::time::SystemTime::now());
                        }
                        backoff[i] = FLUSH_BACKOFF_FIRST;
                        next_flush[i] = now + IDLE;
                    }
                }
            }
        }
        notify(&[NotifyState::Status(&status_line(agent, last_delivery))]);
    }

    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: waiting for running scripts"),
    ]);
    let agent = reloaded.as_ref().unwrap_or(first);
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    while !running.is_empty() {
        tokio::select! {
            Some(done) = running.join_next() => { finished(agent, done); }
            _ = &mut grace => {
                tracing::warn!("{} script(s) still running at shutdown were stopped", running.len());
                break;
            }
        }
    }
    Ok(Code::Ok)
}

/// The jobs for the scripted passive targets in `targets`. `old` is the schedule before a
/// reload: a target whose script and timing are unchanged keeps its next time, a changed or
/// added one runs soon; a target whose script still runs stays marked running (no second run
/// of it starts meanwhile).
fn schedule(targets: &[Target], old: &[Job], now: Instant) -> Vec<Job> {
    targets
        .iter()
        .filter(|t| t.passive().is_some_and(|p| !p.script.is_empty()))
        .enumerate()
        .map(|(i, t)| {
            // A little apart, so that a hundred scripts do not all start in the same second.
            let soon = now + Duration::from_millis(200 * i as u64);
            let before = old.iter().find(|j| j.target.id == t.id);
            Job {
                target: t.clone(),
                next: match before {
                    Some(j) if same_schedule(&j.target, t) => j.next,
                    _ => soon,
                },
                running: before.is_some_and(|j| j.running),
            }
        })
        .collect()
}

/// Whether a reload leaves what the daemon runs for this target, and when, as it was.
fn same_schedule(a: &Target, b: &Target) -> bool {
    match (a.passive(), b.passive()) {
        (Some(a), Some(b)) => {
            a.script == b.script
                && a.check_minutes == b.check_minutes
                && a.script_timeout == b.script_timeout
        }
        _ => false,
    }
}

/// Loads the config file again (the path the daemon was started with) and its backend. The
/// queue and the last results live in the state directory, which must stay the same.
fn load_again(current: &Agent) -> anyhow::Result<(Agent, Vec<Backend>)> {
    let fresh = Agent::load(&current.config.path)?;
    if fresh.config.state_dir != current.config.state_dir {
        anyhow::bail!(
            "stateDir changed from {} to {}: restart the daemon to move to it",
            current.config.state_dir.display(),
            fresh.config.state_dir.display()
        );
    }
    fresh.require_owner()?;
    let backends = fresh.backends()?;
    Ok((fresh, backends))
}

/// "3 targets (added: a; removed: b; changed: c)".
fn describe_changes(old: &[Target], new: &[Target]) -> String {
    let ids = |ts: &[Target]| -> Vec<String> { ts.iter().map(|t| t.id.clone()).collect() };
    let (old_ids, new_ids) = (ids(old), ids(new));
    let added: Vec<&str> = new_ids
        .iter()
        .filter(|id| !old_ids.contains(id))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old_ids
        .iter()
        .filter(|id| !new_ids.contains(id))
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = new
        .iter()
        .filter(|t| {
            old.iter()
                .find(|o| o.id == t.id)
                .is_some_and(|o| format!("{:?}", o.kind) != format!("{:?}", t.kind))
        })
        .map(|t| t.id.as_str())
        .collect();
    let list =
        |what: &str, ids: &[&str]| (!ids.is_empty()).then(|| format!("{what}: {}", ids.join(", ")));
    let parts: Vec<String> = [
        list("added", &added),
        list("removed", &removed),
        list("changed", &changed),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        format!("{} targets, none added, removed or changed", new.len())
    } else {
        format!("{} targets ({})", new.len(), parts.join("; "))
    }
}

/// Queues a finished script's result; returns the target id whose job is idle again.
fn finished(
    agent: &Agent,
    done: Result<(String, anyhow::Result<CheckResult>), tokio::task::JoinError>,
) -> Option<String> {
    let (id, result) = done.ok()?;
    match result {
        // Only an accepted result is a target's last one (a full queue refuses it).
        Ok(result) => {
            if let Err(e) = deliver::enqueue(agent, &result) {
                tracing::error!("{e:#}");
            }
        }
        Err(e) => tracing::error!("{e:#}"),
    }
    Some(id)
}

/// One delivery pass over the lanes that are due and whose lock is free; `None` for a lane
/// not due or delivered by another process.
async fn flush_due(agent: &Agent, backends: &[Backend], due: &[bool]) -> Vec<Option<FlushReport>> {
    let lock = |lane: &crate::agent::Lane| {
        let i = agent.lanes.iter().position(|l| std::ptr::eq(l, lane));
        match i.is_some_and(|i| due[i]) {
            true => lane.queue.try_lock(),
            false => Ok(None),
        }
    };
    // One attempt per pass: the pause between passes is the daemon's backoff.
    let reports = deliver::flush_lanes_with(agent, backends, lock, &RetryPolicy::new(1)).await;
    reports
        .into_iter()
        .map(|report| match report {
            Ok(report) => report,
            Err(e) => {
                tracing::error!("{e:#}");
                Some(FlushReport {
                    remaining: 1,
                    error: Some(format!("{e:#}")),
                    ..Default::default()
                })
            }
        })
        .collect()
}

/// "12 targets, 0 queued, last delivery 14:02:05Z", with the oldest queued result's time
/// when there is a backlog.
fn status_line(agent: &Agent, last_delivery: Option<std::time::SystemTime>) -> String {
    let several = agent.lanes.len() > 1;
    let mut queued = Vec::new();
    let mut corrupt = 0;
    for lane in &agent.lanes {
        let stats = lane.queue.stats();
        corrupt += stats.corrupt;
        let count = match stats.oldest_ms {
            Some(ms) if stats.count > 0 => format!(
                "{} queued (oldest from {})",
                stats.count,
                crate::queue::format_ms(ms)
            ),
            _ => format!("{} queued", stats.count),
        };
        queued.push(match several {
            true => format!("{}: {count}", lane.name()),
            false => count,
        });
    }
    let queued = queued.join(", ");
    let last = last_delivery
        .map(|t| {
            humantime::format_rfc3339_seconds(t)
                .to_string()
                .chars()
                .skip(11)
                .collect::<String>()
        })
        .unwrap_or_else(|| "none yet".to_string());
    let corrupt = if corrupt > 0 {
        format!(", {corrupt} corrupt in queue/corrupt")
    } else {
        String::new()
    };
    format!(
        "{} targets, {queued}, last delivery {last}{corrupt}",
        agent.config.targets.len()
    )
}

/// SIGTERM or SIGINT.
struct Stop {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> anyhow::Result<Stop> {
        Ok(Stop {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn requested(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Awaits a step that talks to the server, telling systemd every 2 s what it waits for
/// (`STATUS=registering 12 targets: no answer from https://… for 14 s`), from the same
/// `activity.json` that `status` reads; the loop's next STATUS replaces it. `None` when a stop
/// was requested meanwhile: the step is dropped, which is safe since a result leaves the queue
/// only once delivered and registering again is harmless.
async fn watched<T>(
    agent: &Agent,
    stop: &mut Stop,
    step: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(step);
    let mut tick = tokio::time::interval_at(Instant::now() + ACTIVITY_EVERY, ACTIVITY_EVERY);
    loop {
        tokio::select! {
            out = &mut step => return Some(out),
            _ = stop.requested() => return None,
            _ = tick.tick() => {
                if let Some(activity) = agent.state.activity() {
                    notify(&[NotifyState::Status(&activity.describe(crate::state::now_ms()))]);
                }
            }
        }
    }
}

/// Pings the watchdog at half its interval, if systemd asked for it.
fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()? / 2;
    Some(tokio::spawn(async move {
        loop {
            notify(&[NotifyState::Watchdog]);
            tokio::time::sleep(interval).await;
        }
    }))
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(passive: &[(&str, &str)]) -> Vec<Target> {
        let mut text = String::from("backend = \"local\"\nstateDir = \"/nonexistent\"\n");
        for (name, script) in passive {
            text.push_str(&format!(
                "[[targets.passive]]\nhost = \"h\"\nname = \"{name}\"\nscript = '{script}'\n"
            ));
        }
        crate::config::Config::parse(std::path::Path::new("t.toml"), &text)
            .unwrap()
            .targets
    }

    #[test]
    fn a_reload_keeps_unchanged_times_and_starts_added_and_changed_scripts_soon() {
        let start = Instant::now();
        let later = start + Duration::from_secs(3600);
        let mut old = schedule(
            &targets(&[("same", "exit=0"), ("edited", "exit=0"), ("gone", "exit=0")]),
            &[],
            start,
        );
        for job in &mut old {
            job.next = later;
        }
        old[1].running = true;
        let now = start + Duration::from_secs(10);
        let new = schedule(
            &targets(&[
                ("same", "exit=0"),
                ("edited", "exit=1"),
                ("added", "exit=0"),
                ("manual", ""),
            ]),
            &old,
            now,
        );
        let view: Vec<(&str, bool, bool)> = new
            .iter()
            .map(|j| (j.target.id.as_str(), j.next == later, j.running))
            .collect();
        assert_eq!(
            view,
            [
                ("h-same", true, false),
                // Its old script still runs: no second run starts before it ends.
                ("h-edited", false, true),
                ("h-added", false, false),
            ]
        );
        assert!(new[1].next <= now + Duration::from_secs(1));
        assert!(new[2].next <= now + Duration::from_secs(1));
    }

    #[test]
    fn changes_are_described_by_id() {
        let old = targets(&[("a", "exit=0"), ("b", "exit=0"), ("c", "exit=0")]);
        let new = targets(&[("a", "exit=0"), ("c", "exit=2"), ("d", "")]);
        assert_eq!(
            describe_changes(&old, &new),
            "3 targets (added: h-d; removed: h-b; changed: h-c)"
        );
        assert_eq!(
            describe_changes(&old, &old),
            "3 targets, none added, removed or changed"
        );
    }
}
