//! The collector's and the SQL sinks' metrics, emitted through the [`metrics`] facade: the
//! library records, the application picks the exporter (`connect-src serve` exposes them as
//! Prometheus text on `GET /metrics`). Without an installed recorder every call is a no-op.
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `connect_src_reports_received_total` | counter | | violations parsed from accepted-shape requests |
//! | `connect_src_reports_stored_total` | counter | | violations the sink acknowledged (answered 204) |
//! | `connect_src_reports_filtered_total` | counter | | violations dropped as noise |
//! | `connect_src_requests_rejected_total` | counter | `status` | report requests refused, by HTTP status |
//! | `connect_src_reports_unaccepted_total` | counter | | violations dropped for a document origin off the accept list |
//! | `connect_src_observations_stored_total` | counter | | inventory observations the store acknowledged |
//! | `connect_src_observations_dropped_total` | counter | | inventory reports dropped (no valid token, not the inventory's policy, past a page load's cap, a store without inventory) |
//! | `connect_src_alerts_sent_total` | counter | `type` | alerts the webhook accepted (2xx) |
//! | `connect_src_alerts_failed_total` | counter | `type` | alerts given up on: refused, or every try failed |
//! | `connect_src_alerts_dropped_total` | counter | `queue` | `facts`: batches the alert detector's full queue dropped; `alerts`: alerts the full send queue dropped; `storm`: alerts past the hour's 30 of a kind |
//! | `connect_src_sink_queue_depth` | gauge | `sink` | batches waiting for the PostgreSQL sink's writers |
//! | `connect_src_sink_commit_seconds` | histogram | `sink` | time of one group commit |
//! | `connect_src_sink_commits_total` | counter | `sink`, `result` | group commits, `ok` or `error` |
//! | `connect_src_sink_commit_rows` | histogram | `sink` | violations per group commit |
//! | `connect_src_rollout_changes_total` | counter | `state` | rollout changes this collector made, by the state they led to |
//! | `connect_src_rollout_stage_percent` | gauge | | the rollout's stage as this collector last read it (percent enforced; 0 report-only or stopped) |
//!
//! Names are a contract for dashboards and alerts: they only ever get added to.

/// Violations parsed from one request.
pub(crate) fn received(n: u64) {
    metrics::counter!("connect_src_reports_received_total").increment(n);
}

/// Violations acknowledged by the sink.
pub(crate) fn stored(n: u64) {
    metrics::counter!("connect_src_reports_stored_total").increment(n);
}

/// Violations dropped as noise.
pub(crate) fn filtered(n: u64) {
    metrics::counter!("connect_src_reports_filtered_total").increment(n);
}

/// Violations dropped for their document's origin (the accept list).
pub(crate) fn unaccepted(n: u64) {
    metrics::counter!("connect_src_reports_unaccepted_total").increment(n);
}

/// Inventory observations acknowledged by the store.
pub(crate) fn observed(n: u64) {
    metrics::counter!("connect_src_observations_stored_total").increment(n);
}

/// Inventory reports dropped.
pub(crate) fn observations_dropped(n: u64) {
    metrics::counter!("connect_src_observations_dropped_total").increment(n);
}

/// A rollout change this collector made.
pub(crate) fn rollout_changed(state: &'static str) {
    metrics::counter!("connect_src_rollout_changes_total", "state" => state).increment(1);
}

/// The rollout's share enforced, in percent, as last read.
pub(crate) fn rollout_stage(percent: f64) {
    metrics::gauge!("connect_src_rollout_stage_percent").set(percent);
}

/// One alert the webhook accepted.
#[cfg(feature = "alerts")]
pub(crate) fn alert_sent(kind: &'static str) {
    metrics::counter!("connect_src_alerts_sent_total", "type" => kind).increment(1);
}

/// One alert given up on.
#[cfg(feature = "alerts")]
pub(crate) fn alert_failed(kind: &'static str) {
    metrics::counter!("connect_src_alerts_failed_total", "type" => kind).increment(1);
}

/// One batch of facts (`facts`) or one alert (`alerts`) dropped on a full queue, or one
/// alert past the hour's budget (`storm`).
#[cfg(feature = "alerts")]
pub(crate) fn alert_dropped(queue: &'static str) {
    metrics::counter!("connect_src_alerts_dropped_total", "queue" => queue).increment(1);
}

/// One refused report request.
pub(crate) fn rejected(status: axum::http::StatusCode) {
    metrics::counter!("connect_src_requests_rejected_total", "status" => status.as_str().to_owned())
        .increment(1);
}

/// Batches waiting for a sink's writer.
#[cfg(feature = "postgres")]
pub(crate) fn queue_depth(sink: &'static str, batches: usize) {
    metrics::gauge!("connect_src_sink_queue_depth", "sink" => sink).set(batches as f64);
}

/// One group commit, started at `started`, of `rows` violations.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn commit(sink: &'static str, started: std::time::Instant, rows: usize, ok: bool) {
    metrics::histogram!("connect_src_sink_commit_seconds", "sink" => sink)
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("connect_src_sink_commit_rows", "sink" => sink).record(rows as f64);
    let result = if ok { "ok" } else { "error" };
    metrics::counter!("connect_src_sink_commits_total", "sink" => sink, "result" => result)
        .increment(1);
}
