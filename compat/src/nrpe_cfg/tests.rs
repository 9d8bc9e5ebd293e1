//! Tests of nrpe.cfg parsing: directives, includes, errors, `allowed_hosts`.

use super::allowed_hosts::mask32;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Default)]
struct Mem {
    files: BTreeMap<String, String>,
    dirs: BTreeMap<String, Vec<DirEntry>>,
}

impl Mem {
    fn file(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
    fn dir(mut self, path: &str, entries: &[(&str, EntryKind)]) -> Self {
        let list = entries
            .iter()
            .map(|(n, k)| DirEntry {
                name: (*n).into(),
                kind: *k,
            })
            .collect();
        self.dirs.insert(path.into(), list);
        self
    }
}

impl Loader for Mem {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, std::io::Error> {
        self.files
            .get(path)
            .map(|t| t.as_bytes().to_vec())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, std::io::Error> {
        self.dirs
            .get(path.trim_end_matches('/'))
            .cloned()
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
    }
}

fn ok(text: &str) -> Loaded {
    parse_str("/etc/nrpe.cfg", text).unwrap_or_else(|e| panic!("{e}"))
}

fn errs(text: &str) -> Vec<String> {
    match parse_str("/etc/nrpe.cfg", text) {
        Ok(l) => panic!("expected errors, got {:?}", l.config),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const DEBIAN: &str = "\
# comment
log_facility=daemon
debug=0
pid_file=/run/nagios/nrpe.pid
server_port=5666
nrpe_user=nagios
nrpe_group=nagios
allowed_hosts=127.0.0.1,::1
dont_blame_nrpe=0
allow_bash_command_substitution=0
command_timeout=60
connection_timeout=300
disable_syslog=0
command[check_users]=/usr/lib/nagios/plugins/check_users -w 5 -c 10
command[check_load]=/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20
command[check_hda1]=/usr/lib/nagios/plugins/check_disk -w 20% -c 10% -p /dev/hda1
command[check_zombie_procs]=/usr/lib/nagios/plugins/check_procs -w 5 -c 10 -s Z
command[check_total_procs]=/usr/lib/nagios/plugins/check_procs -w 150 -c 200
include=/etc/nagios/nrpe_local.cfg
include_dir=/etc/nagios/nrpe.d/
";

#[test]
fn debian_stock_config() {
    let mut mem = Mem::default()
        .file("/etc/nagios/nrpe.cfg", DEBIAN)
        .file("/etc/nagios/nrpe_local.cfg", "# empty\n")
        .dir("/etc/nagios/nrpe.d", &[]);
    let loaded = load("/etc/nagios/nrpe.cfg", &mut mem).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(c.server_port, 5666);
    assert_eq!(c.pid_file.as_deref(), Some("/run/nagios/nrpe.pid"));
    assert_eq!(c.nrpe_user.as_deref(), Some("nagios"));
    assert_eq!(
        c.allowed_hosts,
        Some(vec![
            AllowedHost::V4 {
                net: Ipv4Addr::LOCALHOST,
                prefix: 32
            },
            AllowedHost::V6 {
                net: Ipv6Addr::LOCALHOST,
                prefix: 128
            },
        ])
    );
    assert_eq!(c.commands.len(), 5);
    assert_eq!(c.commands[1].name, "check_load");
    assert_eq!(
        c.commands[1].line,
        "/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20"
    );
    assert_eq!(c.commands[1].line_no, 15);
    assert_eq!(
        loaded.files,
        ["/etc/nagios/nrpe.cfg", "/etc/nagios/nrpe_local.cfg"]
    );
}

#[test]
fn defaults() {
    let c = ok("").config;
    assert_eq!(c, NrpeConfig::default());
    assert_eq!(c.command_timeout, 60);
    assert_eq!(c.connection_timeout, 300);
    assert_eq!(c.nasty_metachars, "|`&><'\\[]{};\r\n");
    assert_eq!(c.ssl_cipher_list, "ALL:!MD5:@STRENGTH:@SECLEVEL=0");
    assert!(c.ssl_enabled);
    assert_eq!(c.allowed_hosts, None);
}

#[test]
fn every_directive() {
    let c = ok("log_facility=local3\nlog_file=/tmp/n.log\ndisable_syslog=1\ndebug=1\n\
         server_address=::1\naddress_family=6\nlisten_queue_size=9\n\
         dont_blame_nrpe=1\nallow_bash_command_substitution=1\ncommand_prefix=/usr/bin/sudo\n\
         command_timeout=5\nconnection_timeout=7\nssl_shutdown_timeout=3\nmax_commands=4\n\
         allow_weak_random_seed=1\nkeep_env_vars=LANG, LC_ , ,TZ\nssl_enabled=0\nssl_version=TLSv1.2+\n\
         ssl_use_adh=2\nssl_cipher_list=HIGH\nssl_cacert_file=/ca.pem\nssl_cert_file=/c.pem\n\
         ssl_privatekey_file=/k.pem\nssl_client_certs=2\nssl_logging=0x1f\n")
    .config;
    assert_eq!(c.log_facility, "local3");
    assert_eq!(c.log_file.as_deref(), Some("/tmp/n.log"));
    assert!(c.disable_syslog && c.debug && c.dont_blame_nrpe && c.allow_bash_command_substitution);
    assert_eq!(c.server_address.as_deref(), Some("::1"));
    assert_eq!(c.address_family, AddressFamily::V6);
    assert_eq!(c.listen_queue_size, 9);
    assert_eq!(c.command_prefix.as_deref(), Some("/usr/bin/sudo"));
    assert_eq!(
        (
            c.command_timeout,
            c.connection_timeout,
            c.ssl_shutdown_timeout
        ),
        (5, 7, 3)
    );
    assert_eq!(c.max_commands, 4);
    assert!(c.allow_weak_random_seed);
    assert_eq!(c.keep_env_vars, ["LANG", "LC_", "TZ"]);
    assert!(!c.ssl_enabled);
    assert_eq!(
        c.ssl_version,
        SslVersion {
            version: TlsVersion::Tls1_2,
            or_higher: true
        }
    );
    assert_eq!(
        (c.ssl_use_adh, c.ssl_client_certs, c.ssl_logging),
        (2, 2, 31)
    );
    assert_eq!(c.ssl_cipher_list, "HIGH");
    assert_eq!(c.ssl_cacert_file.as_deref(), Some("/ca.pem"));
    assert_eq!(c.ssl_cert_file.as_deref(), Some("/c.pem"));
    assert_eq!(c.ssl_privatekey_file.as_deref(), Some("/k.pem"));
    assert_eq!(ok("ssl_logging=-1").config.ssl_logging, -1);
    assert!(!ok("ssl_version=TLSv1.3").config.ssl_version.or_higher);
}

// §6 item 14.
#[test]
fn values_crlf_duplicates() {
    let loaded = ok("command[a]=echo x=y\r\n  command[b] = echo b  \r\ncommand[a]=echo second\r\n");
    let c = &loaded.config;
    assert_eq!(c.commands.len(), 2);
    assert_eq!(c.command("a").map(|c| c.line.as_str()), Some("echo second"));
    assert_eq!(c.command("a").map(|c| c.line_no), Some(3));
    assert_eq!(c.command("b").map(|c| c.line.as_str()), Some("echo b"));
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].message.contains("redefined"),
        "{:?}",
        loaded.warnings
    );
    assert!(c.command("a").is_some_and(|c| !c.uses_args()));
    assert!(ok("command[x]=echo $ARG1$").config.commands[0].uses_args());
}

#[test]
fn errors_carry_file_and_line_and_are_all_reported() {
    let e = errs(
        "server_port=80\n\nbogus line\ncommand_timeout=0\ncommand[]=x\nallowed_hosts=\ndebug=yes\n",
    );
    assert_eq!(
        e,
        [
            "/etc/nrpe.cfg:1: invalid value \"80\" for server_port: must be 1024..65535",
            "/etc/nrpe.cfg:3: line is not `name=value`",
            "/etc/nrpe.cfg:4: invalid value \"0\" for command_timeout: must be at least 1",
            "/etc/nrpe.cfg:5: invalid command definition",
            "/etc/nrpe.cfg:6: no value given for allowed_hosts",
            "/etc/nrpe.cfg:7: invalid value \"yes\" for debug: must be 0 or 1",
        ]
    );
    assert_eq!(errs("log_facility=nope").len(), 1);
    assert_eq!(errs("ssl_version=SSLv3").len(), 1);
    assert_eq!(errs("max_commands=-1").len(), 1);
    assert_eq!(errs("command[x=y").len(), 1);
}

#[test]
fn unknown_directives_warn() {
    let loaded = ok("frobnicate=1\nserver_port=5667\n");
    assert_eq!(loaded.config.server_port, 5667);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(
        loaded.warnings[0].to_string(),
        "/etc/nrpe.cfg:1: unknown directive \"frobnicate\" ignored"
    );
    // nrpe's quirk: names containing "debug" set debug.
    assert!(ok("my_debug=1").config.debug);
}

#[test]
fn includes_relative_recursive_sorted_and_missing() {
    let mut mem = Mem::default()
        .file(
            "/e/nrpe.cfg",
            "include=local.cfg\ninclude_dir=d\ninclude=/missing.cfg\ncommand[last]=true\n",
        )
        .file("/e/local.cfg", "command[local]=true\n")
        .dir(
            "/e/d",
            &[
                ("b.cfg", EntryKind::File),
                ("a.cfg", EntryKind::File),
                ("notes.txt", EntryKind::File),
                ("sub", EntryKind::Dir),
                (".hidden", EntryKind::Dir),
                ("x.cfg", EntryKind::Other),
            ],
        )
        .file("/e/d/a.cfg", "command[a]=true\n")
        .file("/e/d/b.cfg", "command[b]=true\n")
        .dir("/e/d/sub", &[("c.cfg", EntryKind::File)])
        .file("/e/d/sub/c.cfg", "command[c]=true\r\n")
        .dir("/e/d/.hidden", &[("h.cfg", EntryKind::File)])
        .file("/e/d/.hidden/h.cfg", "command[hidden]=true\n");
    let loaded = load("/e/nrpe.cfg", &mut mem).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = loaded
        .config
        .commands
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["local", "a", "b", "c", "last"]);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0]
            .to_string()
            .starts_with("/e/nrpe.cfg:3: cannot read include file /missing.cfg")
    );
    assert_eq!(
        loaded.config.command("c").map(|c| c.file.as_str()),
        Some("/e/d/sub/c.cfg")
    );
}

