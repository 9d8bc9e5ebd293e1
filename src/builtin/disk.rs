//! `check_disk`: `-w`, `-c` (percent free `N%` or free units `N`), `-W`, `-K`
//! (percent of inodes free), `-p` (repeatable), `-x`, `-X`, `-A`, `-l`, `-u`, as
//! monitoring-plugins 2.3.3 gives them: statvfs, `used = blocks - bfree`, free =
//! `bavail`; percentages are whole numbers, the used one rounded up (coreutils df's
//! `calculate_percent`) and free = 100 - used, so 5.6 % free is 5 %; inodes free are
//! `favail`; thresholds apply to the `-p` given after them; perfdata in whole units
//! times the unit, its warn/crit converted to `uint64_t` as the C code does.

use nix::sys::statvfs::statvfs;
use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_disk";
pub(super) const FLAGS: [Flag; 10] = [
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

/// The thresholds in force when a `-p` (or `-A`) is given, as the plugin copies them.
#[derive(Debug, Clone, PartialEq, Default)]
struct Thresholds {
    free_percent: Pair,
    free_units: Pair,
    free_inodes: Pair,
}

impl Thresholds {
    fn any(&self) -> bool {
        [&self.free_percent, &self.free_units, &self.free_inodes]
            .iter()
            .any(|p| p.warn.is_some() || p.crit.is_some())
    }
}

/// What a `-p` or `-A` selects.
#[derive(Debug, Clone, PartialEq)]
enum Select {
    Path(String),
    Every,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    /// Each `-p`/`-A` with the thresholds given before it.
    paths: Vec<(Select, Thresholds)>,
    /// The thresholds at the end: every mount's when no `-p`/`-A` is given.
    all: Thresholds,
    exclude_paths: Vec<String>,
    exclude_types: Vec<String>,
    local_only: bool,
    units: (u64, &'static str),
}

/// `10%` / `10` → the alerting range `@10` (alert at or below), as the plugin builds it
/// (its `strtod` skips the `%`).
fn free_range(flag: char, value: &str) -> Result<Range, BuiltinError> {
    let v = value.replace('%', "");
    let spec = if v.starts_with('@') {
        v
    } else {
        format!("@{v}")
    };
    common::range(NAME, flag, &spec)
}

/// `100M` under `-u MB`: the plugin's `strtod` reads the number in the `-u` unit and
/// ignores the suffix, so a suffix of that unit is dropped and any other one (`1G`
/// would mean 1 MiB) is an error.
fn strip_unit(flag: char, value: &str, unit: &str) -> Result<String, BuiltinError> {
    let letter = &unit[..1];
    let mut parts = Vec::new();
    for part in value.split(':') {
        let number = part.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let suffix = &part[number.len()..];
        let same = [letter, &format!("{letter}B"), unit]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(suffix));
        if !suffix.is_empty() && !same {
            let reason = format!(
                "check_disk reads {part} as {number} {unit} (the -u unit, MiB by default); \
                 write it in that unit"
            );
            return Err(common::bad(NAME, flag, value, reason));
        }
        parts.push(number);
    }
    Ok(parts.join(":"))
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

/// One mount as the mount list gives it.
struct Mount {
    dir: String,
    dev: String,
    fs_type: String,
}

impl Mount {
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
        })
        .collect()
}

impl Disk {
    pub fn parse(rest: &[String]) -> Result<Disk, BuiltinError> {
        let flags = args::parse(NAME, &FLAGS, rest)?;
        let unit = flags.iter().rev().find(|(f, _)| *f == 'u');
        let mut d = Disk {
            paths: Vec::new(),
            all: Thresholds::default(),
            exclude_paths: Vec::new(),
            exclude_types: Vec::new(),
            local_only: false,
            units: unit.map_or(Ok((1024 * 1024, "MiB")), |(_, v)| units(v))?,
        };
        let mut t = Thresholds::default();
        let unit = d.units.1;
        let free = |f, v: &str| match v.contains('%') {
            true => free_range(f, v),
            false => free_range(f, &strip_unit(f, v, unit)?),
        };
        for (f, value) in flags {
            match f {
                'w' | 'c' => {
                    let pair = match value.contains('%') {
                        true => &mut t.free_percent,
                        false => &mut t.free_units,
                    };
                    let slot = if f == 'w' {
                        &mut pair.warn
                    } else {
                        &mut pair.crit
                    };
                    *slot = Some(free(f, &value)?);
                }
                'W' => t.free_inodes.warn = Some(free_range(f, &value)?),
                'K' => t.free_inodes.crit = Some(free_range(f, &value)?),
                'p' | 'A' => {
                    if !t.any() {
                        let reason = format!("set a threshold (-w, -c, -W, -K) before -{f}");
                        return Err(BuiltinError::Invalid {
                            plugin: NAME.into(),
                            reason,
                        });
                    }
                    let sel = match f {
                        'p' => Select::Path(value),
                        _ => Select::Every,
                    };
                    match d.paths.iter_mut().find(|(s, _)| *s == sel) {
                        Some(known) => known.1 = t.clone(),
                        None => d.paths.push((sel, t.clone())),
                    }
                }
                'x' => d.exclude_paths.push(value),
                'X' => d.exclude_types.push(value),
                'l' => d.local_only = true,
                _ => {}
            }
        }
        d.all = t;
        Ok(d)
    }

