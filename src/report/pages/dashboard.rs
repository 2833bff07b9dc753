//! The HTML dashboard. Every value in it was written by whoever sent a report, so each one is
//! escaped, the page runs no script, and it is served under its own strict CSP
//! ([`DASHBOARD_CSP`]): even a missed escape could not run code.

use std::collections::BTreeSet;
use std::time::SystemTime;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::chart::{group_charts, last_hours, overall_chart, plural};
use crate::learn::{suggest, SuggestOptions};
use crate::policy::text::parse_header;
use crate::policy::{ConnectSrc, FinalPolicy, Served, ServedPolicies};
use crate::report::store::{
    rfc3339_text, Activity, Class, Group, GroupKey, HourWindow, ReportStore, StoreError, Summary,
    ACTIVITY_HOURS,
};
use crate::source::Source;

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
p.filter{margin:.2rem 0}p.filter a{margin-right:.4rem}p.filter a.on{font-weight:700;text-decoration:none}
h2{font-size:1.05rem;margin:1rem 0 .4rem}.overall{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin-bottom:1rem;display:inline-block}
.main{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start;margin-top:.8rem}.groups{flex:1 1 40rem;min-width:0;overflow-x:auto}
aside.suggest{flex:0 1 19rem;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.2rem 1rem .6rem}
aside.suggest pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.5rem;margin:.2rem 0}
aside.suggest ul{padding-left:1.2rem}aside.suggest li{word-break:break-all}code.base{word-break:break-all}
svg.chart{vertical-align:middle}svg.chart rect.bar{fill:#3b6ea8}svg.chart rect.base{fill:#9a9a9a}
td.chart{white-space:nowrap}td.chart .n{margin-left:.4rem;font-variant-numeric:tabular-nums}";

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

    /// Whether the page shows this group.
    pub(crate) fn keeps(&self, g: &Group) -> bool {
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

/// The page's data, read from `store`: the summary (at most `limit` groups), then the
/// activity of the groups `filter` keeps over the last [`ACTIVITY_HOURS`] hours up to now.
/// Either read's error.
pub(crate) async fn read(
    store: &dyn ReportStore,
    limit: usize,
    filter: &Filter,
) -> Result<(Summary, Activity), StoreError> {
    let summary = store.summary(limit).await?;
    let keys: Vec<GroupKey> = summary
        .groups
        .iter()
        .filter(|g| filter.keeps(g))
        .map(Group::key)
        .collect();
    let window = HourWindow::ending_at(SystemTime::now(), ACTIVITY_HOURS);
    let activity = store.activity(&keys, window).await?;
    Ok((summary, activity))
}

/// The page as a response: HTML under [`DASHBOARD_CSP`], not sniffed, sending no referrer,
/// never cached. Marked [`FinalPolicy`]: a `CspLayer` around the collector's routes leaves
/// the dashboard's own policy alone (a merge would replace its `connect-src`).
pub(crate) fn response(html: String) -> Response {
    (
        Extension(FinalPolicy),
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DASHBOARD_CSP),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html,
    )
        .into_response()
}

/// What the page shows: the summary, its activity, the filter, and the policies the app
/// serves (for the suggestion's base).
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub(crate) title: &'a str,
    pub(crate) summary: &'a Summary,
    pub(crate) activity: &'a Activity,
    pub(crate) filter: &'a Filter,
    pub(crate) served: Option<&'a ServedPolicies>,
}

/// Most directive filter links (the summary's directives, sorted).
const MAX_DIRECTIVE_LINKS: usize = 32;

