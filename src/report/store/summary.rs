//! The summary: violations grouped by [`GroupKey`] (effective directive, blocked origin,
//! document path, disposition, class). Its JSON is a public contract:
//! `{"total":N,"filtered":N,"groups":[{"directive","blocked_origin","document_path",
//! "disposition","count","first_seen","last_seen","sample","class"}, …]}`, `total` counting every
//! stored violation even when `groups` is capped; times are RFC 3339 UTC strings with second
//! precision (`2026-11-24T09:00:00Z`).

use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::class::Class;
use super::violation::{bound, Disposition, Violation};
use crate::learn::Observation;
use crate::policy::CONNECTION_ALLOWLIST_DIRECTIVE;
use crate::source::Origin;

/// What a group's reports say was blocked: the blocked URL's [`Origin`], or, for what has
/// none, the keyword or bare scheme browsers send instead (`inline`, `eval`, `data`, `blob`)
/// or the reported text itself, bounded to 256 bytes. Serialized as its text
/// (`"https://api.example.com"`, `"inline"`): the summary's `blocked_origin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Blocked {
    /// An http(s) or ws(s) URL's origin.
    Origin(Origin),
    /// Anything else, as reported (bounded).
    Other(String),
}

impl Blocked {
    /// What a violation says was blocked.
    pub fn of(v: &Violation) -> Blocked {
        match &v.blocked_origin {
            Some(o) => Blocked::Origin(o.clone()),
            None => Blocked::Other(bound(&v.blocked_url, 256).to_owned()),
        }
    }

    /// Reads a stored group's text back (a database's `blocked_origin` column): an origin
    /// when the text is one, else the text as it is.
    pub fn from_stored(text: String) -> Blocked {
        match text.parse::<Origin>() {
            Ok(o) if o.as_str() == text => Blocked::Origin(o),
            _ => Blocked::Other(text),
        }
    }

