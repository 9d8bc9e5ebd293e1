//! Check domain: what to run ([`CheckSpec`]) and what happened ([`CheckResult`]).
//!
//! Owns the Nagios state model (decisions.md D1) and the mapping to the smoker
//! statuses `OK | WARN | ERROR`. No I/O here; serialization to the smoker JSON
//! shapes lives in `api`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Local};
use indexmap::IndexMap;
use smoker_compat::output::PerfDatum;

mod params;

pub use params::{Interner, Param, Params};

/// Nagios state of a result. Internal truth; the smoker API derives `status` from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    pub const ALL: [State; 4] = [State::Ok, State::Warning, State::Critical, State::Unknown];

    pub fn from_code(code: i64) -> Option<State> {
        match code {
            0 => Some(State::Ok),
            1 => Some(State::Warning),
            2 => Some(State::Critical),
            3 => Some(State::Unknown),
            _ => None,
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// `OK|WARNING|CRITICAL|UNKNOWN`
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The smoker-compatible status (D1): UNKNOWN maps to ERROR.
    pub fn smoker_status(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARN",
            State::Critical | State::Unknown => "ERROR",
        }
    }

    /// Parse a state written either the Nagios way or the smoker way (`WARN`, `ERROR`).
    pub fn parse(text: &str) -> Option<State> {
        match text {
            "OK" => Some(State::Ok),
            "WARN" | "WARNING" => Some(State::Warning),
            "ERROR" | "CRITICAL" => Some(State::Critical),
            "UNKNOWN" => Some(State::Unknown),
            _ => None,
        }
    }

    /// Worst of two states in Nagios order of severity: CRITICAL > UNKNOWN > WARNING > OK.
    pub fn worst(self, other: State) -> State {
        fn rank(s: State) -> u8 {
            match s {
                State::Ok => 0,
                State::Warning => 1,
                State::Unknown => 2,
                State::Critical => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// smoker `messages`: `null` until a non-empty line is added, then all three lists exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Messages {
    pub info: Vec<String>,
    pub error: Vec<String>,
    pub warn: Vec<String>,
}

impl Messages {
    pub fn is_empty(&self) -> bool {
        self.info.is_empty() && self.error.is_empty() && self.warn.is_empty()
    }

    /// Adds each non-empty trimmed line of `text` at the level matching `state`.
    pub fn add_lines(&mut self, state: State, text: &str) {
        let list = match state {
            State::Ok => &mut self.info,
            State::Warning => &mut self.warn,
            State::Critical | State::Unknown => &mut self.error,
        };
        list.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
}

/// One entry of `componentResults`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentResult {
    pub state: State,
    pub messages: Option<Messages>,
}

/// What one run of a check produced. A failing check is data, not an `Err`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub state: State,
    /// First line without perfdata.
    pub output: String,
    pub long_output: Option<String>,
    pub perfdata: Vec<PerfDatum>,
    /// smoker `messages` (None = JSON `null`).
    pub messages: Option<Messages>,
    pub component_results: Option<IndexMap<String, ComponentResult>>,
    /// Result of the action pipeline run after this check (smoker `action`).
    pub action: Option<Box<CheckResult>>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Wall time the run took.
    pub duration: Duration,
    /// When the run started (smoker `lastRun`, local naive time on the wire).
    pub started_at: DateTime<Local>,
    pub forced: bool,
    /// An output stream was cut at `MaxOutput`.
    pub truncated: bool,
    /// The run was a catch-up of a missed schedule slot (jobs).
    pub catch_up: bool,
    /// The run hit its `Timeout`.
    pub timed_out: bool,
    /// Raw captured streams, kept for the runs API (bounded by `MaxOutput`).
    pub stdout: Arc<str>,
    pub stderr: Arc<str>,
    /// Per-check run id (increasing, assigned by the store).
    pub run_id: u64,
}

impl CheckResult {
    /// A result that is not the output of a process: timeouts, spawn failures, config errors.
    pub fn synthetic(
        state: State,
        text: impl Into<String>,
        started_at: DateTime<Local>,
    ) -> CheckResult {
        let output: String = text.into();
        let mut messages = Messages::default();
        messages.add_lines(state, &output);
        CheckResult {
            state,
            output,
            long_output: None,
            perfdata: Vec::new(),
            messages: if messages.is_empty() {
                None
            } else {
                Some(messages)
            },
            component_results: None,
            action: None,
            exit_code: None,
            signal: None,
            duration: Duration::ZERO,
            started_at,
            forced: false,
            truncated: false,
            catch_up: false,
            timed_out: false,
            stdout: Arc::from(""),
            stderr: Arc::from(""),
            run_id: 0,
        }
    }
}

/// How the command of a check is started.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `/bin/sh -c TEXT`, after `%(Name)s` substitution (done at config load).
    Shell(String),
    /// Direct exec, no shell (`Argv:`); each element substituted.
    Argv(Vec<String>),
    /// A built-in host check run inside smokerd (`Builtin:`): its argv as written
    /// (after substitution) and the parsed check.
    Builtin(Vec<String>, Arc<crate::builtin::Builtin>),
    /// The check cannot run; every run yields this state and text
    /// (e.g. a `%(Key)s` naming no parameter → ERROR "Missing parameter Key").
    Invalid { state: State, text: String },
    /// A Python `Module:` run through the shim (spec python.md); settings in [`CheckSpec::python`].
    Python { module: String },
}

/// Exit code interpretation (D2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExitCodes {
    /// 0/1/2/3 → OK/WARNING/CRITICAL/UNKNOWN; anything else UNKNOWN.
    #[default]
    Nagios,
    /// The original rule: 0 → OK, anything else CRITICAL.
    Smoker,
}

