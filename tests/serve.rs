//! `connect-src serve` as a real process on 127.0.0.1: `--accept-origin` (reports about
//! other sites' pages are not stored) and `--policy-header` (each report classed against
//! the policies the app serves).
#![cfg(feature = "cli")]

use std::net::SocketAddr;
use std::process::Command;

mod common;
use common::{Server, BIN};

fn serve(args: &[&str]) -> Server {
    common::serve(args)
}

/// A request with a report's content type; (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    common::http(addr, method, path, Some("application/csp-report"), body).unwrap()
}

fn report(document: &str) -> String {
    format!(
        r#"{{"csp-report":{{"document-uri":"{document}","blocked-uri":"https://x.example/a","effective-directive":"connect-src"}}}}"#
    )
}

#[test]
fn only_reports_about_accepted_origins_are_stored() {
    let server = serve(&[
        "--accept-origin",
        "https://app.example",
        "--accept-origin",
        "https://admin.app.example:8443/",
    ]);
    for doc in [
        "https://app.example/page",
        "https://admin.app.example:8443/x",
        "https://victim.example/page",
        "https://app.example.evil.example/",
    ] {
        let (status, _) = http(server.addr, "POST", "/csp-reports", &report(doc));
        assert_eq!(status, 204, "{doc}");
    }
    let (status, summary) = http(server.addr, "GET", "/csp-reports/summary", "");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(json["total"], 2, "{json}");
}

#[test]
fn a_bad_accept_origin_is_a_usage_error() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--accept-origin",
            "app.example/x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--accept-origin") && err.contains("is not an origin"),
        "{err}"
    );
}

const SERVED: &str = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";

/// A report of `policy` blocking `blocked` on https://app.example.com/, from `agent`.
fn classed(blocked: &str, policy: &str, agent: Option<&str>) -> String {
    let mut body = serde_json::json!({"csp-report": {
        "document-uri": "https://app.example.com/page",
        "blocked-uri": blocked,
        "effective-directive": "connect-src",
        "original-policy": policy,
        "disposition": "enforce",
    }});
    if let Some(a) = agent {
        // The Reporting API shape carries the user agent in the report itself.
        body = serde_json::json!([{"type": "csp-violation", "age": 0, "url": "https://app.example.com/page",
            "user_agent": a, "body": {
                "documentURL": "https://app.example.com/page", "blockedURL": blocked,
                "effectiveDirective": "connect-src", "originalPolicy": policy,
                "disposition": "enforce"}}]);
    }
    body.to_string()
}

fn class_of(summary: &serde_json::Value, origin: &str, want_class: &str) -> bool {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["blocked_origin"] == origin && g["class"] == want_class)
}

#[test]
fn reports_are_classed_against_the_served_policies() {
    let server = serve(&[
        "--policy-header",
        SERVED,
        "--policy-header",
        "connect-src 'self'; report-uri /csp-reports",
    ]);
    let cases = [
        // Blocked by the current policy, as the browser said: genuine.
        (classed("https://evil.example.net/x", SERVED, None), "https://evil.example.net", "genuine"),
        // The current policy allows it: no browser would have reported it.
        (classed("https://api.example.com/x", SERVED, None), "https://api.example.com", "contradicts"),
        // A policy the app never served.
        (classed("https://other.example.org/x", "connect-src 'none'", None), "https://other.example.org", "foreign"),
        // The policy served before the current one.
        (classed("https://old.example.org/x", "connect-src 'self'; report-uri /csp-reports", None), "https://old.example.org", "stale"),
        // Firefox: an https:// source never covers wss://, so this block is real.
        (classed("wss://api.example.com/s", SERVED, Some(FIREFOX)), "wss://api.example.com", "genuine"),
        // Firefox writes report-uri resolved, and whitespace differs: still ours.
        (classed("https://evil2.example.net/x",
            "connect-src  https://api.example.com 'self'; report-uri https://app.example.com/csp-reports",
            Some(FIREFOX)), "https://evil2.example.net", "genuine"),
    ];
    for (body, _, _) in &cases {
        let (status, text) = http(server.addr, "POST", "/csp-reports", body);
        assert_eq!(status, 204, "{text}");
    }
    let (status, summary) = http(server.addr, "GET", "/csp-reports/summary", "");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    for (_, origin, class) in &cases {
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }
    // The dashboard filters by class.
    let (status, html) = http(
        server.addr,
        "GET",
        "/csp-reports/dashboard?class=contradicts",
        "",
    );
    assert_eq!(status, 200);
    assert!(
        html.contains("api.example.com") && !html.contains("evil.example.net"),
        "{html}"
    );
}