/// Renders the dashboard page, showing the groups `filter` keeps.
pub(crate) fn render(page: &Page<'_>) -> String {
    let Page {
        title,
        summary,
        activity,
        filter,
        served,
    } = page;
    let charts = activity.window().map(|w| (w, activity));
    let mut rows = String::new();
    let mut shown = 0;
    for g in summary.groups.iter().filter(|g| filter.keeps(g)) {
        shown += 1;
        let disp = g.disposition.as_str();
        let class = g.class.as_str();
        let series = charts.map(|(w, a)| {
            let hourly = last_hours(a.group(&g.key()).unwrap_or(&[]), w);
            group_charts(&hourly, w)
        });
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
             <td class=\"{disp}\">{disp}</td><td class=\"{class}\">{class}</td>\
             <td class=\"num\">{}</td>{}<td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            escape_html(&g.directive),
            escape_html(g.blocked_origin.as_str()),
            escape_html(&g.document_path),
            g.count,
            series.unwrap_or_default(),
            rfc3339_text(g.first_seen),
            rfc3339_text(g.last_seen),
            escape_html(&g.sample),
        ));
    }
    let columns = if charts.is_some() { 11 } else { 9 };
    if rows.is_empty() {
        rows.push_str(&format!(
            "<tr><td colspan=\"{columns}\" class=\"empty\">No violations here.</td></tr>"
        ));
    }
    let classes: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    let directives: Vec<&str> = summary
        .groups
        .iter()
        .map(|g| g.directive.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(MAX_DIRECTIVE_LINKS)
        .collect();
    let filters = format!(
        "{}{}{}",
        filter.links("class", &classes),
        filter.links("disposition", &["enforce", "report", "unknown"]),
        filter.links("directive", &directives)
    );
    let (cards, overall, chart_heads) = match charts {
        Some((w, a)) => {
            let hourly = last_hours(a.total(), w);
            let day: u64 = hourly[ACTIVITY_HOURS - 24..].iter().sum();
            let week: u64 = hourly.iter().sum();
            (
                format!(
                    "<div class=\"card\"><b>{day}</b>in the last 24 hours</div>\
                     <div class=\"card\"><b>{week}</b>in the last 7 days</div>"
                ),
                format!(
                    "<h2>Every group, last 7 days, by hour (UTC)</h2><div class=\"overall\">{}</div>",
                    overall_chart(&hourly, w)
                ),
                "<th>last 24 h</th><th>last 7 days</th>",
            )
        }
        None => (String::new(), String::new(), ""),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"dashboard.css\"></head><body>\
         <h1>{title}</h1><p class=\"meta\">Grouped by directive, blocked origin, page, \
         disposition and class (checked against the policies the app served). Every value \
         below was written by a browser (or an attacker) and is shown as text.</p>\
         <div class=\"cards\"><div class=\"card\"><b>{}</b>violations stored</div>\
         <div class=\"card\"><b>{}</b>filtered as noise</div>{cards}\
         <div class=\"card\"><b>{shown}</b>groups shown</div></div>{overall}{filters}\
         <div class=\"main\"><div class=\"groups\">\
         <table><thead><tr><th>directive</th><th>blocked origin</th><th>page</th>\
         <th>disposition</th><th>class</th><th>count</th>{chart_heads}<th>first seen</th>\
         <th>last seen</th><th>sample</th></tr></thead><tbody>\n{rows}</tbody></table></div>\
         {}</div></body></html>\n",
        summary.total,
        summary.filtered,
        suggestion(summary, served.map(ServedPolicies::snapshot).as_deref()),
        title = escape_html(title),
    )
}

/// Where the suggestion starts from: the connect-src of the policy served now.
#[derive(Debug)]
enum Base {
    /// Read from the current served policy's report-only header (`true`) or its enforced
    /// one; the tokens that are not sources are left out.
    Served {
        list: ConnectSrc,
        report_only: bool,
        left_out: Vec<String>,
    },
    /// No served policy is known.
    Unknown,
    /// A served policy is known, but its connect-src could not be read as a list.
    Unreadable(String),
}

/// The base: the newest current served policy's report-only list if it has one, else its
/// enforced one (`connect-src`, or `default-src` when that is what governs connections).
fn base(served: Option<&[Served]>) -> Base {
    // The app's own policy, not a route's (a route layer made last must not win).
    let current = served.and_then(|s| {
        let mut now = s.iter().filter(|s| s.is_current());
        now.clone().find(|s| !s.is_route()).or_else(|| now.next())
    });
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
    for (header, is_report_only) in headers {
        let Some(value) = parse_header(header)
            .iter()
            .find_map(|p| p.effective_connect_src().map(|(_, v)| v))
        else {
            continue;
        };
        let (mut sources, mut left_out) = (Vec::new(), Vec::new());
        for token in value.split_ascii_whitespace() {
            match token.parse::<Source>() {
                Ok(s) => sources.push(s),
                Err(_) => left_out.push(token.to_owned()),
            }
        }
        return match ConnectSrc::builder().sources(sources).build() {
            Ok(list) => Base::Served {
                list,
                report_only: is_report_only,
                left_out,
            },
            Err(e) => Base::Unreadable(e.to_string()),
        };
    }
    Base::Unreadable("the policy served now has no connect-src or default-src".into())
}

