//! How a plugin's process runs: `Timeout`, `MaxOutput`, `uid`/`gid`, `Env` and
//! `WorkingDir`.

use std::{path::PathBuf, time::Duration};

use super::draft::Fields;
use crate::{
    check::Principal,
    config::{
        load::{
            ctx::{Ctx, join},
            ids::read_id,
            values::{expected, want_path, want_seconds, want_size},
        },
        yaml::{Kind, Node},
    },
};

/// Default `MaxOutput`: 64 KiB per stream.
const DEFAULT_MAX_OUTPUT: u64 = 64 << 10;

/// The execution keys, defaults applied.
pub struct Execution {
    pub timeout: Duration,
    pub max_output: u64,
    pub uid: Option<Principal>,
    pub gid: Option<Principal>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
}

pub fn read_execution(ctx: &mut Ctx, f: &Fields<'_, '_>) -> Execution {
    let mut timeout = Duration::from_secs(1800);
    match f.read(ctx, "Timeout", want_seconds) {
        Some(0.0) => ctx.err(
            node_pos(f, "Timeout"),
            f.path("Timeout"),
            "must be greater than 0",
        ),
        Some(s) => timeout = Duration::from_secs_f64(s),
        None => {}
    }
    let mut max_output = DEFAULT_MAX_OUTPUT;
    match f.read(ctx, "MaxOutput", want_size) {
        Some(0) => ctx.err(
            node_pos(f, "MaxOutput"),
            f.path("MaxOutput"),
            "must be greater than 0",
        ),
        Some(v) if v > 1 << 30 => ctx.err(
            node_pos(f, "MaxOutput"),
            f.path("MaxOutput"),
            "must be at most 1GiB",
        ),
        Some(v) => max_output = v,
        None => {}
    }
    Execution {
        timeout,
        max_output,
        uid: f.read(ctx, "uid", |n| read_id("uid", n)).flatten(),
        gid: f.read(ctx, "gid", |n| read_id("gid", n)).flatten(),
        env: f
            .node("Env")
            .map(|n| read_env(ctx, f, n))
            .unwrap_or_default(),
        working_dir: f.read(ctx, "WorkingDir", want_path),
    }
}

/// The position of a key's (set) node.
fn node_pos<'a>(f: &Fields<'_, 'a>, key: &str) -> &'a crate::config::yaml::Pos {
    &f.node(key).expect("a read key is set").pos
}

/// `Env`: a mapping of names (non-empty, no `=`) to scalars; a later name wins.
fn read_env(ctx: &mut Ctx, f: &Fields<'_, '_>, n: &Node) -> Vec<(String, String)> {
    let path = f.path("Env");
    let Some(entries) = n.as_map() else {
        let what = expected("a mapping of variable names to values", n);
        ctx.err(&n.pos, path, what);
        return Vec::new();
    };
    let mut env: Vec<(String, String)> = Vec::new();
    for (k, v) in entries {
        let Some(name) = k
            .as_str()
            .filter(|s| !s.is_empty() && !s.contains(['=', '\0']))
        else {
            let message = "variable names must be non-empty strings without '='";
            ctx.err(&k.pos, path.clone(), message);
            continue;
        };
        let value = match &v.kind {
            Kind::Str(s) => s.clone(),
            Kind::Null => String::new(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(_) | Kind::Float(_) => v.key_text(),
            _ => {
                ctx.err(&v.pos, join(&path, name), expected("a scalar", v));
                continue;
            }
        };
        if value.contains('\0') {
            ctx.err(&v.pos, join(&path, name), "must not contain NUL");
            continue;
        }
        env.retain(|(k, _)| k != name);
        env.push((name.to_string(), value));
    }
    env
}
