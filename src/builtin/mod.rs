//! Built-in host checks (`Builtin:`): the usual monitoring plugins, run inside
//! smokerd with the plugin's own name and flags, giving the plugin's state (the
//! monitoring-plugins threshold rules), status line and perfdata.
//!
//! A [`Builtin`] is parsed at config load (an unknown flag or a bad range is a
//! config error); [`run`] produces the plugin's exit code and text. Calls that can
//! block in the kernel (statvfs, connect, TLS) run on a blocking thread, at most
//! [`MAX_STUCK`] of them at a time past their timeout ([`stuck`], shown in `/healthz`).

mod args;
mod bounded;
mod catalogue;
mod common;
mod disk;
mod file_age;
mod http;
mod kind;
mod load;
mod memory;
mod procs;
mod swap;
mod tcp;
mod tls;
mod users;

pub use bounded::{Ended, MAX_STUCK, run, stuck};
pub use catalogue::{Entry, catalogue};
pub use common::{BuiltinError, NAMES, Output};
pub use kind::Builtin;
