//! Configuration: the smokerd YAML model and its validated form, [`Plan`].
//!
//! Owns loading (`load`: YAML, `!include`, `!include_dir`, templates, `%(Name)s`
//! substitution, validation with `FILE:LINE:COL` errors) and nothing else: the
//! daemon receives a `Plan` and never looks at YAML. Loading is all-or-nothing.
//!
//! This file only declares and re-exports: the types live in leaf files (`plan`,
//! `settings`, `error`) so that no child imports from here.

pub mod error;
pub mod load;
pub mod nrpe;
mod plan;
pub mod report;
mod settings;
pub mod subst;
pub mod yaml;

pub use error::{ConfigError, ConfigErrors};
pub use load::{DEFAULT_CONFIG, Loaded, load_conf_d, load_default, load_file, load_str, summary};
pub use plan::{ActionKind, ActionSpec, ApiSettings, LogFormat, Plan, PlanWatch, SpoolSettings};
pub use settings::{
    Icinga2Settings, Identity, Method as NscaMethod, NrpeSettings, NrpeTls, NscaSettings,
};
pub use subst::{SubstError, substitute};
