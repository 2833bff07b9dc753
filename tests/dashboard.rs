//! The dashboard in real headless Chromium: it renders under its own strict CSP with its
//! stylesheet, every class of report is shown with hostile text kept as text, the charts
//! (inline SVG, no script, no `style` attribute) are in the page Chromium built with bars
//! scaled to their counts, the directive filter links and the suggested policy are there, and
//! a screenshot is taken (kept at `target/dashboard.png` to look at). A realistic store (a
//! dozen destinations, long URLs, a single-page app's templated paths, an inventory and an
//! enforced list with an unused source) is shown by destination, by page and with its
//! inventory at 1280 px (`target/dashboard-*.png`; with `CONNECT_SRC_SCREENSHOTS=<dir>`, also
//! written there: how `docs/screenshots/` is made). With CI=true a missing Chromium fails;
//! locally the test is skipped with a loud line.
#![cfg(feature = "collector")]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::Router;
use connect_src::policy::ServedPolicies;
use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::store::{
    Class, Disposition, Network, Observation, PageLoad, ReportSink, Violation,
};
use connect_src::report::{Collector, MemorySink};

const SERVED: &str = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
/// The enforced list served beside [`SERVED`] (then report-only): it allows the WebSocket
/// host the report-only list lacks, so the suggestion may propose it.
const ENFORCED: &str =
    "connect-src 'self' https://api.example.com wss://ws.example.org; report-uri /csp-reports";
const XSS: &str =
    r#"<script>fetch('/xss-fired')</script><img src=x onerror="fetch('/xss-fired')">"#;

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "chromium is not installed and CI=true"
        );
        eprintln!(
            "\n!!!!!! SKIPPED: chromium not installed (bash scripts/test.sh installs it) !!!!!!\n"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `flags` besides the common ones and waits up to a
/// minute; then its whole process group is killed (Chromium's helpers may outlive the
/// parent). Its standard output, or `None` when it did not finish in time.
fn chromium_run(bin: &Path, flags: &[String], url: &str, profile: &Path) -> Option<String> {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = reader.join().unwrap();
    done.then_some(stdout)
}

/// A screenshot of `url` in `png`; false when Chromium did not finish within a minute.
fn screenshot(bin: &Path, url: &str, png: &Path, profile: &Path) -> bool {
    screenshot_sized(bin, url, png, profile, 900)
}

/// A screenshot 1280 px wide and `height` high.
fn screenshot_sized(bin: &Path, url: &str, png: &Path, profile: &Path, height: u32) -> bool {
    let flags = [
        "--hide-scrollbars".to_owned(),
        format!("--window-size=1280,{height}"),
        format!("--screenshot={}", png.display()),
    ];
    chromium_run(bin, &flags, url, profile).is_some()
}

/// The page's DOM as Chromium built it (`--dump-dom`), serialized; `None` when Chromium
/// did not finish within a minute.
fn dump_dom(bin: &Path, url: &str, profile: &Path) -> Option<String> {
    chromium_run(bin, &["--dump-dom".to_owned()], url, profile)
}

/// The body of a plain HTTP/1.1 GET of `path` from the test server.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    fetch(addr, path).1
}

/// The head (status line and headers) and body of a plain HTTP/1.1 GET of `path`, which
/// must answer 200.
fn fetch(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.contains("chunked"), "{head}");
    (head.to_owned(), body.to_owned())
}

/// The charts (`<svg>…</svg>`) in a piece of the page, in order.
fn charts(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(i, _)| &html[i..i + html[i..].find("</svg>").unwrap()])
        .collect()
}

/// A chart's bars: (height in pixels, the count its tooltip says), in order.
fn bars(svg: &str) -> Vec<(u32, u64)> {
    svg.split("<rect class=\"bar\"")
        .skip(1)
        .map(|bar| {
            let attr = |name: &str| -> &str {
                let start = bar.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                &bar[start..start + bar[start..].find('"').unwrap()]
            };
            let title = &bar[bar.find("<title>").unwrap() + 7..bar.find("</title>").unwrap()];
            let count = title
                .rsplit(": ")
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            (attr("height").parse().unwrap(), count.parse().unwrap())
        })
        .collect()
}

