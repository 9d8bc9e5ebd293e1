//! The durable NSCA action (decisions.md D5): results are queued into the
//! store's spool (group commits, bounded, drop-oldest) and one delivery task
//! per `Nsca` action sends them in check order, in batches, with exponential
//! backoff and jitter on failure. Entries are deleted only after the server's
//! clean EOF, so delivery is at-least-once: a crash or a failed batch may send
//! duplicates, never lose a committed result.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rand::Rng;
use serde::{Deserialize, Serialize};
use smoker_compat::nsca::{PacketFormat, Passive};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Settings, send_batch};
use crate::{
    check::{CheckResult, CheckSpec, Messages, State},
    config::{ActionKind, NscaSettings, Plan, PlanWatch, subst},
    metrics::Metrics,
    store::durable::Durable,
};

/// Most results sent on one connection.
pub const BATCH_MAX: usize = 256;
/// Per-step network timeout of a delivery (connect, init, writes, final EOF).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay after a failed batch; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Re-check the spool at least this often even without a commit notification.
const IDLE_POLL: Duration = Duration::from_secs(1);

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
    let lookup = |key: &str| {
        if key == "name" {
            Some(serde_json::Value::String(spec.name.clone()))
        } else {
            spec.parameters.get(key).cloned()
        }
    };
    let service = subst::substitute_raw(&settings.service, &lookup).unwrap_or_else(|e| {
        warn!(check = %spec.name, error = %e, "NSCA service template failed, using the plugin name.");
        spec.name.clone()
    });
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
    let mut r = CheckResult::synthetic(
        State::Ok,
        format!("queued for {action}"),
        chrono::Local::now(),
    );
    let mut m = Messages::default();
    m.info.push(format!("queued for {action}"));
    r.messages = Some(m);
    r
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

/// Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling
/// from [`BACKOFF_MIN`] to [`BACKOFF_MAX`].
#[derive(Debug, Clone)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: BACKOFF_MIN }
    }

    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    fn delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        let half = d / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}

/// Starts the delivery task of `action`; it runs until `stop` is cancelled.
pub fn spawn(
    durable: Durable,
    action: String,
    target: Settings,
    metrics: Option<Arc<Metrics>>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(deliver(durable, action, target, metrics, stop))
}

/// Keeps one delivery task per `Nsca` action of the running plan, following its
/// changes, until `shutdown` is cancelled; then stops them all (the spool keeps what
/// is undelivered) and returns once they have stopped.
pub async fn follow(
    mut plan: PlanWatch,
    durable: Durable,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let sinks = Sinks::default();
    loop {
        let current = plan.borrow_and_update().clone();
        sinks.sync(&current, &durable, Some(metrics.clone()), &shutdown);
        tokio::select! {
            changed = plan.changed() => if changed.is_err() { break },
            _ = shutdown.cancelled() => break,
        }
    }
    for task in sinks.stop_all() {
        let _ = task.await;
    }
}

/// The running delivery tasks, one per `Nsca` action of the plan.
#[derive(Debug, Default)]
pub struct Sinks {
    running: Mutex<Vec<Running>>,
}

#[derive(Debug)]
struct Running {
    action: String,
    settings: NscaSettings,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Sinks {
    /// Starts, restarts (changed settings) and stops delivery tasks so that
    /// exactly the `Nsca` actions of `plan` run; each stops with `parent` too.
    /// Call inside the runtime.
    pub fn sync(
        &self,
        plan: &Plan,
        durable: &Durable,
        metrics: Option<Arc<Metrics>>,
        parent: &CancellationToken,
    ) {
        let wanted: Vec<(&String, &NscaSettings)> = plan
            .actions
            .iter()
            .filter_map(|(name, spec)| match &spec.kind {
                ActionKind::Nsca(settings) => Some((name, settings)),
                _ => None,
            })
            .collect();
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|r| {
            let keep = wanted
                .iter()
                .any(|(name, settings)| **name == r.action && **settings == r.settings);
            if !keep {
                r.stop.cancel();
            }
            keep
        });
        for (name, settings) in wanted {
            if running.iter().any(|r| r.action == *name) {
                continue;
            }
            let stop = parent.child_token();
            let task = spawn(
                durable.clone(),
                name.clone(),
                target(settings),
                metrics.clone(),
                stop.clone(),
            );
            running.push(Running {
                action: name.clone(),
                settings: settings.clone(),
                stop,
                task,
            });
        }
    }

