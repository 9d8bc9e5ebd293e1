//! `check_http`: `-H`, `-I`, `-p`, `-u`, `-S`, `-e`, `-s`, `-C days[,days]`, `-w`,
//! `-c` (ranges on the response time), `-t`, as monitoring-plugins 2.3 gives them.
//!
//! The request is one blocking HTTP/1.x exchange over a std (or OpenSSL) stream, on
//! the bounded blocking thread every connecting built-in gets. Not reqwest (already a
//! dependency): it is async, and the plugin's answer is made of what a client library
//! hides on purpose — its exact request line and headers (HTTP/1.0 without `-H`), the
//! raw status line with the server's own reason phrase, the byte count of headers and
//! body together, and a handshake that verifies nothing.

use std::{
    io::{Read, Write},
    time::{Duration, Instant},
};

use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
    tcp::{self, ConnectError},
    tls::{self, Days},
};

const NAME: &str = "check_http";
pub(super) const FLAGS: [Flag; 11] = [
    flag('H', "hostname", true),
    flag('I', "IP-address", true),
    flag('p', "port", true),
    flag('u', "url", true),
    flag('S', "ssl", false),
    flag('e', "expect", true),
    flag('s', "string", true),
    flag('C', "certificate", true),
    flag('w', "warning", true),
    flag('c', "critical", true),
    flag('t', "timeout", true),
];
const USER_AGENT: &str = "check_http/v2.3.3 (monitoring-plugins 2.3.3)";
/// Bytes of a response kept for the checks (all of them are counted).
const KEEP: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// `-H`: the virtual host (the request is HTTP/1.1 with a `Host:` header).
    host: Option<String>,
    /// `-I`, else the host.
    address: String,
    port: u16,
    virtual_port: u16,
    url: String,
    ssl: bool,
    expect: Option<String>,
    string: Option<String>,
    days: Option<Days>,
    warn: Option<Range>,
    crit: Option<Range>,
    timeout: u64,
}

