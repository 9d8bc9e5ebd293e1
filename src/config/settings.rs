//! Settings structs of our new config sections that other modules consume:
//! the `nrpe:` bridge section and its resolved [`NrpeBridge`] (issue 7) and the
//! native `Nsca:` action (issue 5, D5) and the `Icinga2:` action (issue 19, D15).
//!
//! Plain data only; parsing and validation live in `load`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use smoker_compat::nrpe_cfg::{CfgWarning, NrpeConfig};
pub use smoker_compat::nsca_cipher::Method;

/// `nrpe: {config, listen, tls, interval, builtins}` (issues 7, 22, D6).
#[derive(Debug, Clone, PartialEq)]
pub struct NrpeSettings {
    /// The nrpe.cfg to read (default `/etc/nagios/nrpe.cfg`).
    pub config: PathBuf,
    /// `ADDR:PORT` to listen on; `None` = nrpe.cfg's `server_address`/`server_port`.
    pub listen: Option<String>,
    pub tls: NrpeTls,
    /// Schedule for commands without `$ARGn$`; `None` = on demand only.
    pub interval: Option<Duration>,
    /// Run commands that are a built-in's plugin and flags inside smokerd (issue 22).
    pub builtins: bool,
    /// Names of the checks the NRPE bridge made from nrpe.cfg commands (filled by the
    /// bridge; counted by `summary`).
    pub commands: Vec<String>,
    /// nrpe.cfg loaded and listen addresses resolved (filled by the loader through
    /// `config::nrpe::attach`); what the NRPE server runs.
    pub bridge: Option<Arc<NrpeBridge>>,
}

/// The NRPE bridge resolved from the YAML [`NrpeSettings`]: nrpe.cfg loaded,
/// listen addresses known. This is what the NRPE server runs.
#[derive(Debug, Clone, PartialEq)]
pub struct NrpeBridge {
    pub config_path: PathBuf,
    pub config: Arc<NrpeConfig>,
    pub listen: Vec<SocketAddr>,
    pub tls: NrpeTls,
    pub interval: Option<Duration>,
    /// `nrpe.builtins`: see [`NrpeBridge::builtin`].
    pub builtins: bool,
    /// What nrpe would have logged while reading the config.
    pub warnings: Vec<CfgWarning>,
}

impl NrpeBridge {
    /// The built-in that answers `line` (a command line with its `$ARGn$` expanded)
    /// when `nrpe.builtins` is on, nrpe.cfg sets no `command_prefix`, and the line is a
    /// plain word list naming a plugin and flags of the built-in set.
    pub fn builtin(&self, line: &str) -> Option<(Vec<String>, crate::builtin::Builtin)> {
        if !self.builtins || self.config.command_prefix.is_some() {
            return None;
        }
        crate::builtin::Builtin::of_command_line(line)
    }
}

/// `nrpe.tls`: `on` (nrpe's default), `off` (nrpe's `-n`), `auto` (both on one port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NrpeTls {
    #[default]
    On,
    Off,
    Auto,
}

/// An `actions.NAME.Nsca` map (issue 5, D5).
#[derive(Debug, Clone, PartialEq)]
pub struct NscaSettings {
    pub host: String,
    /// Default 5667.
    pub port: u16,
    /// From `password`, or the first line of `password_file` (read at load).
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// `encryption`: a send_nsca.cfg number or a name; only the methods of D5
    /// (default 1, xor, as send_nsca.cfg).
    pub encryption: Method,
    /// Host name reported to Nagios; `None` = this machine's hostname.
    pub host_name: Option<String>,
    /// Service description template (`%(name)s` = plugin name); empty = host check.
    pub service: String,
}

/// An `actions.NAME.Icinga2` map (issue 19, D15). Files are read at load, so a
/// reload notices changed contents and a bad file is a config error.
#[derive(Debug, Clone, PartialEq)]
pub struct Icinga2Settings {
    /// `https://HOST:PORT` of Icinga's API (a path, if any, is kept as a prefix).
    pub url: String,
    pub user: Option<String>,
    /// From `password`, or the first line of `password_file`.
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Client certificate and key (PEM), instead of a password.
    pub identity: Option<Identity>,
    /// `ca_file` contents (PEM); `None` = the system roots.
    pub ca_pem: Option<Vec<u8>>,
    pub ca_file: Option<PathBuf>,
    /// `insecure: true` turns certificate verification off (warned at load).
    pub insecure: bool,
    /// Host name reported to Icinga; `None` = this machine's hostname.
    pub host_name: Option<String>,
    /// Service name template (`%(name)s`); empty = a host check result.
    pub service: String,
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone, PartialEq)]
pub struct Identity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}
