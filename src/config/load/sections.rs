//! The sections with their own settings: top-level scalars, `spool`, `api`,
//! `metrics`, `nrpe`, and `actions` (command, module and native `Nsca` actions).

use super::{values::*, *};

pub(super) fn read_log_level(node: &Node) -> Result<String, String> {
    let s = want_str(node, "a log level")?;
    match s.to_ascii_lowercase().as_str() {
        l @ ("trace" | "debug" | "info" | "warn" | "error") => Ok(l.to_string()),
        "warning" => Ok("warn".into()),
        _ => Err(format!(
            "must be one of trace, debug, info, warn, error; got {s:?}"
        )),
    }
}

pub(super) fn read_log_format(node: &Node) -> Result<LogFormat, String> {
    match want_str(node, "text or json")? {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("must be text or json, got {other:?}")),
    }
}

/// `"default"` (keep the daemon's), a numeric id, or a name.
pub(super) fn read_principal(node: &Node) -> Result<Option<Principal>, String> {
    match &node.kind {
        Kind::Null => Ok(None),
        Kind::Str(s) if s == "default" => Ok(None),
        Kind::Str(s) if s.is_empty() => Err("must not be empty".into()),
        Kind::Str(s) => Ok(Some(Principal::Name(s.clone()))),
        Kind::Int(i) => u32::try_from(*i)
            .map(|id| Some(Principal::Id(id)))
            .map_err(|_| format!("must be a user/group name or an id 0-4294967295, got {i}")),
        _ => Err(expected("a user/group name or id", node)),
    }
}

/// A named user or group must exist (D4: everything is checked before anything starts).
pub(super) fn check_principal(
    key: &str,
    principal: Option<Principal>,
) -> Result<Option<Principal>, String> {
    if let Some(p @ Principal::Name(_)) = &principal {
        if key == "uid" {
            crate::privileges::resolve_uid(p)?;
        } else {
            crate::privileges::resolve_gid(p)?;
        }
    }
    Ok(principal)
}

pub(super) fn read_spool(ctx: &mut Ctx, node: &Node) -> SpoolSettings {
    let mut spool = SpoolSettings::default();
    if node.as_map().is_none() {
        ctx.err(&node.pos, "spool", expected("a mapping", node));
        return spool;
    }
    ctx.strict_keys(node, "spool", &["max_results", "max_bytes"]);
    if let Some(n) = node.get("max_results").filter(|n| !n.is_null()) {
        match want_uint(n, 1) {
            Ok(v) => spool.max_results = v,
            Err(msg) => ctx.err(&n.pos, "spool.max_results", msg),
        }
    }
    if let Some(n) = node.get("max_bytes").filter(|n| !n.is_null()) {
        match want_size(n) {
            Ok(0) => ctx.err(&n.pos, "spool.max_bytes", "must be greater than 0"),
            Ok(v) => spool.max_bytes = v,
            Err(msg) => ctx.err(&n.pos, "spool.max_bytes", msg),
        }
    }
    spool
}

/// Tokens from a file: one per line, `#` comments, blanks skipped (D8).
pub(super) fn read_token_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

