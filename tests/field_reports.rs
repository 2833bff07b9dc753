//! Reports as the field sends them (issue #13): noise in both its forms and every URL
//! field, directives normalized to names CSP defines, data:/blob: payloads reduced to their
//! scheme, empty reports refused, the unwrapped and WebKit-wrapped legacy shapes, and the
//! document-origin accept list. Every case goes through a real axum `Router`.
#![cfg(feature = "collector")]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use connect_src::report::intake::{
    parse_reports, NormalizeOptions, ParseError, Unusable, DEFAULT_NOISE,
};
use connect_src::report::store::{Disposition, ReportFormat, ReportStore};
use connect_src::report::{Collector, MemorySink};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

async fn post(app: &Router, body: impl Into<Body>) -> Response {
    post_with(app, "application/csp-report", &[], body).await
}

async fn post_with(
    app: &Router,
    content_type: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Response {
    let mut req = Request::post("/csp-reports").header(header::CONTENT_TYPE, content_type);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap()
}

async fn text(res: Response) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn legacy(fields: serde_json::Value) -> String {
    json!({ "csp-report": fields }).to_string()
}

fn collector() -> (Collector, MemorySink, Router) {
    let store = MemorySink::new();
    let c = Collector::builder().store(store.clone()).build();
    let app = c.report_router().merge(c.admin_router());
    (c, store, app)
}

// ---- noise ---------------------------------------------------------------------------------

/// Every default noise scheme, bare and as a URL, in the document, the blocked URL and the
/// source file, in legacy and Reporting API bodies: dropped and counted, never stored.
#[tokio::test]
async fn every_noise_scheme_in_both_forms_and_every_url_field_is_filtered() {
    let (c, store, app) = collector();
    let mut sent = 0;
    for entry in DEFAULT_NOISE {
        let scheme = entry.trim_end_matches(':');
        for form in [scheme.to_owned(), format!("{scheme}://abcdef/inject.js")] {
            for field in ["document-uri", "blocked-uri", "source-file"] {
                let mut report = json!({
                    "document-uri": "https://app.example/page",
                    "blocked-uri": "https://api.other.example/x",
                    "effective-directive": "connect-src",
                    "disposition": "enforce",
                });
                report[field] = json!(form);
                let res = post(&app, legacy(report)).await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT, "{field}={form}");
                sent += 1;
            }
            let camel = json!([{"type": "csp-violation", "body": {
                "documentURL": "https://app.example/page",
                "blockedURL": form,
                "effectiveDirective": "connect-src",
            }}]);
            let res = post_with(&app, "application/reports+json", &[], camel.to_string()).await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT, "blockedURL={form}");
            sent += 1;
        }
    }
    let s = store.summary(10).await.unwrap();
    assert_eq!(s.total, 0, "noise stored: {:?}", s.groups);
    assert_eq!(s.filtered, sent);
    assert_eq!(c.stats().filtered, sent);
    assert_eq!(c.stats().accepted, 0);
}

