//! Source expressions: the validated atoms of a `connect-src` list.
//!
//! [`Source`] implements the CSP3 §2.3.1 grammar exactly. [`FromStr`] parses one source
//! expression and refuses anything that is not one (or that means nothing for connections);
//! [`Display`](fmt::Display) writes it back, and `parse(display(s)) == s` for every source.
//!
//! ```
//! use connect_src::Source;
//!
//! let api: Source = "https://API.MyApp.com:443/v1/".parse()?;
//! assert_eq!(api.to_string(), "https://api.myapp.com:443/v1/");
//!
//! // IDN hosts become punycode, as the grammar requires.
//! let idn: Source = "wss://bücher.example".parse()?;
//! assert_eq!(idn.to_string(), "wss://xn--bcher-kva.example");
//!
//! // Anything that could change the header's meaning is refused, and the error says why.
//! let err = "https://api.myapp.com; script-src *".parse::<Source>().unwrap_err();
//! assert!(err.to_string().contains("';'"));
//! # Ok::<_, connect_src::SourceError>(())
//! ```

use std::fmt;
use std::str::FromStr;

mod grammar;
mod origin;

pub use origin::{Origin, OriginError};

use grammar::{forbidden_char, is_path_absolute, is_scheme, parse_host, parse_source};

/// One source expression of a `connect-src` list (CSP3 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// `'self'`: the document's own origin (with the ws/wss rules of §6.7.2.8).
    SelfOrigin,
    /// `'none'`: nothing. Only valid alone in a list.
    None,
    /// `'unsafe-webtransport-hashes'` (CSP3, connect-src only): lets WebTransport use
    /// `serverCertificateHashes`. It matches no URL.
    UnsafeWebTransportHashes,
    /// A scheme-source such as `https:` or `wss:`: every URL of that scheme.
    Scheme(Scheme),
    /// A host-source such as `https://*.example.com:8443/api/`, or `*`.
    Host(HostSource),
}

impl Source {
    /// `*`: any http(s) URL, or any URL of the page's own scheme (§6.7.2.8 step 1).
    pub const STAR: Source = Source::Host(HostSource {
        scheme: None,
        host: Host::Any,
        port: None,
        path: None,
    });

    /// Parses one source expression; the same as [`str::parse`].
    pub fn parse(text: &str) -> Result<Source, SourceError> {
        text.parse()
    }

    /// A scheme-source (`https:`), for a scheme given at run time.
    pub fn scheme(scheme: &str) -> Result<Source, SourceError> {
        Scheme::new(scheme).map(Source::Scheme)
    }

    /// Whether this is `*` (the bare wildcard host-source, with no scheme, port or path).
    pub fn is_star(&self) -> bool {
        matches!(self, Source::Host(h) if h.host == Host::Any && h.scheme.is_none() && h.port.is_none() && h.path.is_none())
    }

    /// The host-source inside, if this is one.
    pub fn as_host(&self) -> Option<&HostSource> {
        match self {
            Source::Host(h) => Some(h),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::SelfOrigin => f.write_str("'self'"),
            Source::None => f.write_str("'none'"),
            Source::UnsafeWebTransportHashes => f.write_str("'unsafe-webtransport-hashes'"),
            Source::Scheme(s) => write!(f, "{}:", s.as_str()),
            Source::Host(h) => h.fmt(f),
        }
    }
}

impl FromStr for Source {
    type Err = SourceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_source(text)
    }
}

impl From<HostSource> for Source {
    fn from(h: HostSource) -> Self {
        Source::Host(h)
    }
}

impl From<Scheme> for Source {
    fn from(s: Scheme) -> Self {
        Source::Scheme(s)
    }
}

/// A URL scheme, validated against RFC 3986 §3.1 and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scheme(Box<str>);

impl Scheme {
    /// Validates and lower-cases a scheme name (without the `:`).
    pub fn new(name: &str) -> Result<Scheme, SourceError> {
        if !is_scheme(name) {
            return Err(SourceError::new(
                format!("{name}:"),
                SourceErrorKind::InvalidScheme,
            ));
        }
        Ok(Scheme(name.to_ascii_lowercase().into_boxed_str()))
    }

    /// `http`
    pub fn http() -> Scheme {
        Scheme("http".into())
    }
    /// `https`
    pub fn https() -> Scheme {
        Scheme("https".into())
    }
    /// `ws`
    pub fn ws() -> Scheme {
        Scheme("ws".into())
    }
    /// `wss`
    pub fn wss() -> Scheme {
        Scheme("wss".into())
    }

