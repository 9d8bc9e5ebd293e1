//! HTTP side of the client: targets, one shared connection pool, per-request timeouts,
//! the about → plugins → force → poll flow of smoker-compat.md §3.8 and the `/v2` run routes
//! (decisions.md D8).
//!
//! Every failure is a [`HostError`] for that host: nothing here panics or waits without a
//! deadline. TLS goes through reqwest's native-tls (OpenSSL, the daemon's stack, D9).

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::Semaphore;

/// Timeout of `GET /` (original: 5 s).
pub const ABOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of every other request (original: 20 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight at once, over all hosts.
const MAX_IN_FLIGHT: usize = 512;
/// A failing poll is retried this many times.
const POLL_RETRIES: u32 = 3;
/// Bodies larger than this are not a smokerd answer.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("invalid host {0:?}: {1}")]
    BadTarget(String, String),
    #[error("can't open {url}: {reason}")]
    Request { url: String, reason: String },
    #[error("can't open {url}: timed out after {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} answered HTTP {code}{message}")]
    Status {
        url: String,
        code: u16,
        message: String,
    },
    #[error("{url} did not answer JSON: {reason}")]
    NotJson { url: String, reason: String },
    #[error("{url} answered an unexpected document: {what}")]
    Shape { url: String, what: String },
    #[error("can't find resource {0:?} in the daemon's links")]
    NoLink(String),
    #[error("polling {url} failed after {retries} retries: {last}")]
    PollFailed {
        url: String,
        retries: u32,
        last: Box<HostError>,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// A daemon to ask, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As given: `host`, `host:port`, `http(s)://host:port[/prefix]`.
    pub spec: String,
    /// Base URL without a trailing slash.
    pub base: String,
}

impl Target {
    /// `host` gets `default_port`; `host:port`, `[v6]:port` and URLs keep theirs.
    pub fn parse(spec: &str, default_port: u16) -> Result<Target, HostError> {
        let bad = |why: &str| HostError::BadTarget(spec.to_owned(), why.to_owned());
        let trimmed = spec.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        let url = if trimmed.contains("://") {
            Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?
        } else {
            let authority = if trimmed.starts_with('[') {
                if trimmed.ends_with(']') {
                    format!("{trimmed}:{default_port}")
                } else {
                    trimmed.to_owned()
                }
            } else {
                match trimmed.matches(':').count() {
                    0 => format!("{trimmed}:{default_port}"),
                    1 => trimmed.to_owned(),
                    // a bare IPv6 address
                    _ => format!("[{trimmed}]:{default_port}"),
                }
            };
            Url::parse(&format!("http://{authority}")).map_err(|e| bad(&e.to_string()))?
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        let mut base = url.to_string();
        while base.ends_with('/') {
            base.pop();
        }
        Ok(Target {
            spec: spec.to_owned(),
            base,
        })
    }

    /// URL of a daemon link (`/plugins`, `processes/1`): appended to the base like the original.
    pub fn url(&self, href: &str) -> String {
        if href.starts_with("http://") || href.starts_with("https://") {
            return href.to_owned();
        }
        if href.starts_with('/') {
            format!("{}{href}", self.base)
        } else {
            format!("{}/{href}", self.base)
        }
    }
}

/// Connection options shared by smokercli and check_smoker (issue 10).
#[derive(Debug, Clone, Default)]
pub struct ConnOptions {
    /// Bearer token.
    pub token: Option<String>,
    /// Extra CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate and host name.
    pub insecure: bool,
}

/// The HTTP client: one pool for all hosts, a bound on requests in flight.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    token: Option<String>,
    in_flight: Arc<Semaphore>,
}

impl Http {
    pub fn new(options: &ConnOptions) -> Result<Http, HostError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("smokercli/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .connect_timeout(ABOUT_TIMEOUT);
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| HostError::Tls(format!("{}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| HostError::Tls(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(HostError::Tls(format!(
                    "{}: no PEM certificate",
                    path.display()
                )));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if options.insecure {
            builder = builder
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        let client = builder
            .build()
            .map_err(|e| HostError::Tls(error_chain(&e)))?;
        Ok(Http {
            client,
            token: options.token.clone().filter(|t| !t.is_empty()),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// One request; JSON body in and out. Returns the HTTP status with the parsed body.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Value), HostError> {
        let _permit = self.in_flight.acquire().await.ok();
        let mut request = self.client.request(method, url).timeout(timeout);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let on_error = |e: reqwest::Error| {
            if e.is_timeout() {
                HostError::Timeout {
                    url: url.to_owned(),
                    seconds: timeout.as_secs(),
                }
            } else {
                HostError::Request {
                    url: url.to_owned(),
                    reason: error_chain(&e),
                }
            }
        };
        let mut response = request.send().await.map_err(on_error)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(on_error)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_BODY {
                return Err(HostError::NotJson {
                    url: url.to_owned(),
                    reason: "body too large".into(),
                });
            }
        }
        let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
        if !status.is_success() {
            let message = parsed
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return Err(HostError::Status {
                url: url.to_owned(),
                code: status.as_u16(),
                message,
            });
        }
        let value = parsed.map_err(|e| HostError::NotJson {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        Ok((status, value))
    }

    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Value, HostError> {
        Ok(self.request(Method::GET, url, None, timeout).await?.1)
    }
}

/// Raise the soft open-files limit to the hard one (best effort): one connection per host
/// stays open between requests, and a fleet may be larger than the default 1024.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The most specific text of an error: its root cause (`Connection refused (os error 111)`).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut deepest = error;
    while let Some(cause) = deepest.source() {
        deepest = cause;
    }
    deepest.to_string()
}

/// A daemon that answered `GET /`.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub target: Target,
    /// `about.host`.
    pub name: String,
    /// `links[].rel` → `href`.
    pub links: HashMap<String, String>,
}

impl Daemon {
    /// `GET /` (5 s): the display name and the resource links.
    pub async fn connect(http: &Http, target: Target) -> Result<Daemon, HostError> {
        let url = target.url("/");
        let about = http.get(&url, ABOUT_TIMEOUT).await?;
        let shape = |what: &str| HostError::Shape {
            url: url.clone(),
            what: what.to_owned(),
        };
        let about = about
            .get("about")
            .ok_or_else(|| shape("no \"about\" object"))?;
        let name = about
            .get("host")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| shape("no about.host"))?
            .to_owned();
        let mut links = HashMap::new();
        for link in about
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(rel), Some(href)) = (
                link.get("rel").and_then(Value::as_str),
                link.get("href").and_then(Value::as_str),
            ) {
                links.insert(rel.to_owned(), href.to_owned());
            }
        }
        if links.is_empty() {
            return Err(shape("no about.links"));
        }
        Ok(Daemon {
            target,
            name,
            links,
        })
    }

    fn link(&self, rel: &str) -> Result<String, HostError> {
        self.links
            .get(rel)
            .map(|href| self.target.url(href))
            .ok_or_else(|| HostError::NoLink(rel.to_owned()))
    }

    /// `GET <plugins>`: the inner `plugin` objects in the daemon's order.
    pub async fn plugins(&self, http: &Http) -> Result<Vec<Value>, HostError> {
        let url = self.link("plugins")?;
        let document = http.get(&url, REQUEST_TIMEOUT).await?;
        plugin_items(&url, &document)
    }

    /// Force a run of `names` (`POST <processes>`) and poll until the results are there
    /// ([`poll_delay`]; a failing poll is retried 3 times). Returns the plugin objects with
    /// `forcedResult`.
    pub async fn force(&self, http: &Http, names: &[String]) -> Result<Vec<Value>, HostError> {
        let url = self.link("processes")?;
        let body = json!({"process": {"plugins": names}});
        let (_, task) = http
            .request(Method::POST, &url, Some(&body), REQUEST_TIMEOUT)
            .await?;
        let mut poll = poll_link(&task).ok_or_else(|| HostError::Shape {
            url: url.clone(),
            what: "no asyncTask.link.poll".into(),
        })?;
        let started = std::time::Instant::now();
        let mut polls = 0;
        let mut failures = 0;
        loop {
            tokio::time::sleep(poll_delay(polls, started.elapsed())).await;
            polls += 1;
            let poll_url = self.target.url(&poll);
            match http.get(&poll_url, REQUEST_TIMEOUT).await {
                Ok(document) => match poll_link(&document) {
                    Some(next) => poll = next,
                    None => return plugin_items(&poll_url, &document),
                },
                Err(error) => {
                    failures += 1;
                    if failures > POLL_RETRIES {
                        return Err(HostError::PollFailed {
                            url: poll_url,
                            retries: POLL_RETRIES,
                            last: Box::new(error),
                        });
                    }
                }
            }
        }
    }
}

