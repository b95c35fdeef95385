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

mod schedule;

use crate::agent::Agent;
use crate::backend::Backend;
use crate::deliver::{self, FlushReport};
use crate::exit::Code;
use crate::passive;
use crate::queue::QueueStats;
use crate::result::CheckResult;
use crate::retry::RetryPolicy;
use crate::targets::Target;
use schedule::{NoticeTimer, Pass, Registration, Schedule, Timer};
use sd_notify::NotifyState;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;
use tokio::time::Instant;

const ACTIVITY_EVERY: Duration = Duration::from_secs(2);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A script's run: the target id and its result.
type ScriptRun = (String, anyhow::Result<CheckResult>);

/// Runs the daemon with `first`, and with the config re-read from `first.config.path` after
/// each SIGHUP.
pub async fn run(first: &Agent) -> anyhow::Result<Code> {
    first.require_owner()?;
    let mut hangup = signal(SignalKind::hangup())?;
    let _watchdog = spawn_watchdog();
    let mut daemon = Daemon::new(first)?;
    // The agent loaded by the last good reload; `first` until then.
    let mut reloaded: Option<Agent> = None;

    notify(&[NotifyState::Ready]);
    loop {
        let agent = reloaded.as_ref().unwrap_or(first);
        let wake = daemon.schedule.next_wake();
        let woke = tokio::select! {
            _ = daemon.stop.requested() => break,
            _ = hangup.recv() => Woke::Hangup,
            Some(done) = daemon.running.join_next(), if !daemon.running.is_empty() => {
                Woke::Finished(finished(agent, done))
            }
            _ = tokio::time::sleep_until(wake) => Woke::Timer,
        };
        let now = Instant::now();
        match woke {
            Woke::Hangup => {
                if let Some(fresh) = daemon.reload(agent, now) {
                    reloaded = Some(fresh);
                }
                continue;
            }
            Woke::Finished(id) => daemon.schedule.finished(id.as_deref(), now),
            Woke::Timer => {}
        }
        follow_calendars(&mut daemon.schedule, agent, now);
        if daemon.work(agent, now).await.is_none() {
            break;
        }
        notify(&[NotifyState::Status(&status_line(
            agent,
            daemon.last_delivery,
        ))]);
    }
    daemon.shut_down(reloaded.as_ref().unwrap_or(first)).await;
    Ok(Code::Ok)
}

/// Why the loop woke up.
enum Woke {
    Hangup,
    /// A script ended; the id of the target whose job is idle again.
    Finished(Option<String>),
    /// A timer of the schedule is due.
    Timer,
}

/// What the loop keeps between turns, besides the agent (which a reload replaces).
struct Daemon {
    /// Shared with the script tasks, which tell the backends a script started.
    backends: Arc<Vec<Backend>>,
    schedule: Schedule,
    running: JoinSet<ScriptRun>,
    scratch: PathBuf,
    last_delivery: Option<SystemTime>,
    /// When each notify lane's clock pass last began, to tell a notice another process held
    /// since then (its channel's `notify/due/` mark is newer).
    noticed_at: std::collections::HashMap<usize, SystemTime>,
    stop: Stop,
}

impl Daemon {
    fn new(agent: &Agent) -> anyhow::Result<Daemon> {
        let now = Instant::now();
        let mut schedule = Schedule::new(&agent.config.targets, agent.lanes.len(), now);
        schedule.notify_lanes(&notify_lanes(agent), now);
        follow_calendars(&mut schedule, agent, now);
        Ok(Daemon {
            backends: Arc::new(agent.backends()?),
            schedule,
            running: JoinSet::new(),
            scratch: agent.state.root().join("tmp"),
            last_delivery: None,
            noticed_at: Default::default(),
            stop: Stop::new()?,
        })
    }