    /// The mounts to report with their thresholds: the best match of each `-p`,
    /// every mount for `-A` or without `-p`, each mount once, filtered.
    fn selected(&self, all: &[Mount]) -> Result<Vec<(usize, &Thresholds)>, String> {
        let mut picked = Vec::new();
        if self.paths.is_empty() {
            picked.extend((0..all.len()).map(|i| (i, &self.all)));
        }
        for (select, t) in &self.paths {
            let path = match select {
                Select::Every => {
                    picked.extend((0..all.len()).map(|i| (i, t)));
                    continue;
                }
                Select::Path(path) => path,
            };
            if let Err(e) = std::fs::metadata(path) {
                let reason = e.raw_os_error().map_or(e.to_string(), |n| {
                    nix::errno::Errno::from_raw(n).desc().to_string()
                });
                return Err(format!("{path} is not accessible: {reason}"));
            }
            picked.extend(best_match(path, all).map(|i| (i, t)));
        }
        let mut seen = std::collections::HashSet::new();
        Ok(picked
            .into_iter()
            .filter(|&(i, _)| seen.insert(all[i].dir.clone()) && self.keeps(&all[i]))
            .collect())
    }

    /// The plugin's filters: remote with `-l`, `-X` types, `-x` paths (its dummy
    /// filter is off in 2.3.3: mounts without blocks are skipped instead).
    fn keeps(&self, m: &Mount) -> bool {
        let excluded = (self.local_only && m.remote())
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
        for (i, t) in picked {
            let m = &all[i];
            let st = match statvfs(m.dir.as_str()) {
                Ok(st) => st,
                Err(e) => {
                    let text = format!("DISK CRITICAL - {} is not accessible: {}", m.dir, e.desc());
                    return Output::new(State::Critical, text);
                }
            };
            let fs = Fs {
                frsize: match st.fragment_size() {
                    0 => st.block_size(),
                    n => n,
                },
                blocks: st.blocks(),
                bfree: st.blocks_free(),
                bavail: st.blocks_available(),
                files: st.files(),
                ffree: st.files_free(),
                favail: st.files_available(),
            };
            // The plugin reports only mounts with blocks (not proc, sysfs, cgroup…).
            if fs.blocks == 0 || m.dir == "none" {
                continue;
            }
            state = state.max(self.report(&m.dir, &fs, t, &mut body, &mut perf));
        }
        Output::new(
            state,
            format!("DISK {} - free space:{body}|{perf}", state.word()),
        )
    }

