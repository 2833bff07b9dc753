//! The HTML dashboard. Every value in it was written by whoever sent a report, so each one is
//! escaped, the page runs no script, and it is served under its own strict CSP
//! ([`DASHBOARD_CSP`]): even a missed escape could not run code.

use super::summary::{rfc3339_text, Summary};

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
td code{word-break:break-all}.enforce{color:#a40000}.report{color:#805b00}.empty{color:#777;padding:1rem}";

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

/// Renders the dashboard page for a summary.
pub(crate) fn render(summary: &Summary, title: &str) -> String {
    let mut rows = String::new();
    for g in &summary.groups {
        let disp = g.disposition.as_str();
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
             <td class=\"{disp}\">{disp}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td>\
             <td><code>{}</code></td></tr>\n",
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
        rows.push_str("<tr><td colspan=\"8\" class=\"empty\">No violations yet.</td></tr>");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"dashboard.css\"></head><body>\
         <h1>{title}</h1><p class=\"meta\">Grouped by directive, blocked origin, page and \
         disposition. Every value below was written by a browser (or an attacker) and is shown \
         as text.</p>\
         <div class=\"cards\"><div class=\"card\"><b>{}</b>violations stored</div>\
         <div class=\"card\"><b>{}</b>filtered as noise</div>\
         <div class=\"card\"><b>{}</b>groups shown</div></div>\
         <table><thead><tr><th>directive</th><th>blocked origin</th><th>page</th>\
         <th>disposition</th><th>count</th><th>first seen</th><th>last seen</th><th>sample</th>\
         </tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        summary.total,
        summary.filtered,
        summary.groups.len(),
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
