//! Load-time checks of the Python set-up (python.md §3.10, §3.11): the interpreter
//! is found and is Python ≥ 3.6, every configured module can be found, and neither
//! a `python.path` directory nor a module's file is writable by others. Each problem is a warning text;
//! the runs themselves report the same problem as UNKNOWN.

use std::{
    io::Write,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{settings::PythonSettings, shim};

/// How long a probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `interpreter` as an absolute path: itself when it names a path, else the first
/// executable of that name on `PATH`.
pub fn resolve_interpreter(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        return if Path::new(name).is_file() {
            Ok(PathBuf::from(name))
        } else {
            Err(format!(
                "Python interpreter '{name}' not found (python.interpreter); runs will be UNKNOWN"
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "Python interpreter '{name}' not found in PATH (python.interpreter); runs will be UNKNOWN"
            )
        })
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

/// Runs the shim's `probe` with `modules`; `Err` is the warning text.
pub fn run(settings: &PythonSettings, modules: &[String]) -> Result<Probe, String> {
    let dir = shim::dir(settings).map_err(|e| e.to_string())?;
    let request = json!({"v": 1, "id": "probe", "op": "probe", "name": "probe",
        "path": settings.path, "find": modules, "timeout": 5.0});
    let interpreter = settings.interpreter.display().to_string();
    let mut child = Command::new(&settings.interpreter)
        .args(["-s", "-B"])
        .arg(dir.join(shim::ENTRY))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("Can't execute Python interpreter {interpreter}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{request}");
    }
    let deadline = Instant::now() + PROBE_TIMEOUT;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{interpreter} did not answer the probe in 5 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{interpreter}: {e}"))?;
    parse(&output.stdout).ok_or_else(|| {
        format!("{interpreter} is not a Python ≥ 3.6 the shim can run on (probe gave no answer)")
    })
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
