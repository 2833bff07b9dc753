//! Per-client flood control in front of the collector (the README's recommended stack):
//! tower_governor keyed by the peer IP. One client that floods gets 429s while another is
//! still served. A real server on 127.0.0.1 is needed (the key is the TCP peer address);
//! the two clients are told apart by binding their sockets to 127.0.0.1 and 127.0.0.2
//! (Linux routes all of 127.0.0.0/8 to loopback).
#![cfg(feature = "collector")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use connect_src::report::store::ReportStore;
use connect_src::report::{Collector, MemorySink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::GovernorLayer;

const REPORT: &str = r#"{"csp-report":{"document-uri":"https://app.example/","blocked-uri":"https://x.example/a","effective-directive":"connect-src"}}"#;

/// One POST from `from` on a fresh connection; the status code.
async fn post_from(from: Ipv4Addr, to: SocketAddr) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    let mut s = socket.connect(to).await.unwrap();
    let req = format!(
        "POST /csp-reports HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/csp-report\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{REPORT}",
        REPORT.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let head = String::from_utf8_lossy(&out);
    head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_flooding_client_gets_429s_while_another_is_served() {
    let store = MemorySink::new();
    // A burst of 5 per client IP, then one more every 60 s.
    let config = GovernorConfigBuilder::default()
        .per_second(60)
        .burst_size(5)
        .finish()
        .unwrap();
    let app: Router = Collector::builder()
        .store(store.clone())
        .build()
        .report_router()
        .layer(GovernorLayer::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });

    let flooder = Ipv4Addr::new(127, 0, 0, 1);
    let other = Ipv4Addr::new(127, 0, 0, 2);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(post_from(flooder, addr).await);
    }
    let served = statuses.iter().filter(|s| **s == 204).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(served + limited, 20, "only 204s and 429s: {statuses:?}");
    assert!(served >= 5, "the burst is served: {statuses:?}");
    assert!(limited > 0, "the flood is limited: {statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");

    // Another client is still served, and still limited on its own.
    assert_eq!(post_from(other, addr).await, 204);
    assert_eq!(
        store.summary(1).await.unwrap().total,
        served as u64 + 1,
        "a 429 stores nothing"
    );
}
