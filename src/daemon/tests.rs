//! The daemon's state, store and reload path without the network edge.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use super::{RunOptions, edge::Edge, state::Daemon};
use crate::{
    check::{CheckResult, State},
    config::{Plan, load_str},
    control::ReloadError,
    store::StateStore,
};

fn plan(yaml: &str) -> Plan {
    load_str("t.yaml", yaml, Path::new("/"))
        .expect("valid config")
        .plan
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    let (mut daemon, _requests) = Daemon::new(first, state, RunOptions::default());
    let mut edge = Edge::default();
    let a = daemon.store.get("a").expect("a");
    for i in 1..=3 {
        let (_, starter) = a.begin_run();
        let (done, _) = starter.expect("not running");
        let mut result =
            CheckResult::synthetic(State::Ok, format!("run {i}"), chrono::Local::now());
        result.run_id = 0;
        let recorded = daemon.runs.record(&a, result, &done);
        assert_eq!(recorded.run_id, i);
    }

    // Without a loader a reload is refused but the config is not stale.
    assert!(matches!(
        daemon.reload(&mut edge).await,
        Err(ReloadError::Unavailable)
    ));
    assert!(daemon.status().health().config_errors.is_none());

    // Remove a, then bring it back: its stored history (bounded to 2) returns.
    let next = Arc::new(Mutex::new(Ok(plan(&yaml(&["b"])))));
    let source = next.clone();
    daemon.options.loader = Some(Arc::new(move || lock(&source).clone()));
    let report = daemon.reload(&mut edge).await.expect("reload");
    assert_eq!(report.removed, ["a"]);
    assert!(daemon.store.get("a").is_none());
    *lock(&next) = Ok(plan(&yaml(&["a", "b"])));
    let report = daemon.reload(&mut edge).await.expect("reload");
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
    let refused = daemon.reload(&mut edge).await.expect_err("refused");
    assert_eq!(refused.errors(), ["t.yaml:2:3: plugins.a: broken"]);
    assert_eq!(daemon.store.checks().len(), 2);
    let health = daemon.status().health();
    assert!(!health.ok());
    assert_eq!(health.to_json()["config"], "stale");
    let metrics = daemon.metrics.render(false);
    assert!(
        metrics.contains("smoker_config_last_reload_success 0"),
        "{metrics}"
    );
    assert!(metrics.contains("smoker_store_persistent 1"), "{metrics}");
}

#[tokio::test]
async fn a_run_that_ends_after_its_check_was_removed_leaves_no_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = |names: &[&str]| {
        let mut text = format!("state_dir: {}\nplugins:\n", dir.path().display());
        for name in names {
            text.push_str(&format!("  {name}: {{Command: 'true'}}\n"));
        }
        text
    };
    let first = plan(&yaml(&["gone", "kept"]));
    let state = StateStore::open(&first).expect("open");
    let (mut daemon, _requests) = Daemon::new(first, state, RunOptions::default());
    let mut edge = Edge::default();
    let gone = daemon.store.get("gone").expect("gone");
    let (_, starter) = gone.begin_run();
    let (done, _) = starter.expect("not running");

    let next = plan(&yaml(&["kept"]));
    daemon.options.loader = Some(Arc::new(move || Ok(next.clone())));
    let report = daemon.reload(&mut edge).await.expect("reload");
    assert_eq!(report.removed, ["gone"]);
    assert!(gone.is_retired());
    // The unchanged check is kept once: the plan holds the store's spec.
    let kept = daemon.store.get("kept").expect("kept").spec();
    assert!(Arc::ptr_eq(&daemon.plan.borrow().checks[0], &kept));

    let result = CheckResult::synthetic(State::Critical, "late", chrono::Local::now());
    daemon.runs.record(&gone, result, &done);
    let metrics = daemon.metrics.render(false);
    assert!(!metrics.contains("\"gone\""), "{metrics}");
    assert!(metrics.contains("check=\"kept\""), "{metrics}");
}
