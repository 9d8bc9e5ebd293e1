//! Lifecycle of a running smokerd (issue 8, decisions.md D4, D8).
//!
//! Owns the daemon's use of the durable store (open `state_dir/smokerd.redb`, fall
//! back to memory when it cannot be used, restore history at start and for re-added
//! checks, append every result, prune removed checks, flush at shutdown), reloads
//! (SIGHUP and `POST /v2/reload`: validate, rebind a changed listen address, swap the
//! plan, report), the API listener it serves on, and `/healthz`.

use std::{
    collections::HashMap,
    fmt,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tracing::{error, info, warn};

use super::Daemon;
use crate::{
    check::CheckResult,
    config::Plan,
    logging::LogHandle,
    store::{
        CheckEntry, RunDoneSender,
        durable::{Durable, StoreError},
    },
    systemd,
};

/// `state_dir` when the configuration file sets none.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/smokerd";
/// How often stored checks missing from the config are looked at (at most).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest wait for the store's last commit at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a replaced API listener to finish its requests.
const OLD_LISTENER_GRACE: Duration = Duration::from_secs(5);

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

/// The durable store the daemon runs on: the file under `state_dir`, or memory.
pub struct StateStore {
    durable: Durable,
    /// Why the file could not be used (the store then lives in memory).
    open_error: Option<String>,
    /// The temp `state_dir` of the embedded default config, removed on exit.
    _temp: Option<tempfile::TempDir>,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.durable.path())
            .field("open_error", &self.open_error)
            .finish()
    }
}

impl StateStore {
    /// Opens `state_dir/smokerd.redb` (`/var/lib/smokerd` for a config file without
    /// `state_dir`, a temp dir for the embedded default). A store that cannot be
    /// opened is logged and replaced by one in memory; only a failure of that is an
    /// error. Blocking: call it off the async workers.
    pub fn open(plan: &Plan) -> Result<StateStore, StoreError> {
        let (dir, temp) = match (&plan.state_dir, &plan.path) {
            (Some(dir), _) => (Ok(dir.clone()), None),
            (None, Some(_)) => (Ok(PathBuf::from(DEFAULT_STATE_DIR)), None),
            (None, None) => match tempfile::Builder::new().prefix("smokerd-state-").tempdir() {
                Ok(temp) => (Ok(temp.path().to_path_buf()), Some(temp)),
                Err(e) => (
                    Err(format!("cannot create a temporary state_dir: {e}")),
                    None,
                ),
            },
        };
        let opened = dir.and_then(|dir| Durable::open_in(&dir).map_err(|e| e.to_string()));
        let store = match opened {
            Ok(durable) => StateStore {
                durable,
                open_error: None,
                _temp: temp,
            },
            Err(e) => {
                error!(error = %e, "Cannot use the durable store; keeping results in memory only.");
                StateStore {
                    durable: Durable::memory()?,
                    open_error: Some(e),
                    _temp: None,
                }
            }
        };
        store.durable.set_spool_limits(plan.spool);
        Ok(store)
    }

    /// A store in memory only (tests, or no `state_dir` wanted).
    pub fn memory() -> Result<StateStore, StoreError> {
        Ok(StateStore {
            durable: Durable::memory()?,
            open_error: None,
            _temp: None,
        })
    }

    pub fn durable(&self) -> &Durable {
        &self.durable
    }

    /// Whether results are persisted right now (`store: ok`).
    pub fn persistent(&self) -> bool {
        self.durable.is_persistent() && self.durable.last_error().is_none()
    }

    /// Why results are not persisted, if they are not.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = &self.open_error {
            return Some(e.clone());
        }
        if !self.durable.is_persistent() {
            return Some("no state_dir: results are kept in memory only".into());
        }
        self.durable.last_error()
    }
}

/// Daemon state of issue 8 that is not the plan or the checks.
#[derive(Default)]
pub(crate) struct Lifecycle {
    loader: OnceLock<Loader>,
    log: OnceLock<LogHandle>,
    /// Errors of the last reload, while the old configuration keeps running.
    config_errors: Mutex<Option<Vec<String>>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    api: Mutex<Option<Server>>,
    /// `metrics: {listen}`, when set.
    metrics: Mutex<Option<Server>>,
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("config_errors", &*lock(&self.config_errors))
            .field("api", &lock(&self.api).as_ref().map(|a| a.addr))
            .field("metrics", &lock(&self.metrics).as_ref().map(|a| a.addr))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One running HTTP listener (the API or `metrics: {listen}`).
struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    fn api(
        listener: TcpListener,
        daemon: Arc<Daemon>,
        access: crate::api::server::Access,
    ) -> Server {
        Server::start(listener, |listener, stop| {
            tokio::spawn(crate::api::serve(listener, daemon, access, stop))
        })
    }

