//! Logging setup for the binaries: `tracing` to stderr, journald-friendly.
//!
//! Owns the subscriber and the level precedence: `RUST_LOG` > `-v`/`-d` > YAML
//! `log_level` > INFO (low volume: start, reloads, stop, state changes). A plain level applies to our own
//! crates while dependencies stay at WARN; `RUST_LOG` and a `log_level` holding
//! directives (`info,smoker::nrpe=debug`) are taken as written. Text output has no
//! colours unless stderr is a terminal and no timestamps under journald (which adds
//! its own); `log_format: json` writes one JSON object per line.

use std::io::IsTerminal;

use std::fmt;

use serde_json::{Map, Value};
use tracing::{Event, Level, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::SubscriberExt,
    registry::LookupSpan,
    reload,
    util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// Level asked for on the command line (`-v`, `-d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Neither flag: the YAML `log_level` or INFO.
    #[default]
    Default,
    /// `-v`: INFO.
    Verbose,
    /// `-d`: DEBUG (wins over `-v`).
    Debug,
}

impl Verbosity {
    pub fn from_flags(verbose: bool, debug: bool) -> Verbosity {
        if debug {
            Verbosity::Debug
        } else if verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Default
        }
    }
}

/// Level used when nothing asks for another one (issue 20: INFO, which stays low-volume).
pub const DEFAULT_LEVEL: &str = "info";

/// Targets a plain level applies to; everything else stays at WARN.
const OWN_TARGETS: [&str; 5] = [
    "smoker",
    "smoker_compat",
    "smokerd",
    "smokercli",
    "check_smoker",
];

/// Handle to change the YAML level after a reload. Cheap to clone.
#[derive(Clone)]
pub struct LogHandle {
    verbosity: Verbosity,
    filter: Option<reload::Handle<EnvFilter, Registry>>,
}

impl LogHandle {
    /// Applies a new YAML `log_level` (after a config reload); `RUST_LOG` and the
    /// command-line flags still win. Returns a warning for an unusable level.
    pub fn set_log_level(&self, log_level: Option<&str>) -> Option<String> {
        let (filter, warning) = build_filter(rust_log().as_deref(), self.verbosity, log_level);
        if let Some(handle) = &self.filter {
            if let Err(e) = handle.reload(filter) {
                return Some(format!("cannot change the log level: {e}"));
            }
        }
        warning
    }
}

/// Installs the global subscriber. Calling it again (tests, two entry points) leaves
/// the first one in place. A `log_level` that is neither a level nor valid
/// directives is logged as a warning and the default is used.
pub fn init(verbosity: Verbosity, log_level: Option<&str>, format: LogFormat) -> LogHandle {
    let (filter, warning) = build_filter(rust_log().as_deref(), verbosity, log_level);
    let (filter, handle) = reload::Layer::new(filter);
    let stderr_is_tty = std::io::stderr().is_terminal();
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let output = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(JsonLines)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text if under_journald => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .event_format(JournalPriority(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_ansi(false),
            ))
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(stderr_is_tty)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .is_ok();
    if let Some(warning) = warning {
        tracing::warn!(log_level = log_level.unwrap_or(""), "{warning}");
    }
    LogHandle {
        verbosity,
        filter: installed.then_some(handle),
    }
}

/// sd-daemon(3) priority prefixes (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) so
/// journald files each line at its level and `journalctl -p warning` filters them.
struct JournalPriority<F>(F);

impl<S, N, F> FormatEvent<S, N> for JournalPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The syslog priority of a level.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// One JSON object per event: `timestamp`, `level`, `target`, `message` and the fields with
/// their types (numbers, booleans, and lists logged with `?` stay arrays).
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = JsonFields(Map::new());
        fields.0.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        fields
            .0
            .insert("level".into(), meta.level().as_str().into());
        fields.0.insert("target".into(), meta.target().into());
        event.record(&mut fields);
        let line = serde_json::to_string(&fields.0).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// Collects an event's fields as typed JSON values.
struct JsonFields(Map<String, Value>);

impl tracing::field::Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        // A list logged with `?` (`["a", "b"]`, `[1, 2]`) is JSON already.
        let list = text
            .starts_with('[')
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        let value = list.unwrap_or(Value::String(text));
        self.0.insert(field.name().into(), value);
    }
}

