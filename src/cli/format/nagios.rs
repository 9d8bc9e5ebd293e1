//! `nagios`: the Nagios plugin output that `smokercli -o nagios` and `check_smoker` share
//! (decisions.md D9, issue 20): a summary line `STATE: summary | 'plugin::label'=…`, one long
//! output line per check, and the worst state as exit code 0–3. Also one check's own output
//! as the plugin printed it (status line, long output and perfdata text, D3).

use serde_json::Value;

use crate::{
    check::State,
    cli::model::{PluginView, Report, ResultView, Status, level_of},
};

/// Longest component detail text before it is cut (original: 256).
const DETAILS_MAX_LEN: usize = 256;
/// Longest component summary (original: 1024).
const SUMMARY_MAX_LEN: usize = 1024;
/// Order of the states in the summary and in the long output.
const ORDER: [State; 4] = [State::Critical, State::Unknown, State::Warning, State::Ok];

/// Nagios perfdata of one datum object (D3) with its label prefixed:
/// `'prefix::label'=value[uom];warn;crit;min;max`. The value part is the plugin's own text
/// when the daemon sends it (`text`), so numbers are never reformatted.
pub fn perfdatum(prefix: Option<&str>, datum: &Value) -> Option<String> {
    let label = datum.get("label")?.as_str()?;
    let text = datum.get("text").and_then(Value::as_str);
    let label = match prefix {
        Some(prefix) => format!("{prefix}::{label}"),
        None if text.is_some() => return text.map(str::to_owned),
        None => label.to_owned(),
    };
    let quoted = format!("'{}'=", label.replace('\'', "''"));
    // A label never contains `=` (compat's parser refuses it), so the value starts after the first.
    if let Some((_, value)) = text.and_then(|t| t.split_once('=')) {
        return Some(format!("{quoted}{value}"));
    }
    let field = |key: &str| match datum.get(key) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let value = match datum.get("value") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "U".to_owned(),
    };
    let mut text = format!("{quoted}{value}{}", field("uom"));
    let tail = [field("warn"), field("crit"), field("min"), field("max")];
    let used = tail
        .iter()
        .rposition(|f| !f.is_empty())
        .map_or(0, |i| i + 1);
    for part in &tail[..used] {
        text.push(';');
        text.push_str(part);
    }
    Some(text)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}..", text.chars().take(max).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Summary of a smoker JSON result's non-OK components (the original plugin's wording).
fn component_issue(name: &str, result: &ResultView) -> String {
    let mut out = format!("smoke test: {name} ");
    let mut any = false;
    for component in result.components.iter().filter(|c| c.status != Status::Ok) {
        let level = if component.status == Status::Warn {
            "warn"
        } else {
            "error"
        };
        let details = level_of(&component.messages, level).join(", ");
        out.push_str(&format!(
            "{}: {}: {}; ",
            component.name,
            component.status.as_str(),
            cut(&details, DETAILS_MAX_LEN)
        ));
        any = true;
    }
    if out.chars().count() > SUMMARY_MAX_LEN {
        return format!(
            "smoke test: {name} returns huge error output, see smoker logs for details"
        );
    }
    if !any {
        return format!(
            "smoke test: {name} returned {} without details",
            result.status.as_str()
        );
    }
    out.trim_end().to_owned()
}

/// One line saying how a check did: the plugin's status line when the daemon sends it (D3),
/// else the smoker message of its level (the original daemon), else a description.
pub fn plugin_message(plugin: &PluginView) -> String {
    let Some(result) = &plugin.result else {
        return format!("{} has no result yet", plugin.name);
    };
    if let Some(output) = result.output.as_deref().filter(|o| !o.is_empty()) {
        return output.to_owned();
    }
    // The original looks up `messages[status.lower()]`: there is no `ok` level, so an OK
    // plugin reads "succeeded" (as in smoker-compat.md §4.5's example).
    let level = match result.status {
        Status::Ok => "ok",
        Status::Warn => "warn",
        Status::Error | Status::Unknown => "error",
    };
    if let Some(first) = result.level(level).first() {
        return first.clone();
    }
    match (result.status, &result.last_run) {
        (Status::Ok, Some(at)) => format!("smoke test {} succeeded at {at}", plugin.name),
        (Status::Ok, None) => format!("smoke test {} succeeded", plugin.name),
        (Status::Warn | Status::Error, _) => component_issue(&plugin.name, result),
        (Status::Unknown, _) => format!("{} returned UNKNOWN without details", plugin.name),
    }
}

fn state_of(plugin: &PluginView) -> State {
    plugin.status().state()
}

