//! TLS for the NRPE port with OpenSSL, as decisions.md D6 records it:
//! anonymous DH/ECDH at security level 0 (what check_nrpe's default
//! `ALL:!MD5:@STRENGTH:@SECLEVEL=0` negotiates), TLS 1.2 at most without a
//! certificate, certificate mode with optional client-certificate checking.
//! The handshake and the keep-the-previous-context rule are [`crate::net::tls`]'s.

use openssl::{
    dh::Dh,
    ssl::{SslContext, SslFiletype, SslMethod, SslVerifyMode, SslVersion},
};
use smoker_compat::nrpe_cfg::{NrpeConfig, TlsVersion};

/// TLS setup failure, naming the step.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct TlsError {
    step: String,
    #[source]
    source: openssl::error::ErrorStack,
}

fn step<T>(
    what: impl Into<String>,
    r: Result<T, openssl::error::ErrorStack>,
) -> Result<T, TlsError> {
    r.map_err(|source| TlsError {
        step: what.into(),
        source,
    })
}

fn proto(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls1_0 => SslVersion::TLS1,
        TlsVersion::Tls1_1 => SslVersion::TLS1_1,
        TlsVersion::Tls1_2 => SslVersion::TLS1_2,
        TlsVersion::Tls1_3 => SslVersion::TLS1_3,
    }
}

/// The cipher list nrpe uses for `ssl_cipher_list` and `ssl_use_adh`.
pub fn cipher_list(c: &NrpeConfig) -> String {
    match c.ssl_use_adh {
        0 => format!("{}:!ADH", c.ssl_cipher_list),
        2 => "ADH:@SECLEVEL=0".to_string(),
        _ => c.ssl_cipher_list.clone(),
    }
}

/// Builds the server context from nrpe.cfg's `ssl_*` settings.
pub fn context(c: &NrpeConfig) -> Result<SslContext, TlsError> {
    let mut b = step("context", SslContext::builder(SslMethod::tls_server()))?;
    let ciphers = cipher_list(c);
    step(
        format!("ssl_cipher_list {ciphers:?}"),
        b.set_cipher_list(&ciphers),
    )?;
    let dh = step("DH parameters", Dh::get_2048_256())?;
    step("DH parameters", b.set_tmp_dh(&dh))?;
    let version = proto(c.ssl_version.version);
    step("ssl_version", b.set_min_proto_version(Some(version)))?;
    if !c.ssl_version.or_higher {
        step("ssl_version", b.set_max_proto_version(Some(version)))?;
    }
    match (&c.ssl_cert_file, &c.ssl_privatekey_file) {
        (Some(cert), Some(key)) => {
            step(
                format!("ssl_cert_file {cert}"),
                b.set_certificate_chain_file(cert),
            )?;
            step(
                format!("ssl_privatekey_file {key}"),
                b.set_private_key_file(key, SslFiletype::PEM),
            )?;
            step("certificate and key do not match", b.check_private_key())?;
        }
        _ => {
            // Anonymous suites do not exist in TLS 1.3.
            if c.ssl_version.or_higher || c.ssl_version.version < TlsVersion::Tls1_3 {
                step(
                    "max protocol",
                    b.set_max_proto_version(Some(SslVersion::TLS1_2)),
                )?;
            }
        }
    }
    if let Some(ca) = &c.ssl_cacert_file {
        step(format!("ssl_cacert_file {ca}"), b.set_ca_file(ca))?;
    }
    match c.ssl_client_certs {
        0 => b.set_verify(SslVerifyMode::NONE),
        1 => b.set_verify(SslVerifyMode::PEER),
        _ => b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT),
    }
    Ok(b.build())
}
