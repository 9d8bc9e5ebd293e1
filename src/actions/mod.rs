//! Actions: what runs after a check result (smoker-compat.md §2.6, decisions.md D5).
//!
//! Owns the per-check pipeline: which actions apply (`Action`, `default_actions`,
//! `ActionOn`), dispatch to one module per action kind ([`command`], [`nsca`], [`python`]), and
//! the combined outcome stored in the plugin result's `action` field. An action
//! never changes the check's own status. Kinds get only a [`Context`].
//!
//! A new kind: a variant of [`ActionKind`] and its reader in `config`, a module here
//! with `run(ctx, …) -> CheckResult`, and one arm in [`Actions::run_one`].

mod command;
mod context;
mod icinga2;
mod nsca;
mod python;

pub use context::Context;

use tracing::warn;

use crate::{
    check::{ActionTrigger, CheckResult, CheckSpec, Messages},
    config::{ActionKind, ActionSpec},
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

/// The action pipeline of a daemon.
#[derive(Debug, Clone)]
pub struct Actions {
    ctx: Context,
}

impl Actions {
    pub fn new(ctx: Context) -> Actions {
        Actions { ctx }
    }

    /// Runs the check's actions and stores their combined outcome in `result.action`.
    pub async fn run(
        &self,
        spec: &CheckSpec,
        result: &mut CheckResult,
        previous: Option<&CheckResult>,
    ) {
        if spec.actions.is_empty() || !triggered(spec, result, previous) {
            return;
        }
        let plan = self.ctx.plan.borrow().clone();
        let mut outcomes = Vec::new();
        for name in &spec.actions {
            let Some(action) = plan.actions.get(name) else {
                warn!(check = %spec.name, action = %name, "Unknown action.");
                continue;
            };
            outcomes.push(self.run_one(name, action, spec, result).await);
        }
        result.action = combine(outcomes).map(Box::new);
    }

    /// One action's outcome for `result`.
    async fn run_one(
        &self,
        name: &str,
        action: &ActionSpec,
        spec: &CheckSpec,
        result: &CheckResult,
    ) -> CheckResult {
        let ctx = &self.ctx;
        match &action.kind {
            ActionKind::Command { template, timeout } => {
                command::run(ctx, template, *timeout, spec, result).await
            }
            ActionKind::Nsca(settings) => nsca::run(ctx, name, settings, spec, result),
            ActionKind::Icinga2(settings) => icinga2::run(ctx, name, settings, spec, result),
            ActionKind::Module { module, timeout } => {
                python::run(ctx, module, *timeout, spec, result).await
            }
        }
    }
}

/// One outcome from several: the worst state, the messages of all.
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
