//! `check_procs`: `-w`, `-c` (ranges), `-s` (a substring of the STAT text), `-C`
//! (command name), `-a` (substring of the arguments), `-u` (user), and `-m PROCS` (the
//! count), `RSS`, `VSZ` (KiB, per process) or `CPU` (`ps`'s %CPU, per process), as
//! monitoring-plugins 2.3 counts them (smokerd itself is left out, as the plugin
//! leaves out itself, its parent and its `ps`).

use procfs::Current;
use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_procs";
pub(super) const FLAGS: [Flag; 7] = [
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('s', "state", true),
    flag('C', "command", true),
    flag('a', "argument-array", true),
    flag('u', "user", true),
    flag('m', "metric", true),
];

/// What the thresholds apply to (`-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Procs,
    Rss,
    Vsz,
    Cpu,
}

impl Metric {
    fn parse(value: &str) -> Result<Metric, BuiltinError> {
        Ok(match value {
            "PROCS" => Metric::Procs,
            "RSS" => Metric::Rss,
            "VSZ" => Metric::Vsz,
            "CPU" => Metric::Cpu,
            _ => return Err(common::bad(NAME, 'm', value, "PROCS, RSS, VSZ or CPU")),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Metric::Procs => "PROCS",
            Metric::Rss => "RSS",
            Metric::Vsz => "VSZ",
            Metric::Cpu => "CPU",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Procs {
    /// Each range with its text as given (the perfdata repeats it).
    warn: Option<(Range, String)>,
    crit: Option<(Range, String)>,
    states: Option<String>,
    command: Option<String>,
    args: Option<String>,
    user: Option<u32>,
    metric: Metric,
    /// The filters as the status line names them, in the order given.
    with: Vec<String>,
}

fn user(value: &str) -> Result<(u32, String), BuiltinError> {
    let found = match value.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(uid.into()),
        Err(_) => nix::unistd::User::from_name(value),
    };
    match found {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.name)),
        _ => Err(common::bad(NAME, 'u', value, "no such user")),
    }
}

/// One process as `ps axwwo 'stat uid pid ppid vsz rss pcpu etime comm args'` shows it.
struct Seen {
    rss_kib: u64,
    vsz_kib: u64,
    pcpu: f64,
}

/// The system numbers `ps` needs for %CPU.
struct Clock {
    hz: u64,
    uptime: f64,
    page_kib: u64,
}

impl Procs {
    pub fn parse(rest: &[String]) -> Result<Procs, BuiltinError> {
        let mut p = Procs {
            warn: None,
            crit: None,
            states: None,
            command: None,
            args: None,
            user: None,
            metric: Metric::Procs,
            with: Vec::new(),
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'w' => p.warn = Some((common::range(NAME, f, &value)?, value)),
                'c' => p.crit = Some((common::range(NAME, f, &value)?, value)),
                's' => {
                    p.with.push(format!("STATE = {value}"));
                    p.states = Some(value);
                }
                'C' => {
                    p.with.push(format!("command name '{value}'"));
                    p.command = Some(value);
                }
                'a' => {
                    p.with.push(format!("args '{value}'"));
                    p.args = Some(value);
                }
                'u' => {
                    let (uid, name) = user(&value)?;
                    p.with.push(format!("UID = {uid} ({name})"));
                    p.user = Some(uid);
                }
                _ => p.metric = Metric::parse(&value)?,
            }
        }
        Ok(p)
    }

    /// The process if it passes the filters.
    fn matches(&self, p: &procfs::process::Process, clock: &Clock) -> Option<Seen> {
        let stat = p.stat().ok()?;
        if let Some(states) = &self.states
            && !stat_letters(&stat).contains(states.as_str())
        {
            return None;
        }
        if self.command.as_ref().is_some_and(|c| *c != stat.comm) {
            return None;
        }
        if self.user.is_some() && p.uid().ok() != self.user {
            return None;
        }
        if let Some(needle) = &self.args {
            let args = match p.cmdline() {
                Ok(words) if !words.is_empty() => words.join(" "),
                _ => format!("[{}]", stat.comm),
            };
            if !args.contains(needle.as_str()) {
                return None;
            }
        }
        Some(Seen {
            rss_kib: stat.rss.saturating_mul(clock.page_kib),
            vsz_kib: stat.vsize / 1024,
            pcpu: pcpu(stat.utime + stat.stime, stat.starttime, clock),
        })
    }

    pub fn run(&self) -> Output {
        let me = std::process::id() as i32;
        let Ok(all) = procfs::process::all_processes() else {
            return Output::new(State::Unknown, "PROCS UNKNOWN - cannot read /proc".into());
        };
        let clock = Clock {
            hz: procfs::ticks_per_second().max(1),
            uptime: procfs::Uptime::current().map_or(0.0, |u| u.uptime),
            page_kib: procfs::page_size() / 1024,
        };
        let seen: Vec<Seen> = all
            .filter_map(Result::ok)
            .filter(|p| p.pid != me)
            .filter_map(|p| self.matches(&p, &clock))
            .collect();
        let (state, text) = self.report(&seen);
        Output::new(state, text)
    }

