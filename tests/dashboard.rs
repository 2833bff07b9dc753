//! The dashboard in real headless Chromium: it renders under its own strict CSP with its
//! stylesheet, every class of report is shown with hostile text kept as text, the charts
//! (inline SVG, no script, no `style` attribute) are in the page Chromium built with bars
//! scaled to their counts, the directive filter links and the suggested policy are there, and
//! a screenshot is taken (kept at `target/dashboard.png` to look at). With CI=true a missing
//! Chromium fails; locally the test is skipped with a loud line.
#![cfg(feature = "collector")]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::Router;
use connect_src::policy::ServedPolicies;
use connect_src::report::intake::{parse_reports, NormalizeOptions};
use connect_src::report::store::{Class, Disposition, ReportSink, Violation};
use connect_src::report::{Collector, MemorySink};

const SERVED: &str = "connect-src 'self' https://api.example.com; report-uri /csp-reports";
const XSS: &str =
    r#"<script>fetch('/xss-fired')</script><img src=x onerror="fetch('/xss-fired')">"#;

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "chromium is not installed and CI=true"
        );
        eprintln!(
            "\n!!!!!! SKIPPED: chromium not installed (bash scripts/test.sh installs it) !!!!!!\n"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `flags` besides the common ones and waits up to a
/// minute; then its whole process group is killed (Chromium's helpers may outlive the
/// parent). Its standard output, or `None` when it did not finish in time.
fn chromium_run(bin: &Path, flags: &[String], url: &str, profile: &Path) -> Option<String> {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = reader.join().unwrap();
    done.then_some(stdout)
}

/// A screenshot of `url` in `png`; false when Chromium did not finish within a minute.
fn screenshot(bin: &Path, url: &str, png: &Path, profile: &Path) -> bool {
    let flags = [
        "--hide-scrollbars".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--screenshot={}", png.display()),
    ];
    chromium_run(bin, &flags, url, profile).is_some()
}

/// The page's DOM as Chromium built it (`--dump-dom`), serialized; `None` when Chromium
/// did not finish within a minute.
fn dump_dom(bin: &Path, url: &str, profile: &Path) -> Option<String> {
    chromium_run(bin, &["--dump-dom".to_owned()], url, profile)
}

/// The body of a plain HTTP/1.1 GET of `path` from the test server.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.contains("chunked"), "{head}");
    body.to_owned()
}

/// The charts (`<svg>…</svg>`) in a piece of the page, in order.
fn charts(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(i, _)| &html[i..i + html[i..].find("</svg>").unwrap()])
        .collect()
}

/// A chart's bars: (height in pixels, the count its tooltip says), in order.
fn bars(svg: &str) -> Vec<(u32, u64)> {
    svg.split("<rect class=\"bar\"")
        .skip(1)
        .map(|bar| {
            let attr = |name: &str| -> &str {
                let start = bar.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                &bar[start..start + bar[start..].find('"').unwrap()]
            };
            let title = &bar[bar.find("<title>").unwrap() + 7..bar.find("</title>").unwrap()];
            let count = title
                .rsplit(": ")
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            (attr("height").parse().unwrap(), count.parse().unwrap())
        })
        .collect()
}

/// Each bar's height is its count relative to the chart's largest (rounded, 24 px plot):
/// the scale the page promises. Returns the (height, count) pairs, sorted.
fn scaled(svg: &str, plot: u32) -> Vec<(u32, u64)> {
    let mut b = bars(svg);
    let max = b.iter().map(|(_, n)| *n).max().unwrap_or(0);
    for (h, n) in &b {
        let want = ((u128::from(*n) * u128::from(plot) + u128::from(max) / 2) / u128::from(max))
            .max(1) as u32;
        assert_eq!(*h, want, "bar of {n} against a max of {max}: {svg}");
    }
    b.sort();
    b
}

/// A violation received `hours_ago` hours before now, stored as the collector would have.
fn at(
    blocked: &str,
    directive: &str,
    disposition: Disposition,
    class: Class,
    hours_ago: u64,
) -> Violation {
    let body = serde_json::json!({"csp-report": {
        "document-uri": "https://app.example.com/live", "blocked-uri": blocked,
        "effective-directive": directive}})
    .to_string();
    let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
        .unwrap()
        .violations
        .remove(0);
    v.disposition = disposition;
    v.class = class;
    v.received_at = SystemTime::now() - Duration::from_secs(hours_ago * 3600);
    v
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let n = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    Some((n(16), n(20)))
}

