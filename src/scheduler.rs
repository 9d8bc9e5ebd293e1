//! Scheduler: one task owning the timers of every scheduled check.
//!
//! Interval checks run every `Interval` on a stable phase: the first run is at
//! `start + hash(name) % Splay` (decisions.md D4), then every `Interval` after
//! that slot, so 10 000 checks do not fire in the same millisecond. Slots are
//! rounded up to a 25 ms grid ([`TICK`]) so checks due together share a wake-up. Jobs with a
//! `Schedule:` (D10) run on the slots of their cron expression ([`crate::jobs`]),
//! judged against the wall clock, which is looked at again at least every
//! [`WALL_RECHECK`] so a suspend or a clock step is noticed; a slot missed by more
//! than [`MISSED_AFTER`] is skipped, or run once as a catch-up with `CatchUp`. At
//! start a `CatchUp` job whose slot passed while the daemon was down runs once
//! (its last slot is kept in the durable store), and `@reboot` jobs run once per boot.
//! A run due while the previous one still runs follows `Overlap`: skip it (counted),
//! queue one (coalesced), or kill the running one and start anew. On reload, checks
//! whose schedule did not change keep their phase.
//!
//! It gets a narrow [`Context`]: the store's entries, something that starts runs
//! ([`Start`], the daemon's [`Runs`]), metrics, the durable store (job slots) and the
//! plan watch it follows itself; it stops when its shutdown token is cancelled.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
    time::Duration,
};

use jiff::{Timestamp, Zoned};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use tokio_util::sync::CancellationToken;

use crate::{
    check::{Overlap, Schedule},
    config::PlanWatch,
    jobs::{self, CronSchedule},
    metrics::Metrics,
    runs::{Runs, Trigger},
    store::{CheckEntry, Store, durable::Durable},
};

/// Starts a run of a check (the daemon's [`Runs`]; a recorder in tests).
pub trait Start: Send + Sync {
    fn start(&self, entry: &Arc<CheckEntry>, trigger: Trigger);
}

impl Start for Runs {
    fn start(&self, entry: &Arc<CheckEntry>, trigger: Trigger) {
        Runs::start(self, entry, trigger);
    }
}

/// What the scheduler uses.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<Store>,
    pub runs: Arc<dyn Start>,
    pub metrics: Arc<Metrics>,
    pub durable: Durable,
    pub plan: PlanWatch,
}

/// Longest sleep before the wall clock is looked at again (suspend, clock steps).
pub const WALL_RECHECK: Duration = Duration::from_secs(5);
/// A cron slot later than this is missed (the machine slept, the clock jumped).
pub const MISSED_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
struct Slot {
    due: Instant,
    every: Duration,
    generation: u64,
}

/// A job on a cron schedule.
#[derive(Debug)]
struct CronSlot {
    /// `(expr, time zone)` it was built from.
    key: (String, Option<String>),
    schedule: CronSchedule,
    /// Next slot; `None` before [`init_job`] and for `@reboot`.
    due: Option<Zoned>,
    /// [`init_job`] has not run yet.
    fresh: bool,
}

/// The timers of every scheduled check.
struct Timers {
    slots: HashMap<String, Slot>,
    crons: HashMap<String, CronSlot>,
    heap: BinaryHeap<Reverse<(Instant, u64, String)>>,
    generation: u64,
    /// The anchor of the [`TICK`] grid.
    start: Instant,
}

/// A scheduler with its first slots set (every check's `nextRun` is known).
pub struct Scheduler {
    ctx: Context,
    timers: Timers,
}

