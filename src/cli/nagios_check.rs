//! `check_smoker`: the Nagios plugin that asks one smokerd (smoker-compat.md §4.5, issue 4).
//!
//! Selects plugins by name or by Category/Component/`Type healthCheck`, optionally forces a
//! run, and prints one check as its plugin printed it (status line, long output, perfdata
//! text, as `check_nrpe` would) or several as the summary `smokercli -o nagios` prints; exit
//! 0–3. A result older than `--max-age` is UNKNOWN. Anything that goes wrong (unreachable
//! daemon, garbage, timeout, bad arguments) is `UNKNOWN: <reason>` on stdout.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::{
    args::CheckArgs,
    client::{Daemon, HostError, Http, Target},
    config::ClientConfig,
    format::nagios,
    model::{HostView, PluginView, Report, ResultView, Status},
    run::conn_options,
    select::Selection,
};

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

/// A number of seconds in a plugin parameter (`60`, `60.5`, `"60"`).
fn seconds_parameter(plugin: &PluginView, key: &str) -> Option<f64> {
    match plugin.parameters.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().trim_end_matches('s').parse().ok(),
        _ => None,
    }
}

/// How old a result may be: `--max-age`, else twice the Interval plus the Timeout; `None`
/// for a check that is not scheduled (it never goes stale).
fn max_age(plugin: &PluginView, flag: Option<u64>) -> Option<f64> {
    if let Some(seconds) = flag {
        return Some(seconds as f64);
    }
    let interval = seconds_parameter(plugin, "Interval").filter(|i| *i > 0.0)?;
    Some(2.0 * interval + seconds_parameter(plugin, "Timeout").unwrap_or(0.0))
}

