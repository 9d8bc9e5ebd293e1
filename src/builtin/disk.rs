//! `check_disk`: `-w`, `-c` (percent free `N%` or free units `N`), `-W`, `-K`
//! (percent of inodes free), `-p` (repeatable), `-x`, `-X`, `-A`, `-l`, `-u`, as
//! monitoring-plugins 2.3 gives them (statvfs; `used = blocks - bfree`, free =
//! `bavail`, perfdata in whole units times the unit).

use nix::sys::statvfs::statvfs;
use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_disk";
const FLAGS: [Flag; 10] = [
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('W', "iwarning", true),
    flag('K', "icritical", true),
    flag('p', "path", true),
    flag('x', "exclude_device", true),
    flag('X', "exclude-type", true),
    flag('A', "all", false),
    flag('l', "local", false),
    flag('u', "units", true),
];

/// Thresholds of one kind (free percent, free units, free inode percent).
#[derive(Debug, Clone, PartialEq, Default)]
struct Pair {
    warn: Option<Range>,
    crit: Option<Range>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    paths: Vec<String>,
    exclude_paths: Vec<String>,
    exclude_types: Vec<String>,
    local_only: bool,
    units: (u64, &'static str),
    free_percent: Pair,
    free_units: Pair,
    free_inodes: Pair,
}

/// `10%` / `10` → the alerting range `@10` (alert at or below), as the plugin builds it.
fn free_range(flag: char, value: &str) -> Result<Range, BuiltinError> {
    let v = value.strip_suffix('%').unwrap_or(value);
    let spec = if v.starts_with('@') {
        v.to_string()
    } else {
        format!("@{v}")
    };
    common::range(NAME, flag, &spec)
}

fn units(value: &str) -> Result<(u64, &'static str), BuiltinError> {
    let k = 1024u64;
    Ok(match value {
        v if v.eq_ignore_ascii_case("bytes") => (1, "B"),
        "kB" | "KiB" => (k, "kiB"),
        "MB" | "MiB" => (k * k, "MiB"),
        "GB" | "GiB" => (k * k * k, "GiB"),
        "TB" | "TiB" => (k * k * k * k, "TiB"),
        "PB" | "PiB" => (k * k * k * k * k, "PiB"),
        _ => return Err(common::bad(NAME, 'u', value, "bytes, kB, MB, GB, TB or PB")),
    })
}

/// Gnulib's `ME_DUMMY` file system types (skipped unless a path names them).
const DUMMY: [&str; 24] = [
    "autofs",
    "proc",
    "subfs",
    "debugfs",
    "devpts",
    "fusectl",
    "fuse.portal",
    "mqueue",
    "rpc_pipefs",
    "sysfs",
    "devfs",
    "kernfs",
    "ignore",
    "binfmt_misc",
    "cgroup",
    "cgroup2",
    "configfs",
    "hugetlbfs",
    "pstore",
    "securityfs",
    "selinuxfs",
    "tracefs",
    "bpf",
    "efivarfs",
];

/// One mount as the mount list gives it.
struct Mount {
    dir: String,
    dev: String,
    fs_type: String,
    bind: bool,
}

impl Mount {
    fn dummy(&self) -> bool {
        DUMMY.contains(&self.fs_type.as_str()) || (self.fs_type == "none" && !self.bind)
    }

