//! Will this connection be allowed? CSP3 §6.7.2.8–12 for a `connect-src` list, per engine.
//!
//! The spec's text and what browsers ship differ (see the README's "Browser differences",
//! measured in headless Chromium and Firefox ESR by `tests/browsers.rs`). Each engine's
//! departures from the text are data, listed once (`engine.rs`), not scattered conditions.
//!
//! ```
//! use connect_src::ConnectSrc;
//!
//! let list: ConnectSrc = "'self' https://api.myapp.com".parse()?;
//! let v = list.check("https://myapp.com/", "wss://api.myapp.com/socket")?;
//! assert!(!v.everywhere()); // https:// never allows wss://: add wss://api.myapp.com
//! let v = list.check("https://myapp.com/", "wss://myapp.com/socket")?;
//! assert!(v.everywhere()); // 'self' covers wss to the page's own host
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! [`BrowserPolicy`] answers for any policy text a browser accepts, parsed the way browsers
//! parse it, because you may want to check the header you already ship:
//!
//! ```
//! use connect_src::matcher::BrowserPolicy;
//!
//! let p = BrowserPolicy::from_header("default-src 'self' https: 'unsafe-inline'; img-src *");
//! assert_eq!(p.warnings().len(), 1); // 'unsafe-inline' means nothing for connections
//! let v = p.check("https://myapp.com/", "https://any.example/")?;
//! assert!(v.everywhere()); // default-src decides when there is no connect-src
//! # Ok::<_, connect_src::matcher::CheckError>(())
//! ```

use std::fmt;

use url::Url;

use crate::policy::ConnectSrc;

mod algorithm;
mod allowlist;
mod browser;
mod connection;
mod engine;
mod target;

pub use allowlist::AllowlistPolicy;
pub use browser::{BlockedUrl, BrowserPolicy};
pub use connection::{Api, Connection, UnknownApi};
pub use engine::Engine;
use target::Target;

/// Whether a connection is allowed, per [`Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// One bit per engine ([`Engine::bit`]).
    allowed: u8,
}

impl Verdict {
    /// The verdict of one engine.
    pub fn get(&self, engine: Engine) -> bool {
        self.allowed & engine.bit() != 0
    }
    /// Allowed by every engine and the spec.
    pub fn everywhere(&self) -> bool {
        self.allowed == engine::ALL_ENGINES
    }
    /// Allowed by none.
    pub fn nowhere(&self) -> bool {
        self.allowed == 0
    }
    /// Each engine and its verdict, in [`Engine::ALL`] order.
    pub fn engines(&self) -> impl Iterator<Item = (Engine, bool)> + '_ {
        Engine::ALL.into_iter().map(|e| (e, self.get(e)))
    }
}

/// A page or target URL that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The document URL is not an absolute URL.
    InvalidPage(String, url::ParseError),
    /// The target URL is not an absolute URL.
    InvalidTarget(String, url::ParseError),
    /// A [`Connection`] no browser can make: the connection as written, and why.
    InvalidConnection(String, &'static str),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::InvalidPage(u, e) => write!(f, "invalid page URL {u:?}: {e}"),
            CheckError::InvalidTarget(u, e) => write!(f, "invalid target URL {u:?}: {e}"),
            CheckError::InvalidConnection(c, why) => write!(f, "invalid connection {c:?}: {why}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Runs `f` on the URL's parts: read directly for plain URLs, parsed otherwise.
fn with_target<R>(
    text: &str,
    page: bool,
    f: impl FnOnce(&Target<'_>) -> R,
) -> Result<R, CheckError> {
    if let Some(t) = Target::simple(text) {
        return Ok(f(&t));
    }
    let url = parse_url(text, page)?;
    Ok(f(&Target::new(&url)))
}

fn parse_url(text: &str, page: bool) -> Result<Url, CheckError> {
    Url::parse(text).map_err(|e| {
        if page {
            CheckError::InvalidPage(text.to_owned(), e)
        } else {
            CheckError::InvalidTarget(text.to_owned(), e)
        }
    })
}

/// The connection's URLs, parsed, as its API requests them: the WebSocket API opens
/// `ws:`/`wss:` for an `http:`/`https:` URL (WHATWG WebSockets, "new WebSocket(url)").
fn parse_hops(c: &Connection) -> Result<Vec<Url>, CheckError> {
    c.validate()?;
    let api = c.api();
    c.hops()
        .iter()
        .map(|h| {
            let mut url = parse_url(h, false)?;
            if api == Api::WebSocket {
                let ws = match url.scheme() {
                    "http" => Some("ws"),
                    "https" => Some("wss"),
                    _ => None,
                };
                if let Some(ws) = ws {
                    // http → ws and https → wss keep every part: both are special schemes.
                    let _ = url.set_scheme(ws);
                }
            }
            Ok(url)
        })
        .collect()
}

impl ConnectSrc {
    /// Whether `page` (the document's URL) may connect to `target`, per engine. A list
    /// alone holds no `upgrade-insecure-requests`, so the API does not matter here; for a
    /// whole policy use [`BrowserPolicy`].
    pub fn check(&self, page: &str, target: &str) -> Result<Verdict, CheckError> {
        with_target(page, true, |p| {
            with_target(target, false, |t| algorithm::verdict(self.sources(), p, t))
        })?
    }

    /// [`check`](Self::check) with parsed URLs.
    pub fn check_url(&self, page: &Url, target: &Url) -> Verdict {
        algorithm::verdict(self.sources(), &Target::new(page), &Target::new(target))
    }

    /// [`check`](Self::check) for many targets from one page: parse the page once. Plain
    /// URLs are read without a full parse (with the same result, property-tested against
    /// `Url::parse`); anything else is parsed.
    pub fn check_target(&self, page: &Url, target: &str) -> Result<Verdict, CheckError> {
        let p = Target::new(page);
        if let Some(t) = Target::simple(target) {
            return Ok(algorithm::verdict(self.sources(), &p, &t));
        }
        let url = parse_url(target, false)?;
        Ok(algorithm::verdict(self.sources(), &p, &Target::new(&url)))
    }

    /// Whether `page` may make `connection`, per engine: every URL of it allowed, path-parts
    /// ignored after the first (§6.7.2.8 step 2.2.6).
    ///
    /// ```
    /// use connect_src::matcher::Connection;
    /// use connect_src::ConnectSrc;
    ///
    /// let list: ConnectSrc = "https://api.x.com/v1/ https://cdn.x.com".parse()?;
    /// let page = "https://x.com/";
    /// let chain: Connection = "https://api.x.com/v1/a -> https://api.x.com/other".parse()?;
    /// assert!(list.check_connection(page, &chain)?.everywhere()); // paths end at the first hop
    /// let away: Connection = "https://api.x.com/v1/a -> https://evil.example/".parse()?;
    /// assert!(list.check_connection(page, &away)?.nowhere());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_connection(
        &self,
        page: &str,
        connection: &Connection,
    ) -> Result<Verdict, CheckError> {
        let hops = parse_hops(connection)?;
        with_target(page, true, |p| {
            let targets: Vec<Target<'_>> = hops.iter().map(Target::new).collect();
            let lists = std::iter::once(self.sources());
            Verdict {
                allowed: algorithm::allowed_chain(lists, p, &targets, engine::ALL_ENGINES),
            }
        })
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        let l: ConnectSrc = "'self'".parse().unwrap();
        assert!(matches!(
            l.check("not a url", "https://x.com"),
            Err(CheckError::InvalidPage(..))
        ));
        assert!(matches!(
            l.check("https://x.com", "/relative"),
            Err(CheckError::InvalidTarget(..))
        ));
    }
}
