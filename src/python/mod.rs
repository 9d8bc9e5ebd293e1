//! Python extension points (spec python.md): the original's `Module:` checks,
//! `Parser:`s and action `Module:`s, each run as one `python3` process through the
//! shared [`Executor`], so uid/gid, the process group, timeout → TERM → KILL,
//! limits, `Overlap`, shutdown and `MaxOutput` apply unchanged.
//!
//! The request (parameters included) goes on stdin as one JSON line; the reply
//! comes back as one JSON line ([`protocol`]). The shim is embedded ([`shim`]).

pub mod probe;
pub mod protocol;
pub mod settings;
pub mod shim;

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{
    check::{CheckResult, CheckSpec, Command, State},
    executor::{Environment, Executor, Exit, ProcessRequest, Program},
    runner,
};
use protocol::Op;
use settings::PythonSettings;

/// Smallest capture of a shim's stdout and stderr (the reply line must fit).
const MIN_CAPTURE: usize = 4 << 20;

/// Whether `spec` runs through the shim (a `Module:` or a `Parser:`).
pub fn applies(spec: &CheckSpec) -> bool {
    matches!(spec.command, Command::Python { .. })
        || spec.python.as_ref().is_some_and(|p| p.parser.is_some())
}

/// One run of a Python check: a `Module:` through the shim, or a command whose
/// output a `Parser:` turns into the result.
pub async fn run_check(
    executor: &Executor,
    spec: &CheckSpec,
    on_spawn: &(dyn Fn(u32) + Sync),
    cancel: Option<watch::Receiver<bool>>,
) -> CheckResult {
    let settings = settings_of(spec);
    let call = Call {
        executor,
        spec,
        settings: &settings,
        timeout: spec.timeout,
    };
    if let Command::Python { module } = &spec.command {
        let request = json!({"module": module});
        return call.run(Op::Run, request, on_spawn, cancel).await;
    }
    let parser = spec.python.as_ref().and_then(|p| p.parser.clone());
    let Some(process) = runner::process_request(spec) else {
        return runner::run_check_cancellable(executor, spec, on_spawn, cancel).await;
    };
    let outcome = match cancel.clone() {
        Some(c) => executor.run_cancellable(process, on_spawn, c).await,
        None => executor.run_observed(process, on_spawn).await,
    };
    let (Some(parser), Exit::Code(_) | Exit::Signal(_)) = (parser, &outcome.exit) else {
        return runner::interpret(spec, outcome);
    };
    let stdout = String::from_utf8_lossy(&outcome.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&outcome.stderr).trim().to_string();
    let request = json!({"parser": parser, "stdout": stdout, "stderr": stderr});
    let mut result = call.run(Op::Parse, request, on_spawn, cancel).await;
    result.exit_code = match outcome.exit {
        Exit::Code(code) => Some(code),
        _ => None,
    };
    result.signal = match outcome.exit {
        Exit::Signal(signal) => Some(signal),
        _ => None,
    };
    result.started_at = outcome.started_at;
    result.duration += outcome.duration;
    result.truncated |= outcome.stdout_truncated || outcome.stderr_truncated;
    result.stdout = Arc::from(String::from_utf8_lossy(&outcome.stdout).as_ref());
    result.stderr = Arc::from(String::from_utf8_lossy(&outcome.stderr).as_ref());
    result
}

/// A `Module:` action for the check's `result`, as the check's uid, under the
/// action's `timeout`; `perfdata` cleared.
pub async fn run_action(
    executor: &Executor,
    module: &str,
    timeout: Duration,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    let settings = settings_of(spec);
    let call = Call {
        executor,
        spec,
        settings: &settings,
        timeout,
    };
    let mut check_result = crate::render::result(result, false);
    if let Value::Object(map) = &mut check_result {
        map.insert("forced".into(), Value::Bool(false));
    }
    let request = json!({"module": module, "checkResult": check_result});
    let mut outcome = call.run(Op::Action, request, &|_| {}, None).await;
    outcome.perfdata.clear();
    outcome
}

fn settings_of(spec: &CheckSpec) -> PythonSettings {
    spec.python
        .as_ref()
        .map(|p| p.settings.clone())
        .unwrap_or_default()
}

/// One shim process for one check.
struct Call<'a> {
    executor: &'a Executor,
    spec: &'a CheckSpec,
    settings: &'a PythonSettings,
    /// The soft timeout inside Python; the hard deadline adds `timeout_grace`.
    timeout: Duration,
}

impl Call<'_> {
    /// Starts the shim with `op` and the op's fields, and maps its reply.
    async fn run(
        &self,
        op: Op,
        fields: Value,
        on_spawn: &(dyn Fn(u32) + Sync),
        cancel: Option<watch::Receiver<bool>>,
    ) -> CheckResult {
        let started = chrono::Local::now();
        let dir = match shim::dir(self.settings) {
            Ok(dir) => dir,
            Err(e) => return protocol::shim_failed(&e.to_string(), started),
        };
        let request = protocol::request(op, self.spec, self.settings, self.timeout, fields);
        let process = ProcessRequest {
            program: Program::Argv(vec![
                self.settings.interpreter.to_string_lossy().into_owned(),
                "-s".into(),
                "-B".into(),
                dir.join(shim::ENTRY).to_string_lossy().into_owned(),
            ]),
            env: Environment::Inherit(self.environment()),
            timeout: self.timeout + self.settings.timeout_grace,
            kill_grace: runner::KILL_GRACE,
            max_output: self.spec.max_output.max(MIN_CAPTURE),
            capture_stderr: true,
            uid: self.spec.uid.clone(),
            gid: self.spec.gid.clone(),
            stdin: Some(Arc::from(request.into_bytes())),
        };
        let _permit = self.settings.permits.acquire().await.ok();
        let outcome = match &cancel {
            Some(c) => {
                let c = c.clone();
                self.executor.run_cancellable(process, on_spawn, c).await
            }
            None => self.executor.run_observed(process, on_spawn).await,
        };
        let mut result = protocol::interpret(op, self.spec, self.settings, self.timeout, &outcome);
        let killed = outcome.exit == Exit::Interrupted && cancel.is_some_and(|c| *c.borrow());
        if killed {
            // `Overlap: kill`, as for a Command.
            result.state = State::Unknown;
            result.output = runner::KILLED_BY_OVERLAP.to_string();
            result.messages =
                CheckResult::synthetic(State::Unknown, &result.output, started).messages;
        }
        result
    }

    /// The check's `Env:` plus `MALLOC_ARENA_MAX=2` (threads of a plugin stay small).
    fn environment(&self) -> Vec<(String, String)> {
        let mut env = self.spec.env.clone();
        if !env.iter().any(|(k, _)| k == "MALLOC_ARENA_MAX") {
            env.push(("MALLOC_ARENA_MAX".into(), "2".into()));
        }
        env
    }
}
