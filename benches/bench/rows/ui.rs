//! Row 10: the status page in the real browser (Debian `chromium` over WebDriver):
//! with 1000 checks, the first render (navigation start → the overview drawn with
//! its data), one filter keystroke (input event → rows hidden and laid out; median
//! of several), and the bytes of the first view (page assets plus the check
//! data, gzip as the browser asks). Goals (issue 17): < 500 ms, < 50 ms, < 150 kB.

use std::{fmt::Write as _, process::Command, time::Duration};

use anyhow::{Result, anyhow};
use fantoccini::ClientBuilder;
use serde_json::{Value, json};

use crate::{Ctx, Row, util};

const MEASURE: &str = "const input = document.querySelector('#filter-text');
    const times = [];
    for (const text of ['c01', 'c012', 'c0123', 'says 2', '']) {
      const t0 = performance.now();
      input.value = text; input.dispatchEvent(new Event('input'));
      document.body.getBoundingClientRect();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const sum = (l) => l.reduce((s, r) => s + r.transferSize, 0);
    return {first: window.smokerReady, keystroke: times[2],
            assets: nav.transferSize + sum(res.filter(r => r.name.includes('/ui/'))),
            data: sum(res.filter(r => !r.name.includes('/ui/')))};";

pub fn run(ctx: &Ctx) -> Result<Vec<Row>> {
    let (Some(chromium), Some(driver)) = (util::which("chromium"), util::which("chromedriver"))
    else {
        return Err(util::not_built(
            "chromium/chromedriver missing (scripts/install-deps)",
        ));
    };
    let n = 1000;
    let dir = util::scratch_dir("ui")?;
    let port = util::free_port()?;
    let mut yaml = util::yaml_head(port, &dir.path().join("state"), None);
    yaml.push_str("plugins:\n");
    for i in 0..n {
        let code = if i % 17 == 5 { 1 } else { 0 };
        let _ = writeln!(
            yaml,
            "  c{i:04}: {{Command: \"echo check {i} says {code}; exit {code}\", Interval: 3600, Splay: 1, Category: cat{}}}",
            i % 7
        );
    }
    let daemon = util::start_smokerd(dir.path(), "smokerd", &yaml, port, Duration::from_secs(60))?;
    util::wait_for(
        "every check to run",
        Duration::from_secs(120),
        Duration::from_millis(500),
        || {
            let v = util::get_json(daemon.port, "/plugins")?;
            let items = util::plugin_items(&v);
            Ok(
                (items.len() == n && items.iter().all(|p| !p["lastResult"].is_null()))
                    .then_some(()),
            )
        },
    )?;
    let wd_port = util::free_port()?;
    let mut wd = util::Proc::spawn(
        "chromedriver",
        Command::new(driver).arg(format!("--port={wd_port}")),
        &dir.path().join("chromedriver.log"),
    )?;
    util::wait_port(&mut wd, wd_port, Duration::from_secs(30))?;
    let profile = dir.path().join("profile");
    let rounds = ctx.pick(1, 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut figures = Vec::new();
    for _ in 0..rounds {
        figures.push(rt.block_on(measure(&chromium, wd_port, &profile, daemon.port))?);
    }
    let pick = |k: &str| {
        util::median(
            &figures
                .iter()
                .filter_map(|f| f[k].as_f64())
                .collect::<Vec<_>>(),
        )
    };
    let (first, key, assets, data) = (
        pick("first"),
        pick("keystroke"),
        pick("assets"),
        pick("data"),
    );
    let note = format!("median of {rounds} page loads, {n} checks");
    Ok(vec![
        Row::new(10, "UI first render (1000 checks)", "ms", "< 500 ms")
            .ours(first)
            .met(Some(first < 500.0))
            .note(&note),
        Row::new(10, "UI filter keystroke", "ms", "< 50 ms")
            .ours(key)
            .met(Some(key < 50.0))
            .note(&note),
        Row::new(10, "UI first view bytes", "kB", "< 150 kB")
            .ours((assets + data) / 1000.0)
            .met(Some(assets + data < 150_000.0))
            .note(format!(
                "{:.1} kB page assets + {:.1} kB of check data (gzip)",
                assets / 1000.0,
                data / 1000.0
            )),
    ])
}

async fn measure(
    chromium: &std::path::Path,
    wd_port: u16,
    profile: &std::path::Path,
    port: u16,
) -> Result<Value> {
    let _ = std::fs::remove_dir_all(profile);
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chromium, "args": args}),
    );
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{wd_port}"))
        .await?;
    let result = async {
        client.goto(&format!("http://127.0.0.1:{port}/ui/")).await?;
        for _ in 0..600 {
            if client
                .execute("return !!window.smokerReady;", vec![])
                .await?
                == json!(true)
            {
                return Ok(client.execute(MEASURE, vec![]).await?);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(anyhow!("the page did not render within 30 s"))
    }
    .await;
    let _ = client.close().await;
    result
}
