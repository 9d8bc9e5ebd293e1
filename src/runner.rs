//! Runner: one run of a check, from [`CheckSpec`] to [`CheckResult`].
//!
//! Owns the Nagios result semantics: exit code mapping (decisions.md D2), plugin
//! output → output/long output/perfdata/messages (D3), the smoker JSON-on-stdout
//! path with its validation (smoker-compat.md §2.2–2.3), timeouts and spawn
//! failures as UNKNOWN results. Processes are started by [`crate::executor`].

use std::{sync::Arc, time::Duration};

use indexmap::IndexMap;
use serde_json::Value;
use tracing::warn;

use crate::{
    check::{CheckResult, CheckSpec, Command, ComponentResult, ExitCodes, Messages, State},
    executor::{Environment, Executor, Exit, ProcessOutcome, ProcessRequest, Program},
};

/// Grace between SIGTERM and SIGKILL for a check that timed out (the original waits 3 s).
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Runs `spec` once. Never fails: every problem is a result.
pub async fn run_check(
    executor: &Executor,
    spec: &CheckSpec,
    on_spawn: &(dyn Fn(u32) + Sync),
) -> CheckResult {
    run_check_cancellable(executor, spec, on_spawn, None).await
}

/// Text of a run terminated because its next one was due (`Overlap: kill`).
pub const KILLED_BY_OVERLAP: &str = "killed: the next run was due (Overlap: kill)";

/// [`run_check`] that `cancel` can terminate (`Overlap: kill`): the result is then
/// UNKNOWN [`KILLED_BY_OVERLAP`] with what the process wrote so far.
pub async fn run_check_cancellable(
    executor: &Executor,
    spec: &CheckSpec,
    on_spawn: &(dyn Fn(u32) + Sync),
    cancel: Option<tokio::sync::watch::Receiver<bool>>,
) -> CheckResult {
    if let Command::Builtin(_, check) = &spec.command {
        // A built-in that can block (statvfs, connect, TLS) counts against
        // `nr_concurrent_plugins` like a process; /proc reads do not wait.
        let _permit = if check.may_block() {
            executor.permit().await
        } else {
            None
        };
        return run_builtin(spec, check).await;
    }
    let Some(request) = process_request(spec) else {
        return match &spec.command {
            Command::Invalid { state, text } => {
                CheckResult::synthetic(*state, text.clone(), chrono::Local::now())
            }
            _ => CheckResult::synthetic(
                State::Unknown,
                "Python checks run through the Python shim",
                chrono::Local::now(),
            ),
        };
    };
    let Some(cancel) = cancel else {
        return interpret(spec, executor.run_observed(request, on_spawn).await);
    };
    let outcome = executor
        .run_cancellable(request, on_spawn, cancel.clone())
        .await;
    let killed = outcome.exit == Exit::Interrupted && *cancel.borrow();
    let mut result = interpret(spec, outcome);
    if killed {
        let mut killed =
            CheckResult::synthetic(State::Unknown, KILLED_BY_OVERLAP, result.started_at);
        killed.duration = result.duration;
        killed.truncated = result.truncated;
        killed.stdout = result.stdout.clone();
        killed.stderr = result.stderr.clone();
        result = killed;
    }
    result
}

/// The process of a `Command`/`Argv` check; `None` for one that starts no command.
pub fn process_request(spec: &CheckSpec) -> Option<ProcessRequest> {
    let program = match &spec.command {
        Command::Invalid { .. } | Command::Python { .. } | Command::Builtin(..) => return None,
        Command::Shell(text) => Program::Shell(text.clone()),
        Command::Argv(argv) => Program::Argv(argv.clone()),
    };
    Some(ProcessRequest {
        program,
        env: Environment::Inherit(spec.env.clone()),
        timeout: spec.timeout,
        kill_grace: KILL_GRACE,
        max_output: spec.max_output,
        capture_stderr: true,
        uid: spec.uid.clone(),
        gid: spec.gid.clone(),
        stdin: None,
    })
}

/// Runs a built-in within the check's `Timeout`; its text and code are read as a
/// plugin's would be.
async fn run_builtin(spec: &CheckSpec, check: &crate::builtin::Builtin) -> CheckResult {
    interpret(spec, builtin_outcome(check, spec.timeout).await)
}