/// Wait before poll number `polls` of a forced run, `elapsed` after the POST: quick first
/// polls for quick checks, 4 a second for the first 10 s (a result is seen at most 0.25 s
/// after it is there), then 2 a second, and once a second (the original's pace) after a minute.
pub fn poll_delay(polls: u32, elapsed: Duration) -> Duration {
    const FIRST: [u64; 4] = [50, 100, 150, 200];
    let millis = match FIRST.get(polls as usize) {
        Some(first) => *first,
        None if elapsed < Duration::from_secs(10) => 250,
        None if elapsed < Duration::from_secs(60) => 500,
        None => 1000,
    };
    Duration::from_millis(millis)
}

fn poll_link(document: &Value) -> Option<String> {
    document
        .get("asyncTask")?
        .get("link")?
        .get("poll")?
        .as_str()
        .map(str::to_owned)
}

/// `{"plugins": {"items": [{"plugin": {...}}]}}` → the inner objects.
fn plugin_items(url: &str, document: &Value) -> Result<Vec<Value>, HostError> {
    let items = document
        .get("plugins")
        .and_then(|p| p.get("items"))
        .and_then(Value::as_array)
        .ok_or_else(|| HostError::Shape {
            url: url.to_owned(),
            what: "no plugins.items list".into(),
        })?;
    Ok(items
        .iter()
        .filter_map(|item| item.get("plugin").cloned())
        .collect())
}

