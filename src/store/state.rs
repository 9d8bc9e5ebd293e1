//! The durable store a daemon runs on: `state_dir/smokerd.redb`, a temp dir for
//! the embedded default config, or memory when the file cannot be used (a broken
//! store is a value, never a crash), and why it is not persistent.

use std::{fmt, path::PathBuf};

use tracing::error;

use super::durable::{Durable, StoreError};
use crate::config::Plan;

/// `state_dir` when the configuration file sets none.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/smokerd";

/// The durable store the daemon runs on: the file under `state_dir`, or memory.
pub struct StateStore {
    durable: Durable,
    /// Why the file could not be used (the store then lives in memory).
    open_error: Option<String>,
    /// The temp `state_dir` of the embedded default config, removed on exit.
    _temp: Option<tempfile::TempDir>,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.durable.path())
            .field("open_error", &self.open_error)
            .finish()
    }
}

impl StateStore {
    /// Opens `state_dir/smokerd.redb` (`/var/lib/smokerd` for a config file without
    /// `state_dir`, a temp dir for the embedded default). A store that cannot be
    /// opened is logged and replaced by one in memory; only a failure of that is an
    /// error. Blocking: call it off the async workers.
    pub fn open(plan: &Plan) -> Result<StateStore, StoreError> {
        let (dir, temp) = match (&plan.state_dir, &plan.path) {
            (Some(dir), _) => (Ok(dir.clone()), None),
            (None, Some(_)) => (Ok(PathBuf::from(DEFAULT_STATE_DIR)), None),
            (None, None) => match tempfile::Builder::new().prefix("smokerd-state-").tempdir() {
                Ok(temp) => (Ok(temp.path().to_path_buf()), Some(temp)),
                Err(e) => (
                    Err(format!("cannot create a temporary state_dir: {e}")),
                    None,
                ),
            },
        };
        let opened = dir.and_then(|dir| Durable::open_in(&dir).map_err(|e| e.to_string()));
        let store = match opened {
            Ok(durable) => StateStore {
                durable,
                open_error: None,
                _temp: temp,
            },
            Err(e) => {
                error!(error = %e, "Cannot use the durable store; keeping results in memory only.");
                StateStore {
                    durable: Durable::memory()?,
                    open_error: Some(e),
                    _temp: None,
                }
            }
        };
        store.durable.set_spool_limits(plan.spool);
        Ok(store)
    }

    /// A store in memory only (tests, or no `state_dir` wanted).
    pub fn memory() -> Result<StateStore, StoreError> {
        Ok(StateStore {
            durable: Durable::memory()?,
            open_error: None,
            _temp: None,
        })
    }

    pub fn durable(&self) -> &Durable {
        &self.durable
    }

    /// Whether results are persisted right now (`store: ok`).
    pub fn persistent(&self) -> bool {
        self.durable.is_persistent() && self.durable.last_error().is_none()
    }

    /// Why results are not persisted, if they are not.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = &self.open_error {
            return Some(e.clone());
        }
        if !self.durable.is_persistent() {
            return Some("no state_dir: results are kept in memory only".into());
        }
        let error = self.durable.last_error()?;
        Some(match self.durable.degraded() {
            Some(_) => {
                format!("{error} (results are kept in memory; the store is re-opened with backoff)")
            }
            None => error,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{
        config::{load_default, load_str},
        control::Health,
    };

    fn plan(yaml: &str) -> Plan {
        load_str("t.yaml", yaml, Path::new("/"))
            .expect("valid config")
            .plan
    }

    #[test]
    fn embedded_default_gets_a_temporary_state_dir() {
        let plan = load_default().expect("default").plan;
        assert!(plan.path.is_none() && plan.state_dir.is_none());
        let store = StateStore::open(&plan).expect("open");
        assert!(store.persistent(), "{:?}", store.error());
        let file = store.durable().path().expect("a file").to_path_buf();
        assert!(file.exists());
        assert!(file.starts_with(std::env::temp_dir()), "{}", file.display());
        drop(store);
        assert!(!file.exists(), "the temp dir goes away with the store");
    }

    #[test]
    fn unusable_state_dir_falls_back_to_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let plan = plan(&format!(
            "state_dir: {}/state\nplugins:\n  a: {{Command: 'true'}}\n",
            file.display()
        ));
        let store = StateStore::open(&plan).expect("memory fallback");
        assert!(!store.persistent());
        assert!(store.durable().path().is_none());
        assert!(
            store.error().is_some_and(|e| e.contains("file/state")),
            "{:?}",
            store.error()
        );
        let health = Health {
            config_errors: None,
            store_error: store.error(),
            store_held: None,
            builtin_stuck: 0,
        };
        assert!(!health.ok());
        assert_eq!(health.to_json()["store"], "memory");
        assert_eq!(health.to_json()["status"], "degraded");
        assert_eq!(health.to_json()["config"], "ok");
    }
}
