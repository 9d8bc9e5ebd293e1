//! `tap`: the original's nested TAP (smoker-compat.md §4.3) under a `TAP version 13` header
//! (decisions.md D9): hosts at the top level, plugins and components as tab-indented
//! subtests, non-empty message levels as a YAMLish block. OK and WARN are `ok`.

use crate::cli::model::{MessageLevels, Report, Status};

struct TapTest {
    name: String,
    ok: bool,
    messages: MessageLevels,
    subtests: Vec<TapTest>,
}

impl TapTest {
    fn dump(&self, index: usize) -> String {
        let mut out = vec![format!(
            "{} {index} - {}",
            if self.ok { "ok" } else { "not ok" },
            self.name
        )];
        let mut block = Vec::new();
        for (level, texts) in &self.messages {
            if texts.is_empty() {
                continue;
            }
            block.push(format!("\t- {level}:"));
            for text in texts {
                block.push(format!("\t\t- {text}"));
            }
        }
        if !block.is_empty() {
            out.push("---".into());
            out.append(&mut block);
            out.push("...".into());
        }
        if !self.subtests.is_empty() {
            let mut sub = vec![format!("\t1..{}", self.subtests.len())];
            for (i, test) in self.subtests.iter().enumerate() {
                sub.push(test.dump(i + 1));
            }
            out.push(sub.join("\n").replace('\n', "\n\t"));
        }
        out.join("\n")
    }
}

/// TAP test names must not contain `#` (directive) or start with a digit after `-`; the
/// original does not care, we keep names as they are except newlines.
fn clean(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

pub fn render(report: &Report) -> String {
    let mut hosts = Vec::new();
    for host in &report.hosts {
        let mut test = TapTest {
            name: clean(&host.name),
            ok: host.status.passes() && host.error.is_none(),
            messages: Vec::new(),
            subtests: Vec::new(),
        };
        if let Some(error) = &host.error {
            test.messages.push(("error".into(), vec![clean(error)]));
        }
        for plugin in host.sorted_plugins() {
            let mut plugin_test = TapTest {
                name: clean(&plugin.name),
                ok: plugin.result.is_some() && plugin.status().passes(),
                messages: Vec::new(),
                subtests: Vec::new(),
            };
            if let Some(result) = &plugin.result {
                plugin_test.messages = result.messages.clone();
                for component in &result.components {
                    plugin_test.subtests.push(TapTest {
                        name: clean(&component.name),
                        ok: matches!(component.status, Status::Ok | Status::Warn),
                        messages: component.messages.clone(),
                        subtests: Vec::new(),
                    });
                }
            }
            test.subtests.push(plugin_test);
        }
        hosts.push(test);
    }
    let mut out = vec!["TAP version 13".to_owned(), format!("1..{}", hosts.len())];
    for (i, host) in hosts.iter().enumerate() {
        out.push(host.dump(i + 1));
    }
    format!("{}\n", out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;

    #[test]
    fn nested_layout_of_the_original() {
        let expected = "TAP version 13
1..1
not ok 1 - vm
\t1..4
\tnot ok 1 - fail
\t---
\t\t- info:
\t\t\t- out
\t\t- error:
\t\t\t- err
\t...
\tok 2 - json
\t---
\t\t- warn:
\t\t\t- disk 85%
\t...
\t\t1..2
\t\tok 1 - sda
\t\t---
\t\t\t- info:
\t\t\t\t- i
\t\t\t- warn:
\t\t\t\t- w
\t\t...
\t\tok 2 - sdb
\t\t---
\t\t\t- info:
\t\t\t\t- fine
\t\t...
\tnot ok 3 - never
\tok 4 - uptime
\t---
\t\t- info:
\t\t\t- up 5 days
\t...
";
        assert_eq!(render(&fixtures::report()), expected);
    }

    #[test]
    fn failed_host_is_not_ok_with_the_reason() {
        let out = render(&fixtures::report_with_failure());
        assert!(out.starts_with(
            "TAP version 13\n1..2\nnot ok 1 - down:1\n---\n\t- error:\n\t\t- can't open http://down:1/: connection refused\n...\nnot ok 2 - vm\n"
        ));
    }
}