/// `/v2/plugins/{name}/runs...` URL with the name as one escaped path segment.
pub fn v2_url(
    target: &Target,
    name: &str,
    rest: &[&str],
    query: Option<(&str, String)>,
) -> Result<String, HostError> {
    let mut url = Url::parse(&format!("{}/", target.base))
        .map_err(|e| HostError::BadTarget(target.spec.clone(), e.to_string()))?;
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| HostError::BadTarget(target.spec.clone(), "not a base URL".into()))?;
        segments
            .pop_if_empty()
            .extend(["v2", "plugins", name])
            .extend(rest);
    }
    if let Some((key, value)) = query {
        url.query_pairs_mut().append_pair(key, &value);
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |s| {
            Target::parse(s, 8086)
                .map(|t| t.base)
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(t("localhost"), "http://localhost:8086");
        assert_eq!(t("vm:9000"), "http://vm:9000");
        assert_eq!(t("https://vm:9443"), "https://vm:9443");
        assert_eq!(t("https://vm:9443/smoker/"), "https://vm:9443/smoker");
        assert_eq!(t("http://vm"), "http://vm");
        assert_eq!(t("[::1]:9000"), "http://[::1]:9000");
        assert_eq!(t("[::1]"), "http://[::1]:8086");
        assert_eq!(t("::1"), "http://[::1]:8086");
        assert!(t("vm:notaport").starts_with("invalid host"));
        assert!(t("ftp://vm").starts_with("invalid host"));
        assert!(t("").starts_with("invalid host"));
    }

    #[test]
    fn polls_slow_down() {
        let ms = |polls, secs| poll_delay(polls, Duration::from_secs(secs)).as_millis();
        assert_eq!(
            (ms(0, 0), ms(3, 0), ms(4, 1), ms(20, 9)),
            (50, 200, 250, 250)
        );
        assert_eq!((ms(40, 10), ms(100, 59), ms(150, 60)), (500, 500, 1000));
    }

    #[test]
    fn links_join_like_the_original() {
        let target = Target::parse("https://vm:9443/smoker", 8086).unwrap();
        assert_eq!(target.url("/plugins"), "https://vm:9443/smoker/plugins");
        assert_eq!(
            target.url("processes/1"),
            "https://vm:9443/smoker/processes/1"
        );
        assert_eq!(
            v2_url(&target, "a b/c", &["runs"], Some(("limit", "5".into()))).unwrap(),
            "https://vm:9443/smoker/v2/plugins/a%20b%2Fc/runs?limit=5"
        );
    }
}
