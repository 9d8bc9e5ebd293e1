//! Rendering of results and plugins into the smoker JSON shapes (smoker-compat.md
//! §2.1, §3.2; decisions.md D1, D3), and the original's Python-style compact JSON.
//! Neutral: the API, the actions and the status page's data all render through it, so
//! the only place domain types become smoker JSON.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Local, Timelike};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value, json};
use smoker_compat::output::PerfDatum;

use crate::{
    check::{CheckResult, ComponentResult, Messages},
    store::CheckEntry,
};

/// Python `isoformat()` of a local naive time: `.ffffff` only when µs ≠ 0.
pub fn iso(at: &DateTime<Local>) -> String {
    let micros = at.nanosecond() / 1000;
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return if micros == 0 {
            at.format("%Y-%m-%dT%H:%M:%S").to_string()
        } else {
            at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        };
    }
    let (mo, d, h, mi, s) = (at.month(), at.day(), at.hour(), at.minute(), at.second());
    // A leap second shows as :60, as chrono's `%S` does.
    let s = s + (at.nanosecond() / 1_000_000_000);
    if micros == 0 {
        format!("{year:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
    } else {
        let micros = micros % 1_000_000;
        format!("{year:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}")
    }
}

pub fn messages(messages: &Option<Messages>) -> Value {
    serde_json::to_value(messages.as_ref().map(MessagesJson)).unwrap_or(Value::Null)
}

/// `{"info": …, "error": …, "warn": …}` of a result's messages.
struct MessagesJson<'a>(&'a Messages);

impl Serialize for MessagesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("info", &self.0.info)?;
        map.serialize_entry("error", &self.0.error)?;
        map.serialize_entry("warn", &self.0.warn)?;
        map.end()
    }
}

fn component(c: &ComponentResult) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("status".into(), c.state.smoker_status().into());
    map.insert("messages".into(), messages(&c.messages));
    map
}

/// A result in smoker's shape, serialized straight from the result (a plugin poll
/// renders thousands: no `Value` tree in between). Keys in the original's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson<'a> {
    status: &'static str,
    messages: Option<MessagesJson<'a>>,
    last_run: String,
    component_results: Value,
    action: Option<Box<ResultJson<'a>>>,
    forced: bool,
    state: &'static str,
    output: &'a str,
    long_output: Option<&'a str>,
    perfdata: Vec<PerfJson<'a>>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    duration: f64,
    truncated: bool,
    catch_up: bool,
}

/// One perfdata item of a result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PerfJson<'a> {
    label: &'a str,
    value: Option<f64>,
    uom: &'a str,
    warn: Option<&'a str>,
    crit: Option<&'a str>,
    min: Option<f64>,
    max: Option<f64>,
    text: Cow<'a, str>,
    in_long_output: bool,
}

