//! The daemon's network edge: which servers listen where (the API, `metrics.listen`,
//! NRPE). Start-up and reload take the same two steps: [`Edge::bind`] binds every
//! address that is new and loads the TLS keys (before privileges are dropped at
//! start; before the plan is swapped on reload, so a port that cannot be bound
//! refuses the reload), then [`Edge::serve`] starts the new servers and lets the
//! replaced ones finish their requests. Every server stops on its own token.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::state::Daemon;
use crate::{
    api,
    config::{Plan, nrpe::NrpeBridge},
    net, nrpe,
};

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
    #[error("{config}: nrpe: {source}")]
    Nrpe {
        config: String,
        #[source]
        source: nrpe::NrpeError,
    },
}

/// One running server task.
struct Server {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    fn spawn<F>(serve: impl FnOnce(CancellationToken) -> F) -> Server
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(stop.clone()));
        Server { stop, task }
    }

    /// Stops accepting; requests in flight get up to `grace` to finish.
    async fn stop(self, grace: Duration) {
        self.stop.cancel();
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// The NRPE server: its configuration follows the plan; its listener set is
/// swapped when `listen` changes.
struct Nrpe {
    server: nrpe::NrpeServer,
    listen: Vec<SocketAddr>,
    listeners: Server,
    follow: Server,
}

/// What a plan changes at the NRPE edge.
enum NrpeChange {
    Start(nrpe::Bound),
    Rebind(Arc<NrpeBridge>, Vec<TcpListener>),
    Stop,
}

/// Listeners bound for a plan, not served yet.
pub struct Bound {
    api: Option<(TcpListener, SocketAddr, api::server::Access)>,
    /// `Some(None)`: stop serving `metrics.listen`.
    metrics: Option<Option<(TcpListener, SocketAddr)>>,
    nrpe: Option<NrpeChange>,
}

impl Bound {
    /// The new API address, when the API moves (or starts).
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(|(_, addr, _)| *addr)
    }
}

/// The servers running now.
#[derive(Default)]
pub struct Edge {
    api: Option<(SocketAddr, Server)>,
    /// The running API server's access: a moved API listener starts from its TLS.
    api_access: Option<watch::Receiver<Arc<api::server::Access>>>,
    metrics: Option<(SocketAddr, Server)>,
    nrpe: Option<Nrpe>,
}

impl Edge {
    /// Binds what `plan` asks for and is not served yet (everything at start-up,
    /// when `old` is `None`), and loads the API and NRPE TLS keys for it.
    pub async fn bind(&self, old: Option<&Plan>, plan: &Plan) -> Result<Bound, EdgeError> {
        Ok(Bound {
            api: self.bind_api(old, plan)?,
            metrics: self.bind_metrics(plan)?,
            nrpe: self.bind_nrpe(plan)?,
        })
    }

    fn bind_api(
        &self,
        old: Option<&Plan>,
        plan: &Plan,
    ) -> Result<Option<(TcpListener, SocketAddr, api::server::Access)>, EdgeError> {
        let addr = listen_addr(plan)?;
        let moved = old.is_none_or(|old| !same_listen(old, plan));
        if self.api.as_ref().map(|(a, _)| *a) == Some(addr) || !moved {
            return Ok(None);
        }
        let (listener, addr) = bind(plan, "bind_port", addr)?;
        let access = match (old, &self.api_access) {
            // At start a broken key fails the start; on reload the running key is
            // kept (privileges may be dropped), and with none it refuses connections.
            (None, _) => api::server::Access::new(&plan.api, api::server::tls_acceptor(&plan.api)?),
            (Some(_), running) => {
                let running = running.as_ref().map(|r| r.borrow().clone());
                api::server::Access::build(&plan.api, running.as_deref())
            }
        };
        Ok(Some((listener, addr, access)))
    }

    fn bind_metrics(
        &self,
        plan: &Plan,
    ) -> Result<Option<Option<(TcpListener, SocketAddr)>>, EdgeError> {
        let running = self.metrics.as_ref().map(|(a, _)| *a);
        Ok(match plan.metrics_listen {
            Some(addr) if Some(addr) != running => Some(Some(bind(plan, "metrics.listen", addr)?)),
            Some(_) => None,
            None if running.is_some() => Some(None),
            None => None,
        })
    }

