//! The inventory (issue 20): the layer samples page loads and adds a report-only
//! `connect-src 'none'`; the collector keeps what those pages connected to as observations
//! (never violations), tagged by page load and client network; learning rests on reach, so
//! one client's reports — with a fetched token, a subdomain spray, an omitted policy or a
//! flood — change nothing. The first test runs real Chromium, Firefox ESR and WebKitGTK.
#![cfg(feature = "collector")]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ConnectInfo;
use axum::http::header::{CONTENT_SECURITY_POLICY_REPORT_ONLY as CSP_RO, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use connect_src::learn::{suggest, unused, SuggestOptions, Why};
use connect_src::policy::Provenance;
use connect_src::report::store::{MemorySink, PageLoad, ReportStore};
use connect_src::report::Collector;
use connect_src::source::Origin;
use connect_src::{ConnectSrc, Csp, Policy};
use tower::ServiceExt;

#[allow(dead_code)] // the suite's browser launcher; this file uses part of it
#[path = "browsers/engines.rs"]
mod engines;

const SECRET: &[u8] = b"4b1e9f0c7a2d8e3f6a5b0c9d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f";

fn provenance() -> Provenance {
    Provenance::new(SECRET.to_vec()).unwrap()
}

/// The inventory policy's parts in a response: the page-load id, the rate, the token.
fn inventory_of(res: &Response) -> Option<(String, String, String)> {
    res.headers().get_all(CSP_RO).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let q = v.split_once("report-uri ")?.1.split_once('?')?.1;
        let get = |name: &str| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        Some((get("csp-inventory")?, get("csp-sample")?, get("csp-token")?))
    })
}

