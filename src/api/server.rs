//! The API listener (issue 10) on the shared network edge ([`crate::net`]): the
//! accept loop, `allowed_hosts`, TLS and HTTP limits are `net`'s; this file says
//! what the API puts in them.
//!
//! Owns the API's [`Access`]: the `api.allowed_hosts` list (refused hosts are
//! closed before a byte of HTTP or TLS, with an info line) and the HTTPS context
//! of `api.tls_cert`/`api.tls_key` (OpenSSL, Mozilla intermediate, handshake
//! deadline). Both are rebuilt whenever the settings change (SIGHUP,
//! `POST /v2/reload`); a broken new certificate keeps the old one.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::Router;
use openssl::ssl::{SslAcceptor, SslContext, SslFiletype, SslMethod};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    time::timeout,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    config::{ApiSettings, Plan, PlanWatch},
    net::{self, AllowedHosts, HandshakeError, MAX_CONNECTIONS, ServerTls},
};

/// Deadline for the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS setup failure.
#[derive(Debug, thiserror::Error)]
#[error("api TLS ({what}): {source}")]
pub struct TlsError {
    what: String,
    #[source]
    source: openssl::error::ErrorStack,
}

/// The HTTPS context for `api.tls_cert`/`api.tls_key`; `None` when TLS is off.
pub fn tls_acceptor(api: &ApiSettings) -> Result<Option<SslContext>, TlsError> {
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
    Ok(Some(b.build().into_context()))
}

/// What a new connection is checked and wrapped with. Built before the daemon
/// drops privileges (the key may be readable by root only), then on each reload.
pub struct Access {
    tls: ServerTls,
    hosts: AllowedHosts,
}

impl Access {
    /// `api`'s host list with a TLS context loaded already (start-up).
    pub fn new(api: &ApiSettings, tls: Option<SslContext>) -> Access {
        Access {
            tls: ServerTls::from_built(tls),
            hosts: AllowedHosts::parse(&api.allowed_hosts),
        }
    }

    /// From the running settings; `previous` keeps a working certificate when the
    /// new one fails. TLS that fails with nothing to keep refuses every connection.
    pub fn build(api: &ApiSettings, previous: Option<&Access>) -> Access {
        let previous = previous.map_or(ServerTls::Off, |p| p.tls.clone());
        Access {
            tls: previous.reload_or_refuse("API", tls_acceptor(api)),
            hosts: AllowedHosts::parse(&api.allowed_hosts),
        }
    }
}

/// Serves `app` on `listener` with `access` until `stop` is cancelled, following
/// the plan's `api:` settings.
pub async fn serve(
    listener: TcpListener,
    plan: PlanWatch,
    access: watch::Sender<Arc<Access>>,
    app: Router,
    stop: CancellationToken,
) {
    let settings = |plan: &Arc<Plan>| plan.api.clone();
    serve_following(listener, access, plan, settings, app, stop).await;
}

/// Serves `app` on `listener` with `current`'s access until `stop` is cancelled;
/// each change of `updates` rebuilds the access from `settings(&new value)` for
/// the connections accepted from then on, and publishes it in `current` (the
/// edge reads it to give a moved listener the running TLS). In-flight requests
/// are then finished gracefully (the caller bounds how long).
pub async fn serve_following<T: Send + Sync + 'static>(
    listener: TcpListener,
    current: watch::Sender<Arc<Access>>,
    mut updates: watch::Receiver<T>,
    settings: impl Fn(&T) -> ApiSettings + Send,
    app: Router,
    stop: CancellationToken,
) {
    if current.borrow().tls.context().is_some() {
        info!("API serves HTTPS only.");
    }
    let accesses = current.subscribe();
    let handler = net::handler(move |tcp, peer, drain| {
        let access = accesses.borrow().clone();
        connection(tcp, peer.ip(), access, app.clone(), drain)
    });
    let follow = async {
        while updates.changed().await.is_ok() {
            let api = settings(&updates.borrow_and_update());
            let previous = current.borrow().clone();
            current.send_replace(Arc::new(Access::build(&api, Some(&previous))));
        }
        std::future::pending::<()>().await;
    };
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::select! {
        _ = net::accept::serve(listener, "API", permits, handler, stop) => {}
        _ = follow => {}
    }
}

async fn connection(
    tcp: TcpStream,
    ip: IpAddr,
    access: Arc<Access>,
    app: Router,
    drain: CancellationToken,
) {
    if access.tls.is_unusable() {
        return;
    }
    if !access.hosts.allows(ip).await {
        info!(peer = %ip, "API: host is not allowed; connection closed.");
        return;
    }
    let _ = tcp.set_nodelay(true);
    let Some(ctx) = access.tls.context() else {
        return net::http::serve(tcp, app, drain).await;
    };
    match timeout(TLS_HANDSHAKE_TIMEOUT, net::tls::accept(ctx, tcp)).await {
        Ok(Ok(stream)) => net::http::serve(stream, app, drain).await,
        Ok(Err(HandshakeError::Setup(e))) => warn!(error = %e, "API TLS setup failed."),
        Ok(Err(e)) => debug!(peer = %ip, error = %e, "API TLS handshake failed."),
        Err(_) => debug!(peer = %ip, "API TLS handshake timed out."),
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
        let allowed = |ip: &str| rt.block_on(access.hosts.allows(ip.parse().unwrap()));
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
        assert!(Access::build(&api, None).tls.is_unusable());
        assert!(tls_acceptor(&ApiSettings::default()).unwrap().is_none());
    }
}
