//! An `actions.NAME.Icinga2` map (issue 19, D15): the API URL, a user with a
//! password (or the file holding it) or a client certificate, the CA that signs
//! Icinga's certificate, and the names reported. Strict: unknown keys are errors.
//! Certificate files are read and parsed now, so a bad file is a config error.

use std::path::PathBuf;

use super::{
    ctx::{Ctx, field, join},
    keys::Section,
    nsca::{read_names, read_password},
    values::{expected, want_bool, want_path, want_str},
};
use crate::config::{
    settings::{Icinga2Settings, Identity},
    yaml::Node,
};

/// The settings, or `None` when the map has errors (all reported).
pub fn read_icinga2(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Icinga2Settings> {
    if node.as_map().is_none() {
        ctx.err(&node.pos, path, expected("a mapping", node));
        return None;
    }
    let before = ctx.error_count();
    ctx.strict_keys(node, path, Section::Icinga2);
    let url = read_url(ctx, node, path);
    let user = field(node, "user")
        .and_then(|n| ctx.take(n, join(path, "user"), want_str(n, "a user name")))
        .map(str::to_string);
    let (password, password_file) = read_password(ctx, node, path);
    let identity = read_identity(ctx, node, path);
    // A cert that could not be read is reported already; don't also say "no auth".
    let cert = field(node, "cert").is_some() || field(node, "key").is_some();
    check_auth(ctx, node, path, user.is_some(), password.is_some(), cert);
    let (ca_file, ca_pem) = match field(node, "ca_file") {
        Some(n) => read_pem(ctx, n, &join(path, "ca_file"), Pem::Ca),
        None => (None, None),
    };
    let insecure = field(node, "insecure")
        .and_then(|n| ctx.take(n, join(path, "insecure"), want_bool(n)))
        .unwrap_or(false);
    if insecure && let Some(n) = field(node, "insecure") {
        let message = "TLS certificate verification is off: anyone on the path can read the \
                       password and forge Icinga's answers";
        ctx.warn(&n.pos, &join(path, "insecure"), message);
    }
    let (host_name, service) = read_names(ctx, node, path);
    (ctx.error_count() == before).then(|| Icinga2Settings {
        url: url.unwrap_or_default(),
        user,
        password,
        password_file,
        identity,
        ca_pem,
        ca_file,
        insecure,
        host_name,
        service,
    })
}

/// `url` (required): `https://HOST[:PORT][/PREFIX]`, without a trailing `/`.
fn read_url(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let key = join(path, "url");
    let Some(n) = field(node, "url") else {
        ctx.err(
            &node.pos,
            key,
            "is required (e.g. https://icinga.example:5665)",
        );
        return None;
    };
    let text = ctx.take(n, key.clone(), want_str(n, "a URL"))?;
    match reqwest::Url::parse(text) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {
            Some(text.trim_end_matches('/').to_string())
        }
        Ok(_) => {
            ctx.err(
                &n.pos,
                key,
                format!("must be an https:// URL with a host, got {text:?}"),
            );
            None
        }
        Err(e) => {
            ctx.err(&n.pos, key, format!("is not a URL ({e}): {text:?}"));
            None
        }
    }
}

/// `cert` and `key` (both or neither), parsed as a PEM identity.
fn read_identity(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Identity> {
    let cert = field(node, "cert").map(|n| (n, read_pem(ctx, n, &join(path, "cert"), Pem::Cert)));
    let key = field(node, "key").map(|n| (n, read_pem(ctx, n, &join(path, "key"), Pem::Key)));
    match (cert, key) {
        (None, None) => None,
        (Some((_, (_, Some(cert_pem)))), Some((n, (_, Some(key_pem))))) => {
            match reqwest::Identity::from_pkcs8_pem(&cert_pem, &key_pem) {
                Ok(_) => Some(Identity { cert_pem, key_pem }),
                Err(e) => {
                    let message = format!("cert and key do not make a client identity: {e}");
                    ctx.err(&n.pos, join(path, "key"), message);
                    None
                }
            }
        }
        (Some((n, _)), None) => {
            ctx.err(&n.pos, join(path, "key"), "is required with cert");
            None
        }
        (None, Some((n, _))) => {
            ctx.err(&n.pos, join(path, "cert"), "is required with key");
            None
        }
        _ => None,
    }
}

/// A user with a password, or a client certificate; not both, not neither.
fn check_auth(ctx: &mut Ctx, node: &Node, path: &str, user: bool, password: bool, cert: bool) {
    match (user, password, cert) {
        (true, true, false) | (false, false, true) => {}
        (true, false, false) => ctx.err(&node.pos, path, "user needs password or password_file"),
        (false, true, _) => ctx.err(&node.pos, path, "password needs user"),
        (true, _, true) => ctx.err(
            &node.pos,
            path,
            "set user and password, or cert and key, not both",
        ),
        (false, false, false) => ctx.err(&node.pos, path, "set user and password, or cert and key"),
    }
}

#[derive(Clone, Copy)]
enum Pem {
    Ca,
    Cert,
    Key,
}

/// Reads a PEM file named by `n`; the CA bundle is parsed now.
fn read_pem(ctx: &mut Ctx, n: &Node, key: &str, what: Pem) -> (Option<PathBuf>, Option<Vec<u8>>) {
    let Some(p) = ctx.take(n, key, want_path(n)) else {
        return (None, None);
    };
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) => {
            ctx.err(&n.pos, key, format!("cannot read {}: {e}", p.display()));
            return (Some(p), None);
        }
    };
    if matches!(what, Pem::Ca) {
        let problem = match reqwest::Certificate::from_pem_bundle(&bytes) {
            Ok(certs) if certs.is_empty() => Some("no certificate in it".to_string()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            let message = format!("{} is not a PEM certificate: {problem}", p.display());
            ctx.err(&n.pos, key, message);
            return (Some(p), None);
        }
    }
    if matches!(what, Pem::Cert | Pem::Key) && !bytes.starts_with(b"-----BEGIN") {
        let message = format!("{} is not a PEM file", p.display());
        ctx.err(&n.pos, key, message);
        return (Some(p), None);
    }
    (Some(p), Some(bytes))
}
