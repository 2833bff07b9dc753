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
//! redirects to the next page. Blocks are read from `securitypolicyviolation` events and
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
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Form, Router};
use connect_src::matcher::BrowserPolicy;
use connect_src::report::store::{Disposition, ReportSink, Violation};
use connect_src::report::{Collector, MemorySink};

#[path = "browsers/cases.rs"]
mod cases;
#[path = "browsers/engines.rs"]
mod engines;

use cases::{groups, Csp, Group};
use engines::{browser_available, ci, launch, Engine};

#[derive(Default)]
struct Shared {
    /// Request paths+queries seen, in order.
    requests: Vec<String>,
    /// Page results by group: the raw JSON the page submitted.
    results: BTreeMap<usize, String>,
    /// The dashboard's stylesheet was fetched: the walk is over.
    done: bool,
}

#[derive(Clone)]
struct App {
    shared: Arc<Mutex<Shared>>,
    pages: Arc<Vec<PageSpec>>,
}

struct PageSpec {
    origin: String,
    /// Enforced `Content-Security-Policy` headers, byte for byte.
    csp: Vec<Vec<u8>>,
    csp_ro: Option<String>,
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
        s.requests.push(pq);
    }
    next.run(req).await
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
  document.getElementById('r').value = JSON.stringify(results);
  document.getElementById('f').submit();
})();
"#;

async fn page(State(app): State<App>, Path(n): Path<usize>) -> Response {
    let Some(p) = app.pages.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>case page {n}</title>\
         <form id=f method=post action=\"/results/{n}\"><input type=hidden id=r name=r></form>\
         <iframe name=sink hidden></iframe>\
         <script>const CASES = {};\n{PAGE_SCRIPT}</script>",
        p.cases_json
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
    let next = match app.pages.get(n + 1) {
        Some(p) => format!("{}/run/{}", p.origin, n + 1),
        None => "/xss-control".to_owned(),
    };
    (StatusCode::SEE_OTHER, [(LOCATION, next)]).into_response()
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

async fn serve(listener: tokio::net::TcpListener, app: Router) {
    axum::serve(listener, app).await.unwrap();
}

// ---- one run -------------------------------------------------------------------------------

struct CaseOut {
    /// The policy as shown in messages: `connect-src …`, or the whole header(s).
    policy: String,
    /// The enforced header text `check()` reads (several headers joined by ", ", as HTTP
    /// joins them; invalid UTF-8 as U+FFFD, non-ASCII either way).
    header: String,
    page: String,
    target: String,
    api: String,
    blocked: bool,
    reported_only: bool,
    threw: Option<String>,
    hit: bool,
    /// A plain http/ws URL on one of our listeners: if allowed, the server must see it.
    ours: bool,
    /// On the page that checks how report-only is enforced and reported.
    ro_check: bool,
}

struct Run {
    cases: Vec<CaseOut>,
    /// Case ids whose page never reported.
    lost: Vec<String>,
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

/// The `id` query parameter of a URL, path+query or blockedURI.
fn case_id(url: &str) -> Option<usize> {
    let q = url.split_once('?')?.1;
    let mut id = None;
    let mut ours = false;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "id" => id = v.parse().ok(),
            "run" => ours = *v == *run_token(),
            _ => {}
        }
    }
    id.filter(|_| ours)
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

async fn run_engine(engine: Engine) -> Run {
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (p1, p2) = (
        l1.local_addr().unwrap().port(),
        l2.local_addr().unwrap().port(),
    );
    // Plain HTTP on both: pages on port 80, and targets such as http://h:443/.
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
        page: String,
        target: String,
        api: String,
        ro_check: bool,
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
        let mut shown = match &g.csp {
            Csp::ConnectSrc(v) => format!("connect-src {}", fill(v)),
            Csp::Headers([]) => "(no enforced policy)".to_owned(),
            Csp::Headers(_) => csp
                .iter()
                .map(|h| format!("[{}]", h.escape_ascii()))
                .collect::<Vec<_>>()
                .join(" + "),
        };
        if let Some(ro) = g.report_only {
            shown.push_str(&format!(" + report-only connect-src {}", fill(ro)));
        }
        let mut cases = Vec::new();
        for (t, api) in g.targets.iter().filter(|(_, api)| engine.has_api(api)) {
            let id = case_meta.len();
            let mut target = fill(t);
            if !target.starts_with("data:") {
                target.push_str(if target.contains('?') { "&" } else { "?" });
                target.push_str(&format!("id={id}&run={}", run_token()));
            }
            cases.push(serde_json::json!({"id": id, "target": target, "api": api}));
            case_meta.push(Meta {
                policy: shown.clone(),
                header: header.clone(),
                page: format!("{origin}/run/{}", pages.len()),
                target,
                api: (*api).to_owned(),
                ro_check: g.is_report_only_check(),
            });
        }
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
    };
    let app = Router::new()
        .route("/run/{n}", get(page))
        .route("/results/{n}", post(results))
        .route("/hit", any(hit))
        .route("/api/{*rest}", get(hit))
        .route("/API/{*rest}", get(hit))
        .route("/api", get(hit))
        .route("/apix", get(hit))
        .route("/API", get(hit))
        .route("/{name}", get(hit))
        .route("/ws", get(ws))
        .route("/xss-control", get(xss_control))
        .route("/xss-fired/{*rest}", get(hit))
        .merge(collector.report_router().merge(collector.admin_router()))
        .layer(middleware::from_fn_with_state(app_state.clone(), record))
        .with_state(app_state.clone());
    let mut servers = vec![
        tokio::spawn(serve(l1, app.clone())),
        tokio::spawn(serve(l2, app.clone())),
    ];
    for l in defaults.into_iter().flatten() {
        servers.push(tokio::spawn(serve(l, app.clone())));
    }

    let start = format!("{}/run/0", app_state.pages[0].origin);
    let child = launch(engine, &start, None);
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
    let hits: HashSet<usize> = shared.requests.iter().filter_map(|r| case_id(r)).collect();
    let mut cases = Vec::new();
    let mut seen = HashSet::new();
    for json in shared.results.values() {
        let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        for r in list {
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
            let ours = url::Url::parse(&m.target).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "ws")
                    && u.port_or_known_default()
                        .is_some_and(|p| our_ports.contains(&p))
            });
            cases.push(CaseOut {
                ours,
                blocked: events.iter().any(|e| e["d"] == "enforce"),
                reported_only: events.iter().any(|e| e["d"] == "report"),
                threw: r["threw"].as_str().map(str::to_owned),
                hit: hits.contains(&id),
                policy: m.policy.clone(),
                header: m.header.clone(),
                page: m.page.clone(),
                target: m.target.clone(),
                api: m.api.clone(),
                ro_check: m.ro_check,
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
        reports: store.recent(),
        requests: shared.requests.clone(),
    }
}

