//! `nrpe.cfg` (protocols.md §2): every directive with nrpe's default,
//! `command[NAME]=`, `include=`/`include_dir=` through a caller-supplied
//! [`Loader`] (this crate does no I/O), `nasty_metachars` C escapes and
//! `allowed_hosts` entries.
//!
//! Parsing never stops at the first problem: all errors come back at once,
//! each with its `file:line`; warnings (unknown directives, missing includes,
//! rejected `allowed_hosts` entries) come back next to the config.

mod allowed_hosts;

pub use allowed_hosts::{AllowedHost, HostEntryError, parse_allowed_host};

use std::{collections::HashMap, fmt};

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_till, take_while_m_n},
    character::complete::{anychar, char, none_of},
    combinator::{map, map_opt, rest},
    multi::many0,
    sequence::{delimited, preceded},
};

/// nrpe's default `nasty_metachars` (protocols.md §1.4 step 5).
pub const DEFAULT_NASTY_METACHARS: &str = "|`&><'\\[]{};\r\n";
/// nrpe's default `ssl_cipher_list`.
pub const DEFAULT_CIPHER_LIST: &str = "ALL:!MD5:@STRENGTH:@SECLEVEL=0";
/// Nesting depth of includes beyond which a file is refused.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// What a directory listing entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Other,
}

/// One entry of a directory listing, name only (no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

/// The caller's access to files. Errors are messages (e.g. the OS error).
pub trait Loader {
    /// Contents of a file (the error's text goes into the report).
    fn read(&mut self, path: &str) -> Result<Vec<u8>, std::io::Error>;
    /// Entries of a directory, in any order.
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, std::io::Error>;
    /// A canonical name for cycle detection (e.g. `realpath`). Default: the path.
    fn canonical(&mut self, path: &str) -> String {
        path.to_string()
    }
}

/// `log_facility` values nrpe knows.
pub const LOG_FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "lrp", "news", "uucp", "cron",
    "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

/// `address_family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFamily {
    #[default]
    Any,
    V4,
    V6,
}

/// A TLS protocol version named by `ssl_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

/// `ssl_version`: one exact version, or that version and higher (`+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslVersion {
    pub version: TlsVersion,
    pub or_higher: bool,
}

impl Default for SslVersion {
    fn default() -> Self {
        SslVersion {
            version: TlsVersion::Tls1_0,
            or_higher: true,
        }
    }
}

/// One `command[NAME]=LINE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NrpeCommand {
    pub name: String,
    pub line: String,
    /// Where the (last) definition is.
    pub file: String,
    pub line_no: usize,
}

impl NrpeCommand {
    /// Whether the command line uses `$ARGn$` macros (so it needs arguments).
    pub fn uses_args(&self) -> bool {
        self.line.contains("$ARG")
    }
}

/// A parsed nrpe.cfg with nrpe's defaults for everything not set.
#[derive(Debug, Clone, PartialEq)]
pub struct NrpeConfig {
    pub log_facility: String,
    pub log_file: Option<String>,
    pub disable_syslog: bool,
    pub debug: bool,
    pub pid_file: Option<String>,
    pub server_port: u16,
    pub server_address: Option<String>,
    pub address_family: AddressFamily,
    pub listen_queue_size: u32,
    pub nrpe_user: Option<String>,
    pub nrpe_group: Option<String>,
    /// `None`: not set, every host allowed. `Some(empty)`: nothing valid, every host denied.
    pub allowed_hosts: Option<Vec<AllowedHost>>,
    pub dont_blame_nrpe: bool,
    pub allow_bash_command_substitution: bool,
    pub command_prefix: Option<String>,
    /// Seconds.
    pub command_timeout: u32,
    /// Seconds.
    pub connection_timeout: u32,
    /// Seconds.
    pub ssl_shutdown_timeout: u32,
    /// Concurrent children; 0 = unlimited.
    pub max_commands: u32,
    pub allow_weak_random_seed: bool,
    /// After C-escape processing.
    pub nasty_metachars: String,
    pub keep_env_vars: Vec<String>,
    /// In order of first definition; a duplicate replaces the line (last wins).
    pub commands: Vec<NrpeCommand>,
    pub ssl_enabled: bool,
    pub ssl_version: SslVersion,
    pub ssl_use_adh: u8,
    pub ssl_cipher_list: String,
    pub ssl_cacert_file: Option<String>,
    pub ssl_cert_file: Option<String>,
    pub ssl_privatekey_file: Option<String>,
    pub ssl_client_certs: u8,
    pub ssl_logging: i64,
}

