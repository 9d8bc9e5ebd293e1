//! Binding a listening TCP socket (socket2), the same way for every listener.

use std::{io, net::SocketAddr};

use tokio::net::TcpListener;

/// The listen backlog the API and metrics ports use (tokio's own default).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// Binds `addr` with `SO_REUSEADDR` and `backlog`. For an IPv6 address `v6only`
/// sets `IPV6_V6ONLY`: `Some(true)` IPv6 only, `Some(false)` dual-stack (IPv4
/// clients arrive as `::ffff:a.b.c.d`), `None` the system default
/// (`net.ipv6.bindv6only`, dual-stack on Linux unless changed). Ignored for IPv4.
pub fn bind(addr: SocketAddr, backlog: i32, v6only: Option<bool>) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if let (true, Some(only)) = (addr.is_ipv6(), v6only) {
        socket.set_only_v6(only)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dual_stack_and_v6_only() {
        let dual = bind("[::]:0".parse().unwrap(), 16, Some(false)).unwrap();
        let port = dual.local_addr().unwrap().port();
        let client = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (_, peer) = dual.accept().await.unwrap();
        assert_eq!(peer.ip().to_string(), "::ffff:127.0.0.1");
        assert_eq!(peer.port(), client.local_addr().unwrap().port());
        // An IPv6-only wildcard leaves IPv4 to a socket of its own on the same port.
        let v6 = bind("[::]:0".parse().unwrap(), 16, Some(true)).unwrap();
        let port = v6.local_addr().unwrap().port();
        let v4 = bind(SocketAddr::from(([0, 0, 0, 0], port)), 16, None);
        assert!(v4.is_ok(), "{v4:?}");
    }
}
