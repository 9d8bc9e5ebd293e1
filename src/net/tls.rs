//! The reloadable TLS context of a listener (the API's HTTPS, NRPE's TLS) and the
//! server-side handshake.
//!
//! A context is built by the listener's own builder (the API: Mozilla
//! intermediate with `api.tls_cert`/`tls_key`; NRPE: nrpe.cfg's `ssl_*`). Keys are
//! often readable by root only, so the first context is built before the daemon
//! drops its privileges; a reload that cannot build the new one (the key cannot
//! be read any more) keeps the previous context and says so. TLS that is
//! configured but never could be loaded is [`ServerTls::Unusable`]: the listener
//! refuses every connection rather than serving without TLS.

use std::{fmt::Display, pin::Pin};

use openssl::ssl::{Ssl, SslContext};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;
use tracing::{error, warn};

/// A listener's TLS.
#[derive(Clone, Default)]
pub enum ServerTls {
    /// Plain TCP.
    #[default]
    Off,
    /// Connections are wrapped with this context.
    On(SslContext),
    /// Configured but never loadable: refuse every connection.
    Unusable,
}

impl ServerTls {
    /// From a builder's result: `Ok(None)` is no TLS.
    pub fn from_built(built: Option<SslContext>) -> ServerTls {
        built.map_or(ServerTls::Off, ServerTls::On)
    }

    /// The context, when connections are wrapped.
    pub fn context(&self) -> Option<&SslContext> {
        match self {
            ServerTls::On(ctx) => Some(ctx),
            ServerTls::Off | ServerTls::Unusable => None,
        }
    }

    /// Whether every connection is refused.
    pub fn is_unusable(&self) -> bool {
        matches!(self, ServerTls::Unusable)
    }

    /// The TLS after a reload built `built`: the new context, or (when it could
    /// not be built) the previous one, logged as a warning naming `label`. With no
    /// previous context the build error comes back.
    pub fn reload<E: Display>(
        &self,
        label: &str,
        built: Result<Option<SslContext>, E>,
    ) -> Result<ServerTls, E> {
        match (built, self) {
            (Ok(built), _) => Ok(ServerTls::from_built(built)),
            (Err(e), ServerTls::On(previous)) => {
                warn!(error = %e, "{label}: keeping the previous TLS certificate and key.");
                Ok(ServerTls::On(previous.clone()))
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Like [`reload`](Self::reload), but TLS that cannot be built and has no
    /// previous context becomes [`ServerTls::Unusable`] (logged as an error).
    pub fn reload_or_refuse<E: Display>(
        &self,
        label: &str,
        built: Result<Option<SslContext>, E>,
    ) -> ServerTls {
        self.reload(label, built).unwrap_or_else(|e| {
            error!(error = %e, "{label} TLS is configured but unusable; refusing connections.");
            ServerTls::Unusable
        })
    }
}

/// Why a server-side handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The session could not be set up (before a byte was exchanged).
    #[error("{0}")]
    Setup(#[from] openssl::error::ErrorStack),
    /// The peer's handshake failed.
    #[error("{0}")]
    Handshake(#[from] openssl::ssl::Error),
}

/// Server-side handshake on an accepted connection (the caller bounds its time).
pub async fn accept(
    ctx: &SslContext,
    tcp: TcpStream,
) -> Result<SslStream<TcpStream>, HandshakeError> {
    let ssl = Ssl::new(ctx)?;
    let mut stream = SslStream::new(ssl, tcp)?;
    Pin::new(&mut stream).accept().await?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use openssl::ssl::{SslContextRef, SslMethod};

    use super::*;

    fn context() -> SslContext {
        SslContext::builder(SslMethod::tls_server())
            .unwrap()
            .build()
    }

    fn same(a: &ServerTls, b: &SslContext) -> bool {
        a.context()
            .is_some_and(|a| std::ptr::eq::<SslContextRef>(&**a, &**b))
    }

    #[test]
    fn a_failed_reload_keeps_the_previous_context() {
        let first = context();
        let running = ServerTls::from_built(Some(first.clone()));
        let kept = running.reload("test", Err::<Option<SslContext>, _>("unreadable key"));
        assert!(same(&kept.unwrap(), &first));
        // A good build replaces it; one that turns TLS off turns it off.
        let second = context();
        assert!(same(
            &running
                .reload::<String>("test", Ok(Some(second.clone())))
                .unwrap(),
            &second
        ));
        let off = running.reload::<String>("test", Ok(None)).unwrap();
        assert!(matches!(off, ServerTls::Off));
    }

    #[test]
    fn tls_never_loaded_is_an_error_or_refuses() {
        let failed = || Err::<Option<SslContext>, _>("no such file");
        assert_eq!(
            ServerTls::Off.reload("test", failed()).err(),
            Some("no such file")
        );
        assert!(
            ServerTls::Off
                .reload_or_refuse("test", failed())
                .is_unusable()
        );
        assert!(
            ServerTls::Unusable
                .reload_or_refuse("test", failed())
                .is_unusable()
        );
        // Once it loads, it is served.
        let ctx = context();
        let fixed = ServerTls::Unusable.reload_or_refuse::<String>("test", Ok(Some(ctx.clone())));
        assert!(same(&fixed, &ctx));
        assert!(!fixed.is_unusable());
    }
}