impl Default for NrpeConfig {
    fn default() -> Self {
        NrpeConfig {
            log_facility: "daemon".into(),
            log_file: None,
            disable_syslog: false,
            debug: false,
            pid_file: None,
            server_port: 5666,
            server_address: None,
            address_family: AddressFamily::Any,
            listen_queue_size: 5,
            nrpe_user: None,
            nrpe_group: None,
            allowed_hosts: None,
            dont_blame_nrpe: false,
            allow_bash_command_substitution: false,
            command_prefix: None,
            command_timeout: 60,
            connection_timeout: 300,
            ssl_shutdown_timeout: 15,
            max_commands: 0,
            allow_weak_random_seed: false,
            nasty_metachars: DEFAULT_NASTY_METACHARS.into(),
            keep_env_vars: Vec::new(),
            commands: Vec::new(),
            ssl_enabled: true,
            ssl_version: SslVersion::default(),
            ssl_use_adh: 1,
            ssl_cipher_list: DEFAULT_CIPHER_LIST.into(),
            ssl_cacert_file: None,
            ssl_cert_file: None,
            ssl_privatekey_file: None,
            ssl_client_certs: 0,
            ssl_logging: 0,
        }
    }
}

impl NrpeConfig {
    /// The command named `name`, if defined.
    pub fn command(&self, name: &str) -> Option<&NrpeCommand> {
        self.commands.iter().find(|c| c.name == name)
    }
}

/// A config problem: fatal, as nrpe would refuse to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct CfgError {
    pub file: String,
    /// 0 when the problem is the file itself (it cannot be read).
    pub line: usize,
    pub kind: CfgErrorKind,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfgErrorKind {
    #[error("cannot read config file: {0}")]
    Read(String),
    #[error("line is not `name=value`")]
    NoEquals,
    #[error("no value given for {0}")]
    NoValue(String),
    #[error("invalid command definition")]
    BadCommand,
    #[error("invalid value {value:?} for {name}: {reason}")]
    BadValue {
        name: String,
        value: String,
        reason: String,
    },
    #[error("include cycle: {0} is already being read")]
    Cycle(String),
    #[error("includes nested deeper than {MAX_INCLUDE_DEPTH}")]
    TooDeep,
}

/// Something nrpe would log and go on with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgWarning {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CfgWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// All errors of a failed load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct CfgErrors(pub Vec<CfgError>);

/// A loaded config and what was worth a warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: NrpeConfig,
    pub warnings: Vec<CfgWarning>,
    /// Every file read, in order.
    pub files: Vec<String>,
}

/// Loads `path` and everything it includes.
pub fn load(path: &str, loader: &mut dyn Loader) -> Result<Loaded, CfgErrors> {
    let mut state = State {
        config: NrpeConfig::default(),
        warnings: Vec::new(),
        errors: Vec::new(),
        files: Vec::new(),
        stack: Vec::new(),
        command_index: HashMap::new(),
    };
    match loader.read(path) {
        Ok(bytes) => {
            let canonical = loader.canonical(path);
            state.stack.push(canonical);
            state.parse_file(path, &bytes, loader);
        }
        Err(e) => state.error(path, 0, CfgErrorKind::Read(e.to_string())),
    }
    if state.errors.is_empty() {
        Ok(Loaded {
            config: state.config,
            warnings: state.warnings,
            files: state.files,
        })
    } else {
        Err(CfgErrors(state.errors))
    }
}

/// Parses a single file's text with no includes possible (they warn).
pub fn parse_str(name: &str, text: &str) -> Result<Loaded, CfgErrors> {
    struct NoFiles;
    impl Loader for NoFiles {
        fn read(&mut self, _: &str) -> Result<Vec<u8>, std::io::Error> {
            Err(std::io::Error::other("no loader"))
        }
        fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, std::io::Error> {
            Err(std::io::Error::other("no loader"))
        }
    }
    struct One<'a>(&'a str, &'a str);
    impl Loader for One<'_> {
        fn read(&mut self, path: &str) -> Result<Vec<u8>, std::io::Error> {
            if path == self.0 {
                Ok(self.1.as_bytes().to_vec())
            } else {
                NoFiles.read(path)
            }
        }
        fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, std::io::Error> {
            NoFiles.list_dir(path)
        }
    }
    load(name, &mut One(name, text))
}

struct State {
    config: NrpeConfig,
    warnings: Vec<CfgWarning>,
    errors: Vec<CfgError>,
    files: Vec<String>,
    stack: Vec<String>,
    command_index: HashMap<String, usize>,
}

