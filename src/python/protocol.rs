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

/// Why a shim run gave no usable reply; `how` is `exit N` / `signal S` / `no exit`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplyError {
    #[error("{how}, reply over the output cap")]
    OverCap { how: String },
    #[error("{how}, no single reply line")]
    NotOneLine { how: String },
    #[error("{how}, reply is not a v1 object")]
    NotV1 { how: String },
}

/// The one reply object, or why there is none.
pub fn reply(outcome: &ProcessOutcome) -> Result<Map<String, Value>, ReplyError> {
    let how = match outcome.exit {
        Exit::Code(c) => format!("exit {c}"),
        Exit::Signal(s) => format!("signal {s}"),
        _ => "no exit".to_string(),
    };
    if outcome.stdout_truncated {
        return Err(ReplyError::OverCap { how });
    }
    let text = String::from_utf8_lossy(&outcome.stdout);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(ReplyError::NotOneLine { how });
    };
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) if map.get("v") == Some(&json!(1)) => Ok(map),
        _ => Err(ReplyError::NotV1 { how }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(exit: Exit, stdout: &str, stderr: &str) -> ProcessOutcome {
        ProcessOutcome::for_test(exit, stdout, stderr)
    }

    fn result(exit: Exit, stdout: &str, stderr: &str) -> CheckResult {
        let spec = CheckSpec::for_test("py");
        let settings = PythonSettings::default();
        let out = outcome(exit, stdout, stderr);
        interpret(Op::Run, &spec, &settings, Duration::from_secs(3), &out)
    }

    const OK: &str = r#"{"v":1,"id":"py#1","outcome":"ok","result":{"status":"WARN","messages":{"info":[],"error":[],"warn":["slow"]},"componentResults":null,"action":null}}"#;

    #[test]
    fn an_ok_reply_maps_as_smoker_json() {
        let r = result(Exit::Code(0), &format!("{OK}\n"), "");
        assert_eq!(r.state, State::Warning);
        assert_eq!(r.output, "slow");
        assert_eq!(r.exit_code, None);
        assert_eq!(&*r.stdout, format!("{OK}\n"));
    }

    #[test]
    fn failures_keep_the_original_messages_with_state_unknown() {
        let reply = r#"{"v":1,"outcome":"error","summary":"boom","result":{"status":"ERROR","messages":{"info":[],"error":["boom"],"warn":[]}}}"#;
        let r = result(Exit::Code(0), reply, "Traceback …\n");
        assert_eq!(r.state, State::Unknown);
        assert_eq!(r.output, "boom");
        assert_eq!(r.messages.unwrap().error, ["boom"]);
        assert_eq!(&*r.stderr, "Traceback …\n");
    }

    #[test]
    fn a_missing_or_broken_reply_is_a_shim_failure() {
        for (exit, stdout) in [
            (Exit::Code(1), ""),
            (Exit::Code(0), "not json\n"),
            (Exit::Code(0), &format!("{OK}\n{OK}\n") as &str),
            (Exit::Code(0), r#"{"v":2}"#),
            (Exit::Signal(9), ""),
        ] {
            let r = result(exit.clone(), stdout, "last words\n");
            assert_eq!(r.state, State::Unknown, "{stdout}");
            assert!(r.output.starts_with("Python shim failed: "), "{}", r.output);
            assert!(r.output.ends_with(": last words"), "{}", r.output);
        }
        let r = result(Exit::Signal(9), "", "");
        assert_eq!(
            r.output,
            "Python shim failed: signal 9, no single reply line: "
        );
        assert_eq!(r.signal, Some(9));
    }

    #[test]
    fn a_hard_timeout_and_a_spawn_failure() {
        let r = result(Exit::TimedOut, "", "");
        assert_eq!(r.output, "Plugin execution exceeded timeout 3 seconds");
        assert!(r.timed_out);
        let r = result(Exit::SpawnFailed("No such file".into()), "", "");
        assert_eq!(
            r.output,
            "Can't execute Python interpreter python3: No such file"
        );
    }

    #[test]
    fn the_request_carries_params_only_in_its_line() {
        let mut spec = CheckSpec::for_test("py");
        spec.parameters
            .insert("Password", serde_json::json!("s3cret"));
        let line = request(
            Op::Run,
            &spec,
            &PythonSettings::default(),
            Duration::from_millis(1500),
            json!({"module": "m"}),
        );
        assert!(line.ends_with('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["params"]["Password"], "s3cret");
        assert_eq!(v["timeout"], 1.5);
        assert_eq!(v["op"], "run");
        assert_eq!(v["module"], "m");
    }
}
