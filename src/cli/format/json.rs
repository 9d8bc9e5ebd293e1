//! `json` (one line) and `raw` (pretty-printed): `{"<host>": {"status": S, "plugins": {...}}}`
//! with the plugin objects as the daemon sent them plus the original client's fixes
//! (smoker-compat.md §4.3). Hosts that could not be asked carry an `"error"` text.

use serde_json::{Map, Value};

use crate::cli::model::Report;

pub fn document(report: &Report) -> Value {
    let mut hosts = Map::new();
    for host in &report.hosts {
        let mut entry = Map::new();
        entry.insert("status".into(), Value::String(host.status.as_str().into()));
        let plugins: Map<String, Value> = host
            .plugins
            .iter()
            .map(|p| (p.name.clone(), p.json.clone()))
            .collect();
        entry.insert("plugins".into(), Value::Object(plugins));
        if let Some(error) = &host.error {
            entry.insert("error".into(), Value::String(error.clone()));
        }
        hosts.insert(host.name.clone(), Value::Object(entry));
    }
    Value::Object(hosts)
}

pub fn render(report: &Report) -> String {
    format!("{}\n", document(report))
}

pub fn render_raw(report: &Report) -> String {
    let text = serde_json::to_string_pretty(&document(report)).unwrap_or_default();
    format!("{text}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;

    #[test]
    fn json_is_one_parseable_line() {
        let out = render(&fixtures::report_with_failure());
        assert_eq!(out.lines().count(), 1);
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["vm"]["status"], "ERROR");
        assert_eq!(
            value["vm"]["plugins"]["fail"]["lastResult"]["lastRun"],
            "2026-11-25T11:59:29"
        );
        assert_eq!(
            value["vm"]["plugins"]["uptime"]["nextRun"],
            "2026-11-25T12:01:14"
        );
        assert_eq!(
            value["vm"]["plugins"]["never"]["lastResult"],
            serde_json::json!({"status": "UNKNOWN", "messages": null, "componentResults": null, "lastRun": null})
        );
        assert_eq!(value["down:1"]["status"], "UNKNOWN");
        assert_eq!(value["down:1"]["plugins"], serde_json::json!({}));
        assert!(
            value["down:1"]["error"]
                .as_str()
                .unwrap()
                .contains("refused")
        );
        // plugins keep the daemon's order
        let names: Vec<&String> = value["vm"]["plugins"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["uptime", "fail", "json", "never"]);
    }

    #[test]
    fn raw_is_the_same_document_pretty() {
        let report = fixtures::report();
        let raw: Value = serde_json::from_str(&render_raw(&report)).unwrap();
        assert_eq!(raw, document(&report));
        assert!(render_raw(&report).lines().count() > 10);
    }
}
