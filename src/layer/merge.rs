//! The merge mode's text edit: put our `connect-src` into a CSP header value a handler (or
//! an inner layer) already set, keeping every other directive.

use crate::policy::text::{policies, tokens};

/// Merges `connect` (a whole `connect-src …` directive) into every policy of `existing`:
/// the first `connect-src` is replaced (later duplicates, which browsers ignore, are dropped),
/// or `connect` is appended when the policy had none; each of `reporting` (`report-uri …`,
/// `report-to …`) is appended when the policy lacks a directive of that name. Every other
/// directive is kept as written, in order; policies with no directive (`, ,`) are dropped,
/// and when none is left, `connect` and `reporting` stand alone.
///
/// Adding `connect-src` to a policy that only had `default-src` takes connections away from
/// `default-src`'s list: the new list alone then decides (CSP3 §6.8.3).
///
/// Public only for the fuzz target and the property tests; not part of the API.
#[doc(hidden)]
pub fn merge_connect_src(existing: &str, connect: &str, reporting: &[&str]) -> String {
    let reporting_names: Vec<&str> = reporting
        .iter()
        .flat_map(|r| tokens(r).next().map(|(_, d)| d.name))
        .collect();
    let mut out = String::with_capacity(existing.len() + connect.len() + 32);
    for policy in policies(existing) {
        let mut parts: Vec<&str> = Vec::new();
        let mut replaced = false;
        let mut present: Vec<&str> = Vec::new();
        for (text, d) in tokens(policy) {
            if d.name.eq_ignore_ascii_case("connect-src") {
                if !replaced {
                    parts.push(connect);
                    replaced = true;
                }
                continue;
            }
            present.push(d.name);
            parts.push(text);
        }
        if parts.is_empty() {
            continue; // an empty policy (", ,") carries nothing to merge into
        }
        if !replaced {
            parts.push(connect);
        }
        for (r, name) in reporting.iter().zip(&reporting_names) {
            if !present.iter().any(|p| p.eq_ignore_ascii_case(name)) {
                parts.push(r);
            }
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&parts.join("; "));
    }
    if out.is_empty() {
        // Nothing usable was there: our directive stands alone.
        out.push_str(connect);
        for r in reporting {
            out.push_str("; ");
            out.push_str(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_first_and_drops_duplicates() {
        assert_eq!(
            merge_connect_src(
                "connect-src a; img-src b; CONNECT-SRC c",
                "connect-src x",
                &[]
            ),
            "connect-src x; img-src b"
        );
    }

    #[test]
    fn appends_when_missing_and_keeps_existing_reporting() {
        assert_eq!(
            merge_connect_src(
                "default-src 'self'; report-uri /theirs",
                "connect-src x",
                &["report-uri /ours", "report-to csp"]
            ),
            "default-src 'self'; report-uri /theirs; connect-src x; report-to csp"
        );
    }

    #[test]
    fn edits_every_policy_and_keeps_bytes() {
        assert_eq!(
            merge_connect_src(
                "img-src a, connect-src b; script-src\tc",
                "connect-src x",
                &[]
            ),
            "img-src a; connect-src x, connect-src x; script-src\tc"
        );
        assert_eq!(
            merge_connect_src(" ; ", "connect-src x", &["report-uri /r"]),
            "connect-src x; report-uri /r"
        );
    }
}