impl Http {
    pub fn parse(rest: &[String]) -> Result<Http, BuiltinError> {
        let mut http = Http {
            host: None,
            address: String::new(),
            port: 80,
            virtual_port: 0,
            url: "/".into(),
            ssl: false,
            expect: None,
            string: None,
            days: None,
            warn: None,
            crit: None,
            timeout: 10,
        };
        let mut address = None;
        let mut port_given = false;
        let number = |f: char, v: &str| v.parse::<u64>().map_err(|e| common::bad(NAME, f, v, e));
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            match f {
                'H' => http.host_flag(&value, port_given),
                'I' => address = Some(value),
                'p' => {
                    http.port = u16::try_from(number(f, &value)?)
                        .map_err(|e| common::bad(NAME, f, &value, e))?;
                    port_given = true;
                }
                'u' => http.url = value,
                'e' => http.expect = Some(value),
                's' => http.string = Some(value),
                'w' => http.warn = Some(common::range(NAME, f, &value)?),
                'c' => http.crit = Some(common::range(NAME, f, &value)?),
                'C' | 'S' => {
                    if f == 'C' {
                        http.days = Some(Days::parse(NAME, f, &value)?);
                    }
                    http.ssl = true;
                    if !port_given {
                        http.port = 443;
                    }
                }
                _ => http.timeout = number(f, &value)?,
            }
        }
        http.address =
            address
                .or_else(|| http.host.clone())
                .ok_or_else(|| BuiltinError::Invalid {
                    plugin: NAME.into(),
                    reason: "-H HOST or -I ADDRESS is required".into(),
                })?;
        if let Some(c) = &http.crit
            && c.end > http.timeout as f64
        {
            http.timeout = c.end as u64 + 1;
        }
        if http.virtual_port == 0 {
            http.virtual_port = http.port;
        }
        Ok(http)
    }

    /// `-H host` or `-H host:port` (the port is then the virtual and, unless `-p`
    /// came first, the real one).
    fn host_flag(&mut self, value: &str, port_given: bool) {
        let split = value
            .split_once(':')
            .filter(|(_, p)| !value.starts_with('[') && !p.contains(':'));
        match split {
            Some((host, port)) => {
                self.host = Some(host.to_string());
                self.virtual_port = port.parse().unwrap_or(0);
                if !port_given {
                    self.port = self.virtual_port;
                }
            }
            None => self.host = Some(value.to_string()),
        }
    }

    /// The request the plugin sends.
    fn request(&self) -> String {
        let version = if self.host.is_some() {
            "HTTP/1.1"
        } else {
            "HTTP/1.0"
        };
        let mut r = format!(
            "GET {} {version}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n",
            self.url
        );
        if let Some(host) = &self.host {
            let default = if self.ssl { 443 } else { 80 };
            if self.virtual_port == default {
                r.push_str(&format!("Host: {host}\r\n"));
            } else {
                r.push_str(&format!("Host: {host}:{}\r\n", self.virtual_port));
            }
        }
        r.push_str("\r\n");
        r
    }

    fn socket_timeout(&self) -> Output {
        let text = format!("CRITICAL - Socket timeout after {} seconds", self.timeout);
        Output::new(State::Critical, text)
    }

    pub fn run(&self) -> Output {
        let started = Instant::now();
        // `-t 0` sets no alarm in the plugin: only the check's `Timeout` applies.
        let timeout = Duration::from_secs(if self.timeout == 0 {
            86_400
        } else {
            self.timeout
        });
        let unable = |line: &str| {
            let text = format!("{line}\nHTTP CRITICAL - Unable to open TCP socket");
            Output::new(State::Critical, text)
        };
        let stream = match tcp::connect(&self.address, self.port, timeout) {
            Ok(s) => s,
            Err(ConnectError::Resolve(e)) => {
                let e = e.trim_start_matches("failed to lookup address information: ");
                return unable(e);
            }
            Err(ConnectError::TimedOut) => return self.socket_timeout(),
            Err(ConnectError::Refused(line)) => return unable(&line),
        };
        tcp::limit(&stream, started, timeout);
        // The plugin's alarm covers the whole run: each read gets what is left.
        let Ok(socket) = stream.try_clone() else {
            return self.socket_timeout();
        };
        let left = || {
            tcp::limit(&socket, started, timeout);
            started.elapsed() < timeout
        };
        let response = if self.ssl {
            let mut ssl = match tls::handshake(stream, None) {
                Ok(s) => s,
                Err(tls::Failed::TimedOut) => return self.socket_timeout(),
                Err(tls::Failed::Refused(text)) => return Output::new(State::Critical, text),
            };
            if let Some(days) = self.days {
                let (state, line) = tls::check_cert(&ssl, days);
                let _ = ssl.shutdown();
                return Output::new(state, line);
            }
            let got = self.exchange(&mut ssl, left);
            let _ = ssl.shutdown();
            got
        } else {
            let mut stream = stream;
            self.exchange(&mut stream, left)
        };
        match response {
            Ok(response) => self.evaluate(&response, started.elapsed().as_secs_f64()),
            Err(out) => out,
        }
    }

    /// Sends the request and reads the response to its end, while `left` says
    /// there is time left (and sets the socket's deadlines to it).
    fn exchange(
        &self,
        stream: &mut impl ReadWrite,
        left: impl Fn() -> bool,
    ) -> Result<Response, Output> {
        if let Err(e) = stream.write_all(self.request().as_bytes()) {
            if tls::timed_out(&e) {
                return Err(self.socket_timeout());
            }
        }
        let mut response = Response::default();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            if !left() {
                return Err(self.socket_timeout());
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => response.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if tls::timed_out(&e) => return Err(self.socket_timeout()),
                // A peer that resets or drops TLS without close_notify ends the page.
                Err(_) if response.size > 0 => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(_) => {
                    let text = "HTTP CRITICAL - Error on receive".to_string();
                    return Err(Output::new(State::Critical, text));
                }
            }
        }
        Ok(response)
    }

    /// The plugin's verdict on a response read in `elapsed` seconds.
    fn evaluate(&self, response: &Response, elapsed: f64) -> Output {
        let critical = |text: String| Output::new(State::Critical, text);
        if response.size == 0 {
            return critical("HTTP CRITICAL - No data received from host".into());
        }
        let page = String::from_utf8_lossy(&response.kept).replace('\0', " ");
        let (status_line, header, body) = split(&page);
        let expect = self.expect.as_deref().unwrap_or("HTTP/1.");
        let matched = expect
            .split(',')
            .filter(|c| !c.is_empty())
            .any(|c| status_line.contains(c));
        if !matched {
            let on_port = if self.port == 80 {
                String::new()
            } else {
                format!(" on port {}", self.port)
            };
            return critical(format!(
                "HTTP CRITICAL - Invalid HTTP response received from host{on_port}: {status_line}"
            ));
        }
        let (mut msg, mut state) = match &self.expect {
            Some(e) => (format!("Status line output matched \"{e}\" - "), State::Ok),
            None => match code_state(status_line) {
                Ok(state) => (format!("{status_line} - "), state),
                Err(text) => return critical(text),
            },
        };
        if let Some(wanted) = &self.string {
            let chunked = header
                .to_ascii_lowercase()
                .split("transfer-encoding:")
                .skip(1)
                .any(|rest| rest.trim_start_matches(' ').starts_with("chunked"));
            let body = if chunked {
                match unchunk(body) {
                    Some(b) => b,
                    None => {
                        let text = "HTTP UNKNOWN: Failed to unchunk message body".to_string();
                        return Output::new(State::Unknown, text);
                    }
                }
            } else {
                body.to_string()
            };
            if !body.contains(wanted.as_str()) {
                msg.push_str(&self.not_found(wanted));
                state = State::Critical;
            }
        }
        // The plugin cuts `, ` or ` - ` off the end.
        let cut = if msg.as_bytes().get(msg.len().wrapping_sub(2)) == Some(&b',') {
            2
        } else {
            3
        };
        msg.truncate(msg.len().saturating_sub(cut));
        let state = state.max(common::status(
            elapsed,
            self.warn.as_ref(),
            self.crit.as_ref(),
        ));
        let end = |r: &Option<Range>| {
            r.as_ref()
                .map_or(String::new(), |r| format!("{:.6}", r.end))
        };
        let text = format!(
            "HTTP {}: {msg} - {size} bytes in {elapsed:.3} second response time |time={elapsed:.6}s;{};{};0.000000;{:.6} size={size}B;;;0;",
            state.word(),
            end(&self.warn),
            end(&self.crit),
            self.timeout as f64,
            size = response.size,
        );
        Output::new(state, text)
    }

    /// `string 'S' not found on 'URL', ` (S cut to 26 characters and `...`).
    fn not_found(&self, wanted: &str) -> String {
        let shown = if wanted.len() >= 30 {
            let mut end = 26;
            while !wanted.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...", &wanted[..end])
        } else {
            wanted.to_string()
        };
        let scheme = if self.ssl { "https" } else { "http" };
        let host = self.host.as_deref().unwrap_or(&self.address);
        format!(
            "string '{shown}' not found on '{scheme}://{host}:{}{}', ",
            self.port, self.url
        )
    }
}