/// One meaningful line.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Command { name: &'a str, line: &'a str },
    Setting { name: &'a str, value: &'a str },
}

/// `name=value` with both sides trimmed; `command[NAME]=…` recognised.
fn parse_line(text: &str) -> Result<Line<'_>, CfgErrorKind> {
    let (value, name) = match (
        take_till::<_, _, nom::error::Error<&str>>(|c| c == '='),
        char('='),
    )
        .parse(text)
    {
        Ok((value, (name, _))) => (value, name),
        Err(_) => return Err(CfgErrorKind::NoEquals),
    };
    let name = name.trim();
    let value = value.trim();
    if value.is_empty() {
        return Err(CfgErrorKind::NoValue(name.to_string()));
    }
    if name.starts_with("command[") {
        let bracketed: IResult<&str, &str> =
            delimited(tag("command["), take_till(|c| c == ']'), char(']')).parse(name);
        return match bracketed {
            Ok((_, cmd)) if !cmd.is_empty() => Ok(Line::Command {
                name: cmd,
                line: value,
            }),
            _ => Err(CfgErrorKind::BadCommand),
        };
    }
    Ok(Line::Setting { name, value })
}

fn bad(name: &str, value: &str, reason: &str) -> CfgErrorKind {
    CfgErrorKind::BadValue {
        name: name.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn int(name: &str, value: &str) -> Result<i64, CfgErrorKind> {
    value
        .parse::<i64>()
        .map_err(|_| bad(name, value, "not an integer"))
}

fn int_at_least(name: &str, value: &str, min: i64) -> Result<u32, CfgErrorKind> {
    let n = int(name, value)?;
    if n < min {
        return Err(bad(name, value, &format!("must be at least {min}")));
    }
    u32::try_from(n).map_err(|_| bad(name, value, "too large"))
}

fn flag(name: &str, value: &str) -> Result<bool, CfgErrorKind> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad(name, value, "must be 0 or 1")),
    }
}

fn small(name: &str, value: &str, max: u8) -> Result<u8, CfgErrorKind> {
    match value.parse::<u8>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(bad(name, value, &format!("must be 0..{max}"))),
    }
}

/// `ssl_version` values: `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`, each with an
/// optional `+`. `SSLv2+`/`SSLv3+` mean the lowest TLS version this build has.
pub fn parse_ssl_version(value: &str) -> Option<SslVersion> {
    let (base, or_higher) = match value.strip_suffix('+') {
        Some(b) => (b, true),
        None => (value, false),
    };
    let version = match base {
        "TLSv1" | "TLSv1.0" => TlsVersion::Tls1_0,
        "TLSv1.1" => TlsVersion::Tls1_1,
        "TLSv1.2" => TlsVersion::Tls1_2,
        "TLSv1.3" => TlsVersion::Tls1_3,
        "SSLv2" | "SSLv3" if or_higher => TlsVersion::Tls1_0,
        _ => return None,
    };
    Some(SslVersion { version, or_higher })
}

/// Processes C escapes as nrpe does for `nasty_metachars`: `\a \b \f \n \r \t
/// \v \\ \' \" \?`, octal `\ooo` and hex `\xhh`. Unknown escapes keep the
/// character after the backslash; a trailing backslash stays.
pub fn unescape_c(value: &str) -> String {
    fn octal(i: &str) -> IResult<&str, char> {
        map_opt(take_while_m_n(1, 3, |c: char| c.is_digit(8)), |d: &str| {
            u32::from_str_radix(d, 8)
                .ok()
                .and_then(|n| char::from_u32(n & 0xff))
        })
        .parse(i)
    }
    fn hex(i: &str) -> IResult<&str, char> {
        preceded(
            char('x'),
            map_opt(
                take_while_m_n(1, 2, |c: char| c.is_ascii_hexdigit()),
                |d: &str| u32::from_str_radix(d, 16).ok().and_then(char::from_u32),
            ),
        )
        .parse(i)
    }
    fn simple(i: &str) -> IResult<&str, char> {
        map(anychar, |c| match c {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            other => other,
        })
        .parse(i)
    }
    let escape = preceded(char('\\'), alt((octal, hex, simple)));
    let mut chars = many0(alt((escape, none_of("\\"))));
    match chars.parse(value) {
        Ok((rest_text, parsed)) => {
            let mut out: String = parsed.into_iter().collect();
            // Only a trailing lone backslash can be left over.
            let tail: IResult<&str, &str> = rest.parse(rest_text);
            if let Ok((_, t)) = tail {
                out.push_str(t);
            }
            out
        }
        Err(_) => value.to_string(),
    }
}

