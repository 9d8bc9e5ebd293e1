//! The status page's server side through the real binary: `GET /v2/events`
//! (Server-Sent Events read by `curl -N`), `GET /ui/` (embedded assets, CSP, auth).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;

use crate::common::{HttpResponse, TestDaemon, http_with_headers, run_bin, wait_until};

const TOKENS: &str = "api:\n  read_tokens: [r-token]\n  write_tokens: [w-token]\n";

/// `curl -N` on `/v2/events`; its lines arrive on the channel.
struct Curl {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Curl {
    fn events(port: u16, token: &str, headers: &std::path::Path) -> Curl {
        let mut child = Command::new("curl")
            .args(["-sN", "-D"])
            .arg(headers)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-H", "Accept-Encoding: gzip"])
            .arg(format!("http://127.0.0.1:{port}/v2/events"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("curl");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Curl { child, lines }
    }

    /// The data of the next event named `kind`.
    fn next(&self, kind: &str) -> Value {
        let mut current = String::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("no {kind} event: {e}"));
            if let Some(name) = line.strip_prefix("event: ") {
                current = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && current == kind
            {
                return serde_json::from_str(data).expect("event data is JSON");
            }
        }
    }
}

impl Drop for Curl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(d: &TestDaemon, method: &str, path: &str, token: Option<&str>, body: &str) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let body = (method == "POST").then_some(body);
    http_with_headers(d.port, method, path, &headers, body).expect("request")
}

fn request(d: &TestDaemon, method: &str, path: &str, token: Option<&str>) -> u16 {
    call(d, method, path, token, "").status
}

#[test]
fn events_stream_results_and_reloads_to_curl() {
    let mut d = TestDaemon::start(&format!(
        "{TOKENS}plugins:\n  echo: {{Command: \"echo hello; exit 1\", Interval: 0}}\n"
    ));
    assert_eq!(request(&d, "GET", "/v2/events", None), 401);
    assert_eq!(request(&d, "GET", "/v2/events", Some("nope")), 401);

    let headers = d.dir.path().join("events.headers");
    let curl = Curl::events(d.port, "r-token", &headers);
    let connected = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&headers).is_ok_and(|h| h.contains("\r\n\r\n"))
    });
    assert!(connected, "no response head from /v2/events");
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "events are never compressed: {head}"
    );

    let force = r#"{"process": {"plugins": ["echo"]}}"#;
    let forced = call(&d, "POST", "/processes", Some("w-token"), force);
    assert_eq!(forced.status, 202, "{}", forced.body);
    let result = curl.next("result");
    assert_eq!(result["plugin"], "echo");
    assert_eq!(result["state"], "WARNING");
    assert_eq!(result["output"], "hello");
    assert_eq!(result["forced"], true);
    assert!(result["duration"].as_f64().is_some_and(|s| s >= 0.0));
    let run_id = result["runId"].as_u64().expect("runId");
    let plugin = call(&d, "GET", "/plugins/echo", Some("r-token"), "").json();
    assert_eq!(
        plugin["plugin"]["lastResult"]["state"], "WARNING",
        "{plugin}"
    );
    let runs = call(&d, "GET", "/v2/plugins/echo/runs", Some("r-token"), "").json();
    assert_eq!(runs[0]["id"].as_u64(), Some(run_id));

    let config = std::fs::read_to_string(&d.config).expect("config");
    std::fs::write(
        &d.config,
        config.replace(
            "plugins:\n",
            "plugins:\n  two: {Command: \"true\", Interval: 0}\n",
        ),
    )
    .expect("rewrite config");
    assert_eq!(request(&d, "POST", "/v2/reload", Some("w-token")), 200);
    let reload = curl.next("reload");
    assert_eq!(reload["reloaded"], true);
    assert_eq!(reload["added"][0], "two");

    // Stopping the daemon ends the stream (curl exits) instead of holding the stop.
    let mut curl = curl;
    let stopped = d.stop_within(Duration::from_secs(20));
    assert!(stopped.is_some_and(|s| s.success()), "{}", d.stderr());
    let ended = wait_until(Duration::from_secs(20), || {
        curl.child.try_wait().is_ok_and(|s| s.is_some())
    });
    assert!(ended, "curl still reading after the daemon stopped");
}

#[test]
fn ui_assets_open_with_csp_and_help_names_the_page() {
    let d = TestDaemon::start(&format!(
        "{TOKENS}plugins:\n  ok: {{Command: \"true\", Interval: 0}}\n"
    ));
    let mut total = 0;
    for (path, kind) in [
        ("/ui/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let r = call(&d, "GET", path, None, "");
        assert_eq!(r.status, 200, "{path} opens without a token");
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with(kind),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        total += r.body.len();
    }
    assert!(total < 150 * 1024, "first view {total} bytes");
    let redirect = call(&d, "GET", "/ui", None, "");
    assert_eq!(redirect.header("location"), Some("/ui/"));
    assert_eq!(
        request(&d, "GET", "/plugins", None),
        401,
        "data still needs a token"
    );
    let (rc, help, _) = run_bin("smokercli", &["--help"]);
    assert_eq!(rc, 0);
    assert!(help.contains("http://HOST:8086/ui/"), "{help}");
}
