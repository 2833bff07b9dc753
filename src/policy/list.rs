//! [`ConnectSrc`], the validated source list, and its consuming builder.

use std::fmt;
use std::str::FromStr;

use super::error::{PolicyError, Problem, ProblemKind};
use crate::source::{HostSource, Scheme, Source, SourceError, SourceErrorKind};

/// A validated `connect-src` source list: ordered as given, without duplicates, and `'none'`
/// only when alone (§2.3.1; browsers silently ignore `'none'` next to other sources, so a
/// list holding both is refused rather than guessed at).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct ConnectSrc {
    sources: Vec<Source>,
}

impl ConnectSrc {
    /// Starts a list. Add sources with the builder's methods, then [`build`](ConnectSrcBuilder::build)
    /// or hand the builder to [`PolicyBuilder::enforce`](super::PolicyBuilder::enforce) / [`PolicyBuilder::report_only`](super::PolicyBuilder::report_only).
    pub fn builder() -> ConnectSrcBuilder {
        ConnectSrcBuilder::default()
    }

    /// `connect-src 'none'`: no connections at all.
    pub fn none() -> ConnectSrc {
        ConnectSrc {
            sources: vec![Source::None],
        }
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Whether the list is `'none'`.
    pub fn is_none(&self) -> bool {
        self.sources == [Source::None]
    }

    /// The whole directive: `connect-src` and the value.
    pub(crate) fn directive(&self) -> String {
        format!("connect-src {}", self.value())
    }

    /// The directive value: the sources joined by single spaces (`'self' https://a.com`).
    pub fn value(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.sources.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&s.to_string());
        }
        out
    }

    /// A list from sources already known to be valid together (one source, or a subset of
    /// a valid list).
    pub(crate) fn from_trusted(sources: Vec<Source>) -> ConnectSrc {
        ConnectSrc { sources }
    }

    /// Checks the list with a set of strict rules; used by [`ConnectSrcBuilder::build`].
    fn from_sources(sources: Vec<Source>) -> Result<ConnectSrc, Vec<ProblemKind>> {
        let mut out: Vec<Source> = Vec::with_capacity(sources.len());
        for s in sources {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        if out.is_empty() {
            return Err(vec![ProblemKind::EmptyList]);
        }
        if out.len() > 1 && out.contains(&Source::None) {
            return Err(vec![ProblemKind::NoneNotAlone]);
        }
        Ok(ConnectSrc { sources: out })
    }
}

impl fmt::Display for ConnectSrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

/// Parses a whole directive value such as `'self' https://api.myapp.com` (sources separated
/// by ASCII whitespace; a leading `connect-src` name is accepted too). Every bad source is
/// reported in the one error.
impl FromStr for ConnectSrc {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = ConnectSrc::builder();
        let mut words = s.split_ascii_whitespace().peekable();
        if words
            .peek()
            .is_some_and(|w| w.eq_ignore_ascii_case("connect-src"))
        {
            words.next();
        }
        for w in words {
            b = b.source(w);
        }
        b.build()
    }
}

impl TryFrom<&str> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl<const N: usize> TryFrom<[&str; N]> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(list: [&str; N]) -> Result<Self, Self::Error> {
        list.into_iter()
            .fold(ConnectSrc::builder(), ConnectSrcBuilder::source)
            .build()
    }
}

impl TryFrom<Vec<String>> for ConnectSrc {
    type Error = PolicyError;
    fn try_from(list: Vec<String>) -> Result<Self, Self::Error> {
        list.iter()
            .fold(ConnectSrc::builder(), |b, s| b.source(s.as_str()))
            .build()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ConnectSrc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value())
    }
}

/// Deserializes from a directive string (`"'self' https://a.com"`) or from a list of source
/// strings (`["'self'", "https://a.com"]`), so allowlists can live in config files and
/// environment variables. Invalid sources fail deserialization with the full error text.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ConnectSrc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(String),
            Many(Vec<String>),
        }
        match Repr::deserialize(d)? {
            Repr::One(s) => s.parse(),
            Repr::Many(v) => ConnectSrc::try_from(v),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Consuming builder for a [`ConnectSrc`]. Methods that take strings never panic: problems are
/// collected and all returned together by [`build`](Self::build).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ConnectSrcBuilder {
    pub(super) sources: Vec<Source>,
    problems: Vec<Problem>,
}

