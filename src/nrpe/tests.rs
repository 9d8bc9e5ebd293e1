//! The server in-process against the real `check_nrpe` and raw packets.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use smoker_compat::{
    nrpe_cfg::{self, AllowedHost},
    nrpe_packet::{self, QUERY, Version},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    time::timeout,
};

use super::*;

const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";

struct Running {
    port: u16,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A bridge for `cfg` (written into `dir`) listening on `listen`.
fn bridge(dir: &Path, cfg: &str, tls: NrpeTls, listen: Vec<SocketAddr>) -> Arc<NrpeBridge> {
    let path = dir.join("nrpe.cfg");
    std::fs::write(&path, cfg).unwrap();
    let loaded = nrpe_cfg::load(&path.to_string_lossy(), &mut crate::config::nrpe::FsLoader)
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(NrpeBridge {
        config_path: PathBuf::from(&path),
        config: Arc::new(loaded.config),
        listen,
        tls,
        interval: None,
        builtins: false,
        warnings: loaded.warnings,
    })
}

async fn start(cfg: &str, tls: NrpeTls) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bridge = bridge(dir.path(), cfg, tls, vec![listener.local_addr().unwrap()]);
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_on(
        vec![listener],
        bridge,
        Arc::new(Executor::new(None)),
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        port,
        metrics,
        stop: Some(stop),
        _dir: dir,
    }
}

