//! `smokercli send-icinga`: the twin of `send-nsca` for Icinga 2's API. It reads
//! the same send_nsca-style records on stdin (`HOST<d>SERVICE<d>CODE<d>OUTPUT`, or
//! `HOST<d>CODE<d>OUTPUT` for a host result; fields split by `-d`, records by
//! `-e`) and posts each in order on one keep-alive connection. Exit 0 when Icinga
//! accepted every result, 2 otherwise (each failure on stderr).

use std::{ffi::OsString, io::Read, path::PathBuf};

use clap::Parser;
use smoker_compat::{
    output,
    send_nsca_input::{self, DEFAULT_BLOCK_DELIMITER, DEFAULT_FIELD_DELIMITER, Record},
};

use super::{Answer, Client, Queued};
use crate::config::{Icinga2Settings, Identity};

/// `smokercli send-icinga` arguments.
#[derive(Debug, Parser)]
#[command(
    name = "smokercli send-icinga",
    about = "Post send_nsca-style results from stdin to Icinga 2's API (process-check-result)"
)]
struct Args {
    /// Icinga's API, https://HOST:PORT
    #[arg(long, env = "ICINGA_URL")]
    url: String,
    /// ApiUser name
    #[arg(long, short = 'u', env = "ICINGA_USER")]
    user: Option<String>,
    /// ApiUser password (prefer --password-file or ICINGA_PASSWORD)
    #[arg(long, env = "ICINGA_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// File whose first line is the password
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Client certificate (PEM), instead of a password
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client key (PEM)
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// CA of Icinga's certificate (PEM); default: the system roots
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Do not verify Icinga's certificate (dangerous)
    #[arg(long)]
    insecure: bool,
    /// Field delimiter (send_nsca's -d; default tab)
    #[arg(short = 'd', value_name = "DELIM")]
    field_delim: Option<String>,
    /// Record delimiter (send_nsca's -e; default ETB, 0x17)
    #[arg(short = 'e', value_name = "DELIM")]
    block_delim: Option<String>,
}

/// The `smokercli` hook: runs when argv[1] is `send-icinga`; returns the exit code.
pub fn dispatch(argv: &[OsString]) -> Option<i32> {
    if argv.get(1).map(OsString::as_os_str) != Some("send-icinga".as_ref()) {
        return None;
    }
    let args = match Args::try_parse_from(argv[1..].iter()) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return Some(if e.use_stderr() { 3 } else { 0 });
        }
    };
    Some(match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            3
        }
    })
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn settings(a: &Args) -> Result<Icinga2Settings, String> {
    let password = match (&a.password, &a.password_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => {
            let text = String::from_utf8_lossy(&read_file(f)?).into_owned();
            Some(text.lines().next().unwrap_or("").to_string())
        }
        (None, None) => None,
    };
    let identity = match (&a.cert, &a.key) {
        (Some(c), Some(k)) => Some(Identity {
            cert_pem: read_file(c)?,
            key_pem: read_file(k)?,
        }),
        _ => None,
    };
    let ca_pem = a.ca_file.as_ref().map(read_file).transpose()?;
    Ok(Icinga2Settings {
        url: a.url.trim_end_matches('/').to_string(),
        user: a.user.clone(),
        password,
        password_file: a.password_file.clone(),
        identity,
        ca_pem,
        ca_file: a.ca_file.clone(),
        insecure: a.insecure,
        host_name: None,
        service: String::new(),
    })
}

/// A stdin record as Icinga gets it: output split from its perfdata.
fn to_queued(r: &Record) -> Queued {
    let text = String::from_utf8_lossy(&r.output).replace("\\n", "\n");
    let parsed = output::parse(&text);
    let output = match parsed.long_output {
        Some(long) => format!("{}\n{long}", parsed.output),
        None => parsed.output,
    };
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    Queued {
        host_name: String::from_utf8_lossy(&r.host_name).into_owned(),
        service: String::from_utf8_lossy(&r.service).into_owned(),
        state: u8::try_from(r.return_code.clamp(0, 3)).unwrap_or(3),
        output,
        perfdata: output::perfdata_texts(&text),
        start: now,
        end: now,
    }
}

fn run(a: &Args) -> Result<i32, String> {
    let settings = settings(a)?;
    if settings.insecure {
        eprintln!("Warning: --insecure: Icinga's certificate is not verified.");
    }
    let client = Client::new(&settings).map_err(|e| e.to_string())?;
    let delim = |arg: &Option<String>, default| {
        arg.as_ref()
            .map_or(default, |s| send_nsca_input::parse_delimiter(s.as_bytes()))
    };
    let field = delim(&a.field_delim, DEFAULT_FIELD_DELIMITER);
    let block = delim(&a.block_delim, DEFAULT_BLOCK_DELIMITER);
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let mut queued = Vec::new();
    for record in send_nsca_input::records(&input, field, block) {
        queued.push(to_queued(&record.map_err(|e| e.to_string())?));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (sent, failed) = rt.block_on(async {
        let (mut sent, mut failed) = (0usize, 0usize);
        for q in &queued {
            match client.post(q).await {
                Answer::Accepted => sent += 1,
                Answer::Rejected(_, e) | Answer::Unauthorized(e) | Answer::Retry(e) => {
                    eprintln!("Error: {}: {e}", q.object());
                    failed += 1;
                }
            }
        }
        (sent, failed)
    });
    println!("{sent} result(s) sent to Icinga 2.");
    Ok(if failed == 0 { 0 } else { 2 })
}
