//! # smoker
//!
//! The daemon (`smokerd`), the client (`smokercli`) and the Nagios plugin
//! (`check_smoker`). See `ARCHITECTURE.md` for the picture; each module's `//!`
//! doc says what it owns.

pub mod actions;
pub mod api;
pub mod body;
pub mod builtin;
pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod delivery;
pub mod events;
pub mod executor;
pub mod icinga;
pub mod jobs;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod nrpe;
pub mod nsca;
pub mod privileges;
pub mod python;
pub mod render;
pub mod runner;
pub mod runs;
pub mod scheduler;
pub mod store;
pub mod sys;
pub mod systemd;
