//! The daemon's schedule: when the next registration, each backend lane's delivery, the spool
//! look and each script are due. A pure function of what happened and of the clock readings the
//! loop hands in: nothing here sleeps, reads a clock or touches a file, so the tests drive it
//! with made-up instants.
//!
//! The loop in `daemon.rs` sleeps until [`Schedule::next_wake`], asks [`Schedule::due`] what
//! to do, does it, and reports each outcome back ([`Schedule::registered`],
//! [`Schedule::delivered`], [`Schedule::start`], [`Schedule::finished`], …). Every deadline is
//! listed once, in [`Schedule::timers`], and both `next_wake` and `due` are read from there:
//! a new kind of timer is a field and a line in `timers` (plus a [`Timer`] variant for the
//! loop to act on).

use crate::deliver::FlushReport;
use crate::retry::RetryPolicy;
use crate::targets::Target;
use std::time::Duration;
use tokio::time::Instant;

/// A full registration round this often, also when nothing changed: a server that lost its
/// objects gets them back within a day.
pub const REGISTER_EVERY: Duration = Duration::from_secs(24 * 3600);
/// How often the spool is looked at, and how soon a lane whose lock another process holds is
/// tried again.
pub const SPOOL_EVERY: Duration = Duration::from_secs(2);
/// A lane's pause after its first failed pass; it doubles after each further one, up to
/// [`FLUSH_BACKOFF_MAX`].
pub const FLUSH_BACKOFF_FIRST: Duration = Duration::from_secs(5);
pub const FLUSH_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Between the first runs of the scripts, so that a hundred of them do not all start in the
/// same second.
pub const JOB_SPACING: Duration = Duration::from_millis(200);
/// A notify lane's clock pass ("no result" for silent targets, reminders, the end of a
/// silence or a flap hold) at least this often, also when nothing said it is due sooner:
/// another process may have changed what it waits for.
pub const NOTICES_EVERY: Duration = Duration::from_secs(60);
/// No timer waits longer than this: far enough to mean "not soon" (a reload or a restart comes
/// first), near enough that `Instant + it` cannot overflow whatever a config says.
pub const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// `now + wait`, but never further than [`FAR`] (and so never an `Instant` overflow).
fn after(now: Instant, wait: Duration) -> Instant {
    now + wait.min(FAR)
}

/// One scripted passive target: how often it runs, when next, and whether it runs now.
#[derive(Debug)]
pub struct Job {
    pub target: Target,
    /// The interval; for a calendar target its longest gap, used only while the wall clock is
    /// unknown (see [`Schedule::follow_calendars`]).
    pub every: Duration,
    pub next: Instant,
    pub running: bool,
    /// A calendar job whose `next` is not yet its calendar's (it was just added).
    pub unplaced: bool,
}

/// The wall clock at one instant: calendars are wall-clock times, the schedule's deadlines
/// instants.
#[derive(Debug, Clone, Copy)]
pub struct Wall {
    pub at: Instant,
    pub ms: u64,
}

impl Wall {
    fn ms_at(self, now: Instant) -> u64 {
        self.ms + now.saturating_duration_since(self.at).as_millis() as u64
    }
}

/// One backend's lane: when it delivers next (`None`: nothing waits for it until a new result
/// comes) and the pause after its next failed pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneTimer {
    pub next: Option<Instant>,
    pub backoff: Duration,
}

impl LaneTimer {
    /// Due at `now`, with a fresh backoff.
    fn at(now: Instant) -> LaneTimer {
        LaneTimer {
            next: Some(now),
            backoff: FLUSH_BACKOFF_FIRST,
        }
    }
}

/// Something the loop has to do when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Register,
    Spool,
    /// A delivery pass over lane `i`.
    Lane(usize),
    /// A run of job `i`'s script.
    Job(usize),
    /// The clock's pass of notify timer `i` (see [`Schedule::notices`]).
    Notices(usize),
}

/// When a notify lane's clock pass is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeTimer {
    /// The lane's index.
    pub lane: usize,
    pub next: Instant,
}

/// How a lane's delivery pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Another process held the lane's lock (it delivers meanwhile): look again shortly.
    Busy,
    /// Results are still queued (the server is away): pause, longer each time.
    Backlog,
    /// The lane is empty.
    Empty,
}

impl Pass {
    /// What a delivery pass's report (`None`: the lock was taken) means for the schedule.
    pub fn of(report: Option<&FlushReport>) -> Pass {
        match report {
            None => Pass::Busy,
            Some(r) if r.remaining > 0 => Pass::Backlog,
            Some(_) => Pass::Empty,
        }
    }
}

/// How a registration round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Every target registered.
    Done,
    /// Something failed; `retry_in` is when the registration state says to try again (after
    /// a transient failure), `None` for a refusal, which retrying cannot fix.
    Failed { retry_in: Option<Duration> },
}

