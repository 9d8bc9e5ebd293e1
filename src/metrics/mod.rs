//! Prometheus metrics (decisions.md D7): every metric family smoker exports is declared
//! in [`family`], and [`Metrics`] is the only way to update them.
//!
//! Owns the registry, the per-check series (status, state, runs, perfdata, ...), the
//! daemon counters other modules bump through plain methods, and `/metrics` with content
//! negotiation: OpenMetrics when the scraper asks for it, Prometheus text 0.0.4
//! otherwise (both encoded by `prometheus-client`; 0.26 has a 0.0.4 encoder that puts
//! HELP/TYPE on the `_total` names and escapes label values). It never reads the
//! config: callers hand in specs and results; the executor's running count and the
//! NSCA spool occupancy are read at scrape time from what `watch_*` was given.

mod checks;
pub mod family;
pub mod perfdata;
mod process;

use std::{
    fmt,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Local};
use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text, text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tracing::{info, warn};

use crate::{
    check::{CheckResult, CheckSpec, Trigger},
    store::durable::SpoolStats,
};
use checks::{CheckSeries, CheckTable, LastRun};
pub use perfdata::MAX_PERFDATA_PER_CHECK;

/// `Content-Type` of the OpenMetrics text answer.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the Prometheus text 0.0.4 answer.
pub const TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Buckets of `smoker_scheduler_lateness_seconds`.
const LATENESS_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of `smoker_api_request_duration_seconds`.
const API_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    route: String,
    code: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

fn api_histogram() -> Histogram {
    Histogram::new(API_BUCKETS)
}

/// All of smoker's metrics. Cheap to share: wrap it in an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    checks: Arc<CheckTable>,
    config_reloads: Family<ResultLabels, Counter>,
    config_last_reload_success: Gauge,
    executor_running: Gauge,
    scheduler_lateness: Histogram,
    api_requests: Family<ApiLabels, Counter>,
    api_request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    nsca_spool_results: Gauge,
    nsca_spool_bytes: Gauge,
    nsca_send_errors: Counter,
    nsca_dropped: Counter,
    nrpe_requests: Counter,
    nrpe_rejected: Family<ReasonLabels, Counter>,
    icinga_sent: Counter,
    icinga_send_errors: Counter,
    icinga_rejected: Family<ReasonLabels, Counter>,
    store_persistent: Gauge,
    store_faults: Counter,
    /// Size of the last rendering, to size the next one.
    last_render_len: AtomicUsize,
    sources: Mutex<Sources>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers `metric` under `desc`.
fn register(
    registry: &mut Registry,
    desc: &family::Desc,
    metric: impl prometheus_client::registry::Metric,
) {
    // `Registry::register` appends the period itself.
    let help = desc.help.strip_suffix('.').unwrap_or(desc.help);
    match desc.unit {
        Some(unit) => registry.register_with_unit(desc.name, help, unit.clone(), metric),
        None => registry.register(desc.name, help, metric),
    }
}

