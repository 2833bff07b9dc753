//! What a report's URL says about it: the query parameters the layer writes into its report
//! URLs (DESIGN "Report URL query parameters").

use crate::policy::{POLICY_PARAMETER, PROVENANCE_PARAMETER, REPORT_ONLY_MARKER};
use crate::report::store::PageLoad;

/// The query parameter naming an inventory report's page load (`csp-inventory=<16 hex>`).
pub const INVENTORY_PARAMETER: &str = "csp-inventory";
/// The query parameter giving an inventory report's sample rate (`csp-sample=0.01`).
pub const SAMPLE_PARAMETER: &str = "csp-sample";

/// The markers of one report request's URL: the report-only header's marker, the
/// provenance token, and an inventory report's page load and sample rate.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Via {
    /// `disposition=report`: the report-only header's `report-uri`.
    pub(crate) report_only: bool,
    /// `csp-token=…` (at most 64 characters kept).
    pub(crate) token: Option<String>,
    /// `csp-policy=d1.d2`: the digests of the policies the token covers (at most 4, each 16
    /// hex digits; anything else leaves it empty).
    pub(crate) policies: Vec<String>,
    /// `csp-inventory=…` and `csp-sample=…`: an inventory report. The rate is the text as
    /// written (the token covers it as text) and its value in `(0, 1]`.
    pub(crate) inventory: Option<(PageLoad, String, f64)>,
    /// `csp-inventory` was there but unreadable (or without a usable rate).
    pub(crate) bad_inventory: bool,
}

impl Via {
    /// Reads a request URL's query (`None`: no query).
    pub(crate) fn from_query(query: Option<&str>) -> Via {
        let mut via = Via::default();
        let (mut page_load, mut rate) = (None, None);
        for kv in query.unwrap_or("").split('&') {
            let value = |name: &str| kv.strip_prefix(name).and_then(|r| r.strip_prefix('='));
            if kv == REPORT_ONLY_MARKER {
                via.report_only = true;
            } else if let Some(t) = value(PROVENANCE_PARAMETER) {
                via.token = Some(t.chars().take(64).collect());
            } else if let Some(id) = value(INVENTORY_PARAMETER) {
                page_load = Some(PageLoad::parse(id));
            } else if let Some(list) = value(POLICY_PARAMETER) {
                let digests: Vec<String> = list.split('.').map(str::to_owned).collect();
                let well_formed = digests.len() <= 4
                    && digests.iter().all(|d| {
                        d.len() == 16 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    });
                if well_formed {
                    via.policies = digests;
                }
            } else if let Some(r) = value(SAMPLE_PARAMETER) {
                rate = Some(r.chars().take(16).collect::<String>());
            }
        }
        match (page_load, rate) {
            (None, _) => {}
            (Some(Some(id)), Some(text)) => match text.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 && r <= 1.0 => {
                    via.inventory = Some((id, text, r));
                }
                _ => via.bad_inventory = true,
            },
            (Some(_), _) => via.bad_inventory = true,
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
        let bound = Via::from_query(Some(
            "csp-token=t&csp-policy=0123456789abcdef.fedcba9876543210",
        ));
        assert_eq!(bound.policies, ["0123456789abcdef", "fedcba9876543210"]);
        assert!(Via::from_query(Some("csp-policy=XYZ")).policies.is_empty());
        let inv = Via::from_query(Some("csp-inventory=00000000000000ff&csp-sample=0.01"));
        assert_eq!(inv.inventory, Some((PageLoad(255), "0.01".into(), 0.01)));
        for bad in [
            "csp-inventory=ff&csp-sample=0.01",
            "csp-inventory=00000000000000ff",
            "csp-inventory=00000000000000ff&csp-sample=0",
            "csp-inventory=00000000000000ff&csp-sample=2",
            "csp-inventory=00000000000000ff&csp-sample=NaN",
        ] {
            let v = Via::from_query(Some(bad));
            assert!(v.bad_inventory && v.inventory.is_none(), "{bad}");
        }
    }
}
