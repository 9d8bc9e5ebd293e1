//! Built-in host checks (`Builtin:`): the usual monitoring plugins, run inside
//! smokerd with the plugin's own name and flags, giving the plugin's state (the
//! monitoring-plugins threshold rules), status line and perfdata.
//!
//! A [`Builtin`] is parsed at config load (an unknown flag or a bad range is a
//! config error); [`run`] produces the plugin's exit code and text. Calls that can
//! block in the kernel (statvfs, utmp) run on a blocking thread, at most
//! [`MAX_STUCK`] of them at a time past their timeout ([`stuck`], shown in `/healthz`).

mod args;
mod disk;
mod load;
mod memory;
mod swap;
mod users;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use smoker_compat::output::Range;

/// Names of the built-ins, for errors, the README and `import-nrpe`.
pub const NAMES: [&str; 5] = [
    "check_load",
    "check_disk",
    "check_swap",
    "check_users",
    "check_memory",
];

/// Why a `Builtin:` list is not a valid built-in check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuiltinError {
    #[error("{name:?} is no built-in; supported: {}", NAMES.join(", "))]
    UnknownPlugin { name: String },
    #[error("{plugin}: unsupported flag {flag}; supported: {supported}")]
    UnknownFlag {
        plugin: String,
        flag: String,
        supported: String,
    },
    #[error("{plugin}: unexpected argument {arg:?}; supported: {supported}")]
    Positional {
        plugin: String,
        arg: String,
        supported: String,
    },
    #[error("{plugin}: flag {flag} needs a value")]
    MissingValue { plugin: String, flag: String },
    #[error("{plugin}: bad value {value:?} for {flag}: {reason}")]
    BadValue {
        plugin: String,
        flag: String,
        value: String,
        reason: String,
    },
    #[error("{plugin}: {reason}")]
    Invalid { plugin: String, reason: String },
}

/// A parsed built-in check.
#[derive(Debug, Clone, PartialEq)]
pub enum Builtin {
    Load(load::Load),
    Disk(disk::Disk),
    Swap(swap::Swap),
    Users(users::Users),
    Memory(memory::Memory),
}

/// What a built-in produced: the plugin's exit code and its output text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub text: String,
}

impl Output {
    fn new(state: State, text: String) -> Output {
        Output {
            code: state as i32,
            text,
        }
    }
}

/// Nagios states as the plugins order and name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The plugins' `max_state`: CRITICAL > WARNING > UNKNOWN > OK.
    pub fn max(self, other: State) -> State {
        let rank = |s: State| match s {
            State::Ok => 0,
            State::Unknown => 1,
            State::Warning => 2,
            State::Critical => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// The plugins' `get_status`: CRITICAL when the critical range alerts, then WARNING.
pub fn status(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> State {
    if crit.is_some_and(|r| r.alerts(value)) {
        State::Critical
    } else if warn.is_some_and(|r| r.alerts(value)) {
        State::Warning
    } else {
        State::Ok
    }
}

/// A threshold range flag value, or the error naming it.
pub fn range(plugin: &str, flag: char, value: &str) -> Result<Range, BuiltinError> {
    Range::parse(value).map_err(|e| bad(plugin, flag, value, e))
}

/// A bad value error.
pub fn bad(plugin: &str, flag: char, value: &str, reason: impl ToString) -> BuiltinError {
    BuiltinError::BadValue {
        plugin: plugin.to_string(),
        flag: format!("-{flag}"),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A perfdata label, quoted as the plugins quote one with a space, `=` or `'`.
pub fn label(text: &str) -> String {
    if text.contains([' ', '=', '\'']) {
        format!("'{text}'")
    } else {
        text.to_string()
    }
}

impl Builtin {
    /// Parses `argv` (plugin name, then its flags); an error names the bad flag.
    pub fn parse(argv: &[String]) -> Result<Builtin, BuiltinError> {
        let Some((name, rest)) = argv.split_first() else {
            return Err(BuiltinError::UnknownPlugin {
                name: String::new(),
            });
        };
        let base = name.rsplit('/').next().unwrap_or(name);
        Ok(match base {
            "check_load" => Builtin::Load(load::Load::parse(rest)?),
            "check_disk" => Builtin::Disk(disk::Disk::parse(rest)?),
            "check_swap" => Builtin::Swap(swap::Swap::parse(rest)?),
            "check_users" => Builtin::Users(users::Users::parse(rest)?),
            "check_memory" => Builtin::Memory(memory::Memory::parse(rest)?),
            _ => {
                return Err(BuiltinError::UnknownPlugin { name: name.clone() });
            }
        })
    }

    /// Runs the check on the calling thread (it may block: see [`run`]).
    pub fn run_blocking(&self) -> Output {
        match self {
            Builtin::Load(c) => c.run(),
            Builtin::Disk(c) => c.run(),
            Builtin::Swap(c) => c.run(),
            Builtin::Users(c) => c.run(),
            Builtin::Memory(c) => c.run(),
        }
    }
}

/// Most built-in calls that may be stuck in the kernel past their timeout at once;
/// beyond it a run is UNKNOWN at once instead of taking another thread.
pub const MAX_STUCK: usize = 16;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// Built-in calls still running past their timeout.
pub fn stuck() -> usize {
    STUCK.load(Ordering::Relaxed)
}

/// How a bounded run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Done(Output),
    TimedOut,
    /// [`MAX_STUCK`] calls are stuck: not started.
    Saturated,
}

/// Runs `check` on a blocking thread, waiting at most `timeout`. A call that
/// outlives its timeout keeps its thread and counts in [`stuck`] until it returns.
pub async fn run(check: &Builtin, timeout: Duration) -> Ended {
    if STUCK.load(Ordering::Relaxed) >= MAX_STUCK {
        return Ended::Saturated;
    }
    IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = check.clone();
    let abandoned = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = abandoned.clone();
    tokio::task::spawn_blocking(move || {
        let out = owned.run_blocking();
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
        if flag.swap(true, Ordering::AcqRel) {
            STUCK.fetch_sub(1, Ordering::Relaxed);
        }
        let _ = tx.send(out);
    });
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(out)) => Ended::Done(out),
        Ok(Err(_)) => Ended::Done(Output::new(State::Unknown, "built-in check failed".into())),
        Err(_) => {
            if !abandoned.swap(true, Ordering::AcqRel) {
                STUCK.fetch_add(1, Ordering::Relaxed);
            }
            Ended::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn unknown_plugins_and_flags_are_errors() {
        let e = Builtin::parse(&argv("check_nope -w 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("check_load"), "{e}");
        let e = Builtin::parse(&argv("check_load -w 1 -c 2 -Z")).unwrap_err();
        assert!(e.to_string().contains("-Z"), "{e}");
        assert!(Builtin::parse(&argv("check_users -w x")).is_err());
        assert!(Builtin::parse(&argv("/usr/lib/nagios/plugins/check_load -w 1 -c 2")).is_ok());
    }

    #[test]
    fn status_follows_the_range_rules() {
        let r = |s: &str| Range::parse(s).unwrap();
        assert_eq!(status(11.0, Some(&r("10")), Some(&r("20"))), State::Warning);
        assert_eq!(
            status(21.0, Some(&r("10")), Some(&r("20"))),
            State::Critical
        );
        assert_eq!(status(5.0, Some(&r("10:")), None), State::Warning);
        assert_eq!(status(15.0, Some(&r("@10:20")), None), State::Warning);
        assert_eq!(status(-5.0, Some(&r("~:10")), None), State::Ok);
        assert_eq!(status(10.0, Some(&r("10")), None), State::Ok);
    }
}