    fn metrics(listener: TcpListener, metrics: Arc<crate::metrics::Metrics>) -> Server {
        Server::start(listener, |listener, stop| {
            tokio::spawn(crate::metrics::serve(listener, metrics, stop))
        })
    }

    fn start(
        listener: TcpListener,
        serve: impl FnOnce(TcpListener, watch::Receiver<bool>) -> JoinHandle<()>,
    ) -> Server {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (stop, stop_rx) = watch::channel(false);
        let task = serve(listener, stop_rx);
        Server { addr, stop, task }
    }

    /// Stops accepting; requests in flight get up to `grace` to finish.
    async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// A reload that was applied (D8 200 body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl ReloadReport {
    pub fn to_json(&self) -> Value {
        json!({"reloaded": true, "added": self.added, "removed": self.removed, "changed": self.changed})
    }
}

/// A reload that was refused; the running configuration stays.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    #[error("configuration has errors, keeping the running configuration")]
    Config(Vec<String>),
    #[error("cannot listen on the new address, keeping the running configuration")]
    Listen(Vec<String>),
    #[error("reload is not available")]
    Unavailable,
}

impl ReloadError {
    /// The `FILE:LINE:COL: …` lines (D8 422 `errors`).
    pub fn errors(&self) -> Vec<String> {
        match self {
            ReloadError::Config(errors) | ReloadError::Listen(errors) => errors.clone(),
            ReloadError::Unavailable => vec![self.to_string()],
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"message": self.to_string(), "errors": self.errors()})
    }
}

/// `/healthz` (D8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub config_errors: Option<Vec<String>>,
    pub store_error: Option<String>,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.config_errors.is_none() && self.store_error.is_none()
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "status": if self.ok() { "ok" } else { "degraded" },
            "config": if self.config_errors.is_some() { "stale" } else { "ok" },
            "store": if self.store_error.is_some() { "memory" } else { "ok" },
        });
        if let Some(errors) = &self.config_errors {
            body["configErrors"] = json!(errors);
        }
        if let Some(error) = &self.store_error {
            body["storeError"] = json!(error);
        }
        body
    }
}

impl Daemon {
    /// The durable store (results, run outputs, NSCA spool, job slots).
    pub fn durable(&self) -> &Durable {
        self.state.durable()
    }

    /// `/healthz`: degraded while a reload failed or the store lives in memory.
    pub fn health(&self) -> Health {
        Health {
            config_errors: lock(&self.lifecycle.config_errors).clone(),
            store_error: if self.state.persistent() {
                None
            } else {
                self.state.error()
            },
        }
    }

    /// Records a finished run: appended to the durable store (which hands out the run
    /// id), then to the in-memory history and the result broadcast.
    pub(crate) fn record(
        &self,
        entry: &CheckEntry,
        mut result: CheckResult,
        done: &RunDoneSender,
    ) -> Arc<CheckResult> {
        let spec = entry.spec();
        result.run_id = self
            .durable()
            .append_result(&spec.name, spec.history, &result);
        self.store.record(entry, result, done)
    }

    /// Seeds the history of `entries` from the durable store (start-up, re-added checks).
    pub(crate) async fn restore_history(&self, entries: &[Arc<CheckEntry>]) {
        if entries.is_empty() {
            return;
        }
        let wanted = entries
            .iter()
            .map(|e| {
                let spec = e.spec();
                (spec.name.clone(), spec.history.max(1))
            })
            .collect();
        let mut histories = match self.durable().load_histories(wanted).await {
            Ok(histories) => histories,
            Err(e) => {
                error!(error = %e, "Cannot read the stored history.");
                return;
            }
        };
        let mut restored = 0;
        for entry in entries {
            if let Some(results) = histories.remove(&entry.name()) {
                restored += results.len();
                entry.restore(results.into_iter().map(Arc::new).collect());
            }
        }
        info!(
            checks = entries.len(),
            results = restored,
            "History restored."
        );
    }

