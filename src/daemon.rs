//! Daemon: wiring and lifecycle.
//!
//! Owns the running [`Plan`], the [`Store`], the [`Executor`], forced-run
//! processes (POST /processes), and the one way a check run starts
//! ([`Daemon::start_run`]: a single run per check, forced runs attach to a run
//! in progress). `run` binds the API, starts the scheduler and waits for
//! SIGTERM/SIGINT (graceful stop) or SIGHUP (reload). The durable store, reloads,
//! the API listener and `/healthz` are in [`lifecycle`].

mod lifecycle;

pub use lifecycle::{
    DEFAULT_STATE_DIR, Health, Loader, ReloadError, ReloadReport, RunOptions, StateStore,
};

use std::{
    net::SocketAddr,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, RwLock, Weak, atomic::Ordering},
    time::Duration,
};

use futures_util::FutureExt;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::{
    api::server::Access,
    check::{CheckResult, State},
    config::Plan,
    executor::Executor,
    metrics::Metrics,
    nsca::sink::Sinks,
    runner,
    store::{CheckEntry, Store},
    systemd,
};

/// Forced-run processes kept for `GET /processes[/{id}]`; older ones answer 404.
pub const KEPT_PROCESSES: usize = 1000;

/// One POST /processes: the plugins it forced, in order.
#[derive(Debug, Clone)]
pub struct Process {
    pub id: u64,
    pub plugins: Vec<String>,
    /// The forced entries, so a poll needs no lookups by name (weak: a check removed by
    /// a reload is not kept alive by old processes).
    pub entries: Vec<Weak<CheckEntry>>,
}

/// Shared state of a running smokerd.
#[derive(Debug)]
pub struct Daemon {
    plan: RwLock<Arc<Plan>>,
    pub store: Store,
    pub executor: Executor,
    /// The newest [`KEPT_PROCESSES`] forced-run processes, oldest first (never emptied
    /// once used, so ids keep counting from the newest).
    processes: Mutex<std::collections::VecDeque<Arc<Process>>>,
    /// Bumped on every successful reload; the scheduler watches it.
    plan_version: watch::Sender<u64>,
    /// Set when shutdown starts: no new scheduled runs.
    stopping: watch::Sender<bool>,
    pub hostname: String,
    /// The durable store (file or memory).
    state: StateStore,
    lifecycle: lifecycle::Lifecycle,
    pub metrics: Arc<Metrics>,
    /// NSCA delivery tasks (one per `Nsca` action).
    pub nsca: Sinks,
}

impl Daemon {
    pub fn new(plan: Plan, state: StateStore) -> Arc<Daemon> {
        let executor = Executor::new(plan.nr_concurrent_plugins);
        executor.set_run_as_root(plan.run_as_root);
        let store = Store::new();
        store.apply(&plan.checks);
        let daemon = Arc::new(Daemon {
            plan: RwLock::new(Arc::new(plan)),
            store,
            executor,
            processes: Mutex::new(std::collections::VecDeque::new()),
            plan_version: watch::channel(0).0,
            stopping: watch::channel(false).0,
            hostname: hostname(),
            state,
            lifecycle: lifecycle::Lifecycle::default(),
            metrics: Arc::new(Metrics::new()),
            nsca: Sinks::default(),
        });
        let weak = Arc::downgrade(&daemon);
        daemon
            .metrics
            .watch_executor(move || weak.upgrade().map_or(0, |d| d.executor.running()));
        let weak = Arc::downgrade(&daemon);
        daemon
            .metrics
            .watch_store(move || weak.upgrade().is_some_and(|d| d.state.persistent()));
        let weak = Arc::downgrade(&daemon);
        daemon
            .metrics
            .watch_spool(move || weak.upgrade().map(|d| d.durable().spool_stats()));
        daemon
    }

