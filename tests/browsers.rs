//! Real browsers: headless Chromium and Firefox ESR (Debian packages) load pages from a test
//! server on loopback and attempt connections under many policies. What they block must
//! equal `BrowserPolicy::check`'s verdict for that engine; their report-uri reports must
//! reach the collector; enforced + report-only must behave as documented; the dashboard must
//! show hostile report fields as text. Over HTTPS (a CA and certificate made at test time
//! with rcgen, trusted through Chromium's flag and Firefox's profile via certutil), the
//! crate's own layer sets `Reporting-Endpoints`, and report-to reports must arrive and
//! normalize the same way; the https pages also check the verdicts only they can show.
//!
//! One browser process per engine walks every page: each page runs its cases, then submits
//! a form (navigation is not governed by connect-src) whose answer redirects to the next page.
//! Blocks are read from `securitypolicyviolation` events and cross-checked against the
//! requests the server saw. With CI=true a missing browser fails the suite; locally it is
//! skipped with a loud line.
#![cfg(feature = "collector")]

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
use connect_src::report::{Collector, Disposition, MemorySink, ReportSink, Violation};

// ---- cases ---------------------------------------------------------------------------------

/// A page: its origin, its policy text (connect-src value), an optional report-only value,
/// and the connections it attempts: (target URL template, API).
struct Group {
    page: &'static str,
    policy: &'static str,
    report_only: Option<&'static str>,
    targets: Vec<(&'static str, &'static str)>,
}