/// A user or group to run a check as: a name (resolved with initgroups) or a bare id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Name(String),
    Id(u32),
}

/// When a check runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// On demand only (`Interval: 0`).
    OnDemand,
    /// Every `every`, first run at `start + splay_offset`.
    Interval { every: Duration, splay: Duration },
    /// Cron expression (jobs, D10).
    Cron {
        expr: String,
        time_zone: Option<String>,
    },
}

/// What to run and how: the validated, resolved form of one `plugins:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    pub name: String,
    pub command: Command,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub timeout_state: State,
    /// Number of results kept (`History`).
    pub history: usize,
    pub exit_codes: ExitCodes,
    /// Byte cap for each of stdout and stderr (`MaxOutput`).
    pub max_output: usize,
    /// Extra environment (`Env:`), on top of the daemon's.
    pub env: Vec<(String, String)>,
    pub uid: Option<Principal>,
    pub gid: Option<Principal>,
    pub working_dir: Option<PathBuf>,
    /// Action names to run after each result (resolved `Action` / `default_actions`).
    pub actions: Vec<String>,
    /// `ActionOn` filter; empty = every result.
    pub action_on: Vec<ActionTrigger>,
    /// Effective parameters as the API shows them (`parameters`), in the original's key order,
    /// not yet redacted.
    pub parameters: Params,
    /// Jobs: `CatchUp`.
    pub catch_up: bool,
    /// Jobs: `Overlap`.
    pub overlap: Overlap,
    /// The `python:` settings and `Parser:` of a check that runs Python (a `Module:`,
    /// a `Parser:` or a `Module:` action); `None` for the others.
    pub python: Option<Arc<PythonPart>>,
}

/// What a check that runs Python needs besides its command.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonPart {
    /// `Parser:` module run on the command's output.
    pub parser: Option<String>,
    pub settings: crate::python::settings::PythonSettings,
}

impl CheckSpec {
    pub fn param_str(&self, key: &str) -> Option<&str> {
        self.parameters.get(key).and_then(Param::as_str)
    }

    /// Unit tests: an on-demand `true` with the loader's defaults; override
    /// fields with struct update syntax.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str) -> CheckSpec {
        CheckSpec {
            name: name.into(),
            command: Command::Shell("true".into()),
            schedule: Schedule::OnDemand,
            timeout: Duration::from_secs(10),
            timeout_state: State::Unknown,
            history: 10,
            exit_codes: ExitCodes::Nagios,
            max_output: 65536,
            env: Vec::new(),
            uid: None,
            gid: None,
            working_dir: None,
            actions: Vec::new(),
            action_on: Vec::new(),
            parameters: Params::default(),
            catch_up: false,
            overlap: Overlap::Skip,
            python: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    #[default]
    Skip,
    Queue,
    Kill,
}

/// Why a run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its interval or cron slot came.
    Scheduled,
    /// A cron slot missed while down or asleep, run late (`CatchUp`).
    CatchUp,
    /// `POST /processes`.
    Forced,
    /// An NRPE client ran the command of this check (D6).
    Nrpe,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [
        Trigger::Scheduled,
        Trigger::CatchUp,
        Trigger::Forced,
        Trigger::Nrpe,
    ];

    /// The `trigger` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::CatchUp => "catchup",
            Trigger::Forced => "forced",
            Trigger::Nrpe => "nrpe",
        }
    }

    fn index(self) -> usize {
        match self {
            Trigger::Scheduled => 0,
            Trigger::CatchUp => 1,
            Trigger::Forced => 2,
            Trigger::Nrpe => 3,
        }
    }

    /// Position in [`Trigger::ALL`].
    pub fn slot(self) -> usize {
        self.index()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionTrigger {
    /// Status differs from the previous result.
    Change,
    /// Result has this state.
    State(State),
}
