//! # smoker-compat
//!
//! Pure codecs and parsers of every foreign format smoker speaks. No I/O, no
//! runtime, no panics on any input: each parser is a function of bytes or text
//! to a typed value or a typed error, so each can be fuzzed.
//!
//! - [`output`]: Nagios plugin output (first line, long output, perfdata) and threshold ranges.
//! - [`nrpe_cfg`]: nrpe.cfg with includes (through a caller's loader) and allowed_hosts.
//! - [`nrpe_packet`]: NRPE v2/v3/v4 packets, query validation, macros, result mapping.
//! - [`pyrepr`]: Python 3 `repr()`/`str()` spellings of JSON-shaped values, as the original prints them.
//! - [`nsca`], [`nsca_cipher`], [`send_nsca_input`]: NSCA 2.x packets, ciphers, and send_nsca's stdin/config formats.

pub mod harness;
pub mod nrpe_cfg;
pub mod nrpe_packet;
pub mod nsca;
pub mod nsca_cipher;
mod nsca_des;
pub mod output;
pub mod pyrepr;
pub mod send_nsca_input;
