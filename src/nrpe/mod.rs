//! NRPE server (issue 7, decisions.md D6): answers `check_nrpe` unchanged.
//!
//! Owns the listeners, the per-connection pipeline of protocols.md §1.4
//! (`allowed_hosts` before TLS, TLS/plain/auto, packet read with
//! `connection_timeout`, validation, `_NRPE_CHECK`, command lookup, macro
//! expansion, run through the shared [`Executor`] with nrpe's environment
//! cleaning and `max_commands`, result mapping, reply in the request's packet
//! version) and [`import`] (`smokerd import-nrpe`). Packet codecs and the pure
//! rules live in [`smoker_compat::nrpe_packet`]; nrpe.cfg loading in
//! [`crate::config::nrpe`]. Refusals close the connection silently, are
//! logged and counted in `smoker_nrpe_rejected_total{reason}`.

pub mod import;
mod tls;

use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use smoker_compat::{
    nrpe_cfg::{AllowedHost, NrpeConfig},
    nrpe_packet::{
        self, CommandEnd, HEADER_LEN, NRPE_CHECK, PacketError, QueryPolicy, Refusal, Version,
    },
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinSet,
    time::timeout,
};
use tracing::{debug, error, info, warn};

use crate::{
    check::Principal,
    config::{NrpeTls, nrpe::NrpeBridge},
    executor::{Environment, Executor, Exit, ProcessRequest, Program},
    metrics::Metrics,
};

/// The nrpe version we answer `_NRPE_CHECK` with and put in `NRPE_PROGRAMVERSION`.
pub const NRPE_VERSION: &str = "4.1.0";
/// `PATH` of the children: glibc's `_PATH_STDPATH`, what Debian's nrpe sets.
pub const CHILD_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";
/// How long a command's group gets between SIGTERM and SIGKILL after `command_timeout`.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// nrpe's `socket_timeout` for reading the request once connected.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client to close after the reply (so unread bytes
/// such as v3's 3 pad bytes never turn our close into a reset).
const LINGER: Duration = Duration::from_secs(2);

/// Gives the NRPE server the one shared [`Executor`] (the daemon implements it
/// for its state, which owns the executor).
pub trait HasExecutor: Send + Sync + 'static {
    fn executor(&self) -> &Executor;
}

impl HasExecutor for Executor {
    fn executor(&self) -> &Executor {
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum NrpeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] tls::TlsError),
}

/// Why a connection ended without a reply.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    #[error("host {0} is not allowed to talk to us")]
    Acl(IpAddr),
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error("timed out after {0} s waiting for the request")]
    Timeout(u32),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    #[error("bad packet: {0}")]
    Packet(#[from] PacketError),
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
}

impl Dropped {
    fn reason(&self) -> &'static str {
        match self {
            Dropped::Acl(_) => "acl",
            Dropped::Handshake(_) => "tls",
            Dropped::Timeout(_) => "timeout",
            Dropped::Io(_) => "io",
            Dropped::Packet(PacketError::Crc { .. }) => "crc",
            Dropped::Packet(_) => "packet",
            Dropped::Refused(r) => r.reason(),
        }
    }
}

/// Everything a connection needs, shared.
struct Server {
    bridge: Arc<NrpeBridge>,
    executor: Arc<dyn HasExecutor>,
    metrics: Arc<Metrics>,
    tls: Option<openssl::ssl::SslContext>,
    /// `max_commands`; `None` = unlimited.
    commands: Option<Semaphore>,
    policy: QueryPolicy,
    env: Vec<(String, String)>,
    uid: Option<Principal>,
    gid: Option<Principal>,
}

