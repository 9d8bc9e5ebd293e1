//! Nagios plugin output (protocols.md §5, decisions.md D3): first line, long
//! output, perfdata, threshold ranges and unit-of-measure normalisation (D7).
//!
//! Everything here is lenient: [`parse`] never fails, a malformed perfdata
//! item is left out and the rest is kept.

use std::fmt;

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_till, take_till1, take_while1},
    character::complete::{char, digit1, one_of},
    combinator::{opt, recognize, value},
    multi::fold_many0,
    sequence::delimited,
};

/// One perfdata item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfDatum {
    pub label: String,
    /// `None` for `U` (undetermined).
    pub value: Option<f64>,
    pub uom: String,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The item as the plugin printed it (`rt=1.500s;1;2;0`), for relays that pass
    /// perfdata on unchanged (D3); empty when the item was not parsed from text.
    pub text: String,
    /// The item came after the `|` in the long output rather than on the first line.
    pub in_long_output: bool,
}

impl PerfDatum {
    /// The item as printed by the plugin, or its canonical form when that is unknown.
    pub fn source_text(&self) -> String {
        if self.text.is_empty() {
            self.to_string()
        } else {
            self.text.clone()
        }
    }

    /// The warning threshold as a [`Range`]; `None` when absent or invalid.
    pub fn warn_range(&self) -> Option<Range> {
        self.warn.as_deref().and_then(|s| Range::parse(s).ok())
    }

    /// The critical threshold as a [`Range`]; `None` when absent or invalid.
    pub fn crit_range(&self) -> Option<Range> {
        self.crit.as_deref().and_then(|s| Range::parse(s).ok())
    }

    /// The value in base units with its unit name (see [`normalize_uom`]).
    pub fn normalized(&self) -> Option<(f64, &str)> {
        self.value.map(|v| normalize_uom(v, &self.uom))
    }
}

/// Writes the item in its canonical form: label always quoted, empty trailing
/// fields dropped. [`parse_perfdata`] reads it back to an equal item.
impl fmt::Display for PerfDatum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'=", self.label.replace('\'', "''"))?;
        match self.value {
            Some(v) => write!(f, "{v}{}", self.uom)?,
            None => f.write_str("U")?,
        }
        let fields = [
            self.warn.clone().unwrap_or_default(),
            self.crit.clone().unwrap_or_default(),
            self.min.map(|v| v.to_string()).unwrap_or_default(),
            self.max.map(|v| v.to_string()).unwrap_or_default(),
        ];
        let used = fields
            .iter()
            .rposition(|s| !s.is_empty())
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            write!(f, ";{field}")?;
        }
        Ok(())
    }
}

/// Plugin output split the Nagios way.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PluginOutput {
    /// First line, text before the first `|`, trimmed.
    pub output: String,
    /// Lines 2..n with perfdata removed; `None` when there are none.
    pub long_output: Option<String>,
    pub perfdata: Vec<PerfDatum>,
}

/// Splits plugin stdout into output, long output and perfdata. Never fails:
/// malformed perfdata items are left out (the text stays as the plugin wrote it).
///
/// - Line 1: text before the first `|` is `output`, the rest is perfdata.
/// - Lines 2..n: long output up to the first later line containing `|`; the
///   text before that `|` is still long output, everything after it
///   (including all following lines) is perfdata, where `|` is not special.
/// - A `|` inside a quoted label on line 1 or in the long part is taken as the
///   separator (as Nagios does), which breaks that label.
pub fn parse(text: &str) -> PluginOutput {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let (output, first_perf) = match first.split_once('|') {
        Some((o, p)) => (o, p),
        None => (first, ""),
    };
    let mut perf_parts: Vec<&str> = vec![first_perf];
    let mut long: Vec<&str> = Vec::new();
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf_parts.push(line);
        } else if let Some((before, after)) = line.split_once('|') {
            in_perf = true;
            long.push(before.trim_end());
            perf_parts.push(after);
        } else {
            long.push(line);
        }
    }
    while long.last().is_some_and(|l| l.trim().is_empty()) {
        long.pop();
    }
    let perfdata = perf_parts
        .iter()
        .enumerate()
        .flat_map(|(index, part)| {
            let mut items = parse_perfdata(part);
            for item in &mut items {
                item.in_long_output = index > 0;
            }
            items
        })
        .collect();
    PluginOutput {
        output: output.trim().to_string(),
        long_output: if long.is_empty() {
            None
        } else {
            Some(long.join("\n"))
        },
        perfdata,
    }
}

