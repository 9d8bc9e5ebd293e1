//! The network edge of smokerd, shared by the API, `metrics.listen` and every NRPE
//! listener: binding ([`bind()`]), the one accept loop with connection permits,
//! backoff and graceful drain ([`accept`]), `allowed_hosts` ([`AllowedHosts`], with
//! IPv4-mapped IPv6 peers handled once), the reloadable TLS context ([`ServerTls`])
//! and HTTP/1.1 on a connection ([`http`]). Knows nothing of the plan or the daemon:
//! each server hands in what it serves.

pub mod accept;
pub mod hosts;
pub mod http;
pub mod socket;
pub mod tls;

pub use accept::{Handler, MAX_CONNECTIONS, handler};
pub use hosts::AllowedHosts;
pub use socket::{DEFAULT_BACKLOG, bind};
pub use tls::{HandshakeError, ServerTls};
