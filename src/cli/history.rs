//! `smokercli history NAME` and `smokercli output NAME`: the per-check run log of our daemon
//! (`GET /v2/plugins/{name}/runs?limit=N`, `GET /v2/plugins/{name}/runs/{id}/output`,
//! decisions.md D8), asked of every host at once.

use serde_json::{Map, Value};
use tokio::task::JoinSet;

use super::{
    args::{HistoryArgs, OutputArgs},
    client::{Daemon, HostError, Http, REQUEST_TIMEOUT, Target, v2_url},
    config::ClientConfig,
    log::Log,
    model::{Status, display_time},
    run::{conn_options, display_names, host_list, print, use_colors},
};

async fn connect(http: &Http, spec: &str, port: u16) -> Result<Daemon, (String, HostError)> {
    let target = Target::parse(spec, port).map_err(|e| (spec.to_owned(), e))?;
    Daemon::connect(http, target)
        .await
        .map_err(|e| (spec.to_owned(), e))
}

async fn runs(
    http: &Http,
    daemon: &Daemon,
    name: &str,
    limit: u32,
) -> Result<Vec<Value>, HostError> {
    let url = v2_url(
        &daemon.target,
        name,
        &["runs"],
        Some(("limit", limit.to_string())),
    )?;
    match http.get(&url, REQUEST_TIMEOUT).await? {
        Value::Array(runs) => Ok(runs),
        _ => Err(HostError::Shape {
            url,
            what: "not a list of runs".into(),
        }),
    }
}

