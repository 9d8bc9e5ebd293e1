//! The durable NSCA action (decisions.md D5): results are queued into the
//! store's spool (group commits, bounded, drop-oldest) and [`crate::delivery`]
//! runs one task per `Nsca` action that hands them to [`Nsca`] in check order,
//! in batches, with exponential backoff and jitter on failure. A batch is settled
//! only after the server's clean EOF, so delivery is at-least-once: a crash or a
//! failed batch may send duplicates, never lose a committed result.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use smoker_compat::nsca::{PacketFormat, Passive};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Settings, send_batch};
use crate::{
    check::{CheckResult, CheckSpec},
    config::{ActionKind, NscaSettings},
    delivery::{self, Failure, Sent, Sink},
    metrics::Metrics,
    store::durable::{Durable, SpoolEntry},
};

/// Per-step network timeout of a delivery (connect, init, writes, final EOF).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One spooled result, as stored (compact JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    #[serde(rename = "h")]
    pub host_name: String,
    #[serde(rename = "s")]
    pub service: String,
    #[serde(rename = "r")]
    pub return_code: i16,
    #[serde(rename = "o")]
    pub output: String,
}

impl Queued {
    pub fn passive(&self) -> Passive<'_> {
        Passive {
            host_name: self.host_name.as_bytes(),
            service: self.service.as_bytes(),
            return_code: self.return_code,
            output: self.output.as_bytes(),
        }
    }

    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_payload(bytes: &[u8]) -> Option<Queued> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The plugin text NSCA carries (D5): the raw stdout (first line and long
/// output, perfdata kept); for JSON plugins and synthetic results (timeouts,
/// spawn failures) the parsed output and long output.
pub fn text(result: &CheckResult) -> String {
    let raw = result.stdout.trim_end();
    let structured = raw.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw).is_ok();
    if raw.is_empty() || structured || result.timed_out {
        match &result.long_output {
            Some(long) if !long.is_empty() => format!("{}\n{long}", result.output),
            _ => result.output.clone(),
        }
    } else {
        raw.to_string()
    }
}

/// What `result` of `spec` becomes for the action `settings`; `hostname` is
/// used when `host_name` is not set.
pub fn queued(
    settings: &NscaSettings,
    hostname: &str,
    spec: &CheckSpec,
    result: &CheckResult,
) -> Queued {
    let service = delivery::service_name(&settings.service, spec);
    Queued {
        host_name: settings
            .host_name
            .clone()
            .unwrap_or_else(|| hostname.to_string()),
        service,
        return_code: i16::from(result.state.code()),
        output: text(result),
    }
}

/// Queues `result` for the `Nsca` action `action` and returns the action
/// outcome shown in the plugin result (`queued for nagios`).
pub fn enqueue(
    durable: &Durable,
    action: &str,
    settings: &NscaSettings,
    hostname: &str,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    let q = queued(settings, hostname, spec, result);
    let id = durable.spool_push(action, q.to_payload());
    debug!(check = %spec.name, action, id, "Result queued for NSCA.");
    delivery::queued_outcome(action)
}

/// Sender settings of an `Nsca` action.
pub fn target(settings: &NscaSettings) -> Settings {
    Settings {
        host: settings.host.clone(),
        port: settings.port,
        method: settings.encryption,
        password: settings.password.clone().unwrap_or_default().into_bytes(),
        format: PacketFormat::V3,
        timeout: STEP_TIMEOUT,
    }
}

/// The NSCA sender of one action: each batch on one connection.
#[derive(Debug)]
pub struct Nsca {
    target: Settings,
    metrics: Option<Arc<Metrics>>,
}

impl Sink for Nsca {
    type Settings = Settings;
    const KIND: &'static str = "NSCA";

    fn settings(kind: &ActionKind) -> Option<Settings> {
        match kind {
            ActionKind::Nsca(settings) => Some(target(settings)),
            _ => None,
        }
    }

    type OpenError = std::convert::Infallible;

