//! The HTTP sections: `api:` (TLS, tokens and token files, `allowed_hosts`) and
//! `metrics:` (a separate listener). Both are strict: unknown keys are errors.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use super::{
    ctx::{Ctx, field, join},
    keys::Section,
    values::{expected, want_path, want_socket_addr, want_str_list},
};
use crate::config::{plan::ApiSettings, yaml::Node};

/// Why an `api:` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("cannot read {path}: {reason}")]
    TokenFile { path: String, reason: String },
    #[error("not an IP network: {0:?}")]
    Network(String),
    #[error("bad prefix length in {text:?} (0-{max})")]
    Prefix { text: String, max: u8 },
    #[error("not an IP address, network or host name: {0:?}")]
    Host(String),
}

pub fn read_api(ctx: &mut Ctx, node: &Node) -> ApiSettings {
    let mut api = ApiSettings::default();
    if node.as_map().is_none() {
        ctx.err(&node.pos, "api", expected("a mapping", node));
        return api;
    }
    ctx.strict_keys(node, "api", Section::Api);
    read_tls(ctx, node, &mut api);
    let (read, write) = (&mut api.read_tokens, &mut api.write_tokens);
    for (key, tokens) in [("read_tokens", read), ("write_tokens", write)] {
        read_tokens(ctx, node, key, tokens);
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
        read_token_files(ctx, node, key, files, tokens);
    }
    if let Some(n) = field(node, "allowed_hosts")
        && let Some(list) = ctx.take(n, "api.allowed_hosts", want_str_list(n))
    {
        for (h, item) in list {
            if ctx
                .take(item, "api.allowed_hosts", check_host_pattern(&h))
                .is_some()
            {
                api.allowed_hosts.push(h);
            }
        }
    }
    api
}

/// `tls_cert` and `tls_key`: paths, set together.
fn read_tls(ctx: &mut Ctx, node: &Node, api: &mut ApiSettings) {
    for (key, slot) in [
        ("tls_cert", &mut api.tls_cert),
        ("tls_key", &mut api.tls_key),
    ] {
        if let Some(n) = field(node, key)
            && let Some(path) = ctx.take(n, join("api", key), want_path(n))
        {
            *slot = Some(path);
        }
    }
    if api.tls_cert.is_some() != api.tls_key.is_some() {
        let key = if api.tls_cert.is_some() {
            "tls_cert"
        } else {
            "tls_key"
        };
        let pos = field(node, key).map_or(&node.pos, |n| &n.pos);
        ctx.err(
            pos,
            join("api", key),
            "tls_cert and tls_key must be set together",
        );
    }
}

/// `read_tokens`/`write_tokens`: non-empty, no spaces.
fn read_tokens(ctx: &mut Ctx, node: &Node, key: &str, tokens: &mut Vec<String>) {
    let Some(n) = field(node, key) else { return };
    let Some(list) = ctx.take(n, join("api", key), want_str_list(n)) else {
        return;
    };
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

/// `read_token_files`/`write_token_files`: each file read now, its tokens merged.
fn read_token_files(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    files: &mut Vec<PathBuf>,
    tokens: &mut Vec<String>,
) {
    let Some(n) = field(node, key) else { return };
    let Some(list) = ctx.take(n, join("api", key), want_str_list(n)) else {
        return;
    };
    for (f, item) in list {
        let path = PathBuf::from(&f);
        if let Some(ts) = ctx.take(item, join("api", key), read_token_file(&path)) {
            tokens.extend(ts);
        }
        files.push(path);
    }
}

/// Tokens from a file: one per line, `#` comments, blanks skipped (D8).
fn read_token_file(path: &Path) -> Result<Vec<String>, ApiError> {
    let text = std::fs::read_to_string(path).map_err(|e| ApiError::TokenFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// An IP, a CIDR network, or a host name.
fn check_host_pattern(h: &str) -> Result<(), ApiError> {
    if let Some((ip, bits)) = h.split_once('/') {
        let ip: IpAddr = ip.parse().map_err(|_| ApiError::Network(h.to_string()))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(b) if b <= max => Ok(()),
            _ => Err(ApiError::Prefix {
                text: h.to_string(),
                max,
            }),
        }
    } else if h.parse::<IpAddr>().is_ok()
        || (!h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        Ok(())
    } else {
        Err(ApiError::Host(h.to_string()))
    }
}

/// `metrics: {listen}`.
pub fn read_metrics(ctx: &mut Ctx, node: &Node) -> Option<SocketAddr> {
    if node.as_map().is_none() {
        ctx.err(&node.pos, "metrics", expected("a mapping", node));
        return None;
    }
    ctx.strict_keys(node, "metrics", Section::Metrics);
    let n = field(node, "listen")?;
    ctx.take(n, "metrics.listen", want_socket_addr(n))
}
