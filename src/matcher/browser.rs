//! [`BrowserPolicy`]: policy text read the way browsers read it.

use url::Url;

use super::target::Target;
use super::{algorithm, with_target, CheckError, Verdict};
use crate::policy::text::parse_header;
use crate::source::{Host, HostSource, Source, SourceErrorKind};

/// A policy's connection rules as browsers read them: any text, with the sources a
/// browser would ignore dropped and named in [`warnings`](Self::warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPolicy {
    /// One source list per enforced policy; `None` where a policy has neither connect-src
    /// nor default-src (it allows every connection).
    lists: Vec<Option<Vec<Source>>>,
    warnings: Vec<String>,
}

impl BrowserPolicy {
    /// Parses a `connect-src` value (`'self' https://api.x.com`) as browsers do: keywords
    /// case-insensitive, unquoted `self` a host name, unknown keywords, nonces, hashes and
    /// malformed sources ignored, `'none'` ignored next to other sources.
    pub fn parse(directive_value: &str) -> BrowserPolicy {
        let mut warnings = Vec::new();
        let list = parse_list("connect-src", directive_value, &mut warnings);
        BrowserPolicy {
            lists: vec![Some(list)],
            warnings,
        }
    }

    /// Parses a whole `Content-Security-Policy` value: each policy's `connect-src`, or its
    /// `default-src` when it has none (§6.8.3); a policy with neither allows everything, and
    /// with several policies a connection must be allowed by all of them.
    pub fn from_header(header: &str) -> BrowserPolicy {
        let mut warnings = Vec::new();
        let lists = parse_header(header)
            .iter()
            .map(|p| {
                p.effective_connect_src()
                    .map(|(name, value)| parse_list(name, value, &mut warnings))
            })
            .collect();
        BrowserPolicy { lists, warnings }
    }

    /// What the browser would ignore, one sentence each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The effective source lists (`None`: that policy does not restrict connections).
    pub fn lists(&self) -> &[Option<Vec<Source>>] {
        &self.lists
    }

    /// Whether `page` may connect to `target`, per engine.
    pub fn check(&self, page: &str, target: &str) -> Result<Verdict, CheckError> {
        with_target(page, true, |p| {
            with_target(target, false, |t| self.verdict(p, t))
        })?
    }

    /// [`check`](Self::check) with parsed URLs.
    pub fn check_url(&self, page: &Url, target: &Url) -> Verdict {
        self.verdict(&Target::new(page), &Target::new(target))
    }

    fn verdict(&self, p: &Target<'_>, t: &Target<'_>) -> Verdict {
        let all = Verdict::ALL;
        self.lists.iter().fold(all, |v, list| match list {
            None => v,
            Some(sources) => v.and(algorithm::verdict(sources, p, t)),
        })
    }
}

fn parse_list(directive: &str, value: &str, warnings: &mut Vec<String>) -> Vec<Source> {
    let mut out = Vec::new();
    let mut saw_none = false;
    for token in value.split_ascii_whitespace() {
        match token.parse::<Source>() {
            Ok(Source::None) => saw_none = true,
            Ok(s) => {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Err(e) => match e.kind() {
                // To a browser, unquoted `self` / `none` are host names.
                SourceErrorKind::UnquotedKeyword(_) => {
                    let name = token.to_ascii_lowercase();
                    warnings.push(format!(
                        "{directive}: `{token}` is unquoted, so browsers read it as a host name; did you mean '{name}'?"
                    ));
                    out.push(Source::Host(HostSource {
                        scheme: None,
                        host: Host::Name(name.into()),
                        port: None,
                        path: None,
                    }));
                }
                _ => warnings.push(format!("{directive}: ignored {e}")),
            },
        }
    }
    if saw_none && !out.is_empty() {
        warnings.push(format!(
            "{directive}: 'none' is ignored next to other sources"
        ));
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Engine;

    /// (spec, chromium, firefox); the verdict table is tests/matcher_table.rs.
    fn t(list: &str, page: &str, target: &str) -> (bool, bool, bool) {
        let v = BrowserPolicy::parse(list).check(page, target).unwrap();
        (
            v.get(Engine::Spec),
            v.get(Engine::Chromium),
            v.get(Engine::Firefox),
        )
    }
    const ALL: (bool, bool, bool) = (true, true, true);
    const NONE: (bool, bool, bool) = (false, false, false);

    #[test]
    fn browser_parsing() {
        let p =
            BrowserPolicy::parse("'SELF' 'unsafe-inline' 'nonce-x' self 'none' https://a.com;x");
        assert_eq!(p.warnings().len(), 5, "{:?}", p.warnings());
        assert_eq!(t("self", "https://self/", "https://self/"), ALL);
        assert_eq!(t("'none'", "https://x.com/", "https://x.com/"), NONE);
        assert_eq!(t("'none' 'self'", "https://x.com/", "https://x.com/"), ALL);
        assert_eq!(t("", "https://x.com/", "https://x.com/"), NONE);
    }

    #[test]
    fn header_fallback_and_multiple_policies() {
        let h = |header: &str, target: &str| {
            BrowserPolicy::from_header(header)
                .check("https://x.com/", target)
                .unwrap()
                .everywhere()
        };
        assert!(h("default-src 'self'", "https://x.com/a"));
        assert!(!h("default-src 'self'", "https://y.com/a"));
        assert!(h(
            "default-src 'none'; connect-src https://y.com",
            "https://y.com/a"
        ));
        assert!(h("img-src 'none'", "https://y.com/a"));
        assert!(!h("connect-src *, connect-src 'self'", "https://y.com/a"));
        assert!(h("connect-src *, connect-src 'self'", "https://x.com/a"));
    }
}