    fn open(
        _action: &str,
        target: &Settings,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Nsca, std::convert::Infallible> {
        Ok(Nsca {
            target: target.clone(),
            metrics,
        })
    }

    fn peer(&self) -> String {
        let t = &self.target;
        format!("{}:{} ({})", t.host, t.port, t.method)
    }

    async fn send(&mut self, entries: &[SpoolEntry]) -> Sent {
        let mut batch = Vec::with_capacity(entries.len());
        for e in entries {
            match Queued::from_payload(&e.payload) {
                Some(q) => batch.push(q),
                None => warn!(id = e.id, "Dropping an unreadable NSCA spool entry."),
            }
        }
        let passives: Vec<Passive<'_>> = batch.iter().map(Queued::passive).collect();
        match send_batch(&self.target, &passives).await {
            Ok(_) => Sent {
                done: entries.iter().map(|e| e.id).collect(),
                failure: None,
            },
            Err(e) => {
                if let Some(m) = &self.metrics {
                    m.nsca_send_error();
                }
                Sent {
                    done: Vec::new(),
                    failure: Some(Failure {
                        error: e.to_string(),
                        slow: false,
                    }),
                }
            }
        }
    }
}

/// Starts the delivery task of `action` to `target`; it runs until `stop` is cancelled.
pub fn spawn(
    durable: Durable,
    action: String,
    target: Settings,
    metrics: Option<Arc<Metrics>>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(delivery::deliver::<Nsca>(
        durable, action, target, metrics, stop,
    ))
}

#[cfg(test)]
mod tests {
    use crate::check::State;

    use super::*;

    fn spec(name: &str) -> CheckSpec {
        CheckSpec {
            parameters: [("Team".to_string(), serde_json::Value::from("ops"))]
                .into_iter()
                .collect(),
            ..CheckSpec::for_test(name)
        }
    }

    fn settings(service: &str, host_name: Option<&str>) -> NscaSettings {
        NscaSettings {
            host: "nagios".into(),
            port: 5667,
            password: Some("pw".into()),
            password_file: None,
            encryption: smoker_compat::nsca_cipher::Method::TripleDes,
            host_name: host_name.map(str::to_string),
            service: service.into(),
        }
    }

    #[test]
    fn queued_follows_d5() {
        let mut r = CheckResult::synthetic(State::Warning, "DISK WARNING", chrono::Local::now());
        r.stdout = Arc::from("DISK WARNING - 9% free | /=91%;80;90\n/var ok | /var=10%\n");
        let q = queued(&settings("%(name)s", None), "web-1", &spec("disk"), &r);
        assert_eq!(q.host_name, "web-1");
        assert_eq!(q.service, "disk");
        assert_eq!(q.return_code, 1);
        assert_eq!(
            q.output,
            "DISK WARNING - 9% free | /=91%;80;90\n/var ok | /var=10%"
        );
        let q = queued(&settings("", Some("db-1")), "web-1", &spec("disk"), &r);
        assert_eq!((q.host_name.as_str(), q.service.as_str()), ("db-1", ""));
        let q = queued(&settings("%(Team)s-%(name)s", None), "h", &spec("disk"), &r);
        assert_eq!(q.service, "ops-disk");

        // JSON plugins and synthetic results: the parsed output.
        let mut j = CheckResult::synthetic(State::Critical, "down; really", chrono::Local::now());
        j.stdout =
            Arc::from("{\"status\": \"ERROR\", \"messages\": {\"error\": [\"down\", \"really\"]}}");
        assert_eq!(text(&j), "down; really");
        let mut t = CheckResult::synthetic(
            State::Unknown,
            "Execution timeout after 5 seconds",
            chrono::Local::now(),
        );
        t.timed_out = true;
        t.stdout = Arc::from("partial");
        assert_eq!(text(&t), "Execution timeout after 5 seconds");
        assert_eq!(i16::from(State::Unknown.code()), 3);
    }

    #[test]
    fn payload_roundtrip() {
        let q = Queued {
            host_name: "h".into(),
            service: "".into(),
            return_code: 2,
            output: "a\nb|x=1".into(),
        };
        assert_eq!(Queued::from_payload(&q.to_payload()), Some(q));
        assert_eq!(Queued::from_payload(b"garbage"), None);
    }
}