/// Seconds since the result's `lastRun` (local time, as the daemon writes it).
fn age(result: &ResultView, now: NaiveDateTime) -> Option<f64> {
    let at = result.last_run.as_deref()?;
    let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(((now - at).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// Turns a result older than its max age into an UNKNOWN one saying so.
pub fn mark_stale(plugin: &mut PluginView, flag: Option<u64>, now: NaiveDateTime) {
    let Some(limit) = max_age(plugin, flag) else {
        return;
    };
    let message = nagios::plugin_message(plugin);
    let Some(result) = plugin.result.as_mut() else {
        return;
    };
    let Some(age) = age(result, now).filter(|age| *age > limit) else {
        return;
    };
    result.status = Status::Unknown;
    result.output = Some(format!(
        "result is stale: {age:.0} s old, more than {limit:.0} s (last: {message})"
    ));
    result.long_output = None;
    result.perfdata.clear();
}

/// The verdict for the selected plugins of one daemon: one check as its plugin printed it,
/// several as the shared Nagios summary.
pub fn evaluate(host: HostView) -> Verdict {
    let (text, code) = match host.plugins.as_slice() {
        [one] => nagios::single(one),
        _ => nagios::render(&Report::new(vec![host])),
    };
    Verdict { text, code }
}

fn selection(args: &CheckArgs) -> Selection {
    if !args.plugins.is_empty() {
        return Selection::names(args.plugins.clone());
    }
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
}

/// Why nothing was selected, in words.
fn nothing_found(args: &CheckArgs) -> String {
    let mut what = Vec::new();
    if let Some(category) = &args.category {
        what.push(format!("category {category}"));
    }
    if let Some(component) = &args.component {
        what.push(format!("component {component}"));
    }
    if args.health {
        what.push("Type healthCheck".to_owned());
    }
    format!("no plugin found with {}", what.join(" and "))
}

async fn ask(args: &CheckArgs, config: &ClientConfig) -> Result<Verdict, HostError> {
    let http = Http::new(&conn_options(args.conn.options(), config))?;
    let target = Target::parse(&args.host, config.port())?;
    let daemon = Daemon::connect(&http, target).await?;
    let items = daemon.plugins(&http).await?;
    let selection = selection(args);
    let mut plugins: Vec<PluginView> = items
        .iter()
        .filter_map(PluginView::parse)
        .filter(|p| selection.matches(p))
        .collect();
    let missing: Vec<&str> = args
        .plugins
        .iter()
        .filter(|n| !plugins.iter().any(|p| &p.name == *n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let (one, many) = ("plugin", "plugins");
        let noun = if missing.len() == 1 { one } else { many };
        return Ok(Verdict::unknown(format!(
            "{noun} not found on {}: {}",
            daemon.name,
            missing.join(", ")
        )));
    }
    if plugins.is_empty() {
        return Ok(Verdict::unknown(nothing_found(args)));
    }
    if args.force {
        let names: Vec<String> = plugins.iter().map(|p| p.name.clone()).collect();
        plugins = daemon
            .force(&http, &names)
            .await?
            .iter()
            .filter_map(PluginView::parse)
            .collect();
    } else {
        let now = chrono::Local::now().naive_local();
        for plugin in &mut plugins {
            mark_stale(plugin, args.max_age, now);
        }
    }
    let target = args.host.clone();
    Ok(evaluate(HostView::new(
        daemon.name.clone(),
        target,
        plugins,
    )))
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
        Err(error) if !error.use_stderr() => {
            // Help and version.
            let _ = error.print();
            return 0;
        }
        Err(error) => {
            // A usage error is UNKNOWN, on stdout where Nagios reads it.
            super::run::print(&usage_error(&error.render().to_string()));
            return 3;
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

/// clap's error text as plugin output: `UNKNOWN: <error>` first, then the usage lines.
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut text = format!("UNKNOWN: {first}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;
    use serde_json::json;

    fn host(names: &[&str]) -> HostView {
        let plugins = fixtures::plugins()
            .into_iter()
            .filter(|p| names.contains(&p.name.as_str()))
            .collect();
        HostView::new("vm".into(), "vm".into(), plugins)
    }

    #[test]
    fn one_check_or_the_shared_summary() {
        let verdict = evaluate(host(&["json"]));
        assert_eq!(
            (verdict.text.as_str(), verdict.code),
            ("WARNING: disk 85%\n", 1)
        );
        let verdict = evaluate(host(&["never"]));
        assert_eq!(
            (verdict.text.as_str(), verdict.code),
            ("UNKNOWN: never has no result yet\n", 3)
        );
        let report = Report::new(vec![host(&["uptime", "fail"])]);
        let verdict = evaluate(host(&["uptime", "fail"]));
        assert_eq!((verdict.text, verdict.code), nagios::render(&report));
    }

    #[test]
    fn stale_results_are_unknown() {
        let plugin = |interval: u64| {
            PluginView::parse(&json!({"name": "p", "parameters": {"Interval": interval, "Timeout": 5},
                "lastResult": {"status": "OK", "state": "OK", "output": "fine", "lastRun": "2026-01-01T00:00:00.5",
                "perfdata": [{"label": "a", "value": 1, "text": "a=1"}]}}))
            .unwrap()
        };
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let mut fresh = plugin(10);
        mark_stale(&mut fresh, None, at("2026-01-01 00:00:25"));
        assert_eq!(fresh.status(), Status::Ok, "25 s ≤ 2×10 + 5");
        let mut stale = plugin(10);
        mark_stale(&mut stale, None, at("2026-01-01 00:00:26"));
        assert_eq!(
            nagios::single(&stale),
            (
                "result is stale: 26 s old, more than 25 s (last: fine)\n".into(),
                3
            )
        );
        let mut flagged = plugin(10);
        mark_stale(&mut flagged, Some(3), at("2026-01-01 00:00:04"));
        assert_eq!(flagged.status(), Status::Unknown);
        let mut unscheduled = plugin(0);
        mark_stale(&mut unscheduled, None, at("2027-01-01 00:00:00"));
        assert_eq!(unscheduled.status(), Status::Ok);
    }

    #[test]
    fn usage_errors_read_as_unknown() {
        use clap::Parser;
        let error = CheckArgs::try_parse_from(["check_smoker", "--bogus"]).unwrap_err();
        let text = usage_error(&error.render().to_string());
        assert!(
            text.starts_with("UNKNOWN: unexpected argument '--bogus' found\n"),
            "{text}"
        );
        assert!(text.contains("Usage: check_smoker"), "{text}");
    }
}