impl Scheduler {
    /// Sets the first slot of every check of the store now, so the API shows
    /// `nextRun` from the first request on.
    pub fn new(ctx: Context) -> Scheduler {
        let start = Instant::now();
        let mut timers = Timers {
            slots: HashMap::new(),
            crons: HashMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
            start,
        };
        timers.sync(&ctx, start);
        Scheduler { ctx, timers }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let Scheduler { ctx, mut timers } = self;
        let mut plan_updates = ctx.plan.clone();
        let mut at_start = true;
        loop {
            for (name, job) in timers.crons.iter_mut().filter(|(_, j)| j.fresh) {
                init_job(&ctx, name, job, at_start).await;
            }
            at_start = false;
            let next = timers.next_wake();
            let sleep = async {
                match next {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                changed = plan_updates.changed() => {
                    if changed.is_err() { return; }
                    timers.sync(&ctx, Instant::now());
                    continue;
                }
                _ = shutdown.cancelled() => return,
            }
            timers.fire_due_intervals(&ctx, Instant::now());
            run_due_jobs(&ctx, &mut timers.crons);
        }
    }
}

/// Runs a scheduler on `ctx` until `shutdown` is cancelled.
pub async fn run(ctx: Context, shutdown: CancellationToken) {
    Scheduler::new(ctx).run(shutdown).await;
}

impl Timers {
    /// Brings the interval slots and the cron jobs in line with the store.
    fn sync(&mut self, ctx: &Context, now: Instant) {
        sync(
            ctx,
            &mut self.slots,
            &mut self.heap,
            &mut self.generation,
            self.start,
            now,
        );
        sync_jobs(ctx, &mut self.crons);
    }

    /// The next interval slot or cron look, whichever comes first.
    fn next_wake(&self) -> Option<Instant> {
        let next_interval = self.heap.peek().map(|Reverse((due, _, _))| *due);
        match (next_interval, next_job_instant(&self.crons)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires every interval slot due by `now` and sets each one's next slot.
    fn fire_due_intervals(&mut self, ctx: &Context, now: Instant) {
        while let Some(Reverse((due, slot_generation, _))) = self.heap.peek() {
            if *due > now {
                break;
            }
            let (due, slot_generation, name) = (
                *due,
                *slot_generation,
                self.heap.pop().map(|Reverse(x)| x.2).unwrap_or_default(),
            );
            let Some(slot) = self.slots.get_mut(&name) else {
                continue;
            };
            if slot.generation != slot_generation {
                continue;
            }
            let Some(entry) = ctx.store.get(&name) else {
                continue;
            };
            fire(ctx, &entry, false, now.saturating_duration_since(due));
            // Next slot on the same phase, skipping slots already missed (suspend, overload).
            let mut next_due = due + slot.every;
            if next_due <= now {
                let behind = now.duration_since(next_due).as_nanos() / slot.every.as_nanos().max(1);
                next_due += slot.every * (behind as u32 + 1);
            }
            let next_due = on_tick(self.start, next_due);
            slot.due = next_due;
            entry.set_next_run(Some(to_wall(next_due)));
            self.heap.push(Reverse((next_due, slot_generation, name)));
        }
    }
}

/// A scheduled run is due: start it, or apply `Overlap` when one is in progress.
fn fire(ctx: &Context, entry: &Arc<CheckEntry>, catch_up: bool, lateness: Duration) {
    let spec = entry.spec();
    if entry.running().is_none() {
        // A catch-up is late by design (down, asleep): not a scheduler delay.
        if !catch_up {
            ctx.metrics.scheduler_lateness(lateness);
        }
        ctx.runs.start(entry, trigger(catch_up));
        return;
    }
    match spec.overlap {
        Overlap::Skip => {
            debug!(check = %spec.name, "Previous run still in progress, skipping this slot.");
            ctx.metrics.skipped(&spec, "overlap");
        }
        Overlap::Queue => {
            if entry.queue_run() {
                debug!(check = %spec.name, "Previous run still in progress, queueing this slot.");
            } else {
                debug!(check = %spec.name, "A run is already queued, coalescing this slot.");
                ctx.metrics.skipped(&spec, "coalesced");
            }
        }
        Overlap::Kill => {
            entry.queue_run();
            if entry.kill_run() {
                info!(check = %spec.name, "Previous run still in progress, terminating it.");
            }
        }
    }
    // The run may have ended between the look and the queueing: start what was queued.
    if entry.running().is_none() && entry.take_queued() {
        ctx.runs.start(entry, trigger(catch_up));
    }
}

fn trigger(catch_up: bool) -> Trigger {
    if catch_up {
        Trigger::CatchUp
    } else {
        Trigger::Scheduled
    }
}

/// Brings the cron jobs in line with the current plan; new or changed ones start fresh.
fn sync_jobs(ctx: &Context, crons: &mut HashMap<String, CronSlot>) {
    let checks = ctx.store.checks();
    crons.retain(|name, _| checks.contains_key(name));
    for (name, entry) in checks.iter() {
        let spec = entry.spec();
        let Schedule::Cron { expr, time_zone } = &spec.schedule else {
            crons.remove(name);
            continue;
        };
        let key = (expr.clone(), time_zone.clone());
        if crons.get(name).is_some_and(|c| c.key == key) {
            continue;
        }
        match CronSchedule::parse(expr, time_zone.as_deref()) {
            Ok(schedule) => {
                crons.insert(
                    name.clone(),
                    CronSlot {
                        key,
                        schedule,
                        due: None,
                        fresh: true,
                    },
                );
            }
            Err(e) => {
                crons.remove(name);
                entry.set_next_run(None);
                warn!(check = %name, error = %e, "Cannot schedule job.");
            }
        }
    }
}

/// First look at a job: `@reboot` once per boot, catch-up of a slot missed while the
/// ctx was down (only `at_start`), then its next slot.
async fn init_job(ctx: &Context, name: &str, job: &mut CronSlot, at_start: bool) {
    job.fresh = false;
    let Some(entry) = ctx.store.get(name) else {
        return;
    };
    let durable = ctx.durable.clone();
    if job.schedule.is_reboot() {
        let key = format!("reboot:{name}");
        let boot = jobs::boot_id();
        let stored = match durable.meta_get(&key).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(check = %name, error = %e, "Cannot read the boot id of the last @reboot run.");
                None
            }
        };
        if boot.is_none() || stored != boot {
            info!(check = %name, "Running @reboot job.");
            fire(ctx, &entry, false, Duration::ZERO);
            if let Some(boot) = boot {
                durable.meta_set(&key, Some(&boot));
            }
        }
        job.due = None;
        entry.set_next_run(None);
        return;
    }
    let now = job.schedule.now();
    let last_slot = job.schedule.last_at_or_before(&now);
    if at_start && entry.spec().catch_up {
        match durable.job_slot(name).await {
            Ok(Some(recorded)) => {
                if let Some(missed) = last_slot
                    .as_ref()
                    .filter(|s| s.timestamp() > jobs::from_utc(recorded))
                {
                    info!(check = %name, slot = %missed, "Catching up a slot missed while down.");
                    fire(ctx, &entry, true, Duration::ZERO);
                }
            }
            Ok(None) => {}
            Err(e) => warn!(check = %name, error = %e, "Cannot read the last slot of the job."),
        }
    }
    // Every slot up to now is accounted for.
    let accounted = last_slot.as_ref().map_or(now.timestamp(), Zoned::timestamp);
    durable.set_job_slot(name, jobs::to_utc(accounted));
    job.due = job.schedule.next_after(&now);
    entry.set_next_run(job.due.as_ref().map(|d| jobs::to_local(d.timestamp())));
}

/// When the next job slot is due on the monotonic clock, capped at [`WALL_RECHECK`].
fn next_job_instant(crons: &HashMap<String, CronSlot>) -> Option<Instant> {
    let earliest = crons
        .values()
        .filter_map(|j| j.due.as_ref().map(Zoned::timestamp))
        .min()?;
    let now = Instant::now();
    let wait = earliest.as_nanosecond() - Timestamp::now().as_nanosecond();
    let wait = Duration::from_nanos(u64::try_from(wait.max(0)).unwrap_or(u64::MAX));
    Some(now + wait.min(WALL_RECHECK))
}

/// What to do with a cron slot that came `late`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Run,
    CatchUp,
    Missed,
}

