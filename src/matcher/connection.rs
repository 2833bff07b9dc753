//! What a page asks for: the API that makes the connection ([`Api`]) and the URLs it
//! requests, the first one and each redirect after it ([`Connection`]).

use std::fmt;
use std::str::FromStr;

use super::CheckError;

/// The API that makes a connection. connect-src governs them all alike, except where a
/// policy carries `upgrade-insecure-requests`: engines then judge some APIs before the
/// upgrade, some after and some both (measured by `tests/browsers.rs`, see
/// `docs/browsers.md`).
///
/// When none is given, a `ws:`/`wss:` URL is opened by [`WebSocket`](Api::WebSocket) and
/// anything else by [`Fetch`](Api::Fetch) ([`Api::for_url`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// `fetch()`. `<a ping>` and Chromium's `fetchLater()` are governed the same way without
    /// `upgrade-insecure-requests` (measured); with it they were not measured.
    Fetch,
    /// `XMLHttpRequest`.
    Xhr,
    /// `EventSource`.
    EventSource,
    /// `navigator.sendBeacon()`.
    Beacon,
    /// `WebSocket`. It never follows a redirect (a 3xx answer to the handshake fails it).
    WebSocket,
}

impl Api {
    /// Every API, in a fixed order.
    pub const ALL: [Api; 5] = [
        Api::Fetch,
        Api::Xhr,
        Api::EventSource,
        Api::Beacon,
        Api::WebSocket,
    ];

    /// `fetch`, `xhr`, `eventsource`, `beacon` or `websocket` (the CLI's `--api` values).
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Fetch => "fetch",
            Api::Xhr => "xhr",
            Api::EventSource => "eventsource",
            Api::Beacon => "beacon",
            Api::WebSocket => "websocket",
        }
    }

    /// The API a URL implies when none is named: `WebSocket` for `ws:`/`wss:` URLs, `fetch`
    /// for everything else. The scheme is compared ASCII case-insensitively.
    pub fn for_url(url: &str) -> Api {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("wss") {
            Api::WebSocket
        } else {
            Api::Fetch
        }
    }

    /// This API's place in [`Api::ALL`].
    pub(super) fn index(self) -> usize {
        match self {
            Api::Fetch => 0,
            Api::Xhr => 1,
            Api::EventSource => 2,
            Api::Beacon => 3,
            Api::WebSocket => 4,
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API name that is not one of [`Api::ALL`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownApi(String);

impl fmt::Display for UnknownApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown API {:?}: use fetch, xhr, eventsource, beacon or websocket",
            self.0
        )
    }
}

impl std::error::Error for UnknownApi {}

impl FromStr for Api {
    type Err = UnknownApi;

    /// One of [`Api::as_str`]'s names, ASCII case-insensitive.
    fn from_str(s: &str) -> Result<Api, UnknownApi> {
        Api::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownApi(s.to_owned()))
    }
}

/// A connection: the URL the page requests, each URL a redirect then leads to, and the API.
/// Every hop is judged (CSP3 §4.2.1 runs "should request be blocked" on each redirect);
/// after the first, path-parts are ignored (§6.7.2.8 step 2.2.6: "redirect count is 0",
/// §6.7.2.12).
///
/// Written as text, hops are separated by `->` (spaces around it are optional):
///
/// ```
/// use connect_src::matcher::{Api, Connection};
///
/// let c: Connection = "https://api.x.com/v1/a -> https://cdn.x.com/b".parse()?;
/// assert_eq!(c.hops().len(), 2);
/// assert_eq!(c.api(), Api::Fetch);
/// let ws = Connection::new("wss://rt.x.com/socket");
/// assert_eq!(ws.api(), Api::WebSocket);
/// let beacon = Connection::new("https://x.com/a").redirect("https://y.com/b").with_api(Api::Beacon);
/// assert_eq!(beacon.to_string(), "https://x.com/a -> https://y.com/b");
/// # Ok::<_, connect_src::matcher::CheckError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    hops: Vec<String>,
    api: Option<Api>,
}

impl Connection {
    /// A request for `url`, with no redirect; its API is [`Api::for_url`]'s until
    /// [`with_api`](Self::with_api) says otherwise.
    pub fn new(url: impl Into<String>) -> Connection {
        Connection {
            hops: vec![url.into()],
            api: None,
        }
    }

    /// The same connection, redirected once more, to `url`.
    #[must_use]
    pub fn redirect(mut self, url: impl Into<String>) -> Connection {
        self.hops.push(url.into());
        self
    }

    /// The same connection, made by `api`. `WebSocket` given an `http:`/`https:` URL opens
    /// `ws:`/`wss:`, as the WebSocket constructor does.
    #[must_use]
    pub fn with_api(mut self, api: Api) -> Connection {
        self.api = Some(api);
        self
    }

