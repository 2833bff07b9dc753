//! The collector composes with the standard tower/tower-http defences against slow and
//! greedy clients (the README's recommended stack).
#![cfg(feature = "collector")]

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use connect_src::report::store::ReportStore;
use connect_src::report::{Collector, MemorySink};
use tower::limit::ConcurrencyLimitLayer;
use tower::{Service, ServiceExt};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// A body that sends a few bytes, then nothing, forever (a slowloris client).
fn stalled_body() -> Body {
    let first =
        futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{\"csp-report\":"))]);
    let never = futures_util::stream::pending::<Result<Bytes, Infallible>>();
    Body::from_stream(futures_util::StreamExt::chain(first, never))
}

fn report_request(body: Body) -> Request<Body> {
    Request::post("/csp-reports")
        .header(header::CONTENT_TYPE, "application/csp-report")
        .body(body)
        .unwrap()
}

#[tokio::test]
async fn a_stalled_body_is_cut_by_the_timeout_layer() {
    let store = MemorySink::new();
    let app: Router = Collector::builder()
        .store(store.clone())
        .build()
        .report_router()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(200),
        ));
    let res = app.oneshot(report_request(stalled_body())).await.unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(store.summary(1).await.unwrap().total, 0);
}

#[tokio::test]
async fn tower_http_body_limit_answers_before_the_collector() {
    let app: Router = Collector::builder()
        .build()
        .report_router()
        .layer(RequestBodyLimitLayer::new(100));
    let big = format!(
        "{{\"csp-report\":{{\"blocked-uri\":\"{}\"}}}}",
        "a".repeat(500)
    );
    let res = app.oneshot(report_request(Body::from(big))).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn concurrency_limit_holds_the_next_request_while_one_is_stuck() {
    let app: Router = Collector::builder().build().report_router();
    let mut svc = tower::ServiceBuilder::new()
        .layer(ConcurrencyLimitLayer::new(1))
        .service(app.into_service::<Body>());
    // The first request holds the only permit: its body never finishes.
    let stuck = svc
        .ready()
        .await
        .unwrap()
        .call(report_request(stalled_body()));
    let stuck = tokio::spawn(stuck);
    let mut second = svc.clone();
    let waited = tokio::time::timeout(Duration::from_millis(200), second.ready()).await;
    assert!(waited.is_err(), "a second request must wait for a permit");
    stuck.abort();
    let _ = stuck.await;
    // With the stuck request gone, the permit is back.
    let res = tokio::time::timeout(Duration::from_secs(5), async {
        second.ready().await.unwrap().call(report_request(Body::from(
            r#"{"csp-report":{"blocked-uri":"https://a.example/","effective-directive":"connect-src"}}"#,
        )))
        .await
        .unwrap()
    })
    .await
    .expect("permit released");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}
