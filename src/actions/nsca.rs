//! The `Nsca` action kind (decisions.md D5): the result goes into the action's
//! durable spool, and the action's sink ([`crate::nsca::sink`]) delivers it. The
//! outcome shown in the plugin result is `queued for NAME`.

use super::context::Context;
use crate::{
    check::{CheckResult, CheckSpec},
    config::NscaSettings,
};

/// Queues `result` for the action `name`.
pub fn run(
    ctx: &Context,
    name: &str,
    settings: &NscaSettings,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    crate::nsca::sink::enqueue(&ctx.durable, name, settings, &ctx.hostname, spec, result)
}
