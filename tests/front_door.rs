//! The front door: an app defined once with [`Csp`] gets its layers, its report route and
//! its admin routes from one definition, and the traps of wiring them by hand are gone.
//! The first test runs real browsers (Chromium, Firefox ESR, WebKitGTK) against an app so
//! defined, with provenance on: their reports must come out `genuine`.
#![cfg(feature = "collector")]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::header::{CONTENT_SECURITY_POLICY as CSP_HEADER, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use connect_src::policy::{Provenance, PROVENANCE_PARAMETER};
use connect_src::report::store::{
    BoxFuture, Class, MemorySink, ReportSink, ReportStore, StoreError, Violation, WriteOnly,
};
use connect_src::report::Collector;
use connect_src::{ConnectSrc, Csp, Environment, Policy};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[allow(dead_code)] // the suite's browser launcher; this file uses part of it
#[path = "browsers/engines.rs"]
mod engines;

/// A secret as `openssl rand -hex 32` would give (only ever a test's).
const SECRET: &[u8] = b"9f2c4e7a1b8d3f60c5e2a9147d8b3e6f0a1c5d9e2b7f4a8c3d6e1f0b9a2c7e5d";

fn provenance() -> Provenance {
    Provenance::new(SECRET.to_vec()).unwrap()
}

async fn body_text(res: Response) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn token_of(csp: &str) -> &str {
    let at = csp
        .find(PROVENANCE_PARAMETER)
        .expect("a token in the report URI")
        + 10;
    &csp[at..at + 32]
}