    /// The origin, if it is one.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Blocked::Origin(o) => Some(o),
            Blocked::Other(_) => None,
        }
    }

    /// The text: the origin's serialization, or the keyword.
    pub fn as_str(&self) -> &str {
        match self {
            Blocked::Origin(o) => o.as_str(),
            Blocked::Other(s) => s,
        }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Blocked {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Blocked {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Blocked {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a summary group is keyed by. Every part is bounded (directive 64 bytes, origin and
/// path 256), so an aggregate's memory is bounded by its number of groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct GroupKey {
    /// The effective directive (`connect-src`).
    pub directive: String,
    /// The blocked URL's origin, or its keyword (`inline`, `data`).
    pub blocked_origin: Blocked,
    /// The document's path.
    pub document_path: String,
    /// Enforced, report-only, or not said.
    pub disposition: Disposition,
    /// What the reports are, checked against the served policies.
    pub class: Class,
}

/// The overflow bucket's text in every string part of its key: the violations that arrived
/// when a bounded aggregate was full.
pub const OVERFLOW: &str = "(other)";

impl GroupKey {
    /// The key of a violation.
    pub fn of(v: &Violation) -> GroupKey {
        // In place: the origin and path are fresh Strings already.
        fn cut(mut s: String, max: usize) -> String {
            s.truncate(bound(&s, max).len());
            s
        }
        GroupKey {
            directive: bound(&v.effective_directive, 64).to_owned(),
            blocked_origin: Blocked::of(v),
            document_path: cut(v.document_path(), 256),
            disposition: v.disposition,
            class: v.class,
        }
    }

    /// The overflow bucket's key ([`OVERFLOW`]).
    pub fn overflow() -> GroupKey {
        GroupKey {
            directive: OVERFLOW.into(),
            blocked_origin: Blocked::Other(OVERFLOW.into()),
            document_path: OVERFLOW.into(),
            disposition: Disposition::Unknown,
            class: Class::Unverified,
        }
    }
}

/// One group of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Group {
    /// The effective directive (`connect-src`).
    pub directive: String,
    /// The blocked URL's origin, or its keyword (`"https://api.example.com"`, `"inline"`
    /// in JSON).
    pub blocked_origin: Blocked,
    /// The document's path.
    pub document_path: String,
    /// Enforced, report-only, or not said; `"enforce"`, `"report"` or `"unknown"` in JSON.
    pub disposition: Disposition,
    /// How many violations.
    pub count: u64,
    /// Distinct client networks among the senders (a keyed hash of each /24 or /48): what
    /// one client cannot inflate. 0 when the collector saw no client address. Stores may
    /// count it up to a cap (`MemorySink`: 64).
    pub reach: u64,
    /// First seen; RFC 3339 in JSON.
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: SystemTime,
    /// Last seen; RFC 3339 in JSON.
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: SystemTime,
    /// One blocked URL of the group (normalized: no query by default).
    pub sample: String,
    /// What its reports are, checked against the served policies (`"genuine"`,
    /// `"contradicts"`, `"stale"`, `"foreign"`, `"unverified"` in JSON).
    pub class: Class,
}

impl Group {
    /// A group of `key` with no violations yet, first and last seen at `at`.
    pub(crate) fn new(key: GroupKey, at: SystemTime, sample: String) -> Group {
        let GroupKey {
            directive,
            blocked_origin,
            document_path,
            disposition,
            class,
        } = key;
        Group {
            directive,
            blocked_origin,
            document_path,
            disposition,
            count: 0,
            reach: 0,
            first_seen: at,
            last_seen: at,
            sample,
            class,
        }
    }

    /// The key the group is counted under (to ask a store for its
    /// [`activity`](super::ReportStore::activity)).
    pub fn key(&self) -> GroupKey {
        GroupKey {
            directive: self.directive.clone(),
            blocked_origin: self.blocked_origin.clone(),
            document_path: self.document_path.clone(),
            disposition: self.disposition,
            class: self.class,
        }
    }

    /// Counts `n` more violations seen at `at`.
    pub(crate) fn add(&mut self, n: u64, at: SystemTime) {
        self.count += n;
        self.first_seen = self.first_seen.min(at);
        self.last_seen = self.last_seen.max(at);
    }
}

/// Grouped violations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Every stored violation.
    pub total: u64,
    /// Violations dropped as noise.
    pub filtered: u64,
    /// The groups, widest reach first, then most frequent (possibly capped).
    pub groups: Vec<Group>,
}

impl Summary {
    /// The JSON form (the contract above).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// What learning reads here ([`learn::suggest`](crate::learn::suggest)): the report-only
    /// `connect-src` groups classed `genuine` ([`Class::teaches`]), as destinations with
    /// their counts and reach, in the summary's order; and what it sets aside: the other
    /// classes' counts and the reports whose blocked URL has no origin. Enforced violations are left
    /// out (the connection was blocked, as intended).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::extract::ConnectInfo;
    /// use connect_src::learn::{suggest, SuggestOptions};
    /// use connect_src::policy::ServedPolicies;
    /// use connect_src::report::store::{MemorySink, ReportStore};
    /// use connect_src::report::Collector;
    /// use connect_src::ConnectSrc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let served = "connect-src 'self'; report-uri /csp-reports?disposition=report";
    /// let store = MemorySink::new();
    /// let collector = Collector::builder()
    ///     .store(store.clone())
    ///     .served_policies(ServedPolicies::from_headers([served]))
    ///     .build();
    /// // The same report-only violation from two client networks.
    /// for peer in ["198.51.100.7:5000", "203.0.113.9:6000"] {
    ///     let body = format!(r#"{{"csp-report":{{"document-uri":"https://app.example/",
    ///         "effective-directive":"connect-src","blocked-uri":"https://api.example.net/v1",
    ///         "disposition":"report","original-policy":"{served}"}}}}"#);
    ///     let mut request = http::Request::post("/csp-reports?disposition=report")
    ///         .header("content-type", "application/csp-report")
    ///         .body(axum::body::Body::from(body))?;
    ///     request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>()?));
    ///     collector.accept(request).await?;
    /// }
    ///
    /// let teaching = store.summary(500).await?.teaching();
    /// let current: ConnectSrc = "'self'".parse()?;
    /// let s = suggest(&current, teaching.observations, &SuggestOptions::default());
    /// assert_eq!(s.policy.value(), "'self' https://api.example.net");
    /// # Ok(())
    /// # }
    /// ```
    pub fn teaching(&self) -> Teaching {
        self.teaching_of(Class::teaches)
    }

    /// [`teaching`](Self::teaching), `unverified` groups read too: for a collector that
    /// knows no served policy. Anyone can POST an unverified report; the minimum reach
    /// still applies to what is learned.
    pub fn teaching_including_unverified(&self) -> Teaching {
        self.teaching_of(|c| c.teaches() || c == Class::Unverified)
    }

    /// [`teaching`](Self::teaching) for the report-only `Connection-Allowlist`: its
    /// genuine `connection-allowlist` reports (navigations, subresources and connections
    /// the allowlist did not admit), what
    /// [`learn::suggest_navigations`](crate::learn::suggest_navigations) learns from;
    /// `unverified` groups too when `include_unverified`.
    pub fn allowlist_teaching(&self, include_unverified: bool) -> Teaching {
        self.teaching_in(CONNECTION_ALLOWLIST_DIRECTIVE, |c| {
            c.teaches() || (include_unverified && c == Class::Unverified)
        })
    }

    fn teaching_of(&self, teaches: impl Fn(Class) -> bool) -> Teaching {
        self.teaching_in("connect-src", teaches)
    }

    fn teaching_in(&self, directive: &str, teaches: impl Fn(Class) -> bool) -> Teaching {
        let mut out = Teaching {
            observations: Vec::new(),
            distrusted: Class::ALL
                .iter()
                .filter(|c| !teaches(**c))
                .map(|c| (*c, 0))
                .collect(),
            not_origins: 0,
        };
        for g in self
            .groups
            .iter()
            .filter(|g| g.disposition == Disposition::Report && g.directive == directive)
        {
            if !teaches(g.class) {
                if let Some((_, n)) = out.distrusted.iter_mut().find(|(c, _)| *c == g.class) {
                    *n += g.count;
                }
                continue;
            }
            match g.blocked_origin.origin() {
                Some(o) => out
                    .observations
                    .push(Observation::new(o.clone(), g.count, g.reach)),
                None => out.not_origins += g.count,
            }
        }
        out.distrusted.retain(|(_, n)| *n > 0);
        out
    }
}

/// What [`Summary::teaching`] finds: what learning may read, and what it sets aside.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Teaching {
    /// Report-only `connect-src` destinations of the classes read, with their counts and
    /// reach, in the summary's order.
    pub observations: Vec<Observation>,
    /// Report-only `connect-src` violations set aside for their class, counted per class in
    /// the order of [`Class::ALL`]; classes with none are left out.
    pub distrusted: Vec<(Class, u64)>,
    /// Report-only `connect-src` violations of the classes read whose blocked URL has no
    /// origin (`data`, `blob`, a keyword): nothing a source could name.
    pub not_origins: u64,
}

impl Serialize for Disposition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&rfc3339_text(*t))
}

