//! Run with: `cargo run --example otel` (no network: the exporter writes to stdout).
//!
//! Shipping violations into an existing log pipeline: [`TracingSink`] emits each violation
//! as a `tracing` event (target `connect_src::report`, every field attached), and
//! OpenTelemetry's tracing bridge turns those events into OpenTelemetry log records. Here
//! they go to stdout; in production swap `opentelemetry_stdout::LogExporter` for the OTLP
//! exporter (`opentelemetry-otlp`) pointed at your collector, and the violations land next
//! to the rest of your logs. `Tee` keeps a `MemorySink` beside it for the dashboard.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use connect_src::report::store::{ReportStore, Tee, TracingSink};
use connect_src::report::{Collector, MemorySink};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use tower::ServiceExt;
use tracing_subscriber::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. OpenTelemetry logs, exported to stdout (an OTLP exporter in production).
    let provider = SdkLoggerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::LogExporter::default())
        .build();
    // 2. tracing events become OpenTelemetry log records.
    tracing_subscriber::registry()
        .with(OpenTelemetryTracingBridge::new(&provider))
        .init();

    // 3. The collector sends every violation to the tracing sink (and memory).
    let memory = MemorySink::new();
    let collector = Collector::builder()
        .store(Tee(memory.clone(), TracingSink))
        .build();
    let app: axum::Router = collector.report_router();

    let body = r#"{"csp-report":{"document-uri":"https://app.example/checkout",
        "effective-directive":"connect-src","blocked-uri":"https://evil.example/collect",
        "disposition":"enforce","source-file":"https://app.example/app.js","line-number":42}}"#;
    let res = app
        .oneshot(
            Request::post("/csp-reports")
                .header("content-type", "application/csp-report")
                .body(Body::from(body))?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(memory.summary(10).await?.total, 1);

    // Flush before exit (a batch exporter would otherwise drop the tail).
    provider.shutdown()?;
    Ok(())
}
