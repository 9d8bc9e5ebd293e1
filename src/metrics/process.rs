//! The standard `process_*` metrics of the Prometheus client libraries (CPU time, memory,
//! file descriptors, start time), read from `/proc/self` at scrape time. Linux only, as the
//! daemon; a file that cannot be read leaves its metric out.

use std::fmt;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Unit,
};

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on every Linux ABI; Prometheus'
/// own procfs reader assumes the same).
const USER_HZ: f64 = 100.0;

/// The process metrics of this process.
#[derive(Debug, Default)]
pub struct ProcessCollector;

/// What one scrape read.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Sample {
    pub cpu_seconds: Option<f64>,
    pub start_time: Option<f64>,
    pub resident_bytes: Option<i64>,
    pub virtual_bytes: Option<i64>,
    pub open_fds: Option<i64>,
    pub max_fds: Option<i64>,
}

impl Sample {
    fn read() -> Sample {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let boot = std::fs::read_to_string("/proc/stat").ok();
        let (cpu_seconds, start_ticks) = stat.as_deref().map(stat_times).unwrap_or_default();
        let boot_time = boot.as_deref().and_then(boot_time);
        let max_fds = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .ok()
            .and_then(|(soft, _)| i64::try_from(soft).ok());
        Sample {
            cpu_seconds,
            start_time: start_ticks.zip(boot_time).map(|(t, b)| b + t / USER_HZ),
            resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|dir| dir.count() as i64),
            max_fds,
        }
    }
}

/// `(utime + stime in seconds, starttime in ticks)` from `/proc/self/stat`.
pub(crate) fn stat_times(stat: &str) -> (Option<f64>, Option<f64>) {
    // Fields after the command name in parentheses; field 3 (state) is index 0.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return (None, None);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    let cpu = number(14).zip(number(15)).map(|(u, s)| (u + s) / USER_HZ);
    (cpu, number(22))
}

/// `btime` (boot time, Unix seconds) from `/proc/stat`.
pub(crate) fn boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `kB` value of `/proc/self/status`.
pub(crate) fn status_kib(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find_map(|line| line.strip_prefix(key))?;
    line.split_whitespace().next()?.parse().ok()
}

fn gauge<V>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: Option<V>,
) -> fmt::Result
where
    ConstGauge<V>: EncodeMetric,
{
    let Some(value) = value else {
        return Ok(());
    };
    let metric = ConstGauge::new(value);
    let family = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(family)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let sample = Sample::read();
        if let Some(cpu) = sample.cpu_seconds {
            let metric = ConstCounter::new(cpu);
            let help = "CPU time spent in user and kernel mode, in seconds.";
            let family = encoder.encode_descriptor(
                "process_cpu",
                help,
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            metric.encode(family)?;
        }
        let e = &mut encoder;
        let bytes = Some(&Unit::Bytes);
        gauge(
            e,
            "process_resident_memory",
            "Resident memory size in bytes.",
            bytes,
            sample.resident_bytes,
        )?;
        gauge(
            e,
            "process_virtual_memory",
            "Virtual memory size in bytes.",
            bytes,
            sample.virtual_bytes,
        )?;
        gauge(
            e,
            "process_open_fds",
            "Number of open file descriptors.",
            None,
            sample.open_fds,
        )?;
        gauge(
            e,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            None,
            sample.max_fds,
        )?;
        let seconds = Some(&Unit::Seconds);
        let help = "Start time of the process since unix epoch in seconds.";
        gauge(e, "process_start_time", help, seconds, sample.start_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        let stat = "4242 (smoker d) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 123456 12345678 2000 18446744073709551615";
        assert_eq!(stat_times(stat), (Some(3.0), Some(123_456.0)));
        assert_eq!(stat_times("garbage"), (None, None));
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1.7e9)
        );
        assert_eq!(
            status_kib("Name:\tsmokerd\nVmRSS:\t   13800 kB\n", "VmRSS:"),
            Some(13_800)
        );
        let now = Sample::read();
        assert!(now.resident_bytes.is_some_and(|b| b > 0), "{now:?}");
        assert!(now.open_fds.is_some_and(|n| n >= 3), "{now:?}");
        assert!(now.start_time.is_some_and(|t| t > 1.6e9), "{now:?}");
    }
}
