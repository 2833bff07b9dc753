//! Client networks: who sent a report, as a keyed hash of the sender's /24 (IPv4) or /48
//! (IPv6) — enough to count distinct senders, never the address itself.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::report::store::Network;

/// Where the sender's address comes from.
#[derive(Debug, Clone, Default)]
pub(crate) enum ClientIp {
    /// The TCP peer, from axum's `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`); none without it.
    #[default]
    Peer,
    /// The last address of this header, which the proxy in front appends
    /// (`X-Forwarded-For`): only when a proxy you run sets it and clients cannot.
    Header(HeaderName),
}

/// Says once per process that reports come without a client address: then every report's
/// reach is 0, and nothing is learned, promoted or alerted on — the mistake is silent
/// otherwise.
fn no_address_once() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        tracing::warn!(
            target: "connect_src::report",
            "reports arrive without a client address: serve the app with \
             `into_make_service_with_connect_info::<SocketAddr>()` (or, behind a proxy you \
             run, set `CollectorBuilder::client_ip_header`); until then no report has reach, \
             and nothing is learned, promoted or alerted on"
        );
    });
}

/// Hashes addresses into [`Network`]s with a key, so the stored value tells networks apart
/// without telling what they are.
#[derive(Clone)]
pub(crate) struct Networks {
    key: Arc<Vec<u8>>,
    pub(crate) from: ClientIp,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Networks")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Default for Networks {
    /// A key random to this process: distinct networks are told apart within it, but two
    /// processes hash the same network differently (give a fleet one key).
    fn default() -> Self {
        let random = std::collections::hash_map::RandomState::new();
        let mut key = Vec::with_capacity(32);
        for i in 0..4u64 {
            let mut h = random.build_hasher();
            h.write_u64(i);
            key.extend_from_slice(&h.finish().to_le_bytes());
        }
        Networks {
            key: Arc::new(key),
            from: ClientIp::Peer,
        }
    }
}

impl Networks {
    /// Hashes with `key` (any length; the same for every collector of a fleet).
    pub(crate) fn keyed(key: &[u8]) -> Networks {
        Networks {
            key: Arc::new(key.to_vec()),
            from: ClientIp::Peer,
        }
    }

    /// The network of `ip`: its /24 or /48 prefix, under HMAC-SHA-256 with the key, the
    /// first 8 bytes. An IPv4-mapped IPv6 address counts as its IPv4.
    pub(crate) fn of(&self, ip: IpAddr) -> Network {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(b"connect-src network v1:");
        match ip {
            IpAddr::V4(v4) => mac.update(&v4.octets()[..3]),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => mac.update(&v4.octets()[..3]),
                None => mac.update(&v6.octets()[..6]),
            },
        }
        let tag = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag[..8]);
        Network(u64::from_be_bytes(first))
    }

    /// The sender's network, from the request as configured; `None` when its address is
    /// unknown (no connect info, no such header, or a header that is not an address).
    #[cfg(test)]
    pub(crate) fn of_request<B>(&self, req: &axum::http::Request<B>) -> Option<Network> {
        self.of_parts(req.headers(), req.extensions())
    }

    pub(crate) fn of_parts(
        &self,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Option<Network> {
        let ip = match &self.from {
            ClientIp::Peer => {
                let peer = extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(a)| a.ip());
                if peer.is_none() {
                    no_address_once();
                }
                peer
            }
            ClientIp::Header(name) => headers
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok()),
        }?;
        Some(self.of(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[test]
    fn one_network_per_prefix_and_keyed() {
        let n = Networks::keyed(b"a key");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(n.of(ip("203.0.113.7")), n.of(ip("203.0.113.200")));
        assert_ne!(n.of(ip("203.0.113.7")), n.of(ip("203.0.114.7")));
        assert_eq!(n.of(ip("2001:db8:1::1")), n.of(ip("2001:db8:1:ffff::2")));
        assert_ne!(n.of(ip("2001:db8:1::1")), n.of(ip("2001:db8:2::1")));
        assert_eq!(n.of(ip("::ffff:203.0.113.9")), n.of(ip("203.0.113.1")));
        assert_ne!(
            Networks::keyed(b"another").of(ip("203.0.113.7")),
            n.of(ip("203.0.113.7"))
        );
        // The last address of the header, as a proxy appends it.
        let h = Networks {
            from: ClientIp::Header(HeaderName::from_static("x-forwarded-for")),
            ..Networks::keyed(b"a key")
        };
        let req = Request::builder()
            .header("x-forwarded-for", "10.0.0.1, 198.51.100.4")
            .body(())
            .unwrap();
        assert_eq!(h.of_request(&req), Some(n.of(ip("198.51.100.9"))));
        let none = Request::builder().body(()).unwrap();
        assert_eq!(h.of_request(&none), None);
        assert_eq!(n.of_request(&none), None, "no connect info");
    }
}
