//! What a report's URL says about it: the query parameters the layer writes into its report
//! URLs (DESIGN "Report URL query parameters").

use crate::policy::{PROVENANCE_PARAMETER, REPORT_ONLY_MARKER};

/// The markers of one report request's URL: the report-only header's marker and the
/// provenance token.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Via {
    /// `disposition=report`: the report-only header's `report-uri`.
    pub(crate) report_only: bool,
    /// `csp-token=…` (at most 64 characters kept).
    pub(crate) token: Option<String>,
}

impl Via {
    /// Reads a request URL's query (`None`: no query).
    pub(crate) fn from_query(query: Option<&str>) -> Via {
        let mut via = Via::default();
        for kv in query.unwrap_or("").split('&') {
            if kv == REPORT_ONLY_MARKER {
                via.report_only = true;
            } else if let Some(t) = kv
                .strip_prefix(PROVENANCE_PARAMETER)
                .and_then(|r| r.strip_prefix('='))
            {
                via.token = Some(t.chars().take(64).collect());
            }
        }
        via
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_from_the_query() {
        let v = Via::from_query(Some("x=1&disposition=report&csp-token=abc"));
        assert!(v.report_only);
        assert_eq!(v.token.as_deref(), Some("abc"));
        assert_eq!(Via::from_query(None), Via::default());
        let long = format!("csp-token={}", "a".repeat(100));
        assert_eq!(Via::from_query(Some(&long)).token.unwrap().len(), 64);
    }
}
