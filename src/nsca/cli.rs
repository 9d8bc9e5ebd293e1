//! `smokercli send-nsca` / `send_nsca`: a drop-in for send_nsca 2.10
//! (protocols.md §3.6): same flags, stdin records, `send_nsca.cfg`, stdout
//! summary, messages and exit codes. Unlike send_nsca it waits for the
//! server's clean close, so "sent successfully" means the server read it all.

use std::{
    ffi::{OsStr, OsString},
    io::{Read, Write},
    os::unix::ffi::OsStrExt,
    time::Duration,
};

use smoker_compat::{
    nsca::{DEFAULT_PORT, PacketFormat, Passive},
    nsca_cipher::Method,
    send_nsca_input::{
        self, DEFAULT_BLOCK_DELIMITER, DEFAULT_FIELD_DELIMITER, InputError, Record, SendNscaConfig,
    },
};

use super::{NscaError, connect, send_on};

const DEFAULT_CONFIG: &str = "/etc/send_nsca.cfg";
const DEFAULT_TIMEOUT: i32 = 10;
/// send_nsca's `MAX_HOST_ADDRESS_LENGTH` - 1.
const MAX_HOST_ADDRESS: usize = 255;

/// Exit codes of send_nsca.
const EXIT_OK: i32 = 0;
const EXIT_CRITICAL: i32 = 2;
const EXIT_UNKNOWN: i32 = 3;
const EXIT_INPUT_TOO_LONG: i32 = 255;

#[derive(Debug, Clone, PartialEq)]
struct Args {
    server: Vec<u8>,
    port: i32,
    timeout: i32,
    config: Vec<u8>,
    field_delim: u8,
    block_delim: u8,
    quiet: bool,
    legacy: bool,
    help: bool,
    license: bool,
    version: bool,
}

fn atoi(s: &OsStr) -> i32 {
    send_nsca_input::atoi(s.as_bytes())
}

/// send_nsca's argument loop: the first argument is the host unless it is a
/// flag; any other unknown argument is an error.
fn parse_args(args: &[OsString]) -> Result<Args, ()> {
    let mut a = Args {
        server: Vec::new(),
        port: i32::from(DEFAULT_PORT),
        timeout: DEFAULT_TIMEOUT,
        config: DEFAULT_CONFIG.as_bytes().to_vec(),
        field_delim: DEFAULT_FIELD_DELIMITER,
        block_delim: DEFAULT_BLOCK_DELIMITER,
        quiet: false,
        legacy: false,
        help: false,
        license: false,
        version: false,
    };
    if args.len() < 2 {
        a.help = true;
        return Ok(a);
    }
    let host = |v: &OsStr| v.as_bytes()[..v.len().min(MAX_HOST_ADDRESS)].to_vec();
    a.server = host(&args[1]);
    let mut i = 1;
    while i < args.len() {
        let flag = args[i].as_bytes();
        let value = args.get(i + 1);
        let mut takes_value = |f: &mut dyn FnMut(&OsStr) -> Result<(), ()>| match value {
            Some(v) => {
                f(v)?;
                i += 1;
                Ok(())
            }
            None => Err(()),
        };
        match flag {
            b"-h" | b"--help" => a.help = true,
            b"-l" | b"--license" => a.license = true,
            b"-V" | b"--version" => a.version = true,
            b"--quiet" => a.quiet = true,
            b"--legacy-2-7-mode" => a.legacy = true,
            b"-H" => takes_value(&mut |v| {
                a.server = host(v);
                Ok(())
            })?,
            b"-p" => takes_value(&mut |v| {
                a.port = atoi(v);
                Ok(())
            })?,
            b"-to" => takes_value(&mut |v| {
                a.timeout = atoi(v);
                if a.timeout <= 0 { Err(()) } else { Ok(()) }
            })?,
            b"-c" => takes_value(&mut |v| {
                a.config = v.as_bytes().to_vec();
                Ok(())
            })?,
            b"-d" => takes_value(&mut |v| {
                a.field_delim = send_nsca_input::parse_delimiter(v.as_bytes());
                Ok(())
            })?,
            b"-ds" => takes_value(&mut |v| {
                a.block_delim = send_nsca_input::parse_delimiter(v.as_bytes());
                Ok(())
            })?,
            _ if i > 1 => return Err(()),
            _ => {}
        }
        i += 1;
    }
    Ok(a)
}

fn banner(out: &mut String) {
    out.push_str(concat!(
        "\nsmoker send-nsca ",
        env!("CARGO_PKG_VERSION"),
        " (NSCA Client 2.10 compatible)\n",
        "Encryption Routines: none, xor, des, 3des, cast128, blowfish, aes256 (rijndael-128)\n\n"
    ));
}

