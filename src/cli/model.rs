//! The client's view of what daemons answered: hosts, plugins, results.
//!
//! Owns the tolerant decoding of the smoker JSON shapes (smoker-compat.md §3) into display
//! values: statuses (from the additive `state` field when present, decisions.md D1, else from
//! `status`), timestamps cut to seconds, messages in their key order, component results both
//! rendered (list) and stored (map). The raw plugin object is kept for the JSON formats.

use serde_json::{Map, Value};

use crate::check::State;

/// Status as the client shows it: the smoker vocabulary plus `UNKNOWN`
/// (no result yet, or a Nagios UNKNOWN state reported by our daemon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Status {
    Ok,
    Warn,
    Error,
    #[default]
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Parse a status as written by a user or a daemon: smoker or Nagios words, any case.
    pub fn parse(text: &str) -> Option<Status> {
        match text.to_ascii_uppercase().as_str() {
            "OK" => Some(Status::Ok),
            "WARN" | "WARNING" => Some(Status::Warn),
            "ERROR" | "CRITICAL" => Some(Status::Error),
            "UNKNOWN" => Some(Status::Unknown),
            _ => None,
        }
    }

    /// The Nagios state this status stands for.
    pub fn state(self) -> State {
        match self {
            Status::Ok => State::Ok,
            Status::Warn => State::Warning,
            Status::Error => State::Critical,
            Status::Unknown => State::Unknown,
        }
    }

    pub fn from_state(state: State) -> Status {
        match state {
            State::Ok => Status::Ok,
            State::Warning => Status::Warn,
            State::Critical => Status::Error,
            State::Unknown => Status::Unknown,
        }
    }

    /// `ok` in TAP terms: OK and WARN pass.
    pub fn passes(self) -> bool {
        matches!(self, Status::Ok | Status::Warn)
    }

    /// Status of a result object: `state` (D1) wins over `status`.
    fn of_result(result: &Map<String, Value>) -> Status {
        let from = |key: &str| {
            result
                .get(key)
                .and_then(Value::as_str)
                .and_then(Status::parse)
        };
        from("state")
            .or_else(|| from("status"))
            .unwrap_or(Status::Unknown)
    }
}

/// Host status (D1): ERROR > UNKNOWN > WARN > OK > no result (shown as UNKNOWN).
pub fn host_status<'a>(results: impl IntoIterator<Item = Option<&'a ResultView>>) -> Status {
    fn rank(status: Option<Status>) -> u8 {
        match status {
            None => 0,
            Some(Status::Ok) => 1,
            Some(Status::Warn) => 2,
            Some(Status::Unknown) => 3,
            Some(Status::Error) => 4,
        }
    }
    let mut worst = None;
    for result in results {
        let status = result.map(|r| r.status);
        if rank(status) > rank(worst) {
            worst = status;
        }
    }
    worst.unwrap_or(Status::Unknown)
}

/// Messages of a result in their key order: `[(level, [lines])]`.
pub type MessageLevels = Vec<(String, Vec<String>)>;

fn messages_of(value: Option<&Value>) -> MessageLevels {
    let Some(Value::Object(levels)) = value else {
        return Vec::new();
    };
    levels
        .iter()
        .map(|(level, lines)| {
            let lines = match lines {
                Value::Array(items) => items.iter().map(text_of).collect(),
                Value::Null => Vec::new(),
                other => vec![text_of(other)],
            };
            (level.clone(), lines)
        })
        .collect()
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A time as the original client shows it: `YYYY-MM-DD HH:MM:SS` (µs and zone dropped).
pub fn display_time(iso: &str) -> String {
    let seconds = iso.split('.').next().unwrap_or(iso);
    let seconds: String = seconds.chars().take(19).collect();
    seconds.replacen('T', " ", 1)
}

/// A time as the original `-o json` writes it: `YYYY-MM-DDTHH:MM:SS`.
pub fn iso_seconds(iso: &str) -> String {
    display_time(iso).replacen(' ', "T", 1)
}

/// One component result.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    pub name: String,
    pub status: Status,
    pub messages: MessageLevels,
}

/// One result (lastResult or forcedResult).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultView {
    pub status: Status,
    /// `lastRun` as `YYYY-MM-DD HH:MM:SS`.
    pub last_run: Option<String>,
    pub messages: MessageLevels,
    pub components: Vec<ComponentView>,
    /// First output line (our daemon, D3).
    pub output: Option<String>,
    /// Lines 2..n without perfdata (our daemon, D3).
    pub long_output: Option<String>,
    /// Perfdata objects (our daemon, D3), as sent.
    pub perfdata: Vec<Value>,
    /// Duration in seconds (our daemon, D3).
    pub duration: Option<f64>,
}

