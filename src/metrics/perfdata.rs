//! Perfdata → metric series (decisions.md D7): values, thresholds, min and max in
//! base units (unit normalisation and range parsing are `smoker_compat::output`'s),
//! and the per-check series cap.
//!
//! Pure functions; the untrusted plugin output is bounded here, before it can
//! reach a label.

use std::collections::HashSet;

use smoker_compat::output::{PerfDatum, Range, uom_factor};

/// At most this many perfdata items (distinct labels) per check and result become series.
pub const MAX_PERFDATA_PER_CHECK: usize = 64;
/// Perfdata labels longer than this (bytes) are dropped rather than exported.
pub const MAX_LABEL_BYTES: usize = 200;
/// Unknown UOMs longer than this (bytes) are dropped rather than exported.
const MAX_UNIT_BYTES: usize = 32;

/// One perfdata item ready for export: values in base units, non-finite values removed.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfSeries {
    pub label: String,
    pub unit: String,
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
            .filter_map(|(kind, range)| Some((kind, range?)))
            .flat_map(|(kind, range)| {
                [("start", range.start), ("end", range.end)]
                    .into_iter()
                    .filter(|(_, value)| value.is_finite())
                    .map(move |(bound, value)| (kind, bound, value))
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
        let (factor, unit) = uom_factor(&datum.uom);
        if series.len() >= cap
            || datum.label.len() > MAX_LABEL_BYTES
            || unit.len() > MAX_UNIT_BYTES
            || !seen.insert(datum.label.as_str())
        {
            dropped += 1;
            continue;
        }
        let scale = |v: Option<f64>| v.map(|v| v * factor).filter(|v| v.is_finite());
        series.push(PerfSeries {
            label: datum.label.clone(),
            unit: unit.to_string(),
            value: scale(datum.value),
            warn: datum.warn_range().map(|r| r.scaled(factor)),
            crit: datum.crit_range().map(|r| r.scaled(factor)),
            min: scale(datum.min),
            max: scale(datum.max),
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
            text: String::new(),
            in_long_output: false,
        }
    }

    #[test]
    fn values_are_in_d7_base_units() {
        let cases: &[(&str, &str, f64)] = &[
            ("", "", 3.0),
            ("s", "seconds", 3.0),
            ("ms", "seconds", 0.003),
            ("us", "seconds", 0.000_003),
            ("B", "bytes", 3.0),
            ("KB", "bytes", 3.0 * 1024.0),
            ("MB", "bytes", 3.0 * 1_048_576.0),
            ("GB", "bytes", 3.0 * 1_073_741_824.0),
            ("TB", "bytes", 3.0 * 1_099_511_627_776.0),
            ("%", "percent", 3.0),
            ("c", "counter", 3.0),
            ("req/s", "req/s", 3.0),
        ];
        for &(uom, unit, value) in cases {
            let (series, dropped) = to_series(&[datum("x", 3.0, uom)], MAX_PERFDATA_PER_CHECK);
            assert_eq!(dropped, 0);
            assert_eq!(
                (series[0].unit.as_str(), series[0].value),
                (unit, Some(value)),
                "uom {uom:?}"
            );
        }
    }

    #[test]
    fn only_finite_threshold_bounds_are_exported() {
        let mut item = datum("x", 1.0, "s");
        item.warn = Some("10:".into());
        item.crit = Some("@~:0".into());
        let (series, _) = to_series(&[item.clone()], MAX_PERFDATA_PER_CHECK);
        assert_eq!(
            series[0].thresholds().collect::<Vec<_>>(),
            [("warn", "start", 10.0), ("crit", "end", 0.0)]
        );
        item.warn = Some("20:10".into());
        item.crit = Some("~:".into());
        let (series, _) = to_series(&[item], MAX_PERFDATA_PER_CHECK);
        assert_eq!(series[0].thresholds().count(), 0);
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
