//! `xml`: the original's JUnit-ish layout (smoker-compat.md §4.3, `smoker/client/out_junit`):
//! output starts with `\n`, 2-space indent, closing tags glued to the last child, no
//! `<?xml?>`; one `testsuite` per host, one `testcase` per plugin row and per component.
//!
//! Rows follow the original's template walk: a plugin gets its own row when its messages
//! carry all three levels (or it has neither messages nor components); every component gets
//! a row. Plugins without a result are left out. `--junit-config-file` may override the
//! `AdditionalFields`, `HtmlTestSuiteAttr` and `HtmlTestCaseAttr` maps (the walking template
//! `All` is fixed). Unlike the original, every attribute value is escaped, and a Nagios
//! UNKNOWN result from our daemon counts as an error.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use crate::cli::model::{MessageLevels, Report, Status, level_of};

/// The formatter's configuration (the original's `default_config.YAML_CONFIG`).
#[derive(Debug, Clone, PartialEq)]
pub struct XmlConfig {
    /// Derived fields: name → `string.Template` text over the row's fields.
    pub additional: BTreeMap<String, String>,
    /// `testsuite` attribute → field name.
    pub suite_attrs: BTreeMap<String, String>,
    /// `testcase` attribute → field name.
    pub case_attrs: BTreeMap<String, String>,
}

impl Default for XmlConfig {
    fn default() -> XmlConfig {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        XmlConfig {
            additional: map(&[
                ("ClassName", "${Node}.${Plugin}"),
                ("TestSuiteName", "node $Node"),
                ("TestCaseName", "plugin $Plugin"),
                (
                    "ErrorMessage",
                    "Smoker plugin failed. See STD-ERR for more details.",
                ),
            ]),
            suite_attrs: map(&[
                ("errors", "_count"),
                ("failures", "_count"),
                ("tests", "_count"),
                ("name", "TestSuiteName"),
                ("hostname", "Node"),
                ("id", "UNUSED"),
                ("package", "UNUSED"),
                ("timestamp", "LastRun"),
            ]),
            case_attrs: map(&[
                ("classname", "ClassName"),
                ("name", "CaseName"),
                ("status", "CaseStatus"),
            ]),
        }
    }
}

#[derive(Debug, Deserialize)]
struct XmlConfigFile {
    #[serde(rename = "AdditionalFields")]
    additional: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "HtmlTestSuiteAttr")]
    suite_attrs: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "HtmlTestCaseAttr")]
    case_attrs: Option<BTreeMap<String, serde_json::Value>>,
}

/// Why a `--junit-config-file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum XmlConfigError {
    #[error("{path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: String,
        source: Box<serde_saphyr::Error>,
    },
}

impl XmlConfig {
    /// Read a `--junit-config-file`; maps it leaves out keep their defaults.
    pub fn read(path: &Path) -> Result<XmlConfig, XmlConfigError> {
        let shown = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| XmlConfigError::Unreadable {
            path: shown(),
            source,
        })?;
        let file: XmlConfigFile =
            serde_saphyr::from_str(&text).map_err(|source| XmlConfigError::Invalid {
                path: shown(),
                source: Box::new(source),
            })?;
        let strings = |map: BTreeMap<String, serde_json::Value>| {
            map.into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect()
        };
        let defaults = XmlConfig::default();
        Ok(XmlConfig {
            additional: file.additional.map_or(defaults.additional, strings),
            suite_attrs: file.suite_attrs.map_or(defaults.suite_attrs, strings),
            case_attrs: file.case_attrs.map_or(defaults.case_attrs, strings),
        })
    }
}

/// One row of the original's template walk.
#[derive(Debug, Default)]
struct Row {
    fields: Vec<(&'static str, String)>,
    msg_error: Vec<String>,
    msg_warn: Vec<String>,
    case_status: Option<Status>,
    plugin_status: Status,
}

impl Row {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Row field, else a derived field, else nothing (the original's `Row.__getattr__`).
    fn lookup(&self, name: &str, config: &XmlConfig) -> Option<String> {
        if let Some(value) = self.field(name) {
            return Some(value.to_owned());
        }
        config
            .additional
            .get(name)
            .map(|template| substitute(template, self))
    }
}

/// Python `string.Template(text).safe_substitute(row)`.
fn substitute(template: &str, row: &Row) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (name, tail, braced) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..], true),
                None => ("", after, false),
            },
            None => {
                let end = after
                    .char_indices()
                    .find(|(i, c)| {
                        !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                    })
                    .map_or(after.len(), |(i, _)| i);
                (&after[..end], &after[end..], false)
            }
        };
        match row.field(name).filter(|_| !name.is_empty()) {
            Some(value) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('$');
                if braced {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                    rest = tail;
                } else {
                    rest = after;
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// `html.escape(text, quote=True)`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            // Not representable in XML 1.0: dropped so the document stays well-formed.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Python `str()` of a bound message list.
fn list_repr(lines: &[String]) -> String {
    let items: Vec<String> = lines
        .iter()
        .map(|l| smoker_compat::pyrepr::python_repr(&serde_json::Value::String(l.clone())))
        .collect();
    format!("[{}]", items.join(", "))
}

fn has_all_levels(messages: &MessageLevels) -> bool {
    ["info", "warn", "error"]
        .iter()
        .all(|level| messages.iter().any(|(name, _)| name == level))
}

fn bind_messages(row: &mut Row, messages: &MessageLevels) {
    for (level, name) in [
        ("info", "MsgInfo"),
        ("warn", "MsgWarn"),
        ("error", "MsgError"),
    ] {
        let lines = level_of(messages, level);
        if !lines.is_empty() {
            row.fields.push((name, list_repr(lines)));
        }
    }
    row.msg_error = level_of(messages, "error").to_vec();
    row.msg_warn = level_of(messages, "warn").to_vec();
}

fn rows_of(report: &Report) -> Vec<(String, Vec<Row>)> {
    let mut suites = Vec::new();
    for host in &report.hosts {
        let mut rows = Vec::new();
        for plugin in &host.plugins {
            let Some(result) = &plugin.result else {
                continue;
            };
            let base = |row: &mut Row| {
                row.fields.push(("Node", host.name.clone()));
                row.fields.push(("Plugin", plugin.name.clone()));
                row.fields
                    .push(("PluginStatus", result.status.as_str().to_owned()));
                if let Some(last_run) = &result.last_run {
                    row.fields.push(("LastRun", last_run.clone()));
                }
                row.plugin_status = result.status;
            };
            let no_messages = result.messages.is_empty();
            if has_all_levels(&result.messages) || (no_messages && result.components.is_empty()) {
                let mut row = Row::default();
                base(&mut row);
                bind_messages(&mut row, &result.messages);
                rows.push(row);
            }
            for component in &result.components {
                if !component.messages.is_empty() && !has_all_levels(&component.messages) {
                    continue;
                }
                let mut row = Row::default();
                base(&mut row);
                bind_messages(&mut row, &component.messages);
                row.fields.push(("CaseName", component.name.clone()));
                row.fields
                    .push(("CaseStatus", component.status.as_str().to_owned()));
                row.case_status = Some(component.status);
                rows.push(row);
            }
        }
        if !rows.is_empty() {
            suites.push((host.name.clone(), rows));
        }
    }
    suites
}

fn attrs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!(" {k}=\"{}\"", escape(v)))
        .collect()
}

