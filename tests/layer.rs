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
    // The handler's policy restricts connections: kept whole, ours beside it.
    assert_eq!(
        all(&res, CSP),
        [
            "default-src 'self'; connect-src https://old.example; img-src data:",
            "connect-src 'self' https://api.myapp.com; report-uri /csp-reports"
        ]
    );
    let res = send(app, "/plain").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
    );
}

/// A `connect-src` added next to `default-src` would take connections away from it (CSP3
/// §6.8.3) and could allow more: the handler's policy is kept and ours added beside it.
#[tokio::test]
async fn merge_keeps_a_default_src_policy_and_adds_ours_beside_it() {
    let res = send(app(HeaderMode::Merge), "/default").await;
    assert_eq!(
        all(&res, CSP),
        [
            "default-src 'self' https://cdn.example; frame-ancestors 'none'",
            "connect-src 'self' https://api.myapp.com; report-uri /csp-reports"
        ]
    );
}

/// A header that does not restrict connections gets our connect-src inside it: one policy.
#[tokio::test]
async fn merge_adds_connect_src_to_a_header_without_one() {
    async fn framing() -> Response {
        ([(CSP, "frame-ancestors 'none'; script-src 'self'")], "hi").into_response()
    }
    let app = Router::new()
        .route("/", get(framing))
        .layer(policy("'self' https://api.myapp.com").layer());
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        ["frame-ancestors 'none'; script-src 'self'; connect-src 'self' https://api.myapp.com; report-uri /csp-reports"]
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

/// The CSP values on a response whose handler set `values`, under a `connect-src 'self'`
/// layer in Merge mode.
async fn merged_into(values: &'static [&'static str]) -> Vec<String> {
    let handler = move || async move {
        let mut res = "hi".into_response();
        for v in values {
            res.headers_mut().append(CSP, HeaderValue::from_static(v));
        }
        res
    };
    let app = Router::new()
        .route("/", get(handler))
        .layer(policy("'self'").layer());
    all(&send(app, "/").await, CSP)
}

#[tokio::test]
async fn merge_edits_every_existing_header_value() {
    assert_eq!(
        merged_into(&["script-src 'self'", "frame-ancestors 'none', img-src *"]).await,
        [
            "script-src 'self'; connect-src 'self'; report-uri /csp-reports",
            "frame-ancestors 'none'; connect-src 'self'; report-uri /csp-reports, img-src *; connect-src 'self'; report-uri /csp-reports"
        ]
    );
}

