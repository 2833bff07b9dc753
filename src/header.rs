//! Reading an existing `Content-Security-Policy` header, and merging a `connect-src` into it.
//!
//! Parsing follows CSP3 §2.2.1 ("parse a serialized CSP"): a header value holds one or more
//! policies separated by `,`; a policy holds directives separated by `;`; a directive's name
//! is its first token, ASCII case-insensitive; a repeated directive is ignored.
//!
//! ```
//! use connect_src::header::{parse_header, merge_connect_src};
//!
//! let policies = parse_header("default-src 'self'; img-src *, connect-src 'none'");
//! assert_eq!(policies.len(), 2);
//! assert_eq!(policies[0].get("IMG-SRC"), Some("*"));
//! assert_eq!(policies[1].get("connect-src"), Some("'none'"));
//!
//! let merged = merge_connect_src(
//!     "default-src 'self'; connect-src *; img-src data:",
//!     "connect-src 'self' https://api.x.com",
//!     &["report-uri /r"],
//! );
//! assert_eq!(merged, "default-src 'self'; connect-src 'self' https://api.x.com; img-src data:; report-uri /r");
//! ```

/// One directive as written: its name and its value (both trimmed, name case kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The directive name as written (compare ASCII case-insensitively).
    pub name: &'a str,
    /// Everything after the name, trimmed; may be empty.
    pub value: &'a str,
}

/// One parsed policy: its directives in order, duplicates removed (the first wins, §2.2.1
/// step 2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedPolicy<'a> {
    /// The directives, in order.
    pub directives: Vec<Directive<'a>>,
}

impl<'a> ParsedPolicy<'a> {
    /// The value of the directive with this name (ASCII case-insensitive), if present.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.directives
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
            .map(|d| d.value)
    }

    /// The source list that governs connections: `connect-src`, else `default-src`
    /// (§6.8.3 fallback list « connect-src, default-src »). `None` when neither is present.
    pub fn effective_connect_src(&self) -> Option<(&'a str, &'a str)> {
        ["connect-src", "default-src"]
            .into_iter()
            .find_map(|n| self.get(n).map(|v| (n, v)))
    }
}

fn is_ascii_ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// §2.2.1: parses one serialized policy (no `,` splitting).
pub fn parse_policy(text: &str) -> ParsedPolicy<'_> {
    let mut directives: Vec<Directive<'_>> = Vec::new();
    for token in text.split(';') {
        // step 2.1: strip leading and trailing ASCII whitespace; 2.2: skip empty tokens
        let token = token.trim_matches(is_ascii_ws);
        if token.is_empty() {
            continue;
        }
        // step 2.3: the name is the code points up to the first ASCII whitespace
        let (name, value) = match token.find(is_ascii_ws) {
            Some(i) => (&token[..i], token[i..].trim_matches(is_ascii_ws)),
            None => (token, ""),
        };
        // step 2.4: a repeated directive is ignored
        if directives.iter().any(|d| d.name.eq_ignore_ascii_case(name)) {
            continue;
        }
        directives.push(Directive { name, value });
    }
    ParsedPolicy { directives }
}

/// Parses a whole header value: one policy per `,`-separated part (CSP3 §2.2.2); empty
/// parts are skipped.
pub fn parse_header(value: &str) -> Vec<ParsedPolicy<'_>> {
    value
        .split(',')
        .map(parse_policy)
        .filter(|p| !p.directives.is_empty())
        .collect()
}

/// Merges `connect` (a whole `connect-src …` directive) into every policy of `existing`:
/// the first `connect-src` is replaced (later duplicates, which browsers ignore, are dropped),
/// or `connect` is appended when the policy had none; each of `reporting` (`report-uri …`,
/// `report-to …`) is appended when the policy lacks that directive. Every other directive is
/// kept byte for byte, in order.
///
/// Adding `connect-src` to a policy that only had `default-src` takes connections away from
/// `default-src`'s list: the new list alone then decides (§6.8.3).
pub fn merge_connect_src(existing: &str, connect: &str, reporting: &[&str]) -> String {
    let mut out = String::with_capacity(existing.len() + connect.len() + 32);
    for policy in existing.split(',') {
        let mut parts: Vec<&str> = Vec::new();
        let mut replaced = false;
        let mut present: Vec<&str> = Vec::new();
        for token in policy.split(';') {
            let token = token.trim_matches(is_ascii_ws);
            if token.is_empty() {
                continue;
            }
            let name = token.split(is_ascii_ws).next().unwrap_or(token);
            if name.eq_ignore_ascii_case("connect-src") {
                if !replaced {
                    parts.push(connect);
                    replaced = true;
                }
                continue;
            }
            present.push(name);
            parts.push(token);
        }
        if parts.is_empty() {
            continue; // an empty policy (", ,") carries nothing to merge into
        }
        if !replaced {
            parts.push(connect);
        }
        for r in reporting {
            let name = r.split(' ').next().unwrap_or(r);
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
    fn parse_rules() {
        let p =
            parse_policy("  Default-Src 'self' ;; connect-src a.com; connect-src b.com ;sandbox");
        assert_eq!(p.directives.len(), 3);
        assert_eq!(p.get("default-src"), Some("'self'"));
        assert_eq!(p.get("CONNECT-SRC"), Some("a.com"), "first duplicate wins");
        assert_eq!(p.get("sandbox"), Some(""));
        assert_eq!(p.effective_connect_src(), Some(("connect-src", "a.com")));
        let p = parse_policy("default-src https:");
        assert_eq!(p.effective_connect_src(), Some(("default-src", "https:")));
        assert_eq!(parse_policy("img-src *").effective_connect_src(), None);
        assert!(parse_header(" , ;, ").is_empty());
    }

    #[test]
    fn merge_replaces_first_and_drops_duplicates() {
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
    fn merge_appends_when_missing_and_keeps_existing_reporting() {
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
    fn merge_edits_every_policy() {
        assert_eq!(
            merge_connect_src(
                "img-src a, connect-src b; script-src c",
                "connect-src x",
                &[]
            ),
            "img-src a; connect-src x, connect-src x; script-src c"
        );
        assert_eq!(
            merge_connect_src(" ; ", "connect-src x", &["report-uri /r"]),
            "connect-src x; report-uri /r"
        );
    }
}
