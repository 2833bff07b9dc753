//! The dashboard as a whole, over a `MemorySink`: both views, reach, the charts, the
//! suggestion with its reasons, the enforced list's used and unused sources, escaping, and
//! the page's counts against the summary JSON and what `connect-src suggest` computes.

use super::dashboard::{render, Page};
use super::filter::{Filter, View};
use super::html::{escape_html, url_html};
use super::{read, Data};
use crate::learn::{suggest, Observation as Learned, SuggestOptions};

use crate::policy::{Served, ServedPolicies};
use crate::report::store::{
    Blocked, Class, Disposition, MemorySink, Network, Observation, PageLoad, ReportFormat,
    ReportSink, ReportStore, Violation,
};
use crate::source::Origin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const H: u64 = 500_000; // 2027-01-15T08:00:00Z

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn at(hour: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(hour * 3600 + 60)
}

/// A report: what was blocked, under which directive and disposition, when, from which
/// page, network and class.
#[derive(Clone, Copy)]
struct R<'a> {
    blocked: &'a str,
    directive: &'a str,
    disposition: &'a str,
    hour: u64,
    path: &'a str,
    network: Option<u64>,
    class: Class,
}

fn r<'a>(blocked: &'a str, directive: &'a str, disposition: &'a str, hour: u64) -> R<'a> {
    R {
        blocked,
        directive,
        disposition,
        hour,
        path: "/",
        network: None,
        class: Class::Unverified,
    }
}

impl<'a> R<'a> {
    fn genuine(self, network: u64) -> Self {
        R {
            class: Class::Genuine,
            network: Some(network),
            ..self
        }
    }
    fn on(self, path: &'a str) -> Self {
        R { path, ..self }
    }
}

fn store(reports: &[R<'_>]) -> MemorySink {
    let sink = MemorySink::new();
    add(&sink, reports);
    sink
}

/// A violation as the collector stores it (built here: the pages sit below the intake),
/// received at `hour`; `directive` is any text, as a client may send it.
fn violation(
    blocked: &str,
    document: &str,
    directive: &str,
    disposition: &str,
    hour: u64,
) -> Violation {
    let mut v = Violation {
        document_url: String::new(),
        blocked_url: String::new(),
        blocked_origin: None,
        document_origin: None,
        effective_directive: directive.to_owned(),
        violated_directive: None,
        disposition: Disposition::parse(disposition),
        status_code: None,
        source_file: None,
        line: None,
        column: None,
        sample: None,
        referrer: None,
        user_agent: None,
        original_policy: None,
        format: ReportFormat::Legacy,
        received_at: at(hour),
        network: None,
        class: Class::Unverified,
    };
    v.set_blocked_url(blocked);
    v.set_document_url(document);
    v
}

fn add(sink: &MemorySink, reports: &[R<'_>]) {
    for x in reports {
        let mut v = violation(
            x.blocked,
            &format!("https://app.example{}", x.path),
            x.directive,
            x.disposition,
            x.hour,
        );
        v.class = x.class;
        v.network = x.network.map(Network);
        // A MemorySink stores the batch before it returns its (ready) future.
        drop(ReportSink::submit(sink, vec![v]));
    }
}

/// Inventory observations: `destination` used by page loads `loads` (each from its own
/// network) at `rate`, from https://app.example.
fn observe(sink: &MemorySink, destination: &str, loads: std::ops::Range<u64>, rate: f64) {
    let batch = loads
        .map(|i| {
            let mut o = Observation::new(Origin::of_url(destination).unwrap(), PageLoad(i), rate);
            o.document_origin = Origin::of_url("https://app.example");
            o.network = Some(Network(i));
            o.engine = Some(crate::matcher::Engine::Firefox);
            o.received_at = at(H);
            o
        })
        .collect();
    drop(ReportSink::observe(sink, batch));
}

fn data(sink: &MemorySink, filter: &Filter, served: Option<&[Served]>) -> Data {
    block_on(read(sink, 100, filter, served, 2, at(H))).unwrap()
}

fn page(sink: &MemorySink, filter: &Filter, served: Option<&ServedPolicies>) -> String {
    let served = served.map(ServedPolicies::snapshot);
    let data = data(sink, filter, served.as_deref());
    render(&Page {
        title: "t",
        data: &data,
        filter,
        served: served.as_deref(),
        min_reach: 2,
    })
}

/// The number in `<div class="card" id="{id}"><b>N</b>`.
fn card(html: &str, id: &str) -> u64 {
    let from = html.find(&format!("id=\"{id}\"><b>")).expect(id) + id.len() + 9;
    html[from..from + html[from..].find('<').unwrap()]
        .parse()
        .unwrap()
}

/// The table's rows (`<tr class="{class}"`), as text.
fn rows<'h>(html: &'h str, class: &str) -> Vec<&'h str> {
    html.split(&format!("<tr class=\"{class}\">"))
        .skip(1)
        .map(|r| &r[..r.find("</tr>").unwrap()])
        .collect()
}

