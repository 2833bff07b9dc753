//! Connection-Allowlist in real browsers. Chromium opens each page in a popup (a top-level
//! document, the way the header was measured: docs/engine-probe/connection-allowlist/
//! FINDINGS.md); the page makes its connections one after another and tells its opener
//! with `postMessage`, which is not a connection, so no allowlist can block the walk. A
//! connection went through when the server saw its tagged request (the last hop's, for a
//! redirect chain): Chromium fires no `securitypolicyviolation` for the allowlist.
//!
//! - The grid: allowlists × connections (every API, `response-origin`, host wildcards,
//!   ports, paths, ws/wss, redirects, an image, a navigation, a malformed header, two header
//!   lines), each verdict held to `BrowserPolicy::with_connection_allowlist`'s Chromium column.
//! - The property: on https pages, each connect-src policy of the main suite (`cases.rs`)
//!   alone, and with the allowlist the crate emits for it, gives the same verdict for every
//!   connection both govern.
//! - Firefox and WebKit (in an iframe of the controller: their popup blockers) let every
//!   connection through under `()`, `(response-origin)` and a malformed value.
//! - The report-only twin: a `connection-allowlist` report from Chromium reaches the
//!   collector through the crate's own layer and comes out `genuine`.

use super::*;
use connect_src::matcher::AllowlistPolicy;
use connect_src::policy::{ConnectionAllowlist, Translation};

/// One connection a page attempts.
struct AlCase {
    id: usize,
    /// fetch, xhr, eventsource, beacon, websocket, img or navigate.
    api: &'static str,
    /// The URLs, first hop first, tagged (`hop_urls`).
    urls: Vec<String>,
}

/// What a page is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Held to `check`.
    Grid,
    /// The suite's policy `n` alone.
    Alone(usize),
    /// The suite's policy `n` with the emitted allowlist.
    With(usize),
    /// Firefox and WebKit: everything goes through.
    Ignored,
}

struct AlPage {
    url: String,
    csp: Option<String>,
    /// `Connection-Allowlist` header lines.
    allowlist: Vec<String>,
    kind: Kind,
    cases: Vec<AlCase>,
}

impl AlPage {
    /// The value Chromium reads: its lines joined with ", ".
    fn joined(&self) -> String {
        self.allowlist.join(", ")
    }
}

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    pages: usize,
    done: bool,
}

#[derive(Clone)]
struct AlApp {
    seen: Arc<Mutex<Seen>>,
    pages: Arc<Vec<AlPage>>,
}

const CTL_SCRIPT: &str = r#"
let i = 0, w = null, timer = null;
const frame = document.getElementById('f');
function next() {
  clearTimeout(timer);
  if (w) { try { w.close(); } catch (_) {} w = null; }
  if (i >= PAGES.length) { fetch('/al-done'); return; }
  const n = i;
  timer = setTimeout(() => advance(n, 'timeout'), 20000);
  if (POPUP) { w = window.open(PAGES[n], 'al' + n); } else { frame.src = PAGES[n]; }
}
async function advance(n, how) {
  if (n !== i) return;
  i += 1;
  try { await fetch('/al-result/' + n + '?how=' + how, { method: 'POST' }); } catch (_) {}
  next();
}
window.addEventListener('message', (e) => { if (e.data && typeof e.data.page === 'number') advance(e.data.page, 'done'); });
next();
"#;

