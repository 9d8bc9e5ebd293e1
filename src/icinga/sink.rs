//! The `Icinga2` action's side of the durable spool (D15): [`enqueue`] turns a
//! result into a [`Queued`] entry; [`Icinga`] is the [`Sink`] that posts a batch,
//! one request per result, in order per object and [`IN_FLIGHT`] objects at once.
//! 404 and 400 drop the result (counted, logged once per object until Icinga
//! accepts one of its results again); 401/403,
//! 5xx and network errors keep it for the next attempt.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use futures_util::{StreamExt, stream};
use indexmap::IndexMap;
use tracing::{debug, warn};

use super::{Answer, Client, IN_FLIGHT, Queued};
use crate::{
    check::{CheckResult, CheckSpec},
    config::{ActionKind, Icinga2Settings},
    delivery::{self, Failure, Sent, Sink},
    metrics::Metrics,
    store::durable::{Durable, SpoolEntry},
};

/// The plugin output Icinga gets: status line and long output, perfdata apart.
fn output_and_perfdata(result: &CheckResult) -> (String, Vec<String>) {
    let output = match &result.long_output {
        Some(long) if !long.is_empty() => format!("{}\n{long}", result.output),
        _ => result.output.clone(),
    };
    let raw = result.stdout.trim_end();
    let structured = raw.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw).is_ok();
    let perfdata = if raw.is_empty() || structured || result.timed_out {
        result.perfdata.iter().map(ToString::to_string).collect()
    } else {
        smoker_compat::output::perfdata_texts(raw)
    };
    (output, perfdata)
}

/// What `result` of `spec` becomes for the action `settings`; `hostname` is
/// used when `host_name` is not set.
pub fn queued(
    settings: &Icinga2Settings,
    hostname: &str,
    spec: &CheckSpec,
    result: &CheckResult,
) -> Queued {
    let service = delivery::service_name(&settings.service, spec);
    let (output, perfdata) = output_and_perfdata(result);
    let start = result.started_at.timestamp_millis() as f64 / 1000.0;
    Queued {
        host_name: settings
            .host_name
            .clone()
            .unwrap_or_else(|| hostname.to_string()),
        service,
        state: result.state.code(),
        output,
        perfdata,
        start,
        end: start + result.duration.as_secs_f64(),
    }
}

/// Queues `result` for the `Icinga2` action `action`; the outcome shown in the
/// plugin result is `queued for ACTION`.
pub fn enqueue(
    durable: &Durable,
    action: &str,
    settings: &Icinga2Settings,
    hostname: &str,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    let q = queued(settings, hostname, spec, result);
    let id = durable.spool_push(action, q.to_payload());
    debug!(check = %spec.name, action, id, "Result queued for Icinga 2.");
    delivery::queued_outcome(action)
}

/// The Icinga 2 sender of one action.
#[derive(Debug)]
pub struct Icinga {
    action: String,
    client: Client,
    metrics: Option<Arc<Metrics>>,
    /// Objects whose refusal was logged.
    refused: Mutex<Refused>,
}

/// The objects whose refusal was logged, so a refused object logs once and not once
/// per result. An accepted result forgets its object (a later refusal is news), and
/// the set never holds more than [`Refused::MAX`], so objects of checks renamed over
/// years of reloads cannot grow it without end.
#[derive(Debug, Default)]
struct Refused(HashSet<String>);

impl Refused {
    const MAX: usize = 4096;

    /// Whether `object`'s refusal is the first since it was last accepted.
    fn first(&mut self, object: &str) -> bool {
        if self.0.contains(object) {
            return false;
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(object.to_string())
    }

    fn accepted(&mut self, object: &str) {
        if !self.0.is_empty() {
            self.0.remove(object);
        }
    }
}

/// One object's entries, in spool order.
type Group = (String, Vec<(u64, Queued)>);

impl Sink for Icinga {
    type Settings = Icinga2Settings;
    const KIND: &'static str = "Icinga2";

