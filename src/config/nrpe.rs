//! The `nrpe:` section of smokerd.yaml and the NRPE bridge (decisions.md D6):
//! loads nrpe.cfg from disk (through [`smoker_compat::nrpe_cfg`]), resolves the
//! listen addresses and TLS mode, and turns `command[NAME]` lines into
//! [`CheckSpec`]s named `NAME`.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs},
    path::Path,
    sync::Arc,
    time::Duration,
};

use serde_json::{Value, json};
use smoker_compat::{
    nrpe_cfg::{self, AddressFamily, CfgErrors, DirEntry, EntryKind, NrpeConfig},
    nrpe_packet,
};

pub use super::settings::NrpeBridge;
use super::{error::ConfigError, plan::Plan, settings::NrpeSettings, yaml::Pos};
use crate::check::{
    CheckSpec, Command, ExitCodes, Interner, Overlap, Params, Principal, Schedule, State,
};

/// Why the `nrpe:` section cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NrpeConfigError {
    #[error("{0}")]
    Cfg(#[from] CfgErrors),
    #[error("nrpe.listen {value:?}: {reason}")]
    Listen { value: String, reason: String },
    #[error("nrpe.tls: {0}")]
    Tls(String),
    #[error("nrpe: command[{0}] clashes with the plugin of the same name")]
    Clash(String),
}

/// Reads files for the pure nrpe.cfg parser.
pub struct FsLoader;

impl nrpe_cfg::Loader for FsLoader {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, std::io::Error> {
        std::fs::read(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, std::io::Error> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            // Like nrpe's stat(): follow symlinks.
            let kind = match std::fs::metadata(entry.path()) {
                Ok(m) if m.is_file() => EntryKind::File,
                Ok(m) if m.is_dir() => EntryKind::Dir,
                _ => EntryKind::Other,
            };
            out.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        Ok(out)
    }

    fn canonical(&mut self, path: &str) -> String {
        std::fs::canonicalize(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string())
    }
}

/// Loads an nrpe.cfg from disk.
pub fn load_cfg(path: &Path) -> Result<nrpe_cfg::Loaded, CfgErrors> {
    nrpe_cfg::load(&path.to_string_lossy(), &mut FsLoader)
}

/// Loads nrpe.cfg and resolves listen addresses. A relative `config` path is
/// taken against `base_dir` (the YAML file's directory).
pub fn resolve(settings: &NrpeSettings, base_dir: &Path) -> Result<NrpeBridge, NrpeConfigError> {
    let config_path = if settings.config.is_absolute() {
        settings.config.clone()
    } else {
        base_dir.join(&settings.config)
    };
    let loaded = load_cfg(&config_path)?;
    let listen = match &settings.listen {
        Some(text) => resolve_listen(text)?,
        None => default_listen(&loaded.config)?,
    };
    let c = &loaded.config;
    if c.ssl_cert_file.is_some() != c.ssl_privatekey_file.is_some() {
        return Err(NrpeConfigError::Tls(
            "ssl_cert_file and ssl_privatekey_file must be set together".into(),
        ));
    }
    Ok(NrpeBridge {
        config_path,
        config: Arc::new(loaded.config),
        listen,
        tls: settings.tls,
        interval: settings.interval.filter(|d| !d.is_zero()),
        builtins: settings.builtins,
        warnings: loaded.warnings,
    })
}

/// Resolves `plan.nrpe` (if any), adds its checks to `plan.checks` (a name
/// clash is an error, D6) and records their names in `plan.nrpe.commands`.
pub fn apply(plan: &mut Plan) -> Result<Option<NrpeBridge>, NrpeConfigError> {
    let Some(settings) = plan.nrpe.as_mut() else {
        return Ok(None);
    };
    let base_dir = plan
        .path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bridge = resolve(settings, &base_dir)?;
    let new = checks(&bridge);
    settings.commands = new.iter().map(|c| c.name.clone()).collect();
    merge_checks(&mut plan.checks, new)?;
    Ok(Some(bridge))
}

fn resolve_listen(text: &str) -> Result<Vec<SocketAddr>, NrpeConfigError> {
    let err = |reason: String| NrpeConfigError::Listen {
        value: text.to_string(),
        reason,
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(err("resolves to no address".into()));
    }
    Ok(addrs)
}

/// nrpe.cfg's `server_address`/`server_port`; with no address, every interface
/// of the families `address_family` allows.
pub fn default_listen(c: &NrpeConfig) -> Result<Vec<SocketAddr>, NrpeConfigError> {
    let port = c.server_port;
    let family_ok = |ip: &IpAddr| match c.address_family {
        AddressFamily::Any => true,
        AddressFamily::V4 => ip.is_ipv4(),
        AddressFamily::V6 => ip.is_ipv6(),
    };
    let addrs: Vec<SocketAddr> = match &c.server_address {
        Some(host) => {
            let text = host.trim_start_matches('[').trim_end_matches(']');
            match text.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => (text, port)
                    .to_socket_addrs()
                    .map_err(|e| NrpeConfigError::Listen {
                        value: host.clone(),
                        reason: e.to_string(),
                    })?
                    .collect(),
            }
        }
        None => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ],
    };
    let addrs: Vec<SocketAddr> = addrs.into_iter().filter(|a| family_ok(&a.ip())).collect();
    if addrs.is_empty() {
        return Err(NrpeConfigError::Listen {
            value: c.server_address.clone().unwrap_or_default(),
            reason: "no address of the configured address_family".into(),
        });
    }
    Ok(addrs)
}

