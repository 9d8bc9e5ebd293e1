//! Protocol v1 between smokerd and the shim (python.md §3.5, §3.7): the request
//! line, and the reply (or its absence) turned into a [`CheckResult`].

use std::{sync::Arc, time::Duration};

use serde_json::{Map, Value, json};
use tracing::warn;

use super::settings::PythonSettings;
use crate::{
    check::{CheckResult, CheckSpec, State},
    executor::{Exit, ProcessOutcome},
    runner,
};

/// What the shim is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Run,
    Parse,
    Action,
    Probe,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Run => "run",
            Op::Parse => "parse",
            Op::Action => "action",
            Op::Probe => "probe",
        }
    }
}

/// The request line for `op` on `spec` (parameters unredacted: it only travels over the pipe).
pub fn request(
    op: Op,
    spec: &CheckSpec,
    settings: &PythonSettings,
    timeout: Duration,
    fields: Value,
) -> String {
    let mut request = json!({
        "v": 1,
        "id": request_id(&spec.name),
        "op": op.as_str(),
        "name": spec.name,
        "params": spec.parameters,
        "forced": false,
        "timeout": timeout.as_secs_f64(),
        "path": settings.path,
        "maxMemory": settings.max_memory,
        "logLevel": log_level(),
    });
    if let (Value::Object(request), Value::Object(fields)) = (&mut request, fields) {
        request.extend(fields);
    }
    let mut line = request.to_string();
    line.push('\n');
    line
}

/// `NAME#PID` — enough to tell a stale reply from this one.
fn request_id(name: &str) -> String {
    format!("{name}#{}", std::process::id())
}

/// The shim's log level: the daemon's `-v`/`-d` map to INFO/DEBUG.
fn log_level() -> &'static str {
    if tracing::enabled!(tracing::Level::DEBUG) {
        "DEBUG"
    } else if tracing::enabled!(tracing::Level::INFO) {
        "INFO"
    } else {
        "WARNING"
    }
}

/// UNKNOWN `Python shim failed: …`.
pub fn shim_failed(reason: &str, started: chrono::DateTime<chrono::Local>) -> CheckResult {
    CheckResult::synthetic(
        State::Unknown,
        format!("Python shim failed: {reason}"),
        started,
    )
}

/// The result of one shim process.
pub fn interpret(
    op: Op,
    spec: &CheckSpec,
    settings: &PythonSettings,
    timeout: Duration,
    outcome: &ProcessOutcome,
) -> CheckResult {
    let stderr = String::from_utf8_lossy(&outcome.stderr).into_owned();
    let started = outcome.started_at;
    let mut result = match &outcome.exit {
        Exit::SpawnFailed(reason) => CheckResult::synthetic(
            State::Unknown,
            format!(
                "Can't execute Python interpreter {}: {reason}",
                settings.interpreter.display()
            ),
            started,
        ),
        Exit::TimedOut => {
            let kind = if op == Op::Parse { "Parser" } else { "Plugin" };
            let text = format!(
                "{kind} execution exceeded timeout {} seconds",
                timeout.as_secs()
            );
            let mut r = CheckResult::synthetic(spec.timeout_state, text, started);
            r.timed_out = true;
            r
        }
        Exit::Interrupted => {
            CheckResult::synthetic(State::Unknown, "interrupted by shutdown", started)
        }
        Exit::Code(_) | Exit::Signal(_) => match reply(outcome) {
            Ok(reply) => from_reply(spec, &reply, started),
            Err(reason) => {
                let mut r = shim_failed(&format!("{reason}: {}", last_line(&stderr)), started);
                r.exit_code = match outcome.exit {
                    Exit::Code(c) => Some(c),
                    _ => None,
                };
                r.signal = match outcome.exit {
                    Exit::Signal(s) => Some(s),
                    _ => None,
                };
                r
            }
        },
    };
    if result.state != State::Ok && !stderr.trim().is_empty() {
        warn!(check = %spec.name, stderr = %stderr.trim_end(), "Python run wrote to stderr.");
    }
    result.duration = outcome.duration;
    result.truncated = outcome.stderr_truncated;
    result.stdout = Arc::from(String::from_utf8_lossy(&outcome.stdout).as_ref());
    result.stderr = Arc::from(stderr);
    result
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// The one reply object, or why there is none (`exit N` / `signal S` / …).
pub fn reply(outcome: &ProcessOutcome) -> Result<Map<String, Value>, String> {
    let how = match outcome.exit {
        Exit::Code(c) => format!("exit {c}"),
        Exit::Signal(s) => format!("signal {s}"),
        _ => "no exit".to_string(),
    };
    if outcome.stdout_truncated {
        return Err(format!("{how}, reply over the output cap"));
    }
    let text = String::from_utf8_lossy(&outcome.stdout);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(format!("{how}, no single reply line"));
    };
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) if map.get("v") == Some(&json!(1)) => Ok(map),
        _ => Err(format!("{how}, reply is not a v1 object")),
    }
}

/// Reply → result: `ok` as the smoker JSON rule; the others with the original's
/// messages and components but state UNKNOWN (or `TimeoutState`) and `output` = summary.
fn from_reply(
    spec: &CheckSpec,
    reply: &Map<String, Value>,
    started: chrono::DateTime<chrono::Local>,
) -> CheckResult {
    let outcome = reply.get("outcome").and_then(Value::as_str).unwrap_or("");
    let object = match reply.get("result") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    let mut result = runner::from_smoker_json(object, started);
    let summary = reply
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match outcome {
        "ok" => {}
        "timeout" => {
            result.state = spec.timeout_state;
            result.timed_out = true;
            result.output = summary;
        }
        "error" | "invalid" => {
            result.state = State::Unknown;
            result.output = summary;
        }
        other => {
            return shim_failed(&format!("unknown outcome {other:?}"), started);
        }
    }
    result
}
