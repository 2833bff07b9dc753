//! The built `connect-src` binary: check, audit, serve + POST + summary, suggest on a
//! database filled through serve, bad arguments, and SQLite durability across `kill -9`.
#![cfg(feature = "cli")]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::{http, run, stderr, stdout, Server};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("connect-src-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_prints_one_object_per_target_in_order() {
    let o = run(&[
        "check",
        "--policy",
        "'self' https://api.x.com 'unsafe-inline'",
        "--page",
        "https://x.com/",
        "wss://api.x.com/socket",
        "https://api.x.com/v1",
        "wss://x.com/live",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["target"], "wss://api.x.com/socket");
    assert_eq!(lines[0]["everywhere"], false);
    assert_eq!(lines[1]["target"], "https://api.x.com/v1");
    assert_eq!(lines[1]["everywhere"], true);
    assert_eq!(lines[2]["chromium"], true);
    // Keys in the documented order.
    let first = stdout(&o).lines().next().unwrap().to_owned();
    let order: Vec<usize> = [
        "\"target\"",
        "\"spec\"",
        "\"chromium\"",
        "\"firefox\"",
        "\"webkit\"",
        "\"everywhere\"",
    ]
    .iter()
    .map(|k| first.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{first}");
    assert!(
        stderr(&o).contains("'unsafe-inline'"),
        "ignored source named on stderr"
    );
}

#[test]
fn check_header_uses_default_src_fallback() {
    let o = run(&[
        "check",
        "--header",
        "default-src 'self'; img-src *",
        "--page",
        "https://x.com/",
        "https://x.com/a",
        "https://y.com/a",
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("\"everywhere\":true"), "{out}");
    assert!(lines[1].contains("\"everywhere\":false"), "{out}");
}

#[test]
fn check_engine_differences_show() {
    let o = run(&[
        "check",
        "--policy",
        "*",
        "--page",
        "https://x.com/",
        "wss://y.com/",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (
            v["spec"].as_bool(),
            v["chromium"].as_bool(),
            v["firefox"].as_bool()
        ),
        (Some(false), Some(true), Some(true))
    );
}

#[test]
fn audit_exit_codes() {
    let bad = run(&["audit", "--policy", "* https://api.x.com"]);
    assert_eq!(bad.status.code(), Some(1));
    let findings: Vec<serde_json::Value> = stdout(&bad)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(findings
        .iter()
        .any(|f| f["code"] == "wildcard-star" && f["severity"] == "high"));
    for f in &findings {
        for k in ["severity", "code", "source", "message"] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
    }
    let dev = run(&[
        "audit",
        "--policy",
        "* https://api.x.com",
        "--env",
        "development",
    ]);
    assert_eq!(dev.status.code(), Some(0));
    let good = run(&[
        "audit",
        "--policy",
        "'self' https://api.x.com wss://api.x.com",
    ]);
    assert_eq!(good.status.code(), Some(0), "{}", stdout(&good));
    assert!(stdout(&good).is_empty());
    let invalid = run(&["audit", "--policy", "self", "--env", "development"]);
    assert_eq!(
        invalid.status.code(),
        Some(1),
        "the builder refuses it in every environment"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["frobnicate"][..],
        // A header where a source list belongs: `script-src` would become a host source.
        &[
            "check",
            "--policy",
            "'self' https://api.myapp.com; script-src *",
            "--page",
            "https://myapp.com/",
            "https://x.example/",
        ],
        &["check", "--page", "https://x.com/", "https://y.com/"],
        &["check", "--policy", "'self'", "https://y.com/"],
        &["check", "--policy", "'self'", "--page", "https://x.com/"],
        &[
            "check",
            "--policy",
            "'self'",
            "--header",
            "x",
            "--page",
            "https://x.com/",
            "https://y.com/",
        ],
        &[
            "check",
            "--policy",
            "'self'",
            "--page",
            "not a url",
            "https://y.com/",
        ],
        &[
            "check",
            "--policy",
            "'self'",
            "--page",
            "https://x.com/",
            "::",
        ],
        &["audit", "--policy", "'self'", "--env", "staging"],
        &["serve", "--listen", "not-an-address"],
        &["serve", "--durability", "process-crash"],
        &["serve", "--db", "x.sqlite", "--durability", "sometimes"],
        &[
            "suggest",
            "--db",
            "/nonexistent/x.sqlite",
            "--policy",
            "'self'",
        ],
        &["suggest", "--db", "x.sqlite", "--policy", "self;"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{args:?} said nothing");
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
}

/// `check`'s lines as JSON, and the per-engine verdicts of each: (spec, chromium, firefox,
/// webkit).
fn verdicts(o: &Output) -> Vec<(bool, bool, bool, bool)> {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let b = |k: &str| v[k].as_bool().unwrap();
            (b("spec"), b("chromium"), b("firefox"), b("webkit"))
        })
        .collect()
}

#[test]
fn check_help_documents_chains_api_and_meta() {
    let o = run(&["check", "--help"]);
    let help = stdout(&o);
    for needle in [
        "\"URL -> URL [-> URL]\"",
        "--api <API>",
        "fetch, xhr, eventsource, beacon or",
        "Default: websocket for ws:/wss: targets, fetch for the",
        "--meta <CONTENT>",
        "Repeat it for each",
        "upgrade-insecure-requests",
    ] {
        assert!(
            help.contains(needle),
            "check --help lacks {needle:?}:\n{help}"
        );
    }
}

#[test]
fn check_upgrade_insecure_requests_depends_on_the_api() {
    let header = "connect-src https://api.x.com; upgrade-insecure-requests";
    let ask = |api: Option<&str>| {
        let mut args = vec!["check", "--header", header, "--page", "https://x.com/"];
        if let Some(a) = api {
            args.extend(["--api", a]);
        }
        args.push("http://api.x.com/a");
        verdicts(&run(&args))[0]
    };
    // fetch (the default for an http URL): Chromium also judges the URL as written.
    assert_eq!(ask(None), (true, false, true, true));
    assert_eq!(ask(Some("fetch")), ask(None));
    assert_eq!(ask(Some("beacon")), (true, false, true, false));
    assert_eq!(ask(Some("xhr")), (true, true, true, true));
    // WebKit judges EventSource before the upgrade.
    assert_eq!(ask(Some("eventsource")), (true, true, true, false));
    // Chromium never upgrades a loopback name.
    let o = run(&[
        "check",
        "--header",
        "connect-src https://localhost:8443; upgrade-insecure-requests",
        "--api",
        "xhr",
        "--page",
        "https://localhost:8443/",
        "http://localhost:8443/a",
    ]);
    assert_eq!(verdicts(&o)[0], (true, false, true, true));
    // A ws: target is a WebSocket whatever --api says.
    let o = run(&[
        "check",
        "--header",
        "connect-src wss://api.x.com; upgrade-insecure-requests",
        "--api",
        "fetch",
        "--page",
        "https://x.com/",
        "ws://api.x.com/s",
    ]);
    assert_eq!(verdicts(&o)[0], (true, true, true, true));
    let bad = run(&[
        "check",
        "--policy",
        "'self'",
        "--api",
        "ping",
        "--page",
        "https://x.com/",
        "https://x.com/",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("ping"), "{}", stderr(&bad));
}

#[test]
fn check_redirect_chains() {
    let o = run(&[
        "check",
        "--policy",
        "https://api.x.com/v1/",
        "--page",
        "https://x.com/",
        "https://api.x.com/v1/a -> https://api.x.com/elsewhere",
        "https://api.x.com/v1/a->https://evil.example/",
        "https://api.x.com/other -> https://api.x.com/v1/a",
        "https://api.x.com/v1/a -> https://api.x.com/b -> https://evil.example/",
    ]);
    let all = (true, true, true, true);
    let none = (false, false, false, false);
    assert_eq!(verdicts(&o), [all, none, none, none]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(stdout(&o).lines().nth(1).unwrap()).unwrap()
            ["target"],
        "https://api.x.com/v1/a->https://evil.example/",
        "the target is echoed as given"
    );
    for (target, why) in [
        (
            "wss://api.x.com -> https://api.x.com/",
            "never follows a redirect",
        ),
        (
            "https://api.x.com -> data:text/plain,x",
            "http: or https: URL",
        ),
        ("https://api.x.com -> ", "no empty hop"),
    ] {
        let o = run(&[
            "check",
            "--policy",
            "'self'",
            "--page",
            "https://x.com/",
            target,
        ]);
        assert_eq!(o.status.code(), Some(2), "{target}");
        assert!(stderr(&o).contains(why), "{target}: {}", stderr(&o));
    }
}

#[test]
fn check_meta_policies() {
    // A ',' in one <meta> starts a second policy in Chromium and WebKit, not in Firefox.
    let o = run(&[
        "check",
        "--meta",
        "connect-src 'self', img-src *",
        "--page",
        "https://x.com/",
        "https://y.com/",
        "https://x.com/a",
    ]);
    assert_eq!(
        verdicts(&o),
        [(true, false, true, false), (true, true, true, true)]
    );
    assert!(stderr(&o).contains("Firefox"), "{}", stderr(&o));
    // With --header, both apply; two --meta, both apply.
    let o = run(&[
        "check",
        "--header",
        "connect-src *",
        "--meta",
        "connect-src 'self' https://a.com",
        "--meta",
        "connect-src https://a.com https://b.com",
        "--page",
        "https://x.com/",
        "https://x.com/",
        "https://a.com/",
        "https://b.com/",
    ]);
    let all = (true, true, true, true);
    let none = (false, false, false, false);
    assert_eq!(verdicts(&o), [none, all, none]);
    // report-uri in a <meta> is named as ignored.
    let o = run(&[
        "check",
        "--meta",
        "connect-src 'self'; report-uri /r",
        "--page",
        "https://x.com/",
        "https://x.com/",
    ]);
    assert_eq!(verdicts(&o), [all]);
    assert!(
        stderr(&o).contains("report-uri is ignored"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_blob_urls_match_only_blob() {
    for (policy, expect) in [
        ("'self'", (false, false, false, false)),
        ("*", (false, false, false, false)),
        ("https://x.com", (false, false, false, false)),
        ("blob:", (true, true, true, true)),
    ] {
        let o = run(&[
            "check",
            "--policy",
            policy,
            "--page",
            "https://x.com/",
            "blob:https://x.com/6f1a2b3c-0000-4000-8000-000000000000",
        ]);
        assert_eq!(verdicts(&o)[0], expect, "{policy}");
    }
}

/// The findings' codes and severities, and the exit status.
fn audit_codes(args: &[&str]) -> (Vec<(String, String)>, Option<i32>) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let o = run(&all);
    let codes = stdout(&o)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["code"].as_str().unwrap().to_owned(),
                v["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (codes, o.status.code())
}

#[test]
fn audit_refuses_public_suffix_wildcards() {
    for wildcard in [
        "https://*.r2.dev",
        "https://*.s3.amazonaws.com",
        "https://*.github.io",
        "https://*.com",
    ] {
        let policy = format!("'self' {wildcard}");
        let (codes, status) = audit_codes(&["--policy", &policy]);
        assert_eq!(
            codes,
            [("public-suffix-wildcard".to_owned(), "high".to_owned())],
            "{wildcard}: no other finding (no advice to add its wss:// twin)"
        );
        assert_eq!(status, Some(1), "{wildcard}");
    }
    for own in ["https://*.myapp.com", "https://my-bucket.s3.amazonaws.com"] {
        let policy = format!("'self' {own}");
        let (codes, status) = audit_codes(&["--policy", &policy]);
        assert_eq!((codes, status), (vec![], Some(0)), "{own}");
    }
}

#[test]
fn audit_flags_dev_leftovers() {
    let (codes, status) = audit_codes(&["--policy", "'self' http://localhost:*"]);
    assert_eq!(
        (codes, status),
        (
            vec![("loopback-port-wildcard".to_owned(), "warning".to_owned())],
            Some(0)
        )
    );
    let leftover = "'self' ws://127.0.0.1:5173 http://localhost:3000";
    let (codes, _) = audit_codes(&["--policy", leftover]);
    assert_eq!(
        codes,
        [
            ("dev-server-leftover".to_owned(), "warning".to_owned()),
            ("dev-server-leftover".to_owned(), "warning".to_owned())
        ]
    );
    let (codes, _) = audit_codes(&["--policy", leftover, "--env", "development"]);
    assert!(codes.is_empty(), "{codes:?}");
}

#[test]
fn audit_hints_websockets_only_for_the_apps_own_hosts() {
    let list = "'self' https://api.myapp.com https://o450.ingest.sentry.io \
                https://www.google-analytics.com https://region1.google-analytics.com";
    let (codes, _) = audit_codes(&["--policy", list]);
    assert!(codes.is_empty(), "{codes:?}");
    let (codes, _) = audit_codes(&["--policy", list, "--page", "https://myapp.com/"]);
    assert_eq!(
        codes,
        [("missing-wss-counterpart".to_owned(), "info".to_owned())]
    );
    let o = run(&["audit", "--policy", list, "--page", "myapp.com"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--page \"myapp.com\""),
        "{}",
        stderr(&o)
    );
}

// ---- serve ---------------------------------------------------------------------------------

fn serve(db: &Path) -> Server {
    serve_with(db, &[])
}

fn serve_with(db: &Path, args: &[&str]) -> Server {
    let db = db.to_str().unwrap();
    let mut all = vec!["--db", db];
    all.extend_from_slice(args);
    common::serve(&all)
}

fn report(host: &str, disposition: &str) -> String {
    format!(
        r#"{{"csp-report":{{"document-uri":"https://app.example/page","blocked-uri":"https://{host}/x?secret=1","effective-directive":"connect-src","disposition":"{disposition}"}}}}"#
    )
}

#[test]
fn serve_post_summary_dashboard_and_suggest() {
    let dir = tmpdir("serve");
    let db = dir.join("reports.sqlite");
    let server = serve(&db);
    let hosts = [
        "a.cdn.example.net",
        "b.cdn.example.net",
        "c.cdn.example.net",
        "api.stripe.com",
        "api.stripe.com",
    ];
    // Each from two client networks (two loopback /24s): what is learned rests on reach.
    for h in hosts {
        for from in ["127.0.1.1", "127.0.2.1"] {
            let answer = common::request_from(
                Some(from.parse().unwrap()),
                server.addr,
                "POST",
                "/csp-reports",
                &[("Content-Type", "application/csp-report")],
                &report(h, "report"),
            )
            .unwrap();
            assert_eq!(answer.status, 204);
        }
    }
    let (status, _) = http(
        server.addr,
        "POST",
        "/csp-reports",
        Some("application/csp-report"),
        &report("enforced.example", "enforce"),
    )
    .unwrap();
    assert_eq!(status, 204);
    let (status, body) =
        http(server.addr, "POST", "/csp-reports", Some("text/plain"), "x").unwrap();
    assert_eq!(status, 415, "{body}");

    let (status, body) = http(server.admin, "GET", "/csp-reports/summary", None, "").unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["total"], 11);
    let stripe = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["blocked_origin"] == "https://api.stripe.com")
        .unwrap();
    assert_eq!(stripe["count"], 4);
    assert_eq!(stripe["reach"], 2, "two client networks");
    assert_eq!(
        stripe["sample"], "https://api.stripe.com/x",
        "query stripped"
    );
    let (status, html) = http(server.admin, "GET", "/csp-reports/dashboard", None, "").unwrap();
    assert_eq!(status, 200);
    assert!(html.contains("api.stripe.com"));
    drop(server);

    // The collector knew no served policy: its reports are unverified, and learned from
    // only when asked.
    let o = run(&[
        "suggest",
        "--db",
        db.to_str().unwrap(),
        "--policy",
        "'self'",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "'self'");
    assert!(stderr(&o).contains("classed unverified"), "{}", stderr(&o));
    let o = run(&[
        "suggest",
        "--db",
        db.to_str().unwrap(),
        "--policy",
        "'self'",
        "--learn-unverified",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "'self' https://*.cdn.example.net https://api.stripe.com"
    );
    let why = stderr(&o);
    assert!(
        why.contains("3 subdomains")
            && why.contains("add https://api.stripe.com: 4 reports, from 2 client networks"),
        "{why}"
    );
    // A minimum reach of three networks: shown, not proposed.
    let o = run(&[
        "suggest",
        "--db",
        db.to_str().unwrap(),
        "--policy",
        "'self'",
        "--learn-unverified",
        "--min-reach",
        "3",
    ]);
    assert_eq!(stdout(&o).trim(), "'self'");
    assert!(
        stderr(&o).contains("not added: https://api.stripe.com: seen from 2"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stdout(&o).contains("enforced.example"),
        "only report-only violations are learned from"
    );
    let o = run(&[
        "suggest",
        "--db",
        db.to_str().unwrap(),
        "--policy",
        "'self' https://*.cdn.example.net https://api.stripe.com",
        "--learn-unverified",
    ]);
    assert_eq!(
        stdout(&o).trim(),
        "'self' https://*.cdn.example.net https://api.stripe.com"
    );
    assert!(stderr(&o).contains("nothing to add"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The inventory through `serve` on SQLite: what sampled pages used, and `unused` naming
/// exactly the source nothing real used; noise, forged tokens and one attacker's network
/// change nothing.
#[test]
fn serve_keeps_the_inventory_and_unused_names_the_unused_source() {
    let dir = tmpdir("inventory");
    let db = dir.join("reports.sqlite");
    let secret = dir.join("secret");
    let text = "6e0f2a9c4b7d1e8f3a5c0b2d9e4f7a1c8b3d6e0f2a9c4b7d1e8f3a5c0b2d9e4f";
    std::fs::write(&secret, text).unwrap();
    let server = serve_with(&db, &["--provenance-secret-file", secret.to_str().unwrap()]);
    let ok = common::post_inventory(&[server.addr], text);
    assert_eq!(ok, 6 * 4 + 2 + 20, "every report answered 204");
    let (status, body) = http(server.admin, "GET", "/csp-reports/summary", None, "").unwrap();
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["total"], 0,
        "observations are never violations: {body}"
    );
    drop(server);
    let rows: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM observations", [], |r| r.get(0))
        .unwrap();
    // 18 from the pages and 20 from the attacker's page load, capped at 256 a page load;
    // noise and the forged ones dropped.
    assert_eq!(rows, 18 + 20);
    common::check_unused(db.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every report answered 204 is in the database after the server is killed with SIGKILL
/// while reports are still streaming in.
#[test]
fn acknowledged_reports_survive_kill_9() {
    kill_9_loses_nothing("kill9", &[]);
}

/// The same with `--durability process-crash`: no fsync before the 204, yet nothing
/// acknowledged is lost when only the process dies.
#[test]
fn acknowledged_reports_survive_kill_9_without_fsync() {
    kill_9_loses_nothing("kill9-process", &["--durability", "process-crash"]);
}

fn kill_9_loses_nothing(name: &str, args: &[&str]) {
    let dir = tmpdir(name);
    let db = dir.join("reports.sqlite");
    let mut server = serve_with(&db, args);
    let addr = server.addr;
    let sender = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        for n in 0..100_000u32 {
            if Instant::now() > deadline {
                break;
            }
            match http(
                addr,
                "POST",
                "/csp-reports",
                Some("application/csp-report"),
                &report(&format!("u{n}.example"), "report"),
            ) {
                Ok((204, _)) => acked.push(n),
                // The kill landed mid-exchange: no complete answer, so not acknowledged.
                Ok((0, _)) | Err(_) => break,
                Ok((status, body)) => panic!("unexpected {status}: {body}"),
            }
        }
        acked
    });
    // Let reports stream, then kill mid-stream.
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap(); // SIGKILL on Unix
    server.child.wait().unwrap();
    let acked = sender.join().unwrap();
    assert!(
        acked.len() > 20,
        "only {} reports were acknowledged before the kill",
        acked.len()
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn.prepare("SELECT blocked_url FROM violations").unwrap();
    let stored: HashSet<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let missing: Vec<u32> = acked
        .iter()
        .copied()
        .filter(|n| !stored.contains(&format!("https://u{n}.example/x")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged reports lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    println!(
        "kill -9 ({name}): {} acknowledged, {} stored, none lost",
        acked.len(),
        stored.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