impl<'a> PerfJson<'a> {
    fn new(p: &'a PerfDatum) -> PerfJson<'a> {
        PerfJson {
            label: &p.label,
            value: p.value,
            uom: &p.uom,
            warn: p.warn.as_deref(),
            crit: p.crit.as_deref(),
            min: p.min,
            max: p.max,
            text: if p.text.is_empty() {
                Cow::Owned(p.source_text())
            } else {
                Cow::Borrowed(&p.text)
            },
            in_long_output: p.in_long_output,
        }
    }
}

impl<'a> ResultJson<'a> {
    fn new(r: &'a CheckResult, rendered: bool) -> ResultJson<'a> {
        let component_results = match &r.component_results {
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
        ResultJson {
            status: r.state.smoker_status(),
            messages: r.messages.as_ref().map(MessagesJson),
            last_run: iso(&r.started_at),
            component_results,
            action: r
                .action
                .as_deref()
                .map(|a| Box::new(ResultJson::new(a, false))),
            forced: r.forced,
            state: r.state.as_str(),
            output: &r.output,
            long_output: r.long_output.as_deref(),
            perfdata: r.perfdata.iter().map(PerfJson::new).collect(),
            exit_code: r.exit_code,
            signal: r.signal,
            duration: (r.duration.as_secs_f64() * 1e6).round() / 1e6,
            truncated: r.truncated,
            catch_up: r.catch_up,
        }
    }
}

/// A result. `rendered` turns `componentResults` into the list form of GET /plugins.
pub fn result(r: &CheckResult, rendered: bool) -> Value {
    serde_json::to_value(ResultJson::new(r, rendered)).unwrap_or(Value::Null)
}

/// Appends [`result`] as Python-style compact JSON, without building its `Value`.
pub fn write_result(
    out: impl std::io::Write,
    r: &CheckResult,
    rendered: bool,
) -> serde_json::Result<()> {
    write_json(out, &ResultJson::new(r, rendered))
}

/// Whether a parameter's key names a secret (D3), in any case.
fn secret_key(key: &str) -> bool {
    ["password", "secret", "token"].iter().any(|word| {
        key.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    })
}

/// A check's `parameters` with secrets shown as `***` (D3): a key naming a password,
/// secret or token, every variable of `Env`, and such keys at any depth of `Action`.
/// Written as it is read: a plugin is rendered again after each of its results, and
/// building a JSON value of its parameters first made a quarter of the allocations
/// of a forced run of 2000 checks (issue 18, row 1).
pub struct Parameters<'a>(pub &'a crate::check::Params);

impl Serialize for Parameters<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0.iter() {
            if secret_key(key) {
                map.serialize_entry(key, "***")?;
            } else if key == "Env" {
                map.serialize_entry(key, &EnvNames(value))?;
            } else if let Some(action) = value.as_json().filter(|_| key == "Action") {
                map.serialize_entry(key, &Redacted(action))?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// `Env`: the names of its variables, each value `***`; anything but a map is `***`.
struct EnvNames<'a>(&'a crate::check::Param);

impl Serialize for EnvNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_json() {
            Some(Value::Object(env)) => {
                let mut map = serializer.serialize_map(Some(env.len()))?;
                for name in env.keys() {
                    map.serialize_entry(name, "***")?;
                }
                map.end()
            }
            None if self.0.is_null() => serializer.serialize_unit(),
            _ => serializer.serialize_str("***"),
        }
    }
}

/// A JSON value with the values of secret keys (at any depth) shown as `***`.
struct Redacted<'a>(&'a Value);

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.0 {
            Value::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    if secret_key(key) {
                        map.serialize_entry(key, "***")?;
                    } else {
                        map.serialize_entry(key, &Redacted(value))?;
                    }
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Redacted(item))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The inner plugin object, keys in the original's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PluginJson<'a> {
    last_result: Option<ResultJson<'a>>,
    links: Links,
    name: &'a str,
    next_run: Option<String>,
    parameters: Parameters<'a>,
    running: Option<Running>,
}

