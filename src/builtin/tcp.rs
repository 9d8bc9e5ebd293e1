//! `check_tcp`: `-H`, `-p`, `-w`, `-c` (seconds to connect), `-t`, as
//! monitoring-plugins 2.3 gives them (TLS `-S`/`-D` is not built in yet).

use std::{
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_tcp";
pub(super) const FLAGS: [Flag; 5] = [
    flag('H', "hostname", true),
    flag('p', "port", true),
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('t', "timeout", true),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Tcp {
    host: String,
    port: u16,
    warn: Option<f64>,
    crit: Option<f64>,
    timeout: f64,
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

    pub fn run(&self) -> Output {
        let (host, port) = (&self.host, self.port);
        let timeout = Duration::from_secs_f64(self.timeout);
        let started = Instant::now();
        let addrs = match (host.as_str(), port).to_socket_addrs() {
            Ok(a) => a.collect::<Vec<_>>(),
            Err(e) => return Output::new(State::Unknown, format!("{host}: {e}")),
        };
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(_) => return self.report(started.elapsed().as_secs_f64()),
                Err(e) => last = Some(e),
            }
        }
        let text = match last {
            Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                format!(
                    "CRITICAL - Socket timeout after {} seconds",
                    self.timeout as u64
                )
            }
            Some(e) => {
                let reason = e.raw_os_error().map_or(e.to_string(), |n| {
                    nix::errno::Errno::from_raw(n).desc().to_string()
                });
                format!("connect to address {host} and port {port}: {reason}")
            }
            None => format!("connect to address {host} and port {port}: no address"),
        };
        Output::new(State::Critical, text)
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
    }
}
