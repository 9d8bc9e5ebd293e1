//! The embedded shim: its files, and their extraction to a directory the checks'
//! users can read (`<state_dir>/python/<hash>/`, else `/run/smokerd/python/<hash>/`,
//! else `$TMPDIR/smokerd-<euid>/python/<hash>/`; the first that every user can reach,
//! else the first that worked), once per directory and process.

use std::{
    collections::HashMap,
    fs,
    hash::{DefaultHasher, Hash, Hasher},
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::settings::PythonSettings;

/// The shim's entry point, relative to its directory.
pub const ENTRY: &str = "smoker_shim.py";

/// Every file of the shim: (path relative to its directory, text).
pub const FILES: &[(&str, &str)] = &[
    (ENTRY, include_str!("../../python/smoker_shim.py")),
    (
        "smokerd_shim.py",
        include_str!("../../python/smokerd_shim.py"),
    ),
    (
        "smoker/__init__.py",
        include_str!("../../python/smoker/__init__.py"),
    ),
    (
        "smoker/server/__init__.py",
        include_str!("../../python/smoker/server/__init__.py"),
    ),
    (
        "smoker/server/exceptions.py",
        include_str!("../../python/smoker/server/exceptions.py"),
    ),
    (
        "smoker/server/parser.py",
        include_str!("../../python/smoker/server/parser.py"),
    ),
    (
        "smoker/server/plugins/__init__.py",
        include_str!("../../python/smoker/server/plugins/__init__.py"),
    ),
    (
        "smoker/util/__init__.py",
        include_str!("../../python/smoker/util/__init__.py"),
    ),
    (
        "smoker/util/command.py",
        include_str!("../../python/smoker/util/command.py"),
    ),
];

/// Why the shim could not be put in place.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot extract the Python shim: {0}")]
pub struct ShimError(String);

/// The directory holding the shim for `settings`: `shim_dir`, or the embedded files
/// extracted to the first usable candidate.
pub fn dir(settings: &PythonSettings) -> Result<PathBuf, ShimError> {
    if let Some(dir) = &settings.shim_dir {
        return Ok(dir.clone());
    }
    static DONE: Mutex<Option<HashMap<Option<PathBuf>, PathBuf>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = done.get_or_insert_with(HashMap::new);
    if let Some(dir) = cache.get(&settings.state_dir) {
        return Ok(dir.clone());
    }
    let mut reasons = Vec::new();
    let mut usable = None;
    for base in candidates(settings.state_dir.as_deref()) {
        let dir = base.join("python").join(version());
        match extract(&dir, &settings.interpreter) {
            // Checks may run as other users: prefer a directory everyone can reach.
            Ok(()) if reachable_by_all(&dir) => {
                usable = Some(dir);
                break;
            }
            Ok(()) => {
                usable.get_or_insert(dir);
            }
            Err(e) => reasons.push(format!("{}: {e}", dir.display())),
        }
    }
    let dir = usable.ok_or_else(|| ShimError(reasons.join("; ")))?;
    cache.insert(settings.state_dir.clone(), dir.clone());
    Ok(dir)
}

/// Whether every directory from `/` down to `dir` lets others traverse it.
fn reachable_by_all(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors().all(|d| {
        d.as_os_str().is_empty()
            || fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}

/// Where the shim may go, best first.
fn candidates(state_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = state_dir.map(Path::to_path_buf).into_iter().collect();
    out.push(PathBuf::from("/run/smokerd"));
    let euid = nix::unistd::geteuid();
    out.push(std::env::temp_dir().join(format!("smokerd-{euid}")));
    out
}

/// A hash of the shim's files: a new shim gets a new directory.
fn version() -> String {
    let mut hasher = DefaultHasher::new();
    FILES.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Writes the files (0755 directories, 0644 files) unless a complete copy is there,
/// then byte-compiles them once with `interpreter` (runs use `-B`, so they never
/// write bytecode themselves; without it every run would recompile the shim).
fn extract(dir: &Path, interpreter: &Path) -> std::io::Result<()> {
    let complete = FILES
        .iter()
        .all(|(rel, text)| fs::read_to_string(dir.join(rel)).is_ok_and(|t| t == *text));
    if !complete {
        write_files(dir)?;
    }
    if !dir.join("__pycache__").is_dir() {
        // Best effort: without bytecode the shim still runs, only slower.
        let mut compile = std::process::Command::new(interpreter);
        compile
            .args(["-m", "compileall", "-q"])
            .arg(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = crate::sys::spawn_with_empty_mask(|| compile.status());
    }
    Ok(())
}

fn write_files(dir: &Path) -> std::io::Result<()> {
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)?;
        }
        let tmp = path.with_extension("tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        fs::rename(&tmp, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_prefers_a_directory_every_user_can_reach() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let private = base.path().join("private");
        fs::create_dir(&private).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let settings = PythonSettings {
            state_dir: Some(private.clone()),
            ..PythonSettings::default()
        };
        let dir = dir(&settings).unwrap();
        assert!(!dir.starts_with(&private), "{}", dir.display());
        assert!(reachable_by_all(&dir));
        for (rel, text) in FILES {
            assert_eq!(fs::read_to_string(dir.join(rel)).unwrap(), *text);
        }
        let open = base.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let settings = PythonSettings {
            state_dir: Some(open.clone()),
            ..PythonSettings::default()
        };
        assert!(super::dir(&settings).unwrap().starts_with(&open));
    }
}