impl ConnectSrcBuilder {
    /// `'self'`: the page's own origin (and its ws/wss equivalent, §6.7.2.8).
    pub fn self_origin(mut self) -> Self {
        self.sources.push(Source::SelfOrigin);
        self
    }

    /// `'none'`: no connections. Must be the only source.
    pub fn none(mut self) -> Self {
        self.sources.push(Source::None);
        self
    }

    /// Any typed source, or a source expression string (`"https://api.x.com:8443"`,
    /// `"'self'"`, `"wss:"`).
    pub fn source(mut self, source: impl IntoSource) -> Self {
        match source.into_source() {
            Ok(s) => self.sources.push(s),
            Err(e) => self.problems.push(Problem::source(e)),
        }
        self
    }

    /// Many sources at once.
    pub fn sources<I>(self, sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoSource,
    {
        sources.into_iter().fold(self, Self::source)
    }

    /// A host-source (`https://api.myapp.com`, `api.myapp.com:8443`, `https://cdn.x.com/v1/`).
    /// Keywords and scheme-only sources are refused here: use [`source`](Self::source).
    pub fn host(self, host: &str) -> Self {
        self.host_with(host, None)
    }

    /// A WebSocket origin. Accepts `wss://…`, `ws://…`, or a bare host (which becomes
    /// `wss://host`). Browsers never let an `https://` source cover `wss://` (see the
    /// README's browser differences), so WebSocket endpoints need their own source.
    pub fn websocket(self, origin: &str) -> Self {
        if origin.contains("://") {
            self.host_with(origin, Some(&["ws", "wss"]))
        } else {
            self.host_with(&format!("wss://{origin}"), Some(&["wss"]))
        }
    }

    /// Every subdomain of a host, not the host itself: `subdomains_of("https://myapp.com")`
    /// adds `https://*.myapp.com`. Add [`host`](Self::host) too if the apex connects as well.
    pub fn subdomains_of(self, origin: &str) -> Self {
        let (scheme, rest) = match origin.find("://") {
            Some(i) => (&origin[..i + 3], &origin[i + 3..]),
            None => ("", origin),
        };
        if rest.starts_with('*') {
            return self.host(origin);
        }
        self.host(&format!("{scheme}*.{rest}"))
    }

    /// A scheme-source (`https:`, `wss:`): every URL with that scheme. Production refuses the
    /// broad ones; see [`Environment`](super::Environment).
    pub fn scheme(self, scheme: Scheme) -> Self {
        self.source(Source::Scheme(scheme))
    }

    fn host_with(mut self, text: &str, schemes: Option<&'static [&'static str]>) -> Self {
        match text.parse::<Source>() {
            Ok(Source::Host(h)) => {
                if let Some(allowed) = schemes {
                    if !h.scheme().is_some_and(|s| allowed.contains(&s.as_str())) {
                        self.problems.push(Problem::source(SourceError::new(
                            text,
                            SourceErrorKind::WrongScheme(
                                "a ws:// or wss:// origin (browsers never match https:// sources against WebSocket URLs)",
                            ),
                        )));
                        return self;
                    }
                }
                self.sources.push(Source::Host(h));
            }
            Ok(_) => self.problems.push(Problem::source(SourceError::new(
                text,
                SourceErrorKind::NotAHostSource,
            ))),
            Err(e) => self.problems.push(Problem::source(e)),
        }
        self
    }

    /// Validates the list: every invalid source, and the list-level rules, in one error.
    /// Environment rules ([`Environment::Production`](super::Environment::Production)) are applied by [`PolicyBuilder::build`](super::PolicyBuilder::build).
    pub fn build(self) -> Result<ConnectSrc, PolicyError> {
        self.build_in(None).map_err(PolicyError::new)
    }

    pub(super) fn build_in(self, list: Option<&'static str>) -> Result<ConnectSrc, Vec<Problem>> {
        let mut problems = self.problems;
        for p in &mut problems {
            p.list = list;
        }
        match ConnectSrc::from_sources(self.sources) {
            Ok(c) if problems.is_empty() => Ok(c),
            Ok(_) => Err(problems),
            Err(kinds) => {
                problems.extend(kinds.into_iter().map(|kind| Problem {
                    list,
                    source: None,
                    kind,
                }));
                Err(problems)
            }
        }
    }
}