/// One of several values restricting connections is enough: every value is kept.
#[tokio::test]
async fn merge_keeps_every_value_when_one_restricts_connections() {
    assert_eq!(
        merged_into(&["script-src 'self'", "img-src *, connect-src *"]).await,
        [
            "script-src 'self'",
            "img-src *, connect-src *",
            "connect-src 'self'; report-uri /csp-reports"
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
    // Kept byte for byte, ours added as a second policy.
    assert_eq!(
        values,
        [
            &b"img-src \xff"[..],
            &b"connect-src 'self'; report-uri /csp-reports"[..]
        ]
    );
}

#[tokio::test]
async fn merge_memo_follows_the_handler_header() {
    // The same handler value twice, then others, merged or kept: the memo must not serve
    // a stale decision.
    async fn varying(axum::extract::Path(n): axum::extract::Path<u32>) -> Response {
        let value = match n % 2 {
            1 => format!("img-src https://img{n}.example"),
            _ => format!("img-src https://img{n}.example; connect-src *"),
        };
        ([(CSP, value)], "hi").into_response()
    }
    let app = Router::new()
        .route("/{n}", get(varying))
        .layer(policy("'self'").layer());
    for n in [1, 1, 3, 2, 2, 1, 4, 1] {
        let res = send(app.clone(), &format!("/{n}")).await;
        let want = match n % 2 {
            1 => vec![format!(
                "img-src https://img{n}.example; connect-src 'self'; report-uri /csp-reports"
            )],
            _ => vec![
                format!("img-src https://img{n}.example; connect-src *"),
                "connect-src 'self'; report-uri /csp-reports".to_owned(),
            ],
        };
        assert_eq!(all(&res, CSP), want, "/{n}");
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

// ---- the layer never loosens a handler's policy ---------------------------------------------

/// Every CSP value on the response, as one header value (several policies, all enforced).
fn effective(res: &Response, name: axum::http::HeaderName) -> connect_src::matcher::BrowserPolicy {
    connect_src::matcher::BrowserPolicy::from_header(&all(res, name).join(", "))
}

const PAGE: &str = "https://myapp.com/page";

/// An embed (or user-content) route whose handler sets `connect-src 'none'` stays closed
/// under an app-wide Merge layer whose list allows more: every engine blocks what the
/// handler's policy blocks, and the app's list still applies to the other routes.
#[tokio::test]
async fn a_handler_connect_src_none_survives_an_app_wide_merge_layer() {
    async fn embed() -> Response {
        (
            [
                (CSP, "connect-src 'none'; frame-ancestors *"),
                (CSP_RO, "connect-src 'none'"),
            ],
            "untrusted content",
        )
            .into_response()
    }
    let app_wide = Policy::builder()
        .enforce(
            ConnectSrc::builder()
                .self_origin()
                .host("https://api.myapp.com"),
        )
        .report_only(
            ConnectSrc::builder()
                .self_origin()
                .host("https://api.myapp.com"),
        )
        .report_uri("/csp-reports")
        .build()
        .unwrap();
    let app = Router::new()
        .route("/embed", get(embed))
        .route("/", get(plain))
        .layer(app_wide.layer());
    let res = send(app.clone(), "/embed").await;
    for header in [CSP, CSP_RO] {
        let read = effective(&res, header.clone());
        for target in [
            "https://api.myapp.com/v1",
            "https://myapp.com/x",
            "wss://myapp.com/s",
        ] {
            let v = read.check(PAGE, target).unwrap();
            assert!(
                v.nowhere(),
                "{header} allows {target} on the embed route: {:?}",
                all(&res, header.clone())
            );
        }
    }
    let res = send(app, "/").await;
    let v = effective(&res, CSP)
        .check(PAGE, "https://api.myapp.com/v1")
        .unwrap();
    assert!(v.everywhere(), "{:?}", all(&res, CSP));
}

/// A handler's `default-src 'none'` (no connect-src) is not undone: our connect-src beside it
/// would have taken connections away from default-src had it been merged into that policy.
#[tokio::test]
async fn a_handler_default_src_none_is_not_loosened() {
    async fn locked() -> Response {
        ([(CSP, "default-src 'none'; img-src 'self'")], "hi").into_response()
    }
    let app = Router::new()
        .route("/", get(locked))
        .layer(policy("'self' https://api.myapp.com").layer());
    let res = send(app, "/").await;
    let v = effective(&res, CSP)
        .check(PAGE, "https://api.myapp.com/v1")
        .unwrap();
    assert!(v.nowhere(), "{:?}", all(&res, CSP));
    assert_eq!(all(&res, CSP)[0], "default-src 'none'; img-src 'self'");
}

fn report_to_policy() -> Policy {
    Policy::builder()
        .enforce(ConnectSrc::builder().self_origin())
        .report_only(ConnectSrc::builder().self_origin())
        .report_uri("/csp-reports")
        .report_to("csp", "https://myapp.com/csp-reports")
        .build()
        .unwrap()
}

/// A handler that defines an endpoint of our name keeps it: our entry would come later in
/// the dictionary and win (RFC 8941), sending the handler's reports to us. The CSP headers
/// we add to that response then report by `report-uri` only, so ours do not go to theirs.
#[tokio::test]
async fn a_handler_endpoint_of_our_name_is_never_overridden() {
    async fn theirs() -> Response {
        (
            [
                (
                    REPORTING_ENDPOINTS,
                    r#"other="https://x.example/", csp="https://embed.example/r""#,
                ),
                (CSP, "script-src 'self'; report-to csp"),
            ],
            "hi",
        )
            .into_response()
    }
    for mode in [HeaderMode::Merge, HeaderMode::Append] {
        let app = Router::new()
            .route("/", get(theirs))
            .layer(report_to_policy().layer().mode(mode));
        let res = send(app, "/").await;
        assert_eq!(
            all(&res, REPORTING_ENDPOINTS),
            [r#"other="https://x.example/", csp="https://embed.example/r""#],
            "{mode:?}"
        );
        let csp = all(&res, CSP);
        assert!(
            csp.iter()
                .any(|v| v.contains("connect-src 'self'; report-uri /csp-reports")),
            "{mode:?}: {csp:?}"
        );
        assert_eq!(
            csp.iter().filter(|v| v.contains("report-to csp")).count(),
            1,
            "{mode:?}: only the handler's own report-to: {csp:?}"
        );
        assert_eq!(
            all(&res, CSP_RO),
            ["connect-src 'self'; report-uri /csp-reports?disposition=report"],
            "{mode:?}"
        );
    }
    // Without a clash, ours is added as before (reporting_endpoints_merge_with_existing).
    let app = Router::new()
        .route("/", get(plain))
        .layer(report_to_policy().layer());
    let res = send(app, "/").await;
    assert_eq!(
        all(&res, CSP),
        ["connect-src 'self'; report-uri /csp-reports; report-to csp"]
    );
}

mod never_loosens {
    use super::*;
    use connect_src::matcher::Engine;
    use proptest::prelude::*;

    const LISTS: &[&str] = &[
        "'none'",
        "'self'",
        "*",
        "https:",
        "https://api.myapp.com",
        "https://*.myapp.com wss://ws.myapp.com",
        "",
    ];
    /// Lists the production builder accepts (no `*`, no `https:`).
    const OURS: &[&str] = &[
        "'none'",
        "'self'",
        "https://api.myapp.com",
        "https://*.myapp.com wss://ws.myapp.com",
    ];
    const TARGETS: &[&str] = &[
        "https://myapp.com/x",
        "https://api.myapp.com/v1",
        "https://cdn.myapp.com/a",
        "wss://ws.myapp.com/s",
        "https://evil.example/",
        "http://myapp.com/x",
    ];

    /// One handler policy: some of default-src, connect-src, img-src, script-src.
    fn handler_policy() -> impl Strategy<Value = String> {
        let directive = |name: &'static str| {
            prop::option::of(prop::sample::select(LISTS))
                .prop_map(move |l| l.map(|l| format!("{name} {l}")))
        };
        (
            directive("default-src"),
            directive("connect-src"),
            directive("img-src"),
            directive("script-src"),
        )
            .prop_map(|(a, b, c, d)| {
                [a, b, c, d]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .prop_filter("a policy with a directive", |p| !p.is_empty())
    }

    async fn layered(handler: Vec<String>, ours: &str, mode: HeaderMode) -> Response {
        let app = Router::new()
            .route(
                "/",
                get(move || async move {
                    let mut res = "hi".into_response();
                    for h in &handler {
                        res.headers_mut()
                            .append(CSP, HeaderValue::from_str(h).unwrap());
                    }
                    res
                }),
            )
            .layer(policy(ours).layer().mode(mode));
        send(app, "/").await
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the handler set and whatever our list, in Merge and Append modes every
        /// connection the handler's policies block stays blocked in every engine, and every
        /// connection our list blocks is blocked too (ours always applies).
        #[test]
        fn the_layer_only_narrows(
            handler in prop::collection::vec(handler_policy(), 1..3),
            ours in prop::sample::select(OURS),
            merge in any::<bool>(),
        ) {
            let mode = if merge { HeaderMode::Merge } else { HeaderMode::Append };
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let res = rt.block_on(layered(handler.clone(), ours, mode));
            let after = effective(&res, CSP);
            let before = connect_src::matcher::BrowserPolicy::from_header(&handler.join(", "));
            let alone = connect_src::matcher::BrowserPolicy::parse(ours);
            for target in TARGETS {
                let (b, a, o) = (
                    before.check(PAGE, target).unwrap(),
                    after.check(PAGE, target).unwrap(),
                    alone.check(PAGE, target).unwrap(),
                );
                for engine in Engine::ALL {
                    prop_assert!(
                        !a.get(engine) || (b.get(engine) && o.get(engine)),
                        "{:?} {}: {:?} + ours {:?} -> {:?}",
                        engine, target, handler, ours, all(&res, CSP)
                    );
                }
            }
        }
    }
}