    fn remote(&self) -> bool {
        let smb = ["smbfs", "smb3", "cifs"].contains(&self.fs_type.as_str());
        self.dev.contains(':') || (self.dev.starts_with("//") && smb) || self.dev == "-hosts"
    }
}

fn mounts() -> Vec<Mount> {
    let Ok(infos) = procfs::process::Process::myself().and_then(|p| p.mountinfo()) else {
        return Vec::new();
    };
    infos
        .iter()
        .map(|m| Mount {
            dir: m.mount_point.to_string_lossy().into_owned(),
            dev: m.mount_source.clone().unwrap_or_default(),
            fs_type: m.fs_type.clone(),
            bind: m.mount_options.contains_key("bind"),
        })
        .collect()
}

impl Disk {
    pub fn parse(rest: &[String]) -> Result<Disk, BuiltinError> {
        let mut d = Disk {
            paths: Vec::new(),
            exclude_paths: Vec::new(),
            exclude_types: Vec::new(),
            local_only: false,
            units: (1024 * 1024, "MiB"),
            free_percent: Pair::default(),
            free_units: Pair::default(),
            free_inodes: Pair::default(),
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            let pct = value.ends_with('%');
            match f {
                'w' if pct => d.free_percent.warn = Some(free_range(f, &value)?),
                'w' => d.free_units.warn = Some(free_range(f, &value)?),
                'c' if pct => d.free_percent.crit = Some(free_range(f, &value)?),
                'c' => d.free_units.crit = Some(free_range(f, &value)?),
                'W' => d.free_inodes.warn = Some(free_range(f, &value)?),
                'K' => d.free_inodes.crit = Some(free_range(f, &value)?),
                'p' => d.paths.push(value),
                'x' => d.exclude_paths.push(value),
                'X' => d.exclude_types.push(value),
                'l' => d.local_only = true,
                'u' => d.units = units(&value)?,
                _ => d.paths.clear(),
            }
        }
        Ok(d)
    }

    /// The mounts to report: the best match of each `-p`, or every real mount.
    fn selected(&self, all: &[Mount]) -> Result<Vec<usize>, String> {
        let mut picked = Vec::new();
        if self.paths.is_empty() {
            picked.extend(0..all.len());
        }
        for path in &self.paths {
            if let Err(e) = std::fs::metadata(path) {
                let reason = e.raw_os_error().map_or(e.to_string(), |n| {
                    nix::errno::Errno::from_raw(n).desc().to_string()
                });
                return Err(format!("{path} is not accessible: {reason}"));
            }
            let best = all
                .iter()
                .enumerate()
                .filter(|(_, m)| within(path, &m.dir))
                .max_by_key(|(i, m)| (m.dir.len(), *i));
            picked.extend(best.map(|(i, _)| i));
        }
        let mut seen = std::collections::HashSet::new();
        Ok(picked
            .into_iter()
            .filter(|&i| self.keeps(&all[i]) && seen.insert(all[i].dir.clone()))
            .collect())
    }

    /// The plugin's filters: dummy, remote with `-l`, `-X` types, `-x` paths.
    fn keeps(&self, m: &Mount) -> bool {
        let excluded = m.dummy()
            || (self.local_only && m.remote())
            || self.exclude_types.contains(&m.fs_type)
            || self
                .exclude_paths
                .iter()
                .any(|x| *x == m.dev || *x == m.dir);
        !excluded
    }

    pub fn run(&self) -> Output {
        let all = mounts();
        let picked = match self.selected(&all) {
            Ok(p) => p,
            Err(text) => return Output::new(State::Critical, format!("DISK CRITICAL - {text}")),
        };
        let mut state = State::Unknown;
        let (mut body, mut perf) = (String::new(), String::new());
        for i in picked {
            let m = &all[i];
            let st = match statvfs(m.dir.as_str()) {
                Ok(st) => st,
                Err(e) => {
                    let text = format!("DISK CRITICAL - {} is not accessible: {}", m.dir, e.desc());
                    return Output::new(State::Critical, text);
                }
            };
            let fs = Fs {
                frsize: st.fragment_size(),
                blocks: st.blocks(),
                bfree: st.blocks_free(),
                bavail: st.blocks_available(),
                files: st.files(),
                ffree: st.files_free(),
            };
            state = state.max(self.report(&m.dir, &fs, &mut body, &mut perf));
        }
        Output::new(
            state,
            format!("DISK {} - free space:{body}|{perf}", state.word()),
        )
    }

