//! NSCA sender I/O (protocols.md §3, decisions.md D5): connect, read the init
//! packet, encrypt and write a batch of data packets on one connection, then
//! `shutdown(Write)` and wait for the server's clean EOF. The codec and the
//! ciphers are in `smoker_compat::nsca`; `cli` is the send_nsca drop-in.
//!
//! Delivery contract: `Ok(n)` means the server read every byte and closed
//! cleanly; any error means the whole batch must be sent again (duplicates are
//! allowed, losses are not).

pub mod cli;
pub mod sink;

use std::{io, net::SocketAddr, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng};
use smoker_compat::{
    nsca::{INIT_PACKET_LEN, InitPacket, PacketFormat, Passive, encode_packet},
    nsca_cipher::{Encryptor, Method},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

/// Packets encrypted and written per `write_all` (bounds the buffer).
const PACKETS_PER_WRITE: usize = 64;

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub method: Method,
    pub password: Vec<u8>,
    pub format: PacketFormat,
    /// Bound on each step: connect, init packet, each write, the final EOF.
    pub timeout: Duration,
}

/// Why a batch was not (provably) delivered.
#[derive(Debug, thiserror::Error)]
pub enum NscaError {
    #[error("Host name lookup failed: '{host}'")]
    Resolve { host: String, source: io::Error },
    #[error("Could not connect to host {host} on port {port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: io::Error,
    },
    #[error("Server closed connection before init packet was received")]
    InitClosed,
    #[error("Timeout after {0:?} while {1}")]
    Timeout(Duration, &'static str),
    #[error("Could not send data to host: {0}")]
    Send(io::Error),
    #[error("Server did not close the connection cleanly: {0}")]
    Close(io::Error),
    #[error("Could not read init packet: {0}")]
    Init(io::Error),
}

impl NscaError {
    /// True for failures before anything was written (connect, init).
    pub fn before_send(&self) -> bool {
        matches!(
            self,
            NscaError::Resolve { .. }
                | NscaError::Connect { .. }
                | NscaError::InitClosed
                | NscaError::Init(_)
                | NscaError::Timeout(_, "connecting" | "reading the init packet")
        )
    }
}

/// An open connection that has received the server's init packet.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    init: InitPacket,
}

impl Connection {
    pub fn init(&self) -> &InitPacket {
        &self.init
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NscaError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| NscaError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        return Err(NscaError::Resolve {
            host: host.to_string(),
            source,
        });
    }
    Ok(addrs)
}

/// Connects (trying each address) and reads the 132-byte init packet.
pub async fn connect(host: &str, port: u16, step: Duration) -> Result<Connection, NscaError> {
    let addrs = timeout(step, resolve(host, port))
        .await
        .map_err(|_| NscaError::Timeout(step, "connecting"))??;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    let mut stream = None;
    for addr in addrs {
        match timeout(step, TcpStream::connect(addr)).await {
            Err(_) => return Err(NscaError::Timeout(step, "connecting")),
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = e,
        }
    }
    let Some(mut stream) = stream else {
        return Err(NscaError::Connect {
            host: host.to_string(),
            port,
            source: last,
        });
    };
    // Many small packets: don't wait for ACKs between them.
    stream.set_nodelay(true).ok();
    let mut buf = [0u8; INIT_PACKET_LEN];
    match timeout(step, stream.read_exact(&mut buf)).await {
        Err(_) => return Err(NscaError::Timeout(step, "reading the init packet")),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(NscaError::InitClosed);
        }
        Ok(Err(e)) => return Err(NscaError::Init(e)),
        Ok(Ok(_)) => {}
    }
    let init = InitPacket::decode(&buf).map_err(|e| NscaError::Init(io::Error::other(e)))?;
    Ok(Connection { stream, init })
}