fn principal(text: &str) -> Principal {
    match text.parse::<u32>() {
        Ok(id) => Principal::Id(id),
        Err(_) => Principal::Name(text.to_string()),
    }
}

/// nrpe.cfg settings that are set but have no effect in smokerd (D6: parsed
/// and ignored, logged at info level).
pub fn ignored_directives(c: &NrpeConfig) -> Vec<&'static str> {
    let d = NrpeConfig::default();
    let mut out = Vec::new();
    let mut note = |set: bool, name: &'static str| {
        if set {
            out.push(name);
        }
    };
    note(c.log_facility != d.log_facility, "log_facility");
    note(c.log_file.is_some(), "log_file");
    note(c.disable_syslog, "disable_syslog");
    note(c.debug, "debug");
    note(c.pid_file.is_some(), "pid_file");
    note(
        c.listen_queue_size != d.listen_queue_size,
        "listen_queue_size",
    );
    note(c.allow_weak_random_seed, "allow_weak_random_seed");
    note(c.ssl_logging != 0, "ssl_logging");
    out
}

/// Default `History` of an nrpe check (the original's default).
pub const NRPE_CHECK_HISTORY: usize = 10;

/// The checks the nrpe.cfg commands become (D6): named as in `command[NAME]`,
/// `$ARGn$` commands on demand only, the others every `interval` when set.
/// They run as `nrpe_user`/`nrpe_group` and map exit codes the Nagios way.
pub fn checks(bridge: &NrpeBridge) -> Vec<CheckSpec> {
    let c = &bridge.config;
    // nrpe switches to nrpe_user/nrpe_group only when started as root; so do we.
    let root = nix::unistd::geteuid().is_root();
    let user = c.nrpe_user.as_deref().filter(|_| root);
    let group = c.nrpe_group.as_deref().filter(|_| root);
    let mut strings = Interner::default();
    c.commands
        .iter()
        .map(|cmd| {
            let schedule = match bridge.interval {
                Some(every) if !cmd.uses_args() => Schedule::Interval {
                    every,
                    splay: every.min(Duration::from_secs(60)),
                },
                _ => Schedule::OnDemand,
            };
            let line = nrpe_packet::command_line(c.command_prefix.as_deref(), &cmd.line, &[]);
            // A built-in runs inside smokerd, so not as nrpe_user.
            let builtin = bridge.builtin(&line).filter(|_| !cmd.uses_args());
            let (user, group) = match builtin {
                Some(_) => (None, None),
                None => (user, group),
            };
            let interval = match schedule {
                Schedule::Interval { every, .. } => every.as_secs(),
                _ => 0,
            };
            let parameters = Params::new(
                [
                    ("Command", json!(line)),
                    ("Module", Value::Null),
                    ("Parser", Value::Null),
                    ("Interval", json!(interval)),
                    ("Timeout", json!(c.command_timeout)),
                    ("History", json!(NRPE_CHECK_HISTORY)),
                    ("uid", json!(user.unwrap_or("default"))),
                    ("gid", json!(group.unwrap_or("default"))),
                    ("Template", Value::Null),
                    ("Action", Value::Null),
                    ("Source", json!(format!("{}:{}", cmd.file, cmd.line_no))),
                ],
                &mut strings,
            );
            CheckSpec {
                name: cmd.name.clone(),
                command: match builtin {
                    Some((argv, check)) => Command::Builtin(argv, Arc::new(check)),
                    None => Command::Shell(line),
                },
                schedule,
                timeout: Duration::from_secs(u64::from(c.command_timeout)),
                timeout_state: State::Unknown,
                history: NRPE_CHECK_HISTORY,
                exit_codes: ExitCodes::Nagios,
                max_output: nrpe_packet::V34_MAX_OUTPUT,
                env: Vec::new(),
                uid: user.map(principal),
                gid: group.map(principal),
                working_dir: None,
                actions: Vec::new(),
                action_on: Vec::new(),
                parameters,
                catch_up: false,
                overlap: Overlap::Skip,
                python: None,
            }
        })
        .collect()
}

