//! NRPE packets v2/v3/v4 (protocols.md §1.1–1.3) and the pure parts of the
//! server's request pipeline (§1.4–1.6): query validation, `!` argument
//! splitting, `$ARGn$` macro expansion and result mapping.
//!
//! A server reads [`HEADER_LEN`] bytes, calls [`parse_header`], then reads
//! what [`Header::rest_len`] says (for v3/v4 after [`body_len`] on the 6 more
//! header bytes), and hands the whole packet to [`decode`]. Lengths are
//! checked before anything is allocated.

mod codec;
mod query;
#[cfg(test)]
mod tests;

pub use codec::*;
pub use query::*;
