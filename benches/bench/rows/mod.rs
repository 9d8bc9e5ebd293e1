//! One module per benchmark row; each returns its table rows or an error
//! (`util::NotBuilt` when the feature is not on this branch yet).

pub mod builtin;
pub mod fanout;
pub mod history;
pub mod icinga;
pub mod metrics;
pub mod nrpe;
pub mod nsca;
pub mod python;
pub mod rest;
pub mod scheduler;
pub mod soak;
pub mod throughput;
pub mod ui;
