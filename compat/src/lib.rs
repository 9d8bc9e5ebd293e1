//! # smoker-compat
//!
//! Pure codecs and parsers of every foreign format smoker speaks. No I/O, no
//! runtime, no panics on any input: each parser is a function of bytes or text
//! to a typed value or a typed error, so each can be fuzzed.
//!
//! - [`output`]: Nagios plugin output (first line, long output, perfdata) and threshold ranges.

pub mod output;
