//! The page's text helpers: every value a browser or an attacker wrote goes through
//! [`escape_html`]; URLs also through [`url_html`], which lets them break only after their
//! separators; times through [`time_html`].

use std::time::SystemTime;

use crate::report::store::rfc3339_text;

/// Escapes text for HTML element content and quoted attribute values (`html-escape`'s
/// `encode_safe`: `& < > " ' /`), after replacing control characters, which have no business
/// in a page, with U+FFFD so they show.
pub(crate) fn escape_html(s: &str) -> String {
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

/// Characters a URL may break after: its separators.
fn breaks_after(c: char) -> bool {
    matches!(c, '/' | '.' | '?' | '&' | '-' | '_' | ':' | ',' | ';')
}

/// A URL (or any text a browser reported as one) for element content: escaped, with a
/// `<wbr>` after each separator, so a long URL wraps after a `/` or a `.`, not inside a
/// word (the stylesheet breaks a separator-less run anywhere only as a last resort). A run
/// of separators (`://`) gets one `<wbr>`, after its last character.
pub(crate) fn url_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    let mut piece = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        piece.push(c);
        if breaks_after(c) && !chars.peek().is_some_and(|n| breaks_after(*n)) {
            out.push_str(&escape_html(&piece));
            piece.clear();
            if chars.peek().is_some() {
                out.push_str("<wbr>");
            }
        }
    }
    out.push_str(&escape_html(&piece));
    out
}

/// A time as `<time>`: the minute shown (`2027-01-15 08:01`, UTC), the RFC 3339 second in
/// its `datetime` and `title`.
pub(crate) fn time_html(t: SystemTime) -> String {
    let full = rfc3339_text(t).to_string();
    let short = full.get(..16).unwrap_or(&full).replace('T', " ");
    format!(
        "<time datetime=\"{f}\" title=\"{f}\">{}</time>",
        escape_html(&short),
        f = escape_html(&full)
    )
}

/// `n thing` or `n things`.
pub(crate) fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Re-weighted page loads as shown: `≈ 12,400` (rounded; thousands separated).
pub(crate) fn approx(page_loads: f64) -> String {
    let n = if page_loads.is_finite() && page_loads > 0.0 {
        page_loads.round() as u64
    } else {
        0
    };
    let digits = n.to_string();
    let mut out = String::from("≈ ");
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn escapes_everything() {
        assert_eq!(
            escape_html("<script>alert('x')</script>\"&\u{0}"),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;&quot;&amp;\u{fffd}"
        );
    }

    #[test]
    fn urls_break_after_separators_and_stay_escaped() {
        assert_eq!(
            url_html("https://a.example/x?q=1"),
            "https:&#x2F;&#x2F;<wbr>a.<wbr>example&#x2F;<wbr>x?<wbr>q=1"
        );
        assert_eq!(url_html("inline"), "inline");
        assert_eq!(url_html("/"), "&#x2F;", "no <wbr> at the end");
        assert_eq!(
            url_html("https://<script>.example/"),
            "https:&#x2F;&#x2F;<wbr>&lt;script&gt;.<wbr>example&#x2F;"
        );
        let hostile = url_html("\"><img src=x onerror=alert(1)>");
        assert_eq!(
            hostile.replace("<wbr>", "").find(['<', '>', '"']),
            None,
            "{hostile}"
        );
    }

    #[test]
    fn times_counts_and_page_loads() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(
            time_html(t),
            "<time datetime=\"2026-11-18T11:06:40Z\" title=\"2026-11-18T11:06:40Z\">\
             2026-11-18 11:06</time>"
        );
        assert_eq!(count_of(1, "page", "pages"), "1 page");
        assert_eq!(count_of(3, "page", "pages"), "3 pages");
        assert_eq!(approx(12_400.4), "≈ 12,400");
        assert_eq!(approx(999.6), "≈ 1,000");
        assert_eq!(approx(f64::NAN), "≈ 0");
        assert_eq!(approx(7.0), "≈ 7");
    }
}
