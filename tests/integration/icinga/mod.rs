//! Icinga 2 interop (issue 19, D15): the real Debian `icinga2` 2.13 daemon in the
//! foreground on a temp config (ApiListener on a free loopback port, certificates
//! made by openssl with the SAN a verifying client needs, an ApiUser with
//! `actions/process-check-result` only, a host and passive services, a
//! PerfdataWriter recording every result) receives from smokerd's `Icinga2`
//! action and from `smokercli send-icinga`; what Icinga holds is read back through
//! its own API.

mod cli;
mod daemon;

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{free_port, temp_dir, wait_until};

const ICINGA2: &str = "/usr/sbin/icinga2";
/// The ApiUser smoker posts as (`actions/process-check-result` only).
pub const USER: &str = "smoker";
pub const PASSWORD: &str = "s3cret-pass";
/// The ApiUser the tests read back with.
const READER: &str = "reader:r3ader";
pub const HOST: &str = "web-1";

/// A real icinga2 in the foreground; stopped on drop.
pub struct Icinga {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a node certificate for 127.0.0.1 under `dir/data/certs`; the CA also
/// at `dir/ca.crt`.
fn make_certs(dir: &Path) {
    let certs = dir.join("data/certs");
    std::fs::create_dir_all(&certs).unwrap();
    let days = ["-days", "3"];
    openssl(
        dir,
        &[
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            ][..],
            &["-out", "ca.crt", "-subj", "/CN=Smoker Test Icinga CA"],
            &days,
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "data/certs/icinga-test.key",
            "-out",
            "node.csr",
            "-subj",
            "/CN=icinga-test",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            &[
                "x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            ][..],
            &[
                "-CAcreateserial",
                "-out",
                "data/certs/icinga-test.crt",
                "-extfile",
                "san.ext",
            ],
            &days,
        ]
        .concat(),
    );
    std::fs::copy(dir.join("ca.crt"), certs.join("ca.crt")).unwrap();
    // A client certificate for the ApiUser with `client_cn`.
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=smoker-client",
        ],
    );
    openssl(
        dir,
        &[
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
            ][..],
            &["-CAcreateserial", "-out", "client.crt"],
            &days,
        ]
        .concat(),
    );
}

fn config(dir: &Path, port: u16, services: &[&str]) -> String {
    let d = dir.display();
    let mut cfg = format!(
        r#"const NodeName = "icinga-test"
const ZoneName = "icinga-test"
object Endpoint NodeName {{}}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
  accept_config = false
  accept_commands = false
}}
object ApiUser "{USER}" {{ password = "{PASSWORD}"; permissions = [ "actions/process-check-result" ] }}
object ApiUser "by-cert" {{ client_cn = "smoker-client"; permissions = [ "actions/process-check-result" ] }}
object ApiUser "reader" {{ password = "r3ader"; permissions = [ "objects/query/*" ] }}
object PerfdataWriter "record" {{
  host_perfdata_path = "{d}/perfdata/host"
  service_perfdata_path = "{d}/perfdata/service"
  host_temp_path = "{d}/tmp-host"
  service_temp_path = "{d}/tmp-service"
  host_format_template = "$host.name$\t$host.output$"
  service_format_template = "$service.name$\t$service.output$"
  rotation_interval = 1s
}}
object CheckCommand "passive" {{ command = [ "/bin/true" ] }}
object Host "{HOST}" {{ check_command = "passive"; enable_active_checks = false }}
"#
    );
    for s in services {
        cfg.push_str(&format!(
            "object Service \"{s}\" {{ host_name = \"{HOST}\"; check_command = \"passive\"; enable_active_checks = false }}\n"
        ));
    }
    cfg
}

impl Icinga {
    /// Starts icinga2 with `services` on `HOST` and waits until its API answers.
    pub fn start(services: &[&str]) -> Icinga {
        let dir = temp_dir();
        let port = free_port();
        make_certs(dir.path());
        for sub in ["log", "cache", "spool", "run/icinga2", "perfdata", "etc"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let cfg = config(dir.path(), port, services);
        std::fs::write(dir.path().join("etc/icinga2.conf"), cfg).unwrap();
        let mut icinga = Icinga {
            dir,
            port,
            child: None,
        };
        icinga.spawn();
        icinga
    }

    /// Starts (again) on the same directory and port.
    pub fn spawn(&mut self) {
        let d = self.dir.path().display().to_string();
        let defs = [
            format!("LogDir={d}/log"),
            format!("CacheDir={d}/cache"),
            format!("SpoolDir={d}/spool"),
            format!("InitRunDir={d}/run"),
            format!("DataDir={d}/data"),
            format!("ConfigDir={d}/etc"),
            "RunAsUser=root".into(),
            "RunAsGroup=root".into(),
        ];
        let mut cmd = Command::new(ICINGA2);
        cmd.arg("daemon")
            .arg("-c")
            .arg(format!("{d}/etc/icinga2.conf"));
        for def in &defs {
            cmd.arg("-D").arg(def);
        }
        let log = std::fs::File::create(self.dir.path().join("icinga2.out")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start icinga2");
        self.child = Some(child);
        let up = wait_until(Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.query("/v1/objects/hosts").is_some()
        });
        assert!(up, "icinga2 did not come up:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("icinga2.out")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// GET `path` as the reader; `None` unless 200 with JSON.
    pub fn query(&self, path: &str) -> Option<Value> {
        let out = Command::new("curl")
            .args(["-s", "-f", "--max-time", "10", "--cacert"])
            .arg(self.ca_file())
            .args(["-u", READER, "-H", "Accept: application/json"])
            .arg(format!("{}{path}", self.url()))
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// A service's `last_check_result` (null before the first) and `state`.
    pub fn service(&self, name: &str) -> (Value, Value) {
        let v = self
            .query(&format!(
                "/v1/objects/services/{HOST}!{name}?attrs=last_check_result&attrs=state"
            ))
            .unwrap_or(Value::Null);
        let attrs = &v["results"][0]["attrs"];
        (attrs["last_check_result"].clone(), attrs["state"].clone())
    }

    /// Waits until `name`'s last result satisfies `pred`; returns it.
    pub fn wait_service(
        &self,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (r, _) = self.service(name);
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: last result {r}; icinga log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every service output the PerfdataWriter recorded for `name`, in order.
    pub fn recorded(&self, name: &str) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("perfdata"))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            let ts = p
                .extension()
                .and_then(|e| e.to_str())
                .and_then(|e| e.parse::<u64>().ok());
            (ts.unwrap_or(u64::MAX), p.clone())
        });
        files.push(self.dir.path().join("tmp-service"));
        let mut out = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix(&format!("{name}\t")) {
                    out.push(rest.to_string());
                }
            }
        }
        out
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let stopped = wait_until(Duration::from_secs(20), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Icinga {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `actions:` entry of an `Icinga2` action named `icinga` posting to `icinga`.
pub fn action_yaml(icinga: &Icinga, extra: &str) -> String {
    format!(
        "actions:
  icinga:
    Icinga2:
      url: {url}
      user: {USER}
      password: {PASSWORD}
      ca_file: {ca}
      host_name: {HOST}
{extra}",
        url = icinga.url(),
        ca = icinga.ca_file().display()
    )
}