fn report(blocked: &str, policy: &str, document: &str) -> String {
    serde_json::json!({"csp-report": {
        "document-uri": document, "blocked-uri": blocked, "effective-directive": "connect-src",
        "original-policy": policy, "disposition": "enforce", "script-sample": XSS}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_in_chromium_under_its_own_csp() {
    let Some(bin) = chromium() else { return };
    let store = MemorySink::new();
    let collector = Collector::builder()
        .store(store.clone())
        .served_policies(ServedPolicies::from_headers([SERVED]))
        .build();
    for (blocked, policy) in [
        ("https://evil.example.net/x", SERVED),
        ("https://api.example.com/x", SERVED),
        ("https://other.example.org/x", "connect-src 'none'"),
        (&format!("https://{XSS}.example/")[..], SERVED),
    ] {
        let body = report(blocked, policy, &format!("https://app.example.com/{XSS}"));
        collector
            .accept(
                axum::http::Request::post("/csp-reports")
                    .header("content-type", "application/csp-report")
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    // Report-only connections the served policy lacks, over days: 3 now, 1 three hours ago,
    // 1 three days ago; and one img-src violation (a second directive to filter by).
    let ws = |hours_ago| {
        at(
            "wss://ws.example.org/live",
            "connect-src",
            Disposition::Report,
            Class::Genuine,
            hours_ago,
        )
    };
    store
        .submit(vec![ws(0), ws(0), ws(0), ws(3), ws(72)])
        .await
        .unwrap();
    store
        .submit(vec![at(
            "https://img.example.org/a.png",
            "img-src",
            Disposition::Enforce,
            Class::Unverified,
            0,
        )])
        .await
        .unwrap();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = requests.clone();
    let app: Router = collector
        .report_router()
        .merge(collector.admin_router())
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(req.uri().path().to_owned());
                next.run(req).await
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("connect-src-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (shot, blank) = (dir.join("dashboard.png"), dir.join("blank.png"));
    let url = format!("http://{addr}/csp-reports/dashboard");
    let (b, d) = (bin.clone(), dir.clone());
    let (s, bl) = (shot.clone(), blank.clone());
    let (took, took_blank, dom, html) = tokio::task::spawn_blocking(move || {
        (
            screenshot(&b, &url, &s, &d.join("p1")),
            screenshot(
                &b,
                "data:text/html,<title>blank</title>",
                &bl,
                &d.join("p2"),
            ),
            dump_dom(&b, &url, &d.join("p3")),
            get(addr, "/csp-reports/dashboard"),
        )
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        took && took_blank,
        "chromium did not finish its screenshots"
    );
    let dom = dom.expect("chromium did not finish --dump-dom");

    // The charts: one overall (every group, 7 days by hour) and two per group (6 groups).
    assert_eq!(charts(&html).len(), 1 + 2 * 6, "{html}");
    assert_eq!(
        charts(&dom).len(),
        charts(&html).len(),
        "Chromium built every chart as SVG: {dom}"
    );
    assert_eq!(
        dom.matches("<rect class=\"bar\"").count(),
        html.matches("<rect class=\"bar\"").count()
    );
    assert!(
        !html.contains("style="),
        "no style attribute (the CSP blocks them)"
    );
    assert!(!dom.contains("style="), "none in the DOM either");
    let row = html
        .split("<tr>")
        .find(|r| r.contains("wss:&#x2F;&#x2F;ws.example.org"))
        .expect("the ws.example.org row");
    let [day, week] = charts(row)[..] else {
        panic!("two charts in the row: {row}")
    };
    assert_eq!(scaled(day, 24), [(8, 1), (24, 3)], "{day}");
    assert_eq!(scaled(week, 24), [(6, 1), (24, 4)], "{week}");
    assert!(
        row.contains("<span class=\"n\">4</span>") && row.contains("<span class=\"n\">5</span>"),
        "24-hour and 7-day totals: {row}"
    );
    let overall = charts(&html)[0];
    let total: u64 = bars(overall).iter().map(|(_, n)| n).sum();
    assert_eq!(total, 10, "every violation of the week: {overall}");
    scaled(overall, 48);
    // Directive filter links, for each directive in the summary.
    assert!(
        html.contains("href=\"dashboard?directive=connect-src\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"dashboard?directive=img-src\""),
        "{html}"
    );
    // The suggestion: the served policy's connect-src plus what report-only reports need.
    assert!(html.contains("<h2>Suggested connect-src</h2>"), "{html}");
    assert!(
        html.contains(
            "<pre class=\"value\">&#x27;self&#x27; https:&#x2F;&#x2F;api.example.com \
             wss:&#x2F;&#x2F;ws.example.org</pre>"
        ),
        "{html}"
    );
    assert!(
        dom.contains("wss://ws.example.org</pre>"),
        "shown as text: {dom}"
    );

    let png = std::fs::read(&shot).expect("no screenshot written");
    let empty = std::fs::read(&blank).unwrap();
    assert_eq!(png_size(&png), Some((1280, 900)), "a 1280x900 PNG");
    assert!(
        png.len() > 4 * empty.len(),
        "the dashboard shows something: {} bytes against a blank page's {}",
        png.len(),
        empty.len()
    );
    let seen = requests.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| p == "/csp-reports/dashboard.css"),
        "the strict CSP lets its own stylesheet load: {seen:?}"
    );
    assert!(
        !seen.iter().any(|p| p.starts_with("/xss-fired")),
        "attacker text ran: {seen:?}"
    );
    // Kept to look at: `target/` of the package (made if CARGO_TARGET_DIR is elsewhere).
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    let _ = std::fs::create_dir_all(target.parent().unwrap());
    let _ = std::fs::copy(&shot, &target);
    let _ = std::fs::remove_dir_all(&dir);
    println!("dashboard screenshot: {}", target.display());
}
