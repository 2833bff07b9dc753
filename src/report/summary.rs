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

/// What a summary group is keyed by. Every part is bounded (directive 64 bytes, origin and
/// path 256), so an aggregate's memory is bounded by its number of groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct GroupKey {
    /// The effective directive (`connect-src`).
    pub directive: String,
    /// `scheme://host[:port]` of the blocked URL, or its keyword (`inline`, `data`).
    pub blocked_origin: String,
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
            blocked_origin: cut(v.blocked_origin(), 256),
            document_path: cut(v.document_path(), 256),
            disposition: v.disposition,
            class: v.class,
        }
    }

    /// The overflow bucket's key ([`OVERFLOW`]).
    pub fn overflow() -> GroupKey {
        GroupKey {
            directive: OVERFLOW.into(),
            blocked_origin: OVERFLOW.into(),
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
    /// `scheme://host[:port]` of the blocked URL, or its keyword.
    pub blocked_origin: String,
    /// The document's path.
    pub document_path: String,
    /// Enforced, report-only, or not said; `"enforce"`, `"report"` or `"unknown"` in JSON.
    pub disposition: Disposition,
    /// How many violations.
    pub count: u64,
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
    /// The groups, most frequent first (possibly capped).
    pub groups: Vec<Group>,
}

impl Summary {
    /// The JSON form (the contract above).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Why a [`ReportStore`](super::ReportStore) could not be read. The collector answers 500
/// with this text on `/summary` and the dashboard, never a summary of zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the report store could not be read: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

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
             \"disposition\":\"unknown\",\"count\":2,\"first_seen\":\"1970-01-01T00:00:00Z\",\
             \"last_seen\":\"1970-01-01T00:01:00Z\",\"sample\":\"https://x.example/\",\
             \"class\":\"unverified\"}"
        );
    }
}