    /// Does what the schedule says is due at `now`; `None` when a stop was requested
    /// meanwhile. The due lanes are delivered together in one pass, after the spool look,
    /// which can make the first one due.
    async fn work(&mut self, agent: &Agent, now: Instant) -> Option<()> {
        for timer in self.schedule.due(now) {
            match timer {
                Timer::Register => self.register(agent, now).await?,
                Timer::Spool => {
                    let spooled = agent.queue().has_spooled();
                    self.schedule.spool_looked(now, spooled);
                    self.look_for_held_notices(agent, now);
                }
                Timer::Job(i) => self.start_job(i, now),
                Timer::Notices(i) => self.notices(agent, i, now).await?,
                Timer::Lane(_) => {}
            }
        }
        let lanes = self.schedule.lanes_due(now);
        if lanes.contains(&true) {
            self.deliver(agent, &lanes, now).await?;
        }
        Some(())
    }

    /// A full registration round (removed targets are pruned where the backend does that).
    async fn register(&mut self, agent: &Agent, now: Instant) -> Option<()> {
        let backends = self.backends.clone();
        let round = super::register::register(agent, &backends, &agent.config.targets, true);
        let outcomes = watched(agent, &mut self.stop, round).await?;
        let all_ok = match &outcomes {
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
        let next_try_ms = agent.state.registration_round().next_try_ms;
        let how = Registration::of(all_ok, next_try_ms, crate::state::now_ms());
        self.schedule.registered(now, how);
        Some(())
    }

    /// Starts job `i`'s script in a task of its own.
    fn start_job(&mut self, i: usize, now: Instant) {
        let Some(target) = self.schedule.start(i, now).cloned() else {
            return;
        };
        let (scratch, backends) = (self.scratch.clone(), self.backends.clone());
        self.running.spawn(run_script(target, scratch, backends));
    }

    /// A notify lane's clock pass ("no result", reminders, held notices whose window is over,
    /// silences and flap holds that ended), after its queue went out; the next one when its
    /// lane says, at most a minute later.
    async fn notices(&mut self, agent: &Agent, i: usize, now: Instant) -> Option<()> {
        let Some(&NoticeTimer { lane, .. }) = self.schedule.notices.get(i) else {
            return Some(());
        };
        let backends = self.backends.clone();
        let (Some(l), Some(b)) = (agent.lanes.get(lane), backends.get(lane)) else {
            return Some(());
        };
        let Backend::Notify(n) = b else {
            return Some(());
        };
        self.noticed_at.insert(lane, SystemTime::now());
        let pass = watched(
            agent,
            &mut self.stop,
            super::notify::pass(agent, l, b, n, false),
        )
        .await?;
        let due_in = match pass {
            Ok(p) if p.busy => Some(schedule::SPOOL_EVERY),
            Ok(p) => {
                if let Some(e) = &p.error {
                    tracing::warn!("{}: not sent yet, kept (nothing is lost): {e}", l.name());
                }
                let next = [p.held_until_ms, p.next_due_ms].into_iter().flatten().min();
                next.map(|ms| Duration::from_millis(ms.saturating_sub(crate::state::now_ms())))
            }
            Err(e) => {
                tracing::error!("{}: {e:#}", l.name());
                None
            }
        };
        self.schedule.noticed(i, now, due_in);
        Some(())
    }

    /// A notice held by another process (a `submit` by hand) since a lane's last clock pass
    /// makes that pass due now, so it goes out when its window ends, not a minute later.
    fn look_for_held_notices(&mut self, agent: &Agent, now: Instant) {
        for lane in notify_lanes(agent) {
            let Some(channel) = agent.lanes[lane].channel.as_deref() else {
                continue;
            };
            let mark = agent.state.root().join("notify/due").join(channel);
            let Ok(changed) = std::fs::metadata(&mark).and_then(|m| m.modified()) else {
                continue;
            };
            if self.noticed_at.get(&lane).is_none_or(|&at| changed >= at) {
                self.schedule.notices_waiting(lane, now);
            }
        }
    }

    /// One delivery pass over the lanes flagged in `due`.
    async fn deliver(&mut self, agent: &Agent, due: &[bool], now: Instant) -> Option<()> {
        let backends = self.backends.clone();
        let pass = flush_due(agent, &backends, due);
        let reports = watched(agent, &mut self.stop, pass).await?;
        for (i, report) in reports.iter().enumerate() {
            if !due.get(i).copied().unwrap_or(false) {
                continue;
            }
            let pass = Pass::of(report.as_ref());
            if let (Pass::Backlog, Some(r), Some(lane)) = (pass, report, agent.lanes.get(i)) {
                tracing::warn!(
                    "{}: {} result(s) still queued: {}",
                    lane.name(),
                    r.remaining,
                    r.error.as_deref().unwrap_or_default()
                );
            }
            if report.as_ref().is_some_and(|r| r.delivered > 0) {
                self.last_delivery = Some(SystemTime::now());
            }
            self.schedule.delivered(i, now, pass);
        }
        Some(())
    }

    /// SIGHUP: reads the config again. The agent to go on with when it loaded; `None` keeps
    /// the old one (logged naming the file).
    fn reload(&mut self, agent: &Agent, now: Instant) -> Option<Agent> {
        let mut reloading = vec![
            NotifyState::Reloading,
            NotifyState::Status("reloading the config"),
        ];
        // systemd >= 253 wants the time with RELOADING=1 (Type=notify-reload).
        reloading.extend(NotifyState::monotonic_usec_now().ok());
        notify(&reloading);
        let path = agent.config.path.display();
        let (said, fresh) = match load_again(agent) {
            Ok((fresh, fresh_backends)) => {
                let changes = describe_changes(&agent.config.targets, &fresh.config.targets);
                tracing::info!("reloaded {path}: {changes}");
                self.schedule
                    .reload(&fresh.config.targets, fresh.lanes.len(), now);
                follow_calendars(&mut self.schedule, &fresh, now);
                self.schedule.notify_lanes(&notify_lanes(&fresh), now);
                self.noticed_at.clear();
                self.backends = Arc::new(fresh_backends);
                (format!("reloaded {path}: {changes}"), Some(fresh))
            }
            Err(e) => {
                let said = format!(
                    "could not reload the config from {path}: {e:#}; still running with the config loaded before"
                );
                tracing::error!("{said}");
                (said, None)
            }
        };
        notify(&[NotifyState::Ready, NotifyState::Status(&said)]);
        fresh
    }

    /// After a stop request: running scripts get [`SHUTDOWN_GRACE`] to end, and their results
    /// are queued.
    async fn shut_down(mut self, agent: &Agent) {
        notify(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: waiting for running scripts"),
        ]);
        let grace = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(grace);
        while !self.running.is_empty() {
            tokio::select! {
                Some(done) = self.running.join_next() => { finished(agent, done); }
                _ = &mut grace => {
                    tracing::warn!("{} script(s) still running at shutdown were stopped", self.running.len());
                    break;
                }
            }
        }
    }
}

