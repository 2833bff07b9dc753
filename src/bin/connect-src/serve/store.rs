//! The store `serve` writes to, opened at start (PostgreSQL retried with capped backoff
//! while the public face answers 503), the routers of both faces around it, its health on
//! `/healthz`, retention, and its clean close at stop.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use connect_src::report::sqlite::Durability;
use connect_src::report::store::{Health, ReportSink, StoreError};
use connect_src::report::{Collector, CollectorBuilder, MemorySink, PostgresSink, SqliteSink};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::timeout::TimeoutLayer;
use tower_service::Service;

use super::net::Stop;
use super::REPORT_PATH;
use crate::{redact, Db};

/// Where reports go, as the flags say.
pub(super) enum Target {
    Memory,
    Sqlite {
        path: PathBuf,
        durability: Durability,
    },
    Postgres {
        /// The connection URL, as given.
        url: String,
        /// The password given apart (`--db-password-file`, PGPASSWORD), never put in the URL.
        password: Option<String>,
    },
}

/// The first and the longest wait between two attempts to open PostgreSQL.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

impl Target {
    /// The target `db` names (from `from`: `--db` or `DATABASE_URL`), with the password
    /// from `password_file` or PGPASSWORD for a PostgreSQL URL.
    pub(super) fn of(
        db: Option<(&Path, &str)>,
        durability: Option<Durability>,
        password_file: Option<&Path>,
    ) -> Result<Target, String> {
        let Some((db, from)) = db else {
            if durability.is_some() {
                return Err("--durability applies to a SQLite --db; there is none".into());
            }
            if password_file.is_some() {
                return Err("--db-password-file needs a postgres:// --db".into());
            }
            return Ok(Target::Memory);
        };
        match Db::of(db).map_err(|e| e.replace("--db", from))? {
            Db::Sqlite(path) => {
                if password_file.is_some() {
                    return Err(format!(
                        "--db-password-file is for PostgreSQL, and {from} {} is a SQLite file",
                        path.display()
                    ));
                }
                Ok(Target::Sqlite {
                    path: path.to_path_buf(),
                    durability: durability.unwrap_or_default(),
                })
            }
            Db::Postgres(url) => {
                let password = password(url, from, password_file)?;
                // Read now (its sslmode, its CA file), so that a malformed URL is a usage
                // error, not a retry loop.
                postgres(password.as_deref())
                    .check(url)
                    .map_err(|e| format!("{from} {}: {e}", redact(url)))?;
                Ok(Target::Postgres {
                    url: url.to_owned(),
                    password,
                })
            }
        }
    }

    pub(super) fn is_memory(&self) -> bool {
        matches!(self, Target::Memory)
    }

    /// What the banner says of the store.
    pub(super) fn describe(&self, retain: Option<Duration>) -> String {
        let kept = match retain {
            Some(d) => format!(
                "; reports older than {} deleted hourly",
                humantime::format_duration(d)
            ),
            None => "; reports kept until deleted (--retain)".to_owned(),
        };
        match self {
            Target::Memory => "memory (reports are lost when the process stops; give --db to keep \
                               them)"
                .to_owned(),
            Target::Sqlite { path, durability } => format!(
                "SQLite {} (durability {}{kept})",
                path.display(),
                match durability {
                    Durability::PowerLoss => "power-loss",
                    _ => "process-crash",
                }
            ),
            Target::Postgres { url, .. } => format!("PostgreSQL {}{kept}", redact(url)),
        }
    }

    /// Opens what is local (memory, a SQLite file); `None` for PostgreSQL, which
    /// [`open_and_run`] opens, retrying.
    pub(super) fn open_local(&self) -> Result<Option<Store>, String> {
        match self {
            Target::Memory => Ok(Some(Store::Memory(MemorySink::new()))),
            Target::Sqlite { path, durability } => SqliteSink::builder()
                .durability(*durability)
                .open(path)
                .map(|s| Some(Store::Sqlite(s)))
                .map_err(|e| format!("cannot open {}: {e}", path.display())),
            Target::Postgres { .. } => Ok(None),
        }
    }
}

/// The PostgreSQL sink's options: the password given apart, if any.
fn postgres(password: Option<&str>) -> connect_src::report::postgres::PostgresSinkBuilder {
    let builder = PostgresSink::builder();
    match password {
        Some(p) => builder.password(p),
        None => builder,
    }
}

