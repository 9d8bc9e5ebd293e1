//! NRPE interop: the real Debian `check_nrpe` 4.1 against our NRPE server in
//! every mode, and the real `nrpe` 4.1 on the same config: both must give the
//! same outputs and exit codes (`-3` excepted: Debian's nrpe refuses v3).
//!
//! Our side is the real `smokerd` with an `nrpe:` section on free ports.

use std::{
    io::Read,
    net::TcpStream,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use smoker::config::{NrpeTls, nrpe::load_cfg};

use crate::common::{TestDaemon, free_port, wait_until};

const NRPE: &str = "/usr/sbin/nrpe";
const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";
const STOCK_CFG: &str = "/etc/nagios/nrpe.cfg";

pub(crate) fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A 0755 temp dir with `nrpe.cfg` (0644): `body` plus the port and users.
pub(crate) fn write_cfg(body: &str, port: u16) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("nrpe.cfg");
    let text = format!(
        "server_port={port}\nserver_address=127.0.0.1\nnrpe_user=nagios\nnrpe_group=nagios\n{body}"
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, path)
}

/// The real nrpe in the foreground, killed on drop.
struct RealNrpe {
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl RealNrpe {
    fn start(body: &str, plaintext: bool) -> RealNrpe {
        let port = free_port();
        let (dir, path) = write_cfg(body, port);
        let mut cmd = Command::new(NRPE);
        cmd.arg("-c").arg(&path).arg("-f");
        if plaintext {
            cmd.arg("-n");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nrpe");
        let server = RealNrpe {
            _dir: dir,
            port,
            child,
        };
        wait_listening(port, "nrpe");
        server
    }
}

impl Drop for RealNrpe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real smokerd with an `nrpe:` section, killed on drop.
struct Ours {
    _dir: Option<tempfile::TempDir>,
    port: u16,
    daemon: TestDaemon,
}

impl Ours {
    fn start(body: &str, tls: NrpeTls) -> Ours {
        let port = free_port();
        let (dir, path) = write_cfg(body, port);
        Ours::start_file(&path, port, tls, Some(dir))
    }

    fn start_file(path: &Path, port: u16, tls: NrpeTls, dir: Option<tempfile::TempDir>) -> Ours {
        let tls = match tls {
            NrpeTls::On => "on",
            NrpeTls::Off => "off",
            NrpeTls::Auto => "auto",
        };
        let yaml = format!(
            "nrpe:\n  config: {}\n  listen: \"127.0.0.1:{port}\"\n  tls: {tls}\n",
            path.display()
        );
        let daemon = TestDaemon::start(&yaml);
        wait_listening(port, "smokerd's NRPE server");
        Ours {
            _dir: dir,
            port,
            daemon,
        }
    }

    /// Waits until `/metrics` contains `needle` (counters move right after
    /// the connection closes).
    fn wait_metric(&self, needle: &str) {
        let mut last = String::new();
        let found = wait_until(Duration::from_secs(5), || {
            last = self.daemon.get("/metrics").body;
            last.contains(needle)
        });
        assert!(found, "no {needle} in\n{last}");
    }
}

/// Runs check_nrpe against `port`: (exit code, stdout). -1 = killed by a signal.
pub(crate) fn check_nrpe(port: u16, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(CHECK_NRPE)
        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-t", "15"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start check_nrpe");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("check_nrpe {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = reader.join().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out).into_owned(),
    )
}

/// Commands whose output does not depend on which server runs them.
const COMMANDS: &str = "\
command_timeout=2
command[hello]=echo 'hello world | t=1s;2;3'
command[multi]=printf 'WARN: two lines\\nsecond | x=1\\n'; exit 1
command[crit]=echo CRIT; exit 2
command[rc4]=echo four; exit 4
command[rc255]=echo big; exit 255
command[empty]=true
command[stderr]=echo only-stderr >&2; exit 1
command[two_nl]=printf 'a\\n\\n'
command[signal]=echo before; kill -9 $$$$
command[signal_silent]=kill -9 $$$$
command[env]=printenv NRPE_MULTILINESUPPORT NRPE_PROGRAMVERSION PATH IFS USER LOGNAME HOME; id -un; id -gn
command[dollar]=echo a$b c
command[macro]=echo $USER1$ x $ARG1$.
command[long]=yes x | tr -d '\\n' | head -c 70000
command[slow]=sleep 30
command[slow_talker]=echo started; sleep 30
";

const NAMES: [&str; 17] = [
    "hello",
    "multi",
    "crit",
    "rc4",
    "rc255",
    "empty",
    "stderr",
    "two_nl",
    "signal",
    "signal_silent",
    "env",
    "dollar",
    "macro",
    "slow",
    "slow_talker",
    "nope",
    "_NRPE_CHECK",
];

fn compare(ours: u16, real: u16, flags: &[&str], names: &[&str]) {
    for name in names {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["-c", name]);
        let a = check_nrpe(ours, &args);
        let b = check_nrpe(real, &args);
        assert_eq!(a, b, "check_nrpe {args:?}: ours (left) vs nrpe (right)");
    }
}

