//! Python 3 spellings of JSON-shaped values, as the original smoker (Python 3) prints
//! them: `repr()` and `str()` of `None`, `True`, numbers, strings, lists and dicts, and
//! `type(x).__name__`. A pure codec: text in, text out.
//!
//! Strings follow Python 3's `repr`: single quotes unless the text holds `'` and no `"`;
//! `\\`, `\n`, `\r`, `\t` and the quote escaped; every character that is not printable
//! (`str.isprintable()`: controls C0 and C1 (`\x80`–`\x9f`), format characters, private
//! use, line and paragraph separators, spaces other than ' ') as `\xNN`, `\uNNNN` or
//! `\UNNNNNNNN`; everything else kept as it is. Unassigned code points are kept: which ones
//! Python escapes depends on its Unicode version.

use serde_json::Value;

/// Python `repr(value)` of a JSON-shaped value (dicts in their key order).
pub fn python_repr(value: &Value) -> String {
    let mut out = String::new();
    repr_into(value, &mut out);
    out
}

/// Python `str(value)`: a string as it is, anything else as its `repr`.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python `type(value).__name__`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn repr_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(u)) => out.push_str(&u.to_string()),
            _ => out.push_str(&python_float(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => repr_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(k, out);
                out.push_str(": ");
                repr_into(v, out);
            }
            out.push('}');
        }
    }
}

/// Python 3 `repr(text)` appended to `out`.
pub fn repr_str(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => out.push_str(&hex_escape(c)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `\xNN`, `\uNNNN` or `\UNNNNNNNN`, as Python picks by the code point's size.
fn hex_escape(c: char) -> String {
    let n = c as u32;
    if n < 0x100 {
        format!("\\x{n:02x}")
    } else if n < 0x1_0000 {
        format!("\\u{n:04x}")
    } else {
        format!("\\U{n:08x}")
    }
}

/// Assigned code points Python 3.11 (Unicode 14) does not call printable: categories
/// Cc, Cf, Co, Zl, Zp and Zs other than the space, and the surrogates (never in a `str`).
const NOT_PRINTABLE: [(u32, u32); 28] = [
    (0x0000, 0x001f),
    (0x007f, 0x00a0),
    (0x00ad, 0x00ad),
    (0x0600, 0x0605),
    (0x061c, 0x061c),
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x1680, 0x1680),
    (0x180e, 0x180e),
    (0x2000, 0x200f),
    (0x2028, 0x202f),
    (0x205f, 0x2064),
    (0x2066, 0x206f),
    (0x3000, 0x3000),
    (0xd800, 0xf8ff),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x13438),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0001, 0xe0001),
    (0xe0020, 0xe007f),
    (0xf0000, 0xffffd),
    (0x100000, 0x10fffd),
];

/// Python's `str.isprintable()` for one character (assigned code points).
fn printable(c: char) -> bool {
    let n = c as u32;
    let i = NOT_PRINTABLE.partition_point(|&(_, last)| last < n);
    NOT_PRINTABLE.get(i).is_none_or(|&(first, _)| n < first)
}

/// Python `repr(float)`: shortest round-trip digits, scientific outside `1e-4 ≤ |x| < 1e16`.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip mantissa, e.g. "1.5e-5".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let (int_part, frac_part) = if point <= 0 {
            (
                "0".to_string(),
                format!("{}{}", "0".repeat((-point) as usize), digits),
            )
        } else if point as usize >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point as usize - digits.len())),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_string(),
                digits[point as usize..].to_string(),
            )
        };
        let frac = if frac_part.is_empty() {
            "0".to_string()
        } else {
            frac_part
        };
        format!("{sign}{int_part}.{frac}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{exp_sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_escape_like_python3() {
        let repr = |s: &str| python_repr(&json!(s));
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(repr("tab\tnl\n\\"), "'tab\\tnl\\n\\\\'");
        // Python 3: C1 controls, NBSP and soft hyphen are escaped; other Latin-1 is kept.
        assert_eq!(
            repr("\u{1}\u{7f}\u{80}\u{9f}\u{a0}\u{ad}é"),
            "'\\x01\\x7f\\x80\\x9f\\xa0\\xadé'"
        );
        assert_eq!(
            repr("\u{200b}\u{2028}\u{feff}\u{e000}"),
            "'\\u200b\\u2028\\ufeff\\ue000'"
        );
        assert_eq!(repr("\u{e0001}\u{1f600}ü€"), "'\\U000e0001\u{1f600}ü€'");
    }

    #[test]
    fn values_spell_like_python() {
        assert_eq!(python_str(&json!(null)), "None");
        assert_eq!(python_str(&json!(true)), "True");
        assert_eq!(python_str(&json!("x")), "x");
        assert_eq!(
            python_repr(&json!({"b": [1, 1.5, 1e20, null], "a": "x"})),
            "{'b': [1, 1.5, 1e+20, None], 'a': 'x'}"
        );
        assert_eq!(type_name(&json!(1.0)), "float");
        assert_eq!(type_name(&json!(1)), "int");
        assert_eq!(type_name(&json!({})), "dict");
    }

    #[test]
    fn python_float_forms() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(100.0), "100.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(123456789012345.6), "123456789012345.6");
        assert_eq!(python_float(-2.5e-7), "-2.5e-07");
        assert_eq!(python_float(0.0001), "0.0001");
    }
}
