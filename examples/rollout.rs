//! A staged rollout you can watch: `bash examples/rollout.sh` runs this app, drives headless
//! Chromium through it and prints every step. By hand: `cargo run --example rollout
//! --features sqlite`, then open http://127.0.0.1:3001/ and use the `connect-src` commands
//! this prints.
//!
//! The shop's pages connect to an API host (every page) and a payments host (the checkout
//! page only). Its enforced list also holds an analytics host nothing uses any more. The
//! app keeps its reports and inventory (every page load sampled) in a SQLite file and
//! follows the rollout that file holds: start one with `connect-src rollout start`, and
//! the app serves its report-only stage, then enforces the candidate on a growing share of
//! page loads, and rolls back by itself when enforcing breaks a page.
//!
//! On one machine every browser is one client network, so this demo counts a destination
//! from a reach of 1 (`--min-reach 1`); the default, 2, means two client networks.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use connect_src::report::SqliteSink;
use connect_src::{ConnectSrc, Csp, Policy};

#[derive(serde::Deserialize)]
struct Next {
    /// Where the page goes after connecting: a page load every second, on its own.
    next: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT={p:?} is not a port number"))?,
        Err(_) => 3001,
    };
    let db = std::env::var("ROLLOUT_DB").unwrap_or_else(|_| "rollout-demo.sqlite".into());
    let (api, payments, analytics) = (port + 1, port + 2, port + 3);
    for p in [api, payments] {
        let app =
            Router::new().fallback(|| async { ([("access-control-allow-origin", "*")], "{}") });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p))).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });
    }

    let enforced: ConnectSrc = format!(
        "'self' http://127.0.0.1:{api} http://127.0.0.1:{payments} http://127.0.0.1:{analytics}"
    )
    .parse()?;
    let csp = Csp::builder()
        .policy(Policy::builder().enforce(enforced.clone()).inventory(1.0))
        .store(SqliteSink::open(&db)?)
        .build()?;
    // Every second: step the rollout (as any collector sharing the file does) and serve
    // its stage.
    let _follower = csp.follow_rollout(Duration::from_secs(1));

    let home = move |Query(q): Query<Next>| async move { page(&[api], q.next.as_deref(), "home") };
    let checkout = move |Query(q): Query<Next>| async move {
        page(&[api, payments], q.next.as_deref(), "checkout")
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/checkout", get(checkout))
        .merge(csp.report_router())
        .merge(csp.admin_router())
        .layer(csp.layer());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let cli = "cargo run -q --features cli --";
    println!("shop on http://{addr}/ (checkout: http://{addr}/checkout), reports in {db}");
    println!("enforced: connect-src {enforced}");
    println!("is a candidate ready?  {cli} promote --db {db} --policy \"{enforced}\" --candidate \"'self' http://127.0.0.1:{api}\" --since 1h --min-page-loads 5 --min-reach 1");
    println!("start a rollout:       {cli} rollout start --db {db} --policy \"{enforced}\" --candidate \"'self' http://127.0.0.1:{api}\" --stages 50,100 --min-stage 10s --min-page-loads 5 --min-reach 1");
    println!("watch it:              {cli} rollout status --db {db}");
    // Client addresses: reach counts client networks.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// A page that connects to each of `hosts`, then (given `next`) goes there after a second.
fn page(hosts: &[u16], next: Option<&str>, title: &str) -> Html<String> {
    let fetches: String = hosts
        .iter()
        .map(|p| format!("fetch('http://127.0.0.1:{p}/v1?t=' + Date.now()).catch(() => {{}});\n"))
        .collect();
    let go = match next {
        Some("checkout") => "setTimeout(() => location.href = '/checkout?next=checkout', 1000);",
        Some(_) => "setTimeout(() => location.href = '/?next=home', 1000);",
        None => "",
    };
    Html(format!(
        "<!doctype html><title>{title}</title><h1>{title}</h1>\
         <p><a href=\"/\">home</a> · <a href=\"/checkout\">checkout</a></p>\
         <script>{fetches}{go}</script>"
    ))
}