/// A cell's number: `<td class="num {class}">N</td>`.
fn cell(row: &str, class: &str) -> u64 {
    let tag = format!("<td class=\"num {class}\">");
    let from = row.find(&tag).expect(class) + tag.len();
    row[from..from + row[from..].find('<').unwrap()]
        .parse()
        .unwrap()
}

#[test]
fn charts_per_group_and_overall_without_style_attributes() {
    let sink = store(&[
        r("https://a.example/1", "connect-src", "report", H),
        r("https://a.example/2", "connect-src", "report", H),
        r("https://a.example/3", "connect-src", "report", H - 30),
        r("https://b.example/", "img-src", "enforce", H - 100),
    ]);
    for view in [View::Destinations, View::Pages] {
        let html = page(&sink, &Filter::of_view(view), None);
        assert_eq!(html.matches("<svg").count(), 1 + 2 * 2, "{html}");
        assert!(
            !html.contains("style="),
            "no style attribute: the CSP forbids them"
        );
        assert_eq!(card(&html, "day"), 2, "{html}");
        assert_eq!(card(&html, "week"), 4, "{html}");
        // a.example: 2 in its last hour, 1 thirty hours before; the 24-hour total, then
        // the 7-day one.
        assert!(html.contains("<span class=\"n\">2</span>"), "{html}");
        assert!(html.contains("<span class=\"n\">3</span>"), "{html}");
    }
    let html = page(&sink, &Filter::default(), None);
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
    let f = Filter::default().with("directive", Some("img-src"));
    let html = page(&sink, &f, None);
    assert_eq!(html.matches("<svg").count(), 1 + 2, "{html}");
    assert!(html.contains("<a class=\"on\" href=\"dashboard?directive=img-src\">img-src</a>"));
    // A store without activity: no charts at all.
    let mut d = data(&sink, &Filter::default(), None);
    d.activity = crate::report::store::Activity::default();
    let html = render(&Page {
        title: "t",
        data: &d,
        filter: &Filter::default(),
        served: None,
        min_reach: 2,
    });
    assert_eq!(html.matches("<svg").count(), 0);
    assert!(!html.contains("last 24 h"));
}

#[test]
fn the_suggestion_starts_from_the_served_report_only_list() {
    // Learning reads genuine reports seen from two client networks at least.
    let sink = store(&[
        r("https://api.example.net/x", "connect-src", "report", H).genuine(1),
        r("https://api.example.net/y", "connect-src", "report", H).genuine(2),
        r("https://blocked.example/x", "connect-src", "enforce", H).genuine(1),
        r("https://blocked.example/x", "connect-src", "enforce", H).genuine(2),
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
        !html.contains("blocked.example</li>") && !html.contains("blocked.example</pre>"),
        "enforced: not learned from"
    );

    // Only an enforced policy: it is the base, and what it blocks is never proposed.
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
        html.contains("<pre class=\"value\">&#x27;self&#x27; https:&#x2F;&#x2F;cdn.example</pre>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<li><code>https:&#x2F;&#x2F;<wbr>api.<wbr>example.<wbr>net</code>: the enforced \
             list blocks it: the site already works without it"
        ),
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
        html.contains(
            "<li>add https:&#x2F;&#x2F;api.example.net: 2 reports, from 2 client \
             networks</li>"
        ),
        "{html}"
    );
    assert!(html.contains("No enforced list is known"), "{html}");

    let served = ServedPolicies::from_headers(["img-src 'none'"]);
    let html = page(&sink, &Filter::default(), Some(&served));
    assert!(
        html.contains("could not be read (the policy served now has no connect-src"),
        "{html}"
    );
}

