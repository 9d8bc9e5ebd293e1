//! What becomes of a plugin's results: `History`, `TimeoutState`, `ExitCodes` and
//! `ActionOn` (which results run the plugin's actions).

use super::draft::Fields;
use crate::{
    check::{ActionTrigger, ExitCodes, State},
    config::{
        load::{
            ctx::Ctx,
            values::{want_str_list, want_uint},
        },
        yaml::Node,
    },
};

/// The output keys, defaults applied.
pub struct Output {
    pub history: usize,
    pub timeout_state: State,
    pub exit_codes: ExitCodes,
    pub action_on: Vec<ActionTrigger>,
}

pub fn read_output(ctx: &mut Ctx, f: &Fields<'_, '_>) -> Output {
    let history = f.read(ctx, "History", |n| want_uint(n, 1));
    let mut timeout_state = State::Unknown;
    if let Some(n) = f.node("TimeoutState") {
        match n
            .as_str()
            .and_then(|s| State::parse(&s.to_ascii_uppercase()))
        {
            Some(s) => timeout_state = s,
            None => ctx.err(
                &n.pos,
                f.path("TimeoutState"),
                "must be one of OK, WARNING, CRITICAL, UNKNOWN",
            ),
        }
    }
    let mut exit_codes = ExitCodes::Nagios;
    if let Some(n) = f.node("ExitCodes") {
        match n.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("nagios") => exit_codes = ExitCodes::Nagios,
            Some("smoker") => exit_codes = ExitCodes::Smoker,
            _ => ctx.err(&n.pos, f.path("ExitCodes"), "must be nagios or smoker"),
        }
    }
    let mut action_on = Vec::new();
    if let Some(n) = f.node("ActionOn") {
        action_on = read_action_on(ctx, f, n);
    }
    Output {
        history: history.map_or(10, |h| h as usize),
        timeout_state,
        exit_codes,
        action_on,
    }
}

/// `ActionOn`: `change`, a state, or `WARN`/`ERROR` (ERROR = CRITICAL and UNKNOWN).
fn read_action_on(ctx: &mut Ctx, f: &Fields<'_, '_>, n: &Node) -> Vec<ActionTrigger> {
    let Some(list) = ctx.take(n, f.path("ActionOn"), want_str_list(n)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (t, item) in list {
        match t.to_ascii_uppercase().as_str() {
            "CHANGE" => out.push(ActionTrigger::Change),
            "ERROR" => {
                out.push(ActionTrigger::State(State::Critical));
                out.push(ActionTrigger::State(State::Unknown));
            }
            other => match State::parse(other) {
                Some(s) => out.push(ActionTrigger::State(s)),
                None => ctx.err(
                    &item.pos,
                    f.path("ActionOn"),
                    format!(
                        "unknown trigger {t:?} (use change, OK, WARN, ERROR, WARNING, CRITICAL, UNKNOWN)"
                    ),
                ),
            },
        }
    }
    out.dedup();
    out
}
