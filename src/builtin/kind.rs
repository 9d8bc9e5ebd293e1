//! Which built-in a `Builtin:` list names, parsed into its check.

use super::{
    common::{BuiltinError, Output},
    disk, file_age, http, load, memory, procs, swap, tcp, users,
};

/// A parsed built-in check.
#[derive(Debug, Clone, PartialEq)]
pub enum Builtin {
    Load(load::Load),
    Disk(disk::Disk),
    Swap(swap::Swap),
    Users(users::Users),
    Memory(memory::Memory),
    Procs(procs::Procs),
    FileAge(file_age::FileAge),
    Tcp(tcp::Tcp),
    Http(http::Http),
}

impl Builtin {
    /// Parses `argv` (plugin name, then its flags); an error names the bad flag.
    pub fn parse(argv: &[String]) -> Result<Builtin, BuiltinError> {
        let Some((name, rest)) = argv.split_first() else {
            return Err(BuiltinError::UnknownPlugin {
                name: String::new(),
            });
        };
        let base = name.rsplit('/').next().unwrap_or(name);
        Ok(match base {
            "check_load" => Builtin::Load(load::Load::parse(rest)?),
            "check_disk" => Builtin::Disk(disk::Disk::parse(rest)?),
            "check_swap" => Builtin::Swap(swap::Swap::parse(rest)?),
            "check_users" => Builtin::Users(users::Users::parse(rest)?),
            "check_memory" => Builtin::Memory(memory::Memory::parse(rest)?),
            "check_procs" => Builtin::Procs(procs::Procs::parse(rest)?),
            "check_file_age" => Builtin::FileAge(file_age::FileAge::parse(rest)?),
            "check_tcp" => Builtin::Tcp(tcp::Tcp::parse(rest)?),
            "check_http" => Builtin::Http(http::Http::parse(rest)?),
            _ => {
                return Err(BuiltinError::UnknownPlugin { name: name.clone() });
            }
        })
    }

    /// The built-in a shell command line (nrpe.cfg's `command[…]=`) runs as: `None`
    /// unless the shell would take it as a plain word list (no `$`, globs, quotes
    /// with expansion, redirections, pipes, `~`) naming a plugin and flags of the set.
    pub fn of_command_line(line: &str) -> Option<(Vec<String>, Builtin)> {
        const SHELL: [char; 14] = [
            '|', ';', '&', '>', '<', '`', '$', '*', '?', '[', '(', ')', '\\', '\n',
        ];
        if line.contains(SHELL) {
            return None;
        }
        let argv = shlex::split(line)?;
        if argv
            .iter()
            .any(|w| w.starts_with('~') && !w.starts_with("~:"))
        {
            return None;
        }
        let check = Builtin::parse(&argv).ok()?;
        Some((argv, check))
    }

    /// Whether a run can block in the kernel (statvfs, stat on a hung mount, connect, TLS).
    pub fn may_block(&self) -> bool {
        matches!(
            self,
            Builtin::Disk(_) | Builtin::FileAge(_) | Builtin::Tcp(_) | Builtin::Http(_)
        )
    }

    /// Runs the check on the calling thread (it may block: see [`run`]).
    pub fn run_blocking(&self) -> Output {
        match self {
            Builtin::Load(c) => c.run(),
            Builtin::Disk(c) => c.run(),
            Builtin::Swap(c) => c.run(),
            Builtin::Users(c) => c.run(),
            Builtin::Memory(c) => c.run(),
            Builtin::Procs(c) => c.run(),
            Builtin::FileAge(c) => c.run(),
            Builtin::Tcp(c) => c.run(),
            Builtin::Http(c) => c.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn unknown_plugins_and_flags_are_errors() {
        let e = Builtin::parse(&argv("check_nope -w 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("check_load"), "{e}");
        let e = Builtin::parse(&argv("check_load -w 1 -c 2 -Z")).unwrap_err();
        assert!(e.to_string().contains("-Z"), "{e}");
        assert!(Builtin::parse(&argv("check_users -w x")).is_err());
        assert!(Builtin::parse(&argv("/usr/lib/nagios/plugins/check_load -w 1 -c 2")).is_ok());
        assert!(Builtin::parse(&argv("check_http -H a -S -C 30,7")).is_ok());
        assert!(Builtin::parse(&argv("check_tcp -H a -p 1 -S -D 30")).is_ok());
        let e = Builtin::parse(&argv("check_http -H a -N")).unwrap_err();
        assert!(
            e.to_string().contains("-N") && e.to_string().contains("-e (--expect)"),
            "{e}"
        );
    }

    #[test]
    fn command_lines_the_shell_would_change_are_not_builtins() {
        let of = |line: &str| Builtin::of_command_line(line).map(|(argv, _)| argv);
        let line = "/usr/lib/nagios/plugins/check_disk -w '10%' -c 5% -p /";
        assert_eq!(of(line).unwrap()[2], "10%");
        assert!(of("check_users -w ~:5 -c 10").is_some());
        for line in [
            "check_disk -w 10% -c 5% -p $HOME",
            "check_disk -w 10% -c 5% -p ~",
            "check_load -w 1 -c 2 > /dev/null",
            "check_disk -w 10% -c 5% -p /m*",
            "check_load -w 1 -c 2; rm x",
            "check_load -w 1 -c 2 -Z",
            "sudo check_load -w 1 -c 2",
            "check_load -w '1 -c 2",
        ] {
            assert!(of(line).is_none(), "{line}");
        }
    }
}