#[test]
fn by_destination_pages_fold_into_one_row_ranked_by_reach() {
    let sink = store(&[
        // One SPA: three order pages are one template, from two networks.
        r("https://api.example.net/a", "connect-src", "report", H)
            .genuine(1)
            .on("/orders/8127"),
        r("https://api.example.net/b", "connect-src", "report", H)
            .genuine(2)
            .on("/orders/8128"),
        r("https://api.example.net/c", "connect-src", "enforce", H)
            .genuine(3)
            .on("/cart"),
        // Five reports from one network: more, but a reach of 1.
        r("https://evil.example/x", "connect-src", "report", H).genuine(9),
        r("https://evil.example/x", "connect-src", "report", H).genuine(9),
        r("https://evil.example/x", "connect-src", "report", H).genuine(9),
        r("https://evil.example/x", "connect-src", "report", H).genuine(9),
        r("https://evil.example/x", "connect-src", "report", H).genuine(9),
        r("https://img.example/p.png", "img-src", "enforce", H),
    ]);
    let html = page(&sink, &Filter::default(), None);
    let dests = rows(&html, "dest");
    assert_eq!(dests.len(), 3, "{html}");
    assert_eq!(card(&html, "destinations"), 3);
    assert_eq!(card(&html, "groups"), 4);
    let api = dests[0];
    assert!(api.contains("api.<wbr>example.<wbr>net</code>"), "{api}");
    assert_eq!((cell(api, "reach"), cell(api, "count")), (2, 3), "{api}");
    assert!(
        api.contains("<span class=\"tag enforce\">enforce 1</span><span class=\"tag report\">report 2</span>"),
        "{api}"
    );
    assert!(
        api.contains("<span class=\"tag genuine\">genuine 3</span>"),
        "{api}"
    );
    assert!(
        api.contains(
            "<a href=\"dashboard?view=pages&amp;destination=https%3A%2F%2Fapi.example.net\" \
             title=\"2 pages: by page\">2</a>"
        ),
        "{api}"
    );
    let evil = dests[1];
    assert!(evil.contains("evil.<wbr>example"), "{evil}");
    assert_eq!((cell(evil, "reach"), cell(evil, "count")), (1, 5));
    assert!(html.contains("<b>Reach</b>: how many distinct client networks"));

    // The pages of one destination, templated.
    let f = Filter::of_view(View::Pages).with("destination", Some("https://api.example.net"));
    let html = page(&sink, &f, None);
    let groups = rows(&html, "group");
    assert_eq!(groups.len(), 2, "{html}");
    assert!(
        groups[0].contains("&#x2F;<wbr>orders&#x2F;<wbr>{id}"),
        "{}",
        groups[0]
    );
    assert_eq!(cell(groups[0], "reach"), 2);
    assert!(groups[1].contains("cart"), "{}", groups[1]);
    assert!(
        html.contains("<a href=\"dashboard?view=pages\">all destinations</a>"),
        "{html}"
    );
    assert!(
        html.contains("<a class=\"on\" href=\"dashboard?view=pages&amp;destination="),
        "the page tab is on, keeping the filter: {html}"
    );
}