    /// Adds one mount's text and perfdata; its state.
    fn report(
        &self,
        dir: &str,
        fs: &Fs,
        t: &Thresholds,
        body: &mut String,
        perf: &mut String,
    ) -> State {
        let (mult, unit) = self.units;
        let u = Usage::of(fs, mult);
        let p = |pair: &Pair, v: f64| common::status(v, pair.warn.as_ref(), pair.crit.as_ref());
        let state = p(&t.free_units, u.free_units as f64)
            .max(p(&t.free_percent, u.free_pct))
            .max(p(&t.free_inodes, u.inodes_free_pct));
        let (free, free_pct) = (u.free_units, u.free_pct);
        body.push_str(&format!(" {dir} {free}{unit} ({free_pct:.0}%"));
        if u.inodes_used_pct < 0.0 {
            // 2.3.3 closes a bracket it never opened when the mount is not OK.
            let bracket = if state == State::Ok { "" } else { "]" };
            body.push_str(&format!(" inode=-){bracket};"));
        } else {
            body.push_str(&format!(" inode={:.0}%);", u.inodes_free_pct));
        }
        let total = u.total_units.wrapping_mul(mult);
        let tide = |units: &Option<Range>, pct: &Option<Range>| {
            let mut tide = u64::MAX;
            if let Some(r) = units {
                tide = c_u64((u.total_units as f64 - c_end(r)) * mult as f64);
            }
            if let Some(r) = pct {
                tide = tide.min(c_u64((1.0 - c_end(r) / 100.0) * total as f64));
            }
            if tide == u64::MAX {
                String::new()
            } else {
                tide.to_string()
            }
        };
        let (fu, fp) = (&t.free_units, &t.free_percent);
        perf.push_str(&format!(
            " {}={}B;{};{};0;{total}",
            common::label(dir),
            u.used_units.wrapping_mul(mult),
            tide(&fu.warn, &fp.warn),
            tide(&fu.crit, &fp.crit),
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
    favail: u64,
}

/// What the plugin's `get_stats`/`get_path_stats` compute from them.
struct Usage {
    free_pct: f64,
    free_units: u64,
    used_units: u64,
    total_units: u64,
    inodes_used_pct: f64,
    inodes_free_pct: f64,
}

impl Usage {
    fn of(fs: &Fs, mult: u64) -> Usage {
        let used = fs.blocks.saturating_sub(fs.bfree);
        let units = |blocks: u64| blocks.wrapping_mul(fs.frsize) / mult;
        let inodes_free = if fs.favail > fs.ffree { 0 } else { fs.favail };
        let inodes_used_pct = percent(fs.files.saturating_sub(inodes_free), fs.files);
        Usage {
            free_pct: 100.0 - percent(used, used.saturating_add(fs.bavail)),
            free_units: units(fs.bavail),
            used_units: units(used),
            total_units: units(fs.blocks),
            inodes_used_pct,
            inodes_free_pct: 100.0 - inodes_used_pct,
        }
    }
}

/// The plugin's `calculate_percent` (from coreutils df): `value / total` in whole
/// percent rounded up; -1 for a zero total.
fn percent(value: u64, total: u64) -> f64 {
    if total == 0 {
        return -1.0;
    }
    let (v, t) = (u128::from(value) * 100, u128::from(total));
    (v / t + u128::from(v % t != 0)) as f64
}

/// A range's end as the C struct holds it: 0 for an open end.
fn c_end(r: &Range) -> f64 {
    if r.end.is_infinite() { 0.0 } else { r.end }
}

/// C's `(uint64_t)` of a double on x86-64: a negative value wraps (`cvttsd2si`).
fn c_u64(x: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x >= TWO_63 {
        ((x - TWO_63) as i64 as u64) ^ (1 << 63)
    } else {
        x as i64 as u64
    }
}

/// The plugin's `np_set_best_match`: the mount whose device is `path`, else the
/// longest mount point that is a prefix of it (a plain string prefix, as in C;
/// the last of equal length).
fn best_match(path: &str, all: &[Mount]) -> Option<usize> {
    if let Some(i) = all.iter().rposition(|m| m.dev == path) {
        return Some(i);
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, m) in all.iter().enumerate() {
        let len = m.dir.len();
        let fits = len <= path.len() && (len == 1 || path.starts_with(m.dir.as_str()));
        if fits && best.is_none_or(|(_, l)| l <= len) {
            best = Some((i, len));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(s: &str) -> Result<Disk, BuiltinError> {
        Disk::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    /// 4 KiB blocks with `files` inodes, `favail` of them free.
    fn fs(blocks: u64, bfree: u64, bavail: u64, files: u64, favail: u64) -> Fs {
        Fs {
            frsize: 4096,
            blocks,
            bfree,
            bavail,
            files,
            ffree: favail,
            favail,
        }
    }

    /// The state, status text and perfdata of `flags` (thresholds of the last `-p`,
    /// or the global ones) on `fs` mounted at `/`.
    fn report(flags: &str, fs: &Fs) -> (State, String, String) {
        let d = disk(flags).unwrap();
        let t = d.paths.last().map_or(&d.all, |p| &p.1);
        let (mut body, mut perf) = (String::new(), String::new());
        let state = d.report("/", fs, t, &mut body, &mut perf);
        (state, body, perf)
    }

    #[test]
    fn report_matches_the_plugin() {
        let root = fs(66052864, 54190272, 11958784, 1000, 970);
        let (state, body, perf) = report("-w 10% -c 5% -p /", &root);
        assert_eq!(state, State::Ok);
        assert_eq!(body, " / 46714MiB (50% inode=97%);");
        assert_eq!(
            perf,
            " /=48588914688B;243497277849;257024904396;0;270552530944"
        );
        let (state, _, perf) = report("-w 99% -c 5%", &root);
        assert_eq!(state, State::Warning);
        assert!(perf.contains(";2705525309;"), "{perf}");
    }

    /// Seen in CI: 5.6 % free is 5 % for the plugin (used 94.4 % rounds up to 95).
    #[test]
    fn percentages_round_as_the_plugin() {
        let ci = fs(66053021, 43558689, 1327140, 1000, 970);
        let (state, body, perf) = report("-w 10% -c 5% -p /", &ci);
        assert_eq!(state, State::Critical);
        assert_eq!(body, " / 5184MiB (5% inode=97%);");
        assert_eq!(
            perf,
            " /=92136275968B;243497277849;257024904396;0;270552530944"
        );
        // used + available = 1000 blocks; free 10 % exactly, just under, just over.
        for (used, want, pct) in [
            (900, State::Warning, 10),
            (899, State::Warning, 10),
            (891, State::Warning, 10),
            (890, State::Ok, 11),
            (901, State::Warning, 9),
            (950, State::Critical, 5),
            (949, State::Critical, 5),
            (941, State::Critical, 5),
            (940, State::Warning, 6),
        ] {
            let f = fs(1000, 1000 - used, 1000 - used, 1000, 970);
            let (state, body, _) = report("-w 10% -c 5%", &f);
            assert_eq!(state, want, "used {used}: {body}");
            assert!(body.contains(&format!("({pct}% ")), "used {used}: {body}");
        }
    }

    #[test]
    fn inode_thresholds_use_favail_rounded_as_the_plugin() {
        for (favail, ffree, want, pct) in [
            (100, 100, State::Warning, "10"),
            (101, 101, State::Warning, "10"),
            (110, 110, State::Ok, "11"),
            (50, 50, State::Critical, "5"),
            (99, 200, State::Warning, "9"),
            // favail above ffree is taken as no free inode at all.
            (300, 200, State::Critical, "0"),
        ] {
            let mut f = fs(1000, 500, 500, 1000, favail);
            f.ffree = ffree;
            let (state, body, perf) = report("-W 10% -K 5%", &f);
            assert_eq!(state, want, "favail {favail}: {body}");
            assert!(body.ends_with(&format!(" inode={pct}%);")), "{body}");
            assert!(perf.ends_with("B;;;0;3145728"), "{perf}");
        }
        // No inodes at all: `inode=-`, and 2.3.3's stray bracket when not OK.
        let none = fs(1000, 10, 10, 0, 0);
        assert_eq!(report("-w 50%", &none).1, " / 0MiB (1% inode=-)];");
        assert_eq!(
            report("-w 1%", &fs(1000, 500, 500, 0, 0)).1,
            " / 1MiB (50% inode=-);"
        );
    }

    #[test]
    fn free_unit_thresholds() {
        // 100 MiB free = 25600 blocks of 4 KiB; the threshold alerts at or below.
        let mib = |free: u64| fs(1 << 20, free * 256, free * 256, 1000, 900);
        assert_eq!(report("-w 100M -c 50M", &mib(100)).0, State::Warning);
        assert_eq!(report("-w 100 -c 50", &mib(101)).0, State::Ok);
        assert_eq!(report("-w 100MB -c 50MiB", &mib(50)).0, State::Critical);
        let (state, _, perf) = report("-u GB -w 1G -c 1", &mib(100));
        assert_eq!(state, State::Critical);
        assert_eq!(perf, " /=3221225472B;3221225472;3221225472;0;4294967296");
        // A warn above the size wraps as the plugin's uint64_t does (2^64 - (1e8 - 4096) MiB).
        let (_, _, perf) = report("-w 100000000 -c 50", &mib(100));
        assert!(perf.contains(";18446639220404518912;"), "{perf}");
        let e = disk("-w 1G -c 50").unwrap_err().to_string();
        assert!(e.contains("as 1 MiB"), "{e}");
        assert!(disk("-u GB -w 1M -c 1").is_err());
    }

    #[test]
    fn thresholds_belong_to_the_paths_after_them() {
        let d = disk("-w 10% -p /a -c 5% -p /b -w 20%").unwrap();
        let t = |i: usize| &d.paths[i].1;
        assert!(t(0).free_percent.crit.is_none() && t(1).free_percent.crit.is_some());
        assert_eq!(d.all.free_percent.warn.unwrap().end, 20.0);
        let e = disk("-p / -w 10%").unwrap_err().to_string();
        assert!(e.contains("before -p"), "{e}");
    }

    #[test]
    fn flags_are_checked() {
        assert!(disk("-u furlongs").is_err());
        assert!(disk("-w 10:5%").is_err());
        assert!(disk("-q").is_err());
        let m = |dir: &str, dev: &str| Mount {
            dir: dir.into(),
            dev: dev.into(),
            fs_type: "ext4".into(),
        };
        let all = [
            m("/", "/dev/a"),
            m("/tmp", "tmpfs"),
            m("/tmp", "t2"),
            m("/b", "/dev/b"),
        ];
        assert_eq!(best_match("/tmp/x", &all), Some(2));
        assert_eq!(best_match("/tmpx", &all), Some(2));
        assert_eq!(best_match("/home", &all), Some(0));
        assert_eq!(best_match("/dev/b", &all), Some(3));
    }
}
