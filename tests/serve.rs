//! `connect-src serve` as a real process on 127.0.0.1: `--accept-origin` (reports about
//! other sites' pages are not stored), `--policy-header` (each report classed against the
//! policies the app serves), provenance secrets; and running it as a service: the public
//! and admin faces and the admin token, configuration from the environment, the banner,
//! logs, a graceful stop on SIGTERM/SIGINT, retention, and slow or h2c clients.
#![cfg(feature = "cli")]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

mod common;
use common::{request, Server, BIN};

fn serve(args: &[&str]) -> Server {
    common::serve(args)
}

/// The admin face's summary (no token), as JSON; asserts 200.
fn summary(server: &Server) -> serde_json::Value {
    let (status, body) = http(server.admin, "GET", "/csp-reports/summary", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A GET on the admin face with `Authorization: <scheme> <TOKEN>`.
fn admin_get(server: &Server, path: &str, scheme: &str) -> common::Answer {
    let auth = format!("{scheme} {TOKEN}");
    request(server.admin, "GET", path, &[("Authorization", &auth)], "").unwrap()
}

/// Runs a `serve` command that must refuse to start: asserts exit status 2 (a usage
/// error) and returns what it said on stderr.
fn usage_error(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
    err
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
    let json = summary(&server);
    assert_eq!(json["total"], 2, "{json}");
}

#[test]
fn a_bad_accept_origin_is_a_usage_error() {
    let err = usage_error(common::command(&["--accept-origin", "app.example/x"]));
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
        // The current policy allows it: only a redirect away from it could have been
        // blocked (browsers report a chain's first URL).
        (classed("https://api.example.com/x", SERVED, None), "https://api.example.com", "after-redirect"),
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
    let json = summary(&server);
    for (_, origin, class) in &cases {
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }
    // The dashboard filters by class.
    let (status, html) = http(
        server.admin,
        "GET",
        "/csp-reports/dashboard?class=after-redirect",
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
    let json = summary(&server);
    assert!(
        class_of(&json, "https://evil.example.net", "unverified"),
        "{json}"
    );
}

#[test]
fn a_bad_policy_header_is_a_usage_error() {
    let err = usage_error(common::command(&["--policy-header", "  "]));
    assert!(err.contains("--policy-header"), "{err}");
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
    let json = summary(&server);
    for (_, blocked, class) in &cases {
        let origin = blocked.trim_end_matches("/x");
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }

    std::fs::write(&path, "short\n").unwrap();
    let err = usage_error(common::command(&[
        "--provenance-secret-file",
        path.to_str().unwrap(),
    ]));
    assert!(
        err.contains("at least 32 bytes") && err.contains("secret"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The collector learns the served policies from the app's tokens, not from its operator:
/// `serve` is given the secret and no policy; the app's layer signs each report URL for the
/// policies it serves. Its reports come out genuine, also after the app swaps its policy,
/// with no restart; a report of another policy under a real token is foreign.
#[test]
fn policies_are_learned_from_the_apps_tokens_without_a_restart() {
    use connect_src::{ConnectSrc, Policy};
    let dir = std::env::temp_dir().join(format!("connect-src-serve-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = "7d2e9a4c1f6b3e8a0d5c2f7b9e1a4d6c8f0b3e5a7c9d1f2b4e6a8c0d2f4b6e8a";
    let path = dir.join("secret");
    std::fs::write(&path, secret).unwrap();
    let server = serve(&["--provenance-secret-file", path.to_str().unwrap()]);
    let provenance = connect_src::policy::Provenance::new(secret.as_bytes().to_vec()).unwrap();
    let policy = |list: &str| {
        Policy::builder()
            .enforce(list.parse::<ConnectSrc>().unwrap())
            .report_uri("/csp-reports")
            .build()
            .unwrap()
    };
    let layer = policy("'self' https://api.example.com")
        .layer()
        .provenance(provenance);
    // What the layer puts on a response: the header, and the report URL in it.
    let served = || {
        let mut headers = axum::http::HeaderMap::new();
        layer.apply(&mut headers);
        let header = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let uri = header.split_once("report-uri ").unwrap().1.to_owned();
        (header, uri)
    };
    let (header, uri) = served();
    assert!(
        uri.contains("csp-token=") && uri.contains("csp-policy="),
        "{uri}"
    );
    let post = |uri: &str, blocked: &str, policy: &str| {
        let (status, text) = http(server.addr, "POST", uri, &classed(blocked, policy, None));
        assert_eq!(status, 204, "{text}");
    };
    post(&uri, "https://evil.example.net/x", &header);
    // The app swaps its policy: new header, new token; serve is not told.
    layer
        .handle()
        .set(policy("'self' https://api2.example.com"));
    let (header2, uri2) = served();
    assert_ne!(uri, uri2);
    post(&uri2, "https://evil2.example.net/x", &header2);
    post(&uri2, "https://api2.example.com/x", &header2);
    // Another policy under a real token: not what the token covers.
    post(&uri2, "https://evil3.example.net/x", "connect-src 'none'");
    let json = summary(&server);
    for (origin, class) in [
        ("https://evil.example.net", "genuine"),
        ("https://evil2.example.net", "genuine"),
        ("https://api2.example.com", "after-redirect"),
        ("https://evil3.example.net", "foreign"),
    ] {
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }
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
    let json = summary(&server);
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
        let err = usage_error(common::command(args));
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

// ---- running it as a service ----------------------------------------------------------------

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "connect-src-serve-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const TOKEN: &str = "9c1f4e2a7b3d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e";

fn post_report(addr: SocketAddr, blocked_host: &str) -> u16 {
    let body = format!(
        r#"{{"csp-report":{{"document-uri":"https://app.example/page","blocked-uri":"https://{blocked_host}/x","effective-directive":"connect-src"}}}}"#
    );
    http(addr, "POST", "/csp-reports", &body).0
}

/// The public face answers the intake and `/healthz` only; the read side is on the admin
/// face, behind the token: 401 (with a Bearer challenge) without it or with a wrong one.
#[test]
fn the_read_side_is_on_the_admin_face_behind_its_token() {
    let dir = tmpdir("faces");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let server = serve(&["--admin-token-file", token_file.to_str().unwrap()]);
    assert_eq!(post_report(server.addr, "evil.example"), 204);
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/csp-reports",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    )
    .unwrap();
    assert_eq!(preflight.status, 204, "{preflight:?}");
    let health = request(server.addr, "GET", "/healthz", &[], "").unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let read_side = [
        "/csp-reports/summary",
        "/csp-reports/dashboard",
        "/csp-reports/dashboard.css",
        "/metrics",
    ];
    for path in read_side {
        let public = request(server.addr, "GET", path, &[], "").unwrap();
        assert_eq!(public.status, 404, "public {path}: {public:?}");
        let bare = request(server.admin, "GET", path, &[], "").unwrap();
        assert_eq!(bare.status, 401, "admin {path} without a token");
        assert_eq!(
            bare.header("www-authenticate"),
            Some(r#"Bearer realm="connect-src""#)
        );
        let wrong = format!("Bearer {}", TOKEN.replace('9', "8"));
        let wrong = request(server.admin, "GET", path, &[("Authorization", &wrong)], "").unwrap();
        assert_eq!(wrong.status, 401, "admin {path} with a wrong token");
        assert!(wrong
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token"));
        assert_eq!(
            admin_get(&server, path, "Basic").status,
            401,
            "another scheme"
        );
        let ok = admin_get(&server, path, "bearer");
        assert_eq!(ok.status, 200, "admin {path}: {ok:?}");
    }
    let summary = admin_get(&server, "/csp-reports/summary", "Bearer");
    let json: serde_json::Value = serde_json::from_str(&summary.body).unwrap();
    assert_eq!(json["total"], 1, "{json}");
    let metrics = admin_get(&server, "/metrics", "Bearer");
    assert!(
        metrics.body.contains("connect_src_reports_stored_total"),
        "{}",
        metrics.body
    );
    // The admin face does not take reports.
    let bearer = format!("Bearer {TOKEN}");
    let post = request(
        server.admin,
        "POST",
        "/csp-reports",
        &[("Authorization", &bearer)],
        "{}",
    )
    .unwrap();
    assert_eq!(post.status, 404);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The admin face beyond loopback needs a token; a token must look like one; the two faces
/// need two addresses. Each is a usage error that names the flag.
#[test]
fn the_admin_face_is_not_opened_by_mistake() {
    let dir = tmpdir("admin-refusals");
    let short = dir.join("short");
    std::fs::write(&short, "abc123\n").unwrap();
    let spaced = dir.join("spaced");
    std::fs::write(
        &spaced,
        "two words that are long enough to pass the length\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--admin-listen", "0.0.0.0:0"], "--admin-token-file"),
        (
            &["--admin-token-file", short.to_str().unwrap()],
            "fewer than 32",
        ),
        (
            &["--admin-token-file", spaced.to_str().unwrap()],
            "A-Z a-z 0-9",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8089",
                "--admin-listen",
                "127.0.0.1:8089",
            ],
            "an address of its own",
        ),
    ];
    for (args, says) in cases {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(args);
        let err = usage_error(cmd);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("abc123"), "the token is never shown: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `CONNECT_SRC_LISTEN`, `CONNECT_SRC_ADMIN_LISTEN` and `CONNECT_SRC_DB` configure `serve`
/// as the flags do; `DATABASE_URL` names the database when neither --db nor
/// CONNECT_SRC_DB does; a flag wins over its variable.
#[test]
fn the_environment_configures_serve() {
    let dir = tmpdir("env");
    let db = dir.join("from-env.sqlite");
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("CONNECT_SRC_LISTEN", "127.0.0.1:0")
        .env("CONNECT_SRC_ADMIN_LISTEN", "127.0.0.1:0")
        .env("CONNECT_SRC_DB", &db)
        .env_remove("DATABASE_URL");
    let mut server = common::start(cmd);
    assert!(server.addr.ip().is_loopback() && server.addr.port() != 0);
    assert!(
        server
            .store
            .starts_with(&format!("SQLite {}", db.display())),
        "{}",
        server.store
    );
    assert_eq!(post_report(server.addr, "env.example"), 204);
    server.signal("TERM");
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(60))
            .and_then(|s| s.code()),
        Some(0)
    );
    assert_eq!(stored(&db).len(), 1, "the report went to CONNECT_SRC_DB");

    let other = dir.join("from-database-url.sqlite");
    let mut cmd = common::command(&[]);
    cmd.env_remove("CONNECT_SRC_DB").env("DATABASE_URL", &other);
    let server = common::start(cmd);
    assert!(
        server
            .store
            .starts_with(&format!("SQLite {}", other.display())),
        "{}",
        server.store
    );
    drop(server);

    let flag = dir.join("from-flag.sqlite");
    let mut cmd = common::command(&["--db"]);
    cmd.arg(&flag)
        .env("CONNECT_SRC_DB", &db)
        .env("CONNECT_SRC_LISTEN", "not an address");
    let server = common::start(cmd);
    assert!(
        server
            .store
            .starts_with(&format!("SQLite {}", flag.display())),
        "{}",
        server.store
    );
    drop(server);

    // A variable is checked as its flag is, and the message names it.
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env("CONNECT_SRC_LISTEN", "nowhere");
    let err = usage_error(cmd);
    assert!(err.contains("nowhere") && err.contains("--listen"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `blocked_url`s stored in a SQLite file.
fn stored(db: &std::path::Path) -> HashSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT blocked_url FROM violations").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The banner names the store: memory says reports are lost on restart.
#[test]
fn the_banner_names_the_store() {
    let server = serve(&[]);
    assert!(
        server.store.starts_with("memory") && server.store.contains("lost"),
        "{}",
        server.store
    );
    server.wait_for_log("warning of the memory store", |l| {
        l.contains("WARN") && l.contains("in memory")
    });
}

/// A request half-sent when SIGTERM (or SIGINT) arrives is answered 204 and stored; new
/// connections are refused meanwhile; the process exits 0.
#[test]
fn a_request_in_flight_at_sigterm_is_answered_and_stored() {
    for signal in ["TERM", "INT"] {
        let dir = tmpdir("in-flight");
        let db = dir.join("reports.sqlite");
        let mut server = serve(&["--db", db.to_str().unwrap()]);
        let body = r#"{"csp-report":{"document-uri":"https://app.example/page","blocked-uri":"https://in-flight.example/x","effective-directive":"connect-src"}}"#;
        let (first, rest) = body.split_at(body.len() / 2);
        let mut conn = TcpStream::connect(server.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            conn,
            "POST /csp-reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/csp-report\r\nContent-Length: {}\r\n\r\n{first}",
            body.len()
        )
        .unwrap();
        conn.flush().unwrap();
        // The head is read and the handler waits for the body before the signal comes.
        std::thread::sleep(Duration::from_millis(300));
        server.signal(signal);
        server.wait_for_log("saying it stops", |l| {
            l.contains("stopping") && l.contains(&format!("SIG{signal}"))
        });
        // New connections are refused from now on (the listener goes as the loop ends).
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(server.addr).is_ok() {
            assert!(
                Instant::now() < deadline,
                "still accepting after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        conn.write_all(rest.as_bytes()).unwrap();
        let mut out = String::new();
        conn.read_to_string(&mut out).unwrap();
        let answer = common::answer(&out);
        assert_eq!(answer.status, 204, "SIG{signal}: {out}");
        assert_eq!(answer.header("connection"), Some("close"));
        let status = server.wait_exit(Duration::from_secs(60));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "SIG{signal}: {status:?}"
        );
        assert!(
            stored(&db).contains("https://in-flight.example/x"),
            "SIG{signal}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Under load, SIGTERM loses no report a client got 204 for: every one is in the file,
/// and the file is closed cleanly (its WAL checkpointed into it, no `-wal` file left).
#[test]
fn sigterm_under_load_loses_no_acknowledged_report() {
    let dir = tmpdir("sigterm-load");
    let db = dir.join("reports.sqlite");
    let mut server = serve(&["--db", db.to_str().unwrap()]);
    let addr = server.addr;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|worker| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                for n in 0..20_000u32 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let host = format!("w{worker}-{n}.example");
                    match common::http(addr, "POST", "/csp-reports", Some("application/csp-report"),
                        &format!(r#"{{"csp-report":{{"document-uri":"https://app.example/","blocked-uri":"https://{host}/x","effective-directive":"connect-src"}}}}"#)) {
                        Ok((204, _)) => {
                            mine.push(host);
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        // Refused or cut: not acknowledged.
                        Ok((0, _)) | Err(_) => break,
                        Ok((status, body)) => panic!("unexpected {status}: {body}"),
                    }
                }
                mine
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 500 {
        assert!(Instant::now() < deadline, "reports are not flowing");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(60));
    let acked: Vec<String> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    // The clean stop closed SQLite: its WAL checkpointed into the file, none left beside it
    // (looked at before anything opens the file again).
    let wal = std::fs::metadata(dir.join("reports.sqlite-wal")).map(|m| m.len());
    assert!(wal.as_ref().map_or(true, |n| *n == 0), "WAL left: {wal:?}");
    server.wait_for_log("SQLite closed", |l| l.contains("SQLite closed"));
    let stored = stored(&db);
    let lost: Vec<&String> = acked
        .iter()
        .filter(|h| !stored.contains(&format!("https://{h}/x")))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged reports lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    println!(
        "SIGTERM under load: {} acknowledged, {} stored, none lost",
        acked.len(),
        stored.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A request that never finishes does not hold the stop past `--shutdown-timeout`: the
/// process exits 0, and the stuck client gets no 204.
#[test]
fn the_shutdown_timeout_bounds_the_stop() {
    let mut server = serve(&["--shutdown-timeout", "1s", "--request-timeout", "10m"]);
    let mut stuck = TcpStream::connect(server.addr).unwrap();
    stuck
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stuck,
        "POST /csp-reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/csp-report\r\nContent-Length: 100\r\n\r\n{{\"csp-report\":"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    // Bounded well below --request-timeout: only the shutdown timeout can end it in time.
    let status = server.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    let mut out = Vec::new();
    let _ = stuck.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains(" 204 "), "{out:?}");
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.contains("connections=1") && l.contains("shutdown-timeout")),
        "{:#?}",
        server.log()
    );
}

/// Old reports go at start with `--retain`, and the log says how many.
#[test]
fn retain_deletes_old_reports_at_start() {
    let dir = tmpdir("retain");
    let db = dir.join("reports.sqlite");
    let mut first = serve(&["--db", db.to_str().unwrap()]);
    assert_eq!(post_report(first.addr, "old.example"), 204);
    assert_eq!(post_report(first.addr, "new.example"), 204);
    first.signal("TERM");
    assert_eq!(
        first
            .wait_exit(Duration::from_secs(60))
            .and_then(|s| s.code()),
        Some(0)
    );
    drop(first);
    // Make one of them 40 days old, as if it had been stored then.
    let forty_days_ago = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 40 * 86_400;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE violations SET received_at = ?1 WHERE blocked_url = 'https://old.example/x'",
            [forty_days_ago],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let server = serve(&["--db", db.to_str().unwrap(), "--retain", "30d"]);
    assert!(
        server.store.contains("older than 30days"),
        "{}",
        server.store
    );
    let line = server.wait_for_log("from retention", |l| l.contains("retention"));
    assert!(line.contains("deleted=1"), "{line}");
    assert_eq!(
        stored(&db),
        HashSet::from(["https://new.example/x".to_owned()])
    );
    let json = summary(&server);
    assert_eq!(json["total"], 1, "{json}");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--log-format json` writes one JSON object per line; RUST_LOG filters; a bad RUST_LOG is
/// a usage error that names it.
#[test]
fn logs_are_json_lines_filtered_by_rust_log() {
    let mut cmd = common::command(&["--log-format", "json"]);
    cmd.env("RUST_LOG", "info");
    let server = common::start(cmd);
    server.wait_for_log("at start", |l| l.contains("collector started"));
    for line in server.log() {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    let started = server
        .log()
        .into_iter()
        .find(|l| l.contains("collector started"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(v["public"], server.addr.to_string(), "{started}");
    drop(server);

    let mut cmd = common::command(&[]);
    cmd.env("RUST_LOG", "warn");
    let server = common::start(cmd);
    server.wait_for_log("the memory store warning", |l| l.contains("in memory"));
    assert!(
        !server.log().iter().any(|l| l.contains("collector started")),
        "{:#?}",
        server.log()
    );
    drop(server);

    let mut cmd = common::command(&[]);
    cmd.env("RUST_LOG", "info,[");
    let err = usage_error(cmd);
    assert!(err.contains("RUST_LOG"), "{err}");
}

/// Sockets the process has open (`/proc/<pid>/fd`).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// Reads until the server closes; false when it is the read timeout that ended the wait.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    match s.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Slow clients past the connection limit, clients with huge heads and h2c attempts
/// (cleartext HTTP/2 is off) do not stop a real report from being accepted, and memory
/// stays bounded: the server holds no more connections than its limit (the others wait in
/// the accept queue), closes every flood client itself (a stalled head at the header-read
/// timeout), and its resident memory grows by less than 64 MiB although the flood tries
/// to make it hold 80 MiB.
#[test]
fn slow_and_h2c_clients_do_not_stop_reports() {
    const LIMIT: usize = 32;
    let mut server = serve(&["--max-connections", "32", "--header-read-timeout", "2s"]);
    let (addr, pid) = (server.addr, server.child.id());
    let (rss_before, sockets_before) = (server.rss_kib(), sockets(pid));
    let connect = move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        s
    };
    // 64 slow clients (twice the limit): half a head, then nothing.
    let stalled: Vec<_> = (0..64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect();
                let _ = write!(s, "POST /csp-reports HTTP/1.1\r\nHost: slow{i}\r\nX-Pad: ");
                closed_by_server(&mut s)
            })
        })
        .collect();
    // 64 clients sending a head of up to 1 MiB of header lines.
    let huge: Vec<_> = (0..64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect();
                let _ = write!(s, "POST /csp-reports HTTP/1.1\r\nHost: huge{i}\r\n");
                let line = format!("X-Pad: {}\r\n", "p".repeat(1000));
                for _ in 0..1024 {
                    if s.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                }
                closed_by_server(&mut s)
            })
        })
        .collect();
    // 16 h2c attempts: the preface, SETTINGS, then 1 MiB of DATA frames on stream 1.
    let h2c: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || -> Vec<u8> {
                let mut s = connect();
                let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
                let _ = s.write_all(&bytes);
                let mut frame = vec![0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 1]; // DATA, 16 KiB, stream 1
                frame.extend(std::iter::repeat_n(b'd', 16 * 1024));
                for _ in 0..64 {
                    if s.write_all(&frame).is_err() {
                        break;
                    }
                }
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                got
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (rss_during, sockets_during) = (server.rss_kib(), sockets(pid));
    assert!(
        sockets_during <= sockets_before + LIMIT,
        "{sockets_during} sockets open, {sockets_before} before: the limit is {LIMIT}"
    );
    // The real report: it may wait in the accept queue, never past the header timeouts.
    let (status, body) = http(
        addr,
        "POST",
        "/csp-reports",
        &report("https://app.example/real"),
    );
    assert_eq!(status, 204, "{body}");
    for t in stalled.into_iter().chain(huge) {
        assert!(
            t.join().unwrap(),
            "a flood client was not closed by the server"
        );
    }
    for t in h2c {
        let got = t.join().unwrap();
        // Never an HTTP/2 answer (its first frame would be SETTINGS, type 4, at byte 3).
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&got[..got.len().min(40)])
        );
    }
    let rss_after = server.rss_kib();
    println!(
        "flood: RSS {rss_before} KiB before, {rss_during} KiB during, {rss_after} KiB after; \
         sockets {sockets_before} before, {sockets_during} during"
    );
    assert!(
        rss_during.max(rss_after) < rss_before + 64 * 1024,
        "memory grew from {rss_before} KiB to {rss_during} / {rss_after} KiB"
    );
    let json = summary(&server);
    assert_eq!(json["total"], 1, "{json}");
    server.signal("TERM");
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(60))
            .and_then(|s| s.code()),
        Some(0)
    );
}

/// With `--http2`, h2c is served with the stream limit it advertises, and reports over it
/// are accepted; a connection that never sends the preface (hyper has no timer for that)
/// is closed by the idle timeout.
#[test]
fn h2c_when_turned_on_has_its_limits() {
    let server = serve(&[
        "--http2",
        "--http2-max-streams",
        "4",
        "--header-read-timeout",
        "1s",
    ]);
    for preface in [&b""[..], b"PRI * HTTP/2.0\r\n"] {
        let mut silent = TcpStream::connect(server.addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        silent.write_all(preface).unwrap();
        assert!(closed_by_server(&mut silent), "{preface:?}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = axum::http::Request::post(format!("http://{}/csp-reports", server.addr))
            .header("content-type", "application/csp-report")
            .body(())
            .unwrap();
        client = client.ready().await.unwrap();
        let (res, mut send) = client.send_request(req, false).unwrap();
        send.send_data(bytes::Bytes::from(report("https://app.example/h2")), true)
            .unwrap();
        let res = res.await.unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(client.current_max_send_streams(), 4);
    });
    let json = summary(&server);
    assert_eq!(json["total"], 1, "{json}");
}

/// Rotation: several `--provenance-secret-file`s, the first the app's current one; a token
/// made with any verifies, also one of the next window (an app clock ahead); a placeholder
/// secret is refused, naming its file.
#[test]
fn provenance_secrets_rotate_and_placeholders_are_refused() {
    use connect_src::policy::Provenance;
    let dir = tmpdir("rotation");
    let new = "0f9e8d7c6b5a49382716a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let old = "3f1c0a7e9b2d4c6a8e0f1b3d5c7e9a2b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a2c";
    let (new_file, old_file) = (dir.join("new"), dir.join("old"));
    std::fs::write(&new_file, new).unwrap();
    std::fs::write(&old_file, format!("{old}\n")).unwrap();
    let server = serve(&[
        "--policy-header",
        SERVED,
        "--provenance-secret-file",
        new_file.to_str().unwrap(),
        "--provenance-secret-file",
        old_file.to_str().unwrap(),
    ]);
    let now = SystemTime::now();
    let token = |secret: &str, at: SystemTime| {
        Provenance::new(secret.as_bytes().to_vec())
            .unwrap()
            .token_at(at)
    };
    let stranger = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let cases = [
        (token(new, now), "https://by-new.example", "genuine"),
        (token(old, now), "https://by-old.example", "genuine"),
        (
            token(new, now + Duration::from_secs(3600)),
            "https://ahead.example",
            "genuine",
        ),
        (token(stranger, now), "https://stranger.example", "foreign"),
    ];
    for (t, origin, _) in &cases {
        let path = format!("/csp-reports?csp-token={t}");
        let (status, text) = http(
            server.addr,
            "POST",
            &path,
            &classed(&format!("{origin}/x"), SERVED, None),
        );
        assert_eq!(status, 204, "{text}");
    }
    let json = summary(&server);
    for (_, origin, class) in &cases {
        assert!(
            class_of(&json, origin, class),
            "{origin} should be {class}: {json}"
        );
    }
    drop(server);

    let weak = dir.join("weak");
    std::fs::write(&weak, "x".repeat(64)).unwrap();
    let err = usage_error(common::command(&[
        "--provenance-secret-file",
        new_file.to_str().unwrap(),
        "--provenance-secret-file",
        weak.to_str().unwrap(),
    ]));
    assert!(
        err.contains("weak") && err.contains("distinct byte values"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- docs/deploying.md ------------------------------------------------------------------------

/// The fenced blocks of `doc` whose info string is `lang`.
fn fenced<'a>(doc: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    doc.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .collect()
}

/// A documented value made local: an address becomes a free port of 127.0.0.1, a file
/// becomes one in `dir` (a token file gets a token).
fn local_value(value: &str, dir: &std::path::Path) -> String {
    if value.parse::<SocketAddr>().is_ok() {
        return "127.0.0.1:0".to_owned();
    }
    if value.starts_with('/') || value.starts_with("%d/") {
        let name = value.rsplit('/').next().unwrap();
        let path = dir.join(name);
        if name.contains("token") {
            std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
        }
        return path.to_str().unwrap().to_owned();
    }
    value.to_owned()
}

/// Starts `serve` with `vars` (made local) and checks what the guide promises of that
/// configuration: SQLite with retention, JSON logs, the admin token, exit 0 on SIGTERM.
fn starts_as_documented(what: &str, vars: &[(String, String)]) {
    assert!(vars.len() >= 5, "{what}: {vars:?}");
    let dir = tmpdir("guide");
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env_remove("DATABASE_URL");
    for (name, value) in vars {
        assert!(name.starts_with("CONNECT_SRC_"), "{what}: {name}");
        cmd.env(name, local_value(value, &dir));
    }
    let mut server = common::start(cmd);
    assert!(
        server
            .store
            .starts_with(&format!("SQLite {}", dir.display())),
        "{what}: {}",
        server.store
    );
    assert!(
        server.store.contains("older than 30days"),
        "{what}: {}",
        server.store
    );
    assert_eq!(post_report(server.addr, "guide.example"), 204, "{what}");
    let bare = request(server.admin, "GET", "/csp-reports/summary", &[], "").unwrap();
    assert_eq!(
        bare.status, 401,
        "{what}: the admin face asks for the token"
    );
    let ok = admin_get(&server, "/csp-reports/summary", "Bearer");
    assert_eq!(ok.status, 200, "{what}");
    for line in server.log() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "{what}: {line}"
        );
    }
    server.signal("TERM");
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(60))
            .and_then(|s| s.code()),
        Some(0),
        "{what}"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// docs/deploying.md as written: its systemd unit passes `systemd-analyze verify` (when
/// the tool is there) and `serve` starts with the unit's variables; likewise with the
/// container command's.
#[test]
fn the_deploying_guide_starts_as_written() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploying.md")).unwrap();
    let unit = fenced(&doc, "ini")
        .into_iter()
        .find(|b| b.contains("[Service]"))
        .expect("a systemd unit in docs/deploying.md");
    let dir = tmpdir("unit");
    let file = dir.join("connect-src.service");
    std::fs::write(&file, unit.replace("/usr/local/bin/connect-src", BIN)).unwrap();
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
    {
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && !err.contains("connect-src.service"),
                "systemd-analyze verify: {err}"
            );
        }
        Err(e) => {
            eprintln!("\n!!! systemd-analyze not run ({e}): the unit's syntax is unchecked !!!\n")
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let unit_vars: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    starts_as_documented("systemd unit", &unit_vars);

    let docker = fenced(&doc, "sh")
        .into_iter()
        .find(|b| b.contains("docker run"))
        .expect("a container command in docs/deploying.md");
    let docker_vars: Vec<(String, String)> = docker
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-e "))
        .filter_map(|kv| kv.trim_end_matches('\\').trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    starts_as_documented("container command", &docker_vars);
}

/// A database URL `serve` cannot use stops it before it listens (exit 2, not a retry
/// loop), and the message never shows the password, even when the URL does not parse.
#[test]
fn a_bad_database_url_is_a_usage_error_without_its_password() {
    for url in [
        "postgres://reader:hunter2@db.internal:notaport/reports",
        "mysql://reader:hunter2@db.internal/reports",
    ] {
        let err = usage_error(common::command(&["--db", url]));
        assert!(
            err.contains("reader:***@db.internal") && !err.contains("hunter2"),
            "{err}"
        );
    }
}

/// `--connection-allowlist-header`: Chromium's `connection-allowlist` reports are classed
/// against the allowlist the app serves (without it, `foreign`); a value Chromium cannot
/// parse is refused at start.
#[test]
fn connection_allowlist_reports_are_classed_against_the_served_allowlist() {
    let server = serve(&[
        "--connection-allowlist-header",
        "(response-origin \"https://api.example.com\");redirects=allow",
    ]);
    let report = |connection: &str| {
        serde_json::json!([{"type": "connection-allowlist", "url": "https://app.example.com/page",
            "body": {"connection": connection, "disposition": "report"}}])
        .to_string()
    };
    for c in ["https://evil.example/x", "https://api.example.com/v1"] {
        let (status, body) = common::http(
            server.addr,
            "POST",
            "/csp-reports",
            Some("application/reports+json"),
            &report(c),
        )
        .unwrap();
        assert_eq!(status, 204, "{body}");
    }
    // A CSP report: no CSP policy was given, so nothing to check it against.
    let csp = serde_json::json!({"csp-report": {"document-uri": "https://app.example.com/",
        "blocked-uri": "https://cdn.example/x", "effective-directive": "connect-src",
        "original-policy": "connect-src 'self'"}});
    let (status, body) = http(server.addr, "POST", "/csp-reports", &csp.to_string());
    assert_eq!(status, 204, "{body}");
    let json = summary(&server);
    assert!(class_of(&json, "https://evil.example", "genuine"), "{json}");
    assert!(
        class_of(&json, "https://api.example.com", "contradicts"),
        "{json}"
    );
    assert!(
        class_of(&json, "https://cdn.example", "unverified"),
        "{json}"
    );
    // Each filed under its own directive.
    assert!(json["groups"].as_array().unwrap().iter().all(|g| {
        (g["directive"] == "connection-allowlist") != (g["blocked_origin"] == "https://cdn.example")
    }));
    drop(server);

    let out = Command::new(BIN)
        .args(["serve", "--connection-allowlist-header", "(response-origin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("blocks every connection"), "{err}");
}