fn judge(late: Duration, catch_up: bool) -> Due {
    if late <= MISSED_AFTER {
        Due::Run
    } else if catch_up {
        Due::CatchUp
    } else {
        Due::Missed
    }
}

/// Fires every job whose slot has come on the wall clock and moves it to its next slot.
fn run_due_jobs(ctx: &Context, crons: &mut HashMap<String, CronSlot>) {
    let wall = Timestamp::now();
    for (name, job) in crons.iter_mut() {
        let Some(due) = job.due.clone().filter(|d| d.timestamp() <= wall) else {
            continue;
        };
        let Some(entry) = ctx.store.get(name) else {
            continue;
        };
        let late = wall.as_nanosecond() - due.timestamp().as_nanosecond();
        let late = Duration::from_nanos(u64::try_from(late.max(0)).unwrap_or(u64::MAX));
        let spec = entry.spec();
        match judge(late, spec.catch_up) {
            Due::Run => fire(ctx, &entry, false, late),
            Due::CatchUp => {
                info!(check = %name, slot = %due, "Catching up a missed slot.");
                fire(ctx, &entry, true, late);
            }
            Due::Missed => {
                info!(check = %name, slot = %due, "Slot missed (suspend or clock change), skipping it.");
                ctx.metrics.skipped(&spec, "missed");
            }
        }
        ctx.durable
            .set_job_slot(name, jobs::to_utc(due.timestamp()));
        let mut next = job.schedule.next_after(&due);
        if next.as_ref().is_some_and(|n| n.timestamp() <= wall) {
            next = job.schedule.next_after(&job.schedule.zoned(wall));
        }
        entry.set_next_run(next.as_ref().map(|n| jobs::to_local(n.timestamp())));
        job.due = next;
    }
}

