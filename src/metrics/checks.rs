//! Per-check series: the last result of every check, its counters and its perfdata,
//! kept in one sorted table and encoded on each scrape (a `prometheus-client`
//! [`Collector`]), so output is ordered by check and a check's series go away
//! together when it is removed.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};

use super::{
    family::{self, Desc},
    perfdata::PerfSeries,
};
use crate::check::{State, Trigger};

/// The last result of a check, as exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LastRun {
    pub state: State,
    /// Unix time (s) the run started.
    pub started_at: f64,
    pub duration: f64,
}

/// A check's series: its labels, and what its runs left once it has run.
#[derive(Debug, Default)]
pub(crate) struct CheckSeries {
    /// `category` and `component` label values (`None` = `""`), shared with the
    /// spec's parameters.
    pub category: Option<Arc<str>>,
    pub component: Option<Arc<str>>,
    /// `None` until the first run or skip: all counters 0 (most checks of an idle
    /// daemon, so they cost no more than their labels; issue 18).
    runs: Option<Box<RunSeries>>,
}

/// The counters and last result of a check that has run.
#[derive(Debug, Default)]
pub(crate) struct RunSeries {
    pub last: Option<LastRun>,
    /// Runs by state, indexed by [`State::code`].
    pub runs: [u64; 4],
    pub timeouts: u64,
    pub skipped: BTreeMap<String, u64>,
    /// Runs by what started them, indexed by [`Trigger::slot`].
    pub triggers: [u64; 4],
    pub perfdata: Vec<PerfSeries>,
    pub perfdata_dropped: u64,
}

/// The series of a check that has not run.
static NOT_RUN: RunSeries = RunSeries {
    last: None,
    runs: [0; 4],
    timeouts: 0,
    skipped: BTreeMap::new(),
    triggers: [0; 4],
    perfdata: Vec::new(),
    perfdata_dropped: 0,
};

impl CheckSeries {
    pub fn runs(&self) -> &RunSeries {
        self.runs.as_deref().unwrap_or(&NOT_RUN)
    }

    pub fn runs_mut(&mut self) -> &mut RunSeries {
        self.runs.get_or_insert_with(Box::default)
    }

    fn category(&self) -> &str {
        self.category.as_deref().unwrap_or_default()
    }

    fn component(&self) -> &str {
        self.component.as_deref().unwrap_or_default()
    }
}

/// All checks' series, by check name.
#[derive(Debug, Default)]
pub(crate) struct CheckTable {
    checks: Mutex<BTreeMap<String, CheckSeries>>,
}

impl CheckTable {
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<String, CheckSeries>> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `update` on the entry of `name`, creating it when missing.
    pub fn update<T>(&self, name: &str, update: impl FnOnce(&mut CheckSeries) -> T) -> T {
        let mut checks = self.lock();
        if let Some(series) = checks.get_mut(name) {
            return update(series);
        }
        update(checks.entry(name.to_string()).or_default())
    }

    /// As [`CheckTable::update`], but a missing entry is not created when `gone`
    /// says so (read under the lock).
    pub fn update_unless(
        &self,
        name: &str,
        gone: impl FnOnce() -> bool,
        update: impl FnOnce(&mut CheckSeries),
    ) {
        let mut checks = self.lock();
        if let Some(series) = checks.get_mut(name) {
            update(series);
        } else if !gone() {
            update(checks.entry(name.to_string()).or_default());
        }
    }
}

/// Starts the family `desc` in the output.
fn describe<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    desc: &'a Desc,
    metric_type: MetricType,
) -> Result<MetricEncoder<'a>, fmt::Error> {
    encoder.encode_descriptor(desc.name, desc.help, desc.unit, metric_type)
}

fn gauge<V>(encoder: &mut MetricEncoder<'_>, labels: &[(&str, &str)], value: V) -> fmt::Result
where
    ConstGauge<V>: EncodeMetric,
{
    ConstGauge::new(value).encode(encoder.encode_family(&labels)?)
}

fn counter(encoder: &mut MetricEncoder<'_>, labels: &[(&str, &str)], value: u64) -> fmt::Result {
    ConstCounter::new(value).encode(encoder.encode_family(&labels)?)
}

type Checks = BTreeMap<String, CheckSeries>;

impl Collector for CheckTable {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let checks = self.lock();
        if checks.is_empty() {
            return Ok(());
        }
        encode_last_results(&mut encoder, &checks)?;
        encode_run_counters(&mut encoder, &checks)?;
        encode_perfdata(&mut encoder, &checks)
    }
}

/// The families of each check's last result: status, state, start and duration.
fn encode_last_results(encoder: &mut DescriptorEncoder<'_>, checks: &Checks) -> fmt::Result {
    let last_runs = || {
        checks
            .iter()
            .filter_map(|(name, s)| Some((name.as_str(), s, s.runs().last?)))
    };

    if last_runs().next().is_some() {
        let mut family = describe(encoder, &family::CHECK_STATUS, MetricType::Gauge)?;
        for (check, series, last) in last_runs() {
            let labels = [
                ("check", check),
                ("category", series.category()),
                ("component", series.component()),
            ];
            gauge(&mut family, &labels, i64::from(last.state.code()))?;
        }
        let mut family = describe(encoder, &family::CHECK_STATE, MetricType::Gauge)?;
        for (check, _, last) in last_runs() {
            for state in State::ALL {
                gauge(
                    &mut family,
                    &[("check", check), ("state", state.as_str())],
                    i64::from(state == last.state),
                )?;
            }
        }
        let mut family = describe(encoder, &family::CHECK_LAST_RUN, MetricType::Gauge)?;
        for (check, _, last) in last_runs() {
            gauge(&mut family, &[("check", check)], last.started_at)?;
        }
        let mut family = describe(encoder, &family::CHECK_DURATION, MetricType::Gauge)?;
        for (check, _, last) in last_runs() {
            gauge(&mut family, &[("check", check)], last.duration)?;
        }
    }
    Ok(())
}

