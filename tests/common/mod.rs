//! What the tests that run `connect-src serve` as a process share: starting it on free
//! ports of 127.0.0.1 (public and admin), its log lines, signals by its PID, and HTTP/1.1
//! requests on fresh connections.
// Each test crate that includes this module uses only some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_connect-src");

/// A `connect-src serve` process, killed (by its own handle) and reaped when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// The public face: report intake and `/healthz`.
    pub(crate) addr: SocketAddr,
    /// The admin face: summary, dashboard, `/metrics`.
    pub(crate) admin: SocketAddr,
    /// The banner's store line.
    pub(crate) store: String,
    /// Every stderr line so far (also copied to the test's stderr).
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `connect-src serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 <args>` (each only
/// when `args` does not give it), started; waits until its `/healthz` says it takes reports.
pub(crate) fn serve(args: &[&str]) -> Server {
    start(command(args))
}

/// The same, without waiting for the store (a database that is not up yet).
pub(crate) fn serve_unready(args: &[&str]) -> Server {
    start_unready(command(args))
}

/// The `connect-src serve <args>` command, with free ports of 127.0.0.1 for the faces
/// `args` does not place, for a test to add environment variables to.
pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve");
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    if !args.contains(&"--admin-listen") {
        cmd.args(["--admin-listen", "127.0.0.1:0"]);
    }
    cmd.args(args);
    cmd
}

/// Starts a prepared `connect-src serve` command and waits until it takes reports.
pub(crate) fn start(cmd: Command) -> Server {
    let server = start_unready(cmd);
    server.wait_ready();
    server
}

/// Starts a prepared `connect-src serve` command and reads its banner: the public address,
/// the admin address, the store.
pub(crate) fn start_unready(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("[serve] {line}");
            lines.lock().unwrap().push(line);
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = || out.next().expect("serve printed nothing").unwrap();
    let address = |line: &str| -> SocketAddr {
        let url = line
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("{line}"));
        url.split('/').next().unwrap().parse().unwrap()
    };
    let (public, admin, store) = (banner(), banner(), banner());
    assert!(admin.starts_with("admin on "), "{admin}");
    Server {
        addr: address(&public),
        admin: address(&admin),
        store: store.trim_start_matches("store: ").to_owned(),
        log,
        child,
    }
}

impl Server {
    /// Waits (at most a minute) until the public `/healthz` answers 200.
    pub(crate) fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(a) = request(self.addr, "GET", "/healthz", &[], "") {
                if a.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not ready in a minute: {:#?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The stderr lines so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most a minute) for a log line that satisfies `want`, and returns it.
    pub(crate) fn wait_for_log(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.log().into_iter().find(|l| want(l)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what} in a minute: {:#?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`TERM`, `INT`) to this process, by its PID.
    pub(crate) fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", self.child.id());
    }

    /// Waits at most `bound` for the process to exit; its status, or `None`.
    pub(crate) fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process's resident memory, in KiB (`VmRSS` in /proc).
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// One HTTP/1.1 request on a fresh connection (30 s read timeout); returns (status, body).
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let headers: Vec<(&str, &str)> = content_type
        .map(|c| ("Content-Type", c))
        .into_iter()
        .collect();
    request(addr, method, path, &headers, body).map(|r| (r.status, r.body))
}

/// An answer: status, head (status line and headers) and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Answer {
    /// A header's value (name case-insensitive), if present.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request with `headers`, on a fresh connection (30 s read timeout).
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    write!(
        s,
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(answer(&out))
}

/// Reads a whole HTTP/1.1 answer.
pub(crate) fn answer(out: &str) -> Answer {
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((out, ""));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}
