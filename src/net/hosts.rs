//! `allowed_hosts` of every listener (the API's `api.allowed_hosts`, nrpe.cfg's
//! `allowed_hosts`), parsed once when the configuration is loaded and checked on
//! each connection before a byte of TLS, HTTP or NRPE is read.
//!
//! Entries are addresses, networks (`10.0.0.0/8`, `fd00::/8`) or names, as
//! [`smoker_compat::nrpe_cfg::parse_allowed_host`] reads them. Names are
//! resolved on every connection (as nrpe does). An IPv4-mapped IPv6 peer
//! (`::ffff:a.b.c.d`, what a dual-stack `::` socket reports for an IPv4 client)
//! is the IPv4 host `a.b.c.d`: this module is the one place that says so.

use std::net::IpAddr;

use smoker_compat::nrpe_cfg::{AllowedHost, parse_allowed_host};
use tracing::debug;

/// The hosts a listener serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// `None` = everyone; `Some(empty)` = nobody.
    entries: Option<Vec<AllowedHost>>,
}

impl AllowedHosts {
    /// Everyone may connect.
    pub fn everyone() -> AllowedHosts {
        AllowedHosts { entries: None }
    }

    /// From configured strings (`api.allowed_hosts`); an empty list allows everyone.
    /// Entries that do not parse are left out (the config loader rejects them).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> AllowedHosts {
        if entries.is_empty() {
            return AllowedHosts::everyone();
        }
        let parsed = entries
            .iter()
            .filter_map(|h| parse_allowed_host(h.as_ref().trim()).ok())
            .collect();
        AllowedHosts::from_entries(Some(parsed))
    }

    /// From entries parsed already (nrpe.cfg): `None` allows everyone, an
    /// empty list nobody.
    pub fn from_entries(entries: Option<Vec<AllowedHost>>) -> AllowedHosts {
        AllowedHosts {
            entries: entries.map(|e| e.into_iter().map(unmapped_entry).collect()),
        }
    }

    /// Whether `peer` may connect: an address or network entry matches, or a
    /// name entry resolves to the peer's address.
    pub async fn allows(&self, peer: IpAddr) -> bool {
        let Some(entries) = &self.entries else {
            return true;
        };
        let ip = unmapped(peer);
        if entries.iter().any(|h| h.matches(ip) || h.matches(peer)) {
            return true;
        }
        for entry in entries {
            let AllowedHost::Name(name) = entry else {
                continue;
            };
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(mut addrs) => {
                    if addrs.any(|a| unmapped(a.ip()) == ip) {
                        return true;
                    }
                }
                Err(e) => {
                    debug!(host = %name, error = %e, "An allowed_hosts name does not resolve.")
                }
            }
        }
        false
    }
}

/// A network inside `::ffff:0:0/96` as the IPv4 network it is; every other entry as it is.
fn unmapped_entry(entry: AllowedHost) -> AllowedHost {
    match entry {
        AllowedHost::V6 { net, prefix } if prefix >= 96 => match net.to_ipv4_mapped() {
            Some(net) => AllowedHost::V4 {
                net,
                prefix: prefix - 96,
            },
            None => entry,
        },
        other => other,
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; every other address as it is.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(hosts: &AllowedHosts, ips: &[&str]) -> Vec<bool> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        ips.iter()
            .map(|ip| rt.block_on(hosts.allows(ip.parse().unwrap())))
            .collect()
    }

    #[test]
    fn ipv4_addresses_networks_and_mapped_peers() {
        // The verdicts of the API's ACL test before `net` existed.
        let hosts = AllowedHosts::parse(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(
            verdicts(
                &hosts,
                &[
                    "127.0.0.1",
                    "10.20.30.40",
                    "::ffff:10.1.2.3",
                    "::ffff:127.0.0.1",
                    "127.0.0.2",
                    "192.168.1.1",
                    "::1",
                    "::ffff:192.168.1.1",
                ]
            ),
            [true, true, true, true, false, false, false, false]
        );
    }

    #[test]
    fn ipv6_entries_and_explicit_mapped_entries() {
        let hosts = AllowedHosts::parse(&["fd00::/8", "::1", "::ffff:192.0.2.0/120"]);
        assert_eq!(
            verdicts(
                &hosts,
                &[
                    "fd12::3",
                    "::1",
                    "fe80::1",
                    "192.0.2.7",
                    "::ffff:192.0.2.7",
                    "127.0.0.1"
                ]
            ),
            [true, true, false, true, true, false]
        );
    }

    #[test]
    fn names_resolve_and_mapped_peers_match_them() {
        let hosts = AllowedHosts::parse(&["localhost", "no-such-host.invalid"]);
        assert_eq!(
            verdicts(&hosts, &["127.0.0.1", "::ffff:127.0.0.1", "192.0.2.1"]),
            [true, true, false]
        );
    }

    #[test]
    fn empty_lists_and_nothing_configured() {
        assert_eq!(
            verdicts(&AllowedHosts::everyone(), &["192.0.2.1", "::1"]),
            [true, true]
        );
        let none: [&str; 0] = [];
        assert_eq!(
            verdicts(&AllowedHosts::parse(&none), &["192.0.2.1"]),
            [true]
        );
        // nrpe.cfg's `allowed_hosts=` with no entry: nobody.
        assert_eq!(
            verdicts(&AllowedHosts::from_entries(Some(vec![])), &["127.0.0.1"]),
            [false]
        );
        assert_eq!(
            verdicts(&AllowedHosts::from_entries(None), &["127.0.0.1"]),
            [true]
        );
    }
}
