//! The CSP3 §2.3.1 source-expression grammar: text → [`Source`], and the checks the typed
//! constructors share.

use super::{Host, HostSource, Port, Scheme, Source, SourceError, SourceErrorKind};

pub(super) fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Keywords CSP defines for other directives: valid CSP, meaningless in connect-src.
const OTHER_KEYWORDS: &[&str] = &[
    "unsafe-inline",
    "unsafe-eval",
    "strict-dynamic",
    "unsafe-hashes",
    "report-sample",
    "unsafe-allow-redirects",
    "wasm-unsafe-eval",
    "inline-speculation-rules",
    "trusted-types-eval",
    "report-sha256",
    "report-sha384",
    "report-sha512",
];

/// The characters a source can never contain, whatever its position (§2.3.1: the policy's
/// own separators, quotes outside keywords, whitespace and controls).
pub(super) fn forbidden_char(text: &str) -> Option<char> {
    text.chars()
        .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, ';' | ',' | '"'))
}

pub(super) fn parse_source(text: &str) -> Result<Source, SourceError> {
    let err = |kind| Err(SourceError::new(text, kind));
    if text.is_empty() {
        return err(SourceErrorKind::Empty);
    }
    if let Some(c) = forbidden_char(text) {
        return err(SourceErrorKind::ForbiddenChar(c));
    }
    // keyword-source = "'self'" / "'none'" / ... (ASCII case-insensitive, §2.3.1)
    if let Some(inner) = text.strip_prefix('\'') {
        let Some(inner) = inner.strip_suffix('\'') else {
            return err(SourceErrorKind::ForbiddenChar('\''));
        };
        if inner.contains('\'') {
            return err(SourceErrorKind::ForbiddenChar('\''));
        }
        let lower = inner.to_ascii_lowercase();
        return match lower.as_str() {
            "self" => Ok(Source::SelfOrigin),
            "none" => Ok(Source::None),
            "unsafe-webtransport-hashes" => Ok(Source::UnsafeWebTransportHashes),
            k if OTHER_KEYWORDS.contains(&k)
                || k.starts_with("nonce-")
                || k.starts_with("sha256-")
                || k.starts_with("sha384-")
                || k.starts_with("sha512-") =>
            {
                err(SourceErrorKind::NotForConnections)
            }
            _ => err(SourceErrorKind::UnknownKeyword),
        };
    }
    if text.contains('\'') {
        return err(SourceErrorKind::ForbiddenChar('\''));
    }
    let lower = text.to_ascii_lowercase();
    for k in ["self", "none"] {
        if lower == k {
            return err(SourceErrorKind::UnquotedKeyword(k));
        }
    }
    if OTHER_KEYWORDS.contains(&lower.as_str()) {
        return err(SourceErrorKind::NotForConnections);
    }

    // scheme-source = scheme-part ":"
    if let Some(scheme) = text.strip_suffix(':') {
        if is_scheme(scheme) {
            return Ok(Source::Scheme(Scheme(
                scheme.to_ascii_lowercase().into_boxed_str(),
            )));
        }
    }

    // host-source = [ scheme-part "://" ] host-part [ ":" port-part ] [ path-part ]
    let (scheme, rest) = match text.find("://") {
        Some(i) => {
            let s = &text[..i];
            if !is_scheme(s) {
                return err(SourceErrorKind::InvalidScheme);
            }
            (
                Some(Scheme(s.to_ascii_lowercase().into_boxed_str())),
                &text[i + 3..],
            )
        }
        None => (None, text),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.starts_with('[') {
        return err(SourceErrorKind::Ipv6Literal);
    }
    let (host_text, port_text) = match authority.rfind(':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    let host = parse_host(host_text).map_err(|k| SourceError::new(text, k))?;
    let port = match port_text {
        None => None,
        Some("*") => Some(Port::Any),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            let n = p.trim_start_matches('0');
            match n.parse::<u16>() {
                Ok(n) => Some(Port::Number(n)),
                Err(_) if n.is_empty() => Some(Port::Number(0)),
                Err(_) => return err(SourceErrorKind::PortOutOfRange),
            }
        }
        Some(_) => return err(SourceErrorKind::InvalidPort),
    };
    let path = match path {
        None => None,
        Some(p) => {
            if !is_path_absolute(p) {
                return err(SourceErrorKind::InvalidPath);
            }
            Some(p.into())
        }
    };
    Ok(Source::Host(HostSource {
        scheme,
        host,
        port,
        path,
    }))
}

/// host-part = "*" / [ "*." ] 1*host-char *( "." 1*host-char ) [ "." ]
pub(super) fn parse_host(text: &str) -> Result<Host, SourceErrorKind> {
    if text.is_empty() {
        return Err(SourceErrorKind::EmptyHost);
    }
    if text == "*" {
        return Ok(Host::Any);
    }
    let (wild, name) = match text.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if name.contains('*') {
        return Err(SourceErrorKind::MisplacedWildcard);
    }
    if name.is_empty() {
        return Err(SourceErrorKind::EmptyHost);
    }
    let ascii = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        // Internationalized names must be written as punycode (§2.3.1); convert with UTS 46.
        idna::domain_to_ascii_strict(name).map_err(|_| SourceErrorKind::Idna)?
    };
    let labels = ascii.strip_suffix('.').unwrap_or(&ascii);
    if labels.is_empty()
        || !labels
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(SourceErrorKind::InvalidHost);
    }
    let ascii = ascii.into_boxed_str();
    Ok(if wild {
        Host::Subdomains(ascii)
    } else {
        Host::Name(ascii)
    })
}