/// The perfdata items of plugin stdout as the plugin wrote them (split as
/// [`parse`] does; malformed items left out), for senders that pass them on
/// unchanged (Icinga 2's `performance_data`).
pub fn perfdata_texts(text: &str) -> Vec<String> {
    parse(text).perfdata.into_iter().map(|p| p.text).collect()
}

/// Parses a whitespace-separated list of perfdata items. A malformed item is
/// skipped (up to the next whitespace); the others are kept.
pub fn parse_perfdata(text: &str) -> Vec<PerfDatum> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return items;
        }
        match perf_item(rest) {
            Ok((after, mut item)) if after.is_empty() || after.starts_with(char::is_whitespace) => {
                item.text = rest[..rest.len() - after.len()].to_string();
                items.push(item);
                rest = after;
            }
            _ => {
                let skip = rest.find(char::is_whitespace).unwrap_or(rest.len());
                rest = &rest[skip..];
            }
        }
    }
}

fn is_field_end(c: char) -> bool {
    c == ';' || c.is_whitespace()
}

/// `'it''s'` → `it's`. A quoted label must not contain `=`.
fn quoted_label(i: &str) -> IResult<&str, String> {
    let (rest, label) = delimited(
        char('\''),
        fold_many0(
            alt((value("'", tag("''")), take_while1(|c| c != '\''))),
            String::new,
            |mut acc, part| {
                acc.push_str(part);
                acc
            },
        ),
        char('\''),
    )
    .parse(i)?;
    if label.is_empty() || label.contains('=') {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((rest, label))
}

fn plain_label(i: &str) -> IResult<&str, String> {
    if i.starts_with('\'') {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Char,
        )));
    }
    let (rest, label) = take_till1(|c: char| c == '=' || c.is_whitespace())(i)?;
    Ok((rest, label.to_string()))
}

fn perf_item(i: &str) -> IResult<&str, PerfDatum> {
    let (i, label) = alt((quoted_label, plain_label)).parse(i)?;
    let (i, _) = char('=')(i)?;
    let (i, raw_value) = take_till(is_field_end)(i)?;
    let (value, uom) = parse_value(raw_value)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Float)))?;
    let mut fields: [&str; 4] = [""; 4];
    let mut i = i;
    let mut n = 0;
    while let Some(after) = i.strip_prefix(';') {
        let (after, field) = take_till(is_field_end)(after)?;
        if let Some(slot) = fields.get_mut(n) {
            *slot = field;
        }
        n += 1;
        i = after;
    }
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok((
        i,
        PerfDatum {
            label,
            value,
            uom: uom.to_string(),
            warn: text(fields[0]),
            crit: text(fields[1]),
            min: parse_bound(fields[2]),
            max: parse_bound(fields[3]),
            text: String::new(),
            in_long_output: false,
        },
    ))
}

/// `U` → no value; otherwise a number followed by an optional UOM made of
/// letters and `%`.
fn parse_value(s: &str) -> Option<(Option<f64>, &str)> {
    if s == "U" {
        return Some((None, ""));
    }
    let (uom, v) = number(s).ok()?;
    valid_uom(uom).then_some((Some(v), uom))
}

/// min/max: a number, optionally repeating the UOM; anything else is absent.
fn parse_bound(s: &str) -> Option<f64> {
    let (uom, v) = number(s).ok()?;
    valid_uom(uom).then_some(v)
}

fn valid_uom(uom: &str) -> bool {
    uom.chars().all(|c| c.is_alphabetic() || c == '%')
}

/// A finite decimal number: `[+-]digits[.digits][e[+-]digits]`, `,` accepted
/// as the decimal point.
fn number(i: &str) -> IResult<&str, f64> {
    let (rest, text) = recognize((
        opt(one_of("+-")),
        alt((
            recognize((digit1, opt((one_of(".,"), opt(digit1))))),
            recognize((one_of(".,"), digit1)),
        )),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(i)?;
    match text.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((rest, v)),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Float,
        ))),
    }
}

/// Why a threshold range was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("empty range")]
    Empty,
    #[error("invalid number {0:?} in range")]
    Number(String),
    #[error("range start is greater than its end")]
    StartAfterEnd,
}

/// A threshold range `[@]start:end` (protocols.md §5.4), inclusive endpoints.
/// `start` is `-inf` for `~`, `end` is `+inf` when omitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub start: f64,
    pub end: f64,
    /// `@`: alert inside the range instead of outside.
    pub inside: bool,
}

