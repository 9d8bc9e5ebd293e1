//! The `Module` action kind: an original-smoker Python action module, run through
//! the Python shim with the check's result, as the check's uid, under the action's
//! `Timeout` (python.md §3.7).

use std::time::Duration;

use super::context::Context;
use crate::check::{CheckResult, CheckSpec};

/// Runs the action module for `result`; its own result is the action outcome.
pub async fn run(
    ctx: &Context,
    module: &str,
    timeout: Duration,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    crate::python::run_action(&ctx.executor, module, timeout, spec, result).await
}
