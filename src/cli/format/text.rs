//! `minimal`, `normal`, `long` and `full`: the original's line templates (smoker-compat.md
//! §4.3), hosts and plugins sorted, a `" "` line between hosts, ANSI colours on request with
//! the original's coloured templates.

use crate::cli::model::{ComponentView, HostView, MessageLevels, PluginView, Report, Status};

use smoker_compat::pyrepr::python_str;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Minimal,
    Normal,
    Long,
    Full,
}

const GOLD: &str = "\x1b[0;33m";
const GREEN: &str = "\x1b[1;32m";
const YELLOW: &str = "\x1b[1;33m";
const RED: &str = "\x1b[1;31m";
const MAGENTA: &str = "\x1b[1;35m";
const BLUE: &str = "\x1b[1;34m";
const GRAY: &str = "\x1b[0;37m";
const RESET: &str = "\x1b[0;0m";

fn status_color(status: Status) -> &'static str {
    match status {
        Status::Ok => GREEN,
        Status::Warn => YELLOW,
        Status::Error => RED,
        Status::Unknown => MAGENTA,
    }
}

fn level_color(level: &str) -> &'static str {
    match level {
        "warn" => YELLOW,
        "error" => RED,
        _ => BLUE,
    }
}

struct Painter {
    colors: bool,
}

