//! Icinga 2's REST API (decisions.md D15): what a result becomes
//! ([`Queued`], stored in the durable spool), the HTTPS client (OpenSSL through
//! reqwest's native-tls, keep-alive pool, verified against `ca_file`), one
//! `process-check-result` request and how its answer is judged ([`Answer`]).
//! `sink` delivers an `Icinga2` action's spool; `cli` is `smokercli send-icinga`.

pub mod cli;
pub mod sink;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Icinga2Settings;

/// Bound on one request (connect, TLS, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Requests in flight at once (each on its own keep-alive connection).
pub const IN_FLIGHT: usize = 8;

/// One result for Icinga, as spooled (compact JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    #[serde(rename = "h")]
    pub host_name: String,
    /// Empty = a host check result.
    #[serde(rename = "s")]
    pub service: String,
    /// The Nagios state 0–3.
    #[serde(rename = "x")]
    pub state: u8,
    /// Status line and long output.
    #[serde(rename = "o")]
    pub output: String,
    /// Perfdata items' text.
    #[serde(rename = "p", default)]
    pub perfdata: Vec<String>,
    /// Execution start and end, Unix seconds.
    #[serde(rename = "b", default)]
    pub start: f64,
    #[serde(rename = "e", default)]
    pub end: f64,
}

impl Queued {
    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_payload(bytes: &[u8]) -> Option<Queued> {
        serde_json::from_slice(bytes).ok()
    }

    /// The object it is about, as Icinga names it (`HOST!SERVICE` or `HOST`).
    pub fn object(&self) -> String {
        if self.service.is_empty() {
            self.host_name.clone()
        } else {
            format!("{}!{}", self.host_name, self.service)
        }
    }

    /// The `process-check-result` body. A host takes 0 (UP) or 1 (DOWN) only:
    /// OK and WARNING are UP, CRITICAL and UNKNOWN are DOWN.
    pub fn body(&self) -> Value {
        serde_json::to_value(self.request()).unwrap_or(Value::Null)
    }

    /// [`Queued::body`] as it is serialized into the request, without a `Value`.
    fn request(&self) -> Body<'_> {
        let host = self.service.is_empty();
        Body {
            exit_status: if host {
                u8::from(self.state >= 2)
            } else {
                self.state
            },
            plugin_output: &self.output,
            performance_data: &self.perfdata,
            check_source: &self.host_name,
            execution_start: (self.start > 0.0).then_some(self.start),
            execution_end: (self.start > 0.0).then(|| self.end.max(self.start)),
            host: host.then_some(self.host_name.as_str()),
            service: (!host).then(|| self.object()),
        }
    }
}

/// The body of one `process-check-result` request.
#[derive(Serialize)]
struct Body<'a> {
    exit_status: u8,
    plugin_output: &'a str,
    performance_data: &'a [String],
    check_source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_start: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_end: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
}

/// Why the client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad ca_file: {0}")]
    Ca(reqwest::Error),
    #[error("bad client certificate or key: {0}")]
    Identity(reqwest::Error),
    #[error("cannot set up HTTPS: {0}")]
    Build(reqwest::Error),
    #[error("bad url: {0}")]
    Url(String),
}

/// Where and as whom to post.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    /// `endpoint`, parsed once.
    url: reqwest::Url,
    auth: Option<(String, String)>,
}

