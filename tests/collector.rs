//! The report collector in a real axum router: every report shape, every status code, CORS,
//! noise, hostile input, the dashboard's escaping, and the memory store's bounds.
#![cfg(feature = "collector")]

use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::store::{
    BoxFuture, Disposition, ReportFormat, ReportSink, ReportStore, StoreError, Summary, Violation,
    WriteOnly, OVERFLOW,
};
use connect_src::report::{Collector, MemorySink};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The collector's two routers on one app, as tests reach both sides through one router.
fn both(c: connect_src::report::Collector) -> axum::Router {
    c.report_router().merge(c.admin_router())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/reports/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn parse(name: &str) -> connect_src::report::intake::Parsed {
    parse_reports(&fixture(name), &NormalizeOptions::default()).unwrap()
}

async fn post(app: &Router, ct: Option<&str>, body: impl Into<Body>) -> Response {
    let mut req = Request::post("/csp-reports");
    if let Some(ct) = ct {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    app.clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap()
}

async fn text(res: Response) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn app_with(store: MemorySink) -> Router {
    both(Collector::builder().store(store).build())
}

// ---- shapes and quirks -------------------------------------------------------------------

#[test]
fn chromium_legacy_captured_from_a_real_browser() {
    let p = parse("chromium-legacy-captured.json");
    let v = &p.violations[0];
    assert_eq!(v.format, ReportFormat::Legacy);
    assert_eq!(v.document_url, "http://127.0.0.1:3917/");
    assert_eq!(v.blocked_url, "http://localhost:3917/api/data");
    assert_eq!(
        v.blocked_origin.as_ref().unwrap().as_str(),
        "http://localhost:3917"
    );
    assert_eq!(v.effective_directive, "connect-src");
    assert_eq!(v.disposition, Disposition::Enforce);
    assert_eq!(
        (v.status_code, v.line, v.column),
        (Some(200), Some(36), Some(15))
    );
    assert_eq!(v.sample, None, "Chromium's empty sample is no sample");
    assert!(v
        .original_policy
        .as_deref()
        .unwrap()
        .starts_with("connect-src 'self'"));
}

#[test]
fn legacy_query_strings_are_stripped() {
    let p = parse("chromium-legacy.json");
    let v = &p.violations[0];
    assert_eq!(v.document_url, "http://127.0.0.1:3917/");
    assert_eq!(v.blocked_url, "http://localhost:3917/api/data");
    let p = parse("firefox-legacy.json");
    let v = &p.violations[0];
    assert_eq!(
        v.blocked_url, "https://evil.example/collect",
        "card number dropped"
    );
    assert_eq!(
        v.source_file.as_deref(),
        Some("https://app.example/static/app.js")
    );
    assert_eq!(v.referrer.as_deref(), Some("https://app.example/cart"));
    assert_eq!(v.document_path(), "/checkout");
}

#[test]
fn query_kept_when_asked() {
    let mut o = NormalizeOptions::default();
    o.strip_query = false;
    let p = parse_reports(&fixture("firefox-legacy.json"), &o).unwrap();
    assert!(p.violations[0]
        .blocked_url
        .ends_with("?cc=4111111111111111"));
}

#[test]
fn reporting_api_batches_from_chromium_and_firefox() {
    let p = parse("chromium-reports-api.json");
    let v = &p.violations[0];
    assert_eq!(v.format, ReportFormat::ReportingApi);
    assert_eq!(v.blocked_url, "wss://realtime.example/socket");
    assert_eq!(
        v.blocked_origin.as_ref().unwrap().as_str(),
        "wss://realtime.example"
    );
    assert!(v.user_agent.as_deref().unwrap().contains("Chrome/156"));
    assert_eq!((v.line, v.column), (Some(3), Some(7)));
    let p = parse("firefox-reports-api.json");
    let v = &p.violations[0];
    assert_eq!(v.disposition, Disposition::Report);
    assert_eq!(
        (v.sample.as_deref(), v.referrer.as_deref()),
        (None, None),
        "nulls"
    );
}

#[test]
fn safari_single_object() {
    let p = parse("safari-single.json");
    assert_eq!(p.violations.len(), 1);
    assert_eq!(p.violations[0].format, ReportFormat::ReportingApiSingle);
    assert_eq!(
        p.violations[0].blocked_url,
        "https://cdn.other.example/x.json"
    );
}

#[test]
fn other_report_types_are_skipped_and_counted() {
    let p = parse("mixed-batch.json");
    assert_eq!(p.violations.len(), 1);
    assert_eq!(p.other_types, 3);
}

#[test]
fn numbers_as_strings_nulls_unknown_keys_and_missing_effective_directive() {
    let p = parse("quirks-strings-nulls.json");
    let v = &p.violations[0];
    assert_eq!(
        v.effective_directive, "connect-src",
        "first word of violated-directive"
    );
    assert_eq!(v.status_code, Some(200));
    assert_eq!(v.line, Some(17));
    assert_eq!(v.column, None);
    assert_eq!(
        v.disposition,
        Disposition::Report,
        "\"reporting\" means report"
    );
    let p = parse("old-firefox-json.json");
    assert_eq!(p.violations[0].effective_directive, "default-src");
    assert_eq!(p.violations[0].disposition, Disposition::Unknown);
}

#[test]
fn keyword_and_missing_blocked_uris() {
    let p = parse("keyword-blocked.json");
    let blocked: Vec<&str> = p
        .violations
        .iter()
        .map(|v| v.blocked_url.as_str())
        .collect();
    assert_eq!(blocked, ["inline", "eval", "data", "blob", "", ""]);
    assert_eq!(p.violations[2].blocked_origin, None, "data has no origin");
}

// ---- the router ----------------------------------------------------------------------------

#[tokio::test]
async fn accepts_each_content_type_and_stores() {
    let store = MemorySink::new();
    let app = app_with(store.clone());
    for (name, ct) in [
        ("chromium-legacy.json", "application/csp-report"),
        ("chromium-reports-api.json", "application/reports+json"),
        ("safari-single.json", "application/csp-report"),
        ("firefox-legacy.json", "application/json; charset=utf-8"),
    ] {
        let res = post(&app, Some(ct), fixture(name)).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{name}");
    }
    let s = store.summary(100).await.unwrap();
    assert_eq!(s.total, 4);
    assert_eq!(s.groups.len(), 4);
}

#[tokio::test]
async fn noise_is_filtered_and_counted() {
    let store = MemorySink::new();
    let collector = Collector::builder().store(store.clone()).build();
    let app: Router = collector.report_router().merge(collector.admin_router());
    let res = post(
        &app,
        Some("application/reports+json"),
        fixture("noise.json"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let s = store.summary(10).await.unwrap();
    assert_eq!((s.total, s.filtered), (1, 2));
    assert_eq!(s.groups[0].blocked_origin, "https://real.example");
    assert_eq!(collector.stats().filtered, 2);
    assert_eq!(collector.stats().accepted, 1);
}

#[tokio::test]
async fn status_415_for_other_content_types() {
    let app = app_with(MemorySink::new());
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
    ] {
        let res = post(&app, ct, fixture("chromium-legacy.json")).await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert!(text(res).await.contains("application/csp-report"));
    }
}

#[tokio::test]
async fn status_400_says_why() {
    let app = app_with(MemorySink::new());
    for (body, needle) in [
        (&b"{not json"[..], "malformed JSON"),
        (b"", "empty body"),
        (b"42", "not a CSP report"),
        (b"\"a string\"", "not a CSP report"),
        (b"{\"hello\":1}", "csp-report"),
        (b"{\"csp-report\":7}", "not a CSP report"),
        // A batch's elements are read one by one: none of these is a report.
        (b"[1,2,3]", "none of the 3 CSP reports is usable"),
        (b"[{\"type\":\"csp-violation\"}]", "no body"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{\"csp-report\":{}} trailing", "malformed JSON"),
    ] {
        let res = post(&app, Some("application/csp-report"), body.to_vec()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let t = text(res).await;
        assert!(t.contains(needle), "{body:?}: {t}");
    }
}

#[tokio::test]
async fn deep_nesting_is_a_400_not_a_stack_overflow() {
    let app = app_with(MemorySink::new());
    for deep in [
        format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)),
        format!("{}1{}", "{\"a\":".repeat(6_000), "}".repeat(6_000)),
        format!(
            "[{}{}]",
            "{\"type\":\"csp-violation\",\"body\":".repeat(1_000),
            "}".repeat(1_000)
        ),
    ] {
        let res = post(&app, Some("application/json"), deep).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let t = text(res).await;
        assert!(
            t.starts_with("not a CSP report")
                || t.starts_with("malformed JSON")
                || t.starts_with("not a usable CSP report"),
            "{t}"
        );
    }
    // Arrays in place of report objects are not reports.
    for body in [
        "[[[\"x\"]]]",
        "{\"csp-report\":[\"https://a\"]}",
        "[{\"type\":\"csp-violation\",\"body\":[1]}]",
    ] {
        let res = post(&app, Some("application/json"), body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // Nested inside a field, the value is skipped (serde_json skips without recursing) and
    // the field treated as absent: as deep as the 64 KiB limit allows, no crash.
    let store = MemorySink::new();
    let app = app_with(store.clone());
    let deep = format!(
        "{{\"csp-report\":{{\"effective-directive\":\"connect-src\",\"blocked-uri\":{}1{}}}}}",
        "[".repeat(32_000),
        "]".repeat(32_000)
    );
    let res = post(&app, Some("application/json"), deep).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.recent()[0].blocked_url, "");
}

#[tokio::test]
async fn status_413_over_the_limit_with_or_without_content_length() {
    let store = MemorySink::new();
    let app: Router = both(
        Collector::builder()
            .store(store.clone())
            .body_limit(1024)
            .build(),
    );
    let big = format!(
        "{{\"csp-report\":{{\"blocked-uri\":\"{}\"}}}}",
        "a".repeat(2000)
    );
    let res = post(&app, Some("application/csp-report"), big.clone()).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text(res).await.contains("1024"));
    // Streamed without Content-Length: still cut at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks));
    let res = post(&app, Some("application/csp-report"), stream).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(store.summary(1).await.unwrap().total, 0);
}

#[tokio::test]
async fn default_limit_is_64_kib() {
    let app = app_with(MemorySink::new());
    let ok = format!(
        "{{\"csp-report\":{{\"effective-directive\":\"connect-src\",\"blocked-uri\":\"https://a.example/{}\"}}}}",
        "a".repeat(60 * 1024)
    );
    assert_eq!(
        post(&app, Some("application/csp-report"), ok)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let big = format!(
        "{{\"csp-report\":{{\"blocked-uri\":\"{}\"}}}}",
        "a".repeat(65 * 1024)
    );
    assert_eq!(
        post(&app, Some("application/csp-report"), big)
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn ten_thousand_element_array_is_capped() {
    let store = MemorySink::new();
    let collector = Collector::builder()
        .store(store.clone())
        .body_limit(4 << 20)
        .build();
    let app: Router = collector.report_router().merge(collector.admin_router());
    let one = r#"{"type":"csp-violation","body":{"documentURL":"https://a.example/","blockedURL":"https://b.example/","effectiveDirective":"connect-src"}}"#;
    let body = format!("[{}]", vec![one; 10_000].join(","));
    let res = post(&app, Some("application/reports+json"), body).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        store.summary(1).await.unwrap().total,
        100,
        "at most 100 reports per request"
    );
    assert_eq!(collector.stats().dropped, 9_900);
    // Ten thousand non-objects are a shape error, found without storing anything.
    let res = post(
        &app,
        Some("application/reports+json"),
        format!("[{}]", vec!["1"; 10_000].join(",")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn huge_strings_are_bounded() {
    let store = MemorySink::new();
    let app = app_with(store.clone());
    let body = format!(
        "{{\"csp-report\":{{\"effective-directive\":\"connect-src\",\"document-uri\":\"https://a.example/{}\",\"blocked-uri\":\"https://b.example/{}\",\"script-sample\":\"{}\"}}}}",
        "d".repeat(25_000),
        "é".repeat(8_000),
        "s".repeat(15_000)
    );
    assert_eq!(
        post(&app, Some("application/csp-report"), body)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let v = &store.recent()[0];
    assert!(v.document_url.len() <= 2048 && v.blocked_url.len() <= 2048);
    assert!(v.sample.as_ref().unwrap().len() <= 2048);
    assert!(v.blocked_url.ends_with('é'), "cut on a character boundary");
}

struct FullSink;
impl ReportSink for FullSink {
    fn submit(&self, _: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::Full) })
    }
}

#[tokio::test]
async fn status_503_when_the_sink_is_full() {
    let app: Router = both(Collector::builder().store(WriteOnly(FullSink)).build());
    let res = post(
        &app,
        Some("application/csp-report"),
        fixture("chromium-legacy.json"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[header::RETRY_AFTER], "60");
}

#[tokio::test]
async fn cors_preflight_and_allowed_origins() {
    let any: Router = both(Collector::builder().build());
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/csp-reports")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let res = any
        .clone()
        .oneshot(preflight("https://app.example"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert!(res.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "content-type"
    );

    let only: Router = both(
        Collector::builder()
            .allow_origin("https://app.example")
            .unwrap()
            .build(),
    );
    let res = only
        .clone()
        .oneshot(preflight("https://app.example"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = only
        .clone()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    // The POST itself carries the CORS header for allowed origins.
    let req = Request::post("/csp-reports")
        .header(header::ORIGIN, "https://app.example")
        .header(header::CONTENT_TYPE, "application/reports+json")
        .body(Body::from(fixture("chromium-reports-api.json")))
        .unwrap();
    let res = only.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    // A refusal is not for a cross-origin page to read, and it never echoes the body.
    let req = Request::post("/csp-reports")
        .header(header::ORIGIN, "https://app.example")
        .header(header::CONTENT_TYPE, "application/reports+json")
        .body(Body::from(
            "{\"csp-report\": \"<img src=x onerror=alert(1)>\"}",
        ))
        .unwrap();
    let res = only.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let t = text(res).await;
    assert!(!t.contains("onerror") && !t.contains('<'), "{t}");
}

// ---- the read side -------------------------------------------------------------------------

#[tokio::test]
async fn summary_json_shape_and_capped_groups() {
    let store = MemorySink::new();
    let app: Router = both(
        Collector::builder()
            .store(store.clone())
            .summary_limit(2)
            .build(),
    );
    for i in 0..5 {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://app.example/p","blocked-uri":"https://h{i}.example/x?q","effective-directive":"connect-src","disposition":"report"}}}}"#
        );
        post(&app, Some("application/csp-report"), body).await;
    }
    post(
        &app,
        Some("application/csp-report"),
        fixture("chromium-legacy.json"),
    )
    .await;
    let res = app
        .clone()
        .oneshot(
            Request::get("/csp-reports/summary")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(json["total"], 6, "total is never capped");
    assert_eq!(json["filtered"], 0);
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "groups are capped");
    let keys: Vec<&str> = groups[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "directive",
        "blocked_origin",
        "document_path",
        "disposition",
        "count",
        "first_seen",
        "last_seen",
        "sample",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert!(groups[0]["first_seen"].as_str().unwrap().ends_with('Z'));
}

/// A store whose reads fail: the read side must say so with a 500, never show zeros.
#[derive(Clone)]
struct UnreadableStore;

impl ReportSink for UnreadableStore {
    fn submit(&self, _batch: Vec<Violation>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

impl ReportStore for UnreadableStore {
    fn summary(&self, _limit: usize) -> BoxFuture<'_, Result<Summary, StoreError>> {
        Box::pin(async {
            Err(StoreError::database(std::io::Error::other(
                "disk I/O error",
            )))
        })
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_read_answers_500_not_zeros() {
    let app = both(Collector::builder().store(UnreadableStore).build());
    for path in ["/csp-reports/summary", "/csp-reports/dashboard"] {
        let res = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let body = text(res).await;
        assert!(
            body.contains("could not be read") && body.contains("disk I/O error"),
            "{path}: {body}"
        );
        assert!(!body.contains("\"total\""), "{path}: {body}");
    }
    // The write side is unaffected.
    let res = post(
        &app,
        Some("application/csp-report"),
        fixture("chromium-legacy.json"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn dashboard_escapes_every_field_and_has_a_strict_csp() {
    let store = MemorySink::new();
    let app = app_with(store.clone());
    let evil = r#"<script>document.title='pwned'</script>"#;
    let attr = r#""><img src=x onerror=alert(1)>"#;
    let body = serde_json::json!({"csp-report": {
        "document-uri": format!("https://app.example/{evil}"),
        "blocked-uri": format!("https://{attr}.example/{evil}"),
        // The directive is stored only as a name CSP defines: nothing to inject there.
        "effective-directive": "connect-src",
        "violated-directive": format!("connect-src {evil}"),
        "disposition": format!("enforce{attr}"),
        "script-sample": evil,
        "source-file": evil,
        "referrer": attr,
    }});
    let res = post(&app, Some("application/csp-report"), body.to_string()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .clone()
        .oneshot(
            Request::get("/csp-reports/dashboard")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = text(res).await;
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(!html.contains("<img"), "unescaped img tag");
    assert!(html.contains("&lt;script&gt;"), "escaped text shown");
    assert!(
        html.contains("onerror=alert(1)&gt;"),
        "attribute payload shown as text"
    );
    let res = app
        .oneshot(
            Request::get("/csp-reports/dashboard.css")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/css");
}

/// An app-wide CSP layer around the collector's routes (as the quickstart mounts them)
/// leaves the dashboard's own strict policy as it is: in merge mode it would otherwise
/// replace the dashboard's connect-src with the app's.
#[tokio::test]
async fn an_app_wide_layer_leaves_the_dashboards_policy_alone() {
    use connect_src::{ConnectSrc, HeaderMode, Policy};
    let policy = Policy::builder()
        .enforce(
            "'self' https://api.example.com"
                .parse::<ConnectSrc>()
                .unwrap(),
        )
        .report_uri("/csp-reports")
        .build()
        .unwrap();
    for mode in [
        HeaderMode::Merge,
        HeaderMode::Override,
        HeaderMode::IfAbsent,
    ] {
        let collector = Collector::builder().store(MemorySink::new()).build();
        let app = Router::new()
            .route("/", axum::routing::get(|| async { "hello" }))
            .merge(collector.report_router().merge(collector.admin_router()))
            .layer(policy.layer().mode(mode));
        let get = |path: &'static str| {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        let res = get("/csp-reports/dashboard").await.unwrap();
        let csps: Vec<_> = res
            .headers()
            .get_all(header::CONTENT_SECURITY_POLICY)
            .iter()
            .collect();
        assert_eq!(csps.len(), 1, "{mode:?}: {csps:?}");
        assert!(
            csps[0].to_str().unwrap().starts_with("default-src 'none'")
                && !csps[0].to_str().unwrap().contains("api.example.com"),
            "{mode:?}: {csps:?}"
        );
        // The app's own pages still get the app's policy.
        let res = get("/").await.unwrap();
        assert_eq!(
            res.headers()[header::CONTENT_SECURITY_POLICY],
            "connect-src 'self' https://api.example.com; report-uri /csp-reports",
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn read_side_can_be_mounted_separately() {
    let collector = Collector::builder().build();
    let public: Router = collector.report_router();
    let res = public
        .oneshot(
            Request::get("/csp-reports/summary")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the public router has no read side"
    );
    let admin: Router = Router::new().nest("/admin", collector.admin_router());
    let res = admin
        .oneshot(
            Request::get("/admin/csp-reports/summary")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

// ---- memory bounds -------------------------------------------------------------------------

#[tokio::test]
async fn memory_store_stays_bounded_under_unique_urls() {
    let store = MemorySink::with_limits(100, 1_000);
    let now = SystemTime::now();
    let template = parse("chromium-legacy.json").violations.remove(0);
    for chunk in 0..200 {
        let batch: Vec<Violation> = (0..1_000)
            .map(|i| {
                let mut v = template.clone();
                v.set_blocked_url(format!("https://u{chunk}x{i}.flood.example/p"));
                v.received_at = now;
                v
            })
            .collect();
        store.submit(batch).await.unwrap();
    }
    assert_eq!(store.recent().len(), 100);
    assert_eq!(
        store.group_count(),
        1_001,
        "1,000 groups plus the overflow bucket"
    );
    let s = store.summary(usize::MAX).await.unwrap();
    assert_eq!(s.total, 200_000);
    let overflow = s
        .groups
        .iter()
        .find(|g| g.blocked_origin == OVERFLOW)
        .unwrap();
    assert_eq!(overflow.count, 199_000);
    assert_eq!(s.groups.iter().map(|g| g.count).sum::<u64>(), 200_000);
}

/// Every body in tests/fixtures/reports/captured/ was POSTed by real headless Chromium 156
/// or Firefox ESR 153; names say browser, format and disposition.
#[test]
fn captured_bodies_from_real_browsers() {
    let dir = format!(
        "{}/tests/fixtures/reports/captured",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let p = parse_reports(&body, &NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.violations.len(), 1, "{name}");
        let v = &p.violations[0];
        let api = name.contains("reports-json");
        assert_eq!(
            v.format,
            if api {
                ReportFormat::ReportingApi
            } else {
                ReportFormat::Legacy
            },
            "{name}"
        );
        let want = if name.ends_with("-enforce.json") {
            Disposition::Enforce
        } else {
            Disposition::Report
        };
        assert_eq!(v.disposition, want, "{name}");
        assert_eq!(v.effective_directive, "connect-src", "{name}");
        assert!(
            v.blocked_url.starts_with("http") && !v.blocked_url.contains('?'),
            "{name}: {}",
            v.blocked_url
        );
        assert!(
            v.document_url.contains("/case/") && !v.document_url.contains('?'),
            "{name}"
        );
        assert_eq!(v.status_code, Some(200), "{name}");
        assert!(v.line.is_some() && v.source_file.is_some(), "{name}");
        assert_eq!(
            v.user_agent.is_some(),
            api,
            "{name}: user agent only in Reporting API bodies"
        );
        if name.starts_with("firefox") {
            assert_eq!(v.sample, None, "{name}: Firefox sends no sample");
        }
        seen += 1;
    }
    assert_eq!(seen, 10);
}

/// WebKit's reports say nothing of their disposition; the report-only header's report-uri
/// carries a marker (`?disposition=report`) so the collector still knows.
#[tokio::test]
async fn the_report_only_marker_gives_webkit_reports_their_disposition() {
    let store = MemorySink::new();
    let app = app_with(store.clone());
    // The shape WebKitGTK 2.50 sends (docs/engine-probe/reports), trimmed.
    let body = r#"{"type":"csp-violation","url":"http://a.localhost:8081/p","csp-report":{
        "document-uri":"http://a.localhost:8081/p","effective-directive":"connect-src",
        "violated-directive":"connect-src","blocked-uri":"http://c.localhost:8082/x",
        "original-policy":"connect-src 'self'; report-uri /csp-reports?disposition=report",
        "status-code":200}}"#;
    for path in [
        "/csp-reports?disposition=report",
        "/csp-reports",
        "/csp-reports?x=1",
    ] {
        let res = app
            .clone()
            .oneshot(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/csp-report")
                    .header(header::ORIGIN, "null")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
    }
    let mut d: Vec<Disposition> = store.recent().iter().map(|v| v.disposition).collect();
    d.sort();
    assert_eq!(
        d,
        [
            Disposition::Report,
            Disposition::Unknown,
            Disposition::Unknown
        ]
    );
    // A report that says its disposition keeps it, marker or not.
    let said = body.replace(
        r#""status-code":200"#,
        r#""status-code":200,"disposition":"enforce""#,
    );
    let res = app
        .clone()
        .oneshot(
            Request::post("/csp-reports?disposition=report")
                .header(header::CONTENT_TYPE, "application/csp-report")
                .body(Body::from(said))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        store.recent().last().unwrap().disposition,
        Disposition::Enforce
    );
}

/// The collector learns the served policies from the app's layer: a report of the current
/// policy is genuine; after a swap, a report of the old one is stale.
#[tokio::test]
async fn reports_are_classed_against_the_layers_policies() {
    use connect_src::report::store::Class;
    use connect_src::{ConnectSrc, Policy};

    let policy = |list: &str| {
        Policy::builder()
            .enforce(list.parse::<ConnectSrc>().unwrap())
            .report_uri("/csp-reports")
            .build()
            .unwrap()
    };
    let layer = policy("'self' https://api.example.com").layer();
    let store = MemorySink::new();
    let app = both(
        Collector::builder()
            .store(store.clone())
            .served_policies(layer.served_policies())
            .build(),
    );
    let body = |policy: &str| {
        serde_json::json!({"csp-report": {
            "document-uri": "https://app.example.com/", "blocked-uri": "https://evil.example/x",
            "effective-directive": "connect-src", "original-policy": policy}})
        .to_string()
    };
    let first = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
    post(&app, Some("application/csp-report"), body(first)).await;
    layer.handle().set(policy("'self'"));
    post(&app, Some("application/csp-report"), body(first)).await;
    post(
        &app,
        Some("application/csp-report"),
        body("connect-src 'self'; report-uri /csp-reports"),
    )
    .await;
    let classes: Vec<Class> = store.recent().iter().map(|v| v.class).collect();
    assert_eq!(classes, [Class::Genuine, Class::Stale, Class::Genuine]);
}

/// With a provenance secret, the layer's report URLs carry a token; the collector classes
/// reports without a valid one as foreign, whatever policy they claim.
#[tokio::test]
async fn reports_without_the_layers_token_are_foreign() {
    use axum::routing::get;
    use connect_src::policy::{Provenance, PROVENANCE_PARAMETER};
    use connect_src::report::store::Class;
    use connect_src::{ConnectSrc, Policy};

    let provenance = Provenance::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
    let layer = Policy::builder()
        .enforce(ConnectSrc::builder().self_origin())
        .report_only(ConnectSrc::none())
        .report_uri("/csp-reports")
        .report_to("csp", "https://app.example.com/csp-reports")
        .build()
        .unwrap()
        .layer()
        .provenance(provenance.clone());
    let store = MemorySink::new();
    let app = Router::new()
        .route("/page", get(|| async { "hi" }))
        .layer(layer.clone())
        .merge(both(
            Collector::builder()
                .store(store.clone())
                .served_policies(layer.served_policies())
                .provenance(provenance.clone())
                .build(),
        ));
    let res = app
        .clone()
        .oneshot(Request::get("/page").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    let uri = csp
        .split("report-uri ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let param = |name: &str| {
        uri.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
            .to_owned()
    };
    let (token, digest) = (param(PROVENANCE_PARAMETER), param("csp-policy"));
    // The token covers the enforced header's policy, named by its digest.
    assert_eq!(digest, connect_src::policy::text::policy_digest(csp));
    assert!(
        provenance.verify_policies_at(&token, &[digest.as_str()], SystemTime::now()),
        "{csp}"
    );
    let ro = res.headers()[header::CONTENT_SECURITY_POLICY_REPORT_ONLY]
        .to_str()
        .unwrap();
    assert!(ro.contains("?disposition=report&csp-token="), "{ro}");
    let endpoints = res.headers()["reporting-endpoints"].to_str().unwrap();
    // The Reporting-Endpoints URL serves both headers: its token covers both policies.
    let ro_digest = connect_src::policy::text::policy_digest(ro);
    assert!(
        endpoints.contains(&format!("csp-policy={digest}.{ro_digest}")),
        "{endpoints}"
    );

    let body = serde_json::json!({"csp-report": {
        "document-uri": "https://app.example.com/page", "blocked-uri": "https://evil.example/x",
        "effective-directive": "connect-src", "original-policy": csp}})
    .to_string();
    for path in [
        uri.to_owned(),
        "/csp-reports".to_owned(),
        format!("/csp-reports?{PROVENANCE_PARAMETER}=00000000000000000000000000000000"),
    ] {
        let res = app
            .clone()
            .oneshot(
                Request::post(&path)
                    .header(header::CONTENT_TYPE, "application/csp-report")
                    .body(Body::from(body.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
    }
    let classes: Vec<Class> = store.recent().iter().map(|v| v.class).collect();
    assert_eq!(classes, [Class::Genuine, Class::Foreign, Class::Foreign]);
}
