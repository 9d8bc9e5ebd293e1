//! TLS for `check_tcp -S/-D` and `check_http -S/-C`: the handshake the plugins make
//! (no certificate verification, no session tickets, SNI only when asked for) and
//! their certificate-expiry verdict and text (`sslutils.c` of monitoring-plugins 2.3).

use std::net::TcpStream;

use openssl::{
    asn1::{Asn1Time, Asn1TimeRef},
    nid::Nid,
    ssl::{HandshakeError, Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode},
    x509::X509Ref,
};

use super::common::{self, BuiltinError, State};

/// Certificate-expiry thresholds in days (`-D warn[,crit]`, `-C warn[,crit]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    warn: i64,
    crit: i64,
}

impl Days {
    /// `N` (critical 0) or `N,M`, each a non-negative integer, as the plugins take it.
    pub fn parse(plugin: &str, flag: char, value: &str) -> Result<Days, BuiltinError> {
        let int = |t: &str| {
            t.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                common::bad(plugin, flag, value, "invalid certificate expiration period")
            })
        };
        Ok(match value.split_once(',') {
            Some((w, c)) => Days {
                warn: int(w)?,
                crit: int(c)?,
            },
            None => Days {
                warn: int(value)?,
                crit: 0,
            },
        })
    }
}

/// Why a handshake did not complete.
pub enum Failed {
    /// The socket's deadline passed.
    TimedOut,
    /// The plugins' `CRITICAL - Cannot make SSL connection.` and OpenSSL's errors.
    Refused(String),
}

/// The client handshake of `np_net_ssl_init`: any protocol version, no verification.
pub fn handshake(stream: TcpStream, sni: Option<&str>) -> Result<SslStream<TcpStream>, Failed> {
    let refused = |detail: String| {
        let mut text = "CRITICAL - Cannot make SSL connection.".to_string();
        if !detail.is_empty() {
            text.push('\n');
            text.push_str(&detail);
        }
        Failed::Refused(text)
    };
    let ssl = (|| {
        let mut ctx = SslContext::builder(SslMethod::tls_client())?;
        ctx.set_options(SslOptions::NO_TICKET);
        ctx.set_verify(SslVerifyMode::NONE);
        let mut ssl = Ssl::new(&ctx.build())?;
        if let Some(name) = sni {
            ssl.set_hostname(name)?;
        }
        Ok::<_, openssl::error::ErrorStack>(ssl)
    })()
    .map_err(|e| refused(e.to_string()))?;
    match ssl.connect(stream) {
        Ok(s) => Ok(s),
        Err(HandshakeError::WouldBlock(_)) => Err(Failed::TimedOut),
        Err(HandshakeError::SetupFailure(e)) => Err(refused(e.to_string())),
        Err(HandshakeError::Failure(mid)) => {
            let error = mid.error();
            if error.io_error().is_some_and(timed_out) {
                return Err(Failed::TimedOut);
            }
            let detail = match error.ssl_error() {
                Some(stack) => stack
                    .errors()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => error.to_string(),
            };
            Err(refused(detail))
        }
    }
}