/// `{p1}` is the page's port, `{p2}` a second listener. All hosts are loopback names.
fn groups() -> Vec<Group> {
    let g = |page, policy, targets: &[(&'static str, &'static str)]| Group {
        page,
        policy,
        report_only: None,
        targets: targets.to_vec(),
    };
    const A: &str = "http://a.localhost:{p1}";
    const IP: &str = "http://127.0.0.1:{p1}";
    vec![
        g(
            A,
            "'self'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p1}/hit", "xhr"),
                ("http://a.localhost:{p1}/hit", "eventsource"),
                ("http://a.localhost:{p1}/hit", "beacon"),
                ("ws://a.localhost:{p1}/ws", "ws"),
                ("wss://a.localhost:{p1}/ws", "ws"),
                ("https://a.localhost:{p1}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://a.localhost:{p2}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            IP,
            "'self'",
            &[
                ("http://127.0.0.1:{p1}/hit", "fetch"),
                ("ws://127.0.0.1:{p1}/ws", "ws"),
                ("http://localhost:{p1}/hit", "fetch"),
                ("ws://localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "*",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("data:text/plain,x", "fetch"),
                ("http://c.localhost:{p2}/hit", "beacon"),
            ],
        ),
        g(
            A,
            "http:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "https:",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "ws:",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss:",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "xhr"),
                ("http://c.localhost:{p2}/hit", "eventsource"),
                ("http://c.localhost:{p2}/hit", "beacon"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://d.c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://c.localhost:{p2}",
            &[
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://*.a.localhost:{p2}",
            &[
                ("http://b.a.localhost:{p2}/hit", "fetch"),
                ("http://x.b.a.localhost:{p2}/hit", "fetch"),
                ("http://a.localhost:{p2}/hit", "fetch"),
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("http://b.a.localhost:{p1}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "ws://*.a.localhost:{p2}",
            &[
                ("ws://b.a.localhost:{p2}/ws", "ws"),
                ("ws://a.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:*",
            &[
                ("http://c.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        g(
            A,
            "c.localhost:{p2}",
            &[
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api/",
            &[
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/apix", "fetch"),
                ("http://c.localhost:{p2}/API/x", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/api",
            &[
                ("http://c.localhost:{p2}/api", "fetch"),
                ("http://c.localhost:{p2}/api/", "fetch"),
                ("http://c.localhost:{p2}/api/x", "fetch"),
                ("http://c.localhost:{p2}/API", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:{p2}/a%20b",
            &[
                ("http://c.localhost:{p2}/a%20b", "fetch"),
                ("http://c.localhost:{p2}/a%2Fb", "fetch"),
            ],
        ),
        g(
            A,
            "http://127.0.0.1:{p2}",
            &[
                ("http://127.0.0.1:{p2}/hit", "fetch"),
                ("http://localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://localhost:{p2}",
            &[
                ("http://localhost:{p2}/hit", "fetch"),
                ("http://127.0.0.1:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "'none'",
            &[
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("ws://a.localhost:{p1}/ws", "ws"),
            ],
        ),
        g(
            A,
            "'none' 'self'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(A, "self", &[("http://a.localhost:{p1}/hit", "fetch")]),
        g(
            A,
            "'SELF' 'unsafe-inline'",
            &[("http://a.localhost:{p1}/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost",
            &[
                ("http://c.localhost:443/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "http://c.localhost:80",
            &[
                ("https://c.localhost:80/hit", "fetch"),
                ("http://c.localhost/hit", "fetch"),
                ("https://c.localhost/hit", "fetch"),
                ("http://c.localhost:443/hit", "fetch"),
            ],
        ),
        g(
            A,
            "http://c.localhost:443",
            &[("https://c.localhost/hit", "fetch")],
        ),
        g(
            A,
            "http://c.localhost.:{p2}",
            &[("http://c.localhost:{p2}/hit", "fetch")],
        ),
        g(
            A,
            "ws://c.localhost:80",
            &[
                ("wss://c.localhost/ws", "ws"),
                ("ws://c.localhost/ws", "ws"),
            ],
        ),
        g(
            A,
            "https://c.localhost:{p2}",
            &[
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        ),
        g(
            A,
            "wss://c.localhost:{p2}",
            &[
                ("wss://c.localhost:{p2}/ws", "ws"),
                ("https://c.localhost:{p2}/hit", "fetch"),
                ("ws://c.localhost:{p2}/ws", "ws"),
            ],
        ),
        Group {
            page: A,
            policy: "'self'",
            report_only: Some("'none'"),
            targets: vec![
                ("http://a.localhost:{p1}/hit", "fetch"),
                ("http://c.localhost:{p2}/hit", "fetch"),
            ],
        },
    ]
}

// ---- the harness server --------------------------------------------------------------------

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
    csp: String,
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
      case 'beacon': navigator.sendBeacon(c.target, 'x'); break;
    }
    return null;
  } catch (e) { return String((e && e.name) || e); }
}
(async () => {
  const results = [];
  for (const c of CASES) {
    events.length = 0;
    const threw = attempt(c);
    await sleep(c.api === 'ws' ? 400 : 250);
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
         <script>const CASES = {};\n{PAGE_SCRIPT}</script>",
        p.cases_json
    );
    let mut res = Html(html).into_response();
    res.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&p.csp).unwrap(),
    );
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

// ---- browsers ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    fn binary(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox-esr",
        }
    }
    fn name(self) -> &'static str {
        self.verdict_engine().as_str()
    }
    /// The column of `check()`'s verdict this browser is held to.
    fn verdict_engine(self) -> connect_src::matcher::Engine {
        match self {
            Engine::Chromium => connect_src::matcher::Engine::Chromium,
            Engine::Firefox => connect_src::matcher::Engine::Firefox,
        }
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(bin))
        .find(|p| p.is_file())
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("connect-src-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const FIREFOX_PREFS: &str = r#"
user_pref("dom.security.https_first", false);
user_pref("dom.security.https_first_pbm", false);
user_pref("dom.security.https_only_mode", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.ping-centre.telemetry", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
"#;

/// Starts a browser on `url` with a fresh profile, ended (and its profile removed) when the
/// returned guard drops. With `tls_ca`, the page is https with a test certificate: Chromium
/// ignores certificate errors (and delivers Reporting API reports promptly), Firefox trusts
/// the CA through its profile.
fn launch(engine: Engine, url: &str, tls_ca: Option<&str>) -> Kill {
    let tag = if tls_ca.is_some() { "-tls" } else { "" };
    let dir = fresh_dir(&format!("{}{tag}", engine.name()));
    let mut cmd = Command::new(engine.binary());
    match engine {
        Engine::Chromium => {
            cmd.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
            ])
            .arg(format!("--user-data-dir={}", dir.display()));
            if tls_ca.is_some() {
                cmd.args(["--ignore-certificate-errors", "--short-reporting-delay"]);
            }
        }
        Engine::Firefox => {
            std::fs::write(dir.join("user.js"), FIREFOX_PREFS).unwrap();
            if let Some(ca) = tls_ca {
                trust_in_firefox_profile(&dir, ca);
            }
            cmd.args(["--headless", "--no-remote", "--profile"])
                .arg(&dir);
        }
    }
    // Its own process group, so that stopping it stops its helper processes too.
    let child = cmd
        .process_group(0)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", engine.binary()));
    Kill(child, dir)
}

/// A browser we started (leader of its own process group), and its profile directory (tens
/// of MB for Firefox).
struct Kill(Child, PathBuf);
impl Drop for Kill {
    fn drop(&mut self) {
        // The whole group: Chromium's helpers outlive a killed parent and keep writing into
        // the profile. `kill` the command, since this crate forbids unsafe code.
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        signal("-KILL");
        let _ = self.0.kill(); // the leader at least, should `kill` be missing
        let _ = self.0.wait();
        // Until no process of the group is left (bounded), then the profile can go.
        for _ in 0..100 {
            if !signal("-0") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

// ---- one run -------------------------------------------------------------------------------

struct CaseOut {
    policy: String,
    page: String,
    target: String,
    api: String,
    blocked: bool,
    reported_only: bool,
    threw: Option<String>,
    hit: bool,
    /// A plain http/ws URL on one of our listeners: if allowed, the server must see it.
    ours: bool,
}

struct Run {
    cases: Vec<CaseOut>,
    reports: Vec<Violation>,
    requests: Vec<String>,
}

async fn run_engine(engine: Engine) -> Run {
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

    // Every target URL gets a unique id so server hits and events can be told apart.
    let mut case_meta: Vec<(String, String, String, String)> = Vec::new(); // policy, page, target, api
    let mut pages = Vec::new();
    for g in groups() {
        let origin = fill(g.page);
        let mut cases = Vec::new();
        for (t, api) in &g.targets {
            let id = case_meta.len();
            let mut target = fill(t);
            if !target.starts_with("data:") {
                target.push_str(if target.contains('?') { "&" } else { "?" });
                target.push_str(&format!("id={id}"));
            }
            cases.push(serde_json::json!({"id": id, "target": target, "api": api}));
            case_meta.push((
                fill(g.policy),
                format!("{origin}/run/{}", pages.len()),
                target,
                (*api).to_owned(),
            ));
        }
        pages.push(PageSpec {
            origin,
            csp: format!("connect-src {}; report-uri /csp-reports", fill(g.policy)),
            csp_ro: g
                .report_only
                .map(|ro| format!("connect-src {}; report-uri /csp-reports", fill(ro))),
            cases_json: serde_json::Value::Array(cases).to_string(),
        });
    }

    let store = MemorySink::with_limits(10_000, 10_000);
    // A report whose every shown field is an XSS payload, for the dashboard check (the
    // directive must be one CSP defines, or the collector refuses the report).
    let mut evil = connect_src::report::parse_reports(
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
        .merge(collector.router())
        .layer(middleware::from_fn_with_state(app_state.clone(), record))
        .with_state(app_state.clone());
    let s1 = tokio::spawn(serve(l1, app.clone()));
    let s2 = tokio::spawn(serve(l2, app));

    let start = format!("{}/run/0", app_state.pages[0].origin);
    let child = launch(engine, &start, None);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if app_state.shared.lock().unwrap().done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the walk did not finish in time; pages done: {:?}",
            engine.name(),
            app_state
                .shared
                .lock()
                .unwrap()
                .results
                .keys()
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for late requests (hits, reports, a payload that should never fire).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(child);
    s1.abort();
    s2.abort();

    let shared = app_state.shared.lock().unwrap();
    let hits: HashMap<String, bool> = shared
        .requests
        .iter()
        .filter_map(|r| {
            r.split("id=")
                .nth(1)
                .map(|id| (id.split('&').next().unwrap_or("").to_owned(), true))
        })
        .collect();
    let mut cases = Vec::new();
    for json in shared.results.values() {
        let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        for r in list {
            let id = r["id"].as_u64().unwrap() as usize;
            let (policy, page, target, api) = case_meta[id].clone();
            let mine = |e: &&serde_json::Value| {
                let uri = e["uri"].as_str().unwrap_or("");
                // Events for another case (late arrivals) name another id.
                !uri.contains("id=") || uri.contains(&format!("id={id}"))
            };
            let events: Vec<&serde_json::Value> = r["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(mine)
                .collect();
            let ours = url::Url::parse(&target).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "ws")
                    && u.port_or_known_default()
                        .is_some_and(|p| p == p1 || p == p2)
            });
            cases.push(CaseOut {
                ours,
                blocked: events.iter().any(|e| e["d"] == "enforce"),
                reported_only: events.iter().any(|e| e["d"] == "report"),
                threw: r["threw"].as_str().map(str::to_owned),
                hit: hits.contains_key(&id.to_string()),
                policy,
                page,
                target,
                api,
            });
        }
    }
    Run {
        cases,
        reports: store.recent(),
        requests: shared.requests.clone(),
    }
}

/// One browser at a time: two suites in parallel on 2 cores would only add timing noise.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_available(engine: Engine) -> bool {
    if which(engine.binary()).is_some() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is not installed and CI=true: the browser suite must run in CI",
            engine.binary()
        );
    }
    eprintln!(
        "\n!!!!!! SKIPPED: {} not installed (bash scripts/test.sh installs it) !!!!!!\n",
        engine.binary()
    );
    false
}

fn check_engine(engine: Engine, run: &Run) {
    let name = engine.name();
    let mut mismatches = Vec::new();
    let mut contradictions = Vec::new();
    for c in &run.cases {
        let v = BrowserPolicy::parse(&c.policy)
            .check(&c.page, &c.target)
            .unwrap_or_else(|e| panic!("{e}"));
        let expected = v.get(engine.verdict_engine());
        if expected == c.blocked {
            mismatches.push(format!(
                "  {name}: connect-src {} on {} -> {} ({}): browser {}, check() says {}",
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
    assert!(total >= 100, "{name}: only {total} cases ran");
    assert!(
        mismatches.is_empty(),
        "{name}: {} verdicts differ from check():\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        contradictions.is_empty(),
        "{name}: events and server disagree:\n{}",
        contradictions.join("\n")
    );
}

fn check_reports(engine: Engine, run: &Run) {
    let name = engine.name();
    // report-uri: every blocked case (other than the data: URL) was reported as a legacy
    // report naming the page and the target without its query string.
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
                && v.disposition == Disposition::Enforce
        });
        if !found {
            missing.push(format!("  {} on {} ({})", c.target, c.page, c.api));
        }
    }
    let legacy = run
        .reports
        .iter()
        .filter(|v| v.format == connect_src::report::ReportFormat::Legacy)
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
    let ro: Vec<&CaseOut> = run
        .cases
        .iter()
        .filter(|c| c.page.ends_with(&format!("/run/{}", groups().len() - 1)))
        .collect();
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
        run.reports
            .iter()
            .any(|v| v.disposition == Disposition::Report && v.document_url == ro[0].page),
        "{name}: the report-only violation reached the collector with disposition report"
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
    for engine in [Engine::Chromium, Engine::Firefox] {
        if !browser_available(engine) {
            continue;
        }
        let run = run_engine(engine).await;
        let observed: Vec<serde_json::Value> = run
            .cases
            .iter()
            .map(|c| serde_json::json!({"policy": c.policy, "page": c.page, "target": c.target, "api": c.api, "engine": engine.name(), "allowed": !c.blocked, "threw": c.threw}))
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

/// Trusts the test CA in a fresh Firefox profile (NSS database, via certutil).
fn trust_in_firefox_profile(dir: &std::path::Path, ca_pem: &str) {
    let ca = dir.join("test-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let db = format!("sql:{}", dir.display());
    let ok = |args: &[&str]| {
        let st = Command::new("certutil")
            .args(args)
            .status()
            .expect("certutil (libnss3-tools) is needed");
        assert!(st.success(), "certutil {args:?} failed");
    };
    ok(&["-N", "-d", &db, "--empty-password"]);
    ok(&[
        "-A",
        "-n",
        "connect-src-test-ca",
        "-t",
        "CT,,",
        "-i",
        ca.to_str().unwrap(),
        "-d",
        &db,
    ]);
}

/// One case per page; the result travels in the next page's URL (navigation is not governed
/// by connect-src, so even a page that blocks its own origin can report).
const TLS_PAGE_SCRIPT: &str = r#"
const events = [];
document.addEventListener('securitypolicyviolation', (e) => events.push(String(e.disposition)));
(async () => {
  try {
    if (TARGET.startsWith('ws')) { const w = new WebSocket(TARGET); w.onerror = () => {}; }
    else { fetch(TARGET).catch(() => {}); }
  } catch (_) {}
  await new Promise((r) => setTimeout(r, 500));
  location.href = NEXT + '?prev=' + ID + '&blocked=' + events.includes('enforce');
})();
"#;

/// report-to over HTTPS: the crate's own layer sets `Reporting-Endpoints`; blocked
/// connections arrive as Reporting API reports and normalize like report-uri ones. The same
/// pages check the verdicts only an https page can show.
async fn run_tls(engine: Engine) -> Result<String, String> {
    let name = engine.name();
    let tls = test_tls();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let origin = format!("https://a.localhost:{port}");
    // (policy, target): every target https/wss, so mixed-content rules never interfere.
    let cases: Vec<(String, String)> = [
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
    ]
    .iter()
    .map(|(p, t)| {
        (
            p.replace("{p}", &port.to_string()),
            t.replace("{p}", &port.to_string()),
        )
    })
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
    for (i, (policy, target)) in cases.iter().enumerate() {
        let policy = connect_src::Policy::builder()
            .enforce(connect_src::ConnectSrc::builder().source(policy.as_str()))
            .report_uri("/csp-reports")
            .report_to("csp", format!("{origin}/csp-reports"))
            .environment(connect_src::Environment::Development)
            .build()
            .unwrap();
        let next = if i + 1 < cases.len() {
            format!("/tls/{}", i + 1)
        } else {
            "/tls-done".to_owned()
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
    let server = tokio::spawn(serve_tls(listener, tls.acceptor.clone(), app));

    let child = launch(engine, &format!("{origin}/tls/0"), Some(&tls.ca_pem));

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
    // Wait for the walk, then for the Reporting API's delivery (batched by the browser).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = results(&requests.lock().unwrap());
        let blocked = got.values().filter(|b| **b).count();
        let reported = store
            .recent()
            .iter()
            .filter(|v| v.format == connect_src::report::ReportFormat::ReportingApi)
            .count();
        if (got.len() == cases.len() && reported >= blocked) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(child);
    server.abort();

    let got = results(&requests.lock().unwrap());
    let reports = store.recent();
    let mut problems = Vec::new();
    for (i, (policy, target)) in cases.iter().enumerate() {
        let page = format!("{origin}/tls/{i}");
        let Some(&blocked) = got.get(&i) else {
            problems.push(format!(
                "  {name}: page {i} ({policy} -> {target}) did not report"
            ));
            continue;
        };
        let v = BrowserPolicy::parse(policy).check(&page, target).unwrap();
        let expected = v.get(engine.verdict_engine());
        if expected == blocked {
            problems.push(format!(
                "  {name}: connect-src {policy} on {page} -> {target}: browser {}, check() says {}",
                if blocked { "blocked" } else { "allowed" },
                if expected { "allowed" } else { "blocked" }
            ));
        }
        if blocked {
            let found = reports.iter().any(|r| {
                r.format == connect_src::report::ReportFormat::ReportingApi
                    && r.blocked_url == *target
                    && r.document_url == page
                    && r.effective_directive == "connect-src"
                    && r.disposition == Disposition::Enforce
                    // Checked against the policies the layers served: the real thing.
                    && r.class == connect_src::report::Class::Genuine
            });
            if !found {
                problems.push(format!(
                    "  {name}: no genuine report-to report for {target} from {page}: {:?}",
                    reports
                        .iter()
                        .filter(|r| r.blocked_url == *target)
                        .map(|r| (r.class, r.original_policy.clone()))
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
    let api = reports
        .iter()
        .filter(|v| v.format == connect_src::report::ReportFormat::ReportingApi)
        .count();
    let legacy = reports.len() - api;
    // With both report-uri and report-to, a browser that supports report-to sends only it
    // (CSP3 §5.5); the README tells users to keep report-uri for older browsers.
    if legacy != 0 {
        problems.push(format!(
            "  {name}: {legacy} report-uri reports next to report-to"
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
    for engine in [Engine::Chromium, Engine::Firefox] {
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