    fn settings(kind: &ActionKind) -> Option<Icinga2Settings> {
        match kind {
            ActionKind::Icinga2(settings) => Some(Icinga2Settings::clone(settings)),
            _ => None,
        }
    }

    type OpenError = super::ClientError;

    fn open(
        action: &str,
        settings: &Icinga2Settings,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Icinga, super::ClientError> {
        let client = Client::new(settings)?;
        Ok(Icinga {
            action: action.to_string(),
            client,
            metrics,
            refused: Mutex::default(),
        })
    }

    fn peer(&self) -> String {
        self.client.endpoint().to_string()
    }

    async fn send(&mut self, entries: &[SpoolEntry]) -> Sent {
        let mut sent = Sent::default();
        // By object, in order of first appearance.
        let mut groups: IndexMap<String, Vec<(u64, Queued)>> = IndexMap::new();
        for e in entries {
            let Some(q) = Queued::from_payload(&e.payload) else {
                warn!(action = %self.action, id = e.id, "Dropping an unreadable Icinga2 spool entry.");
                sent.done.push(e.id);
                continue;
            };
            groups.entry(q.object()).or_default().push((e.id, q));
        }
        let this = &*self;
        let mut results = stream::iter(groups)
            .map(|group| this.send_group(group))
            .buffer_unordered(IN_FLIGHT);
        while let Some((done, failure)) = results.next().await {
            sent.done.extend(done);
            // An authentication failure wins: it decides the slow retry.
            if let Some(f) = failure
                && sent.failure.as_ref().is_none_or(|old| !old.slow)
            {
                sent.failure = Some(f);
            }
        }
        sent
    }
}

impl Icinga {
    fn refused(&self) -> std::sync::MutexGuard<'_, Refused> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Posts one object's results in order; stops at the first that must be retried.
    async fn send_group(&self, (object, list): Group) -> (Vec<u64>, Option<Failure>) {
        let mut done = Vec::with_capacity(list.len());
        for (id, q) in list {
            let (error, slow) = match self.client.post(&q).await {
                Answer::Accepted => {
                    self.count(|m| m.icinga_sent(1));
                    self.refused().accepted(&object);
                    done.push(id);
                    continue;
                }
                Answer::Rejected(reason, status) => {
                    self.count(|m| m.icinga_rejected(reason));
                    self.log_rejected(&object, reason, &status);
                    done.push(id);
                    continue;
                }
                Answer::Unauthorized(e) => (
                    format!("{e}; check user and password (results are kept)"),
                    true,
                ),
                Answer::Retry(e) => (e, false),
            };
            self.count(Metrics::icinga_send_error);
            return (done, Some(Failure { error, slow }));
        }
        (done, None)
    }

    fn count(&self, f: impl FnOnce(&Metrics)) {
        if let Some(m) = &self.metrics {
            f(m);
        }
    }

    fn log_rejected(&self, object: &str, reason: &str, status: &str) {
        if self.refused().first(object) {
            warn!(action = %self.action, object, reason, status,
                "Icinga 2 refused a result; it is dropped (logged once until one is accepted).");
        } else {
            debug!(action = %self.action, object, reason, "Icinga 2 refused a result again.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Refused;

    #[test]
    fn a_refused_object_logs_once_until_it_is_accepted_and_the_set_stays_bounded() {
        let mut refused = Refused::default();
        assert!(refused.first("h!a"));
        assert!(!refused.first("h!a"), "the same refusal again is not news");
        assert!(refused.first("h!b"));
        refused.accepted("h!a");
        assert!(
            refused.first("h!a"),
            "refused again after an accepted result"
        );
        assert!(!refused.first("h!b"));
        for n in 0..3 * Refused::MAX {
            refused.first(&format!("h!renamed{n}"));
            assert!(refused.0.len() <= Refused::MAX);
        }
    }
}