    /// Stops every delivery task (shutdown); the spool keeps what is undelivered.
    /// Returns the tasks, to wait for.
    pub fn stop_all(&self) -> Vec<JoinHandle<()>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .drain(..)
            .map(|r| {
                r.stop.cancel();
                r.task
            })
            .collect()
    }
}

/// Sleeps `d` unless `stop` is cancelled first; returns false when stopping.
async fn pause(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.cancelled() => return false,
    }
    !stop.is_cancelled()
}

/// The delivery loop of one action: peek committed entries after the cursor,
/// send them as one batch, ack on success, back off and resend on failure.
pub async fn deliver(
    durable: Durable,
    action: String,
    target: Settings,
    metrics: Option<Arc<Metrics>>,
    stop: CancellationToken,
) {
    let mut commits = durable.spool_watch();
    let mut cursor = 0u64;
    let mut backoff = Backoff::new();
    let mut failing = false;
    info!(action = %action, host = %target.host, port = target.port, method = %target.method, "NSCA delivery started.");
    while !stop.is_cancelled() {
        commits.borrow_and_update();
        let entries = match durable.spool_peek(&action, cursor, BATCH_MAX).await {
            Ok(e) => e,
            Err(e) => {
                warn!(action = %action, error = %e, "Cannot read the NSCA spool.");
                if !pause(backoff.delay(), &stop).await {
                    break;
                }
                continue;
            }
        };
        if entries.is_empty() {
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.cancelled() => break,
            }
            continue;
        }
        let mut ids = Vec::with_capacity(entries.len());
        let mut batch = Vec::with_capacity(entries.len());
        for e in &entries {
            ids.push(e.id);
            match Queued::from_payload(&e.payload) {
                Some(q) => batch.push(q),
                None => {
                    warn!(action = %action, id = e.id, "Dropping an unreadable NSCA spool entry.")
                }
            }
        }
        let passives: Vec<Passive<'_>> = batch.iter().map(Queued::passive).collect();
        let last = ids.last().copied().unwrap_or(cursor);
        match send_batch(&target, &passives).await {
            Ok(n) => {
                if failing {
                    info!(action = %action, results = n, "NSCA delivery recovered.");
                    failing = false;
                }
                debug!(action = %action, results = n, "NSCA batch delivered.");
                durable.spool_ack(&action, ids);
                cursor = last;
                backoff.reset();
            }
            Err(e) => {
                if let Some(m) = &metrics {
                    m.nsca_send_error();
                }
                let delay = backoff.delay();
                if failing {
                    debug!(action = %action, error = %e, retry_in = ?delay, "NSCA delivery failed again.");
                } else {
                    warn!(action = %action, error = %e, results = batch.len(), retry_in = ?delay,
                        "NSCA delivery failed, the batch will be sent again.");
                    failing = true;
                }
                if !pause(delay, &stop).await {
                    break;
                }
            }
        }
    }
    info!(action = %action, "NSCA delivery stopped.");
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;

    fn spec(name: &str) -> CheckSpec {
        CheckSpec {
            parameters: [("Team".to_string(), serde_json::Value::from("ops"))]
                .into_iter()
                .collect::<IndexMap<_, _>>(),
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
    fn payload_roundtrip_and_backoff_bounds() {
        let q = Queued {
            host_name: "h".into(),
            service: "".into(),
            return_code: 2,
            output: "a\nb|x=1".into(),
        };
        assert_eq!(Queued::from_payload(&q.to_payload()), Some(q));
        assert_eq!(Queued::from_payload(b"garbage"), None);
        let mut b = Backoff::new();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = b.delay();
            assert!(last <= BACKOFF_MAX);
        }
        assert!(last >= BACKOFF_MAX / 2);
        b.reset();
        assert!(b.delay() <= BACKOFF_MIN);
    }
}