/// Ask every host with `job`; returns `(display name, result)` sorted by name, errors logged.
async fn fan_out<T, F, Fut>(
    http: &Http,
    hosts: Vec<String>,
    port: u16,
    job: F,
) -> (Vec<(String, T)>, bool)
where
    T: Send + 'static,
    F: Fn(Http, Daemon) -> Fut,
    Fut: std::future::Future<Output = Result<T, HostError>> + Send + 'static,
{
    let log = Log::default();
    let mut connects = JoinSet::new();
    for spec in hosts {
        let http = http.clone();
        connects.spawn(async move { connect(&http, &spec, port).await });
    }
    let mut daemons = Vec::new();
    let mut failed = false;
    while let Some(joined) = connects.join_next().await {
        match joined {
            Ok(Ok(daemon)) => daemons.push(daemon),
            Ok(Err((spec, error))) => {
                log.error(format_args!("Host {spec}: {error}"));
                failed = true;
            }
            Err(error) => {
                log.error(format_args!("internal error: {error}"));
                failed = true;
            }
        }
    }
    let names = display_names(&daemons.iter().collect::<Vec<_>>());
    let mut jobs = JoinSet::new();
    for daemon in daemons {
        let name = names[&daemon.target.spec].clone();
        let work = job(http.clone(), daemon);
        jobs.spawn(async move { (name, work.await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = jobs.join_next().await {
        match joined {
            Ok((name, Ok(value))) => results.push((name, value)),
            Ok((name, Err(error))) => {
                log.error(format_args!("Host {name}: {error}"));
                failed = true;
            }
            Err(error) => {
                log.error(format_args!("internal error: {error}"));
                failed = true;
            }
        }
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    (results, failed)
}

fn text_field(run: &Value, key: &str) -> String {
    match run.get(key) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The text table of `history`.
pub fn history_text(hosts: &[(String, Vec<Value>)], colors: bool) -> String {
    let mut out = String::new();
    for (index, (host, runs)) in hosts.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(host);
        out.push('\n');
        out.push_str(&format!(
            "  {:>6}  {:<19}  {:>9}  {:<8}  {:>4}  OUTPUT\n",
            "ID", "STARTED", "DURATION", "STATE", "EXIT"
        ));
        for run in runs {
            let started = run
                .get("startedAt")
                .and_then(Value::as_str)
                .map(display_time)
                .unwrap_or_else(|| "-".into());
            let duration = run
                .get("duration")
                .and_then(Value::as_f64)
                .map_or_else(|| "-".into(), |d| format!("{d:.3}s"));
            let state = run
                .get("state")
                .or_else(|| run.get("status"))
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned();
            let mut state_cell = format!("{state:<8}");
            if colors && let Some(status) = Status::parse(&state) {
                let color = match status {
                    Status::Ok => "\x1b[1;32m",
                    Status::Warn => "\x1b[1;33m",
                    Status::Error => "\x1b[1;31m",
                    Status::Unknown => "\x1b[1;35m",
                };
                state_cell = format!("{color}{state:<8}\x1b[0;0m");
            }
            let mut output = text_field(run, "output")
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            if run.get("catchUp").and_then(Value::as_bool) == Some(true) {
                output.push_str(" (catch-up)");
            }
            out.push_str(&format!(
                "  {:>6}  {started:<19}  {duration:>9}  {state_cell}  {:>4}  {output}\n",
                text_field(run, "id"),
                text_field(run, "exitCode"),
            ));
        }
    }
    out
}

pub async fn history(args: HistoryArgs, config: ClientConfig) -> i32 {
    let log = Log::default();
    let http = match Http::new(&conn_options(args.conn.options(), &config)) {
        Ok(http) => http,
        Err(error) => {
            log.error(error);
            return 1;
        }
    };
    let name = args.name.clone();
    let limit = args.limit;
    let (results, failed) = fan_out(
        &http,
        host_list(&args.hosts, &config),
        config.port(),
        move |http, daemon| {
            let name = name.clone();
            async move { runs(&http, &daemon, &name, limit).await }
        },
    )
    .await;
    if args.pretty == "json" {
        let document: Map<String, Value> = results
            .into_iter()
            .map(|(host, runs)| (host, Value::Array(runs)))
            .collect();
        print(&format!("{}\n", Value::Object(document)));
    } else {
        print(&history_text(&results, use_colors(args.no_colors)));
    }
    i32::from(failed)
}

/// The captured output of one run.
#[derive(Debug, Clone)]
struct RunOutput {
    id: Value,
    document: Value,
}

async fn run_output(
    http: &Http,
    daemon: &Daemon,
    name: &str,
    run: Option<u64>,
) -> Result<RunOutput, HostError> {
    let id = match run {
        Some(id) => Value::from(id),
        None => {
            let runs = runs(http, daemon, name, 1).await?;
            runs.iter()
                .filter_map(|r| r.get("id"))
                .max_by_key(|id| id.as_u64().unwrap_or(0))
                .cloned()
                .ok_or_else(|| HostError::Shape {
                    url: daemon.target.url("/v2"),
                    what: format!("no runs of {name} yet"),
                })?
        }
    };
    let id_text = match &id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let url = v2_url(&daemon.target, name, &["runs", &id_text, "output"], None)?;
    let document = http.get(&url, REQUEST_TIMEOUT).await?;
    Ok(RunOutput { id, document })
}

pub async fn output(args: OutputArgs, config: ClientConfig) -> i32 {
    let log = Log::default();
    let http = match Http::new(&conn_options(args.conn.options(), &config)) {
        Ok(http) => http,
        Err(error) => {
            log.error(error);
            return 1;
        }
    };
    let name = args.name.clone();
    let run = args.run;
    let hosts = host_list(&args.hosts, &config);
    let many = hosts.len() > 1;
    let (results, failed) = fan_out(&http, hosts, config.port(), move |http, daemon| {
        let name = name.clone();
        async move { run_output(&http, &daemon, &name, run).await }
    })
    .await;
    if args.pretty == "json" {
        let document: Map<String, Value> = results
            .into_iter()
            .map(|(host, out)| {
                let mut entry = out.document.as_object().cloned().unwrap_or_default();
                entry.insert("id".into(), out.id);
                (host, Value::Object(entry))
            })
            .collect();
        print(&format!("{}\n", Value::Object(document)));
        return i32::from(failed);
    }
    for (host, out) in results {
        let stdout = out
            .document
            .get("stdout")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let stderr = out
            .document
            .get("stderr")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if many {
            print(&format!("==> {host} (run {}) <==\n", out.id));
        }
        print(stdout);
        if many && !stdout.is_empty() && !stdout.ends_with('\n') {
            print("\n");
        }
        if !stderr.is_empty() {
            eprint!("{stderr}");
            if !stderr.ends_with('\n') {
                eprintln!();
            }
        }
        if out.document.get("truncated").and_then(Value::as_bool) == Some(true) {
            log.warning(format_args!(
                "Host {host}: output of run {} was truncated",
                out.id
            ));
        }
    }
    i32::from(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_table() {
        let runs = vec![
            json!({"id": 12, "startedAt": "2026-11-25T12:39:07.161830", "duration": 0.0123, "status": "OK", "state": "OK",
                   "exitCode": 0, "output": "up 5 days", "catchUp": false}),
            json!({"id": 13, "startedAt": "2026-11-25T12:40:07", "duration": 30.0, "status": "ERROR", "state": "UNKNOWN",
                   "exitCode": null, "output": "Execution timeout after 30 seconds", "catchUp": true}),
        ];
        let expected = "\
vm
      ID  STARTED               DURATION  STATE     EXIT  OUTPUT
      12  2026-11-25 12:39:07     0.012s  OK           0  up 5 days
      13  2026-11-25 12:40:07    30.000s  UNKNOWN      -  Execution timeout after 30 seconds (catch-up)
";
        assert_eq!(history_text(&[("vm".into(), runs)], false), expected);
    }
}
