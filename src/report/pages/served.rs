//! What the app serves now, read for the dashboard: the list the suggestion starts from
//! ([`base`]) and the app's enforced list ([`enforced`]), which the suggestion never goes
//! beyond and whose sources the page judges used or unused.

use crate::policy::text::parse_header;
use crate::policy::{ConnectSrc, Served};
use crate::source::Source;

/// A connect-src read from a served header: the list, and the tokens left out because they
/// are not sources (`'unsafe-inline'` in a `default-src`).
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) list: ConnectSrc,
    pub(crate) left_out: Vec<String>,
}

/// The connect-src (or the `default-src` that governs connections) of `header`'s first
/// policy that has one: `None` when none has, an error's text when it is not a list.
fn list_of(header: &str) -> Option<Result<Listed, String>> {
    let value = parse_header(header)
        .iter()
        .find_map(|p| p.effective_connect_src().map(|(_, v)| v))?;
    let (mut sources, mut left_out) = (Vec::new(), Vec::new());
    for token in value.split_ascii_whitespace() {
        match token.parse::<Source>() {
            Ok(s) => sources.push(s),
            Err(_) => left_out.push(token.to_owned()),
        }
    }
    Some(
        ConnectSrc::builder()
            .sources(sources)
            .build()
            .map(|list| Listed { list, left_out })
            .map_err(|e| e.to_string()),
    )
}

/// The app's own current policy: not a route's (a route layer made last must not win).
fn app(served: &[Served]) -> Option<&Served> {
    served.iter().find(|s| s.is_current() && !s.is_route())
}

/// Where the suggestion starts from: the connect-src of the policy served now.
#[derive(Debug)]
pub(crate) enum Base {
    /// Read from the current served policy's report-only header (`report_only`) or its
    /// enforced one.
    Served { listed: Listed, report_only: bool },
    /// No served policy is known.
    Unknown,
    /// A served policy is known, but its connect-src could not be read as a list.
    Unreadable(String),
}

/// The base: the app's current policy's report-only list if it has one, else its enforced
/// one (`connect-src`, or `default-src` when that is what governs connections). Without
/// an app's policy, a route's current one.
pub(crate) fn base(served: Option<&[Served]>) -> Base {
    let current = served.and_then(|s| app(s).or_else(|| s.iter().find(|s| s.is_current())));
    let Some(current) = current else {
        return Base::Unknown;
    };
    let report_only = current.report_only_header();
    let headers = report_only.into_iter().map(|h| (h, true)).chain(
        current
            .headers()
            .iter()
            .map(String::as_str)
            .filter(|h| Some(*h) != report_only)
            .map(|h| (h, false)),
    );
    for (header, report_only) in headers {
        match list_of(header) {
            None => continue,
            Some(Ok(listed)) => {
                return Base::Served {
                    listed,
                    report_only,
                }
            }
            Some(Err(e)) => return Base::Unreadable(e),
        }
    }
    Base::Unreadable("the policy served now has no connect-src or default-src".into())
}

/// The app's enforced list now, or why there is none.
#[derive(Debug)]
pub(crate) enum Enforced {
    /// The connect-src of the app's current enforced header.
    Listed(Listed),
    /// None to read: the reason, as a sentence's end.
    None(&'static str),
    /// The enforced header's connect-src is not a list.
    Unreadable(String),
}

impl Enforced {
    /// The list, when there is one.
    pub(crate) fn list(&self) -> Option<&ConnectSrc> {
        match self {
            Enforced::Listed(l) => Some(&l.list),
            _ => None,
        }
    }
}

/// The connect-src of the app's current enforced header (its `Content-Security-Policy`,
/// not the report-only one; the app's, never a route's).
pub(crate) fn enforced(served: Option<&[Served]>) -> Enforced {
    let Some(served) = served.filter(|s| !s.is_empty()) else {
        return Enforced::None("no served policy is known");
    };
    let Some(current) = app(served) else {
        return Enforced::None("no policy of the app itself (only routes') is served now");
    };
    let report_only = current.report_only_header();
    let mut enforced = current
        .headers()
        .iter()
        .map(String::as_str)
        .filter(|h| Some(*h) != report_only)
        .peekable();
    if enforced.peek().is_none() {
        return Enforced::None("the app serves a report-only policy only");
    }
    match enforced.find_map(list_of) {
        Some(Ok(listed)) => Enforced::Listed(listed),
        Some(Err(e)) => Enforced::Unreadable(e),
        None => Enforced::None(
            "the enforced policy has no connect-src or default-src: it allows every connection",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ServedPolicies;

    fn value(e: &Enforced) -> String {
        match e {
            Enforced::Listed(l) => l.list.value(),
            Enforced::None(why) => format!("none: {why}"),
            Enforced::Unreadable(e) => format!("unreadable: {e}"),
        }
    }

    #[test]
    fn the_enforced_list_is_the_apps_enforced_header() {
        let both = ServedPolicies::from_policy_headers(
            Some("default-src 'self' 'unsafe-inline' https://api.example; report-uri /r".into()),
            Some("connect-src 'self'; report-uri /r?disposition=report".into()),
            ["connect-src 'self' https://old.example"],
        )
        .snapshot();
        let e = enforced(Some(&both));
        assert_eq!(value(&e), "'self' https://api.example");
        let Enforced::Listed(l) = e else { panic!() };
        assert_eq!(l.left_out, ["'unsafe-inline'"]);
        let Base::Served {
            listed,
            report_only,
        } = base(Some(&both))
        else {
            panic!()
        };
        assert!(report_only);
        assert_eq!(listed.list.value(), "'self'");

        let ro =
            ServedPolicies::from_headers(["connect-src 'self'; report-uri /r?disposition=report"])
                .snapshot();
        assert_eq!(
            value(&enforced(Some(&ro))),
            "none: the app serves a report-only policy only"
        );
        assert_eq!(value(&enforced(None)), "none: no served policy is known");
        let img = ServedPolicies::from_headers(["img-src 'none'"]).snapshot();
        assert!(value(&enforced(Some(&img))).contains("allows every connection"));
    }

    #[test]
    fn never_a_routes_policy() {
        let served = ServedPolicies::from_headers(["connect-src 'self' https://api.example"]);
        served.record_route(
            &crate::policy::Policy::builder()
                .enforce(ConnectSrc::none())
                .build()
                .unwrap(),
        );
        let snap = served.snapshot();
        assert!(snap.iter().any(Served::is_route));
        assert_eq!(value(&enforced(Some(&snap))), "'self' https://api.example");
    }
}