/// One check alone, as its plugin printed it: status line, perfdata text, long output (as
/// `check_nrpe` shows a command), and its state as exit code. Results of daemons that send no
/// `output` (the original) read `STATE: message | perfdata`.
pub fn single(plugin: &PluginView) -> (String, i32) {
    let state = state_of(plugin);
    let code = i32::from(state.code());
    // A plugin that printed nothing reads as the original's message rather than an empty line.
    let printed = |r: &&ResultView| match r.output.as_deref() {
        None => false,
        Some(output) => !output.is_empty() || r.long_output.is_some() || !r.perfdata.is_empty(),
    };
    let Some(result) = plugin.result.as_ref().filter(printed) else {
        let mut line = format!("{}: {}", state.as_str(), plugin_message(plugin));
        let perfdata = plugin.result.iter().flat_map(|r| &r.perfdata);
        let perfdata: Vec<String> = perfdata.filter_map(|d| perfdatum(None, d)).collect();
        if !perfdata.is_empty() {
            line = format!("{line} | {}", perfdata.join(" "));
        }
        return (format!("{line}\n"), code);
    };
    let part = |long: bool| -> Vec<String> {
        let in_long = |d: &Value| d.get("inLongOutput").and_then(Value::as_bool) == Some(true);
        let data = result.perfdata.iter().filter(|d| in_long(d) == long);
        data.filter_map(|d| perfdatum(None, d)).collect()
    };
    let mut text = result.output.clone().unwrap_or_default();
    let (first, rest) = (part(false), part(true));
    if !first.is_empty() {
        text = format!("{text}|{}", first.join(" "));
    }
    if result.long_output.is_some() || !rest.is_empty() {
        text.push('\n');
        text.push_str(result.long_output.as_deref().unwrap_or(""));
        if !rest.is_empty() {
            text = format!("{text}|{}", rest.join(" "));
        }
    }
    text.push('\n');
    (text, code)
}

/// Every host's checks with their display name (`host/check` with several hosts).
fn checks(report: &Report) -> Vec<(State, String, String, &PluginView)> {
    let many_hosts = report.hosts.len() > 1;
    let mut out = Vec::new();
    for host in &report.hosts {
        for plugin in host.sorted_plugins() {
            let name = if many_hosts {
                format!("{}/{}", host.name, plugin.name)
            } else {
                plugin.name.clone()
            };
            out.push((state_of(plugin), name, plugin_message(plugin), plugin));
        }
    }
    out
}

/// The summary line, one long output line per check (worst first) and the exit code.
pub fn render(report: &Report) -> (String, i32) {
    // (state, name, message) of every check and of every host that could not be asked.
    let mut rows: Vec<(State, String, String)> = Vec::new();
    let mut perfdata = Vec::new();
    for host in report.hosts.iter().filter(|h| h.error.is_some()) {
        let error = host.error.clone().unwrap_or_default();
        rows.push((State::Unknown, host.name.clone(), error));
    }
    for (state, name, message, plugin) in checks(report) {
        let data = plugin.result.iter().flat_map(|r| &r.perfdata);
        perfdata.extend(data.filter_map(|d| perfdatum(Some(&name), d)));
        rows.push((state, name, message));
    }
    let Some(worst) = rows.iter().map(|r| r.0).reduce(State::worst) else {
        return (
            "UNKNOWN: no plugins found\n".into(),
            State::Unknown.code().into(),
        );
    };
    rows.sort_by_key(|row| ORDER.iter().position(|s| *s == row.0));
    let mut parts = Vec::new();
    for state in ORDER {
        let names: Vec<&str> = rows
            .iter()
            .filter(|r| r.0 == state)
            .map(|r| r.1.as_str())
            .collect();
        match (names.len(), state) {
            (0, _) => {}
            (n, State::Ok) => parts.push(format!("{n} OK")),
            (n, _) => parts.push(format!("{n} {} ({})", state.as_str(), names.join(", "))),
        }
    }
    let hosts = report.hosts.len();
    let mut text = format!(
        "{}: {} checks on {hosts} host{}: {}",
        worst.as_str(),
        rows.len(),
        if hosts == 1 { "" } else { "s" },
        parts.join(", ")
    );
    if !perfdata.is_empty() {
        text = format!("{text} | {}", perfdata.join(" "));
    }
    for (state, name, message) in &rows {
        text.push_str(&format!("\n{} {name}: {message}", state.as_str()));
    }
    text.push('\n');
    (text, worst.code().into())
}