impl ResultView {
    pub fn parse(value: &Value) -> Option<ResultView> {
        let result = value.as_object()?;
        let components = match result.get("componentResults") {
            // Rendered: [{"componentResult": {..., "name": N}}]
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let component = item.get("componentResult").unwrap_or(item).as_object()?;
                    let name = component.get("name").map(text_of).unwrap_or_default();
                    Some(ComponentView::from_map(name, component))
                })
                .collect(),
            // Stored (forcedResult): {"name": {...}}
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(name, component)| {
                    Some(ComponentView::from_map(
                        name.clone(),
                        component.as_object()?,
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(ResultView {
            status: Status::of_result(result),
            last_run: result
                .get("lastRun")
                .and_then(Value::as_str)
                .map(display_time),
            messages: messages_of(result.get("messages")),
            components,
            output: result
                .get("output")
                .and_then(Value::as_str)
                .map(str::to_owned),
            long_output: result
                .get("longOutput")
                .and_then(Value::as_str)
                .map(str::to_owned),
            perfdata: result
                .get("perfdata")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            duration: result.get("duration").and_then(Value::as_f64),
        })
    }

    /// Lines of one message level (`info`, `warn`, `error`).
    pub fn level(&self, level: &str) -> &[String] {
        level_of(&self.messages, level)
    }
}

/// Lines of one message level in a message list.
pub fn level_of<'a>(messages: &'a MessageLevels, level: &str) -> &'a [String] {
    messages
        .iter()
        .find(|(name, _)| name == level)
        .map(|(_, lines)| lines.as_slice())
        .unwrap_or(&[])
}

impl ComponentView {
    fn from_map(name: String, component: &Map<String, Value>) -> ComponentView {
        ComponentView {
            name,
            status: Status::of_result(component),
            messages: messages_of(component.get("messages")),
        }
    }
}

/// One plugin of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginView {
    pub name: String,
    /// The result shown: `forcedResult` after a forced run, else `lastResult`.
    pub result: Option<ResultView>,
    /// `nextRun` as `YYYY-MM-DD HH:MM:SS`.
    pub next_run: Option<String>,
    /// Effective parameters in the daemon's order.
    pub parameters: Map<String, Value>,
    /// A run in progress (our daemon's `running`, D3): `since YYYY-MM-DD HH:MM:SS, pid N`.
    pub running: Option<String>,
    /// The plugin object for `-o json`: as sent, with the original client's fixes (lastResult
    /// placeholder, times cut to seconds).
    pub json: Value,
}

impl PluginView {
    /// Decode a `{"plugin": {...}}` item's inner object. `None` when it is not a plugin object.
    pub fn parse(plugin: &Value) -> Option<PluginView> {
        let object = plugin.as_object()?;
        let name = object.get("name")?.as_str()?.to_owned();
        let last = object.get("lastResult").and_then(ResultView::parse);
        let forced = object.get("forcedResult").and_then(ResultView::parse);
        let parameters = object
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let next_run = object
            .get("nextRun")
            .and_then(Value::as_str)
            .map(display_time);
        let running = object.get("running").and_then(Value::as_object).map(|r| {
            let since = r
                .get("startedAt")
                .and_then(Value::as_str)
                .map_or_else(|| "?".to_owned(), display_time);
            match r.get("pid").and_then(Value::as_u64).filter(|p| *p > 0) {
                Some(pid) => format!("since {since}, pid {pid}"),
                None => format!("since {since}"),
            }
        });

        let mut json = object.clone();
        match json.get_mut("lastResult") {
            Some(Value::Object(result)) => {
                if let Some(Value::String(last_run)) = result.get_mut("lastRun") {
                    *last_run = iso_seconds(last_run);
                }
            }
            _ => {
                json.insert("lastResult".into(), unknown_placeholder());
            }
        }
        if let Some(Value::String(next)) = json.get_mut("nextRun") {
            *next = iso_seconds(next);
        }
        Some(PluginView {
            name,
            result: forced.or(last),
            next_run,
            parameters,
            running,
            json: Value::Object(json),
        })
    }

    pub fn status(&self) -> Status {
        self.result.as_ref().map_or(Status::Unknown, |r| r.status)
    }
}

