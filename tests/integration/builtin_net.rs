//! Peers for the parity cases of `check_http` and `check_tcp -S/-D`: a small
//! HTTP/1.1 server that keeps every request it gets, and `openssl s_server -WWW`
//! with a certificate made by `openssl req` that ends in 5 days, one that ends in
//! 3.5 hours and one that has ended; and a port that accepts and never answers.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use openssl::{
    asn1::Asn1Time, hash::MessageDigest, nid::Nid, pkey::PKey, rsa::Rsa, x509::X509,
    x509::X509NameBuilder,
};

use crate::common::{free_port, run_cmd, temp_dir, wait_until};

/// The peers, stopped when dropped.
pub struct Peers {
    pub http: u16,
    pub tls: u16,
    pub soon: u16,
    pub expired: u16,
    /// Connections wait in its backlog and get no byte.
    silent: TcpListener,
    /// Each request the HTTP server got, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    servers: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Peers {
    pub fn start() -> Peers {
        let dir = temp_dir();
        std::fs::write(dir.path().join("index.html"), "hello from tls\n").expect("write");
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let (code, _, err) = run_cmd(Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "5",
            "-subj",
            "/CN=smoker-test",
            "-keyout",
            key.to_str().expect("utf8"),
            "-out",
            cert.to_str().expect("utf8"),
        ]));
        assert_eq!(code, 0, "openssl req: {err}");
        // It ends 432000 s from now: within its first second both sides would say
        // 5 days, later 4 (the plugin's truncation). Let that second pass, so the
        // built-ins, forced first, don't see 5 while the plugins see 4.
        std::thread::sleep(std::time::Duration::from_secs(2));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        write_cert(dir.path(), "soon", now + 3 * 3600 + 1800);
        write_cert(dir.path(), "expired", now - 86_400);
        let mut servers = Vec::new();
        let mut tls = |name: &str| {
            let (child, port) = s_server(dir.path(), name);
            servers.push(child);
            port
        };
        let (tls, soon, expired) = (tls("c"), tls("soon"), tls("expired"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let http = http_server(requests.clone());
        let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
        Peers {
            silent,
            http,
            tls,
            soon,
            expired,
            requests,
            servers,
            _dir: dir,
        }
    }

    /// `case` with `{http}`, `{tls}`, `{soon}`, `{expired}` and `{silent}` set to
    /// the ports.
    pub fn substitute(&self, case: &str) -> String {
        let silent = self.silent.local_addr().expect("addr").port();
        case.replace("{silent}", &silent.to_string())
            .replace("{http}", &self.http.to_string())
            .replace("{tls}", &self.tls.to_string())
            .replace("{soon}", &self.soon.to_string())
            .replace("{expired}", &self.expired.to_string())
    }

    /// The requests got so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `NAME.pem` and `NAME-key.pem` in `dir` (or `c.pem`, `k.pem` for `c`): a
/// self-signed certificate for CN `smoker-NAME` ending at `not_after`.
fn write_cert(dir: &std::path::Path, name: &str, not_after: i64) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
    let mut subject = X509NameBuilder::new().expect("name");
    subject
        .append_entry_by_nid(Nid::COMMONNAME, &format!("smoker-{name}"))
        .expect("cn");
    let subject = subject.build();
    let mut b = X509::builder().expect("x509");
    b.set_version(2).expect("version");
    b.set_subject_name(&subject).expect("subject");
    b.set_issuer_name(&subject).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    let start = Asn1Time::from_unix(not_after - 30 * 86_400).expect("time");
    b.set_not_before(&start).expect("not before");
    let end = Asn1Time::from_unix(not_after).expect("time");
    b.set_not_after(&end).expect("not after");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = b.build().to_pem().expect("pem");
    std::fs::write(dir.join(format!("{name}.pem")), cert).expect("write");
    let key = key.private_key_to_pem_pkcs8().expect("pem");
    std::fs::write(dir.join(format!("{name}-key.pem")), key).expect("write");
}

/// `openssl s_server -WWW` serving `dir` on a free port with certificate `name`.
fn s_server(dir: &std::path::Path, name: &str) -> (Child, u16) {
    let (cert, key) = if name == "c" {
        ("c.pem".to_string(), "k.pem".to_string())
    } else {
        (format!("{name}.pem"), format!("{name}-key.pem"))
    };
    let port = free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-cert", &cert, "-key", &key])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let up = wait_until(Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "openssl s_server did not listen on {port}");
    (child, port)
}

/// The response to a request for `path`.
fn respond(path: &str) -> String {
    let plain = |status: &str, body: &str, extra: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match path {
        "/" => plain("200 OK", "hello world\n", ""),
        "/missing" => plain("404 Not Found", "no such page\n", ""),
        "/broken" => plain("500 Internal Server Error", "oops\n", ""),
        "/moved" => plain("301 Moved Permanently", "", "Location: /\r\n"),
        "/chunked" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
                       3\r\nhel\r\n9\r\nlo world\n\r\n0\r\n\r\n"
            .to_string(),
        _ => plain("400 Bad Request", "bad request\n", ""),
    }
}

/// A 200 whose body comes a byte each 300 ms for 6 seconds.
fn drip(conn: &mut TcpStream) {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n";
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(300));
        if conn.write_all(b"x").is_err() {
            return;
        }
    }
}

/// A small HTTP/1.1 server on a free port (`/slow` drips its body): one thread a connection, the request
/// kept, one response, then the connection closed. A peer that sends no request
/// within a second (a TLS client) gets a 400.
fn http_server(requests: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let requests = requests.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                if got.is_empty() {
                    return;
                }
                let text = String::from_utf8_lossy(&got).into_owned();
                let path = text.split(' ').nth(1).unwrap_or_default().to_string();
                if text.starts_with("GET ") {
                    requests.lock().expect("lock").push(text);
                }
                if path == "/slow" {
                    drip(&mut conn);
                    return;
                }
                let _ = conn.write_all(respond(&path).as_bytes());
                let _ = conn.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}
