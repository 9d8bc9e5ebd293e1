//! The `nrpe:` section (issue 7, D6): which nrpe.cfg, where to listen, TLS mode, the
//! schedule of argument-less commands, and whether built-ins answer (issue 22). Strict: unknown keys are errors. The bridge
//! itself (nrpe.cfg loaded into checks) is `config::nrpe`.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use super::{
    ctx::{Ctx, field},
    keys::Section,
    values::{ValueError, expected, want_bool, want_path, want_port, want_seconds},
};
use crate::config::{
    settings::{NrpeSettings, NrpeTls},
    yaml::{Kind, Node},
};

/// Why an `nrpe:` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NrpeSectionError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("expected ADDR:PORT (e.g. 0.0.0.0:5666 or [::]:5666), found {0}")]
    Listen(String),
    #[error("must be on, off or auto, found {0}")]
    Tls(String),
}

/// `nrpe:` (null = every default); `None` when it is not a mapping.
pub fn read_nrpe(ctx: &mut Ctx, node: &Node) -> Option<NrpeSettings> {
    let mut nrpe = NrpeSettings {
        config: PathBuf::from("/etc/nagios/nrpe.cfg"),
        listen: None,
        tls: NrpeTls::On,
        interval: None,
        builtins: false,
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
    ctx.strict_keys(node, "nrpe", Section::Nrpe);
    if let Some(n) = field(node, "config")
        && let Some(p) = ctx.take(n, "nrpe.config", want_path(n))
    {
        nrpe.config = p;
    }
    if let Some(n) = field(node, "listen") {
        nrpe.listen = ctx.take(n, "nrpe.listen", read_listen(n));
    }
    if let Some(n) = field(node, "tls")
        && let Some(tls) = ctx.take(n, "nrpe.tls", read_tls(n))
    {
        nrpe.tls = tls;
    }
    if let Some(n) = field(node, "interval") {
        match ctx.take(n, "nrpe.interval", want_seconds(n)) {
            Some(0.0) | None => {}
            Some(s) => nrpe.interval = Some(Duration::from_secs_f64(s)),
        }
    }
    if let Some(n) = field(node, "builtins")
        && let Some(on) = ctx.take(n, "nrpe.builtins", want_bool(n))
    {
        nrpe.builtins = on;
    }
    Some(nrpe)
}

/// `ADDR:PORT`, or a bare port on every IPv4 address.
fn read_listen(n: &Node) -> Result<String, NrpeSectionError> {
    match &n.kind {
        Kind::Str(s) if SocketAddr::from_str(s).is_ok() => Ok(s.clone()),
        Kind::Int(_) => Ok(format!("0.0.0.0:{}", want_port(n)?)),
        _ => Err(NrpeSectionError::Listen(n.key_text())),
    }
}

/// A boolean, or `on`/`off`/`auto` in any case.
fn read_tls(n: &Node) -> Result<NrpeTls, NrpeSectionError> {
    match &n.kind {
        Kind::Bool(true) => Ok(NrpeTls::On),
        Kind::Bool(false) => Ok(NrpeTls::Off),
        Kind::Str(s) if s.eq_ignore_ascii_case("auto") => Ok(NrpeTls::Auto),
        Kind::Str(s) if s.eq_ignore_ascii_case("on") => Ok(NrpeTls::On),
        Kind::Str(s) if s.eq_ignore_ascii_case("off") => Ok(NrpeTls::Off),
        _ => Err(NrpeSectionError::Tls(n.key_text())),
    }
}
