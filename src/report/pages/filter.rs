//! What the dashboard shows, from its query: the view (`?view=destinations`, the default,
//! or `?view=pages`) and the filters (`class`, `disposition`, `directive`, `destination`).

use std::collections::HashMap;

use super::html::escape_html;
use crate::report::store::Group;

/// The table the page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// One row per blocked destination, its groups folded together (the default).
    #[default]
    Destinations,
    /// One row per summary group: directive, destination, page, disposition, class.
    Pages,
}

/// Which groups the dashboard shows, and how:
/// `?view=pages&class=genuine&disposition=report&directive=connect-src&destination=https://x`
/// (each optional; unknown filter values show nothing rather than everything, an unknown
/// view shows destinations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) view: View,
    class: Option<String>,
    disposition: Option<String>,
    directive: Option<String>,
    destination: Option<String>,
}

/// The filter keys, in the order links write them.
const KEYS: [&str; 4] = ["destination", "class", "disposition", "directive"];

impl Filter {
    /// From the query's parameters; other parameters are ignored.
    pub(crate) fn from_query(params: &HashMap<String, String>) -> Filter {
        let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
        Filter {
            view: match params.get("view").map(String::as_str) {
                Some("pages") => View::Pages,
                _ => View::Destinations,
            },
            class: get("class"),
            disposition: get("disposition"),
            directive: get("directive"),
            destination: get("destination"),
        }
    }

    /// A filter showing `view`, nothing filtered.
    #[cfg(test)]
    pub(crate) fn of_view(view: View) -> Filter {
        Filter {
            view,
            ..Filter::default()
        }
    }

    /// This filter with `key` set to `value` (`None`: removed).
    pub(crate) fn with(&self, key: &str, value: Option<&str>) -> Filter {
        let mut f = self.clone();
        *f.slot(key) = value.map(str::to_owned);
        f
    }

    /// This filter showing `view`.
    pub(crate) fn in_view(&self, view: View) -> Filter {
        Filter {
            view,
            ..self.clone()
        }
    }

    fn slot(&mut self, key: &str) -> &mut Option<String> {
        match key {
            "class" => &mut self.class,
            "disposition" => &mut self.disposition,
            "destination" => &mut self.destination,
            _ => &mut self.directive,
        }
    }

    /// The value of filter `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        match key {
            "class" => self.class.as_deref(),
            "disposition" => self.disposition.as_deref(),
            "destination" => self.destination.as_deref(),
            _ => self.directive.as_deref(),
        }
    }

    /// Whether the page shows this group.
    pub(crate) fn keeps(&self, g: &Group) -> bool {
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.class, g.class.as_str())
            && ok(&self.disposition, g.disposition.as_str())
            && ok(&self.directive, &g.directive)
            && ok(&self.destination, g.blocked_origin.as_str())
    }

    /// The page's link to this filter (not escaped: put it through [`escape_html`]).
    pub(crate) fn href(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.view == View::Pages {
            parts.push("view=pages".into());
        }
        for key in KEYS {
            if let Some(v) = self.get(key) {
                parts.push(format!(
                    "{key}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                ));
            }
        }
        format!("dashboard?{}", parts.join("&"))
    }

    /// One row of filter links: `all` and each value, the current one marked.
    pub(crate) fn links(&self, key: &str, values: &[&str]) -> String {
        let current = self.get(key);
        let mut out = format!("<p class=\"filter\"><span class=\"key\">{key}:</span> ");
        for (label, value) in
            std::iter::once(("all", None)).chain(values.iter().map(|v| (*v, Some(*v))))
        {
            let mark = if current == value {
                " class=\"on\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<a{mark} href=\"{}\">{}</a> ",
                escape_html(&self.with(key, value).href()),
                escape_html(label)
            ));
        }
        out.push_str("</p>");
        out
    }

    /// The two view tabs, the current one marked.
    pub(crate) fn tabs(&self) -> String {
        let tab = |view: View, label: &str| {
            let mark = if self.view == view {
                " class=\"on\""
            } else {
                ""
            };
            format!(
                "<a{mark} href=\"{}\">{label}</a>",
                escape_html(&self.in_view(view).href())
            )
        };
        format!(
            "<nav class=\"views\">{}{}</nav>",
            tab(View::Destinations, "By destination"),
            tab(View::Pages, "By page")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn views_and_links_keep_each_other() {
        let f = Filter::from_query(&query(&[
            ("view", "pages"),
            ("destination", "https://a.example"),
            ("class", "genuine"),
        ]));
        assert_eq!(f.view, View::Pages);
        assert_eq!(
            f.href(),
            "dashboard?view=pages&destination=https%3A%2F%2Fa.example&class=genuine"
        );
        assert_eq!(
            f.in_view(View::Destinations).href(),
            "dashboard?destination=https%3A%2F%2Fa.example&class=genuine"
        );
        assert_eq!(
            f.with("destination", None).href(),
            "dashboard?view=pages&class=genuine"
        );
        // An unknown view is the default one; empty values are no filter.
        let f = Filter::from_query(&query(&[("view", "<x>"), ("class", "")]));
        assert_eq!(f, Filter::default());
        let tabs = Filter::of_view(View::Pages).tabs();
        assert!(
            tabs.contains("<a class=\"on\" href=\"dashboard?view=pages\">By page</a>"),
            "{tabs}"
        );
        assert!(
            tabs.contains("<a href=\"dashboard?\">By destination</a>"),
            "{tabs}"
        );
        // Hostile values are encoded in links and escaped in the page.
        let f = Filter::from_query(&query(&[("directive", "\"><script>")]));
        let links = f.links("class", &["genuine"]);
        assert!(!links.contains("<script>"), "{links}");
        assert!(links.contains("directive=%22%3E%3Cscript%3E"), "{links}");
    }
}
