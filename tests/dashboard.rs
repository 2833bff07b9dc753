//! The dashboard in real headless Chromium: it renders under its own strict CSP with its
//! stylesheet, every class of report is shown with hostile text kept as text, and a
//! screenshot is taken (kept at `target/dashboard.png` to look at). With CI=true a missing
//! Chromium fails; locally the test is skipped with a loud line.
#![cfg(feature = "collector")]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::Router;
use connect_src::policy::ServedPolicies;
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

/// Runs headless Chromium to take a screenshot of `url`; false when it did not finish
/// within a minute (it is then killed, with its process group).
fn screenshot(bin: &Path, url: &str, png: &Path, profile: &Path) -> bool {
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
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start chromium");
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
    // The whole group: Chromium's helpers may outlive the parent.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    done
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
                &[(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/csp-report"),
                )]
                .into_iter()
                .collect(),
                axum::body::Body::from(body),
            )
            .await
            .unwrap();
    }
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = requests.clone();
    let app: Router =
        collector
            .router()
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
    let (took, took_blank) = tokio::task::spawn_blocking(move || {
        (
            screenshot(&b, &url, &s, &d.join("p1")),
            screenshot(
                &b,
                "data:text/html,<title>blank</title>",
                &bl,
                &d.join("p2"),
            ),
        )
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        took && took_blank,
        "chromium did not finish its screenshots"
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
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    let _ = std::fs::copy(&shot, &target);
    let _ = std::fs::remove_dir_all(&dir);
    println!("dashboard screenshot: {}", target.display());
}
