//! Webhook alerts (issue 20), end to end on 127.0.0.1: a real receiver (an axum server
//! started here) and a real collector — `connect-src serve --db <sqlite>` as a process, or
//! the in-process collector on a real socket when a test needs windows of seconds. Reports
//! come from several loopback /24s (`127.0.N.1`), which the collector counts as distinct
//! client networks. Nothing here asserts how fast anything is: an alert must arrive within
//! 30 s, and report POSTs must answer 204.
#![cfg(feature = "cli")]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use connect_src::policy::ServedPolicies;
use connect_src::report::alert::{AlertFormat, Alerts};
use connect_src::report::{Collector, MemorySink};
use serde_json::Value;

mod common;

const SERVED: &str = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
/// The secret part of the webhook URL: it must never show in a log.
const SECRET: &str = "T0KEN-s3cret-4f9a";

/// What the receiver got: the token in the path, and the JSON body.
type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// A webhook receiver on 127.0.0.1, stopped and started again on the same port at will.
struct Receiver {
    port: u16,
    got: Got,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver on `port` (0: any free one).
    async fn start(port: u16) -> Receiver {
        let mut r = Receiver {
            port,
            got: Got::default(),
            stop: None,
            task: None,
        };
        r.listen().await;
        r
    }

    /// A receiver that is not listening yet, on a port that was free a moment ago.
    fn down() -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Receiver {
            port,
            got: Got::default(),
            stop: None,
            task: None,
        }
    }

    async fn listen(&mut self) {
        let got = self.got.clone();
        let app = Router::new().route(
            "/hook/{token}",
            post(move |Path(token): Path<String>, Json(v): Json<Value>| {
                let got = got.clone();
                async move { got.lock().unwrap().push((token, v)) }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        }));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook/{SECRET}", self.port)
    }

    /// Every body received so far, checking each came to the secret path.
    fn bodies(&self) -> Vec<Value> {
        let got = self.got.lock().unwrap();
        assert!(got.iter().all(|(token, _)| token == SECRET));
        got.iter().map(|(_, v)| v.clone()).collect()
    }

    /// Waits (at most 30 s) for a body that satisfies `want`, and returns it.
    async fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = self.bodies().into_iter().find(|v| want(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 30 s; got {:#?}",
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether `v` is a JSON alert of `kind` about `destination`.
fn about(v: &Value, kind: &str, destination: &str) -> bool {
    v["type"] == kind && v["details"]["destination"] == destination
}

/// How many new-destination alerts about `destination` are in `bodies`.
fn alerted(bodies: &[Value], destination: &str) -> usize {
    bodies
        .iter()
        .filter(|v| about(v, "new-destination", destination))
        .count()
}

/// Reports `marker` (genuine) from networks `nets` and waits for its new-destination
/// alert. Alerts go out in the order their reports came, so by then whatever the earlier
/// reports would raise has arrived: returns every body received.
async fn after_marker(
    receiver: &Receiver,
    addr: SocketAddr,
    nets: [u8; 2],
    marker: &str,
) -> Vec<Value> {
    for net in nets {
        genuine(addr, net, &format!("{marker}/")).await;
    }
    receiver
        .wait_for("the marker's alert", |v| {
            about(v, "new-destination", marker)
        })
        .await;
    receiver.bodies()
}

/// A report of `policy` blocking `blocked` on https://app.example.com/page.
fn report(blocked: &str, policy: &str) -> String {
    serde_json::json!({"csp-report": {
        "document-uri": "https://app.example.com/page",
        "blocked-uri": blocked,
        "effective-directive": "connect-src",
        "original-policy": policy,
        "disposition": "enforce",
    }})
    .to_string()
}

/// POSTs `body` to `addr`'s `/csp-reports` from `127.0.<net>.1` (client network `net`);
/// the status.
async fn post_from(addr: SocketAddr, net: u8, body: String) -> u16 {
    post_to(addr, "/csp-reports".into(), net, body).await
}

/// The same, to `path` (with the query an inventory report URL carries).
async fn post_to(addr: SocketAddr, path: String, net: u8, body: String) -> u16 {
    tokio::task::spawn_blocking(move || {
        let from: IpAddr = format!("127.0.{net}.1").parse().unwrap();
        common::request_from(
            Some(from),
            addr,
            "POST",
            &path,
            &[("Content-Type", "application/csp-report")],
            &body,
        )
        .unwrap()
        .status
    })
    .await
    .unwrap()
}

/// A genuine report of `blocked` (the served policy blocks it) from network `net`; asserts
/// 204.
async fn genuine(addr: SocketAddr, net: u8, blocked: &str) {
    let status = post_from(addr, net, report(blocked, SERVED)).await;
    assert_eq!(status, 204, "{blocked} from 127.0.{net}.1");
}

/// `connect-src serve` on a new SQLite file, classing reports against [`SERVED`], alerting
/// to `webhook`.
fn serve(dir: &std::path::Path, webhook: &str, extra: &[&str]) -> common::Server {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("reports.sqlite");
    let mut args = vec![
        "--db",
        db.to_str().unwrap(),
        "--policy-header",
        SERVED,
        "--alert-webhook",
        webhook,
    ];
    args.extend_from_slice(extra);
    common::serve(&args)
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("connect-src-alerts-{name}-{}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_alerts_a_new_genuine_destination_once_and_never_on_one_clients_word() {
    let receiver = Receiver::start(0).await;
    let dir = temp("new");
    let server = serve(&dir, &receiver.url(), &[]);
    // One client, however often: nothing.
    for _ in 0..20 {
        genuine(server.addr, 1, "https://lonely.example/x").await;
    }
    // A new destination from two client networks: one alert.
    genuine(server.addr, 1, "https://new.example/a").await;
    genuine(server.addr, 2, "https://new.example/b").await;
    let alert = receiver
        .wait_for("new-destination alert", |v| {
            about(v, "new-destination", "https://new.example")
        })
        .await;
    assert_eq!(alert["details"]["reach"], 2, "{alert}");
    assert_eq!(alert["details"]["seen_in"], "violations", "{alert}");
    assert_eq!(alert["details"]["class"], "genuine", "{alert}");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("https://new.example"),
        "{alert}"
    );
    // Reported again, from more networks: no second alert.
    genuine(server.addr, 3, "https://new.example/c").await;
    genuine(server.addr, 4, "https://new.example/d").await;
    let bodies = after_marker(&receiver, server.addr, [5, 6], "https://marker.example").await;
    assert_eq!(alerted(&bodies, "https://new.example"), 1, "{bodies:#?}");
    assert_eq!(alerted(&bodies, "https://lonely.example"), 0, "{bodies:#?}");
    // Sent and counted (once the webhook's answer is read); the webhook's secret is in no
    // log line.
    let sent = "connect_src_alerts_sent_total{type=\"new-destination\"} 2";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, metrics) = common::http(server.admin, "GET", "/metrics", None, "").unwrap();
        assert_eq!(status, 200);
        if metrics.contains(sent) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log();
    assert!(log.iter().any(|l| l.contains("alert sent")), "{log:#?}");
    assert!(!log.iter().any(|l| l.contains(SECRET)), "{log:#?}");
    drop(server);

    // A restart on the same database does not alert what it already knows.
    let server = serve(&dir, &receiver.url(), &[]);
    genuine(server.addr, 7, "https://new.example/e").await;
    genuine(server.addr, 8, "https://new.example/f").await;
    let bodies = after_marker(
        &receiver,
        server.addr,
        [9, 10],
        "https://after-restart.example",
    )
    .await;
    assert_eq!(alerted(&bodies, "https://new.example"), 1, "{bodies:#?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_posts_answer_204_while_the_receiver_is_down_and_the_alert_arrives_later() {
    let mut receiver = Receiver::down();
    let dir = temp("down");
    let server = serve(&dir, &receiver.url(), &[]);
    genuine(server.addr, 1, "https://while-down.example/").await;
    genuine(server.addr, 2, "https://while-down.example/").await;
    // The sender tried, failed, and will try again; reports are still taken meanwhile.
    let line = server.wait_for_log("about a failed try", |l| {
        l.contains("alert not sent yet; trying again")
    });
    assert!(!line.contains(SECRET), "{line}");
    for net in 3..13 {
        genuine(server.addr, net, "https://still-taken.example/").await;
    }
    // The receiver comes back: the retried alert arrives.
    receiver.listen().await;
    receiver
        .wait_for("the retried alert", |v| {
            about(v, "new-destination", "https://while-down.example")
        })
        .await;
    assert!(!server.log().iter().any(|l| l.contains(SECRET)));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_webhook_is_a_usage_error_that_shows_no_secret() {
    for bad in [
        format!("ftp://hooks.example/{SECRET}"),
        format!("hooks.example/{SECRET}"),
    ] {
        let out = common::command(&["--alert-webhook", &bad])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--alert-webhook"), "{err}");
        assert!(!err.contains(SECRET), "{err}");
    }
}

/// The collector in process (minimum reach 2, classing reports against [`SERVED`] when
/// `served`), serving its report route on a real socket of 127.0.0.1 with the peer's
/// address (so each `127.0.N.1` is a client network).
async fn collector(alerts: Alerts, served: bool) -> SocketAddr {
    let mut builder = Collector::builder().min_reach(2).alerts(alerts);
    if served {
        builder = builder.served_policies(ServedPolicies::from_headers([SERVED]));
    }
    let collector: Collector = builder.store(MemorySink::new()).build();
    let app: Router = collector.report_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_network_is_not_a_spike_and_many_networks_are() {
    let receiver = Receiver::start(0).await;
    let hour = Duration::from_millis(400);
    let alerts = Alerts::webhook(&receiver.url())
        .unwrap()
        .spike_hour(hour)
        .spike(2.0, 4);
    let addr = collector(alerts, true).await;
    // A spike is judged against a whole previous day (24 "hours"): let one pass.
    tokio::time::sleep(hour * 25).await;
    // One network's flood: hundreds of reports, one network.
    for _ in 0..200 {
        genuine(addr, 9, "https://flood.example/x").await;
    }
    // A marker alert after it (alerts go out in order): two more networks, still under the
    // floor of 4 with the flood's.
    genuine(addr, 10, "https://marker.example/").await;
    genuine(addr, 11, "https://marker.example/").await;
    receiver
        .wait_for("marker alert", |v| {
            about(v, "new-destination", "https://marker.example")
        })
        .await;
    let bodies = receiver.bodies();
    assert!(!bodies.iter().any(|v| v["type"] == "spike"), "{bodies:#?}");
    assert!(
        !bodies
            .iter()
            .any(|v| about(v, "new-destination", "https://flood.example")),
        "{bodies:#?}"
    );
    // Many networks at once: a spike (bursts of 12 until one lands within one "hour").
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut net = 20u8;
    let spike = loop {
        let burst: Vec<_> = (0..12)
            .map(|i| tokio::spawn(genuine(addr, net + i, "https://burst.example/")))
            .collect();
        for b in burst {
            b.await.unwrap();
        }
        net += 12;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(s) = receiver.bodies().into_iter().find(|v| v["type"] == "spike") {
            break s;
        }
        assert!(
            Instant::now() < deadline && net < 200,
            "no spike within 30 s"
        );
    };
    assert!(spike["details"]["reach"].as_u64().unwrap() >= 4, "{spike}");
    assert_eq!(spike["details"]["floor"], 4, "{spike}");
    // The "hour" it counted, in RFC 3339: this year's, not the epoch's.
    assert!(
        spike["details"]["window_start"].as_str().unwrap() > "2025",
        "{spike}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_fires_after_steady_traffic_stops() {
    let receiver = Receiver::start(0).await;
    let window = Duration::from_secs(2);
    let alerts = Alerts::webhook(&receiver.url())
        .unwrap()
        .silence_after(window);
    let addr = collector(alerts, false).await;
    // Steady: two networks, a report every 200 ms for longer than the window.
    let started = Instant::now();
    let mut i = 0u8;
    while started.elapsed() < window + Duration::from_millis(800) {
        genuine(addr, 1 + i % 2, "https://steady.example/").await;
        i = i.wrapping_add(1);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Then nothing: a silence alert.
    let alert = receiver
        .wait_for("silence alert", |v| v["type"] == "silence")
        .await;
    assert_eq!(alert["details"]["networks_before"], 2, "{alert}");
    assert_eq!(alert["details"]["window_seconds"], 2.0, "{alert}");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("check that pages still send reports"),
        "{alert}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_policy_alert_in_slacks_shape_escapes_what_the_reports_wrote() {
    let receiver = Receiver::start(0).await;
    let alerts = Alerts::webhook(&receiver.url())
        .unwrap()
        .format(AlertFormat::Slack);
    let addr = collector(alerts, true).await;
    // A policy the app never served, as an injected <meta> or a proxy would write it, with
    // text meant for Slack, the terminal (the intake already writes control characters as
    // `\u{1b}` text) and the reader's eye (a right-to-left override).
    let injected =
        "connect-src https://proxy.example <!channel> & \u{1b}[31m \u{202e}x; report-uri /csp-reports";
    for net in [1, 2] {
        let status = post_from(addr, net, report("https://proxy.example/x", injected)).await;
        assert_eq!(status, 204);
    }
    let alert = receiver
        .wait_for("foreign-policy alert", |v| {
            v["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*connect-src foreign-policy*"))
        })
        .await;
    let text = alert["text"].as_str().unwrap();
    assert_eq!(alert.as_object().unwrap().len(), 1, "only text: {alert}");
    assert!(
        text.contains("&lt;!channel&gt; &amp; \\u{1b}[31m \u{fffd}x"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{text}"
    );
    assert!(text.contains("• reach: 2"), "{text}");
    assert!(
        text.contains("• destinations: [\"https://proxy.example\"]"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_destination_alerts_at_two_page_loads_from_two_networks() {
    let receiver = Receiver::start(0).await;
    let alerts = Alerts::webhook(&receiver.url()).unwrap();
    let addr = collector(alerts, false).await;
    // A sampled page load's inventory report: its report-only `connect-src 'none'` saw a
    // WebSocket connection.
    let observe = |page: u64, net: u8, to: &'static str| {
        let query = format!("csp-inventory={page:016x}&csp-sample=0.01");
        let body = report(
            to,
            &format!("connect-src 'none'; report-uri /csp-reports?{query}"),
        );
        post_to(addr, format!("/csp-reports?{query}"), net, body)
    };
    // Many page loads from one network: nothing.
    for page in 1..=10 {
        assert_eq!(observe(page, 1, "wss://one-client.example/s").await, 204);
    }
    assert_eq!(observe(20, 1, "wss://live.example/s").await, 204);
    assert_eq!(observe(21, 2, "wss://live.example/s").await, 204);
    let alert = receiver
        .wait_for("inventory alert", |v| {
            about(v, "new-destination", "wss://live.example")
        })
        .await;
    assert_eq!(alert["details"]["seen_in"], "inventory", "{alert}");
    assert_eq!(alert["details"]["page_loads"], 2, "{alert}");
    let bodies = receiver.bodies();
    assert_eq!(
        alerted(&bodies, "wss://one-client.example"),
        0,
        "{bodies:#?}"
    );
}
