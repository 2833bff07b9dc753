//! The layer inside real axum routers, driven with `oneshot`.

use axum::body::Body;
use axum::http::header::{
    CONTENT_SECURITY_POLICY as CSP, CONTENT_SECURITY_POLICY_REPORT_ONLY as CSP_RO,
};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use connect_src::layer::REPORTING_ENDPOINTS;
use connect_src::{ConnectSrc, HeaderMode, Policy};
use tower::ServiceExt;

fn policy(list: &str) -> Policy {
    Policy::builder()
        .enforce(list.parse::<ConnectSrc>().unwrap())
        .report_uri("/csp-reports")
        .build()
        .unwrap()
}

async fn plain() -> &'static str {
    "hi"
}

async fn with_csp() -> Response {
    (
        [(
            CSP,
            "default-src 'self'; connect-src https://old.example; img-src data:",
        )],
        "hi",
    )
        .into_response()
}

async fn with_default_src_only() -> Response {
    (
        [(
            CSP,
            "default-src 'self' https://cdn.example; frame-ancestors 'none'",
        )],
        "hi",
    )
        .into_response()
}

async fn send(app: Router, path: &str) -> Response {
    app.oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn all(res: &Response, name: impl axum::http::header::AsHeaderName) -> Vec<String> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn app(mode: HeaderMode) -> Router {
    Router::new()
        .route("/plain", get(plain))
        .route("/csp", get(with_csp))
        .route("/default", get(with_default_src_only))
        .layer(policy("'self' https://api.myapp.com").layer().mode(mode))
}

#[tokio::test]
async fn merge_is_the_default_and_keeps_other_directives() {
    let app = Router::new()
        .route("/csp", get(with_csp))
        .route("/plain", get(plain))
        .layer(policy("'self' https://api.myapp.com").layer());
    let res = send(app.clone(), "/csp").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        all(&res, CSP),
        ["default-src 'self'; connect-src 'self' https://api.myapp.com; img-src data:; report-uri /csp-reports"]
    );
    let res = send(app, "/plain").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
    );
}

#[tokio::test]
async fn merge_adds_connect_src_next_to_default_src() {
    let res = send(app(HeaderMode::Merge), "/default").await;
    assert_eq!(
        all(&res, CSP),
        ["default-src 'self' https://cdn.example; frame-ancestors 'none'; connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
    );
}

#[tokio::test]
async fn append_adds_a_second_header() {
    let res = send(app(HeaderMode::Append), "/csp").await;
    assert_eq!(
        all(&res, CSP),
        [
            "default-src 'self'; connect-src https://old.example; img-src data:",
            "connect-src 'self' https://api.myapp.com; report-uri /csp-reports"
        ]
    );
}

#[tokio::test]
async fn if_absent_leaves_existing_header_alone() {
    let res = send(app(HeaderMode::IfAbsent), "/csp").await;
    assert_eq!(
        all(&res, CSP),
        ["default-src 'self'; connect-src https://old.example; img-src data:"]
    );
    let res = send(app(HeaderMode::IfAbsent), "/plain").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
    );
}

#[tokio::test]
async fn override_replaces_existing_header() {
    let res = send(app(HeaderMode::Override), "/csp").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
    );
}

#[tokio::test]
async fn merge_edits_every_existing_header_value() {
    async fn two() -> Response {
        let mut res = "hi".into_response();
        res.headers_mut()
            .append(CSP, HeaderValue::from_static("script-src 'self'"));
        res.headers_mut()
            .append(CSP, HeaderValue::from_static("connect-src *, img-src *"));
        res
    }
    let app = Router::new()
        .route("/", get(two))
        .layer(policy("'self'").layer());
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        [
            "script-src 'self'; connect-src 'self'; report-uri /csp-reports",
            "connect-src 'self'; report-uri /csp-reports, img-src *; connect-src 'self'; report-uri /csp-reports"
        ]
    );
}

#[tokio::test]
async fn merge_keeps_an_unreadable_header_and_adds_ours() {
    async fn opaque() -> Response {
        let mut res = "hi".into_response();
        res.headers_mut()
            .insert(CSP, HeaderValue::from_bytes(b"img-src \xff").unwrap());
        res
    }
    let app = Router::new()
        .route("/", get(opaque))
        .layer(policy("'self'").layer());
    let res = send(app, "/").await;
    let values: Vec<&[u8]> = res
        .headers()
        .get_all(CSP)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    // Kept byte for byte, ours added as a second policy in the same field.
    assert_eq!(
        values,
        [&b"img-src \xff, connect-src 'self'; report-uri /csp-reports"[..]]
    );
}

#[tokio::test]
async fn merge_memo_follows_the_handler_header() {
    // The same handler value twice, then a different one: the memo must not serve stale text.
    async fn varying(axum::extract::Path(n): axum::extract::Path<u32>) -> Response {
        let value = format!("img-src https://img{n}.example; connect-src *");
        ([(CSP, value)], "hi").into_response()
    }
    let app = Router::new()
        .route("/{n}", get(varying))
        .layer(policy("'self'").layer());
    for n in [1, 1, 2, 1] {
        let res = send(app.clone(), &format!("/{n}")).await;
        assert_eq!(
            all(&res, CSP),
            [format!(
                "img-src https://img{n}.example; connect-src 'self'; report-uri /csp-reports"
            )]
        );
    }
}