    pub fn plan(&self) -> Arc<Plan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn plan_updates(&self) -> watch::Receiver<u64> {
        self.plan_version.subscribe()
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Swaps in a validated plan; returns (added, removed, changed) check names.
    pub fn apply_plan(&self, plan: Plan) -> (Vec<String>, Vec<String>, Vec<String>) {
        let changes = self.store.apply(&plan.checks);
        for name in &changes.1 {
            self.metrics.check_removed(name);
        }
        self.executor.set_limit(plan.nr_concurrent_plugins);
        self.executor.set_run_as_root(plan.run_as_root);
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
        self.plan_version.send_modify(|v| *v += 1);
        self.sync_nsca();
        changes
    }

    /// Starts a run of `entry` unless one is in progress; the receiver yields its result.
    pub fn start_run(
        self: &Arc<Self>,
        entry: &Arc<CheckEntry>,
        forced: bool,
    ) -> watch::Receiver<Option<Arc<CheckResult>>> {
        self.start_run_as(entry, forced, false)
    }

    /// [`Daemon::start_run`] that can mark the result as a catch-up of a missed slot
    /// (jobs). A run queued meanwhile (`Overlap: queue|kill`) starts when it ends.
    pub fn start_run_as(
        self: &Arc<Self>,
        entry: &Arc<CheckEntry>,
        forced: bool,
        catch_up: bool,
    ) -> watch::Receiver<Option<Arc<CheckResult>>> {
        let (rx, starter) = entry.begin_run();
        let Some((done, pid)) = starter else {
            return rx;
        };
        let cancel = entry.cancel_signal();
        let daemon = self.clone();
        let entry = entry.clone();
        tokio::spawn(async move {
            let spec = entry.spec();
            // One task per run; a panic in it becomes an UNKNOWN result, not a lost run.
            let run = async {
                let mut result = runner::run_check_cancellable(
                    &daemon.executor,
                    &spec,
                    &|p| pid.store(p, Ordering::Relaxed),
                    cancel,
                )
                .await;
                result.forced = forced;
                result.catch_up = catch_up;
                let previous = entry.last_result();
                crate::actions::run(&daemon, &spec, &mut result, previous.as_deref()).await;
                result
            };
            let result = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result,
                Err(_) => {
                    error!(check = %spec.name, "Check run panicked.");
                    CheckResult::synthetic(
                        State::Unknown,
                        format!("No run of plugin {} is found alive", spec.name),
                        chrono::Local::now(),
                    )
                }
            };
            daemon.metrics.observe_result(&spec, &result);
            daemon.record(&entry, result, &done);
            if entry.take_queued() && !*daemon.stopping.borrow() {
                daemon.start_run_as(&entry, false, false);
            }
        });
        rx
    }

    /// POST /processes: forces a run of each entry and remembers the process.
    pub fn force(self: &Arc<Self>, entries: &[Arc<CheckEntry>]) -> u64 {
        for entry in entries {
            entry.expect_forced();
            self.start_run(entry, true);
        }
        let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        let id = processes.back().map_or(1, |newest| newest.id + 1);
        processes.push_back(Arc::new(Process {
            id,
            plugins: entries.iter().map(|e| e.name()).collect(),
            entries: entries.iter().map(Arc::downgrade).collect(),
        }));
        // A daemon forcing runs every minute for years must not grow without bound.
        while processes.len() > KEPT_PROCESSES {
            processes.pop_front();
        }
        id
    }

