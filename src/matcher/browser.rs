//! [`BrowserPolicy`]: policy text read the way browsers read it.

use url::Url;

use super::engine::{Engine, Rules};
use super::target::Target;
use super::{algorithm, with_target, CheckError, Verdict};
use crate::policy::text::{is_ascii_ws, policies, tokens, Directive};
use crate::source::{Host, HostSource, Source, SourceErrorKind};

/// A policy's connection rules as browsers read them: any text, each engine's reading of it
/// (CSP3 §2.2.1 for the spec, and the engines' measured departures: a control character
/// drops a directive, a `?query` in a source is ignored, …), with what a browser would ignore
/// named in [`warnings`](Self::warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPolicy {
    /// The engines that read the text alike share one reading.
    readings: Vec<Reading>,
    warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    /// The engines ([`Engine::bit`]) that read the text this way.
    engines: u8,
    /// One source list per enforced policy; `None` where a policy has neither connect-src
    /// nor default-src (it allows every connection).
    lists: Vec<Option<Vec<Source>>>,
}

impl BrowserPolicy {
    /// Parses a `connect-src` value (`'self' https://api.x.com`) as browsers do: keywords
    /// case-insensitive, unquoted `self` a host name, unknown keywords, nonces, hashes and
    /// malformed sources ignored, `'none'` ignored next to other sources; a value holding
    /// a non-ASCII character (or, in the engines, a control character) is ignored whole,
    /// so it restricts nothing.
    pub fn parse(directive_value: &str) -> BrowserPolicy {
        BrowserPolicy::read(|r, w| read_directive("connect-src", directive_value, r, w))
    }

    /// Parses a whole `Content-Security-Policy` value: each policy's `connect-src`, or its
    /// `default-src` when it has none (§6.8.3); a policy with neither allows everything, and
    /// with several policies a connection must be allowed by all of them.
    pub fn from_header(header: &str) -> BrowserPolicy {
        BrowserPolicy::read(|r, w| read_header(header, r, w))
    }

    fn read(
        mut read: impl FnMut(&Rules, &mut Warnings) -> Vec<Option<Vec<Source>>>,
    ) -> BrowserPolicy {
        let mut warnings = Warnings::default();
        let mut readings: Vec<Reading> = Vec::new();
        for engine in Engine::ALL {
            let lists = read(engine.rules(), &mut warnings);
            match readings.iter_mut().find(|r| r.lists == lists) {
                Some(same) => same.engines |= engine.bit(),
                None => readings.push(Reading {
                    engines: engine.bit(),
                    lists,
                }),
            }
        }
        BrowserPolicy {
            readings,
            warnings: warnings.0,
        }
    }

    /// What a browser would ignore, one sentence each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The source lists `engine` enforces, one per policy (`None`: that policy does not
    /// restrict connections).
    pub fn lists(&self, engine: Engine) -> &[Option<Vec<Source>>] {
        self.readings
            .iter()
            .find(|r| r.engines & engine.bit() != 0)
            .map_or(&[], |r| r.lists.as_slice())
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
        let mut allowed = 0;
        for r in &self.readings {
            // Every policy must allow it (§6.8.3 runs each policy).
            let mut ok = r.engines;
            for list in r.lists.iter().flatten() {
                ok &= algorithm::allowed_in(list, p, t, ok);
            }
            allowed |= ok;
        }
        Verdict { allowed }
    }
}

/// Warnings in the order found, each once.
#[derive(Debug, Default)]
struct Warnings(Vec<String>);

impl Warnings {
    fn push(&mut self, w: String) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }
}

/// ASCII whitespace, and the vertical tab where the engine reads it as one.
fn separates(c: char, r: &Rules) -> bool {
    is_ascii_ws(c) || (c == '\u{b}' && r.vertical_tab_separates)
}

/// A control character that makes an engine drop the directive holding it.
fn drops_directive(c: char, r: &Rules) -> bool {
    r.control_drops_directive && (c.is_ascii_control() && !separates(c, r))
}