impl Registration {
    /// A round in which every target registered (`all_ok`) or not, with the registration
    /// state's next try (ms since the epoch) read at `now_ms`.
    pub fn of(all_ok: bool, next_try_ms: Option<u64>, now_ms: u64) -> Registration {
        match all_ok {
            true => Registration::Done,
            false => Registration::Failed {
                retry_in: next_try_ms.map(|at| Duration::from_millis(at.saturating_sub(now_ms))),
            },
        }
    }
}

/// Every deadline the daemon waits for.
#[derive(Debug)]
pub struct Schedule {
    pub register: Instant,
    pub spool: Instant,
    pub lanes: Vec<LaneTimer>,
    pub jobs: Vec<Job>,
    /// One per notify lane.
    pub notices: Vec<NoticeTimer>,
    /// The last wall-clock reading the loop handed in.
    pub wall: Option<Wall>,
}

impl Schedule {
    /// At start: register, look at the spool and deliver at once; the scripts start soon, a
    /// little apart.
    pub fn new(targets: &[Target], lanes: usize, now: Instant) -> Schedule {
        Schedule {
            register: now,
            spool: now,
            lanes: vec![LaneTimer::at(now); lanes],
            jobs: jobs(targets, &[], now),
            notices: Vec::new(),
            wall: None,
        }
    }

    /// The notify lanes (by index), each with its clock pass due at `now`; replaces those
    /// there were (at start and after a reload).
    pub fn notify_lanes(&mut self, lanes: &[usize], now: Instant) {
        self.notices = lanes
            .iter()
            .map(|&lane| NoticeTimer { lane, next: now })
            .collect();
    }

    /// Notify timer `i`'s pass at `now` ended; `due_in`: when its lane said something may be
    /// due next. At most [`NOTICES_EVERY`] later, at least a second (a notice due "now" that
    /// could not go out is not tried in a tight loop).
    pub fn noticed(&mut self, i: usize, now: Instant, due_in: Option<Duration>) {
        if let Some(t) = self.notices.get_mut(i) {
            let wait = due_in.map_or(NOTICES_EVERY, |d| d.min(NOTICES_EVERY));
            t.next = after(now, wait.max(Duration::from_secs(1)));
        }
    }

    /// Another process says lane `lane` has notices waiting: its clock pass is due now.
    pub fn notices_waiting(&mut self, lane: usize, now: Instant) {
        for t in self.notices.iter_mut().filter(|t| t.lane == lane) {
            t.next = t.next.min(now);
        }
    }

