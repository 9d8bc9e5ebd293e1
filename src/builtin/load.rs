//! `check_load`: `-w`, `-c` (one value or three), `-r` (divide by the CPU count),
//! as monitoring-plugins 2.3 gives them.

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_load";
pub(super) const FLAGS: [Flag; 3] = [
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('r', "percpu", false),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    warn: [f64; 3],
    crit: [f64; 3],
    per_cpu: bool,
}

/// `5` or `5,4,3` (missing ones repeat the last given), as the plugin's `get_threshold`.
fn triplet(flag: char, value: &str) -> Result<[f64; 3], BuiltinError> {
    let mut out = [0.0; 3];
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() > 3 {
        return Err(common::bad(NAME, flag, value, "one value or three"));
    }
    for (i, part) in parts.iter().enumerate() {
        out[i] = part
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| common::bad(NAME, flag, value, "not a number ≥ 0"))?;
    }
    for i in parts.len()..3 {
        out[i] = out[parts.len() - 1];
    }
    Ok(out)
}

impl Load {
    pub fn parse(rest: &[String]) -> Result<Load, BuiltinError> {
        let (mut warn, mut crit, mut per_cpu) = (None, None, false);
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'w' => warn = Some(triplet(f, &value)?),
                'c' => crit = Some(triplet(f, &value)?),
                _ => per_cpu = true,
            }
        }
        let missing = |flag: &str| BuiltinError::Invalid {
            plugin: NAME.into(),
            reason: format!("{flag} is required"),
        };
        let warn = warn.ok_or_else(|| missing("-w"))?;
        let crit = crit.ok_or_else(|| missing("-c"))?;
        if let Some(i) = (0..3).find(|&i| warn[i] > crit[i]) {
            let minutes = [1, 5, 15][i];
            return Err(BuiltinError::Invalid {
                plugin: NAME.into(),
                reason: format!("{minutes}-minute warning load is greater than critical load"),
            });
        }
        Ok(Load {
            warn,
            crit,
            per_cpu,
        })
    }

    pub fn run(&self) -> Output {
        let total = match load_average() {
            Ok(t) => t,
            Err(e) => return Output::new(State::Unknown, format!("LOAD UNKNOWN - {e}")),
        };
        // Only `-r` needs the CPU count (glibc reads it from /sys on each call).
        let judged = if self.per_cpu {
            let cpus = cpu_count();
            total.map(|v| v / cpus)
        } else {
            total
        };
        Output::new(self.state(&judged), self.text(&total, &judged))
    }

    fn state(&self, la: &[f64; 3]) -> State {
        let mut state = State::Ok;
        for (i, load) in la.iter().enumerate() {
            if *load > self.crit[i] {
                return State::Critical;
            }
            if *load > self.warn[i] {
                state = State::Warning;
            }
        }
        state
    }

    fn text(&self, total: &[f64; 3], judged: &[f64; 3]) -> String {
        let state = self.state(judged);
        let mut text = format!("LOAD {} - ", state.word());
        if self.per_cpu {
            let [a, b, c] = judged;
            text.push_str(&format!("scaled load average: {a:.2}, {b:.2}, {c:.2} - "));
        }
        let [a, b, c] = total;
        text.push_str(&format!("total load average: {a:.2}, {b:.2}, {c:.2}|"));
        for (i, minutes) in [1, 5, 15].iter().enumerate() {
            let (w, c) = (self.warn[i], self.crit[i]);
            if self.per_cpu {
                text.push_str(&format!("load{minutes}={:.3};;;0; ", total[i]));
                let v = judged[i];
                text.push_str(&format!("scaled_load{minutes}={v:.3};{w:.3};{c:.3};0; "));
            } else {
                text.push_str(&format!("load{minutes}={:.3};{w:.3};{c:.3};0; ", total[i]));
            }
        }
        text
    }
}

/// The three load averages from /proc/loadavg, as the plugin's `getloadavg` reads
/// them (in an LXCFS container that file is the container's; `sysinfo(2)` would give
/// the host's), through its text so values print as the plugin prints them.
fn load_average() -> procfs::ProcResult<[f64; 3]> {
    use procfs::Current;
    let avg = procfs::LoadAverage::current()?;
    let exact = |v: f32| v.to_string().parse::<f64>().unwrap_or(f64::from(v));
    Ok([exact(avg.one), exact(avg.five), exact(avg.fifteen)])
}

/// The CPUs the plugin divides by (`sysconf(_SC_NPROCESSORS_CONF)`).
fn cpu_count() -> f64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::_NPROCESSORS_CONF) {
        Ok(Some(n)) if n > 0 => n as f64,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: &str) -> Result<Load, BuiltinError> {
        Load::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn thresholds_take_one_value_or_three() {
        let l = load("-w 1 -c 2,3").unwrap();
        assert_eq!((l.warn, l.crit), ([1.0; 3], [2.0, 3.0, 3.0]));
        assert!(load("-w 1").is_err());
        assert!(load("-w 3 -c 2").is_err());
        assert!(load("-w x -c 2").is_err());
    }

    #[test]
    fn states_and_text_are_the_plugins() {
        let l = load("-w 5,4,3 -c 10,8,6").unwrap();
        let la = [3.61, 2.37, 3.21];
        assert_eq!(l.state(&la), State::Warning);
        assert_eq!(
            l.text(&la, &la),
            "LOAD WARNING - total load average: 3.61, 2.37, 3.21|load1=3.610;5.000;10.000;0; \
             load5=2.370;4.000;8.000;0; load15=3.210;3.000;6.000;0; "
        );
        assert_eq!(l.state(&[11.0, 0.0, 0.0]), State::Critical);
    }
}
