//! The `python:` section as the runs use it: interpreter, search path, limits, and
//! where the shim lives. Plain data plus the shared permit pool of `max_concurrent`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::Semaphore;

/// Default `max_concurrent`: Python runs at once.
pub const DEFAULT_MAX_CONCURRENT: usize = 8;
/// Default `max_memory`: the `RLIMIT_DATA` soft limit of a run.
pub const DEFAULT_MAX_MEMORY: u64 = 512 << 20;
/// Default `timeout_grace`: hard deadline = `Timeout` + this.
pub const DEFAULT_TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// The validated `python:` section.
#[derive(Debug, Clone)]
pub struct PythonSettings {
    /// `interpreter`: resolved at load (an absolute path when found on `PATH`).
    pub interpreter: PathBuf,
    /// `path`: prepended to `sys.path` (after the shim's own directory).
    pub path: Vec<PathBuf>,
    pub max_concurrent: usize,
    /// 0 = no limit.
    pub max_memory: u64,
    pub timeout_grace: Duration,
    /// `shim_dir`: installed shim files; `None` = extract the embedded ones.
    pub shim_dir: Option<PathBuf>,
    /// The daemon's `state_dir` (first choice for the extracted shim).
    pub state_dir: Option<PathBuf>,
    /// Permits of `max_concurrent`, shared by every check of one plan.
    pub permits: Arc<Semaphore>,
}

impl PythonSettings {
    pub fn new(max_concurrent: usize) -> PythonSettings {
        PythonSettings {
            interpreter: PathBuf::from("python3"),
            path: Vec::new(),
            max_concurrent,
            max_memory: DEFAULT_MAX_MEMORY,
            timeout_grace: DEFAULT_TIMEOUT_GRACE,
            shim_dir: None,
            state_dir: None,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }
}

impl Default for PythonSettings {
    fn default() -> Self {
        PythonSettings::new(DEFAULT_MAX_CONCURRENT)
    }
}

/// Equal settings (the permit pool is not compared).
impl PartialEq for PythonSettings {
    fn eq(&self, other: &Self) -> bool {
        self.interpreter == other.interpreter
            && self.path == other.path
            && self.max_concurrent == other.max_concurrent
            && self.max_memory == other.max_memory
            && self.timeout_grace == other.timeout_grace
            && self.shim_dir == other.shim_dir
            && self.state_dir == other.state_dir
    }
}
