//! `check_memory` (no monitoring plugin has it): `-w`, `-c` on the percent of
//! memory available (`MemAvailable` of /proc/meminfo); WARNING below `-w`.

use procfs::Current;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_memory";
pub(super) const FLAGS: [Flag; 2] = [flag('w', "warning", true), flag('c', "critical", true)];

#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    warn: Option<f64>,
    crit: Option<f64>,
}

fn percent(flag: char, value: &str) -> Result<f64, BuiltinError> {
    value
        .strip_suffix('%')
        .unwrap_or(value)
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=100.0).contains(v))
        .ok_or_else(|| common::bad(NAME, flag, value, "expected a percent 0–100"))
}

impl Memory {
    pub fn parse(rest: &[String]) -> Result<Memory, BuiltinError> {
        let mut m = Memory {
            warn: None,
            crit: None,
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'w' => m.warn = Some(percent(f, &value)?),
                _ => m.crit = Some(percent(f, &value)?),
            }
        }
        if let (Some(w), Some(c)) = (m.warn, m.crit)
            && w < c
        {
            return Err(BuiltinError::Invalid {
                plugin: NAME.into(),
                reason: "warning percent available should be more than critical".into(),
            });
        }
        Ok(m)
    }

    pub fn run(&self) -> Output {
        match procfs::Meminfo::current() {
            Ok(m) => {
                let available = m.mem_available.unwrap_or(m.mem_free);
                let (state, text) = self.report(available, m.mem_total);
                Output::new(state, text)
            }
            Err(e) => Output::new(State::Unknown, format!("MEMORY UNKNOWN - {e}")),
        }
    }

    fn report(&self, available: u64, total: u64) -> (State, String) {
        let pct = if total > 0 {
            100.0 * available as f64 / total as f64
        } else {
            0.0
        };
        let state = if self.crit.is_some_and(|c| pct < c) {
            State::Critical
        } else if self.warn.is_some_and(|w| pct < w) {
            State::Warning
        } else {
            State::Ok
        };
        let bytes = |p: Option<f64>| {
            p.map_or(String::new(), |p| {
                (((p / 100.0) * total as f64) as u64).to_string()
            })
        };
        let mib = 1024 * 1024;
        let text = format!(
            "MEMORY {} - {pct:.0}% available ({}MiB out of {}MiB)|available={available}B;{};{};0;{total}",
            state.word(),
            available / mib,
            total / mib,
            bytes(self.warn),
            bytes(self.crit),
        );
        (state, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_threshold_alerts() {
        let m = Memory::parse(&["-w".into(), "20%".into(), "-c".into(), "10".into()]).unwrap();
        let gib = 1 << 30;
        let (state, text) = m.report(gib, 4 * gib);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "MEMORY OK - 25% available (1024MiB out of 4096MiB)|available=1073741824B;\
             858993459;429496729;0;4294967296"
        );
        assert_eq!(m.report(gib / 2, 4 * gib).0, State::Warning);
        assert_eq!(m.report(gib / 8, 4 * gib).0, State::Critical);
        assert!(Memory::parse(&["-w".into(), "5".into(), "-c".into(), "10".into()]).is_err());
    }
}
