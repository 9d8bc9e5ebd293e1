//! The positioned config errors: [`ConfigError`] (`FILE:LINE:COL: path: message`) and
//! [`ConfigErrors`], every problem of one config reported at once (D4, exit 2).

use std::fmt;

use super::yaml::{Pos, YamlError};

/// One config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub pos: Option<Pos>,
    /// `plugins.NAME.Key`, `bind_port`, … (empty for syntax errors).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pos) = &self.pos {
            write!(f, "{pos}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a config, in file order of discovery (D4: reported at once, exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// Each error rendered as `FILE:LINE:COL: path: message`.
    pub fn lines(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<YamlError> for ConfigErrors {
    /// A syntax error gets the key path of the block it sits in (`plugins.a` for a
    /// badly indented key of plugin `a`), read from its file by indentation.
    fn from(e: YamlError) -> Self {
        let path = e
            .pos
            .as_ref()
            .and_then(|pos| {
                let text = std::fs::read_to_string(&*pos.file).ok()?;
                Some(enclosing_path(&text, usize::try_from(pos.line).ok()?))
            })
            .unwrap_or_default();
        ConfigErrors {
            errors: vec![ConfigError {
                pos: e.pos,
                path,
                message: e.message,
            }],
        }
    }
}

/// The `key.key` path of the block mappings around 1-based `line` of YAML `text`: each
/// earlier `key:` line indented less than the lines below it opens a block.
pub fn enclosing_path(text: &str, line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let Some(mut limit) = lines.get(line.saturating_sub(1)).map(|l| indent(l)) else {
        return String::new();
    };
    let mut keys = Vec::new();
    for l in lines[..line.saturating_sub(1)].iter().rev() {
        let body = l.trim_start_matches(' ');
        if limit == 0 || body.is_empty() || body.starts_with('#') || indent(l) >= limit {
            continue;
        }
        limit = indent(l);
        let key = body.split_once(':').map(|(k, _)| k.trim());
        if let Some(key) = key.filter(|k| !k.is_empty() && !k.starts_with('-')) {
            keys.push(key.trim_matches(['"', '\'']).to_string());
        }
    }
    keys.reverse();
    keys.join(".")
}

#[cfg(test)]
mod tests {
    use super::enclosing_path;

    #[test]
    fn the_path_of_a_line_comes_from_the_blocks_around_it() {
        let text = "plugins:\n  a:\n    Command: echo\n   Interval: 60\n  # c\n\n  b: {}\n";
        assert_eq!(enclosing_path(text, 4), "plugins.a");
        assert_eq!(enclosing_path(text, 7), "plugins");
        assert_eq!(enclosing_path(text, 1), "");
        assert_eq!(enclosing_path(text, 99), "");
    }
}