#[test]
fn include_cycles_are_errors() {
    let mut mem = Mem::default()
        .file("/a.cfg", "include=/b.cfg\n")
        .file("/b.cfg", "server_port=5667\ninclude=/a.cfg\n");
    let e = load("/a.cfg", &mut mem).map(|_| ()).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(
        e.0[0].to_string(),
        "/b.cfg:2: include cycle: /a.cfg is already being read"
    );
    let mut mem = Mem::default().file("/a.cfg", "include=/a.cfg\n");
    assert!(load("/a.cfg", &mut mem).is_err());
    // A file included twice (not nested) is fine.
    let mut mem = Mem::default()
        .file("/a.cfg", "include=/b.cfg\ninclude=/b.cfg\n")
        .file("/b.cfg", "command[b]=true\n");
    assert!(load("/a.cfg", &mut mem).is_ok());
    let e = load("/nope.cfg", &mut Mem::default())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.0[0].line, 0);
}

#[test]
fn include_dir_cycle_through_canonical_names() {
    struct Loop;
    impl Loader for Loop {
        fn read(&mut self, _: &str) -> Result<Vec<u8>, std::io::Error> {
            Err(std::io::Error::other("none"))
        }
        fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, std::io::Error> {
            Ok(vec![DirEntry {
                name: "self".into(),
                kind: EntryKind::Dir,
            }])
        }
        fn canonical(&mut self, path: &str) -> String {
            path.trim_end_matches("/self").to_string()
        }
    }
    let e = load(
        "/x.cfg",
        &mut Mem::default().file("/x.cfg", "include_dir=/d\n"),
    );
    assert!(e.is_ok());
    struct Wrap(Mem, Loop);
    impl Loader for Wrap {
        fn read(&mut self, p: &str) -> Result<Vec<u8>, std::io::Error> {
            self.0.read(p)
        }
        fn list_dir(&mut self, p: &str) -> Result<Vec<DirEntry>, std::io::Error> {
            self.1.list_dir(p)
        }
        fn canonical(&mut self, p: &str) -> String {
            self.1.canonical(p)
        }
    }
    let e = load(
        "/x.cfg",
        &mut Wrap(Mem::default().file("/x.cfg", "include_dir=/d\n"), Loop),
    );
    let errors = e.map(|_| ()).unwrap_err();
    assert!(
        matches!(errors.0[0].kind, CfgErrorKind::Cycle(_)),
        "{errors}"
    );
}