/// The suggested policy beside the table: the base, the sources to add (learned from the
/// summary's report-only connect-src groups, whatever the filters) and the value.
fn suggestion(summary: &Summary, served: Option<&[Served]>) -> String {
    let self_only = || ConnectSrc::builder().self_origin().build().ok();
    let (list, said) = match base(served) {
        Base::Served {
            list,
            report_only,
            left_out,
        } => {
            let which = if report_only {
                "the report-only policy the app serves now"
            } else {
                "the policy the app serves now (enforced: it serves no report-only one)"
            };
            let mut said = format!("From the connect-src of {which}.");
            if !left_out.is_empty() {
                said.push_str(&format!(
                    " Left out, not sources: <code>{}</code>.",
                    escape_html(&left_out.join(" "))
                ));
            }
            (Some(list), said)
        }
        Base::Unknown => (
            self_only(),
            "No served policy is known (give the collector the policies the app serves), so \
             this starts from <code>&#x27;self&#x27;</code>."
                .to_owned(),
        ),
        Base::Unreadable(why) => (
            self_only(),
            format!(
                "The served policy&#x27;s connect-src could not be read ({}), so this starts \
                 from <code>&#x27;self&#x27;</code>.",
                escape_html(&why)
            ),
        ),
    };
    let Some(list) = list else {
        return String::new();
    };
    let s = suggest(
        &list,
        summary.teaching().observations,
        &SuggestOptions::default(),
    );
    let additions = if s.additions.is_empty() {
        "<p class=\"nothing\">Nothing to add: no report-only connect-src violation outside \
         this list.</p>"
            .to_owned()
    } else {
        let items: String = s
            .additions
            .iter()
            .map(|a| format!("<li>{}</li>", escape_html(&a.to_string())))
            .collect();
        format!("<ul class=\"additions\">{items}</ul>")
    };
    let skipped = if s.skipped() > 0 {
        format!(
            "<p class=\"meta\">Skipped {}: not http(s)/ws(s) URLs, or already allowed.</p>",
            plural(s.skipped())
        )
    } else {
        String::new()
    };
    format!(
        "<aside class=\"suggest\"><h2>Suggested connect-src</h2><p class=\"meta\">{said}</p>\
         <p>Now: <code class=\"base\">{}</code></p>{additions}<p>Suggested value:</p>\
         <pre class=\"value\">{}</pre>{skipped}<p class=\"meta\">Learned from the \
         report-only connect-src groups above classed genuine or unverified, whatever the \
         filters; the same as <code>connect-src suggest</code>.</p></aside>",
        escape_html(&list.value()),
        escape_html(&s.policy.value()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::intake::{parse_reports, NormalizeOptions};
    use crate::report::store::{MemorySink, ReportSink};
    use std::time::{Duration, UNIX_EPOCH};

    const H: u64 = 500_000; // 2027-01-15T08:00:00Z

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn at(hour: u64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(hour * 3600 + 60)
    }

    fn store(reports: &[(&str, &str, &str, u64)]) -> MemorySink {
        let sink = MemorySink::new();
        for (blocked, directive, disposition, hour) in reports {
            let body = format!(
                r#"{{"csp-report":{{"document-uri":"https://app.example/","effective-directive":
                "{directive}","blocked-uri":"{blocked}","disposition":"{disposition}"}}}}"#
            );
            let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
                .unwrap()
                .violations;
            v[0].received_at = at(*hour);
            // A MemorySink stores the batch before it returns its (ready) future.
            drop(ReportSink::submit(&sink, v));
        }
        sink
    }

    fn page(sink: &MemorySink, filter: &Filter, served: Option<&ServedPolicies>) -> String {
        let summary = block_on(sink.summary(100)).unwrap();
        let keys: Vec<_> = summary
            .groups
            .iter()
            .filter(|g| filter.keeps(g))
            .map(Group::key)
            .collect();
        let activity =
            block_on(sink.activity(&keys, HourWindow::ending_at(at(H), ACTIVITY_HOURS))).unwrap();
        render(&Page {
            title: "t",
            summary: &summary,
            activity: &activity,
            filter,
            served,
        })
    }

    #[test]
    fn charts_per_group_and_overall_without_style_attributes() {
        let sink = store(&[
            ("https://a.example/1", "connect-src", "report", H),
            ("https://a.example/2", "connect-src", "report", H),
            ("https://a.example/3", "connect-src", "report", H - 30),
            ("https://b.example/", "img-src", "enforce", H - 100),
        ]);
        let html = page(&sink, &Filter::default(), None);
        assert_eq!(html.matches("<svg").count(), 1 + 2 * 2, "{html}");
        assert!(
            !html.contains("style="),
            "no style attribute: the CSP forbids them"
        );
        assert!(html.contains("<b>2</b>in the last 24 hours"), "{html}");
        assert!(html.contains("<b>4</b>in the last 7 days"), "{html}");
        // a.example: 2 in its last hour, 1 thirty hours before; the 24-hour total, then the
        // 7-day one.
        assert!(html.contains("<span class=\"n\">2</span>"), "{html}");
        assert!(html.contains("<span class=\"n\">3</span>"), "{html}");
        // Directive links: each directive of the summary.
        assert!(
            html.contains("href=\"dashboard?directive=img-src\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"dashboard?directive=connect-src\""),
            "{html}"
        );
        // Filtered: the charts of the groups shown only, the overall chart of all.
        let f = Filter {
            directive: Some("img-src".into()),
            ..Filter::default()
        };
        let html = page(&sink, &f, None);
        assert_eq!(html.matches("<svg").count(), 1 + 2, "{html}");
        assert!(html.contains("<a class=\"on\" href=\"dashboard?directive=img-src\">img-src</a>"));
        // A store without activity: no charts at all.
        let summary = block_on(sink.summary(10)).unwrap();
        let html = render(&Page {
            title: "t",
            summary: &summary,
            activity: &Activity::default(),
            filter: &Filter::default(),
            served: None,
        });
        assert_eq!(html.matches("<svg").count(), 0);
        assert!(!html.contains("last 24 h"));
    }

    #[test]
    fn the_suggestion_starts_from_the_served_report_only_list() {
        let sink = store(&[
            ("https://api.example.net/x", "connect-src", "report", H),
            ("https://blocked.example/x", "connect-src", "enforce", H),
        ]);
        let html = page(&sink, &Filter::default(), None);
        assert!(html.contains("No served policy is known"), "{html}");
        assert!(
            html.contains("<code class=\"base\">&#x27;self&#x27;</code>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<pre class=\"value\">&#x27;self&#x27; https:&#x2F;&#x2F;api.example.net</pre>"
            ),
            "{html}"
        );
        assert!(
            !html.contains("blocked.example</li>"),
            "enforced: not learned from"
        );

        let served = ServedPolicies::from_headers([
            "connect-src 'self' https://cdn.example; report-uri /r",
            "connect-src 'self' https://old.example; report-uri /r",
        ]);
        let html = page(&sink, &Filter::default(), Some(&served));
        assert!(
            html.contains("the policy the app serves now (enforced"),
            "{html}"
        );
        assert!(
            html.contains("https:&#x2F;&#x2F;cdn.example https:&#x2F;&#x2F;api.example.net</pre>"),
            "{html}"
        );

        let served = ServedPolicies::from_headers([
            "default-src 'self' 'unsafe-inline' https://ro.example; report-uri /r?disposition=report",
        ]);
        let html = page(&sink, &Filter::default(), Some(&served));
        assert!(
            html.contains("the report-only policy the app serves now"),
            "{html}"
        );
        assert!(
            html.contains("Left out, not sources: <code>&#x27;unsafe-inline&#x27;</code>"),
            "{html}"
        );
        assert!(
            html.contains("<li>add https:&#x2F;&#x2F;api.example.net: 1 violation</li>"),
            "{html}"
        );

        let served = ServedPolicies::from_headers(["img-src 'none'"]);
        let html = page(&sink, &Filter::default(), Some(&served));
        assert!(
            html.contains("could not be read (the policy served now has no connect-src"),
            "{html}"
        );
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(
            escape_html("<script>alert('x')</script>\"&\u{0}"),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;&quot;&amp;\u{fffd}"
        );
    }
}