#[test]
fn same_as_real_nrpe_in_tls_mode() {
    let ours = Ours::start(COMMANDS, NrpeTls::On);
    let real = RealNrpe::start(COMMANDS, false);
    compare(ours.port, real.port, &[], &NAMES);
    compare(
        ours.port,
        real.port,
        &["-2"],
        &["hello", "multi", "rc4", "long", "nope"],
    );
    // Spot checks of what both said.
    assert_eq!(
        check_nrpe(ours.port, &["-c", "nope"]),
        (3, "NRPE: Command 'nope' not defined\n".into())
    );
    assert_eq!(
        check_nrpe(ours.port, &["-c", "slow"]),
        (3, "NRPE: Command timed out after 2 seconds\n".into())
    );
    assert_eq!(check_nrpe(ours.port, &[]), (0, "NRPE v4.1.0\n".into()));
}

#[test]
fn same_as_real_nrpe_in_plaintext_mode() {
    let ours = Ours::start(COMMANDS, NrpeTls::Off);
    let real = RealNrpe::start(COMMANDS, true);
    compare(
        ours.port,
        real.port,
        &["-n"],
        &[
            "hello",
            "multi",
            "rc255",
            "empty",
            "env",
            "nope",
            "_NRPE_CHECK",
        ],
    );
    compare(
        ours.port,
        real.port,
        &["-n", "-2"],
        &["hello", "long", "env"],
    );
}

#[test]
fn v3_and_long_output() {
    let ours = Ours::start(COMMANDS, NrpeTls::On);
    // Debian's nrpe refuses v3; check_nrpe 3.x clients get v3 answers from us.
    assert_eq!(
        check_nrpe(ours.port, &["-3", "-c", "hello"]),
        (0, "hello world | t=1s;2;3\n".into())
    );
    let (rc, out) = check_nrpe(ours.port, &["-c", "long"]);
    assert_eq!((rc, out.len()), (0, 65535 + 1));
    let (rc, out) = check_nrpe(ours.port, &["-2", "-c", "long"]);
    assert_eq!((rc, out.len()), (0, 1023 + 1));
}

#[test]
fn auto_mode_takes_tls_and_plaintext_on_one_port() {
    let ours = Ours::start(COMMANDS, NrpeTls::Auto);
    for flags in [&["-n"][..], &[], &["-2"], &["-n", "-2"]] {
        let mut args = flags.to_vec();
        args.extend(["-c", "hello"]);
        assert_eq!(
            check_nrpe(ours.port, &args),
            (0, "hello world | t=1s;2;3\n".into()),
            "{args:?}"
        );
    }
}

#[test]
fn disallowed_host_gets_no_answer() {
    let body = format!("{COMMANDS}allowed_hosts=10.9.8.7, 192.0.2.0/24,::2\n");
    let ours = Ours::start(&body, NrpeTls::On);
    let real = RealNrpe::start(&body, false);
    for port in [ours.port, real.port] {
        let (rc, out) = check_nrpe(port, &["-c", "hello"]);
        assert_ne!(rc, 0, "{out}");
        assert!(!out.contains("hello world"), "{out}");
    }
    ours.wait_metric("smoker_nrpe_rejected_total{reason=\"acl\"}");
}

const ARG_COMMANDS: &str = "\
dont_blame_nrpe=1
command[args]=echo \"[$ARG1$] [$ARG2$] [$ARG3$]\"
command[sixteen]=echo $ARG1$ $ARG16$ $ARG17$
";