    pub fn processes(&self) -> Vec<Arc<Process>> {
        self.processes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Process `id`, unless it is unknown or older than the newest [`KEPT_PROCESSES`].
    pub fn process(&self, id: u64) -> Option<Arc<Process>> {
        let processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        let first = processes.front()?.id;
        id.checked_sub(first)
            .and_then(|i| processes.get(usize::try_from(i).ok()?))
            .cloned()
    }

    /// Graceful stop (D4): no new runs, wait for running checks up to
    /// `min(remaining Timeout, shutdown_grace)`, then terminate the rest.
    pub async fn shutdown(&self) {
        self.stopping.send_replace(true);
        let grace = self.plan().shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let running = self
                .store
                .checks()
                .values()
                .filter(|e| e.running().is_some())
                .count();
            if running == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(running, "Terminating checks still running at shutdown.");
                self.executor.interrupt_all();
                // Let the runs record their "interrupted by shutdown" results.
                let hard =
                    tokio::time::Instant::now() + runner::KILL_GRACE + Duration::from_secs(2);
                while self.store.checks().values().any(|e| e.running().is_some())
                    && tokio::time::Instant::now() < hard
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.nsca.stop_all();
        self.flush_store().await;
    }

    /// Starts/stops NSCA delivery tasks to match the running plan's `Nsca` actions.
    pub fn sync_nsca(&self) {
        self.nsca
            .sync(&self.plan(), self.durable(), Some(self.metrics.clone()));
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Runs the daemon until SIGTERM/SIGINT: pidfile, durable store and history, API,
/// scheduler, systemd notifications; SIGHUP reloads through `options.loader`.
pub async fn run(plan: Plan, options: RunOptions) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let pidfile = match &plan.pidfile {
        Some(path) => Some(systemd::Pidfile::create(path)?),
        None => None,
    };
    let pidfile = Arc::new(Mutex::new(pidfile));
    let addr = listen_addr(&plan)?;
    // Certificates and keys are read now, before privileges are dropped.
    let api_tls = crate::api::server::tls_acceptor(&plan.api)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::format_err!("cannot listen on {addr}: {e}"))?;
    let state = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || StateStore::open(&plan)).await??
    };
    let daemon = Daemon::new(plan, state);
    daemon.set_run_options(options);
    let entries: Vec<Arc<CheckEntry>> = daemon.store.checks().values().cloned().collect();
    daemon.restore_history(&entries).await;
    let metrics_listener = match daemon.plan().metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::format_err!("cannot listen on {addr} (metrics): {e}"))?,
        ),
        None => None,
    };
    // NRPE bridge (issue 7): binds and loads its TLS context now, stops with the API.
    let nrpe = crate::nrpe::bind_bridge(&daemon.plan())?;
    // Every port is bound and every key read: drop privileges before the first
    // request can start a check.
    privileges_after_binding(&daemon.plan())?;
    info!(address = %listener.local_addr()?, checks = entries.len(), "Listening.");
    daemon.serve_api(listener, Access::new(&daemon.plan().api, api_tls));
    let (stop_tx, stop_rx) = watch::channel(false);
    daemon.serve_metrics(metrics_listener);
    if let Some(bound) = nrpe {
        crate::nrpe::start(&daemon, bound, stop_rx.clone());
    }
    let scheduler = tokio::spawn(crate::scheduler::run(daemon.clone()));
    daemon.sync_nsca();
    let prune = tokio::spawn(daemon.clone().prune_loop());
    let watchdog = tokio::spawn(systemd::run_watchdog());
    systemd::notify_ready();
    systemd::notify_status(&daemon.status_line());

    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "Shutting down."); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "Shutting down."); break; }
            _ = hup.recv() => {
                info!(signal = "SIGHUP", "Reloading configuration.");
                let daemon = daemon.clone();
                // The outcome is logged and shown in /healthz by `reload` itself.
                tokio::spawn(async move { let _ = daemon.reload().await; });
            }
        }
    }
    systemd::notify_stopping();
    // A second signal exits at once: kill what still runs, drop the pidfile.
    {
        let daemon = daemon.clone();
        let pidfile = pidfile.clone();
        tokio::spawn(async move {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            warn!("Second signal, exiting now.");
            daemon.kill_running();
            drop(pidfile.lock().unwrap_or_else(|e| e.into_inner()).take());
            std::process::exit(1);
        });
    }
    scheduler.abort();
    prune.abort();
    daemon.shutdown().await;
    stop_tx.send_replace(true);
    daemon.stop_listeners(Duration::from_secs(2)).await;
    watchdog.abort();
    drop(pidfile.lock().unwrap_or_else(|e| e.into_inner()).take());
    info!("Stopped.");
    Ok(())
}

/// Issue 10: every port is bound; drop to the top-level `uid`/`gid`, and warn when
/// checks will run as root.
fn privileges_after_binding(plan: &Plan) -> anyhow::Result<()> {
    if plan.uid.is_some() || plan.gid.is_some() {
        crate::privileges::drop_daemon(plan.uid.as_ref(), plan.gid.as_ref())
            .map_err(|e| anyhow::format_err!("cannot drop privileges: {e}"))?;
        info!(uid = %nix::unistd::getuid(), gid = %nix::unistd::getgid(), "Dropped privileges.");
    }
    if nix::unistd::geteuid().is_root() && plan.run_as_root {
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

fn listen_addr(plan: &Plan) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    (plan.bind_host.as_str(), plan.bind_port)
        .to_socket_addrs()
        .map_err(|e| anyhow::format_err!("bad bind_host {}: {e}", plan.bind_host))?
        .next()
        .ok_or_else(|| anyhow::format_err!("bind_host {} resolves to nothing", plan.bind_host))
}
