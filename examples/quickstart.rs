//! Run with: `cargo run --example quickstart` (PORT overrides 3000), then open
//! http://127.0.0.1:3000/ in a browser.
//!
//! The page tries fetch, WebSocket, EventSource and sendBeacon twice each: once to its own
//! origin (allowed by `'self'`) and once to http://localhost:PORT (the same server under
//! another host name, so a different origin: blocked). The browser reports each block to
//! `/csp-reports`; the dashboard at `/csp-reports/dashboard` shows them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::Router;
use connect_src::report::store::{MemorySink, Tee, TracingSink};
use connect_src::{ConnectSrc, Csp, Policy};
use futures_util::stream::{self, Stream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT={p:?} is not a port number"))?,
        Err(_) => 3000,
    };

    // One definition: the policy, where reports go, and where they are kept. 'self' covers
    // this origin over http and ws. The two other sources show the typed builder; the page
    // never contacts them. Everything else is blocked and reported to /csp-reports, and
    // each report is classed against the policies this app serves (genuine, foreign, …).
    let csp = Csp::builder()
        .policy(
            Policy::builder().enforce(
                ConnectSrc::builder()
                    .self_origin()
                    .host("https://api.example.com")
                    .websocket("wss://ws.example.com"),
            ),
        )
        // Tee: every report goes to memory (for the dashboard) and to the log.
        .store(Tee(MemorySink::new(), TracingSink))
        .build()?;
    println!(
        "Content-Security-Policy: {}",
        csp.policy().enforced_header().unwrap_or_default()
    );

    let app = Router::new()
        .route("/", get(page))
        .route("/api/data", get(|| async { "{\"ok\":true}" }))
        .route("/beacon", post(|| async { "" }))
        .route("/events", get(events))
        .route("/ws", get(ws))
        .merge(csp.report_router())
        // The dashboard is mounted on the app for the demo. In an app, mount
        // `csp.admin_router()` behind your own authentication, or on another listener.
        // It keeps its own strict policy under the app's layer.
        .merge(csp.admin_router())
        .layer(csp.layer());

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "quickstart listening on http://{addr}/ (reports: http://{addr}/csp-reports/dashboard)"
    );
    // Client addresses: what the collector learns rests on reach (distinct client networks).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream::unfold(0u32, |i| async move {
        if i >= 3 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok(Event::default().data(format!("tick {i}"))), i + 1))
    }))
}

async fn ws(upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade.on_upgrade(|mut socket| async move {
        let _ = socket.send(Message::Text("hello".into())).await;
    })
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>connect-src quickstart</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem;max-width:50rem}
td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.allowed{color:#070}.blocked{color:#b00}</style>
<h1>connect-src quickstart</h1>
<p>This page's <code>Content-Security-Policy</code> allows connections to its own origin
(<code>'self'</code>). Each API below is tried against this origin and against
<code>localhost</code> on the same port, which is another origin and so is blocked.
Blocks are reported to <a href="/csp-reports/dashboard">/csp-reports</a>.</p>
<table><thead><tr><th>API</th><th>target</th><th>result</th></tr></thead><tbody id="out"></tbody></table>
<script>
const port = location.port || "80";
const self = location.origin;
const other = "http://localhost:" + port;
const wsOf = (o) => o.replace(/^http/, "ws");
const violations = new Set();
document.addEventListener("securitypolicyviolation", (e) => violations.add(e.blockedURI));
function row(api, target, result) {
  const tr = document.createElement("tr");
  for (const [text, cls] of [[api], [target], [result, result]]) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  document.getElementById("out").append(tr);
}
const settle = (ms) => new Promise((r) => setTimeout(r, ms));
function verdict(target) {
  return [...violations].some((v) => target.startsWith(v) || v.startsWith(target)) ? "blocked" : "allowed";
}
async function tryAll(origin) {
  const f = origin + "/api/data";
  try { await fetch(f); } catch (_) {}
  await settle(50); row("fetch", f, verdict(f));
  const w = wsOf(origin) + "/ws";
  try { const s = new WebSocket(w); s.onerror = () => {}; } catch (_) {}
  await settle(300); row("WebSocket", w, verdict(w));
  const e = origin + "/events";
  try { const es = new EventSource(e); setTimeout(() => es.close(), 500); } catch (_) {}
  await settle(300); row("EventSource", e, verdict(e));
  const b = origin + "/beacon";
  try { navigator.sendBeacon(b, "hi"); } catch (_) {}
  await settle(100); row("sendBeacon", b, verdict(b));
}
(async () => { await tryAll(self); await tryAll(other); document.title += " (done)"; })();
</script>
"#;
