//! The API listener (issue 10): our own accept loop around hyper so every
//! connection is bounded before and during HTTP.
//!
//! Owns, per connection: the `allowed_hosts` check (refused hosts are closed before
//! a byte of HTTP or TLS), the connection cap ([`MAX_CONNECTIONS`], extra ones are
//! closed at once), the TLS handshake (OpenSSL, one TLS stack; handshake deadline),
//! hyper's header-read timeout (also the idle keep-alive timeout) and header size
//! limit. The certificate, key and ACL are re-read whenever the plan changes
//! (SIGHUP, `POST /v2/reload`); a broken new certificate keeps the old one.

use std::{net::IpAddr, pin::Pin, sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod};
use smoker_compat::nrpe_cfg::{AllowedHost, parse_allowed_host};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinSet,
    time::timeout,
};
use tokio_openssl::SslStream;
use tracing::{debug, error, info, warn};

use crate::config::{ApiSettings, PlanWatch};

/// Connections served at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 1024;
/// Deadline for a request's header (and for the next request on an idle connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line + headers); larger → 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 64;

/// TLS setup failure.
#[derive(Debug, thiserror::Error)]
#[error("api TLS ({what}): {source}")]
pub struct TlsError {
    what: String,
    #[source]
    source: openssl::error::ErrorStack,
}

/// The HTTPS acceptor for `api.tls_cert`/`api.tls_key`; `None` when TLS is off.
pub fn tls_acceptor(api: &ApiSettings) -> Result<Option<Arc<SslAcceptor>>, TlsError> {
    let (Some(cert), Some(key)) = (&api.tls_cert, &api.tls_key) else {
        return Ok(None);
    };
    let err = |what: String| move |source| TlsError { what, source };
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(err("context".into()))?;
    b.set_certificate_chain_file(cert)
        .map_err(err(format!("tls_cert {}", cert.display())))?;
    b.set_private_key_file(key, SslFiletype::PEM)
        .map_err(err(format!("tls_key {}", key.display())))?;
    b.check_private_key()
        .map_err(err("tls_key does not match tls_cert".into()))?;
    Ok(Some(Arc::new(b.build())))
}

/// What a new connection is checked and wrapped with. Built before the daemon
/// drops privileges (the key may be readable by root only), then on each reload.
pub struct Access {
    tls: Option<Arc<SslAcceptor>>,
    /// `None` = everyone.
    hosts: Option<Vec<AllowedHost>>,
    /// TLS is configured but its files could not be loaded at start: refuse all.
    broken: bool,
}

impl Access {
    /// `api`'s host list with a TLS acceptor loaded already (start-up).
    pub fn new(api: &ApiSettings, tls: Option<Arc<SslAcceptor>>) -> Access {
        Access {
            tls,
            hosts: allowed_hosts(api),
            broken: false,
        }
    }

    /// From the running plan; `previous` keeps a working certificate when the new one fails.
    pub fn build(api: &ApiSettings, previous: Option<&Access>) -> Access {
        match tls_acceptor(api) {
            Ok(tls) => Access::new(api, tls),
            Err(e) => {
                let kept = previous.and_then(|p| p.tls.clone());
                if kept.is_some() {
                    warn!(error = %e, "Keeping the previous API certificate.");
                } else {
                    error!(error = %e, "API TLS is configured but unusable; refusing connections.");
                }
                Access {
                    broken: kept.is_none(),
                    tls: kept,
                    hosts: allowed_hosts(api),
                }
            }
        }
    }

