//! Config loading: YAML (via [`super::yaml`]) → validated [`Plan`], all or nothing.
//!
//! Implements smoker-compat.md §1 (top-level keys, templates, plugins, actions,
//! `%(Name)s`, `!include`, `!include_dir`, conf.d) with decisions.md D4/D5 and the keys
//! of issues 3, 5, 7, 10 and 11. Every problem found is collected and reported at once
//! as `FILE:LINE:COL: plugins.NAME.Key: message`.
//!
//! Here: entry points, error types, the top-level walk. `values` reads typed scalars,
//! `sections` the settings sections and actions, `plugin` turns plugins into checks.

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
    "run_as_root",
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
        uid: None,
        gid: None,
        run_as_root: true,
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
        if let Some(node) = get(key) {
            match read_principal(node).and_then(|p| check_principal(key, p)) {
                Ok(p) if key == "uid" => plan.uid = p,
                Ok(p) => plan.gid = p,
                Err(msg) => ctx.err(&node.pos, key, msg),
            }
        }
    }
    field!("run_as_root", want_bool, |v| plan.run_as_root = v);
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
    // The daemon drops to top-level uid/gid after binding: it cannot switch again (issue 10).
    if plan.uid.is_some() || plan.gid.is_some() {
        let at = get("uid")
            .or_else(|| get("gid"))
            .map_or(&root.pos, |n| &n.pos);
        for check in &plan.checks {
            if check.uid.is_some() || check.gid.is_some() {
                ctx.err(
                    at,
                    join("plugins", &check.name),
                    "per-plugin uid/gid cannot be used when the daemon drops to a top-level uid/gid",
                );
            }
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

mod plugin;
mod sections;
mod values;

pub use self::values::parse_size;
use self::{plugin::*, sections::*, values::*};

#[cfg(test)]
mod tests;