/// Binds every listen address of `bridge`, then serves until `shutdown`
/// resolves. Connections in flight are finished (bounded by their timeouts).
/// An address that cannot be bound fails the start, except an IPv6 wildcard
/// next to a bound IPv4 one (hosts without IPv6).
pub async fn serve(
    bridge: Arc<NrpeBridge>,
    executor: Arc<dyn HasExecutor>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NrpeError> {
    let listeners = bind(&bridge)?;
    serve_on(listeners, bridge, executor, metrics, shutdown).await
}

/// Binds the listen addresses (IPv6 sockets are IPv6-only, as nrpe binds them).
pub fn bind(bridge: &NrpeBridge) -> Result<Vec<TcpListener>, NrpeError> {
    let backlog = bridge.config.listen_queue_size.max(16) as i32;
    let mut out = Vec::new();
    for addr in &bridge.listen {
        match bind_one(*addr, backlog) {
            Ok(l) => out.push(l),
            Err(source) => {
                let optional = addr.ip().is_unspecified()
                    && addr.is_ipv6()
                    && bridge.listen.iter().any(|a| a.is_ipv4());
                if optional {
                    info!(%addr, error = %source, "NRPE: IPv6 not available, listening on IPv4 only.");
                } else {
                    return Err(NrpeError::Bind {
                        addr: *addr,
                        source,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn bind_one(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    TcpListener::from_std(socket.into())
}

/// [`serve`] on listeners bound already (tests bind port 0).
pub async fn serve_on(
    listeners: Vec<TcpListener>,
    bridge: Arc<NrpeBridge>,
    executor: Arc<dyn HasExecutor>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NrpeError> {
    let tls = load_tls(&bridge)?;
    let (_keep, bridges) = watch::channel(bridge);
    serve_updating(listeners, tls, bridges, executor, metrics, shutdown).await
}

/// The TLS context `bridge` asks for (read while the daemon may still be root:
/// the key is often readable by root only).
fn load_tls(bridge: &NrpeBridge) -> Result<Option<openssl::ssl::SslContext>, NrpeError> {
    Ok(match bridge.tls {
        NrpeTls::Off => None,
        NrpeTls::On | NrpeTls::Auto => Some(tls::context(&bridge.config)?),
    })
}

/// Serves on `listeners`; a new bridge sent on `bridges` (a reload) applies
/// to the connections accepted from then on. Listen addresses stay.
/// `tls` is the context of the first bridge, loaded by the caller.
async fn serve_updating(
    listeners: Vec<TcpListener>,
    tls: Option<openssl::ssl::SslContext>,
    mut bridges: watch::Receiver<Arc<NrpeBridge>>,
    executor: Arc<dyn HasExecutor>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NrpeError> {
    let bridge = bridges.borrow_and_update().clone();
    let server = Arc::new(Server::with_tls(
        bridge,
        tls,
        executor.clone(),
        metrics.clone(),
    ));
    server.log_start(&listeners);
    let (server_tx, server_rx) = watch::channel(server);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accepters = JoinSet::new();
    for listener in listeners {
        accepters.spawn(accept_loop(listener, server_rx.clone(), stop_rx.clone()));
    }
    tokio::pin!(shutdown);
    let mut updates_open = true;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            changed = bridges.changed(), if updates_open => {
                if changed.is_err() {
                    updates_open = false;
                    continue;
                }
                let bridge = bridges.borrow_and_update().clone();
                let previous = server_tx.borrow().tls.clone();
                let tls = match load_tls(&bridge) {
                    // After the privilege drop a root-only key cannot be read
                    // again: keep the loaded one and apply the rest, as the API does.
                    Err(e) if bridge.tls != NrpeTls::Off && previous.is_some() => {
                        warn!(error = %e, "NRPE: keeping the previous TLS certificate and key.");
                        Ok(previous)
                    }
                    tls => tls,
                };
                match tls.map(|tls| Server::with_tls(bridge, tls, executor.clone(), metrics.clone())) {
                    Ok(server) => {
                        info!(commands = server.bridge.config.commands.len(), "NRPE configuration reloaded.");
                        for w in &server.bridge.warnings {
                            warn!(warning = %w, "NRPE config.");
                        }
                        server_tx.send_replace(Arc::new(server));
                    }
                    Err(e) => error!(error = %e, "NRPE reload failed, keeping the running configuration."),
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    while accepters.join_next().await.is_some() {}
    Ok(())
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// The plan's NRPE bridge bound and with its TLS context loaded, not serving
/// yet: made before the daemon drops privileges (like nrpe), served after.
pub struct Bound {
    bridge: Arc<NrpeBridge>,
    listeners: Vec<TcpListener>,
    tls: Option<openssl::ssl::SslContext>,
}

/// Binds the plan's NRPE bridge, if it has one, and loads its TLS context. A bind
/// or TLS failure fails start-up.
pub fn bind_bridge(plan: &crate::config::Plan) -> Result<Option<Bound>, NrpeError> {
    let Some(bridge) = plan.nrpe.as_ref().and_then(|n| n.bridge.clone()) else {
        return Ok(None);
    };
    let listeners = bind(&bridge)?;
    let tls = load_tls(&bridge)?;
    Ok(Some(Bound {
        bridge,
        listeners,
        tls,
    }))
}

/// What the NRPE server of a daemon uses.
#[derive(Clone)]
pub struct Context {
    pub executor: Arc<Executor>,
    pub metrics: Arc<Metrics>,
    /// The running plan: the server follows its `nrpe:` section itself.
    pub plan: crate::config::PlanWatch,
}

/// Serves a [`Bound`] bridge until `stop` turns true, and follows reloads (new
/// commands, ACL, TLS and timeouts; a changed `listen` needs a restart).
pub fn start(
    ctx: Context,
    bound: Bound,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let Bound {
        bridge,
        listeners,
        tls,
    } = bound;
    let (bridge_tx, bridges) = watch::channel(bridge);
    let executor: Arc<dyn HasExecutor> = ctx.executor.clone();
    let metrics = ctx.metrics.clone();
    let mut updates = ctx.plan.clone();
    let follow = async move {
        while updates.changed().await.is_ok() {
            let plan = updates.borrow_and_update().clone();
            let Some(new) = plan.nrpe.as_ref().and_then(|n| n.bridge.clone()) else {
                warn!("The nrpe: section was removed: restart smokerd to stop the NRPE server.");
                continue;
            };
            let current = bridge_tx.borrow().clone();
            if new != current {
                if new.listen != current.listen {
                    warn!(listen = ?new.listen, "NRPE listen addresses changed: restart smokerd to apply them.");
                }
                bridge_tx.send_replace(new);
            }
        }
    };
    tokio::spawn(async move {
        let shutdown = stopped(stop);
        tokio::select! {
            result = serve_updating(listeners, tls, bridges, executor, metrics, shutdown) => {
                if let Err(e) = result {
                    error!(error = %e, "NRPE server failed.");
                }
            }
            _ = follow => {}
        }
    })
}

/// Connections served at once per listener (issue 10); more are closed at once.
pub const MAX_CONNECTIONS: usize = 1024;

async fn accept_loop(
    listener: TcpListener,
    servers: watch::Receiver<Arc<Server>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(10);
                    if connections.len() >= MAX_CONNECTIONS {
                        debug!(peer = %peer.ip(), "NRPE connection limit reached; closing.");
                        drop(stream);
                        continue;
                    }
                    let server = servers.borrow().clone();
                    connections.spawn(async move { server.connection(stream, peer).await });
                }
                Err(e) => {
                    warn!(error = %e, "NRPE accept failed.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// `AsyncRead + AsyncWrite` over plain TCP or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Server {
    fn log_start(&self, listeners: &[TcpListener]) {
        for w in &self.bridge.warnings {
            warn!(warning = %w, "NRPE config.");
        }
        let ignored = crate::config::nrpe::ignored_directives(&self.bridge.config);
        if !ignored.is_empty() {
            info!(directives = ?ignored, "NRPE config: directives without effect in smokerd (logging, pid file, ...).");
        }
        for l in listeners {
            if let Ok(addr) = l.local_addr() {
                info!(%addr, tls = ?self.bridge.tls, commands = self.bridge.config.commands.len(), "NRPE server listening.");
            }
        }
    }

    fn with_tls(
        bridge: Arc<NrpeBridge>,
        tls: Option<openssl::ssl::SslContext>,
        executor: Arc<dyn HasExecutor>,
        metrics: Arc<Metrics>,
    ) -> Server {
        let c = &bridge.config;
        // nrpe drops to nrpe_user/nrpe_group at start; we can only switch when root.
        let root = nix::unistd::geteuid().is_root();
        let principal = |s: &Option<String>| {
            s.as_deref()
                .filter(|_| root)
                .map(|t| match t.parse::<u32>() {
                    Ok(id) => Principal::Id(id),
                    Err(_) => Principal::Name(t.to_string()),
                })
        };
        let uid = principal(&c.nrpe_user);
        let gid = principal(&c.nrpe_group);
        let env = child_env(c, uid.as_ref(), std::env::vars());
        Server {
            tls,
            commands: (c.max_commands > 0).then(|| Semaphore::new(c.max_commands as usize)),
            policy: QueryPolicy {
                nasty_metachars: c.nasty_metachars.clone(),
                dont_blame_nrpe: c.dont_blame_nrpe,
                allow_bash_command_substitution: c.allow_bash_command_substitution,
            },
            env,
            uid,
            gid,
            bridge,
            executor,
            metrics,
        }
    }

    async fn connection(&self, tcp: TcpStream, peer: SocketAddr) {
        self.metrics.nrpe_request();
        let _ = tcp.set_nodelay(true);
        if let Err(e) = self.exchange(tcp, peer).await {
            self.metrics.nrpe_rejected(e.reason());
            match e {
                Dropped::Acl(_) => {
                    warn!(peer = %peer.ip(), "NRPE: Host {} is not allowed to talk to us!", peer.ip())
                }
                Dropped::Refused(_) | Dropped::Packet(_) => {
                    warn!(peer = %peer, error = %e, "NRPE request refused.")
                }
                _ => info!(peer = %peer, error = %e, "NRPE connection dropped."),
            }
        }
    }

    async fn exchange(&self, tcp: TcpStream, peer: SocketAddr) -> Result<(), Dropped> {
        let c = &self.bridge.config;
        if !allowed(c.allowed_hosts.as_deref(), peer.ip()).await {
            return Err(Dropped::Acl(peer.ip()));
        }
        let wait = Duration::from_secs(u64::from(c.connection_timeout));
        let use_tls = match (self.bridge.tls, &self.tls) {
            (NrpeTls::Off, _) | (_, None) => false,
            (NrpeTls::On, Some(_)) => true,
            (NrpeTls::Auto, Some(_)) => {
                let mut first = [0u8; 1];
                match timeout(wait, tcp.peek(&mut first)).await {
                    Err(_) => return Err(Dropped::Timeout(c.connection_timeout)),
                    Ok(Err(e)) => return Err(Dropped::Io(e)),
                    Ok(Ok(0)) => return Ok(()),
                    Ok(Ok(_)) => first[0] == 0x16,
                }
            }
        };
        match (&self.tls, use_tls) {
            (Some(ctx), true) => {
                let mut stream = match timeout(wait, tls::accept(ctx, tcp)).await {
                    Err(_) => return Err(Dropped::Timeout(c.connection_timeout)),
                    Ok(Err(e)) => return Err(Dropped::Handshake(e)),
                    Ok(Ok(s)) => s,
                };
                debug!(peer = %peer, version = stream.ssl().version_str(), cipher = stream.ssl().current_cipher().map_or("", |c| c.name()), "NRPE TLS session.");
                let result = self.serve_request(&mut stream, peer).await;
                let close = Duration::from_secs(u64::from(c.ssl_shutdown_timeout));
                let _ = timeout(close, stream.shutdown()).await;
                linger(stream.get_mut()).await;
                result
            }
            _ => {
                let mut tcp = tcp;
                let result = self.serve_request(&mut tcp, peer).await;
                let _ = tcp.shutdown().await;
                linger(&mut tcp).await;
                result
            }
        }
    }

    async fn serve_request<S: Stream>(
        &self,
        stream: &mut S,
        peer: SocketAddr,
    ) -> Result<(), Dropped> {
        let c = &self.bridge.config;
        let wait = Duration::from_secs(u64::from(c.connection_timeout)).min(SOCKET_TIMEOUT);
        let bytes = match timeout(wait, read_packet(stream)).await {
            Err(_) => return Err(Dropped::Timeout(wait.as_secs() as u32)),
            Ok(r) => r?,
        };
        let packet = nrpe_packet::decode(&bytes)?;
        let version = packet.version;
        let query = nrpe_packet::validate_query(&packet, &self.policy)?;
        let (rc, output) = self.answer(&query, version).await;
        debug!(peer = %peer, command = %query.command, args = query.args.len(), rc, "NRPE request served.");
        let reply = nrpe_packet::encode_response(version, rc, &output);
        stream.write_all(&reply).await?;
        stream.flush().await?;
        Ok(())
    }

    /// The reply's result code and text for a valid query.
    async fn answer(&self, query: &nrpe_packet::Query, version: Version) -> (i16, Vec<u8>) {
        let c = &self.bridge.config;
        if query.command == NRPE_CHECK {
            return (0, nrpe_packet::version_reply(NRPE_VERSION).into_bytes());
        }
        let Some(command) = c.command(&query.command) else {
            warn!(command = %query.command, "NRPE: command not defined.");
            return (
                3,
                format!("NRPE: Command '{}' not defined", query.command).into_bytes(),
            );
        };
        let line =
            nrpe_packet::command_line(c.command_prefix.as_deref(), &command.line, &query.args);
        let _permit = match &self.commands {
            Some(s) => s.acquire().await.ok(),
            None => None,
        };
        let outcome = self
            .executor
            .executor()
            .run(ProcessRequest {
                program: Program::Shell(line),
                env: Environment::Clean(self.env.clone()),
                timeout: Duration::from_secs(u64::from(c.command_timeout)),
                kill_grace: KILL_GRACE,
                max_output: version.max_output(),
                capture_stderr: false,
                uid: self.uid.clone(),
                gid: self.gid.clone(),
            })
            .await;
        let end = match &outcome.exit {
            Exit::Code(code) => CommandEnd::Exited(*code),
            Exit::Signal(_) | Exit::Interrupted => CommandEnd::Signaled,
            Exit::TimedOut => {
                warn!(command = %query.command, seconds = c.command_timeout, "NRPE command timed out.");
                CommandEnd::TimedOut {
                    seconds: c.command_timeout,
                }
            }
            Exit::SpawnFailed(reason) => {
                warn!(command = %query.command, error = %reason, "NRPE command could not start.");
                CommandEnd::ForkFailed { errno: 0 }
            }
        };
        nrpe_packet::map_result(end, &outcome.stdout, version.max_output())
    }
}

/// Reads one packet: header, then the rest as its version says, checking
/// `buffer_length` before allocating.
async fn read_packet<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, Dropped> {
    let mut bytes = vec![0u8; HEADER_LEN];
    stream.read_exact(&mut bytes).await?;
    let header = nrpe_packet::parse_header(&bytes)?;
    let mut rest = vec![0u8; header.rest_len()];
    stream.read_exact(&mut rest).await?;
    bytes.extend_from_slice(&rest);
    if header.version != Version::V2 {
        let len = nrpe_packet::body_len(&bytes)?;
        let start = bytes.len();
        bytes.resize(start + len, 0);
        stream.read_exact(&mut bytes[start..]).await?;
    }
    Ok(bytes)
}

/// Waits (briefly) for the client to close, discarding what it still sends.
async fn linger(tcp: &mut TcpStream) {
    let mut sink = [0u8; 512];
    let _ = timeout(LINGER, async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// `allowed_hosts`: `None` allows everyone; names are resolved on every
/// connection and compared within the peer's family.
async fn allowed(hosts: Option<&[AllowedHost]>, ip: IpAddr) -> bool {
    let Some(hosts) = hosts else { return true };
    if hosts.iter().any(|h| h.matches(ip)) {
        return true;
    }
    for host in hosts {
        if let AllowedHost::Name(name) = host {
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(addrs) => {
                    if addrs.map(|a| a.ip()).any(|a| a == ip) {
                        return true;
                    }
                }
                Err(e) => {
                    debug!(host = %name, error = %e, "NRPE: allowed_hosts name does not resolve.")
                }
            }
        }
    }
    false
}

/// The children's environment (protocols.md §1.7): `NRPE_MULTILINESUPPORT`,
/// `NRPE_PROGRAMVERSION`, the daemon's variables whose names start with a
/// `keep_env_vars` entry, `PATH`, `IFS`, and `LOGNAME`/`USER`/`HOME` of the
/// user the commands run as when not kept.
fn child_env(
    c: &NrpeConfig,
    user: Option<&Principal>,
    daemon_env: impl Iterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("NRPE_MULTILINESUPPORT".into(), "1".into()),
        ("NRPE_PROGRAMVERSION".into(), NRPE_VERSION.into()),
    ];
    for (k, v) in daemon_env {
        if c.keep_env_vars.iter().any(|p| k.starts_with(p.as_str())) {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        }
    }
    env.retain(|(k, _)| k != "PATH" && k != "IFS");
    env.push(("PATH".into(), CHILD_PATH.into()));
    env.push(("IFS".into(), " \t\n".into()));
    let account = match user {
        Some(Principal::Name(name)) => nix::unistd::User::from_name(name).ok().flatten(),
        Some(Principal::Id(id)) => nix::unistd::User::from_uid((*id).into()).ok().flatten(),
        None => nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten(),
    };
    if let Some(account) = account {
        let home = account.dir.to_string_lossy().into_owned();
        for (k, v) in [
            ("LOGNAME", account.name.clone()),
            ("USER", account.name.clone()),
            ("HOME", home),
        ] {
            if !env.iter().any(|(name, _)| name == k) {
                env.push((k.into(), v));
            }
        }
    }
    env
}

#[cfg(test)]
mod tests;
