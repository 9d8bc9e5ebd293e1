//! `check_tcp`: `-H`, `-p`, `-w`, `-c` (seconds to connect), `-t`, `-S` (a TLS
//! handshake after the connect), `-D days[,days]` (certificate expiry; a certificate
//! near or past its end is the whole answer), as monitoring-plugins 2.3 gives them.

use std::{
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
    tls::{self, Days},
};

const NAME: &str = "check_tcp";
pub(super) const FLAGS: [Flag; 7] = [
    flag('H', "hostname", true),
    flag('p', "port", true),
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('t', "timeout", true),
    flag('S', "ssl", false),
    flag('D', "certificate", true),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Tcp {
    host: String,
    port: u16,
    warn: Option<f64>,
    crit: Option<f64>,
    timeout: f64,
    /// `-S` or `-D`: a TLS handshake after the connect.
    ssl: bool,
    /// `-D`: check the peer's certificate.
    days: Option<Days>,
}

/// Why a connect failed.
pub enum ConnectError {
    /// The name did not resolve (the resolver's reason).
    Resolve(String),
    /// The deadline passed.
    TimedOut,
    /// The plugins' `connect to address H and port P: reason`.
    Refused(String),
}

/// Connects to `host:port` within `timeout`, trying each address as the plugins do.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return Err(ConnectError::Resolve(e.to_string())),
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => ConnectError::TimedOut,
        Some(e) => {
            let reason = e.raw_os_error().map_or(e.to_string(), |n| {
                nix::errno::Errno::from_raw(n).desc().to_string()
            });
            ConnectError::Refused(format!(
                "connect to address {host} and port {port}: {reason}"
            ))
        }
        None => ConnectError::Refused(format!(
            "connect to address {host} and port {port}: no address"
        )),
    })
}

/// Read and write deadlines for what is left of `timeout` since `started`.
pub fn limit(stream: &TcpStream, started: Instant, timeout: Duration) {
    let left = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    let _ = stream.set_read_timeout(Some(left));
    let _ = stream.set_write_timeout(Some(left));
}

fn seconds(flag: char, value: &str) -> Result<f64, BuiltinError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| common::bad(NAME, flag, value, "expected seconds"))
}

impl Tcp {
    pub fn parse(rest: &[String]) -> Result<Tcp, BuiltinError> {
        let (mut host, mut port) = (None, None);
        let mut tcp = Tcp {
            host: String::new(),
            port: 0,
            warn: None,
            crit: None,
            timeout: 10.0,
            ssl: false,
            days: None,
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'H' => host = Some(value),
                'p' => {
                    port = Some(
                        value
                            .parse::<u16>()
                            .map_err(|e| common::bad(NAME, f, &value, e))?,
                    )
                }
                'w' => tcp.warn = Some(seconds(f, &value)?),
                'c' => tcp.crit = Some(seconds(f, &value)?),
                'S' => tcp.ssl = true,
                'D' => {
                    tcp.days = Some(Days::parse(NAME, f, &value)?);
                    tcp.ssl = true;
                }
                _ => tcp.timeout = seconds(f, &value)?.max(1.0),
            }
        }
        let missing = |what: &str| BuiltinError::Invalid {
            plugin: NAME.into(),
            reason: format!("{what} is required"),
        };
        tcp.host = host.ok_or_else(|| missing("-H"))?;
        tcp.port = port.filter(|p| *p > 0).ok_or_else(|| missing("-p PORT"))?;
        Ok(tcp)
    }

    fn socket_timeout(&self) -> Output {
        let text = format!(
            "CRITICAL - Socket timeout after {} seconds",
            self.timeout as u64
        );
        Output::new(State::Critical, text)
    }

    pub fn run(&self) -> Output {
        let timeout = Duration::from_secs_f64(self.timeout);
        let started = Instant::now();
        let stream = match connect(&self.host, self.port, timeout) {
            Ok(s) => s,
            // The plugin's `is_host` check before it connects.
            Err(ConnectError::Resolve(_)) => {
                let text = format!(
                    "TCP CRITICAL - Invalid hostname, address or socket: {}",
                    self.host
                );
                return Output::new(State::Critical, text);
            }
            Err(ConnectError::TimedOut) => return self.socket_timeout(),
            Err(ConnectError::Refused(text)) => return Output::new(State::Critical, text),
        };
        let mut lead = String::new();
        if self.ssl {
            limit(&stream, started, timeout);
            let mut ssl = match tls::handshake(stream, None) {
                Ok(s) => s,
                Err(tls::Failed::TimedOut) => return self.socket_timeout(),
                Err(tls::Failed::Refused(text)) => return Output::new(State::Critical, text),
            };
            if let Some(days) = self.days {
                let (state, line) = tls::check_cert(&ssl, days);
                if state != State::Ok {
                    return Output::new(state, line);
                }
                lead = line + "\n";
            }
            let _ = ssl.shutdown();
        }
        let mut out = self.report(started.elapsed().as_secs_f64());
        out.text.insert_str(0, &lead);
        out
    }

    fn report(&self, elapsed: f64) -> Output {
        let state = if self.crit.is_some_and(|c| elapsed > c) {
            State::Critical
        } else if self.warn.is_some_and(|w| elapsed > w) {
            State::Warning
        } else {
            State::Ok
        };
        let t = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        let text = format!(
            "TCP {} - {elapsed:.3} second response time on {} port {}|time={elapsed:.6}s;{};{};0.000000;{:.6}",
            state.word(),
            self.host,
            self.port,
            t(self.warn),
            t(self.crit),
            self.timeout
        );
        Output::new(state, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> Tcp {
        Tcp::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn report_is_the_plugins() {
        let out = tcp("-H h -p 1 -w 1 -c 2").report(0.000071);
        assert_eq!(
            out.text,
            "TCP OK - 0.000 second response time on h port 1|time=0.000071s;1.000000;2.000000;0.000000;10.000000"
        );
        assert_eq!(tcp("-H h -p 1 -w 0 -c 2").report(0.1).code, 1);
        assert_eq!(tcp("-H h -p 1 -c 0.01").report(0.1).code, 2);
        assert!(Tcp::parse(&["-H".into(), "h".into()]).is_err());
        assert!(Tcp::parse(&["-S".into()]).is_err());
        assert!(Tcp::parse(&["-E".into()]).is_err());
        let t = tcp("-H h -p 1 -D 30,7");
        assert!(t.ssl && t.days.is_some());
        assert!(Tcp::parse(&["-H", "h", "-p", "1", "-D", "x"].map(String::from)).is_err());
    }
}
