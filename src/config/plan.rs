//! The validated configuration types: [`Plan`] and the settings it carries (API,
//! spool, logging format) and the `actions:` entries ([`ActionSpec`], [`ActionKind`]).
//!
//! Plain data only; `load` builds them from YAML.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use indexmap::IndexMap;

use super::settings::{Icinga2Settings, NrpeSettings, NscaSettings};
use crate::check::CheckSpec;

/// The running plan as components follow it: the daemon sends each applied plan,
/// and every component reacts to changes itself (one reload path).
pub type PlanWatch = tokio::sync::watch::Receiver<Arc<Plan>>;

/// The validated configuration the daemon runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where it came from (for messages and reload); `None` = embedded default.
    pub path: Option<PathBuf>,
    pub bind_host: String,
    pub bind_port: u16,
    pub pidfile: Option<PathBuf>,
    /// Loaded checks in config order (disabled plugins left out).
    pub checks: Vec<Arc<CheckSpec>>,
    pub actions: IndexMap<String, Arc<ActionSpec>>,
    /// Global bound on concurrently running checks; `None` = unlimited.
    pub nr_concurrent_plugins: Option<usize>,
    /// Durable store location; `None` = a temp dir (embedded default) or memory.
    pub state_dir: Option<PathBuf>,
    pub shutdown_grace: Duration,
    pub log_level: Option<String>,
    pub log_format: LogFormat,
    pub api: ApiSettings,
    pub metrics_listen: Option<SocketAddr>,
    pub spool: SpoolSettings,
    pub removed_check_grace: Duration,
    /// `default_actions`: actions of every check that sets no `Action` (already resolved
    /// into each `CheckSpec::actions`).
    pub default_actions: Vec<String>,
    /// `nrpe:` section (issue 7); `None` = no NRPE bridge.
    pub nrpe: Option<NrpeSettings>,
    /// Top-level `uid`/`gid`: the daemon drops to them after binding (issue 10).
    pub uid: Option<crate::check::Principal>,
    pub gid: Option<crate::check::Principal>,
    /// `run_as_root` (default true): `false` refuses to run checks as root.
    pub run_as_root: bool,
    /// `run_as_root` was written in the file (no warning about checks run as root then).
    pub run_as_root_set: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `api:` section (issue 10 fills in TLS, tokens and ACL).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiSettings {
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub read_tokens: Vec<String>,
    pub write_tokens: Vec<String>,
    pub allowed_hosts: Vec<String>,
    /// `read_token_files`/`write_token_files`: their tokens are already merged into
    /// `read_tokens`/`write_tokens` (read at load; one per line, `#` comments).
    pub read_token_files: Vec<PathBuf>,
    pub write_token_files: Vec<PathBuf>,
}

/// `spool:` bounds of the durable NSCA spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSettings {
    pub max_results: u64,
    pub max_bytes: u64,
}

impl Default for SpoolSettings {
    fn default() -> Self {
        SpoolSettings {
            max_results: 100_000,
            max_bytes: 256 << 20,
        }
    }
}

/// One entry of `actions:`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    pub name: String,
    pub kind: ActionKind,
    /// The resolved action map as `parameters.Action` shows it.
    pub parameters: IndexMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Shell command template; substituted at run time with params ⊕ result fields.
    Command { template: String, timeout: Duration },
    /// Python action module, run through the shim with the action's `Timeout`.
    Module { module: String, timeout: Duration },
    /// Native NSCA sender (issue 5, D5).
    Nsca(NscaSettings),
    /// Icinga 2 REST API sender (issue 19, D15).
    Icinga2(Box<Icinga2Settings>),
}
