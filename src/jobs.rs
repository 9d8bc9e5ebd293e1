//! Jobs (decisions.md D10): evaluation of `Schedule:` cron expressions.
//!
//! Owns the parsing of an expression (`croner`: 5, 6 or 7 fields, Vixie DOM/DOW OR,
//! Sunday = 0/7, `@hourly`, `@daily`, …, plus `@reboot`), its time zone (`TimeZone:`
//! through the system zoneinfo with `jiff`, else the host's zone), the next and
//! previous slot with croner's DST rules (a slot in a gap runs at the next valid time,
//! a repeated fixed time runs once), and the boot id that makes `@reboot` once per
//! boot. The scheduler decides when to run; this module only answers "when is due".

use std::str::FromStr;

use chrono::{DateTime, Local, Utc};
use croner::Cron;
use jiff::{Timestamp, Zoned, tz::TimeZone};

/// Where the kernel publishes the id of the current boot.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// Why a `Schedule:` cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid cron expression {expr:?}: {message}")]
    Cron { expr: String, message: String },
    #[error("unknown time zone {name:?}: {message}")]
    TimeZone { name: String, message: String },
}

/// A parsed `Schedule:` with its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// `None` for `@reboot`.
    cron: Option<Cron>,
    tz: TimeZone,
}

impl CronSchedule {
    /// Parses `expr` in `time_zone` (`None` or `Local` = the host's zone, `UTC`, or an
    /// IANA name from the system zoneinfo).
    pub fn parse(expr: &str, time_zone: Option<&str>) -> Result<CronSchedule, JobError> {
        let tz = match time_zone {
            None | Some("Local") => TimeZone::system(),
            Some("UTC") => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|e| JobError::TimeZone {
                name: name.to_string(),
                message: e.to_string(),
            })?,
        };
        let cron = if expr.trim().eq_ignore_ascii_case("@reboot") {
            None
        } else {
            Some(Cron::from_str(expr).map_err(|e| JobError::Cron {
                expr: expr.to_string(),
                message: e.to_string(),
            })?)
        };
        Ok(CronSchedule { cron, tz })
    }

    /// `@reboot`: runs once per boot, never on a clock.
    pub fn is_reboot(&self) -> bool {
        self.cron.is_none()
    }

    /// `at` in the schedule's zone.
    pub fn zoned(&self, at: Timestamp) -> Zoned {
        at.to_zoned(self.tz.clone())
    }

    /// The current time in the schedule's zone.
    pub fn now(&self) -> Zoned {
        self.zoned(Timestamp::now())
    }

    /// The first slot strictly after `after` (pass the previous slot as returned, so
    /// a repeated hour is walked correctly); `None` for `@reboot` or past year 5000.
    pub fn next_after(&self, after: &Zoned) -> Option<Zoned> {
        let after = after.with_time_zone(self.tz.clone());
        self.cron.as_ref()?.find_next_occurrence(&after, false).ok()
    }

    /// The last slot at or before `at`.
    pub fn last_at_or_before(&self, at: &Zoned) -> Option<Zoned> {
        let at = at.with_time_zone(self.tz.clone());
        self.cron.as_ref()?.find_previous_occurrence(&at, true).ok()
    }
}

/// The kernel's id of this boot; `None` where /proc does not have it.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string(BOOT_ID_PATH)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A jiff instant as a chrono UTC time.
pub fn to_utc(at: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().max(0) as u32)
        .unwrap_or_default()
}

/// A jiff instant as the local chrono time the API shows.
pub fn to_local(at: Timestamp) -> DateTime<Local> {
    to_utc(at).with_timezone(&Local)
}