#[derive(Serialize)]
struct Links {
    #[serde(rename = "self")]
    link: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Running {
    started_at: String,
    pid: u32,
}

/// Calls `f` with the plugin object of `entry` as it is now.
fn with_plugin<T>(entry: &CheckEntry, f: impl FnOnce(&PluginJson<'_>) -> T) -> T {
    let spec = entry.spec();
    let last = entry.last_result();
    // `{startedAt, pid}` once the process exists (D3 pins `pid` as an int): a run
    // still being spawned shows as not running yet.
    let running = entry
        .running()
        .filter(|&(_, pid)| pid != 0)
        .map(|(at, pid)| Running {
            started_at: iso(&at),
            pid,
        });
    f(&PluginJson {
        last_result: last.as_deref().map(|r| ResultJson::new(r, true)),
        links: Links {
            link: format!("/plugins/{}", spec.name),
        },
        name: &spec.name,
        next_run: entry.next_run().map(|t| iso(&t)),
        parameters: Parameters(&spec.parameters),
        running,
    })
}

/// The inner plugin object (without the `{"plugin": …}` wrapper).
pub fn plugin(entry: &CheckEntry) -> Map<String, Value> {
    match with_plugin(entry, |p| serde_json::to_value(p)) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The plugin object as compact JSON, from the entry's cache when nothing changed
/// since it was rendered. A running check is rendered each time (its pid appears late).
pub fn plugin_json(entry: &CheckEntry) -> std::sync::Arc<str> {
    if let Some(text) = entry.rendered() {
        return text;
    }
    let version = entry.version();
    let mut out = Vec::with_capacity(1024);
    if with_plugin(entry, |p| write_json(&mut out, p)).is_err() {
        return std::sync::Arc::from("null");
    }
    let text: std::sync::Arc<str> = std::sync::Arc::from(String::from_utf8_lossy(&out).as_ref());
    if entry.running().is_none() {
        entry.cache_rendered(version, text.clone());
    }
    text
}

/// Appends `value` as Python-style compact JSON.
pub fn write_json<T: Serialize + ?Sized>(
    out: impl std::io::Write,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, PythonFormatter);
    value.serialize(&mut ser)
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
    fn iso_is_chronos_format() {
        use chrono::TimeZone;
        for (secs, nanos) in [(0, 0), (1_700_000_000, 123_456_789), (1_700_000_000, 999)] {
            let at = Local.timestamp_opt(secs, nanos).unwrap();
            let chrono = if nanos / 1000 == 0 {
                at.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            };
            assert_eq!(iso(&at), chrono);
        }
    }

    #[test]
    fn a_result_writes_as_its_value() {
        let mut r = CheckResult::synthetic(crate::check::State::Warning, "W", Local::now());
        r.long_output = Some("long\n\"quoted\"".into());
        r.perfdata = smoker_compat::output::parse_perfdata("a=1.5s;1;2;0;3 'b c'=U");
        r.exit_code = Some(1);
        r.duration = std::time::Duration::from_micros(1_234_567);
        let mut components = indexmap::IndexMap::new();
        components.insert(
            "db".to_string(),
            ComponentResult {
                state: crate::check::State::Ok,
                messages: Some(Messages::default()),
            },
        );
        r.component_results = Some(components);
        r.action = Some(Box::new(CheckResult::synthetic(
            crate::check::State::Ok,
            "queued",
            Local::now(),
        )));
        for rendered in [false, true] {
            let mut direct = Vec::new();
            write_result(&mut direct, &r, rendered).unwrap();
            let mut via_value = Vec::new();
            write_json(&mut via_value, &result(&r, rendered)).unwrap();
            assert_eq!(String::from_utf8(direct), String::from_utf8(via_value));
        }
        let v = result(&r, false);
        assert_eq!(v["perfdata"][0]["text"], "a=1.5s;1;2;0;3");
        assert_eq!(v["perfdata"][1]["value"], Value::Null);
        assert_eq!(v["duration"], 1.234567);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "status",
                "messages",
                "lastRun",
                "componentResults",
                "action",
                "forced",
                "state",
                "output",
                "longOutput",
                "perfdata",
                "exitCode",
                "signal",
                "duration",
                "truncated",
                "catchUp"
            ]
        );
    }

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

    #[test]
    fn parameters_show_secrets_as_stars_in_their_order() {
        let params: crate::check::Params = [
            ("Command", json!("check_x")),
            ("DB_Password", json!("hunter2")),
            ("apiTOKEN", json!(42)),
            ("Env", json!({"A": "1", "B": "2"})),
            ("Action", json!({"Nsca": {"password": "p", "host": "h", "list": [{"Secret": 1, "k": [true]}]}})),
            ("Timeout", json!(30)),
            ("Tags", json!(["a", "b"])),
        ]
        .into_iter()
        .collect();
        let mut out = Vec::new();
        write_json(&mut out, &Parameters(&params)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"Command": "check_x", "DB_Password": "***", "apiTOKEN": "***", "Env": {"A": "***", "B": "***"}, "#
                .to_string()
                + r#""Action": {"Nsca": {"password": "***", "host": "h", "list": [{"Secret": "***", "k": [true]}]}}, "#
                + r#""Timeout": 30, "Tags": ["a", "b"]}"#
        );
        for (env, shown) in [
            (json!(null), json!(null)),
            (json!("A=1"), json!("***")),
            (json!([1]), json!("***")),
        ] {
            let params: crate::check::Params = [("Env", env)].into_iter().collect();
            let value = serde_json::to_value(Parameters(&params)).unwrap();
            assert_eq!(value["Env"], shown);
        }
    }
}
