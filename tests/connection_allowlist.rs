//! Connection-Allowlist end to end without a browser (real Chromium is in
//! `tests/browsers/allowlist.rs`): the policy builds it or says why not, a real axum server
//! on 127.0.0.1 sends it through the layer beside the CSP, and the collector reads and
//! classes the report Chromium sends (its exact shape, measured:
//! docs/engine-probe/connection-allowlist/FINDINGS.md).
#![cfg(feature = "collector")]

mod common;

use axum::routing::get;
use axum::Router;
use connect_src::policy::{AllowlistMode, ConnectionAllowlist, ServedPolicies};
use connect_src::report::store::{Class, Disposition, ReportStore};
use connect_src::report::{Collector, MemorySink};
use connect_src::{ConnectSrc, HeaderMode, Policy};

fn list(v: &str) -> ConnectSrc {
    v.parse().unwrap()
}

fn with_allowlist(a: ConnectionAllowlist) -> Result<Policy, connect_src::PolicyError> {
    Policy::builder()
        .enforce(list("'self' https://api.x.com wss://ws.x.com"))
        .report_uri("/csp-reports")
        .report_to("csp", "https://x.com/csp-reports")
        .connection_allowlist(a)
        .build()
}

#[test]
fn the_policy_builds_the_header_or_says_why_not() {
    let p = with_allowlist(ConnectionAllowlist::report_only()).unwrap();
    let (name, value) = p.connection_allowlist_header().unwrap();
    assert_eq!(name, "connection-allowlist-report-only");
    assert_eq!(
        value,
        r#"(response-origin "https://api.x.com" "https://ws.x.com");redirects=allow;report-to=csp"#
    );
    let widenings: Vec<&str> = p
        .connection_allowlist()
        .unwrap()
        .translation()
        .widenings()
        .iter()
        .map(|w| w.admits.as_str())
        .collect();
    assert!(widenings[0].starts_with("wss://api.x.com"), "{widenings:?}");
    assert!(
        widenings[1].starts_with("https://ws.x.com"),
        "{widenings:?}"
    );
    assert!(p
        .to_string()
        .contains("Connection-Allowlist-Report-Only: (response-origin"));

    // Enforcing needs the navigation targets.
    let e = with_allowlist(ConnectionAllowlist::enforce()).unwrap_err();
    assert!(e.to_string().contains(".navigations("), "{e}");
    let p = with_allowlist(
        ConnectionAllowlist::enforce()
            .navigations(ConnectSrc::builder().host("https://docs.x.com"))
            .block_redirects(),
    )
    .unwrap();
    let a = p.connection_allowlist().unwrap();
    assert_eq!(a.mode(), AllowlistMode::Enforce);
    assert_eq!(
        a.value(),
        r#"(response-origin "https://api.x.com" "https://ws.x.com" "https://docs.x.com");report-to=csp"#
    );
    // A policy derived from it (a route's, a rollout stage's) keeps its allowlist.
    let again = p.to_builder().build().unwrap();
    assert_eq!(again.connection_allowlist(), p.connection_allowlist());
    // A source the allowlist cannot say is refused, by name.
    let e = Policy::builder()
        .enforce(list("'self' ftp://files.x.com"))
        .connection_allowlist(ConnectionAllowlist::report_only())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("ftp://files.x.com"), "{e}");
    // A bad navigation target is the builder's usual error.
    let e = with_allowlist(
        ConnectionAllowlist::enforce().navigations(ConnectSrc::builder().host("https://x y")),
    )
    .unwrap_err();
    assert!(e.to_string().contains("x y"), "{e}");
}

async fn handler_with_its_own() -> impl axum::response::IntoResponse {
    ([("connection-allowlist", "(\"https://own.x.com\")")], "hi")
}