/// Runs check_nrpe; returns (exit code, stdout).
async fn check_nrpe(port: u16, args: &[&str]) -> (i32, String) {
    let child = tokio::process::Command::new(CHECK_NRPE)
        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-t", "20"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = timeout(Duration::from_secs(30), child)
        .await
        .expect("check_nrpe hung")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const CFG: &str = "\
command[hello]=echo 'hello world | t=1s'
command[warn]=printf 'WARN: two lines\\nsecond\\n'; exit 1
command[rc7]=echo odd; exit 7
command[empty]=true
command[long]=yes x | tr -d '\\n' | head -c 70000
command[slow]=sleep 30
command[env]=printenv NRPE_MULTILINESUPPORT NRPE_PROGRAMVERSION PATH IFS
command[args]=echo \"[$ARG1$] [$ARG2$] [$ARG3$]\"
";

#[tokio::test]
async fn default_tls_mode_with_real_check_nrpe() {
    let s = start(CFG, NrpeTls::On).await;
    assert_eq!(
        check_nrpe(s.port, &["-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    assert_eq!(check_nrpe(s.port, &[]).await, (0, "NRPE v4.1.0\n".into()));
    assert_eq!(
        check_nrpe(s.port, &["-c", "warn"]).await,
        (1, "WARN: two lines\nsecond\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-c", "rc7"]).await,
        (3, "odd\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-c", "empty"]).await,
        (3, "NRPE: Unable to read output\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-c", "nope"]).await,
        (3, "NRPE: Command 'nope' not defined\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-c", "env"]).await,
        (0, format!("1\n4.1.0\n{CHILD_PATH}\n \t\n\n"))
    );
    // v2 fallback after -2 and the -3 path.
    assert_eq!(
        check_nrpe(s.port, &["-2", "-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-3", "-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    // Long output: v4 carries 65535 bytes, v2 1023.
    let (rc, out) = check_nrpe(s.port, &["-c", "long"]).await;
    assert_eq!((rc, out.len()), (0, 65536));
    let (rc, out) = check_nrpe(s.port, &["-2", "-c", "long"]).await;
    assert_eq!((rc, out.len()), (0, 1024));
}

#[tokio::test]
async fn plaintext_and_auto_modes() {
    let off = start(CFG, NrpeTls::Off).await;
    assert_eq!(
        check_nrpe(off.port, &["-n", "-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    let (rc, _) = check_nrpe(off.port, &["-c", "hello"]).await;
    assert_ne!(rc, 0, "a TLS client must fail against a plain server");

    let auto = start(CFG, NrpeTls::Auto).await;
    assert_eq!(
        check_nrpe(auto.port, &["-n", "-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    assert_eq!(
        check_nrpe(auto.port, &["-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
    assert_eq!(
        check_nrpe(auto.port, &["-n", "-2", "-c", "hello"]).await,
        (0, "hello world | t=1s\n".into())
    );
}

#[tokio::test]
async fn timeout_and_arguments() {
    let cfg = format!("{CFG}command_timeout=1\ndont_blame_nrpe=1\n");
    let s = start(&cfg, NrpeTls::Off).await;
    assert_eq!(
        check_nrpe(s.port, &["-n", "-c", "slow"]).await,
        (3, "NRPE: Command timed out after 1 seconds\n".into())
    );
    assert_eq!(
        check_nrpe(s.port, &["-n", "-c", "args", "-a", "a b", "", "c"]).await,
        (0, "[a b] [c] []\n".into())
    );
    // Injection attempts: refused, so check_nrpe sees a closed connection.
    for bad in ["x;id", "$(id)", "`id`", "a|b", "a>b"] {
        let (rc, out) = check_nrpe(s.port, &["-n", "-c", "args", "-a", bad]).await;
        assert_eq!(rc, 3, "{bad}: {out}");
        assert!(out.starts_with("CHECK_NRPE: "), "{bad}: {out}");
    }
    // `$HOME` is passed raw and expanded by the shell, as nrpe does.
    let (rc, out) = check_nrpe(s.port, &["-n", "-c", "args", "-a", "$HOME"]).await;
    assert_eq!(rc, 0);
    assert!(!out.contains("$HOME"), "{out}");
}

#[tokio::test]
async fn args_are_refused_by_default() {
    let s = start(CFG, NrpeTls::Off).await;
    let (rc, out) = check_nrpe(s.port, &["-n", "-c", "args", "-a", "x"]).await;
    assert_eq!(rc, 3, "{out}");
    assert!(out.starts_with("CHECK_NRPE: "), "{out}");
}

#[tokio::test]
async fn disallowed_host_is_closed_silently() {
    let cfg = format!("{CFG}allowed_hosts=10.1.2.3,::2\n");
    let s = start(&cfg, NrpeTls::On).await;
    // check_nrpe fails in the handshake (rc 2, or killed by SIGPIPE).
    let (rc, out) = check_nrpe(s.port, &["-c", "hello"]).await;
    assert_ne!(rc, 0, "{out}");
    assert!(!out.contains("hello"), "{out}");
    let text = s.metrics.render(false);
    assert!(
        text.contains("smoker_nrpe_rejected_total{reason=\"acl\"} "),
        "{text}"
    );
    let allowed_cfg = format!("{CFG}allowed_hosts=127.0.0.0/8\n");
    let s = start(&allowed_cfg, NrpeTls::On).await;
    assert_eq!(check_nrpe(s.port, &["-c", "hello"]).await.0, 0);
}

async fn raw(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = tcp.write_all(bytes).await;
    let _ = tcp.shutdown().await;
    let mut out = Vec::new();
    let _ = timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .expect("server kept the connection open");
    out
}

#[tokio::test]
async fn raw_packets() {
    let s = start(CFG, NrpeTls::Off).await;
    // A good v2 query answers in v2.
    let reply = raw(
        s.port,
        &nrpe_packet::encode(Version::V2, QUERY, 0, b"hello"),
    )
    .await;
    let p = nrpe_packet::decode(&reply).unwrap();
    assert_eq!((p.version, p.result_code), (Version::V2, 0));
    assert_eq!(p.buffer, b"hello world | t=1s");
    // v3 with its 3 pad bytes answers in v3.
    let reply = raw(
        s.port,
        &nrpe_packet::encode(Version::V3, QUERY, 0, b"hello"),
    )
    .await;
    assert_eq!(nrpe_packet::decode(&reply).unwrap().version, Version::V3);
    // Bad CRC, short packet, bad version, huge buffer_length, response type,
    // empty query: closed, no reply.
    let mut bad_crc = nrpe_packet::encode(Version::V4, QUERY, 0, b"hello");
    bad_crc[20] ^= 1;
    let short = nrpe_packet::encode(Version::V2, QUERY, 0, b"hello")[..1000].to_vec();
    let mut v5 = nrpe_packet::encode(Version::V4, QUERY, 0, b"hello");
    v5[1] = 5;
    let mut huge = nrpe_packet::encode(Version::V4, QUERY, 0, b"hello");
    huge[12..16].copy_from_slice(&65537i32.to_be_bytes());
    let response = nrpe_packet::encode(Version::V4, nrpe_packet::RESPONSE, 0, b"hello");
    let empty = nrpe_packet::encode(Version::V4, QUERY, 0, b"");
    let meta = nrpe_packet::encode(Version::V4, QUERY, 0, b"hello;id");
    for bytes in [bad_crc, short, v5, huge, response, empty, meta] {
        assert!(raw(s.port, &bytes).await.is_empty());
    }
    let text = s.metrics.render(false);
    assert!(text.contains("reason=\"crc\"} 1"), "{text}");
    assert!(text.contains("reason=\"metachars\"} 1"), "{text}");
}

#[test]
fn child_environment() {
    let c = NrpeConfig {
        keep_env_vars: vec!["LANG".into(), "MY_".into()],
        ..NrpeConfig::default()
    };
    let daemon = [
        ("LANG", "C.UTF-8"),
        ("MY_A", "1"),
        ("SECRET", "x"),
        ("PATH", "/opt"),
        ("HOME", "/root"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let env = child_env(
        &c,
        Some(&Principal::Name("nagios".into())),
        daemon.into_iter(),
    );
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("NRPE_MULTILINESUPPORT"), Some("1"));
    assert_eq!(get("NRPE_PROGRAMVERSION"), Some(NRPE_VERSION));
    assert_eq!(get("LANG"), Some("C.UTF-8"));
    assert_eq!(get("MY_A"), Some("1"));
    assert_eq!(get("SECRET"), None);
    assert_eq!(get("PATH"), Some(CHILD_PATH));
    assert_eq!(get("IFS"), Some(" \t\n"));
    assert_eq!(get("USER"), Some("nagios"));
    assert_eq!(get("LOGNAME"), Some("nagios"));
    assert!(get("HOME").is_some_and(|h| h != "/root"));
}

#[tokio::test]
async fn acl_matching() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let allowed = |hosts: Option<&[AllowedHost]>, ip: IpAddr| {
        let hosts = AllowedHosts::from_entries(hosts.map(<[_]>::to_vec));
        async move { hosts.allows(ip).await }
    };
    assert!(allowed(None, ip("192.0.2.1")).await);
    let hosts = vec![
        AllowedHost::V4 {
            net: "10.0.0.0".parse().unwrap(),
            prefix: 8,
        },
        AllowedHost::Name("localhost".into()),
    ];
    assert!(allowed(Some(&hosts), ip("10.9.9.9")).await);
    assert!(allowed(Some(&hosts), ip("127.0.0.1")).await);
    assert!(!allowed(Some(&hosts), ip("192.0.2.1")).await);
    // An IPv4-mapped peer (a dual-stack `::` listener) is its IPv4 address, as for
    // the API (issue 15): nrpe itself only ever sees one on a socket it did not bind.
    assert!(allowed(Some(&hosts), ip("::ffff:10.0.0.1")).await);
    assert!(!allowed(Some(&hosts), ip("::ffff:192.0.2.1")).await);
    assert!(!allowed(Some(&[]), ip("127.0.0.1")).await);
}

#[tokio::test]
async fn max_commands_bounds_concurrent_children() {
    let cfg = "max_commands=1\ncommand[nap]=sleep 0.4; echo rested\n";
    let s = start(cfg, NrpeTls::Off).await;
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(
        check_nrpe(s.port, &["-n", "-c", "nap"]),
        check_nrpe(s.port, &["-n", "-c", "nap"])
    );
    assert_eq!(a, (0, "rested\n".into()));
    assert_eq!(b, (0, "rested\n".into()));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(790), "{took:?}");
}

/// The query `hello` as a plain v2 packet to `port`: the reply's text, if any.
async fn hello(port: u16) -> Option<String> {
    let reply = raw(port, &nrpe_packet::encode(Version::V2, QUERY, 0, b"hello")).await;
    let p = nrpe_packet::decode(&reply).ok()?;
    Some(String::from_utf8_lossy(&p.buffer).into_owned())
}

#[tokio::test]
async fn listener_sets_swap_and_updates_apply_to_every_set() {
    let dir = tempfile::tempdir().unwrap();
    let bind_set = || {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let b = bridge(
            dir.path(),
            "command[hello]=echo one\n",
            NrpeTls::Off,
            vec![addr],
        );
        let listeners = bind(&b).unwrap();
        let port = listeners[0].local_addr().unwrap().port();
        (b, listeners, port)
    };
    let (first, listeners, old_port) = bind_set();
    let executor: Arc<dyn HasExecutor> = Arc::new(Executor::new(None));
    let server = NrpeServer::new(first, None, executor, Arc::new(Metrics::new()));
    let old_stop = CancellationToken::new();
    let old = tokio::spawn({
        let server = server.clone();
        let stop = old_stop.clone();
        async move { server.serve(listeners, stop).await }
    });
    assert_eq!(hello(old_port).await.as_deref(), Some("one"));
    // A reload with new listen addresses: the new set is bound first, served
    // next to the old one, then the old one stops.
    let (moved, listeners, new_port) = bind_set();
    let new_stop = CancellationToken::new();
    let new = tokio::spawn({
        let server = server.clone();
        let stop = new_stop.clone();
        async move { server.serve(listeners, stop).await }
    });
    old_stop.cancel();
    timeout(Duration::from_secs(5), old).await.unwrap().unwrap();
    assert!(TcpStream::connect(("127.0.0.1", old_port)).await.is_err());
    assert_eq!(hello(new_port).await.as_deref(), Some("one"));
    // A changed command applies to the set being served.
    let listen = moved.listen.clone();
    server.update(bridge(
        dir.path(),
        "command[hello]=echo two\n",
        NrpeTls::Off,
        listen,
    ));
    assert_eq!(hello(new_port).await.as_deref(), Some("two"));
    new_stop.cancel();
    timeout(Duration::from_secs(5), new).await.unwrap().unwrap();
}

#[test]
fn ipv6_sockets_are_v6_only_beside_ipv4_and_a_lone_wildcard_is_dual_stack() {
    let a = |s: &str| s.parse::<SocketAddr>().unwrap();
    // nrpe's default pair: `::` leaves IPv4 to `0.0.0.0`.
    let pair = [a("0.0.0.0:5666"), a("[::]:5666")];
    assert!(v6only(&pair[1], &pair));
    // `server_address=::`: IPv4 clients too, as v4-mapped peers.
    assert!(!v6only(&a("[::]:5666"), &[a("[::]:5666")]));
    // An IPv4 address on another port does not share the socket's port.
    assert!(!v6only(
        &a("[::]:5666"),
        &[a("[::]:5666"), a("127.0.0.1:5667")]
    ));
    assert!(v6only(&a("[::1]:5666"), &[a("[::1]:5666")]));
}