/// Whether one directive (its whole text, name included) survives §2.2.1's step 2: not
/// ASCII (every engine and the spec), or holding a control character (the engines),
/// drops it.
fn keep_directive(text: &str, name: &str, r: &Rules, w: &mut Warnings) -> bool {
    if !text.is_ascii() {
        w.push(format!(
            "{name}: holds a non-ASCII character, so browsers ignore the whole directive (CSP3 \
             \u{a7}2.2.1); write hosts as punycode (`audit` gives the form)"
        ));
        return false;
    }
    if let Some(c) = text.chars().find(|&c| drops_directive(c, r)) {
        w.push(format!(
            "{name}: holds the control character U+{:04X}, so Chromium, Firefox and WebKit \
             ignore the whole directive (WebKit reads U+000B as a space); by the spec text \
             only the source holding it is invalid",
            u32::from(c)
        ));
        return false;
    }
    true
}

/// One policy's effective connect-src list (connect-src, else default-src), or `None`.
fn read_policy(policy: &str, r: &Rules, w: &mut Warnings) -> Option<Option<Vec<Source>>> {
    let mut kept: Vec<Directive<'_>> = Vec::new();
    let mut any = false;
    for (text, d) in tokens(policy) {
        any = true;
        // Step 2.2 (non-ASCII) comes before step 2.5 (a repeated name), so a dropped
        // directive does not hide a later one of the same name.
        if !keep_directive(text, d.name, r, w) {
            continue;
        }
        if !kept.iter().any(|k| k.name.eq_ignore_ascii_case(d.name)) {
            kept.push(d);
        }
    }
    if !any {
        return None; // an empty policy (", ,") is no policy
    }
    let effective = ["connect-src", "default-src"].into_iter().find_map(|n| {
        kept.iter()
            .find(|d| d.name.eq_ignore_ascii_case(n))
            .map(|d| (n, d.value))
    });
    Some(effective.map(|(name, value)| parse_list(name, value, r, w)))
}

fn read_header(header: &str, r: &Rules, w: &mut Warnings) -> Vec<Option<Vec<Source>>> {
    policies(header)
        .filter_map(|p| read_policy(p, r, w))
        .collect()
}

fn read_directive(
    name: &str,
    value: &str,
    r: &Rules,
    w: &mut Warnings,
) -> Vec<Option<Vec<Source>>> {
    if keep_directive(value, name, r, w) {
        vec![Some(parse_list(name, value, r, w))]
    } else {
        vec![None]
    }
}

/// The port text of a host-source token, if it has one.
fn port_text(token: &str) -> Option<&str> {
    let rest = token.split_once("://").map_or(token, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit_once(':').map(|(_, p)| p)
}

fn parse_list(directive: &str, value: &str, r: &Rules, w: &mut Warnings) -> Vec<Source> {
    let spec = !r.control_drops_directive; // only the spec's reading reports token errors
    let mut out = Vec::new();
    let mut saw_none = false;
    for token in value.split(|c| separates(c, r)).filter(|t| !t.is_empty()) {
        let mut token = token;
        if r.query_in_source_ignored && !token.starts_with('\'') {
            if let Some(i) = token.find(['?', '#']) {
                w.push(format!(
                    "{directive}: browsers ignore the query or fragment of `{token}` and keep \
                     the rest; by the spec text the source is invalid"
                ));
                token = &token[..i];
            }
        }
        if r.leading_zero_port_matches_nothing
            && port_text(token).is_some_and(|p| p.len() > 1 && p.starts_with('0'))
        {
            w.push(format!(
                "{directive}: `{token}` writes its port with leading zeros, so it matches \
                 nothing in Firefox"
            ));
            continue;
        }
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
                    w.push(format!(
                        "{directive}: `{token}` is unquoted, so browsers read it as a host name; did you mean '{name}'?"
                    ));
                    out.push(Source::Host(HostSource {
                        scheme: None,
                        host: Host::Name(name.into()),
                        port: None,
                        path: None,
                    }));
                }
                _ if spec => w.push(format!("{directive}: ignored {e}")),
                _ => {}
            },
        }
    }
    if saw_none && !out.is_empty() {
        w.push(format!(
            "{directive}: 'none' is ignored next to other sources"
        ));
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

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