impl Painter {
    fn paint(&self, color: &str, text: &str) -> String {
        if self.colors {
            format!("{color}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn status(&self, status: Status) -> String {
        self.paint(status_color(status), status.as_str())
    }
}

pub fn render(report: &Report, detail: Detail, colors: bool) -> String {
    let painter = Painter { colors };
    let mut lines: Vec<String> = Vec::new();
    for (index, host) in report.hosts.iter().enumerate() {
        if index > 0 {
            lines.push(" ".into());
        }
        render_host(&mut lines, host, detail, &painter);
    }
    let mut out = String::new();
    for line in lines.iter().filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn render_host(lines: &mut Vec<String>, host: &HostView, detail: Detail, painter: &Painter) {
    let name = format!("{:<34}", host.name);
    lines.push(format!(
        "{} [{}]",
        painter.paint(GOLD, &name),
        painter.status(host.status)
    ));
    if let Some(error) = &host.error {
        lines.push(format!("  [{}] {error}", painter.paint(RED, "error")));
    }
    for plugin in host.sorted_plugins() {
        render_plugin(lines, plugin, detail, painter);
    }
}

/// Spaces between `[STATUS]` and `(lastRun)` in the original's coloured templates.
fn colored_gap(detail: Detail, status: Status) -> &'static str {
    match (status, detail) {
        (Status::Ok, _) => "    ",
        (Status::Warn, _) => "   ",
        (Status::Error, Detail::Long | Detail::Full) => "    ",
        _ => " ",
    }
}

fn render_plugin(lines: &mut Vec<String>, plugin: &PluginView, detail: Detail, painter: &Painter) {
    let status = plugin.status();
    if detail == Detail::Minimal && status == Status::Ok {
        return;
    }
    let last_run = plugin.result.as_ref().and_then(|r| r.last_run.as_deref());
    let head = format!("- {:<32} [{}]", plugin.name, painter.status(status));
    let line = match last_run {
        Some(time) if painter.colors => format!(
            "{head}{}({})",
            colored_gap(detail, status),
            painter.paint(GRAY, time)
        ),
        Some(time) => format!("{head} ({time})"),
        // No result: the original drops the time in minimal and coloured output, prints None otherwise.
        None if painter.colors || detail == Detail::Minimal => head,
        None => format!("{head} (None)"),
    };
    lines.push(line);
    if let Some(running) = &plugin.running {
        lines.push(format!("  Running {running}"));
    }

    if detail == Detail::Full {
        lines.push(format!("  Last run: {}", last_run.unwrap_or("None")));
        lines.push(format!(
            "  Next run: {}",
            plugin.next_run.as_deref().unwrap_or("None")
        ));
        for (key, value) in &plugin.parameters {
            lines.push(format!("  {key:<10} {}", python_str(value)));
        }
    }
    let Some(result) = &plugin.result else {
        return;
    };
    render_messages(lines, &result.messages, "  ", detail, painter);
    for component in &result.components {
        render_component(lines, component, detail, painter);
    }
}

fn render_component(
    lines: &mut Vec<String>,
    component: &ComponentView,
    detail: Detail,
    painter: &Painter,
) {
    let all = matches!(detail, Detail::Long | Detail::Full);
    if !all && component.status == Status::Ok {
        return;
    }
    lines.push(format!(
        " -- {:<30} [{}]",
        component.name,
        painter.status(component.status)
    ));
    render_messages(lines, &component.messages, "    ", detail, painter);
}

fn render_messages(
    lines: &mut Vec<String>,
    messages: &MessageLevels,
    indent: &str,
    detail: Detail,
    painter: &Painter,
) {
    for (level, texts) in messages {
        let shown = match detail {
            Detail::Minimal => false,
            Detail::Normal => level == "warn" || level == "error",
            Detail::Long | Detail::Full => true,
        };
        if !shown {
            continue;
        }
        for text in texts {
            lines.push(format!(
                "{indent}[{}] {text}",
                painter.paint(level_color(level), level)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::fixtures;

    #[test]
    fn running_is_shown() {
        let plugin = PluginView::parse(&serde_json::json!({"name": "backup", "lastResult": null,
            "nextRun": null, "parameters": {},
            "running": {"startedAt": "2026-11-25T12:00:01.5", "pid": 4242}}))
        .expect("plugin");
        let mut lines = Vec::new();
        render_plugin(
            &mut lines,
            &plugin,
            Detail::Normal,
            &Painter { colors: false },
        );
        assert_eq!(
            lines,
            [
                "- backup                           [UNKNOWN] (None)",
                "  Running since 2026-11-25 12:00:01, pid 4242"
            ]
        );
    }

    #[test]
    fn minimal() {
        let expected = "\
vm                                 [ERROR]
- fail                             [ERROR] (2026-11-25 11:59:29)
- json                             [WARN] (2026-11-25 12:00:09)
 -- sda                            [WARN]
- never                            [UNKNOWN]
";
        assert_eq!(
            render(&fixtures::report(), Detail::Minimal, false),
            expected
        );
    }

    #[test]
    fn normal() {
        let expected = "\
vm                                 [ERROR]
- fail                             [ERROR] (2026-11-25 11:59:29)
  [error] err
- json                             [WARN] (2026-11-25 12:00:09)
  [warn] disk 85%
 -- sda                            [WARN]
    [warn] w
- never                            [UNKNOWN] (None)
- uptime                           [OK] (2026-11-25 12:00:14)
";
        assert_eq!(render(&fixtures::report(), Detail::Normal, false), expected);
    }

    #[test]
    fn long() {
        let expected = "\
vm                                 [ERROR]
- fail                             [ERROR] (2026-11-25 11:59:29)
  [info] out
  [error] err
- json                             [WARN] (2026-11-25 12:00:09)
  [warn] disk 85%
 -- sda                            [WARN]
    [info] i
    [warn] w
 -- sdb                            [OK]
    [info] fine
- never                            [UNKNOWN] (None)
- uptime                           [OK] (2026-11-25 12:00:14)
  [info] up 5 days
";
        assert_eq!(render(&fixtures::report(), Detail::Long, false), expected);
    }

    #[test]
    fn full() {
        let out = render(&fixtures::report(), Detail::Full, false);
        let expected_start = "\
vm                                 [ERROR]
- fail                             [ERROR] (2026-11-25 11:59:29)
  Last run: 2026-11-25 11:59:29
  Next run: None
  Command    exit 2
  Module     None
  Interval   0
  Category   demo
  [info] out
  [error] err
";
        assert!(out.starts_with(expected_start), "{out}");
        let expected_end = "\
- never                            [UNKNOWN] (None)
  Last run: None
  Next run: None
  Command    true
  Module     None
  Interval   0
  Category   demo
- uptime                           [OK] (2026-11-25 12:00:14)
  Last run: 2026-11-25 12:00:14
  Next run: 2026-11-25 12:01:14
  Command    uptime
  Module     None
  Interval   60
  Category   system
  [info] up 5 days
";
        assert!(out.ends_with(expected_end), "{out}");
    }

    #[test]
    fn failed_hosts_and_separator() {
        let expected = "\
down:1                             [UNKNOWN]
  [error] can't open http://down:1/: connection refused
 
vm                                 [ERROR]
";
        assert!(
            render(&fixtures::report_with_failure(), Detail::Minimal, false).starts_with(expected)
        );
    }

    #[test]
    fn colors_follow_the_original_templates() {
        let out = render(&fixtures::report(), Detail::Normal, true);
        let mut lines = out.lines();
        assert_eq!(
            lines.next().unwrap(),
            "\x1b[0;33mvm                                \x1b[0;0m [\x1b[1;31mERROR\x1b[0;0m]"
        );
        assert_eq!(
            lines.next().unwrap(),
            "- fail                             [\x1b[1;31mERROR\x1b[0;0m] (\x1b[0;37m2026-11-25 11:59:29\x1b[0;0m)"
        );
        assert_eq!(lines.next().unwrap(), "  [\x1b[1;31merror\x1b[0;0m] err");
        assert!(out.contains("- never                            [\x1b[1;35mUNKNOWN\x1b[0;0m]\n"));
        assert!(
            out.contains("[\x1b[1;32mOK\x1b[0;0m]    (\x1b[0;37m2026-11-25 12:00:14\x1b[0;0m)")
        );
    }
}