impl State {
    fn error(&mut self, file: &str, line: usize, kind: CfgErrorKind) {
        self.errors.push(CfgError {
            file: file.to_string(),
            line,
            kind,
        });
    }

    fn warn(&mut self, file: &str, line: usize, message: String) {
        self.warnings.push(CfgWarning {
            file: file.to_string(),
            line,
            message,
        });
    }

    fn parse_file(&mut self, path: &str, bytes: &[u8], loader: &mut dyn Loader) {
        self.files.push(path.to_string());
        let text = String::from_utf8_lossy(bytes);
        for (index, raw) in text.split('\n').enumerate() {
            let line_no = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match parse_line(trimmed) {
                Ok(Line::Command { name, line }) => self.add_command(path, line_no, name, line),
                Ok(Line::Setting { name, value }) => {
                    if let Err(kind) = self.apply(path, line_no, name, value, loader) {
                        self.error(path, line_no, kind);
                    }
                }
                Err(kind) => self.error(path, line_no, kind),
            }
        }
    }

    fn add_command(&mut self, file: &str, line_no: usize, name: &str, line: &str) {
        let command = NrpeCommand {
            name: name.to_string(),
            line: line.to_string(),
            file: file.to_string(),
            line_no,
        };
        if let Some(&i) = self.command_index.get(name) {
            if let Some(previous) = self.config.commands.get(i) {
                let message = format!(
                    "command[{name}] redefined (first at {}:{}); the last definition wins",
                    previous.file, previous.line_no
                );
                self.warn(file, line_no, message);
            }
            if let Some(slot) = self.config.commands.get_mut(i) {
                *slot = command;
            }
        } else {
            self.command_index
                .insert(name.to_string(), self.config.commands.len());
            self.config.commands.push(command);
        }
    }

    fn apply(
        &mut self,
        file: &str,
        line_no: usize,
        name: &str,
        value: &str,
        loader: &mut dyn Loader,
    ) -> Result<(), CfgErrorKind> {
        match name {
            "allowed_hosts" => self.allowed_hosts(file, line_no, value),
            "include" | "include_file" => self.include_file(file, line_no, value, loader),
            "include_dir" => self.include_dir(file, line_no, value, loader),
            _ if set_server(&mut self.config, name, value)? => {}
            _ if set_ssl(&mut self.config, name, value)? => {}
            // nrpe's quirk: an unmatched name containing `debug` sets debug.
            other if other.contains("debug") => self.config.debug = flag(name, value)?,
            other => self.warn(
                file,
                line_no,
                format!("unknown directive {other:?} ignored"),
            ),
        }
        Ok(())
    }

    /// `allowed_hosts`: the entries that parse; each rejected one is a warning.
    fn allowed_hosts(&mut self, file: &str, line_no: usize, value: &str) {
        let mut hosts = Vec::new();
        let mut rejected = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match parse_allowed_host(entry) {
                Ok(h) => hosts.push(h),
                Err(e) => rejected.push(e),
            }
        }
        for e in rejected {
            self.warn(file, line_no, format!("allowed_hosts: {e}; entry ignored"));
        }
        self.config.allowed_hosts = Some(hosts);
    }

    fn include_file(&mut self, from: &str, line_no: usize, target: &str, loader: &mut dyn Loader) {
        let path = resolve(from, target);
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.error(from, line_no, CfgErrorKind::TooDeep);
            return;
        }
        let canonical = loader.canonical(&path);
        if self.stack.contains(&canonical) {
            self.error(from, line_no, CfgErrorKind::Cycle(path));
            return;
        }
        match loader.read(&path) {
            Ok(bytes) => {
                self.stack.push(canonical);
                self.parse_file(&path, &bytes, loader);
                self.stack.pop();
            }
            Err(e) => self.warn(
                from,
                line_no,
                format!("cannot read include file {path}: {e}; continuing"),
            ),
        }
    }

    fn include_dir(&mut self, from: &str, line_no: usize, target: &str, loader: &mut dyn Loader) {
        let dir = resolve(from, target);
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.error(from, line_no, CfgErrorKind::TooDeep);
            return;
        }
        let canonical = loader.canonical(&dir);
        if self.stack.contains(&canonical) {
            self.error(from, line_no, CfgErrorKind::Cycle(dir));
            return;
        }
        let mut entries = match loader.list_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.warn(
                    from,
                    line_no,
                    format!("cannot read include directory {dir}: {e}; continuing"),
                );
                return;
            }
        };
        entries.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        self.stack.push(canonical);
        let base = dir.trim_end_matches('/');
        for entry in entries {
            let path = format!("{base}/{}", entry.name);
            match entry.kind {
                EntryKind::File if entry.name.len() > 4 && entry.name.ends_with(".cfg") => {
                    self.include_file(from, line_no, &path, loader);
                }
                EntryKind::Dir if !entry.name.starts_with('.') => {
                    self.include_dir(from, line_no, &path, loader);
                }
                _ => {}
            }
        }
        self.stack.pop();
    }
}

