//! [`suggest_navigations`]: from the genuine reports of a report-only `Connection-Allowlist`,
//! the navigation targets an enforced one needs
//! ([`ConnectionAllowlist::navigations`](crate::policy::ConnectionAllowlist::navigations)),
//! and the value to judge and stage.
//!
//! The report-only allowlist the crate emits is the `connect-src` list's translation, so
//! what it reports is what the list does not say: links, forms and `location` changes to
//! other sites, images and scripts, prefetches. Those are the navigation targets. They are
//! learned as [`suggest`] learns connect-src sources — origins, wildcards only over several
//! subdomains of one registrable domain, never a public suffix, at reach — with one
//! difference: today's enforced `connect-src` list is not asked ([`SuggestOptions::enforced`]
//! is not read), because it governs none of these.

use super::{suggest, Observation, SuggestOptions, Suggestion};
use crate::policy::{ConnectSrc, Translation};

/// What [`suggest_navigations`] proposes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NavigationSuggestion {
    /// The navigation targets: the current ones with the additions, minimized; its
    /// `additions`, `not_added` and `covered` say why, as for connect-src.
    pub suggestion: Suggestion,
    /// The enforced `Connection-Allowlist` value for the list and these targets
    /// (`redirects=allow`, no `report-to`: the app's policy adds its endpoint), or `None`
    /// when the list or a target holds a source the allowlist cannot say
    /// ([`Translation::untranslated`]).
    pub value: Option<String>,
}

impl NavigationSuggestion {
    /// The navigation targets.
    pub fn navigations(&self) -> &ConnectSrc {
        &self.suggestion.policy
    }
}

/// The navigation targets to give an enforced allowlist beside `list` (the `connect-src`
/// list it is translated from), extending `current` (the targets so far, if any), from the
/// genuine report-only `connection-allowlist` reports `observed` (as
/// [`Summary::allowlist_teaching`](crate::report::store::Summary::allowlist_teaching) finds
/// them), at [`SuggestOptions::min_reach`].
///
/// ```
/// use connect_src::learn::{suggest_navigations, Observation, SuggestOptions};
/// use connect_src::source::Origin;
/// use connect_src::ConnectSrc;
///
/// let list: ConnectSrc = "'self' https://api.shop.example".parse()?;
/// let seen = |url: &str, reach| Observation::new(Origin::of_url(url).unwrap(), 9, reach);
/// let s = suggest_navigations(
///     &list,
///     None,
///     [seen("https://help.shop.example/faq", 3), seen("https://once.example/x", 1)],
///     &SuggestOptions::default(),
/// );
/// assert_eq!(s.navigations().value(), "https://help.shop.example");
/// assert_eq!(
///     s.value.as_deref(),
///     Some(r#"(response-origin "https://api.shop.example" "https://help.shop.example");redirects=allow"#)
/// );
/// assert_eq!(s.suggestion.not_added[0].destination.as_str(), "https://once.example");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn suggest_navigations(
    list: &ConnectSrc,
    current: Option<&ConnectSrc>,
    observed: impl IntoIterator<Item = Observation>,
    options: &SuggestOptions,
) -> NavigationSuggestion {
    let mut options = options.clone();
    options.enforced = None;
    let none = ConnectSrc::none();
    let suggestion = suggest(current.unwrap_or(&none), observed, &options);
    let mut t = Translation::of(list);
    t.extend(Translation::of(&suggestion.policy));
    let value = if t.untranslated().is_empty() {
        t.header_value(true, None)
    } else {
        None
    };
    NavigationSuggestion { suggestion, value }
}
