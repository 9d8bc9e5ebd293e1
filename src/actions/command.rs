//! The `Command` action kind: a shell command template run through the shared
//! executor with the original's substitution (params ⊕ result fields, plus
//! `%(name)s` and `%(result_json)s`; smoker-compat.md §1.4, decisions.md D5).

use std::time::Duration;

use serde_json::{Value, json};

use super::context::Context;
use crate::{
    check::{CheckResult, CheckSpec, Command, ExitCodes, State},
    config::subst,
    render,
};

/// Runs the action's command for `result`; its own result is the action outcome.
pub async fn run(
    ctx: &Context,
    template: &str,
    timeout: Duration,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    let fields = result_fields(spec, result);
    let lookup = |key: &str| {
        fields
            .get(key)
            .cloned()
            .or_else(|| spec.parameters.get_json(key))
    };
    match subst::substitute(template, &lookup) {
        Ok(command) => {
            let mut action_spec = spec.clone();
            action_spec.command = Command::Shell(command);
            action_spec.timeout = timeout;
            action_spec.exit_codes = ExitCodes::Smoker;
            let mut outcome = crate::runner::run_check(&ctx.executor, &action_spec, &|_| {}).await;
            outcome.perfdata.clear();
            outcome
        }
        Err(e) => CheckResult::synthetic(State::Critical, e.to_string(), chrono::Local::now()),
    }
}

/// Fields of the result an action command may use (§1.4 + D5).
fn result_fields(spec: &CheckSpec, result: &CheckResult) -> serde_json::Map<String, Value> {
    let rendered = render::result(result, false);
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