    /// Drops stored checks missing from the config for `removed_check_grace`; runs
    /// after every reload and at least hourly, until the task is aborted.
    pub(crate) async fn prune_loop(self: Arc<Self>) {
        let mut updates = self.plan_updates();
        loop {
            let plan = self.plan();
            let grace = plan.removed_check_grace;
            let alive: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
            match self.durable().prune(alive, grace).await {
                Ok(dropped) if !dropped.is_empty() => {
                    info!(checks = ?dropped, "Dropped the stored history of removed checks.");
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "Cannot prune the store."),
            }
            let every = PRUNE_EVERY.min(grace.max(Duration::from_secs(1)));
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                changed = updates.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Commits what is queued (shutdown).
    pub(crate) async fn flush_store(&self) {
        match tokio::time::timeout(FLUSH_TIMEOUT, self.durable().flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "Cannot flush the store at shutdown."),
            Err(_) => error!("Store flush timed out at shutdown."),
        }
    }

    pub(crate) fn set_run_options(&self, options: RunOptions) {
        if let Some(loader) = options.loader {
            let _ = self.lifecycle.loader.set(loader);
        }
        if let Some(log) = options.log {
            let _ = self.lifecycle.log.set(log);
        }
    }

    /// Serves the API on `listener` with `access` (TLS and host list loaded by the
    /// caller); a previous API listener stops.
    pub(crate) fn serve_api(
        self: &Arc<Self>,
        listener: TcpListener,
        access: crate::api::server::Access,
    ) {
        let server = Server::api(listener, self.clone(), access);
        replace_server(&self.lifecycle.api, Some(server));
    }

    /// Serves `/metrics` alone on `listener` (`metrics: {listen}`), or stops doing so.
    pub(crate) fn serve_metrics(&self, listener: Option<TcpListener>) {
        let server = listener.map(|l| Server::metrics(l, self.metrics.clone()));
        replace_server(&self.lifecycle.metrics, server);
    }

    /// Stops the listeners (the end of shutdown).
    pub(crate) async fn stop_listeners(&self, grace: Duration) {
        let api = lock(&self.lifecycle.api).take();
        let metrics = lock(&self.lifecycle.metrics).take();
        for server in [api, metrics].into_iter().flatten() {
            server.stop(grace).await;
        }
    }

    fn api_addr(&self) -> Option<SocketAddr> {
        lock(&self.lifecycle.api).as_ref().map(|a| a.addr)
    }

    fn metrics_addr(&self) -> Option<SocketAddr> {
        lock(&self.lifecycle.metrics).as_ref().map(|a| a.addr)
    }

    /// Reloads the configuration (SIGHUP, `POST /v2/reload`): validates it fully, binds
    /// a changed listen address, then swaps the plan. Checks that stay keep their
    /// history and schedule; re-added ones get their stored history back. On any error
    /// the running configuration stays and the error shows in `/healthz` and metrics.
    pub async fn reload(self: &Arc<Self>) -> Result<ReloadReport, ReloadError> {
        let _one = self.lifecycle.reloading.lock().await;
        systemd::notify_reloading();
        let outcome = self.try_reload().await;
        match &outcome {
            Ok(report) => {
                *lock(&self.lifecycle.config_errors) = None;
                info!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, "Configuration reloaded.");
            }
            Err(e) => {
                let errors = e.errors();
                error!(errors = %errors.join("; "), "{e}");
                if !matches!(e, ReloadError::Unavailable) {
                    *lock(&self.lifecycle.config_errors) = Some(errors);
                }
            }
        }
        self.metrics.config_reload(outcome.is_ok());
        systemd::notify_ready();
        systemd::notify_status(&self.status_line());
        outcome
    }

