//! API bearer-token checks (issue 10, decisions.md D8).
//!
//! Owns who may call which route: `read_tokens` set → every request needs a read or
//! write token; `write_tokens` set → writes (any method but GET/HEAD/OPTIONS) need a
//! write token (only `write_tokens` set → reads stay open). `/healthz` and the status
//! page's assets (`/ui/`, no check data in them, D14) are always open.
//! Missing or unknown token → 401, a read token on a write route → 403, both JSON.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};

use super::{context::AppState, reply::message};
use crate::config::ApiSettings;

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one we do not know (401).
    Unauthorized,
    /// A read token on a write route (403).
    Forbidden,
}

/// Decides one request against the configured tokens.
pub fn decide(
    api: &ApiSettings,
    method: &Method,
    path: &str,
    token: Option<&str>,
) -> Result<(), Denied> {
    if path.trim_end_matches('/') == "/healthz" || super::ui::is_asset(path) {
        return Ok(());
    }
    let write = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let is_write = token.is_some_and(|t| known(&api.write_tokens, t));
    let is_read = token.is_some_and(|t| known(&api.read_tokens, t));
    if write && !api.write_tokens.is_empty() {
        return match (is_write, is_read) {
            (true, _) => Ok(()),
            (false, true) => Err(Denied::Forbidden),
            (false, false) => Err(Denied::Unauthorized),
        };
    }
    if !api.read_tokens.is_empty() && !is_read && !is_write {
        return Err(Denied::Unauthorized);
    }
    Ok(())
}

/// Constant-time comparison against every configured token.
fn known(tokens: &[String], token: &str) -> bool {
    tokens.iter().fold(false, |found, t| {
        let same = t.len() == token.len() && openssl::memcmp::eq(t.as_bytes(), token.as_bytes());
        found | same
    })
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// axum middleware applying [`decide`] with the running plan's `api:` settings.
pub async fn require(State(ctx): State<AppState>, request: Request, next: Next) -> Response {
    let plan = ctx.plan.borrow().clone();
    let verdict = decide(
        &plan.api,
        request.method(),
        request.uri().path(),
        bearer(request.headers()),
    );
    match verdict {
        Ok(()) => next.run(request).await,
        Err(Denied::Unauthorized) => {
            let mut response = message(
                StatusCode::UNAUTHORIZED,
                "A valid token is required (Authorization: Bearer <token>).",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"smokerd\""),
            );
            response
        }
        Err(Denied::Forbidden) => message(
            StatusCode::FORBIDDEN,
            "This token may only read; a write token is required.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(read: &[&str], write: &[&str]) -> ApiSettings {
        ApiSettings {
            read_tokens: read.iter().map(|s| s.to_string()).collect(),
            write_tokens: write.iter().map(|s| s.to_string()).collect(),
            ..ApiSettings::default()
        }
    }

    #[test]
    fn no_tokens_everything_open() {
        let a = api(&[], &[]);
        assert_eq!(decide(&a, &Method::POST, "/processes", None), Ok(()));
        assert_eq!(decide(&a, &Method::GET, "/plugins", None), Ok(()));
    }

    #[test]
    fn read_and_write_tokens() {
        let a = api(&["r"], &["w"]);
        let d = |m: &Method, p: &str, t| decide(&a, m, p, t);
        assert_eq!(d(&Method::GET, "/plugins", None), Err(Denied::Unauthorized));
        assert_eq!(
            d(&Method::GET, "/plugins", Some("x")),
            Err(Denied::Unauthorized)
        );
        assert_eq!(d(&Method::GET, "/plugins", Some("r")), Ok(()));
        assert_eq!(d(&Method::GET, "/metrics", Some("w")), Ok(()));
        assert_eq!(
            d(&Method::POST, "/processes", None),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            d(&Method::POST, "/processes", Some("r")),
            Err(Denied::Forbidden)
        );
        assert_eq!(d(&Method::POST, "/v2/reload", Some("w")), Ok(()));
        assert_eq!(d(&Method::GET, "/healthz", None), Ok(()));
        assert_eq!(d(&Method::GET, "/healthz/", None), Ok(()));
        assert_eq!(d(&Method::GET, "/ui/", None), Ok(()));
        assert_eq!(d(&Method::GET, "/ui/app.js", None), Ok(()));
        assert_eq!(d(&Method::GET, "/uix", None), Err(Denied::Unauthorized));
        assert_eq!(d(&Method::GET, "/metrics", None), Err(Denied::Unauthorized));
    }

    #[test]
    fn only_write_tokens_reads_open() {
        let a = api(&[], &["w"]);
        assert_eq!(decide(&a, &Method::GET, "/plugins", None), Ok(()));
        assert_eq!(
            decide(&a, &Method::POST, "/processes", None),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            decide(&a, &Method::POST, "/processes", Some("wx")),
            Err(Denied::Unauthorized)
        );
        assert_eq!(decide(&a, &Method::POST, "/processes", Some("w")), Ok(()));
    }

    #[test]
    fn bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
