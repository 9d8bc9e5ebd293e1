//! `nrpe.cfg` (protocols.md §2): every directive with nrpe's default,
//! `command[NAME]=`, `include=`/`include_dir=` through a caller-supplied
//! [`Loader`] (this crate does no I/O), `nasty_metachars` C escapes and
//! `allowed_hosts` entries.
//!
//! Parsing never stops at the first problem: all errors come back at once,
//! each with its `file:line`; warnings (unknown directives, missing includes,
//! rejected `allowed_hosts` entries) come back next to the config.

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

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
    /// Contents of a file.
    fn read(&mut self, path: &str) -> Result<Vec<u8>, String>;
    /// Entries of a directory, in any order.
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, String>;
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

/// One `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    V4 {
        net: Ipv4Addr,
        prefix: u8,
    },
    V6 {
        net: Ipv6Addr,
        prefix: u8,
    },
    /// Resolved by the daemon on every connection.
    Name(String),
}

impl AllowedHost {
    /// Whether an address matches this IP entry. Families are compared
    /// strictly (an IPv4-mapped IPv6 peer only matches IPv6 entries).
    /// A [`AllowedHost::Name`] never matches here: resolve it first.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (AllowedHost::V4 { net, prefix }, IpAddr::V4(ip)) => {
                let mask = mask32(*prefix);
                u32::from(ip) & mask == u32::from(*net) & mask
            }
            (AllowedHost::V6 { net, prefix }, IpAddr::V6(ip)) => {
                let mask = mask128(*prefix);
                u128::from(ip) & mask == u128::from(*net) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHost::V4 { net, prefix: 32 } => write!(f, "{net}"),
            AllowedHost::V4 { net, prefix } => write!(f, "{net}/{prefix}"),
            AllowedHost::V6 { net, prefix: 128 } => write!(f, "{net}"),
            AllowedHost::V6 { net, prefix } => write!(f, "{net}/{prefix}"),
            AllowedHost::Name(name) => f.write_str(name),
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// Why an `allowed_hosts` entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostEntryError {
    #[error("invalid prefix length in {0:?}")]
    Prefix(String),
    #[error("{0:?} has host bits set outside its prefix")]
    HostBits(String),
    #[error("invalid address or host name {0:?}")]
    Invalid(String),
}

