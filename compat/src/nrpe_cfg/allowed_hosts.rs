//! `allowed_hosts` entries: parsing (address, network with prefix, or host name) and
//! matching a peer address.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// One `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    V4 {
        net: Ipv4Addr,
        prefix: u8,
    },
    V6 {
        net: Ipv6Addr,
        prefix: u8,
    },
    /// Resolved by the daemon on every connection.
    Name(String),
}

impl AllowedHost {
    /// Whether an address matches this IP entry. Families are compared
    /// strictly (an IPv4-mapped IPv6 peer only matches IPv6 entries).
    /// A [`AllowedHost::Name`] never matches here: resolve it first.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (AllowedHost::V4 { net, prefix }, IpAddr::V4(ip)) => {
                let mask = mask32(*prefix);
                u32::from(ip) & mask == u32::from(*net) & mask
            }
            (AllowedHost::V6 { net, prefix }, IpAddr::V6(ip)) => {
                let mask = mask128(*prefix);
                u128::from(ip) & mask == u128::from(*net) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHost::V4 { net, prefix: 32 } => write!(f, "{net}"),
            AllowedHost::V4 { net, prefix } => write!(f, "{net}/{prefix}"),
            AllowedHost::V6 { net, prefix: 128 } => write!(f, "{net}"),
            AllowedHost::V6 { net, prefix } => write!(f, "{net}/{prefix}"),
            AllowedHost::Name(name) => f.write_str(name),
        }
    }
}

pub(super) fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// Why an `allowed_hosts` entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostEntryError {
    #[error("invalid prefix length in {0:?}")]
    Prefix(String),
    #[error("{0:?} has host bits set outside its prefix")]
    HostBits(String),
    #[error("invalid address or host name {0:?}")]
    Invalid(String),
}

/// Parses one `allowed_hosts` entry (already trimmed, non-empty).
pub fn parse_allowed_host(entry: &str) -> Result<AllowedHost, HostEntryError> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (entry, None),
    };
    let prefix_len = |max: u8| -> Result<u8, HostEntryError> {
        match prefix {
            None => Ok(max),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(HostEntryError::Prefix(entry.to_string())),
                }
            }
            Some(_) => Err(HostEntryError::Prefix(entry.to_string())),
        }
    };
    if addr.contains(':') {
        let net: Ipv6Addr = addr
            .parse()
            .map_err(|_| HostEntryError::Invalid(entry.to_string()))?;
        let prefix = prefix_len(128)?;
        if u128::from(net) & !mask128(prefix) != 0 {
            return Err(HostEntryError::HostBits(entry.to_string()));
        }
        return Ok(AllowedHost::V6 { net, prefix });
    }
    if let Ok(net) = addr.parse::<Ipv4Addr>() {
        let prefix = prefix_len(32)?;
        if u32::from(net) & !mask32(prefix) != 0 {
            return Err(HostEntryError::HostBits(entry.to_string()));
        }
        return Ok(AllowedHost::V4 { net, prefix });
    }
    let hostname_ok = prefix.is_none()
        && !addr.is_empty()
        && addr.len() <= 253
        && !addr.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if hostname_ok {
        Ok(AllowedHost::Name(addr.to_string()))
    } else {
        Err(HostEntryError::Invalid(entry.to_string()))
    }
}