/// RFC 3339, UTC, whole seconds; times before 1970 show as the epoch.
pub(crate) fn rfc3339_text(t: SystemTime) -> impl fmt::Display {
    humantime::format_rfc3339_seconds(t.max(SystemTime::UNIX_EPOCH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_dates() {
        let f = |s: u64| rfc3339_text(UNIX_EPOCH + Duration::from_secs(s)).to_string();
        assert_eq!(f(0), "1970-01-01T00:00:00Z");
        assert_eq!(f(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(f(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339_text(UNIX_EPOCH - Duration::from_secs(5)).to_string(),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn group_json_keeps_the_contract() {
        let mut g = Group::new(
            GroupKey::overflow(),
            UNIX_EPOCH,
            "https://x.example/".into(),
        );
        g.add(2, UNIX_EPOCH + Duration::from_secs(60));
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            "{\"directive\":\"(other)\",\"blocked_origin\":\"(other)\",\"document_path\":\"(other)\",\
             \"disposition\":\"unknown\",\"count\":2,\"reach\":0,\"first_seen\":\"1970-01-01T00:00:00Z\",\
             \"last_seen\":\"1970-01-01T00:01:00Z\",\"sample\":\"https://x.example/\",\
             \"class\":\"unverified\"}"
        );
    }
}