fn usage(prog: &str, out: &mut String) {
    out.push_str(&format!(
        "Usage: {prog} [--quiet] -H <host_address> [-p port] [-to to_sec] [-d delim] [-ds set_delim] [-c config_file] [--legacy-2-7-mode]\n"
    ));
    out.push_str(
        "\nOptions:\n\
         \x20--quiet            = Print nothing unless there is an error\n\
         \x20<host_address>     = Host running the NSCA daemon (may also be the first argument)\n\
         \x20[port]             = Port of the NSCA daemon (default 5667)\n\
         \x20[to_sec]           = Seconds before the whole run gives up (default 10)\n\
         \x20[delim]            = Field delimiter of the input (default: tab); a number such as\n\
         \x20                     0x09 is taken as a character code\n\
         \x20[set_delim]        = Delimiter between results (default: ETB, 0x17)\n\
         \x20[config_file]      = send_nsca.cfg to read (default /etc/send_nsca.cfg)\n\
         \x20--legacy-2-7-mode  = Send 720-byte packets for an NSCA 2.7 daemon (the config\n\
         \x20                     file's legacy_2_7_mode wins over this flag)\n\
         \n\
         Input (stdin), results separated by the set delimiter:\n\
         \x20 service check: <host_name>[tab]<svc_description>[tab]<return_code>[tab]<plugin_output>\n\
         \x20 host check:    <host_name>[tab]<return_code>[tab]<plugin_output>\n",
    );
}

/// The `smokercli` hook: runs send_nsca when argv[0]'s file name is
/// `send_nsca` or argv[1] is `send-nsca`, and returns its exit code.
pub fn dispatch(argv: &[OsString]) -> Option<i32> {
    let name = argv
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name());
    if name == Some(OsStr::new("send_nsca")) {
        return Some(main(argv.to_vec()));
    }
    if argv.get(1).map(OsString::as_os_str) == Some(OsStr::new("send-nsca")) {
        let mut prog = argv[0].clone();
        prog.push(" send-nsca");
        return Some(main(
            std::iter::once(prog)
                .chain(argv[2..].iter().cloned())
                .collect(),
        ));
    }
    None
}

/// Runs send_nsca with `args` (`args[0]` is the name shown in the usage) and
/// returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let prog = args.first().map_or_else(
        || "send_nsca".to_string(),
        |a| a.to_string_lossy().into_owned(),
    );
    let mut stdout = String::new();
    let mut stderr = String::new();
    let code = run(&prog, &args, &mut stdout, &mut stderr);
    let _ = std::io::stdout().write_all(stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr.as_bytes());
    code
}

fn run(prog: &str, args: &[OsString], out: &mut String, err: &mut String) -> i32 {
    let parsed = parse_args(args);
    let a = match parsed {
        Ok(a) if !(a.help || a.license || a.version) => a,
        Ok(a) => {
            banner(out);
            if a.help {
                usage(prog, out);
            }
            if a.license {
                out.push_str("License: BSD-3-Clause (smoker); protocol compatible with NSCA 2.10 (GPL v2).\n");
            }
            return EXIT_UNKNOWN;
        }
        Err(()) => {
            err.push_str("Incorrect command line arguments supplied\n");
            banner(out);
            usage(prog, out);
            return EXIT_UNKNOWN;
        }
    };
    let config_name = String::from_utf8_lossy(&a.config).into_owned();
    let cfg = match read_config(&a.config, &config_name) {
        Ok(c) => c,
        Err(msg) => {
            out.push_str(&msg);
            out.push_str(&format!(
                "Error: Config file '{config_name}' contained errors...\n"
            ));
            return EXIT_CRITICAL;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            err.push_str(&format!("Error: {e}\n"));
            return EXIT_CRITICAL;
        }
    };
    let seconds = a.timeout;
    let limit = Duration::from_secs(u64::try_from(seconds).unwrap_or(1));
    let outcome =
        rt.block_on(async { tokio::time::timeout(limit, session(&a, &cfg, limit)).await });
    // A stdin read may still block; don't wait for it.
    rt.shutdown_background();
    let outcome = match outcome {
        Ok(o) => o,
        Err(_) => {
            err.push_str(&format!("Error: Timeout after {seconds} seconds\n"));
            return EXIT_CRITICAL;
        }
    };
    report(outcome, &a, out, err)
}

/// Prints what happened the way send_nsca does; returns the exit code.
fn report(outcome: Outcome, a: &Args, out: &mut String, err: &mut String) -> i32 {
    match outcome {
        Outcome::Sent { count, too_long } => {
            if too_long {
                out.push_str(&format!("Error: {}\n", InputError::TooLong));
                return EXIT_INPUT_TOO_LONG;
            }
            if !a.quiet || count == 0 {
                out.push_str(&format!(
                    "{count} data packet(s) sent to host successfully.\n"
                ));
            }
            if count == 0 { EXIT_CRITICAL } else { EXIT_OK }
        }
        Outcome::Failed(e) => report_failure(&e, a, err),
        Outcome::Cipher(n) => {
            err.push_str(&format!(
                "Error: Failed to initialize encryption libraries for method {n}\n"
            ));
            EXIT_CRITICAL
        }
        Outcome::Stdin(e) => {
            err.push_str(&format!("Error: Could not read standard input: {e}\n"));
            EXIT_CRITICAL
        }
    }
}

