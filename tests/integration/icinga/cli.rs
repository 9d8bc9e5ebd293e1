//! `smokercli send-icinga` against the real icinga2.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

use super::{HOST, Icinga, PASSWORD, USER};
use crate::common::bin;

/// Runs send-icinga with `input` on stdin; (exit code, stdout, stderr).
fn send(icinga: &Icinga, extra: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(bin("smokercli"))
        .arg("send-icinga")
        .args([
            "--url",
            &icinga.url(),
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--ca-file",
        ])
        .arg(icinga.ca_file())
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn smokercli");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// send_nsca-style records (service and host results, one per line with `-e 10`)
/// arrive with state, output and perfdata; an unknown service fails the run.
#[test]
fn send_icinga_posts_send_nsca_records() {
    let icinga = Icinga::start(&["disk", "load"]);
    let input = format!(
        "{HOST}\tdisk\t1\tDISK WARNING - 9% free|/=91%;80;90\n{HOST}\tload\t2\tLOAD CRITICAL\\nline two\n{HOST}\t0\tUP\n"
    );
    let (code, out, err) = send(&icinga, &["-e", "10"], input.as_bytes());
    assert_eq!(
        (code, out.as_str()),
        (0, "3 result(s) sent to Icinga 2.\n"),
        "{err}"
    );
    let disk = icinga.wait_service("disk", Duration::from_secs(10), |r| !r.is_null());
    assert_eq!(disk["state"], 1.0);
    assert_eq!(disk["output"], "DISK WARNING - 9% free");
    assert_eq!(disk["performance_data"], serde_json::json!(["/=91%;80;90"]));
    let load = icinga.wait_service("load", Duration::from_secs(10), |r| !r.is_null());
    assert_eq!(load["state"], 2.0);
    assert_eq!(load["output"], "LOAD CRITICAL\nline two");

    let (code, _, err) = send(&icinga, &[], format!("{HOST}\tnope\t0\tOK").as_bytes());
    assert_eq!(code, 2);
    assert!(err.contains("web-1!nope: No objects found."), "{err}");
}
