//! Output formats of `smokercli` (smoker-compat.md §4.3, decisions.md D9). Each formatter is
//! a pure function of a [`Report`] to text; the caller writes it and picks the exit code.

pub mod json;
pub mod junit;
pub mod nagios;
pub mod tap;
pub mod text;
pub mod xml;

use std::str::FromStr;

use super::model::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Minimal,
    Normal,
    Long,
    Full,
    Raw,
    Json,
    Tap,
    Xml,
    Junit,
    Nagios,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        Ok(match text {
            "minimal" => Format::Minimal,
            "normal" => Format::Normal,
            "long" => Format::Long,
            "full" => Format::Full,
            "raw" => Format::Raw,
            "json" => Format::Json,
            "tap" => Format::Tap,
            "xml" => Format::Xml,
            "junit" => Format::Junit,
            "nagios" => Format::Nagios,
            other => return Err(format!("Invalid pretty output {other}")),
        })
    }
}

/// Options that change how a format looks.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// ANSI colours (text formats only).
    pub colors: bool,
    /// `--junit-config-file` for `-o xml`.
    pub xml_config: Option<xml::XmlConfig>,
}

/// Render `report` in `format`. Every line ends with `\n`.
pub fn render(report: &Report, format: Format, options: &RenderOptions) -> String {
    match format {
        Format::Minimal => text::render(report, text::Detail::Minimal, options.colors),
        Format::Normal => text::render(report, text::Detail::Normal, options.colors),
        Format::Long => text::render(report, text::Detail::Long, options.colors),
        Format::Full => text::render(report, text::Detail::Full, options.colors),
        Format::Raw => json::render_raw(report),
        Format::Json => json::render(report),
        Format::Tap => tap::render(report),
        Format::Xml => xml::render(
            report,
            options
                .xml_config
                .as_ref()
                .unwrap_or(&xml::XmlConfig::default()),
        ),
        Format::Junit => junit::render(report),
        Format::Nagios => nagios::render(report).0,
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! The report of smoker-compat.md §4.3's example host, used by every formatter's tests.
    use serde_json::json;

    use crate::cli::model::{HostView, PluginView, Report};

    pub fn plugins() -> Vec<PluginView> {
        let items = json!([
            {"lastResult": {"status": "OK", "messages": {"info": ["up 5 days"], "error": [], "warn": []},
              "lastRun": "2026-11-25T12:00:14.706926", "componentResults": null, "action": null, "forced": false},
             "links": {"self": "/plugins/uptime"}, "name": "uptime", "nextRun": "2026-11-25T12:01:14.706926",
             "parameters": {"Command": "uptime", "Module": null, "Interval": 60, "Category": "system"}},
            {"lastResult": {"status": "ERROR", "messages": {"info": ["out"], "error": ["err"], "warn": []},
              "lastRun": "2026-11-25T11:59:29.5", "componentResults": null, "action": null, "forced": true},
             "links": {"self": "/plugins/fail"}, "name": "fail", "nextRun": null,
             "parameters": {"Command": "exit 2", "Module": null, "Interval": 0, "Category": "demo"}},
            {"lastResult": {"status": "WARN", "messages": {"info": [], "warn": ["disk 85%"], "error": []},
              "lastRun": "2026-11-25T12:00:09",
              "componentResults": [
                {"componentResult": {"status": "WARN", "messages": {"info": ["i"], "warn": ["w"], "error": []}, "name": "sda"}},
                {"componentResult": {"status": "OK", "messages": {"info": ["fine"], "warn": [], "error": []}, "name": "sdb"}}],
              "action": null, "forced": true},
             "links": {"self": "/plugins/json"}, "name": "json", "nextRun": null,
             "parameters": {"Command": "disk", "Module": null, "Interval": 0, "Category": "demo", "Type": "smokeTest"}},
            {"lastResult": null, "links": {"self": "/plugins/never"}, "name": "never", "nextRun": null,
             "parameters": {"Command": "true", "Module": null, "Interval": 0, "Category": "demo"}}
        ]);
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PluginView::parse(p).unwrap())
            .collect()
    }

    pub fn report() -> Report {
        Report::new(vec![HostView::new(
            "vm".into(),
            "vm:8086".into(),
            plugins(),
        )])
    }

    /// Two hosts: `vm` and an unreachable target.
    pub fn report_with_failure() -> Report {
        Report::new(vec![
            HostView::new("vm".into(), "vm:8086".into(), plugins()),
            HostView::failed(
                "down:1".into(),
                "down:1".into(),
                "can't open http://down:1/: connection refused".into(),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use smoker_compat::pyrepr::python_str;

    #[test]
    fn formats_parse() {
        assert_eq!("tap".parse::<Format>(), Ok(Format::Tap));
        assert_eq!(
            "pretty".parse::<Format>(),
            Err("Invalid pretty output pretty".to_owned())
        );
    }

    #[test]
    fn python_spelling_of_values() {
        assert_eq!(python_str(&json!(null)), "None");
        assert_eq!(python_str(&json!(true)), "True");
        assert_eq!(python_str(&json!(30)), "30");
        assert_eq!(python_str(&json!(1.5)), "1.5");
        assert_eq!(python_str(&json!("echo hi")), "echo hi");
        assert_eq!(
            python_str(
                &json!({"Command": "echo 'x'", "Module": null, "Timeout": 60, "L": ["a", 1]})
            ),
            r#"{'Command': "echo 'x'", 'Module': None, 'Timeout': 60, 'L': ['a', 1]}"#
        );
    }
}