/// A page that uses every connection API against its own origin (fetch, XHR, WebSocket,
/// EventSource, beacon), then says it is done.
const PAGE: &str = r#"<!doctype html><title>inventory</title><script>
fetch("/api/fetch").catch(() => {});
const x = new XMLHttpRequest(); x.open("GET", "/api/xhr"); x.send();
try { const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws"); ws.onerror = () => {}; } catch (_) {}
try { const es = new EventSource("/api/events"); setTimeout(() => es.close(), 300); } catch (_) {}
navigator.sendBeacon("/api/beacon", "x");
</script>"#;

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|_| async {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_browsers_report_every_api_as_observations_of_their_page_load() {
    let store = MemorySink::new();
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .inventory(1.0),
        )
        .provenance(provenance())
        .store(store.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/ws", get(ws))
        .route("/api/{kind}", any(|| async { "{}" }))
        .merge(csp.report_router())
        .layer(csp.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let mut ran = 0;
    for engine in engines::Engine::ALL {
        if !engines::browser_available(engine) {
            continue;
        }
        ran += 1;
        let before = csp.collector().stats();
        let _browser = engines::launch(engine, &format!("http://127.0.0.1:{}/", addr.port()), None);
        // Five APIs, each to the page's own origin: five observations of one page load.
        let deadline = Instant::now() + Duration::from_secs(45);
        while csp.collector().stats().observed < before.observed + 5 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let name = engine.name();
        let stats = csp.collector().stats();
        assert!(
            stats.observed >= before.observed + 5,
            "{name}: {} observations, {stats:?}",
            stats.observed - before.observed
        );
        assert_eq!(
            stats.accepted, before.accepted,
            "{name}: no violation stored"
        );
    }
    if ran == 0 {
        eprintln!(
            "\n!!!!!! SKIPPED: no browser installed (bash scripts/test.sh installs them) !!!!!!\n"
        );
        return;
    }
    let uses = store.inventory(UNIX_EPOCH).await.unwrap();
    let me = Origin::of_url(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
    let own = uses
        .iter()
        .find(|u| u.destination == me)
        .expect("the page's own origin");
    assert_eq!(own.document_origin.as_ref(), Some(&me));
    // One page load per engine that ran (each browser loaded the page once), each counted
    // once however many connections it made.
    assert_eq!(own.sampled_page_loads, ran);
    assert_eq!(own.networks, 1, "all from 127.0.0.0/24");
    assert!(own.reports >= 5 * ran, "{own:?}");
    assert_eq!(
        store.summary(10).await.unwrap().total,
        0,
        "observations are no violations"
    );
}

/// A collector app, served over `oneshot` with a given peer address.
async fn post(app: &Router, uri: &str, peer: &str, body: serde_json::Value) -> StatusCode {
    let mut req = Request::post(uri)
        .header(CONTENT_TYPE, "application/csp-report")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    app.clone().oneshot(req).await.unwrap().status()
}

fn legacy(blocked: &str, policy: &str, disposition: &str) -> serde_json::Value {
    serde_json::json!({"csp-report": {
        "document-uri": "https://app.example/orders/8127",
        "effective-directive": "connect-src",
        "blocked-uri": blocked,
        "original-policy": policy,
        "disposition": disposition,
    }})
}

#[tokio::test]
async fn observations_need_a_token_bound_to_their_page_load_and_rate() {
    let store = MemorySink::new();
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .inventory(1.0),
        )
        .provenance(provenance())
        .store(store.clone())
        .collector(Collector::builder().observations_per_page_load(3))
        .build()
        .unwrap();
    let res = csp
        .layer()
        .clone()
        .into_service_around(|| async { "page" })
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (id, rate, token) = inventory_of(&res).expect("sampled at rate 1");
    assert_eq!(rate, "1");
    assert!(PageLoad::parse(&id).is_some(), "{id}");
    let app = csp.report_router::<()>();
    let inv = "connect-src 'none'; report-uri /csp-reports";
    let uri = |id: &str, rate: &str, token: &str| {
        format!("/csp-reports?csp-inventory={id}&csp-sample={rate}&csp-token={token}")
    };
    // Genuine: a destination the page used.
    let ok = uri(&id, &rate, &token);
    assert_eq!(
        post(
            &app,
            &ok,
            "198.51.100.7:1",
            legacy("https://api.example/v1", inv, "report")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    // The token does not move to another page load, nor another rate.
    let other_id = format!("{:016x}", u64::from_str_radix(&id, 16).unwrap() ^ 1);
    for forged in [
        uri(&other_id, &rate, &token),
        uri(&id, "0.5", &token),
        uri(&id, &rate, "00000000000000000000000000000000"),
    ] {
        assert_eq!(
            post(
                &app,
                &forged,
                "198.51.100.7:1",
                legacy("https://forged.example", inv, "report")
            )
            .await,
            StatusCode::NO_CONTENT
        );
    }
    // Another policy's report sent to an inventory URL is not the inventory's.
    assert_eq!(
        post(
            &app,
            &ok,
            "198.51.100.7:1",
            legacy("https://other.example", "connect-src 'self'", "enforce")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    // The page load's cap: 3 observations, however many its public id is reused for.
    for i in 0..5 {
        post(
            &app,
            &ok,
            "198.51.100.7:1",
            legacy(&format!("https://flood{i}.example/"), inv, "report"),
        )
        .await;
    }
    let uses = store.inventory(UNIX_EPOCH).await.unwrap();
    let destinations: Vec<&str> = uses.iter().map(|u| u.destination.as_str()).collect();
    assert!(
        destinations.contains(&"https://api.example"),
        "{destinations:?}"
    );
    assert!(
        !destinations
            .iter()
            .any(|d| d.contains("forged") || d.contains("other")),
        "{destinations:?}"
    );
    assert_eq!(uses.len(), 3, "the cap: {destinations:?}");
    let stats = csp.collector().stats();
    assert_eq!(stats.observed, 3);
    assert_eq!(stats.observations_dropped, 3 + 1 + 3);
    assert_eq!(stats.accepted, 0, "never a violation");
    assert_eq!(store.summary(10).await.unwrap().total, 0);
}

#[tokio::test]
async fn one_clients_reports_teach_nothing() {
    let store = MemorySink::with_limits(100, 200);
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(
                    ConnectSrc::builder()
                        .self_origin()
                        .host("https://api.app.example"),
                )
                .report_only(ConnectSrc::builder().self_origin()),
        )
        .provenance(provenance())
        .store(store.clone())
        .build()
        .unwrap();
    let report_only = csp.policy().report_only_header().unwrap();
    let token = provenance().token_at(SystemTime::now());
    let app = csp.report_router::<()>();
    let ro = format!("/csp-reports?disposition=report&csp-token={token}");
    // Real users: the API, from five networks.
    for net in 1..=5 {
        let peer = format!("203.0.{net}.9:443");
        post(
            &app,
            &ro,
            &peer,
            legacy("https://api.app.example/v1", &report_only, "report"),
        )
        .await;
    }
    // The attacker, from one network, with a token fetched from any page: its host, a
    // subdomain spray, a flood of unique groups, a report with no policy.
    let attacker = "198.51.100.66:4000";
    for _ in 0..50 {
        post(
            &app,
            &ro,
            attacker,
            legacy("https://attacker.example/x", &report_only, "report"),
        )
        .await;
    }
    for sub in ["a", "b", "c", "d"] {
        post(
            &app,
            &ro,
            attacker,
            legacy(
                &format!("https://{sub}.app.example/"),
                &report_only,
                "report",
            ),
        )
        .await;
    }
    for i in 0..300 {
        post(
            &app,
            &ro,
            attacker,
            legacy(
                &format!("https://flood{i}.example/"),
                &report_only,
                "report",
            ),
        )
        .await;
    }
    let mut no_policy = legacy("https://unverified.example/", "", "report");
    no_policy["csp-report"]
        .as_object_mut()
        .unwrap()
        .remove("original-policy");
    post(
        &app,
        "/csp-reports?disposition=report",
        "198.51.100.67:1",
        no_policy,
    )
    .await;

    let summary = store.summary(500).await.unwrap();
    // Top of the summary: what many saw, not what one sent most.
    assert_eq!(summary.groups[0].blocked_origin, "https://api.app.example");
    assert_eq!(summary.groups[0].reach, 5);
    // The flood did not take the real groups' places: its network had a hundredth of the
    // cap, the rest went to the overflow group.
    assert!(summary.groups.len() <= 200 + 1);
    assert!(store.group_count() < 200, "{}", store.group_count());
    let candidate: ConnectSrc = "'self'".parse().unwrap();
    let enforced: ConnectSrc = "'self' https://api.app.example https://*.app.example"
        .parse()
        .unwrap();
    let s = suggest(
        &candidate,
        summary.teaching().observations,
        &SuggestOptions::default().enforced(enforced.clone()),
    );
    assert_eq!(
        s.policy.value(),
        "'self' https://api.app.example",
        "{:#?}",
        s.not_added
    );
    let why = |d: &str| {
        s.not_added
            .iter()
            .find(|n| n.destination.as_str() == d)
            .map(|n| n.why.clone())
    };
    assert_eq!(
        why("https://attacker.example"),
        Some(Why::BlockedByEnforced)
    );
    assert_eq!(
        why("https://a.app.example"),
        Some(Why::BelowReach { reach: 1, min: 2 })
    );
    assert!(
        why("https://unverified.example").is_none(),
        "unverified reports teach nothing"
    );
    // Unused: an observation from one client keeps no source alive.
    let uses = [connect_src::learn::test_use(
        "https://api.app.example",
        "https://app.example",
        9,
        1,
    )];
    let u = unused(&enforced, &uses, 2);
    assert!(u.iter().all(|s| !s.used), "{u:#?}");
}

/// `CspLayer` around a handler, as tower services.
trait Around {
    fn into_service_around<F, Fut>(
        self,
        f: F,
    ) -> tower::util::BoxCloneService<Request<Body>, Response, std::convert::Infallible>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = &'static str> + Send + 'static;
}

impl Around for connect_src::CspLayer {
    fn into_service_around<F, Fut>(
        self,
        f: F,
    ) -> tower::util::BoxCloneService<Request<Body>, Response, std::convert::Infallible>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = &'static str> + Send + 'static,
    {
        let svc = tower::service_fn(move |_req: Request<Body>| {
            let f = f.clone();
            async move { Ok::<_, std::convert::Infallible>(f().await.into_response()) }
        });
        tower::util::BoxCloneService::new(tower::Layer::layer(&self, svc))
    }
}
