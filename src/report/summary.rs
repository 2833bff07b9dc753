//! The summary: violations grouped by (effective directive, blocked origin, document path,
//! disposition). Its JSON is a public contract:
//! `{"total":N,"filtered":N,"groups":[{"directive","blocked_origin","document_path",
//! "disposition","count","first_seen","last_seen","sample"}, …]}`, `total` counting every
//! stored violation even when `groups` is capped; times are RFC 3339 UTC strings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

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
    /// `enforce`, `report` or `unknown`.
    pub disposition: String,
    /// How many violations.
    pub count: u64,
    /// First seen, RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: SystemTime,
    /// Last seen, RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: SystemTime,
    /// One blocked URL of the group (normalized: no query by default).
    pub sample: String,
}

impl Group {
    /// A group with one violation.
    pub(crate) fn new(
        key: (String, String, String, String),
        at: SystemTime,
        sample: String,
    ) -> Group {
        Group {
            directive: key.0,
            blocked_origin: key.1,
            document_path: key.2,
            disposition: key.3,
            count: 0,
            first_seen: at,
            last_seen: at,
            sample,
        }
    }
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
    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_rfc3339(*t))
}

/// `2026-11-24T09:00:00Z` (UTC, second precision).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
