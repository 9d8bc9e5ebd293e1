//! Every metric family smoker exports (D7), in one place. `name` is the family name
//! without the suffixes the encoders add: `_total` for counters, `_seconds`/`_bytes`
//! when `unit` is set.

use prometheus_client::registry::Unit;

#[derive(Debug)]
pub struct Desc {
    pub name: &'static str,
    /// Ends with a period, as `prometheus-client` writes registered help texts.
    pub help: &'static str,
    pub unit: Option<&'static Unit>,
}

static SECONDS: Unit = Unit::Seconds;
static BYTES: Unit = Unit::Bytes;

const fn desc(name: &'static str, help: &'static str) -> Desc {
    Desc {
        name,
        help,
        unit: None,
    }
}

const fn seconds(name: &'static str, help: &'static str) -> Desc {
    Desc {
        name,
        help,
        unit: Some(&SECONDS),
    }
}

const fn bytes(name: &'static str, help: &'static str) -> Desc {
    Desc {
        name,
        help,
        unit: Some(&BYTES),
    }
}

/// Declares each family as a `pub static` [`Desc`] from `NAME = ctor("name", "help");`.
macro_rules! families {
    ($($(#[$doc:meta])* $id:ident = $ctor:ident($name:literal, $help:literal);)*) => {
        $($(#[$doc])* pub static $id: Desc = $ctor($name, $help);)*
    };
}

families! {
    // Per check.
    /// `{check,category,component}`: state code of the last result, 0–3.
    CHECK_STATUS = desc("smoker_check_status", "Nagios state code of the last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
    /// `{check,state}`: 1 for the state of the last result, 0 for the other three.
    CHECK_STATE = desc("smoker_check_state", "1 for the state of the last result, 0 for the others.");
    /// `{check}`
    CHECK_LAST_RUN = seconds("smoker_check_last_run_timestamp", "Unix time the last run of the check started.");
    /// `{check}`
    CHECK_DURATION = seconds("smoker_check_duration", "Wall time the last run of the check took.");
    /// `{check,state}`
    CHECK_RUNS = desc("smoker_check_runs", "Runs of the check by resulting state.");
    /// `{check,trigger}`
    CHECK_TRIGGERS = desc("smoker_check_runs_by_trigger", "Runs of the check by what started them: scheduled, catchup, forced, nrpe.");
    /// `{check}`
    CHECK_TIMEOUTS = desc("smoker_check_timeouts", "Runs of the check killed at its Timeout.");
    /// `{check,reason}`
    CHECK_SKIPPED = desc("smoker_check_skipped", "Scheduled runs of the check not started, by reason.");
    /// `{check,label,unit}`
    PERFDATA_VALUE = desc("smoker_perfdata_value", "Last perfdata value of the check, in the base unit named by the unit label.");
    /// `{check,label,kind,bound}`
    PERFDATA_THRESHOLD = desc("smoker_perfdata_threshold", "Finite bounds of the perfdata warn and crit ranges, in the base unit of the value.");
    /// `{check,label}`
    PERFDATA_MIN = desc("smoker_perfdata_min", "Perfdata minimum, in the base unit of the value.");
    /// `{check,label}`
    PERFDATA_MAX = desc("smoker_perfdata_max", "Perfdata maximum, in the base unit of the value.");
    /// `{check}`
    PERFDATA_DROPPED = desc("smoker_perfdata_dropped", "Perfdata items not exported: over the per-check cap, duplicate or over-long label.");

    // Daemon.
    /// `{version}`, always 1.
    BUILD_INFO = desc("smoker_build_info", "Build information; the value is always 1.");
    /// `{result="success|failure"}`
    CONFIG_RELOADS = desc("smoker_config_reloads", "Configuration reloads by result.");
    CONFIG_LAST_RELOAD_SUCCESS = desc("smoker_config_last_reload_success", "1 if the last configuration load succeeded, 0 if the daemon runs an older configuration.");
    EXECUTOR_RUNNING = desc("smoker_executor_running", "Check processes running now.");
    SCHEDULER_LATENESS = seconds("smoker_scheduler_lateness", "How late scheduled runs started after their due time.");
    /// `{route,code}`
    API_REQUESTS = desc("smoker_api_requests", "API requests by route and status code.");
    /// `{route}`
    API_REQUEST_DURATION = seconds("smoker_api_request_duration", "API request latency by route.");
    NSCA_SPOOL_RESULTS = desc("smoker_nsca_spool_results", "Results waiting in the NSCA spool.");
    NSCA_SPOOL_BYTES = bytes("smoker_nsca_spool", "Size of the results waiting in the NSCA spool.");
    NSCA_SEND_ERRORS = desc("smoker_nsca_send_errors", "Failed NSCA batch deliveries; the batch is sent again.");
    NSCA_DROPPED = desc("smoker_nsca_dropped", "Results not queued for NSCA because the spool was full.");
    ICINGA_SENT = desc("smoker_icinga_sent", "Results Icinga 2 accepted.");
    ICINGA_SEND_ERRORS = desc("smoker_icinga_send_errors", "Failed Icinga 2 requests (down, 5xx, refused credentials); the result is sent again.");
    /// `{reason}`
    ICINGA_REJECTED = desc("smoker_icinga_rejected", "Results Icinga 2 refused for good and dropped, by reason (not_found, bad_request).");
    NRPE_REQUESTS = desc("smoker_nrpe_requests", "NRPE requests received.");
    /// `{reason}`
    NRPE_REJECTED = desc("smoker_nrpe_rejected", "NRPE requests refused, by reason.");
    STORE_PERSISTENT = desc("smoker_store_persistent", "1 while results are written to the durable store, 0 while they are kept in memory only.");
    STORE_FAULTS = desc("smoker_store_faults", "Write faults of the durable store (disk full, I/O error, read-only); results are kept in memory until it is re-opened.");
}