impl Range {
    /// Parses `10`, `10:`, `~:10`, `10:20`, `@10:20`, `:10` (start 0), `~:`.
    pub fn parse(spec: &str) -> Result<Range, RangeError> {
        let s = spec.trim();
        let (inside, s) = match s.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if s.is_empty() {
            return Err(RangeError::Empty);
        }
        let (start, end) = match s.split_once(':') {
            Some((start, end)) => {
                let start = match start {
                    "~" => f64::NEG_INFINITY,
                    "" => 0.0,
                    other => full_number(other)?,
                };
                let end = if end.is_empty() {
                    f64::INFINITY
                } else {
                    full_number(end)?
                };
                (start, end)
            }
            None => (0.0, full_number(s)?),
        };
        if start > end {
            return Err(RangeError::StartAfterEnd);
        }
        Ok(Range { start, end, inside })
    }

    /// Whether `x` raises an alert for this range.
    pub fn alerts(&self, x: f64) -> bool {
        let within = self.start <= x && x <= self.end;
        if self.inside {
            within
        } else {
            !within && !x.is_nan()
        }
    }

    /// The same range with both ends multiplied by `factor` (> 0), for unit
    /// normalisation.
    pub fn scaled(&self, factor: f64) -> Range {
        Range {
            start: self.start * factor,
            end: self.end * factor,
            inside: self.inside,
        }
    }
}

fn full_number(s: &str) -> Result<f64, RangeError> {
    match number(s) {
        Ok(("", v)) => Ok(v),
        _ => Err(RangeError::Number(s.to_string())),
    }
}

/// Canonical form: `[@]start:end`, `~` for −∞, end omitted for +∞.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        if self.start == f64::NEG_INFINITY {
            f.write_str("~")?;
        } else {
            write!(f, "{}", self.start)?;
        }
        f.write_str(":")?;
        if self.end != f64::INFINITY {
            write!(f, "{}", self.end)?;
        }
        Ok(())
    }
}

/// The factor to base units and the unit name for a UOM (decisions.md D7):
/// `s/ms/us` → seconds, `B/KB/MB/GB/TB` (any case) → bytes ×1024ⁿ,
/// `%` → percent, `c` → counter, none → `""`. An unknown UOM keeps its
/// value and is returned as its own unit name.
pub fn uom_factor(uom: &str) -> (f64, &str) {
    const KI: f64 = 1024.0;
    match uom {
        "" => (1.0, ""),
        "s" => (1.0, "seconds"),
        "ms" => (1e-3, "seconds"),
        "us" | "µs" => (1e-6, "seconds"),
        "%" => (1.0, "percent"),
        "c" => (1.0, "counter"),
        _ => match uom.to_ascii_uppercase().as_str() {
            "B" => (1.0, "bytes"),
            "KB" => (KI, "bytes"),
            "MB" => (KI * KI, "bytes"),
            "GB" => (KI * KI * KI, "bytes"),
            "TB" => (KI * KI * KI * KI, "bytes"),
            "PB" => (KI * KI * KI * KI * KI, "bytes"),
            _ => (1.0, uom),
        },
    }
}