#[test]
fn without_served_policies_reports_are_unverified() {
    let server = serve(&[]);
    let (status, _) = http(
        server.addr,
        "POST",
        "/csp-reports",
        &classed("https://evil.example.net/x", SERVED, None),
    );
    assert_eq!(status, 204);
    let (_, summary) = http(server.addr, "GET", "/csp-reports/summary", "");
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert!(
        class_of(&json, "https://evil.example.net", "unverified"),
        "{json}"
    );
}

#[test]
fn a_bad_policy_header_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy-header", "  "])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--policy-header"));
}

/// With the app's provenance secret, a report whose URL carries a valid token is checked
/// as usual, one without it (or with a forged one) is `foreign` whatever it claims; a
/// secret too short to use is a usage error that names the file.
#[test]
fn provenance_secret_file_makes_tokenless_reports_foreign() {
    use connect_src::policy::Provenance;
    let dir = std::env::temp_dir().join(format!("connect-src-serve-prov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = "3f1c0a7e9b2d4c6a8e0f1b3d5c7e9a2b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a2c";
    let path = dir.join("secret");
    // A trailing newline, as `openssl rand -hex 32 > secret` writes: trimmed.
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    let server = serve(&[
        "--policy-header",
        SERVED,
        "--provenance-secret-file",
        path.to_str().unwrap(),
    ]);
    let token = Provenance::new(secret.as_bytes().to_vec())
        .unwrap()
        .token_at(std::time::SystemTime::now());
    let cases = [
        (
            format!("/csp-reports?csp-token={token}"),
            "https://evil.example.net/x",
            "genuine",
        ),
        (
            "/csp-reports".to_owned(),
            "https://evil2.example.net/x",
            "foreign",
        ),
        (
            format!("/csp-reports?csp-token={}", "0".repeat(32)),
            "https://evil3.example.net/x",
            "foreign",
        ),
    ];
    for (path, blocked, _) in &cases {
        let (status, text) = http(server.addr, "POST", path, &classed(blocked, SERVED, None));
        assert_eq!(status, 204, "{text}");
    }
    let (_, summary) = http(server.addr, "GET", "/csp-reports/summary", "");
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    for (_, blocked, class) in &cases {
        let origin = blocked.trim_end_matches("/x");
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }

    std::fs::write(&path, "short\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--provenance-secret-file",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at least 32 bytes") && err.contains("secret"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An enforced and a report-only header served together are both current: reports of
/// either are checked (neither is `stale`).
#[test]
fn an_enforced_and_a_report_only_header_are_both_current() {
    const REPORT_ONLY: &str =
        "connect-src 'self' https://api.example.com https://cdn.example.com; report-uri /csp-reports";
    let server = serve(&[
        "--policy-header",
        SERVED,
        "--report-only-header",
        REPORT_ONLY,
        "--policy-header",
        "connect-src 'self'; report-uri /csp-reports",
    ]);
    let cases = [
        (
            classed("https://evil.example.net/x", SERVED, None),
            "https://evil.example.net",
            "genuine",
        ),
        (
            classed("https://evil2.example.net/x", REPORT_ONLY, None),
            "https://evil2.example.net",
            "genuine",
        ),
        (
            classed(
                "https://old.example.org/x",
                "connect-src 'self'; report-uri /csp-reports",
                None,
            ),
            "https://old.example.org",
            "stale",
        ),
    ];
    for (body, _, _) in &cases {
        let (status, text) = http(server.addr, "POST", "/csp-reports", body);
        assert_eq!(status, 204, "{text}");
    }
    let (_, summary) = http(server.addr, "GET", "/csp-reports/summary", "");
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    for (_, origin, class) in &cases {
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }
}

/// Inputs `serve` refuses before it starts, each with exit status 2 and a message that
/// names the flag.
#[test]
fn serve_refuses_what_it_cannot_use() {
    let cases: [(&[&str], &str); 4] = [
        // A source list where a whole header value belongs.
        (
            &["--policy-header", "'self' https://a.example"],
            "no connect-src or default-src",
        ),
        (
            &["--report-only-header", "script-src 'self'"],
            "--report-only-header",
        ),
        // A database URL of a scheme it does not write, not taken for a file name.
        (&["--db", "mysql://u@127.0.0.1/x"], "postgres://"),
        (
            &[
                "--provenance-secret-file",
                "/nonexistent",
                "--provenance-rotation",
                "0",
            ],
            "rotation",
        ),
    ];
    for (args, says) in cases {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