/// A chrono UTC time as a jiff instant.
pub fn from_utc(at: DateTime<Utc>) -> Timestamp {
    Timestamp::new(at.timestamp(), at.timestamp_subsec_nanos() as i32).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: &str, text: &str) -> Zoned {
        let tz = TimeZone::get(tz).expect("zone");
        text.parse::<jiff::civil::DateTime>()
            .expect("civil time")
            .to_zoned(tz)
            .expect("zoned")
    }

    fn next(expr: &str, tz: &str, from: &str) -> String {
        let s = CronSchedule::parse(expr, Some(tz)).expect("parse");
        let n = s.next_after(&at(tz, from)).expect("next");
        n.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// Asserts each `(expression, zone, from, next slot)`.
    fn assert_next(cases: &[(&str, &str, &str, &str)]) {
        for (expr, tz, from, want) in cases {
            assert_eq!(next(expr, tz, from), *want, "{expr} after {from} in {tz}");
        }
    }

    #[test]
    fn five_six_and_seven_fields() {
        assert_next(&[
            (
                "30 2 * * *",
                "UTC",
                "2026-01-01T00:00:00",
                "2026-01-01T02:30:00+00:00",
            ),
            (
                "*/2 * * * * *",
                "UTC",
                "2026-01-01T00:00:01",
                "2026-01-01T00:00:02+00:00",
            ),
            (
                "0 0 0 1 1 * 2030",
                "UTC",
                "2026-01-01T00:00:00",
                "2030-01-01T00:00:00+00:00",
            ),
            (
                "@hourly",
                "UTC",
                "2026-01-01T00:10:00",
                "2026-01-01T01:00:00+00:00",
            ),
            (
                "@daily",
                "UTC",
                "2026-01-01T00:10:00",
                "2026-01-02T00:00:00+00:00",
            ),
        ]);
    }

    #[test]
    fn vixie_dom_dow_or_and_sunday_seven() {
        assert_next(&[
            // 2026-03-01 is a Sunday: "the 15th OR a Sunday" fires on the 1st.
            (
                "0 9 15 * 0",
                "UTC",
                "2026-02-28T12:00:00",
                "2026-03-01T09:00:00+00:00",
            ),
            (
                "0 9 * * 7",
                "UTC",
                "2026-02-28T12:00:00",
                "2026-03-01T09:00:00+00:00",
            ),
            // Only DOM restricted: the 15th.
            (
                "0 9 15 * *",
                "UTC",
                "2026-02-28T12:00:00",
                "2026-03-15T09:00:00+00:00",
            ),
        ]);
    }

    #[test]
    fn dst_gap_runs_at_the_next_valid_time_and_repeat_once() {
        // Europe/Berlin 2026-03-29: 02:00 → 03:00.
        assert_eq!(
            next("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00"),
            "2026-03-29T03:00:00+02:00"
        );
        // 2026-10-25: 03:00 → 02:00; 02:30 happens twice, the job runs once.
        let s = CronSchedule::parse("30 2 * * *", Some("Europe/Berlin")).expect("parse");
        let first = s
            .next_after(&at("Europe/Berlin", "2026-10-25T01:00:00"))
            .expect("first");
        assert_eq!(
            first.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "2026-10-25T02:30:00+02:00"
        );
        let second = s.next_after(&first).expect("second");
        assert_eq!(
            second.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "2026-10-26T02:30:00+01:00"
        );
    }

    #[test]
    fn time_zone_shifts_the_slot() {
        let s = CronSchedule::parse("0 12 * * *", Some("America/New_York")).expect("parse");
        let n = s
            .next_after(&at("UTC", "2026-06-01T00:00:00"))
            .expect("next");
        assert_eq!(n.timestamp().to_string(), "2026-06-01T16:00:00Z");
    }

    #[test]
    fn reboot_and_errors() {
        let s = CronSchedule::parse("@reboot", None).expect("parse");
        assert!(s.is_reboot());
        assert!(s.next_after(&s.now()).is_none());
        assert!(matches!(
            CronSchedule::parse("61 * * * *", None),
            Err(JobError::Cron { .. })
        ));
        assert!(matches!(
            CronSchedule::parse("* * * * *", Some("Mars/Olympus")),
            Err(JobError::TimeZone { .. })
        ));
    }

    #[test]
    fn last_slot_and_conversions() {
        let s = CronSchedule::parse("0 */10 * * * *", Some("UTC")).expect("parse");
        let last = s
            .last_at_or_before(&at("UTC", "2026-01-01T00:25:00"))
            .expect("last");
        assert_eq!(last.timestamp().to_string(), "2026-01-01T00:20:00Z");
        let utc = to_utc(last.timestamp());
        assert_eq!(from_utc(utc), last.timestamp());
    }
}
