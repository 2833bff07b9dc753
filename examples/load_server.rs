//! Run with: `cargo run --release --example load_server -- <mode> <port>`; driven by
//! `bench/load.sh`, which compares the modes side by side on 127.0.0.1.
//!
//! Modes:
//! - `plain`: the quickstart's page and API routes, no layer;
//! - `layer`: the same routes under the quickstart's connect-src layer;
//! - `tower-http`: the same routes with tower-http setting the same header statically
//!   (what the header's bytes cost, without any policy logic);
//! - `report-204`: `POST /csp-reports` answered 204 after reading the body, nothing else
//!   (the floor);
//! - `collector-memory`: the collector with the bounded in-memory store;
//! - `collector-sqlite`: the collector with the SQLite sink (a new database in
//!   `$CONNECT_SRC_LOAD_DIR`, or in a new temp dir),
//!   `Durability::PowerLoss` (fsync at every commit, the default);
//! - `collector-sqlite-process`: the same with `Durability::ProcessCrash`;
//! - `collector-postgres`: the collector with the PostgreSQL sink on
//!   `$CONNECT_SRC_PG_URL` (bench/load.sh starts a throw-away cluster and makes a new
//!   database for each run).

use std::net::SocketAddr;

use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use connect_src::report::sqlite::Durability;
use connect_src::report::{Collector, MemorySink, PostgresSink, SqliteSink};
use connect_src::{ConnectSrc, Policy};
use tower_http::set_header::SetResponseHeaderLayer;

fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Html("<!doctype html><title>load</title><p>hello") }),
        )
        .route("/api/data", get(|| async { "{\"ok\":true}" }))
}

/// The collector on a new SQLite database in `$CONNECT_SRC_LOAD_DIR` (bench/load.sh passes
/// a directory it removes at the end), or in a new temp dir.
fn sqlite_collector(durability: Durability) -> Result<Router, Box<dyn std::error::Error>> {
    let dir = std::env::var_os("CONNECT_SRC_LOAD_DIR").map_or_else(
        || std::env::temp_dir().join(format!("connect-src-load-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("reports-{}.sqlite", std::process::id()));
    let sink = SqliteSink::builder().durability(durability).open(&db)?;
    Ok(Collector::builder().store(sink).build().report_router())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".into());
    let port: u16 = args.next().as_deref().unwrap_or("3001").parse()?;
    let policy = Policy::builder()
        .enforce(
            ConnectSrc::builder()
                .self_origin()
                .host("https://api.example.com")
                .websocket("wss://ws.example.com"),
        )
        .report_uri("/csp-reports")
        .build()?;
    let app = match mode.as_str() {
        "plain" => routes(),
        "layer" => routes().layer(policy.layer()),
        "tower-http" => routes().layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&policy.enforced_header().unwrap_or_default())?,
        )),
        "report-204" => Router::new().route(
            "/csp-reports",
            post(|_body: axum::body::Bytes| async { StatusCode::NO_CONTENT }),
        ),
        "collector-memory" => Collector::builder()
            .store(MemorySink::new())
            .build()
            .report_router(),
        "collector-sqlite" => sqlite_collector(Durability::PowerLoss)?,
        "collector-sqlite-process" => sqlite_collector(Durability::ProcessCrash)?,
        "collector-postgres" => {
            let url = std::env::var("CONNECT_SRC_PG_URL")
                .map_err(|_| "collector-postgres needs CONNECT_SRC_PG_URL")?;
            // Writers (transactions in flight): $CONNECT_SRC_PG_WRITERS, default the sink's.
            let mut builder = PostgresSink::builder();
            if let Ok(w) = std::env::var("CONNECT_SRC_PG_WRITERS") {
                builder = builder.writers(w.parse()?);
            }
            let sink = tokio::task::spawn_blocking(move || builder.open(&url)).await??;
            Collector::builder().store(sink).build().report_router()
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("load_server {mode} listening on http://{addr}/");
    axum::serve(listener, app).await?;
    Ok(())
}
