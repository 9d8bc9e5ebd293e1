//! What every built-in shares: the error type, the plugins' states and
//! `get_status`, threshold ranges, perfdata labels.

use smoker_compat::output::Range;

/// Names of the built-ins, for errors, the README and `import-nrpe`.
pub const NAMES: [&str; 9] = [
    "check_load",
    "check_disk",
    "check_swap",
    "check_procs",
    "check_users",
    "check_tcp",
    "check_http",
    "check_file_age",
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

/// What a built-in produced: the plugin's exit code and its output text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub text: String,
}

impl Output {
    pub fn new(state: State, text: String) -> Output {
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

    /// The plugins' `max_state`: CRITICAL > WARNING > OK > UNKNOWN.
    pub fn max(self, other: State) -> State {
        let rank = |s: State| match s {
            State::Unknown => 0,
            State::Ok => 1,
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

#[cfg(test)]
mod tests {
    use super::*;

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