/// What a built-in did within `timeout`, as a process outcome (its text on stdout,
/// its state as the exit code), for the result pipeline and the NRPE reply alike.
pub async fn builtin_outcome(
    check: &crate::builtin::Builtin,
    timeout: std::time::Duration,
) -> ProcessOutcome {
    use crate::builtin::{self, Ended};
    let started_at = chrono::Local::now();
    let clock = std::time::Instant::now();
    let (exit, stdout) = match builtin::run(check, timeout).await {
        Ended::Done(out) => (Exit::Code(out.code), out.text.into_bytes()),
        Ended::TimedOut => (Exit::TimedOut, Vec::new()),
        Ended::Saturated => {
            let text = format!(
                "UNKNOWN - {} built-in checks are stuck in the kernel; not started",
                builtin::MAX_STUCK
            );
            (Exit::Code(3), text.into_bytes())
        }
    };
    ProcessOutcome {
        exit,
        stdout,
        stderr: Vec::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        pid: None,
        duration: clock.elapsed(),
        started_at,
    }
}

/// Turns what a process did into a result, per the check's settings.
pub fn interpret(spec: &CheckSpec, outcome: ProcessOutcome) -> CheckResult {
    let stdout = String::from_utf8_lossy(&outcome.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&outcome.stderr).into_owned();
    let mut result = match &outcome.exit {
        Exit::SpawnFailed(reason) => {
            warn!(check = %spec.name, error = %reason, "check {} could not start: {reason}", spec.name);
            CheckResult::synthetic(
                State::Unknown,
                format!(
                    "Can't execute command {}: {reason}",
                    command_text(&spec.command)
                ),
                outcome.started_at,
            )
        }
        Exit::TimedOut => {
            let seconds = spec.timeout.as_secs_f64();
            warn!(check = %spec.name, seconds, "check {} timed out after {seconds} s", spec.name);
            let mut r = CheckResult::synthetic(
                spec.timeout_state,
                format!("Execution timeout after {} seconds", spec.timeout.as_secs()),
                outcome.started_at,
            );
            r.timed_out = true;
            r
        }
        Exit::Interrupted => CheckResult::synthetic(
            State::Unknown,
            "interrupted by shutdown",
            outcome.started_at,
        ),
        Exit::Code(_) | Exit::Signal(_) => match json_object(&stdout) {
            Some(object) => from_smoker_json(object, outcome.started_at),
            None => from_plugin_output(
                spec.exit_codes,
                &outcome.exit,
                head(&stdout, API_TEXT_CAP),
                head(&stderr, API_TEXT_CAP),
                outcome.started_at,
            ),
        },
    };
    if let Exit::Code(code) = outcome.exit {
        result.exit_code = Some(code);
    }
    if let Exit::Signal(signal) = outcome.exit {
        result.signal = Some(signal);
    }
    result.duration = outcome.duration;
    result.truncated = outcome.stdout_truncated || outcome.stderr_truncated;
    result.stdout = Arc::from(stdout);
    result.stderr = Arc::from(stderr);
    result
}

/// Most bytes of plain-text stdout and of stderr that become `output`, `longOutput`,
/// `perfdata` and `messages`, so smoker API answers stay bounded when a job raises
/// `MaxOutput`; the full capture is kept in the run log (`/v2/plugins/{name}/runs`).
pub const API_TEXT_CAP: usize = 64 * 1024;