const PAGE_SCRIPT_AL: &str = r#"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bounded = (p) => Promise.race([p, sleep(1500)]);
async function attempt(c) {
  switch (c.api) {
    case 'fetch': await bounded(fetch(c.url).catch(() => {})); break;
    case 'xhr': await bounded(new Promise((r) => { const x = new XMLHttpRequest(); x.open('GET', c.url); x.onloadend = r; x.send(); })); break;
    case 'eventsource': { const s = new EventSource(c.url); await bounded(new Promise((r) => { s.onopen = r; s.onerror = r; })); s.close(); break; }
    case 'beacon': navigator.sendBeacon(c.url, 'x'); await sleep(300); break;
    case 'websocket': { const s = new WebSocket(c.url); await bounded(new Promise((r) => { s.onopen = r; s.onerror = r; })); try { s.close(); } catch (_) {} break; }
    case 'img': await bounded(new Promise((r) => { const m = new Image(); m.onload = r; m.onerror = r; m.src = c.url; })); break;
    case 'navigate': { const v = window.open(c.url, '_blank'); await sleep(800); try { v && v.close(); } catch (_) {} break; }
  }
}
(async () => {
  for (const c of CASES) { try { await attempt(c); } catch (_) {} }
  await sleep(200);
  (window.opener || window.parent).postMessage({ page: PAGE }, '*');
})();
"#;

async fn al_record(State(app): State<AlApp>, req: Request, next: Next) -> Response {
    let pq = req
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.to_string());
    {
        let mut s = app.seen.lock().unwrap();
        if pq.starts_with("/al-done") {
            s.done = true;
        }
        if pq.starts_with("/al-result/") {
            s.pages += 1;
        }
        s.requests.push(pq.clone());
    }
    match redirect(&pq) {
        Some(r) => r,
        None => next.run(req).await,
    }
}

async fn al_page(State(app): State<AlApp>, Path(n): Path<usize>) -> Response {
    let Some(p) = app.pages.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cases: Vec<String> = p
        .cases
        .iter()
        .map(|c| format!("{{\"api\":{:?},\"url\":{:?}}}", c.api, c.urls[0]))
        .collect();
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>al {n}</title><script>const PAGE = {n}; const CASES = [{}];\n{PAGE_SCRIPT_AL}</script>",
        cases.join(",")
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    if let Some(csp) = &p.csp {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_str(csp).unwrap());
    }
    for line in &p.allowlist {
        h.append("connection-allowlist", HeaderValue::from_str(line).unwrap());
    }
    r
}

async fn al_ctl(State(app): State<AlApp>, Path(popup): Path<u8>) -> Html<String> {
    let pages: Vec<String> = app.pages.iter().map(|p| format!("{:?}", p.url)).collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><iframe id=f></iframe><script>const PAGES = [{}]; const POPUP = {};\n{CTL_SCRIPT}</script>",
        pages.join(","),
        popup == 1
    ))
}

/// Every request seen counts as its case's hop.
fn went_through(requests: &[String], case: &AlCase) -> bool {
    let last = (case.urls.len() > 1).then(|| case.urls.len() - 1);
    requests
        .iter()
        .any(|r| case_hop(r) == Some((case.id, last)))
}

const GRID_ALLOWLISTS: &[&[&str]] = &[
    &["(response-origin)"],
    &["(\"http://b.localhost:{p1}\")"],
    &["(response-origin \"http://b.localhost:{p1}\");redirects=allow"],
    &["(\"http://*.localhost:{p1}\")"],
    &["(\"http://b.localhost:*\")"],
    &["(\"http://b.localhost:{p1}/api/*\")"],
    &["(\"http://b.localhost:{p1}/api\");redirects=allow"],
    &["()"],
    // Malformed: fails closed.
    &["(response-origin"],
    // Items Chromium drops: a scheme-less pattern, a token, an integer.
    &["(response-origin \"b.localhost:{p1}\" tok 1)"],
    // A ws: pattern matches nothing (WebSockets are matched as http).
    &["(\"ws://b.localhost:{p1}\")"],
    &["(\"http{s}?://b.localhost:{p1}\");redirects=follow"],
    // Two lines: only the first counts.
    &["(response-origin)", "(\"http://b.localhost:{p1}\")"],
    &["(response-origin \"https://b.localhost:{p1}\");redirects=block"],
];

