//! The client's stderr log, in the original's `LEVEL: message` form (smoker-compat.md §4.2):
//! errors and warnings always, INFO with `-v`, DEBUG with `-d`. A user-facing CLI talks in
//! lines, not in structured events, so this is not `tracing`.

use std::fmt::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Warning,
    Info,
    Debug,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    pub level: Level,
}

impl Log {
    pub fn new(verbose: bool, debug: bool) -> Log {
        let level = if debug {
            Level::Debug
        } else if verbose {
            Level::Info
        } else {
            Level::Warning
        };
        Log { level }
    }

    pub fn error(&self, message: impl Display) {
        eprintln!("ERROR: {message}");
    }

    pub fn warning(&self, message: impl Display) {
        eprintln!("WARNING: {message}");
    }

    pub fn info(&self, message: impl Display) {
        if self.level >= Level::Info {
            eprintln!("INFO: {message}");
        }
    }

    pub fn debug(&self, message: impl Display) {
        if self.level >= Level::Debug {
            eprintln!("DEBUG: {message}");
        }
    }
}
