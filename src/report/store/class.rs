//! [`Class`]: what a report is, checked against the served policies (see `verify.rs`).

use std::fmt;

use serde::{Serialize, Serializer};

/// What a report is, checked against the served policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Class {
    /// Its policy is the one the app serves now, and for the reporting engine (every engine
    /// when the user agent is unknown) the matcher agrees that the policy blocks that URL
    /// from that page.
    Genuine,
    /// Its policy is served now, but the matcher says the reporting engine would have
    /// allowed the connection, and no redirect from it could have been blocked either: an
    /// extension, a browser bug, or a forged report.
    Contradicts,
    /// Its policy is served now and allows the URL reported, but a redirect from it to a
    /// URL the policy blocks would be blocked and reported under this URL (engines report
    /// the first URL of a chain, w3c/webappsec-csp#672): a genuine report can read this way,
    /// and so can a forged one. Learning does not read it — the URL is already allowed, the
    /// report does not say where the redirect went (`after-redirect`).
    AfterRedirect,
    /// Its policy is one the app served before the current one (a page still open from an
    /// earlier deploy).
    Stale,
    /// Its policy was never served by the app (an injected `<meta>` policy, a rewriting
    /// proxy, a forged report).
    Foreign,
    /// Nothing to check against: no served policies given, or no policy in the report.
    #[default]
    Unverified,
}

impl Class {
    /// Every class, in order.
    pub const ALL: [Class; 6] = [
        Class::Genuine,
        Class::Contradicts,
        Class::AfterRedirect,
        Class::Stale,
        Class::Foreign,
        Class::Unverified,
    ];

    /// `genuine`, `contradicts`, `after-redirect`, `stale`, `foreign` or `unverified`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Genuine => "genuine",
            Class::Contradicts => "contradicts",
            Class::AfterRedirect => "after-redirect",
            Class::Stale => "stale",
            Class::Foreign => "foreign",
            Class::Unverified => "unverified",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); anything else is `Unverified`.
    pub fn parse(s: &str) -> Class {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(Class::Unverified)
    }

    /// Whether learning reads it by default: `genuine` only. An `unverified` report (no
    /// policy to check it against, or none in the report) is anyone's claim; learning reads
    /// it only when asked ([`Summary::teaching_including_unverified`](super::Summary::teaching_including_unverified)).
    pub fn teaches(self) -> bool {
        matches!(self, Class::Genuine)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