    /// Every timer with its deadline; the one list [`Schedule::next_wake`] and
    /// [`Schedule::due`] are read from. A running job has none: it is not started twice.
    pub fn timers(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        let lanes = self.lanes.iter().enumerate();
        let jobs = self.jobs.iter().enumerate().filter(|(_, j)| !j.running);
        [(Timer::Register, self.register), (Timer::Spool, self.spool)]
            .into_iter()
            .chain(lanes.filter_map(|(i, l)| Some((Timer::Lane(i), l.next?))))
            .chain(jobs.map(|(i, j)| (Timer::Job(i), j.next)))
            .chain(
                self.notices
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (Timer::Notices(i), t.next)),
            )
    }

    /// When the loop must wake up next (the spool is always scheduled, so there is one).
    pub fn next_wake(&self) -> Instant {
        self.timers()
            .map(|(_, at)| at)
            .fold(self.spool, Instant::min)
    }

    /// What is due at `now`, in the order of [`Schedule::timers`].
    pub fn due(&self, now: Instant) -> Vec<Timer> {
        self.timers()
            .filter(|&(_, at)| at <= now)
            .map(|(timer, _)| timer)
            .collect()
    }

    /// The lanes due at `now`, as one flag per lane (what a delivery pass takes).
    pub fn lanes_due(&self, now: Instant) -> Vec<bool> {
        self.lanes
            .iter()
            .map(|l| l.next.is_some_and(|at| at <= now))
            .collect()
    }

    /// A registration round that began at `now` ended: the next one in 24 h, or after a
    /// transient failure when the registration state says (at least a minute from now).
    pub fn registered(&mut self, now: Instant, how: Registration) {
        self.register = match how {
            Registration::Failed {
                retry_in: Some(wait),
            } => after(now, wait.max(RetryPolicy::registration().first_delay)),
            _ => after(now, REGISTER_EVERY),
        };
    }

    /// The spool was looked at, at `now`; `spooled`: it holds results. The first lane adopts
    /// the spool into every lane, so it delivers at once.
    pub fn spool_looked(&mut self, now: Instant, spooled: bool) {
        if spooled {
            if let Some(first) = self.lanes.first_mut() {
                first.next = Some(now);
            }
        }
        self.spool = after(now, SPOOL_EVERY);
    }

    /// Lane `i`'s delivery pass that began at `now` ended as `pass`.
    pub fn delivered(&mut self, i: usize, now: Instant, pass: Pass) {
        let Some(lane) = self.lanes.get_mut(i) else {
            return;
        };
        match pass {
            Pass::Busy => lane.next = Some(after(now, SPOOL_EVERY)),
            Pass::Backlog => {
                lane.next = Some(after(now, lane.backoff));
                lane.backoff = lane.backoff.saturating_mul(2).min(FLUSH_BACKOFF_MAX);
            }
            Pass::Empty => {
                *lane = LaneTimer {
                    next: None,
                    ..LaneTimer::at(now)
                }
            }
        }
    }

    /// Job `i` starts at `now`: it runs next one interval later (a calendar job: at its
    /// calendar's next run), and not before this run ended. The target whose script to run,
    /// `None` for no such job.
    pub fn start(&mut self, i: usize, now: Instant) -> Option<&Target> {
        let wall = self.wall;
        let job = self.jobs.get_mut(i)?;
        job.next = match (calendar_of(&job.target), wall) {
            (Some(c), Some(wall)) => next_run(c, wall, now).unwrap_or(after(now, FAR)),
            _ => after(now, job.every),
        };
        job.running = true;
        Some(&job.target)
    }

    /// The wall clock reads `wall_ms` at `now`. Calendar jobs not yet placed get their
    /// calendar's next run, or run soon when the run before it was missed: when their last
    /// result (`last_ms` of the target id) is older than that previous run (what
    /// `Persistent=true` does for timers).
    pub fn follow_calendars(
        &mut self,
        now: Instant,
        wall_ms: u64,
        last_ms: impl Fn(&str) -> Option<u64>,
    ) {
        let wall = Wall {
            at: now,
            ms: wall_ms,
        };
        self.wall = Some(wall);
        for job in self.jobs.iter_mut().filter(|j| j.unplaced) {
            job.unplaced = false;
            let Some(c) = calendar_of(&job.target) else {
                continue;
            };
            let since = wall_ms.saturating_sub(c.gap_seconds * 1000);
            let missed = c
                .next_after_ms(last_ms(&job.target.id).unwrap_or(since).max(since))
                .is_some_and(|run| run <= wall_ms);
            if !missed {
                job.next = next_run(c, wall, now).unwrap_or(after(now, FAR));
            }
        }
    }

    /// The script of target `id` ended at `now` and its result was queued: the job may run
    /// again, and every lane delivers at once (also one pausing after a failure: a new result
    /// is worth a try).
    pub fn finished(&mut self, id: Option<&str>, now: Instant) {
        if let Some(job) = self
            .jobs
            .iter_mut()
            .find(|j| Some(j.target.id.as_str()) == id)
        {
            job.running = false;
        }
        for lane in &mut self.lanes {
            lane.next = Some(now);
        }
    }

    /// A reload at `now` with `targets` and `lanes` backends: register the new set and deliver
    /// at once with fresh pauses (the backends may have changed, and their lanes with them);
    /// the scripts' schedule is rebuilt as [`jobs`] says.
    pub fn reload(&mut self, targets: &[Target], lanes: usize, now: Instant) {
        self.register = now;
        self.lanes = vec![LaneTimer::at(now); lanes];
        self.jobs = jobs(targets, &self.jobs, now);
        self.notices.clear();
    }
}

fn calendar_of(t: &Target) -> Option<&crate::calendar::Calendar> {
    t.passive()?.calendar.as_ref()
}

/// The instant of a calendar's next run after `now`.
fn next_run(c: &crate::calendar::Calendar, wall: Wall, now: Instant) -> Option<Instant> {
    let now_ms = wall.ms_at(now);
    let at = c.next_after_ms(now_ms)?;
    Some(after(now, Duration::from_millis(at - now_ms)))
}

/// The jobs for the scripted passive targets in `targets`. `old` is the schedule before a
/// reload: a target whose script and timing are unchanged keeps its next time, a changed or
/// added one runs soon; a target whose script still runs stays marked running (no second run
/// of it starts meanwhile).
fn jobs(targets: &[Target], old: &[Job], now: Instant) -> Vec<Job> {
    targets
        .iter()
        .filter_map(|t| {
            let p = t.passive()?;
            (!p.script.is_empty())
                .then(|| (t, Duration::from_secs(p.check_minutes.saturating_mul(60))))
        })
        .enumerate()
        .map(|(i, (t, every))| {
            let soon = after(
                now,
                JOB_SPACING.saturating_mul(i.try_into().unwrap_or(u32::MAX)),
            );
            let before = old.iter().find(|j| j.target.id == t.id);
            let kept = before.filter(|j| same_schedule(&j.target, t));
            Job {
                target: t.clone(),
                every,
                next: kept.map_or(soon, |j| j.next),
                running: before.is_some_and(|j| j.running),
                unplaced: kept.map_or(t.passive().is_some_and(|p| p.calendar.is_some()), |j| {
                    j.unplaced
                }),
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
                && a.calendar.as_ref().map(|c| &c.normalized)
                    == b.calendar.as_ref().map(|c| &c.normalized)
                && a.script_timeout == b.script_timeout
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
