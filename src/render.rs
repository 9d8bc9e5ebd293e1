//! Rendering of results and plugins into the smoker JSON shapes (smoker-compat.md
//! §2.1, §3.2; decisions.md D1, D3), and the original's Python-style compact JSON.
//! Neutral: the API, the actions and the status page's data all render through it, so
//! the only place domain types become smoker JSON.

use chrono::{DateTime, Local, Timelike};
use serde_json::{Map, Value, json};

use crate::{
    check::{CheckResult, ComponentResult, Messages},
    store::CheckEntry,
};

/// Python `isoformat()` of a local naive time: `.ffffff` only when µs ≠ 0.
pub fn iso(at: &DateTime<Local>) -> String {
    if at.nanosecond() / 1000 == 0 {
        at.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

pub fn messages(messages: &Option<Messages>) -> Value {
    match messages {
        None => Value::Null,
        Some(m) => json!({"info": m.info, "error": m.error, "warn": m.warn}),
    }
}

fn component(c: &ComponentResult) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("status".into(), c.state.smoker_status().into());
    map.insert("messages".into(), messages(&c.messages));
    map
}

/// A result. `rendered` turns `componentResults` into the list form of GET /plugins.
pub fn result(r: &CheckResult, rendered: bool) -> Value {
    let components = match &r.component_results {
        None => Value::Null,
        Some(c) if c.is_empty() => json!({}),
        Some(c) if rendered => Value::Array(
            c.iter()
                .map(|(name, c)| {
                    let mut item = component(c);
                    item.insert("name".into(), name.clone().into());
                    json!({"componentResult": item})
                })
                .collect(),
        ),
        Some(c) => Value::Object(
            c.iter()
                .map(|(name, c)| (name.clone(), Value::Object(component(c))))
                .collect(),
        ),
    };
    let perfdata: Vec<Value> = r
        .perfdata
        .iter()
        .map(|p| {
            json!({"label": p.label, "value": p.value, "uom": p.uom, "warn": p.warn, "crit": p.crit,
                   "min": p.min, "max": p.max, "text": p.source_text(), "inLongOutput": p.in_long_output})
        })
        .collect();
    json!({
        "status": r.state.smoker_status(),
        "messages": messages(&r.messages),
        "lastRun": iso(&r.started_at),
        "componentResults": components,
        "action": r.action.as_deref().map(|a| result(a, false)),
        "forced": r.forced,
        "state": r.state.as_str(),
        "output": r.output,
        "longOutput": r.long_output,
        "perfdata": perfdata,
        "exitCode": r.exit_code,
        "signal": r.signal,
        "duration": (r.duration.as_secs_f64() * 1e6).round() / 1e6,
        "truncated": r.truncated,
        "catchUp": r.catch_up,
    })
}

/// `parameters` with secrets shown as `***` (D3).
pub fn parameters(parameters: &indexmap::IndexMap<String, Value>) -> Value {
    Value::Object(
        parameters
            .iter()
            .map(|(key, value)| {
                let lower = key.to_ascii_lowercase();
                let shown = if lower.contains("password")
                    || lower.contains("secret")
                    || lower.contains("token")
                {
                    Value::String("***".into())
                } else if key == "Env" {
                    match value {
                        Value::Object(env) => Value::Object(
                            env.keys()
                                .map(|k| (k.clone(), Value::String("***".into())))
                                .collect(),
                        ),
                        Value::Null => Value::Null,
                        _ => Value::String("***".into()),
                    }
                } else if key == "Action" {
                    redact_object(value)
                } else {
                    value.clone()
                };
                (key.clone(), shown)
            })
            .collect(),
    )
}

fn redact_object(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if lower.contains("password")
                        || lower.contains("secret")
                        || lower.contains("token")
                    {
                        (k.clone(), Value::String("***".into()))
                    } else {
                        (k.clone(), redact_object(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_object).collect()),
        other => other.clone(),
    }
}

/// The inner plugin object (without the `{"plugin": …}` wrapper).
pub fn plugin(entry: &CheckEntry) -> Map<String, Value> {
    let spec = entry.spec();
    let mut map = Map::new();
    map.insert(
        "lastResult".into(),
        entry
            .last_result()
            .map_or(Value::Null, |r| result(&r, true)),
    );
    map.insert(
        "links".into(),
        json!({"self": format!("/plugins/{}", spec.name)}),
    );
    map.insert("name".into(), spec.name.clone().into());
    map.insert(
        "nextRun".into(),
        entry.next_run().map_or(Value::Null, |t| iso(&t).into()),
    );
    map.insert("parameters".into(), parameters(&spec.parameters));
    // `{startedAt, pid}` once the process exists (D3 pins `pid` as an int): a run
    // still being spawned shows as not running yet.
    map.insert(
        "running".into(),
        entry.running().filter(|&(_, pid)| pid != 0).map_or(
            Value::Null,
            |(at, pid)| json!({"startedAt": iso(&at), "pid": pid}),
        ),
    );
    map
}

/// The plugin object as compact JSON, from the entry's cache when nothing changed
/// since it was rendered. A running check is rendered each time (its pid appears late).
pub fn plugin_json(entry: &CheckEntry) -> std::sync::Arc<str> {
    if let Some(text) = entry.rendered() {
        return text;
    }
    let version = entry.version();
    let mut out = Vec::with_capacity(1024);
    let value = Value::Object(plugin(entry));
    if write_json(&mut out, &value).is_err() {
        return std::sync::Arc::from("null");
    }
    let text: std::sync::Arc<str> = std::sync::Arc::from(String::from_utf8_lossy(&out).as_ref());
    if entry.running().is_none() {
        entry.cache_rendered(version, text.clone());
    }
    text
}

/// Appends `value` as Python-style compact JSON.
pub fn write_json(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, PythonFormatter);
    serde::Serialize::serialize(value, &mut ser)
}

struct PythonFormatter;

/// Python's item separator, `", "`, before every item but the first.
fn separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::check::CheckSpec;

    #[test]
    fn running_shows_once_the_process_exists() {
        let entry = CheckEntry::new(std::sync::Arc::new(CheckSpec::for_test("c")));
        let json = |e: &CheckEntry| -> Value { serde_json::from_str(&plugin_json(e)).unwrap() };
        assert_eq!(json(&entry)["running"], Value::Null);
        let (_done, started) = entry.begin_run();
        let (_tx, pid) = started.expect("a new run");
        // Registered but not spawned yet: no `pid: 0`.
        assert_eq!(json(&entry)["running"], Value::Null);
        pid.store(4242, Ordering::Relaxed);
        let running = json(&entry)["running"].clone();
        assert_eq!(running["pid"], 4242, "{running}");
        assert!(running["startedAt"].is_string(), "{running}");
    }
}
