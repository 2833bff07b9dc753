//! The HTML dashboard. Every value in it was written by whoever sent a report, so each one is
//! escaped, the page runs no script, and it is served under its own strict CSP
//! ([`DASHBOARD_CSP`]): even a missed escape could not run code.

use super::class::Class;
use super::summary::{rfc3339_text, Group, Summary};

/// The dashboard's own policy: nothing but its stylesheet, from its own origin.
pub(crate) const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The stylesheet served beside the dashboard (`dashboard.css`).
pub(crate) const DASHBOARD_CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .3rem}p.meta{color:#555;margin:0 0 1.2rem}
.cards{display:flex;gap:1rem;margin-bottom:1.2rem}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem}
.card b{display:block;font-size:1.3rem}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e4e4e4;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
td code{word-break:break-all}.enforce{color:#a40000}.report{color:#805b00}.empty{color:#777;padding:1rem}
.genuine{color:#1b5e20}.contradicts,.foreign{color:#a40000;font-weight:600}.stale{color:#555}
p.filter{margin:.2rem 0}p.filter a{margin-right:.4rem}p.filter a.on{font-weight:700;text-decoration:none}";

/// Escapes text for HTML element content and quoted attribute values (`html-escape`'s
/// `encode_safe`: `& < > " ' /`), after replacing control characters, which have no business
/// in a page, with U+FFFD so they show.
fn escape_html(s: &str) -> String {
    let visible: String = s
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    html_escape::encode_safe(&visible).into_owned()
}

/// Which groups the dashboard shows: `?class=genuine&disposition=report&directive=connect-src`
/// (each optional; unknown values show nothing rather than everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    class: Option<String>,
    disposition: Option<String>,
    directive: Option<String>,
}

impl Filter {
    /// From the query's parameters; other parameters are ignored.
    pub(crate) fn from_query(params: &std::collections::HashMap<String, String>) -> Filter {
        let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
        Filter {
            class: get("class"),
            disposition: get("disposition"),
            directive: get("directive"),
        }
    }

    fn keeps(&self, g: &Group) -> bool {
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.class, g.class.as_str())
            && ok(&self.disposition, g.disposition.as_str())
            && ok(&self.directive, &g.directive)
    }

    /// A link to this filter with `key` set to `value` (`None`: removed).
    fn link(&self, key: &str, value: Option<&str>) -> String {
        let mut f = self.clone();
        let v = value.map(str::to_owned);
        match key {
            "class" => f.class = v,
            "disposition" => f.disposition = v,
            _ => f.directive = v,
        }
        let parts: Vec<String> = [
            ("class", &f.class),
            ("disposition", &f.disposition),
            ("directive", &f.directive),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref().map(|v| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
        })
        .collect();
        format!("dashboard?{}", parts.join("&"))
    }

    /// One row of filter links: `all` and each value, the current one marked.
    fn links(&self, key: &str, values: &[&str]) -> String {
        let current = match key {
            "class" => self.class.as_deref(),
            "disposition" => self.disposition.as_deref(),
            _ => self.directive.as_deref(),
        };
        let mut out = format!("<p class=\"filter\">{key}: ");
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
                escape_html(&self.link(key, value)),
                escape_html(label)
            ));
        }
        out.push_str("</p>");
        out
    }
}

/// Renders the dashboard page for a summary, showing the groups `filter` keeps.
pub(crate) fn render(summary: &Summary, title: &str, filter: &Filter) -> String {
    let mut rows = String::new();
    let mut shown = 0;
    for g in summary.groups.iter().filter(|g| filter.keeps(g)) {
        shown += 1;
        let disp = g.disposition.as_str();
        let class = g.class.as_str();
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
             <td class=\"{disp}\">{disp}</td><td class=\"{class}\">{class}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            escape_html(&g.directive),
            escape_html(&g.blocked_origin),
            escape_html(&g.document_path),
            g.count,
            rfc3339_text(g.first_seen),
            rfc3339_text(g.last_seen),
            escape_html(&g.sample),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"9\" class=\"empty\">No violations here.</td></tr>");
    }
    let classes: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    let filters = format!(
        "{}{}",
        filter.links("class", &classes),
        filter.links("disposition", &["enforce", "report", "unknown"])
    );
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"dashboard.css\"></head><body>\
         <h1>{title}</h1><p class=\"meta\">Grouped by directive, blocked origin, page, \
         disposition and class (checked against the policies the app served). Every value \
         below was written by a browser (or an attacker) and is shown as text.</p>\
         <div class=\"cards\"><div class=\"card\"><b>{}</b>violations stored</div>\
         <div class=\"card\"><b>{}</b>filtered as noise</div>\
         <div class=\"card\"><b>{shown}</b>groups shown</div></div>{filters}\
         <table><thead><tr><th>directive</th><th>blocked origin</th><th>page</th>\
         <th>disposition</th><th>class</th><th>count</th><th>first seen</th><th>last seen</th>\
         <th>sample</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        summary.total,
        summary.filtered,
        title = escape_html(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything() {
        assert_eq!(
            escape_html("<script>alert('x')</script>\"&\u{0}"),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;&quot;&amp;\u{fffd}"
        );
    }
}
