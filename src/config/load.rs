//! Config loading: YAML (via [`super::yaml`]) → validated [`Plan`], all or nothing.
//!
//! Implements smoker-compat.md §1 (top-level keys, templates, plugins, actions,
//! `%(Name)s`, `!include`, `!include_dir`, conf.d) with decisions.md D4/D5 and the keys
//! of issues 3, 5, 7, 10 and 11. Every problem found is collected and reported at once
//! as `FILE:LINE:COL: plugins.NAME.Key: message`.
//!
//! Here: the entry points and [`build`], the walk in phases. The readers, by concern:
//! `server` (top-level keys: server, store, logging), `api` (`api:`, `metrics:`),
//! `nrpe_section`, `actions` (one reader per action kind) and `nsca`, `plugin`
//! (templates, plugins and their key groups). `keys` is the one table of keys, `ctx`
//! collects errors and warnings, `values` and `ids` read typed scalars.

mod actions;
mod api;
mod ctx;
mod icinga2;
mod ids;
pub mod keys;
mod nrpe_section;
mod nsca;
mod plugin;
mod python;
mod server;
mod values;

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use indexmap::IndexMap;
use serde_json::Value;

pub use self::values::{SizeError, parse_size};
use self::{
    actions::{read_actions, read_default_actions},
    api::{read_api, read_metrics},
    ctx::Ctx,
    nrpe_section::read_nrpe,
    plugin::{draft::PluginDraft, finish_plugin, read_plugins, read_templates, warn_typos},
    python::read_python,
    server::{Top, read_logging, read_server, read_store},
};
pub use super::error::{ConfigError, ConfigErrors};
use super::{
    plan::{ApiSettings, LogFormat, Plan, SpoolSettings},
    yaml::{self, Kind, Node, Pos},
};
use crate::check::Schedule;

/// The embedded default config (`smokerd` with no `-c` and no `/etc/smokerd/smokerd.yaml`).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/smokerd.yaml");

/// Name under which the embedded default is reported.
const DEFAULT_NAME: &str = "<default config>";

/// A loaded config: the plan plus warnings (typos, ignored keys) for the log; each
/// displays as `FILE:LINE:COL: path: message` (`check-config --strict` makes them errors).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub plan: Plan,
    pub warnings: Vec<ConfigError>,
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
// The walk

fn build(root: &Node, path: Option<PathBuf>) -> Result<Loaded, ConfigErrors> {
    if root.as_map().is_none() {
        return Err(not_a_mapping(root));
    }
    let mut ctx = Ctx::default();
    let top = Top::read(&mut ctx, root);
    let mut plan = defaults(path);
    read_server(&mut ctx, &top, &mut plan);
    read_store(&mut ctx, &top, &mut plan);
    read_logging(&mut ctx, &top, &mut plan);
    if let Some(node) = top.get("api") {
        plan.api = read_api(&mut ctx, node);
    }
    if let Some(node) = top.get("metrics") {
        plan.metrics_listen = read_metrics(&mut ctx, node);
    }
    if let Some(node) = top.raw("nrpe") {
        // `nrpe:` with no value: the defaults.
        plan.nrpe = read_nrpe(&mut ctx, node);
    }
    let action_maps = match top.get("actions") {
        Some(node) => read_actions(&mut ctx, node, &mut plan.actions),
        None => IndexMap::new(),
    };
    if let Some(node) = top.get("default_actions") {
        plan.default_actions = read_default_actions(&mut ctx, node, &action_maps);
    }
    let empty = Node {
        pos: root.pos.clone(),
        kind: Kind::Map(Vec::new()),
    };
    let templates = match top.get("templates") {
        Some(node) => read_templates(&mut ctx, node, &empty),
        None => IndexMap::new(),
    };
    let drafts = match top.get("plugins") {
        Some(node) => read_plugins(&mut ctx, node, &templates, &action_maps),
        None => Vec::new(),
    };
    warn_typos(
        &mut ctx,
        &templates,
        &drafts,
        &placeholders_used(&drafts, &plan),
    );
    for draft in drafts {
        if let Some(spec) = finish_plugin(&mut ctx, draft, &plan.default_actions) {
            plan.checks.push(Arc::new(spec));
        }
    }
    let python_settings = match top.get("python") {
        Some(node) => read_python(&mut ctx, node, &base_dir(&plan)),
        None => Default::default(),
    };
    let at = top.get("python").map_or(&root.pos, |n| &n.pos).clone();
    python::attach(&mut ctx, &mut plan, python_settings, &at);
    check_daemon_ids(&mut ctx, &top, &root.pos, &plan);
    if top.get("plugins").is_none() && plan.nrpe.is_none() && ctx.errors.is_empty() {
        let message = "no plugins configured (and no nrpe: section)";
        ctx.err(&root.pos, "plugins", message);
    }
    // The NRPE bridge (issue 7, D6): nrpe.cfg's commands become checks.
    if ctx.errors.is_empty() && plan.nrpe.is_some() {
        let at = top.get("nrpe").map_or(&root.pos, |n| &n.pos).clone();
        super::nrpe::attach(&mut plan, &at, &mut ctx.errors, &mut ctx.warnings);
    }
    finish(ctx, plan)
}