/// Parses one `allowed_hosts` entry (already trimmed, non-empty).
pub fn parse_allowed_host(entry: &str) -> Result<AllowedHost, HostEntryError> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (entry, None),
    };
    let prefix_len = |max: u8| -> Result<u8, HostEntryError> {
        match prefix {
            None => Ok(max),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(HostEntryError::Prefix(entry.to_string())),
                }
            }
            Some(_) => Err(HostEntryError::Prefix(entry.to_string())),
        }
    };
    if addr.contains(':') {
        let net: Ipv6Addr = addr
            .parse()
            .map_err(|_| HostEntryError::Invalid(entry.to_string()))?;
        let prefix = prefix_len(128)?;
        if u128::from(net) & !mask128(prefix) != 0 {
            return Err(HostEntryError::HostBits(entry.to_string()));
        }
        return Ok(AllowedHost::V6 { net, prefix });
    }
    if let Ok(net) = addr.parse::<Ipv4Addr>() {
        let prefix = prefix_len(32)?;
        if u32::from(net) & !mask32(prefix) != 0 {
            return Err(HostEntryError::HostBits(entry.to_string()));
        }
        return Ok(AllowedHost::V4 { net, prefix });
    }
    let hostname_ok = prefix.is_none()
        && !addr.is_empty()
        && addr.len() <= 253
        && !addr.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if hostname_ok {
        Ok(AllowedHost::Name(addr.to_string()))
    } else {
        Err(HostEntryError::Invalid(entry.to_string()))
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
        Err(e) => state.error(path, 0, CfgErrorKind::Read(e)),
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
        fn read(&mut self, _: &str) -> Result<Vec<u8>, String> {
            Err("no loader".into())
        }
        fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, String> {
            Err("no loader".into())
        }
    }
    struct One<'a>(&'a str, &'a str);
    impl Loader for One<'_> {
        fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
            if path == self.0 {
                Ok(self.1.as_bytes().to_vec())
            } else {
                NoFiles.read(path)
            }
        }
        fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, String> {
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
        let c = &mut self.config;
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
            "allowed_hosts" => {
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
            "dont_blame_nrpe" => c.dont_blame_nrpe = flag(name, value)?,
            "allow_bash_command_substitution" => {
                c.allow_bash_command_substitution = flag(name, value)?
            }
            "command_prefix" => c.command_prefix = Some(value.into()),
            "command_timeout" => c.command_timeout = int_at_least(name, value, 1)?,
            "connection_timeout" => c.connection_timeout = int_at_least(name, value, 1)?,
            "ssl_shutdown_timeout" => c.ssl_shutdown_timeout = int_at_least(name, value, 1)?,
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
            "include" | "include_file" => self.include_file(file, line_no, value, loader),
            "include_dir" => self.include_dir(file, line_no, value, loader),
            // nrpe's quirk: an unmatched name containing `debug` sets debug.
            other if other.contains("debug") => c.debug = flag(name, value)?,
            other => self.warn(
                file,
                line_no,
                format!("unknown directive {other:?} ignored"),
            ),
        }
        Ok(())
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Mem {
        files: BTreeMap<String, String>,
        dirs: BTreeMap<String, Vec<DirEntry>>,
    }

    impl Mem {
        fn file(mut self, path: &str, text: &str) -> Self {
            self.files.insert(path.into(), text.into());
            self
        }
        fn dir(mut self, path: &str, entries: &[(&str, EntryKind)]) -> Self {
            let list = entries
                .iter()
                .map(|(n, k)| DirEntry {
                    name: (*n).into(),
                    kind: *k,
                })
                .collect();
            self.dirs.insert(path.into(), list);
            self
        }
    }

    impl Loader for Mem {
        fn read(&mut self, path: &str) -> Result<Vec<u8>, String> {
            self.files
                .get(path)
                .map(|t| t.as_bytes().to_vec())
                .ok_or_else(|| "No such file or directory".into())
        }
        fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, String> {
            self.dirs
                .get(path.trim_end_matches('/'))
                .cloned()
                .ok_or_else(|| "No such file or directory".into())
        }
    }

    fn ok(text: &str) -> Loaded {
        parse_str("/etc/nrpe.cfg", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errs(text: &str) -> Vec<String> {
        match parse_str("/etc/nrpe.cfg", text) {
            Ok(l) => panic!("expected errors, got {:?}", l.config),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const DEBIAN: &str = "\
# comment
log_facility=daemon
debug=0
pid_file=/run/nagios/nrpe.pid
server_port=5666
nrpe_user=nagios
nrpe_group=nagios
allowed_hosts=127.0.0.1,::1
dont_blame_nrpe=0
allow_bash_command_substitution=0
command_timeout=60
connection_timeout=300
disable_syslog=0
command[check_users]=/usr/lib/nagios/plugins/check_users -w 5 -c 10
command[check_load]=/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20
command[check_hda1]=/usr/lib/nagios/plugins/check_disk -w 20% -c 10% -p /dev/hda1
command[check_zombie_procs]=/usr/lib/nagios/plugins/check_procs -w 5 -c 10 -s Z
command[check_total_procs]=/usr/lib/nagios/plugins/check_procs -w 150 -c 200
include=/etc/nagios/nrpe_local.cfg
include_dir=/etc/nagios/nrpe.d/
";

    #[test]
    fn debian_stock_config() {
        let mut mem = Mem::default()
            .file("/etc/nagios/nrpe.cfg", DEBIAN)
            .file("/etc/nagios/nrpe_local.cfg", "# empty\n")
            .dir("/etc/nagios/nrpe.d", &[]);
        let loaded = load("/etc/nagios/nrpe.cfg", &mut mem).unwrap_or_else(|e| panic!("{e}"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config;
        assert_eq!(c.server_port, 5666);
        assert_eq!(c.pid_file.as_deref(), Some("/run/nagios/nrpe.pid"));
        assert_eq!(c.nrpe_user.as_deref(), Some("nagios"));
        assert_eq!(
            c.allowed_hosts,
            Some(vec![
                AllowedHost::V4 {
                    net: Ipv4Addr::LOCALHOST,
                    prefix: 32
                },
                AllowedHost::V6 {
                    net: Ipv6Addr::LOCALHOST,
                    prefix: 128
                },
            ])
        );
        assert_eq!(c.commands.len(), 5);
        assert_eq!(c.commands[1].name, "check_load");
        assert_eq!(
            c.commands[1].line,
            "/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20"
        );
        assert_eq!(c.commands[1].line_no, 15);
        assert_eq!(
            loaded.files,
            ["/etc/nagios/nrpe.cfg", "/etc/nagios/nrpe_local.cfg"]
        );
    }

    #[test]
    fn defaults() {
        let c = ok("").config;
        assert_eq!(c, NrpeConfig::default());
        assert_eq!(c.command_timeout, 60);
        assert_eq!(c.connection_timeout, 300);
        assert_eq!(c.nasty_metachars, "|`&><'\\[]{};\r\n");
        assert_eq!(c.ssl_cipher_list, "ALL:!MD5:@STRENGTH:@SECLEVEL=0");
        assert!(c.ssl_enabled);
        assert_eq!(c.allowed_hosts, None);
    }

    #[test]
    fn every_directive() {
        let c = ok("log_facility=local3\nlog_file=/tmp/n.log\ndisable_syslog=1\ndebug=1\n\
             server_address=::1\naddress_family=6\nlisten_queue_size=9\n\
             dont_blame_nrpe=1\nallow_bash_command_substitution=1\ncommand_prefix=/usr/bin/sudo\n\
             command_timeout=5\nconnection_timeout=7\nssl_shutdown_timeout=3\nmax_commands=4\n\
             allow_weak_random_seed=1\nkeep_env_vars=LANG, LC_ , ,TZ\nssl_enabled=0\nssl_version=TLSv1.2+\n\
             ssl_use_adh=2\nssl_cipher_list=HIGH\nssl_cacert_file=/ca.pem\nssl_cert_file=/c.pem\n\
             ssl_privatekey_file=/k.pem\nssl_client_certs=2\nssl_logging=0x1f\n")
        .config;
        assert_eq!(c.log_facility, "local3");
        assert_eq!(c.log_file.as_deref(), Some("/tmp/n.log"));
        assert!(
            c.disable_syslog && c.debug && c.dont_blame_nrpe && c.allow_bash_command_substitution
        );
        assert_eq!(c.server_address.as_deref(), Some("::1"));
        assert_eq!(c.address_family, AddressFamily::V6);
        assert_eq!(c.listen_queue_size, 9);
        assert_eq!(c.command_prefix.as_deref(), Some("/usr/bin/sudo"));
        assert_eq!(
            (
                c.command_timeout,
                c.connection_timeout,
                c.ssl_shutdown_timeout
            ),
            (5, 7, 3)
        );
        assert_eq!(c.max_commands, 4);
        assert!(c.allow_weak_random_seed);
        assert_eq!(c.keep_env_vars, ["LANG", "LC_", "TZ"]);
        assert!(!c.ssl_enabled);
        assert_eq!(
            c.ssl_version,
            SslVersion {
                version: TlsVersion::Tls1_2,
                or_higher: true
            }
        );
        assert_eq!(
            (c.ssl_use_adh, c.ssl_client_certs, c.ssl_logging),
            (2, 2, 31)
        );
        assert_eq!(c.ssl_cipher_list, "HIGH");
        assert_eq!(c.ssl_cacert_file.as_deref(), Some("/ca.pem"));
        assert_eq!(c.ssl_cert_file.as_deref(), Some("/c.pem"));
        assert_eq!(c.ssl_privatekey_file.as_deref(), Some("/k.pem"));
        assert_eq!(ok("ssl_logging=-1").config.ssl_logging, -1);
        assert!(!ok("ssl_version=TLSv1.3").config.ssl_version.or_higher);
    }

    // §6 item 14.
    #[test]
    fn values_crlf_duplicates() {
        let loaded =
            ok("command[a]=echo x=y\r\n  command[b] = echo b  \r\ncommand[a]=echo second\r\n");
        let c = &loaded.config;
        assert_eq!(c.commands.len(), 2);
        assert_eq!(c.command("a").map(|c| c.line.as_str()), Some("echo second"));
        assert_eq!(c.command("a").map(|c| c.line_no), Some(3));
        assert_eq!(c.command("b").map(|c| c.line.as_str()), Some("echo b"));
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0].message.contains("redefined"),
            "{:?}",
            loaded.warnings
        );
        assert!(c.command("a").is_some_and(|c| !c.uses_args()));
        assert!(ok("command[x]=echo $ARG1$").config.commands[0].uses_args());
    }

    #[test]
    fn errors_carry_file_and_line_and_are_all_reported() {
        let e = errs(
            "server_port=80\n\nbogus line\ncommand_timeout=0\ncommand[]=x\nallowed_hosts=\ndebug=yes\n",
        );
        assert_eq!(
            e,
            [
                "/etc/nrpe.cfg:1: invalid value \"80\" for server_port: must be 1024..65535",
                "/etc/nrpe.cfg:3: line is not `name=value`",
                "/etc/nrpe.cfg:4: invalid value \"0\" for command_timeout: must be at least 1",
                "/etc/nrpe.cfg:5: invalid command definition",
                "/etc/nrpe.cfg:6: no value given for allowed_hosts",
                "/etc/nrpe.cfg:7: invalid value \"yes\" for debug: must be 0 or 1",
            ]
        );
        assert_eq!(errs("log_facility=nope").len(), 1);
        assert_eq!(errs("ssl_version=SSLv3").len(), 1);
        assert_eq!(errs("max_commands=-1").len(), 1);
        assert_eq!(errs("command[x=y").len(), 1);
    }

    #[test]
    fn unknown_directives_warn() {
        let loaded = ok("frobnicate=1\nserver_port=5667\n");
        assert_eq!(loaded.config.server_port, 5667);
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(
            loaded.warnings[0].to_string(),
            "/etc/nrpe.cfg:1: unknown directive \"frobnicate\" ignored"
        );
        // nrpe's quirk: names containing "debug" set debug.
        assert!(ok("my_debug=1").config.debug);
    }

    #[test]
    fn includes_relative_recursive_sorted_and_missing() {
        let mut mem = Mem::default()
            .file(
                "/e/nrpe.cfg",
                "include=local.cfg\ninclude_dir=d\ninclude=/missing.cfg\ncommand[last]=true\n",
            )
            .file("/e/local.cfg", "command[local]=true\n")
            .dir(
                "/e/d",
                &[
                    ("b.cfg", EntryKind::File),
                    ("a.cfg", EntryKind::File),
                    ("notes.txt", EntryKind::File),
                    ("sub", EntryKind::Dir),
                    (".hidden", EntryKind::Dir),
                    ("x.cfg", EntryKind::Other),
                ],
            )
            .file("/e/d/a.cfg", "command[a]=true\n")
            .file("/e/d/b.cfg", "command[b]=true\n")
            .dir("/e/d/sub", &[("c.cfg", EntryKind::File)])
            .file("/e/d/sub/c.cfg", "command[c]=true\r\n")
            .dir("/e/d/.hidden", &[("h.cfg", EntryKind::File)])
            .file("/e/d/.hidden/h.cfg", "command[hidden]=true\n");
        let loaded = load("/e/nrpe.cfg", &mut mem).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = loaded
            .config
            .commands
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["local", "a", "b", "c", "last"]);
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .to_string()
                .starts_with("/e/nrpe.cfg:3: cannot read include file /missing.cfg")
        );
        assert_eq!(
            loaded.config.command("c").map(|c| c.file.as_str()),
            Some("/e/d/sub/c.cfg")
        );
    }

    #[test]
    fn include_cycles_are_errors() {
        let mut mem = Mem::default()
            .file("/a.cfg", "include=/b.cfg\n")
            .file("/b.cfg", "server_port=5667\ninclude=/a.cfg\n");
        let e = load("/a.cfg", &mut mem).map(|_| ()).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(
            e.0[0].to_string(),
            "/b.cfg:2: include cycle: /a.cfg is already being read"
        );
        let mut mem = Mem::default().file("/a.cfg", "include=/a.cfg\n");
        assert!(load("/a.cfg", &mut mem).is_err());
        // A file included twice (not nested) is fine.
        let mut mem = Mem::default()
            .file("/a.cfg", "include=/b.cfg\ninclude=/b.cfg\n")
            .file("/b.cfg", "command[b]=true\n");
        assert!(load("/a.cfg", &mut mem).is_ok());
        let e = load("/nope.cfg", &mut Mem::default())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.0[0].line, 0);
    }

    #[test]
    fn include_dir_cycle_through_canonical_names() {
        struct Loop;
        impl Loader for Loop {
            fn read(&mut self, _: &str) -> Result<Vec<u8>, String> {
                Err("none".into())
            }
            fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, String> {
                Ok(vec![DirEntry {
                    name: "self".into(),
                    kind: EntryKind::Dir,
                }])
            }
            fn canonical(&mut self, path: &str) -> String {
                path.trim_end_matches("/self").to_string()
            }
        }
        let e = load(
            "/x.cfg",
            &mut Mem::default().file("/x.cfg", "include_dir=/d\n"),
        );
        assert!(e.is_ok());
        struct Wrap(Mem, Loop);
        impl Loader for Wrap {
            fn read(&mut self, p: &str) -> Result<Vec<u8>, String> {
                self.0.read(p)
            }
            fn list_dir(&mut self, p: &str) -> Result<Vec<DirEntry>, String> {
                self.1.list_dir(p)
            }
            fn canonical(&mut self, p: &str) -> String {
                self.1.canonical(p)
            }
        }
        let e = load(
            "/x.cfg",
            &mut Wrap(Mem::default().file("/x.cfg", "include_dir=/d\n"), Loop),
        );
        let errors = e.map(|_| ()).unwrap_err();
        assert!(
            matches!(errors.0[0].kind, CfgErrorKind::Cycle(_)),
            "{errors}"
        );
    }

    #[test]
    fn metachar_escapes() {
        assert_eq!(
            unescape_c(r#"\n\r\t\\\'\"\a\b\f\v\?"#),
            "\n\r\t\\'\"\x07\x08\x0c\x0b?"
        );
        assert_eq!(unescape_c(r"a\101\x42;"), "aAB;");
        assert_eq!(unescape_c(r"|`&\"), "|`&\\");
        assert_eq!(unescape_c(r"\q"), "q");
        assert_eq!(
            ok(r"nasty_metachars=|\n\r;").config.nasty_metachars,
            "|\n\r;"
        );
    }

    // §6 item 13.
    #[test]
    fn allowed_hosts_entries() {
        let loaded = ok(
            "allowed_hosts= 10.0.0.0/8 ,,192.168.1.5/24, 0.0.0.0/0,1.2.3.4/32,fd00::/64,fd00::1/64,nagios.example.com, ,bad host,1.2.3.4/33,300.1.1.1\n",
        );
        let hosts = loaded.config.allowed_hosts.clone().unwrap_or_default();
        assert_eq!(
            hosts,
            [
                AllowedHost::V4 {
                    net: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 8
                },
                AllowedHost::V4 {
                    net: Ipv4Addr::UNSPECIFIED,
                    prefix: 0
                },
                AllowedHost::V4 {
                    net: Ipv4Addr::new(1, 2, 3, 4),
                    prefix: 32
                },
                AllowedHost::V6 {
                    net: "fd00::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                    prefix: 64
                },
                AllowedHost::Name("nagios.example.com".into()),
            ]
        );
        assert_eq!(loaded.warnings.len(), 5, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].message.contains("host bits"));

        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        assert!(hosts[0].matches(ip("10.255.0.1")));
        assert!(!hosts[0].matches(ip("11.0.0.1")));
        assert!(hosts[1].matches(ip("203.0.113.9")));
        assert!(!hosts[1].matches(ip("::1")));
        assert!(hosts[2].matches(ip("1.2.3.4")) && !hosts[2].matches(ip("1.2.3.5")));
        assert!(hosts[3].matches(ip("fd00::abcd")) && !hosts[3].matches(ip("fd01::1")));
        // IPv4-mapped IPv6 peers only match IPv6 entries.
        assert!(!hosts[0].matches(ip("::ffff:10.0.0.1")));
        assert!(!hosts[4].matches(ip("10.0.0.1")));
        assert_eq!(hosts[0].to_string(), "10.0.0.0/8");
        assert_eq!(hosts[2].to_string(), "1.2.3.4");

        // All entries invalid → set but empty: deny everyone.
        assert_eq!(
            ok("allowed_hosts=1.2.3.4/99").config.allowed_hosts,
            Some(vec![])
        );
    }

    struct Anything(String);
    impl Loader for Anything {
        fn read(&mut self, _: &str) -> Result<Vec<u8>, String> {
            Ok(self.0.as_bytes().to_vec())
        }
        fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, String> {
            Ok(vec![DirEntry {
                name: "x.cfg".into(),
                kind: EntryKind::File,
            }])
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "[a-z_\\[\\]=#/\\\\.,: 0-9\r\n-]{0,200}") {
            let _ = parse_str("/f.cfg", &text);
            let _ = load("/f.cfg", &mut Anything(text.clone()));
        }

        #[test]
        fn never_panics_any(text in any::<String>()) {
            let _ = parse_str("/f.cfg", &text);
            let _ = unescape_c(&text);
            let _ = parse_allowed_host(&text);
        }

        #[test]
        fn commands_round_trip(cmds in proptest::collection::btree_map("[a-z_]{1,8}", "[ -~]{1,40}", 0..8)) {
            let cmds: BTreeMap<String, String> =
                cmds.into_iter().map(|(k, v)| (k, v.trim().to_string())).filter(|(_, v)| !v.is_empty()).collect();
            let text: String = cmds.iter().map(|(k, v)| format!("command[{k}]={v}\n")).collect();
            let loaded = parse_str("/f.cfg", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: BTreeMap<String, String> =
                loaded.config.commands.into_iter().map(|c| (c.name, c.line)).collect();
            prop_assert_eq!(got, cmds);
        }

        #[test]
        fn ipv4_entries_round_trip(a in any::<u32>(), prefix in 0u8..=32) {
            let net = Ipv4Addr::from(a & mask32(prefix));
            let entry = AllowedHost::V4 { net, prefix };
            prop_assert_eq!(parse_allowed_host(&entry.to_string()), Ok(entry.clone()));
            prop_assert!(entry.matches(IpAddr::V4(net)));
        }
    }
}
