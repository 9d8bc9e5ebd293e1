//! The positioned config errors: [`ConfigError`] (`FILE:LINE:COL: path: message`) and
//! [`ConfigErrors`], every problem of one config reported at once (D4, exit 2).

use std::fmt;

use super::yaml::{Pos, YamlError};

/// One config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub pos: Option<Pos>,
    /// `plugins.NAME.Key`, `bind_port`, … (empty for syntax errors).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pos) = &self.pos {
            write!(f, "{pos}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a config, in file order of discovery (D4: reported at once, exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Each error rendered as `FILE:LINE:COL: path: message`.
    pub fn lines(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<YamlError> for ConfigErrors {
    fn from(e: YamlError) -> Self {
        ConfigErrors {
            errors: vec![ConfigError {
                pos: e.pos,
                path: String::new(),
                message: e.message,
            }],
        }
    }
}
