//! When a plugin runs: `Interval` and `Splay`, or `Schedule` (cron) with `TimeZone`,
//! plus `CatchUp` and `Overlap`; and the one [`Schedule`] they make.

use std::{path::Path, str::FromStr, time::Duration};

use super::draft::Fields;
use crate::{
    check::{Overlap, Schedule},
    config::{
        load::{
            ctx::Ctx,
            values::{ValueError, want_bool, want_seconds, want_str},
        },
        yaml::{Kind, Node},
    },
};

/// Why a schedule key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("invalid cron expression {expr:?}: {reason}")]
    Cron { expr: String, reason: String },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
}

/// The schedule keys as read.
pub struct ScheduleKeys {
    interval: f64,
    splay: Option<Duration>,
    cron: Option<String>,
    time_zone: Option<String>,
    pub catch_up: bool,
    pub overlap: Overlap,
}

pub fn read_schedule(ctx: &mut Ctx, f: &Fields<'_, '_>) -> ScheduleKeys {
    let interval = match f.node("Interval") {
        Some(Node {
            kind: Kind::Bool(false),
            ..
        }) => None,
        _ => f.read(ctx, "Interval", want_seconds),
    };
    let keys = ScheduleKeys {
        interval: interval.unwrap_or(0.0),
        splay: f
            .read(ctx, "Splay", want_seconds)
            .map(Duration::from_secs_f64),
        catch_up: f.read(ctx, "CatchUp", want_bool).unwrap_or(false),
        overlap: read_overlap(ctx, f),
        time_zone: f.read(ctx, "TimeZone", read_time_zone),
        cron: f.read(ctx, "Schedule", read_cron),
    };
    check_layers(ctx, f);
    if keys.time_zone.is_some() && keys.cron.is_none() {
        let n = f.node("TimeZone").map_or(&f.draft.key.pos, |n| &n.pos);
        ctx.err(n, f.path("TimeZone"), "TimeZone needs Schedule");
    }
    keys
}

fn read_overlap(ctx: &mut Ctx, f: &Fields<'_, '_>) -> Overlap {
    let Some(n) = f.node("Overlap") else {
        return Overlap::Skip;
    };
    match n.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("skip") => Overlap::Skip,
        Some("queue") => Overlap::Queue,
        Some("kill") => Overlap::Kill,
        _ => {
            ctx.err(&n.pos, f.path("Overlap"), "must be skip, queue or kill");
            Overlap::Skip
        }
    }
}

fn read_time_zone(n: &Node) -> Result<String, ScheduleError> {
    let tz = want_str(n, "a time zone name")?;
    if valid_time_zone(tz) {
        Ok(tz.to_string())
    } else {
        Err(ScheduleError::TimeZone(tz.to_string()))
    }
}

fn read_cron(n: &Node) -> Result<String, ScheduleError> {
    let expr = want_str(n, "a cron expression")?;
    check_cron(expr)?;
    Ok(expr.to_string())
}

/// Interval + Schedule: an error in one map; across layers the more specific wins.
fn check_layers(ctx: &mut Ctx, f: &Fields<'_, '_>) {
    for layer in &f.draft.layers {
        let interval_set = layer
            .get("Interval")
            .is_some_and(|n| !matches!(n.kind, Kind::Null | Kind::Int(0) | Kind::Bool(false)));
        if interval_set && let Some(s) = layer.get("Schedule").filter(|n| !n.is_null()) {
            ctx.err(
                &s.pos,
                f.path("Schedule"),
                "Interval and Schedule cannot be set together",
            );
        }
    }
}

impl ScheduleKeys {
    /// The schedule: across layers the more specific one wins (a plugin's Interval
    /// beats a template's Schedule); the default splay is min(Interval, 60 s).
    pub fn schedule(self, f: &Fields<'_, '_>) -> Schedule {
        let mut cron = self.cron;
        if self.interval > 0.0 && f.layer("Interval") > f.layer("Schedule") {
            cron = None;
        }
        match cron {
            Some(expr) => Schedule::Cron {
                expr,
                time_zone: self.time_zone,
            },
            None if self.interval > 0.0 => {
                let every = Duration::from_secs_f64(self.interval);
                Schedule::Interval {
                    every,
                    splay: self
                        .splay
                        .unwrap_or_else(|| every.min(Duration::from_secs(60))),
                }
            }
            None => Schedule::OnDemand,
        }
    }
}

fn check_cron(expr: &str) -> Result<(), ScheduleError> {
    if expr.trim().eq_ignore_ascii_case("@reboot") {
        return Ok(());
    }
    croner::Cron::from_str(expr)
        .map(|_| ())
        .map_err(|e| ScheduleError::Cron {
            expr: expr.to_string(),
            reason: explain_cron(expr).unwrap_or_else(|| format!("{e} ({FIELDS_HELP})")),
        })
}

/// The nicknames croner accepts (plus `@reboot`, ours: at start only).
const NICKNAMES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@hourly",
    "@reboot",
];

/// The five fields (a sixth, seconds, may lead).
const FIELDS: &[(&str, u32, u32)] = &[
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
];

const FIELDS_HELP: &str = "fields: [second 0-59] minute 0-59, hour 0-23, day-of-month 1-31, \
     month 1-12, day-of-week 0-7";

/// Which part of a rejected cron expression is wrong, when we can tell: an unknown
/// nickname (with the nearest one) or a number outside its field's range.
fn explain_cron(expr: &str) -> Option<String> {
    let expr = expr.trim();
    if expr.starts_with('@') {
        let near = NICKNAMES
            .iter()
            .map(|n| (strsim::levenshtein(&expr.to_ascii_lowercase(), n), *n))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map_or_else(String::new, |(_, n)| format!("did you mean {n}? "));
        return Some(format!(
            "unknown nickname; {near}(known: {})",
            NICKNAMES.join(", ")
        ));
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let named: Vec<(&str, u32, u32)> = match fields.len() {
        5 => FIELDS.to_vec(),
        6 => std::iter::once(("second", 0, 59))
            .chain(FIELDS.iter().copied())
            .collect(),
        n => return Some(format!("{n} fields, expected 5 or 6 ({FIELDS_HELP})")),
    };
    fields
        .iter()
        .zip(named)
        .find_map(|(text, (name, min, max))| {
            let bad = out_of_range(text, min, max)?;
            Some(format!(
                "{name} field {text:?}: {bad} is outside {min}-{max}"
            ))
        })
}

/// The first number of a field (`1-5,10/2`) outside `min..=max`; steps are not values.
fn out_of_range(field: &str, min: u32, max: u32) -> Option<u32> {
    field
        .split(',')
        .filter_map(|part| part.split('/').next())
        .flat_map(|range| range.split('-'))
        .filter_map(|n| n.parse::<u32>().ok())
        .find(|n| !(min..=max).contains(n))
}

fn valid_time_zone(tz: &str) -> bool {
    if matches!(tz, "UTC" | "Local") {
        return true;
    }
    !tz.is_empty()
        && !tz.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && Path::new("/usr/share/zoneinfo").join(tz).is_file()
}
