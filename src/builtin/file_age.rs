//! `check_file_age`: `-f`, `-w`, `-c` (seconds old), `-W`, `-C` (bytes), `-i`, as
//! monitoring-plugins 2.3 gives them: bare numbers compare (older than `-c`/`-w`,
//! smaller than `-C`/`-W`); any range syntax makes every threshold a range.

use std::time::SystemTime;

use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_file_age";
pub(super) const FLAGS: [Flag; 6] = [
    flag('f', "file", true),
    flag('w', "warning-age", true),
    flag('c', "critical-age", true),
    flag('W', "warning-size", true),
    flag('C', "critical-size", true),
    flag('i', "ignore-missing", false),
];

#[derive(Debug, Clone, PartialEq)]
pub struct FileAge {
    file: String,
    /// `-w -c -W -C` as given (defaults 240, 600, 0, 0; `0:` for sizes in range mode).
    texts: [String; 4],
    /// Set when any threshold is not a bare number.
    ranges: Option<[Range; 4]>,
    ignore_missing: bool,
}

impl FileAge {
    pub fn parse(rest: &[String]) -> Result<FileAge, BuiltinError> {
        let mut file = None;
        let mut texts: [Option<String>; 4] = Default::default();
        let mut ignore_missing = false;
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'f' => file = Some(value),
                'w' => texts[0] = Some(value),
                'c' => texts[1] = Some(value),
                'W' => texts[2] = Some(value),
                'C' => texts[3] = Some(value),
                _ => ignore_missing = true,
            }
        }
        let file = file.ok_or_else(|| BuiltinError::Invalid {
            plugin: NAME.into(),
            reason: "-f FILE is required".into(),
        })?;
        let bare = |t: &Option<String>| {
            t.as_ref()
                .is_none_or(|t| t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty())
        };
        let range_mode = !texts.iter().all(bare);
        let size_default = if range_mode { "0:" } else { "0" };
        let defaults = ["240", "600", size_default, size_default];
        let texts: [String; 4] = std::array::from_fn(|i| {
            texts[i]
                .clone()
                .filter(|t| t != "0" || i < 2)
                .unwrap_or_else(|| defaults[i].into())
        });
        let ranges = if range_mode {
            let flags = ['w', 'c', 'W', 'C'];
            let mut out = [Range::parse("0:").map_err(|e| common::bad(NAME, 'w', "0:", e))?; 4];
            for i in 0..4 {
                out[i] = common::range(NAME, flags[i], &texts[i])?;
            }
            Some(out)
        } else {
            None
        };
        Ok(FileAge {
            file,
            texts,
            ranges,
            ignore_missing,
        })
    }

    pub fn run(&self) -> Output {
        let Ok(meta) = std::fs::metadata(&self.file) else {
            return if self.ignore_missing {
                let text = format!(
                    "FILE_AGE OK: {} doesn't exist, but ignore-missing was set",
                    self.file
                );
                Output::new(State::Ok, text)
            } else {
                Output::new(
                    State::Critical,
                    format!("FILE_AGE CRITICAL: File not found - {}", self.file),
                )
            };
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok());
        let age = now - mtime.map_or(0, |d| d.as_secs() as i64);
        let (state, text) = self.report(age, meta.len());
        Output::new(state, text)
    }

    fn state(&self, age: i64, size: u64) -> State {
        let (age_f, size_f) = (age as f64, size as f64);
        if let Some([w, c, ws, cs]) = &self.ranges {
            return if c.alerts(age_f) || cs.alerts(size_f) {
                State::Critical
            } else if w.alerts(age_f) || ws.alerts(size_f) {
                State::Warning
            } else {
                State::Ok
            };
        }
        let n = |i: usize| self.texts[i].parse::<f64>().unwrap_or(0.0);
        if age_f > n(1) || size_f < n(3) {
            State::Critical
        } else if age_f > n(0) || size_f < n(2) {
            State::Warning
        } else {
            State::Ok
        }
    }

    fn report(&self, age: i64, size: u64) -> (State, String) {
        let state = self.state(age, size);
        let [w, c, ws, cs] = &self.texts;
        let text = format!(
            "FILE_AGE {}: {} is {age} seconds old and {size} bytes | age={age}s;{w};{c} size={size}B;{ws};{cs};0",
            state.word(),
            self.file
        );
        (state, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fa(s: &str) -> FileAge {
        FileAge::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn numbers_and_ranges() {
        let (state, text) = fa("-f /x").report(0, 3);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "FILE_AGE OK: /x is 0 seconds old and 3 bytes | age=0s;240;600 size=3B;0;0;0"
        );
        assert_eq!(fa("-f /x -W 10 -C 5").report(0, 3).0, State::Critical);
        assert_eq!(fa("-f /x -w 500 -c 2000").report(1000, 3).0, State::Warning);
        assert_eq!(fa("-f /x -w 1:100 -c @0:1").report(0, 3).0, State::Critical);
        assert_eq!(fa("-f /x -w 1:100 -c @0:1").report(50, 3).0, State::Ok);
        assert!(FileAge::parse(&["-w".into(), "1".into()]).is_err());
    }
}
