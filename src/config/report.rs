//! Config diagnostics for people: each problem as `FILE:LINE:COL: error: key.path:
//! message`, then its source line with a caret under the offending token (rendered by
//! `annotate-snippets`). The one-line forms ([`ConfigError`]'s `Display`) stay what the
//! API's `configErrors` and the reload log show.

use std::{collections::HashMap, fmt::Write};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::error::ConfigError;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    fn level(self) -> Level<'static> {
        match self {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        }
    }
}

/// Renders diagnostics, reading each file named by a position once.
#[derive(Default)]
pub struct Reporter {
    sources: HashMap<String, Option<String>>,
}

impl Reporter {
    /// One diagnostic: the header line, then the snippet when the source can be read.
    pub fn render(&mut self, diag: &ConfigError, severity: Severity) -> String {
        let mut out = String::new();
        if let Some(pos) = &diag.pos {
            let _ = write!(out, "{pos}: ");
        }
        let _ = write!(out, "{}: ", severity.word());
        if !diag.path.is_empty() {
            let _ = write!(out, "{}: ", diag.path);
        }
        out.push_str(&diag.message);
        if let Some(snippet) = self.snippet(diag, severity) {
            out.push('\n');
            out.push_str(snippet.trim_end());
        }
        out
    }

    fn snippet(&mut self, diag: &ConfigError, severity: Severity) -> Option<String> {
        let pos = diag.pos.as_ref()?;
        let file = pos.file.to_string();
        let source = self
            .sources
            .entry(file.clone())
            .or_insert_with(|| std::fs::read_to_string(&file).ok())
            .as_deref()?;
        let line_no = usize::try_from(pos.line).ok()?;
        let line = source.lines().nth(line_no.checked_sub(1)?)?;
        let start = byte_of_column(line, usize::try_from(pos.col).ok()?);
        let end = start + token_len(&line[start..]);
        let group = Group::with_level(severity.level()).element(
            Snippet::source(line)
                .line_start(line_no)
                .annotation(AnnotationKind::Primary.span(start..end)),
        );
        Some(Renderer::plain().render(&[group]))
    }
}

/// The byte offset of a 1-based character column (clamped to the line).
fn byte_of_column(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i)
}

/// The length of the token that starts `rest`: a quoted scalar to its closing quote,
/// else up to a `: `, `, `, `}`, `]` or ` #` (at least one character).
fn token_len(rest: &str) -> usize {
    let first = rest.chars().next();
    if let Some(q @ ('"' | '\'')) = first {
        return rest[1..].find(q).map_or(rest.len(), |i| i + 2);
    }
    let stops = [": ", ", ", "}", "]", " #"];
    let mut end = stops
        .iter()
        .filter_map(|s| rest.find(s))
        .min()
        .unwrap_or(rest.len());
    if rest[..end].ends_with(':') {
        end -= 1;
    }
    let len = rest[..end].trim_end().len();
    if len > 0 {
        len
    } else {
        first.map_or(0, char::len_utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_end_where_yaml_scalars_end() {
        assert_eq!(token_len("true"), 4);
        assert_eq!(token_len("Intervall: 60"), 9);
        assert_eq!(token_len("\"61 * * * *\"  # x"), 12);
        assert_eq!(token_len("echo hi # comment"), 7);
        assert_eq!(token_len("true, Timeout: -5}"), 4);
        assert_eq!(token_len(""), 0);
        assert_eq!(byte_of_column("  é: x", 5), 5);
    }
}