/// Exit code of a status in Nagios terms.
pub fn exit_code(status: Status) -> i32 {
    status.state().code().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{
        format::fixtures,
        model::{HostView, PluginView},
    };
    use serde_json::json;

    #[test]
    fn summary_line_and_one_line_per_check() {
        let (text, code) = render(&fixtures::report());
        assert_eq!(
            text,
            "CRITICAL: 4 checks on 1 host: 1 CRITICAL (fail), 1 UNKNOWN (never), 1 WARNING (json), 1 OK\n\
             CRITICAL fail: err\n\
             UNKNOWN never: never has no result yet\n\
             WARNING json: disk 85%\n\
             OK uptime: smoke test uptime succeeded at 2026-11-25 12:00:14\n"
        );
        assert_eq!(code, 2);
        let (text, code) = render(&fixtures::report_with_failure());
        assert!(
            text.starts_with(
                "CRITICAL: 5 checks on 2 hosts: 1 CRITICAL (vm/fail), 2 UNKNOWN (down:1, vm/never)"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nUNKNOWN down:1: can't open http://down:1/"),
            "{text}"
        );
        assert_eq!(code, 2);
        assert_eq!(
            render(&Report::default()),
            ("UNKNOWN: no plugins found\n".into(), 3)
        );
    }

    #[test]
    fn perfdata_with_prefixes_keeps_the_plugin_text() {
        let plugin = PluginView::parse(&json!({"name": "load", "nextRun": null, "parameters": {},
            "lastResult": {"status": "OK", "state": "WARNING", "output": "LOAD WARNING", "lastRun": "2026-01-01T00:00:00", "perfdata": [
                {"label": "load1", "value": 0.5, "uom": "", "warn": "1", "crit": "2", "min": 0, "max": null},
                {"label": "it's", "value": null, "uom": "s", "warn": null, "crit": null, "min": null, "max": null},
                {"label": "big", "value": 1e3, "uom": "c", "text": "big=1e+03c;;;0"}]}}))
        .unwrap();
        let report = Report::new(vec![HostView::new("vm".into(), "vm".into(), vec![plugin])]);
        let (text, code) = render(&report);
        assert_eq!(
            text,
            "WARNING: 1 checks on 1 host: 1 WARNING (load) | 'load::load1'=0.5;1;2;0 'load::it''s'=Us 'load::big'=1e+03c;;;0\nWARNING load: LOAD WARNING\n"
        );
        assert_eq!(code, 1);
        assert_eq!(
            perfdatum(
                None,
                &json!({"label": "x", "value": 3, "uom": "%", "warn": null, "crit": "90", "min": null, "max": 100})
            ),
            Some("'x'=3%;;90;;100".into())
        );
    }

    #[test]
    fn one_check_as_its_plugin_printed_it() {
        let plugin = PluginView::parse(&json!({"name": "multi", "parameters": {}, "lastResult": {
            "status": "ERROR", "state": "CRITICAL", "output": "CRITICAL - down", "longOutput": "line two\nline three",
            "perfdata": [
                {"label": "rt", "value": 1.5, "uom": "s", "text": "rt=1.500s;1;2;0", "inLongOutput": false},
                {"label": "extra", "value": 3, "uom": "", "text": "extra=3", "inLongOutput": true}]}}))
        .unwrap();
        assert_eq!(
            single(&plugin),
            (
                "CRITICAL - down|rt=1.500s;1;2;0\nline two\nline three|extra=3\n".into(),
                2
            )
        );
        let silent = PluginView::parse(&json!({"name": "quiet", "lastResult": {"status": "OK",
            "state": "OK", "output": "", "lastRun": "2026-11-25T12:00:56"}}))
        .unwrap();
        assert_eq!(
            single(&silent),
            (
                "OK: smoke test quiet succeeded at 2026-11-25 12:00:56\n".into(),
                0
            )
        );
        let never = PluginView::parse(&json!({"name": "never", "lastResult": null})).unwrap();
        assert_eq!(
            single(&never),
            ("UNKNOWN: never has no result yet\n".into(), 3)
        );
        let original = PluginView::parse(&json!({"name": "p", "lastResult": {"status": "OK",
            "lastRun": "2026-11-25T12:00:56.1", "messages": null,
            "perfdata": [{"label": "time", "value": 0.25, "uom": "s", "warn": "1", "crit": "2", "min": 0}]}}))
        .unwrap();
        assert_eq!(
            single(&original),
            (
                "OK: smoke test p succeeded at 2026-11-25 12:00:56 | 'time'=0.25s;1;2;0\n".into(),
                0
            )
        );
    }

    #[test]
    fn component_summaries() {
        let plugin = |result: serde_json::Value| {
            PluginView::parse(&json!({"name": "p", "lastResult": result})).unwrap()
        };
        let components = plugin(
            json!({"status": "ERROR", "messages": {"info": [], "warn": [], "error": []},
            "componentResults": {"a": {"status": "ERROR", "messages": {"info": [], "warn": [], "error": ["x", "y"]}},
                                 "b": {"status": "OK", "messages": null},
                                 "c": {"status": "WARN", "messages": {"info": [], "warn": ["w"], "error": []}}}}),
        );
        assert_eq!(
            plugin_message(&components),
            "smoke test: p a: ERROR: x, y; c: WARN: w;"
        );
        let big = json!({"status": "WARN", "messages": {"info": [], "warn": ["w".repeat(300)], "error": []}});
        let huge = plugin(json!({"status": "WARN",
            "componentResults": {"a": big, "b": big, "c": big, "d": big}}));
        assert_eq!(
            plugin_message(&huge),
            "smoke test: p returns huge error output, see smoker logs for details"
        );
        let bare = plugin(json!({"status": "ERROR", "messages": null}));
        assert_eq!(
            plugin_message(&bare),
            "smoke test: p returned ERROR without details"
        );
    }
}