#[test]
fn arguments_with_dont_blame_nrpe() {
    let ours = Ours::start(ARG_COMMANDS, NrpeTls::On);
    let run = |args: &[&str]| {
        let mut all = vec!["-c", "args", "-a"];
        all.extend_from_slice(args);
        check_nrpe(ours.port, &all)
    };
    assert_eq!(
        run(&["one", "two words"]),
        (0, "[one] [two words] []\n".into())
    );
    // An empty argument vanishes (strtok), later ones shift left.
    assert_eq!(run(&["a", "", "c"]), (0, "[a] [c] []\n".into()));
    // `$HOME` is handed to the shell raw, as nrpe does.
    let (rc, out) = run(&["$HOME"]);
    assert_eq!(rc, 0);
    assert!(!out.contains("$HOME") && out.starts_with("[/"), "{out}");
    let many: Vec<String> = (1..=17).map(|i| format!("a{i}")).collect();
    let mut all = vec!["-c", "sixteen", "-a"];
    all.extend(many.iter().map(String::as_str));
    assert_eq!(check_nrpe(ours.port, &all), (0, "a1 a16\n".into()));
    // Injection attempts are refused: the connection closes without a reply.
    for bad in [
        "x; id", "$(id)", "`id`", "a|b", "a>b", "a<b", "a&b", "a'b", "a\\b", "{a}", "[a]", "a\nid",
    ] {
        let (rc, out) = run(&[bad]);
        assert_eq!(rc, 3, "{bad:?}: {out}");
        assert!(out.starts_with("CHECK_NRPE: "), "{bad:?}: {out}");
    }
    ours.wait_metric("reason=\"metachars\"}");
    ours.wait_metric("reason=\"command_substitution\"}");
}

#[test]
fn arguments_refused_without_dont_blame_nrpe_like_nrpe() {
    let ours = Ours::start(COMMANDS, NrpeTls::On);
    let real = RealNrpe::start(COMMANDS, false);
    for port in [ours.port, real.port] {
        let (rc, out) = check_nrpe(port, &["-c", "hello", "-a", "x"]);
        assert_eq!(rc, 3, "{out}");
        assert!(out.starts_with("CHECK_NRPE: "), "{out}");
    }
}

#[test]
fn debian_stock_config_loads_and_its_commands_work() {
    let loaded = load_cfg(Path::new(STOCK_CFG)).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.commands.len(), 5);
    let port = free_port();
    let ours = Ours::start_file(Path::new(STOCK_CFG), port, NrpeTls::On, None);
    for (name, prefix) in [
        ("check_users", "USERS "),
        ("check_load", "LOAD "),
        ("check_total_procs", "PROCS "),
        ("check_zombie_procs", "PROCS "),
    ] {
        let (rc, out) = check_nrpe(ours.port, &["-c", name]);
        assert!((0..=2).contains(&rc), "{name}: {rc} {out}");
        assert!(out.starts_with(prefix), "{name}: {out}");
    }
}