/// The password for a PostgreSQL `url` given apart from it: from `file` (its last line
/// ending removed) or, when the URL has none, from PGPASSWORD. A password both in the URL
/// and in a file is refused: which one counts would be a guess.
fn password(url: &str, from: &str, file: Option<&Path>) -> Result<Option<String>, String> {
    let password = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--db-password-file: cannot read {}: {e}", path.display()))?;
            let text = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            if text.is_empty() {
                return Err(format!("--db-password-file: {} is empty", path.display()));
            }
            Some(text.to_owned())
        }
        None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
    };
    let Some(password) = password else {
        return Ok(None);
    };
    let parsed =
        url::Url::parse(url).map_err(|e| format!("{from} {}: not a URL ({e})", redact(url)))?;
    if parsed.password().is_some() {
        if file.is_some() {
            return Err(format!(
                "{from} {} already has a password: give it once, in the URL or in \
                 --db-password-file",
                redact(url)
            ));
        }
        // libpq's order: a password in the URL wins over PGPASSWORD.
        return Ok(None);
    }
    Ok(Some(password))
}

/// An open store.
#[derive(Clone)]
pub(super) enum Store {
    Memory(MemorySink),
    Sqlite(SqliteSink),
    Postgres(PostgresSink),
}

impl Store {
    fn collector(&self, builder: CollectorBuilder) -> Collector {
        match self {
            Store::Memory(s) => builder.store(s.clone()).build(),
            Store::Sqlite(s) => builder.store(s.clone()).build(),
            Store::Postgres(s) => builder.store(s.clone()).build(),
        }
    }

    /// What the store says of itself (memory: always ok).
    fn health(&self) -> Health {
        match self {
            Store::Memory(s) => s.health(),
            Store::Sqlite(s) => s.health(),
            Store::Postgres(s) => s.health(),
        }
    }

    /// Deletes what was received before `t`; `None` for memory (bounded, and gone at stop).
    async fn prune_before(&self, t: SystemTime) -> Option<Result<u64, StoreError>> {
        match self {
            Store::Memory(_) => None,
            Store::Sqlite(s) => Some(s.prune_before(t).await),
            Store::Postgres(s) => Some(s.prune_before(t).await),
        }
    }
}

/// Whether opening PostgreSQL may succeed later: the server down or starting, the network,
/// a refused login (fixed without restarting us), no answer in time. A bad URL, a newer
/// schema or a failed thread will not.
fn retryable(e: &StoreError) -> bool {
    e.is_transient()
}

/// Opens the store if `opened` is not already, then serves it: both faces' routers are set,
/// retention runs. PostgreSQL is retried with a capped exponential backoff until it opens
/// or the process stops; a failure that retrying cannot fix is returned (exit 1).
/// How often `serve` steps a rollout.
const ROLLOUT_STEP: Duration = Duration::from_secs(5);

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) async fn open_and_run(
    target: Target,
    opened: Option<Store>,
    builder: CollectorBuilder,
    retain: Option<Duration>,
    shared: Arc<Shared>,
    stop: Stop,
) -> Result<(), String> {
    let store = match (opened, target) {
        (Some(store), _) => store,
        (None, Target::Postgres { url, password }) => {
            let opening = open_postgres(&url, password.as_deref(), &shared);
            let sink = tokio::select! {
                sink = opening => sink,
                () = stop.stopped() => return Ok(()),
            };
            match sink {
                Ok(sink) => {
                    tracing::info!(store = %redact(&url), "PostgreSQL is open: accepting reports");
                    Store::Postgres(sink)
                }
                Err(e) => {
                    stop.stop();
                    return Err(e);
                }
            }
        }
        (None, _) => unreachable!("memory and SQLite are opened before the listeners"),
    };
    let collector = store.collector(builder);
    shared.ready(&collector, store.clone());
    // Steps the store's staged rollout, if one runs (`connect-src rollout start`): advance,
    // hold or roll back, as every collector sharing the store does; stopped with the rest.
    let stepping = tokio::spawn(collector.clone().drive_rollouts(ROLLOUT_STEP));
    let _stepping = AbortOnDrop(stepping);
    match retain {
        Some(keep) => tokio::select! {
            () = retention(&store, keep) => {}
            () = stop.stopped() => {}
        },
        None => stop.stopped().await,
    }
    Ok(())
}