    async fn try_reload(self: &Arc<Self>) -> Result<ReloadReport, ReloadError> {
        let loader = self
            .lifecycle
            .loader
            .get()
            .cloned()
            .ok_or(ReloadError::Unavailable)?;
        let plan = match tokio::task::spawn_blocking(move || loader()).await {
            Ok(loaded) => loaded.map_err(ReloadError::Config)?,
            Err(e) => return Err(ReloadError::Config(vec![format!("reload failed: {e}")])),
        };
        let old = self.plan();
        // A new listen address is bound before anything changes.
        let addr =
            super::listen_addr(&plan).map_err(|e| ReloadError::Listen(vec![e.to_string()]))?;
        let listener = if Some(addr) != self.api_addr() && !same_listen(&old, &plan) {
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                ReloadError::Listen(vec![format!(
                    "{}: bind_port: cannot listen on {addr}: {e}",
                    config_name(&plan)
                )])
            })?;
            Some(listener)
        } else {
            None
        };
        let metrics_listener = match plan.metrics_listen {
            Some(addr) if Some(addr) != self.metrics_addr() => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    ReloadError::Listen(vec![format!(
                        "{}: metrics.listen: cannot listen on {addr}: {e}",
                        config_name(&plan)
                    )])
                })?;
                Some(Some(listener))
            }
            Some(_) => None,
            None if self.metrics_addr().is_some() => Some(None),
            None => None,
        };
        if plan.state_dir != old.state_dir {
            warn!("A changed state_dir takes effect at the next start.");
        }
        if plan.log_format != old.log_format {
            warn!("A changed log_format takes effect at the next start.");
        }
        // Stored history of checks coming (back) into the config, read before the swap.
        let current = self.store.checks();
        let incoming: Vec<(String, usize)> = plan
            .checks
            .iter()
            .filter(|c| !current.contains_key(&c.name))
            .map(|c| (c.name.clone(), c.history.max(1)))
            .collect();
        let mut histories: HashMap<String, Vec<CheckResult>> = HashMap::new();
        if !incoming.is_empty() {
            if let Err(e) = self.durable().flush().await {
                warn!(error = %e, "Cannot flush the store before a reload.");
            }
            match self.durable().load_histories(incoming).await {
                Ok(loaded) => histories = loaded,
                Err(e) => error!(error = %e, "Cannot read the stored history."),
            }
        }
        self.durable().set_spool_limits(plan.spool);
        let log_level = plan.log_level.clone();
        let (added, removed, changed) = self.apply_plan(plan);
        for name in &added {
            if let (Some(entry), Some(results)) = (self.store.get(name), histories.remove(name)) {
                entry.restore(results.into_iter().map(Arc::new).collect());
            }
        }
        if let Some(log) = self.lifecycle.log.get() {
            if let Some(warning) = log.set_log_level(log_level.as_deref()) {
                warn!(warning = %warning, "Log level not changed.");
            }
        }
        if let Some(listener) = listener {
            info!(address = %addr, "Listening on the new address.");
            let access = crate::api::server::Access::build(&self.plan().api, None);
            self.serve_api(listener, access);
        }
        if let Some(listener) = metrics_listener {
            match &listener {
                Some(l) => {
                    info!(address = ?l.local_addr().ok(), "Metrics listening on the new address.")
                }
                None => info!("Metrics listener closed."),
            }
            self.serve_metrics(listener);
        }
        Ok(ReloadReport {
            added,
            removed,
            changed,
        })
    }

    /// SIGKILLs the process group of every run in progress (second signal).
    pub(crate) fn kill_running(&self) {
        use nix::{
            sys::signal::{Signal, killpg},
            unistd::Pid,
        };
        for entry in self.store.checks().values() {
            let pid = entry.running().and_then(|(_, pid)| i32::try_from(pid).ok());
            if let Some(pid) = pid.filter(|pid| *pid > 0) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// One line for `systemctl status`.
    pub(crate) fn status_line(&self) -> String {
        let health = self.health();
        format!(
            "{} checks, config: {}, store: {}",
            self.store.checks().len(),
            if health.config_errors.is_some() {
                "stale"
            } else {
                "ok"
            },
            if health.store_error.is_some() {
                "memory"
            } else {
                "ok"
            },
        )
    }
}

/// Swaps the server in `slot`; the old one stops in the background.
fn replace_server(slot: &Mutex<Option<Server>>, server: Option<Server>) {
    let old = std::mem::replace(&mut *lock(slot), server);
    if let Some(old) = old {
        tokio::spawn(old.stop(OLD_LISTENER_GRACE));
    }
}

/// The config file's name for error lines.
fn config_name(plan: &Plan) -> String {
    plan.path
        .as_ref()
        .map_or_else(|| "<default>".to_string(), |p| p.display().to_string())
}

/// Whether two plans ask for the same listen address as written.
fn same_listen(old: &Plan, new: &Plan) -> bool {
    old.bind_host == new.bind_host && old.bind_port == new.bind_port
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{
        check::State,
        config::{load_default, load_str},
    };

    fn plan(yaml: &str) -> Plan {
        load_str("t.yaml", yaml, Path::new("/"))
            .expect("valid config")
            .plan
    }

    #[test]
    fn embedded_default_gets_a_temporary_state_dir() {
        let plan = load_default().expect("default").plan;
        assert!(plan.path.is_none() && plan.state_dir.is_none());
        let store = StateStore::open(&plan).expect("open");
        assert!(store.persistent(), "{:?}", store.error());
        let file = store.durable().path().expect("a file").to_path_buf();
        assert!(file.exists());
        assert!(file.starts_with(std::env::temp_dir()), "{}", file.display());
        drop(store);
        assert!(!file.exists(), "the temp dir goes away with the store");
    }

    #[test]
    fn unusable_state_dir_falls_back_to_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let plan = plan(&format!(
            "state_dir: {}/state\nplugins:\n  a: {{Command: 'true'}}\n",
            file.display()
        ));
        let store = StateStore::open(&plan).expect("memory fallback");
        assert!(!store.persistent());
        assert!(store.durable().path().is_none());
        assert!(
            store.error().is_some_and(|e| e.contains("file/state")),
            "{:?}",
            store.error()
        );
        let health = Health {
            config_errors: None,
            store_error: store.error(),
        };
        assert!(!health.ok());
        assert_eq!(health.to_json()["store"], "memory");
        assert_eq!(health.to_json()["status"], "degraded");
        assert_eq!(health.to_json()["config"], "ok");
    }

    #[test]
    fn health_json_follows_d8() {
        let ok = Health {
            config_errors: None,
            store_error: None,
        };
        assert!(ok.ok());
        assert_eq!(
            ok.to_json(),
            json!({"status": "ok", "config": "ok", "store": "ok"})
        );
        let stale = Health {
            config_errors: Some(vec!["t.yaml:3:5: plugins.a.Interval: bad".into()]),
            store_error: None,
        };
        assert_eq!(
            stale.to_json(),
            json!({"status": "degraded", "config": "stale", "store": "ok",
                   "configErrors": ["t.yaml:3:5: plugins.a.Interval: bad"]})
        );
        let refused = ReloadError::Config(vec!["t.yaml:1:1: x".into()]);
        assert_eq!(
            refused.to_json(),
            json!({"message": "configuration has errors, keeping the running configuration",
                   "errors": ["t.yaml:1:1: x"]})
        );
        let report = ReloadReport {
            added: vec!["d".into()],
            removed: vec![],
            changed: vec!["b".into()],
        };
        assert_eq!(
            report.to_json(),
            json!({"reloaded": true, "added": ["d"], "removed": [], "changed": ["b"]})
        );
    }

    #[tokio::test]
    async fn results_persist_and_reloads_restore_or_refuse() {
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml = |names: &[&str]| {
            let mut text = format!("state_dir: {}\nplugins:\n", dir.path().display());
            for name in names {
                text.push_str(&format!("  {name}: {{Command: 'true', History: 2}}\n"));
            }
            text
        };
        let first = plan(&yaml(&["a", "b"]));
        let state = StateStore::open(&first).expect("open");
        let daemon = Daemon::new(first, state);
        let a = daemon.store.get("a").expect("a");
        for i in 1..=3 {
            let (_, starter) = a.begin_run();
            let (done, _) = starter.expect("not running");
            let mut result =
                CheckResult::synthetic(State::Ok, format!("run {i}"), chrono::Local::now());
            result.run_id = 0;
            let recorded = daemon.record(&a, result, &done);
            assert_eq!(recorded.run_id, i);
        }

        // Without a loader a reload is refused but the config is not stale.
        assert!(matches!(
            daemon.reload().await,
            Err(ReloadError::Unavailable)
        ));
        assert!(daemon.health().config_errors.is_none());

        // Remove a, then bring it back: its stored history (bounded to 2) returns.
        let next = Arc::new(Mutex::new(Ok(plan(&yaml(&["b"])))));
        let source = next.clone();
        daemon.set_run_options(RunOptions {
            loader: Some(Arc::new(move || lock(&source).clone())),
            log: None,
        });
        let report = daemon.reload().await.expect("reload");
        assert_eq!(report.removed, ["a"]);
        assert!(daemon.store.get("a").is_none());
        *lock(&next) = Ok(plan(&yaml(&["a", "b"])));
        let report = daemon.reload().await.expect("reload");
        assert_eq!(report.added, ["a"]);
        let outputs: Vec<String> = daemon
            .store
            .get("a")
            .expect("a again")
            .history()
            .iter()
            .map(|r| r.output.clone())
            .collect();
        assert_eq!(outputs, ["run 2", "run 3"]);

        // A refused reload keeps the plan and marks the config stale.
        *lock(&next) = Err(vec!["t.yaml:2:3: plugins.a: broken".into()]);
        let refused = daemon.reload().await.expect_err("refused");
        assert_eq!(refused.errors(), ["t.yaml:2:3: plugins.a: broken"]);
        assert_eq!(daemon.store.checks().len(), 2);
        let health = daemon.health();
        assert!(!health.ok());
        assert_eq!(health.to_json()["config"], "stale");
        let metrics = daemon.metrics.render(false);
        assert!(
            metrics.contains("smoker_config_last_reload_success 0"),
            "{metrics}"
        );
        assert!(metrics.contains("smoker_store_persistent 1"), "{metrics}");
    }
}
