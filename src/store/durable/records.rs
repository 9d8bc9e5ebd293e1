//! The stored record encodings: a [`CheckResult`] as a compact JSON record (short
//! keys, every field defaulted so old records stay readable) and the captured
//! stdout/stderr of one run. Domain types (`crate::check`) carry no serde; this is
//! the one place they are converted to and from what the tables hold. Spool payloads
//! are opaque bytes framed by their sender (`nsca::sink`) and not encoded here.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Local, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use smoker_compat::output::PerfDatum;
use tracing::warn;

use crate::check::{CheckResult, ComponentResult, Messages, State};

/// A stored state code; unknown codes read as UNKNOWN.
pub(super) fn state_from_code(code: u8) -> State {
    State::from_code(i64::from(code)).unwrap_or(State::Unknown)
}

/// Unix seconds and nanoseconds as local time (the epoch when out of range).
pub(super) fn from_unix(secs: i64, nanos: u32) -> DateTime<Local> {
    DateTime::<Utc>::from_timestamp(secs, nanos)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .with_timezone(&Local)
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Storage form of a [`CheckResult`] (without the captured streams, see [`OutputRecord`]).
/// Short keys keep it compact; every field defaults so old records stay readable.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct ResultRecord {
    #[serde(rename = "s", default)]
    pub(super) state: u8,
    #[serde(rename = "o", default)]
    pub(super) output: String,
    #[serde(rename = "lo", default, skip_serializing_if = "Option::is_none")]
    long_output: Option<String>,
    #[serde(rename = "pd", default, skip_serializing_if = "Vec::is_empty")]
    perfdata: Vec<PerfRecord>,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    messages: Option<MessagesRecord>,
    #[serde(rename = "cr", default, skip_serializing_if = "Option::is_none")]
    component_results: Option<Vec<ComponentRecord>>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    action: Option<Box<ResultRecord>>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub(super) exit_code: Option<i32>,
    #[serde(rename = "sg", default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(rename = "d", default)]
    pub(super) duration_ns: u64,
    #[serde(rename = "t", default)]
    pub(super) started_s: i64,
    #[serde(rename = "tn", default)]
    pub(super) started_ns: u32,
    #[serde(rename = "f", default, skip_serializing_if = "is_false")]
    pub(super) forced: bool,
    #[serde(rename = "tr", default, skip_serializing_if = "is_false")]
    pub(super) truncated: bool,
    #[serde(rename = "cu", default, skip_serializing_if = "is_false")]
    pub(super) catch_up: bool,
    #[serde(rename = "to", default, skip_serializing_if = "is_false")]
    timed_out: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PerfRecord {
    #[serde(rename = "l")]
    label: String,
    #[serde(rename = "v", default)]
    value: Option<f64>,
    #[serde(rename = "u", default)]
    uom: String,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    warn: Option<String>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    crit: Option<String>,
    #[serde(rename = "mn", default, skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(rename = "mx", default, skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(rename = "lg", default, skip_serializing_if = "is_false")]
    in_long_output: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MessagesRecord {
    #[serde(rename = "i", default)]
    info: Vec<String>,
    #[serde(rename = "e", default)]
    error: Vec<String>,
    #[serde(rename = "w", default)]
    warn: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ComponentRecord {
    #[serde(rename = "n")]
    name: String,
    #[serde(rename = "s", default)]
    state: u8,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    messages: Option<MessagesRecord>,
}

impl MessagesRecord {
    fn from_messages(messages: &Messages) -> MessagesRecord {
        MessagesRecord {
            info: messages.info.clone(),
            error: messages.error.clone(),
            warn: messages.warn.clone(),
        }
    }

    fn into_messages(self) -> Messages {
        Messages {
            info: self.info,
            error: self.error,
            warn: self.warn,
        }
    }
}

impl ResultRecord {
    pub(super) fn from_result(result: &CheckResult) -> ResultRecord {
        Self::from_result_with(result, true)
    }

    /// The record of `result`, its `messages` left out unless `messages`.
    fn from_result_with(result: &CheckResult, messages: bool) -> ResultRecord {
        ResultRecord {
            state: result.state.code(),
            output: result.output.clone(),
            long_output: result.long_output.clone(),
            perfdata: result
                .perfdata
                .iter()
                .map(|datum| PerfRecord {
                    label: datum.label.clone(),
                    value: datum.value,
                    uom: datum.uom.clone(),
                    warn: datum.warn.clone(),
                    crit: datum.crit.clone(),
                    min: datum.min,
                    max: datum.max,
                    text: datum.text.clone(),
                    in_long_output: datum.in_long_output,
                })
                .collect(),
            messages: result
                .messages
                .as_ref()
                .filter(|_| messages)
                .map(MessagesRecord::from_messages),
            component_results: result.component_results.as_ref().map(|components| {
                components
                    .iter()
                    .map(|(name, component)| ComponentRecord {
                        name: name.clone(),
                        state: component.state.code(),
                        messages: component
                            .messages
                            .as_ref()
                            .map(MessagesRecord::from_messages),
                    })
                    .collect()
            }),
            action: result
                .action
                .as_deref()
                .map(|action| Box::new(ResultRecord::from_result(action))),
            exit_code: result.exit_code,
            signal: result.signal,
            duration_ns: u64::try_from(result.duration.as_nanos()).unwrap_or(u64::MAX),
            started_s: result.started_at.timestamp(),
            started_ns: result.started_at.timestamp_subsec_nanos(),
            forced: result.forced,
            truncated: result.truncated,
            catch_up: result.catch_up,
            timed_out: result.timed_out,
        }
    }

    pub(super) fn into_result(self) -> CheckResult {
        CheckResult {
            state: state_from_code(self.state),
            output: self.output,
            long_output: self.long_output,
            perfdata: self
                .perfdata
                .into_iter()
                .map(|datum| PerfDatum {
                    label: datum.label,
                    value: datum.value,
                    uom: datum.uom,
                    warn: datum.warn,
                    crit: datum.crit,
                    min: datum.min,
                    max: datum.max,
                    text: datum.text,
                    in_long_output: datum.in_long_output,
                })
                .collect(),
            messages: self.messages.map(MessagesRecord::into_messages),
            component_results: self.component_results.map(|components| {
                components
                    .into_iter()
                    .map(|component| {
                        let result = ComponentResult {
                            state: state_from_code(component.state),
                            messages: component.messages.map(MessagesRecord::into_messages),
                        };
                        (component.name, result)
                    })
                    .collect::<IndexMap<_, _>>()
            }),
            action: self.action.map(|action| Box::new(action.into_result())),
            exit_code: self.exit_code,
            signal: self.signal,
            duration: Duration::from_nanos(self.duration_ns),
            started_at: from_unix(self.started_s, self.started_ns),
            forced: self.forced,
            truncated: self.truncated,
            catch_up: self.catch_up,
            timed_out: self.timed_out,
            stdout: Arc::from(""),
            stderr: Arc::from(""),
            run_id: 0,
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        // Plain structs of strings and numbers always serialize (non-finite floats become null).
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(super) fn decode(check: &str, run_id: u64, bytes: &[u8]) -> Option<ResultRecord> {
        match serde_json::from_slice(bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                warn!(check = %check, run_id, error = %e, "Skipping an unreadable stored result.");
                None
            }
        }
    }
}

/// `result` as its stored record (without its streams and run id): also the compact
/// copy the in-memory history keeps of its older results (`store::ring`).
pub fn encode_result(result: &CheckResult) -> Vec<u8> {
    ResultRecord::from_result(result).encode()
}

/// [`encode_result`] without the result's `messages`, for the ring, which leaves out
/// messages it can derive again (without copying the result to drop them first).
pub fn encode_result_without_messages(result: &CheckResult) -> Vec<u8> {
    ResultRecord::from_result_with(result, false).encode()
}

/// The result [`encode_result`] wrote, with `run_id`; `None` (logged) when the bytes
/// are not a record.
pub fn decode_result(check: &str, run_id: u64, bytes: &[u8]) -> Option<CheckResult> {
    let mut result = ResultRecord::decode(check, run_id, bytes)?.into_result();
    result.run_id = run_id;
    Some(result)
}

/// Storage form of the captured streams of one run.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct OutputRecord {
    #[serde(rename = "o", default)]
    pub(super) stdout: String,
    #[serde(rename = "e", default)]
    pub(super) stderr: String,
}

impl OutputRecord {
    /// The captured streams of `result`.
    pub(super) fn from_result(result: &CheckResult) -> OutputRecord {
        OutputRecord {
            stdout: result.stdout.to_string(),
            stderr: result.stderr.to_string(),
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(super) fn decode(check: &str, run_id: u64, bytes: &[u8]) -> Option<OutputRecord> {
        match serde_json::from_slice(bytes) {
            Ok(record) => Some(record),
            Err(e) => {
                warn!(check = %check, run_id, error = %e, "Skipping unreadable stored output.");
                None
            }
        }
    }
}