impl Metrics {
    /// Registers every family of D7; `smoker_build_info` is set, the rest start empty or at 0.
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            checks: Arc::default(),
            config_reloads: Family::default(),
            config_last_reload_success: Gauge::default(),
            executor_running: Gauge::default(),
            scheduler_lateness: Histogram::new(LATENESS_BUCKETS),
            api_requests: Family::default(),
            api_request_duration: Family::new_with_constructor(api_histogram),
            nsca_spool_results: Gauge::default(),
            nsca_spool_bytes: Gauge::default(),
            nsca_send_errors: Counter::default(),
            nsca_dropped: Counter::default(),
            nrpe_requests: Counter::default(),
            nrpe_rejected: Family::default(),
            icinga_sent: Counter::default(),
            icinga_send_errors: Counter::default(),
            icinga_rejected: Family::default(),
            store_persistent: Gauge::default(),
            store_faults: Counter::default(),
            last_render_len: AtomicUsize::new(0),
            sources: Mutex::default(),
        };
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        for result in ["success", "failure"] {
            // Both series exist from the start, at 0.
            metrics
                .config_reloads
                .get_or_create(&ResultLabels { result })
                .inc_by(0);
        }
        // The daemon only starts on a configuration that loaded.
        metrics.config_last_reload_success.set(1);

        let mut registry = Registry::default();
        use family::*;
        let (reg, m) = (&mut registry, &metrics);
        register(reg, &BUILD_INFO, build_info);
        register(reg, &CONFIG_RELOADS, m.config_reloads.clone());
        register(
            reg,
            &CONFIG_LAST_RELOAD_SUCCESS,
            m.config_last_reload_success.clone(),
        );
        register(reg, &EXECUTOR_RUNNING, m.executor_running.clone());
        register(reg, &SCHEDULER_LATENESS, m.scheduler_lateness.clone());
        register(reg, &API_REQUESTS, m.api_requests.clone());
        register(reg, &API_REQUEST_DURATION, m.api_request_duration.clone());
        register(reg, &NSCA_SPOOL_RESULTS, m.nsca_spool_results.clone());
        register(reg, &NSCA_SPOOL_BYTES, m.nsca_spool_bytes.clone());
        register(reg, &NSCA_SEND_ERRORS, m.nsca_send_errors.clone());
        register(reg, &NSCA_DROPPED, m.nsca_dropped.clone());
        register(reg, &NRPE_REQUESTS, m.nrpe_requests.clone());
        register(reg, &NRPE_REJECTED, m.nrpe_rejected.clone());
        register(reg, &ICINGA_SENT, m.icinga_sent.clone());
        register(reg, &ICINGA_SEND_ERRORS, m.icinga_send_errors.clone());
        register(reg, &ICINGA_REJECTED, m.icinga_rejected.clone());
        register(reg, &STORE_PERSISTENT, m.store_persistent.clone());
        register(reg, &STORE_FAULTS, m.store_faults.clone());
        registry.register_collector(Box::new(Arc::clone(&metrics.checks)));
        registry.register_collector(Box::new(process::ProcessCollector));
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Records a finished run of `spec`: status, state, last run, duration, runs, timeouts
    /// and the perfdata series (which replace those of the previous result).
    pub fn observe_result(&self, spec: &CheckSpec, result: &CheckResult, trigger: Trigger) {
        let labels = Labels::of(spec);
        self.record(&spec.name, labels, result, Some(trigger));
    }

    /// As [`Metrics::observe_result`], for a run that may end after a reload removed its
    /// check: `retired` is read under the series lock, and a retired check whose series
    /// are gone does not get them back ([`Metrics::check_removed`] runs after the flag).
    pub fn observe_result_unless(
        &self,
        spec: &CheckSpec,
        result: &CheckResult,
        trigger: Trigger,
        retired: impl FnOnce() -> bool,
    ) {
        let labels = Labels::of(spec);
        let update = Self::series_update(labels, result, Some(trigger));
        self.checks.update_unless(&spec.name, retired, update);
    }

    fn record(&self, name: &str, labels: Labels, result: &CheckResult, trigger: Option<Trigger>) {
        let update = Self::series_update(labels, result, trigger);
        self.checks.update(name, update);
    }

    /// What a result changes in its check's series.
    fn series_update(
        labels: Labels,
        result: &CheckResult,
        trigger: Option<Trigger>,
    ) -> impl FnOnce(&mut CheckSeries) + use<> {
        let (perfdata, dropped) = perfdata::to_series(&result.perfdata, MAX_PERFDATA_PER_CHECK);
        let last = LastRun {
            state: result.state,
            started_at: unix_seconds(result.started_at),
            duration: result.duration.as_secs_f64(),
        };
        let (state, timed_out) = (result.state, result.timed_out);
        move |series: &mut CheckSeries| {
            labels.set(series);
            let runs = series.runs_mut();
            runs.last = Some(last);
            runs.runs[usize::from(state.code())] += 1;
            runs.timeouts += u64::from(timed_out);
            runs.perfdata = perfdata;
            runs.perfdata_dropped += dropped;
            if let Some(trigger) = trigger {
                runs.triggers[trigger.slot()] += 1;
            }
        }
    }

    /// Counts a scheduled run of `spec` that did not start (`reason`: a fixed word such as
    /// `overlap` or `shutdown`, never free text).
    pub fn skipped(&self, spec: &CheckSpec, reason: &str) {
        self.checks.update(&spec.name, |series| {
            let skipped = &mut series.runs_mut().skipped;
            match skipped.get_mut(reason) {
                Some(n) => *n += 1,
                None => {
                    skipped.insert(reason.to_string(), 1);
                }
            }
        });
    }

    /// Gives every check of `specs` its series from the start (counters at 0 for every
    /// known label, so `rate()` and `increase()` see the first run), before any result;
    /// a check known already keeps its series (its labels follow the spec).
    pub fn checks_known(&self, specs: &[Arc<CheckSpec>]) {
        for spec in specs {
            let labels = Labels::of(spec);
            self.checks.update(&spec.name, |series| labels.set(series));
        }
    }

    /// Drops every series of check `name` (it left the configuration).
    pub fn check_removed(&self, name: &str) {
        self.checks.lock().remove(name);
    }

    /// Drops the series of every check for which `keep` is false (reload convenience).
    pub fn retain_checks(&self, mut keep: impl FnMut(&str) -> bool) {
        self.checks.lock().retain(|name, _| keep(name));
    }

    /// `smoker_executor_running` follows `running` (called at each scrape), e.g.
    /// `move || daemon.executor.running()` through a `Weak`.
    pub fn watch_executor(&self, running: impl Fn() -> usize + Send + Sync + 'static) {
        self.lock_sources().executor_running = Some(Box::new(running));
    }

    /// `smoker_nsca_spool_results`, `smoker_nsca_spool_bytes` and
    /// `smoker_nsca_dropped_total` follow the durable spool: `stats` is called at each
    /// scrape (`None` once the store is gone), e.g. `move || Some(durable.spool_stats())`
    /// through a `Weak`. Use this or [`Metrics::nsca_spool`]/[`Metrics::nsca_dropped`],
    /// not both.
    pub fn watch_spool(&self, stats: impl Fn() -> Option<SpoolStats> + Send + Sync + 'static) {
        self.lock_sources().spool_stats = Some(Box::new(stats));
    }

    /// `smoker_store_persistent` follows `persistent` (called at each scrape).
    pub fn watch_store(&self, persistent: impl Fn() -> bool + Send + Sync + 'static) {
        self.lock_sources().store_persistent = Some(Box::new(persistent));
    }

    /// `smoker_store_faults_total` follows `faults`, the store's write faults since
    /// start (called at each scrape).
    pub fn watch_store_faults(&self, faults: impl Fn() -> u64 + Send + Sync + 'static) {
        self.lock_sources().store_faults = Some(Box::new(faults));
    }

    /// Write faults of the durable store (see [`Metrics::watch_store_faults`]).
    pub fn store_faults(&self, faults: u64) {
        self.store_faults.inc_by(faults);
    }

    fn lock_sources(&self) -> MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the watched sources into their metrics.
    fn refresh(&self) {
        let mut sources = self.lock_sources();
        if let Some(running) = &sources.executor_running {
            self.executor_running
                .set(i64::try_from(running()).unwrap_or(i64::MAX));
        }
        if let Some(persistent) = &sources.store_persistent {
            self.store_persistent.set(i64::from(persistent()));
        }
        if let Some(faults) = sources.store_faults.as_ref().map(|faults| faults()) {
            self.store_faults(faults.saturating_sub(sources.store_faults_seen));
            sources.store_faults_seen = sources.store_faults_seen.max(faults);
        }
        if let Some(stats) = sources.spool_stats.as_ref().and_then(|stats| stats()) {
            self.nsca_spool(stats.results, stats.bytes);
            let dropped = spool_dropped(&stats);
            self.nsca_dropped(dropped.saturating_sub(sources.spool_dropped_seen));
            sources.spool_dropped_seen = dropped;
        }
    }

    /// A scheduled run started `lateness` after its due time.
    pub fn scheduler_lateness(&self, lateness: Duration) {
        self.scheduler_lateness.observe(lateness.as_secs_f64());
    }

    /// One API request answered. `route` is the matched route template (bounded), never
    /// the raw path; see [`track_api`].
    pub fn api_request(&self, route: &str, code: u16, elapsed: Duration) {
        self.api_requests
            .get_or_create(&ApiLabels {
                route: route.to_string(),
                code,
            })
            .inc();
        self.api_request_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A configuration (re)load finished.
    pub fn config_reload(&self, ok: bool) {
        self.config_reloads
            .get_or_create(&ResultLabels {
                result: if ok { "success" } else { "failure" },
            })
            .inc();
        self.config_last_reload_success.set(i64::from(ok));
    }

    /// Current NSCA spool size.
    pub fn nsca_spool(&self, results: u64, bytes: u64) {
        self.nsca_spool_results
            .set(i64::try_from(results).unwrap_or(i64::MAX));
        self.nsca_spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// An NSCA batch delivery failed (it will be resent).
    pub fn nsca_send_error(&self) {
        self.nsca_send_errors.inc();
    }

    /// `n` results were not queued for NSCA because the spool was full.
    pub fn nsca_dropped(&self, n: u64) {
        self.nsca_dropped.inc_by(n);
    }

    /// One NRPE request received.
    pub fn nrpe_request(&self) {
        self.nrpe_requests.inc();
    }

    /// One NRPE request refused (`reason`: a fixed word such as `acl`, `metachars`, `args`).
    pub fn nrpe_rejected(&self, reason: &str) {
        self.nrpe_rejected
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// `n` results accepted by Icinga 2.
    pub fn icinga_sent(&self, n: u64) {
        self.icinga_sent.inc_by(n);
    }

    /// An Icinga 2 request failed (the result is sent again).
    pub fn icinga_send_error(&self) {
        self.icinga_send_errors.inc();
    }

    /// Icinga 2 refused a result for good (`not_found`, `bad_request`): dropped.
    pub fn icinga_rejected(&self, reason: &str) {
        self.icinga_rejected
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The exposition: OpenMetrics text (with `# EOF`) or Prometheus text 0.0.4.
    pub fn render(&self, openmetrics: bool) -> String {
        let mut out = String::with_capacity(self.last_render_len.load(Ordering::Relaxed) + 1024);
        self.render_into(&mut out, openmetrics);
        self.last_render_len.store(out.len(), Ordering::Relaxed);
        out
    }

    /// Writes the exposition to `out` (`GET /metrics` writes it into a pooled buffer,
    /// `crate::body`).
    pub fn render_into<W: fmt::Write>(&self, out: &mut W, openmetrics: bool) {
        self.refresh();
        let encoded = if openmetrics {
            text::encode(out, &self.registry)
        } else {
            prometheus_text::encode(out, &self.registry)
        };
        if let Err(error) = encoded {
            warn!(%error, "Metrics encoding failed.");
        }
    }
}

/// Where scrape-time metrics are read from.
#[derive(Default)]
struct Sources {
    executor_running: Option<Box<dyn Fn() -> usize + Send + Sync>>,
    store_persistent: Option<Box<dyn Fn() -> bool + Send + Sync>>,
    store_faults: Option<Box<dyn Fn() -> u64 + Send + Sync>>,
    /// Store faults already counted in `smoker_store_faults_total`.
    store_faults_seen: u64,
    spool_stats: Option<Box<dyn Fn() -> Option<SpoolStats> + Send + Sync>>,
    /// Spool drops already counted in `smoker_nsca_dropped_total`.
    spool_dropped_seen: u64,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("executor_running", &self.executor_running.is_some())
            .field("store_persistent", &self.store_persistent.is_some())
            .field("store_faults", &self.store_faults.is_some())
            .field("spool_stats", &self.spool_stats.is_some())
            .field("spool_dropped_seen", &self.spool_dropped_seen)
            .finish()
    }
}

fn spool_dropped(stats: &SpoolStats) -> u64 {
    stats.actions.values().map(|action| action.dropped).sum()
}

/// A check's `category` and `component` label values.
struct Labels {
    category: Option<Arc<str>>,
    component: Option<Arc<str>>,
}

impl Labels {
    fn of(spec: &CheckSpec) -> Labels {
        Labels {
            category: param_label(spec, "Category"),
            component: param_label(spec, "Component"),
        }
    }

    /// Gives `series` these labels (keeping its own text where equal).
    fn set(self, series: &mut CheckSeries) {
        if series.category != self.category {
            series.category = self.category;
        }
        if series.component != self.component {
            series.component = self.component;
        }
    }
}

/// A metadata parameter (`Category`, `Component`) as a label value, the text shared
/// with the spec; `None` (`""`) when absent.
fn param_label(spec: &CheckSpec, key: &str) -> Option<Arc<str>> {
    let value = spec.parameters.get(key).filter(|v| !v.is_null())?;
    Some(match value.shared_str() {
        Some(text) => text.clone(),
        None => Arc::from(value.to_json().to_string()),
    })
}

fn unix_seconds(time: DateTime<Local>) -> f64 {
    time.timestamp() as f64 + f64::from(time.timestamp_subsec_micros()) / 1e6
}

/// Whether an `Accept` header asks for OpenMetrics (as Prometheus does), i.e. lists
/// `application/openmetrics-text` without `q=0`.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media_type = parts.next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case("application/openmetrics-text")
            && !parts.any(|param| {
                param.split_once('=').is_some_and(|(key, value)| {
                    key.trim().eq_ignore_ascii_case("q")
                        && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            })
    })
}

/// `GET /metrics`: the exposition in the format the `Accept` header asks for.
pub async fn handler(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let openmetrics = wants_openmetrics(accept);
    let content_type = if openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        TEXT_CONTENT_TYPE
    };
    let mut body = crate::body::Answer::new();
    metrics.render_into(&mut body, openmetrics);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into_body(),
    )
        .into_response()
}