/// send_nsca's messages for a failed session; returns the exit code.
fn report_failure(e: &NscaError, a: &Args, err: &mut String) -> i32 {
    let server = String::from_utf8_lossy(&a.server);
    match e {
        NscaError::Resolve { .. } => {
            err.push_str(&format!("{e}\n"));
            err.push_str(&format!(
                "Error: Could not connect to host {server} on port {}\n",
                a.port
            ));
        }
        NscaError::Connect { source, .. } => {
            let why = match source.kind() {
                std::io::ErrorKind::ConnectionRefused => "Connection refused by host",
                std::io::ErrorKind::TimedOut => "Timeout while attempting connection",
                std::io::ErrorKind::NetworkUnreachable => "Network is unreachable",
                _ => "Connection refused or timed out",
            };
            err.push_str(&format!("{why}\n"));
            err.push_str(&format!(
                "Error: Could not connect to host {server} on port {}\n",
                a.port
            ));
        }
        NscaError::InitClosed | NscaError::Init(_) => {
            err.push_str("Error: Server closed connection before init packet was received\n");
            err.push_str("Error: Could not read init packet from server\n");
        }
        NscaError::Timeout(..) => {
            err.push_str(&format!("Error: Timeout after {} seconds\n", a.timeout));
        }
        NscaError::Send(_) | NscaError::Close(_) => {
            // send_nsca's wording; the cause (e.g. a reset after the server
            // dropped a packet with a bad CRC) is not part of it.
            err.push_str("Error: Could not send data to host\n");
            return EXIT_UNKNOWN;
        }
    }
    EXIT_CRITICAL
}

fn read_config(path: &[u8], name: &str) -> Result<SendNscaConfig, String> {
    let text = std::fs::read(OsStr::from_bytes(path))
        .map_err(|_| format!("Could not open config file '{name}' for reading.\n"))?;
    send_nsca_input::parse_config(&text, name).map_err(|e| format!("{e}\n"))
}

enum Outcome {
    Sent { count: usize, too_long: bool },
    Failed(NscaError),
    Cipher(i32),
    Stdin(std::io::Error),
}

/// Connect, read the init packet, then read stdin and send, in send_nsca's order.
async fn session(a: &Args, cfg: &SendNscaConfig, step: Duration) -> Outcome {
    let server = String::from_utf8_lossy(&a.server).into_owned();
    // send_nsca passes the port through htons().
    let port = a.port as u16;
    let conn = match connect(&server, port, step).await {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(e),
    };
    let Ok(method) = Method::from_number(i64::from(cfg.encryption_method)) else {
        return Outcome::Cipher(cfg.encryption_method);
    };
    let input = match tokio::task::spawn_blocking(|| {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
    })
    .await
    {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => return Outcome::Stdin(e),
        Err(e) => return Outcome::Stdin(std::io::Error::other(e)),
    };
    let mut records: Vec<Record> = Vec::new();
    let mut too_long = false;
    for r in send_nsca_input::records(&input, a.field_delim, a.block_delim) {
        match r {
            Ok(r) => records.push(r),
            Err(InputError::TooLong) => too_long = true,
        }
    }
    let format = if cfg.legacy_2_7_mode.unwrap_or(a.legacy) {
        PacketFormat::Legacy
    } else {
        PacketFormat::V3
    };
    let passives: Vec<Passive<'_>> = records.iter().map(Record::passive).collect();
    match send_on(conn, method, &cfg.password, format, &passives, step).await {
        Ok(count) => Outcome::Sent { count, too_long },
        Err(e) => Outcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, ()> {
        let v: Vec<OsString> = list.iter().map(OsString::from).collect();
        parse_args(&v)
    }

    #[test]
    fn argument_rules_like_send_nsca() {
        let a = args(&[
            "send_nsca",
            "nagios",
            "-p",
            "5668",
            "-to",
            "3",
            "-d",
            "0x2c",
            "--quiet",
        ])
        .unwrap();
        assert_eq!(
            (
                a.server.as_slice(),
                a.port,
                a.timeout,
                a.field_delim,
                a.quiet
            ),
            (&b"nagios"[..], 5668, 3, b',', true)
        );
        let a = args(&[
            "send_nsca",
            "-H",
            "h",
            "-ds",
            "10",
            "-c",
            "x.cfg",
            "--legacy-2-7-mode",
        ])
        .unwrap();
        assert_eq!(
            (
                a.server.as_slice(),
                a.block_delim,
                a.config.as_slice(),
                a.legacy
            ),
            (&b"h"[..], b'\n', &b"x.cfg"[..], true)
        );
        assert!(args(&["send_nsca"]).unwrap().help);
        assert!(args(&["send_nsca", "-H", "h", "-x"]).is_err());
        assert!(args(&["send_nsca", "-H", "h", "-p"]).is_err());
        assert!(args(&["send_nsca", "-H", "h", "-to", "0"]).is_err());
        assert!(args(&["send_nsca", "-H", "h", "extra"]).is_err());
        assert!(args(&["send_nsca", "h", "-V"]).unwrap().version);
    }
}
