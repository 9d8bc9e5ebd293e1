//! The daemon's own state: the only place that holds every component's handle.
//! Components get narrow contexts made here ([`Daemon::api_context`] and the like),
//! never the daemon.

use std::{fmt, sync::Arc};

use tokio::sync::{mpsc, watch};

use crate::{
    actions::{self, Actions},
    api,
    config::Plan,
    control::{Control, Request, Status},
    events::Events,
    executor::Executor,
    logging::LogHandle,
    metrics::Metrics,
    nrpe,
    runs::{Pipeline, Runs},
    scheduler,
    store::{StateStore, Store, durable::Durable},
};

/// Re-reads and validates the configuration; errors are `FILE:LINE:COL: …` lines.
pub type Loader = Arc<dyn Fn() -> Result<Plan, Vec<String>> + Send + Sync>;

/// What `smokerd` hands to [`super::run`] besides the first plan.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Reload source (SIGHUP, `POST /v2/reload`); `None` = reload is refused.
    pub loader: Option<Loader>,
    /// Applies a reloaded `log_level`.
    pub log: Option<LogHandle>,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("loader", &self.loader.is_some())
            .field("log", &self.log.is_some())
            .finish()
    }
}

/// Every handle of a running smokerd.
pub(super) struct Daemon {
    /// The running plan; components follow its receivers.
    pub plan: watch::Sender<Arc<Plan>>,
    pub store: Arc<Store>,
    pub executor: Arc<Executor>,
    pub runs: Runs,
    pub metrics: Arc<Metrics>,
    pub state: Arc<StateStore>,
    pub events: Events,
    /// Errors of the last refused reload (`/healthz`).
    pub config_errors: watch::Sender<Option<Vec<String>>>,
    pub control: Control,
    pub hostname: Arc<str>,
    pub options: RunOptions,
}

impl Daemon {
    /// Builds every component's handle on `plan`; the receiver carries the
    /// components' requests to the event loop.
    pub fn new(
        mut plan: Plan,
        state: StateStore,
        options: RunOptions,
    ) -> (Daemon, mpsc::Receiver<Request>) {
        let executor = Arc::new(Executor::new(plan.nr_concurrent_plugins));
        executor.set_run_as_root(plan.run_as_root);
        let store = Arc::new(Store::new());
        store.apply(&mut plan.checks);
        let metrics = Arc::new(Metrics::new());
        metrics.checks_known(&plan.checks);
        let plan = watch::channel(Arc::new(plan)).0;
        let state = Arc::new(state);
        let events = Events::new();
        let hostname: Arc<str> = Arc::from(hostname());
        let actions = Actions::new(actions::Context {
            executor: executor.clone(),
            durable: state.durable().clone(),
            hostname: hostname.clone(),
            plan: plan.subscribe(),
        });
        let runs = Runs::new(Pipeline {
            executor: executor.clone(),
            actions,
            metrics: metrics.clone(),
            durable: state.durable().clone(),
            store: store.clone(),
            events: events.clone(),
        });
        watch_metrics(&metrics, &executor, &state);
        let (control, requests) = Control::channel();
        let daemon = Daemon {
            plan,
            store,
            executor,
            runs,
            metrics,
            state,
            events,
            config_errors: watch::channel(None).0,
            control,
            hostname,
            options,
        };
        (daemon, requests)
    }

    pub fn plan(&self) -> Arc<Plan> {
        self.plan.borrow().clone()
    }

    pub fn durable(&self) -> &Durable {
        self.state.durable()
    }

    pub fn status(&self) -> Status {
        Status {
            config_errors: self.config_errors.subscribe(),
            state: self.state.clone(),
        }
    }

    /// One line for `systemctl status`.
    pub fn status_line(&self) -> String {
        self.status().health().line(self.store.checks().len())
    }

    pub fn api_context(&self) -> Arc<api::Context> {
        Arc::new(api::Context {
            store: self.store.clone(),
            runs: self.runs.clone(),
            plan: self.plan.subscribe(),
            control: self.control.clone(),
            status: self.status(),
            metrics: self.metrics.clone(),
            durable: self.durable().clone(),
            hostname: self.hostname.clone(),
            stop: Default::default(),
        })
    }

    pub fn scheduler_context(&self) -> scheduler::Context {
        scheduler::Context {
            store: self.store.clone(),
            runs: Arc::new(self.runs.clone()),
            metrics: self.metrics.clone(),
            durable: self.durable().clone(),
            plan: self.plan.subscribe(),
        }
    }

    pub fn nrpe_context(&self) -> nrpe::Context {
        nrpe::Context {
            executor: self.executor.clone(),
            runs: self.runs.clone(),
            metrics: self.metrics.clone(),
            plan: self.plan.subscribe(),
        }
    }
}

/// Gauges read at scrape time: running processes, store mode, spool sizes.
fn watch_metrics(metrics: &Metrics, executor: &Arc<Executor>, state: &Arc<StateStore>) {
    let weak = Arc::downgrade(executor);
    metrics.watch_executor(move || weak.upgrade().map_or(0, |e| e.running()));
    let weak = Arc::downgrade(state);
    metrics.watch_store(move || weak.upgrade().is_some_and(|s| s.persistent()));
    let weak = Arc::downgrade(state);
    metrics.watch_store_faults(move || weak.upgrade().map_or(0, |s| s.durable().faults()));
    let weak = Arc::downgrade(state);
    metrics.watch_spool(move || weak.upgrade().map(|s| s.durable().spool_stats()));
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}