    async fn allowed(&self, ip: IpAddr) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if hosts.iter().any(|h| h.matches(ip)) {
            return true;
        }
        for host in hosts {
            if let AllowedHost::Name(name) = host {
                if let Ok(addrs) = tokio::net::lookup_host((name.as_str(), 0)).await {
                    if addrs.map(|a| a.ip()).any(|a| a == ip) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// `None` = everyone.
fn allowed_hosts(api: &ApiSettings) -> Option<Vec<AllowedHost>> {
    (!api.allowed_hosts.is_empty()).then(|| {
        api.allowed_hosts
            .iter()
            .filter_map(|h| parse_allowed_host(h.trim()).ok())
            .collect()
    })
}

/// Serves `app` on `listener` with `access` until `stop` turns true; in-flight
/// requests are finished gracefully after that (the caller bounds how long).
pub async fn serve(
    listener: TcpListener,
    plan: PlanWatch,
    access: Access,
    app: Router,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, Some(plan), access, app, stop).await;
}

/// Serves `app` with the same connection limits and timeouts, without TLS, tokens
/// or ACL (the separate `metrics.listen` port).
pub async fn serve_plain(listener: TcpListener, app: Router, stop: watch::Receiver<bool>) {
    let access = Access::new(&ApiSettings::default(), None);
    accept_loop(listener, None, access, app, stop).await;
}

async fn accept_loop(
    listener: TcpListener,
    plan: Option<PlanWatch>,
    access: Access,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut updates = plan;
    let mut access = Arc::new(access);
    if access.tls.is_some() {
        info!("API serves HTTPS only.");
    }
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        tokio::select! {
            _ = async { drop(stop.wait_for(|s| *s).await) } => break,
            Some(api) = next_api(&mut updates) => {
                access = Arc::new(Access::build(&api, Some(&access)));
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    backoff = Duration::from_millis(10);
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        debug!(peer = %peer, "API connection limit reached; closing.");
                        continue;
                    };
                    let (access, app, draining) = (access.clone(), app.clone(), draining.clone());
                    connections.spawn(async move {
                        let _permit = permit;
                        connection(tcp, peer.ip(), &access, app, draining).await;
                    });
                }
                Err(e) => {
                    warn!(error = %e, "API accept failed.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drain.send_replace(true);
    while connections.join_next().await.is_some() {}
}

/// The `api:` settings of the next plan; never resolves without a plan to follow.
async fn next_api(updates: &mut Option<PlanWatch>) -> Option<ApiSettings> {
    match updates {
        Some(plan) => {
            plan.changed().await.ok()?;
            Some(plan.borrow_and_update().api.clone())
        }
        None => std::future::pending().await,
    }
}

async fn connection(
    tcp: TcpStream,
    ip: IpAddr,
    access: &Access,
    app: Router,
    draining: watch::Receiver<bool>,
) {
    if access.broken {
        return;
    }
    if !access.allowed(ip).await {
        info!(peer = %ip, "API: host is not allowed; connection closed.");
        return;
    }
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = &access.tls else {
        return http(tcp, app, draining).await;
    };
    let stream = Ssl::new(acceptor.context()).and_then(|ssl| SslStream::new(ssl, tcp));
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "API TLS setup failed.");
            return;
        }
    };
    match timeout(TLS_HANDSHAKE_TIMEOUT, Pin::new(&mut stream).accept()).await {
        Ok(Ok(())) => http(stream, app, draining).await,
        Ok(Err(e)) => debug!(peer = %ip, error = %e, "API TLS handshake failed."),
        Err(_) => debug!(peer = %ip, "API TLS handshake timed out."),
    }
}

async fn http<I>(io: I, app: Router, mut draining: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .half_close(true);
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                debug!(error = %e, "API connection ended with an error.");
            }
        }
        _ = async { drop(draining.wait_for(|d| *d).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_matches_ips_networks_and_mapped_v4() {
        let api = ApiSettings {
            allowed_hosts: vec!["127.0.0.1".into(), "10.0.0.0/8".into()],
            ..ApiSettings::default()
        };
        let access = Access::build(&api, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let allowed = |ip: &str| rt.block_on(access.allowed(ip.parse().unwrap()));
        assert!(allowed("127.0.0.1"));
        assert!(allowed("10.20.30.40"));
        assert!(allowed("::ffff:10.1.2.3"));
        assert!(!allowed("127.0.0.2"));
        assert!(!allowed("192.168.1.1"));
        assert!(!allowed("::1"));
    }

    #[test]
    fn missing_certificate_is_an_error_and_refuses() {
        let api = ApiSettings {
            tls_cert: Some("/nonexistent/cert.pem".into()),
            tls_key: Some("/nonexistent/key.pem".into()),
            ..ApiSettings::default()
        };
        assert!(tls_acceptor(&api).is_err());
        assert!(Access::build(&api, None).broken);
        assert!(tls_acceptor(&ApiSettings::default()).unwrap().is_none());
    }
}
