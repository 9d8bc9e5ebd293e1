//! The built-in set as `man smokerd.yaml` lists it: each built-in, what it checks,
//! and its flags (from the same tables its parser reads).

use super::{
    args::{Flag, supported},
    disk, file_age, http, load, memory, procs, swap, tcp, users,
};

/// One built-in for the manual.
pub struct Entry {
    pub name: &'static str,
    /// What it checks and how its thresholds read.
    pub about: &'static str,
    /// `-w (--warning), -c (--critical), …`
    pub flags: String,
}

fn entry(name: &'static str, about: &'static str, flags: &[Flag]) -> Entry {
    Entry {
        name,
        about,
        flags: supported(flags),
    }
}

/// Every built-in, in the order of [`super::NAMES`].
pub fn catalogue() -> Vec<Entry> {
    vec![
        entry(
            "check_load",
            "Load average. -w/-c: one value or three (1, 5 and 15 minutes); -r divides by the number of CPUs.",
            &load::FLAGS,
        ),
        entry(
            "check_disk",
            "Free space of mounted file systems, as statvfs gives it. -w/-c: percent free (N%) or free units (N, in the -u unit, MiB by default; 100M is read in it too); -W/-K: percent of inodes free; -p selects a path (repeatable; thresholds apply to the -p given after them); -A every mount; -x/-X exclude a path or a file system type; -l local file systems only; -u bytes, kB, MB, GB, TB or PB. Percentages are whole numbers, the used one rounded up, as the plugin's.",
            &disk::FLAGS,
        ),
        entry(
            "check_swap",
            "Free swap. -w/-c: percent (N%) or bytes free; -n the state when there is no swap (ok, warning, critical, unknown).",
            &swap::FLAGS,
        ),
        entry(
            "check_procs",
            "Processes. -w/-c: ranges on the count, or with -m RSS, VSZ (KiB) or CPU (percent, as ps shows it) on each process, counting those past them; filters -s (STAT letters), -C (command name), -a (argument substring), -u (user).",
            &procs::FLAGS,
        ),
        entry(
            "check_users",
            "Users logged in (utmp). -w/-c: ranges on the count.",
            &users::FLAGS,
        ),
        entry(
            "check_tcp",
            "A TCP connection to -H HOST -p PORT. -w/-c: seconds to connect; -t: timeout; -S: a TLS handshake after connecting; -D DAYS[,DAYS]: certificate days left for WARNING[,CRITICAL] (then only the certificate is checked).",
            &tcp::FLAGS,
        ),
        entry(
            "check_http",
            "An HTTP(S) request as the plugin makes it. -H virtual host, -I address, -p port, -u URL path, -S HTTPS; -e expected status strings, -s a string the body must contain; -w/-c: seconds of response time; -t: timeout; -C DAYS[,DAYS]: certificate days left (then only the certificate is checked). 3xx is OK, 4xx WARNING, 5xx CRITICAL.",
            &http::FLAGS,
        ),
        entry(
            "check_file_age",
            "Age and size of the file -f. -w/-c: seconds since its last change; -W/-C: least size in bytes; -i: a missing file is OK.",
            &file_age::FLAGS,
        ),
        entry(
            "check_memory",
            "Memory available (MemAvailable), which no monitoring plugin reports. -w/-c: percent available.",
            &memory::FLAGS,
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_is_listed_with_its_flags() {
        let names: Vec<&str> = super::catalogue().iter().map(|e| e.name).collect();
        assert_eq!(names, super::super::NAMES);
        let disk = &super::catalogue()[1];
        assert!(disk.flags.contains("-K (--icritical)"), "{}", disk.flags);
    }
}
