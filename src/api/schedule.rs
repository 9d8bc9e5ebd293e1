//! `GET /v2/plugins/{name}/schedule`: how a check is scheduled and its next slots
//! (the status page's detail view; issue 17). Interval checks: the next run and the
//! ones after it, one `Interval` apart; cron jobs: the next slots of `Schedule` in its
//! time zone; on-demand checks and `@reboot` jobs: none. Also `GET /v2/spool`: the
//! durable NSCA spool per action (results waiting for delivery, bytes, drops), which
//! the detail view shows next to a check's actions.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Local};
use serde_json::{Value, json};

use super::{
    context::AppState,
    reply::{json_response, message},
};
use crate::{check::Schedule, jobs, render};

/// Slots listed.
pub const NEXT_SLOTS: usize = 5;

/// The next `NEXT_SLOTS` slots of `schedule`, the first one being `next_run` for an
/// interval check.
pub fn next_slots(schedule: &Schedule, next_run: Option<DateTime<Local>>) -> Vec<DateTime<Local>> {
    match schedule {
        Schedule::OnDemand => Vec::new(),
        Schedule::Interval { every, .. } => {
            let Some(first) = next_run else {
                return Vec::new();
            };
            let Ok(step) = chrono::Duration::from_std(*every) else {
                return vec![first];
            };
            (0..NEXT_SLOTS as i32).map(|k| first + step * k).collect()
        }
        Schedule::Cron { expr, time_zone } => {
            let Ok(cron) = jobs::CronSchedule::parse(expr, time_zone.as_deref()) else {
                return Vec::new();
            };
            let mut at = cron.now();
            let mut slots = Vec::new();
            while slots.len() < NEXT_SLOTS {
                let Some(next) = cron.next_after(&at) else {
                    break;
                };
                slots.push(jobs::to_local(next.timestamp()));
                at = next;
            }
            slots
        }
    }
}

fn describe(schedule: &Schedule) -> Value {
    match schedule {
        Schedule::OnDemand => json!({"kind": "onDemand"}),
        Schedule::Interval { every, .. } => {
            json!({"kind": "interval", "every": every.as_secs_f64()})
        }
        Schedule::Cron { expr, time_zone } => {
            json!({"kind": "cron", "expr": expr, "timeZone": time_zone})
        }
    }
}

/// `GET /v2/plugins/{name}/schedule`.
pub async fn schedule(State(ctx): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(entry) = ctx.store.get(&name) else {
        return message(StatusCode::NOT_FOUND, format!("Plugin {name} not found"));
    };
    let spec = entry.spec();
    let mut body = describe(&spec.schedule);
    let next: Vec<Value> = next_slots(&spec.schedule, entry.next_run())
        .iter()
        .map(|t| render::iso(t).into())
        .collect();
    body["next"] = Value::Array(next);
    json_response(StatusCode::OK, &body)
}

/// `GET /v2/spool`.
pub async fn spool(State(ctx): State<AppState>) -> Response {
    let stats = ctx.durable.spool_stats();
    let actions: serde_json::Map<String, Value> = stats
        .actions
        .iter()
        .map(|(name, a)| {
            let v = json!({"results": a.results, "bytes": a.bytes, "dropped": a.dropped});
            (name.clone(), v)
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"results": stats.results, "bytes": stats.bytes, "actions": actions}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn interval_slots_are_one_interval_apart() {
        let first = Local::now();
        let every = Duration::from_secs(60);
        let schedule = Schedule::Interval {
            every,
            splay: Duration::ZERO,
        };
        let slots = next_slots(&schedule, Some(first));
        assert_eq!(slots.len(), NEXT_SLOTS);
        assert_eq!(slots[0], first);
        assert_eq!((slots[4] - slots[0]).num_seconds(), 240);
        assert!(next_slots(&Schedule::OnDemand, Some(first)).is_empty());
    }

    #[test]
    fn cron_slots_follow_the_expression() {
        let schedule = Schedule::Cron {
            expr: "0 3 * * *".into(),
            time_zone: Some("UTC".into()),
        };
        let slots = next_slots(&schedule, None);
        assert_eq!(slots.len(), NEXT_SLOTS);
        for pair in slots.windows(2) {
            assert_eq!((pair[1] - pair[0]).num_hours(), 24);
        }
        assert!(slots[0] > Local::now());
    }
}