    fn bind_nrpe(&self, plan: &Plan) -> Result<Option<NrpeChange>, EdgeError> {
        let failed = |source| EdgeError::Nrpe {
            config: config_name(plan),
            source,
        };
        let wanted = plan.nrpe.as_ref().and_then(|n| n.bridge.clone());
        Ok(match (&self.nrpe, wanted) {
            (None, Some(_)) => nrpe::bind_bridge(plan)
                .map_err(failed)?
                .map(NrpeChange::Start),
            (Some(_), None) => Some(NrpeChange::Stop),
            (Some(running), Some(bridge)) if running.listen != bridge.listen => {
                let listeners = nrpe::bind(&bridge).map_err(failed)?;
                Some(NrpeChange::Rebind(bridge, listeners))
            }
            _ => None,
        })
    }

    /// Serves what `bound` holds; servers it replaces stop in the background.
    pub fn serve(&mut self, bound: Bound, daemon: &Daemon) {
        if let Some((listener, addr, access)) = bound.api {
            let ctx = daemon.api_context();
            let (access, running) = watch::channel(Arc::new(access));
            let server = Server::spawn(|stop| api::serve(listener, ctx, access, stop));
            replace(&mut self.api, Some((addr, server)));
            self.api_access = Some(running);
        }
        if let Some(metrics) = bound.metrics {
            let server = metrics.map(|(listener, addr)| {
                let metrics = daemon.metrics.clone();
                let server =
                    Server::spawn(|stop| crate::metrics::serve_until(listener, metrics, stop));
                (addr, server)
            });
            if server.is_none() {
                info!("Metrics listener closed.");
            }
            replace(&mut self.metrics, server);
        }
        if let Some(change) = bound.nrpe {
            self.serve_nrpe(change, daemon);
        }
    }

    fn serve_nrpe(&mut self, change: NrpeChange, daemon: &Daemon) {
        match change {
            NrpeChange::Start(bound) => {
                let ctx = daemon.nrpe_context();
                let listen = bound.bridge.listen.clone();
                let server =
                    nrpe::NrpeServer::new(bound.bridge, bound.tls, Arc::new(ctx.runs), ctx.metrics);
                let listeners = serve_set(&server, bound.listeners);
                let follow = {
                    let server = server.clone();
                    Server::spawn(move |stop| async move { server.follow(ctx.plan, stop).await })
                };
                let old = self.nrpe.replace(Nrpe {
                    server,
                    listen,
                    listeners,
                    follow,
                });
                stop_nrpe(old);
            }
            NrpeChange::Rebind(bridge, listeners) => {
                if let Some(running) = &mut self.nrpe {
                    info!(listen = ?bridge.listen, "NRPE listening on the new addresses.");
                    let set = serve_set(&running.server, listeners);
                    let old = std::mem::replace(&mut running.listeners, set);
                    running.listen = bridge.listen.clone();
                    tokio::spawn(old.stop(OLD_LISTENER_GRACE));
                }
            }
            NrpeChange::Stop => {
                info!("The nrpe: section was removed; NRPE server stopped.");
                stop_nrpe(self.nrpe.take());
            }
        }
    }

    /// Stops every server; requests in flight get up to `grace` (end of shutdown).
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(nrpe) = self.nrpe.take() {
            nrpe.follow.stop(grace).await;
            nrpe.listeners.stop(grace).await;
        }
        self.api_access = None;
        let servers = [self.api.take(), self.metrics.take()];
        for (_, server) in servers.into_iter().flatten() {
            server.stop(grace).await;
        }
    }
}

fn serve_set(server: &nrpe::NrpeServer, listeners: Vec<TcpListener>) -> Server {
    let server = server.clone();
    Server::spawn(move |stop| async move { server.serve(listeners, stop).await })
}

fn stop_nrpe(old: Option<Nrpe>) {
    if let Some(old) = old {
        old.follow.stop.cancel();
        tokio::spawn(old.listeners.stop(OLD_LISTENER_GRACE));
    }
}

/// Swaps the server in `slot`; the old one stops in the background.
fn replace(slot: &mut Option<(SocketAddr, Server)>, server: Option<(SocketAddr, Server)>) {
    if let Some((_, old)) = std::mem::replace(slot, server) {
        tokio::spawn(old.stop(OLD_LISTENER_GRACE));
    }
}

/// Binds `addr` (`key` names it in errors); returns the listener and its address.
fn bind(
    plan: &Plan,
    key: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), EdgeError> {
    let bound = net::bind(addr, net::DEFAULT_BACKLOG, None)
        .and_then(|listener| Ok((listener.local_addr()?, listener)));
    match bound {
        Ok((addr, listener)) => Ok((listener, addr)),
        Err(source) => Err(EdgeError::Bind {
            config: config_name(plan),
            key,
            addr,
            source,
        }),
    }
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
