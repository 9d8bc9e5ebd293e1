//! Load-time checks of the Python set-up (python.md §3.10, §3.11): the interpreter
//! is found and is Python ≥ 3.6, every configured module can be found, and neither
//! a `python.path` directory nor a module's file is writable by others. Each problem is a warning text;
//! the runs themselves report the same problem as UNKNOWN. A complete probe is cached
//! by the interpreter's path and mtime, `python.path` and the modules asked, so a reload
//! that changes none of them does not start python3 again.

use std::{
    io::Write,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant, SystemTime},
};

use serde_json::{Value, json};

use super::{
    settings::PythonSettings,
    shim::{self, ShimError},
};

/// How long a probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Probes kept (most recent first): one per distinct set-up a daemon reloads between.
const CACHE_SIZE: usize = 4;

/// Why the interpreter cannot be probed; the text is the load warning.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("Python interpreter '{0}' not found (python.interpreter); runs will be UNKNOWN")]
    NotFound(String),
    #[error(
        "Python interpreter '{0}' not found in PATH (python.interpreter); runs will be UNKNOWN"
    )]
    NotInPath(String),
    #[error(transparent)]
    Shim(#[from] ShimError),
    #[error("Can't execute Python interpreter {interpreter}: {source}")]
    Spawn {
        interpreter: String,
        source: std::io::Error,
    },
    #[error("{0} did not answer the probe in 5 s")]
    Timeout(String),
    #[error("{interpreter}: {source}")]
    Wait {
        interpreter: String,
        source: std::io::Error,
    },
    #[error("{0} is not a Python ≥ 3.6 the shim can run on (probe gave no answer)")]
    NoAnswer(String),
}

/// `interpreter` as an absolute path: itself when it names a path, else the first
/// executable of that name on `PATH`.
pub fn resolve_interpreter(name: &str) -> Result<PathBuf, ProbeError> {
    if name.contains('/') {
        return if Path::new(name).is_file() {
            Ok(PathBuf::from(name))
        } else {
            Err(ProbeError::NotFound(name.to_string()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ProbeError::NotInPath(name.to_string()))
}

/// Problems of `python.path` directories: group- or world-writable ones.
pub fn writable_path_dirs(settings: &PythonSettings) -> Vec<String> {
    let mut out = Vec::new();
    for dir in &settings.path {
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.mode() & 0o022 != 0
        {
            out.push(format!(
                "{} is group- or world-writable: anyone who can write there can run code in every Python check",
                dir.display()
            ));
        }
    }
    out
}

/// What a probe found: the Python version, (module, error) per module not found, and
/// (module, file) per module found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub python: String,
    pub missing: Vec<(String, String)>,
    pub origins: Vec<(String, PathBuf)>,
}

impl Probe {
    /// Why `module`'s file is unsafe: writable by group or others, or owned by someone
    /// other than root or the daemon's user (code injection into other checks' runs).
    pub fn unsafe_file(&self, module: &str) -> Option<String> {
        let (_, file) = self.origins.iter().find(|(m, _)| m == module)?;
        let meta = std::fs::metadata(file).ok()?;
        let daemon = nix::unistd::geteuid().as_raw();
        if meta.mode() & 0o022 != 0 {
            return Some(format!("{} is group- or world-writable", file.display()));
        }
        if meta.uid() != 0 && meta.uid() != daemon {
            let owner = meta.uid();
            return Some(format!(
                "{} is owned by uid {owner}, neither root nor smokerd's user",
                file.display()
            ));
        }
        None
    }
}

/// What a cached probe is valid for.
#[derive(Debug, Clone, PartialEq)]
struct CacheKey {
    interpreter: PathBuf,
    mtime: SystemTime,
    path: Vec<PathBuf>,
    modules: Vec<String>,
}

/// Complete probes (every module found), most recent first, at most [`CACHE_SIZE`].
static CACHE: Mutex<Vec<(CacheKey, Probe)>> = Mutex::new(Vec::new());

/// Runs the shim's `probe` with `modules`, or answers from the cache when the
/// interpreter (path and mtime), `python.path` and `modules` are those of a complete
/// probe whose module files are all still there. `Err` is the warning.
pub fn run(settings: &PythonSettings, modules: &[String]) -> Result<Probe, ProbeError> {
    let key = std::fs::metadata(&settings.interpreter)
        .and_then(|m| m.modified())
        .ok()
        .map(|mtime| CacheKey {
            interpreter: settings.interpreter.clone(),
            mtime,
            path: settings.path.clone(),
            modules: modules.to_vec(),
        });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(key) = &key
        && let Some(at) = cache.iter().position(|(k, _)| k == key)
    {
        let entry = cache.remove(at);
        if entry.1.origins.iter().all(|(_, file)| file.exists()) {
            let probe = entry.1.clone();
            cache.insert(0, entry);
            return Ok(probe);
        }
    }
    drop(cache);
    let probe = run_uncached(settings, modules)?;
    if let Some(key) = key
        && probe.missing.is_empty()
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _)| k != &key);
        cache.insert(0, (key, probe.clone()));
        cache.truncate(CACHE_SIZE);
    }
    Ok(probe)
}