/// Brings the timer queue in line with the current plan.
fn sync(
    ctx: &Context,
    slots: &mut HashMap<String, Slot>,
    heap: &mut BinaryHeap<Reverse<(Instant, u64, String)>>,
    generation: &mut u64,
    anchor: Instant,
    now: Instant,
) {
    let checks = ctx.store.checks();
    slots.retain(|name, _| checks.contains_key(name));
    for (name, entry) in checks.iter() {
        let spec = entry.spec();
        let Schedule::Interval { every, splay } = spec.schedule else {
            slots.remove(name);
            if !matches!(spec.schedule, Schedule::Cron { .. }) {
                entry.set_next_run(None);
            }
            continue;
        };
        if every.is_zero() {
            slots.remove(name);
            entry.set_next_run(None);
            continue;
        }
        if slots.get(name).is_some_and(|s| s.every == every) {
            continue;
        }
        *generation += 1;
        let due = on_tick(anchor, now + phase(name, splay));
        slots.insert(
            name.clone(),
            Slot {
                due,
                every,
                generation: *generation,
            },
        );
        entry.set_next_run(Some(to_wall(due)));
        heap.push(Reverse((due, *generation, name.clone())));
    }
    // Drop stale heap entries now and then so reloads cannot grow it without bound.
    if heap.len() > slots.len() * 2 + 64 {
        heap.retain(|Reverse((_, g, n))| slots.get(n).is_some_and(|s| s.generation == *g));
    }
}

/// Timer coalescing: interval slots sit on a grid of this step from the scheduler's
/// start, so the checks due within the same 25 ms start on one wake-up (as systemd's
/// `AccuracySec`, or Nagios' whole seconds); 10 000 checks then wake the ctx ~40 times
/// a second instead of ~780.
pub const TICK: Duration = Duration::from_millis(25);

/// `at`, rounded up to the [`TICK`] grid that starts at `anchor`.
fn on_tick(anchor: Instant, at: Instant) -> Instant {
    let tick = TICK.as_nanos();
    let since = at.saturating_duration_since(anchor).as_nanos();
    let up = since.div_ceil(tick) * tick;
    anchor + Duration::from_nanos(u64::try_from(up).unwrap_or(u64::MAX))
}

/// Stable offset in `[0, splay)` from the check name (FNV-1a).
pub fn phase(name: &str, splay: Duration) -> Duration {
    let millis = splay.as_millis() as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Duration::from_millis(hash % millis)
}