/// A router serving [`handler`] at `/metrics`: merge it into the API router, or serve it
/// alone on `metrics: {listen}`.
pub fn router<S>(metrics: Arc<Metrics>) -> axum::Router<S> {
    axum::Router::new()
        .route("/metrics", axum::routing::get(handler))
        .with_state(metrics)
}

/// Serves [`router`] alone on `listener` until `stop` is cancelled, with the API's
/// connection limit and HTTP timeouts (issue 10) and no TLS, tokens or ACL.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    stop: tokio_util::sync::CancellationToken,
) {
    if let Ok(address) = listener.local_addr() {
        info!(%address, "Metrics listening.");
    }
    let app = router::<()>(metrics);
    let handler = crate::net::handler(move |tcp: tokio::net::TcpStream, _, drain| {
        let _ = tcp.set_nodelay(true);
        crate::net::http::serve(tcp, app.clone(), drain)
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(crate::net::MAX_CONNECTIONS));
    crate::net::accept::serve(listener, "Metrics", permits, handler, stop).await;
}

/// Middleware counting API requests by matched route and status code. Mount with
/// `router.layer(axum::middleware::from_fn_with_state(metrics, metrics::track_api))`.
pub async fn track_api(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.api_request(&route, response.status().as_u16(), start.elapsed());
    response
}

/// Renders Prometheus text for `n_checks` checks with `n_perf` perfdata items each (with
/// thresholds, min and max) and returns how long one rendering took (after one warm-up).
pub fn bench_render(n_checks: usize, n_perf: usize) -> Duration {
    let metrics = Metrics::new();
    let started_at = Local::now();
    let bench: Arc<str> = Arc::from("bench");
    for check_idx in 0..n_checks {
        let mut result = CheckResult::synthetic(crate::check::State::Ok, "OK", started_at);
        result.duration = Duration::from_millis(12);
        result.perfdata = (0..n_perf)
            .map(|perf_idx| smoker_compat::output::PerfDatum {
                label: format!("metric_{perf_idx}"),
                value: Some(perf_idx as f64 * 1.5),
                uom: "ms".into(),
                warn: Some("100".into()),
                crit: Some("200".into()),
                min: Some(0.0),
                max: Some(1000.0),
                text: String::new(),
                in_long_output: false,
            })
            .collect();
        let labels = Labels {
            category: Some(bench.clone()),
            component: None,
        };
        metrics.record(&format!("check_{check_idx:05}"), labels, &result, None);
    }
    std::hint::black_box(metrics.render(false));
    let start = Instant::now();
    let out = metrics.render(false);
    let elapsed = start.elapsed();
    std::hint::black_box(out);
    elapsed
}

#[cfg(test)]
mod tests;