    fn report(&self, seen: &[Seen]) -> (State, String) {
        let (warn, crit) = (self.warn.as_ref(), self.crit.as_ref());
        let status = |v: f64| common::status(v, warn.map(|w| &w.0), crit.map(|c| &c.0));
        let count = seen.len();
        let (mut warns, mut crits) = (0, 0);
        let state = if self.metric == Metric::Procs {
            status(count as f64)
        } else {
            let mut state = State::Ok;
            for p in seen {
                let s = status(match self.metric {
                    Metric::Rss => p.rss_kib as f64,
                    Metric::Vsz => p.vsz_kib as f64,
                    _ => p.pcpu,
                });
                warns += usize::from(s == State::Warning);
                crits += usize::from(s == State::Critical);
                state = state.max(s);
            }
            state
        };
        let mut text = format!("{} {}: ", self.metric.name(), state.word());
        if self.metric != Metric::Procs {
            match state {
                State::Warning => text.push_str(&format!("{warns} warn out of ")),
                State::Critical => text.push_str(&format!("{crits} crit, {warns} warn out of ")),
                _ => {}
            }
        }
        let noun = if count == 1 { "process" } else { "processes" };
        text.push_str(&format!("{count} {noun}"));
        if !self.with.is_empty() {
            text.push_str(&format!(" with {}", self.with.join(", ")));
        }
        let text_of = |r: Option<&(Range, String)>| r.map_or("", |r| r.1.as_str()).to_string();
        text.push_str(&match self.metric {
            Metric::Procs => format!(" | procs={count};{};{};0;", text_of(warn), text_of(crit)),
            _ => format!(" | procs={count};;;0; procs_warn={warns};;;0; procs_crit={crits};;;0;"),
        });
        (state, text)
    }
}

/// `ps`'s %CPU (procps-ng 4): CPU ticks over the ticks of the process's life (from
/// the uptime, to the tick), in tenths of a percent rounded down; whole percent
/// above 99.9.
fn pcpu(ticks: u64, start_ticks: u64, clock: &Clock) -> f64 {
    let hz = clock.hz as f64;
    let life = ((clock.uptime - start_ticks as f64 / hz) * hz).max(0.0) as u64;
    if life == 0 {
        return 0.0;
    }
    let tenths = ticks * 1000 / life;
    if tenths > 999 {
        (tenths / 10) as f64
    } else {
        tenths as f64 / 10.0
    }
}

/// The STAT column `ps` prints: the state letter, then `<`/`N`, `s`, `l`, `+`.
fn stat_letters(stat: &procfs::process::Stat) -> String {
    let mut s = stat.state.to_string();
    if stat.nice < 0 {
        s.push('<');
    } else if stat.nice > 0 {
        s.push('N');
    }
    if stat.session == stat.pid {
        s.push('s');
    }
    if stat.num_threads > 1 {
        s.push('l');
    }
    if stat.tpgid == stat.pgrp {
        s.push('+');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procs(s: &str) -> Procs {
        Procs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    fn seen(rss_kib: u64, vsz_kib: u64, pcpu: f64) -> Seen {
        Seen {
            rss_kib,
            vsz_kib,
            pcpu,
        }
    }

    #[test]
    fn text_is_the_plugins() {
        let (state, text) = procs("-s Z -w 5 -c 20").report(&[]);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "PROCS OK: 0 processes with STATE = Z | procs=0;5;20;0;"
        );
        let (state, text) = procs("-C bash -w 1: -m PROCS").report(&[seen(1, 1, 0.0)]);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "PROCS OK: 1 process with command name 'bash' | procs=1;1:;;0;"
        );
        assert_eq!(procs("-w 1:").report(&[]).0, State::Warning);
        // The filters are named in the order given, as the plugin builds its text.
        let (_, text) = procs("-a x -s S -C y").report(&[]);
        assert!(
            text.contains("with args 'x', STATE = S, command name 'y' |"),
            "{text}"
        );
        assert!(Procs::parse(&["-m".into(), "ELAPSED".into()]).is_err());
    }

    #[test]
    fn metrics_count_processes_past_the_thresholds() {
        let all = [
            seen(50, 900, 0.0),
            seen(150, 100, 60.5),
            seen(250, 100, 95.0),
        ];
        let (state, text) = procs("-m RSS -w 100 -c 200 -C smokerd").report(&all);
        assert_eq!(state, State::Critical);
        assert_eq!(
            text,
            "RSS CRITICAL: 1 crit, 1 warn out of 3 processes with command name 'smokerd' \
             | procs=3;;;0; procs_warn=1;;;0; procs_crit=1;;;0;"
        );
        let (state, text) = procs("-m VSZ -w 500 -c 1000").report(&all);
        assert_eq!(state, State::Warning);
        assert!(
            text.starts_with("VSZ WARNING: 1 warn out of 3 processes | "),
            "{text}"
        );
        let (state, text) = procs("-m CPU -w 96 -c 99").report(&all);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "CPU OK: 3 processes | procs=3;;;0; procs_warn=0;;;0; procs_crit=0;;;0;"
        );
        assert_eq!(
            procs("-m CPU -w 60 -c 90.5").report(&all).0,
            State::Critical
        );
        assert_eq!(procs("-m CPU -w 95 -c 99").report(&all).0, State::Ok);
        let (state, text) = procs("-m RSS -w 1 -C none").report(&[]);
        assert_eq!(
            (state, text.starts_with("RSS OK: 0 processes with")),
            (State::Ok, true)
        );
    }

    #[test]
    fn pcpu_is_ps_tenths() {
        let clock = Clock {
            hz: 100,
            uptime: 1000.0,
            page_kib: 4,
        };
        // 123 s of CPU over 1000 s of life: 12.3 %.
        assert_eq!(pcpu(12_300, 0, &clock), 12.3);
        assert_eq!(pcpu(12_399, 0, &clock), 12.3);
        // Over 99.9 %: whole percent; half a second old, 0.1 s of CPU: 20 %.
        assert_eq!(pcpu(300_000, 0, &clock), 300.0);
        assert_eq!(pcpu(10, 99_950, &clock), 20.0);
        assert_eq!(pcpu(10, 100_000, &clock), 0.0);
    }
}
