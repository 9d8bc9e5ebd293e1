//! # smoker-compat
//!
//! Pure codecs and parsers of every foreign format smoker speaks. No I/O, no
//! runtime, no panics on any input: each parser is a function of bytes or text
//! to a typed value or a typed error, so each can be fuzzed.
//!
//! - [`output`]: Nagios plugin output (first line, long output, perfdata) and threshold ranges.
//! - [`nsca`], [`nsca_cipher`], [`send_nsca_input`]: NSCA 2.x packets, ciphers, and send_nsca's stdin/config formats.

pub mod nsca;
pub mod nsca_cipher;
pub mod output;
pub mod send_nsca_input;