fn rust_log() -> Option<String> {
    std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The filter directives for the given sources, and a warning when one was unusable.
fn directives(
    rust_log: Option<&str>,
    verbosity: Verbosity,
    log_level: Option<&str>,
) -> (String, Option<String>) {
    let mut warning = None;
    if let Some(rust_log) = rust_log {
        match EnvFilter::try_new(rust_log) {
            Ok(_) => return (rust_log.to_string(), None),
            Err(e) => warning = Some(format!("ignoring RUST_LOG: {e}")),
        }
    }
    match verbosity {
        Verbosity::Debug => return (own_level("debug"), warning),
        Verbosity::Verbose => return (own_level("info"), warning),
        Verbosity::Default => {}
    }
    if let Some(log_level) = log_level.map(str::trim).filter(|level| !level.is_empty()) {
        if let Some(level) = level_name(log_level) {
            return (own_level(level), warning);
        }
        if EnvFilter::try_new(log_level).is_ok() && log_level.contains(['=', ',']) {
            return (log_level.to_string(), warning);
        }
        warning = Some(format!(
            "unknown log_level {log_level:?} (expected trace, debug, info, warning, error, critical, off or \
             filter directives); using {DEFAULT_LEVEL}"
        ));
    }
    (own_level(DEFAULT_LEVEL), warning)
}

fn build_filter(
    rust_log: Option<&str>,
    verbosity: Verbosity,
    log_level: Option<&str>,
) -> (EnvFilter, Option<String>) {
    let (directives, warning) = directives(rust_log, verbosity, log_level);
    // Every string reaching here parsed once already; the fallback cannot be reached.
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVEL));
    (filter, warning)
}

/// Level names as tracing and the original (Python logging) spell them.
fn level_name(text: &str) -> Option<&'static str> {
    match text.to_ascii_lowercase().as_str() {
        "trace" | "notset" => Some("trace"),
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "error" | "critical" | "fatal" => Some("error"),
        "off" | "none" => Some("off"),
        _ => None,
    }
}

fn own_level(level: &str) -> String {
    if level == "off" {
        return "off".to_string();
    }
    let mut directives = String::from("warn");
    for target in OWN_TARGETS {
        directives.push(',');
        directives.push_str(target);
        directives.push('=');
        directives.push_str(level);
    }
    directives
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        rust_log: Option<&str>,
        verbosity: Verbosity,
        log_level: Option<&str>,
        expect: &str,
        warns: bool,
    ) {
        let (directives, warning) = directives(rust_log, verbosity, log_level);
        assert_eq!(
            directives, expect,
            "{rust_log:?} {verbosity:?} {log_level:?}"
        );
        assert_eq!(warning.is_some(), warns, "{warning:?}");
    }

    #[test]
    fn precedence_is_rust_log_then_flags_then_yaml() {
        let own_debug = own_level("debug");
        let own_info = own_level("info");
        check(
            Some("trace"),
            Verbosity::Debug,
            Some("error"),
            "trace",
            false,
        );
        check(None, Verbosity::Debug, Some("error"), &own_debug, false);
        check(None, Verbosity::Verbose, Some("error"), &own_info, false);
        check(
            None,
            Verbosity::Default,
            Some("error"),
            &own_level("error"),
            false,
        );
        check(None, Verbosity::Default, None, &own_level("info"), false);
        check(
            Some("not a=valid=filter"),
            Verbosity::Verbose,
            None,
            &own_info,
            true,
        );
    }

    #[test]
    fn yaml_levels_accept_python_names_and_directives() {
        check(
            None,
            Verbosity::Default,
            Some("WARNING"),
            &own_level("warn"),
            false,
        );
        check(
            None,
            Verbosity::Default,
            Some("CRITICAL"),
            &own_level("error"),
            false,
        );
        check(
            None,
            Verbosity::Default,
            Some(" Debug "),
            &own_level("debug"),
            false,
        );
        check(None, Verbosity::Default, Some("off"), "off", false);
        check(
            None,
            Verbosity::Default,
            Some("info,smoker::nrpe=trace"),
            "info,smoker::nrpe=trace",
            false,
        );
        check(
            None,
            Verbosity::Default,
            Some("loud"),
            &own_level("info"),
            true,
        );
        check(
            None,
            Verbosity::Default,
            Some(""),
            &own_level("info"),
            false,
        );
    }

    #[test]
    fn plain_levels_cover_our_crates_only() {
        assert_eq!(
            own_level("debug"),
            "warn,smoker=debug,smoker_compat=debug,smokerd=debug,smokercli=debug,check_smoker=debug"
        );
        assert!(EnvFilter::try_new(own_level("trace")).is_ok());
    }

    #[test]
    fn flags_map_to_verbosity() {
        assert_eq!(Verbosity::from_flags(false, false), Verbosity::Default);
        assert_eq!(Verbosity::from_flags(true, false), Verbosity::Verbose);
        assert_eq!(Verbosity::from_flags(true, true), Verbosity::Debug);
    }

    #[test]
    fn init_twice_keeps_the_first_subscriber() {
        let first = init(Verbosity::Default, Some("off"), LogFormat::Text);
        let second = init(Verbosity::Debug, None, LogFormat::Json);
        assert!(second.filter.is_none());
        // Whichever test installed the subscriber, changing the level never fails.
        assert_eq!(first.set_log_level(Some("debug")), None);
        assert_eq!(
            first.set_log_level(Some("loud")).is_some(),
            rust_log().is_none()
        );
    }
}
