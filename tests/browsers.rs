//! Real browsers: headless Chromium, Firefox ESR and WebKitGTK's MiniBrowser (Debian
//! packages; MiniBrowser on an Xvfb display the suite starts) load pages from a test server
//! on loopback and attempt connections under many policies. What they block must equal
//! `BrowserPolicy::check`'s verdict for that engine; their report-uri reports must reach the
//! collector; enforced + report-only must behave as documented; the dashboard must show
//! hostile report fields as text. Over HTTPS (a CA and certificate made at test time with
//! rcgen, trusted through Chromium's flag, Firefox's profile via certutil, and MiniBrowser's
//! `--ignore-tls-errors`), the crate's own layer sets `Reporting-Endpoints`, and the reports
//! must arrive and normalize the same way; the https pages also check the verdicts only they
//! can show.
//!
//! One browser process per engine walks every page (`browsers/cases.rs`): each page runs its
//! cases, then submits a form (navigation is not governed by connect-src) whose answer
//! sends the browser on to the next page. Every listener speaks HTTP and HTTPS on one port
//! (a test certificate, trusted as above), so pages can be either, and a request that
//! `upgrade-insecure-requests` upgrades reaches the server; redirect chains are answered by
//! the server (any URL with a `to` parameter redirects there). Blocks are read from `securitypolicyviolation` events and
//! cross-checked against the requests the server saw, never from API errors: a blocked
//! fetch rejects with a TypeError everywhere, a blocked WebSocket throws at once in Firefox
//! and WebKit and fires `error` in Chromium, a blocked sendBeacon returns true in Chromium
//! and WebKit. With CI=true a missing browser (or Xvfb) fails the suite; locally it is
//! skipped with a loud line.
#![cfg(feature = "collector")]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY,
    LOCATION,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Form, Router};
use connect_src::matcher::{Api, BrowserPolicy, Connection};
use connect_src::report::store::{Disposition, ReportSink, Violation};
use connect_src::report::{Collector, MemorySink};

#[path = "browsers/allowlist.rs"]
mod allowlist;
#[path = "browsers/cases.rs"]
mod cases;
#[path = "browsers/engines.rs"]
mod engines;

use cases::{groups, Csp, Group, Meta};
use engines::{browser_available, ci, launch, Engine};

#[derive(Default)]
struct Shared {
    /// Request paths+queries seen, in order.
    requests: Vec<String>,
    /// Which of them (by index) came over TLS.
    over_tls: HashSet<usize>,
    /// Page results by group: the raw JSON the page submitted.
    results: BTreeMap<usize, String>,
    /// The dashboard's stylesheet was fetched: the walk is over.
    done: bool,
}

#[derive(Clone)]
struct App {
    shared: Arc<Mutex<Shared>>,
    pages: Arc<Vec<PageSpec>>,
    /// `http://127.0.0.1:{p1}`: where the walk goes between pages (see `results`).
    bounce: String,
}

struct PageSpec {
    origin: String,
    /// Enforced `Content-Security-Policy` headers, byte for byte.
    csp: Vec<Vec<u8>>,
    csp_ro: Option<String>,
    /// The policy `<meta>` elements, as HTML: those for `<head>`, and those for `<body>`.
    head: String,
    body: String,
    cases_json: String,
}

async fn record(State(app): State<App>, req: Request, next: Next) -> Response {
    let pq = req
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.to_string());
    {
        let mut s = app.shared.lock().unwrap();
        if pq.starts_with("/csp-reports/dashboard.css") {
            s.done = true;
        }
        if req.extensions().get::<OverTls>().is_some() {
            let i = s.requests.len();
            s.over_tls.insert(i);
        }
        s.requests.push(pq.clone());
    }
    match redirect(&pq) {
        Some(r) => r,
        None => next.run(req).await,
    }
}

/// A hop of a redirect chain (a `to` query parameter): on to the next one, whatever the
/// path (the first hop's path is what a path-part judges). CORS-readable, since fetch, XHR
/// and EventSource follow a cross-origin redirect only when it is.
fn redirect(path_and_query: &str) -> Option<Response> {
    let to = path_and_query.split_once('?').and_then(|(_, q)| {
        url::form_urlencoded::parse(q.as_bytes())
            .find_map(|(k, v)| (k == "to").then(|| v.into_owned()))
    })?;
    let to = HeaderValue::from_str(&to).ok()?;
    Some(
        (
            StatusCode::FOUND,
            [
                (LOCATION, to),
                (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            ],
        )
            .into_response(),
    )
}

/// `ping` clicks an `<a ping>` whose navigation goes into a hidden frame, so the page stays;
/// `fetchLater` with `activateAfter: 0` is sent at once (Chromium only, see
/// `Engine::has_api`).
const PAGE_SCRIPT: &str = r#"
const events = [];
document.addEventListener('securitypolicyviolation', (e) => {
  events.push({ uri: String(e.blockedURI), d: String(e.disposition), dir: String(e.effectiveDirective) });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function attempt(c) {
  try {
    if (c.target === 'blob:') c = { ...c, target: URL.createObjectURL(new Blob(['x'])) };
    switch (c.api) {
      case 'fetch': fetch(c.target).catch(() => {}); break;
      case 'xhr': { const x = new XMLHttpRequest(); x.open('GET', c.target); x.onerror = () => {}; x.send(); break; }
      case 'ws': { const w = new WebSocket(c.target); w.onerror = () => {}; setTimeout(() => { try { w.close(); } catch (_) {} }, 1500); break; }
      case 'eventsource': { const s = new EventSource(c.target); s.onerror = () => s.close(); setTimeout(() => s.close(), 1500); break; }
      case 'beacon': return 'returned ' + navigator.sendBeacon(c.target, 'x');
      case 'ping': {
        const a = document.createElement('a');
        a.href = '/blank?nav=' + c.id; a.target = 'sink'; a.ping = c.target; a.textContent = 'x';
        document.body.appendChild(a); a.click(); break;
      }
      case 'fetchLater': fetchLater(c.target, { activateAfter: 0 }); break;
    }
    return null;
  } catch (e) { return String((e && e.name) || e); }
}
(async () => {
  const results = [];
  for (const c of CASES) {
    events.length = 0;
    const threw = attempt(c);
    await sleep(c.api === 'ws' || c.api === 'ping' || c.api === 'fetchLater' ? 400 : 250);
    results.push({ id: c.id, threw, events: events.slice() });
  }
  document.getElementById('r').value = JSON.stringify({ href: location.href, results });
  document.getElementById('f').submit();
})();
"#;

async fn page(State(app): State<App>, Path(n): Path<usize>) -> Response {
    let Some(p) = app.pages.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>case page {n}</title>{}</head><body>{}\
         <form id=f method=post action=\"/results/{n}\"><input type=hidden id=r name=r></form>\
         <iframe name=sink hidden></iframe>\
         <script>const CASES = {};\n{PAGE_SCRIPT}</script></body></html>",
        p.head, p.body, p.cases_json
    );
    let mut res = Html(html).into_response();
    for csp in &p.csp {
        res.headers_mut().append(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_bytes(csp).unwrap(),
        );
    }
    if let Some(ro) = &p.csp_ro {
        res.headers_mut().insert(
            CONTENT_SECURITY_POLICY_REPORT_ONLY,
            HeaderValue::from_str(ro).unwrap(),
        );
    }
    res
}

#[derive(serde::Deserialize)]
struct ResultForm {
    r: String,
}

async fn results(
    State(app): State<App>,
    Path(n): Path<usize>,
    Form(f): Form<ResultForm>,
) -> Response {
    app.shared.lock().unwrap().results.insert(n, f.r);
    // Through a page on another site: `upgrade-insecure-requests` upgrades navigations to
    // the hosts of the page that had it, and the documents after it keep doing so (WebKit
    // carries that set to the next same-site document, measured: the next page on the same
    // host ran over https), so the walk leaves the site before it goes on.
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, format!("{}/next/{}", app.bounce, n + 1))],
    )
        .into_response()
}

