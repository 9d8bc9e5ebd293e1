//! The status page in a real browser: Debian's `chromium` driven by `chromedriver`
//! over WebDriver (fantoccini), against the real smokerd running real checks.
//! Serial (one browser at a time). Screenshots go to `target/ui-screenshots/`;
//! timing figures measured in the browser go to `target/ui-screenshots/timing.json`
//! for `scripts/bench` (reported, not asserted).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::{TestDaemon, free_port, http, http_with_headers, temp_dir, wait_until};

/// chromedriver plus a headless chromium session; both stopped on drop.
struct Browser {
    driver: Child,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/install-deps installs chromium-driver)");
        let up = wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "chromedriver did not start");
        let profile = temp_dir();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session");
        Browser {
            driver,
            client: Some(client),
            _profile: profile,
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("session")
    }

    async fn js(&self, script: &str) -> Value {
        self.c().execute(script, vec![]).await.expect(script)
    }

    /// Polls the JavaScript expression `expr` until it is truthy.
    async fn until(&self, expr: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(&format!("return !!({expr});")).await;
            if v == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                let seen = self
                    .js("return [location.hash, document.querySelector('#error').textContent, document.querySelector('#run-info').textContent];")
                    .await;
                panic!("timed out waiting for {expr}; page: {seen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        let v = self
            .js(&format!(
                "return document.querySelector({}).textContent;",
                json!(css)
            ))
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.c().screenshot().await.expect("screenshot");
        let dir = screenshots();
        std::fs::create_dir_all(&dir).expect("mkdir screenshots");
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }

    async fn stop(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots")
}

const XSS: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

const CHECKS: &str = "actions:
  nagios: {Nsca: {host: 127.0.0.1, port: 9, encryption: 0}}
plugins:
  ok: {Command: \"echo all fine\", Interval: 0, Category: system}
  warn: {Command: \"echo warned; exit 1\", Interval: 0, Category: system, Action: nagios}
  crit: {Command: \"echo broken; exit 2\", Interval: 0, Category: app}
  unknown: {Command: \"echo what; exit 3\", Interval: 0, Category: app}
  perf: {Command: \"{dir}/perf.sh\", Interval: 0, Category: app}
  xss: {Command: \"{dir}/xss.sh\", Interval: 0, Category: web, \"<i>key</i>\": \"<b>value</b>\"}
  backup: {Command: \"{dir}/big.sh\", Schedule: \"0 3 * * *\", MaxOutput: 1MiB, Category: jobs}
";

const PERF: &str = "#!/bin/sh\nf=\"$(dirname \"$0\")/n\"\nn=$(cat \"$f\" 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \"$f\"\necho \"PERF OK run $n|load=$n;5;10;0;\"\n";
const BIG: &str = "#!/bin/sh\nhead -c 500000 /dev/zero | tr '\\0' x\necho\n";

fn xss_script() -> String {
    format!("#!/bin/sh\nprintf '%s\\n' '{XSS}'\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_in_chromium() {
    let xss = xss_script();
    let d = TestDaemon::start_with(
        CHECKS,
        &[("perf.sh", PERF), ("xss.sh", &xss), ("big.sh", BIG)],
        &[],
    );
    d.force(&["ok", "warn", "crit", "unknown", "xss", "backup"]);
    for _ in 0..4 {
        d.force(&["perf"]);
    }
    let b = Browser::start().await;
    let base = format!("http://127.0.0.1:{}/ui/", d.port);
    b.c().goto(&base).await.expect("goto");
    b.until(
        "document.querySelectorAll('#checks tbody tr').length === 7",
        secs(30),
    )
    .await;
    overview_states(&b).await;
    filters(&b, &base).await;
    xss_literal(&b, &d).await;
    detail_charts(&b, &base).await;
    run_now(&b).await;
    live_update(&b, &d, &base).await;
    job_output(&b, &base, &d).await;
    b.stop().await;
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn overview_states(b: &Browser) {
    for (name, state) in [
        ("ok", "OK"),
        ("warn", "WARNING"),
        ("crit", "CRITICAL"),
        ("unknown", "UNKNOWN"),
        ("perf", "OK"),
        ("xss", "OK"),
        ("backup", "OK"),
    ] {
        let shown = b.text(&format!("tr[data-name='{name}'] .state")).await;
        assert_eq!(shown, state, "{name}");
    }
    let counts = b.text("#counts li[data-state='OK']").await;
    assert_eq!(counts, "4OK");
}

async fn visible_rows(b: &Browser) -> Vec<String> {
    let v = b
        .js("return [...document.querySelectorAll('#checks tbody tr')].filter(r => !r.hidden).map(r => r.dataset.name);")
        .await;
    serde_json::from_value(v).expect("names")
}

async fn filters(b: &Browser, base: &str) {
    b.c()
        .goto(&format!("{base}#/?state=CRITICAL"))
        .await
        .expect("goto");
    b.c().refresh().await.expect("reload");
    b.until(
        "document.querySelectorAll('#checks tbody tr').length === 7",
        secs(30),
    )
    .await;
    assert_eq!(visible_rows(b).await, ["crit"]);
    b.c()
        .find(Locator::Css("#filter-state"))
        .await
        .expect("state select")
        .select_by_value("")
        .await
        .expect("any state");
    let input = b
        .c()
        .find(Locator::Css("#filter-text"))
        .await
        .expect("input");
    input.send_keys("warn").await.expect("type");
    b.until("location.hash.includes('q=warn')", secs(5)).await;
    assert_eq!(visible_rows(b).await, ["warn"]);
    input.clear().await.expect("clear");
    b.js("document.querySelector('#filter-text').dispatchEvent(new Event('input'));")
        .await;
    assert_eq!(visible_rows(b).await.len(), 7);
    // Keyboard: Tab moves from the filter to the state select; Enter on a check's link opens it.
    b.js("document.querySelector('#filter-text').focus();")
        .await;
    let active = b.c().active_element().await.expect("focus");
    active.send_keys("\u{E004}").await.expect("Tab");
    b.until("document.activeElement.id === 'filter-state'", secs(5))
        .await;
    b.js("document.querySelector(\"tr[data-name='crit'] a\").focus();")
        .await;
    let link = b.c().active_element().await.expect("focus");
    link.send_keys("\u{E007}").await.expect("Enter");
    b.until("location.hash === '#/check/crit'", secs(5)).await;
    b.until(
        "document.querySelector('#detail-title').textContent === 'crit'",
        secs(20),
    )
    .await;
    b.c().goto(&format!("{base}#/")).await.expect("goto");
    b.until("!document.querySelector('#overview').hidden", secs(20))
        .await;
}

async fn xss_literal(b: &Browser, d: &TestDaemon) {
    assert_eq!(b.text("tr[data-name='xss'] td.out").await, XSS);
    let nodes = b
        .js("return [document.querySelectorAll('img').length, document.querySelectorAll('script').length];")
        .await;
    assert_eq!(nodes, json!([0, 1]), "no injected node");
    assert!(b.c().get_alert_text().await.is_err(), "an alert ran");
    b.js("location.hash = '#/check/xss';").await;
    b.until("document.querySelector('#detail-title').textContent === 'xss' && document.querySelectorAll('#params dt').length > 0", secs(20))
        .await;
    let shown = b
        .js("return [[...document.querySelectorAll('#params dt')].map(e => e.textContent).includes('<i>key</i>'),
                     [...document.querySelectorAll('#params dd')].map(e => e.textContent).includes('<b>value</b>'),
                     document.querySelector('#detail-output').textContent,
                     document.querySelectorAll('main i, main b:not(#counts b), main img').length];")
        .await;
    assert_eq!(
        shown,
        json!([true, true, XSS, 0]),
        "parameter keys and values as text"
    );
    assert!(b.c().get_alert_text().await.is_err(), "an alert ran");
    // An undeliverable NSCA action: its spool shows next to the check's actions.
    assert_eq!(d.get_json("/v2/spool")["actions"]["nagios"]["results"], 1);
    b.js("location.hash = '#/check/warn';").await;
    b.until(
        "[...document.querySelectorAll('#params dt')].some(e => e.textContent === 'spool nagios')",
        secs(20),
    )
    .await;
    let spool = b
        .js("return [...document.querySelectorAll('#params dt')].find(e => e.textContent === 'spool nagios').nextElementSibling.textContent;")
        .await;
    assert!(
        spool
            .as_str()
            .is_some_and(|s| s.starts_with("1 results waiting")),
        "{spool}"
    );
}

async fn detail_charts(b: &Browser, base: &str) {
    b.c()
        .goto(&format!("{base}#/check/perf"))
        .await
        .expect("goto");
    b.until(
        "document.querySelectorAll('#duration-chart circle.pt').length === 4",
        secs(20),
    )
    .await;
    let counts = b
        .js("return [document.querySelectorAll('#timeline rect').length,
                     document.querySelectorAll('.perf-chart[data-label=load] circle.pt').length,
                     document.querySelector('.perf-chart[data-label=load] line.warn').dataset.value,
                     document.querySelector('.perf-chart[data-label=load] line.crit').dataset.value,
                     [...document.querySelectorAll('.perf-chart circle.pt')].map(c => +c.dataset.value)];")
        .await;
    assert_eq!(counts, json!([4, 4, "5", "10", [1, 2, 3, 4]]));
    assert_eq!(b.text("#detail-output").await, "PERF OK run 4");
    b.screenshot("check-detail.png").await;
}

async fn run_now(b: &Browser) {
    b.c()
        .find(Locator::Css("#run-now"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    b.until(
        "document.querySelector('#detail-output').textContent === 'PERF OK run 5'",
        secs(20),
    )
    .await;
    b.until(
        "document.querySelectorAll('#duration-chart circle.pt').length === 5",
        secs(20),
    )
    .await;
}

async fn live_update(b: &Browser, d: &TestDaemon, base: &str) {
    b.c().goto(&format!("{base}#/")).await.expect("goto");
    b.until(
        "document.querySelector('#live').textContent === 'live'",
        secs(20),
    )
    .await;
    b.js("window.notReloaded = true;").await;
    let start = Instant::now();
    d.force(&["perf"]);
    let forced = start.elapsed();
    b.until(
        "document.querySelector(\"tr[data-name='perf'] td.out\").textContent === 'PERF OK run 6'",
        secs(10),
    )
    .await;
    let shown = start.elapsed();
    assert_eq!(
        b.js("return window.notReloaded === true;").await,
        json!(true)
    );
    eprintln!("live update: result recorded after {forced:?}, shown after {shown:?}");
}

async fn job_output(b: &Browser, base: &str, d: &TestDaemon) {
    let runs = d.get_json("/v2/plugins/backup/runs");
    let id = runs[0]["id"].as_u64().expect("run id");
    b.c()
        .goto(&format!("{base}#/check/backup"))
        .await
        .expect("goto");
    b.until(
        &format!("document.querySelector(\"#runs a[href='#/run/backup/{id}']\")"),
        secs(20),
    )
    .await;
    // The list re-renders on live events: follow the link by a click inside the page.
    b.js(&format!(
        "document.querySelector(\"#runs a[href='#/run/backup/{id}']\").click();"
    ))
    .await;
    b.until(
        "document.querySelector('#out-stdout').textContent.length === 500001",
        secs(30),
    )
    .await;
    b.screenshot("job-output.png").await;
    b.js("history.back();").await;
    b.until("document.querySelector('#detail-title').textContent === 'backup' && [...document.querySelectorAll('#params dd')].some(e => e.textContent.startsWith('0 3 * * *'))", secs(20))
        .await;
    let slots = b
        .js("const dt = [...document.querySelectorAll('#params dt')].find(e => e.textContent === 'next slots'); return dt.nextElementSibling.textContent.split('\\n').length;")
        .await;
    assert_eq!(slots, json!(5), "the job's next cron slots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_tokens_in_chromium() {
    let d = TestDaemon::start(
        "api:\n  read_tokens: [r-token]\n  write_tokens: [w-token]\nplugins:\n  ok: {Command: \"echo fine\", Interval: 0}\n",
    );
    let page = http(d.port, "GET", "/ui/", None).expect("GET /ui/");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let b = Browser::start().await;
    let base = format!("http://127.0.0.1:{}/ui/", d.port);
    b.c().goto(&base).await.expect("goto");
    b.until("!document.querySelector('#token').hidden", secs(20))
        .await;
    let token = b
        .c()
        .find(Locator::Css("#token-input"))
        .await
        .expect("input");
    token.send_keys("wrong").await.expect("type");
    b.c()
        .find(Locator::Css("#token-form button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    b.until(
        "document.querySelector('#token-error').textContent.includes('refused')",
        secs(20),
    )
    .await;
    token.clear().await.expect("clear");
    token.send_keys("r-token").await.expect("type");
    b.c()
        .find(Locator::Css("#token-form button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    b.until(
        "document.querySelectorAll('#checks tbody tr').length === 1",
        secs(20),
    )
    .await;
    b.c()
        .goto(&format!("{base}#/check/ok"))
        .await
        .expect("goto");
    b.until(
        "document.querySelector('#detail-title').textContent === 'ok'",
        secs(20),
    )
    .await;
    b.c()
        .find(Locator::Css("#run-now"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    b.until(
        "document.querySelector('#run-msg').textContent.includes('write token')",
        secs(20),
    )
    .await;
    b.js("sessionStorage.setItem('smoker-token', 'w-token');")
        .await;
    b.c()
        .find(Locator::Css("#run-now"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    b.until(
        "document.querySelector('#run-msg').textContent === 'started'",
        secs(20),
    )
    .await;
    b.until(
        "document.querySelector('#detail-state').textContent === 'OK'",
        secs(20),
    )
    .await;
    let last = http_with_headers(
        d.port,
        "GET",
        "/plugins/ok",
        &[("Authorization", "Bearer r-token")],
        None,
    )
    .expect("plugin")
    .json();
    assert_eq!(last["plugin"]["lastResult"]["forced"], true);
    b.stop().await;
}

/// 1000 checks: every row with its state, a screenshot, and the figures measured in
/// the browser (first render, one filter keystroke, bytes transferred) written to
/// `target/ui-screenshots/timing.json` for `scripts/bench` (not asserted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_of_1000_checks_in_chromium() {
    let mut yaml = String::from("plugins:\n");
    let mut expected = [0usize; 4];
    for i in 0..1000 {
        let code = [(97, 3), (53, 2), (17, 1)]
            .iter()
            .find(|(m, _)| i % m == 5)
            .map_or(0, |&(_, c)| c);
        expected[code] += 1;
        yaml.push_str(&format!(
            "  c{i:04}: {{Command: \"echo check {i} says {code}; exit {code}\", Interval: 3600, Splay: 1, Category: cat{}}}\n",
            i % 7
        ));
    }
    let d = TestDaemon::start(&yaml);
    let all_ran = wait_until(secs(60), || {
        let body = d.get_json("/plugins");
        body["plugins"]["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|i| !i["plugin"]["lastResult"].is_null()))
    });
    assert!(all_ran, "not every check ran");
    let b = Browser::start().await;
    let base = format!("http://127.0.0.1:{}/ui/", d.port);
    b.c().goto(&base).await.expect("goto");
    b.until("window.smokerReady", secs(30)).await;
    let rows = b
        .js("return document.querySelectorAll('#checks tbody tr').length;")
        .await;
    assert_eq!(rows, json!(1000));
    for (state, n) in ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
        .iter()
        .zip(expected)
    {
        let shown = b.text(&format!("#counts li[data-state='{state}'] b")).await;
        assert_eq!(shown, n.to_string(), "{state}");
    }
    b.screenshot("overview-1000.png").await;
    let figures = b
        .js("const input = document.querySelector('#filter-text');
             const t0 = performance.now();
             input.value = 'c099'; input.dispatchEvent(new Event('input'));
             document.body.getBoundingClientRect();
             const keystroke = performance.now() - t0;
             const shown = [...document.querySelectorAll('#checks tbody tr')].filter(r => !r.hidden).length;
             const nav = performance.getEntriesByType('navigation')[0];
             const res = performance.getEntriesByType('resource');
             const assets = nav.transferSize + res.filter(r => r.name.includes('/ui/')).reduce((s, r) => s + r.transferSize, 0);
             const data = res.filter(r => !r.name.includes('/ui/')).reduce((s, r) => s + r.transferSize, 0);
             return {first_render_ms: window.smokerReady, filter_keystroke_ms: keystroke, shown,
                     asset_bytes: assets, data_bytes: data};")
        .await;
    assert_eq!(figures["shown"], json!(10), "{figures}");
    std::fs::create_dir_all(screenshots()).expect("mkdir");
    std::fs::write(screenshots().join("timing.json"), figures.to_string()).expect("timing");
    eprintln!("1000 checks in chromium: {figures}");
    b.stop().await;
}
