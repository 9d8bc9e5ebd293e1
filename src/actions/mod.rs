//! Actions: what runs after a check result (smoker-compat.md §2.6, decisions.md D5).
//!
//! Owns the per-check pipeline: which actions apply (`Action`, `default_actions`,
//! `ActionOn`), running `Command` actions with the original's substitution
//! (params ⊕ result fields, plus `%(name)s` and `%(result_json)s`), and the
//! combined action result stored in the plugin result's `action` field. An
//! action never changes the check's own status.

use std::sync::Arc;

use serde_json::{Value, json};
use tracing::warn;

use crate::{
    check::{ActionTrigger, CheckResult, CheckSpec, Command, ExitCodes, Messages, State},
    config::{ActionKind, subst},
    daemon::Daemon,
};

/// Whether `ActionOn` lets this result through.
pub fn triggered(spec: &CheckSpec, result: &CheckResult, previous: Option<&CheckResult>) -> bool {
    if spec.action_on.is_empty() {
        return true;
    }
    spec.action_on.iter().any(|trigger| match trigger {
        ActionTrigger::Change => previous.is_none_or(|p| p.state != result.state),
        ActionTrigger::State(state) => result.state == *state,
    })
}

/// Runs the check's actions and stores their combined result in `result.action`.
pub async fn run(
    daemon: &Arc<Daemon>,
    spec: &CheckSpec,
    result: &mut CheckResult,
    previous: Option<&CheckResult>,
) {
    if spec.actions.is_empty() || !triggered(spec, result, previous) {
        return;
    }
    let plan = daemon.plan();
    let mut outcomes = Vec::new();
    for name in &spec.actions {
        let Some(action) = plan.actions.get(name) else {
            warn!(check = %spec.name, action = %name, "Unknown action.");
            continue;
        };
        let outcome = match &action.kind {
            ActionKind::Command { template, timeout } => {
                let fields = result_fields(spec, result);
                let lookup = |key: &str| {
                    fields
                        .get(key)
                        .cloned()
                        .or_else(|| spec.parameters.get(key).cloned())
                };
                match subst::substitute(template, &lookup) {
                    Ok(command) => {
                        let mut action_spec = spec.clone();
                        action_spec.command = Command::Shell(command);
                        action_spec.timeout = *timeout;
                        action_spec.exit_codes = ExitCodes::Smoker;
                        let mut r =
                            crate::runner::run_check(&daemon.executor, &action_spec, &|_| {}).await;
                        r.perfdata.clear();
                        r
                    }
                    Err(e) => {
                        CheckResult::synthetic(State::Critical, e.to_string(), chrono::Local::now())
                    }
                }
            }
            // Queued in the durable spool; the action's sink delivers it (D5).
            ActionKind::Nsca(settings) => crate::nsca::sink::enqueue(
                daemon.durable(),
                name,
                settings,
                &daemon.hostname,
                spec,
                result,
            ),
            ActionKind::Nothing => CheckResult::synthetic(
                State::Critical,
                "No Command or Module to execute!",
                chrono::Local::now(),
            ),
            ActionKind::Module(module) => CheckResult::synthetic(
                State::Critical,
                format!("Python modules are not supported, use Command ({module})"),
                chrono::Local::now(),
            ),
        };
        outcomes.push(outcome);
    }
    result.action = combine(outcomes).map(Box::new);
}

/// Fields of the result an action command may use (§1.4 + D5).
fn result_fields(spec: &CheckSpec, result: &CheckResult) -> serde_json::Map<String, Value> {
    let rendered = crate::api::render::result(result, false);
    let mut fields = serde_json::Map::new();
    for key in ["status", "messages", "lastRun", "componentResults"] {
        fields.insert(key.into(), rendered[key].clone());
    }
    fields.insert("action".into(), Value::Null);
    fields.insert("forced".into(), json!(false));
    fields.insert("name".into(), spec.name.clone().into());
    fields.insert("result_json".into(), Value::String(rendered.to_string()));
    fields
}

fn combine(mut outcomes: Vec<CheckResult>) -> Option<CheckResult> {
    if outcomes.len() <= 1 {
        return outcomes.pop();
    }
    let mut combined = outcomes[0].clone();
    let mut messages = Messages::default();
    for o in &outcomes {
        combined.state = combined.state.worst(o.state);
        if let Some(m) = &o.messages {
            messages.info.extend(m.info.iter().cloned());
            messages.error.extend(m.error.iter().cloned());
            messages.warn.extend(m.warn.iter().cloned());
        }
    }
    combined.messages = if messages.is_empty() {
        None
    } else {
        Some(messages)
    };
    Some(combined)
}
