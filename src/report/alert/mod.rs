//! Webhook alerts from the collector (feature `alerts`): [`Alerts`] says where they go
//! and when they fire; [`CollectorBuilder::alerts`](crate::report::CollectorBuilder::alerts)
//! turns them on.
//!
//! Each alert is one JSON POST, `{"type","summary","details"}` ([`Alert`]; Slack's
//! `{"text"}` with [`AlertFormat::Slack`]):
//!
//! | `type` | fires when | `details` |
//! |---|---|---|
//! | `new-destination` | a destination origin never seen before reaches the minimum reach, in genuine violations or in the inventory | `destination`, `seen_in` (`violations`/`inventory`), `reach`, `page_loads`, `min_reach`, `reports`, `first_seen`, and for violations `directive`, `disposition`, `class` |
//! | `spike` | an hour's reach (client networks that reported violations in it) is over a multiple of the previous day's mean per hour, and at least a floor | `reach`, `reports`, `baseline_mean`, `multiple`, `floor`, `window_start`, `window_seconds` |
//! | `silence` | no report and no observation for the silence window, after steady traffic | `last_report`, `silent_seconds`, `window_seconds`, `steady_since`, `networks_before` |
//! | `foreign-policy` | reports of a policy the app never served (class `foreign`) reach the minimum reach | `policy`, `policy_digest`, `directive`, `destinations`, `reach`, `min_reach`, `reports`, `class`, `first_seen` |
//!
//! Times are RFC 3339 UTC strings; counts are integers; `window_seconds` is a number of
//! seconds.
//!
//! **Reports are claims by strangers: nothing is alerted on one client's word.** Every
//! rule counts reach — distinct client networks (the keyed hash of each sender's /24 or
//! /48 that the collector already computes), and for the inventory distinct page loads
//! too — never raw counts: a destination alerts once it reached the collector's
//! [`min_reach`](crate::report::CollectorBuilder::min_reach); a spike is a jump in
//! networks, so one client's flood is one network; silence follows traffic from at least
//! the minimum reach of networks. Only `genuine` violations (and the inventory's
//! observations, which the intake already checked) teach destinations. A report whose
//! sender's address the collector did not see counts towards nothing.
//!
//! **Once per thing per window.** A destination alerts once; a spike once per hour; a
//! foreign policy (by its digest) once; silence once until traffic resumes. At start the
//! detector reads what the store already holds — the summary's groups at the minimum reach,
//! the last 30 days of inventory, the last day's hourly activity — so a restart does not
//! alert it all again. A storm is bounded too (networks can be rented): at most 30
//! `new-destination` and 30 `foreign-policy` alerts an hour, then one that says so.
//!
//! **Off the report's path.** The report endpoint only pushes a few facts into a bounded
//! queue once the store has kept the batch (`try_send`: a full queue drops and counts,
//! never waits); a task detects, another sends, one alert at a time, each try bounded by a
//! timeout and tried again with an exponential backoff a bounded number of times. A slow or
//! dead webhook never delays or fails a report POST: it still answers 204. Metrics:
//! `connect_src_alerts_sent_total{type}`, `connect_src_alerts_failed_total{type}` (gave up)
//! and `connect_src_alerts_dropped_total{queue}` (`facts`, `alerts`, or `storm`: past the
//! hour's 30).
//!
//! Every text an alert carries is cleaned (control and invisible formatting characters
//! become U+FFFD) and bounded; the Slack shape escapes `&`, `<` and `>`. The webhook URL is
//! never logged whole (only `scheme://host[:port]/…`): Slack's hold a secret.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::{Arc, Mutex};
//! use axum::{body::Body, extract::ConnectInfo, routing::post, Json, Router};
//! use connect_src::report::alert::Alerts;
//! use connect_src::report::Collector;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A receiver on loopback, standing in for the webhook.
//! let got = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
//! let keep = got.clone();
//! let hook = Router::new().route(
//!     "/hook",
//!     post(move |Json(v): Json<serde_json::Value>| async move { keep.lock().unwrap().push(v) }),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}/hook", listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(listener, hook).await });
//!
//! // Reports are classed against the served policy; a destination alerts at 2 networks.
//! let served = "connect-src 'self'; report-uri /csp-reports";
//! let collector = Collector::builder()
//!     .served_policies(connect_src::policy::ServedPolicies::from_headers([served]))
//!     .min_reach(2)
//!     .alerts(Alerts::webhook(&url)?)
//!     .build();
//! // A genuine report (the served policy blocks it) from two client networks.
//! for peer in ["198.51.100.7:5000", "203.0.113.9:6000"] {
//!     let body = format!(r#"{{"csp-report":{{"document-uri":"https://app.example/",
//!         "effective-directive":"connect-src","blocked-uri":"https://new.example/x",
//!         "original-policy":"{served}"}}}}"#);
//!     let mut request = http::Request::post("/csp-reports")
//!         .header("content-type", "application/csp-report")
//!         .body(Body::from(body))?;
//!     request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>()?));
//!     collector.accept(request).await?;
//! }
//! // The alert is sent off the report's path: wait for it.
//! for _ in 0..300 {
//!     if !got.lock().unwrap().is_empty() {
//!         break;
//!     }
//!     tokio::time::sleep(std::time::Duration::from_millis(100)).await;
//! }
//! let alert = got.lock().unwrap()[0].clone();
//! assert_eq!(alert["type"], "new-destination");
//! assert_eq!(alert["details"]["destination"], "https://new.example");
//! assert_eq!(alert["details"]["reach"], 2);
//! # Ok(()) }
//! ```

mod config;
mod detect;
mod facts;
mod handle;
mod message;
mod rhythm;
mod send;
mod tap;

pub use config::{AlertError, Alerts};
pub(crate) use handle::AlertHandle;
pub use message::{Alert, AlertFormat, AlertKind};
pub(crate) use tap::Tapped;