/// Each bar's height is its count relative to the chart's largest (rounded, 24 px plot):
/// the scale the page promises. Returns the (height, count) pairs, sorted.
fn scaled(svg: &str, plot: u32) -> Vec<(u32, u64)> {
    let mut b = bars(svg);
    let max = b.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (h, n) in &b {
        let want = ((u128::from(*n) * u128::from(plot) + u128::from(max) / 2) / u128::from(max))
            .max(1) as u32;
        assert_eq!(*h, want, "bar of {n} against a max of {max}: {svg}");
    }
    b.sort();
    b
}

/// A violation received `hours_ago` hours before now, stored as the collector would have.
fn at(
    blocked: &str,
    directive: &str,
    disposition: Disposition,
    class: Class,
    hours_ago: u64,
) -> Violation {
    on_page(
        blocked,
        "https://app.example.com/live",
        directive,
        disposition,
        class,
        hours_ago,
    )
}

/// [`at`] from the page `document`.
fn on_page(
    blocked: &str,
    document: &str,
    directive: &str,
    disposition: Disposition,
    class: Class,
    hours_ago: u64,
) -> Violation {
    // Chromium's connection-allowlist report (FINDINGS.md), or a legacy CSP report.
    let body = if directive == "connection-allowlist" {
        serde_json::json!([{"type": "connection-allowlist", "url": document,
            "body": {"connection": blocked, "disposition": "report"}}])
    } else {
        serde_json::json!({"csp-report": {
            "document-uri": document, "blocked-uri": blocked,
            "effective-directive": directive}})
    }
    .to_string();
    let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
        .unwrap()
        .violations
        .remove(0);
    v.disposition = disposition;
    v.class = class;
    v.received_at = SystemTime::now() - Duration::from_secs(hours_ago * 3600);
    v
}

/// `v` as sent from client network `n`.
fn from(mut v: Violation, n: u64) -> Violation {
    v.network = Some(Network(n));
    v
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let n = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    Some((n(16), n(20)))
}

