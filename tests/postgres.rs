//! `PostgresSink` against a real PostgreSQL (Debian's `postgresql` package): every test
//! starts a throw-away cluster (initdb in a temp dir, a free port on 127.0.0.1), stops it by
//! its PID and removes it afterwards. With CI=true a missing PostgreSQL fails the suite;
//! locally the tests say loudly that they skipped.
//!
//! Covered: the sink's contract in process (rows, groups, noise, NUL bytes, suggest over a
//! postgres:// URL), concurrent group upserts from several sinks (counts exact), migrations
//! (concurrent opens, a newer schema refused untouched), prune, a database restart under
//! load (503 while it is gone, never a 204 for an unstored report, accepting again after),
//! and three `connect-src serve` processes on one database with one killed by SIGKILL.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use connect_src::report::intake::{parse_reports, NoiseFilter, NormalizeOptions};
use connect_src::report::store::{
    GroupKey, HourWindow, ReportSink, ReportStore, StoreError, Violation, ACTIVITY_HOURS,
};
use connect_src::report::{Collector, PostgresSink};
use tower::ServiceExt;

mod common;
use common::pg::{free_port, text, Pg, Polls};
use common::{http, Server, BIN};

/// The collector's two routers on one app, as tests reach both sides through one router.
fn both(c: connect_src::report::Collector) -> axum::Router {
    c.report_router().merge(c.admin_router())
}

// ---- reports -------------------------------------------------------------------------------

fn report(host: &str, disposition: &str) -> String {
    format!(
        r#"{{"csp-report":{{"document-uri":"https://app.example/page","blocked-uri":"https://{host}/x?secret=1","effective-directive":"connect-src","disposition":"{disposition}"}}}}"#
    )
}

/// POSTs one report body, as a client of one network (198.51.100.0/24) would.
async fn post(app: &axum::Router, body: String) -> StatusCode {
    let mut req = Request::post("/csp-reports")
        .header("content-type", "application/csp-report")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(
        "198.51.100.1:40000".parse::<SocketAddr>().unwrap(),
    ));
    app.clone().oneshot(req).await.unwrap().status()
}