async fn open_postgres(
    url: &str,
    password: Option<&str>,
    shared: &Shared,
) -> Result<PostgresSink, String> {
    let mut wait = FIRST_RETRY;
    for attempt in 1u32.. {
        let (u, builder) = (url.to_owned(), postgres(password));
        let error = match tokio::task::spawn_blocking(move || builder.open(&u)).await {
            Ok(Ok(sink)) => return Ok(sink),
            Ok(Err(e)) if retryable(&e) => e.to_string(),
            Ok(Err(e)) => return Err(format!("cannot open {}: {e}", redact(url))),
            Err(e) => return Err(format!("cannot open {}: {e}", redact(url))),
        };
        tracing::warn!(
            attempt,
            retry_in = %humantime::format_duration(wait),
            error = %error,
            store = %redact(url),
            "cannot open PostgreSQL yet: reports are answered 503 until it opens"
        );
        shared.waiting(attempt, error, wait);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LAST_RETRY);
    }
    unreachable!("the attempts never run out")
}

/// Prunes at once and then every hour, until the process stops.
async fn retention(store: &Store, keep: Duration) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let before = SystemTime::now()
            .checked_sub(keep)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        match store.prune_before(before).await {
            None => {
                tracing::warn!(
                    "--retain does nothing with the memory store (it keeps a bounded window, \
                     lost when the process stops)"
                );
                return;
            }
            Some(Ok(deleted)) => tracing::info!(
                deleted,
                before = %humantime::format_rfc3339_seconds(before),
                "retention: deleted the reports received before the cut-off"
            ),
            Some(Err(e)) => tracing::warn!(error = %e, "retention: cannot delete old reports"),
        }
    }
}

/// What both faces share: the routers and the store once it is open, and the health.
pub(super) struct Shared {
    routers: OnceLock<Routers>,
    store: OnceLock<Store>,
    health: Mutex<Stage>,
    metrics: PrometheusHandle,
}

struct Routers {
    report: Router,
    read: Router,
}

/// Where the collector is in its life; once ready, `/healthz` asks the store.
enum Stage {
    Opening {
        attempt: u32,
        error: String,
        retry: Duration,
    },
    Ready,
    Stopping,
}

