//! The one reload path (SIGHUP and `POST /v2/reload` both arrive here through the
//! event loop): validate the new configuration fully, bind new listen addresses,
//! then apply it: the store's checks, the executor's limits, the log level, and
//! the new plan sent to every component, which follows it itself. On any error the
//! running configuration stays and the error shows in `/healthz` and metrics.

use std::sync::Arc;

use tracing::{error, info, warn};

use super::{edge::Edge, history, state::Daemon};
use crate::{
    config::Plan,
    control::{ReloadError, ReloadReport},
    events::Event,
    systemd,
};

impl Daemon {
    /// Reloads the configuration and reports the outcome everywhere it shows.
    pub async fn reload(&self, edge: &mut Edge) -> Result<ReloadReport, ReloadError> {
        systemd::notify_reloading();
        let outcome = self.try_reload(edge).await;
        match &outcome {
            Ok(report) => {
                self.config_errors.send_replace(None);
                info!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, "Configuration reloaded.");
                self.events
                    .publish(|| Event::Reload(Arc::new(report.clone())));
            }
            Err(e) => {
                let errors = e.errors();
                error!(errors = %errors.join("; "), "{e}");
                if !matches!(e, ReloadError::Unavailable) {
                    self.config_errors.send_replace(Some(errors));
                }
            }
        }
        self.metrics.config_reload(outcome.is_ok());
        systemd::notify_ready();
        systemd::notify_status(&self.status_line());
        outcome
    }

    async fn try_reload(&self, edge: &mut Edge) -> Result<ReloadReport, ReloadError> {
        let loader = self
            .options
            .loader
            .clone()
            .ok_or(ReloadError::Unavailable)?;
        let plan = match tokio::task::spawn_blocking(move || loader()).await {
            Ok(loaded) => loaded.map_err(ReloadError::Config)?,
            Err(e) => return Err(ReloadError::Config(vec![format!("reload failed: {e}")])),
        };
        let old = self.plan();
        // New listen addresses are bound before anything changes.
        let bound = edge
            .bind(Some(&old), &plan)
            .await
            .map_err(|e| ReloadError::Listen(vec![e.to_string()]))?;
        if plan.state_dir != old.state_dir {
            warn!("A changed state_dir takes effect at the next start.");
        }
        if plan.log_format != old.log_format {
            warn!("A changed log_format takes effect at the next start.");
        }
        let mut histories = history::incoming(self.durable(), &self.store, &plan).await;
        let log_level = plan.log_level.clone();
        let report = self.apply(plan);
        for name in &report.added {
            if let (Some(entry), Some(results)) = (self.store.get(name), histories.remove(name)) {
                entry.restore(results.into_iter().map(Arc::new).collect());
            }
        }
        if let Some(log) = &self.options.log {
            if let Some(warning) = log.set_log_level(log_level.as_deref()) {
                warn!(warning = %warning, "Log level not changed.");
            }
        }
        if let Some(addr) = bound.api_addr() {
            info!(address = %addr, "Listening on the new address.");
        }
        edge.serve(bound, self);
        Ok(report)
    }

    /// Swaps in a validated plan: the store's checks first (kept names keep their
    /// history), then the limits, then the plan every component follows.
    pub fn apply(&self, mut plan: Plan) -> ReloadReport {
        self.durable().set_spool_limits(plan.spool);
        let (added, removed, changed) = self.store.apply(&mut plan.checks);
        for name in &removed {
            self.metrics.check_removed(name);
        }
        self.metrics.checks_known(&plan.checks);
        self.executor.set_limit(plan.nr_concurrent_plugins);
        self.executor.set_run_as_root(plan.run_as_root);
        self.plan.send_replace(Arc::new(plan));
        ReloadReport {
            added,
            removed,
            changed,
        }
    }
}
