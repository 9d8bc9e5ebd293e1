//! `junit`: standard JUnit XML (decisions.md D9) for CI systems: `<?xml?>` header,
//! `testsuites` → one `testsuite` per host with counts → one `testcase` per plugin
//! (classname = host) and per component (classname = host.plugin). ERROR and UNKNOWN (also
//! "no result yet") are `<failure>`, a host that could not be asked is an `<error>`, messages
//! go to `<system-out>`.

use std::fmt::Write as _;

use crate::cli::model::{MessageLevels, Report, Status};

/// Escape for XML text and attribute values; drops characters XML 1.0 cannot carry.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn message_text(messages: &MessageLevels) -> String {
    let mut lines = Vec::new();
    for (level, texts) in messages {
        for text in texts {
            lines.push(format!("[{level}] {text}"));
        }
    }
    lines.join("\n")
}

struct Case {
    classname: String,
    name: String,
    time: Option<f64>,
    status: Option<Status>,
    messages: MessageLevels,
    /// First line for the failure's `message` attribute.
    summary: String,
}

fn case_xml(out: &mut String, case: &Case) {
    let time = case
        .time
        .map(|t| format!(" time=\"{t:.3}\""))
        .unwrap_or_default();
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"{time}",
        escape(&case.classname),
        escape(&case.name)
    );
    let body = message_text(&case.messages);
    let failed = matches!(
        case.status,
        None | Some(Status::Error) | Some(Status::Unknown)
    );
    if !failed && body.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if failed {
        let kind = case.status.map_or("UNKNOWN", Status::as_str);
        let _ = writeln!(
            out,
            "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
            escape(&case.summary),
            escape(&body)
        );
    } else {
        let _ = writeln!(out, "      <system-out>{}</system-out>", escape(&body));
    }
    out.push_str("    </testcase>\n");
}

pub fn render(report: &Report) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_failures, mut all_errors) = (0, 0, 0);
    for host in &report.hosts {
        let mut cases = Vec::new();
        for plugin in &host.plugins {
            let Some(result) = &plugin.result else {
                cases.push(Case {
                    classname: host.name.clone(),
                    name: plugin.name.clone(),
                    time: None,
                    status: None,
                    messages: Vec::new(),
                    summary: "no result yet".into(),
                });
                continue;
            };
            let first = ["error", "warn", "info"]
                .iter()
                .find_map(|level| result.level(level).first().cloned())
                .or_else(|| result.output.clone())
                .unwrap_or_else(|| format!("status {}", result.status.as_str()));
            cases.push(Case {
                classname: host.name.clone(),
                name: plugin.name.clone(),
                time: result.duration,
                status: Some(result.status),
                messages: result.messages.clone(),
                summary: first,
            });
            for component in &result.components {
                let first = ["error", "warn", "info"]
                    .iter()
                    .find_map(|level| {
                        crate::cli::model::level_of(&component.messages, level)
                            .first()
                            .cloned()
                    })
                    .unwrap_or_else(|| format!("status {}", component.status.as_str()));
                cases.push(Case {
                    classname: format!("{}.{}", host.name, plugin.name),
                    name: component.name.clone(),
                    time: None,
                    status: Some(component.status),
                    messages: component.messages.clone(),
                    summary: first,
                });
            }
        }
        let failures = cases
            .iter()
            .filter(|c| matches!(c.status, None | Some(Status::Error) | Some(Status::Unknown)))
            .count();
        let errors = usize::from(host.error.is_some());
        let tests = cases.len() + errors;
        all_tests += tests;
        all_failures += failures;
        all_errors += errors;
        let timestamp = host
            .plugins
            .iter()
            .filter_map(|p| p.result.as_ref()?.last_run.clone())
            .min()
            .map(|t| format!(" timestamp=\"{}\"", escape(&t.replacen(' ', "T", 1))))
            .unwrap_or_default();
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" hostname=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\"{timestamp}>",
            escape(&host.name),
            escape(&host.target)
        );
        if let Some(error) = &host.error {
            let _ = writeln!(
                suites,
                "    <testcase classname=\"{}\" name=\"connection\">\n      <error type=\"connection\" message=\"{}\"/>\n    </testcase>",
                escape(&host.name),
                escape(error)
            );
        }
        for case in &cases {
            case_xml(&mut suites, case);
        }
        suites.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"smoker\" tests=\"{all_tests}\" failures=\"{all_failures}\" errors=\"{all_errors}\">\n{suites}</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;

    #[test]
    fn standard_junit() {
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="smoker" tests="7" failures="2" errors="1">
  <testsuite name="down:1" hostname="down:1" tests="1" failures="0" errors="1" skipped="0">
    <testcase classname="down:1" name="connection">
      <error type="connection" message="can&apos;t open http://down:1/: connection refused"/>
    </testcase>
  </testsuite>
  <testsuite name="vm" hostname="vm:8086" tests="6" failures="2" errors="0" skipped="0" timestamp="2026-11-25T11:59:29">
    <testcase classname="vm" name="uptime">
      <system-out>[info] up 5 days</system-out>
    </testcase>
    <testcase classname="vm" name="fail">
      <failure type="ERROR" message="err">[info] out&#10;[error] err</failure>
    </testcase>
    <testcase classname="vm" name="json">
      <system-out>[warn] disk 85%</system-out>
    </testcase>
    <testcase classname="vm.json" name="sda">
      <system-out>[info] i&#10;[warn] w</system-out>
    </testcase>
    <testcase classname="vm.json" name="sdb">
      <system-out>[info] fine</system-out>
    </testcase>
    <testcase classname="vm" name="never">
      <failure type="UNKNOWN" message="no result yet"></failure>
    </testcase>
  </testsuite>
</testsuites>
"#;
        assert_eq!(render(&fixtures::report_with_failure()), expected);
    }

    #[test]
    fn escaping_drops_what_xml_cannot_carry() {
        assert_eq!(escape("a\u{1}b<\"&'\n"), "ab&lt;&quot;&amp;&apos;&#10;");
    }
}