/// Whether an I/O error is a socket deadline passing.
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// `np_net_ssl_check_cert`: the state and line for the peer's certificate.
pub fn check_cert<S>(stream: &SslStream<S>, days: Days) -> (State, String) {
    match stream.ssl().peer_certificate() {
        Some(cert) => verdict(&cert, days, now()),
        None => (
            State::Critical,
            "CRITICAL - Cannot retrieve server certificate.".into(),
        ),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Seconds since the epoch of an ASN.1 time.
fn unix(time: &Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(time).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// The verdict of `np_net_ssl_check_certificate` at `now` (seconds since the epoch).
fn verdict(cert: &X509Ref, days: Days, now: i64) -> (State, String) {
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| "Unknown CN".into());
    let Some(not_after) = unix(cert.not_after()) else {
        let text = "CRITICAL - Wrong time format in certificate.";
        return (State::Critical, text.into());
    };
    // `float time_left` and `int days_left` in the plugin.
    let time_left = (not_after - now) as f32;
    let days_left = (time_left / 86_400.0) as i64;
    // `%c %z` in the C locale with TZ=GMT.
    let stamp = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y +0000").to_string())
        .unwrap_or_default();
    let word = |s: State| s.word();
    let near = if days_left > days.crit {
        State::Warning
    } else {
        State::Critical
    };
    if days_left > 0 && days_left <= days.warn {
        let text = format!(
            "{} - Certificate '{cn}' expires in {days_left} day(s) ({stamp}).",
            word(near)
        );
        (near, text)
    } else if days_left == 0 && time_left > 0.0 {
        let (n, unit) = if time_left >= 3600.0 {
            (time_left as i64 / 3600, "hours")
        } else {
            (time_left as i64 / 60, "minutes")
        };
        let text = format!(
            "{} - Certificate '{cn}' expires in {n} {unit} ({stamp})",
            word(near)
        );
        (near, text)
    } else if time_left < 0.0 {
        let text = format!("CRITICAL - Certificate '{cn}' expired on {stamp}.");
        (State::Critical, text)
    } else if days_left == 0 {
        let text = format!(
            "{} - Certificate '{cn}' just expired ({stamp}).",
            word(near)
        );
        (near, text)
    } else {
        let text = format!("OK - Certificate '{cn}' will expire on {stamp}.");
        (State::Ok, text)
    }
}

#[cfg(test)]
mod tests {
    use openssl::{
        hash::MessageDigest,
        pkey::PKey,
        rsa::Rsa,
        x509::{X509, X509NameBuilder},
    };

    use super::*;

    /// A self-signed certificate for `cn` valid until `not_after`.
    fn cert(cn: &str, not_after: i64) -> X509 {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn expiry_verdicts_are_the_plugins() {
        // Fri Dec 11 23:29:10 2026 UTC.
        let end = 1_797_031_750;
        let c = cert("smoker-test", end);
        let d = |w, c| Days { warn: w, crit: c };
        let day = 86_400;
        let (s, t) = verdict(&c, d(10, 3), end - 4 * day - 50);
        assert_eq!(s, State::Warning);
        assert_eq!(
            t,
            "WARNING - Certificate 'smoker-test' expires in 4 day(s) (Fri Dec 11 23:29:10 2026 +0000)."
        );
        assert_eq!(verdict(&c, d(10, 6), end - 4 * day).0, State::Critical);
        let (s, t) = verdict(&c, d(2, 0), end - 4 * day);
        assert_eq!(s, State::Ok);
        assert_eq!(
            t,
            "OK - Certificate 'smoker-test' will expire on Fri Dec 11 23:29:10 2026 +0000."
        );
        let (s, t) = verdict(&c, d(2, 0), end - 7200);
        assert_eq!(s, State::Critical);
        assert!(
            t.ends_with("expires in 2 hours (Fri Dec 11 23:29:10 2026 +0000)"),
            "{t}"
        );
        let (_, t) = verdict(&c, d(2, 0), end - 600);
        assert!(t.contains("expires in 10 minutes"), "{t}");
        let (s, t) = verdict(&c, d(2, 0), end + 5);
        assert_eq!(s, State::Critical);
        assert_eq!(
            t,
            "CRITICAL - Certificate 'smoker-test' expired on Fri Dec 11 23:29:10 2026 +0000."
        );
        assert!(verdict(&c, d(2, 0), end).1.contains("just expired"));
    }

    #[test]
    fn days_parse_as_the_plugins() {
        assert_eq!(
            Days::parse("x", 'D', "30").unwrap(),
            Days { warn: 30, crit: 0 }
        );
        assert_eq!(
            Days::parse("x", 'D', "30,7").unwrap(),
            Days { warn: 30, crit: 7 }
        );
        assert!(Days::parse("x", 'D', "-1").is_err());
        assert!(Days::parse("x", 'D', "a,1").is_err());
    }
}
