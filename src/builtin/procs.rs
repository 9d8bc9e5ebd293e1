//! `check_procs`: `-w`, `-c` (ranges on the count), `-s` (a substring of the STAT text),
//! `-C` (command name), `-a` (substring of the arguments), `-u` (user), `-m PROCS`,
//! as monitoring-plugins 2.3 counts them (smokerd itself is left out, as the plugin
//! leaves out itself, its parent and its `ps`).

use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_procs";
const FLAGS: [Flag; 7] = [
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('s', "state", true),
    flag('C', "command", true),
    flag('a', "argument-array", true),
    flag('u', "user", true),
    flag('m', "metric", true),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Procs {
    /// Each range with its text as given (the perfdata repeats it).
    warn: Option<(Range, String)>,
    crit: Option<(Range, String)>,
    states: Option<String>,
    command: Option<String>,
    args: Option<String>,
    user: Option<(u32, String)>,
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

impl Procs {
    pub fn parse(rest: &[String]) -> Result<Procs, BuiltinError> {
        let mut p = Procs {
            warn: None,
            crit: None,
            states: None,
            command: None,
            args: None,
            user: None,
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'w' => p.warn = Some((common::range(NAME, f, &value)?, value)),
                'c' => p.crit = Some((common::range(NAME, f, &value)?, value)),
                's' => p.states = Some(value),
                'C' => p.command = Some(value),
                'a' => p.args = Some(value),
                'u' => p.user = Some(user(&value)?),
                _ if value == "PROCS" => {}
                _ => return Err(common::bad(NAME, f, &value, "only PROCS is built in")),
            }
        }
        Ok(p)
    }

    /// Whether one process passes the filters.
    fn matches(&self, p: &procfs::process::Process) -> bool {
        let Ok(stat) = p.stat() else {
            return false;
        };
        if let Some(states) = &self.states
            && !stat_letters(&stat).contains(states.as_str())
        {
            return false;
        }
        if self.command.as_ref().is_some_and(|c| *c != stat.comm) {
            return false;
        }
        if let Some((uid, _)) = &self.user
            && p.uid().ok() != Some(*uid)
        {
            return false;
        }
        if let Some(needle) = &self.args {
            let args = match p.cmdline() {
                Ok(words) if !words.is_empty() => words.join(" "),
                _ => format!("[{}]", stat.comm),
            };
            return args.contains(needle.as_str());
        }
        true
    }

    pub fn run(&self) -> Output {
        let me = std::process::id() as i32;
        let Ok(all) = procfs::process::all_processes() else {
            return Output::new(State::Unknown, "PROCS UNKNOWN - cannot read /proc".into());
        };
        let count = all
            .filter_map(Result::ok)
            .filter(|p| p.pid != me && self.matches(p))
            .count();
        let (state, text) = self.report(count);
        Output::new(state, text)
    }

    fn report(&self, count: usize) -> (State, String) {
        let (warn, crit) = (self.warn.as_ref(), self.crit.as_ref());
        let state = common::status(count as f64, warn.map(|w| &w.0), crit.map(|c| &c.0));
        let mut with = Vec::new();
        if let Some(s) = &self.states {
            with.push(format!("STATE = {s}"));
        }
        if let Some(c) = &self.command {
            with.push(format!("command name '{c}'"));
        }
        if let Some(a) = &self.args {
            with.push(format!("args '{a}'"));
        }
        if let Some((uid, name)) = &self.user {
            with.push(format!("UID = {uid} ({name})"));
        }
        let noun = if count == 1 { "process" } else { "processes" };
        let with = if with.is_empty() {
            String::new()
        } else {
            format!(" with {}", with.join(", "))
        };
        let text_of = |r: Option<&(Range, String)>| r.map_or("", |r| r.1.as_str()).to_string();
        let text = format!(
            "PROCS {}: {count} {noun}{with} | procs={count};{};{};0;",
            state.word(),
            text_of(warn),
            text_of(crit)
        );
        (state, text)
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

    #[test]
    fn text_is_the_plugins() {
        let (state, text) = procs("-s Z -w 5 -c 20").report(0);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "PROCS OK: 0 processes with STATE = Z | procs=0;5;20;0;"
        );
        let (state, text) = procs("-C bash -w 1:").report(1);
        assert_eq!(state, State::Ok);
        assert_eq!(
            text,
            "PROCS OK: 1 process with command name 'bash' | procs=1;1:;;0;"
        );
        assert_eq!(procs("-w 1:").report(0).0, State::Warning);
        assert!(Procs::parse(&["-m".into(), "RSS".into()]).is_err());
    }
}