pub(super) fn read_api(ctx: &mut Ctx, node: &Node) -> ApiSettings {
    let mut api = ApiSettings::default();
    if node.as_map().is_none() {
        ctx.err(&node.pos, "api", expected("a mapping", node));
        return api;
    }
    const KEYS: &[&str] = &[
        "tls_cert",
        "tls_key",
        "read_tokens",
        "write_tokens",
        "read_token_files",
        "write_token_files",
        "allowed_hosts",
    ];
    ctx.strict_keys(node, "api", KEYS);
    let field = |key: &str| node.get(key).filter(|n| !n.is_null());
    for (key, slot) in [
        ("tls_cert", &mut api.tls_cert),
        ("tls_key", &mut api.tls_key),
    ] {
        if let Some(n) = field(key) {
            match want_path(n) {
                Ok(p) => *slot = Some(p),
                Err(msg) => ctx.err(&n.pos, join("api", key), msg),
            }
        }
    }
    if api.tls_cert.is_some() != api.tls_key.is_some() {
        let (key, n) = if api.tls_cert.is_some() {
            ("tls_cert", field("tls_cert"))
        } else {
            ("tls_key", field("tls_key"))
        };
        let pos = n.map_or(&node.pos, |n| &n.pos);
        ctx.err(
            pos,
            join("api", key),
            "tls_cert and tls_key must be set together",
        );
    }
    for (key, tokens) in [
        ("read_tokens", &mut api.read_tokens),
        ("write_tokens", &mut api.write_tokens),
    ] {
        if let Some(n) = field(key) {
            match want_str_list(n) {
                Ok(list) => {
                    for (t, item) in list {
                        if t.trim().is_empty() || t.chars().any(char::is_whitespace) {
                            ctx.err(
                                &item.pos,
                                join("api", key),
                                "tokens must be non-empty and contain no spaces",
                            );
                        } else {
                            tokens.push(t);
                        }
                    }
                }
                Err(msg) => ctx.err(&n.pos, join("api", key), msg),
            }
        }
    }
    for (key, files, tokens) in [
        (
            "read_token_files",
            &mut api.read_token_files,
            &mut api.read_tokens,
        ),
        (
            "write_token_files",
            &mut api.write_token_files,
            &mut api.write_tokens,
        ),
    ] {
        if let Some(n) = field(key) {
            match want_str_list(n) {
                Ok(list) => {
                    for (f, item) in list {
                        let path = PathBuf::from(&f);
                        match read_token_file(&path) {
                            Ok(ts) => tokens.extend(ts),
                            Err(msg) => ctx.err(&item.pos, join("api", key), msg),
                        }
                        files.push(path);
                    }
                }
                Err(msg) => ctx.err(&n.pos, join("api", key), msg),
            }
        }
    }
    if let Some(n) = field("allowed_hosts") {
        match want_str_list(n) {
            Ok(list) => {
                for (h, item) in list {
                    match check_host_pattern(&h) {
                        Ok(()) => api.allowed_hosts.push(h),
                        Err(msg) => ctx.err(&item.pos, "api.allowed_hosts", msg),
                    }
                }
            }
            Err(msg) => ctx.err(&n.pos, "api.allowed_hosts", msg),
        }
    }
    api
}

/// An IP, a CIDR network, or a host name.
pub(super) fn check_host_pattern(h: &str) -> Result<(), String> {
    if let Some((ip, bits)) = h.split_once('/') {
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| format!("not an IP network: {h:?}"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(b) if b <= max => Ok(()),
            _ => Err(format!("bad prefix length in {h:?} (0-{max})")),
        }
    } else if h.parse::<std::net::IpAddr>().is_ok()
        || (!h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        Ok(())
    } else {
        Err(format!("not an IP address, network or host name: {h:?}"))
    }
}

pub(super) fn read_metrics(ctx: &mut Ctx, node: &Node) -> Option<SocketAddr> {
    if node.as_map().is_none() {
        ctx.err(&node.pos, "metrics", expected("a mapping", node));
        return None;
    }
    ctx.strict_keys(node, "metrics", &["listen"]);
    let n = node.get("listen").filter(|n| !n.is_null())?;
    match want_socket_addr(n) {
        Ok(a) => Some(a),
        Err(msg) => {
            ctx.err(&n.pos, "metrics.listen", msg);
            None
        }
    }
}