/// Serves `app` on a free port of 127.0.0.1, logging each request's path: its address,
/// the server's task (abort it when done) and the paths requested so far.
async fn serve_logged(
    app: Router,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
    Arc<Mutex<Vec<String>>>,
) {
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = requests.clone();
    let app = app.layer(middleware::from_fn(move |req: Request, next: Next| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(req.uri().path().to_owned());
            next.run(req).await
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, server, requests)
}

fn report(blocked: &str, policy: &str, document: &str) -> String {
    serde_json::json!({"csp-report": {
        "document-uri": document, "blocked-uri": blocked, "effective-directive": "connect-src",
        "original-policy": policy, "disposition": "enforce", "script-sample": XSS}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_in_chromium_under_its_own_csp() {
    let Some(bin) = chromium() else { return };
    let store = MemorySink::new();
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(ServedPolicies::from_policy_headers(
            Some(ENFORCED.to_owned()),
            Some(SERVED.to_owned()),
            Vec::<String>::new(),
        ))
        .build();
    for (blocked, policy) in [
        ("https://evil.example.net/x", SERVED),
        ("https://api.example.com/x", SERVED),
        ("https://other.example.org/x", "connect-src 'none'"),
        (&format!("https://{XSS}.example/")[..], SERVED),
    ] {
        let body = report(blocked, policy, &format!("https://app.example.com/{XSS}"));
        collector
            .accept(
                axum::http::Request::post("/csp-reports")
                    .header("content-type", "application/csp-report")
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    // Report-only connections the served policy lacks, over days: 3 now, 1 three hours ago,
    // 1 three days ago, from two client networks; and one img-src violation (a second
    // directive to filter by).
    let ws = |hours_ago, network| {
        from(
            at(
                "wss://ws.example.org/live",
                "connect-src",
                Disposition::Report,
                Class::Genuine,
                hours_ago,
            ),
            network,
        )
    };
    store
        .submit(vec![ws(0, 1), ws(0, 2), ws(0, 1), ws(3, 2), ws(72, 1)])
        .await
        .unwrap();
    store
        .submit(vec![at(
            "https://img.example.org/a.png",
            "img-src",
            Disposition::Enforce,
            Class::Unverified,
            0,
        )])
        .await
        .unwrap();
    let (addr, server, requests) =
        serve_logged(collector.report_router().merge(collector.admin_router())).await;

    let dir = std::env::temp_dir().join(format!("connect-src-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (shot, blank) = (dir.join("dashboard.png"), dir.join("blank.png"));
    let url = format!("http://{addr}/csp-reports/dashboard");
    let (b, d) = (bin.clone(), dir.clone());
    let (s, bl) = (shot.clone(), blank.clone());
    let (took, took_blank, dom, html) = tokio::task::spawn_blocking(move || {
        (
            screenshot(&b, &url, &s, &d.join("p1")),
            screenshot(
                &b,
                "data:text/html,<title>blank</title>",
                &bl,
                &d.join("p2"),
            ),
            dump_dom(&b, &url, &d.join("p3")),
            get(addr, "/csp-reports/dashboard"),
        )
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        took && took_blank,
        "chromium did not finish its screenshots"
    );
    let dom = dom.expect("chromium did not finish --dump-dom");

    // The charts: one overall (every group, 7 days by hour) and two per group (6 groups).
    assert_eq!(charts(&html).len(), 1 + 2 * 6, "{html}");
    assert_eq!(
        charts(&dom).len(),
        charts(&html).len(),
        "Chromium built every chart as SVG: {dom}"
    );
    assert_eq!(
        dom.matches("<rect class=\"bar\"").count(),
        html.matches("<rect class=\"bar\"").count()
    );
    assert!(
        !html.contains("style="),
        "no style attribute (the CSP blocks them)"
    );
    assert!(!dom.contains("style="), "none in the DOM either");
    let row = html
        .split("<tr class=")
        .find(|r| r.contains("wss:&#x2F;&#x2F;<wbr>ws.<wbr>example.<wbr>org</code>"))
        .expect("the ws.example.org row");
    let [day, week] = charts(row)[..] else {
        panic!("two charts in the row: {row}")
    };
    assert_eq!(scaled(day, 24), [(8, 1), (24, 3)], "{day}");
    assert_eq!(scaled(week, 24), [(6, 1), (24, 4)], "{week}");
    assert!(
        row.contains("<span class=\"n\">4</span>") && row.contains("<span class=\"n\">5</span>"),
        "24-hour and 7-day totals: {row}"
    );
    let overall = charts(&html)[0];
    let total: u64 = bars(overall).iter().map(|(_, n)| n).sum();
    assert_eq!(total, 10, "every violation of the week: {overall}");
    scaled(overall, 48);
    // Directive filter links, for each directive in the summary.
    assert!(
        html.contains("href=\"dashboard?directive=connect-src\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"dashboard?directive=img-src\""),
        "{html}"
    );
    // The suggestion: the served report-only connect-src plus what report-only reports need
    // and the enforced list allows.
    assert!(html.contains("<h2>Suggested connect-src</h2>"), "{html}");
    assert!(
        html.contains(
            "<pre class=\"value\">&#x27;self&#x27; https:&#x2F;&#x2F;api.example.com \
             wss:&#x2F;&#x2F;ws.example.org</pre>"
        ),
        "{html}"
    );
    assert!(
        dom.contains("wss://ws.example.org</pre>"),
        "shown as text: {dom}"
    );

    let png = std::fs::read(&shot).expect("no screenshot written");
    let empty = std::fs::read(&blank).unwrap();
    assert_eq!(png_size(&png), Some((1280, 900)), "a 1280x900 PNG");
    assert!(
        png.len() > 4 * empty.len(),
        "the dashboard shows something: {} bytes against a blank page's {}",
        png.len(),
        empty.len()
    );
    let seen = requests.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| p == "/csp-reports/dashboard.css"),
        "the strict CSP lets its own stylesheet load: {seen:?}"
    );
    assert!(
        !seen.iter().any(|p| p.starts_with("/xss-fired")),
        "attacker text ran: {seen:?}"
    );
    // Kept to look at: `target/` of the package (made if CARGO_TARGET_DIR is elsewhere).
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    let _ = std::fs::create_dir_all(target.parent().unwrap());
    let _ = std::fs::copy(&shot, &target);
    let _ = std::fs::remove_dir_all(&dir);
    println!("dashboard screenshot: {}", target.display());
}

/// The realistic store the screenshots show: a shop whose single-page app talks to its API,
/// a live WebSocket, Stripe, Sentry (a long URL), a long CDN host; an exfiltration attempt
/// from one network, a dev server left in a page, an injected policy, an extension; and an
/// inventory of what real pages used, against an enforced list with a source nothing uses.
async fn realistic(store: &MemorySink) {
    const NOW: u64 = 0;
    let mut batch = Vec::new();
    let mut push = |blocked: &str,
                    page: &str,
                    directive: &str,
                    disposition: Disposition,
                    class: Class,
                    networks: std::ops::Range<u64>,
                    per_network: u64| {
        for n in networks {
            for i in 0..per_network {
                let v = on_page(
                    blocked,
                    &format!("https://shop.example{page}"),
                    directive,
                    disposition,
                    class,
                    NOW + (n * 7 + i * 13) % 160,
                );
                batch.push(from(v, n));
            }
        }
    };
    let (report, enforce) = (Disposition::Report, Disposition::Enforce);
    let genuine = Class::Genuine;
    // Connection-Allowlist-Report-Only's reports: it governs images and navigations too.
    push(
        "https://help.shop.example/faq",
        "/account",
        "connection-allowlist",
        report,
        genuine,
        0..6,
        1,
    );
    push(
        "https://images.cdn-shop.example/p/blue-mug.jpg",
        "/orders/81273",
        "connection-allowlist",
        report,
        genuine,
        2..9,
        2,
    );
    push(
        "wss://live.shop.example/socket",
        "/orders/81273",
        "connect-src",
        report,
        genuine,
        0..14,
        3,
    );
    push(
        "wss://live.shop.example/socket",
        "/orders/81274",
        "connect-src",
        report,
        genuine,
        3..9,
        2,
    );
    push(
        "wss://live.shop.example/socket",
        "/account",
        "connect-src",
        report,
        genuine,
        0..5,
        1,
    );
    push(
        "https://api.stripe.com/v1/payment_intents",
        "/checkout",
        "connect-src",
        report,
        genuine,
        0..9,
        2,
    );
    push(
        "https://m.stripe.com/6",
        "/checkout",
        "connect-src",
        report,
        genuine,
        2..8,
        1,
    );
    push(
        "https://o450123.ingest.sentry.io/api/4504123456789/envelope/",
        "/orders/5f0c2a9e-8d1b-4c7e-9a3f-2b6d8e1c4a77/invoice",
        "connect-src",
        report,
        genuine,
        0..6,
        2,
    );
    push(
        "https://static-assets-eu-west-1.cdn.shop-provider.example.com:8443/bundle.js",
        "/catalog/shoes/running/trail-runner-gtx-2",
        "connect-src",
        report,
        genuine,
        1..5,
        1,
    );
    push(
        "https://exfil.attacker.example/c",
        "/search",
        "connect-src",
        report,
        genuine,
        40..41,
        38,
    );
    push(
        "http://localhost:3000/__vite_ping",
        "/",
        "connect-src",
        report,
        Class::Unverified,
        50..52,
        3,
    );
    push(
        "https://www.google-analytics.com/g/collect",
        "/",
        "connect-src",
        enforce,
        genuine,
        0..11,
        2,
    );
    push(
        "https://injected-proxy.example/t.js",
        "/",
        "script-src",
        enforce,
        Class::Foreign,
        60..63,
        1,
    );
    push(
        "https://api.shop.example/graphql",
        "/orders/81273",
        "connect-src",
        report,
        Class::Contradicts,
        70..71,
        2,
    );
    push(
        "inline",
        "/checkout",
        "script-src",
        enforce,
        genuine,
        0..4,
        1,
    );
    push(
        "data",
        "/catalog/shoes",
        "img-src",
        enforce,
        genuine,
        2..4,
        2,
    );
    store.submit(batch).await.unwrap();
    store.record_filtered(23);
    // The inventory: sampled page loads (at 1%), each from its own network.
    let mut seen = Vec::new();
    let mut used = |destination: &str, loads: std::ops::Range<u64>| {
        for i in loads {
            let mut o = Observation::new(
                connect_src::source::Origin::of_url(destination).unwrap(),
                PageLoad(i),
                0.01,
            );
            o.document_origin = connect_src::source::Origin::of_url("https://shop.example");
            o.network = Some(Network(i % 40));
            o.engine = Some(
                [
                    connect_src::matcher::Engine::Chromium,
                    connect_src::matcher::Engine::Firefox,
                    connect_src::matcher::Engine::WebKit,
                ][(i % 3) as usize],
            );
            seen.push(o);
        }
    };
    used("https://shop.example", 0..120);
    used("https://api.shop.example", 0..118);
    used("wss://live.shop.example", 10..60);
    used("https://api.stripe.com", 30..44);
    used("https://m.stripe.com", 30..36);
    used("https://o450123.ingest.sentry.io", 5..9);
    used("https://cdn.shop.example", 200..201);
    store.observe(seen).await.unwrap();
}

/// The served policies of the realistic store: an enforced list with a source nothing uses
/// (`old-analytics`) and a wildcard, and a stricter report-only list.
fn realistic_served() -> ServedPolicies {
    ServedPolicies::from_policy_headers(
        Some(
            "connect-src 'self' https://api.shop.example wss://live.shop.example \
             https://*.stripe.com https://api.stripe.com https://cdn.shop.example \
             https://old-analytics.example https://o450123.ingest.sentry.io; \
             report-uri /csp-reports"
                .to_owned(),
        ),
        Some(
            "connect-src 'self' https://api.shop.example; \
             report-uri /csp-reports?disposition=report"
                .to_owned(),
        ),
        Vec::<String>::new(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_at_1280_px_by_destination_by_page_and_inventory() {
    let Some(bin) = chromium() else { return };
    let store = MemorySink::new();
    realistic(&store).await;
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(realistic_served())
        .build();
    let (addr, server, requests) = serve_logged(collector.admin_router()).await;

    let dir = std::env::temp_dir().join(format!("connect-src-dash1280-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // (name, query, height): what each screenshot shows.
    let shots = [
        ("dashboard-destinations", "", 1450),
        ("dashboard-pages", "?view=pages", 1500),
        ("dashboard-inventory", "?directive=connect-src", 2600),
    ];
    let (b, d) = (bin.clone(), dir.clone());
    let (took, pages, dom) = tokio::task::spawn_blocking(move || {
        let took: Vec<bool> = shots
            .iter()
            .enumerate()
            .map(|(i, (name, query, height))| {
                screenshot_sized(
                    &b,
                    &format!("http://{addr}/csp-reports/dashboard{query}"),
                    &d.join(format!("{name}.png")),
                    &d.join(format!("p{i}")),
                    *height,
                )
            })
            .collect();
        let pages: Vec<(String, String)> = shots
            .iter()
            .map(|(_, query, _)| fetch(addr, &format!("/csp-reports/dashboard{query}")))
            .collect();
        let dom = dump_dom(
            &b,
            &format!("http://{addr}/csp-reports/dashboard"),
            &d.join("pd"),
        );
        (took, pages, dom)
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        took.iter().all(|t| *t),
        "chromium did not finish its screenshots"
    );
    let dom = dom.expect("chromium did not finish --dump-dom");
    for (head, html) in &pages {
        // Its own strict policy on every view, and no style attribute (the policy would
        // block it).
        assert!(
            head.to_ascii_lowercase().contains(
                "\r\ncontent-security-policy: default-src 'none'; style-src 'self'; \
                 img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
            ),
            "{head}"
        );
        assert!(!html.contains("style="), "no style attribute");
    }
    let [(_, by_destination), (_, by_page), _] = &pages[..] else {
        unreachable!()
    };
    // By destination: one row per destination (two of them Connection-Allowlist's), the
    // single-page app's pages folded.
    assert_eq!(by_destination.matches("<tr class=\"dest\">").count(), 14);
    assert_eq!(dom.matches("<tr class=\"dest\">").count(), 14, "{dom}");
    assert!(
        by_destination.contains("connection-allowlist"),
        "its own directive"
    );
    let live = by_destination
        .split("<tr class=\"dest\">")
        .nth(1)
        .expect("the first destination");
    assert!(
        live.contains("wss:&#x2F;&#x2F;<wbr>live.<wbr>shop.<wbr>example</code>"),
        "widest reach first: {live}"
    );
    assert!(live.contains("<td class=\"num reach\">14</td>"), "{live}");
    // By page: the order pages are one template.
    assert!(
        by_page.contains("&#x2F;<wbr>orders&#x2F;<wbr>{id}</code>"),
        "{by_page}"
    );
    assert!(!by_page.contains("81273"), "ids collapsed: {by_page}");
    // The unused source and the suggestion's reasons.
    assert!(by_destination.contains("<span class=\"tag unused\">unused for 30 days</span>"));
    assert!(by_destination.contains("old-<wbr>analytics.<wbr>example"));
    assert!(dom.contains("unused for 30 days"));
    assert!(
        by_destination
            .contains("exfil.<wbr>attacker.<wbr>example</code>: the enforced list blocks it"),
        "{by_destination}"
    );
    assert!(!dom.contains("style="));
    let seen = requests.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| p == "/csp-reports/dashboard.css"),
        "the stylesheet loaded: {seen:?}"
    );
    let keep = std::env::var_os("CONNECT_SRC_SCREENSHOTS").map(PathBuf::from);
    for (name, _, height) in shots {
        let png = std::fs::read(dir.join(format!("{name}.png"))).expect("no screenshot");
        assert_eq!(png_size(&png), Some((1280, height)), "{name}");
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/{name}.png"));
        let _ = std::fs::copy(dir.join(format!("{name}.png")), &target);
        if let Some(keep) = &keep {
            std::fs::create_dir_all(keep).unwrap();
            std::fs::copy(
                dir.join(format!("{name}.png")),
                keep.join(format!("{name}.png")),
            )
            .unwrap();
        }
        println!("dashboard screenshot: {}", target.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Text as the dashboard escapes it (`& < > " ' /`).
#[cfg(feature = "cli")]
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2F;")
}

/// The number in the page's `<div class="card" id="{id}"><b>N</b>`.
#[cfg(feature = "cli")]
fn card(html: &str, id: &str) -> u64 {
    let tag = format!("id=\"{id}\"><b>");
    let from = html.find(&tag).expect(id) + tag.len();
    html[from..from + html[from..].find('<').unwrap()]
        .parse()
        .unwrap()
}

/// Over one SQLite file: the dashboard's counts are the summary JSON's, each destination's
/// count and reach are its groups' sum and widest, and its suggested value is what the
/// built `connect-src suggest` prints for the same store and list.
#[cfg(feature = "cli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_counts_agree_with_the_summary_json_and_the_cli() {
    use connect_src::report::SqliteSink;
    let dir = std::env::temp_dir().join(format!("connect-src-dash-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("reports.sqlite");
    let store = SqliteSink::open(&db).unwrap();
    let report_only = "connect-src 'self'; report-uri /csp-reports?disposition=report";
    let (report, enforce) = (Disposition::Report, Disposition::Enforce);
    let g = Class::Genuine;
    let mut batch = Vec::new();
    for (blocked, page, disposition, class, networks) in [
        (
            "https://api.example.net/a",
            "/orders/81273",
            report,
            g,
            0..3,
        ),
        (
            "https://api.example.net/b",
            "/orders/81274",
            report,
            g,
            2..4,
        ),
        ("https://api.example.net/c", "/cart", report, g, 0..1),
        ("https://a.cdn.example.org/x.js", "/", report, g, 0..2),
        ("https://b.cdn.example.org/y.js", "/", report, g, 1..3),
        ("https://c.cdn.example.org/z.js", "/", report, g, 3..5),
        ("https://once.example/x", "/", report, g, 9..10),
        ("https://enforced.example/x", "/", enforce, g, 0..4),
        (
            "https://nobody.example/x",
            "/",
            report,
            Class::Unverified,
            0..4,
        ),
    ] {
        for n in networks {
            let v = on_page(
                blocked,
                &format!("https://app.example{page}"),
                "connect-src",
                disposition,
                class,
                n % 3,
            );
            batch.push(from(v, n));
        }
    }
    store.submit(batch).await.unwrap();
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(ServedPolicies::from_headers([report_only]))
        .build();
    let (addr, server, _) = serve_logged(collector.admin_router()).await;
    let (json, html, pages) = tokio::task::spawn_blocking(move || {
        (
            get(addr, "/csp-reports/summary"),
            get(addr, "/csp-reports/dashboard"),
            get(addr, "/csp-reports/dashboard?view=pages"),
        )
    })
    .await
    .unwrap();
    server.abort();
    drop(collector);
    drop(store);

    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(card(&html, "total"), json["total"].as_u64().unwrap());
    assert_eq!(card(&html, "total"), 21);
    assert_eq!(card(&html, "filtered"), json["filtered"].as_u64().unwrap());
    assert_eq!(card(&html, "groups"), groups.len() as u64);
    assert_eq!(card(&pages, "groups"), groups.len() as u64);
    let rows: Vec<&str> = html.split("<tr class=\"dest\">").skip(1).collect();
    assert_eq!(card(&html, "destinations"), rows.len() as u64);
    let number = |row: &str, class: &str| -> u64 {
        let tag = format!("<td class=\"num {class}\">");
        let from = row.find(&tag).unwrap() + tag.len();
        row[from..from + row[from..].find('<').unwrap()]
            .parse()
            .unwrap()
    };
    let mut seen = 0;
    for g in groups {
        let origin = g["blocked_origin"].as_str().unwrap();
        let of: Vec<&serde_json::Value> = groups
            .iter()
            .filter(|h| h["blocked_origin"] == origin)
            .collect();
        let host = origin.split("//").nth(1).unwrap().replace('.', ".<wbr>");
        let row = rows
            .iter()
            .find(|r| r.contains(&format!("<wbr>{host}</code>")))
            .unwrap_or_else(|| panic!("{origin}: {html}"));
        let count: u64 = of.iter().map(|h| h["count"].as_u64().unwrap()).sum();
        let reach = of
            .iter()
            .map(|h| h["reach"].as_u64().unwrap())
            .max()
            .unwrap();
        assert_eq!(number(row, "count"), count, "{origin}");
        assert_eq!(number(row, "reach"), reach, "{origin}");
        seen += g["count"].as_u64().unwrap();
    }
    assert_eq!(seen, 21, "every stored violation is in a row");
    let page_counts: u64 = pages
        .split("<tr class=\"group\">")
        .skip(1)
        .map(|r| number(r, "count"))
        .sum();
    assert_eq!(page_counts, 21);

    let out = Command::new(env!("CARGO_BIN_EXE_connect-src"))
        .args([
            "suggest",
            "--db",
            db.to_str().unwrap(),
            "--policy",
            "'self'",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let printed = printed.trim();
    assert_eq!(
        printed,
        "'self' https://*.cdn.example.org https://api.example.net",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        html.contains(&format!("<pre class=\"value\">{}</pre>", escaped(printed))),
        "{html}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
