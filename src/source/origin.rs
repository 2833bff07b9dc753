//! [`Origin`]: a URL's tuple origin (URL Standard §4.5, "origin"), built once where a URL is
//! read and compared as a value.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use url::Url;

/// A tuple origin: scheme, host and port, as the URL Standard defines it
/// (<https://url.spec.whatwg.org/#origin>) for the schemes connections use (`http`, `https`,
/// `ws`, `wss`). The host is lower-case and in punycode, the port is kept only when it is
/// not the scheme's default, and any user name, password, path, query or fragment of the URL
/// it came from is gone. So `https://App.Example:443/a?b`, `https://user:pw@app.example/` and
/// `https://app.example` are one origin, serialized `https://app.example` (the URL
/// Standard's "ASCII serialization of an origin"), while `https://app.example:8443` is
/// another.
///
/// Read with [`Origin::of_url`] (any URL of those schemes, `None` otherwise) or parsed from
/// an origin's own text with [`FromStr`] (no path, query or userinfo allowed).
///
/// ```
/// use connect_src::source::Origin;
///
/// let a = Origin::of_url("https://User:pw@API.Example.com:443/v1?token=1").unwrap();
/// assert_eq!(a.to_string(), "https://api.example.com");
/// assert_eq!((a.scheme(), a.host(), a.port()), ("https", "api.example.com", None));
/// assert_eq!(a.port_or_default(), 443);
/// assert_eq!(a, "https://api.example.com".parse::<Origin>()?);
///
/// let ws = Origin::of_url("wss://bücher.example:8443/socket").unwrap();
/// assert_eq!(ws.to_string(), "wss://xn--bcher-kva.example:8443");
/// assert!(Origin::of_url("data:text/plain,x").is_none());
/// assert!("https://app.example/page".parse::<Origin>().is_err());
/// # Ok::<_, connect_src::source::OriginError>(())
/// ```
#[derive(Clone)]
pub struct Origin {
    /// The ASCII serialization, `scheme://host[:port]`.
    text: Box<str>,
    /// Length of the scheme in `text`.
    scheme: u8,
    /// The explicit port, when not the scheme's default.
    port: Option<u16>,
}

impl Origin {
    /// The origin of a URL of scheme `http`, `https`, `ws` or `wss` with a host; `None` for
    /// anything else (a keyword such as `inline`, a bare scheme such as `data`, an opaque or
    /// relative URL, text that is not a URL). Leading and trailing whitespace is ignored.
    pub fn of_url(url: &str) -> Option<Origin> {
        let u = Url::parse(url.trim()).ok()?;
        Origin::of(&u)
    }

    /// The origin of a parsed URL, as [`of_url`](Self::of_url).
    pub fn of(url: &Url) -> Option<Origin> {
        let scheme = url.scheme();
        if !matches!(scheme, "http" | "https" | "ws" | "wss") {
            return None;
        }
        let host = url.host_str().filter(|h| !h.is_empty())?;
        // `Url` already lower-cases, punycodes and drops the scheme's default port.
        let port = url.port();
        let text = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Some(Origin {
            text: text.into_boxed_str(),
            scheme: scheme.len() as u8,
            port,
        })
    }

    /// The scheme: `http`, `https`, `ws` or `wss`.
    pub fn scheme(&self) -> &str {
        &self.text[..usize::from(self.scheme)]
    }

    /// The host: a lower-case, punycode domain, an IPv4 address, or an IPv6 address in
    /// brackets.
    pub fn host(&self) -> &str {
        let rest = &self.text[usize::from(self.scheme) + 3..];
        match self.port {
            Some(_) => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
            None => rest,
        }
    }

    /// The port when it is not the scheme's default (`None` for `https://h:443`).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, the scheme's default when none is written (80 for http/ws, 443 for
    /// https/wss).
    pub fn port_or_default(&self) -> u16 {
        self.port
            .or_else(|| super::default_port(self.scheme()))
            .unwrap_or(0)
    }

    /// The ASCII serialization, `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Why a text is not an origin ([`Origin`]'s [`FromStr`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginError {
    text: String,
    why: &'static str,
}

impl OriginError {
    /// The text that was refused.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an origin: {}; write scheme://host[:port], e.g. https://app.example",
            self.text, self.why
        )
    }
}

impl std::error::Error for OriginError {}

impl FromStr for Origin {
    type Err = OriginError;

    /// An origin as written in configuration: `scheme://host[:port]`, a trailing `/`
    /// allowed; no user name or password, path, query or fragment.
    fn from_str(text: &str) -> Result<Origin, OriginError> {
        let err = |why| OriginError {
            text: text.to_owned(),
            why,
        };
        let u = Url::parse(text.trim()).map_err(|_| err("it is not an absolute URL"))?;
        if !matches!(u.scheme(), "http" | "https" | "ws" | "wss") {
            return Err(err("the scheme must be http, https, ws or wss"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(err("an origin has no user name or password"));
        }
        if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
            return Err(err("an origin has no path, query or fragment"));
        }
        Origin::of(&u).ok_or_else(|| err("it has no host"))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.text)
    }
}

// Equal origins have equal serializations: compare and hash the text alone.
impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for Origin {}
impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}
impl PartialOrd for Origin {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Origin {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl PartialEq<str> for Origin {
    fn eq(&self, other: &str) -> bool {
        &*self.text == other
    }
}
impl PartialEq<&str> for Origin {
    fn eq(&self, other: &&str) -> bool {
        &*self.text == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_origin_however_the_url_is_written() {
        let want = "https://app.example";
        for url in [
            "https://app.example",
            "https://APP.example:443/a/b?c#d",
            "https://user:pw@app.example/",
            " https://app.example/ ",
        ] {
            assert_eq!(Origin::of_url(url).unwrap(), want, "{url}");
        }
        let o = Origin::of_url("http://[::1]:8080/x").unwrap();
        assert_eq!((o.host(), o.port()), ("[::1]", Some(8080)));
        assert_eq!(Origin::of_url("ws://h:80/").unwrap().as_str(), "ws://h");
        assert_eq!(
            Origin::of_url("wss://h:80/").unwrap().as_str(),
            "wss://h:80"
        );
        assert_eq!(
            Origin::of_url("http://127.0.0.1:3000/")
                .unwrap()
                .port_or_default(),
            3000
        );
        for not in [
            "inline",
            "data",
            "blob:https://a/x",
            "",
            "/relative",
            "about:blank",
            "ftp://h/",
        ] {
            assert!(Origin::of_url(not).is_none(), "{not}");
        }
    }

    #[test]
    fn origins_as_configured() {
        assert_eq!(
            "https://App.Example:443/".parse::<Origin>().unwrap(),
            "https://app.example"
        );
        for bad in [
            "app.example",
            "",
            "ftp://app.example",
            "https://app.example/page",
            "https://app.example/?q",
            "https://u:p@app.example",
            "data:text/plain,x",
        ] {
            let e = bad.parse::<Origin>().unwrap_err().to_string();
            assert!(e.contains("is not an origin"), "{bad}: {e}");
        }
    }
}
