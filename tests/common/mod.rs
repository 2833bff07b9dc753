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

#[cfg(feature = "postgres")]
pub(crate) mod pg;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_connect-src");

/// `connect-src <args>`, run to its end.
pub(crate) fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A run's stdout, as text.
pub(crate) fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A run's stderr, as text.
pub(crate) fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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
    request_from(None, addr, method, path, headers, body)
}

/// [`request`] from a chosen loopback source address (`127.0.N.1`: another client
/// network, as the collector counts them by /24), or the default one.
pub(crate) fn request_from(
    from: Option<std::net::IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let mut s = match from {
        None => TcpStream::connect(addr)?,
        Some(ip) => {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )?;
            socket.bind(&SocketAddr::new(ip, 0).into())?;
            socket.connect(&addr.into())?;
            socket.into()
        }
    };
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

/// The inventory scenario (issue 20) against running collectors, all sharing `secret`:
/// sampled pages of `https://app.example` connect to their own origin, an API host and a
/// WebSocket host, from three client networks (three loopback /24s), spread over
/// `servers`; then extension noise, inventory reports with forged tokens and an attacker's
/// own host, from one network, which must change nothing. Returns how many were answered
/// 204.
pub(crate) fn post_inventory(servers: &[SocketAddr], secret: &str) -> usize {
    use connect_src::policy::Provenance;
    let provenance = Provenance::new(secret.as_bytes().to_vec()).unwrap();
    let now = std::time::SystemTime::now();
    let mut ok = 0;
    let mut send = |n: usize, from: &str, query: &str, blocked: &str| {
        let body = format!(
            r#"{{"csp-report":{{"document-uri":"https://app.example/orders/{n}","blocked-uri":"{blocked}","effective-directive":"connect-src","original-policy":"connect-src 'none'; report-uri /csp-reports?{query}","disposition":"report"}}}}"#
        );
        let a = request_from(
            Some(from.parse().unwrap()),
            servers[n % servers.len()],
            "POST",
            &format!("/csp-reports?{query}"),
            &[("Content-Type", "application/csp-report")],
            &body,
        )
        .unwrap();
        if a.status == 204 {
            ok += 1;
        }
    };
    let used = [
        "https://app.example/api/cart",
        "https://api.app.example/v1/orders",
        "wss://ws.app.example/live",
    ];
    for page in 0..6u64 {
        let id = 0x0100_0000_0000_0000 + page;
        let token = provenance.inventory_token_at(now, id, "0.5");
        let query = format!("csp-inventory={id:016x}&csp-sample=0.5&csp-token={token}");
        let from = format!("127.0.{}.1", 10 + page % 3);
        for (i, blocked) in used.iter().enumerate() {
            send(page as usize + i, &from, &query, blocked);
        }
        send(
            page as usize,
            &from,
            &query,
            "chrome-extension://abc/inject.js",
        );
    }
    // Forged: another page load's id under this token, a made-up token.
    let token = provenance.inventory_token_at(now, 7, "0.5");
    for query in [
        format!("csp-inventory={:016x}&csp-sample=0.5&csp-token={token}", 8),
        format!(
            "csp-inventory={:016x}&csp-sample=0.5&csp-token={}",
            9,
            "0".repeat(32)
        ),
    ] {
        send(0, "127.0.20.1", &query, "https://old.partner.example/x");
    }
    // The attacker's own page load (a fetched page gives a valid id and token): one network.
    let id = 0x0200_0000_0000_0000u64;
    let token = provenance.inventory_token_at(now, id, "0.5");
    let query = format!("csp-inventory={id:016x}&csp-sample=0.5&csp-token={token}");
    for _ in 0..20 {
        send(0, "127.0.21.1", &query, "https://old.partner.example/x");
    }
    ok
}

/// What `connect-src unused` says for the scenario's enforced list: exactly the partner
/// nothing real uses is unused (exit 1), the three used sources are used.
pub(crate) fn check_unused(db: &str) {
    let o = std::process::Command::new(BIN)
        .args([
            "unused",
            "--db",
            db,
            "--policy",
            "'self' https://api.app.example wss://ws.app.example https://old.partner.example",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    let unused: Vec<&str> = lines
        .iter()
        .filter(|l| l["used"] == false)
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["https://old.partner.example"], "{out}");
    let api = lines
        .iter()
        .find(|l| l["source"] == "https://api.app.example")
        .unwrap();
    assert_eq!(api["destinations"][0], "https://api.app.example", "{out}");
    // Six sampled page loads at rate 0.5: about twelve page loads.
    assert_eq!(api["page_loads"], 12, "{out}");
    // The attacker's one network shows, but keeps nothing alive.
    let partner = lines
        .iter()
        .find(|l| l["source"] == "https://old.partner.example")
        .unwrap();
    assert_eq!(
        partner["below_reach"][0], "https://old.partner.example",
        "{out}"
    );
    // Keys in the documented order.
    let first = out.lines().next().unwrap();
    let at = |k: &str| first.find(&format!("\"{k}\"")).unwrap();
    assert!(
        at("source") < at("used")
            && at("used") < at("page_loads")
            && at("page_loads") < at("destinations")
    );
}