#[tokio::test]
async fn field_examples_of_noise_are_filtered() {
    let (c, store, app) = collector();
    for report in [
        // Chromium: an extension's script, reduced to its scheme.
        json!({"document-uri": "https://app.example/", "blocked-uri": "https://t.example/p",
               "effective-directive": "connect-src", "source-file": "chrome-extension"}),
        // A report from an about:blank frame.
        json!({"document-uri": "about", "blocked-uri": "https://t.example/p",
               "effective-directive": "connect-src"}),
        // Old Edge.
        json!({"document-uri": "https://app.example/", "blocked-uri": "ms-browser-extension",
               "effective-directive": "script-src"}),
        // The real webview bridge scheme (the old list had `webviewprogress:`).
        json!({"document-uri": "https://app.example/",
               "blocked-uri": "webviewprogressproxy://registerProgress",
               "effective-directive": "frame-src"}),
        json!({"document-uri": "https://app.example/", "blocked-uri": "mxjscall://call",
               "effective-directive": "frame-src"}),
        json!({"document-uri": "https://app.example/", "blocked-uri": "safari-resource:/x.js",
               "effective-directive": "script-src"}),
        json!({"document-uri": "https://app.example/", "blocked-uri": "MS-APPX-WEB",
               "effective-directive": "script-src"}),
    ] {
        assert_eq!(
            post(&app, legacy(report)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(store.summary(10).await.unwrap().total, 0);
    assert_eq!(c.stats().filtered, 7);
}

#[tokio::test]
async fn look_alikes_of_noise_are_kept() {
    let (_, store, app) = collector();
    for (blocked, referrer) in [
        ("https://about.example/x", "https://app.example/"),
        ("https://chrome-extension.example/x", "https://app.example/"),
        // A page opened from an extension still runs the site's own policy.
        (
            "https://api.other.example/x",
            "chrome-extension://abc/popup.html",
        ),
    ] {
        let report = json!({"document-uri": "https://app.example/", "blocked-uri": blocked,
                            "referrer": referrer, "effective-directive": "connect-src"});
        assert_eq!(
            post(&app, legacy(report)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(store.summary(10).await.unwrap().total, 3);
    assert_eq!(
        store.recent()[2].referrer.as_deref(),
        Some("chrome-extension"),
        "kept, reduced to its scheme"
    );
}

// ---- directives ----------------------------------------------------------------------------

fn directive_of(report: serde_json::Value) -> Result<String, ParseError> {
    let p = parse_reports(legacy(report).as_bytes(), &NormalizeOptions::default())?;
    Ok(p.violations[0].effective_directive.clone())
}

#[test]
fn directives_are_names_csp_defines() {
    for (report, want) in [
        // Nonsense in effective-directive: the violated directive's first word decides.
        (
            json!({"effective-directive": "blah", "violated-directive": "style-src https://x.example"}),
            "style-src",
        ),
        // CSP2 sent the source list with the name.
        (
            json!({"effective-directive": "script-src 'unsafe-eval'"}),
            "script-src",
        ),
        // A keyword is not a directive.
        (
            json!({"effective-directive": "'unsafe-inline'", "violated-directive": "script-src-elem 'self'"}),
            "script-src-elem",
        ),
        (json!({"effective-directive": "Connect-Src"}), "connect-src"),
        (
            json!({"violated-directive": "  img-src\t'self'"}),
            "img-src",
        ),
        (
            json!({"effective-directive": "", "violated-directive": "worker-src blob:"}),
            "worker-src",
        ),
        (
            json!({"effectiveDirective": "trusted-types"}),
            "trusted-types",
        ),
        (
            json!({"effective-directive": "require-trusted-types-for 'script'"}),
            "require-trusted-types-for",
        ),
        (
            json!({"effective-directive": "frame-ancestors"}),
            "frame-ancestors",
        ),
    ] {
        assert_eq!(directive_of(report.clone()).unwrap(), want, "{report}");
    }
}

#[tokio::test]
async fn a_report_naming_no_directive_is_a_400_and_counted() {
    let (c, store, app) = collector();
    for report in [
        json!({"document-uri": "https://app.example/", "blocked-uri": "https://x.example/",
               "effective-directive": "blah"}),
        json!({"document-uri": "https://app.example/", "blocked-uri": "https://x.example/",
               "effective-directive": "'unsafe-inline'", "violated-directive": "'self'"}),
        json!({"document-uri": "https://app.example/", "blocked-uri": "https://x.example/"}),
        json!({"document-uri": "https://app.example/", "violated-directive": "connect-src-x a"}),
    ] {
        let res = post(&app, legacy(report.clone())).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{report}");
        let t = text(res).await;
        assert!(t.contains("names no CSP directive"), "{t}");
        assert!(!t.contains("x.example"), "the body is never echoed: {t}");
    }
    assert_eq!(store.summary(1).await.unwrap().total, 0);
    assert_eq!((c.stats().invalid, c.stats().rejected), (4, 4));
}

// ---- data: and blob: -----------------------------------------------------------------------

#[tokio::test]
async fn data_and_blob_payloads_are_one_group_each_without_the_payload() {
    let (_, store, app) = collector();
    for blocked in [
        "data:text/plain;base64,SGVsbG8=",
        "data:application/json,{\"secret\":1}",
        "DATA:image/png;base64,iVBORw0KGgo=",
        "data",
        "blob:https://app.example/0b2c2f6e-2b1d-4a55-9a0b-1c2d3e4f5a6b",
        "blob:https://app.example/7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "blob",
    ] {
        let report = json!({"document-uri": "https://app.example/", "blocked-uri": blocked,
                            "effective-directive": "connect-src"});
        assert_eq!(
            post(&app, legacy(report)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let s = store.summary(10).await.unwrap();
    let mut groups: Vec<(String, u64, String)> = s
        .groups
        .iter()
        .map(|g| (g.blocked_origin.to_string(), g.count, g.sample.clone()))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("blob".to_owned(), 3, "blob".to_owned()),
            ("data".to_owned(), 4, "data".to_owned())
        ]
    );
    assert!(store
        .recent()
        .iter()
        .all(|v| !v.blocked_url.contains("SGVsbG8")));
}

// ---- empty reports ---------------------------------------------------------------------------

#[tokio::test]
async fn empty_reports_are_a_400_and_counted() {
    let (c, store, app) = collector();
    for (ct, body) in [
        ("application/csp-report", r#"{"csp-report":{}}"#),
        (
            "application/csp-report",
            r#"{"csp-report":{"document-uri":"","blocked-uri":null}}"#,
        ),
        (
            "application/reports+json",
            r#"[{"type":"csp-violation","url":"https://app.example/","body":{}}]"#,
        ),
        (
            "application/reports+json",
            r#"[{"type":"csp-violation","body":{"unrelated":1}}]"#,
        ),
        (
            "application/reports+json",
            r#"{"type":"csp-violation","body":{"lineNumber":null}}"#,
        ),
    ] {
        let res = post_with(&app, ct, &[], body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let t = text(res).await;
        assert!(t.contains("the report is empty"), "{body}: {t}");
    }
    assert_eq!(
        store.summary(1).await.unwrap().total,
        0,
        "no all-empty group"
    );
    assert_eq!(c.stats().invalid, 5);
}

#[tokio::test]
async fn a_batch_keeps_its_usable_reports_and_counts_the_rest() {
    let (c, store, app) = collector();
    let batch = json!([
        {"type": "csp-violation", "body": {}},
        {"type": "csp-violation", "body": {"documentURL": "https://app.example/",
            "blockedURL": "https://x.example/", "effectiveDirective": "nonsense"}},
        {"type": "csp-violation", "body": {"documentURL": "https://app.example/",
            "blockedURL": "https://x.example/", "effectiveDirective": "connect-src"}},
    ]);
    let res = post_with(&app, "application/reports+json", &[], batch.to_string()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.summary(1).await.unwrap().total, 1);
    assert_eq!((c.stats().invalid, c.stats().accepted), (2, 1));
    // Only unusable reports: refused, all counted.
    let batch =
        json!([{"type": "csp-violation", "body": {}}, {"type": "csp-violation", "body": {}}]);
    let res = post_with(&app, "application/reports+json", &[], batch.to_string()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text(res)
        .await
        .contains("none of the 2 CSP reports is usable"));
    assert_eq!(c.stats().invalid, 4);
    let e = parse_reports(br#"{"csp-report":{}}"#, &NormalizeOptions::default()).unwrap_err();
    assert_eq!(
        e,
        ParseError::Unusable {
            reports: 1,
            reason: Unusable::Empty
        }
    );
}

// ---- legacy shapes ---------------------------------------------------------------------------

#[tokio::test]
async fn an_unwrapped_legacy_body_is_read() {
    let (_, store, app) = collector();
    let res = post(
        &app,
        r#"{"document-url":"http://www.example.com/csp","violated-directive":"default-src https://www.example.com/"}"#,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = post(
        &app,
        r#"{"document-uri":"https://app.example/a?t=1","blocked-uri":"wss://rt.example/s?k=2",
            "violated-directive":"connect-src 'self'","status-code":200}"#,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let r = store.recent();
    assert_eq!(r[0].document_url, "http://www.example.com/csp");
    assert_eq!(r[0].effective_directive, "default-src");
    assert_eq!(r[0].format, ReportFormat::Legacy);
    assert_eq!(r[1].blocked_url, "wss://rt.example/s", "query stripped");
    assert_eq!(r[1].status_code, Some(200));
    // An object with neither a wrapper nor report fields is still not a report.
    let res = post(&app, r#"{"hello":1,"url":"https://x.example/"}"#).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text(res).await.contains("csp-report"));
}

#[tokio::test]
async fn webkit_wrapped_legacy_with_origin_null_and_no_disposition() {
    let (_, store, app) = collector();
    let body = json!({
        "type": "csp-violation",
        "url": "https://app.example/page",
        "csp-report": {
            "document-uri": "https://app.example/page",
            "referrer": "",
            "violated-directive": "connect-src 'self'",
            "effective-directive": "connect-src",
            "original-policy": "connect-src 'self'; report-uri /csp-reports",
            "blocked-uri": "https://evil.example/x?leak=1",
            "status-code": 200,
            "source-file": "https://app.example/app.js",
            "line-number": 3,
            "column-number": 9
        }
    });
    let res = post_with(
        &app,
        "application/csp-report",
        &[("origin", "null")],
        body.to_string(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let v = &store.recent()[0];
    assert_eq!(v.format, ReportFormat::Legacy);
    assert_eq!(v.blocked_url, "https://evil.example/x");
    assert_eq!(v.disposition, Disposition::Unknown);
    assert_eq!((v.line, v.column), (Some(3), Some(9)));
}

// ---- whose reports we take -------------------------------------------------------------------

#[tokio::test]
async fn reports_about_other_origins_are_counted_not_stored() {
    let store = MemorySink::new();
    let c = Collector::builder()
        .store(store.clone())
        .accept_origin("https://app.example")
        .unwrap()
        .accept_origin("http://127.0.0.1:3000/")
        .unwrap()
        .build();
    let app: Router = c.report_router().merge(c.admin_router());
    for (document, kept) in [
        ("https://app.example/page?x=1", true),
        ("https://APP.example:443/other", true),
        ("http://127.0.0.1:3000/", true),
        ("https://victim.example/page", false),
        ("http://app.example/page", false),
        ("https://app.example:8443/page", false),
        ("https://sub.app.example/", false),
        ("", false),
        ("not a url", false),
    ] {
        let report = json!({"document-uri": document, "blocked-uri": "https://x.example/",
                            "effective-directive": "connect-src"});
        let res = post(&app, legacy(report)).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{document}");
        let stored = store.recent().last().map(|v| v.document_url.clone());
        assert_eq!(
            stored.as_deref() == Some(document.split('?').next().unwrap()),
            kept,
            "{document}"
        );
    }
    assert_eq!(store.summary(10).await.unwrap().total, 3);
    assert_eq!(c.stats().unaccepted_origin, 6);
    assert_eq!(c.stats().accepted, 3);
    // The CORS allow list is another thing: any sender may still POST.
    let err = Collector::builder()
        .accept_origin("app.example")
        .unwrap_err();
    assert!(
        err.to_string().contains("\"app.example\" is not an origin"),
        "{err}"
    );
}

/// Found by `bash scripts/fuzz.sh 600` (report target): a `data:` URL whose payload starts
/// with a digit was taken for `host:port` and kept whole, payload and all.
#[test]
fn a_data_url_whose_payload_starts_with_a_digit_is_still_data() {
    let body = br#"[{"type":"csp-violation","body":{}},{"type":"csp-violation","body":{"documentURL":"https://app.example/","blockedURL":"data:0ext/plG8=","effectiveDirective":"blah","violatedDirective":"connect-src 'self'"}}]"#;
    let parsed = connect_src::report::intake::parse_reports(body, &Default::default()).unwrap();
    assert_eq!(parsed.violations.len(), 1);
    assert_eq!(parsed.violations[0].blocked_url, "data");
    assert_eq!(parsed.violations[0].effective_directive, "connect-src");
    assert_eq!(parsed.invalid, 1, "the empty report is counted");
    for (url, kept) in [
        ("example.com:8080", "example.com:8080"),
        ("localhost:3000/x", "localhost:3000/x"),
        ("data:1,x", "data"),
        ("blob:123", "blob"),
    ] {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://a.example/","blocked-uri":"{url}","effective-directive":"connect-src"}}}}"#
        );
        let p = connect_src::report::intake::parse_reports(body.as_bytes(), &Default::default())
            .unwrap();
        assert_eq!(p.violations[0].blocked_url, kept, "{url}");
    }
}