/// Sets a server directive (everything but `ssl_*`, includes and `allowed_hosts`);
/// `Ok(false)` when `name` is none of them.
fn set_server(c: &mut NrpeConfig, name: &str, value: &str) -> Result<bool, CfgErrorKind> {
    match name {
        "log_facility" => {
            if !LOG_FACILITIES.contains(&value) {
                return Err(bad(name, value, "unknown syslog facility"));
            }
            c.log_facility = value.into();
        }
        "log_file" => c.log_file = Some(value.into()),
        "disable_syslog" => c.disable_syslog = flag(name, value)?,
        "debug" => c.debug = flag(name, value)?,
        "pid_file" => c.pid_file = Some(value.into()),
        "server_port" => {
            let port = int(name, value)?;
            c.server_port = match u16::try_from(port) {
                Ok(p) if p >= 1024 => p,
                _ => return Err(bad(name, value, "must be 1024..65535")),
            };
        }
        "server_address" => c.server_address = Some(value.into()),
        "address_family" => {
            c.address_family = match value {
                "4" | "ipv4" => AddressFamily::V4,
                "6" | "ipv6" => AddressFamily::V6,
                "any" | "both" => AddressFamily::Any,
                _ => return Err(bad(name, value, "must be any, both, 4 or 6")),
            };
        }
        "listen_queue_size" => c.listen_queue_size = int_at_least(name, value, 1)?,
        "nrpe_user" => c.nrpe_user = Some(value.into()),
        "nrpe_group" => c.nrpe_group = Some(value.into()),
        "dont_blame_nrpe" => c.dont_blame_nrpe = flag(name, value)?,
        "allow_bash_command_substitution" => c.allow_bash_command_substitution = flag(name, value)?,
        "command_prefix" => c.command_prefix = Some(value.into()),
        "command_timeout" => c.command_timeout = int_at_least(name, value, 1)?,
        "connection_timeout" => c.connection_timeout = int_at_least(name, value, 1)?,
        "max_commands" => c.max_commands = int_at_least(name, value, 0)?,
        "allow_weak_random_seed" => c.allow_weak_random_seed = flag(name, value)?,
        "nasty_metachars" => c.nasty_metachars = unescape_c(value),
        "keep_env_vars" => {
            c.keep_env_vars = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect();
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Sets an `ssl_*` directive; `Ok(false)` when `name` is none of them.
fn set_ssl(c: &mut NrpeConfig, name: &str, value: &str) -> Result<bool, CfgErrorKind> {
    match name {
        "ssl_shutdown_timeout" => c.ssl_shutdown_timeout = int_at_least(name, value, 1)?,
        "ssl_enabled" => c.ssl_enabled = flag(name, value)?,
        "ssl_version" => {
            c.ssl_version = parse_ssl_version(value).ok_or_else(|| {
                bad(
                    name,
                    value,
                    "must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, optionally with +",
                )
            })?;
        }
        "ssl_use_adh" => c.ssl_use_adh = small(name, value, 2)?,
        "ssl_cipher_list" => c.ssl_cipher_list = value.into(),
        "ssl_cacert_file" => c.ssl_cacert_file = Some(value.into()),
        "ssl_cert_file" => c.ssl_cert_file = Some(value.into()),
        "ssl_privatekey_file" => c.ssl_privatekey_file = Some(value.into()),
        "ssl_client_certs" => c.ssl_client_certs = small(name, value, 2)?,
        "ssl_logging" => {
            c.ssl_logging = match value
                .strip_prefix("0x")
                .or_else(|| value.strip_prefix("0X"))
            {
                Some(hex) => i64::from_str_radix(hex, 16),
                None => value.parse::<i64>(),
            }
            .map_err(|_| bad(name, value, "not an integer"))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A relative include is taken relative to the including file's directory
/// (nrpe uses its working directory, which is `/` for a daemon).
fn resolve(from: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    match from.rfind('/') {
        Some(i) => format!("{}/{target}", &from[..i]),
        None => target.to_string(),
    }
}

#[cfg(test)]
mod tests;