pub fn render(report: &Report, config: &XmlConfig) -> String {
    let mut out = String::from("\n  <testsuites name=\"All\">");
    for (_, rows) in rows_of(report) {
        let first = &rows[0];
        let suite: Vec<(String, String)> = config
            .suite_attrs
            .iter()
            .filter_map(|(attr, field)| first.lookup(field, config).map(|v| (attr.clone(), v)))
            .collect();
        out.push_str(&format!("\n    <testsuite{}>", attrs(&suite)));
        for row in &rows {
            let mut case: Vec<(String, String)> = config
                .case_attrs
                .iter()
                .filter_map(|(attr, field)| row.lookup(field, config).map(|v| (attr.clone(), v)))
                .collect();
            if row.field("CaseName").is_none() {
                case.push((
                    "name".into(),
                    row.field("Plugin").unwrap_or_default().to_owned(),
                ));
            }
            out.push_str(&format!("\n      <testcase{}>", attrs(&case)));
            let status = row.case_status.unwrap_or(row.plugin_status);
            match status {
                Status::Error | Status::Unknown => {
                    if row.msg_error.is_empty() {
                        out.push_str("\n        <error></error>");
                    } else {
                        out.push_str(&format!(
                            "\n        <error message=\"{}\"></error>",
                            escape(&row.msg_error.join("\n"))
                        ));
                    }
                }
                Status::Warn => {
                    if row.msg_warn.is_empty() {
                        out.push_str("\n        <system-out></system-out>");
                    } else {
                        out.push_str(&format!(
                            "\n        <system-out message=\"{}\"></system-out>",
                            escape(&row.msg_warn.join("\n"))
                        ));
                    }
                }
                Status::Ok => {}
            }
            out.push_str("</testcase>");
        }
        out.push_str("</testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;

    #[test]
    fn layout_of_the_original() {
        let expected = "
  <testsuites name=\"All\">
    <testsuite hostname=\"vm\" name=\"node vm\" timestamp=\"2026-11-25 12:00:14\">
      <testcase classname=\"vm.uptime\" name=\"uptime\"></testcase>
      <testcase classname=\"vm.fail\" name=\"fail\">
        <error message=\"err\"></error></testcase>
      <testcase classname=\"vm.json\" name=\"json\">
        <system-out message=\"disk 85%\"></system-out></testcase>
      <testcase classname=\"vm.json\" name=\"sda\" status=\"WARN\">
        <system-out message=\"w\"></system-out></testcase>
      <testcase classname=\"vm.json\" name=\"sdb\" status=\"OK\"></testcase></testsuite></testsuites>
";
        assert_eq!(render(&fixtures::report(), &XmlConfig::default()), expected);
    }

    #[test]
    fn empty_report_and_escaping() {
        assert_eq!(
            render(&Report::default(), &XmlConfig::default()),
            "\n  <testsuites name=\"All\"></testsuites>\n"
        );
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &#x27;d&#x27;&gt;"
        );
    }

    #[test]
    fn templates_substitute_like_python() {
        let row = Row {
            fields: vec![("Node", "vm".into()), ("Plugin", "p".into())],
            ..Row::default()
        };
        assert_eq!(substitute("${Node}.${Plugin}", &row), "vm.p");
        assert_eq!(substitute("node $Node!", &row), "node vm!");
        assert_eq!(
            substitute("$$ $Missing ${Gone} $", &row),
            "$ $Missing ${Gone} $"
        );
    }

    #[test]
    fn config_file_overrides_maps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.yaml");
        std::fs::write(&path, "HtmlTestSuiteAttr:\n  name: Suite\n  hostname: Node\nAdditionalFields:\n  Suite: 'smoke $Node'\n  ClassName: '$Plugin'\n")
            .unwrap();
        let config = XmlConfig::read(&path).unwrap();
        let out = render(&fixtures::report(), &config);
        assert!(
            out.contains("<testsuite hostname=\"vm\" name=\"smoke vm\">"),
            "{out}"
        );
        assert!(
            out.contains("<testcase classname=\"uptime\" name=\"uptime\">"),
            "{out}"
        );
    }
}
