//! Reading policy text: a `Content-Security-Policy` header value as CSP3 §2.2.1 ("parse a
//! serialized CSP") reads it. A header value holds one or more policies separated by `,`; a
//! policy holds directives separated by `;`; a directive's name is its first token, ASCII
//! case-insensitive; a repeated directive is ignored. The layer's merge and the matcher's
//! [`BrowserPolicy`](crate::matcher::BrowserPolicy) read text with the same tokenizer.
//!
//! ```
//! use connect_src::policy::text::parse_header;
//!
//! let policies = parse_header("default-src 'self'; img-src *, connect-src 'none'");
//! assert_eq!(policies.len(), 2);
//! assert_eq!(policies[0].get("IMG-SRC"), Some("*"));
//! assert_eq!(policies[1].get("connect-src"), Some("'none'"));
//! assert_eq!(policies[0].effective_connect_src(), Some(("default-src", "'self'")));
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

/// Directive names: those CSP3 defines (fetch directives §6.1, other §6.2, document §6.3,
/// navigation §6.4, reporting §6.5), those it lists from other specifications (§6.6: mixed
/// content, trusted types; `fenced-frame-src` from Fenced Frames), and the withdrawn ones
/// older browsers still send (`prefetch-src`, `navigate-to`, CSP2's `plugin-types`). The
/// report parser keeps only violations of these; `audit` flags them used as sources.
pub(crate) const DIRECTIVE_NAMES: &[&str] = &[
    "child-src",
    "connect-src",
    "default-src",
    "fenced-frame-src",
    "font-src",
    "frame-src",
    "img-src",
    "manifest-src",
    "media-src",
    "object-src",
    "prefetch-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "worker-src",
    "webrtc",
    "base-uri",
    "sandbox",
    "plugin-types",
    "form-action",
    "frame-ancestors",
    "navigate-to",
    "report-uri",
    "report-to",
    "block-all-mixed-content",
    "upgrade-insecure-requests",
    "require-trusted-types-for",
    "trusted-types",
];

/// Whether `name` is a directive name (ASCII case-insensitive): CSP3's own (fetch §6.1,
/// other §6.2, document §6.3, navigation §6.4, reporting §6.5), those it lists from other
/// specifications (§6.6), and the withdrawn ones browsers still send (`prefetch-src`,
/// `navigate-to`, `plugin-types`). Anything else in a header is a directive no browser enforces (a typo, or a
/// source list given where a header was expected).
///
/// ```
/// use connect_src::policy::text::is_directive_name;
/// assert!(is_directive_name("Connect-Src"));
/// assert!(!is_directive_name("'self'"));
/// ```
pub fn is_directive_name(name: &str) -> bool {
    directive_name(name).is_some()
}

/// `name` as [`DIRECTIVE_NAMES`] spells it (lowercase), if it is one (ASCII
/// case-insensitive, §2.2.1 step 2.4).
pub(crate) fn directive_name(name: &str) -> Option<&'static str> {
    DIRECTIVE_NAMES
        .iter()
        .find(|d| d.eq_ignore_ascii_case(name))
        .copied()
}

/// ASCII whitespace (Infra): tab, line feed, form feed, carriage return, space.
pub(crate) fn is_ascii_ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// One policy's directives in a form that compares by meaning, not text: names lower-case,
/// each value's tokens lower-case, de-duplicated and sorted, the first of a repeated
/// directive kept, and the reporting directives left out (Firefox writes `report-uri`
/// resolved to an absolute URL, and report URLs carry tokens that change).
pub(crate) type Canonical = Vec<(String, Vec<String>)>;

/// `policy` (one serialized policy) in its [`Canonical`] form.
pub(crate) fn canonical(policy: &str) -> Canonical {
    let mut out: Canonical = Vec::new();
    for (_, d) in tokens(policy) {
        let name = d.name.to_ascii_lowercase();
        if matches!(name.as_str(), "report-uri" | "report-to")
            || out.iter().any(|(n, _)| *n == name)
        {
            continue;
        }
        let mut values: Vec<String> = d
            .value
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        values.sort();
        values.dedup();
        out.push((name, values));
    }
    out.sort();
    out
}