const GRID_TARGETS: &[(&str, &str)] = &[
    ("fetch", "http://a.localhost:{p1}/x"),
    ("fetch", "http://a.localhost:{p2}/x"),
    ("fetch", "http://b.localhost:{p1}/x"),
    ("fetch", "http://c.localhost:{p1}/x"),
    ("fetch", "http://localhost:{p1}/x"),
    ("fetch", "http://b.localhost:{p2}/x"),
    ("fetch", "https://b.localhost:{p1}/x"),
    ("fetch", "http://b.localhost:{p1}/api/v1"),
    ("fetch", "http://b.localhost:{p1}/api"),
    ("xhr", "http://b.localhost:{p1}/x"),
    ("eventsource", "http://b.localhost:{p1}/x"),
    ("beacon", "http://b.localhost:{p1}/x"),
    ("websocket", "ws://b.localhost:{p1}/ws"),
    ("websocket", "ws://a.localhost:{p1}/ws"),
    ("websocket", "wss://b.localhost:{p1}/ws"),
    (
        "fetch",
        "http://b.localhost:{p1}/r -> http://b.localhost:{p1}/x2",
    ),
    (
        "fetch",
        "http://b.localhost:{p1}/api/r -> http://c.localhost:{p1}/x2",
    ),
    ("img", "http://b.localhost:{p1}/i"),
    ("navigate", "http://b.localhost:{p1}/n"),
];

fn api_of_name(api: &str) -> Option<Api> {
    Some(match api {
        "fetch" => Api::Fetch,
        "xhr" => Api::Xhr,
        "eventsource" => Api::EventSource,
        "beacon" => Api::Beacon,
        "websocket" => Api::WebSocket,
        _ => return None,
    })
}

/// What `check` says Chromium does with `case` on `page`.
fn al_expected(page: &AlPage, case: &AlCase) -> bool {
    let page_url = url::Url::parse(&page.url).unwrap();
    let joined = page.joined();
    match api_of_name(case.api) {
        Some(api) => {
            let text = case.urls.join(" -> ");
            let conn: Connection = text.parse().unwrap();
            let p = BrowserPolicy::from_header(page.csp.as_deref().unwrap_or(""));
            let p = if page.allowlist.is_empty() {
                p
            } else {
                p.with_connection_allowlist(&joined)
            };
            p.check_connection(&page.url, &conn.with_api(api))
                .unwrap()
                .get(connect_src::matcher::Engine::Chromium)
        }
        // An image or a navigation: only the allowlist governs them here.
        None => {
            let url = url::Url::parse(&case.urls[0]).unwrap();
            AllowlistPolicy::parse(&joined).allows(&page_url, &[url])
        }
    }
}

