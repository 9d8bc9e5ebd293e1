//! The daemon's use of the durable store beyond single results: history restored
//! at start and for checks coming back into the config, stored checks pruned
//! after `removed_check_grace`, and the last commit at shutdown.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    check::CheckResult,
    config::{Plan, PlanWatch},
    store::{CheckEntry, Store, durable::Durable},
};

/// How often stored checks missing from the config are looked at (at most).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest wait for the store's last commit at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Seeds the history of `entries` from the durable store (start-up).
pub async fn restore(durable: &Durable, entries: &[Arc<CheckEntry>]) {
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
    let mut histories = match durable.load_histories(wanted).await {
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

/// The stored history of the checks of `plan` that `store` does not hold yet, read
/// before a reload swaps the plan in (queued results are committed first).
pub async fn incoming(
    durable: &Durable,
    store: &Store,
    plan: &Plan,
) -> HashMap<String, Vec<CheckResult>> {
    let current = store.checks();
    let incoming: Vec<(String, usize)> = plan
        .checks
        .iter()
        .filter(|c| !current.contains_key(&c.name))
        .map(|c| (c.name.clone(), c.history.max(1)))
        .collect();
    if incoming.is_empty() {
        return HashMap::new();
    }
    if let Err(e) = durable.flush().await {
        warn!(error = %e, "Cannot flush the store before a reload.");
    }
    match durable.load_histories(incoming).await {
        Ok(loaded) => loaded,
        Err(e) => {
            error!(error = %e, "Cannot read the stored history.");
            HashMap::new()
        }
    }
}

/// Drops stored checks missing from the config for `removed_check_grace`; runs
/// after every plan change and at least hourly, until `shutdown`.
pub async fn prune_loop(durable: Durable, mut plan: PlanWatch, shutdown: CancellationToken) {
    loop {
        let current = plan.borrow_and_update().clone();
        let grace = current.removed_check_grace;
        let alive: Vec<String> = current.checks.iter().map(|c| c.name.clone()).collect();
        match durable.prune(alive, grace).await {
            Ok(dropped) if !dropped.is_empty() => {
                info!(checks = ?dropped, "Dropped the stored history of removed checks.");
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "Cannot prune the store."),
        }
        let every = PRUNE_EVERY.min(grace.max(Duration::from_secs(1)));
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = plan.changed() => if changed.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Commits what is queued (shutdown); a degraded store tries one last re-open first.
pub async fn flush(durable: &Durable) {
    match tokio::time::timeout(FLUSH_TIMEOUT, durable.flush_reopen()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => error!(error = %e, "Cannot flush the store at shutdown."),
        Err(_) => error!("Store flush timed out at shutdown."),
    }
}