    /// The URLs requested, the first one first.
    pub fn hops(&self) -> &[String] {
        &self.hops
    }

    /// The API: the one given, or the one the first URL implies ([`Api::for_url`]).
    pub fn api(&self) -> Api {
        self.api.unwrap_or_else(|| Api::for_url(&self.hops[0]))
    }

    /// Checks the shape: a WebSocket follows no redirect, a redirect leads only to an
    /// `http:`/`https:` URL (Fetch's "HTTP-redirect fetch" step 5 fails any other before
    /// CSP is asked), and only the WebSocket API opens `ws:`/`wss:` URLs.
    pub(super) fn validate(&self) -> Result<(), CheckError> {
        let scheme = |u: &str| {
            u.split_once(':')
                .map_or(String::new(), |(s, _)| s.to_ascii_lowercase())
        };
        let api = self.api();
        let first = scheme(&self.hops[0]);
        let ws = matches!(first.as_str(), "ws" | "wss");
        if api == Api::WebSocket {
            if self.hops.len() > 1 {
                return Err(CheckError::InvalidConnection(
                    self.to_string(),
                    "a WebSocket handshake never follows a redirect: give one URL",
                ));
            }
            if !ws && !matches!(first.as_str(), "http" | "https") {
                return Err(CheckError::InvalidConnection(
                    self.to_string(),
                    "a WebSocket opens ws:, wss:, http: or https: URLs only",
                ));
            }
        } else if ws {
            return Err(CheckError::InvalidConnection(
                self.to_string(),
                "only the WebSocket API opens ws:/wss: URLs (fetch, XHR, EventSource and sendBeacon refuse them): leave the API out or say websocket",
            ));
        }
        if self.hops.len() > 1 {
            if !matches!(first.as_str(), "http" | "https") {
                return Err(CheckError::InvalidConnection(
                    self.to_string(),
                    "only an http: or https: URL can answer with a redirect",
                ));
            }
            if self.hops[1..]
                .iter()
                .any(|h| !matches!(scheme(h).as_str(), "http" | "https"))
            {
                return Err(CheckError::InvalidConnection(
                    self.to_string(),
                    "a redirect can only lead to an http: or https: URL (Fetch fails any other before CSP is asked)",
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hops.join(" -> "))
    }
}

impl FromStr for Connection {
    type Err = CheckError;

    /// `URL`, or `URL -> URL [-> URL …]`: a request and the redirects it follows. No hop may
    /// be empty.
    fn from_str(s: &str) -> Result<Connection, CheckError> {
        let hops: Vec<String> = s.split("->").map(|h| h.trim().to_owned()).collect();
        if hops.iter().any(String::is_empty) {
            return Err(CheckError::InvalidConnection(
                s.to_owned(),
                "write a redirect chain as `URL -> URL [-> URL]`, with no empty hop",
            ));
        }
        Ok(Connection { hops, api: None })
    }
}

impl From<&str> for Connection {
    fn from(url: &str) -> Connection {
        Connection::new(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_and_their_names() {
        for a in Api::ALL {
            assert_eq!(a.as_str().parse::<Api>().unwrap(), a);
            assert_eq!(Api::ALL[a.index()], a);
        }
        assert_eq!("XHR".parse::<Api>().unwrap(), Api::Xhr);
        let e = "ping".parse::<Api>().unwrap_err().to_string();
        assert!(e.contains("\"ping\"") && e.contains("websocket"), "{e}");
        assert_eq!(Api::for_url("WSS://x.com/"), Api::WebSocket);
        assert_eq!(Api::for_url("data:text/plain,x"), Api::Fetch);
    }

    #[test]
    fn chains_parse_and_validate() {
        let c: Connection = "http://a.com/x->https://b.com/y ->  https://c.com"
            .parse()
            .unwrap();
        assert_eq!(
            c.hops(),
            ["http://a.com/x", "https://b.com/y", "https://c.com"]
        );
        assert!(c.validate().is_ok());
        for bad in [
            "",
            "http://a.com ->",
            "-> http://a.com",
            "http://a.com -> -> http://b.com",
        ] {
            assert!(bad.parse::<Connection>().is_err(), "{bad:?}");
        }
        let refused = [
            Connection::new("wss://a.com").redirect("https://b.com"),
            Connection::new("http://a.com")
                .redirect("https://b.com")
                .with_api(Api::WebSocket),
            Connection::new("http://a.com").redirect("data:text/plain,x"),
            Connection::new("data:text/plain,x").redirect("https://b.com"),
            Connection::new("ws://a.com").with_api(Api::Xhr),
            Connection::new("blob:https://a.com/1").with_api(Api::WebSocket),
        ];
        for c in refused {
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains(&c.to_string()), "{e}");
        }
        assert!(Connection::new("https://a.com")
            .with_api(Api::WebSocket)
            .validate()
            .is_ok());
    }
}
