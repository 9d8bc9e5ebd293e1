//! # smoker-compat
//!
//! Pure codecs and parsers of every foreign format smoker speaks. No I/O, no
//! runtime, no panics on any input: each parser is a function of bytes or text
//! to a typed value or a typed error, so each can be fuzzed.
//!
//! - [`output`]: Nagios plugin output (first line, long output, perfdata) and threshold ranges.
//! - [`nrpe_cfg`]: nrpe.cfg with includes (through a caller's loader) and allowed_hosts.
//! - [`nrpe_packet`]: NRPE v2/v3/v4 packets, query validation, macros, result mapping.

pub mod nrpe_cfg;
pub mod nrpe_packet;
pub mod output;
