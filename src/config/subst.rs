//! `%(Name)s` substitution (smoker-compat.md §1.4, decisions.md D4/D5): Python
//! `%`-mapping semantics with the "recommended" escaping.
//!
//! Plugin commands are substituted once at load; command actions are substituted at run
//! time by the action runner with params ⊕ result fields, through the same [`substitute`].
//! Values render the Python way (`True`, `None`, `{'a': 1}`); strings are escaped with a
//! backslash before every ASCII character outside `[A-Za-z0-9_]` (shell-safe unquoted).

use indexmap::IndexMap;
use serde_json::Value;
use smoker_compat::pyrepr::type_name;
pub use smoker_compat::pyrepr::{python_float, python_repr, python_str};

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    /// `%(Key)s` names no parameter.
    #[error("Missing parameter {0}")]
    Missing(String),
    /// A string value holds a newline (or NUL): no escaping makes that shell-safe.
    #[error("value of {0} contains a newline, which cannot be used in a Command")]
    Newline(String),
    /// Malformed template (Python's message where there is one).
    #[error("{0}")]
    Format(String),
}

/// Fills `template` for `/bin/sh -c`: strings escaped, newlines rejected.
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<String, SubstError> {
    fill(template, lookup, true)
}

/// Fills a command action's template (D5): the plugin's effective parameters ⊕ the
/// result's smoker fields (`status`, `messages`, `lastRun`, `componentResults`, `action`,
/// `forced`, …), then `name` (the plugin name) and `result_json` (the result object as
/// JSON) unless a parameter already has that name.
pub fn substitute_action(
    template: &str,
    params: &IndexMap<String, Value>,
    plugin_name: &str,
    result: &serde_json::Map<String, Value>,
) -> Result<String, SubstError> {
    let lookup = |key: &str| {
        result
            .get(key)
            .or_else(|| params.get(key))
            .cloned()
            .or_else(|| match key {
                "name" => Some(Value::String(plugin_name.to_string())),
                "result_json" => Some(Value::String(Value::Object(result.clone()).to_string())),
                _ => None,
            })
    };
    substitute(template, &lookup)
}

/// Fills one `Argv` element: no shell, so no escaping and newlines are fine.
pub fn substitute_raw(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<String, SubstError> {
    fill(template, lookup, false)
}

/// The `%(…)` keys a template uses (in order, repeats kept); stops at the first format error.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let _ = walk(template, &mut |piece| {
        if let Piece::Key { key, .. } = piece {
            keys.push(key.to_string());
        }
        Ok(())
    });
    keys
}

/// Checks a template's syntax without values (for action commands checked at load).
pub fn check_syntax(template: &str) -> Result<(), SubstError> {
    walk(template, &mut |_| Ok(()))
}

enum Piece<'a> {
    Text(&'a str),
    Key { key: &'a str, conv: char },
}

/// Splits a template into text and `%(key)c` pieces, Python-style.
fn walk<'a>(
    template: &'a str,
    out: &mut dyn FnMut(Piece<'a>) -> Result<(), SubstError>,
) -> Result<(), SubstError> {
    let bytes = template.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        // D4: a `%` followed by neither `(` nor `%` is a literal `%` (Nagios commands).
        if bytes[i] != b'%' || !matches!(bytes.get(i + 1), Some(b'(' | b'%')) {
            i += 1;
            continue;
        }
        out(Piece::Text(&template[text_start..i]))?;
        i += 1;
        if bytes[i] == b'%' {
            out(Piece::Text("%"))?;
            i += 1;
        } else {
            let (key, conv, end) = read_key(template, i)?;
            out(Piece::Key { key, conv })?;
            i = end;
        }
        text_start = i;
    }
    out(Piece::Text(&template[text_start..]))
}