impl From<ConnectSrc> for ConnectSrcBuilder {
    fn from(c: ConnectSrc) -> Self {
        ConnectSrcBuilder {
            sources: c.sources,
            problems: Vec::new(),
        }
    }
}

/// What [`ConnectSrcBuilder::source`] accepts: a typed [`Source`] (or [`HostSource`],
/// [`Scheme`]) or a source-expression string.
pub trait IntoSource {
    /// Converts, validating strings.
    fn into_source(self) -> Result<Source, SourceError>;
}
impl IntoSource for Source {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(self)
    }
}
impl IntoSource for HostSource {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(Source::Host(self))
    }
}
impl IntoSource for Scheme {
    fn into_source(self) -> Result<Source, SourceError> {
        Ok(Source::Scheme(self))
    }
}
impl IntoSource for &str {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}
impl IntoSource for &String {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}
impl IntoSource for String {
    fn into_source(self) -> Result<Source, SourceError> {
        self.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Result<ConnectSrc, PolicyError> {
        s.parse()
    }
    #[test]
    fn builder_patterns_one_call_each() {
        let c = ConnectSrc::builder()
            .self_origin()
            .host("https://api.myapp.com")
            .websocket("wss://ws.myapp.com")
            .websocket("rt.myapp.com")
            .subdomains_of("https://myapp.com")
            .scheme(Scheme::https())
            .host("https://api.myapp.com:*")
            .host("https://cdn.myapp.com/v1/")
            .build()
            .unwrap();
        assert_eq!(
            c.value(),
            "'self' https://api.myapp.com wss://ws.myapp.com wss://rt.myapp.com https://*.myapp.com https: https://api.myapp.com:* https://cdn.myapp.com/v1/"
        );
        assert_eq!(
            ConnectSrc::builder().none().build().unwrap().value(),
            "'none'"
        );
    }
    #[test]
    fn duplicates_removed_order_kept() {
        let c = list("https://B.com 'self' https://b.com 'SELF' https://a.com").unwrap();
        assert_eq!(c.value(), "https://b.com 'self' https://a.com");
    }
    #[test]
    fn every_problem_in_one_error() {
        let e = ConnectSrc::builder()
            .host("https://ok.com")
            .source("self")
            .host("bad;host")
            .host("x.com:70000")
            .websocket("https://api.x.com")
            .host("'self'")
            .build()
            .unwrap_err();
        assert_eq!(e.problems().len(), 5, "{e}");
        let text = e.to_string();
        for needle in ["\"self\"", "bad;host", "65535", "ws://", "host-source"] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }
    #[test]
    fn none_must_be_alone() {
        let e = list("'none' 'self'").unwrap_err();
        assert_eq!(e.problems()[0].kind(), &ProblemKind::NoneNotAlone);
        assert!(list("'none'").unwrap().is_none());
        assert_eq!(
            list("").unwrap_err().problems()[0].kind(),
            &ProblemKind::EmptyList
        );
    }
    #[test]
    fn directive_name_prefix_accepted() {
        assert_eq!(list("connect-src 'self'").unwrap().value(), "'self'");
    }
    #[cfg(feature = "serde")]
    #[test]
    fn serde_from_string_or_list() {
        #[derive(serde::Deserialize)]
        struct Config {
            connect_src: ConnectSrc,
        }
        let c: Config =
            serde_json::from_str(r#"{"connect_src":"'self' https://api.x.com"}"#).unwrap();
        assert_eq!(c.connect_src.value(), "'self' https://api.x.com");
        let c: Config =
            serde_json::from_str(r#"{"connect_src":["'self'","wss://ws.x.com"]}"#).unwrap();
        assert_eq!(c.connect_src.value(), "'self' wss://ws.x.com");
        let e = serde_json::from_str::<Config>(r#"{"connect_src":"self; x"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("self"), "{e}");
        let c: Config = toml::from_str("connect_src = [\"'self'\", \"https://a.com\"]").unwrap();
        assert_eq!(
            serde_json::to_string(&c.connect_src).unwrap(),
            "\"'self' https://a.com\""
        );
    }
}