/// The bounce page between two pages: a new navigation, from a document with no policy
/// on a loopback address (which no engine upgrades), to page `n`.
async fn next_page(State(app): State<App>, Path(n): Path<usize>) -> Html<String> {
    let next = match app.pages.get(n) {
        Some(p) => format!("{}/run/{n}", p.origin),
        None => "/xss-control".to_owned(),
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><script>location.replace({next:?})</script>"
    ))
}

/// No `?` or `#`: URL fields lose their query, and the payload must survive whole.
const XSS: &str = r#"<script>fetch('/xss-fired/' + location.pathname)</script><img src=x onerror="fetch('/xss-fired/img' + location.pathname)">"#;

/// The same payload, unescaped and without CSP: proves the marker would fire if the
/// dashboard let it through.
async fn xss_control() -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"1;url=/csp-reports/dashboard\"><p>{XSS}</p>"
    ))
}

async fn hit() -> impl IntoResponse {
    ([("access-control-allow-origin", "*")], "ok")
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|_socket| async {})
}

/// Marks a request that came over TLS (`serve_dual`).
#[derive(Clone, Copy)]
struct OverTls;

/// Serves HTTP and HTTPS on one listener: a connection whose first byte opens a TLS
/// handshake (0x16) gets TLS, any other plain HTTP. `upgrade-insecure-requests` keeps a
/// URL's port, so the upgraded request must find a TLS server where the plain one was.
async fn serve_dual(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            // Bounded: a connection that never sends a byte is dropped.
            let peek = tokio::time::timeout(Duration::from_secs(10), tcp.peek(&mut first)).await;
            if !matches!(peek, Ok(Ok(1))) {
                return;
            }
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if first[0] == 0x16 {
                let marked = tower::ServiceExt::map_request(app, |mut r: Request<_>| {
                    r.extensions_mut().insert(OverTls);
                    r
                });
                let svc = hyper_util::service::TowerToHyperService::new(marked);
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                        .await;
                }
            } else {
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                    .await;
            }
        });
    }
}

// ---- one run -------------------------------------------------------------------------------

struct CaseOut {
    /// The policy as shown in messages: `connect-src …`, or the whole header(s) and metas.
    policy: String,
    /// The enforced header text `check()` reads (several headers joined by ", ", as HTTP
    /// joins them; invalid UTF-8 as U+FFFD, non-ASCII either way).
    header: String,
    /// The contents of the page's policy `<meta>`s in `<head>` (those in `<body>` and the
    /// report-only ones are ignored by browsers, so `check()` is not told of them).
    metas: Vec<String>,
    page: String,
    /// The target as written: a URL, `blob:`, or a chain `URL -> URL`.
    target: String,
    /// The URLs the page requested, ids added: the first, and each a redirect led to.
    hops: Vec<String>,
    api: String,
    blocked: bool,
    reported_only: bool,
    threw: Option<String>,
    /// The server saw the last hop.
    hit: bool,
    /// It came over TLS.
    hit_over_tls: bool,
    /// The hops the server saw (0: the first).
    seen_hops: Vec<usize>,
    /// Every hop is an http(s)/ws(s) URL on one of our listeners that no mixed-content
    /// rule stops: if allowed, the server must see the last one.
    ours: bool,
    /// On the page that checks how report-only is enforced and reported.
    ro_check: bool,
    /// The page has no policy header at all (only `<meta>`s, or nothing): nothing it
    /// blocks may be reported, since report-uri means nothing in a `<meta>`.
    unreported_page: bool,
    /// The page's policies (header or `<meta>`) hold `upgrade-insecure-requests`.
    upgrades: bool,
}

struct Run {
    cases: Vec<CaseOut>,
    /// Case ids whose page never reported.
    lost: Vec<String>,
    /// Pages that ran somewhere else than where they were sent (an upgrade, a redirect).
    misplaced: Vec<String>,
    reports: Vec<Violation>,
    requests: Vec<String>,
}

/// `from` → `to` in a byte string.
fn replace_bytes(s: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(from) {
            out.extend_from_slice(to.as_bytes());
            i += from.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// The `id` and `hop` query parameters of a URL, path+query or blockedURI (`hop` is absent
/// on a single URL, which is its own last hop).
fn case_hop(url: &str) -> Option<(usize, Option<usize>)> {
    let q = url.split_once('?')?.1;
    let (mut id, mut hop) = (None, None);
    let mut ours = false;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "id" => id = v.parse().ok(),
            "hop" => hop = v.parse().ok(),
            "run" => ours = *v == *run_token(),
            // A redirect's own query holds the next hop's: stop before reading it.
            "to" => break,
            _ => {}
        }
    }
    id.filter(|_| ours).map(|id| (id, hop))
}

