//! The `Icinga2` action kind (decisions.md D15): the result goes into the
//! action's durable spool, and its delivery task ([`crate::icinga::sink::Icinga`])
//! posts it to Icinga 2's API. The outcome shown is `queued for NAME`.

use super::context::Context;
use crate::{
    check::{CheckResult, CheckSpec},
    config::Icinga2Settings,
};

/// Queues `result` for the action `name`.
pub fn run(
    ctx: &Context,
    name: &str,
    settings: &Icinga2Settings,
    spec: &CheckSpec,
    result: &CheckResult,
) -> CheckResult {
    crate::icinga::sink::enqueue(&ctx.durable, name, settings, &ctx.hostname, spec, result)
}
