//! Row 5: `/metrics` render time with 1000 checks × 5 perfdata values each (force-run them,
//! then time `GET /metrics` end to end, median over N requests).

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{
    Ctx, Row,
    util::{self, force_run, median, percentile},
};

const CHECKS: usize = 1000;

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let requests = ctx.pick(20, 100);
    let dir = util::scratch_dir("metrics")?;
    let port = util::free_port()?;
    let mport = util::free_port()?;
    let mut yaml = util::yaml_head(port, &dir.path().join("state"), Some(ctx.concurrency));
    yaml.push_str(&util::yaml_metrics(mport));
    yaml.push_str("templates:\n  BasePlugin: {Interval: 0, Timeout: 30, History: 2}\nplugins:\n");
    let names: Vec<String> = (0..CHECKS).map(|i| format!("m{i:04}")).collect();
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(
            yaml,
            "  {name}: {{Argv: [/bin/echo, 'OK - {i} | load={i}.5;5;10;0 time=0.{i}s;1;2 size={i}KB used={}%%;80;90;0;100 req={i}c']}}",
            i % 100
        );
    }
    let daemon = util::start_smokerd(dir.path(), "smokerd", &yaml, port, Duration::from_secs(60))?;
    // On the API port when it is mounted there, else on the dedicated listener.
    let Some(mp) = [daemon.port, mport].into_iter().find(|&p| {
        util::http(p, "GET", "/metrics", None, Duration::from_secs(10))
            .is_ok_and(|r| r.status == 200)
    }) else {
        return Err(util::not_built(
            "no /metrics on the API port or on metrics.listen",
        ));
    };
    let (_, body) = force_run(daemon.port, &names, Duration::from_secs(120))?;
    let ok = util::plugin_items(&body)
        .iter()
        .filter(|p| p["forcedResult"]["status"] == "OK")
        .count();
    if ok != CHECKS {
        bail!("{ok} of {CHECKS} forced checks OK");
    }
    let mut times = Vec::new();
    let mut size = 0;
    let mut series = 0;
    for i in 0..requests + 3 {
        let t0 = Instant::now();
        let r = util::http(mp, "GET", "/metrics", None, Duration::from_secs(30))?;
        let took = t0.elapsed().as_secs_f64() * 1000.0;
        if r.status != 200 {
            bail!("GET /metrics: status {}", r.status);
        }
        if i == 0 {
            let text = String::from_utf8_lossy(&r.body);
            series = text
                .lines()
                .filter(|l| l.starts_with("smoker_perfdata_value"))
                .count();
            if series < CHECKS * 5 {
                bail!(
                    "/metrics has {series} smoker_perfdata_value series, expected {}",
                    CHECKS * 5
                );
            }
            size = r.body.len();
        }
        if i >= 3 {
            times.push(took);
        }
    }
    let om = util::http_with(
        mp,
        "GET",
        "/metrics",
        None,
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
        Duration::from_secs(30),
    )?;
    let med = median(&times);
    Ok(vec![
        Row::new(5, &format!("metrics GET /metrics ({CHECKS} checks × 5 perfdata)"), "ms", "< 20 ms")
            .ours(med)
            .met(Some(med < 20.0))
            .note(format!(
                "{} port; median of {requests} requests (client side, new connection each); p90 {:.1} ms; {} KiB text 0.0.4, {} KiB OpenMetrics ({}); {series} perfdata series",
                if mp == daemon.port { "API" } else { "metrics.listen" },
                percentile(&times, 90.0),
                size / 1024,
                om.body.len() / 1024,
                om.status
            )),
    ])
}
