//! The merge mode's reading and text edit of headers a handler (or an inner layer) already
//! set: whether a CSP header value already restricts connections (then the layer leaves it
//! whole and adds its own policy beside it), putting our `connect-src` into one that does
//! not, and whether a `Reporting-Endpoints` value already names our endpoint.

pub use crate::policy::text::merge_connect_src;
use crate::policy::text::{policies, tokens};

/// Whether a policy of `text` (a CSP header value, several policies comma-separated)
/// restricts connections: it has a `connect-src`, or a `default-src`, which governs
/// connections when there is no `connect-src` (CSP3 §6.8.3). Editing such a policy could
/// loosen it (replacing `connect-src 'none'`, or adding a `connect-src` that takes over
/// from `default-src 'none'`), so the layer adds its own policy beside it instead: browsers
/// enforce every policy, so that only narrows.
pub(crate) fn restricts_connections(text: &str) -> bool {
    policies(text).any(|policy| {
        tokens(policy).any(|(_, d)| {
            d.name.eq_ignore_ascii_case("connect-src") || d.name.eq_ignore_ascii_case("default-src")
        })
    })
}

/// Whether the structured-field dictionary `value` (RFC 8941 §3.2; `Reporting-Endpoints`
/// is one) has a member named `key`. Keys are compared ASCII case-insensitively although a
/// valid key is lowercase: a handler's endpoint must never be overridden by ours, however
/// leniently a browser reads it. Commas inside quoted strings do not end a member.
pub(crate) fn dictionary_has_key(value: &str, key: &str) -> bool {
    let mut rest = value;
    loop {
        let member = rest.trim_start_matches([' ', '\t']);
        let end = member
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*')))
            .unwrap_or(member.len());
        if member[..end].eq_ignore_ascii_case(key) {
            return true;
        }
        // On to the next top-level comma (RFC 8941 §3.3.3: `\"` and `\\` escape inside
        // strings; inner lists separate their items with spaces, never commas).
        let (mut in_string, mut escaped) = (false, false);
        let mut next = None;
        for (i, c) in member[end..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                ',' if !in_string => {
                    next = Some(end + i + 1);
                    break;
                }
                _ => {}
            }
        }
        match next {
            Some(n) => rest = &member[n..],
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricts_connections_reads_connect_src_and_default_src() {
        assert!(restricts_connections("img-src a; CONNECT-SRC 'none'"));
        assert!(restricts_connections("img-src a, default-src 'self'"));
        assert!(
            restricts_connections("connect-src"),
            "an empty list is 'none'"
        );
        assert!(!restricts_connections(
            "script-src 'self'; frame-ancestors 'none'"
        ));
        assert!(!restricts_connections(" ; , "));
        // A name that only contains the word is another directive.
        assert!(!restricts_connections("x-connect-src a; default-srcx b"));
    }

    #[test]
    fn dictionary_keys_are_found_past_quoted_commas() {
        let v = r#"default="https://a.example/r,csp=x", other="\"csp=\"", csp="https://b/""#;
        assert!(dictionary_has_key(v, "csp"));
        assert!(dictionary_has_key(v, "default"));
        assert!(!dictionary_has_key(
            r#"default="https://a.example/r,csp=x""#,
            "csp"
        ));
        assert!(!dictionary_has_key(r#"a="\",csp=\"""#, "csp"));
        assert!(dictionary_has_key("a=1,\tCSP=2", "csp"));
        assert!(!dictionary_has_key("", "csp"));
        assert!(!dictionary_has_key("cspx=1, xcsp=2", "csp"));
    }

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