/// The first `cap` bytes of `text`, cut after the last whole line that fits (or at a
/// character boundary when no line does).
fn head(text: &str, cap: usize) -> &str {
    if text.len() <= cap {
        return text;
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind('\n') {
        Some(newline) => &text[..=newline],
        None => &text[..end],
    }
}

fn command_text(command: &Command) -> String {
    match command {
        Command::Shell(text) => text.clone(),
        Command::Argv(argv) | Command::Builtin(argv, _) => argv.join(" "),
        Command::Invalid { text, .. } => text.clone(),
        Command::Python { module } => module.clone(),
    }
}

/// The state an exit gives, and the reason when it is not a plain 0–3.
pub fn state_of_exit(mode: ExitCodes, exit: &Exit) -> (State, Option<String>) {
    match (mode, exit) {
        (ExitCodes::Smoker, Exit::Code(0)) => (State::Ok, None),
        (ExitCodes::Smoker, Exit::Code(_)) => (State::Critical, None),
        (ExitCodes::Smoker, Exit::Signal(s)) => (State::Critical, Some(signal_text(*s))),
        (ExitCodes::Nagios, Exit::Code(code)) => match State::from_code(i64::from(*code)) {
            Some(state) => (state, None),
            None if *code == 126 || *code == 127 => (
                State::Unknown,
                Some(format!(
                    "return code {code} is out of bounds - plugin may be missing"
                )),
            ),
            None => (
                State::Unknown,
                Some(format!("return code {code} is out of bounds")),
            ),
        },
        (ExitCodes::Nagios, Exit::Signal(s)) => (State::Unknown, Some(signal_text(*s))),
        (_, _) => (State::Unknown, None),
    }
}

fn signal_text(signal: i32) -> String {
    let name = nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str())
        .unwrap_or("?");
    format!("killed by signal {signal} ({name})")
}

fn from_plugin_output(
    mode: ExitCodes,
    exit: &Exit,
    stdout: &str,
    stderr: &str,
    started_at: chrono::DateTime<chrono::Local>,
) -> CheckResult {
    let (state, reason) = state_of_exit(mode, exit);
    let parsed = smoker_compat::output::parse(stdout.trim_end());
    let mut messages = Messages::default();
    messages.add_lines(state, &parsed.output);
    if let Some(long) = &parsed.long_output {
        messages.add_lines(state, long);
    }
    messages.add_lines(State::Critical, stderr);
    let mut output = parsed.output;
    if let Some(reason) = reason {
        messages.error.push(reason.clone());
        if output.is_empty() {
            output = reason;
        }
    }
    if output.is_empty() {
        // Nagios shows stderr when there is nothing else; so do we.
        output = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
    }
    let mut result = CheckResult::synthetic(state, "", started_at);
    result.output = output;
    result.long_output = parsed.long_output;
    result.perfdata = parsed.perfdata;
    result.messages = if messages.is_empty() {
        None
    } else {
        Some(messages)
    };
    result
}

/// Only a JSON *object* is structured output (Q4).
fn json_object(stdout: &str) -> Option<serde_json::Map<String, Value>> {
    let text = stdout.trim();
    if !text.starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) if !map.is_empty() => Some(map),
        _ => None,
    }
}

pub(crate) fn from_smoker_json(
    object: serde_json::Map<String, Value>,
    started_at: chrono::DateTime<chrono::Local>,
) -> CheckResult {
    let error = |text: String| CheckResult::synthetic(State::Critical, text, started_at);
    let Some(state) = object
        .get("status")
        .and_then(Value::as_str)
        .and_then(State::parse)
    else {
        if object.get("status").is_none() {
            return error(format!(
                "Missing status in JSON output: {}",
                Value::Object(object)
            ));
        }
        let shown = object
            .get("status")
            .map(|v| v.to_string())
            .unwrap_or_default();
        return error(format!(
            "Invalid JSON structure: Result status has to be OK, ERROR or WARN, not {shown}"
        ));
    };
    let messages = match object.get("messages").map(parse_messages).transpose() {
        Ok(m) => m.flatten(),
        Err(e) => return error(format!("Invalid JSON structure: {e}")),
    };
    let components = match object
        .get("componentResults")
        .map(parse_components)
        .transpose()
    {
        Ok(c) => c.flatten(),
        Err(e) => return error(format!("Invalid JSON structure: {e}")),
    };
    let action = match object.get("action") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => {
            let Some(action_state) = a
                .get("status")
                .and_then(Value::as_str)
                .and_then(State::parse)
            else {
                return error("Invalid JSON structure: Action doesn't have status".to_string());
            };
            if !a.contains_key("messages") {
                return error("Invalid JSON structure: Action doesn't have message".to_string());
            }
            let mut r = CheckResult::synthetic(action_state, "", started_at);
            r.messages = match a.get("messages").map(parse_messages).transpose() {
                Ok(m) => m.flatten(),
                Err(e) => return error(format!("Invalid JSON structure: {e}")),
            };
            Some(Box::new(r))
        }
        Some(_) => {
            return error("Invalid JSON structure: Action result must be dictionary".to_string());
        }
    };
    let output = messages
        .as_ref()
        .and_then(|m| {
            let level = match state {
                State::Ok => &m.info,
                State::Warning => &m.warn,
                State::Critical | State::Unknown => &m.error,
            };
            level
                .first()
                .or(m.error.first())
                .or(m.warn.first())
                .or(m.info.first())
                .cloned()
        })
        .unwrap_or_default();
    let mut result = CheckResult::synthetic(state, output, started_at);
    result.messages = messages;
    result.component_results = components;
    result.action = action;
    result
}