/// The loader's hook: resolves `plan.nrpe` into its `bridge`, adds the checks,
/// and reports nrpe.cfg problems as config errors at their `file:line` (the
/// rest at `at`, the `nrpe:` key) and nrpe.cfg warnings as config warnings.
pub(crate) fn attach(
    plan: &mut Plan,
    at: &Pos,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) {
    let error = |pos: Pos, path: &str, message: String| ConfigError {
        pos: Some(pos),
        path: path.to_string(),
        message,
    };
    match apply(plan) {
        Ok(Some(bridge)) => {
            warnings.extend(bridge.warnings.iter().map(|w| ConfigError {
                pos: Some(at.clone()),
                path: "nrpe.config".into(),
                message: w.to_string(),
            }));
            if let Some(settings) = plan.nrpe.as_mut() {
                settings.bridge = Some(Arc::new(bridge));
            }
        }
        Ok(None) => {}
        Err(NrpeConfigError::Cfg(CfgErrors(list))) => {
            for e in list {
                let pos = if e.line == 0 {
                    at.clone()
                } else {
                    Pos {
                        file: Arc::from(e.file.as_str()),
                        line: e.line as u64,
                        col: 1,
                    }
                };
                errors.push(error(pos, "nrpe.config", e.kind.to_string()));
            }
        }
        Err(e) => errors.push(error(at.clone(), "nrpe", e.to_string())),
    }
}