#[tokio::test]
async fn enforced_and_report_only_together_with_reporting_endpoints() {
    let p = Policy::builder()
        .enforce(
            ConnectSrc::builder()
                .self_origin()
                .host("https://api.myapp.com"),
        )
        .report_only(ConnectSrc::builder().self_origin())
        .report_uri("/csp-reports")
        .report_to("csp", "https://myapp.com/csp-reports")
        .build()
        .unwrap();
    let app = Router::new().route("/", get(plain)).layer(p.layer());
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports; report-to csp"]
    );
    assert_eq!(
        all(&res, CSP_RO),
        ["connect-src 'self'; report-uri /csp-reports?disposition=report; report-to csp"],
        "the report-only report-uri is marked, for browsers that do not say the disposition"
    );
    assert_eq!(
        all(&res, REPORTING_ENDPOINTS),
        [r#"csp="https://myapp.com/csp-reports""#]
    );
}

#[tokio::test]
async fn reporting_endpoints_merge_with_existing() {
    async fn existing() -> Response {
        (
            [(REPORTING_ENDPOINTS, r#"default="https://other.example/r""#)],
            "hi",
        )
            .into_response()
    }
    let p = Policy::builder()
        .enforce(ConnectSrc::builder().self_origin())
        .report_to("csp", "https://myapp.com/csp-reports")
        .build()
        .unwrap();
    let app = |mode| {
        Router::new()
            .route("/", get(existing))
            .layer(p.layer().mode(mode))
    };
    let res = send(app(HeaderMode::Merge), "/").await;
    assert_eq!(
        all(&res, REPORTING_ENDPOINTS),
        [
            r#"default="https://other.example/r""#,
            r#"csp="https://myapp.com/csp-reports""#
        ]
    );
    let res = send(app(HeaderMode::Override), "/").await;
    assert_eq!(
        all(&res, REPORTING_ENDPOINTS),
        [r#"csp="https://myapp.com/csp-reports""#]
    );
    let res = send(app(HeaderMode::IfAbsent), "/").await;
    assert_eq!(
        all(&res, REPORTING_ENDPOINTS),
        [r#"default="https://other.example/r""#]
    );
}

#[tokio::test]
async fn route_layer_policy_wins_for_its_route() {
    let strict = Policy::builder()
        .enforce(ConnectSrc::none())
        .build()
        .unwrap();
    let loose = policy("'self' https://api.myapp.com wss://ws.myapp.com");
    let app = Router::new()
        .route("/admin", get(plain))
        .route_layer(strict.layer())
        .route("/", get(plain))
        .layer(loose.layer());
    let res = send(app.clone(), "/admin").await;
    assert_eq!(all(&res, CSP), ["connect-src 'none'"]);
    let res = send(app.clone(), "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com wss://ws.myapp.com; report-uri /csp-reports"]
    );
    // route_layer does not run for unmatched paths; the outer layer still does.
    let res = send(app, "/missing").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com wss://ws.myapp.com; report-uri /csp-reports"]
    );
}

/// A middleware that runs the rest of the stack on another task (to isolate panics or
/// offload work), as many apps do.
async fn on_another_task(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_policy_wins_when_the_route_runs_on_another_task() {
    let strict = Policy::builder()
        .enforce(ConnectSrc::none())
        .build()
        .unwrap();
    let loose = policy("'self' https://api.myapp.com");
    let app = Router::new()
        .route("/admin", get(plain))
        .route_layer(strict.layer())
        .route("/", get(plain))
        .layer(axum::middleware::from_fn(on_another_task))
        .layer(loose.layer());
    for _ in 0..20 {
        let res = send(app.clone(), "/admin").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(all(&res, CSP), ["connect-src 'none'"], "the route's policy");
        let res = send(app.clone(), "/").await;
        assert_eq!(
            all(&res, CSP),
            ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
        );
    }
}

#[tokio::test]
async fn three_nested_layers_the_innermost_decides() {
    let app = Router::new()
        .route("/", get(plain))
        .route_layer(policy("'none'").layer())
        .layer(policy("'self'").layer().mode(HeaderMode::Override))
        .layer(policy("https://outer.example").layer());
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'none'; report-uri /csp-reports"]
    );
}

#[tokio::test]
async fn outer_append_layer_still_narrows_a_route_policy() {
    let inner = policy("'self' https://api.myapp.com");
    let outer = Policy::builder()
        .enforce(ConnectSrc::builder().self_origin())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(plain))
        .route_layer(inner.layer())
        .layer(outer.layer().mode(HeaderMode::Append));
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        [
            "connect-src 'self' https://api.myapp.com; report-uri /csp-reports",
            "connect-src 'self'"
        ]
    );
}

#[tokio::test]
async fn policy_swaps_at_run_time() {
    let layer = policy("'self'").layer();
    let handle = layer.handle();
    let app = Router::new().route("/", get(plain)).layer(layer);
    let res = send(app.clone(), "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self'; report-uri /csp-reports"]
    );

    handle.set(policy("'self' wss://ws.myapp.com"));
    let res = send(app.clone(), "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' wss://ws.myapp.com; report-uri /csp-reports"]
    );
    assert_eq!(
        handle.get().enforced().unwrap().value(),
        "'self' wss://ws.myapp.com"
    );
}

#[tokio::test]
async fn layer_runs_on_error_statuses_too() {
    async fn fail() -> (StatusCode, &'static str) {
        (StatusCode::INTERNAL_SERVER_ERROR, "boom")
    }
    let app = Router::new()
        .route("/", get(fail))
        .layer(policy("'self'").layer());
    let res = send(app, "/").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self'; report-uri /csp-reports"]
    );
}

#[test]
fn service_is_clone_send_sync_when_inner_is() {
    fn assert_bounds<T: Clone + Send + Sync + 'static>(_: &T) {}
    let svc = tower::ServiceBuilder::new()
        .layer(policy("'self'").layer())
        .service(tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }));
    assert_bounds(&svc);
}
