//! Daemon: wiring and the event loop only.
//!
//! Builds every component on a narrow handle ([`state`]), binds the network edge
//! ([`edge`]) before privileges are dropped, then runs one event loop: SIGTERM or
//! SIGINT drains, SIGHUP or `POST /v2/reload` reloads ([`reload`]), a second stop
//! signal kills the running process groups. Only this module knows the whole
//! daemon; components see their context, the plan watch and their shutdown token.

pub mod args;
mod edge;
mod history;
mod reload;
mod state;

pub use state::{Loader, RunOptions};

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    sync::mpsc,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    config::Plan,
    control::Request,
    delivery,
    store::{CheckEntry, StateStore, durable::StoreError},
    systemd,
};
use edge::{Edge, EdgeError};
use state::Daemon;

#[cfg(test)]
mod tests;

/// Longest wait for the listeners to finish their requests at the end of shutdown.
const LISTENER_GRACE: Duration = Duration::from_secs(2);
/// How often freed heap pages go back to the system (issue 18, the soak).
const RELEASE_EVERY: Duration = Duration::from_secs(10);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot handle signals: {0}")]
    Signals(#[source] std::io::Error),
    #[error("{0}")]
    Pidfile(#[from] systemd::PidfileError),
    #[error("{0}")]
    Edge(#[from] EdgeError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot open the store: {0}")]
    StoreTask(#[from] tokio::task::JoinError),
    #[error("cannot drop privileges: {0}")]
    Privileges(#[from] crate::privileges::PrivilegeError),
}

/// What the event loop reacts to.
enum Event {
    /// SIGTERM or SIGINT: drain and stop.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
    /// A component's request.
    Request(Request),
}

/// The signals the daemon handles.
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> Result<Signals, DaemonError> {
        let on = |kind| signal(kind).map_err(DaemonError::Signals);
        Ok(Signals {
            term: on(SignalKind::terminate())?,
            int: on(SignalKind::interrupt())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self, requests: &mut mpsc::Receiver<Request>) -> Event {
        tokio::select! {
            _ = self.term.recv() => Event::Stop("SIGTERM"),
            _ = self.int.recv() => Event::Stop("SIGINT"),
            _ = self.hup.recv() => Event::Reload,
            Some(request) = requests.recv() => Event::Request(request),
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT: pidfile, edge, durable store and history,
/// privilege drop, servers, scheduler, actions, systemd notifications.
pub async fn run(plan: Plan, options: RunOptions) -> Result<(), DaemonError> {
    let mut signals = Signals::new()?;
    let pidfile = match &plan.pidfile {
        Some(path) => Some(systemd::Pidfile::create(path)?),
        None => None,
    };
    let pidfile = Arc::new(Mutex::new(pidfile));
    // Every port is bound and every TLS key read before privileges are dropped.
    let mut edge = Edge::default();
    let bound = edge.bind(None, &plan).await?;
    let listening = bound.api_addr();
    let state = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || StateStore::open(&plan)).await??
    };
    let (daemon, mut requests) = Daemon::new(plan, state, options);
    let entries: Vec<Arc<CheckEntry>> = daemon.store.checks().values().cloned().collect();
    history::restore(daemon.durable(), &entries).await;
    privileges_after_binding(&daemon.plan())?;
    info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %daemon.plan().path.as_deref().map_or("(embedded default)".into(), |p| p.display().to_string()),
        api = %listening.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        nrpe = ?nrpe_listen(&daemon.plan()),
        metrics = %daemon.plan().metrics_listen.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        checks = entries.len(),
        "smokerd started."
    );
    let background = Background::start(&daemon);
    edge.serve(bound, &daemon);
    systemd::notify_ready();
    systemd::notify_status(&daemon.status_line());
    loop {
        match signals.next(&mut requests).await {
            Event::Stop(signal) => {
                info!(signal, "Shutting down.");
                break;
            }
            Event::Reload => {
                info!(signal = "SIGHUP", "Reloading configuration.");
                // The outcome is logged and shown in /healthz by `reload` itself.
                let _ = daemon.reload(&mut edge).await;
            }
            Event::Request(Request::Reload(reply)) => {
                let _ = reply.send(daemon.reload(&mut edge).await);
            }
        }
    }
    shutdown(&daemon, signals, &pidfile, background, &mut edge).await;
    Ok(())
}

/// The daemon's background tasks, each stopped by its own token.
struct Background {
    /// Scheduler and pruning: stop first, so no new run starts.
    scheduling: CancellationToken,
    /// Action deliveries (NSCA sinks): stop after the runs, before the last commit.
    delivering: CancellationToken,
    tasks: TaskTracker,
    watchdog: tokio::task::JoinHandle<()>,
}

impl Background {
    fn start(daemon: &Daemon) -> Background {
        let scheduling = CancellationToken::new();
        let delivering = CancellationToken::new();
        let tasks = TaskTracker::new();
        // Built here, so every check's first slot is set before the API serves.
        let scheduler = crate::scheduler::Scheduler::new(daemon.scheduler_context());
        tasks.spawn(scheduler.run(scheduling.clone()));
        tasks.spawn(history::prune_loop(
            daemon.durable().clone(),
            daemon.plan.subscribe(),
            scheduling.clone(),
        ));
        tasks.spawn(release_memory(scheduling.clone()));
        tasks.spawn(delivery::follow::<crate::nsca::sink::Nsca>(
            daemon.plan.subscribe(),
            daemon.durable().clone(),
            daemon.metrics.clone(),
            delivering.clone(),
        ));
        tasks.spawn(delivery::follow::<crate::icinga::sink::Icinga>(
            daemon.plan.subscribe(),
            daemon.durable().clone(),
            daemon.metrics.clone(),
            delivering.clone(),
        ));
        tasks.close();
        Background {
            scheduling,
            delivering,
            tasks,
            watchdog: tokio::spawn(systemd::run_watchdog()),
        }
    }
}

/// Every [`RELEASE_EVERY`], the heap pages freed meanwhile go back to the system
/// ([`crate::sys::release_free_memory`]), so the RSS follows what is in use.
async fn release_memory(shutdown: CancellationToken) {
    let mut every = tokio::time::interval(RELEASE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let released = tokio::task::spawn_blocking(crate::sys::release_free_memory).await;
        if released.is_err() {
            return;
        }
    }
}

/// Graceful stop (D4): no new runs; the running ones get `min(remaining Timeout,
/// shutdown_grace)`; deliveries stop; the store commits; the listeners close.
async fn shutdown(
    daemon: &Daemon,
    signals: Signals,
    pidfile: &Arc<Mutex<Option<systemd::Pidfile>>>,
    background: Background,
    edge: &mut Edge,
) {
    systemd::notify_stopping();
    second_signal(daemon, signals, pidfile.clone());
    background.scheduling.cancel();
    daemon.runs.drain(daemon.plan().shutdown_grace).await;
    background.delivering.cancel();
    if tokio::time::timeout(LISTENER_GRACE, background.tasks.wait())
        .await
        .is_err()
    {
        warn!("Background tasks still busy at shutdown.");
    }
    history::flush(daemon.durable()).await;
    edge.stop(LISTENER_GRACE).await;
    background.watchdog.abort();
    drop(lock(pidfile).take());
    info!("Stopped.");
}

/// A second stop signal exits at once: kill what still runs, drop the pidfile.
fn second_signal(
    daemon: &Daemon,
    mut signals: Signals,
    pidfile: Arc<Mutex<Option<systemd::Pidfile>>>,
) {
    let runs = daemon.runs.clone();
    tokio::spawn(async move {
        tokio::select! { _ = signals.term.recv() => {}, _ = signals.int.recv() => {} }
        warn!("Second signal, exiting now.");
        runs.kill_all();
        drop(lock(&pidfile).take());
        std::process::exit(1);
    });
}

/// The NRPE server's listen addresses, for the start line.
fn nrpe_listen(plan: &Plan) -> Vec<String> {
    let bridge = plan.nrpe.as_ref().and_then(|n| n.bridge.as_ref());
    bridge.map_or_else(Vec::new, |b| {
        b.listen.iter().map(ToString::to_string).collect()
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Issue 10: every port is bound; drop to the top-level `uid`/`gid`, and warn when
/// checks will run as root.
fn privileges_after_binding(plan: &Plan) -> Result<(), DaemonError> {
    if plan.uid.is_some() || plan.gid.is_some() {
        crate::privileges::drop_daemon(plan.uid.as_ref(), plan.gid.as_ref())
            .map_err(DaemonError::Privileges)?;
        info!(uid = %nix::unistd::getuid(), gid = %nix::unistd::getgid(), "Dropped privileges.");
    }
    if nix::unistd::geteuid().is_root() && plan.run_as_root && !plan.run_as_root_set {
        let as_root: Vec<&str> = plan
            .checks
            .iter()
            .filter(|c| c.uid.is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !as_root.is_empty() {
            // Name a few: a line per host must stay readable with 10 000 checks.
            const NAMED: usize = 10;
            warn!(
                count = as_root.len(),
                checks = ?&as_root[..as_root.len().min(NAMED)],
                "Checks run as root; set uid per check or run_as_root: false."
            );
        }
    }
    Ok(())
}