#[test]
fn unused_sources_inventory_and_the_suggestions_reasons() {
    let sink = store(&[
        // An exfiltration target, report-only, from three networks: the enforced list
        // blocks it, so it is never proposed.
        r("https://xss.evil.example/x", "connect-src", "report", H).genuine(1),
        r("https://xss.evil.example/x", "connect-src", "report", H).genuine(2),
        r("https://xss.evil.example/x", "connect-src", "report", H).genuine(3),
    ]);
    observe(&sink, "https://api.example.com", 0..3, 0.01);
    observe(&sink, "wss://ws.example.com", 10..12, 0.5);
    // One page load: shown, below the reach.
    observe(&sink, "https://once.example.com", 20..21, 1.0);
    let served = ServedPolicies::from_policy_headers(
        Some(
            "connect-src 'self' https://api.example.com wss://ws.example.com \
             https://old-partner.example https://*.example.com; report-uri /r"
                .into(),
        ),
        Some("connect-src 'self' https://api.example.com; report-uri /r?disposition=report".into()),
        Vec::<String>::new(),
    );
    let html = page(&sink, &Filter::default(), Some(&served));
    let sources = rows(&html, "source");
    assert_eq!(sources.len(), 5, "{html}");
    let row = |s: &str| {
        *sources
            .iter()
            .find(|r| r.starts_with(&format!("<td class=\"url\"><code>{s}</code>")))
            .unwrap_or_else(|| panic!("{s}: {html}"))
    };
    let old = row("https:&#x2F;&#x2F;<wbr>old-<wbr>partner.<wbr>example");
    assert!(
        old.contains("<span class=\"tag unused\">unused for 30 days</span>"),
        "{old}"
    );
    let ws = row("wss:&#x2F;&#x2F;<wbr>ws.<wbr>example.<wbr>com");
    assert!(ws.contains("<span class=\"tag used\">used</span>"), "{ws}");
    assert!(ws.contains("<td class=\"num loads\">≈ 4</td>"), "{ws}");
    let api = row("https:&#x2F;&#x2F;<wbr>api.<wbr>example.<wbr>com");
    assert!(api.contains("<td class=\"num loads\">≈ 300</td>"), "{api}");
    // The wildcard and api.example.com each match all the other reached: one of the two
    // is called redundant with the other, never both (removing both would break pages).
    let wild = row("https:&#x2F;&#x2F;<wbr>*.<wbr>example.<wbr>com");
    let redundant = |r: &str| r.contains("<span class=\"tag redundant\">redundant</span> with");
    assert!(redundant(wild) != redundant(api), "{wild}\n{api}");
    assert!(
        wild.contains("below reach: <code>https:&#x2F;&#x2F;<wbr>once."),
        "{wild}"
    );
    assert!(html.contains("<code class=\"enforced\">"), "{html}");
    // The inventory: re-weighted page loads, networks, engines; below reach marked.
    let uses = html
        .split("<table class=\"uses\">")
        .nth(1)
        .expect("the inventory table");
    assert!(
        uses.contains("<td class=\"num loads\">≈ 300</td>"),
        "{uses}"
    );
    assert!(uses.contains("<td>firefox</td>"), "{uses}");
    assert!(
        uses.contains("<tr class=\"low\"><td class=\"url\"><code>https:&#x2F;&#x2F;<wbr>once."),
        "{uses}"
    );
    assert!(uses.contains("below reach 2</span>"), "{uses}");
    // The suggestion: ws.example.com (used, allowed by the enforced list) with its page
    // loads and reach; the exfiltration target not, with its reason.
    assert!(
        html.contains(
            "<li>add wss:&#x2F;&#x2F;ws.example.com: 2 reports, from 2 client networks, \
             used by ≈ 4 page loads</li>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "<code>https:&#x2F;&#x2F;<wbr>xss.<wbr>evil.<wbr>example</code>: the enforced list \
             blocks it: the site already works without it <span class=\"meta\">(3 reports, \
             reach 3)</span>"
        ),
        "{html}"
    );
    assert!(html.contains("1 destination already allowed."), "{html}");
    assert!(!html.contains("style="), "{html}");
}

