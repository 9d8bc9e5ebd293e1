//! Integration tests: the real binaries against real peers. One test binary;
//! one module per theme. Modules named `serial_*` run one at a time (nextest).

mod common;

mod api;
mod builtin;
mod builtin_net;
mod cli;
mod diagnostics;
mod hostile;
mod icinga;
mod jobs;
mod lifecycle;
mod logs;
mod metrics;
mod nagios;
mod net;
mod nrpe;
mod nsca;
mod packaging;
mod python;
mod python_load;
mod serial_cli;
mod serial_python;
mod serial_ui;
mod spawn;
mod store_faults;
mod tidy;
mod ui;
