//! `nagios`: one status line `STATE: summary | 'plugin::label'=…` and the worst state as exit
//! code 0–3 (decisions.md D9). Also the perfdata rendering shared with `check_smoker`.

use serde_json::Value;

use crate::{
    check::State,
    cli::model::{Report, Status},
};

/// Nagios perfdata of one datum object (`{"label","value","uom","warn","crit","min","max"}`,
/// decisions.md D3) with its label prefixed: `'prefix::label'=value[uom];warn;crit;min;max`.
pub fn perfdatum(prefix: Option<&str>, datum: &Value) -> Option<String> {
    let label = datum.get("label")?.as_str()?;
    let label = match prefix {
        Some(prefix) => format!("{prefix}::{label}"),
        None => label.to_owned(),
    };
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
    let mut text = format!("'{}'={value}{}", label.replace('\'', "''"), field("uom"));
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

/// The line (with `\n`) and the exit code.
pub fn render(report: &Report) -> (String, i32) {
    let many_hosts = report.hosts.len() > 1;
    let order = [State::Critical, State::Unknown, State::Warning, State::Ok];
    let mut names: Vec<Vec<String>> = vec![Vec::new(); order.len()];
    let mut perfdata = Vec::new();
    let mut worst: Option<State> = None;
    let mut add = |state: State, name: String, names: &mut Vec<Vec<String>>| {
        worst = Some(worst.map_or(state, |w| w.worst(state)));
        let index = order.iter().position(|s| *s == state).unwrap_or(1);
        names[index].push(name);
    };
    for host in &report.hosts {
        if host.error.is_some() {
            add(State::Unknown, host.name.clone(), &mut names);
        }
        for plugin in host.sorted_plugins() {
            let name = if many_hosts {
                format!("{}/{}", host.name, plugin.name)
            } else {
                plugin.name.clone()
            };
            add(
                plugin
                    .result
                    .as_ref()
                    .map_or(State::Unknown, |r| r.status.state()),
                name.clone(),
                &mut names,
            );
            if let Some(result) = &plugin.result {
                perfdata.extend(
                    result
                        .perfdata
                        .iter()
                        .filter_map(|d| perfdatum(Some(&name), d)),
                );
            }
        }
    }
    let Some(worst) = worst else {
        return (
            "UNKNOWN: no plugins found\n".into(),
            State::Unknown.code().into(),
        );
    };
    let total: usize = names.iter().map(Vec::len).sum();
    let mut parts = Vec::new();
    for (state, list) in order.iter().zip(&names) {
        if list.is_empty() {
            continue;
        }
        if *state == State::Ok {
            parts.push(format!("{} OK", list.len()));
        } else {
            parts.push(format!(
                "{} {} ({})",
                list.len(),
                state.as_str(),
                list.join(", ")
            ));
        }
    }
    let hosts = report.hosts.len();
    let mut line = format!(
        "{}: {total} checks on {hosts} host{}: {}",
        worst.as_str(),
        if hosts == 1 { "" } else { "s" },
        parts.join(", ")
    );
    if !perfdata.is_empty() {
        line.push_str(" | ");
        line.push_str(&perfdata.join(" "));
    }
    line.push('\n');
    (line, worst.code().into())
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
    fn one_line_worst_state() {
        let (line, code) = render(&fixtures::report());
        assert_eq!(
            line,
            "CRITICAL: 4 checks on 1 host: 1 CRITICAL (fail), 1 UNKNOWN (never), 1 WARNING (json), 1 OK\n"
        );
        assert_eq!(code, 2);
        let (line, code) = render(&fixtures::report_with_failure());
        assert!(
            line.starts_with(
                "CRITICAL: 5 checks on 2 hosts: 1 CRITICAL (vm/fail), 2 UNKNOWN (down:1, vm/never)"
            ),
            "{line}"
        );
        assert_eq!(code, 2);
        assert_eq!(
            render(&Report::default()),
            ("UNKNOWN: no plugins found\n".into(), 3)
        );
    }

    #[test]
    fn perfdata_with_prefixes() {
        let plugin = PluginView::parse(&json!({"name": "load", "nextRun": null, "parameters": {},
            "lastResult": {"status": "OK", "state": "WARNING", "lastRun": "2026-01-01T00:00:00", "perfdata": [
                {"label": "load1", "value": 0.5, "uom": "", "warn": "1", "crit": "2", "min": 0, "max": null},
                {"label": "it's", "value": null, "uom": "s", "warn": null, "crit": null, "min": null, "max": null}]}}))
        .unwrap();
        let report = Report::new(vec![HostView::new("vm".into(), "vm".into(), vec![plugin])]);
        let (line, code) = render(&report);
        assert_eq!(
            line,
            "WARNING: 1 checks on 1 host: 1 WARNING (load) | 'load::load1'=0.5;1;2;0 'load::it''s'=Us\n"
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
}
