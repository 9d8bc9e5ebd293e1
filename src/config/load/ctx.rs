//! The loader's collector: every error (positioned, with its key path) and warning
//! found while walking the YAML tree, plus the walk over a mapping's entries and the
//! strict-section key check driven by the key table.

use std::fmt;

use indexmap::IndexMap;

use super::keys::{self, Section};
use crate::{
    check::Interner,
    config::{
        error::ConfigError,
        yaml::{Kind, Node, Pos},
    },
};

/// Errors and warnings of one load.
#[derive(Default)]
pub struct Ctx {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
    /// Where Python is used: (position, key path, module) of each `Module:`/`Parser:`,
    /// for the load-time probe.
    pub python_uses: Vec<(Pos, String, String)>,
    /// Shares parameter keys and string values between the checks of this load.
    pub strings: Interner,
}

/// A mapping entry: key name, key node, value node.
pub type Entry<'a> = (&'a str, &'a Node, &'a Node);

impl Ctx {
    pub fn err(&mut self, pos: &Pos, path: impl Into<String>, message: impl fmt::Display) {
        self.errors.push(ConfigError {
            pos: Some(pos.clone()),
            path: path.into(),
            message: message.to_string(),
        });
    }

    pub fn warn(&mut self, pos: &Pos, path: &str, message: impl fmt::Display) {
        self.warnings.push(ConfigError {
            pos: Some(pos.clone()),
            path: path.to_string(),
            message: message.to_string(),
        });
    }

    /// The value of a read, or the error reported at `node` under `path`.
    pub fn take<T, E: fmt::Display>(
        &mut self,
        node: &Node,
        path: impl Into<String>,
        read: Result<T, E>,
    ) -> Option<T> {
        read.map_err(|e| self.err(&node.pos, path, e)).ok()
    }

    /// The number of errors so far (to tell whether a reader added any).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Entries of a mapping with string keys; last duplicate wins (PyYAML) with a warning.
    pub fn entries<'a>(&mut self, map: &'a Node, path: &str) -> Vec<Entry<'a>> {
        let Some(items) = map.as_map() else {
            return Vec::new();
        };
        // A repeated key keeps its first place and takes the last value (a Python dict).
        let mut out: IndexMap<&'a str, (&'a Node, &'a Node)> = IndexMap::new();
        for (k, v) in items {
            let Some(name) = k.as_str() else {
                let message = match k.kind {
                    Kind::Bool(_) => {
                        "keys must be strings, not a boolean; quote names like yes/no/on/off".into()
                    }
                    _ => format!("keys must be strings, not {}", k.type_name()),
                };
                self.err(&k.pos, path, message);
                continue;
            };
            if let Some((earlier, _)) = out.insert(name, (k, v)) {
                self.warn(
                    &earlier.pos,
                    &join(path, name),
                    format!("duplicate key, the one at {} wins", k.pos),
                );
            }
        }
        out.into_iter().map(|(n, (k, v))| (n, k, v)).collect()
    }

    /// Rejects keys outside the table's keys of a strict `section`.
    pub fn strict_keys(&mut self, map: &Node, path: &str, section: Section) {
        debug_assert!(section.is_strict());
        for (name, k, _) in self.entries(map, path) {
            if !keys::is_known(section, name) {
                let hint = keys::closest(name, section)
                    .map_or_else(String::new, |c| format!("; did you mean {c}?"));
                self.err(
                    &k.pos,
                    join(path, name),
                    format!(
                        "unknown key (allowed: {}){hint}",
                        keys::names(section).join(", ")
                    ),
                );
            }
        }
    }
}

/// `path.key`, or `key` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A set (non-null) value of `key` in a mapping.
pub fn field<'a>(map: &'a Node, key: &str) -> Option<&'a Node> {
    map.get(key).filter(|n| !n.is_null())
}
