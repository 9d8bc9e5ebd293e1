//! The one accept loop of every listener (the API, `metrics.listen`, each NRPE
//! address): connection permits, accept-error backoff and a graceful drain.
//!
//! Each accepted connection takes a permit of the caller's [`Semaphore`]; when
//! none is left it is closed at once (logged at debug). A failing `accept`
//! (out of file descriptors, ...) is retried after 10 ms, doubling up to 1 s.
//! When the stop token is cancelled the listener closes, the connections get
//! the drain signal (a child token of stop) and the loop returns once they have
//! all finished; the caller bounds how long it waits.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Connections served at once per listener (issue 10); more are closed at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// First pause after a failed `accept`.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause after failed `accept`s in a row.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What a connection's task runs.
pub type Connection = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves one accepted connection: the stream, its peer and the drain signal
/// (cancelled when the listener stops; long-lived protocols finish gracefully).
pub type Handler =
    Arc<dyn Fn(TcpStream, SocketAddr, CancellationToken) -> Connection + Send + Sync>;

/// A [`Handler`] from a closure returning any sendable future.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(TcpStream, SocketAddr, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |tcp, peer, drain| Box::pin(f(tcp, peer, drain)))
}

/// Accepts on `listener` until `stop` is cancelled, running `handler` for each
/// connection that gets a permit of `permits`; then drains (see the module doc).
/// `label` names the server in logs ("API", "NRPE", ...).
pub async fn serve(
    listener: TcpListener,
    label: &'static str,
    permits: Arc<Semaphore>,
    handler: Handler,
    stop: CancellationToken,
) {
    let drain = stop.child_token();
    let mut connections = JoinSet::new();
    let mut backoff = BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    backoff = BACKOFF_MIN;
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        debug!(peer = %peer.ip(), "{label} connection limit reached; closing.");
                        continue;
                    };
                    let connection = handler(tcp, peer, drain.clone());
                    connections.spawn(async move {
                        let _permit = permit;
                        connection.await;
                    });
                }
                Err(e) => {
                    warn!(error = %e, "{label} accept failed.");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drain.cancel();
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        sync::mpsc,
        time::timeout,
    };

    use super::*;

    async fn listener() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    }

    /// Reads until EOF; the bytes read (a closed-at-once connection gives none).
    async fn read_all(tcp: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = timeout(Duration::from_secs(5), tcp.read_to_end(&mut out))
            .await
            .expect("connection was not closed");
        out
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_at_once() {
        let (l, addr) = listener().await;
        let (release_tx, release) = tokio::sync::watch::channel(false);
        let h = handler(move |mut tcp: TcpStream, _, _| {
            let mut release = release.clone();
            async move {
                let _ = tcp.write_all(b"hi").await;
                let _ = release.wait_for(|r| *r).await;
            }
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            l,
            "test",
            Arc::new(Semaphore::new(2)),
            h,
            stop.clone(),
        ));
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let mut hi = [0u8; 2];
            tcp.read_exact(&mut hi).await.unwrap();
            held.push(tcp);
        }
        // The third one is over the limit: closed without a byte.
        let mut third = TcpStream::connect(addr).await.unwrap();
        assert!(read_all(&mut third).await.is_empty());
        // A finished connection gives its permit back.
        release_tx.send_replace(true);
        for mut tcp in held {
            assert!(read_all(&mut tcp).await.is_empty());
        }
        // (The permit is returned just after the stream closes: retry briefly.)
        let mut served = false;
        for _ in 0..50 {
            let mut again = TcpStream::connect(addr).await.unwrap();
            if read_all(&mut again).await == b"hi" {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(served, "no permit came back");
        stop.cancel();
        timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn stop_closes_the_listener_drains_and_waits_for_connections() {
        let (l, addr) = listener().await;
        let (done_tx, mut done) = mpsc::unbounded_channel();
        let h = handler(move |mut tcp: TcpStream, _, drain: CancellationToken| {
            let done_tx = done_tx.clone();
            async move {
                let _ = tcp.write_all(b"hi").await;
                drain.cancelled().await;
                // Finishing takes a while after the drain signal.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = tcp.write_all(b"bye").await;
                let _ = done_tx.send(());
            }
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            l,
            "test",
            Arc::new(Semaphore::new(8)),
            h,
            stop.clone(),
        ));
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut hi = [0u8; 2];
        tcp.read_exact(&mut hi).await.unwrap();
        stop.cancel();
        let started = std::time::Instant::now();
        timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(
            done.try_recv().is_ok(),
            "the loop returned before the connection finished"
        );
        assert_eq!(read_all(&mut tcp).await, b"bye");
        // The listener is closed.
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
