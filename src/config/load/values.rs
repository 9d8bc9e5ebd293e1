//! Typed reading of YAML nodes: each reader returns the value or the message of
//! what is wrong with it; the caller adds position and key path.

use super::*;

// ---------------------------------------------------------------------------------------
// Typed reading of nodes: each returns a message on a wrong value.

pub(super) fn expected(what: &str, node: &Node) -> String {
    format!("expected {what}, found {}", node.type_name())
}

pub(super) fn want_str<'a>(node: &'a Node, what: &str) -> Result<&'a str, String> {
    node.as_str().ok_or_else(|| expected(what, node))
}

pub(super) fn want_bool(node: &Node) -> Result<bool, String> {
    match node.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(expected("a boolean (true/false, yes/no, on/off)", node)),
    }
}

/// A non-negative number of seconds.
pub(super) fn want_seconds(node: &Node) -> Result<f64, String> {
    let value = match node.kind {
        Kind::Int(i) => i as f64,
        Kind::Float(f) => f,
        _ => return Err(expected("a number of seconds", node)),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("must not be negative, got {}", number_text(node)));
    }
    if value > 1e9 {
        return Err(format!("is too large: {}", number_text(node)));
    }
    Ok(value)
}

pub(super) fn number_text(node: &Node) -> String {
    match node.kind {
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => subst::python_float(f),
        _ => String::new(),
    }
}

pub(super) fn want_uint(node: &Node, min: i64) -> Result<u64, String> {
    match node.kind {
        Kind::Int(i) if i >= min => Ok(i as u64),
        Kind::Int(i) if i < 0 => Err(format!("must not be negative, got {i}")),
        Kind::Int(i) => Err(format!("must be at least {min}, got {i}")),
        _ => Err(expected("an integer", node)),
    }
}

pub(super) fn want_port(node: &Node) -> Result<u16, String> {
    match node.kind {
        Kind::Int(i) if (1..=65535).contains(&i) => Ok(i as u16),
        Kind::Int(i) => Err(format!("must be a port number 1-65535, got {i}")),
        _ => Err(expected("a port number", node)),
    }
}

/// One string or a list of strings.
pub(super) fn want_str_list(node: &Node) -> Result<Vec<(String, &Node)>, String> {
    match &node.kind {
        Kind::Str(s) => Ok(vec![(s.clone(), node)]),
        Kind::Seq(items) => items
            .iter()
            .map(|i| match &i.kind {
                Kind::Str(s) => Ok((s.clone(), i)),
                _ => Err(format!(
                    "list items must be strings, found {}",
                    i.type_name()
                )),
            })
            .collect(),
        _ => Err(expected("a string or a list of strings", node)),
    }
}

/// Bytes: an integer, or a string like `64KiB`, `1MiB`, `500KB` (KB = 1000, D4).
pub fn parse_size(text: &str) -> Result<u64, String> {
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
            return Err(format!(
                "unknown size unit {unit:?} in {text:?} (use bytes, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("not a size: {text:?} (examples: 65536, 64KiB, 1MiB)"))?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes > (1u64 << 50) as f64 {
        return Err(format!("size too large: {text:?}"));
    }
    Ok(bytes as u64)
}

pub(super) fn want_size(node: &Node) -> Result<u64, String> {
    match &node.kind {
        Kind::Int(i) if *i >= 0 => Ok(*i as u64),
        Kind::Int(i) => Err(format!("must not be negative, got {i}")),
        Kind::Str(s) => parse_size(s),
        _ => Err(expected("a size (bytes, or a string like 64KiB)", node)),
    }
}

pub(super) fn want_path(node: &Node) -> Result<PathBuf, String> {
    let s = want_str(node, "a path")?;
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(PathBuf::from(s))
}

pub(super) fn want_socket_addr(node: &Node) -> Result<SocketAddr, String> {
    match &node.kind {
        Kind::Int(_) => Ok(SocketAddr::from(([127, 0, 0, 1], want_port(node)?))),
        Kind::Str(s) => SocketAddr::from_str(s)
            .map_err(|_| format!("expected ADDR:PORT (e.g. 127.0.0.1:9100), got {s:?}")),
        _ => Err(expected("ADDR:PORT", node)),
    }
}

/// Smallest edit distance ≤ 2 to a known key.
pub(super) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .filter(|k| **k != key)
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