    /// The lower-case scheme name, without `:`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme's default port, for the schemes that have one in the URL standard.
    pub fn default_port(&self) -> Option<u16> {
        default_port(&self.0)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default port of a special scheme (URL standard), if it has one.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// The host part of a host-source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// `*`: any host.
    Any,
    /// `*.example.com`: any subdomain of `example.com`, not `example.com` itself. Holds the
    /// part after `*.`, lower-case ASCII.
    Subdomains(Box<str>),
    /// An exact host name (lower-case ASCII, punycode for IDN) or an IPv4 literal.
    Name(Box<str>),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any => f.write_str("*"),
            Host::Subdomains(h) => write!(f, "*.{h}"),
            Host::Name(h) => f.write_str(h),
        }
    }
}

/// The port part of a host-source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// `:*`: any port.
    Any,
    /// A port number.
    Number(u16),
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Any => f.write_str("*"),
            Port::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A host-source: `[scheme://]host[:port][/path]` (CSP3 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostSource {
    pub(crate) scheme: Option<Scheme>,
    pub(crate) host: Host,
    pub(crate) port: Option<Port>,
    pub(crate) path: Option<Box<str>>,
}

impl HostSource {
    /// `scheme://host`, typed: `host` is `*`, `*.example.com`, a name (IDN becomes punycode)
    /// or an IPv4 address.
    ///
    /// ```
    /// use connect_src::{HostSource, Port, Scheme};
    ///
    /// let s = HostSource::new(Scheme::wss(), "*.myapp.com")?.with_port(Port::Any);
    /// assert_eq!(s.to_string(), "wss://*.myapp.com:*");
    /// let s = HostSource::new(Scheme::https(), "api.myapp.com")?.with_path("/v1/")?;
    /// assert_eq!(s.to_string(), "https://api.myapp.com/v1/");
    /// assert!(HostSource::new(Scheme::https(), "api.myapp.com/x").is_err());
    /// # Ok::<_, connect_src::SourceError>(())
    /// ```
    pub fn new(scheme: Scheme, host: &str) -> Result<HostSource, SourceError> {
        if let Some(c) = forbidden_char(host) {
            return Err(SourceError::new(host, SourceErrorKind::ForbiddenChar(c)));
        }
        let host = parse_host(host).map_err(|k| SourceError::new(host, k))?;
        Ok(HostSource {
            scheme: Some(scheme),
            host,
            port: None,
            path: None,
        })
    }

    /// The same source with a port (`Port::Any` for `:*`).
    #[must_use]
    pub fn with_port(mut self, port: Port) -> Self {
        self.port = Some(port);
        self
    }

    /// The same source with a path (`/api/` matches by prefix, `/api` exactly; §6.7.2.12).
    pub fn with_path(mut self, path: &str) -> Result<Self, SourceError> {
        if !is_path_absolute(path) {
            return Err(SourceError::new(path, SourceErrorKind::InvalidPath));
        }
        self.path = Some(path.into());
        Ok(self)
    }

    /// The scheme, if the source names one (`https://x` has one, `x` does not).
    pub fn scheme(&self) -> Option<&Scheme> {
        self.scheme.as_ref()
    }
    /// The host part.
    pub fn host(&self) -> &Host {
        &self.host
    }
    /// The port part, if any.
    pub fn port(&self) -> Option<Port> {
        self.port
    }
    /// The path part, if any (percent-encoding kept as written).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
    /// The same source without its path: paths are not a security boundary (§7.6).
    pub fn without_path(&self) -> HostSource {
        HostSource {
            path: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for HostSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}://")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = &self.port {
            write!(f, ":{p}")?;
        }
        if let Some(p) = &self.path {
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl FromStr for HostSource {
    type Err = SourceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_source(s)? {
            Source::Host(h) => Ok(h),
            _ => Err(SourceError::new(s, SourceErrorKind::NotAHostSource)),
        }
    }
}

/// A source expression that could not be accepted: the text, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    text: String,
    kind: SourceErrorKind,
}

impl SourceError {
    pub(crate) fn new(text: impl Into<String>, kind: SourceErrorKind) -> Self {
        SourceError {
            text: text.into(),
            kind,
        }
    }
    /// The offending text as given (control characters shown escaped in `Display`).
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Which rule the text breaks.
    pub fn kind(&self) -> &SourceErrorKind {
        &self.kind
    }
}

/// Why a source expression was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// The text was empty.
    Empty,
    /// A character that the grammar forbids (whitespace, `;`, `,`, a quote, a control
    /// character, a non-ASCII character outside the host).
    ForbiddenChar(char),
    /// A keyword written without quotes (`self` is a host name to a browser).
    UnquotedKeyword(&'static str),
    /// A quoted keyword CSP does not define.
    UnknownKeyword,
    /// A keyword, nonce or hash that has no effect on connections.
    NotForConnections,
    /// Invalid scheme name.
    InvalidScheme,
    /// `scheme://` with no host.
    EmptyHost,
    /// A label that is empty (`a..b`) or has a character outside `ALPHA / DIGIT / "-"`.
    InvalidHost,
    /// `*` anywhere but as the whole host or the whole leftmost label.
    MisplacedWildcard,
    /// IPv6 literals are not part of the CSP host grammar.
    Ipv6Literal,
    /// An internationalized host name that has no valid punycode form.
    Idna,
    /// A port that is not digits or `*`.
    InvalidPort,
    /// A port above 65535.
    PortOutOfRange,
    /// A path that is not an RFC 3986 path-absolute.
    InvalidPath,
    /// A scheme-source or keyword where a host-source was required.
    NotAHostSource,
    /// A source whose scheme is not allowed by the builder call it was given to.
    WrongScheme(&'static str),
    /// A dev server given as something other than `host:port` (a scheme, a path, a port
    /// alone, no port).
    NotHostPort,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid source {:?}: ", self.text)?;
        match &self.kind {
            SourceErrorKind::Empty => f.write_str("a source expression cannot be empty"),
            SourceErrorKind::ForbiddenChar(c) => {
                let what = match c {
                    ';' => "';' separates directives: letting it through would inject one",
                    ',' => "',' separates policies: letting it through would inject one",
                    '\'' | '"' => "quotes are only allowed around a whole keyword such as 'self'",
                    c if c.is_whitespace() => "whitespace separates sources: give one source per call",
                    c if c.is_control() => "control characters are never allowed in a header",
                    _ => "this character is not allowed in a source expression (only hosts may be non-ASCII; they become punycode)",
                };
                write!(f, "{:?} is forbidden: {what}", c)
            }
            SourceErrorKind::UnquotedKeyword(k) => write!(
                f,
                "`{k}` without quotes is a host name to a browser; write '{k}' (or use the typed constant)"
            ),
            SourceErrorKind::UnknownKeyword => f.write_str(
                "not a CSP keyword; connect-src understands 'self', 'none' and 'unsafe-webtransport-hashes'",
            ),
            SourceErrorKind::NotForConnections => f.write_str(
                "this keyword, nonce or hash has no effect on connect-src; remove it",
            ),
            SourceErrorKind::InvalidScheme => f.write_str(
                "a scheme is a letter followed by letters, digits, '+', '-' or '.'",
            ),
            SourceErrorKind::EmptyHost => f.write_str("the host is empty"),
            SourceErrorKind::InvalidHost => f.write_str(
                "host labels are non-empty and made of letters, digits and '-' (CSP3 §2.3.1 host-char)",
            ),
            SourceErrorKind::MisplacedWildcard => f.write_str(
                "'*' may only be the whole host (`*`) or the whole leftmost label (`*.example.com`)",
            ),
            SourceErrorKind::Ipv6Literal => {
                f.write_str("IPv6 literals are not part of the CSP host grammar")
            }
            SourceErrorKind::Idna => f.write_str("the internationalized host has no valid punycode form"),
            SourceErrorKind::InvalidPort => f.write_str("a port is digits or '*'"),
            SourceErrorKind::PortOutOfRange => f.write_str("a port is at most 65535"),
            SourceErrorKind::InvalidPath => f.write_str(
                "a path starts with '/' and holds only URL path characters (percent-encode the rest)",
            ),
            SourceErrorKind::NotAHostSource => {
                f.write_str("expected a host-source such as https://api.example.com")
            }
            SourceErrorKind::WrongScheme(want) => write!(f, "expected {want}"),
            SourceErrorKind::NotHostPort => f.write_str(
                "a dev server is host:port, no scheme and no path, such as localhost:5173 (the ws:// and http:// sources are added for it)",
            ),
        }
    }
}

impl std::error::Error for SourceError {}

/// Whether a host name is loopback: `localhost`, `*.localhost`, or an IPv4 in 127.0.0.0/8.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || h == "[::1]"
        || h == "::1"
}

/// Whether `host` is a strict subdomain of `parent`, on a label boundary: `a.x.com` and
/// `a.b.x.com` are under `x.com`; `x.com` and `evilx.com` are not (CSP3 §6.7.2.10 step 3).
pub(crate) fn is_strict_subdomain(host: &str, parent: &str) -> bool {
    host.len() > parent.len() + 1
        && host.ends_with(parent)
        && host.as_bytes()[host.len() - parent.len() - 1] == b'.'
}

/// The registrable domain of a host name (eTLD+1 by the Public Suffix List, its private
/// section included: `api.myapp.com` → `myapp.com`, `my-bucket.s3.amazonaws.com` → itself),
/// lower-case; `None` for IP addresses, public suffixes themselves, and names the list
/// cannot place under a known suffix (`localhost`, `intranet`).
pub(crate) fn registrable_domain(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if is_ip_literal(&host) {
        return None;
    }
    let d = psl::domain(host.as_bytes())?;
    (d.suffix().is_known()).then(|| String::from_utf8_lossy(d.as_bytes()).into_owned())
}

/// Whether a host name is an IPv4 literal.
pub(crate) fn is_ip_literal(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>().is_ok() || host.starts_with('[')
}
