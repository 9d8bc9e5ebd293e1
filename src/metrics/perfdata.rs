//! Perfdata → metric series (decisions.md D7): unit normalisation to base units,
//! Nagios threshold ranges (protocols.md §5.4) and the per-check series cap.
//!
//! Pure functions; the untrusted plugin output is bounded here, before it can
//! reach a label.

use std::{borrow::Cow, collections::HashSet};

use smoker_compat::output::PerfDatum;

/// At most this many perfdata items (distinct labels) per check and result become series.
pub const MAX_PERFDATA_PER_CHECK: usize = 64;
/// Perfdata labels longer than this (bytes) are dropped rather than exported.
pub const MAX_LABEL_BYTES: usize = 200;
/// Unknown UOMs longer than this (bytes) are dropped rather than exported.
const MAX_UNIT_BYTES: usize = 32;

/// A UOM mapped to its base unit: `unit` is the label value, `factor` turns a value in
/// the plugin's UOM into the base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseUnit {
    pub unit: Cow<'static, str>,
    pub factor: f64,
}

/// Maps a plugin UOM to its base unit (D7): `s/ms/us` → seconds; `B/KB/MB/GB/TB` →
/// bytes ×1024ⁿ (as check_disk means them, `kB` accepted for `KB`); `%` → percent;
/// `c` → counter; none → `""`. Any other UOM is kept as the unit label, unscaled.
pub fn base_unit(uom: &str) -> BaseUnit {
    const KIB: f64 = 1024.0;
    let (unit, factor): (&'static str, f64) = match uom {
        "" => ("", 1.0),
        "s" => ("seconds", 1.0),
        "ms" => ("seconds", 1e-3),
        "us" => ("seconds", 1e-6),
        "B" => ("bytes", 1.0),
        "KB" | "kB" => ("bytes", KIB),
        "MB" => ("bytes", KIB * KIB),
        "GB" => ("bytes", KIB * KIB * KIB),
        "TB" => ("bytes", KIB * KIB * KIB * KIB),
        "%" => ("percent", 1.0),
        "c" => ("counter", 1.0),
        other => {
            return BaseUnit {
                unit: Cow::Owned(other.to_string()),
                factor: 1.0,
            };
        }
    };
    BaseUnit {
        unit: Cow::Borrowed(unit),
        factor,
    }
}

/// A threshold range `[@]start:end`; `None` ends are infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// `@`: alert inside the range.
    pub inside: bool,
}

impl Range {
    /// Parses a Nagios range (protocols.md §5.4). `None` for an empty or invalid range
    /// (unparsable number, start > end).
    pub fn parse(text: &str) -> Option<Range> {
        let text = text.trim();
        let (inside, text) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if text.is_empty() {
            return None;
        }
        let (start, end) = match text.split_once(':') {
            None => (Some(0.0), Some(number(text)?)),
            Some((start, end)) => {
                let start = match start {
                    "~" => None,
                    // monitoring-plugins: an empty start is strtod("") = 0.
                    "" => Some(0.0),
                    start => Some(number(start)?),
                };
                let end = if end.is_empty() {
                    None
                } else {
                    Some(number(end)?)
                };
                (start, end)
            }
        };
        if let (Some(start), Some(end)) = (start, end)
            && start > end
        {
            return None;
        }
        Some(Range { start, end, inside })
    }

    fn scaled(self, factor: f64) -> Range {
        Range {
            start: self.start.map(|v| v * factor),
            end: self.end.map(|v| v * factor),
            ..self
        }
    }
}

/// A finite number; `,` accepted as the decimal separator.
fn number(text: &str) -> Option<f64> {
    let value: f64 = if text.contains(',') {
        text.replace(',', ".").parse().ok()?
    } else {
        text.parse().ok()?
    };
    value.is_finite().then_some(value)
}

/// One perfdata item ready for export: values in base units, non-finite values removed.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfSeries {
    pub label: String,
    pub unit: Cow<'static, str>,
    pub value: Option<f64>,
    pub warn: Option<Range>,
    pub crit: Option<Range>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl PerfSeries {
    /// Threshold series as `(kind, bound, value)`, finite bounds only.
    pub fn thresholds(&self) -> impl Iterator<Item = (&'static str, &'static str, f64)> + '_ {
        [("warn", self.warn), ("crit", self.crit)]
            .into_iter()
            .flat_map(|(kind, range)| {
                let (start, end) = range.map_or((None, None), |r| (r.start, r.end));
                [("start", start), ("end", end)]
                    .into_iter()
                    .filter_map(move |(bound, v)| Some((kind, bound, v?)))
            })
    }
}