pub(super) fn read_nrpe(ctx: &mut Ctx, node: &Node) -> Option<NrpeSettings> {
    let mut nrpe = NrpeSettings {
        config: PathBuf::from("/etc/nagios/nrpe.cfg"),
        listen: None,
        tls: NrpeTls::On,
        interval: None,
        commands: Vec::new(),
        bridge: None,
    };
    if node.is_null() {
        return Some(nrpe);
    }
    if node.as_map().is_none() {
        ctx.err(&node.pos, "nrpe", expected("a mapping", node));
        return None;
    }
    ctx.strict_keys(node, "nrpe", &["config", "listen", "tls", "interval"]);
    let field = |key: &str| node.get(key).filter(|n| !n.is_null());
    if let Some(n) = field("config") {
        match want_path(n) {
            Ok(p) => nrpe.config = p,
            Err(msg) => ctx.err(&n.pos, "nrpe.config", msg),
        }
    }
    if let Some(n) = field("listen") {
        let ok = match &n.kind {
            Kind::Str(s) if SocketAddr::from_str(s).is_ok() => Ok(s.clone()),
            Kind::Int(_) => want_port(n).map(|p| format!("0.0.0.0:{p}")),
            _ => Err(format!(
                "expected ADDR:PORT (e.g. 0.0.0.0:5666 or [::]:5666), found {}",
                n.key_text()
            )),
        };
        match ok {
            Ok(s) => nrpe.listen = Some(s),
            Err(msg) => ctx.err(&n.pos, "nrpe.listen", msg),
        }
    }
    if let Some(n) = field("tls") {
        match &n.kind {
            Kind::Bool(true) => nrpe.tls = NrpeTls::On,
            Kind::Bool(false) => nrpe.tls = NrpeTls::Off,
            Kind::Str(s) if s.eq_ignore_ascii_case("auto") => nrpe.tls = NrpeTls::Auto,
            Kind::Str(s) if s.eq_ignore_ascii_case("on") => nrpe.tls = NrpeTls::On,
            Kind::Str(s) if s.eq_ignore_ascii_case("off") => nrpe.tls = NrpeTls::Off,
            _ => ctx.err(
                &n.pos,
                "nrpe.tls",
                format!("must be on, off or auto, found {}", n.key_text()),
            ),
        }
    }
    if let Some(n) = field("interval") {
        match want_seconds(n) {
            Ok(0.0) => {}
            Ok(s) => nrpe.interval = Some(Duration::from_secs_f64(s)),
            Err(msg) => ctx.err(&n.pos, "nrpe.interval", msg),
        }
    }
    Some(nrpe)
}

// ---------------------------------------------------------------------------------------
// Actions

pub(super) fn unknown_action(name: &str, actions: &IndexMap<String, &Node>) -> String {
    if actions.is_empty() {
        format!("unknown action {name} (no actions: section)")
    } else {
        let known: Vec<&str> = actions.keys().map(String::as_str).collect();
        format!("unknown action {name} (known: {})", known.join(", "))
    }
}

/// The action map as `parameters.Action` shows it: `{Command: null, Module: null, Timeout: 60}` ⊕ map.
pub(super) fn action_params(map: &Node) -> IndexMap<String, Value> {
    let mut params = IndexMap::new();
    params.insert("Command".to_string(), Value::Null);
    params.insert("Module".to_string(), Value::Null);
    params.insert("Timeout".to_string(), json!(60));
    if let Some(entries) = map.as_map() {
        for (k, v) in entries {
            params.insert(k.key_text(), v.to_json());
        }
    }
    params
}