/// The directory relative paths of the config are resolved against.
fn base_dir(plan: &Plan) -> PathBuf {
    plan.path
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The error of a root that is no mapping (an empty file included).
fn not_a_mapping(root: &Node) -> ConfigErrors {
    let start = Pos {
        line: 1,
        col: 1,
        ..root.pos.clone()
    };
    let (pos, message) = if root.is_null() {
        (start, "the config is empty".to_string())
    } else {
        let found = root.type_name();
        let message = format!("the config must be a mapping of keys, found {found}");
        (root.pos.clone(), message)
    };
    ConfigErrors {
        errors: vec![ConfigError {
            pos: Some(pos),
            path: String::new(),
            message,
        }],
    }
}

/// The plan before any key is read: every default.
fn defaults(path: Option<PathBuf>) -> Plan {
    Plan {
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
        run_as_root_set: false,
    }
}

/// Placeholders used anywhere: keys named there are parameters, not typos (D4).
fn placeholders_used(drafts: &[PluginDraft<'_>], plan: &Plan) -> HashSet<String> {
    let mut used: HashSet<String> = HashSet::new();
    for draft in drafts {
        used.extend(draft.placeholders.iter().cloned());
    }
    for action in plan.actions.values() {
        used.extend(actions::placeholders(&action.kind));
    }
    used
}

/// The daemon drops to top-level uid/gid after binding: it cannot switch again (issue 10).
fn check_daemon_ids(ctx: &mut Ctx, top: &Top<'_>, root: &Pos, plan: &Plan) {
    if plan.uid.is_none() && plan.gid.is_none() {
        return;
    }
    let at = top
        .get("uid")
        .or_else(|| top.get("gid"))
        .map_or(root, |n| &n.pos);
    for check in &plan.checks {
        if check.uid.is_some() || check.gid.is_some() {
            ctx.err(
                at,
                ctx::join("plugins", &check.name),
                "per-plugin uid/gid cannot be used when the daemon drops to a top-level uid/gid",
            );
        }
    }
}

/// The plan, or every error in file order (whatever the phase that found them).
fn finish(mut ctx: Ctx, plan: Plan) -> Result<Loaded, ConfigErrors> {
    if ctx.errors.is_empty() {
        return Ok(Loaded {
            plan,
            warnings: ctx.warnings,
        });
    }
    ctx.errors.sort_by(|a, b| {
        let key = |e: &ConfigError| e.pos.as_ref().map(|p| (p.file.clone(), p.line, p.col));
        key(a).cmp(&key(b))
    });
    Err(ConfigErrors { errors: ctx.errors })
}

#[cfg(test)]
mod tests;
