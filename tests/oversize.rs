//! An oversize report body gets its 413 even when the sender writes the whole body before
//! reading the answer (issue #13): a real server on 127.0.0.1 and a raw TCP client, because
//! the failure (a reset that destroys the answer) only exists on a real socket.
#![cfg(feature = "collector")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use connect_src::report::store::ReportStore;
use connect_src::report::{Collector, MemorySink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The collector's two routers on one app, as tests reach both sides through one router.
fn both(c: connect_src::report::Collector) -> axum::Router {
    c.report_router().merge(c.admin_router())
}

const MIB: usize = 1 << 20;

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// What the client saw: the status it read (if any), whether the whole body went out, and
/// the response head.
#[derive(Debug)]
struct Seen {
    status: Option<u16>,
    body_sent: bool,
    head: String,
}

/// Writes a POST with a `len`-byte body (declared with Content-Length, or chunked), all of
/// it, then reads the response head: what a browser or a script does.
async fn post_oversize(addr: SocketAddr, len: usize, chunked: bool) -> Seen {
    let mut s = connect(addr).await;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {len}")
    };
    let head = format!(
        "POST /csp-reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/csp-report\r\n{framing}\r\n\r\n"
    );
    let mut body_sent = s.write_all(head.as_bytes()).await.is_ok();
    let piece = vec![b'a'; 64 * 1024];
    let mut left = len;
    while body_sent && left > 0 {
        let n = left.min(piece.len());
        let r = if chunked {
            let mut framed = format!("{n:x}\r\n").into_bytes();
            framed.extend_from_slice(&piece[..n]);
            framed.extend_from_slice(b"\r\n");
            s.write_all(&framed).await
        } else {
            s.write_all(&piece[..n]).await
        };
        body_sent = r.is_ok();
        left -= n;
    }
    if body_sent && chunked {
        body_sent = s.write_all(b"0\r\n\r\n").await.is_ok();
    }
    let head = read_head(&mut s).await;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    Seen {
        status,
        body_sent,
        head,
    }
}

/// A client socket with a small send buffer, as a browser's or a script's may be: it is
/// still sending when a server that does not read the body answers and closes.
async fn connect(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the end of the response head, EOF or an error (a reset).
async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

async fn count_413s(addr: SocketAddr, tries: usize, chunked: bool) -> usize {
    let mut got = 0;
    for _ in 0..tries {
        let seen = post_oversize(addr, MIB, chunked).await;
        // What a client sees: a write error (the server reset the connection under it) is
        // a failure even if the kernel still holds the answer.
        if seen.body_sent && seen.status == Some(413) {
            got += 1;
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sender_of_a_1_mib_body_reads_its_413() {
    let store = MemorySink::new();
    let addr = serve(both(Collector::builder().store(store.clone()).build())).await;
    let declared = count_413s(addr, 40, false).await;
    let chunked = count_413s(addr, 20, true).await;
    eprintln!("413 read by the sender: Content-Length {declared}/40, chunked {chunked}/20");
    assert_eq!((declared, chunked), (40, 20));
    assert_eq!(store.summary(1).await.unwrap().total, 0, "nothing stored");
}

#[tokio::test]
async fn a_drained_413_keeps_the_connection_usable() {
    let addr = serve(both(Collector::builder().build())).await;
    let seen = post_oversize(addr, 200 * 1024, false).await;
    assert_eq!(seen.status, Some(413), "{}", seen.head);
    assert!(
        !seen.head.to_ascii_lowercase().contains("connection: close"),
        "{}",
        seen.head
    );
}

#[tokio::test]
async fn a_body_past_the_drain_bound_is_not_read_to_its_end() {
    // 64 KiB kept at most, 256 KiB more discarded at most: a 64 MiB chunked body (more
    // than loopback's socket buffers hold) cannot all be written, since the server stops
    // reading once the bound is passed, answers, and closes.
    let addr = serve(both(Collector::builder().drain_limit(256 * 1024).build())).await;
    let seen = post_oversize(addr, 64 * MIB, true).await;
    assert!(!seen.body_sent, "the server read the whole 64 MiB");

    // Declared past the bound: answered at once, without reading, and closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /csp-reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/csp-report\r\nContent-Length: {}\r\n\r\n",
            64 * MIB
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
}

#[tokio::test]
async fn a_stalled_oversize_body_is_answered_when_the_drain_time_is_up() {
    let addr = serve(both(
        Collector::builder()
            .drain_time(Duration::from_millis(100))
            .build(),
    ))
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Declares 1 MiB, sends 100 KiB (past the 64 KiB limit), then stalls without closing.
    s.write_all(
        format!(
            "POST /csp-reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/csp-report\r\nContent-Length: {MIB}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(&vec![b'a'; 100 * 1024]).await.unwrap();
    // A guard against hanging forever if the drain were unbounded, not a measurement.
    let head = tokio::time::timeout(Duration::from_secs(60), read_head(&mut s))
        .await
        .expect("the drain has a time bound");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
}

#[tokio::test]
async fn the_drain_bound_is_bytes_past_the_body_limit() {
    let addr = serve(both(
        Collector::builder()
            .body_limit(1024)
            .drain_limit(4096)
            .build(),
    ))
    .await;
    for chunked in [false, true] {
        // Exactly at the bound: drained, answered, the connection kept.
        let seen = post_oversize(addr, 1024 + 4096, chunked).await;
        assert_eq!(seen.status, Some(413), "{}", seen.head);
        assert!(seen.body_sent);
        assert!(
            !seen.head.to_ascii_lowercase().contains("connection: close"),
            "chunked={chunked}: {}",
            seen.head
        );
    }
    // One byte past it, declared: answered at once and closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /csp-reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/csp-report\r\nContent-Length: 5121\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
}

#[tokio::test]
async fn expect_100_continue_gets_the_413_before_sending_the_body() {
    let addr = serve(both(Collector::builder().build())).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /csp-reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/csp-report\r\nContent-Length: {MIB}\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // No body sent: the answer comes anyway, and it is not "100 Continue".
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}
