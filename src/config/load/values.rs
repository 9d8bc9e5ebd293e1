//! Typed reading of YAML nodes: each reader returns the value or a [`ValueError`]
//! saying what is wrong with it; the caller adds position and key path.

use std::{net::SocketAddr, path::PathBuf, str::FromStr};

use crate::config::{
    subst,
    yaml::{Kind, Node},
};

/// What is wrong with a scalar value (type, sign, range, unit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("expected {what}, found {found}")]
    Expected {
        what: &'static str,
        found: &'static str,
    },
    #[error("expected {what}, found {found}; quote the value (\"…\") to make it a string")]
    Unquoted {
        what: &'static str,
        found: &'static str,
    },
    #[error("not a duration: {0:?} (examples: 60, 60s, 5m, 1h)")]
    Duration(String),
    #[error("must not be negative, got {0}")]
    Negative(String),
    #[error("is too large: {0}")]
    TooLarge(String),
    #[error("must be at least {min}, got {got}")]
    TooSmall { min: i64, got: i64 },
    #[error("must be a port number 1-65535, got {0}")]
    Port(i64),
    #[error("list items must be strings, found {0}")]
    ListItem(&'static str),
    #[error("must not be empty")]
    Empty,
    #[error("expected ADDR:PORT (e.g. 127.0.0.1:9100), got {0:?}")]
    SocketAddr(String),
    #[error(transparent)]
    Size(#[from] SizeError),
}

/// Why a size string (`64KiB`, `1MiB`, `500KB`) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("unknown size unit {unit:?} in {text:?} (use bytes, KiB, MiB, GiB, KB, MB, GB)")]
    Unit { unit: String, text: String },
    #[error("not a size: {0:?} (examples: 65536, 64KiB, 1MiB)")]
    Number(String),
    #[error("size too large: {0:?}")]
    TooLarge(String),
}

/// `expected WHAT, found TYPE`.
pub fn expected(what: &'static str, node: &Node) -> ValueError {
    ValueError::Expected {
        what,
        found: node.type_name(),
    }
}

/// A string; a number or boolean in its place names the fix (YAML read `true`, `10`
/// or `yes` as another type: quoted, it is text).
pub fn want_str<'a>(node: &'a Node, what: &'static str) -> Result<&'a str, ValueError> {
    node.as_str().ok_or_else(|| match node.kind {
        Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => ValueError::Unquoted {
            what,
            found: node.type_name(),
        },
        _ => expected(what, node),
    })
}

pub fn want_bool(node: &Node) -> Result<bool, ValueError> {
    match node.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(expected("a boolean (true/false, yes/no, on/off)", node)),
    }
}

/// A non-negative duration in seconds: a number, or a string such as `60`, `60s`,
/// `5m`, `1h`, `1h 30m` (jiff's friendly duration format).
pub fn want_seconds(node: &Node) -> Result<f64, ValueError> {
    let value = match &node.kind {
        Kind::Int(i) => *i as f64,
        Kind::Float(f) => *f,
        Kind::Str(s) => parse_duration(s)?,
        _ => return Err(expected("a duration (seconds, or 60s, 5m, 1h)", node)),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(ValueError::Negative(number_text(node)));
    }
    if value > 1e9 {
        return Err(ValueError::TooLarge(number_text(node)));
    }
    Ok(value)
}

fn number_text(node: &Node) -> String {
    match &node.kind {
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => subst::python_float(*f),
        Kind::Str(s) => s.clone(),
        _ => String::new(),
    }
}

/// Seconds of a duration string: a bare number, or jiff's friendly format (`5m`).
fn parse_duration(text: &str) -> Result<f64, ValueError> {
    let t = text.trim();
    if let Ok(seconds) = t.parse::<f64>() {
        return Ok(seconds);
    }
    t.parse::<jiff::SignedDuration>()
        .map(|d| d.as_secs_f64())
        .map_err(|_| ValueError::Duration(text.to_string()))
}

pub fn want_uint(node: &Node, min: i64) -> Result<u64, ValueError> {
    match node.kind {
        Kind::Int(i) if i >= min => Ok(i as u64),
        Kind::Int(i) if i < 0 => Err(ValueError::Negative(i.to_string())),
        Kind::Int(got) => Err(ValueError::TooSmall { min, got }),
        _ => Err(expected("an integer", node)),
    }
}

pub fn want_port(node: &Node) -> Result<u16, ValueError> {
    match node.kind {
        Kind::Int(i) if (1..=65535).contains(&i) => Ok(i as u16),
        Kind::Int(i) => Err(ValueError::Port(i)),
        _ => Err(expected("a port number", node)),
    }
}

/// One string or a list of strings.
pub fn want_str_list(node: &Node) -> Result<Vec<(String, &Node)>, ValueError> {
    match &node.kind {
        Kind::Str(s) => Ok(vec![(s.clone(), node)]),
        Kind::Seq(items) => items
            .iter()
            .map(|i| match &i.kind {
                Kind::Str(s) => Ok((s.clone(), i)),
                _ => Err(ValueError::ListItem(i.type_name())),
            })
            .collect(),
        _ => Err(expected("a string or a list of strings", node)),
    }
}

/// Bytes: an integer, or a string like `64KiB`, `1MiB`, `500KB` (KB = 1000, D4).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000_u64.pow(2),
        "GB" => 1000_u64.pow(3),
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => {
            return Err(SizeError::Unit {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| SizeError::Number(text.to_string()))?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes > (1u64 << 50) as f64 {
        return Err(SizeError::TooLarge(text.to_string()));
    }
    Ok(bytes as u64)
}

pub fn want_size(node: &Node) -> Result<u64, ValueError> {
    match &node.kind {
        Kind::Int(i) if *i >= 0 => Ok(*i as u64),
        Kind::Int(i) => Err(ValueError::Negative(i.to_string())),
        Kind::Str(s) => Ok(parse_size(s)?),
        _ => Err(expected("a size (bytes, or a string like 64KiB)", node)),
    }
}

pub fn want_path(node: &Node) -> Result<PathBuf, ValueError> {
    let s = want_str(node, "a path")?;
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(PathBuf::from(s))
}

pub fn want_socket_addr(node: &Node) -> Result<SocketAddr, ValueError> {
    match &node.kind {
        Kind::Int(_) => Ok(SocketAddr::from(([127, 0, 0, 1], want_port(node)?))),
        Kind::Str(s) => SocketAddr::from_str(s).map_err(|_| ValueError::SocketAddr(s.clone())),
        _ => Err(expected("ADDR:PORT", node)),
    }
}