/// `value` in base units and the unit name, see [`uom_factor`].
pub fn normalize_uom(value: f64, uom: &str) -> (f64, &str) {
    let (factor, unit) = uom_factor(uom);
    (value * factor, unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> PerfDatum {
        let items = parse_perfdata(text);
        assert_eq!(items.len(), 1, "{text:?} → {items:?}");
        items.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    fn labels(text: &str) -> Vec<String> {
        parse_perfdata(text).into_iter().map(|p| p.label).collect()
    }

    // §6 item 26: labels.
    #[test]
    fn quoted_labels() {
        assert_eq!(one("'my label'=5").label, "my label");
        assert_eq!(one("'it''s'=3").label, "it's");
        assert_eq!(one("'a;b'=1;2").label, "a;b");
        assert_eq!(one("'a;b'=1;2").warn.as_deref(), Some("2"));
        assert_eq!(one("a;b=1").label, "a;b");
        // `|` inside a label is fine within the perfdata part...
        assert_eq!(parse("OK | 'a|b'=1").perfdata[0].label, "a|b");
        // ...but on line 1 before the separator it becomes the separator
        // and the label breaks (as in Nagios).
        let out = parse("OK 'a|b'=1");
        assert_eq!(out.output, "OK 'a");
        assert_eq!(labels_of(&out), ["b'"]);
    }

    #[test]
    fn equals_in_label_is_invalid() {
        assert_eq!(labels("'a=b'=5 c=1"), ["c"]);
        assert_eq!(labels("a=b=5 c=1"), ["c"]);
        assert_eq!(labels("''=5 =5 c=1"), ["c"]);
        assert_eq!(labels("'unterminated=5 c=1"), ["c"]);
    }

    // §6 item 27: values and fields.
    #[test]
    fn values() {
        assert_eq!(one("x=U").value, None);
        assert_eq!(one("x=1.5e3").value, Some(1500.0));
        assert_eq!(one("x=1.5E-3s").value, Some(0.0015));
        assert_eq!(one("x=1.5E-3s").uom, "s");
        assert_eq!(one("x=-0.5").value, Some(-0.5));
        assert_eq!(one("x=+2").value, Some(2.0));
        assert_eq!(one("x=.5").value, Some(0.5));
        assert_eq!(one("x=5.").value, Some(5.0));
        assert_eq!(one("x=1,5").value, Some(1.5));
        let p = one("x=10%;;;");
        assert_eq!(
            (p.value, p.uom.as_str(), &p.warn, &p.crit),
            (Some(10.0), "%", &None, &None)
        );
        assert_eq!((p.min, p.max), (None, None));
        let p = one("x=1;2;3;4;5;6");
        assert_eq!(p.warn.as_deref(), Some("2"));
        assert_eq!(p.crit.as_deref(), Some("3"));
        assert_eq!((p.min, p.max), (Some(4.0), Some(5.0)));
    }

    #[test]
    fn malformed_items_are_skipped() {
        assert_eq!(labels("x= y=1"), ["y"]);
        assert_eq!(labels("x y=1"), ["y"]);
        assert_eq!(labels("x=abc y=1"), ["y"]);
        assert_eq!(labels("x=1e999 y=1"), ["y"]);
        assert_eq!(labels("x=5s2 y=1"), ["y"]);
        assert_eq!(labels("x=- y=1"), ["y"]);
        assert_eq!(labels("x=1.2.3 y=1"), ["y"]);
        assert!(parse_perfdata("").is_empty());
        assert!(parse_perfdata("   ").is_empty());
    }

    #[test]
    fn spacing() {
        assert_eq!(labels("a=1    b=2\t c=3"), ["a", "b", "c"]);
        let out = parse("OK |  a=1");
        assert_eq!(out.perfdata.len(), 1);
        assert_eq!(out.output, "OK");
        let out = parse("OK|a=1");
        assert_eq!(out.perfdata[0].value, Some(1.0));
    }

    #[test]
    fn bad_min_max_and_thresholds_do_not_drop_the_item() {
        let p = one("x=1;abc;@1:2;zz;10");
        assert_eq!(p.warn.as_deref(), Some("abc"));
        assert_eq!(p.warn_range(), None);
        assert_eq!(
            p.crit_range(),
            Some(Range {
                start: 1.0,
                end: 2.0,
                inside: true
            })
        );
        assert_eq!((p.min, p.max), (None, Some(10.0)));
    }

    // §6 item 28: UOM.
    #[test]
    fn uom_case_unknown_and_mismatched() {
        assert_eq!(one("x=1kB").uom, "kB");
        assert_eq!(normalize_uom(1.0, "kB"), (1024.0, "bytes"));
        assert_eq!(normalize_uom(1.0, "KB"), (1024.0, "bytes"));
        assert_eq!(normalize_uom(2.0, "MB"), (2.0 * 1024.0 * 1024.0, "bytes"));
        assert_eq!(normalize_uom(1.0, "GB"), (1024f64.powi(3), "bytes"));
        assert_eq!(normalize_uom(1.0, "TB"), (1024f64.powi(4), "bytes"));
        assert_eq!(normalize_uom(3.0, "B"), (3.0, "bytes"));
        // `Ms` is not milliseconds: unknown, kept as its own unit.
        assert_eq!(normalize_uom(5.0, "Ms"), (5.0, "Ms"));
        assert_eq!(normalize_uom(250.0, "ms"), (0.25, "seconds"));
        assert_eq!(normalize_uom(2.0, "us"), (2e-6, "seconds"));
        assert_eq!(normalize_uom(2.0, "s"), (2.0, "seconds"));
        assert_eq!(normalize_uom(50.0, "%"), (50.0, "percent"));
        assert_eq!(normalize_uom(7.0, "c"), (7.0, "counter"));
        assert_eq!(normalize_uom(7.0, ""), (7.0, ""));
        assert_eq!(normalize_uom(7.0, "widgets"), (7.0, "widgets"));
        // Mismatched UOM on min/max: the value's UOM wins, the bound is kept.
        let p = one("x=5MB;;;0KB;10GB");
        assert_eq!(
            (p.uom.as_str(), p.min, p.max),
            ("MB", Some(0.0), Some(10.0))
        );
        assert_eq!(p.normalized(), Some((5.0 * 1024.0 * 1024.0, "bytes")));
    }

    fn r(s: &str) -> Range {
        Range::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    // §6 item 29: ranges.
    #[test]
    fn ranges() {
        let ten = r("10");
        assert_eq!((ten.start, ten.end, ten.inside), (0.0, 10.0, false));
        assert!(ten.alerts(-1.0) && ten.alerts(10.5));
        assert!(!ten.alerts(0.0) && !ten.alerts(10.0));

        let open = r("10:");
        assert!(open.alerts(9.9) && !open.alerts(10.0) && !open.alerts(1e300));

        let below = r("~:10");
        assert!(!below.alerts(-1e300) && below.alerts(10.01));

        let band = r("10:20");
        assert!(band.alerts(9.0) && band.alerts(21.0) && !band.alerts(15.0));

        let inv = r("@10:20");
        assert!(inv.alerts(10.0) && inv.alerts(20.0) && !inv.alerts(9.99) && !inv.alerts(20.1));

        let inv_neg = r("@~:0");
        assert!(inv_neg.alerts(0.0) && inv_neg.alerts(-5.0) && !inv_neg.alerts(0.1));

        assert_eq!(Range::parse("20:10"), Err(RangeError::StartAfterEnd));
        let from_zero = r(":10");
        assert_eq!((from_zero.start, from_zero.end), (0.0, 10.0));
        let all = r("~:");
        assert!(!all.alerts(-1e300) && !all.alerts(1e300));
        assert_eq!(Range::parse(""), Err(RangeError::Empty));
        assert_eq!(Range::parse("@"), Err(RangeError::Empty));
        let dec = r("0.5:1.5");
        assert!(dec.alerts(0.4) && !dec.alerts(1.0));
        let neg = r("-10:-5");
        assert!(neg.alerts(-11.0) && !neg.alerts(-7.0) && neg.alerts(0.0));
        assert_eq!(r("1,5").end, 1.5);
        assert!(matches!(Range::parse("abc"), Err(RangeError::Number(_))));
        assert!(matches!(Range::parse("1:2:3"), Err(RangeError::Number(_))));
        assert!(matches!(Range::parse("10%"), Err(RangeError::Number(_))));
        assert!(!r("10").alerts(f64::NAN));
    }

    #[test]
    fn range_display() {
        assert_eq!(r("10").to_string(), "0:10");
        assert_eq!(r("@~:0").to_string(), "@~:0");
        assert_eq!(r("10:").to_string(), "10:");
        assert_eq!(r("1.5:2").scaled(2.0), r("3:4"));
    }

    // §6 item 30: multi-line.
    #[test]
    fn perfdata_only_on_line_three() {
        let out = parse("OK all fine\nline two\nline three | a=1 b=2\nc=3\n");
        assert_eq!(out.output, "OK all fine");
        assert_eq!(out.long_output.as_deref(), Some("line two\nline three"));
        assert_eq!(labels_of(&out), ["a", "b", "c"]);
    }

    #[test]
    fn items_keep_their_text_and_place() {
        let out =
            parse("CRITICAL - down|rt=1.500s;1;2;0 'a b'=1e+03\nline two\nline three|extra=3\n");
        let texts: Vec<(&str, bool)> = out
            .perfdata
            .iter()
            .map(|p| (p.text.as_str(), p.in_long_output))
            .collect();
        assert_eq!(
            texts,
            [
                ("rt=1.500s;1;2;0", false),
                ("'a b'=1e+03", false),
                ("extra=3", true)
            ]
        );
        assert_eq!(out.perfdata[0].source_text(), "rt=1.500s;1;2;0");
        let mut canonical = out.perfdata[0].clone();
        canonical.text.clear();
        assert_eq!(canonical.source_text(), "'rt'=1.5s;1;2;0");
    }

    fn labels_of(out: &PluginOutput) -> Vec<&str> {
        out.perfdata.iter().map(|p| p.label.as_str()).collect()
    }

    #[test]
    fn only_first_pipe_in_long_part_counts() {
        let out = parse("OK | a=1\nlong1\nlong2 | b=2 | c=3\nd=4 | e=5");
        assert_eq!(out.output, "OK");
        assert_eq!(out.long_output.as_deref(), Some("long1\nlong2"));
        // `| c=3` and `| e=5`: the later pipes are not special; `|` alone is
        // a malformed item and is skipped.
        assert_eq!(labels_of(&out), ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn long_output_edges() {
        assert_eq!(parse("OK").long_output, None);
        assert_eq!(parse("OK\n").long_output, None);
        assert_eq!(parse("OK\n\n").long_output, None);
        assert_eq!(parse("").output, "");
        assert_eq!(
            parse("OK\r\nsecond\r\n").long_output.as_deref(),
            Some("second")
        );
        assert_eq!(parse("OK\n| a=1").long_output, None);
        assert_eq!(parse("OK\n\nthird").long_output.as_deref(), Some("\nthird"));
        let out = parse("  WARN: x  | a=1;2;3\n");
        assert_eq!(out.output, "WARN: x");
        assert_eq!(out.perfdata[0].crit.as_deref(), Some("3"));
    }

    #[test]
    fn output_cut_in_the_middle_of_perfdata() {
        let mut text = String::from("OK | ");
        let mut i = 0;
        while text.len() < 9000 {
            text.push_str(&format!("'label number {i}'=1234.5ms;100;200;0;5000 "));
            i += 1;
        }
        let cut = &text[..8192];
        let out = parse(cut);
        assert!(!out.perfdata.is_empty());
        assert!(out.perfdata.len() < i);
        for (n, p) in out.perfdata.iter().enumerate() {
            assert_eq!(p.label, format!("label number {n}"));
        }
    }

    #[test]
    fn display_is_canonical() {
        let p = one("'it''s'=1.5ms;;3");
        assert_eq!(p.to_string(), "'it''s'=1.5ms;;3");
        assert_eq!(one("x=U").to_string(), "'x'=U");
    }

    fn arb_label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _;|'.:/-]{1,20}"
    }

    fn arb_num() -> impl Strategy<Value = f64> {
        prop_oneof![-1e12f64..1e12f64, (-1000i64..1000).prop_map(|v| v as f64)]
    }

    fn arb_datum() -> impl Strategy<Value = PerfDatum> {
        (
            arb_label(),
            proptest::option::of(arb_num()),
            prop_oneof![
                Just(""),
                Just("s"),
                Just("ms"),
                Just("%"),
                Just("KB"),
                Just("c")
            ],
            proptest::option::of(arb_num()),
            proptest::option::of(arb_num()),
            proptest::option::of(arb_num()),
            proptest::option::of(arb_num()),
        )
            .prop_map(|(label, value, uom, warn, crit, min, max)| {
                let mut datum = PerfDatum {
                    label,
                    uom: if value.is_some() {
                        uom.to_string()
                    } else {
                        String::new()
                    },
                    value,
                    warn: warn.map(|v| v.to_string()),
                    crit: crit.map(|v| format!("@~:{v}")),
                    min,
                    max,
                    text: String::new(),
                    in_long_output: false,
                };
                datum.text = datum.to_string();
                datum
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn perfdata_like_text_never_panics(text in "[ a-z'=;:@~0-9.,eEU%|\n-]{0,80}") {
            let out = parse(&text);
            for p in &out.perfdata {
                let _ = p.warn_range();
                let _ = p.normalized();
            }
        }

        #[test]
        fn range_parse_never_panics(text in "[@~:0-9.,eE -]{0,12}") {
            if let Ok(range) = Range::parse(&text) {
                prop_assert_eq!(Range::parse(&range.to_string()), Ok(range));
            }
        }

        #[test]
        fn perfdata_round_trips(items in proptest::collection::vec(arb_datum(), 0..5)) {
            let text = items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
            prop_assert_eq!(parse_perfdata(&text), items.clone());
            let out = parse(&format!("OK: fine | {text}"));
            prop_assert_eq!(out.output, "OK: fine");
            prop_assert_eq!(out.perfdata, items);
        }

        #[test]
        fn range_round_trips(start in proptest::option::of(-1e6f64..1e6), len in 0f64..1e6, end_inf in any::<bool>(), inside in any::<bool>()) {
            let range = Range {
                start: start.unwrap_or(f64::NEG_INFINITY),
                end: if end_inf { f64::INFINITY } else { start.unwrap_or(0.0) + len },
                inside,
            };
            prop_assert_eq!(Range::parse(&range.to_string()), Ok(range));
        }
    }
}