#[tokio::test]
async fn the_layer_sends_one_line_beside_the_csp() {
    let p = with_allowlist(ConnectionAllowlist::report_only()).unwrap();
    let app = Router::new()
        .route("/", get(|| async { "hi" }))
        .route("/own", get(handler_with_its_own))
        .layer(p.layer());
    let over = Router::new()
        .route("/own", get(handler_with_its_own))
        .layer(p.layer().mode(HeaderMode::Override));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (l.local_addr().unwrap(), l2.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    tokio::spawn(async move { axum::serve(l2, over).await });
    let (r, own, replaced) = tokio::task::spawn_blocking(move || {
        (
            common::request(a, "GET", "/", &[], "").unwrap(),
            common::request(a, "GET", "/own", &[], "").unwrap(),
            common::request(b, "GET", "/own", &[], "").unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        r.header("connection-allowlist-report-only"),
        Some(
            r#"(response-origin "https://api.x.com" "https://ws.x.com");redirects=allow;report-to=csp"#
        )
    );
    assert!(r.header("content-security-policy").is_some());
    assert!(r.header("reporting-endpoints").is_some());
    // The handler's own allowlist is a different header (enforced) and stays; ours, the
    // report-only one, is added once.
    assert_eq!(
        own.header("connection-allowlist"),
        Some("(\"https://own.x.com\")")
    );
    assert_eq!(
        own.head.matches("connection-allowlist-report-only").count(),
        1,
        "{}",
        own.head
    );
    assert_eq!(
        replaced
            .head
            .to_ascii_lowercase()
            .matches("connection-allowlist")
            .count(),
        2,
        "{}",
        replaced.head
    );
}

/// Chromium 156's report, byte for byte but for the host names (FINDINGS.md).
fn chromium_report(connection: &str, disposition: &str) -> String {
    format!(
        r#"[{{"age":80,"body":{{"connection":"{connection}","disposition":"{disposition}"}},"type":"connection-allowlist","url":"https://x.com/page","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"}}]"#
    )
}

#[tokio::test]
async fn the_collector_reads_and_classes_connection_allowlist_reports() {
    let store = MemorySink::new();
    let served = ServedPolicies::default();
    let p = with_allowlist(ConnectionAllowlist::report_only()).unwrap();
    served.record(&p);
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(served.clone())
        .build();
    let app = Router::new().merge(collector.report_router());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    let post = |body: String| {
        tokio::task::spawn_blocking(move || {
            common::request(
                addr,
                "POST",
                "/csp-reports",
                &[("Content-Type", "application/reports+json")],
                &body,
            )
            .unwrap()
        })
    };
    for (conn, _) in [
        ("https://evil.example/x?secret=1", Class::Genuine),
        ("https://api.x.com/v1", Class::Contradicts),
        ("https://x.com/own", Class::Contradicts),
    ] {
        let r = post(chromium_report(conn, "report")).await.unwrap();
        assert!(r.status < 300, "{r:?}");
    }
    // Without a body's connection: unusable, said so, nothing stored.
    let r = post(r#"[{"type":"connection-allowlist","url":"https://x.com/","body":{"disposition":"report"}}]"#.into()).await.unwrap();
    assert_eq!(r.status, 400, "{r:?}");
    let got = store.recent();
    let find = |u: &str| {
        got.iter()
            .find(|v| v.blocked_url == u)
            .unwrap_or_else(|| panic!("{u} not stored: {got:?}"))
    };
    let evil = find("https://evil.example/x");
    assert_eq!(evil.effective_directive, "connection-allowlist");
    assert_eq!(evil.document_url, "https://x.com/page");
    assert_eq!(evil.disposition, Disposition::Report);
    assert_eq!(evil.class, Class::Genuine);
    assert_eq!(find("https://api.x.com/v1").class, Class::Contradicts);
    assert_eq!(find("https://x.com/own").class, Class::Contradicts);
    // The summary files them under their own directive.
    let summary = store.summary(100).await.unwrap();
    assert!(
        summary
            .groups
            .iter()
            .any(|g| g.directive == "connection-allowlist"),
        "{:?}",
        summary.groups
    );
    // A policy served without an allowlist: the same report is foreign.
    let other = ServedPolicies::default();
    other.record(&Policy::builder().enforce(list("'self'")).build().unwrap());
    let v = evil.clone();
    assert_eq!(
        connect_src::report::intake::classify(&v, &other.snapshot()),
        Class::Foreign
    );
}