/// Why a scheduled run does not start (`smoker_check_skipped_total{reason}`): the previous
/// run still runs (`overlap`), a queued run was already waiting (`coalesced`), the cron slot
/// passed by more than 60 s (`missed`).
pub const SKIP_REASONS: [&str; 3] = ["overlap", "coalesced", "missed"];

/// Runs by state and trigger, timeouts and skipped runs of each check.
fn encode_run_counters(encoder: &mut DescriptorEncoder<'_>, checks: &Checks) -> fmt::Result {
    let mut family = describe(encoder, &family::CHECK_RUNS, MetricType::Counter)?;
    for (check, series) in checks.iter() {
        for state in State::ALL {
            let runs = series.runs().runs[usize::from(state.code())];
            counter(
                &mut family,
                &[("check", check), ("state", state.as_str())],
                runs,
            )?;
        }
    }
    let mut family = describe(encoder, &family::CHECK_TIMEOUTS, MetricType::Counter)?;
    for (check, series) in checks.iter() {
        counter(&mut family, &[("check", check)], series.runs().timeouts)?;
    }
    let mut family = describe(encoder, &family::CHECK_TRIGGERS, MetricType::Counter)?;
    for (check, series) in checks.iter() {
        for trigger in Trigger::ALL {
            let runs = series.runs().triggers[trigger.slot()];
            let labels = [("check", check.as_str()), ("trigger", trigger.as_str())];
            counter(&mut family, &labels, runs)?;
        }
    }
    // Every known reason from the start (0), so `rate()` and `increase()` see the first skip.
    let mut family = describe(encoder, &family::CHECK_SKIPPED, MetricType::Counter)?;
    for (check, series) in checks.iter() {
        let known = SKIP_REASONS.iter().map(|r| (*r, 0));
        let seen = series.runs().skipped.iter().map(|(r, n)| (r.as_str(), *n));
        let all: BTreeMap<&str, u64> = known.chain(seen).collect();
        for (reason, skipped) in all {
            counter(
                &mut family,
                &[("check", check), ("reason", reason)],
                skipped,
            )?;
        }
    }
    Ok(())
}

/// The perfdata families: values, thresholds, min, max and dropped items.
fn encode_perfdata(encoder: &mut DescriptorEncoder<'_>, checks: &Checks) -> fmt::Result {
    let perfdata = || {
        checks
            .iter()
            .flat_map(|(check, s)| s.runs().perfdata.iter().map(move |p| (check.as_str(), p)))
    };
    if perfdata().any(|(_, p)| p.value.is_some()) {
        let mut family = describe(encoder, &family::PERFDATA_VALUE, MetricType::Gauge)?;
        for (check, p) in perfdata() {
            if let Some(value) = p.value {
                gauge(
                    &mut family,
                    &[("check", check), ("label", &p.label), ("unit", &p.unit)],
                    value,
                )?;
            }
        }
    }
    if perfdata().any(|(_, p)| p.thresholds().next().is_some()) {
        let mut family = describe(encoder, &family::PERFDATA_THRESHOLD, MetricType::Gauge)?;
        for (check, p) in perfdata() {
            for (kind, bound, value) in p.thresholds() {
                let labels = [
                    ("check", check),
                    ("label", &p.label),
                    ("kind", kind),
                    ("bound", bound),
                ];
                gauge(&mut family, &labels, value)?;
            }
        }
    }
    for (desc, pick) in [
        (
            &family::PERFDATA_MIN,
            (|p: &PerfSeries| p.min) as fn(&PerfSeries) -> Option<f64>,
        ),
        (&family::PERFDATA_MAX, |p: &PerfSeries| p.max),
    ] {
        if perfdata().any(|(_, p)| pick(p).is_some()) {
            let mut family = describe(encoder, desc, MetricType::Gauge)?;
            for (check, p) in perfdata() {
                if let Some(value) = pick(p) {
                    gauge(&mut family, &[("check", check), ("label", &p.label)], value)?;
                }
            }
        }
    }
    let mut family = describe(encoder, &family::PERFDATA_DROPPED, MetricType::Counter)?;
    for (check, series) in checks.iter() {
        counter(
            &mut family,
            &[("check", check)],
            series.runs().perfdata_dropped,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18 (benchmark row 4): a check that has not run costs its name, two shared
    /// labels and an empty pointer (it took about 416 bytes with its counters inline).
    #[test]
    fn a_check_that_has_not_run_costs_five_words_beyond_its_name() {
        assert_eq!(std::mem::size_of::<CheckSeries>(), 40);
        let table = CheckTable::default();
        let bench: Arc<str> = Arc::from("bench");
        for name in ["a", "b"] {
            table.update(name, |s| s.category = Some(bench.clone()));
        }
        let checks = table.lock();
        assert!(checks.values().all(|s| s.runs.is_none()));
        assert_eq!(checks["a"].runs().runs, [0; 4]);
        assert_eq!(Arc::strong_count(&bench), 3);
    }
}