/// The `id` query parameter of a URL, path+query or blockedURI.
fn case_id(url: &str) -> Option<usize> {
    case_hop(url).map(|(id, _)| id)
}

/// Marks this run's requests: another copy of the suite on the machine (port 80 and 443
/// are shared) may send its own `id=` requests to our listeners.
fn run_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{:x}{nanos:x}", std::process::id())
    })
}

/// Listeners on default ports of 127.0.0.1 (80, 443), for pages and targets without a
/// port. Another suite on the machine may hold them for a while: retried for 30 s. None when
/// they cannot be had (not root, or busy): the pages that need them are then skipped,
/// loudly, and with CI=true the suite fails.
async fn default_port_listeners(ports: &[u16]) -> Option<Vec<tokio::net::TcpListener>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    'again: loop {
        let mut out = Vec::new();
        for p in ports {
            match tokio::net::TcpListener::bind(("127.0.0.1", *p)).await {
                Ok(l) => out.push(l),
                Err(e) => {
                    drop(out);
                    if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue 'again;
                    }
                    assert!(
                        !ci(),
                        "cannot listen on 127.0.0.1:{p} ({e}) and CI=true: the default-port cases must run"
                    );
                    eprintln!(
                        "\n!!!!!! SKIPPED the pages on default ports: cannot listen on 127.0.0.1:{p} ({e}) !!!!!!\n"
                    );
                    return None;
                }
            }
        }
        return Some(out);
    }
}

/// The URLs a target asks for, with this case's id (and, in a chain, each hop's number and
/// the next hop in `to`, so the server redirects there): first hop first.
fn hop_urls(target: &str, id: usize) -> Vec<String> {
    if target == "blob:" || target.starts_with("data:") {
        return vec![target.to_owned()];
    }
    let hops: Vec<&str> = target.split(" -> ").collect();
    let tag = |url: &str, hop: Option<usize>| {
        let mut u = url.to_owned();
        u.push(if u.contains('?') { '&' } else { '?' });
        u.push_str(&format!("id={id}&run={}", run_token()));
        if let Some(h) = hop {
            u.push_str(&format!("&hop={h}"));
        }
        u
    };
    if hops.len() == 1 {
        return vec![tag(hops[0], None)];
    }
    let mut out: Vec<String> = hops
        .iter()
        .enumerate()
        .map(|(i, h)| tag(h, Some(i)))
        .collect();
    for i in (0..out.len() - 1).rev() {
        let next: String = url::form_urlencoded::byte_serialize(out[i + 1].as_bytes()).collect();
        out[i] = format!("{}&to={next}", out[i]);
    }
    out
}

/// A host no mixed-content rule guards: loopback names and addresses are potentially
/// trustworthy (Secure Contexts §3.2), so an https page may reach them over http.
fn loopback(url: &url::Url) -> bool {
    url.host_str()
        .is_some_and(|h| h == "localhost" || h.ends_with(".localhost") || h.starts_with("127."))
}

/// The HTML of a page's policy `<meta>`s: (in `<head>`, in `<body>`).
fn meta_html(metas: &[Meta], fill: impl Fn(&str) -> String) -> (String, String) {
    let tag = |kind: &str, content: &str| {
        let content = fill(content).replace('&', "&amp;").replace('"', "&quot;");
        format!("<meta http-equiv=\"{kind}\" content=\"{content}\">")
    };
    let (mut head, mut body) = (String::new(), String::new());
    for m in metas {
        match m {
            Meta::Head(c) => head.push_str(&tag("Content-Security-Policy", c)),
            Meta::ReportOnly(c) => head.push_str(&tag("Content-Security-Policy-Report-Only", c)),
            Meta::InBody(c) => body.push_str(&tag("Content-Security-Policy", c)),
        }
    }
    (head, body)
}

