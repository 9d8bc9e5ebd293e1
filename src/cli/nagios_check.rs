//! `check_smoker`: the Nagios plugin that asks one smokerd (smoker-compat.md §4.5, issue 4).
//!
//! Selects plugins by name or by Category/Component/`Type healthCheck`, optionally forces a
//! run, and prints one status line (with perfdata from the results' `perfdata` field) plus
//! long output; exit 0–3. States come from `state` when the daemon sends it (D1). Anything
//! that goes wrong (unreachable daemon, garbage, timeout) is `UNKNOWN: <reason>`.

use std::time::Duration;

use super::{
    args::CheckArgs,
    client::{Daemon, HostError, Http, Target},
    config::ClientConfig,
    format::nagios::perfdatum,
    model::{PluginView, Status, level_of},
    run::conn_options,
    select::Selection,
};

/// Longest component detail text before it is cut (original: 256).
const DETAILS_MAX_LEN: usize = 256;
/// Longest component summary (original: 1024).
const SUMMARY_MAX_LEN: usize = 1024;

/// The plugin's answer: text for stdout and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub text: String,
    pub code: i32,
}

impl Verdict {
    pub fn unknown(reason: impl std::fmt::Display) -> Verdict {
        Verdict {
            text: format!("UNKNOWN: {reason}\n"),
            code: 3,
        }
    }
}

/// Order in which states are reported, with their Nagios prefix and exit code.
const BUCKETS: [(Status, &str, i32); 4] = [
    (Status::Error, "CRITICAL", 2),
    (Status::Unknown, "UNKNOWN", 3),
    (Status::Warn, "WARNING", 1),
    (Status::Ok, "OK", 0),
];

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}..", text.chars().take(max).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Component summary of an ERROR/WARN result without a message of its level.
fn parse_issue(plugin: &PluginView) -> String {
    let Some(result) = &plugin.result else {
        return format!("smoke test: {} has no result", plugin.name);
    };
    let mut out = format!("smoke test: {} ", plugin.name);
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
            "smoke test: {} returns huge error output, see smoker logs for details",
            plugin.name
        );
    }
    if !any {
        // The original fails here with "'NoneType' object is not iterable" (Q22).
        return match result.output.as_deref().filter(|o| !o.is_empty()) {
            Some(output) => output.to_owned(),
            None => format!(
                "smoke test: {} returned {} without details",
                plugin.name,
                result.status.as_str()
            ),
        };
    }
    out.trim_end().to_owned()
}

/// Message of one plugin for the status line.
fn plugin_message(plugin: &PluginView) -> (Status, String) {
    let Some(result) = &plugin.result else {
        return (Status::Unknown, "unknown status UNKNOWN at None".into());
    };
    let last_run = result.last_run.as_deref().unwrap_or("None");
    let status = result.status;
    // The original looks up `messages[status.lower()]`: there is no `ok` level, so an OK
    // plugin always reads "succeeded" (as in smoker-compat.md §4.5's example).
    let level = match status {
        Status::Ok => "ok",
        Status::Warn => "warn",
        Status::Error | Status::Unknown => "error",
    };
    if let Some(first) = result.level(level).first() {
        return (status, first.clone());
    }
    let message = match status {
        Status::Ok => format!("smoke test {} succeeded at {last_run}", plugin.name),
        Status::Warn | Status::Error => parse_issue(plugin),
        Status::Unknown => match result.output.as_deref().filter(|o| !o.is_empty()) {
            Some(output) => output.to_owned(),
            None => format!("unknown status UNKNOWN at {last_run}"),
        },
    };
    (status, message)
}

/// The status line and long output for these plugins (plus named plugins that were missing).
pub fn evaluate(plugins: &[PluginView], missing: &[String]) -> Verdict {
    let mut buckets: Vec<Vec<(String, String)>> = vec![Vec::new(); BUCKETS.len()];
    let mut perfdata = Vec::new();
    let single = plugins.len() + missing.len() == 1;
    for plugin in plugins {
        let (status, message) = plugin_message(plugin);
        let index = BUCKETS
            .iter()
            .position(|(s, _, _)| *s == status)
            .unwrap_or(1);
        buckets[index].push((plugin.name.clone(), message));
        if let Some(result) = &plugin.result {
            let prefix = (!single).then_some(plugin.name.as_str());
            perfdata.extend(result.perfdata.iter().filter_map(|d| perfdatum(prefix, d)));
        }
    }
    for name in missing {
        buckets[1].push((name.clone(), format!("plugin {name} not found")));
    }
    let Some(worst) = buckets.iter().position(|b| !b.is_empty()) else {
        return Verdict::unknown("no plugin found");
    };
    let (_, prefix, code) = BUCKETS[worst];
    let mut lines: Vec<String> = if single {
        vec![buckets[worst][0].1.clone()]
    } else {
        let summary: Vec<String> = BUCKETS
            .iter()
            .zip(&buckets)
            .filter(|(_, b)| !b.is_empty())
            .map(|((status, _, _), b)| format!("{}: {}", status.as_str(), b.len()))
            .collect();
        let mut lines = vec![summary.join(", ")];
        for ((status, _, _), bucket) in BUCKETS.iter().zip(&buckets) {
            for (name, message) in bucket {
                lines.push(format!("{} - {name} - {message}", status.as_str()));
            }
        }
        lines
    };
    lines[0] = format!("{prefix}: {}", lines[0]);
    if !perfdata.is_empty() {
        lines[0] = format!("{} | {}", lines[0], perfdata.join(" "));
    }
    Verdict {
        text: format!("{}\n", lines.join("\n")),
        code,
    }
}

