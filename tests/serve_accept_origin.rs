//! `connect-src serve --accept-origin`: reports about other sites' pages are not stored.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_connect-src");

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("serve printed nothing").unwrap();
    let url = line.split("http://").nth(1).unwrap();
    let addr = url.split('/').next().unwrap().parse().unwrap();
    Server { child, addr }
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/csp-report\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
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
        err.contains("--accept-origin") && err.contains("is not a document origin"),
        "{err}"
    );
}