/// Starts python3 with the shim's `probe` request and parses its answer.
fn run_uncached(settings: &PythonSettings, modules: &[String]) -> Result<Probe, ProbeError> {
    let dir = shim::dir(settings)?;
    let request = json!({"v": 1, "id": "probe", "op": "probe", "name": "probe",
        "path": settings.path, "find": modules, "timeout": 5.0});
    let interpreter = settings.interpreter.display().to_string();
    let mut command = Command::new(&settings.interpreter);
    command
        .args(["-s", "-B"])
        .arg(dir.join(shim::ENTRY))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = match crate::sys::spawn_with_empty_mask(|| command.spawn()) {
        Ok(child) => child,
        Err(source) => {
            return Err(ProbeError::Spawn {
                interpreter,
                source,
            });
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{request}");
    }
    let deadline = Instant::now() + PROBE_TIMEOUT;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ProbeError::Timeout(interpreter));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(source) => {
            return Err(ProbeError::Wait {
                interpreter,
                source,
            });
        }
    };
    parse(&output.stdout).ok_or(ProbeError::NoAnswer(interpreter))
}

fn parse(stdout: &[u8]) -> Option<Probe> {
    let reply: Value = serde_json::from_slice(stdout).ok()?;
    let python = reply.get("python")?.as_str()?.to_string();
    let missing = reply
        .get("missing")?
        .as_array()?
        .iter()
        .filter_map(|m| {
            let module = m.get("module")?.as_str()?;
            let error = m.get("error")?.as_str()?;
            Some((module.to_string(), error.to_string()))
        })
        .collect();
    let origins = reply
        .get("origins")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(m, f)| Some((m.clone(), PathBuf::from(f.as_str()?))))
                .collect()
        })
        .unwrap_or_default();
    Some(Probe {
        python,
        missing,
        origins,
    })
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::PermissionsExt};

    use super::*;

    /// A wrapper interpreter that counts its probes (`-s` starts; the shim's
    /// `compileall` is not one) in `count`, then runs python3.
    fn counting_interpreter(dir: &Path) -> Option<PathBuf> {
        let python = Path::new("/usr/bin/python3");
        if !python.is_file() {
            eprintln!("skipped: python3 is not installed");
            return None;
        }
        let script = dir.join("python-counting");
        let count = dir.join("count");
        let body = format!(
            "#!/bin/sh\n[ \"$1\" = -s ] && echo x >> '{}'\nexec {} \"$@\"\n",
            count.display(),
            python.display()
        );
        fs::write(&script, body).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        Some(script)
    }

    fn starts(dir: &Path) -> usize {
        fs::read_to_string(dir.join("count"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn probe_is_cached_by_interpreter_mtime_path_and_modules() {
        let dir = tempfile::tempdir().unwrap();
        let Some(script) = counting_interpreter(dir.path()) else {
            return;
        };
        let mut settings = PythonSettings {
            interpreter: script.clone(),
            state_dir: Some(dir.path().join("state")),
            ..PythonSettings::default()
        };
        let json = vec!["json".to_string()];
        let first = run(&settings, &json).unwrap();
        assert!(first.missing.is_empty(), "{first:?}");
        assert_eq!(run(&settings, &json).unwrap(), first);
        assert_eq!(starts(dir.path()), 1, "the same set-up is not probed again");
        // Other modules, another python.path, a touched interpreter: probed again.
        let both = vec!["json".to_string(), "os".to_string()];
        run(&settings, &both).unwrap();
        assert_eq!(starts(dir.path()), 2);
        settings.path = vec![dir.path().to_path_buf()];
        run(&settings, &json).unwrap();
        run(&settings, &json).unwrap();
        assert_eq!(starts(dir.path()), 3);
        let later = SystemTime::now() + Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&script)
            .and_then(|f| f.set_modified(later))
            .unwrap();
        run(&settings, &json).unwrap();
        assert_eq!(
            starts(dir.path()),
            4,
            "a changed interpreter is probed again"
        );
        // A module not found is asked again (it may be installed before the next reload).
        let absent = vec!["smoker_no_such_module".to_string()];
        let missing = run(&settings, &absent).unwrap();
        assert_eq!(missing.missing.len(), 1, "{missing:?}");
        run(&settings, &absent).unwrap();
        assert_eq!(starts(dir.path()), 6);
    }

    #[test]
    fn probe_errors_read_as_before() {
        let error = resolve_interpreter("/nonexistent/python3").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Python interpreter '/nonexistent/python3' not found (python.interpreter); runs will be UNKNOWN"
        );
        let error = resolve_interpreter("smoker-no-such-python").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Python interpreter 'smoker-no-such-python' not found in PATH (python.interpreter); runs will be UNKNOWN"
        );
    }
}