/// Converts a result's perfdata into series: base units, first occurrence of a label wins,
/// at most `cap` labels. Returns the series and how many items were dropped (over the cap,
/// duplicate label, over-long label or unit).
pub fn to_series(perfdata: &[PerfDatum], cap: usize) -> (Vec<PerfSeries>, u64) {
    let mut series = Vec::with_capacity(perfdata.len().min(cap));
    let mut seen: HashSet<&str> = HashSet::with_capacity(perfdata.len().min(cap));
    let mut dropped = 0u64;
    for datum in perfdata {
        let base = base_unit(&datum.uom);
        if series.len() >= cap
            || datum.label.len() > MAX_LABEL_BYTES
            || base.unit.len() > MAX_UNIT_BYTES
            || !seen.insert(datum.label.as_str())
        {
            dropped += 1;
            continue;
        }
        let scale = |v: Option<f64>| v.map(|v| v * base.factor).filter(|v| v.is_finite());
        series.push(PerfSeries {
            label: datum.label.clone(),
            value: scale(datum.value),
            warn: datum
                .warn
                .as_deref()
                .and_then(Range::parse)
                .map(|r| r.scaled(base.factor)),
            crit: datum
                .crit
                .as_deref()
                .and_then(Range::parse)
                .map(|r| r.scaled(base.factor)),
            min: scale(datum.min),
            max: scale(datum.max),
            unit: base.unit,
        });
    }
    (series, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(label: &str, value: f64, uom: &str) -> PerfDatum {
        PerfDatum {
            label: label.into(),
            value: Some(value),
            uom: uom.into(),
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    #[test]
    fn units_map_to_base_units() {
        let cases: &[(&str, &str, f64)] = &[
            ("", "", 1.0),
            ("s", "seconds", 1.0),
            ("ms", "seconds", 0.001),
            ("us", "seconds", 0.000_001),
            ("B", "bytes", 1.0),
            ("KB", "bytes", 1024.0),
            ("kB", "bytes", 1024.0),
            ("MB", "bytes", 1_048_576.0),
            ("GB", "bytes", 1_073_741_824.0),
            ("TB", "bytes", 1_099_511_627_776.0),
            ("%", "percent", 1.0),
            ("c", "counter", 1.0),
            ("req/s", "req/s", 1.0),
        ];
        for &(uom, unit, factor) in cases {
            assert_eq!(
                base_unit(uom),
                BaseUnit {
                    unit: unit.to_string().into(),
                    factor
                },
                "uom {uom:?}"
            );
        }
    }

    #[test]
    fn ranges_follow_nagios_syntax() {
        let r = |start, end, inside| Some(Range { start, end, inside });
        assert_eq!(Range::parse("10"), r(Some(0.0), Some(10.0), false));
        assert_eq!(Range::parse("10:"), r(Some(10.0), None, false));
        assert_eq!(Range::parse("~:10"), r(None, Some(10.0), false));
        assert_eq!(Range::parse("10:20"), r(Some(10.0), Some(20.0), false));
        assert_eq!(Range::parse("@10:20"), r(Some(10.0), Some(20.0), true));
        assert_eq!(Range::parse("@~:0"), r(None, Some(0.0), true));
        assert_eq!(Range::parse(":10"), r(Some(0.0), Some(10.0), false));
        assert_eq!(Range::parse("~:"), r(None, None, false));
        assert_eq!(Range::parse("-1.5:2,5"), r(Some(-1.5), Some(2.5), false));
        assert_eq!(Range::parse("20:10"), None);
        assert_eq!(Range::parse(""), None);
        assert_eq!(Range::parse("@"), None);
        assert_eq!(Range::parse("abc"), None);
        assert_eq!(Range::parse("1e999"), None);
    }

    #[test]
    fn series_are_scaled_to_base_units() {
        let mut time = datum("time", 500.0, "ms");
        time.warn = Some("1000".into());
        time.crit = Some("~:2000".into());
        time.min = Some(0.0);
        let mut size = datum("size", 2.0, "KB");
        size.max = Some(4.0);
        let (series, dropped) = to_series(&[time, size], MAX_PERFDATA_PER_CHECK);
        assert_eq!(dropped, 0);
        assert_eq!(series[0].unit, "seconds");
        assert_eq!(series[0].value, Some(0.5));
        assert_eq!(series[0].min, Some(0.0));
        assert_eq!(
            series[0].thresholds().collect::<Vec<_>>(),
            [
                ("warn", "start", 0.0),
                ("warn", "end", 1.0),
                ("crit", "end", 2.0)
            ]
        );
        assert_eq!(series[1].unit, "bytes");
        assert_eq!(series[1].value, Some(2048.0));
        assert_eq!(series[1].max, Some(4096.0));
        assert_eq!(series[1].thresholds().count(), 0);
    }

    #[test]
    fn cap_duplicates_and_long_labels_are_dropped() {
        let mut perfdata: Vec<PerfDatum> =
            (0..70).map(|i| datum(&format!("l{i}"), 1.0, "")).collect();
        perfdata.insert(3, datum("l0", 2.0, "s"));
        perfdata.insert(4, datum(&"x".repeat(MAX_LABEL_BYTES + 1), 2.0, ""));
        perfdata.insert(5, datum("weird", 2.0, &"u".repeat(40)));
        let (series, dropped) = to_series(&perfdata, MAX_PERFDATA_PER_CHECK);
        assert_eq!(series.len(), MAX_PERFDATA_PER_CHECK);
        assert_eq!(dropped, 73 - 64);
        assert_eq!(series[0].label, "l0");
        assert_eq!(series[0].value, Some(1.0), "first occurrence wins");
        assert_eq!(series[63].label, "l63");
    }

    #[test]
    fn undetermined_and_non_finite_values_have_no_value_series() {
        let mut u = datum("u", 0.0, "");
        u.value = None;
        let huge = datum("huge", f64::MAX, "TB");
        let (series, dropped) = to_series(&[u, huge], MAX_PERFDATA_PER_CHECK);
        assert_eq!(dropped, 0);
        assert_eq!(series[0].value, None);
        assert_eq!(series[1].value, None);
    }
}