async fn ask(args: &CheckArgs, config: &ClientConfig) -> Result<Verdict, HostError> {
    let http = Http::new(&conn_options(args.conn.options(), config))?;
    let target = Target::parse(&args.host, config.port())?;
    let daemon = Daemon::connect(&http, target).await?;
    let items = daemon.plugins(&http).await?;
    let selection = if args.plugins.is_empty() {
        let mut params = Vec::new();
        if let Some(category) = &args.category {
            params.push(("Category".to_owned(), category.clone()));
        }
        if let Some(component) = &args.component {
            params.push(("Component".to_owned(), component.clone()));
        }
        if args.health {
            params.push(("Type".to_owned(), "healthCheck".to_owned()));
        }
        Selection::params(params)
    } else {
        Selection::names(args.plugins.clone())
    };
    let mut plugins: Vec<PluginView> = items
        .iter()
        .filter_map(PluginView::parse)
        .filter(|p| selection.matches(p))
        .collect();
    if plugins.is_empty() {
        let reason = if args.plugins.is_empty() {
            let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".into());
            format!(
                "no plugin found by category {} and component {}, health: {}",
                text(&args.category),
                text(&args.component),
                if args.health { "True" } else { "False" }
            )
        } else {
            let names: Vec<serde_json::Value> =
                args.plugins.iter().map(|n| n.as_str().into()).collect();
            format!(
                "plugin {} not found",
                smoker_compat::pyrepr::python_repr(&serde_json::Value::Array(names))
            )
        };
        return Ok(Verdict::unknown(reason));
    }
    let missing: Vec<String> = args
        .plugins
        .iter()
        .filter(|n| !plugins.iter().any(|p| &p.name == *n))
        .cloned()
        .collect();
    if args.force {
        let names: Vec<String> = plugins.iter().map(|p| p.name.clone()).collect();
        plugins = daemon
            .force(&http, &names)
            .await?
            .iter()
            .filter_map(PluginView::parse)
            .collect();
    }
    Ok(evaluate(&plugins, &missing))
}

/// Run the check; never fails, never outlives `-t`.
pub async fn check(args: CheckArgs, config: ClientConfig) -> Verdict {
    let has_selection = !args.plugins.is_empty()
        || args.category.is_some()
        || args.component.is_some()
        || args.health;
    if !has_selection {
        return Verdict::unknown(
            "invalid startup configuration - neither plugin nor --category nor --component nor --health specified",
        );
    }
    let seconds = args.timeout.max(1);
    match tokio::time::timeout(Duration::from_secs(seconds), ask(&args, &config)).await {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(error)) => Verdict::unknown(error),
        Err(_) => Verdict::unknown(format!(
            "timeout after {seconds} seconds asking smokerd at {}",
            args.host
        )),
    }
}

