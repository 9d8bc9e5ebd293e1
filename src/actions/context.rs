//! What an action kind may use: the shared executor, the durable store (the
//! delivery spools), the host name and the running plan (the `actions:` table).

use std::sync::Arc;

use crate::{config::PlanWatch, executor::Executor, store::durable::Durable};

/// The narrow handle every action kind gets.
#[derive(Debug, Clone)]
pub struct Context {
    pub executor: Arc<Executor>,
    pub durable: Durable,
    /// This host's name (NSCA `host_name` default).
    pub hostname: Arc<str>,
    pub plan: PlanWatch,
}