#[test]
fn without_an_inventory_or_an_enforced_list_the_page_says_so() {
    struct NoInventory(MemorySink);
    impl ReportSink for NoInventory {
        fn submit(
            &self,
            b: Vec<crate::report::store::Violation>,
        ) -> crate::report::store::BoxFuture<'_, Result<(), crate::report::store::StoreError>>
        {
            self.0.submit(b)
        }
    }
    impl ReportStore for NoInventory {
        fn summary(
            &self,
            limit: usize,
        ) -> crate::report::store::BoxFuture<
            '_,
            Result<crate::report::store::Summary, crate::report::store::StoreError>,
        > {
            self.0.summary(limit)
        }
    }
    let store = NoInventory(MemorySink::new());
    let served = ServedPolicies::from_headers(["connect-src 'self'; report-uri /r"]).snapshot();
    let d = block_on(read(
        &store,
        10,
        &Filter::default(),
        Some(&served),
        2,
        at(H),
    ))
    .unwrap();
    let html = render(&Page {
        title: "t",
        data: &d,
        filter: &Filter::default(),
        served: Some(&served),
        min_reach: 2,
    });
    assert!(
        html.contains("No inventory: this store keeps no reports to read back"),
        "{html}"
    );
    assert!(html.contains("Without an inventory, no source can be shown used or unused."));
    // An empty inventory: said, and no source called unused.
    let html = page(
        &MemorySink::new(),
        &Filter::default(),
        Some(&ServedPolicies::from_headers(["connect-src 'self'"])),
    );
    assert!(html.contains("No inventory observations since"), "{html}");
    assert!(!html.contains("unused for 30 days"), "{html}");
    // A report-only policy only: no enforced list to judge.
    let html = page(
        &MemorySink::new(),
        &Filter::default(),
        Some(&ServedPolicies::from_headers([
            "connect-src 'self'; report-uri /r?disposition=report",
        ])),
    );
    assert!(
        html.contains("No enforced list to judge: the app serves a report-only policy only."),
        "{html}"
    );
}

#[test]
fn attacker_text_is_escaped_in_every_field() {
    const XSS: &str = "<script>alert(1)</script>";
    let sink =
        store(&[r("https://a.example/x", XSS, "report", H).on("/<script>alert(1)</script>")]);
    // A blocked "URL" that is no URL: kept as bounded text.
    let v = violation(
        &format!("javascript:{XSS}\"'"),
        "https://app.example/",
        "connect-src",
        "report",
        H,
    );
    assert_eq!(v.blocked_origin, None);
    drop(ReportSink::submit(&sink, vec![v]));
    let served = ServedPolicies::from_headers([format!(
        "connect-src 'self' {XSS} https://api.example; report-uri /r"
    )]);
    for filter in [
        Filter::default().with("destination", Some(XSS)),
        Filter::default(),
        Filter::of_view(View::Pages),
        Filter::of_view(View::Pages).with("directive", Some(XSS)),
    ] {
        let html = page(&sink, &filter, Some(&served));
        let body = &html[html.find("<body>").unwrap()..];
        assert!(!body.contains("<script"), "{body}");
        assert!(!body.contains("\"'"), "{body}");
        assert!(!html.contains("style="));
    }
    let html = page(&sink, &Filter::of_view(View::Pages), Some(&served));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;"), "{html}");
    let d = data(&sink, &Filter::default(), None);
    assert!(d
        .summary
        .groups
        .iter()
        .any(|g| matches!(g.blocked_origin, Blocked::Other(_))));
}