    /// Adds one mount's text and perfdata; its state.
    fn report(&self, dir: &str, fs: &Fs, body: &mut String, perf: &mut String) -> State {
        let (mult, unit) = self.units;
        let used = fs.blocks.saturating_sub(fs.bfree);
        let used_pct = percent(used, used + fs.bavail);
        let free_pct = 100.0 - used_pct;
        let free_units = fs.bavail * fs.frsize / mult;
        let total_units = fs.blocks * fs.frsize / mult;
        let used_units = used * fs.frsize / mult;
        let inodes_used_pct = percent(fs.files.saturating_sub(fs.ffree), fs.files);
        let inodes_free_pct = 100.0 - inodes_used_pct;
        let p = |pair: &Pair, v: f64| common::status(v, pair.warn.as_ref(), pair.crit.as_ref());
        let state = p(&self.free_units, free_units as f64)
            .max(p(&self.free_percent, free_pct))
            .max(p(&self.free_inodes, inodes_free_pct));
        body.push_str(&format!(" {dir} {free_units}{unit} ({free_pct:.0}%"));
        if inodes_used_pct < 0.0 {
            body.push_str(" inode=-);");
        } else {
            body.push_str(&format!(" inode={inodes_free_pct:.0}%);"));
        }
        let tide = |units: &Option<Range>, pct: &Option<Range>| {
            let mut tide: Option<f64> = None;
            if let Some(r) = units {
                tide = Some((total_units as f64 - r.end) * mult as f64);
            }
            if let Some(r) = pct {
                let t = (1.0 - r.end / 100.0) * (total_units * mult) as f64;
                tide = Some(tide.map_or(t, |u| u.min(t)).abs());
            }
            tide.map_or(String::new(), |t| (t as u64).to_string())
        };
        let (fu, fp) = (&self.free_units, &self.free_percent);
        perf.push_str(&format!(
            " {}={}B;{};{};0;{}",
            common::label(dir),
            used_units * mult,
            tide(&fu.warn, &fp.warn),
            tide(&fu.crit, &fp.crit),
            total_units * mult
        ));
        state
    }
}

/// The statvfs numbers a report uses.
struct Fs {
    frsize: u64,
    blocks: u64,
    bfree: u64,
    bavail: u64,
    files: u64,
    ffree: u64,
}

/// The plugin's `calculate_percent`: -1 for a zero total.
fn percent(value: u64, total: u64) -> f64 {
    if total == 0 {
        -1.0
    } else {
        value as f64 / total as f64 * 100.0
    }
}

/// Whether `path` lies on the mount at `dir` (prefix at a path boundary).
fn within(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(s: &str) -> Disk {
        Disk::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn report_matches_the_plugin() {
        let fs = Fs {
            frsize: 4096,
            blocks: 66052864,
            bfree: 54190272,
            bavail: 11958784,
            files: 1000,
            ffree: 970,
        };
        let (mut body, mut perf) = (String::new(), String::new());
        let state = disk("-w 10% -c 5% -p /").report("/", &fs, &mut body, &mut perf);
        assert_eq!(state, State::Ok);
        assert_eq!(body, " / 46714MiB (50% inode=97%);");
        assert_eq!(
            perf,
            " /=48588914688B;243497277849;257024904396;0;270552530944"
        );
        let (mut body, mut perf) = (String::new(), String::new());
        let state = disk("-w 99% -c 5%").report("/", &fs, &mut body, &mut perf);
        assert_eq!(state, State::Warning);
        assert!(perf.contains(";2705525309;"), "{perf}");
    }

    #[test]
    fn flags_are_checked() {
        let bad =
            |s: &str| Disk::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert!(bad("-u furlongs").is_err());
        assert!(bad("-w 10:5%").is_err());
        assert!(bad("-q").is_err());
        assert!(within("/tmp/x", "/tmp") && !within("/tmpx", "/tmp") && within("/a", "/"));
    }
}