/// One browser at a time: two suites in parallel on 2 cores would only add timing noise.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every engine must run this many cases from http pages.
const MIN_CASES: usize = 250;

/// `check()`'s verdict for this engine on the enforced header(s) the page was sent.
fn expected(engine: Engine, header: &str, page: &str, target: &str) -> bool {
    BrowserPolicy::from_header(header)
        .check(page, target)
        .unwrap_or_else(|e| panic!("{e}"))
        .get(engine.verdict_engine())
}

fn check_engine(engine: Engine, run: &Run) {
    let name = engine.name();
    let mut mismatches = Vec::new();
    let mut contradictions = Vec::new();
    for c in &run.cases {
        let expected = expected(engine, &c.header, &c.page, &c.target);
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
    // All three lists in one message: a failing run should say everything it saw.
    let mut problems = Vec::new();
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
    // report-uri: every blocked case (other than the data: URL) was reported as a legacy
    // report naming the page and the target without its query string.
    let enforce = engine.legacy_disposition(Disposition::Enforce);
    let mut missing = Vec::new();
    for c in run
        .cases
        .iter()
        .filter(|c| c.blocked && !c.target.starts_with("data:"))
    {
        let want = c.target.split('?').next().unwrap();
        let found = run.reports.iter().any(|v| {
            v.blocked_url == want
                && v.document_url == c.page
                && v.effective_directive == "connect-src"
                && v.disposition == enforce
        });
        if !found {
            missing.push(format!("  {} on {} ({})", c.target, c.page, c.api));
        }
    }
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
            .map(|c| serde_json::json!({"policy": c.policy, "page": c.page, "target": c.target, "api": c.api, "engine": engine.name(), "allowed": !c.blocked, "hit": c.hit, "threw": c.threw, "check": expected(engine, &c.header, &c.page, &c.target)}))
            .collect();
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-observed-{}.json", engine.name()));
        std::fs::write(&out, serde_json::to_string_pretty(&observed).unwrap()).unwrap();
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
    let names: Vec<String> = ["localhost", "a.localhost", "c.localhost", "127.0.0.1"]
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

async fn serve_tls(
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
            if let Ok(tls) = acceptor.accept(tcp).await {
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                    .await;
            }
        });
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
    let mut servers = vec![tokio::spawn(serve_tls(
        listener,
        tls.acceptor.clone(),
        app.clone(),
    ))];
    for l in l443.into_iter().flatten() {
        servers.push(tokio::spawn(serve_tls(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_to_over_https_and_https_pages() {
    let _one = ONE_BROWSER_AT_A_TIME.lock().await;
    let mut failures = Vec::new();
    for engine in Engine::ALL {
        if !browser_available(engine) {
            continue;
        }
        match run_tls(engine).await {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