/// The indices of the notify destination's lanes.
fn notify_lanes(agent: &Agent) -> Vec<usize> {
    agent
        .lanes
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind == crate::config::BackendKind::Notify)
        .map(|(i, _)| i)
        .collect()
}

/// Runs a scripted target's script, telling the backends it started.
async fn run_script(target: Target, scratch: PathBuf, backends: Arc<Vec<Backend>>) -> ScriptRun {
    let id = target.id.clone();
    let Some(p) = target.passive() else {
        return (
            id,
            Err(anyhow::anyhow!("{} has no script to run", target.id)),
        );
    };
    let run = passive::run(&target, &p.script, p.script_timeout, &scratch);
    let (result, ()) = tokio::join!(run, crate::backend::started(&backends, &target));
    (id, result)
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
fn status_line(agent: &Agent, last_delivery: Option<SystemTime>) -> String {
    let lanes: Vec<(String, QueueStats)> = agent
        .lanes
        .iter()
        .map(|lane| (lane.name(), lane.queue.stats()))
        .collect();
    let named: Vec<(&str, QueueStats)> =
        lanes.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
    describe_status(agent.config.targets.len(), &named, last_delivery)
}

/// The STATUS line from the figures: each lane's queue (named when there are several), the
/// last delivery's time of day (UTC), and the corrupt entries of all lanes, if any.
fn describe_status(
    targets: usize,
    lanes: &[(&str, QueueStats)],
    last_delivery: Option<SystemTime>,
) -> String {
    let several = lanes.len() > 1;
    let queued: Vec<String> = lanes
        .iter()
        .map(|(name, stats)| {
            let count = match stats.oldest_ms {
                Some(ms) if stats.count > 0 => format!(
                    "{} queued (oldest from {})",
                    stats.count,
                    crate::queue::format_ms(ms)
                ),
                _ => format!("{} queued", stats.count),
            };
            match several {
                true => format!("{name}: {count}"),
                false => count,
            }
        })
        .collect();
    let last = last_delivery
        .map(|t| {
            let stamp = humantime::format_rfc3339_seconds(t).to_string();
            stamp.chars().skip(11).collect::<String>()
        })
        .unwrap_or_else(|| "none yet".to_string());
    let corrupt: usize = lanes.iter().map(|(_, stats)| stats.corrupt).sum();
    let corrupt = match corrupt {
        0 => String::new(),
        n => format!(", {n} corrupt in queue/corrupt"),
    };
    format!(
        "{targets} targets, {}, last delivery {last}{corrupt}",
        queued.join(", ")
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
    let interval = ping_every(sd_notify::watchdog_enabled()?);
    Some(tokio::spawn(async move {
        loop {
            notify(&[NotifyState::Watchdog]);
            tokio::time::sleep(interval).await;
        }
    }))
}

/// How often to ping a watchdog of `timeout`: at half of it, as sd_watchdog_enabled(3)
/// advises, so that one late ping is no restart.
fn ping_every(timeout: Duration) -> Duration {
    timeout / 2
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// The wall clock for the calendar jobs, and each new one's first run (soon when its last
/// result is older than its calendar's previous run).
fn follow_calendars(schedule: &mut Schedule, agent: &Agent, now: Instant) {
    schedule.follow_calendars(now, crate::state::now_ms(), |id| {
        agent
            .state
            .last(id)
            .ok()
            .flatten()
            .map(|r| r.measured_at_ms)
    });
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

    fn stats(count: usize, oldest_ms: Option<u64>, corrupt: usize) -> QueueStats {
        QueueStats {
            count,
            oldest_ms,
            corrupt,
            ..Default::default()
        }
    }

    #[test]
    fn the_status_line_counts_each_lane_and_names_them_when_there_are_several() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            describe_status(12, &[("nixcloud", stats(0, None, 0))], None),
            "12 targets, 0 queued, last delivery none yet"
        );
        assert_eq!(
            describe_status(
                3,
                &[("nixcloud", stats(2, Some(1_600_000_000_000), 0))],
                Some(at)
            ),
            "3 targets, 2 queued (oldest from 2020-09-13T12:26:40Z), last delivery 22:13:20Z"
        );
        // A time without a count (the entries went meanwhile) is not shown.
        assert_eq!(
            describe_status(1, &[("local", stats(0, Some(1_600_000_000_000), 0))], None),
            "1 targets, 0 queued, last delivery none yet"
        );
        assert_eq!(
            describe_status(
                2,
                &[
                    ("nixcloud", stats(1, Some(1_600_000_000_000), 2)),
                    ("local", stats(0, None, 3))
                ],
                Some(at)
            ),
            "2 targets, nixcloud: 1 queued (oldest from 2020-09-13T12:26:40Z), local: 0 queued, \
             last delivery 22:13:20Z, 5 corrupt in queue/corrupt"
        );
    }

    #[test]
    fn the_watchdog_is_pinged_at_half_its_timeout() {
        assert_eq!(
            ping_every(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
        assert_eq!(ping_every(Duration::from_secs(60)), Duration::from_secs(30));
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