impl Client {
    /// The keep-alive HTTPS client of `settings`.
    pub fn new(settings: &Icinga2Settings) -> Result<Client, ClientError> {
        let mut b = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(IN_FLIGHT)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            .http1_only();
        if let Some(pem) = &settings.ca_pem {
            b = b.tls_built_in_root_certs(false);
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(ClientError::Ca)? {
                b = b.add_root_certificate(cert);
            }
        }
        if let Some(id) = &settings.identity {
            let identity = reqwest::Identity::from_pkcs8_pem(&id.cert_pem, &id.key_pem)
                .map_err(ClientError::Identity)?;
            b = b.identity(identity);
        }
        if settings.insecure {
            b = b
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        let auth = settings
            .user
            .clone()
            .map(|u| (u, settings.password.clone().unwrap_or_default()));
        let endpoint = format!("{}/v1/actions/process-check-result", settings.url);
        Ok(Client {
            http: b.build().map_err(ClientError::Build)?,
            url: reqwest::Url::parse(&endpoint).map_err(|e| ClientError::Url(e.to_string()))?,
            endpoint,
            auth,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Posts one result and judges the answer.
    pub async fn post(&self, q: &Queued) -> Answer {
        let mut req = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&q.request());
        if let Some((user, password)) = &self.auth {
            req = req.basic_auth(user, Some(password));
        }
        match req.send().await {
            Err(e) => Answer::Retry(describe(&e)),
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                judge(status.as_u16(), &text)
            }
        }
    }
}

/// What Icinga's answer means for the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// Refused for good (the reason label, Icinga's status text): drop it.
    Rejected(&'static str, String),
    /// 401/403: keep it, retry slowly.
    Unauthorized(String),
    /// Down, 5xx, or anything else: keep it, retry with backoff.
    Retry(String),
}

/// The answer to one request with `code` and body `text`.
pub fn judge(code: u16, text: &str) -> Answer {
    if (200..=299).contains(&code) {
        return Answer::Accepted;
    }
    let status = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            let s = v.get("status").or_else(|| v.pointer("/results/0/status"));
            s.and_then(Value::as_str).map(str::to_string)
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    match code {
        200..=299 => Answer::Accepted,
        404 => Answer::Rejected("not_found", status),
        400 => Answer::Rejected("bad_request", status),
        401 | 403 => Answer::Unauthorized(format!("HTTP {code}: {status}")),
        _ => Answer::Retry(format!("HTTP {code}: {status}")),
    }
}

/// A transport error with its causes, and a hint for certificate failures.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.contains("certificate verify failed") {
        text.push_str(
            " (Icinga's certificate is not signed by a trusted CA: set ca_file to Icinga's CA, \
             e.g. /var/lib/icinga2/certs/ca.crt)",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_d15() {
        let q = Queued {
            host_name: "web-1".into(),
            service: "disk".into(),
            state: 1,
            output: "DISK WARNING\nlong".into(),
            perfdata: vec!["/=91%;80;90".into()],
            start: 10.5,
            end: 11.0,
        };
        let b = q.body();
        assert_eq!(b["service"], "web-1!disk");
        assert_eq!(b["exit_status"], 1);
        assert_eq!(b["check_source"], "web-1");
        assert_eq!(b["performance_data"][0], "/=91%;80;90");
        assert_eq!(b["execution_end"], 11.0);
        assert!(b.get("host").is_none());
        let host = Queued {
            service: String::new(),
            state: 2,
            ..q.clone()
        };
        assert_eq!(host.body()["host"], "web-1");
        assert_eq!(host.body()["exit_status"], 1);
        assert_eq!(Queued::from_payload(&q.to_payload()), Some(q));
    }

    #[test]
    fn answers_are_judged() {
        assert_eq!(judge(200, "{}"), Answer::Accepted);
        let nf = judge(404, r#"{"error":404,"status":"No objects found."}"#);
        assert_eq!(
            nf,
            Answer::Rejected("not_found", "No objects found.".into())
        );
        assert!(matches!(judge(401, "x"), Answer::Unauthorized(_)));
        assert!(matches!(judge(403, "x"), Answer::Unauthorized(_)));
        assert!(matches!(judge(503, "x"), Answer::Retry(_)));
        let bad = r#"{"results":[{"code":400,"status":"Invalid 'exit_status' for Host h."}]}"#;
        assert!(
            matches!(judge(400, bad), Answer::Rejected("bad_request", s) if s.contains("exit_status"))
        );
    }
}