/// The original client's stand-in for a missing lastResult.
fn unknown_placeholder() -> Value {
    serde_json::json!({"status": "UNKNOWN", "messages": null, "componentResults": null, "lastRun": null})
}

/// One queried host, after selection (and forcing).
#[derive(Debug, Clone, PartialEq)]
pub struct HostView {
    /// Display name: `about.host`, `name[target]` when two targets share it (D9), the target
    /// itself when the host could not be asked.
    pub name: String,
    /// The target as given (`host`, `host:port`, URL).
    pub target: String,
    pub status: Status,
    /// Selected plugins in the daemon's order.
    pub plugins: Vec<PluginView>,
    /// Why this host has no results (unreachable, garbage, failed forced run).
    pub error: Option<String>,
}

impl HostView {
    pub fn new(name: String, target: String, plugins: Vec<PluginView>) -> HostView {
        let status = host_status(plugins.iter().map(|p| p.result.as_ref()));
        HostView {
            name,
            target,
            status,
            plugins,
            error: None,
        }
    }

    pub fn failed(name: String, target: String, error: String) -> HostView {
        HostView {
            name,
            target,
            status: Status::Unknown,
            plugins: Vec::new(),
            error: Some(error),
        }
    }

    /// Plugins sorted by name, as the text formats print them.
    pub fn sorted_plugins(&self) -> Vec<&PluginView> {
        let mut plugins: Vec<&PluginView> = self.plugins.iter().collect();
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        plugins
    }
}

/// Everything a formatter needs: hosts sorted by display name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub hosts: Vec<HostView>,
}

impl Report {
    pub fn new(mut hosts: Vec<HostView>) -> Report {
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Report { hosts }
    }

    /// Worst host status in `-e` terms: true when any host is ERROR or UNKNOWN (D1).
    pub fn has_failure(&self) -> bool {
        self.hosts
            .iter()
            .any(|h| matches!(h.status, Status::Error | Status::Unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_wins_over_status() {
        let result = ResultView::parse(
            &json!({"status": "ERROR", "state": "UNKNOWN", "lastRun": "2026-11-25T12:00:01.5"}),
        )
        .unwrap();
        assert_eq!(result.status, Status::Unknown);
        assert_eq!(result.last_run.as_deref(), Some("2026-11-25 12:00:01"));
        let result = ResultView::parse(&json!({"status": "WARN"})).unwrap();
        assert_eq!(result.status, Status::Warn);
    }

    #[test]
    fn components_rendered_and_stored() {
        let rendered = json!({"status": "WARN", "componentResults": [
            {"componentResult": {"status": "WARN", "messages": {"info": ["i"], "warn": ["w"], "error": []}, "name": "sda"}}]});
        let stored = json!({"status": "WARN", "componentResults": {
            "sda": {"status": "WARN", "messages": {"info": ["i"], "warn": ["w"], "error": []}, "name": "sda"}}});
        let a = ResultView::parse(&rendered).unwrap();
        let b = ResultView::parse(&stored).unwrap();
        assert_eq!(a.components, b.components);
        assert_eq!(a.components[0].name, "sda");
        assert_eq!(level_of(&a.components[0].messages, "warn"), ["w"]);
    }

    #[test]
    fn host_status_order() {
        let r = |s| ResultView::parse(&json!({"status": s})).unwrap();
        let (ok, warn, err, unk) = (r("OK"), r("WARN"), r("ERROR"), r("UNKNOWN"));
        assert_eq!(host_status([None]), Status::Unknown);
        assert_eq!(host_status([None, Some(&ok)]), Status::Ok);
        assert_eq!(host_status([Some(&ok), Some(&warn)]), Status::Warn);
        assert_eq!(host_status([Some(&warn), Some(&unk)]), Status::Unknown);
        assert_eq!(
            host_status([Some(&unk), Some(&err), Some(&ok)]),
            Status::Error
        );
    }

    #[test]
    fn plugin_json_is_fixed_like_the_original() {
        let plugin = PluginView::parse(
            &json!({"name": "x", "lastResult": null, "nextRun": "2026-01-01T00:00:00.25",
            "parameters": {"Interval": 0}}),
        )
        .unwrap();
        assert_eq!(plugin.json["lastResult"]["status"], "UNKNOWN");
        assert_eq!(plugin.json["nextRun"], "2026-01-01T00:00:00");
        assert_eq!(plugin.next_run.as_deref(), Some("2026-01-01 00:00:00"));
        assert_eq!(plugin.status(), Status::Unknown);
    }
}
