//! The one table of config keys: every key smokerd reads, its section and what it is.
//!
//! It drives the unknown-key errors of the strict sections (`spool`, `api`, `metrics`,
//! `nrpe`, `Nsca`, `Icinga2`), the typo warnings of the top level and of plugins and templates
//! (D4: edit distance ≤ 2 to a known key), and the test that `config/example-full.yaml`
//! documents every key. A new key is one line here plus its reader.

use Section::{Action, Api, Icinga2, Metrics, Nrpe, Nsca, Plugin, Python, Spool, Top};

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Top-level keys; unknown ones are ignored (with a typo warning).
    Top,
    /// `spool:`; strict.
    Spool,
    /// `api:`; strict.
    Api,
    /// `metrics:`; strict.
    Metrics,
    /// `nrpe:`; strict.
    Nrpe,
    /// An `actions.NAME` map; other keys show in `parameters.Action`.
    Action,
    /// `actions.NAME.Nsca`; strict.
    Nsca,
    /// `actions.NAME.Icinga2`; strict.
    Icinga2,
    /// `python:`; strict.
    Python,
    /// A plugin or template map; other keys are `%(Name)s` parameters (with a typo warning).
    Plugin,
}

impl Section {
    /// Unknown keys in this section are errors.
    pub fn is_strict(self) -> bool {
        matches!(
            self,
            Section::Spool
                | Section::Api
                | Section::Metrics
                | Section::Nrpe
                | Section::Nsca
                | Section::Icinga2
                | Section::Python
        )
    }
}

/// One key of the table.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub section: Section,
    /// What it holds, in a few words.
    pub about: &'static str,
}

/// Every key, by section; in each, the order error messages list them: (name, what it holds).
static TABLE: &[(Section, &[(&str, &str)])] = &[
    (
        Top,
        &[
            ("bind_host", "API address"),
            ("bind_port", "API port"),
            ("pidfile", "pid file path"),
            ("stdin", "original key, ignored"),
            ("stdout", "original key, ignored"),
            ("stderr", "original key, ignored"),
            ("uid", "user to drop to after binding"),
            ("gid", "group to drop to after binding"),
            ("templates", "named plugin templates"),
            ("plugins", "the checks"),
            ("actions", "named actions"),
            ("nr_concurrent_plugins", "bound on running checks"),
            ("favicon", "original key, ignored"),
            ("state_dir", "durable store directory"),
            ("shutdown_grace", "seconds checks get on stop"),
            ("log_level", "trace to error"),
            ("log_format", "text or json"),
            ("default_actions", "actions of plugins without Action"),
            ("spool", "NSCA spool bounds"),
            (
                "removed_check_grace",
                "seconds a removed check's history stays",
            ),
            ("api", "API TLS, tokens and ACL"),
            ("metrics", "Prometheus listener"),
            ("nrpe", "NRPE bridge"),
            ("run_as_root", "false refuses checks as root"),
            ("python", "Python plugin settings"),
        ],
    ),
    (
        Spool,
        &[
            ("max_results", "results kept at most"),
            ("max_bytes", "bytes kept at most"),
        ],
    ),
    (
        Api,
        &[
            ("tls_cert", "certificate chain (PEM)"),
            ("tls_key", "private key (PEM)"),
            ("read_tokens", "bearer tokens for reading"),
            ("write_tokens", "bearer tokens for writing"),
            ("read_token_files", "files of read tokens"),
            ("write_token_files", "files of write tokens"),
            ("allowed_hosts", "IPs, networks or names served"),
        ],
    ),
    (Metrics, &[("listen", "separate metrics ADDR:PORT")]),
    (
        Nrpe,
        &[
            ("config", "the nrpe.cfg to read"),
            ("listen", "NRPE ADDR:PORT"),
            ("tls", "on, off or auto"),
            ("interval", "seconds between runs of argument-less commands"),
            ("builtins", "answer built-in plugin commands inside smokerd"),
        ],
    ),
    (
        Python,
        &[
            ("interpreter", "python3 path or PATH name"),
            ("path", "directories prepended to sys.path"),
            ("max_concurrent", "Python runs at once"),
            ("max_memory", "RLIMIT_DATA of a run"),
            ("timeout_grace", "seconds past Timeout before the kill"),
            ("shim_dir", "installed shim files"),
        ],
    ),
    (
        Action,
        &[
            ("Command", "shell command template"),
            ("Module", "Python action module"),
            ("Nsca", "native NSCA sender"),
            ("Icinga2", "Icinga 2 REST API sender"),
            ("Timeout", "seconds"),
        ],
    ),
    (
        Nsca,
        &[
            ("host", "Nagios host"),
            ("port", "NSCA port"),
            ("password", "NSCA password"),
            ("password_file", "file whose first line is the password"),
            ("encryption", "send_nsca.cfg method number or name"),
            ("host_name", "host name reported"),
            ("service", "service description template"),
        ],
    ),
    (
        Icinga2,
        &[
            ("url", "Icinga API https://HOST:PORT"),
            ("user", "ApiUser name"),
            ("password", "ApiUser password"),
            ("password_file", "file whose first line is the password"),
            ("cert", "client certificate (PEM)"),
            ("key", "client key (PEM)"),
            ("ca_file", "CA of Icinga's certificate (PEM)"),
            ("insecure", "true turns verification off"),
            ("host_name", "host name reported"),
            ("service", "service name template"),
        ],
    ),
    (
        Plugin,
        &[
            ("Command", "shell command template"),
            ("Module", "Python plugin module"),
            ("Parser", "Python parser of the command's output"),
            ("Interval", "seconds between runs"),
            ("Timeout", "seconds a run may take"),
            ("History", "results kept"),
            ("uid", "user the check runs as"),
            ("gid", "group the check runs as"),
            ("Template", "template name"),
            ("Action", "action names"),
            ("Enabled", "false leaves the plugin out"),
            ("Category", "metadata for filters"),
            ("Component", "metadata for filters"),
            ("Type", "metadata for filters"),
            ("RunOnLocked", "metadata for filters"),
            ("Argv", "command without a shell"),
            ("Builtin", "a check run inside smokerd"),
            ("Env", "extra environment"),
            ("MaxOutput", "byte cap per stream"),
            ("TimeoutState", "state of a timed-out run"),
            ("ExitCodes", "nagios or smoker"),
            ("Splay", "seconds the first run may wait"),
            ("ActionOn", "when actions run"),
            ("Schedule", "cron expression"),
            ("TimeZone", "zone of Schedule"),
            ("CatchUp", "run a missed slot at start"),
            ("Overlap", "skip, queue or kill"),
            ("WorkingDir", "directory the command starts in"),
        ],
    ),
];

/// Every key of the table, in table order.
pub fn all() -> impl Iterator<Item = Key> {
    TABLE.iter().flat_map(|(section, keys)| {
        keys.iter().map(|(name, about)| Key {
            name,
            section: *section,
            about,
        })
    })
}

/// The keys of one section, in table order.
pub fn names(section: Section) -> Vec<&'static str> {
    all()
        .filter(|k| k.section == section)
        .map(|k| k.name)
        .collect()
}

/// Whether `name` is a key of `section`.
pub fn is_known(section: Section, name: &str) -> bool {
    all().any(|k| k.section == section && k.name == name)
}

/// The known key of `section` nearest to `key`: edit distance ≤ 2, the first of the
/// nearest in table order.
pub fn closest(key: &str, section: Section) -> Option<&'static str> {
    all()
        .filter(|k| k.section == section && k.name != key)
        .map(|k| (strsim::levenshtein(key, k.name), k.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