impl Shared {
    pub(super) fn new(metrics: PrometheusHandle) -> Shared {
        Shared {
            routers: OnceLock::new(),
            store: OnceLock::new(),
            health: Mutex::new(Stage::Opening {
                attempt: 0,
                error: String::new(),
                retry: FIRST_RETRY,
            }),
            metrics,
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Stage> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ready(&self, collector: &Collector, store: Store) {
        let _ = self.routers.set(Routers {
            report: collector.report_router(),
            read: collector.admin_router(),
        });
        let _ = self.store.set(store);
        let mut h = self.health();
        if !matches!(*h, Stage::Stopping) {
            *h = Stage::Ready;
        }
    }

    /// Closes the store once the listeners have drained (SQLite: the queue committed, the
    /// WAL checkpointed into the file, the connections closed, no `-wal` file left).
    pub(super) async fn close_store(&self) {
        let Some(Store::Sqlite(sink)) = self.store.get() else {
            return; // memory is dropped; PostgreSQL's own server keeps its files
        };
        match sink.close().await {
            Ok(()) => tracing::info!(
                store = %sink.path().display(),
                "SQLite closed: the WAL is checkpointed into the database file"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                store = %sink.path().display(),
                "SQLite was not closed cleanly: what was committed is in its WAL, read at the \
                 next open"
            ),
        }
    }

    fn waiting(&self, attempt: u32, error: String, retry: Duration) {
        let mut h = self.health();
        if !matches!(*h, Stage::Stopping) {
            *h = Stage::Opening {
                attempt,
                error,
                retry,
            };
        }
    }

    pub(super) fn stopping(&self) {
        *self.health() = Stage::Stopping;
    }

    /// `/healthz`: 200 `ok` when reports are taken, else 503 and why. The public face says
    /// what is wrong; the admin face adds the error text.
    fn healthz(&self, detailed: bool) -> Response {
        let (status, text, retry) = match &*self.health() {
            Stage::Ready => store_health(self.store.get().map(Store::health), detailed),
            Stage::Stopping => (
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping: this collector is shutting down\n".to_owned(),
                None,
            ),
            Stage::Opening {
                attempt,
                error,
                retry,
            } => {
                let mut text = format!(
                    "starting: the report store is not open yet (attempt {attempt}, next in {})\n",
                    humantime::format_duration(*retry)
                );
                if detailed && !error.is_empty() {
                    text.push_str(&format!("error: {error}\n"));
                }
                (StatusCode::SERVICE_UNAVAILABLE, text, Some(*retry))
            }
        };
        let mut res = (
            status,
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            text,
        )
            .into_response();
        if let Some(r) = retry {
            res.headers_mut().insert(RETRY_AFTER, retry_after(r));
        }
        res
    }
}

/// `/healthz` once the store is open: what it says of itself. The public face names the
/// trouble and since when; the admin face adds the error.
fn store_health(health: Option<Health>, detailed: bool) -> (StatusCode, String, Option<Duration>) {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    match health.unwrap_or_default() {
        Health::Full { queued } => (
            unavailable,
            format!("busy: the report store's queue is full ({queued} batches waiting)\n"),
            Some(Duration::from_secs(1)),
        ),
        Health::Failing { error, since, last } => {
            let mut text = format!(
                "failing: the report store cannot commit since {} (last tried {}); reports \
                 are answered 503\n",
                humantime::format_rfc3339_seconds(since),
                humantime::format_rfc3339_seconds(last)
            );
            if detailed {
                text.push_str(&format!("error: {error}\n"));
            }
            (unavailable, text, Some(Duration::from_secs(5)))
        }
        _ => (StatusCode::OK, "ok\n".to_owned(), None),
    }
}

fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(wait.as_secs().max(1))
}

/// 503 for a report while the store is not open: browsers (Reporting API) retry.
fn not_open(shared: &Shared) -> Response {
    let retry = match &*shared.health() {
        Stage::Opening { retry, .. } => *retry,
        _ => FIRST_RETRY,
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (RETRY_AFTER, retry_after(retry)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "the report store is not open yet; retry later\n",
    )
        .into_response()
}

/// The public face: the report intake and `/healthz`. Everything else is 404, the read
/// side included.
pub(super) fn public_router(shared: Arc<Shared>, request_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|State(s): State<Arc<Shared>>| async move { s.healthz(false) }),
        )
        .fallback(|State(s): State<Arc<Shared>>, req: Request| async move {
            match s.routers.get() {
                Some(r) => call(&r.report, req).await,
                None if req.uri().path() == REPORT_PATH => not_open(&s),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        })
        .with_state(shared)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
}

/// The admin face (its token check is added by `admin::router`): the read side,
/// `/metrics` and a `/healthz` that says why it is not ready.
pub(super) fn admin_router(shared: Arc<Shared>, request_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(s): State<Arc<Shared>>| async move {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    s.metrics.render(),
                )
            }),
        )
        .route(
            "/healthz",
            get(|State(s): State<Arc<Shared>>| async move { s.healthz(true) }),
        )
        .fallback(|State(s): State<Arc<Shared>>, req: Request| async move {
            match s.routers.get() {
                Some(r) => call(&r.read, req).await,
                None if req.uri().path().starts_with(REPORT_PATH) => not_open(&s),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        })
        .with_state(shared)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
}

async fn call(router: &Router, req: Request) -> Response {
    // A Router is always ready; its error type is Infallible.
    match router.clone().call(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

/// The Prometheus recorder the library's `metrics` go to, rendered on the admin face's
/// `/metrics`. Histograms with buckets (the exporter's default renders them as summaries):
/// commit time in seconds, 1 ms to 10 s, and violations per commit, 1 to 1,024.
pub(super) fn install_metrics() -> Result<PrometheusHandle, String> {
    const COMMIT_SECONDS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 10.0];
    const COMMIT_ROWS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("connect_src_sink_commit_seconds".into()),
            COMMIT_SECONDS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("connect_src_sink_commit_rows".into()),
                COMMIT_ROWS,
            )
        })
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    Ok(handle)
}

/// The recorder's upkeep (histogram and summary maintenance), every 5 seconds.
pub(super) fn metrics_upkeep(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}
