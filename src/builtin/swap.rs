//! `check_swap`: `-w`, `-c` (percent free `N%` or bytes free `N`), `-n` (the state
//! when there is no swap), as monitoring-plugins 2.3 gives them.

use procfs::Current;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_swap";
pub(super) const FLAGS: [Flag; 3] = [
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('n', "no-swap", true),
];

/// A free-swap threshold: percent or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Threshold {
    value: f64,
    percent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Swap {
    warn: Threshold,
    crit: Threshold,
    no_swap: State,
}

fn threshold(flag: char, value: &str) -> Result<Threshold, BuiltinError> {
    let (number, percent) = match value.strip_suffix('%') {
        Some(n) => (n, true),
        None => (value, false),
    };
    let v = number
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && (!percent || *v <= 100.0) && (percent || v.fract() == 0.0));
    let v = v.ok_or_else(|| common::bad(NAME, flag, value, "expected N% or a byte count"))?;
    Ok(Threshold { value: v, percent })
}

fn no_swap_state(value: &str) -> Result<State, BuiltinError> {
    match value.to_ascii_lowercase().as_str() {
        "ok" => Ok(State::Ok),
        "warning" => Ok(State::Warning),
        "critical" => Ok(State::Critical),
        "unknown" => Ok(State::Unknown),
        _ => Err(common::bad(
            NAME,
            'n',
            value,
            "ok, warning, critical or unknown",
        )),
    }
}

impl Swap {
    pub fn parse(rest: &[String]) -> Result<Swap, BuiltinError> {
        let mut swap = Swap {
            warn: Threshold::default(),
            crit: Threshold::default(),
            no_swap: State::Critical,
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'w' => swap.warn = threshold(f, &value)?,
                'c' => swap.crit = threshold(f, &value)?,
                _ => swap.no_swap = no_swap_state(&value)?,
            }
        }
        let invalid = |reason: &str| BuiltinError::Invalid {
            plugin: NAME.into(),
            reason: reason.into(),
        };
        let (w, c) = (swap.warn, swap.crit);
        if !w.percent && !c.percent && w.value == 0.0 && c.value == 0.0 {
            return Err(invalid("at least one threshold (-w or -c) must be set"));
        }
        if w.percent && c.percent && w.value < c.value {
            return Err(invalid("warning percentage should be more than critical"));
        }
        if !w.percent && !c.percent && w.value < c.value {
            return Err(invalid("warning free space should be more than critical"));
        }
        Ok(swap)
    }

    pub fn run(&self) -> Output {
        match procfs::Meminfo::current() {
            Ok(m) => {
                let total_mb = m.swap_total as f64 / 1024.0 / 1024.0;
                let free_mb = m.swap_free as f64 / 1024.0 / 1024.0;
                let (state, text) = self.report(free_mb, total_mb);
                Output::new(state, text)
            }
            Err(e) => Output::new(State::Unknown, format!("SWAP UNKNOWN - {e}")),
        }
    }

    fn state(&self, free_mb: f64, total_mb: f64) -> State {
        if total_mb == 0.0 {
            return self.no_swap;
        }
        let free = (free_mb * 1024.0 * 1024.0) as u64 as f64;
        let used_percent = (((total_mb - free_mb) / total_mb) * 100.0) as u64 as f64;
        let (w, c) = (self.warn, self.crit);
        if !c.percent && c.value >= free && (w.value != 0.0 || c.value != 0.0) {
            return State::Critical;
        }
        if !w.percent && w.value >= free && (w.value != 0.0 || c.value != 0.0) {
            return State::Warning;
        }
        if c.percent && used_percent >= 100.0 - c.value {
            return State::Critical;
        }
        if w.percent && used_percent >= 100.0 - w.value {
            return State::Warning;
        }
        State::Ok
    }

    fn report(&self, free_mb: f64, total_mb: f64) -> (State, String) {
        let state = self.state(free_mb, total_mb);
        let percent = if total_mb > 0.0 {
            100.0 * free_mb / total_mb
        } else {
            0.0
        };
        let note = if total_mb == 0.0 {
            "- Swap is either disabled, not present, or of zero size. "
        } else {
            ""
        };
        let mb = 1024.0 * 1024.0;
        let print = |t: Threshold| {
            if t.percent {
                (t.value * (total_mb * mb / 100.0)) as u64
            } else {
                t.value as u64
            }
        };
        let text = format!(
            "SWAP {} - {}% free ({}MB out of {}MB) {note}|swap={}B;{};{};0;{}",
            state.word(),
            percent as i64,
            free_mb as i64,
            total_mb as i64,
            (free_mb * mb) as u64,
            print(self.warn),
            print(self.crit),
            (total_mb * mb) as u64,
        );
        (state, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap(s: &str) -> Result<Swap, BuiltinError> {
        Swap::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn no_swap_follows_n() {
        let (state, text) = swap("-w 20% -c 10%").unwrap().report(0.0, 0.0);
        assert_eq!(state, State::Critical);
        assert_eq!(
            text,
            "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is either disabled, not present, \
             or of zero size. |swap=0B;0;0;0;0"
        );
        let s = swap("-n ok -w 20% -c 10%").unwrap();
        assert_eq!(s.report(0.0, 0.0).0, State::Ok);
    }

    #[test]
    fn percent_and_bytes_thresholds() {
        let s = swap("-w 50% -c 10%").unwrap();
        assert_eq!(s.state(600.0, 1000.0), State::Ok);
        assert_eq!(s.state(400.0, 1000.0), State::Warning);
        assert_eq!(s.state(50.0, 1000.0), State::Critical);
        let s = swap("-w 104857600 -c 1048576").unwrap();
        assert_eq!(s.state(50.0, 1000.0), State::Warning);
        assert!(swap("").is_err());
        assert!(swap("-w 10% -c 20%").is_err());
        assert!(swap("-n maybe -w 1%").is_err());
    }
}