/// Pages that try a blocked connection, then (on `/`) go on to the route with its own
/// policy, where a same-origin fetch is blocked by `connect-src 'none'`.
const HOME: &str = r#"<!doctype html><title>home</title><script>
fetch("http://localhost:" + location.port + "/data").catch(() => {});
setTimeout(() => { location.href = "/embed"; }, 400);
</script>"#;
const EMBED: &str = r#"<!doctype html><title>embed</title><script>
fetch("/data").catch(() => {});
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defined_once_real_browsers_reports_are_genuine() {
    let store = MemorySink::new();
    let csp = Csp::builder()
        .policy(Policy::builder().enforce(ConnectSrc::builder().self_origin()))
        .provenance(provenance())
        .store(store.clone())
        .build()
        .unwrap();
    let embed = csp.route_layer(|p| p.enforce(ConnectSrc::none())).unwrap();
    let app = Router::new()
        .route("/", get(|| async { Html(HOME) }))
        .route("/embed", get(|| async { Html(EMBED) }).route_layer(embed))
        .route("/data", get(|| async { "{}" }))
        .merge(csp.report_router())
        .merge(csp.admin_router())
        .layer(csp.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut ran = 0;
    for engine in engines::Engine::ALL {
        if !engines::browser_available(engine) {
            continue;
        }
        ran += 1;
        let before = store.recent().len();
        let browser = engines::launch(engine, &format!("http://127.0.0.1:{}/", addr.port()), None);
        // Both pages' reports: the app's policy on `/` and the route's on `/embed`.
        let deadline = Instant::now() + Duration::from_secs(45);
        let mine = |v: &Violation| v.effective_directive == "connect-src";
        let got = loop {
            let got: Vec<Violation> = store.recent()[before..]
                .iter()
                .filter(|v| mine(v))
                .cloned()
                .collect();
            let home = got.iter().any(|v| v.document_url.ends_with('/'));
            let embedded = got.iter().any(|v| v.document_url.ends_with("/embed"));
            if (home && embedded) || Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        drop(browser);
        let name = engine.name();
        assert!(
            got.iter()
                .any(|v| v.document_url.ends_with('/')
                    && v.blocked_url.starts_with("http://localhost:")),
            "{name}: the app page's report arrived: {got:#?}"
        );
        assert!(
            got.iter()
                .any(|v| v.document_url.ends_with("/embed") && v.blocked_url.ends_with("/data")),
            "{name}: the route page's report arrived: {got:#?}"
        );
        for v in &got {
            assert_eq!(v.class, Class::Genuine, "{name}: {v:#?}");
        }
    }
    if ran == 0 {
        eprintln!(
            "\n!!!!!! SKIPPED: no browser installed (bash scripts/test.sh installs them) !!!!!!\n"
        );
        return;
    }
    // The read side agrees, on the admin router the same definition gave.
    let res = reqwest_like_get(addr, "/csp-reports/summary").await;
    assert!(res.contains("\"class\":\"genuine\""), "{res}");
    assert!(!res.contains("\"class\":\"foreign\""), "{res}");
}

/// A plain HTTP/1.1 GET over a TCP stream (no client crate needed for one request).
async fn reqwest_like_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// One report request, as a browser's legacy `report-uri` POST (to `uri`), of the report-
/// only policy when `uri` says so (as the layer writes it).
fn report_request(uri: &str, blocked: &str, policy: &str) -> Request<Body> {
    let disposition = if uri.contains("disposition=report") {
        "report"
    } else {
        "enforce"
    };
    let body = serde_json::json!({"csp-report": {
        "document-uri": "https://app.example/page",
        "effective-directive": "connect-src",
        "blocked-uri": blocked,
        "original-policy": policy,
        "disposition": disposition,
    }})
    .to_string();
    Request::post(uri)
        .header(CONTENT_TYPE, "application/csp-report")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn accept_reads_the_token_from_the_query_as_the_endpoint_does() {
    let store = MemorySink::new();
    let csp = Csp::builder()
        .policy(Policy::builder().enforce(ConnectSrc::builder().self_origin()))
        .provenance(provenance())
        .store(store.clone())
        .build()
        .unwrap();
    let served = csp.policy().enforced_header().unwrap();
    let digest = connect_src::policy::text::policy_digest(&served);
    let token = provenance().policies_token_at(SystemTime::now(), &[digest.as_str()]);
    // The header the layer serves carries today's token in its report URI.
    let res = csp
        .layer()
        .layer_service()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let on_the_wire = res.headers()[CSP_HEADER].to_str().unwrap().to_owned();
    assert_eq!(token_of(&on_the_wire), token);

    let with = format!("/csp-reports?{PROVENANCE_PARAMETER}={token}&csp-policy={digest}");
    csp.collector()
        .accept(report_request(&with, "https://evil.example/x", &served))
        .await
        .unwrap();
    csp.collector()
        .accept(report_request(
            "/csp-reports",
            "https://evil.example/y",
            &served,
        ))
        .await
        .unwrap();
    let got: Vec<(String, Class)> = store
        .recent()
        .iter()
        .map(|v| (v.blocked_url.clone(), v.class))
        .collect();
    assert_eq!(
        got,
        [
            ("https://evil.example/x".to_owned(), Class::Genuine),
            ("https://evil.example/y".to_owned(), Class::Foreign),
        ]
    );
    // A request that is not a report is the endpoint's rejection, with its status.
    let err = csp
        .collector()
        .accept(Request::post("/csp-reports").body(Body::from("{")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// `tower::Layer::layer` around a service answering 200, as a router would put it.
trait LayerService {
    fn layer_service(
        self,
    ) -> tower::util::BoxCloneService<Request<Body>, Response, std::convert::Infallible>;
}

impl LayerService for connect_src::CspLayer {
    fn layer_service(
        self,
    ) -> tower::util::BoxCloneService<Request<Body>, Response, std::convert::Infallible> {
        let svc = tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, std::convert::Infallible>("ok".into_response())
        });
        tower::util::BoxCloneService::new(tower::Layer::layer(&self, svc))
    }
}

#[tokio::test]
async fn the_dashboard_suggests_from_the_apps_policy_not_the_route_made_last() {
    let store = MemorySink::new();
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(
                    ConnectSrc::builder()
                        .self_origin()
                        .host("https://api.example")
                        .host("https://cdn.example"),
                )
                .report_only(ConnectSrc::builder().self_origin()),
        )
        .store(store.clone())
        .build()
        .unwrap();
    // Routes' own layers, made after the app's: the wrong one used to win (its enforced
    // 'none' would block what the app's enforced list allows, and nothing be proposed).
    let _admin = csp
        .route_layer(|p| {
            p.enforce(ConnectSrc::none())
                .report_only(ConnectSrc::none())
        })
        .unwrap();
    let served = csp.served_policies().snapshot();
    assert_eq!(served.iter().filter(|s| s.is_current()).count(), 2);
    assert!(served[0].is_route(), "the route's, newest first");
    let report_only = csp.policy().report_only_header().unwrap();
    // From two client networks: learning rests on reach.
    for peer in ["198.51.100.7:1000", "203.0.113.7:1000"] {
        let mut req = report_request(
            "/csp-reports?disposition=report",
            "https://cdn.example/x",
            &report_only,
        );
        req.extensions_mut().insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().unwrap(),
        ));
        csp.collector().accept(req).await.unwrap();
    }
    let html = body_text(
        csp.admin_router::<()>()
            .oneshot(
                Request::get("/csp-reports/dashboard")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap(),
    )
    .await;
    assert!(
        html.contains("the report-only policy the app serves now"),
        "{html}"
    );
    assert!(
        html.contains("&#x27;self&#x27; https:&#x2F;&#x2F;cdn.example</pre>"),
        "the app's report-only list plus what it lacks: {html}"
    );
    assert!(
        !html.contains("&#x27;none&#x27;"),
        "never the route's: {html}"
    );
}

#[tokio::test]
async fn a_routes_policy_derives_from_the_apps() {
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .report_to("csp", "https://app.example/csp-reports")
                .environment(Environment::Development)
                .dev_server("localhost:5173"),
        )
        .provenance(provenance())
        .build()
        .unwrap();
    let route = csp
        .route_layer(|p| p.enforce(ConnectSrc::builder().source("http://localhost:*")))
        .unwrap();
    let res = route
        .layer_service()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = res.headers()[CSP_HEADER].to_str().unwrap().to_owned();
    // The app's reporting (with its token) and environment (a port wildcard is fine in
    // development), the route's own list.
    assert!(
        header.starts_with("connect-src http://localhost:*; report-uri /csp-reports?csp-token="),
        "{header}"
    );
    assert!(header.ends_with("; report-to csp"), "{header}");
    assert!(res.headers().contains_key("reporting-endpoints"));
    // A route cannot send its reports elsewhere than the collector.
    let err = csp
        .route_layer(|p| p.report_uri("/other"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("collector at /csp-reports"), "{err}");
}

#[tokio::test]
async fn report_paths_that_disagree_are_refused_at_build() {
    let err = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .report_uri("/csp")
                .report_to("csp", "https://app.example/csp"),
        )
        .report_path("/reports")
        .collector(Collector::builder().path("/elsewhere"))
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems().len(), 3, "{text}");
    assert!(
        text.contains("report-uri") && text.contains("report-to URL"),
        "{text}"
    );
    assert!(text.contains("collector path"), "{text}");
    assert!(
        Csp::builder().build().is_err(),
        "no policy: an error, not a default"
    );
    let csp = Csp::builder()
        .policy(
            Policy::builder()
                .enforce(ConnectSrc::builder().self_origin())
                .report_to("csp", "https://app.example/reports"),
        )
        .report_path("reports")
        .build()
        .unwrap();
    assert_eq!(csp.report_path(), "/reports");
    assert_eq!(csp.collector().path(), "/reports");
    assert_eq!(csp.policy().report_uri(), Some("/reports"));
}

