//! Command-line flags of a built-in, read the way getopt reads the plugin's own:
//! `-w 10`, `-w10`, `--warning=10`, `--warning 10`; anything else is an error that
//! names the flag and lists the supported ones.

use super::common::BuiltinError;

/// One flag a built-in accepts.
pub struct Flag {
    pub short: char,
    pub long: &'static str,
    pub takes_value: bool,
}

/// Shorthand for a flag table entry.
pub const fn flag(short: char, long: &'static str, takes_value: bool) -> Flag {
    Flag {
        short,
        long,
        takes_value,
    }
}

/// `-w --warning, -c --critical, …` for error messages.
pub fn supported(flags: &[Flag]) -> String {
    flags
        .iter()
        .map(|f| format!("-{} (--{})", f.short, f.long))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The flags of `args` in order, each with its value when it takes one.
pub fn parse(
    plugin: &str,
    flags: &[Flag],
    args: &[String],
) -> Result<Vec<(char, String)>, BuiltinError> {
    let unknown = |flag: &str| BuiltinError::UnknownFlag {
        plugin: plugin.to_string(),
        flag: flag.to_string(),
        supported: supported(flags),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (found, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let f = flags.iter().find(|f| f.long == name);
            (f.ok_or_else(|| unknown(arg))?, value)
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('-');
            let f = flags.iter().find(|f| f.short == c);
            let f = f.ok_or_else(|| unknown(&format!("-{c}")))?;
            let rest: String = chars.collect();
            if !f.takes_value && !rest.is_empty() {
                return Err(unknown(arg));
            }
            (f, (!rest.is_empty()).then_some(rest))
        } else {
            return Err(BuiltinError::Positional {
                plugin: plugin.to_string(),
                arg: arg.clone(),
                supported: supported(flags),
            });
        };
        let value = match (found.takes_value, inline) {
            (false, None) => String::new(),
            (false, Some(_)) => return Err(unknown(arg)),
            (true, Some(v)) => v,
            (true, None) => {
                let v = args.get(i).ok_or_else(|| BuiltinError::MissingValue {
                    plugin: plugin.to_string(),
                    flag: format!("-{}", found.short),
                })?;
                i += 1;
                v.clone()
            }
        };
        out.push((found.short, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: [Flag; 3] = [
        flag('w', "warning", true),
        flag('c', "critical", true),
        flag('r', "percpu", false),
    ];

    fn p(args: &[&str]) -> Result<Vec<(char, String)>, BuiltinError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse("check_load", &FLAGS, &args)
    }

    #[test]
    fn reads_getopt_forms() {
        let want = vec![
            ('w', "1".to_string()),
            ('r', String::new()),
            ('c', "2".into()),
        ];
        assert_eq!(p(&["-w", "1", "-r", "-c2"]).unwrap(), want);
        assert_eq!(
            p(&["--warning=1", "--percpu", "--critical", "2"]).unwrap(),
            want
        );
    }

    #[test]
    fn unknown_flags_are_named_with_the_supported_ones() {
        let e = p(&["-z", "1"]).unwrap_err().to_string();
        assert!(e.contains("-z") && e.contains("-w (--warning)"), "{e}");
        assert!(p(&["--nope"]).is_err());
        assert!(p(&["-w"]).is_err());
        assert!(p(&["stray"]).is_err());
        assert!(p(&["-rx"]).is_err());
    }
}