/// A stream the request goes over (TCP, or TLS over it).
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// What came back: the bytes kept and how many there were.
#[derive(Debug, Default)]
struct Response {
    kept: Vec<u8>,
    size: usize,
}

impl Response {
    fn push(&mut self, bytes: &[u8]) {
        self.size += bytes.len();
        let room = KEEP.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// The state of a status line by its code: 5xx CRITICAL, 4xx WARNING, else OK;
/// or the plugin's text for a line without a valid code.
fn code_state(status_line: &str) -> Result<State, String> {
    let code = status_line.split_once(' ').map_or("", |(_, rest)| rest);
    let digits = code.bytes().take_while(u8::is_ascii_digit).count();
    if digits != 3 {
        return Err(format!(
            "HTTP CRITICAL: Invalid Status Line ({status_line})"
        ));
    }
    match code[..3].parse::<u16>().unwrap_or(0) {
        c if !(100..600).contains(&c) => {
            Err(format!("HTTP CRITICAL: Invalid Status ({status_line})"))
        }
        500.. => Ok(State::Critical),
        400.. => Ok(State::Warning),
        _ => Ok(State::Ok),
    }
}

/// The status line (trailing blanks stripped), the headers and the body, split as
/// the plugin splits them.
fn split(page: &str) -> (&str, &str, &str) {
    let crlf = |s: &str| s.bytes().take_while(|b| *b == b'\r' || *b == b'\n').count();
    let line_len = |s: &str| s.find(['\r', '\n']).unwrap_or(s.len());
    let end = line_len(page);
    let status = page[..end].trim_end_matches([' ', '\r', '\n', '\t']);
    let mut p = end + crlf(&page[end..]);
    let header_start = p;
    let mut header_end = p;
    while line_len(&page[p..]) > 0 {
        p += line_len(&page[p..]);
        header_end = p;
        let rest = &page[p..];
        let single = |c: u8| rest.bytes().take_while(|b| *b == c).count() == 1;
        p += if (single(b'\r') || single(b'\n')) && crlf(rest) >= 2 {
            2
        } else {
            1
        };
        p = p.min(page.len());
    }
    p += crlf(&page[p..]);
    (status, &page[header_start..header_end], &page[p..])
}

/// A chunked body joined, as the plugin's `unchunk_content` reads it.
fn unchunk(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let trimmed = rest.trim_start();
        let hex = trimmed.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 0 {
            return None;
        }
        let size = usize::from_str_radix(&trimmed[..hex], 16).ok()?;
        let after = &trimmed[hex..];
        let line_end = after.find('\r').unwrap_or(after.len());
        let start = (line_end + 2).min(after.len());
        if size == 0 {
            return Some(out);
        }
        let end = (start + size).min(after.len());
        out.push_str(after.get(start..end)?);
        rest = after.get((end + 2).min(after.len())..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(s: &str) -> Http {
        Http::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>()).unwrap()
    }

    fn answer(h: &Http, raw: &str) -> Output {
        let mut r = Response::default();
        r.push(raw.as_bytes());
        h.evaluate(&r, 0.002)
    }

    #[test]
    fn requests_are_the_plugins() {
        let agent = "User-Agent: check_http/v2.3.3 (monitoring-plugins 2.3.3)\r\n";
        assert_eq!(
            http("-I 127.0.0.1 -p 8080").request(),
            format!("GET / HTTP/1.0\r\n{agent}Connection: close\r\n\r\n")
        );
        assert_eq!(
            http("-H example.org -u /x?y").request(),
            format!("GET /x?y HTTP/1.1\r\n{agent}Connection: close\r\nHost: example.org\r\n\r\n")
        );
        let h = http("-H example.org:8080 -S");
        assert_eq!(
            (h.port, h.virtual_port, h.address.as_str()),
            (443, 8080, "example.org")
        );
        assert!(h.request().contains("Host: example.org:8080\r\n"));
        let h = http("-H a -p 8443 -C 30,7");
        assert!(h.ssl && h.days.is_some() && h.port == 8443);
        assert!(h.request().contains("Host: a:8443\r\n"));
        assert_eq!(http("-H a -c 30").timeout, 31);
        for bad in [
            "-p 80",
            "-H a -f ok",
            "-H a -w x",
            "-H a -C -1",
            "-H a -t x",
            "-H a -S1.2",
        ] {
            let args: Vec<String> = bad.split_whitespace().map(String::from).collect();
            assert!(Http::parse(&args).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_the_plugins() {
        let h = http("-H h -p 81");
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let out = answer(&h, ok);
        assert_eq!(
            out.text,
            "HTTP OK: HTTP/1.1 200 OK - 43 bytes in 0.002 second response time |time=0.002000s;;;0.000000;10.000000 size=43B;;;0;"
        );
        assert_eq!(answer(&h, "HTTP/1.0 301 Moved\r\n\r\n").code, 0);
        assert_eq!(answer(&h, "HTTP/1.0 404 Nope\r\n\r\n").code, 1);
        assert_eq!(answer(&h, "HTTP/1.0 503 Busy\r\n\r\n").code, 2);
        assert_eq!(
            answer(&h, "SSH-2.0-x\r\n").text,
            "HTTP CRITICAL - Invalid HTTP response received from host on port 81: SSH-2.0-x"
        );
        assert_eq!(
            answer(&h, "HTTP/1.0 2x OK\r\n").text,
            "HTTP CRITICAL: Invalid Status Line (HTTP/1.0 2x OK)"
        );
        let h = http("-H h -e 404,200 -s zzz -w 0.001 -c 5");
        let out = answer(&h, ok);
        assert_eq!(out.code, 2);
        assert!(out.text.starts_with(
            "HTTP CRITICAL: Status line output matched \"404,200\" - string 'zzz' not found on 'http://h:80/' - 43 bytes"
        ), "{}", out.text);
        assert!(
            out.text
                .contains("|time=0.002000s;0.001000;5.000000;0.000000;10.000000 ")
        );
        let h = http("-I 10.0.0.1 -s hello");
        let chunked =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
        assert_eq!(answer(&h, chunked).code, 0);
        let long = http("-I a -s abcdefghijklmnopqrstuvwxyz0123456789");
        assert!(
            answer(&long, ok)
                .text
                .contains("string 'abcdefghijklmnopqrstuvwxyz...' not found on 'http://a:80/'")
        );
        assert_eq!(
            answer(&h, "").text,
            "HTTP CRITICAL - No data received from host"
        );
    }

    #[test]
    fn pages_split_as_the_plugin_splits_them() {
        assert_eq!(
            split("HTTP/1.1 200 OK \r\nA: b\r\nC: d\r\n\r\nbody\r\n"),
            ("HTTP/1.1 200 OK", "A: b\r\nC: d", "body\r\n")
        );
        assert_eq!(split("HTTP/1.0 200 OK\n\nx"), ("HTTP/1.0 200 OK", "x", ""));
        assert_eq!(
            unchunk("5;x=y\r\nhello\r\n0\r\n\r\n").as_deref(),
            Some("hello")
        );
        assert_eq!(unchunk("zz"), None);
    }
}