#[test]
fn the_pages_counts_agree_with_the_summary_json_and_suggest() {
    let sink = store(&[
        r("https://api.example.net/a", "connect-src", "report", H)
            .genuine(1)
            .on("/orders/1"),
        r("https://api.example.net/b", "connect-src", "report", H)
            .genuine(2)
            .on("/orders/2"),
        r("https://api.example.net/c", "connect-src", "report", H - 5)
            .genuine(3)
            .on("/cart"),
        r(
            "https://cdn.example.org/x",
            "connect-src",
            "enforce",
            H - 40,
        ),
        r(
            "https://cdn.example.org/y",
            "connect-src",
            "enforce",
            H - 200,
        )
        .genuine(4),
        r("https://fonts.example/f", "font-src", "report", H),
        r("data:", "connect-src", "report", H).genuine(5),
    ]);
    sink.record_filtered(4);
    observe(&sink, "wss://ws.example.net", 0..4, 0.1);
    let served = ServedPolicies::from_policy_headers(
        Some("connect-src 'self' https: wss://ws.example.net".into()),
        Some("connect-src 'self'; report-uri /r?disposition=report".into()),
        Vec::<String>::new(),
    );
    let summary = block_on(sink.summary(100)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
    let groups = json["groups"].as_array().unwrap();
    let html = page(&sink, &Filter::default(), Some(&served));
    assert_eq!(card(&html, "total"), json["total"].as_u64().unwrap());
    assert_eq!(card(&html, "filtered"), 4);
    assert_eq!(card(&html, "groups"), groups.len() as u64);
    let dests = rows(&html, "dest");
    assert_eq!(card(&html, "destinations"), dests.len() as u64);
    let mut sum = 0;
    for row in &dests {
        let of: Vec<&serde_json::Value> = groups
            .iter()
            .filter(|g| {
                let o = g["blocked_origin"].as_str().unwrap();
                row.starts_with(&format!("<td class=\"url\"><code>{}</code>", url_html(o)))
            })
            .collect();
        assert!(!of.is_empty(), "{row}");
        let count: u64 = of.iter().map(|g| g["count"].as_u64().unwrap()).sum();
        let reach = of
            .iter()
            .map(|g| g["reach"].as_u64().unwrap())
            .max()
            .unwrap();
        assert_eq!(
            (cell(row, "count"), cell(row, "reach")),
            (count, reach),
            "{row}"
        );
        sum += count;
    }
    assert_eq!(
        sum,
        json["total"].as_u64().unwrap(),
        "every violation in one row"
    );
    let pages = page(&sink, &Filter::of_view(View::Pages), Some(&served));
    let counts: u64 = rows(&pages, "group").iter().map(|r| cell(r, "count")).sum();
    assert_eq!(counts, sum);
    // The suggested value is what `connect-src suggest --policy "'self'" --enforced
    // "'self' https: wss://ws.example.net" --min-reach 2` computes over the same store.
    let inventory = block_on(sink.inventory(at(H) - Duration::from_secs(30 * 86_400))).unwrap();
    let cli = suggest(
        &"'self'".parse().unwrap(),
        summary
            .teaching()
            .observations
            .into_iter()
            .chain(inventory.iter().map(Learned::from_use)),
        &SuggestOptions::default()
            .min_reach(2)
            .enforced("'self' https: wss://ws.example.net".parse().unwrap()),
    );
    assert_eq!(
        cli.policy.value(),
        "'self' https://api.example.net wss://ws.example.net"
    );
    assert!(
        html.contains(&format!(
            "<pre class=\"value\">{}</pre>",
            escape_html(&cli.policy.value())
        )),
        "{html}"
    );
    assert!(
        html.contains(
            "connect-src suggest --db … --policy &quot;&#x27;self&#x27;&quot; --min-reach 2 \
             --enforced &quot;&#x27;self&#x27; https: wss:&#x2F;&#x2F;ws.example.net&quot;"
        ),
        "{html}"
    );
}

#[test]
fn the_response_has_its_own_policy_and_the_final_mark() {
    use axum::http::header::{CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
    let res = super::dashboard::response("<!doctype html>".into());
    assert_eq!(
        res.headers()[CONTENT_SECURITY_POLICY],
        super::style::DASHBOARD_CSP
    );
    assert!(super::style::DASHBOARD_CSP.starts_with("default-src 'none'; style-src 'self';"));
    assert_eq!(res.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        res.extensions()
            .get::<crate::policy::FinalPolicy>()
            .is_some(),
        "a CspLayer around the collector leaves the page's policy alone"
    );
}