/// Adds the nrpe checks to the YAML ones; a name used by both is an error (D6).
pub fn merge_checks(
    yaml: &mut Vec<Arc<CheckSpec>>,
    nrpe: Vec<CheckSpec>,
) -> Result<(), NrpeConfigError> {
    for check in nrpe {
        if yaml.iter().any(|c| c.name == check.name) {
            return Err(NrpeConfigError::Clash(check.name));
        }
        yaml.push(Arc::new(check));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::settings::NrpeTls;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn settings(config: &str, tls: NrpeTls, interval: Option<u64>) -> NrpeSettings {
        NrpeSettings {
            config: config.into(),
            listen: None,
            tls,
            interval: interval.map(Duration::from_secs),
            builtins: false,
            commands: Vec::new(),
            bridge: None,
        }
    }

    #[test]
    fn section_to_checks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nrpe.d")).unwrap();
        write(
            &dir.path().join("nrpe.d"),
            "extra.cfg",
            "command[extra]=echo extra\n",
        );
        write(
            dir.path(),
            "nrpe.cfg",
            "server_port=5777\nnrpe_user=nagios\ncommand_prefix=/usr/bin/env\n\
             command[plain]=echo hi\ncommand[args]=echo $ARG1$\ninclude_dir=nrpe.d\ninclude=missing.cfg\n",
        );
        let bridge = resolve(&settings("nrpe.cfg", NrpeTls::Auto, Some(30)), dir.path()).unwrap();
        assert_eq!(bridge.tls, NrpeTls::Auto);
        assert_eq!(bridge.listen.len(), 2);
        assert!(bridge.listen.iter().all(|a| a.port() == 5777));
        assert_eq!(bridge.warnings.len(), 1);
        let checks = checks(&bridge);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["plain", "args", "extra"]);
        assert_eq!(
            checks[0].command,
            Command::Shell("/usr/bin/env echo hi".into())
        );
        assert!(
            matches!(checks[0].schedule, Schedule::Interval { every, .. } if every == Duration::from_secs(30))
        );
        assert_eq!(checks[1].schedule, Schedule::OnDemand);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(checks[0].uid, Some(Principal::Name("nagios".into())));
        } else {
            assert_eq!(checks[0].uid, None);
        }
        assert_eq!(checks[0].timeout, Duration::from_secs(60));

        let mut yaml = vec![Arc::new(checks[2].clone())];
        assert!(matches!(
            merge_checks(&mut yaml, checks.clone()),
            Err(NrpeConfigError::Clash(n)) if n == "extra"
        ));
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            resolve_listen("127.0.0.1:5666").unwrap(),
            ["127.0.0.1:5666".parse::<SocketAddr>().unwrap()]
        );
        assert!(resolve_listen("nonsense").is_err());
        let c = NrpeConfig {
            server_address: Some("::1".into()),
            ..NrpeConfig::default()
        };
        assert_eq!(
            default_listen(&c).unwrap(),
            ["[::1]:5666".parse::<SocketAddr>().unwrap()]
        );
        let c = NrpeConfig {
            address_family: AddressFamily::V4,
            ..NrpeConfig::default()
        };
        assert_eq!(
            default_listen(&c).unwrap(),
            ["0.0.0.0:5666".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn errors_are_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.cfg", "server_port=1\n");
        let e = resolve(&settings("b.cfg", NrpeTls::On, None), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("b.cfg:1: invalid value \"1\" for server_port: must be 1024..65535"),
            "{e}"
        );
        write(dir.path(), "c.cfg", "ssl_cert_file=/x.pem\n");
        assert!(matches!(
            resolve(&settings("c.cfg", NrpeTls::On, None), dir.path()),
            Err(NrpeConfigError::Tls(_))
        ));
    }

    #[test]
    fn yaml_nrpe_section_through_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "nrpe.cfg",
            "server_port=5777\ncommand[disk]=echo disk\ncommand[arg]=echo $ARG1$\nfoo=1\n",
        );
        let main = dir.path().join("smokerd.yaml");
        let yaml = "plugins:\n  uptime:\n    Command: uptime\n    Interval: 60\nnrpe:\n  config: nrpe.cfg\n  listen: \"127.0.0.1:5999\"\n  tls: auto\n  interval: 120\n";
        let loaded = crate::config::load_str(&main.display().to_string(), yaml, dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let plan = &loaded.plan;
        let names: Vec<&str> = plan.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["uptime", "disk", "arg"]);
        let nrpe = plan.nrpe.as_ref().unwrap();
        assert_eq!(nrpe.commands, ["disk", "arg"]);
        let bridge = nrpe.bridge.as_ref().unwrap();
        assert_eq!(
            bridge.listen,
            ["127.0.0.1:5999".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(bridge.tls, NrpeTls::Auto);
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.to_string().contains("nrpe.cfg:4: unknown directive")),
            "{:?}",
            loaded.warnings
        );
        assert!(crate::config::summary(plan).contains("nrpe: 2 commands"));

        // A clash with a plugin, and nrpe.cfg errors at their file:line.
        write(dir.path(), "clash.cfg", "command[uptime]=uptime\n");
        let e = crate::config::load_str(
            &main.display().to_string(),
            &yaml.replace("nrpe.cfg", "clash.cfg"),
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("command[uptime] clashes"), "{e}");
        write(dir.path(), "bad.cfg", "command_timeout=0\n");
        let e = crate::config::load_str(
            &main.display().to_string(),
            &yaml.replace("nrpe.cfg", "bad.cfg"),
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad.cfg:1:1: nrpe.config: invalid value"), "{e}");
    }
}
