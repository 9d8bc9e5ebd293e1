//! Integration tests: the real binaries against real peers. One test binary;
//! one module per theme. Modules named `serial_*` run one at a time (nextest).

mod common;

mod api;
mod builtin;
mod cli;
mod hostile;
mod jobs;
mod lifecycle;
mod metrics;
mod net;
mod nrpe;
mod nsca;
mod packaging;
mod serial_cli;
mod tidy;
