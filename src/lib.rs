//! # smoker
//!
//! The daemon (`smokerd`), the client (`smokercli`) and the Nagios plugin
//! (`check_smoker`). See `ARCHITECTURE.md` for the picture; each module's `//!`
//! doc says what it owns.

pub mod check;
pub mod config;
pub mod executor;
pub mod privileges;
pub mod runner;
pub mod actions;
pub mod api;
pub mod daemon;
pub mod scheduler;
pub mod store;
