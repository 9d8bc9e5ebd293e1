//! Config loading: YAML (via [`super::yaml`]) → validated [`Plan`], all or nothing.
//!
//! Implements smoker-compat.md §1 (top-level keys, templates, plugins, actions,
//! `%(Name)s`, `!include`, `!include_dir`, conf.d) with decisions.md D4/D5 and the keys
//! of issues 3, 5, 7, 10 and 11. Every problem found is collected and reported at once
//! as `FILE:LINE:COL: plugins.NAME.Key: message`.

use std::{
    collections::HashSet,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::{
    ActionKind, ActionSpec, ApiSettings, LogFormat, NrpeSettings, NrpeTls, NscaMethod,
    NscaSettings, Plan, SpoolSettings, subst,
    yaml::{self, Kind, Node, Pos},
};
use crate::check::{
    ActionTrigger, CheckSpec, Command, ExitCodes, Overlap, Principal, Schedule, State,
};

/// The embedded default config (`smokerd` with no `-c` and no `/etc/smokerd/smokerd.yaml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/smokerd.yaml");

/// Name under which the embedded default is reported.
const DEFAULT_NAME: &str = "<default config>";

/// A loaded config: the plan plus warnings (typos, ignored keys) for the log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// One config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub pos: Option<Pos>,
    /// `plugins.NAME.Key`, `bind_port`, … (empty for syntax errors).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pos) = &self.pos {
            write!(f, "{pos}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a config, in file order of discovery (D4: reported at once, exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Each error rendered as `FILE:LINE:COL: path: message`.
    pub fn lines(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<yaml::YamlError> for ConfigErrors {
    fn from(e: yaml::YamlError) -> Self {
        ConfigErrors {
            errors: vec![ConfigError {
                pos: e.pos,
                path: String::new(),
                message: e.message,
            }],
        }
    }
}

/// Loads and validates a config file.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let root = yaml::parse_file(path)?;
    build(&root, Some(path.to_path_buf()))
}

/// Loads config text displayed as `name`; relative includes resolve against `base_dir`.
pub fn load_str(name: &str, text: &str, base_dir: &Path) -> Result<Loaded, ConfigErrors> {
    let root = yaml::parse_str(name, text, base_dir)?;
    build(&root, Some(PathBuf::from(name)))
}

/// Loads the embedded default config ([`DEFAULT_CONFIG`]); `plan.path` is `None`.
pub fn load_default() -> Result<Loaded, ConfigErrors> {
    let root = yaml::parse_str(DEFAULT_NAME, DEFAULT_CONFIG, Path::new("/"))?;
    build(&root, None)
}

/// Reads the Debian conf.d layout natively (smoker-compat.md §1.6): `common.yaml`, then
/// `templates:`, `actions:`, `plugins:` from `template.d`, `action.d`, `plugin.d`.
pub fn load_conf_d(dir: &Path) -> Result<Loaded, ConfigErrors> {
    // As GENCONFIG does: common.yaml's text, then the three sections. Lines of
    // common.yaml keep their numbers, so the text is reported under its name.
    let common = dir.join("common.yaml");
    let (name, mut text) = if common.is_file() {
        let text = std::fs::read_to_string(&common).map_err(|e| yaml::YamlError {
            pos: None,
            message: format!("{}: cannot read config: {e}", common.display()),
        })?;
        (common.display().to_string(), text)
    } else {
        (dir.display().to_string(), String::new())
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for (section, sub) in [
        ("templates", "template.d"),
        ("actions", "action.d"),
        ("plugins", "plugin.d"),
    ] {
        // Quoted: the directory may hold spaces or YAML punctuation.
        let quoted = Value::String(dir.join(sub).display().to_string()).to_string();
        text.push_str(&format!("{section}: !include_dir {quoted}\n"));
    }
    let root = yaml::parse_str(&name, &text, dir)?;
    build(&root, Some(dir.to_path_buf()))
}

/// `OK: N plugins (M scheduled), K actions, nrpe: C commands` (D4 `check-config`).
pub fn summary(plan: &Plan) -> String {
    let scheduled = plan
        .checks
        .iter()
        .filter(|c| c.schedule != Schedule::OnDemand)
        .count();
    let nrpe = plan.nrpe.as_ref().map_or(0, |n| n.commands.len());
    format!(
        "OK: {} plugins ({scheduled} scheduled), {} actions, nrpe: {nrpe} commands",
        plan.checks.len(),
        plan.actions.len()
    )
}

// ---------------------------------------------------------------------------------------
// Collecting errors

struct Ctx {
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Ctx {
    fn err(&mut self, pos: &Pos, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            pos: Some(pos.clone()),
            path: path.into(),
            message: message.into(),
        });
    }

    fn warn(&mut self, pos: &Pos, path: &str, message: impl fmt::Display) {
        self.warnings.push(format!("{pos}: {path}: {message}"));
    }

    /// Entries of a mapping with string keys; last duplicate wins (PyYAML) with a warning.
    fn entries<'a>(&mut self, map: &'a Node, path: &str) -> Vec<(&'a str, &'a Node, &'a Node)> {
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

    /// Rejects keys outside `known` (our strict sections).
    fn strict_keys(&mut self, map: &Node, path: &str, known: &[&str]) {
        for (name, k, _) in self.entries(map, path) {
            if !known.contains(&name) {
                let hint = closest(name, known)
                    .map_or_else(String::new, |c| format!("; did you mean {c}?"));
                self.err(
                    &k.pos,
                    join(path, name),
                    format!("unknown key (allowed: {}){hint}", known.join(", ")),
                );
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

// ---------------------------------------------------------------------------------------
// Typed reading of nodes: each returns a message on a wrong value.

fn expected(what: &str, node: &Node) -> String {
    format!("expected {what}, found {}", node.type_name())
}

fn want_str<'a>(node: &'a Node, what: &str) -> Result<&'a str, String> {
    node.as_str().ok_or_else(|| expected(what, node))
}

fn want_bool(node: &Node) -> Result<bool, String> {
    match node.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(expected("a boolean (true/false, yes/no, on/off)", node)),
    }
}

/// A non-negative number of seconds.
fn want_seconds(node: &Node) -> Result<f64, String> {
    let value = match node.kind {
        Kind::Int(i) => i as f64,
        Kind::Float(f) => f,
        _ => return Err(expected("a number of seconds", node)),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("must not be negative, got {}", number_text(node)));
    }
    if value > 1e9 {
        return Err(format!("is too large: {}", number_text(node)));
    }
    Ok(value)
}

fn number_text(node: &Node) -> String {
    match node.kind {
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => subst::python_float(f),
        _ => String::new(),
    }
}

fn want_uint(node: &Node, min: i64) -> Result<u64, String> {
    match node.kind {
        Kind::Int(i) if i >= min => Ok(i as u64),
        Kind::Int(i) if i < 0 => Err(format!("must not be negative, got {i}")),
        Kind::Int(i) => Err(format!("must be at least {min}, got {i}")),
        _ => Err(expected("an integer", node)),
    }
}

fn want_port(node: &Node) -> Result<u16, String> {
    match node.kind {
        Kind::Int(i) if (1..=65535).contains(&i) => Ok(i as u16),
        Kind::Int(i) => Err(format!("must be a port number 1-65535, got {i}")),
        _ => Err(expected("a port number", node)),
    }
}

/// One string or a list of strings.
fn want_str_list(node: &Node) -> Result<Vec<(String, &Node)>, String> {
    match &node.kind {
        Kind::Str(s) => Ok(vec![(s.clone(), node)]),
        Kind::Seq(items) => items
            .iter()
            .map(|i| match &i.kind {
                Kind::Str(s) => Ok((s.clone(), i)),
                _ => Err(format!(
                    "list items must be strings, found {}",
                    i.type_name()
                )),
            })
            .collect(),
        _ => Err(expected("a string or a list of strings", node)),
    }
}

/// Bytes: an integer, or a string like `64KiB`, `1MiB`, `500KB` (KB = 1000, D4).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000_u64.pow(2),
        "GB" => 1000_u64.pow(3),
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {text:?} (use bytes, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("not a size: {text:?} (examples: 65536, 64KiB, 1MiB)"))?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes > (1u64 << 50) as f64 {
        return Err(format!("size too large: {text:?}"));
    }
    Ok(bytes as u64)
}

fn want_size(node: &Node) -> Result<u64, String> {
    match &node.kind {
        Kind::Int(i) if *i >= 0 => Ok(*i as u64),
        Kind::Int(i) => Err(format!("must not be negative, got {i}")),
        Kind::Str(s) => parse_size(s),
        _ => Err(expected("a size (bytes, or a string like 64KiB)", node)),
    }
}

fn want_path(node: &Node) -> Result<PathBuf, String> {
    let s = want_str(node, "a path")?;
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(PathBuf::from(s))
}

fn want_socket_addr(node: &Node) -> Result<SocketAddr, String> {
    match &node.kind {
        Kind::Int(_) => Ok(SocketAddr::from(([127, 0, 0, 1], want_port(node)?))),
        Kind::Str(s) => SocketAddr::from_str(s)
            .map_err(|_| format!("expected ADDR:PORT (e.g. 127.0.0.1:9100), got {s:?}")),
        _ => Err(expected("ADDR:PORT", node)),
    }
}

/// Smallest edit distance ≤ 2 to a known key.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .filter(|k| **k != key)
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

// ---------------------------------------------------------------------------------------
// Top level

const TOP_KEYS: &[&str] = &[
    "bind_host",
    "bind_port",
    "pidfile",
    "stdin",
    "stdout",
    "stderr",
    "uid",
    "gid",
    "templates",
    "plugins",
    "actions",
    "nr_concurrent_plugins",
    "favicon",
    "state_dir",
    "shutdown_grace",
    "log_level",
    "log_format",
    "default_actions",
    "spool",
    "removed_check_grace",
    "api",
    "metrics",
    "nrpe",
];

/// DEFAULTS of the original, in API `parameters` order.
const DEFAULT_KEYS: [&str; 10] = [
    "Command", "Module", "Parser", "Interval", "Timeout", "History", "uid", "gid", "Template",
    "Action",
];

fn default_value(key: &str) -> Value {
    match key {
        "Interval" => json!(0),
        "Timeout" => json!(1800),
        "History" => json!(10),
        "uid" | "gid" => json!("default"),
        _ => Value::Null,
    }
}

/// Plugin keys with a meaning (everything else is a `%(Name)s` parameter).
const PLUGIN_KEYS: &[&str] = &[
    "Command",
    "Module",
    "Parser",
    "Interval",
    "Timeout",
    "History",
    "uid",
    "gid",
    "Template",
    "Action",
    "Enabled",
    "Category",
    "Component",
    "Type",
    "RunOnLocked",
    "Argv",
    "Env",
    "MaxOutput",
    "TimeoutState",
    "ExitCodes",
    "Splay",
    "ActionOn",
    "Schedule",
    "TimeZone",
    "CatchUp",
    "Overlap",
    "WorkingDir",
];

const DEFAULT_MAX_OUTPUT: u64 = 64 << 10;

fn build(root: &Node, path: Option<PathBuf>) -> Result<Loaded, ConfigErrors> {
    let mut ctx = Ctx {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    if root.as_map().is_none() {
        let start = Pos {
            line: 1,
            col: 1,
            ..root.pos.clone()
        };
        ctx.err(
            if root.is_null() { &start } else { &root.pos },
            "",
            if root.is_null() {
                "the config is empty".to_string()
            } else {
                format!(
                    "the config must be a mapping of keys, found {}",
                    root.type_name()
                )
            },
        );
        return Err(ConfigErrors { errors: ctx.errors });
    }
    let top = ctx.entries(root, "");
    let get = |key: &str| {
        top.iter()
            .find(|(n, _, _)| *n == key)
            .map(|(_, _, v)| *v)
            .filter(|v| !v.is_null())
    };

    for (name, k, _) in &top {
        if !TOP_KEYS.contains(name)
            && let Some(c) = closest(name, TOP_KEYS)
        {
            ctx.warn(
                &k.pos,
                name,
                format!("unknown top-level key, ignored; did you mean {c}?"),
            );
        }
    }

    let mut plan = Plan {
        path,
        bind_host: "127.0.0.1".into(),
        bind_port: 8086,
        pidfile: None,
        checks: Vec::new(),
        actions: IndexMap::new(),
        nr_concurrent_plugins: None,
        state_dir: None,
        shutdown_grace: Duration::from_secs(10),
        log_level: None,
        log_format: LogFormat::Text,
        api: ApiSettings::default(),
        metrics_listen: None,
        spool: SpoolSettings::default(),
        removed_check_grace: Duration::from_secs(86_400),
        default_actions: Vec::new(),
        nrpe: None,
    };

    macro_rules! field {
        ($key:literal, $read:expr, |$v:ident| $apply:expr) => {
            if let Some(node) = get($key) {
                match $read(node) {
                    Ok($v) => $apply,
                    Err(msg) => ctx.err(&node.pos, $key, msg),
                }
            }
        };
    }
    field!(
        "bind_host",
        |n| want_str(n, "a host name or address").map(str::to_string),
        |v| plan.bind_host = v
    );
    field!("bind_port", want_port, |v| plan.bind_port = v);
    field!("pidfile", want_path, |v| plan.pidfile = Some(v));
    field!("state_dir", want_path, |v| plan.state_dir = Some(v));
    field!("shutdown_grace", want_seconds, |v| plan.shutdown_grace =
        Duration::from_secs_f64(v));
    field!("removed_check_grace", want_seconds, |v| plan
        .removed_check_grace =
        Duration::from_secs_f64(v));
    field!("nr_concurrent_plugins", |n| want_uint(n, 1), |v| plan
        .nr_concurrent_plugins =
        Some(v as usize));
    field!("log_level", read_log_level, |v| plan.log_level = Some(v));
    field!("log_format", read_log_format, |v| plan.log_format = v);
    for key in ["stdin", "stdout", "stderr", "favicon"] {
        if let Some(node) = get(key)
            && let Err(msg) = want_path(node)
        {
            ctx.err(&node.pos, key, msg);
        }
    }
    for key in ["uid", "gid"] {
        if let Some(node) = get(key)
            && let Err(msg) = read_principal(node).and_then(|p| check_principal(key, p))
        {
            ctx.err(&node.pos, key, msg);
        }
    }
    if let Some(node) = get("spool") {
        plan.spool = read_spool(&mut ctx, node);
    }
    if let Some(node) = get("api") {
        plan.api = read_api(&mut ctx, node);
    }
    if let Some(node) = get("metrics") {
        plan.metrics_listen = read_metrics(&mut ctx, node);
    }
    if let Some(node) = get("nrpe") {
        plan.nrpe = read_nrpe(&mut ctx, node);
    } else if let Some((_, _, node)) = top.iter().find(|(n, _, _)| *n == "nrpe") {
        // `nrpe:` with no value: the defaults.
        plan.nrpe = read_nrpe(&mut ctx, node);
    }

    // actions
    let mut action_maps: IndexMap<String, &Node> = IndexMap::new();
    if let Some(node) = get("actions") {
        if node.as_map().is_none() {
            ctx.err(
                &node.pos,
                "actions",
                expected("a mapping of action names to settings", node),
            );
        } else {
            for (name, _k, value) in ctx.entries(node, "actions") {
                let apath = join("actions", name);
                if let Some(spec) = read_action(&mut ctx, name, value, &apath) {
                    plan.actions.insert(name.to_string(), Arc::new(spec));
                }
                action_maps.insert(name.to_string(), value);
            }
        }
    }
    if let Some(node) = get("default_actions") {
        match want_str_list(node) {
            Ok(names) => {
                for (name, n) in names {
                    if !action_maps.contains_key(&name) {
                        ctx.err(
                            &n.pos,
                            "default_actions",
                            unknown_action(&name, &action_maps),
                        );
                    }
                    plan.default_actions.push(name);
                }
            }
            Err(msg) => ctx.err(&node.pos, "default_actions", msg),
        }
    }

    // templates
    let empty = Node {
        pos: root.pos.clone(),
        kind: Kind::Map(Vec::new()),
    };
    let mut templates: IndexMap<String, &Node> = IndexMap::new();
    if let Some(node) = get("templates") {
        if node.as_map().is_none() {
            ctx.err(
                &node.pos,
                "templates",
                expected("a mapping of template names to settings", node),
            );
        } else {
            for (name, _k, value) in ctx.entries(node, "templates") {
                let tpath = join("templates", name);
                match &value.kind {
                    Kind::Map(_) => {
                        templates.insert(name.to_string(), value);
                    }
                    Kind::Null => {
                        templates.insert(name.to_string(), &empty);
                    }
                    _ => ctx.err(&value.pos, tpath, expected("a mapping", value)),
                }
            }
        }
    }

    // plugins
    let mut names_used: HashSet<String> = HashSet::new();
    let mut pending: Vec<PluginDraft<'_>> = Vec::new();
    match get("plugins") {
        None => {}
        Some(node) if node.as_map().is_none() => {
            ctx.err(
                &node.pos,
                "plugins",
                expected("a mapping of plugin names to settings", node),
            );
        }
        Some(node) => {
            for (name, k, value) in ctx.entries(node, "plugins") {
                let ppath = join("plugins", name);
                if value.as_map().is_none() {
                    ctx.err(
                        &value.pos,
                        ppath,
                        expected("a mapping of plugin settings", value),
                    );
                    continue;
                }
                if let Some(draft) =
                    resolve_plugin(&mut ctx, name, k, value, &templates, &action_maps)
                {
                    pending.push(draft);
                }
            }
        }
    }

    // Placeholders used anywhere: keys named there are parameters, not typos (D4).
    for draft in &pending {
        names_used.extend(draft.placeholders.iter().cloned());
    }
    for action in plan.actions.values() {
        match &action.kind {
            ActionKind::Command { template, .. } => {
                names_used.extend(subst::placeholders(template))
            }
            ActionKind::Nsca(n) => names_used.extend(subst::placeholders(&n.service)),
            ActionKind::Nothing | ActionKind::Module(_) => {}
        }
    }
    let mut typo_maps: Vec<(String, &Node)> = templates
        .iter()
        .map(|(n, m)| (join("templates", n), *m))
        .collect();
    typo_maps.extend(pending.iter().map(|d| (join("plugins", &d.name), d.map)));
    for (path, map) in typo_maps {
        for (key, k, _) in ctx.entries(map, &path) {
            if PLUGIN_KEYS.contains(&key) || names_used.contains(key) {
                continue;
            }
            if let Some(c) = closest(key, PLUGIN_KEYS) {
                ctx.warn(
                    &k.pos,
                    &join(&path, key),
                    format!("unknown key, used as a parameter; did you mean {c}?"),
                );
            }
        }
    }

    for draft in pending {
        if let Some(spec) = finish_plugin(&mut ctx, draft, &plan.default_actions) {
            plan.checks.push(Arc::new(spec));
        }
    }

    if get("plugins").is_none() && plan.nrpe.is_none() && ctx.errors.is_empty() {
        ctx.err(
            &root.pos,
            "plugins",
            "no plugins configured (and no nrpe: section)",
        );
    }

    // The NRPE bridge (issue 7, D6): nrpe.cfg's commands become checks.
    if ctx.errors.is_empty() && plan.nrpe.is_some() {
        let at = get("nrpe").map_or(&root.pos, |n| &n.pos).clone();
        super::nrpe::attach(&mut plan, &at, &mut ctx.errors, &mut ctx.warnings);
    }

    if ctx.errors.is_empty() {
        Ok(Loaded {
            plan,
            warnings: ctx.warnings,
        })
    } else {
        // File order, whatever the phase that found them.
        ctx.errors.sort_by(|a, b| {
            let key = |e: &ConfigError| e.pos.as_ref().map(|p| (p.file.clone(), p.line, p.col));
            key(a).cmp(&key(b))
        });
        Err(ConfigErrors { errors: ctx.errors })
    }
}

fn read_log_level(node: &Node) -> Result<String, String> {
    let s = want_str(node, "a log level")?;
    match s.to_ascii_lowercase().as_str() {
        l @ ("trace" | "debug" | "info" | "warn" | "error") => Ok(l.to_string()),
        "warning" => Ok("warn".into()),
        _ => Err(format!(
            "must be one of trace, debug, info, warn, error; got {s:?}"
        )),
    }
}

fn read_log_format(node: &Node) -> Result<LogFormat, String> {
    match want_str(node, "text or json")? {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("must be text or json, got {other:?}")),
    }
}

/// `"default"` (keep the daemon's), a numeric id, or a name.
fn read_principal(node: &Node) -> Result<Option<Principal>, String> {
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
fn check_principal(key: &str, principal: Option<Principal>) -> Result<Option<Principal>, String> {
    if let Some(p @ Principal::Name(_)) = &principal {
        if key == "uid" {
            crate::privileges::resolve_uid(p)?;
        } else {
            crate::privileges::resolve_gid(p)?;
        }
    }
    Ok(principal)
}

fn read_spool(ctx: &mut Ctx, node: &Node) -> SpoolSettings {
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
fn read_token_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn read_api(ctx: &mut Ctx, node: &Node) -> ApiSettings {
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
fn check_host_pattern(h: &str) -> Result<(), String> {
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

fn read_metrics(ctx: &mut Ctx, node: &Node) -> Option<SocketAddr> {
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

fn read_nrpe(ctx: &mut Ctx, node: &Node) -> Option<NrpeSettings> {
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

fn unknown_action(name: &str, actions: &IndexMap<String, &Node>) -> String {
    if actions.is_empty() {
        format!("unknown action {name} (no actions: section)")
    } else {
        let known: Vec<&str> = actions.keys().map(String::as_str).collect();
        format!("unknown action {name} (known: {})", known.join(", "))
    }
}

/// The action map as `parameters.Action` shows it: `{Command: null, Module: null, Timeout: 60}` ⊕ map.
fn action_params(map: &Node) -> IndexMap<String, Value> {
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

fn read_action(ctx: &mut Ctx, name: &str, node: &Node, path: &str) -> Option<ActionSpec> {
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

fn nsca_method(node: &Node) -> Result<NscaMethod, String> {
    let result = match &node.kind {
        Kind::Int(i) => NscaMethod::from_number(*i),
        Kind::Str(s) => NscaMethod::from_str(s),
        _ => return Err(expected("an encryption method number or name", node)),
    };
    result.map_err(|e| e.to_string())
}

fn read_nsca(ctx: &mut Ctx, node: &Node, path: &str) -> Option<NscaSettings> {
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

// ---------------------------------------------------------------------------------------
// Plugins

/// One effective parameter: its value and where it came from.
#[derive(Clone)]
struct Eff<'a> {
    value: Value,
    node: Option<&'a Node>,
    /// 0 DEFAULTS, 1 BasePlugin, 2 Template, 3 plugin map.
    layer: u8,
}

/// A plugin after template resolution, before its typed fields are read.
struct PluginDraft<'a> {
    name: String,
    key: &'a Node,
    map: &'a Node,
    params: IndexMap<String, Eff<'a>>,
    /// Per layer (Base, Template, plugin): the map, for the Interval+Schedule check.
    layers: Vec<&'a Node>,
    actions: Option<Vec<String>>,
    placeholders: Vec<String>,
}

fn resolve_plugin<'a>(
    ctx: &mut Ctx,
    name: &str,
    key: &'a Node,
    map: &'a Node,
    templates: &IndexMap<String, &'a Node>,
    action_maps: &IndexMap<String, &'a Node>,
) -> Option<PluginDraft<'a>> {
    let path = join("plugins", name);
    let mut params: IndexMap<String, Eff<'a>> = IndexMap::new();
    for k in DEFAULT_KEYS {
        params.insert(
            k.to_string(),
            Eff {
                value: default_value(k),
                node: None,
                layer: 0,
            },
        );
    }
    let mut layers = Vec::new();
    let base = templates.get("BasePlugin").copied();
    let template_node = map
        .get("Template")
        .or_else(|| base.and_then(|b| b.get("Template")))
        .filter(|n| !n.is_null());
    let template = match template_node {
        None => None,
        Some(n) => match n.as_str() {
            Some(t) => match templates.get(t) {
                Some(m) => Some(*m),
                None => {
                    let known: Vec<&str> = templates.keys().map(String::as_str).collect();
                    let msg = if known.is_empty() {
                        format!("unknown template {t} (no templates: section)")
                    } else {
                        format!("unknown template {t} (known: {})", known.join(", "))
                    };
                    ctx.err(&n.pos, join(&path, "Template"), msg);
                    return None;
                }
            },
            None => {
                ctx.err(
                    &n.pos,
                    join(&path, "Template"),
                    expected("a template name", n),
                );
                return None;
            }
        },
    };
    for (layer, m) in [(1u8, base), (2, template), (3, Some(map))] {
        let Some(m) = m else { continue };
        layers.push(m);
        for (k, v) in m.as_map().unwrap_or_default() {
            let Some(key_name) = k.as_str() else { continue };
            params.insert(
                key_name.to_string(),
                Eff {
                    value: v.to_json(),
                    node: Some(v),
                    layer,
                },
            );
        }
    }

    // Enabled (Q12: honoured from templates too); only a boolean false disables.
    if let Some(Eff { node: Some(n), .. }) = params.get("Enabled") {
        match n.kind {
            Kind::Bool(false) => return None,
            Kind::Bool(true) | Kind::Null => {}
            _ => {
                ctx.err(&n.pos, join(&path, "Enabled"), expected("a boolean", n));
            }
        }
    }

    // Action: str | [str] | null; `[]` = none; replaced in parameters by the action map(s).
    let mut resolved_actions = None;
    if let Some(Eff { node: Some(n), .. }) = params.get("Action").cloned()
        && !n.is_null()
    {
        match want_str_list(n) {
            Ok(list) => {
                let mut shown = Vec::new();
                let mut names = Vec::new();
                for (a, item) in list {
                    match action_maps.get(&a) {
                        Some(m) => {
                            shown.push(Value::Object(action_params(m).into_iter().collect()));
                            names.push(a);
                        }
                        None => ctx.err(
                            &item.pos,
                            join(&path, "Action"),
                            unknown_action(&a, action_maps),
                        ),
                    }
                }
                let value = if matches!(n.kind, Kind::Str(_)) {
                    shown.pop().unwrap_or(Value::Null)
                } else {
                    Value::Array(shown)
                };
                if let Some(e) = params.get_mut("Action") {
                    e.value = value;
                }
                resolved_actions = Some(names);
            }
            Err(msg) => ctx.err(&n.pos, join(&path, "Action"), msg),
        }
    }

    let mut placeholders = Vec::new();
    if let Some(Eff {
        value: Value::String(c),
        ..
    }) = params.get("Command")
    {
        placeholders.extend(subst::placeholders(c));
    }
    if let Some(Eff {
        value: Value::Array(items),
        ..
    }) = params.get("Argv")
    {
        for i in items {
            if let Value::String(s) = i {
                placeholders.extend(subst::placeholders(s));
            }
        }
    }
    Some(PluginDraft {
        name: name.to_string(),
        key,
        map,
        params,
        layers,
        actions: resolved_actions,
        placeholders,
    })
}

fn finish_plugin(
    ctx: &mut Ctx,
    d: PluginDraft<'_>,
    default_actions: &[String],
) -> Option<CheckSpec> {
    let path = join("plugins", &d.name);
    let before = ctx.errors.len();
    // A set (non-null) parameter node.
    let node = |key: &str| {
        d.params
            .get(key)
            .and_then(|e| e.node)
            .filter(|n| !n.is_null())
    };
    let kpath = |key: &str| join(&path, key);

    let non_empty_str = |ctx: &mut Ctx, key: &str| -> Option<(String, &Node)> {
        let n = node(key)?;
        match &n.kind {
            Kind::Str(s) if s.trim().is_empty() => None,
            Kind::Str(s) => Some((s.clone(), n)),
            _ => {
                ctx.err(&n.pos, kpath(key), expected("a string", n));
                None
            }
        }
    };
    let command = non_empty_str(ctx, "Command");
    let module = non_empty_str(ctx, "Module");
    let parser = non_empty_str(ctx, "Parser");
    let argv: Option<(Vec<String>, &Node)> = node("Argv").and_then(|n| match &n.kind {
        Kind::Seq(items) if items.is_empty() => {
            ctx.err(&n.pos, kpath("Argv"), "must not be empty");
            None
        }
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for i in items {
                match &i.kind {
                    Kind::Str(s) => out.push(s.clone()),
                    Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => out.push(i.key_text()),
                    _ => ctx.err(
                        &i.pos,
                        kpath("Argv"),
                        format!("items must be strings, found {}", i.type_name()),
                    ),
                }
            }
            Some((out, n))
        }
        _ => {
            ctx.err(&n.pos, kpath("Argv"), expected("a list of strings", n));
            None
        }
    });

    // Set at all (a wrong type is reported on its own, not as "missing").
    let present = |key: &str| {
        node(key).is_some_and(|n| !matches!(&n.kind, Kind::Str(s) if s.trim().is_empty()))
    };
    match (&command, &argv, &module) {
        (Some(_), Some((_, a)), _) => ctx.err(
            &a.pos,
            kpath("Argv"),
            "Command and Argv cannot be set together",
        ),
        (Some(_), None, Some((_, m))) => {
            ctx.err(
                &m.pos,
                kpath("Module"),
                "Command and Module parameters cannot be set together",
            );
        }
        (None, Some(_), Some((_, m))) => ctx.err(
            &m.pos,
            kpath("Module"),
            "Argv and Module cannot be set together",
        ),
        (None, None, None) if !present("Command") && !present("Argv") && !present("Module") => ctx
            .err(
                &d.key.pos,
                path.clone(),
                "Command, Argv or Module has to be set",
            ),
        _ => {}
    }
    if let Some((_, p)) = &parser
        && !present("Command")
        && !present("Argv")
    {
        ctx.err(
            &p.pos,
            kpath("Parser"),
            "Parser can be used only with Command",
        );
    }

    let mut spec_timeout = Duration::from_secs(1800);
    if let Some(n) = node("Timeout") {
        match want_seconds(n) {
            Ok(0.0) => ctx.err(&n.pos, kpath("Timeout"), "must be greater than 0"),
            Ok(s) => spec_timeout = Duration::from_secs_f64(s),
            Err(msg) => ctx.err(&n.pos, kpath("Timeout"), msg),
        }
    }
    let mut interval = 0.0;
    if let Some(n) = node("Interval") {
        match &n.kind {
            Kind::Bool(false) => {}
            _ => match want_seconds(n) {
                Ok(s) => interval = s,
                Err(msg) => ctx.err(&n.pos, kpath("Interval"), msg),
            },
        }
    }
    let mut history = 10;
    if let Some(n) = node("History") {
        match want_uint(n, 1) {
            Ok(h) => history = h as usize,
            Err(msg) => ctx.err(&n.pos, kpath("History"), msg),
        }
    }
    let mut principal = |key: &str| -> Option<Principal> {
        let n = node(key)?;
        read_principal(n)
            .and_then(|p| check_principal(key, p))
            .unwrap_or_else(|msg| {
                ctx.err(&n.pos, kpath(key), msg);
                None
            })
    };
    let uid = principal("uid");
    let gid = principal("gid");
    let mut timeout_state = State::Unknown;
    if let Some(n) = node("TimeoutState") {
        match n
            .as_str()
            .and_then(|s| State::parse(&s.to_ascii_uppercase()))
        {
            Some(s) => timeout_state = s,
            None => ctx.err(
                &n.pos,
                kpath("TimeoutState"),
                "must be one of OK, WARNING, CRITICAL, UNKNOWN",
            ),
        }
    }
    let mut exit_codes = ExitCodes::Nagios;
    if let Some(n) = node("ExitCodes") {
        match n.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("nagios") => exit_codes = ExitCodes::Nagios,
            Some("smoker") => exit_codes = ExitCodes::Smoker,
            _ => ctx.err(&n.pos, kpath("ExitCodes"), "must be nagios or smoker"),
        }
    }
    let mut max_output = DEFAULT_MAX_OUTPUT;
    if let Some(n) = node("MaxOutput") {
        match want_size(n) {
            Ok(0) => ctx.err(&n.pos, kpath("MaxOutput"), "must be greater than 0"),
            Ok(v) if v > 1 << 30 => ctx.err(&n.pos, kpath("MaxOutput"), "must be at most 1GiB"),
            Ok(v) => max_output = v,
            Err(msg) => ctx.err(&n.pos, kpath("MaxOutput"), msg),
        }
    }
    let mut splay = None;
    if let Some(n) = node("Splay") {
        match want_seconds(n) {
            Ok(s) => splay = Some(Duration::from_secs_f64(s)),
            Err(msg) => ctx.err(&n.pos, kpath("Splay"), msg),
        }
    }
    let mut env = Vec::new();
    if let Some(n) = node("Env") {
        match n.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    let Some(name) = k
                        .as_str()
                        .filter(|s| !s.is_empty() && !s.contains(['=', '\0']))
                    else {
                        ctx.err(
                            &k.pos,
                            kpath("Env"),
                            "variable names must be non-empty strings without '='",
                        );
                        continue;
                    };
                    let value = match &v.kind {
                        Kind::Str(s) => s.clone(),
                        Kind::Null => String::new(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Int(_) | Kind::Float(_) => v.key_text(),
                        _ => {
                            ctx.err(&v.pos, join(&kpath("Env"), name), expected("a scalar", v));
                            continue;
                        }
                    };
                    if value.contains('\0') {
                        ctx.err(&v.pos, join(&kpath("Env"), name), "must not contain NUL");
                        continue;
                    }
                    env.retain(|(k, _): &(String, String)| k != name);
                    env.push((name.to_string(), value));
                }
            }
            None => ctx.err(
                &n.pos,
                kpath("Env"),
                expected("a mapping of variable names to values", n),
            ),
        }
    }
    let working_dir = node("WorkingDir").and_then(|n| {
        want_path(n)
            .map_err(|msg| ctx.err(&n.pos, kpath("WorkingDir"), msg))
            .ok()
    });
    let mut action_on = Vec::new();
    if let Some(n) = node("ActionOn") {
        match want_str_list(n) {
            Ok(list) => {
                for (t, item) in list {
                    match t.to_ascii_uppercase().as_str() {
                        "CHANGE" => action_on.push(ActionTrigger::Change),
                        "ERROR" => {
                            action_on.push(ActionTrigger::State(State::Critical));
                            action_on.push(ActionTrigger::State(State::Unknown));
                        }
                        other => match State::parse(other) {
                            Some(s) => action_on.push(ActionTrigger::State(s)),
                            None => ctx.err(
                                &item.pos,
                                kpath("ActionOn"),
                                format!("unknown trigger {t:?} (use change, OK, WARN, ERROR, WARNING, CRITICAL, UNKNOWN)"),
                            ),
                        },
                    }
                }
            }
            Err(msg) => ctx.err(&n.pos, kpath("ActionOn"), msg),
        }
    }
    action_on.dedup();
    let mut catch_up = false;
    if let Some(n) = node("CatchUp") {
        match want_bool(n) {
            Ok(b) => catch_up = b,
            Err(msg) => ctx.err(&n.pos, kpath("CatchUp"), msg),
        }
    }
    let mut overlap = Overlap::Skip;
    if let Some(n) = node("Overlap") {
        match n.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("skip") => overlap = Overlap::Skip,
            Some("queue") => overlap = Overlap::Queue,
            Some("kill") => overlap = Overlap::Kill,
            _ => ctx.err(&n.pos, kpath("Overlap"), "must be skip, queue or kill"),
        }
    }
    let mut time_zone = None;
    if let Some(n) = node("TimeZone") {
        match want_str(n, "a time zone name") {
            Ok(tz) if valid_time_zone(tz) => time_zone = Some(tz.to_string()),
            Ok(tz) => ctx.err(
                &n.pos,
                kpath("TimeZone"),
                format!("unknown time zone {tz:?}"),
            ),
            Err(msg) => ctx.err(&n.pos, kpath("TimeZone"), msg),
        }
    }
    let mut cron = None;
    if let Some(n) = node("Schedule") {
        match want_str(n, "a cron expression") {
            Ok(expr) => match check_cron(expr) {
                Ok(()) => cron = Some((expr.to_string(), n)),
                Err(msg) => ctx.err(&n.pos, kpath("Schedule"), msg),
            },
            Err(msg) => ctx.err(&n.pos, kpath("Schedule"), msg),
        }
    }
    // Interval + Schedule: an error in one map; across layers the more specific wins.
    for layer in &d.layers {
        let interval_set = layer
            .get("Interval")
            .is_some_and(|n| !matches!(n.kind, Kind::Null | Kind::Int(0) | Kind::Bool(false)));
        if interval_set && let Some(s) = layer.get("Schedule").filter(|n| !n.is_null()) {
            ctx.err(
                &s.pos,
                kpath("Schedule"),
                "Interval and Schedule cannot be set together",
            );
        }
    }
    if time_zone.is_some() && cron.is_none() {
        let n = node("TimeZone").map_or(&d.key.pos, |n| &n.pos);
        ctx.err(n, kpath("TimeZone"), "TimeZone needs Schedule");
    }

    // Effective parameters (JSON) for the API and for substitution.
    let parameters: IndexMap<String, Value> = d
        .params
        .iter()
        .map(|(k, e)| (k.clone(), e.value.clone()))
        .collect();
    let lookup = |key: &str| parameters.get(key).cloned();
    let mut spec_command = Command::Invalid {
        state: State::Unknown,
        text: String::new(),
    };
    if let Some((template, n)) = &command {
        spec_command = match subst::substitute(template, &lookup) {
            Ok(text) => Command::Shell(text),
            Err(subst::SubstError::Missing(key)) => {
                ctx.warn(
                    &n.pos,
                    &kpath("Command"),
                    format!("%({key})s names no parameter; every run will be ERROR"),
                );
                Command::Invalid {
                    state: State::Critical,
                    text: format!("Missing parameter {key}"),
                }
            }
            Err(subst::SubstError::Newline(key)) => {
                let pos = d
                    .params
                    .get(&key)
                    .and_then(|e| e.node)
                    .map_or(&n.pos, |v| &v.pos);
                ctx.err(
                    pos,
                    kpath(&key),
                    "contains a newline, which cannot be substituted into Command",
                );
                return None;
            }
            Err(e) => {
                ctx.err(&n.pos, kpath("Command"), e.to_string());
                return None;
            }
        };
    } else if let Some((items, n)) = &argv {
        let mut out = Vec::new();
        let mut invalid = None;
        for item in items {
            match subst::substitute_raw(item, &lookup) {
                Ok(s) => out.push(s),
                Err(subst::SubstError::Missing(key)) => {
                    ctx.warn(
                        &n.pos,
                        &kpath("Argv"),
                        format!("%({key})s names no parameter; every run will be ERROR"),
                    );
                    invalid = Some(Command::Invalid {
                        state: State::Critical,
                        text: format!("Missing parameter {key}"),
                    });
                    break;
                }
                Err(e) => {
                    ctx.err(&n.pos, kpath("Argv"), e.to_string());
                    break;
                }
            }
        }
        spec_command = invalid.unwrap_or(Command::Argv(out));
    }
    if module.is_some() || parser.is_some() {
        spec_command = Command::Invalid {
            state: State::Unknown,
            text: "Python modules are not supported, use Command".into(),
        };
    }

    if ctx.errors.len() != before {
        return None;
    }
    // Across layers the more specific one wins: a plugin's Interval beats a template's Schedule.
    let layer_of = |key: &str| {
        d.params
            .get(key)
            .filter(|e| e.node.is_some_and(|n| !n.is_null()))
            .map(|e| e.layer)
    };
    if interval > 0.0 && layer_of("Interval") > layer_of("Schedule") {
        cron = None;
    }
    let schedule = match cron {
        Some((expr, _)) => Schedule::Cron { expr, time_zone },
        None if interval > 0.0 => {
            let every = Duration::from_secs_f64(interval);
            Schedule::Interval {
                every,
                splay: splay.unwrap_or_else(|| every.min(Duration::from_secs(60))),
            }
        }
        None => Schedule::OnDemand,
    };
    Some(CheckSpec {
        name: d.name,
        command: spec_command,
        schedule,
        timeout: spec_timeout,
        timeout_state,
        history,
        exit_codes,
        max_output: max_output as usize,
        env,
        uid,
        gid,
        working_dir,
        actions: d.actions.unwrap_or_else(|| default_actions.to_vec()),
        action_on,
        parameters,
        catch_up,
        overlap,
    })
}

fn check_cron(expr: &str) -> Result<(), String> {
    if expr.trim().eq_ignore_ascii_case("@reboot") {
        return Ok(());
    }
    croner::Cron::from_str(expr)
        .map(|_| ())
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}

fn valid_time_zone(tz: &str) -> bool {
    if matches!(tz, "UTC" | "Local") {
        return true;
    }
    !tz.is_empty()
        && !tz.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && Path::new("/usr/share/zoneinfo").join(tz).is_file()
}

#[cfg(test)]
mod tests;
