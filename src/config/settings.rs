//! Settings structs of our new config sections that other modules consume:
//! the `nrpe:` bridge section (issue 7) and the native `Nsca:` action (issue 5, D5).
//!
//! Plain data only; parsing and validation live in `load`.

use std::{path::PathBuf, time::Duration};

/// `nrpe: {config, listen, tls, interval}` (issue 7, D6).
#[derive(Debug, Clone, PartialEq)]
pub struct NrpeSettings {
    /// The nrpe.cfg to read (default `/etc/nagios/nrpe.cfg`).
    pub config: PathBuf,
    /// `ADDR:PORT` to listen on; `None` = nrpe.cfg's `server_address`/`server_port`.
    pub listen: Option<String>,
    pub tls: NrpeTls,
    /// Schedule for commands without `$ARGn$`; `None` = on demand only.
    pub interval: Option<Duration>,
    /// Names of the checks the NRPE bridge made from nrpe.cfg commands (filled by the
    /// bridge; counted by `summary`).
    pub commands: Vec<String>,
}

/// `nrpe.tls`: `on` (nrpe's default), `off` (nrpe's `-n`), `auto` (both on one port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NrpeTls {
    #[default]
    On,
    Off,
    Auto,
}

/// NSCA encryption methods we implement (D5): send_nsca.cfg numbers.
pub const NSCA_METHODS: [(u8, &str); 7] = [
    (0, "none"),
    (1, "xor"),
    (2, "des"),
    (3, "3des"),
    (4, "cast128"),
    (8, "blowfish"),
    (14, "aes256"),
];

/// An `actions.NAME.Nsca` map (issue 5, D5).
#[derive(Debug, Clone, PartialEq)]
pub struct NscaSettings {
    pub host: String,
    /// Default 5667.
    pub port: u16,
    /// From `password`, or the first line of `password_file` (read at load).
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// send_nsca.cfg method number, one of [`NSCA_METHODS`] (default 1, xor, as send_nsca).
    pub encryption: u8,
    /// Host name reported to Nagios; `None` = this machine's hostname.
    pub host_name: Option<String>,
    /// Service description template (`%(name)s` = plugin name); empty = host check.
    pub service: String,
}