/// PEM files of a test CA, a server and a client certificate.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use openssl::{
            asn1::Asn1Time,
            bn::BigNum,
            hash::MessageDigest,
            pkey::{PKey, Private},
            rsa::Rsa,
            x509::{
                X509, X509NameBuilder,
                extension::{BasicConstraints, KeyUsage},
            },
        };
        fn key() -> PKey<Private> {
            PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
        }
        fn cert(
            cn: &str,
            serial: u32,
            key: &PKey<Private>,
            issuer: Option<(&X509, &PKey<Private>)>,
        ) -> X509 {
            let mut name = X509NameBuilder::new().unwrap();
            name.append_entry_by_text("CN", cn).unwrap();
            let name = name.build();
            let mut b = X509::builder().unwrap();
            b.set_version(2).unwrap();
            b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
                .unwrap();
            b.set_subject_name(&name).unwrap();
            b.set_pubkey(key).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
                .unwrap();
            match issuer {
                None => {
                    b.set_issuer_name(&name).unwrap();
                    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                        .unwrap();
                    b.append_extension(
                        KeyUsage::new()
                            .critical()
                            .key_cert_sign()
                            .crl_sign()
                            .build()
                            .unwrap(),
                    )
                    .unwrap();
                    b.sign(key, MessageDigest::sha256()).unwrap();
                }
                Some((ca, ca_key)) => {
                    b.set_issuer_name(ca.subject_name()).unwrap();
                    b.append_extension(BasicConstraints::new().build().unwrap())
                        .unwrap();
                    b.sign(ca_key, MessageDigest::sha256()).unwrap();
                }
            }
            b.build()
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ca_key = key();
        let ca = cert("smoker test CA", 1, &ca_key, None);
        let write = |name: &str, pem: Vec<u8>| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        };
        write("ca.pem", ca.to_pem().unwrap());
        for (name, serial) in [("server", 2), ("client", 3)] {
            let k = key();
            let c = cert(&format!("{name}.test"), serial, &k, Some((&ca, &ca_key)));
            write(&format!("{name}.pem"), c.to_pem().unwrap());
            write(
                &format!("{name}.key"),
                k.private_key_to_pem_pkcs8().unwrap(),
            );
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

#[test]
fn certificate_mode_and_client_certificates() {
    let pki = Pki::new();
    let server_files = format!(
        "ssl_cert_file={}\nssl_privatekey_file={}\nssl_cacert_file={}\n",
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem")
    );
    let ca = pki.path("ca.pem");
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let hello = (0, "hello world | t=1s;2;3\n".to_string());

    // Server certificate, client certificates not asked for.
    let ours = Ours::start(&format!("{COMMANDS}{server_files}"), NrpeTls::On);
    assert_eq!(check_nrpe(ours.port, &["-c", "hello"]), hello);
    assert_eq!(check_nrpe(ours.port, &["-A", &ca, "-c", "hello"]), hello);
    assert_eq!(
        check_nrpe(ours.port, &["-d", "0", "-A", &ca, "-c", "hello"]),
        hello
    );

    // Client certificates required.
    let body = format!("{COMMANDS}{server_files}ssl_client_certs=2\n");
    let ours = Ours::start(&body, NrpeTls::On);
    let real = RealNrpe::start(&body, false);
    for port in [ours.port, real.port] {
        assert_eq!(
            check_nrpe(port, &["-C", &cert, "-K", &key, "-A", &ca, "-c", "hello"]),
            hello
        );
        let (rc, out) = check_nrpe(port, &["-A", &ca, "-c", "hello"]);
        assert_ne!(rc, 0, "{out}");
        assert!(!out.contains("hello world"), "{out}");
    }
    // A client certificate from another CA is refused.
    let other = Pki::new();
    let (rc, out) = check_nrpe(
        ours.port,
        &[
            "-C",
            &other.path("client.pem"),
            "-K",
            &other.path("client.key"),
            "-A",
            &ca,
            "-c",
            "hello",
        ],
    );
    assert_ne!(rc, 0, "{out}");
}

#[test]
fn anonymous_ecdh_when_adh_is_excluded() {
    // check_nrpe -d 0 only appends :!ADH; a cert-less server must still
    // answer through AECDH.
    let ours = Ours::start(COMMANDS, NrpeTls::On);
    let real = RealNrpe::start(COMMANDS, false);
    compare(ours.port, real.port, &["-d", "0"], &["hello"]);
    assert_eq!(
        check_nrpe(ours.port, &["-d", "0", "-c", "hello"]),
        (0, "hello world | t=1s;2;3\n".into())
    );
}

#[test]
fn stalled_client_is_dropped_after_connection_timeout() {
    let body = format!("{COMMANDS}connection_timeout=1\n");
    let ours = Ours::start(&body, NrpeTls::On);
    let start = Instant::now();
    let mut tcp = TcpStream::connect(("127.0.0.1", ours.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    // No handshake sent: the server gives up and closes.
    let n = tcp.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    ours.wait_metric("reason=\"timeout\"} 1");
}

#[test]
fn tls_mismatches_fail_like_nrpe() {
    let ours = Ours::start(COMMANDS, NrpeTls::On);
    let real = RealNrpe::start(COMMANDS, false);
    // A TLS 1.3-only client finds no anonymous suite; a plaintext client
    // talks to a TLS port. Both fail the same way against both servers.
    for flags in [&["-S", "TLSv1.3"][..], &["-n"], &["-S", "TLSv1.2+"]] {
        compare(ours.port, real.port, flags, &["hello"]);
    }
    let (rc, out) = check_nrpe(ours.port, &["-S", "TLSv1.3", "-c", "hello"]);
    assert_ne!(rc, 0, "{out}");
    let (rc, out) = check_nrpe(ours.port, &["-n", "-c", "hello"]);
    assert_eq!(rc, 3, "{out}");
}

#[test]
fn import_nrpe_prints_a_config_smokerd_accepts() {
    let smokerd = crate::common::bin("smokerd");
    let out = Command::new(&smokerd)
        .args(["import-nrpe", STOCK_CFG])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(
        yaml.contains("nrpe:\n  config: \"/etc/nagios/nrpe.cfg\"\n  tls: on\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("#   check_load (scheduled when `interval` is set): "),
        "{yaml}"
    );
    let dir = crate::common::temp_dir();
    let path = dir.path().join("smokerd.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let check = Command::new(&smokerd)
        .arg("check-config")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "OK: 5 plugins (0 scheduled), 0 actions, nrpe: 5 commands\n",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // A broken nrpe.cfg: exit 2, errors at file:line.
    let bad = dir.path().join("bad.cfg");
    std::fs::write(&bad, "server_port=80\n").unwrap();
    let out = Command::new(&smokerd)
        .arg("import-nrpe")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("bad.cfg:1: invalid value \"80\" for server_port"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reload_after_the_privilege_drop_keeps_a_root_only_key() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    // The key is root's (0600): after `uid: nobody` it cannot be read again, yet
    // a reload must still apply the new settings over TLS.
    let pki = Pki::new();
    std::fs::set_permissions(
        pki.path("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let port = free_port();
    let tls_files = format!(
        "ssl_cert_file={}\nssl_privatekey_file={}\n",
        pki.path("server.pem"),
        pki.path("server.key"),
    );
    let (dir, path) = write_cfg(&format!("command[hello]=/bin/echo one\n{tls_files}"), port);
    let daemon = TestDaemon::start(&format!(
        "uid: nobody\nnrpe:\n  config: {}\n  listen: \"127.0.0.1:{port}\"\n  tls: on\n",
        path.display()
    ));
    wait_listening(port, "smokerd's NRPE server");
    assert_eq!(check_nrpe(port, &["-c", "hello"]), (0, "one\n".to_string()));
    // A new command and a changed server setting: the server itself is rebuilt.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("echo one", "echo two")
        + "connection_timeout=301\n";
    std::fs::write(&path, text).unwrap();
    daemon.signal("HUP");
    let mut last = (0, String::new());
    assert!(
        wait_until(Duration::from_secs(10), || {
            last = check_nrpe(port, &["-c", "hello"]);
            last == (0, "two\n".to_string())
        }),
        "{last:?}\n{}",
        daemon.stderr()
    );
    assert!(
        daemon
            .stderr()
            .contains("keeping the previous TLS certificate and key"),
        "{}",
        daemon.stderr()
    );
    drop(dir);
}

#[test]
fn a_changed_listen_applies_on_reload_and_a_removed_section_stops_the_server() {
    let first = free_port();
    let (dir, path) = write_cfg("command[hello]=/bin/echo hello\n", first);
    let daemon = TestDaemon::start(&format!(
        "plugins:\n  a: {{Command: 'true'}}\nnrpe:\n  config: {}\n  listen: \"127.0.0.1:{first}\"\n  tls: off\n",
        path.display()
    ));
    wait_listening(first, "smokerd's NRPE server");
    assert_eq!(
        check_nrpe(first, &["-n", "-c", "hello"]),
        (0, "hello\n".to_string())
    );
    // A new port: bound on reload, the old one closed, nothing restarted.
    let second = free_port();
    let yaml = std::fs::read_to_string(&daemon.config).unwrap().replace(
        &format!("127.0.0.1:{first}"),
        &format!("127.0.0.1:{second}"),
    );
    std::fs::write(&daemon.config, yaml).unwrap();
    daemon.signal("HUP");
    wait_listening(second, "smokerd's NRPE server on the new port");
    assert_eq!(
        check_nrpe(second, &["-n", "-c", "hello"]),
        (0, "hello\n".to_string())
    );
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            first
        ))
        .is_err()),
        "the old port still listens\n{}",
        daemon.stderr()
    );
    // Without the nrpe: section the server stops.
    let yaml = std::fs::read_to_string(&daemon.config).unwrap();
    let yaml = yaml[..yaml.find("nrpe:").unwrap()].to_string();
    std::fs::write(&daemon.config, yaml).unwrap();
    daemon.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            second
        ))
        .is_err()),
        "the NRPE server still listens\n{}",
        daemon.stderr()
    );
    assert_eq!(daemon.get("/healthz").status, 200, "{}", daemon.stderr());
    drop(dir);
}