#[tokio::test]
async fn handles_taken_before_provenance_still_sign() {
    let layer = Policy::builder()
        .enforce(ConnectSrc::builder().self_origin())
        .report_uri("/csp-reports")
        .build()
        .unwrap()
        .layer();
    let handle = layer.handle();
    let layer = layer.provenance(provenance());
    handle.set(
        Policy::builder()
            .enforce(ConnectSrc::none())
            .report_uri("/csp-reports")
            .build()
            .unwrap(),
    );
    let res = layer
        .layer_service()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = res.headers()[CSP_HEADER].to_str().unwrap();
    assert!(
        header.starts_with("connect-src 'none'; report-uri /csp-reports?csp-token="),
        "{header}"
    );
    let digest = connect_src::policy::text::policy_digest(header);
    assert!(provenance().verify_policies_at(
        token_of(header),
        &[digest.as_str()],
        SystemTime::now()
    ));
}

/// A sink of one's own that cannot be read back.
struct Queue;
impl ReportSink for Queue {
    fn submit(&self, _batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_write_only_store_says_so_on_the_read_side() {
    let c = Collector::builder().store(WriteOnly(Queue)).build();
    let res = c
        .admin_router::<()>()
        .oneshot(
            Request::get("/csp-reports/summary")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = body_text(res).await;
    assert!(text.contains("keeps no reports to read back"), "{text}");
    assert!(matches!(
        c.store().summary(1).await,
        Err(StoreError::Unsupported(_))
    ));
}

#[test]
fn environments_parse_from_configuration() {
    assert_eq!(
        "PROD".parse::<Environment>().unwrap(),
        Environment::Production
    );
    assert_eq!(
        "development".parse::<Environment>().unwrap(),
        Environment::Development
    );
    let e = "staging".parse::<Environment>().unwrap_err().to_string();
    assert!(e.contains("\"staging\"") && e.contains("production"), "{e}");
}