/// Encrypts and writes `results` on `conn`, then half-closes and waits for the
/// server's clean EOF. Returns the number of packets delivered.
pub async fn send_on(
    mut conn: Connection,
    method: Method,
    password: &[u8],
    format: PacketFormat,
    results: &[Passive<'_>],
    step: Duration,
) -> Result<usize, NscaError> {
    let mut enc = Encryptor::new(method, password, &conn.init.iv);
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut fill = |b: &mut [u8]| rng.fill(b);
    // CFB8 costs one block encryption per byte (3DES: ~3 ms a packet), so the
    // block ciphers run on the blocking pool, off the async workers.
    let heavy = !matches!(method, Method::None | Method::Xor);
    let mut wire = Vec::with_capacity(format.wire_len() * results.len().min(PACKETS_PER_WRITE));
    for chunk in results.chunks(PACKETS_PER_WRITE) {
        wire.clear();
        for p in chunk {
            encode_packet(p, conn.init.timestamp, format, &mut fill, &mut wire);
        }
        if heavy {
            let packet_len = format.wire_len();
            let (e, w) = tokio::task::spawn_blocking(move || {
                for packet in wire.chunks_mut(packet_len) {
                    enc.encrypt(packet);
                }
                (enc, wire)
            })
            .await
            .map_err(|e| NscaError::Send(io::Error::other(e)))?;
            (enc, wire) = (e, w);
        } else {
            for packet in wire.chunks_mut(format.wire_len()) {
                enc.encrypt(packet);
            }
        }
        timeout(step, conn.stream.write_all(&wire))
            .await
            .map_err(|_| NscaError::Timeout(step, "sending"))?
            .map_err(NscaError::Send)?;
    }
    timeout(step, conn.stream.shutdown())
        .await
        .map_err(|_| NscaError::Timeout(step, "closing"))?
        .map_err(NscaError::Send)?;
    // nsca never writes after the init packet; drain until its FIN.
    let mut sink = [0u8; 512];
    loop {
        match timeout(step, conn.stream.read(&mut sink)).await {
            Err(_) => return Err(NscaError::Timeout(step, "waiting for the server to close")),
            Ok(Ok(0)) => return Ok(results.len()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(NscaError::Close(e)),
        }
    }
}

/// Sends `results` as one batch on one connection (D5 at-least-once): an error
/// means none of them may be considered delivered.
pub async fn send_batch(settings: &Settings, results: &[Passive<'_>]) -> Result<usize, NscaError> {
    let conn = connect(&settings.host, settings.port, settings.timeout).await?;
    send_on(
        conn,
        settings.method,
        &settings.password,
        settings.format,
        results,
        settings.timeout,
    )
    .await
}

#[cfg(test)]
mod tests {
    use smoker_compat::nsca::{IV_LEN, PacketFormat, open_packet};
    use smoker_compat::nsca_cipher::Decryptor;
    use tokio::net::TcpListener;

    use super::*;

    /// A minimal in-process NSCA server: init, then decode until EOF.
    async fn serve_once(
        listener: TcpListener,
        method: Method,
    ) -> Vec<(Vec<u8>, Vec<u8>, i16, Vec<u8>)> {
        let (mut s, _) = listener.accept().await.unwrap();
        let init = InitPacket {
            iv: std::array::from_fn(|i| (i * 5) as u8),
            timestamp: 42,
        };
        s.write_all(&init.encode()).await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        let mut dec = Decryptor::new(method, b"pw", &init.iv);
        all.chunks_mut(4304)
            .map(|c| {
                let p = open_packet(&mut dec, c).unwrap();
                assert_eq!(p.timestamp, 42);
                (p.host_name, p.service, p.return_code, p.output)
            })
            .collect()
    }

    fn settings(port: u16, method: Method) -> Settings {
        Settings {
            host: "127.0.0.1".into(),
            port,
            method,
            password: b"pw".to_vec(),
            format: PacketFormat::V3,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn batch_roundtrip_many_packets() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(serve_once(listener, Method::Aes256));
        let outputs: Vec<String> = (0..150).map(|i| format!("out {i}")).collect();
        let results: Vec<Passive<'_>> = outputs
            .iter()
            .map(|o| Passive {
                host_name: b"h",
                service: b"s",
                return_code: 1,
                output: o.as_bytes(),
            })
            .collect();
        let n = send_batch(&settings(port, Method::Aes256), &results)
            .await
            .unwrap();
        assert_eq!(n, 150);
        let got = server.await.unwrap();
        assert_eq!(got.len(), 150);
        assert_eq!(got[149].3, b"out 149");
        assert_eq!(IV_LEN, 128);
    }

    #[tokio::test]
    async fn refused_and_closed_before_init() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let e = send_batch(&settings(port, Method::Xor), &[])
            .await
            .unwrap_err();
        assert!(matches!(e, NscaError::Connect { .. }), "{e}");
        assert!(e.before_send());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move { drop(listener.accept().await.unwrap()) });
        let e = send_batch(&settings(port, Method::Xor), &[])
            .await
            .unwrap_err();
        assert!(matches!(e, NscaError::InitClosed), "{e}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(s);
        });
        let mut s = settings(port, Method::None);
        s.timeout = Duration::from_millis(200);
        let e = send_batch(&s, &[]).await.unwrap_err();
        assert!(
            matches!(e, NscaError::Timeout(_, "reading the init packet")),
            "{e}"
        );
        server.abort();
    }
}