fn parse_messages(value: &Value) -> Result<Option<Messages>, String> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "Result message has to be a dictionary or None, not {}",
                smoker_compat::pyrepr::type_name(other)
            ));
        }
    };
    if map.is_empty() {
        return Ok(None);
    }
    let mut messages = Messages::default();
    for (key, list) in [
        ("info", &mut messages.info),
        ("error", &mut messages.error),
        ("warn", &mut messages.warn),
    ] {
        let Some(items) = map.get(key) else {
            return Err(format!("Can't validate message: missing level {key}"));
        };
        let Value::Array(items) = items else {
            return Err(format!("Can't validate message: {key} has to be a list"));
        };
        for item in items {
            let Value::String(text) = item else {
                return Err(format!("Can't validate message: {item} is not a string"));
            };
            list.push(text.clone());
        }
    }
    Ok(Some(messages))
}

fn parse_components(value: &Value) -> Result<Option<IndexMap<String, ComponentResult>>, String> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => return Err("Component result must be dictionary".to_string()),
    };
    let mut out = IndexMap::new();
    for (name, component) in map {
        let Value::Object(component) = component else {
            return Err("Component result must be dictionary".to_string());
        };
        if !component.contains_key("messages") {
            return Err(format!("Component {name} doesn't have message"));
        }
        let Some(status) = component.get("status") else {
            return Err(format!("Component {name} doesn't have status"));
        };
        let Some(state) = status.as_str().and_then(State::parse) else {
            return Err(format!(
                "Result status has to be OK, ERROR or WARN, not {status}"
            ));
        };
        let messages = parse_messages(&component["messages"])?;
        out.insert(name.clone(), ComponentResult { state, messages });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: ExitCodes) -> CheckSpec {
        CheckSpec {
            timeout: Duration::from_secs(7),
            exit_codes: mode,
            ..CheckSpec::for_test("t")
        }
    }

    fn outcome(exit: Exit, stdout: &str, stderr: &str) -> ProcessOutcome {
        ProcessOutcome::for_test(exit, stdout, stderr)
    }

    fn check(mode: ExitCodes, exit: Exit, stdout: &str, stderr: &str) -> CheckResult {
        interpret(&spec(mode), outcome(exit, stdout, stderr))
    }

    #[test]
    fn nagios_exit_codes() {
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(1),
            "DISK WARNING - free 10% | /=90%;80;90\nline2\n",
            "",
        );
        assert_eq!(r.state, State::Warning);
        assert_eq!(r.output, "DISK WARNING - free 10%");
        assert_eq!(r.long_output.as_deref(), Some("line2"));
        assert_eq!(
            r.messages.unwrap().warn,
            vec!["DISK WARNING - free 10%", "line2"]
        );
        assert_eq!(r.exit_code, Some(1));
    }

    #[test]
    fn out_of_bounds_code_is_unknown_with_reason() {
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(127),
            "",
            "sh: 1: foo: not found\n",
        );
        assert_eq!(r.state, State::Unknown);
        assert_eq!(
            r.output,
            "return code 127 is out of bounds - plugin may be missing"
        );
        let m = r.messages.unwrap();
        assert_eq!(
            m.error,
            vec![
                "sh: 1: foo: not found",
                "return code 127 is out of bounds - plugin may be missing"
            ]
        );
        let r = check(ExitCodes::Nagios, Exit::Code(4), "weird", "");
        assert_eq!((r.state, r.output.as_str()), (State::Unknown, "weird"));
    }

    #[test]
    fn smoker_exit_codes() {
        let r = check(ExitCodes::Smoker, Exit::Code(3), "out", "err");
        assert_eq!(r.state, State::Critical);
        let m = r.messages.unwrap();
        assert_eq!(
            (m.error, m.info),
            (vec!["out".to_string(), "err".to_string()], vec![])
        );
        assert_eq!(
            check(ExitCodes::Smoker, Exit::Code(0), "", "").messages,
            None
        );
    }

    #[test]
    fn signal_is_unknown() {
        let r = check(ExitCodes::Nagios, Exit::Signal(9), "", "");
        assert_eq!(r.state, State::Unknown);
        assert_eq!(r.output, "killed by signal 9 (SIGKILL)");
        assert_eq!(r.signal, Some(9));
    }

    #[test]
    fn timeout_text() {
        let r = check(ExitCodes::Nagios, Exit::TimedOut, "", "");
        assert_eq!(
            (r.state, r.output.as_str()),
            (State::Unknown, "Execution timeout after 7 seconds")
        );
        assert!(r.timed_out);
    }

    #[test]
    fn smoker_json_output() {
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(0),
            r#"{"status": "WARN", "messages": {"info": [], "warn": ["disk 85%"], "error": []},
               "componentResults": {"sda": {"status": "WARN", "messages": {"info": ["i"], "warn": ["w"], "error": []}}}}"#,
            "ignored",
        );
        assert_eq!(r.state, State::Warning);
        assert_eq!(r.output, "disk 85%");
        let c = r.component_results.unwrap();
        assert_eq!(c["sda"].state, State::Warning);
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(0),
            r#"{"status": "UNKNOWN", "messages": null}"#,
            "",
        );
        assert_eq!(r.state, State::Unknown);
    }

    #[test]
    fn smoker_json_errors() {
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(0),
            r#"{"messages": null}"#,
            "",
        );
        assert_eq!(r.state, State::Critical);
        assert!(
            r.output.starts_with("Missing status in JSON output"),
            "{}",
            r.output
        );
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(0),
            r#"{"status": "OK", "messages": {"info": "x"}}"#,
            "",
        );
        assert!(
            r.output
                .starts_with("Invalid JSON structure: Can't validate message"),
            "{}",
            r.output
        );
        let r = check(
            ExitCodes::Nagios,
            Exit::Code(0),
            r#"{"status": "OK", "componentResults": {"a": {"status": "OK"}}}"#,
            "",
        );
        assert_eq!(
            r.output,
            "Invalid JSON structure: Component a doesn't have message"
        );
    }

    #[test]
    fn api_text_is_bounded_but_the_capture_is_whole() {
        let big = "line of text\n".repeat(40_000);
        let r = check(ExitCodes::Nagios, Exit::Code(0), &big, "");
        assert_eq!(r.stdout.len(), big.len());
        let m = r.messages.unwrap();
        assert!(m.info.len() < 6000, "{}", m.info.len());
        assert!(r.long_output.unwrap().len() <= API_TEXT_CAP);
        assert_eq!(head("ab\ncd", 4), "ab\n");
        assert_eq!(head("äöü", 3), "ä");
    }

    #[test]
    fn non_object_json_is_plain_output() {
        let r = check(ExitCodes::Nagios, Exit::Code(0), "42", "");
        assert_eq!((r.state, r.output.as_str()), (State::Ok, "42"));
    }

    #[tokio::test]
    async fn a_builtin_that_can_block_waits_for_nr_concurrent_plugins() {
        let argv: Vec<String> = ["check_disk", "-w", "1%", "-c", "1%", "-p", "/"]
            .map(String::from)
            .to_vec();
        let disk = crate::builtin::Builtin::parse(&argv).expect("check_disk");
        assert!(disk.may_block());
        let spec = CheckSpec {
            command: Command::Builtin(argv, disk.into()),
            ..spec(ExitCodes::Nagios)
        };
        let executor = Executor::new(Some(1));
        let held = executor.permit().await.expect("bounded");
        let run = run_check(&executor, &spec, &|_| {});
        tokio::pin!(run);
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut run).await;
        assert!(waited.is_err(), "ran while the only permit was held");
        drop(held);
        let result = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("runs once the permit is free");
        assert!(result.output.starts_with("DISK "), "{}", result.output);
        assert!(Executor::new(None).permit().await.is_none());
    }
}
