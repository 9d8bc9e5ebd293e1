//! The shared network edge (issue 15): one `allowed_hosts` rule for every
//! listener. smokerd on `bind_host: "::"` with an NRPE `server_address=::`, both
//! dual-stack: an IPv4 client arrives as `::ffff:127.0.0.1` and is judged as
//! `127.0.0.1` by the API and NRPE alike; `::1` is refused by both.

use std::{
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Stdio},
    time::Duration,
};

use smoker_compat::nrpe_packet::{self, QUERY, Version};

use crate::common::{bin, exchange, free_port, temp_dir, wait_until};

/// smokerd with its stderr in a file, killed on drop.
struct Daemon {
    child: Child,
    stderr: std::path::PathBuf,
}

impl Daemon {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const GET: &[u8] = b"GET /plugins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn http_status(addr: SocketAddr) -> Option<u16> {
    let raw = exchange(addr, GET);
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

fn nrpe_reply(addr: SocketAddr) -> Option<String> {
    let reply = exchange(addr, &nrpe_packet::encode(Version::V2, QUERY, 0, b"hello"));
    let p = nrpe_packet::decode(&reply).ok()?;
    Some(
        String::from_utf8_lossy(&p.buffer)
            .trim_end_matches('\0')
            .to_string(),
    )
}

fn start(api_port: u16, nrpe_port: u16) -> (tempfile::TempDir, Daemon) {
    let dir = temp_dir();
    let cfg = dir.path().join("nrpe.cfg");
    std::fs::write(
        &cfg,
        format!(
            "server_port={nrpe_port}\nserver_address=::\nallowed_hosts=127.0.0.1\ncommand[hello]=echo hello\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("smokerd.yaml");
    std::fs::write(
        &config,
        format!(
            "bind_host: \"::\"\nbind_port: {api_port}\nstate_dir: {}/state\n\
             api:\n  allowed_hosts: ['127.0.0.1']\n\
             nrpe:\n  config: {}\n  tls: off\n",
            dir.path().display(),
            cfg.display()
        ),
    )
    .unwrap();
    let stderr = dir.path().join("smokerd.stderr");
    let child = Command::new(bin("smokerd"))
        .arg("-c")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn smokerd");
    (dir, Daemon { child, stderr })
}

#[test]
fn v4_mapped_peers_follow_allowed_hosts_on_api_and_nrpe() {
    let (api_port, nrpe_port) = (free_port(), free_port());
    let (_dir, daemon) = start(api_port, nrpe_port);
    let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let up = wait_until(Duration::from_secs(15), || {
        http_status(at("127.0.0.1", api_port)) == Some(200)
    });
    assert!(up, "smokerd did not come up:\n{}", daemon.stderr());
    // IPv4 clients of the dual-stack sockets: `127.0.0.1` and `::ffff:127.0.0.1`.
    for ip in ["127.0.0.1", "::ffff:127.0.0.1"] {
        assert_eq!(http_status(at(ip, api_port)), Some(200), "API from {ip}");
        assert_eq!(
            nrpe_reply(at(ip, nrpe_port)).as_deref(),
            Some("hello"),
            "NRPE from {ip}\n{}",
            daemon.stderr()
        );
    }
    // `::1` is not in allowed_hosts: closed before a byte, by both.
    assert!(
        exchange(at("::1", api_port), GET).is_empty(),
        "API served ::1"
    );
    assert_eq!(nrpe_reply(at("::1", nrpe_port)), None, "NRPE served ::1");
    // Each server still counts and logs its refusals as before.
    let refused = wait_until(Duration::from_secs(5), || {
        let metrics = exchange(
            at("127.0.0.1", api_port),
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        String::from_utf8_lossy(&metrics).contains("smoker_nrpe_rejected_total{reason=\"acl\"} 1")
    });
    assert!(refused, "the NRPE refusal was not counted");
    let log = daemon.stderr();
    assert!(
        log.contains("API: host is not allowed; connection closed."),
        "{log}"
    );
    assert!(
        log.contains("NRPE: Host ::1 is not allowed to talk to us!"),
        "{log}"
    );
}
