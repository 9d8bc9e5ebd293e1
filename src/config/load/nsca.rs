//! An `actions.NAME.Nsca` map (issue 5, D5): where to send, the password (or the
//! file holding it), the encryption method, and the names reported to Nagios. Strict:
//! unknown keys are errors.

use std::{path::PathBuf, str::FromStr};

use smoker_compat::nsca_cipher::MethodError;

use super::{
    ctx::{Ctx, field, join},
    keys::Section,
    values::{ValueError, expected, want_path, want_port, want_str},
};
use crate::config::{
    settings::{Method as NscaMethod, NscaSettings},
    subst,
    yaml::{Kind, Node},
};

/// Why an `encryption` value cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NscaError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Method(#[from] MethodError),
}

/// The settings, or `None` when the map has errors (all reported).
pub fn read_nsca(ctx: &mut Ctx, node: &Node, path: &str) -> Option<NscaSettings> {
    if node.as_map().is_none() {
        ctx.err(&node.pos, path, expected("a mapping", node));
        return None;
    }
    let before = ctx.error_count();
    ctx.strict_keys(node, path, Section::Nsca);
    let mut settings = NscaSettings {
        host: String::new(),
        port: 5667,
        password: None,
        password_file: None,
        encryption: NscaMethod::Xor,
        host_name: None,
        service: "%(name)s".into(),
    };
    read_peer(ctx, node, path, &mut settings);
    (settings.password, settings.password_file) = read_password(ctx, node, path);
    (settings.host_name, settings.service) = read_names(ctx, node, path);
    (ctx.error_count() == before).then_some(settings)
}

/// `host` (required), `port` and `encryption`.
fn read_peer(ctx: &mut Ctx, node: &Node, path: &str, settings: &mut NscaSettings) {
    match field(node, "host") {
        None => ctx.err(&node.pos, join(path, "host"), "is required"),
        Some(n) => match ctx.take(n, join(path, "host"), want_str(n, "a host name")) {
            Some("") => ctx.err(&n.pos, join(path, "host"), "must not be empty"),
            Some(h) => settings.host = h.to_string(),
            None => {}
        },
    }
    if let Some(n) = field(node, "port")
        && let Some(p) = ctx.take(n, join(path, "port"), want_port(n))
    {
        settings.port = p;
    }
    if let Some(n) = field(node, "encryption")
        && let Some(m) = ctx.take(n, join(path, "encryption"), nsca_method(n))
    {
        settings.encryption = m;
    }
}

/// `password`, or the first line of `password_file` (read now); not both.
/// Shared with the `Icinga2` reader.
pub fn read_password(ctx: &mut Ctx, node: &Node, path: &str) -> (Option<String>, Option<PathBuf>) {
    let mut password = None;
    if let Some(n) = field(node, "password") {
        match &n.kind {
            Kind::Str(s) => password = Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) => password = Some(n.key_text()),
            _ => ctx.err(&n.pos, join(path, "password"), expected("a string", n)),
        }
    }
    let Some(n) = field(node, "password_file") else {
        return (password, None);
    };
    let key = join(path, "password_file");
    if password.is_some() {
        let message = "password and password_file cannot be set together";
        ctx.err(&n.pos, key.clone(), message);
    }
    let Some(p) = ctx.take(n, key.clone(), want_path(n)) else {
        return (password, None);
    };
    match std::fs::read_to_string(&p) {
        Ok(text) => password = Some(text.lines().next().unwrap_or("").to_string()),
        Err(e) => ctx.err(&n.pos, key, format!("cannot read {}: {e}", p.display())),
    }
    (password, Some(p))
}

/// `host_name` and the `service` template (null or `""` = a host check; default
/// `%(name)s`). Shared with the `Icinga2` reader.
pub fn read_names(ctx: &mut Ctx, node: &Node, path: &str) -> (Option<String>, String) {
    let mut host_name = None;
    let mut service = "%(name)s".to_string();
    if let Some(n) = field(node, "host_name")
        && let Some(h) = ctx.take(n, join(path, "host_name"), want_str(n, "a host name"))
    {
        host_name = Some(h.to_string());
    }
    if let Some(n) = node.get("service") {
        let key = join(path, "service");
        match &n.kind {
            Kind::Null => service = String::new(),
            Kind::Str(s) => {
                if ctx.take(n, key, subst::check_syntax(s)).is_some() {
                    service = s.clone();
                }
            }
            _ => ctx.err(&n.pos, key, expected("a string", n)),
        }
    }
    (host_name, service)
}

fn nsca_method(node: &Node) -> Result<NscaMethod, NscaError> {
    Ok(match &node.kind {
        Kind::Int(i) => NscaMethod::from_number(*i)?,
        Kind::Str(s) => NscaMethod::from_str(s)?,
        _ => return Err(expected("an encryption method number or name", node).into()),
    })
}