async fn stored_urls(pg: &Pg) -> HashSet<String> {
    pg.client()
        .await
        .query("SELECT blocked_url FROM violations", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The sink's blocking reads, from the blocking pool (as the collector calls them).
async fn summary(sink: &PostgresSink) -> connect_src::report::store::Summary {
    sink.summary(1000).await.unwrap()
}

// ---- in process ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_groups_noise_and_nul_and_suggest_reads_it() {
    let Some(pg) = Pg::start("contract") else {
        return;
    };
    let sink = PostgresSink::open(&pg.url()).unwrap();
    let app: axum::Router = both(Collector::builder().store(sink.clone()).build());
    for h in [
        "a.cdn.example.net",
        "b.cdn.example.net",
        "c.cdn.example.net",
        "api.stripe.com",
        "api.stripe.com",
    ] {
        assert_eq!(
            post(&app, report(h, "report")).await,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        post(&app, report("enforced.example", "enforce")).await,
        StatusCode::NO_CONTENT
    );
    // Noise (a browser extension) is counted, not stored.
    let noise = r#"{"csp-report":{"document-uri":"https://app.example/","blocked-uri":"chrome-extension://abc/x.js","effective-directive":"connect-src"}}"#;
    assert_eq!(post(&app, noise.into()).await, StatusCode::NO_CONTENT);
    // PostgreSQL refuses NUL in text; the report is stored all the same.
    let nul = r#"{"csp-report":{"document-uri":"https://app.example/\u0000p","blocked-uri":"https://nul.example/\u0000","effective-directive":"connect-src","script-sample":"a\u0000b"}}"#;
    assert_eq!(post(&app, nul.into()).await, StatusCode::NO_CONTENT);

    let s = summary(&sink).await;
    assert_eq!(s.total, 7);
    assert_eq!(s.filtered, 1);
    let stripe = s
        .groups
        .iter()
        .find(|g| g.blocked_origin == "https://api.stripe.com")
        .unwrap();
    assert_eq!(stripe.count, 2);
    assert_eq!(stripe.sample, "https://api.stripe.com/x", "query stripped");
    assert_eq!(s.groups[0].blocked_origin, "https://api.stripe.com");
    let count = { sink.count().await.unwrap() };
    assert_eq!(count, 7);
    let (status, json) = {
        let res = app
            .clone()
            .oneshot(
                Request::get("/csp-reports/summary")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        )
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["total"], 7);

    // `suggest` reads the same store over a postgres:// URL.
    let url = pg.url();
    let o = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            // One client network, unverified reports: learned from only when asked.
            .args([
                "suggest",
                "--db",
                &url,
                "--policy",
                "'self'",
                "--learn-unverified",
                "--min-reach",
                "1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout).trim(),
        "'self' https://*.cdn.example.net https://api.stripe.com"
    );
}

/// A report-only violation of `blocked` from page `path`, received at `secs` (Unix seconds).
fn violation(blocked: &str, path: &str, secs: u64) -> Violation {
    let body = format!(
        r#"{{"csp-report":{{"document-uri":"https://app.example{path}","blocked-uri":"{blocked}","effective-directive":"connect-src","disposition":"report"}}}}"#
    );
    let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
        .unwrap()
        .violations
        .remove(0);
    v.received_at = UNIX_EPOCH + Duration::from_secs(secs);
    v
}

/// Hourly counts are read from the rows by `received_at` (Unix hours, UTC), per asked-for
/// group and in all, hours and days apart, window edges exact; a key holding NUL (which
/// PostgreSQL stores as U+FFFD) finds its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_rows_by_hour() {
    let Some(pg) = Pg::start("activity") else {
        return;
    };
    let sink = PostgresSink::open(&pg.url()).unwrap();
    const H: u64 = 500_000; // 2027-01-15T08:00:00Z, in Unix hours
    let s = |hour: u64, second: u64| hour * 3600 + second;
    // The parser writes control characters out; a violation made otherwise may still hold
    // a NUL, which PostgreSQL refuses in text: the store keeps it all the same.
    let mut nul = violation("https://n.example/", "/p", s(H - 2, 5));
    nul.set_document_url("https://app.example/\0p");
    let batch = vec![
        violation("https://a.example/1", "/", s(H, 0)),
        violation("https://a.example/2", "/", s(H, 3599)),
        violation("https://a.example/3", "/", s(H - 1, 1800)),
        violation("https://a.example/4", "/", s(H - 50, 7)), // two days before
        violation("https://a.example/5", "/", s(H - 168, 3599)), // just before the window
        violation("https://a.example/6", "/", s(H + 1, 0)),  // just after
        violation("https://b.example/", "/", s(H - 3, 0)),
        nul.clone(),
    ];
    sink.submit(batch).await.unwrap();
    let groups = summary(&sink).await.groups;
    let key = |origin: &str| {
        groups
            .iter()
            .find(|g| g.blocked_origin == origin)
            .unwrap()
            .key()
    };
    let (a, b) = (key("https://a.example"), key("https://b.example"));
    let nul_key = GroupKey::of(&nul);
    assert!(nul_key.document_path.contains('\0'));
    let window = HourWindow::ending_at(UNIX_EPOCH + Duration::from_secs(s(H, 10)), ACTIVITY_HOURS);
    let read = {
        let (sink, keys) = (sink.clone(), vec![a.clone(), nul_key.clone()]);
        sink.activity(&keys, window).await.unwrap()
    };
    assert_eq!(read.window(), Some(window));
    let mut want = vec![0u64; 168];
    (want[167], want[166], want[167 - 50]) = (2, 1, 1);
    assert_eq!(read.group(&a), Some(&want[..]));
    assert_eq!(read.group(&b), None, "not asked for");
    let mut want_nul = vec![0u64; 168];
    want_nul[165] = 1;
    assert_eq!(read.group(&nul_key), Some(&want_nul[..]));
    (want[167 - 3], want[165]) = (1, 1); // b.example and the NUL group, in the total
    assert_eq!(read.total(), &want[..]);

    let day = {
        let (sink, keys) = (sink.clone(), vec![a.clone(), b.clone()]);
        let window = HourWindow::ending_at(UNIX_EPOCH + Duration::from_secs(s(H, 0)), 24);
        sink.activity(&keys, window).await.unwrap()
    };
    let mut b_want = [0u64; 24];
    b_want[20] = 1;
    assert_eq!(day.group(&b), Some(&b_want[..]));
    assert_eq!(day.group(&a).unwrap().iter().sum::<u64>(), 3);
    assert_eq!(day.total().iter().sum::<u64>(), 5);

    // No keys: the total alone.
    let none = {
        let sink = sink.clone();
        sink.activity(&[], window).await.unwrap()
    };
    assert_eq!(
        (none.groups().count(), none.total().iter().sum::<u64>()),
        (0, 6)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upserts_from_several_sinks_count_exactly() {
    let Some(pg) = Pg::start("upserts") else {
        return;
    };
    // Three sinks, three pools: as three collector processes would write.
    let sinks: Vec<PostgresSink> = (0..3)
        .map(|_| PostgresSink::builder().writers(3).open(&pg.url()).unwrap())
        .collect();
    let apps: Vec<axum::Router> = sinks
        .iter()
        .map(|s| {
            both(
                Collector::builder()
                    .store(s.clone())
                    .noise_filter(NoiseFilter::none())
                    .build(),
            )
        })
        .collect();
    let hosts = ["a.example", "b.example", "c.example", "d.example"];
    let mut tasks = Vec::new();
    for worker in 0..24usize {
        let app = apps[worker % 3].clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = vec![0u64; hosts.len()];
            for i in 0..40usize {
                // Several groups per request, in varying orders across workers.
                let (h1, h2) = (hosts[(worker + i) % 4], hosts[(worker * 3 + i + 1) % 4]);
                let body = format!("[{},{}]", reporting_api(h1), reporting_api(h2));
                let res = app
                    .clone()
                    .oneshot(
                        Request::post("/csp-reports")
                            .header("content-type", "application/reports+json")
                            .body(Body::from(body))
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                match res.status() {
                    StatusCode::NO_CONTENT => {
                        for h in [h1, h2] {
                            acked[hosts.iter().position(|x| *x == h).unwrap()] += 1;
                        }
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            acked
        }));
    }
    let mut expected = vec![0u64; hosts.len()];
    for t in tasks {
        for (e, a) in expected.iter_mut().zip(t.await.unwrap()) {
            *e += a;
        }
    }
    let total: u64 = expected.iter().sum();
    assert_eq!(total, 24 * 40 * 2);
    for sink in &sinks {
        let s = summary(sink).await;
        assert_eq!(s.total, total);
        for (h, want) in hosts.iter().zip(&expected) {
            let g = s
                .groups
                .iter()
                .find(|g| g.blocked_origin.as_str() == format!("https://{h}"))
                .unwrap();
            assert_eq!(g.count, *want, "{h}");
        }
    }
    let rows: i64 = pg
        .client()
        .await
        .query_one("SELECT count(*) FROM violations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as u64, total);
}

fn reporting_api(host: &str) -> String {
    format!(
        r#"{{"type":"csp-violation","age":1,"url":"https://app.example/","body":{{"documentURL":"https://app.example/","blockedURL":"https://{host}/x","effectiveDirective":"connect-src","disposition":"enforce"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_and_a_newer_schema_is_refused_untouched() {
    let Some(pg) = Pg::start("migrate") else {
        return;
    };
    // Several processes opening a new database at once: one migrates, the others wait
    // on the advisory lock and find it done.
    let url = pg.url();
    let opened = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| PostgresSink::open(&url).map(drop)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    })
    .await
    .unwrap();
    for o in opened {
        o.unwrap();
    }
    let client = pg.client().await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM connect_src_schema", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [4]);

    // A database a later version wrote: refused, and left as it was.
    client
        .batch_execute(
            "UPDATE connect_src_schema SET version = 99;
             INSERT INTO counters (name, value) VALUES ('canary', 7)",
        )
        .await
        .unwrap();
    let url = pg.url();
    let err = tokio::task::spawn_blocking(move || PostgresSink::open(&url))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                supported: 4
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade connect-src"), "{err}");
    let version: i32 = client
        .query_one("SELECT version FROM connect_src_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 99);
    let canary: i64 = client
        .query_one("SELECT value FROM counters WHERE name = 'canary'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(canary, 7);

    // Typed errors for a bad URL and a server that is not there.
    let err = PostgresSink::open("postgres://u@127.0.0.1:notaport/db").unwrap_err();
    assert!(matches!(err, StoreError::Configuration(_)), "{err}");
    let port = free_port();
    let err = tokio::task::spawn_blocking(move || {
        PostgresSink::open(&format!("postgres://u@127.0.0.1:{port}/db"))
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_old_rows_and_recounts_groups() {
    let Some(pg) = Pg::start("prune") else {
        return;
    };
    let sink = PostgresSink::open(&pg.url()).unwrap();
    let app: axum::Router = both(Collector::builder().store(sink.clone()).build());
    for h in ["old.example", "old.example", "new.example"] {
        assert_eq!(
            post(&app, report(h, "report")).await,
            StatusCode::NO_CONTENT
        );
    }
    // Age one group's rows by hand (received_at is in Unix seconds).
    pg.client()
        .await
        .execute(
            "UPDATE violations SET received_at = 1000 WHERE blocked_origin = 'https://old.example'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(sink.prune_before(UNIX_EPOCH).await.unwrap(), 0);
    assert_eq!(
        summary(&sink).await.total,
        3,
        "nothing pruned, nothing recounted"
    );
    let deleted = sink
        .prune_before(UNIX_EPOCH + Duration::from_secs(2000))
        .await;
    assert_eq!(deleted.unwrap(), 2);
    let s = summary(&sink).await;
    assert_eq!(s.total, 1);
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.groups[0].blocked_origin, "https://new.example");
    // Reports keep coming after a prune.
    assert_eq!(
        post(&app, report("new.example", "report")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(summary(&sink).await.groups[0].count, 2);
}

/// A statement failing inside the commit rolls back the whole batch (rows and groups) and
/// the report is answered 503; the connection is replaced and the next report is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stores_nothing_and_answers_503() {
    let Some(pg) = Pg::start("rollback") else {
        return;
    };
    let sink = PostgresSink::open(&pg.url()).unwrap();
    let app: axum::Router = both(Collector::builder().store(sink.clone()).build());
    // The groups upsert fails for this origin only, after the rows were inserted.
    pg.client()
        .await
        .batch_execute(
            "ALTER TABLE groups ADD CONSTRAINT no_poison
             CHECK (blocked_origin <> 'https://poison.example')",
        )
        .await
        .unwrap();
    assert_eq!(
        post(&app, report("poison.example", "report")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(stored_urls(&pg).await.is_empty(), "rows rolled back too");
    assert_eq!(
        post(&app, report("fine.example", "report")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        stored_urls(&pg).await,
        HashSet::from(["https://fine.example/x".to_owned()])
    );
    assert_eq!(summary(&sink).await.total, 1);
}

/// Two commits in flight share one connection (pipelined). With one report in 23
/// failing its commit on the server, the commits beside it must not be touched: exactly
/// the reports answered 204 are stored, none of the failing ones, and the sink goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commits_fail_alone() {
    let Some(pg) = Pg::start("pipelined") else {
        return;
    };
    let sink = PostgresSink::builder().writers(2).open(&pg.url()).unwrap();
    let app: axum::Router = both(Collector::builder().store(sink.clone()).build());
    pg.client()
        .await
        .batch_execute(
            "ALTER TABLE groups ADD CONSTRAINT no_poison
             CHECK (blocked_origin NOT LIKE 'https://poison%')",
        )
        .await
        .unwrap();
    // Eight clients, each sending its next report when the last is answered: commits
    // of a few reports each, about one in three with a failing one.
    let mut tasks = Vec::new();
    for w in 0..8usize {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..50usize {
                let n = w * 50 + i;
                let host = if n % 23 == 0 {
                    format!("poison{n}.example")
                } else {
                    format!("fine{n}.example")
                };
                let status = post(&app, report(&host, "report")).await;
                seen.push((format!("https://{host}/x"), status));
            }
            seen
        }));
    }
    let (mut acked, mut refused) = (HashSet::new(), 0);
    for t in tasks {
        for (url, status) in t.await.unwrap() {
            match status {
                StatusCode::NO_CONTENT => {
                    acked.insert(url);
                }
                StatusCode::SERVICE_UNAVAILABLE => refused += 1,
                other => panic!("{url}: {other}"),
            }
        }
    }
    assert!(
        refused > 0,
        "no commit failed: the test did not test anything"
    );
    let stored = stored_urls(&pg).await;
    assert!(stored.iter().all(|u| !u.contains("poison")), "{stored:?}");
    assert_eq!(stored, acked, "stored and acknowledged differ");
    assert!(!acked.is_empty(), "no commit went through");
    // Still accepting after all those failures.
    assert_eq!(
        post(&app, report("after.example", "report")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(summary(&sink).await.total, acked.len() as u64 + 1);
}

/// PostgreSQL goes away under load: the collector answers 503 (never 204 for a report it
/// did not store), then accepts again by itself once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_restart_under_load_gives_503_then_recovers() {
    let Some(pg) = Pg::start("restart") else {
        return;
    };
    let sink = PostgresSink::builder()
        .timeout(Duration::from_secs(5))
        .open(&pg.url())
        .unwrap();
    let app: axum::Router = both(Collector::builder().store(sink.clone()).build());
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (app, acked, refused, stop, next) = (
            app.clone(),
            acked.clone(),
            refused.clone(),
            stop.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = next.fetch_add(1, Ordering::SeqCst);
                match post(&app, report(&format!("r{n}.example"), "report")).await {
                    StatusCode::NO_CONTENT => acked.lock().unwrap().push(n),
                    StatusCode::SERVICE_UNAVAILABLE => {
                        refused.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
        }));
    }
    let acked_now = || acked.lock().unwrap().len();
    // Reports flowing, then the database dies.
    let mut polls = Polls::new("reports flowing");
    while acked_now() < 200 {
        polls.next();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pg = tokio::task::spawn_blocking(move || {
        pg.crash();
        pg
    })
    .await
    .unwrap();
    // Wait for the refusals (every request now fails: no server).
    let mut polls = Polls::new("503s while the database is down");
    while refused.load(Ordering::SeqCst) < 50 {
        polls.next();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked_while_down = acked_now();
    let pg = tokio::task::spawn_blocking(move || {
        pg.start_server();
        pg
    })
    .await
    .unwrap();
    // Accepting again by itself: new 204s after the restart.
    let mut polls = Polls::new("204s again after the restart");
    while acked_now() < acked_while_down + 200 {
        polls.next();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let stored = stored_urls(&pg).await;
    let missing: Vec<usize> = acked
        .iter()
        .copied()
        .filter(|n| !stored.contains(&format!("https://r{n}.example/x")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged reports lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    println!(
        "restart: {} acknowledged, {} answered 503, {} stored, none lost",
        acked.len(),
        refused.load(Ordering::SeqCst),
        stored.len()
    );
    assert_eq!(summary(&sink).await.total, stored.len() as u64);
}

#[test]
fn open_errors_are_typed_without_a_server() {
    let err = PostgresSink::open("mysql://x").unwrap_err();
    assert!(matches!(err, StoreError::Configuration(_)), "{err}");
    assert!(err.to_string().contains("postgres://"), "{err}");
    // Nothing listens on a port just freed: the message keeps the cause, not only
    // tokio-postgres's "error connecting to server".
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = PostgresSink::builder()
        .timeout(Duration::from_secs(5))
        .open(&format!("postgres://u@127.0.0.1:{port}/db"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    // The sink error the collector maps to 503 is the documented one.
    assert_eq!(
        StoreError::Full.to_string(),
        "the report store's queue is full"
    );
}

// ---- three `connect-src serve` processes on one database -----------------------------------

fn serve(db: &str) -> Server {
    common::serve(&["--db", db])
}

fn total_of(addr: SocketAddr) -> u64 {
    let (status, body) = http(addr, "GET", "/csp-reports/summary", None, "").unwrap();
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["total"].as_u64().unwrap()
}

/// The inventory on a fleet: two collectors on one database with one secret take the
/// scenario's reports between them; `unused` reads the whole fleet's inventory and names
/// exactly the source nothing real used (noise, forged tokens and one attacker's network
/// change nothing).
#[test]
fn two_collectors_keep_one_inventory_and_unused_reads_it() {
    let Some(pg) = Pg::start("inventory") else {
        return;
    };
    let url = pg.url();
    let dir = std::env::temp_dir().join(format!("connect-src-pg-inventory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret");
    let text = "0c5e8a2f7b1d4e9a3c6f0b8d2e5a7c1f4b9d3e6a0c5e8a2f7b1d4e9a3c6f0b8d";
    std::fs::write(&secret, text).unwrap();
    let servers: Vec<Server> = (0..2)
        .map(|_| {
            common::serve(&[
                "--db",
                &url,
                "--provenance-secret-file",
                secret.to_str().unwrap(),
            ])
        })
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    assert_eq!(common::post_inventory(&addrs, text), 6 * 4 + 2 + 20);
    assert_eq!(
        total_of(servers[0].admin),
        0,
        "observations are never violations"
    );
    drop(servers);
    common::check_unused(&url);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three collectors on one database, one killed with SIGKILL mid-stream: every report any
/// of them acknowledged is stored, and the survivors show the same total.
#[test]
fn three_collectors_one_killed_lose_no_acknowledged_report() {
    let Some(pg) = Pg::start("fleet") else {
        return;
    };
    let url = pg.url();
    let mut servers: Vec<Server> = (0..3).map(|_| serve(&url)).collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let per_server: Arc<Vec<AtomicUsize>> = Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
    let mut senders = Vec::new();
    for worker in 0..6usize {
        let (stop, per_server) = (stop.clone(), per_server.clone());
        let addr = addrs[worker % 3];
        senders.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let host = format!("w{worker}-{n}.example");
                match http(
                    addr,
                    "POST",
                    "/csp-reports",
                    Some("application/csp-report"),
                    &report(&host, "report"),
                ) {
                    Ok((204, _)) => {
                        acked.push(host);
                        per_server[worker % 3].fetch_add(1, Ordering::SeqCst);
                    }
                    // Killed mid-exchange: no complete answer, so not acknowledged; this
                    // worker's server is gone.
                    Ok((0, _)) | Err(_) => break,
                    Ok((status, body)) => panic!("unexpected {status}: {body}"),
                }
            }
            acked
        }));
    }
    let acked_by = |i: usize| per_server[i].load(Ordering::SeqCst);
    let mut polls = Polls::new("reports flowing to the first collector");
    while acked_by(0) < 100 {
        polls.next();
        std::thread::sleep(Duration::from_millis(10));
    }
    servers[0].child.kill().unwrap(); // SIGKILL on Unix
    servers[0].child.wait().unwrap();
    servers.remove(0);
    // The survivors go on taking reports.
    let (a1, a2) = (acked_by(1), acked_by(2));
    let mut polls = Polls::new("the survivors taking reports");
    while acked_by(1) < a1 + 100 || acked_by(2) < a2 + 100 {
        polls.next();
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    let acked: Vec<String> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored = rt.block_on(stored_urls(&pg));
    let missing: Vec<&String> = acked
        .iter()
        .filter(|h| !stored.contains(&format!("https://{h}/x")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged reports lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let totals: Vec<u64> = servers.iter().map(|s| total_of(s.admin)).collect();
    assert_eq!(totals[0], totals[1], "survivors agree");
    assert_eq!(totals[0], stored.len() as u64, "total = rows stored");
    assert!(totals[0] >= acked.len() as u64);
    // The fleet's metrics: each survivor counts what it stored.
    let (status, metrics) = http(servers[0].admin, "GET", "/metrics", None, "").unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("connect_src_reports_stored_total")
            && metrics.contains("connect_src_sink_commit_seconds"),
        "{metrics}"
    );
    println!(
        "fleet: {} acknowledged ({} by the killed one), {} stored, survivors' total {}",
        acked.len(),
        acked_by(0),
        stored.len(),
        totals[0]
    );
    drop(servers);
    drop(pg);
}

// ---- `connect-src serve` and its database at start -----------------------------------------

/// POSTs one report to a serve process; its status and `Retry-After`.
fn post_to(server: &Server, host: &str) -> (u16, Option<String>) {
    let a = common::request(
        server.addr,
        "POST",
        "/csp-reports",
        &[("Content-Type", "application/csp-report")],
        &report(host, "report"),
    )
    .unwrap();
    (a.status, a.header("retry-after").map(str::to_owned))
}

/// PostgreSQL down when `serve` starts: it does not exit, it answers reports 503 with
/// Retry-After and `/healthz` 503 with the reason (the admin face with the error), retries
/// with backoff, and takes reports as soon as the database is up.
#[test]
fn serve_waits_for_postgres_at_start() {
    let Some(pg) = Pg::start("serve-down") else {
        return;
    };
    pg.crash();
    let mut server = common::serve_unready(&["--db", &pg.url()]);
    assert!(
        server
            .store
            .starts_with(&format!("PostgreSQL {}", pg.url())),
        "{}",
        server.store
    );
    let (status, retry) = post_to(&server, "early.example");
    assert_eq!(status, 503);
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)));
    let health = common::request(server.addr, "GET", "/healthz", &[], "").unwrap();
    assert_eq!(health.status, 503);
    assert!(health.body.contains("not open yet"), "{}", health.body);
    server.wait_for_log("a retry", |l| {
        l.contains("cannot open PostgreSQL yet") && l.contains("attempt=2")
    });
    let admin = common::request(server.admin, "GET", "/healthz", &[], "").unwrap();
    assert_eq!(admin.status, 503);
    assert!(
        admin.body.to_lowercase().contains("refused"),
        "{}",
        admin.body
    );
    assert_eq!(server.child.try_wait().unwrap(), None, "still running");

    pg.start_server();
    let mut polls = Polls::new("serve to open PostgreSQL");
    loop {
        match post_to(&server, "late.example") {
            (204, _) => break,
            (503, _) => {}
            other => panic!("{other:?}"),
        }
        polls.next();
        std::thread::sleep(Duration::from_millis(10));
    }
    let health = common::request(server.addr, "GET", "/healthz", &[], "").unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(total_of(server.admin), 1, "only the report answered 204");
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
}

/// The PostgreSQL password can stay out of the URL (and so out of `ps`): from
/// `--db-password-file` or PGPASSWORD. The banner shows a URL's password as `***`.
#[test]
fn serve_takes_the_postgres_password_apart_from_the_url() {
    let Some(pg) = Pg::start("serve-password") else {
        return;
    };
    // A password that needs percent-encoding in a URL.
    const PASSWORD: &str = "p@ss:w/rd 1%";
    pg.require_password(PASSWORD);
    let url = pg.url();
    let dir = pg.dir.join("secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();

    let accepts = |server: &Server, host: &str| {
        let mut polls = Polls::new("serve to open PostgreSQL with the password");
        loop {
            match post_to(server, host) {
                (204, _) => return,
                (503, _) => {}
                other => panic!("{other:?}"),
            }
            polls.next();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let server =
        common::serve_unready(&["--db", &url, "--db-password-file", file.to_str().unwrap()]);
    accepts(&server, "from-file.example");
    assert!(!server.store.contains("p@ss"), "{}", server.store);
    drop(server);

    let mut cmd = common::command(&["--db", &url]);
    cmd.env("PGPASSWORD", PASSWORD);
    let server = common::start_unready(cmd);
    accepts(&server, "from-pgpassword.example");
    drop(server);

    // Without it the login is refused: retried (the password may be fixed on the server),
    // and the admin face says why.
    let mut cmd = common::command(&["--db", &url]);
    cmd.env_remove("PGPASSWORD");
    let server = common::start_unready(cmd);
    server.wait_for_log("a refused login", |l| {
        l.contains("cannot open PostgreSQL yet")
    });
    assert_eq!(post_to(&server, "refused.example").0, 503);
    let admin = common::request(server.admin, "GET", "/healthz", &[], "").unwrap();
    assert!(admin.body.contains("password"), "{}", admin.body);
    drop(server);

    // In the URL: redacted in the banner.
    let encoded = url.replace("postgres@", "postgres:p%40ss%3Aw%2Frd%201%25@");
    let server = common::serve_unready(&["--db", &encoded]);
    accepts(&server, "from-url.example");
    assert!(server.store.contains("postgres:***@"), "{}", server.store);
    assert!(!server.store.contains("p%40ss"), "{}", server.store);
    drop(server);

    // Given twice is refused: which one counts would be a guess.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--db",
            &encoded,
            "--db-password-file",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("already has a password") && !err.contains("p%40ss"),
        "{err}"
    );
}