/// A short digest of one policy's meaning (its canonical form: directives and sources
/// sorted, reporting directives left out): 16 hex digits of SHA-256.
/// Two texts of one policy (reordered sources, other report URLs) have one digest. What a
/// provenance token binds ([`Provenance::policies_token_at`](super::Provenance::policies_token_at)),
/// so a collector recognizes the policies an app serves from its reports alone.
///
/// ```
/// use connect_src::policy::text::policy_digest;
/// assert_eq!(
///     policy_digest("connect-src 'self' https://a.example; report-uri /r?x=1"),
///     policy_digest("CONNECT-SRC https://a.example 'self'; report-to csp"),
/// );
/// assert_ne!(policy_digest("connect-src 'self'"), policy_digest("connect-src 'none'"));
/// ```
pub fn policy_digest(policy: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, values) in canonical(policy) {
        h.update(name.as_bytes());
        for v in values {
            h.update(b" ");
            h.update(v.as_bytes());
        }
        h.update(b";");
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The serialized policies of a header value: its `,`-separated parts, as written (CSP3
/// §2.2.2 "parse a response's Content Security Policies" splits on commas).
pub(crate) fn policies(value: &str) -> impl Iterator<Item = &str> {
    value.split(',')
}

/// The tokenizer every reader of policy text shares: §2.2.1 steps 2.1–2.3 for each
/// `;`-separated token of one serialized policy, without step 2.4's de-duplication. Yields
/// the token as written (trimmed of ASCII whitespace) and its directive; empty tokens are
/// skipped.
pub(crate) fn tokens(policy: &str) -> impl Iterator<Item = (&str, Directive<'_>)> {
    policy.split(';').filter_map(|token| {
        // step 2.1: strip leading and trailing ASCII whitespace; 2.2: skip empty tokens
        let token = token.trim_matches(is_ascii_ws);
        if token.is_empty() {
            return None;
        }
        // step 2.3: the name is the code points up to the first ASCII whitespace
        let (name, value) = match token.find(is_ascii_ws) {
            Some(i) => (&token[..i], token[i..].trim_matches(is_ascii_ws)),
            None => (token, ""),
        };
        Some((token, Directive { name, value }))
    })
}

/// §2.2.1: parses one serialized policy (no `,` splitting).
pub fn parse_policy(text: &str) -> ParsedPolicy<'_> {
    let mut directives: Vec<Directive<'_>> = Vec::new();
    for (_, d) in tokens(text) {
        // step 2.4: a repeated directive is ignored
        if !directives
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(d.name))
        {
            directives.push(d);
        }
    }
    ParsedPolicy { directives }
}

/// Parses a whole header value: one policy per `,`-separated part (CSP3 §2.2.2); empty
/// parts are skipped.
pub fn parse_header(value: &str) -> Vec<ParsedPolicy<'_>> {
    policies(value)
        .map(parse_policy)
        .filter(|p| !p.directives.is_empty())
        .collect()
}

/// Merges `connect` (a whole `connect-src …` directive) into every policy of `existing`:
/// the first `connect-src` is replaced (later duplicates, which browsers ignore, are dropped),
/// or `connect` is appended when the policy had none; each of `reporting` (`report-uri …`,
/// `report-to …`) is appended when the policy lacks a directive of that name. Every other
/// directive is kept as written, in order; policies with no directive (`, ,`) are dropped,
/// and when none is left, `connect` and `reporting` stand alone.
///
/// The layer calls it only on header values that do not restrict connections (no
/// `connect-src`, no `default-src`), where it only adds: replacing a `connect-src`, or
/// adding one next to `default-src`, could loosen the handler's policy, and the layer never
/// does that. The collector calls it to know the header a rollout's stage serves.
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
    fn tokens_keep_the_text_and_every_duplicate() {
        let t: Vec<_> = tokens(" connect-src\ta ;; CONNECT-SRC b ;sandbox").collect();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].0, "connect-src\ta");
        assert_eq!(
            t[0].1,
            Directive {
                name: "connect-src",
                value: "a"
            }
        );
        assert_eq!(t[1].1.name, "CONNECT-SRC");
        assert_eq!(
            t[2],
            (
                "sandbox",
                Directive {
                    name: "sandbox",
                    value: ""
                }
            )
        );
    }
}