fn to_wall(due: Instant) -> chrono::DateTime<chrono::Local> {
    let now = Instant::now();
    let wall = chrono::Local::now();
    if due >= now {
        wall + chrono::Duration::from_std(due - now).unwrap_or_default()
    } else {
        wall - chrono::Duration::from_std(now - due).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, sync::Mutex};

    use tokio::sync::watch;

    use super::*;
    use crate::config::{Plan, load_str};

    /// A [`Start`] that records when each check was started, on tokio's clock.
    struct Recorder {
        t0: Instant,
        fires: Mutex<Vec<(String, Duration)>>,
    }

    impl Start for Recorder {
        fn start(&self, entry: &Arc<CheckEntry>, trigger: Trigger) {
            assert_eq!(trigger, Trigger::Scheduled);
            let at = Instant::now() - self.t0;
            self.fires.lock().unwrap().push((entry.name(), at));
        }
    }

    impl Recorder {
        fn of(&self, name: &str) -> Vec<Duration> {
            let fires = self.fires.lock().unwrap();
            fires.iter().filter(|f| f.0 == name).map(|f| f.1).collect()
        }
    }

    fn plan(yaml: &str) -> Arc<Plan> {
        Arc::new(
            load_str("t.yaml", yaml, Path::new("/"))
                .expect("valid")
                .plan,
        )
    }

    fn secs(list: &[f64]) -> Vec<Duration> {
        list.iter().map(|s| Duration::from_secs_f64(*s)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn interval_checks_fire_on_their_phase_and_follow_reloads() {
        let first = plan(
            "plugins:\n  a: {Command: 'true', Interval: 10, Splay: 0}\n  b: {Command: 'true', Interval: 4}\n",
        );
        let store = Arc::new(Store::new());
        store.apply(&mut first.checks.clone());
        let (plan_tx, plan_rx) = watch::channel(first);
        let recorder = Arc::new(Recorder {
            t0: Instant::now(),
            fires: Mutex::new(Vec::new()),
        });
        let ctx = Context {
            store: store.clone(),
            runs: recorder.clone(),
            metrics: Arc::new(Metrics::new()),
            durable: Durable::memory().expect("memory store"),
            plan: plan_rx,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(ctx, shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(20_010)).await;
        assert_eq!(recorder.of("a"), secs(&[0.0, 10.0, 20.0]));
        // b: first at its phase (Splay defaults to the interval), on the 25 ms grid.
        let p = on_tick(
            Instant::now(),
            Instant::now() + phase("b", Duration::from_secs(4)),
        ) - Instant::now();
        let b: Vec<Duration> = (0..5).map(|i| p + Duration::from_secs(4 * i)).collect();
        assert_eq!(
            recorder.of("b"),
            b.into_iter()
                .filter(|d| *d <= Duration::from_millis(20_010))
                .collect::<Vec<_>>()
        );

        // A reload removes a, keeps b on its phase and adds c.
        let next = plan(
            "plugins:\n  b: {Command: 'true', Interval: 4}\n  c: {Command: 'true', Interval: 5, Splay: 0}\n",
        );
        store.apply(&mut next.checks.clone());
        plan_tx.send_replace(next);
        tokio::time::sleep(Duration::from_millis(10_020)).await;
        assert_eq!(recorder.of("a").len(), 3, "a is gone");
        assert_eq!(recorder.of("c"), secs(&[20.025, 25.025, 30.025]));
        assert!(
            recorder
                .of("b")
                .iter()
                .all(|d| (d.as_nanos() - p.as_nanos()) % 4_000_000_000 == 0)
        );
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("stops on its token")
            .expect("no panic");
    }

    #[test]
    fn a_slot_late_past_the_limit_is_missed_or_caught_up() {
        assert_eq!(judge(Duration::from_millis(3), false), Due::Run);
        assert_eq!(judge(MISSED_AFTER, true), Due::Run);
        let slept = MISSED_AFTER + Duration::from_secs(1);
        assert_eq!(judge(slept, true), Due::CatchUp);
        assert_eq!(judge(slept, false), Due::Missed);
    }

    #[test]
    fn far_slots_still_wake_the_scheduler_to_look_at_the_wall_clock() {
        let job = |expr: &str| {
            let schedule = CronSchedule::parse(expr, Some("UTC")).expect("cron");
            let due = schedule.next_after(&schedule.now());
            CronSlot {
                key: (expr.to_string(), None),
                schedule,
                due,
                fresh: false,
            }
        };
        let mut crons = HashMap::new();
        assert_eq!(next_job_instant(&crons), None);
        crons.insert("yearly".to_string(), job("0 0 1 1 *"));
        let wake = next_job_instant(&crons).expect("a wake-up");
        assert!(wake <= Instant::now() + WALL_RECHECK);
        crons.insert("soon".to_string(), job("* * * * * *"));
        let wake = next_job_instant(&crons).expect("a wake-up");
        assert!(wake <= Instant::now() + Duration::from_secs(1));
    }

    #[test]
    fn phase_is_stable_and_bounded() {
        let splay = Duration::from_secs(60);
        assert_eq!(phase("load", splay), phase("load", splay));
        assert!(phase("load", splay) < splay);
        assert_eq!(phase("load", Duration::ZERO), Duration::ZERO);
        let distinct: std::collections::HashSet<_> = (0..100)
            .map(|i| phase(&format!("check{i}"), splay))
            .collect();
        assert!(distinct.len() > 90);
    }
}