async fn run_engine(engine: Engine) -> Run {
    let tls = test_tls();
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (p1, p2) = (
        l1.local_addr().unwrap().port(),
        l2.local_addr().unwrap().port(),
    );
    // HTTP and HTTPS on both: pages on port 80 and 443, and targets such as http://h:443/.
    let defaults = default_port_listeners(&[80, 443]).await;
    let mut our_ports = vec![p1, p2];
    if defaults.is_some() {
        our_ports.extend([80, 443]);
    }
    let fill = |s: &str| {
        s.replace("{p1}", &p1.to_string())
            .replace("{p2}", &p2.to_string())
    };
    let fill_bytes = |s: &[u8]| {
        replace_bytes(
            &replace_bytes(s, "{p1}", &p1.to_string()),
            "{p2}",
            &p2.to_string(),
        )
    };

    // Every target URL gets a unique id so server hits and events can be told apart.
    struct Meta {
        policy: String,
        header: String,
        metas: Vec<String>,
        page: String,
        target: String,
        hops: Vec<String>,
        api: String,
        ro_check: bool,
        unreported_page: bool,
        upgrades: bool,
    }
    let mut case_meta: Vec<Meta> = Vec::new();
    let mut pages = Vec::new();
    let usable = |g: &Group| defaults.is_some() || !g.on_default_port();
    for g in groups().into_iter().filter(usable) {
        let origin = fill(g.page);
        let csp: Vec<Vec<u8>> = match &g.csp {
            Csp::ConnectSrc(v) => {
                vec![format!("connect-src {}; report-uri /csp-reports", fill(v)).into_bytes()]
            }
            Csp::Headers(hs) => hs.iter().map(|h| fill_bytes(h)).collect(),
        };
        let header = csp
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        let metas: Vec<String> = g
            .metas
            .iter()
            .filter_map(|m| match m {
                cases::Meta::Head(c) => Some(fill(c)),
                _ => None,
            })
            .collect();
        let mut shown = match &g.csp {
            Csp::ConnectSrc(v) => format!("connect-src {}", fill(v)),
            Csp::Headers([]) => "(no policy header)".to_owned(),
            Csp::Headers(_) => csp
                .iter()
                .map(|h| format!("[{}]", h.escape_ascii()))
                .collect::<Vec<_>>()
                .join(" + "),
        };
        for m in &g.metas {
            let (kind, c) = match m {
                cases::Meta::Head(c) => ("meta", c),
                cases::Meta::InBody(c) => ("meta in body", c),
                cases::Meta::ReportOnly(c) => ("report-only meta", c),
            };
            shown.push_str(&format!(" + {kind} [{}]", fill(c)));
        }
        if let Some(ro) = g.report_only {
            shown.push_str(&format!(" + report-only connect-src {}", fill(ro)));
        }
        let upgrades = header.contains("upgrade-insecure-requests")
            || metas
                .iter()
                .any(|m| m.contains("upgrade-insecure-requests"));
        let mut cases = Vec::new();
        for (t, api) in g.targets.iter().filter(|(_, api)| engine.has_api(api)) {
            let id = case_meta.len();
            let target = fill(t);
            let hops = hop_urls(&target, id);
            cases.push(serde_json::json!({"id": id, "target": hops[0], "api": api}));
            case_meta.push(Meta {
                policy: shown.clone(),
                header: header.clone(),
                metas: metas.clone(),
                page: format!("{origin}/run/{}", pages.len()),
                target,
                hops,
                api: (*api).to_owned(),
                ro_check: g.is_report_only_check(),
                unreported_page: csp.is_empty() && g.report_only.is_none(),
                upgrades,
            });
        }
        let (head, body) = meta_html(&g.metas, fill);
        pages.push(PageSpec {
            origin,
            csp,
            csp_ro: g
                .report_only
                // As the crate's Policy writes it: the marker tells the collector a report
                // is report-only when the browser does not say (WebKit).
                .map(|ro| {
                    format!(
                        "connect-src {}; report-uri /csp-reports?{}",
                        fill(ro),
                        connect_src::policy::REPORT_ONLY_MARKER
                    )
                }),
            head,
            body,
            cases_json: serde_json::Value::Array(cases).to_string(),
        });
    }
    let store = MemorySink::with_limits(10_000, 10_000);
    // A report whose every shown field is an XSS payload, for the dashboard check (the
    // directive must be one CSP defines, or the collector refuses the report).
    let mut evil = connect_src::report::intake::parse_reports(
        serde_json::json!({"csp-report": {
            "document-uri": format!("http://a.localhost/{XSS}"),
            "blocked-uri": format!("http://{XSS}/"),
            "effective-directive": "connect-src",
            "violated-directive": format!("connect-src {XSS}"),
            "disposition": XSS,
            "script-sample": XSS,
        }})
        .to_string()
        .as_bytes(),
        &Default::default(),
    )
    .unwrap();
    store
        .submit(std::mem::take(&mut evil.violations))
        .await
        .unwrap();
    let collector = Collector::builder().store(store.clone()).build();

    let app_state = App {
        shared: Arc::default(),
        pages: Arc::new(pages),
        bounce: format!("http://127.0.0.1:{p1}"),
    };
    let app = Router::new()
        .route("/run/{n}", get(page))
        .route("/results/{n}", post(results))
        .route("/next/{n}", get(next_page))
        .route("/hit", any(hit))
        .route("/api/{*rest}", any(hit))
        .route("/API/{*rest}", get(hit))
        .route("/api", any(hit))
        .route("/apix", get(hit))
        .route("/API", get(hit))
        .route("/{name}", any(hit))
        .route("/ws", get(ws))
        .route("/xss-control", get(xss_control))
        .route("/xss-fired/{*rest}", get(hit))
        .merge(collector.report_router().merge(collector.admin_router()))
        .layer(middleware::from_fn_with_state(app_state.clone(), record))
        .with_state(app_state.clone());
    let mut servers = vec![
        tokio::spawn(serve_dual(l1, tls.acceptor.clone(), app.clone())),
        tokio::spawn(serve_dual(l2, tls.acceptor.clone(), app.clone())),
    ];
    for l in defaults.into_iter().flatten() {
        servers.push(tokio::spawn(serve_dual(
            l,
            tls.acceptor.clone(),
            app.clone(),
        )));
    }

    let start = format!("{}/run/0", app_state.pages[0].origin);
    let child = launch(engine, &start, Some(&tls.ca_pem));
    // Bounded: a browser that hangs (WebKit without a display does) or dies fails the run,
    // on the overall deadline or when no page has reported for 30 s (a page takes seconds).
    let deadline = Instant::now() + Duration::from_secs(60 + case_meta.len() as u64);
    let (mut pages_done, mut progress) = (0, Instant::now());
    loop {
        let (done, n, keys) = {
            let s = app_state.shared.lock().unwrap();
            (
                s.done,
                s.results.len(),
                s.results.keys().copied().collect::<Vec<_>>(),
            )
        };
        if done {
            break;
        }
        if n != pages_done {
            (pages_done, progress) = (n, Instant::now());
        }
        assert!(
            Instant::now() < deadline && progress.elapsed() < Duration::from_secs(30),
            "{}: the walk stalled or did not finish in time; pages done: {keys:?} of {}",
            engine.name(),
            app_state.pages.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for late requests (hits, reports, a payload that should never fire).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(child);
    for s in &servers {
        s.abort();
    }

    let shared = app_state.shared.lock().unwrap();
    // The last hop of each case the server saw, and whether it came over TLS.
    let mut hits: HashSet<usize> = HashSet::new();
    let mut tls_hits: HashSet<usize> = HashSet::new();
    for (i, r) in shared.requests.iter().enumerate() {
        let Some((id, hop)) = case_hop(r) else {
            continue;
        };
        if case_meta
            .get(id)
            .is_some_and(|m| hop.is_none_or(|h| h + 1 == m.hops.len()))
        {
            hits.insert(id);
            if shared.over_tls.contains(&i) {
                tls_hits.insert(id);
            }
        }
    }
    let mut seen_hops: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (id, hop) in shared.requests.iter().filter_map(|r| case_hop(r)) {
        seen_hops.entry(id).or_default().push(hop.unwrap_or(0));
    }
    let mut cases = Vec::new();
    let mut seen = HashSet::new();
    let mut misplaced = Vec::new();
    for (n, json) in &shared.results {
        let got: serde_json::Value = serde_json::from_str(json).unwrap();
        let href = got["href"].as_str().unwrap_or_default();
        let sent = format!("{}/run/{n}", app_state.pages[*n].origin);
        if href != sent {
            misplaced.push(format!("  page {n}: sent to {sent}, ran on {href}"));
        }
        for r in got["results"].as_array().unwrap() {
            let id = r["id"].as_u64().unwrap() as usize;
            seen.insert(id);
            let m = &case_meta[id];
            // Only connect-src events count: a page whose policy blocks images fires img-src
            // events for the favicon (Firefox). Events for another case (late arrivals) name
            // another id.
            let mine = |e: &&serde_json::Value| {
                e["dir"] == "connect-src"
                    && case_id(e["uri"].as_str().unwrap_or("")).is_none_or(|i| i == id)
            };
            let events: Vec<&serde_json::Value> = r["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(mine)
                .collect();
            let page_url = url::Url::parse(&m.page).unwrap();
            let page_secure = page_url.scheme() == "https";
            let urls: Vec<url::Url> = m
                .hops
                .iter()
                .filter_map(|h| url::Url::parse(h).ok())
                .collect();
            let ours = urls.len() == m.hops.len()
                && urls.iter().all(|u| {
                    let insecure = matches!(u.scheme(), "http" | "ws");
                    // Not every engine upgrades every host (`Engine::upgrades`): a ws:
                    // URL Firefox leaves alone on an https page throws SecurityError
                    // (mixed content) before CSP is asked.
                    let upgraded = m.upgrades && engine.upgrades(&page_url, u, m.api == "ws");
                    // Mixed content: an https page may not reach http/ws unless the
                    // request is upgraded first or the host is loopback.
                    let mixed_ok = !page_secure || !insecure || upgraded || loopback(u);
                    matches!(u.scheme(), "http" | "https" | "ws" | "wss")
                        && u.port_or_known_default()
                            .is_some_and(|p| our_ports.contains(&p))
                        && mixed_ok
                });
            cases.push(CaseOut {
                ours,
                blocked: events.iter().any(|e| e["d"] == "enforce"),
                reported_only: events.iter().any(|e| e["d"] == "report"),
                threw: r["threw"].as_str().map(str::to_owned),
                hit: hits.contains(&id),
                hit_over_tls: tls_hits.contains(&id),
                seen_hops: seen_hops.get(&id).cloned().unwrap_or_default(),
                policy: m.policy.clone(),
                header: m.header.clone(),
                metas: m.metas.clone(),
                page: m.page.clone(),
                target: m.target.clone(),
                hops: m.hops.clone(),
                api: m.api.clone(),
                ro_check: m.ro_check,
                unreported_page: m.unreported_page,
                upgrades: m.upgrades,
            });
        }
    }
    let lost = (0..case_meta.len())
        .filter(|id| !seen.contains(id))
        .map(|id| {
            let m = &case_meta[id];
            format!("  {} on {} -> {} ({})", m.policy, m.page, m.target, m.api)
        })
        .collect();
    Run {
        cases,
        lost,
        misplaced,
        reports: store.recent(),
        requests: shared.requests.clone(),
    }
}

/// One browser at a time: two suites in parallel on 2 cores would only add timing noise.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every engine must run this many cases from the walk's pages.
const MIN_CASES: usize = 300;

/// `check()`'s verdict for this engine on a URL, given the enforced header(s) the page
/// was sent (the https pages of `run_tls`).
fn expected(engine: Engine, header: &str, page: &str, target: &str) -> bool {
    BrowserPolicy::from_header(header)
        .check(page, target)
        .unwrap_or_else(|e| panic!("{e}"))
        .get(engine.verdict_engine())
}

/// The API the page used, as the matcher names it. `<a ping>` and `fetchLater` are judged
/// as fetch (measured only without `upgrade-insecure-requests`).
fn api_of(api: &str) -> Api {
    match api {
        "ws" => Api::WebSocket,
        "xhr" => Api::Xhr,
        "eventsource" => Api::EventSource,
        "beacon" => Api::Beacon,
        _ => Api::Fetch,
    }
}

/// The connection a case made, as the matcher is asked about it: its hops (a blob URL is
/// one of the page's origin) and its API.
fn connection_of(c: &CaseOut) -> Connection {
    let origin = url::Url::parse(&c.page)
        .unwrap()
        .origin()
        .ascii_serialization();
    let mut hops = c.hops.iter().map(|h| {
        if h == "blob:" {
            format!("blob:{origin}/6f1a2b3c-0000-4000-8000-000000000000")
        } else {
            h.clone()
        }
    });
    let mut conn = Connection::new(hops.next().unwrap());
    for h in hops {
        conn = conn.redirect(h);
    }
    conn.with_api(api_of(&c.api))
}

/// `check()`'s verdict for this engine on a case: the header(s) and the `<head>` metas the
/// page was sent, the API, every hop.
fn expected_case(engine: Engine, c: &CaseOut, with_metas: bool) -> bool {
    let mut policy = BrowserPolicy::from_header(&c.header);
    if with_metas {
        for m in &c.metas {
            policy = policy.and(BrowserPolicy::from_meta(m));
        }
    }
    policy
        .check_connection(&c.page, &connection_of(c))
        .unwrap_or_else(|e| panic!("{e}"))
        .get(engine.verdict_engine())
}

fn check_engine(engine: Engine, run: &Run) {
    let name = engine.name();
    let mut mismatches = Vec::new();
    let mut contradictions = Vec::new();
    for c in &run.cases {
        let expected = expected_case(engine, c, true);
        if expected == c.blocked {
            mismatches.push(format!(
                "  {name}: {} on {} -> {} ({}): browser {}, check() says {}",
                c.policy,
                c.page,
                c.target,
                c.api,
                if c.blocked { "blocked" } else { "allowed" },
                if expected { "allowed" } else { "blocked" },
            ));
        }
        // upgrade-insecure-requests: an allowed http/ws request went out over TLS, unless
        // the engine leaves its host alone.
        if c.upgrades && c.hit {
            let last = url::Url::parse(c.hops.last().unwrap()).unwrap();
            let insecure = matches!(last.scheme(), "http" | "ws");
            let page = url::Url::parse(&c.page).unwrap();
            let want = !insecure || engine.upgrades(&page, &last, c.api == "ws");
            if c.hit_over_tls != want {
                contradictions.push(format!(
                    "  {name}: {} ({}) on {}: sent {}, expected {}",
                    c.target,
                    c.api,
                    c.page,
                    if c.hit_over_tls {
                        "over TLS"
                    } else {
                        "in clear"
                    },
                    if want { "upgraded" } else { "as written" },
                ));
            }
        }
        // The server never sees a blocked request.
        if c.blocked && c.hit {
            contradictions.push(format!(
                "  {name}: {} ({}) reported blocked but reached the server",
                c.target, c.api
            ));
        }
        // A plain http/ws request to our listeners that no event blocked reaches the server.
        if !c.blocked && c.ours && !c.hit {
            contradictions.push(format!(
                "  {name}: {} ({}) neither blocked nor seen by the server (threw {:?})",
                c.target, c.api, c.threw
            ));
        }
    }
    let total = run.cases.len();
    println!(
        "{name}: {}/{total} verdicts match",
        total - mismatches.len()
    );
    assert!(
        total >= MIN_CASES,
        "{name}: only {total} cases ran, fewer than {MIN_CASES}"
    );
    // All the lists in one message: a failing run should say everything it saw.
    let mut problems = Vec::new();
    if !run.misplaced.is_empty() {
        problems.push(format!(
            "{name}: pages that ran elsewhere than where they were sent:\n{}",
            run.misplaced.join("\n")
        ));
    }
    if !run.lost.is_empty() {
        problems.push(format!(
            "{name}: {} cases never reported (their page did not finish):\n{}",
            run.lost.len(),
            run.lost.join("\n")
        ));
    }
    if !mismatches.is_empty() {
        problems.push(format!(
            "{name}: {} verdicts differ from check():\n{}",
            mismatches.len(),
            mismatches.join("\n")
        ));
    }
    if !contradictions.is_empty() {
        problems.push(format!(
            "{name}: events and server disagree:\n{}",
            contradictions.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn check_reports(engine: Engine, run: &Run) {
    let name = engine.name();
    // report-uri: every case a header policy blocks (other than data:/blob: URLs) was
    // reported as a legacy report naming the page and one of the URLs it asked for
    // without its query string: a hop of its chain, or that hop upgraded.
    let enforce = engine.legacy_disposition(Disposition::Enforce);
    let mut missing = Vec::new();
    let mut unwanted = Vec::new();
    for c in run.cases.iter().filter(|c| c.blocked) {
        if c.unreported_page || engine.silent_page(&c.page, c.upgrades) {
            // No report at all: report-uri in a <meta> means nothing, and the engine's
            // silent pages (`Engine::silent_page`) send none.
            if run.reports.iter().any(|v| v.document_url == c.page) {
                unwanted.push(format!(
                    "  {} on {} ({}): {}",
                    c.target, c.page, c.api, c.policy
                ));
            }
            continue;
        }
        if c.target == "blob:" || c.target.starts_with("data:") || expected_case(engine, c, false) {
            continue;
        }
        let wanted: Vec<String> = c
            .hops
            .iter()
            .flat_map(|h| {
                let bare = h.split('?').next().unwrap().to_owned();
                let mut up = url::Url::parse(&bare).unwrap();
                let secure = match up.scheme() {
                    "http" => Some("https"),
                    "ws" => Some("wss"),
                    _ => None,
                };
                let mut out = vec![bare];
                // The URL setter drops a port that is the new scheme's default (443).
                if secure.is_some_and(|sc| up.set_scheme(sc).is_ok()) {
                    out.push(up.to_string());
                }
                out
            })
            .collect();
        let found = run.reports.iter().any(|v| {
            wanted.iter().any(|w| same_url(&v.blocked_url, w))
                && v.document_url == c.page
                && v.effective_directive == "connect-src"
                && v.disposition == enforce
        });
        if !found {
            missing.push(format!("  {} on {} ({})", c.target, c.page, c.api));
        }
    }
    assert!(
        unwanted.is_empty(),
        "{name}: reports from pages that send none (only <meta> policies, or the engine's \
         silent pages):\n{}",
        unwanted.join("\n")
    );
    let legacy = run
        .reports
        .iter()
        .filter(|v| v.format == connect_src::report::store::ReportFormat::Legacy)
        .count();
    println!(
        "{name}: {} report-uri reports received, {} blocked cases not reported",
        legacy,
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{name}: blocked connections without a report:\n{}",
        missing.join("\n")
    );
    assert!(
        run.reports.iter().all(|v| !v.blocked_url.contains("id=")),
        "query strings are stripped"
    );

    // Enforced + report-only: same-origin allowed but reported; other origin blocked.
    let ro: Vec<&CaseOut> = run.cases.iter().filter(|c| c.ro_check).collect();
    assert_eq!(ro.len(), 2);
    assert!(
        !ro[0].blocked && ro[0].reported_only && ro[0].hit,
        "{name}: report-only must report, not block"
    );
    assert!(
        ro[1].blocked && ro[1].reported_only && !ro[1].hit,
        "{name}: the enforced list still blocks"
    );
    assert!(
        run.reports.iter().any(
            |v| v.disposition == engine.legacy_disposition(Disposition::Report)
                && v.document_url == ro[0].page
        ),
        "{name}: the report-only violation reached the collector with disposition {}",
        engine.legacy_disposition(Disposition::Report).as_str()
    );

    // The dashboard: the control page ran the payload, the dashboard did not.
    let fired: Vec<&String> = run
        .requests
        .iter()
        .filter(|r| r.starts_with("/xss-fired"))
        .collect();
    assert!(
        fired.iter().any(|r| r.contains("/xss-control")),
        "{name}: the control payload did not fire: the check proves nothing"
    );
    assert!(
        !fired.iter().any(|r| r.contains("dashboard")),
        "{name}: script ran in the dashboard: {fired:?}"
    );
    assert!(
        run.requests.iter().any(|r| r == "/csp-reports/dashboard"),
        "{name}: dashboard not loaded"
    );
    println!("{name}: dashboard rendered the hostile report as text (control payload fired, dashboard's did not)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_browsers_agree_with_check() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let mut failures = Vec::new();
    for engine in Engine::ALL {
        if !browser_available(engine) {
            continue;
        }
        let started = Instant::now();
        let run = run_engine(engine).await;
        println!(
            "{}: walked {} cases in {:.0?}",
            engine.name(),
            run.cases.len(),
            started.elapsed()
        );
        let observed: Vec<serde_json::Value> = run
            .cases
            .iter()
            .map(|c| serde_json::json!({"policy": c.policy, "page": c.page, "target": c.target, "hops": c.hops, "api": c.api, "engine": engine.name(), "allowed": !c.blocked, "hit": c.hit, "over_tls": c.hit_over_tls, "seen_hops": c.seen_hops, "threw": c.threw, "check": expected_case(engine, c, true)}))
            .collect();
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-observed-{}.json", engine.name()));
        std::fs::write(&out, serde_json::to_string_pretty(&observed).unwrap()).unwrap();
        // What arrived at report-uri, for reading what each engine names after a redirect
        // or an upgrade.
        let reports: Vec<serde_json::Value> = run
            .reports
            .iter()
            .map(|v| serde_json::json!({"document": v.document_url, "blocked": v.blocked_url, "disposition": v.disposition.as_str(), "format": format!("{:?}", v.format)}))
            .collect();
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-reports-{}.json", engine.name()));
        std::fs::write(&out, serde_json::to_string_pretty(&reports).unwrap()).unwrap();
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-requests-{}.json", engine.name()));
        std::fs::write(&out, serde_json::to_string_pretty(&run.requests).unwrap()).unwrap();
        for f in [check_engine, check_reports] {
            if let Err(e) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(engine, &run)))
            {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                failures.push(msg.unwrap_or_default());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---- HTTPS: report-to, and the cases only an https page can show ------------------------------

struct Tls {
    /// PEM of the test CA, for the Firefox profile.
    ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

/// A CA and a leaf for the loopback names, made at test time.
fn test_tls() -> Tls {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use tokio_rustls::rustls;
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "connect-src test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = [
        "localhost",
        "a.localhost",
        "b.localhost",
        "c.localhost",
        "d.localhost",
        "uir.test",
        "c.uir.test",
        "127.0.0.1",
    ]
    .map(String::from)
    .to_vec();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Tls {
        ca_pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

/// One case per page; the result travels in the next page's URL (navigation is not governed
/// by connect-src, so even a page that blocks its own origin can report).
const TLS_PAGE_SCRIPT: &str = r#"
const events = [];
document.addEventListener('securitypolicyviolation', (e) => {
  if (e.effectiveDirective === 'connect-src') events.push(String(e.disposition));
});
(async () => {
  try {
    if (TARGET.startsWith('ws')) { const w = new WebSocket(TARGET); w.onerror = () => {}; }
    else { fetch(TARGET).catch(() => {}); }
  } catch (_) {}
  await new Promise((r) => setTimeout(r, 500));
  location.href = NEXT + '?prev=' + ID + '&blocked=' + events.includes('enforce');
})();
"#;

/// The same URL, written with or without its scheme's default port: WebKit's report-to
/// reports name `https://h:443/x` for a request to `https://h/x`.
fn same_url(reported: &str, target: &str) -> bool {
    match (url::Url::parse(reported), url::Url::parse(target)) {
        (Ok(a), Ok(b)) => a == b,
        _ => reported == target,
    }
}

/// report-to over HTTPS: the crate's own layer sets `Reporting-Endpoints`; blocked
/// connections arrive as Reporting API reports and normalize like report-uri ones. The same
/// pages check the verdicts only an https page can show.
async fn run_tls(engine: Engine) -> Result<String, String> {
    let name = engine.name();
    let tls = test_tls();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // An https page on port 443 too, for 'self' and port-less sources on the default port
    // (#7, #8, #69–74 of docs/engine-probe/FINDINGS.md).
    let l443 = default_port_listeners(&[443]).await;
    // (page origin, policy, target): every target https/wss, so mixed-content rules never
    // interfere.
    let mut templates = vec![
        ("'self'", "wss://a.localhost:{p}/ws"),
        ("'self'", "https://a.localhost:{p}/hit"),
        ("'self'", "https://c.localhost:{p}/hit"),
        ("'self'", "wss://c.localhost:{p}/ws"),
        ("*", "wss://c.localhost:{p}/ws"),
        ("*", "https://c.localhost:{p}/hit"),
        ("https:", "wss://c.localhost:{p}/ws"),
        ("https://c.localhost:{p}", "wss://c.localhost:{p}/ws"),
        ("wss://c.localhost:{p}", "wss://c.localhost:{p}/ws"),
        ("wss://c.localhost:{p}", "https://c.localhost:{p}/hit"),
        ("c.localhost:{p}", "https://c.localhost:{p}/hit"),
        ("c.localhost:{p}", "wss://c.localhost:{p}/ws"),
        ("'self'", "https://a.localhost/hit"),
        ("wss:", "wss://c.localhost:{p}/ws"),
        ("ws:", "wss://c.localhost:{p}/ws"),
        ("ws://c.localhost:{p}", "wss://c.localhost:{p}/ws"),
        ("https://c.localhost:{p}", "https://c.localhost:{p}/hit"),
    ]
    .into_iter()
    .map(|(p, t)| ("https://a.localhost:{p}", p, t))
    .collect::<Vec<_>>();
    if l443.is_some() {
        const A443: &str = "https://a.localhost";
        templates.extend([
            (A443, "'self'", "https://a.localhost/hit"),
            (A443, "'self'", "wss://a.localhost/ws"),
            (A443, "'self'", "https://a.localhost:80/hit"),
            (A443, "'self'", "https://a.localhost:{p}/hit"),
            (A443, "'self'", "wss://a.localhost:{p}/ws"),
            (A443, "'self'", "https://c.localhost/hit"),
            (A443, "*", "wss://a.localhost/ws"),
            (A443, "*", "wss://c.localhost/ws"),
            (A443, "https://a.localhost", "wss://a.localhost/ws"),
            (A443, "https://a.localhost", "https://a.localhost/hit"),
            (A443, "https://c.localhost:443", "https://c.localhost/hit"),
            (A443, "wss://c.localhost", "wss://c.localhost/ws"),
            (A443, "c.localhost", "https://c.localhost/hit"),
            (A443, "c.localhost", "wss://c.localhost/ws"),
        ]);
    }
    let fill = |s: &str| s.replace("{p}", &port.to_string());
    let cases: Vec<(String, String, String)> = templates
        .iter()
        .map(|(o, p, t)| (fill(o), fill(p), fill(t)))
        .collect();

    let store = MemorySink::new();
    // Every page's layer records its policy here; the collector classes reports against it.
    let served = connect_src::policy::ServedPolicies::default();
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(served.clone())
        .build();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut app = Router::new()
        .route("/hit", any(hit))
        .route("/ws", get(ws))
        .route("/tls-done", get(|| async { "done" }))
        .merge(collector.report_router());
    for (i, (origin, policy, target)) in cases.iter().enumerate() {
        let policy = connect_src::Policy::builder()
            .enforce(connect_src::ConnectSrc::builder().source(policy.as_str()))
            .report_uri("/csp-reports")
            .report_to("csp", format!("{origin}/csp-reports"))
            .environment(connect_src::Environment::Development)
            .build()
            .unwrap();
        let next = match cases.get(i + 1) {
            Some((o, _, _)) => format!("{o}/tls/{}", i + 1),
            None => format!("{origin}/tls-done"),
        };
        let html = format!(
            "<!doctype html><meta charset=utf-8><script>const TARGET = {:?}; const NEXT = {next:?}; const ID = {i};\n{TLS_PAGE_SCRIPT}</script>",
            format!("{target}?id=tls{i}")
        );
        app = app.route(
            &format!("/tls/{i}"),
            get(move || async move { Html(html) })
                .layer(policy.layer().with_served_policies(served.clone())),
        );
    }
    let log = requests.clone();
    let app = app.layer(middleware::from_fn(move |req: Request, next: Next| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(req.uri().to_string());
            next.run(req).await
        }
    }));
    let mut servers = vec![tokio::spawn(serve_dual(
        listener,
        tls.acceptor.clone(),
        app.clone(),
    ))];
    for l in l443.into_iter().flatten() {
        servers.push(tokio::spawn(serve_dual(
            l,
            tls.acceptor.clone(),
            app.clone(),
        )));
    }

    let child = launch(engine, &format!("{}/tls/0", cases[0].0), Some(&tls.ca_pem));

    // Results: "/tls/N?prev=I&blocked=B" (or /tls-done?...) in the request log.
    let results = |log: &[String]| -> BTreeMap<usize, bool> {
        log.iter()
            .filter_map(|r| {
                let q = r.split_once("?prev=")?.1;
                let (i, b) = q.split_once("&blocked=")?;
                Some((i.parse().ok()?, b == "true"))
            })
            .collect()
    };
    let format = engine.report_to_format();
    let is_report_to = |f: connect_src::report::store::ReportFormat| {
        f != connect_src::report::store::ReportFormat::Legacy
    };
    // Wait for the walk, then for the Reporting API's delivery (batched by the browser).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = results(&requests.lock().unwrap());
        let blocked = got.values().filter(|b| **b).count();
        let reported = store.recent().iter().filter(|v| v.format == format).count();
        if (got.len() == cases.len() && reported >= blocked) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(child);
    for s in &servers {
        s.abort();
    }

    let got = results(&requests.lock().unwrap());
    let reports = store.recent();
    let mut problems = Vec::new();
    for (i, (origin, policy, target)) in cases.iter().enumerate() {
        let page = format!("{origin}/tls/{i}");
        let Some(&blocked) = got.get(&i) else {
            problems.push(format!(
                "  {name}: page {i} ({policy} -> {target}) did not report"
            ));
            continue;
        };
        let expected = expected(engine, &format!("connect-src {policy}"), &page, target);
        if expected == blocked {
            problems.push(format!(
                "  {name}: connect-src {policy} on {page} -> {target}: browser {}, check() says {}",
                if blocked { "blocked" } else { "allowed" },
                if expected { "allowed" } else { "blocked" }
            ));
        }
        if blocked {
            let found = reports.iter().any(|r| {
                r.format == format
                    && same_url(&r.blocked_url, target)
                    && r.document_url == page
                    && r.effective_directive == "connect-src"
                    && r.disposition == Disposition::Enforce
                    // Checked against the policies the layers served: the real thing.
                    && r.class == connect_src::report::store::Class::Genuine
            });
            if !found {
                problems.push(format!(
                    "  {name}: no genuine report-to report ({}) for {target} from {page}: {:?}",
                    format.as_str(),
                    reports
                        .iter()
                        .filter(|r| same_url(&r.blocked_url, target))
                        .map(|r| (r.class, r.original_policy.clone()))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    let api = reports.iter().filter(|v| is_report_to(v.format)).count();
    let legacy = reports.len() - api;
    // With both report-uri and report-to, a browser that supports report-to sends only it
    // (CSP3 §5.5); the README tells users to keep report-uri for older browsers.
    if legacy != 0 {
        problems.push(format!(
            "  {name}: {legacy} report-uri reports next to report-to"
        ));
    }
    if !problems.is_empty() {
        let posts = requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with("/csp-reports"))
            .count();
        problems.push(format!(
            "  {name}: {posts} requests to /csp-reports; reports stored: {}",
            reports
                .iter()
                .map(|r| format!("{:?} {} {:?}", r.format, r.blocked_url, r.disposition))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if problems.is_empty() {
        Ok(format!(
            "{name} (https): {}/{} verdicts match; {api} report-to reports, {legacy} report-uri reports",
            cases.len(),
            cases.len()
        ))
    } else {
        Err(problems.join("\n"))
    }
}

/// Runs `run` in every installed engine, one browser at a time, and fails with every
/// engine's problems.
async fn each_engine<F: std::future::Future<Output = Result<String, String>>>(
    run: impl Fn(Engine) -> F,
) {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let mut failures = Vec::new();
    for engine in Engine::ALL {
        if !browser_available(engine) {
            continue;
        }
        match run(engine).await {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_to_over_https_and_https_pages() {
    each_engine(run_tls).await;
}