/// `check_smoker ARGS…`: prints the verdict, returns the exit code.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    use clap::Parser;
    let args = match CheckArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            // Help and version are fine; a usage error is UNKNOWN for Nagios.
            return if error.use_stderr() { 3 } else { 0 };
        }
    };
    let config = match ClientConfig::load() {
        Ok(config) => config,
        Err(error) => {
            super::run::print(&Verdict::unknown(error).text);
            return 3;
        }
    };
    super::block_on(async move {
        let verdict = check(args, config).await;
        super::run::print(&verdict.text);
        verdict.code
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;
    use serde_json::json;

    fn named(names: &[&str]) -> Vec<PluginView> {
        fixtures::plugins()
            .into_iter()
            .filter(|p| names.contains(&p.name.as_str()))
            .collect()
    }

    #[test]
    fn summary_and_lines_in_state_order() {
        let verdict = evaluate(&named(&["uptime", "fail", "json"]), &[]);
        assert_eq!(
            verdict.text,
            "CRITICAL: ERROR: 1, WARN: 1, OK: 1\nERROR - fail - err\nWARN - json - disk 85%\nOK - uptime - smoke test uptime succeeded at 2026-11-25 12:00:14\n"
        );
        assert_eq!(verdict.code, 2);
    }

    #[test]
    fn single_plugin_messages() {
        assert_eq!(
            evaluate(&named(&["uptime"]), &[]),
            Verdict {
                text: "OK: smoke test uptime succeeded at 2026-11-25 12:00:14\n".into(),
                code: 0
            }
        );
        assert_eq!(
            evaluate(&named(&["json"]), &[]),
            Verdict {
                text: "WARNING: disk 85%\n".into(),
                code: 1
            }
        );
        assert_eq!(
            evaluate(&named(&["never"]), &[]),
            Verdict {
                text: "UNKNOWN: unknown status UNKNOWN at None\n".into(),
                code: 3
            }
        );
        let verdict = evaluate(&named(&["uptime"]), &["gone".into()]);
        assert_eq!(
            verdict.text,
            "UNKNOWN: UNKNOWN: 1, OK: 1\nUNKNOWN - gone - plugin gone not found\nOK - uptime - smoke test uptime succeeded at 2026-11-25 12:00:14\n"
        );
        assert_eq!(verdict.code, 3);
    }

    #[test]
    fn fallbacks_and_perfdata() {
        let plugin = |result: serde_json::Value| {
            PluginView::parse(
                &json!({"name": "p", "nextRun": null, "parameters": {}, "lastResult": result}),
            )
            .unwrap()
        };
        let ok = plugin(
            json!({"status": "OK", "lastRun": "2026-11-25T12:00:56.1", "messages": null,
            "perfdata": [{"label": "time", "value": 0.25, "uom": "s", "warn": "1", "crit": "2", "min": 0, "max": null}]}),
        );
        assert_eq!(
            evaluate(&[ok], &[]).text,
            "OK: smoke test p succeeded at 2026-11-25 12:00:56 | 'time'=0.25s;1;2;0\n"
        );
        let components = plugin(
            json!({"status": "ERROR", "lastRun": "2026-11-25T12:00:56", "messages": {"info": [], "warn": [], "error": []},
            "componentResults": {"a": {"status": "ERROR", "messages": {"info": [], "warn": [], "error": ["x", "y"]}},
                                 "b": {"status": "OK", "messages": null},
                                 "c": {"status": "WARN", "messages": {"info": [], "warn": ["w"], "error": []}}}}),
        );
        assert_eq!(
            evaluate(&[components], &[]).text,
            "CRITICAL: smoke test: p a: ERROR: x, y; c: WARN: w;\n"
        );
        let huge = plugin(
            json!({"status": "WARN", "componentResults": {"a": {"status": "WARN", "messages": {"info": [], "warn": ["w".repeat(300)], "error": []}},
            "b": {"status": "WARN", "messages": {"info": [], "warn": ["w".repeat(300)], "error": []}},
            "c": {"status": "WARN", "messages": {"info": [], "warn": ["w".repeat(300)], "error": []}},
            "d": {"status": "WARN", "messages": {"info": [], "warn": ["w".repeat(300)], "error": []}}}}),
        );
        assert_eq!(
            evaluate(&[huge], &[]).text,
            "WARNING: smoke test: p returns huge error output, see smoker logs for details\n"
        );
        let bare = plugin(
            json!({"status": "ERROR", "state": "UNKNOWN", "output": "return code 127 is out of bounds", "messages": null}),
        );
        assert_eq!(
            evaluate(&[bare], &[]).text,
            "UNKNOWN: return code 127 is out of bounds\n"
        );
        let bare = plugin(json!({"status": "ERROR", "messages": null}));
        assert_eq!(
            evaluate(&[bare], &[]).text,
            "CRITICAL: smoke test: p returned ERROR without details\n"
        );
    }

    #[test]
    fn perfdata_prefixed_with_several_plugins() {
        let mut plugins = named(&["uptime"]);
        let extra = PluginView::parse(&json!({"name": "load", "nextRun": null, "parameters": {}, "lastResult":
            {"status": "OK", "messages": {"info": ["load ok"], "warn": [], "error": []},
             "perfdata": [{"label": "load1", "value": 1, "uom": "", "warn": null, "crit": null, "min": null, "max": null}]}}))
        .unwrap();
        plugins.push(extra);
        assert_eq!(
            evaluate(&plugins, &[]).text,
            "OK: OK: 2 | 'load::load1'=1\nOK - uptime - smoke test uptime succeeded at 2026-11-25 12:00:14\nOK - load - smoke test load succeeded at None\n"
        );
    }
}