/// The `%(key)c` whose `(` is at `open`: key, conversion, and the index after it.
fn read_key(template: &str, open: usize) -> Result<(&str, char, usize), SubstError> {
    let bytes = template.as_bytes();
    // The key runs to the matching ')', nested parentheses counted (Python).
    let key_start = open + 1;
    let mut depth = 1;
    let mut j = key_start;
    while j < bytes.len() {
        match bytes[j] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        j += 1;
    }
    if j >= bytes.len() {
        return Err(SubstError::Format("incomplete format key".into()));
    }
    let key = &template[key_start..j];
    let conv_at = j + 1;
    let Some(conv) = template[conv_at..].chars().next() else {
        return Err(SubstError::Format("incomplete format".into()));
    };
    if !matches!(conv, 's' | 'r' | 'd' | 'i') {
        return Err(SubstError::Format(format!(
            "unsupported format character '{conv}' (0x{:x}) at index {conv_at} in %({key}){conv}; \
             write a literal % as %%",
            u32::from(conv)
        )));
    }
    Ok((key, conv, conv_at + conv.len_utf8()))
}

fn fill(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
    escape: bool,
) -> Result<String, SubstError> {
    let mut out = String::with_capacity(template.len());
    walk(template, &mut |piece| {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Key { key, conv } => {
                let value = lookup(key).ok_or_else(|| SubstError::Missing(key.to_string()))?;
                out.push_str(&render(key, &value, conv, escape)?);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Renders one value the Python way; for the shell, the whole text is escaped: not only
/// strings but also the repr of lists and dicts (which may carry plugin output, e.g.
/// `%(messages)s` in an action), so no value can inject shell syntax.
fn render(key: &str, value: &Value, conv: char, escape: bool) -> Result<String, SubstError> {
    let text = match conv {
        'd' | 'i' => match value {
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(u)) => u.to_string(),
                _ => format!("{}", n.as_f64().unwrap_or(0.0).trunc() as i64),
            },
            other => {
                return Err(SubstError::Format(format!(
                    "%d format: a real number is required, not {} (parameter {key})",
                    type_name(other)
                )));
            }
        },
        'r' => python_repr(value),
        _ => python_str(value),
    };
    if !escape {
        return Ok(text);
    }
    check_line(key, &text)?;
    Ok(shell_escape(&text))
}

fn check_line(key: &str, s: &str) -> Result<(), SubstError> {
    if s.contains(['\n', '\0']) {
        Err(SubstError::Newline(key.to_string()))
    } else {
        Ok(())
    }
}

/// Backslash before every ASCII character outside `[A-Za-z0-9_]`; non-ASCII kept.
pub fn shell_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sub(template: &str, params: Value) -> Result<String, SubstError> {
        substitute(template, &|k| params.get(k).cloned())
    }

    #[test]
    fn escapes_every_ascii_punctuation() {
        let p = json!({"Msg": "hello world; rm -rf / $(id) `id` 'q' \"d\" a|b&c>d<e!f"});
        assert_eq!(
            sub("echo %(Msg)s", p).unwrap(),
            r#"echo hello\ world\;\ rm\ \-rf\ \/\ \$\(id\)\ \`id\`\ \'q\'\ \"d\"\ a\|b\&c\>d\<e\!f"#
        );
        assert_eq!(sub("%(M)s", json!({"M": "é_ü9"})).unwrap(), "é_ü9");
    }

    #[test]
    fn python_rendering_of_non_strings() {
        let p = json!({"i": 5, "t": true, "f": false, "n": null, "x": 1.5, "big": 1e20, "small": 0.00001,
            "m": {"info": ["x"], "error": [], "warn": []}, "l": [1, "a'b", null]});
        assert_eq!(
            sub("%(i)s %(t)s %(f)s %(n)s", p.clone()).unwrap(),
            "5 True False None"
        );
        let raw = |t: &str| substitute_raw(t, &|k| p.get(k).cloned()).unwrap();
        assert_eq!(raw("%(x)s %(big)s %(small)s"), "1.5 1e+20 1e-05");
        assert_eq!(raw("%(m)s"), "{'info': ['x'], 'error': [], 'warn': []}");
        assert_eq!(raw("%(l)s"), "[1, \"a'b\", None]");
        // For the shell, every rendered value is escaped, reprs included.
        assert_eq!(
            sub("%(x)s %(big)s %(small)s", p.clone()).unwrap(),
            r"1\.5 1e\+20 1e\-05"
        );
        assert_eq!(
            sub("%(m)s", p.clone()).unwrap(),
            r"\{\'info\'\:\ \[\'x\'\]\,\ \'error\'\:\ \[\]\,\ \'warn\'\:\ \[\]\}"
        );
        assert_eq!(sub("%(i)d %(t)d", p).unwrap(), "5 1");
    }

    #[test]
    fn percent_and_errors() {
        assert_eq!(sub("date +%%s", json!({})).unwrap(), "date +%s");
        assert_eq!(sub("%(a(b))s", json!({"a(b)": "x"})).unwrap(), "x");
        assert_eq!(
            sub("echo %(Nope)s", json!({})),
            Err(SubstError::Missing("Nope".into()))
        );
        assert_eq!(
            SubstError::Missing("Nope".into()).to_string(),
            "Missing parameter Nope"
        );
        assert_eq!(
            sub("echo %(M)s", json!({"M": "a\nb"})),
            Err(SubstError::Newline("M".into()))
        );
        assert_eq!(
            substitute_raw("%(M)s", &|_| Some(json!("a\nb $x"))).unwrap(),
            "a\nb $x"
        );
        // D4: a lone `%` is literal; `%%` stays `%`.
        assert_eq!(sub("date +%s", json!({})).unwrap(), "date +%s");
        assert_eq!(
            sub("check_disk -w 10% -c 5% -p %(P)s", json!({"P": "/"})).unwrap(),
            "check_disk -w 10% -c 5% -p \\/"
        );
        assert_eq!(
            sub("x %(a)y", json!({"a": 1})).unwrap_err().to_string(),
            "unsupported format character 'y' (0x79) at index 6 in %(a)y; write a literal % as %%"
        );
        assert_eq!(sub("50%", json!({})).unwrap(), "50%");
        // The same in one `Argv:`/`Builtin:` element.
        let raw = |t: &str| substitute_raw(t, &|_| Some(json!("7"))).unwrap();
        assert_eq!(raw("10%"), "10%");
        assert_eq!(raw("%%"), "%");
        assert_eq!(raw("%(W)s%"), "7%");
        assert_eq!(raw("a%b%(W)s%%"), "a%b7%");
        assert_eq!(
            sub("%(abc", json!({})).unwrap_err().to_string(),
            "incomplete format key"
        );
        assert_eq!(placeholders("a %(x)s %% %(y)d"), vec!["x", "y"]);
    }

    #[test]
    fn action_commands_see_params_result_name_and_json() {
        let params: IndexMap<String, Value> = [
            ("Msg".to_string(), json!("hi")),
            ("status".to_string(), json!("param")),
        ]
        .into_iter()
        .collect();
        let result = json!({"status": "WARN", "messages": {"info": [], "error": [], "warn": ["disk 85%"]}, "forced": false});
        let Value::Object(result) = result else {
            unreachable!()
        };
        let out = substitute_action(
            "notify %(name)s %(status)s %(Msg)s %(forced)s %(messages)s %(result_json)s",
            &params,
            "disk",
            &result,
        )
        .unwrap();
        let json_text = r#"{"status":"WARN","messages":{"info":[],"error":[],"warn":["disk 85%"]},"forced":false}"#;
        let want = format!(
            "notify disk WARN hi False {} {}",
            shell_escape("{'info': [], 'error': [], 'warn': ['disk 85%']}"),
            shell_escape(json_text)
        );
        assert_eq!(out, want);
    }

    /// The real proof: through `/bin/sh -c`, every value arrives as one literal word.
    #[test]
    fn shell_receives_exactly_the_value() {
        let values = [
            json!("hello; touch /tmp/x"),
            json!("$(id) `id` ${HOME} $HOME"),
            json!("'single' \"double\" \\ back"),
            json!("a|b&c>d<e!f*g?h[i]~j#k"),
            json!(" lead and trail "),
            json!("tab\there é ü"),
            json!({"info": ["x'; rm -rf / #"], "error": [], "warn": []}),
            json!([1, -2.5, null, true]),
            json!(-7),
        ];
        for v in values {
            let cmd = substitute("printf %%s %(V)s", &|_| Some(v.clone())).unwrap();
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&cmd)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                python_str(&v),
                "{cmd}"
            );
        }
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(python_repr(&json!("it's")), "\"it's\"");
        assert_eq!(python_repr(&json!("a'\"b")), "'a\\'\"b'");
        assert_eq!(python_repr(&json!("tab\tnl\n")), "'tab\\tnl\\n'");
    }
}