/// A suite policy: its connect-src value, the page origin, and its (API, target) pairs.
type SuitePolicy = (String, String, Vec<(&'static str, String)>);

/// The main suite's connect-src policies (on pages with a port of their own), each with
/// its connect-API targets, as (value, page origin, targets): ports filled in, pages moved
/// to https (where `response-origin` is what `'self'` is: FINDINGS.md section 5).
fn suite_policies(fill: &dyn Fn(&str) -> String) -> Vec<SuitePolicy> {
    let mut out: Vec<SuitePolicy> = Vec::new();
    for g in groups() {
        let Csp::ConnectSrc(value) = g.csp else {
            continue;
        };
        if !g.page.contains("{p1}") || !g.metas.is_empty() {
            continue;
        }
        let value = fill(value);
        if out.iter().any(|(v, _, _)| *v == value) {
            continue;
        }
        let Ok(list) = value.parse::<connect_src::ConnectSrc>() else {
            continue;
        };
        if !Translation::of(&list).untranslated().is_empty() {
            continue;
        }
        let targets: Vec<(&'static str, String)> = g
            .targets
            .iter()
            .filter(|(t, _)| t.contains("{p1}") || t.contains("{p2}"))
            .filter_map(|(t, api)| {
                let api = match *api {
                    "ws" => "websocket",
                    "fetch" => "fetch",
                    "xhr" => "xhr",
                    "eventsource" => "eventsource",
                    "beacon" => "beacon",
                    _ => return None,
                };
                Some((api, fill(t)))
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let page = fill(g.page).replacen("http://", "https://", 1);
        out.push((value, page, targets));
    }
    out
}

async fn run_allowlist(engine: Engine) -> Result<String, String> {
    let name = engine.name();
    let tls = test_tls();
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (p1, p2) = (
        l1.local_addr().unwrap().port(),
        l2.local_addr().unwrap().port(),
    );
    let fill = |s: &str| {
        s.replace("{p1}", &p1.to_string())
            .replace("{p2}", &p2.to_string())
    };
    let mut id = 0;
    let mut case = |api: &'static str, target: &str| {
        id += 1;
        AlCase {
            id,
            api,
            urls: hop_urls(&fill(target), id),
        }
    };
    let mut pages = Vec::new();
    let page_url = |n: usize, origin: &str| format!("{origin}/al/{n}");
    if engine == Engine::Chromium {
        for lines in GRID_ALLOWLISTS {
            let cases = GRID_TARGETS.iter().map(|(a, t)| case(a, t)).collect();
            pages.push(AlPage {
                url: page_url(pages.len(), &fill("http://a.localhost:{p1}")),
                csp: None,
                allowlist: lines.iter().map(|l| fill(l)).collect(),
                kind: Kind::Grid,
                cases,
            });
        }
        for (i, (value, origin, targets)) in suite_policies(&fill).into_iter().enumerate() {
            let list: connect_src::ConnectSrc = value.parse().unwrap();
            let Some(emitted) = Translation::of(&list).header_value(true, None) else {
                panic!("no allowlist for {value}: {:?}", Translation::of(&list));
            };
            for kind in [Kind::Alone(i), Kind::With(i)] {
                let cases = targets.iter().map(|(a, t)| case(a, t)).collect();
                pages.push(AlPage {
                    url: page_url(pages.len(), &origin),
                    csp: Some(format!("connect-src {value}")),
                    allowlist: if kind == Kind::With(i) {
                        vec![emitted.clone()]
                    } else {
                        Vec::new()
                    },
                    kind,
                    cases,
                });
            }
        }
    } else {
        for line in ["()", "(response-origin)", "(response-origin"] {
            let cases = [
                ("fetch", "http://a.localhost:{p1}/x"),
                ("fetch", "http://b.localhost:{p1}/x"),
                ("websocket", "ws://b.localhost:{p1}/ws"),
                ("img", "http://b.localhost:{p1}/i"),
            ]
            .iter()
            .map(|(a, t)| case(a, t))
            .collect();
            pages.push(AlPage {
                url: page_url(pages.len(), &fill("http://a.localhost:{p1}")),
                csp: None,
                allowlist: vec![line.to_owned()],
                kind: Kind::Ignored,
                cases,
            });
        }
    }
    let app = AlApp {
        seen: Arc::default(),
        pages: Arc::new(pages),
    };
    let router = Router::new()
        .route("/al/{n}", get(al_page))
        .route("/al-ctl/{popup}", get(al_ctl))
        .route("/ws", get(ws))
        .fallback(any(hit))
        .layer(middleware::from_fn_with_state(app.clone(), al_record))
        .with_state(app.clone());
    let servers = [
        tokio::spawn(serve_dual(l1, tls.acceptor.clone(), router.clone())),
        tokio::spawn(serve_dual(l2, tls.acceptor.clone(), router)),
    ];
    let popup = u8::from(engine == Engine::Chromium);
    let child = launch(
        engine,
        &format!("http://localhost:{p1}/al-ctl/{popup}"),
        Some(&tls.ca_pem),
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while !app.seen.lock().unwrap().done && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stragglers (a beacon) settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(child);
    for s in &servers {
        s.abort();
    }
    let seen = app.seen.lock().unwrap();
    let mut problems = Vec::new();
    if !seen.done {
        problems.push(format!(
            "  {name}: the walk did not finish: {} of {} pages",
            seen.pages,
            app.pages.len()
        ));
    }
    let timeouts = seen
        .requests
        .iter()
        .filter(|r| r.starts_with("/al-result/") && r.ends_with("how=timeout"))
        .count();
    if timeouts > 0 {
        problems.push(format!("  {name}: {timeouts} pages never answered"));
    }
    let (mut grid, mut blocked, mut pairs, mut pair_blocked) = (0, 0, 0, 0);
    let mut alone: BTreeMap<(usize, usize), bool> = BTreeMap::new();
    for page in app.pages.iter() {
        for (k, c) in page.cases.iter().enumerate() {
            let got = went_through(&seen.requests, c);
            match page.kind {
                Kind::Grid | Kind::Ignored => {
                    let want = if page.kind == Kind::Ignored {
                        true
                    } else {
                        al_expected(page, c)
                    };
                    grid += 1;
                    blocked += usize::from(!got);
                    if got != want {
                        problems.push(format!(
                            "  {name}: {} {} on {} under Connection-Allowlist: {}: browser {}, check() says {}",
                            c.api,
                            c.urls.join(" -> "),
                            page.url,
                            page.joined(),
                            if got { "allowed" } else { "blocked" },
                            if want { "allowed" } else { "blocked" },
                        ));
                    }
                }
                Kind::Alone(i) => {
                    alone.insert((i, k), got);
                }
                Kind::With(i) => {
                    pairs += 1;
                    pair_blocked += usize::from(!got);
                    let Some(&without) = alone.get(&(i, k)) else {
                        continue;
                    };
                    if got != without {
                        problems.push(format!(
                            "  {name}: {} {} on {} ({}): connect-src alone {}, with the emitted allowlist {} {}",
                            c.api,
                            c.urls.join(" -> "),
                            page.url,
                            page.csp.as_deref().unwrap_or(""),
                            if without { "allowed" } else { "blocked" },
                            page.joined(),
                            if got { "allowed" } else { "blocked" },
                        ));
                    }
                }
            }
        }
    }
    // Not vacuous: the grid blocks and allows, and the suite's policies do both too.
    if engine == Engine::Chromium {
        if blocked == 0 || blocked == grid || pair_blocked == 0 || pair_blocked == pairs {
            problems.push(format!(
                "  {name}: a one-sided walk: grid {blocked}/{grid} blocked, property {pair_blocked}/{pairs} blocked"
            ));
        }
        if grid < 100 {
            problems.push(format!("  {name}: only {grid} grid cases"));
        }
    } else if blocked != 0 {
        // Reported above case by case; the totals say it again.
        problems.push(format!("  {name}: {blocked} of {grid} connections blocked"));
    }
    if problems.is_empty() {
        Ok(format!(
            "{name}: Connection-Allowlist: {grid} cases agree with check ({blocked} blocked); {pairs} connections give the same verdict with and without the emitted allowlist ({pair_blocked} blocked)"
        ))
    } else {
        Err(problems.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_allowlist_in_real_browsers() {
    each_engine(run_allowlist).await;
}

/// The report-only twin, through the crate's own layer and collector: a connection the
/// connect-src list (report-only here, so nothing is blocked) and the allowlist leave out is
/// made, the page stays working, and Chromium's `connection-allowlist` report arrives,
/// filed under its own directive and classed `genuine` against the allowlist served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_allowlist_reports_from_chromium_are_genuine() {
    if !browser_available(Engine::Chromium) {
        return;
    }
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let tls = test_tls();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let origin = format!("https://a.localhost:{port}");
    let target = format!("https://c.localhost:{port}/hit?id=al-report");
    let store = MemorySink::new();
    let served = connect_src::policy::ServedPolicies::default();
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(served.clone())
        .build();
    let policy = connect_src::Policy::builder()
        .report_only(connect_src::ConnectSrc::builder().self_origin())
        .report_uri("/csp-reports")
        .report_to("csp", format!("{origin}/csp-reports"))
        .connection_allowlist(ConnectionAllowlist::report_only())
        .environment(connect_src::Environment::Development)
        .build()
        .unwrap();
    let html = format!(
        "<!doctype html><meta charset=utf-8><script>fetch({target:?}).then(() => fetch('/al-report-done?ok=1'), () => fetch('/al-report-done?ok=0'));</script>"
    );
    // The page in a popup of a controller page, as measured: Chromium 156 sent no
    // connection-allowlist report for a page opened as the command line's URL (its CSP
    // reports came), here or on port 443 with mapped names.
    let ctl = format!(
        "<!doctype html><script>window.open({:?});</script>",
        format!("{origin}/page")
    );
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = requests.clone();
    let app = Router::new()
        .route(
            "/page",
            get(move || async move { Html(html) })
                .layer(policy.layer().with_served_policies(served.clone())),
        )
        .route("/hit", any(hit))
        .route("/ctl", get(move || async move { Html(ctl) }))
        .merge(collector.report_router())
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(req.uri().to_string());
                next.run(req).await
            }
        }));
    let server = tokio::spawn(serve_dual(listener, tls.acceptor.clone(), app));
    let child = launch(
        Engine::Chromium,
        &format!("http://localhost:{port}/ctl"),
        Some(&tls.ca_pem),
    );
    let found = |store: &MemorySink| {
        store.recent().into_iter().find(|v| {
            // The collector keeps no query string (NormalizeOptions::strip_query).
            v.effective_directive == "connection-allowlist"
                && same_url(&v.blocked_url, &format!("https://c.localhost:{port}/hit"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while found(&store).is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(child);
    server.abort();
    let log = requests.lock().unwrap().clone();
    assert!(
        log.iter().any(|r| r.contains("/al-report-done?ok=1")),
        "the report-only allowlist must not block the fetch: {log:?}"
    );
    let report = found(&store).unwrap_or_else(|| {
        panic!(
            "no connection-allowlist report for {target}; stored: {:?}; requests: {log:?}",
            store
                .recent()
                .iter()
                .map(|v| (v.effective_directive.clone(), v.blocked_url.clone()))
                .collect::<Vec<_>>()
        )
    });
    assert_eq!(report.document_url, format!("{origin}/page"));
    assert_eq!(report.disposition, Disposition::Report);
    assert_eq!(report.class, connect_src::report::store::Class::Genuine);
    println!(
        "chromium: a connection-allowlist report for {} arrived, class {}",
        report.blocked_url, report.class
    );
}

/// Which pages the allowlist rollout's browsers load: 0 home (a fetch to the API host), 1
/// checkout (also an image from the docs host, which connect-src does not govern and the
/// allowlist does).
static ROLLOUT_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

async fn rollout_state(
    store: &MemorySink,
    what: &str,
    within: Duration,
    done: impl Fn(&connect_src::report::store::Rollout) -> bool,
) -> connect_src::report::store::Rollout {
    use connect_src::report::store::ReportStore;
    let deadline = Instant::now() + within;
    loop {
        let r = store.rollout().await.unwrap().unwrap();
        if done(&r) {
            return r;
        }
        if Instant::now() >= deadline {
            let gate = connect_src::learn::Gate::default()
                .min_page_loads(r.min_page_loads)
                .min_reach(r.min_reach);
            let ready = connect_src::report::promote::allowlist_readiness_in(
                store,
                &AllowlistPolicy::parse(&r.candidate),
                &gate,
                r.stage_since(),
                std::time::SystemTime::now(),
            )
            .await;
            let seen: Vec<String> = store
                .recent()
                .iter()
                .take(30)
                .map(|v| {
                    format!(
                        "{} {} {:?} {} {:?}",
                        v.effective_directive, v.blocked_url, v.disposition, v.class, v.network
                    )
                })
                .collect();
            panic!(
                "{what} not reached within {within:?}: {}\nthe gate: {:?}\nlatest reports: {seen:#?}",
                r.status_json(),
                ready.map(|r| r.reasons)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Safe promotion of the allowlist itself, in real Chromium: two app instances (one client
/// network each, as a proxy in front would say) share a store and follow its staged
/// rollout. A candidate that forgets the docs host, whose image only checkout loads, passes
/// its report-only stage on the home page, breaks checkout at its first enforced stage —
/// the enforced `connection-allowlist` reports reach the watch from both networks — and is
/// rolled back, the reason naming the docs host; the corrected candidate reaches done and
/// the instances enforce it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlist_rollout_rolls_back_in_chromium_and_the_fix_is_enforced() {
    use axum::http::HeaderName;
    use connect_src::report::promote;
    use connect_src::report::store::{Plan, RolloutState};
    use std::sync::atomic::Ordering;
    use std::time::SystemTime;
    use tower_http::set_header::SetRequestHeaderLayer;

    if !browser_available(Engine::Chromium) {
        return;
    }
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let tls = test_tls();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_origin = format!("https://b.localhost:{}", api.local_addr().unwrap().port());
    let docs = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let docs_origin = format!("https://c.localhost:{}", docs.local_addr().unwrap().port());
    let others = Router::new().fallback(any(hit));
    let mut servers = vec![
        tokio::spawn(serve_dual(api, tls.acceptor.clone(), others.clone())),
        tokio::spawn(serve_dual(docs, tls.acceptor.clone(), others)),
    ];
    let store = MemorySink::new();
    let enforced: connect_src::ConnectSrc = format!("'self' {api_origin}").parse().unwrap();
    let page = {
        let (api_origin, docs_origin) = (api_origin.clone(), docs_origin.clone());
        move || {
            let img = if ROLLOUT_MODE.load(Ordering::SeqCst) == 1 {
                format!("<img src='{docs_origin}/logo.png?t=' + Date.now()>")
            } else {
                String::new()
            };
            let html = format!(
                "<!doctype html><meta charset=utf-8><title>shop</title>{img}<script>fetch('{api_origin}/x?t=' + Date.now()).catch(() => {{}});</script>"
            );
            async move { Html(html) }
        }
    };
    // The controller (no policy) opens the pages in a popup, again and again: Chromium 156
    // sent no connection-allowlist report for a page opened as its command line's URL.
    let ctl = "<!doctype html><script>let n = 0; setInterval(() => { window.open('/page?n=' + (n++), 'app'); }, 700);</script>";
    let mut instances = Vec::new();
    let mut browsers = Vec::new();
    for network in ["198.51.100.7", "203.0.113.9"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!(
            "https://a.localhost:{}",
            listener.local_addr().unwrap().port()
        );
        let csp = connect_src::Csp::builder()
            .policy(
                connect_src::Policy::builder()
                    .enforce(enforced.clone())
                    .report_to("csp", format!("{origin}/csp-reports"))
                    .connection_allowlist(ConnectionAllowlist::report_only())
                    .environment(connect_src::Environment::Development)
                    .inventory(1.0),
            )
            .store(store.clone())
            .collector(
                Collector::builder()
                    .client_ip_header("x-forwarded-for")
                    .unwrap(),
            )
            .build()
            .unwrap();
        let follower = csp.follow_rollout(Duration::from_millis(250));
        let app = Router::new()
            .route("/page", get(page.clone()))
            .merge(csp.report_router())
            .layer(csp.layer())
            .route("/ctl", get(move || async move { Html(ctl) }))
            .layer(SetRequestHeaderLayer::overriding(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_static(network),
            ));
        servers.push(tokio::spawn(serve_dual(
            listener,
            tls.acceptor.clone(),
            app,
        )));
        browsers.push(launch(
            Engine::Chromium,
            &format!("{origin}/ctl"),
            Some(&tls.ca_pem),
        ));
        instances.push((csp, follower));
    }

    let plan = Plan::default()
        .stages(&[50, 100])
        .unwrap()
        .min_stage(Duration::from_secs(3))
        .min_page_loads(4);
    let forgetful = format!("(response-origin \"{api_origin}\");redirects=allow");
    promote::start_allowlist(
        &store,
        &forgetful,
        Some(&enforced),
        &plan,
        SystemTime::now(),
    )
    .await
    .unwrap();
    let at50 = rollout_state(
        &store,
        "the first enforced stage",
        Duration::from_secs(90),
        |r| r.stage == 50 || r.state != RolloutState::Running,
    )
    .await;
    assert_eq!(
        (at50.stage, at50.state),
        (50, RolloutState::Running),
        "the home page loads nothing from the docs host: report-only passes; {}",
        at50.status_json()
    );
    // The layers serve the candidate, report-only, and enforced on the stage's share.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (csp, _) in &instances {
        let staged = csp.handle().staged().expect("a stage");
        let (name, value) = staged.policy().connection_allowlist_header().unwrap();
        assert_eq!(name, "connection-allowlist");
        assert!(value.starts_with(&forgetful), "{value}");
        assert_eq!(
            csp.policy().enforced(),
            Some(&enforced),
            "the CSP is left as it was"
        );
    }
    ROLLOUT_MODE.store(1, Ordering::SeqCst);
    let back = rollout_state(&store, "a rollback", Duration::from_secs(90), |r| {
        r.state != RolloutState::Running
    })
    .await;
    assert_eq!(
        back.state,
        RolloutState::RolledBack,
        "{}",
        back.status_json()
    );
    let reason = &back.history.last().unwrap().reason;
    assert!(
        reason.contains(&docs_origin) && !reason.contains(&api_origin),
        "the reason names the docs host, and only it: {reason}"
    );
    let enforced_reports = store
        .recent()
        .into_iter()
        .filter(|v| {
            v.effective_directive == "connection-allowlist"
                && v.disposition == Disposition::Enforce
                && v.class == connect_src::report::store::Class::Genuine
        })
        .count();
    assert!(enforced_reports >= 2, "{enforced_reports}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (csp, _) in &instances {
        assert!(csp.handle().staged().is_none());
        let (name, _) = csp.policy().connection_allowlist_header().unwrap();
        assert_eq!(
            name, "connection-allowlist-report-only",
            "back to the app's own"
        );
    }

    // The corrected candidate lists the docs host, and goes all the way.
    let fixed = format!("(response-origin \"{api_origin}\" \"{docs_origin}\");redirects=allow");
    promote::start_allowlist(&store, &fixed, Some(&enforced), &plan, SystemTime::now())
        .await
        .unwrap();
    let done = rollout_state(&store, "done", Duration::from_secs(150), |r| {
        r.state != RolloutState::Running
    })
    .await;
    assert_eq!(done.state, RolloutState::Done, "{}", done.status_json());
    let steps: Vec<(u8, u8)> = done.history.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        steps,
        [(0, 0), (0, 50), (50, 100), (100, 100)],
        "{}",
        done.status_json()
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (csp, follower) in instances {
        let policy = csp.policy();
        let (name, value) = policy.connection_allowlist_header().unwrap();
        assert_eq!(name, "connection-allowlist", "done: enforced");
        assert!(value.starts_with(&fixed), "{value}");
        follower.abort();
    }
    drop(browsers);
    for s in servers {
        s.abort();
    }
    println!("chromium: an allowlist rollout rolled back ({reason}) and its fix reached done");
}