#[test]
fn metachar_escapes() {
    assert_eq!(
        unescape_c(r#"\n\r\t\\\'\"\a\b\f\v\?"#),
        "\n\r\t\\'\"\x07\x08\x0c\x0b?"
    );
    assert_eq!(unescape_c(r"a\101\x42;"), "aAB;");
    assert_eq!(unescape_c(r"|`&\"), "|`&\\");
    assert_eq!(unescape_c(r"\q"), "q");
    assert_eq!(
        ok(r"nasty_metachars=|\n\r;").config.nasty_metachars,
        "|\n\r;"
    );
}

// §6 item 13.
#[test]
fn allowed_hosts_entries() {
    let loaded = ok(
        "allowed_hosts= 10.0.0.0/8 ,,192.168.1.5/24, 0.0.0.0/0,1.2.3.4/32,fd00::/64,fd00::1/64,nagios.example.com, ,bad host,1.2.3.4/33,300.1.1.1\n",
    );
    let hosts = loaded.config.allowed_hosts.clone().unwrap_or_default();
    assert_eq!(
        hosts,
        [
            AllowedHost::V4 {
                net: Ipv4Addr::new(10, 0, 0, 0),
                prefix: 8
            },
            AllowedHost::V4 {
                net: Ipv4Addr::UNSPECIFIED,
                prefix: 0
            },
            AllowedHost::V4 {
                net: Ipv4Addr::new(1, 2, 3, 4),
                prefix: 32
            },
            AllowedHost::V6 {
                net: "fd00::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                prefix: 64
            },
            AllowedHost::Name("nagios.example.com".into()),
        ]
    );
    assert_eq!(loaded.warnings.len(), 5, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("host bits"));

    let ip = |s: &str| {
        s.parse::<IpAddr>()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    };
    assert!(hosts[0].matches(ip("10.255.0.1")));
    assert!(!hosts[0].matches(ip("11.0.0.1")));
    assert!(hosts[1].matches(ip("203.0.113.9")));
    assert!(!hosts[1].matches(ip("::1")));
    assert!(hosts[2].matches(ip("1.2.3.4")) && !hosts[2].matches(ip("1.2.3.5")));
    assert!(hosts[3].matches(ip("fd00::abcd")) && !hosts[3].matches(ip("fd01::1")));
    // IPv4-mapped IPv6 peers only match IPv6 entries.
    assert!(!hosts[0].matches(ip("::ffff:10.0.0.1")));
    assert!(!hosts[4].matches(ip("10.0.0.1")));
    assert_eq!(hosts[0].to_string(), "10.0.0.0/8");
    assert_eq!(hosts[2].to_string(), "1.2.3.4");

    // All entries invalid → set but empty: deny everyone.
    assert_eq!(
        ok("allowed_hosts=1.2.3.4/99").config.allowed_hosts,
        Some(vec![])
    );
}

struct Anything(String);
impl Loader for Anything {
    fn read(&mut self, _: &str) -> Result<Vec<u8>, std::io::Error> {
        Ok(self.0.as_bytes().to_vec())
    }
    fn list_dir(&mut self, _: &str) -> Result<Vec<DirEntry>, std::io::Error> {
        Ok(vec![DirEntry {
            name: "x.cfg".into(),
            kind: EntryKind::File,
        }])
    }
}

proptest! {
    #[test]
    fn never_panics(text in "[a-z_\\[\\]=#/\\\\.,: 0-9\r\n-]{0,200}") {
        let _ = parse_str("/f.cfg", &text);
        let _ = load("/f.cfg", &mut Anything(text.clone()));
    }

    #[test]
    fn never_panics_any(text in any::<String>()) {
        let _ = parse_str("/f.cfg", &text);
        let _ = unescape_c(&text);
        let _ = parse_allowed_host(&text);
    }

    #[test]
    fn commands_round_trip(cmds in proptest::collection::btree_map("[a-z_]{1,8}", "[ -~]{1,40}", 0..8)) {
        let cmds: BTreeMap<String, String> =
            cmds.into_iter().map(|(k, v)| (k, v.trim().to_string())).filter(|(_, v)| !v.is_empty()).collect();
        let text: String = cmds.iter().map(|(k, v)| format!("command[{k}]={v}\n")).collect();
        let loaded = parse_str("/f.cfg", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: BTreeMap<String, String> =
            loaded.config.commands.into_iter().map(|c| (c.name, c.line)).collect();
        prop_assert_eq!(got, cmds);
    }

    #[test]
    fn ipv4_entries_round_trip(a in any::<u32>(), prefix in 0u8..=32) {
        let net = Ipv4Addr::from(a & mask32(prefix));
        let entry = AllowedHost::V4 { net, prefix };
        prop_assert_eq!(parse_allowed_host(&entry.to_string()), Ok(entry.clone()));
        prop_assert!(entry.matches(IpAddr::V4(net)));
    }
}