/// nrpe.cfg commands of the built-in set (issue 22), `{dir}` being the plugins'.
const BUILTIN_COMMANDS: &str = "\
dont_blame_nrpe=1
command[users]={dir}/check_users -w 5 -c 10
command[users_args]={dir}/check_users -w $ARG1$ -c $ARG2$
command[disk_missing]={dir}/check_disk -w 10% -c 5% -p /nonexistent/path
command[age_missing]={dir}/check_file_age -f /nonexistent/file
command[tcp_closed]={dir}/check_tcp -H 127.0.0.1 -p {closed}
command[load]={dir}/check_load -w 1000,1000,1000 -c 2000,2000,2000
command[disk]={dir}/check_disk -w 10% -c 5% -p /
command[procs]={dir}/check_procs -m RSS -w 100000 -c 200000 -C smokerd
";

/// With `nrpe: {builtins: true}`, commands whose plugin and flags are in the built-in
/// set answer check_nrpe as the real plugins behind the real nrpe do, though the
/// plugin path names no file (so no plugin ran); anything else still runs in a shell.
#[test]
fn builtins_behind_nrpe_commands_answer_like_the_plugins() {
    let closed = free_port().to_string();
    let commands = BUILTIN_COMMANDS.replace("{closed}", &closed);
    let real = RealNrpe::start(&commands.replace("{dir}", "/usr/lib/nagios/plugins"), false);
    let body = commands.replace("{dir}", "/nonexistent/plugins")
        + "command[shell]=/nonexistent/plugins/check_load -w 1 -c 2 | cat\n";
    let port = free_port();
    let (_dir, path) = write_cfg(&body, port);
    let yaml = format!(
        "nrpe:\n  config: {}\n  listen: \"127.0.0.1:{port}\"\n  builtins: true\n  interval: 3600\n",
        path.display()
    );
    let d = TestDaemon::start(&yaml);
    wait_listening(port, "smokerd's NRPE server");
    // Outputs that do not move between two reads: the whole reply.
    for name in ["users", "disk_missing", "age_missing", "tcp_closed"] {
        let args = ["-c", name];
        let ours = check_nrpe(port, &args);
        assert_eq!(ours, check_nrpe(real.port, &args), "{name}");
        assert!(!ours.1.starts_with("NRPE: "), "{name}: {ours:?}");
    }
    // $ARGn$ expanded into a built-in's flags (Debian's nrpe takes no arguments).
    assert_eq!(
        check_nrpe(port, &["-c", "users_args", "-a", "5", "10"]),
        check_nrpe(real.port, &["-c", "users"])
    );
    // Moving values: the exit code, the status line's head, the perfdata labels.
    let head = |out: &str| out.split([':', '-']).next().unwrap_or_default().to_string();
    let labels = |out: &str| {
        let perf = out.split('|').nth(1).unwrap_or_default();
        perf.split_whitespace()
            .map(|d| d.split('=').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    for name in ["load", "disk", "procs"] {
        let (ours, theirs) = (
            check_nrpe(port, &["-c", name]),
            check_nrpe(real.port, &["-c", name]),
        );
        assert_eq!(ours.0, theirs.0, "{name}: {ours:?} vs {theirs:?}");
        assert_eq!(
            head(&ours.1),
            head(&theirs.1),
            "{name}: {ours:?} vs {theirs:?}"
        );
        assert_eq!(
            labels(&ours.1),
            labels(&theirs.1),
            "{name}: {ours:?} vs {theirs:?}"
        );
    }
    // Shell syntax keeps the command a shell command (here: no such plugin).
    let (_, out) = check_nrpe(port, &["-c", "shell"]);
    assert!(!out.starts_with("LOAD"), "{out}");
    // The scheduled checks of those commands run the built-in too.
    d.force(&["users", "shell"]);
    let users = d.last_result("users");
    assert_eq!(users["state"], "OK", "{users}");
    assert!(d.last_result("shell")["output"] != users["output"]);
}
