//! The top-level keys: the walk over the root mapping (typo warnings for unknown keys)
//! and the readers of the daemon's own settings, by concern: server (`bind_*`,
//! `pidfile`, `uid`/`gid`, `run_as_root`, the ignored originals), store (`state_dir`,
//! `spool`, `removed_check_grace`) and logging.

use std::{fmt, time::Duration};

use super::{
    ctx::{Ctx, Entry, field},
    ids::read_id,
    keys::{self, Section},
    values::{
        ValueError, expected, want_bool, want_path, want_port, want_seconds, want_size, want_str,
        want_uint,
    },
};
use crate::config::{
    plan::{LogFormat, Plan, SpoolSettings},
    yaml::Node,
};

/// The root mapping's entries.
pub struct Top<'a> {
    pub entries: Vec<Entry<'a>>,
}

impl<'a> Top<'a> {
    /// The entries of the root mapping, with a warning for each unknown key that looks
    /// like a typo of a known one.
    pub fn read(ctx: &mut Ctx, root: &'a Node) -> Self {
        let entries = ctx.entries(root, "");
        for (name, k, _) in &entries {
            if !keys::is_known(Section::Top, name)
                && let Some(c) = keys::closest(name, Section::Top)
            {
                ctx.warn(
                    &k.pos,
                    name,
                    format!("unknown top-level key, ignored; did you mean {c}?"),
                );
            }
        }
        Top { entries }
    }

    /// The key's node, even when null.
    pub fn raw(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == key)
            .map(|(_, _, v)| *v)
    }

    /// The key's node when set (not null).
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.raw(key).filter(|v| !v.is_null())
    }

    /// The key read by `read`, or its error reported under the key.
    pub fn read_key<T, E: fmt::Display>(
        &self,
        ctx: &mut Ctx,
        key: &str,
        read: impl FnOnce(&Node) -> Result<T, E>,
    ) -> Option<T> {
        let node = self.get(key)?;
        ctx.take(node, key, read(node))
    }
}

/// Why a logging key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("must be one of trace, debug, info, warn, error; got {0:?}")]
    Level(String),
    #[error("must be text or json, got {0:?}")]
    Format(String),
}

/// `bind_host`, `bind_port`, `pidfile`, `nr_concurrent_plugins`, `shutdown_grace`, the
/// ignored original keys, `uid`/`gid` and `run_as_root`.
pub fn read_server(ctx: &mut Ctx, top: &Top<'_>, plan: &mut Plan) {
    let host = |n: &Node| want_str(n, "a host name or address").map(str::to_string);
    if let Some(v) = top.read_key(ctx, "bind_host", host) {
        plan.bind_host = v;
    }
    if let Some(v) = top.read_key(ctx, "bind_port", want_port) {
        plan.bind_port = v;
    }
    if let Some(v) = top.read_key(ctx, "pidfile", want_path) {
        plan.pidfile = Some(v);
    }
    if let Some(v) = top.read_key(ctx, "shutdown_grace", want_seconds) {
        plan.shutdown_grace = Duration::from_secs_f64(v);
    }
    if let Some(v) = top.read_key(ctx, "nr_concurrent_plugins", |n| want_uint(n, 1)) {
        plan.nr_concurrent_plugins = Some(v as usize);
    }
    for key in ["stdin", "stdout", "stderr", "favicon"] {
        top.read_key(ctx, key, want_path);
    }
    if let Some(p) = top.read_key(ctx, "uid", |n| read_id("uid", n)) {
        plan.uid = p;
    }
    if let Some(p) = top.read_key(ctx, "gid", |n| read_id("gid", n)) {
        plan.gid = p;
    }
    if let Some(v) = top.read_key(ctx, "run_as_root", want_bool) {
        plan.run_as_root = v;
        plan.run_as_root_set = true;
    }
}

/// `state_dir`, `removed_check_grace` and `spool`.
pub fn read_store(ctx: &mut Ctx, top: &Top<'_>, plan: &mut Plan) {
    if let Some(v) = top.read_key(ctx, "state_dir", want_path) {
        plan.state_dir = Some(v);
    }
    if let Some(v) = top.read_key(ctx, "removed_check_grace", want_seconds) {
        plan.removed_check_grace = Duration::from_secs_f64(v);
    }
    if let Some(node) = top.get("spool") {
        plan.spool = read_spool(ctx, node);
    }
}

/// `log_level` and `log_format`.
pub fn read_logging(ctx: &mut Ctx, top: &Top<'_>, plan: &mut Plan) {
    if let Some(v) = top.read_key(ctx, "log_level", read_log_level) {
        plan.log_level = Some(v);
    }
    if let Some(v) = top.read_key(ctx, "log_format", read_log_format) {
        plan.log_format = v;
    }
}

fn read_log_level(node: &Node) -> Result<String, LogError> {
    let s = want_str(node, "a log level")?;
    match s.to_ascii_lowercase().as_str() {
        l @ ("trace" | "debug" | "info" | "warn" | "error") => Ok(l.to_string()),
        "warning" => Ok("warn".into()),
        _ => Err(LogError::Level(s.to_string())),
    }
}

fn read_log_format(node: &Node) -> Result<LogFormat, LogError> {
    match want_str(node, "text or json")? {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(LogError::Format(other.to_string())),
    }
}

fn read_spool(ctx: &mut Ctx, node: &Node) -> SpoolSettings {
    let mut spool = SpoolSettings::default();
    if node.as_map().is_none() {
        ctx.err(&node.pos, "spool", expected("a mapping", node));
        return spool;
    }
    ctx.strict_keys(node, "spool", Section::Spool);
    if let Some(n) = field(node, "max_results")
        && let Some(v) = ctx.take(n, "spool.max_results", want_uint(n, 1))
    {
        spool.max_results = v;
    }
    if let Some(n) = field(node, "max_bytes") {
        match ctx.take(n, "spool.max_bytes", want_size(n)) {
            Some(0) => ctx.err(&n.pos, "spool.max_bytes", "must be greater than 0"),
            Some(v) => spool.max_bytes = v,
            None => {}
        }
    }
    spool
}
