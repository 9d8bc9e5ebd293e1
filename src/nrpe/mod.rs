//! NRPE server (issue 7, decisions.md D6): answers `check_nrpe` unchanged.
//!
//! Owns the NRPE listeners on the shared edge ([`crate::net`]: binding, accept
//! loop, `allowed_hosts`, TLS reload), served per set of bound addresses by
//! [`NrpeServer`], and the per-connection pipeline of protocols.md §1.4
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

use openssl::ssl::SslContext;
use smoker_compat::{
    nrpe_cfg::NrpeConfig,
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
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{
    check::Principal,
    check::Trigger,
    config::{NrpeTls, nrpe::NrpeBridge},
    executor::{Environment, Executor, Exit, ProcessOutcome, ProcessRequest, Program},
    metrics::Metrics,
    net::{self, AllowedHosts, ServerTls},
    runs::{ExternalRun, Runs},
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
    /// Where a command that is a check records its runs (the daemon's [`Runs`]).
    fn runs(&self) -> Option<&Runs> {
        None
    }
}

impl HasExecutor for Runs {
    fn executor(&self) -> &Executor {
        Runs::executor(self)
    }

    fn runs(&self) -> Option<&Runs> {
        Some(self)
    }
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
    tls: ServerTls,
    hosts: AllowedHosts,
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

/// Binds the listen addresses of `bridge` (see [`v6only`] for IPv6 sockets).
pub fn bind(bridge: &NrpeBridge) -> Result<Vec<TcpListener>, NrpeError> {
    let backlog = bridge.config.listen_queue_size.max(16) as i32;
    let mut out = Vec::new();
    for addr in &bridge.listen {
        match net::bind(*addr, backlog, Some(v6only(addr, &bridge.listen))) {
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

/// Whether the IPv6 socket for `addr` is IPv6-only. nrpe binds every IPv6
/// socket so, next to an IPv4 socket of its own (without `server_address`:
/// `0.0.0.0` and `::`); so do we whenever `all` has an IPv4 address on the same
/// port. A lone `::` (`server_address=::`) is bound dual-stack instead, as the
/// API's `bind_host: "::"` is: IPv4 clients reach it as `::ffff:a.b.c.d`, which
/// `allowed_hosts` judges as their IPv4 address.
fn v6only(addr: &SocketAddr, all: &[SocketAddr]) -> bool {
    let beside_ipv4 = all.iter().any(|a| a.is_ipv4() && a.port() == addr.port());
    !addr.ip().is_unspecified() || beside_ipv4
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
    let server = NrpeServer::new(bridge, tls, executor, metrics);
    let stop = CancellationToken::new();
    let stopping = async {
        shutdown.await;
        stop.cancel();
    };
    tokio::join!(server.serve(listeners, stop.clone()), stopping);
    Ok(())
}

/// The TLS context `bridge` asks for (read while the daemon may still be root:
/// the key is often readable by root only).
pub fn load_tls(bridge: &NrpeBridge) -> Result<Option<SslContext>, NrpeError> {
    Ok(match bridge.tls {
        NrpeTls::Off => None,
        NrpeTls::On | NrpeTls::Auto => Some(tls::context(&bridge.config)?),
    })
}

/// The running NRPE server: its configuration, replaced on reload by
/// [`update`](Self::update), and the sets of bound listeners it serves. Each set
/// is served by [`serve`](Self::serve) with a stop token of its own, so changed
/// listen addresses can be bound before a reload commits and swapped after it.
#[derive(Clone)]
pub struct NrpeServer {
    current: Arc<watch::Sender<Arc<Server>>>,
}

impl NrpeServer {
    /// A server for `bridge` with its TLS context loaded already ([`load_tls`]).
    pub fn new(
        bridge: Arc<NrpeBridge>,
        tls: Option<SslContext>,
        executor: Arc<dyn HasExecutor>,
        metrics: Arc<Metrics>,
    ) -> NrpeServer {
        let server = Server::with_tls(bridge, ServerTls::from_built(tls), executor, metrics);
        server.log_config();
        NrpeServer {
            current: Arc::new(watch::channel(Arc::new(server)).0),
        }
    }

    /// The bridge being served.
    pub fn bridge(&self) -> Arc<NrpeBridge> {
        self.current.borrow().bridge.clone()
    }

    /// Applies a reloaded `bridge` (commands, ACL, TLS, timeouts) to the
    /// connections accepted from now on. After the privilege drop a root-only
    /// key cannot be read again: the loaded context is kept and the rest applied.
    /// A TLS error with no context to keep leaves the running configuration.
    /// Listen addresses are not rebound here ([`bind`], then [`serve`](Self::serve)).
    pub fn update(&self, bridge: Arc<NrpeBridge>) {
        let running = self.current.borrow().clone();
        if bridge == running.bridge {
            return;
        }
        match running.tls.reload("NRPE", load_tls(&bridge)) {
            Ok(tls) => {
                let server = Server::with_tls(
                    bridge,
                    tls,
                    running.executor.clone(),
                    running.metrics.clone(),
                );
                info!(
                    commands = server.bridge.config.commands.len(),
                    "NRPE configuration reloaded."
                );
                for w in &server.bridge.warnings {
                    warn!(warning = %w, "NRPE config.");
                }
                self.current.send_replace(Arc::new(server));
            }
            Err(e) => error!(error = %e, "NRPE reload failed, keeping the running configuration."),
        }
    }

    /// Serves `listeners` until `stop` is cancelled, then waits for their
    /// connections to finish (bounded by their timeouts).
    pub async fn serve(&self, listeners: Vec<TcpListener>, stop: CancellationToken) {
        let bridge = self.bridge();
        let mut accepters = JoinSet::new();
        for listener in listeners {
            if let Ok(addr) = listener.local_addr() {
                info!(%addr, tls = ?bridge.tls, commands = bridge.config.commands.len(), "NRPE server listening.");
            }
            let servers = self.current.subscribe();
            let handler = net::handler(move |tcp, peer, _drain| {
                let server = servers.borrow().clone();
                async move { server.connection(tcp, peer).await }
            });
            let permits = Arc::new(Semaphore::new(net::MAX_CONNECTIONS));
            accepters.spawn(net::accept::serve(
                listener,
                "NRPE",
                permits,
                handler,
                stop.clone(),
            ));
        }
        while accepters.join_next().await.is_some() {}
    }
}

/// The plan's NRPE bridge bound and with its TLS context loaded, not serving
/// yet: made before the daemon drops privileges (like nrpe), served after.
pub struct Bound {
    pub bridge: Arc<NrpeBridge>,
    pub listeners: Vec<TcpListener>,
    pub tls: Option<SslContext>,
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
    /// Runs of commands that are checks are recorded as their results (`trigger="nrpe"`).
    pub runs: Runs,
    pub metrics: Arc<Metrics>,
    /// The running plan: the server follows its `nrpe:` section itself.
    pub plan: crate::config::PlanWatch,
}

impl NrpeServer {
    /// Follows the running plan's `nrpe:` section (commands, ACL, TLS, timeouts)
    /// until `stop`; changed listen addresses are bound and swapped by the daemon.
    pub async fn follow(&self, mut plan: crate::config::PlanWatch, stop: CancellationToken) {
        loop {
            tokio::select! {
                changed = plan.changed() => if changed.is_err() { return },
                _ = stop.cancelled() => return,
            }
            let current = plan.borrow_and_update().clone();
            if let Some(bridge) = current.nrpe.as_ref().and_then(|n| n.bridge.clone()) {
                self.update(bridge);
            }
        }
    }
}

/// `AsyncRead + AsyncWrite` over plain TCP or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Server {
    fn log_config(&self) {
        for w in &self.bridge.warnings {
            warn!(warning = %w, "NRPE config.");
        }
        let ignored = crate::config::nrpe::ignored_directives(&self.bridge.config);
        if !ignored.is_empty() {
            info!(directives = ?ignored, "NRPE config: directives without effect in smokerd (logging, pid file, ...).");
        }
    }

    fn with_tls(
        bridge: Arc<NrpeBridge>,
        tls: ServerTls,
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
            hosts: AllowedHosts::from_entries(c.allowed_hosts.clone()),
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
        if !self.hosts.allows(peer.ip()).await {
            return Err(Dropped::Acl(peer.ip()));
        }
        let wait = Duration::from_secs(u64::from(c.connection_timeout));
        let use_tls = match (self.bridge.tls, self.tls.context()) {
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
        match (self.tls.context(), use_tls) {
            (Some(ctx), true) => {
                let mut stream = match timeout(wait, net::tls::accept(ctx, tcp)).await {
                    Err(_) => return Err(Dropped::Timeout(c.connection_timeout)),
                    Ok(Err(e)) => return Err(Dropped::Handshake(e.to_string())),
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
        let run = self
            .executor
            .runs()
            .and_then(|runs| runs.begin_nrpe(&query.command));
        let outcome = self.run_command(line, run.as_ref(), version).await;
        let reply = reply_of(&query.command, c.command_timeout, &outcome, version);
        if let (Some(run), Some(runs)) = (run, self.executor.runs()) {
            runs.finish_external(run, outcome, Trigger::Nrpe);
        }
        reply
    }
}

impl Server {
    /// Runs a command line as nrpe would, or its built-in when `nrpe.builtins` says so.
    async fn run_command(
        &self,
        line: String,
        run: Option<&ExternalRun>,
        version: Version,
    ) -> ProcessOutcome {
        let timeout = Duration::from_secs(u64::from(self.bridge.config.command_timeout));
        if let Some((_, check)) = self.bridge.builtin(&line) {
            return crate::runner::builtin_outcome(&check, timeout).await;
        }
        let on_spawn = |pid: u32| {
            if let Some(run) = run {
                run.set_pid(pid);
            }
        };
        let request = ProcessRequest {
            program: Program::Shell(line),
            env: Environment::Clean(self.env.clone()),
            timeout,
            kill_grace: KILL_GRACE,
            max_output: version.max_output(),
            capture_stderr: false,
            uid: self.uid.clone(),
            gid: self.gid.clone(),
            stdin: None,
        };
        self.executor
            .executor()
            .run_observed(request, &on_spawn)
            .await
    }
}

/// What nrpe answers for a command's process (D2: nrpe's mapping, whatever the plugin
/// settings).
fn reply_of(
    command: &str,
    command_timeout: u32,
    outcome: &ProcessOutcome,
    version: Version,
) -> (i16, Vec<u8>) {
    {
        let end = match &outcome.exit {
            Exit::Code(code) => CommandEnd::Exited(*code),
            Exit::Signal(_) | Exit::Interrupted => CommandEnd::Signaled,
            Exit::TimedOut => {
                warn!(command = %command, seconds = command_timeout, "NRPE command timed out.");
                CommandEnd::TimedOut {
                    seconds: command_timeout,
                }
            }
            Exit::SpawnFailed(reason) => {
                warn!(command = %command, error = %reason, "NRPE command could not start.");
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