pub(super) fn read_action(
    ctx: &mut Ctx,
    name: &str,
    node: &Node,
    path: &str,
) -> Option<ActionSpec> {
    let empty;
    let node = if node.is_null() {
        empty = Node {
            pos: node.pos.clone(),
            kind: Kind::Map(Vec::new()),
        };
        &empty
    } else {
        node
    };
    if node.as_map().is_none() {
        ctx.err(
            &node.pos,
            path,
            expected("a mapping with Command, Module or Nsca", node),
        );
        return None;
    }
    let errors_before = ctx.errors.len();
    let field = |key: &str| node.get(key).filter(|n| !n.is_null());
    let mut timeout = Duration::from_secs(60);
    if let Some(n) = field("Timeout") {
        match want_seconds(n) {
            Ok(0.0) => ctx.err(&n.pos, join(path, "Timeout"), "must be greater than 0"),
            Ok(s) => timeout = Duration::from_secs_f64(s),
            Err(msg) => ctx.err(&n.pos, join(path, "Timeout"), msg),
        }
    }
    let command = field("Command").and_then(|n| match want_str(n, "a command string") {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => Some((s.to_string(), n)),
        Err(msg) => {
            ctx.err(&n.pos, join(path, "Command"), msg);
            None
        }
    });
    let module = field("Module").and_then(|n| match want_str(n, "a module path") {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => Some((s.to_string(), n)),
        Err(msg) => {
            ctx.err(&n.pos, join(path, "Module"), msg);
            None
        }
    });
    let nsca = field("Nsca").map(|n| (read_nsca(ctx, n, &join(path, "Nsca")), n));
    let set: Vec<(&str, &Node)> = [
        command.as_ref().map(|(_, n)| ("Command", *n)),
        module.as_ref().map(|(_, n)| ("Module", *n)),
        nsca.as_ref().map(|(_, n)| ("Nsca", *n)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if set.len() > 1 {
        let names: Vec<&str> = set.iter().map(|(k, _)| *k).collect();
        let (key, n) = set[1];
        ctx.err(
            &n.pos,
            join(path, key),
            format!("{} cannot be set together", names.join(" and ")),
        );
    }
    let kind = if let Some((template, n)) = command {
        if let Err(e) = subst::check_syntax(&template) {
            ctx.err(&n.pos, join(path, "Command"), e.to_string());
        }
        ActionKind::Command { template, timeout }
    } else if let Some((settings, _)) = nsca {
        ActionKind::Nsca(settings?)
    } else if let Some((module, _)) = module {
        ActionKind::Module(module)
    } else {
        ActionKind::Nothing
    };
    (ctx.errors.len() == errors_before).then(|| ActionSpec {
        name: name.to_string(),
        kind,
        parameters: action_params(node),
    })
}

pub(super) fn nsca_method(node: &Node) -> Result<NscaMethod, String> {
    let result = match &node.kind {
        Kind::Int(i) => NscaMethod::from_number(*i),
        Kind::Str(s) => NscaMethod::from_str(s),
        _ => return Err(expected("an encryption method number or name", node)),
    };
    result.map_err(|e| e.to_string())
}

pub(super) fn read_nsca(ctx: &mut Ctx, node: &Node, path: &str) -> Option<NscaSettings> {
    if node.as_map().is_none() {
        ctx.err(&node.pos, path, expected("a mapping", node));
        return None;
    }
    let before = ctx.errors.len();
    ctx.strict_keys(
        node,
        path,
        &[
            "host",
            "port",
            "password",
            "password_file",
            "encryption",
            "host_name",
            "service",
        ],
    );
    let field = |key: &str| node.get(key).filter(|n| !n.is_null());
    let mut settings = NscaSettings {
        host: String::new(),
        port: 5667,
        password: None,
        password_file: None,
        encryption: NscaMethod::Xor,
        host_name: None,
        service: "%(name)s".into(),
    };
    match field("host") {
        None => ctx.err(&node.pos, join(path, "host"), "is required"),
        Some(n) => match want_str(n, "a host name") {
            Ok(h) if !h.is_empty() => settings.host = h.to_string(),
            Ok(_) => ctx.err(&n.pos, join(path, "host"), "must not be empty"),
            Err(msg) => ctx.err(&n.pos, join(path, "host"), msg),
        },
    }
    if let Some(n) = field("port") {
        match want_port(n) {
            Ok(p) => settings.port = p,
            Err(msg) => ctx.err(&n.pos, join(path, "port"), msg),
        }
    }
    if let Some(n) = field("password") {
        match &n.kind {
            Kind::Str(s) => settings.password = Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) => settings.password = Some(n.key_text()),
            _ => ctx.err(&n.pos, join(path, "password"), expected("a string", n)),
        }
    }
    if let Some(n) = field("password_file") {
        if settings.password.is_some() {
            ctx.err(
                &n.pos,
                join(path, "password_file"),
                "password and password_file cannot be set together",
            );
        }
        match want_path(n) {
            Ok(p) => {
                match std::fs::read_to_string(&p) {
                    Ok(text) => {
                        settings.password = Some(text.lines().next().unwrap_or("").to_string())
                    }
                    Err(e) => ctx.err(
                        &n.pos,
                        join(path, "password_file"),
                        format!("cannot read {}: {e}", p.display()),
                    ),
                }
                settings.password_file = Some(p);
            }
            Err(msg) => ctx.err(&n.pos, join(path, "password_file"), msg),
        }
    }
    if let Some(n) = field("encryption") {
        match nsca_method(n) {
            Ok(m) => settings.encryption = m,
            Err(msg) => ctx.err(&n.pos, join(path, "encryption"), msg),
        }
    }
    if let Some(n) = field("host_name") {
        match want_str(n, "a host name") {
            Ok(h) => settings.host_name = Some(h.to_string()),
            Err(msg) => ctx.err(&n.pos, join(path, "host_name"), msg),
        }
    }
    if let Some(n) = node.get("service") {
        match &n.kind {
            Kind::Null => settings.service = String::new(),
            Kind::Str(s) => match subst::check_syntax(s) {
                Ok(()) => settings.service = s.clone(),
                Err(e) => ctx.err(&n.pos, join(path, "service"), e.to_string()),
            },
            _ => ctx.err(&n.pos, join(path, "service"), expected("a string", n)),
        }
    }
    (ctx.errors.len() == before).then_some(settings)
}