/// RFC 3986 path-absolute = "/" [ segment-nz *( "/" segment ) ], without ";" or ","
/// (§2.3.1 path-part). Percent-escapes must be well formed.
pub(super) fn is_path_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    if b.first() != Some(&b'/') || p.starts_with("//") {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 3;
                continue;
            }
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b'='
            | b':' | b'@' | b'/' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{is_loopback_host, is_strict_subdomain};

    fn ok(s: &str) -> String {
        s.parse::<Source>().unwrap().to_string()
    }
    fn kind(s: &str) -> SourceErrorKind {
        s.parse::<Source>().unwrap_err().kind
    }

    #[test]
    fn keywords() {
        assert_eq!(ok("'self'"), "'self'");
        assert_eq!(ok("'SELF'"), "'self'");
        assert_eq!(ok("'none'"), "'none'");
        assert_eq!(
            ok("'Unsafe-WebTransport-Hashes'"),
            "'unsafe-webtransport-hashes'",
            "CSP3's connect-src keyword"
        );
        assert_eq!(kind("self"), SourceErrorKind::UnquotedKeyword("self"));
        assert_eq!(kind("NONE"), SourceErrorKind::UnquotedKeyword("none"));
        assert_eq!(kind("'unsafe-inline'"), SourceErrorKind::NotForConnections);
        assert_eq!(kind("'unsafe-eval'"), SourceErrorKind::NotForConnections);
        assert_eq!(kind("'nonce-abc'"), SourceErrorKind::NotForConnections);
        assert_eq!(kind("'sha256-abc='"), SourceErrorKind::NotForConnections);
        assert_eq!(kind("unsafe-inline"), SourceErrorKind::NotForConnections);
        assert_eq!(kind("'selfish'"), SourceErrorKind::UnknownKeyword);
        assert_eq!(kind("'self"), SourceErrorKind::ForbiddenChar('\''));
        assert_eq!(kind("'se'lf'"), SourceErrorKind::ForbiddenChar('\''));
        assert_eq!(kind("a'b.com"), SourceErrorKind::ForbiddenChar('\''));
    }

    #[test]
    fn schemes() {
        assert_eq!(ok("https:"), "https:");
        assert_eq!(ok("WSS:"), "wss:");
        assert_eq!(ok("data:"), "data:");
        assert_eq!(ok("web+app:"), "web+app:");
        assert_eq!(kind("1http:"), SourceErrorKind::InvalidPort);
        assert_eq!(kind("ht_tp://x.com"), SourceErrorKind::InvalidScheme);
    }

    #[test]
    fn hosts() {
        assert_eq!(ok("https://API.Example.COM"), "https://api.example.com");
        assert_eq!(ok("example.com"), "example.com");
        assert_eq!(ok("example.com."), "example.com.");
        assert_eq!(ok("*"), "*");
        assert_eq!(ok("https://*"), "https://*");
        assert_eq!(ok("*.example.com"), "*.example.com");
        assert_eq!(ok("wss://*.example.com:*"), "wss://*.example.com:*");
        assert_eq!(ok("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(ok("localhost:3000"), "localhost:3000");
        assert_eq!(
            ok("https://bücher.example"),
            "https://xn--bcher-kva.example"
        );
        assert_eq!(ok("*.bücher.example"), "*.xn--bcher-kva.example");
        assert_eq!(kind("https://"), SourceErrorKind::EmptyHost);
        assert_eq!(kind("https://:443"), SourceErrorKind::EmptyHost);
        assert_eq!(kind("*."), SourceErrorKind::EmptyHost);
        assert_eq!(kind("a*.example.com"), SourceErrorKind::MisplacedWildcard);
        assert_eq!(kind("*a.example.com"), SourceErrorKind::MisplacedWildcard);
        assert_eq!(kind("example.*.com"), SourceErrorKind::MisplacedWildcard);
        assert_eq!(kind("*.*.example.com"), SourceErrorKind::MisplacedWildcard);
        assert_eq!(kind("a..b"), SourceErrorKind::InvalidHost);
        assert_eq!(kind("a_b.com"), SourceErrorKind::InvalidHost);
        assert_eq!(kind("user@host.com"), SourceErrorKind::InvalidHost);
        assert_eq!(kind("https://[::1]:80"), SourceErrorKind::Ipv6Literal);
    }

    #[test]
    fn ports() {
        assert_eq!(ok("https://x.com:443"), "https://x.com:443");
        assert_eq!(ok("https://x.com:0443"), "https://x.com:443");
        assert_eq!(ok("https://x.com:*"), "https://x.com:*");
        assert_eq!(ok("x.com:65535"), "x.com:65535");
        assert_eq!(kind("x.com:65536"), SourceErrorKind::PortOutOfRange);
        assert_eq!(
            kind("x.com:99999999999999999999"),
            SourceErrorKind::PortOutOfRange
        );
        assert_eq!(kind("https://x.com:"), SourceErrorKind::InvalidPort);
        // The grammar makes `x.com:` a scheme-source (scheme chars include "."): exact, if odd.
        assert_eq!(ok("x.com:"), "x.com:");
        assert_eq!(kind("x.com:8a"), SourceErrorKind::InvalidPort);
        assert_eq!(kind("x.com:-1"), SourceErrorKind::InvalidPort);
    }

    #[test]
    fn paths() {
        assert_eq!(ok("https://x.com/"), "https://x.com/");
        assert_eq!(ok("https://x.com/api/v1/"), "https://x.com/api/v1/");
        assert_eq!(ok("https://x.com/a%20b"), "https://x.com/a%20b");
        assert_eq!(ok("x.com:80/p"), "x.com:80/p");
        assert_eq!(kind("https://x.com/a%2"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com/a%zz"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com/a?b"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com/a#b"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com//a"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com/a<b"), SourceErrorKind::InvalidPath);
        assert_eq!(kind("https://x.com/ü"), SourceErrorKind::InvalidPath);
    }

    #[test]
    fn separators_and_controls_are_refused() {
        for (s, c) in [
            ("https://a.com;", ';'),
            ("https://a.com,b.com", ','),
            ("a.com b.com", ' '),
            ("a.com\tb", '\t'),
            ("a.com\r\nX-Evil: 1", '\r'),
            ("a.com\n", '\n'),
            ("a.com\u{0}", '\u{0}'),
            ("a.com\u{7f}", '\u{7f}'),
            ("\"a.com\"", '"'),
            ("a.com\u{a0}", '\u{a0}'),
        ] {
            assert_eq!(kind(s), SourceErrorKind::ForbiddenChar(c), "{s:?}");
        }
        assert_eq!(kind(""), SourceErrorKind::Empty);
    }

    #[test]
    fn errors_name_the_text_and_the_rule() {
        let e = "self".parse::<Source>().unwrap_err().to_string();
        assert!(e.contains("\"self\"") && e.contains("'self'"), "{e}");
        let e = "x.com:70000".parse::<Source>().unwrap_err().to_string();
        assert!(e.contains("x.com:70000") && e.contains("65535"), "{e}");
    }

    #[test]
    fn strict_subdomains() {
        assert!(is_strict_subdomain("a.x.com", "x.com"));
        assert!(is_strict_subdomain("a.b.x.com", "x.com"));
        assert!(!is_strict_subdomain("x.com", "x.com"));
        assert!(!is_strict_subdomain("evilx.com", "x.com"));
        assert!(!is_strict_subdomain(".x.com", "x.com"));
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("app.localhost"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.1.2.3"));
        assert!(!is_loopback_host("localhost.example.com"));
        assert!(!is_loopback_host("10.0.0.1"));
    }
}
