//! The parts of a URL the algorithm reads ([`Target`]), computed once per check: read
//! directly for plain URLs, from `Url::parse` otherwise.

use url::Url;

use crate::source::{default_port, is_loopback_host};

/// Path bytes that `Url::parse` keeps as they are (RFC 3986 unreserved, sub-delims, `:@/`),
/// minus `%`, which the fast path leaves to the parser.
const PLAIN_PATH: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        c += 1;
    }
    t
};

/// The parts of a URL the algorithm reads: scheme, host, explicit port and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Target<'a> {
    pub(super) scheme: &'a str,
    /// Lower-case domain or IPv4 text; `None` for hostless or IPv6 URLs.
    pub(super) host: Option<&'a str>,
    pub(super) is_ip: bool,
    /// The explicit port, `None` when the URL uses its scheme's default.
    pub(super) port: Option<u16>,
    /// The serialized path (no query, no fragment).
    pub(super) path: &'a str,
}

impl<'a> Target<'a> {
    pub(super) fn new(url: &'a Url) -> Self {
        let (host, is_ip) = match url.host() {
            Some(url::Host::Domain(_)) => (url.host_str(), false),
            Some(url::Host::Ipv4(_)) => (url.host_str(), true),
            Some(url::Host::Ipv6(_)) => (url.host_str(), true),
            None => (None, false),
        };
        Target {
            scheme: url.scheme(),
            host,
            is_ip,
            port: url.port(),
            path: url.path(),
        }
    }

    /// The parts of a plain URL, read without a full parse, exactly as `Url::parse` would
    /// give them; `None` for anything not plainly simple (the caller then parses it):
    /// `http|https|ws|wss://` + a lower-case ASCII domain whose last label starts with a
    /// letter (so never an IPv4 form) and has no punycode label + an optional canonical port
    /// + a path of plain characters without `%`, `\` or dot segments.
    pub(super) fn simple(text: &'a str) -> Option<Target<'a>> {
        let (scheme, rest) = ["https", "http", "wss", "ws"]
            .into_iter()
            .find_map(|s| Some((s, text.strip_prefix(s)?.strip_prefix("://")?)))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let mut labels = 0;
        for label in host.split('.') {
            let b = label.as_bytes();
            if b.is_empty()
                || b.len() > 63
                || b[0] == b'-'
                || b[b.len() - 1] == b'-'
                || label.starts_with("xn--")
                || !b
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            {
                return None;
            }
            labels += 1;
        }
        let last = host.rsplit('.').next()?;
        if labels == 0 || !last.as_bytes()[0].is_ascii_lowercase() {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) => {
                if p.is_empty()
                    || p.len() > 5
                    || p.starts_with('0')
                    || !p.bytes().all(|c| c.is_ascii_digit())
                {
                    return None;
                }
                let n: u16 = p.parse().ok()?;
                (Some(n) != default_port(scheme)).then_some(n)
            }
        };
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let path = &tail[..path_end];
        let plain = path.bytes().all(|c| PLAIN_PATH[c as usize]);
        let dot_segment = path.split('/').any(|seg| seg == "." || seg == "..");
        if !plain || dot_segment {
            return None;
        }
        Some(Target {
            scheme,
            host: Some(host),
            is_ip: false,
            port,
            path: if path.is_empty() { "/" } else { path },
        })
    }

    pub(super) fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme))
    }

    /// The URL `upgrade-insecure-requests` makes of this one (UIR §4.1: `http:` becomes
    /// `https:`, `ws:` becomes `wss:`, port 80 becomes 443 and any other port stays), or
    /// `None` when there is nothing to upgrade.
    pub(super) fn upgraded(&self) -> Option<Target<'a>> {
        let scheme = match self.scheme {
            "http" => "https",
            "ws" => "wss",
            _ => return None,
        };
        Some(Target {
            scheme,
            host: self.host,
            is_ip: self.is_ip,
            // A default port is never explicit in a parsed URL: `http://h:443/` upgrades to
            // `https://h/`.
            port: self.port.filter(|p| Some(*p) != default_port(scheme)),
            path: self.path,
        })
    }

    /// Whether the host is a loopback name or address (`localhost`, `*.localhost`,
    /// 127.0.0.0/8, `[::1]`).
    pub(super) fn is_loopback(&self) -> bool {
        self.host.is_some_and(is_loopback_host)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_takes_plain_urls_only() {
        for ok in [
            "https://api.x.com/v1/a?q=1",
            "wss://ws.x.com:8443/s",
            "http://a.localhost:3000",
            "https://x.com:443/",
        ] {
            assert!(Target::simple(ok).is_some(), "{ok}");
        }
        for other in [
            "HTTPS://x.com/",
            "https://X.com/",
            "https://127.0.0.1/",
            "https://x.0x7f/",
            "https://xn--bcher-kva.example/",
            "https://u@x.com/",
            "https://x.com:080/",
            "https://x.com/a/../b",
            "https://x.com/a%2Fb",
            "https://x.com\\a",
            "https://bücher.example/",
            "https://x..com/",
            "https://[::1]/",
            "data:text/plain,x",
            " https://x.com/",
        ] {
            assert!(Target::simple(other).is_none(), "{other}");
        }
        assert_eq!(
            Target::simple("https://x.com:443").unwrap().port,
            None,
            "default port dropped, as Url does"
        );
        assert_eq!(Target::simple("https://x.com").unwrap().path, "/");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// The fast path agrees with `Url::parse` on everything it accepts.
        #[test]
        fn simple_targets_equal_url_parse(text in simple_like()) {
            if let Some(fast) = Target::simple(&text) {
                let url = Url::parse(&text).expect("the fast path accepted an invalid URL");
                proptest::prop_assert_eq!(fast, Target::new(&url), "{}", text);
            }
        }
    }

    fn simple_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let scheme = prop_oneof![
            Just("http://"),
            Just("https://"),
            Just("ws://"),
            Just("wss://"),
            Just("HTTP://"),
            Just("ftp://")
        ];
        let label = prop_oneof![
            "[a-z][a-z0-9-]{0,6}",
            "[0-9]{1,3}",
            Just("xn--bcher-kva".to_owned()),
            Just("0x7f".to_owned()),
            Just("A".to_owned()),
            Just("-a".to_owned()),
            Just("".to_owned()),
            Just("ü".to_owned()),
        ];
        let host = proptest::collection::vec(label, 1..4).prop_map(|v| v.join("."));
        let port = prop_oneof![
            Just(String::new()),
            Just(":80".to_owned()),
            Just(":443".to_owned()),
            Just(":".to_owned()),
            Just(":080".to_owned()),
            Just(":65536".to_owned()),
            "[:][0-9]{1,5}"
        ];
        let seg = prop_oneof![
            "[a-zA-Z0-9._~-]{0,5}",
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("a b".to_owned()),
            Just("\\".to_owned()),
            Just("é".to_owned())
        ];
        let path = proptest::collection::vec(seg, 0..4).prop_map(|v| {
            if v.is_empty() {
                String::new()
            } else {
                format!("/{}", v.join("/"))
            }
        });
        let tail = prop_oneof![Just(""), Just("?q=1"), Just("#f"), Just("?a/../b#c")];
        (scheme, host, port, path, tail).prop_map(|(s, h, p, pa, t)| format!("{s}{h}{p}{pa}{t}"))
    }
}
