//! `daemon`: one long-running process doing what the timers do.
//!
//! Registration at start and every 24 h (sooner after a failure), each scripted passive target
//! on its own `timers.check` interval, delivery of the queue with growing pauses while the
//! server is away, and a look at the spool every two seconds, where group members' results
//! wait. systemd hears READY once the loop runs, a STATUS line after every change, and
//! WATCHDOG pings from a task of their own. On SIGTERM no new work starts; running scripts get
//! a grace period and their results are queued (delivered by the next start if not now).

use crate::agent::Agent;
use crate::backend::Backend;
use crate::deliver::{deliver_pending, FlushReport};
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

pub async fn run(agent: &Agent) -> anyhow::Result<Code> {
    agent.require_owner()?;
    let backend = agent.backend()?;
    let mut stop = Stop::new()?;
    let _watchdog = spawn_watchdog();

    let start = Instant::now();
    let scratch = agent.state.root().join("tmp");
    let mut jobs: Vec<Job> = agent
        .config
        .targets
        .iter()
        .filter(|t| t.passive().is_some_and(|p| !p.script.is_empty()))
        .enumerate()
        // A little apart, so that a hundred scripts do not all start in the same second.
        .map(|(i, t)| Job {
            target: t.clone(),
            next: start + Duration::from_millis(200 * i as u64),
            running: false,
        })
        .collect();
    let mut running: JoinSet<(usize, anyhow::Result<CheckResult>)> = JoinSet::new();
    let mut next_register = start;
    let mut next_flush = start;
    let mut next_spool = start;
    let mut backoff = FLUSH_BACKOFF_FIRST;
    let mut last_delivery: Option<std::time::SystemTime> = None;

    notify(&[NotifyState::Ready]);
    loop {
        let next_job = jobs
            .iter()
            .filter(|j| !j.running)
            .map(|j| j.next)
            .min()
            .unwrap_or(start + IDLE);
        let wake = next_register.min(next_flush).min(next_spool).min(next_job);
        tokio::select! {
            _ = stop.requested() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Some(i) = finished(agent, done) {
                    jobs[i].running = false;
                }
                next_flush = Instant::now();
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();

        if now >= next_register {
            let Some(outcomes) = watched(
                agent,
                &mut stop,
                super::register::register(agent, &backend, &agent.config.targets, true),
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
        for (i, job) in jobs.iter_mut().enumerate() {
            if job.running || now < job.next {
                continue;
            }
            let p = job.target.passive().expect("jobs are passive targets");
            job.next = now + Duration::from_secs(p.check_minutes * 60);
            job.running = true;
            let (target, scratch) = (job.target.clone(), scratch.clone());
            running.spawn(async move {
                let p = target.passive().expect("jobs are passive targets");
                (
                    i,
                    passive::run(&target, &p.script, p.script_timeout, &scratch).await,
                )
            });
        }
        if now >= next_spool {
            if agent.queue.has_spooled() {
                next_flush = now;
            }
            next_spool = now + SPOOL_EVERY;
        }
        if now >= next_flush {
            let Some(flushed) = watched(agent, &mut stop, flush_once(agent, &backend)).await else {
                break;
            };
            match flushed {
                Some(report) if report.remaining > 0 => {
                    tracing::warn!(
                        "{} result(s) still queued: {}",
                        report.remaining,
                        report.error.unwrap_or_default()
                    );
                    next_flush = now + backoff;
                    backoff = (backoff * 2).min(FLUSH_BACKOFF_MAX);
                }
                Some(report) => {
                    if report.delivered > 0 {
                        last_delivery = Some(std::time::SystemTime::now());
                    }
                    backoff = FLUSH_BACKOFF_FIRST;
                    next_flush = now + IDLE;
                }
                // Someone else is delivering; look again shortly.
                None => next_flush = now + SPOOL_EVERY,
            }
        }
        notify(&[NotifyState::Status(&status_line(agent, last_delivery))]);
    }

    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: waiting for running scripts"),
    ]);
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

/// Queues a finished script's result; returns the job index to mark idle.
fn finished(
    agent: &Agent,
    done: Result<(usize, anyhow::Result<CheckResult>), tokio::task::JoinError>,
) -> Option<usize> {
    let (i, result) = done.ok()?;
    match result {
        Ok(result) => {
            if let Err(e) = agent.state.record_last(&result) {
                tracing::warn!("{e:#}");
            }
            if let Err(e) = agent.queue.push(&result) {
                tracing::error!("{e:#}");
            }
        }
        Err(e) => tracing::error!("{e:#}"),
    }
    Some(i)
}

/// One delivery pass if the lock is free; `None` when another process is delivering.
async fn flush_once(agent: &Agent, backend: &Backend) -> Option<FlushReport> {
    let lock = match agent.queue.try_lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!("{e:#}");
            return None;
        }
    };
    // One attempt per pass: the pause between passes is the daemon's backoff.
    match deliver_pending(agent, backend, &lock, &RetryPolicy::new(1)).await {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::error!("{e:#}");
            Some(FlushReport {
                remaining: 1,
                error: Some(format!("{e:#}")),
                ..Default::default()
            })
        }
    }
}

/// "12 targets, 0 queued, last delivery 14:02:05Z", with the oldest queued result's time
/// when there is a backlog.
fn status_line(agent: &Agent, last_delivery: Option<std::time::SystemTime>) -> String {
    let stats = agent.queue.stats();
    let queued = match stats.oldest_ms {
        Some(ms) if stats.count > 0 => format!(
            "{} queued (oldest from {})",
            stats.count,
            crate::queue::format_ms(ms)
        ),
        _ => format!("{} queued", stats.count),
    };
    let last = last_delivery
        .map(|t| {
            humantime::format_rfc3339_seconds(t)
                .to_string()
                .chars()
                .skip(11)
                .collect::<String>()
        })
        .unwrap_or_else(|| "none yet".to_string());
    let corrupt = if stats.corrupt > 0 {
        format!(", {} corrupt in queue/corrupt", stats.corrupt)
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
