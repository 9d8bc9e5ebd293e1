//! The daemon's network edge: which servers listen where (the API, `metrics.listen`,
//! NRPE). Start-up and reload take the same two steps: [`Edge::bind`] binds every
//! address that is new and loads the TLS keys (before privileges are dropped at
//! start; before the plan is swapped on reload, so a port that cannot be bound
//! refuses the reload), then [`Edge::serve`] starts the new servers and lets the
//! replaced ones finish their requests.

use std::{net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tracing::info;

use super::state::Daemon;
use crate::{api, config::Plan, nrpe};

/// Longest wait for a replaced listener to finish its requests.
const OLD_LISTENER_GRACE: Duration = Duration::from_secs(5);

/// Why the edge cannot be set up; the text names the config key.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("{config}: bind_host: bad bind_host {host}: {reason}")]
    Address {
        config: String,
        host: String,
        reason: String,
    },
    #[error("{config}: {key}: cannot listen on {addr}: {source}")]
    Bind {
        config: String,
        key: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(#[from] api::server::TlsError),
    #[error("nrpe: {0}")]
    Nrpe(#[from] nrpe::NrpeError),
}

/// One running server.
struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    fn start(
        addr: SocketAddr,
        serve: impl FnOnce(watch::Receiver<bool>) -> JoinHandle<()>,
    ) -> Server {
        let (stop, stop_rx) = watch::channel(false);
        Server {
            addr,
            stop,
            task: serve(stop_rx),
        }
    }

    /// Stops accepting; requests in flight get up to `grace` to finish.
    async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Listeners bound for a plan, not served yet.
pub struct Bound {
    api: Option<(TcpListener, api::server::Access)>,
    /// `Some(None)`: stop serving `metrics.listen`.
    metrics: Option<Option<TcpListener>>,
    nrpe: Option<nrpe::Bound>,
}

impl Bound {
    /// The new API address, when the API moves (or starts).
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(|(listener, _)| local_addr(listener))
    }
}

/// The servers running now.
#[derive(Default)]
pub struct Edge {
    api: Option<Server>,
    metrics: Option<Server>,
    nrpe: Option<Server>,
}

impl Edge {
    /// Binds what `plan` asks for and is not served yet (everything at start-up,
    /// when `old` is `None`), and loads the API and NRPE TLS keys for it.
    pub async fn bind(&self, old: Option<&Plan>, plan: &Plan) -> Result<Bound, EdgeError> {
        let addr = listen_addr(plan)?;
        let api_moved = old.is_none_or(|old| !same_listen(old, plan));
        let api = if self.api.as_ref().map(|s| s.addr) != Some(addr) && api_moved {
            let listener = bind(plan, "bind_port", addr).await?;
            let access = match old {
                // At start a broken key fails the start; on reload it refuses connections.
                None => api::server::Access::new(&plan.api, api::server::tls_acceptor(&plan.api)?),
                Some(_) => api::server::Access::build(&plan.api, None),
            };
            Some((listener, access))
        } else {
            None
        };
        let metrics_addr = self.metrics.as_ref().map(|s| s.addr);
        let metrics = match plan.metrics_listen {
            Some(addr) if Some(addr) != metrics_addr => {
                Some(Some(bind(plan, "metrics.listen", addr).await?))
            }
            Some(_) => None,
            None if metrics_addr.is_some() => Some(None),
            None => None,
        };
        // NRPE listeners are bound once, at start (a changed `listen` needs a restart).
        let nrpe = match old {
            None => nrpe::bind_bridge(plan)?,
            Some(_) => None,
        };
        Ok(Bound { api, metrics, nrpe })
    }

    /// Serves what `bound` holds; servers it replaces stop in the background.
    pub fn serve(&mut self, bound: Bound, daemon: &Daemon) {
        if let Some((listener, access)) = bound.api {
            let addr = local_addr(&listener);
            let ctx = daemon.api_context();
            let server = Server::start(addr, |stop| {
                tokio::spawn(api::serve(listener, ctx, access, stop))
            });
            replace(&mut self.api, Some(server));
        }
        if let Some(listener) = bound.metrics {
            let server = listener.map(|listener| {
                let metrics = daemon.metrics.clone();
                Server::start(local_addr(&listener), |stop| {
                    tokio::spawn(crate::metrics::serve(listener, metrics, stop))
                })
            });
            if server.is_none() {
                info!("Metrics listener closed.");
            }
            replace(&mut self.metrics, server);
        }
        if let Some(bound) = bound.nrpe {
            let ctx = daemon.nrpe_context();
            let addr = SocketAddr::from(([0, 0, 0, 0], 0));
            let server = Server::start(addr, |stop| nrpe::start(ctx, bound, stop));
            replace(&mut self.nrpe, Some(server));
        }
    }

    /// Stops every server; requests in flight get up to `grace` (end of shutdown).
    pub async fn stop(&mut self, grace: Duration) {
        let servers = [self.nrpe.take(), self.api.take(), self.metrics.take()];
        for server in servers.into_iter().flatten() {
            server.stop(grace).await;
        }
    }
}

/// Swaps the server in `slot`; the old one stops in the background.
fn replace(slot: &mut Option<Server>, server: Option<Server>) {
    if let Some(old) = std::mem::replace(slot, server) {
        tokio::spawn(old.stop(OLD_LISTENER_GRACE));
    }
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

async fn bind(plan: &Plan, key: &'static str, addr: SocketAddr) -> Result<TcpListener, EdgeError> {
    crate::net::bind(addr, crate::net::DEFAULT_BACKLOG, None).map_err(|source| EdgeError::Bind {
        config: config_name(plan),
        key,
        addr,
        source,
    })
}

/// `bind_host:bind_port`, resolved.
fn listen_addr(plan: &Plan) -> Result<SocketAddr, EdgeError> {
    use std::net::ToSocketAddrs;
    let bad = |reason: String| EdgeError::Address {
        config: config_name(plan),
        host: plan.bind_host.clone(),
        reason,
    };
    (plan.bind_host.as_str(), plan.bind_port)
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to nothing".into()))
}

/// The config file's name for error lines.
fn config_name(plan: &Plan) -> String {
    plan.path
        .as_ref()
        .map_or_else(|| "<default>".to_string(), |p| p.display().to_string())
}

/// Whether two plans ask for the same listen address as written.
fn same_listen(old: &Plan, new: &Plan) -> bool {
    old.bind_host == new.bind_host && old.bind_port == new.bind_port
}
