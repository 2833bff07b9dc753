//! `connect-src serve`: the standalone report collector an operator puts on the internet.
//!
//! - Two faces: the public listener (`--listen`) serves the report intake (`POST
//!   /csp-reports` and its preflight) and `GET /healthz`, nothing else; the read side
//!   (summary, dashboard, `/metrics`) is on the admin listener (`--admin-listen`, loopback
//!   unless a Bearer token guards it).
//! - Bounded connections (`net`): header-read and request timeouts, a connection limit,
//!   cleartext HTTP/2 off unless asked for (then with stream and window limits).
//! - A graceful stop on SIGTERM and SIGINT within `--shutdown-timeout`.
//! - Logs through `tracing-subscriber` (`logs`), control characters escaped.
//! - The store named in the banner; PostgreSQL retried at start while the public face
//!   answers 503 (`store`); retention with `--retain`.
//!
//! Every flag also reads a `CONNECT_SRC_*` environment variable; `--db` also reads
//! `DATABASE_URL`.

mod admin;
mod logs;
mod net;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use connect_src::matcher::{BrowserPolicy, Engine};
use connect_src::policy::text::{is_directive_name, parse_header};
use connect_src::policy::{Provenance, ServedPolicies};
use connect_src::report::alert::{AlertFormat, Alerts};
use connect_src::report::sqlite::Durability;
use connect_src::report::{Collector, CollectorBuilder};

use super::USAGE;

/// The path browsers POST to; the read side lives under it on the admin face.
const REPORT_PATH: &str = "/csp-reports";

/// A standalone report collector: a public face for browsers' reports, an admin face for
/// the people who read them.
#[derive(clap::Args)]
#[command(
    after_help = "Every flag can also be set from the environment: --listen from CONNECT_SRC_LISTEN, \
                  --db from CONNECT_SRC_DB (or DATABASE_URL), and so on (shown beside each flag). \
                  A repeatable flag reads one value from its variable (--accept-origin: \
                  comma-separated). Deploying: docs/deploying.md."
)]
pub(crate) struct ServeArgs {
    /// The public address: POST /csp-reports (and its CORS preflight) and GET /healthz,
    /// nothing else.
    #[arg(long, env = "CONNECT_SRC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The admin address: GET /csp-reports/summary, /csp-reports/dashboard, /metrics and
    /// /healthz (with the reason when not ready). A non-loopback address needs
    /// --admin-token-file.
    #[arg(
        long,
        env = "CONNECT_SRC_ADMIN_LISTEN",
        default_value = "127.0.0.1:8081",
        value_name = "ADDR"
    )]
    admin_listen: SocketAddr,
    /// A file holding the Bearer token the admin face asks for (`Authorization: Bearer
    /// <token>`, compared in constant time; 401 otherwise). At least 32 characters of
    /// A-Z a-z 0-9 - . _ ~ + / (such as `openssl rand -hex 32`), surrounding whitespace
    /// trimmed.
    #[arg(long, env = "CONNECT_SRC_ADMIN_TOKEN_FILE", value_name = "PATH")]
    admin_token_file: Option<PathBuf>,
    /// Where reports go: a SQLite file, or a postgres:// (postgresql://) URL shared by
    /// several collectors; in memory when absent (lost when the process stops). Read from
    /// DATABASE_URL too when neither this flag nor CONNECT_SRC_DB is set.
    #[arg(long, env = "CONNECT_SRC_DB", hide_env_values = true)]
    db: Option<PathBuf>,
    /// A file holding the PostgreSQL password (its last line ending removed), so that it is
    /// not in the --db URL (visible in `ps`). Without it, PGPASSWORD is used when the URL
    /// has no password.
    #[arg(long, env = "CONNECT_SRC_DB_PASSWORD_FILE", value_name = "PATH")]
    db_password_file: Option<PathBuf>,
    /// What a report answered 204 survives, with a SQLite --db: power-loss (fsync every
    /// commit; the default) or process-crash (written to the file, fsynced at checkpoints;
    /// faster). PostgreSQL's own synchronous_commit decides for a postgres:// --db.
    #[arg(long, env = "CONNECT_SRC_DURABILITY", value_enum)]
    durability: Option<DurabilityArg>,
    /// Delete reports received longer ago than this (`30d`, `12h`), at start and then every
    /// hour. Without it reports are kept.
    #[arg(long, env = "CONNECT_SRC_RETAIN", value_name = "DURATION", value_parser = duration)]
    retain: Option<Duration>,
    /// Keep only reports about documents of this origin (scheme://host[:port]); repeat for
    /// more. Reports about other pages are dropped and counted. Without it, every report is
    /// kept. (Not CORS: any sender may still POST.)
    #[arg(
        long = "accept-origin",
        value_name = "ORIGIN",
        env = "CONNECT_SRC_ACCEPT_ORIGIN",
        value_delimiter = ','
    )]
    accept_origin: Vec<String>,
    /// A Content-Security-Policy header value the app serves (repeatable; the first is the
    /// current one, the others earlier ones): each report is classed against them.
    #[arg(
        long = "policy-header",
        value_name = "CSP",
        env = "CONNECT_SRC_POLICY_HEADER"
    )]
    policy_header: Vec<String>,
    /// The Content-Security-Policy-Report-Only header value the app serves now, beside the
    /// first --policy-header (both are current: one response carries both).
    #[arg(
        long = "report-only-header",
        value_name = "CSP",
        env = "CONNECT_SRC_REPORT_ONLY_HEADER"
    )]
    report_only_header: Option<String>,
    /// The Connection-Allowlist (or -Report-Only) header value the app serves now beside
    /// its policies: `connection-allowlist` reports are classed against it (without it they
    /// are `foreign`). A value Chromium cannot parse is refused.
    #[arg(
        long = "connection-allowlist-header",
        value_name = "VALUE",
        env = "CONNECT_SRC_CONNECTION_ALLOWLIST_HEADER"
    )]
    connection_allowlist_header: Option<String>,
    /// A file holding a provenance secret the app's layers were given (`Provenance::new`):
    /// reports without a valid `csp-token` in their URL are then classed `foreign`. Text,
    /// at least 32 bytes with at least 8 distinct byte values once surrounding whitespace
    /// is trimmed (`openssl rand -hex 32 > secret`); give the app the same trimmed text.
    /// Repeat it to rotate: the first is the app's current secret, the others still verify.
    #[arg(
        long = "provenance-secret-file",
        value_name = "PATH",
        env = "CONNECT_SRC_PROVENANCE_SECRET_FILE"
    )]
    provenance_secret_file: Vec<PathBuf>,
    /// How often the app's tokens rotate, in seconds (`Provenance::rotation`; the same value
    /// as the app's).
    #[arg(
        long = "provenance-rotation",
        value_name = "SECONDS",
        env = "CONNECT_SRC_PROVENANCE_ROTATION",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..),
        requires = "provenance_secret_file"
    )]
    provenance_rotation: u64,
    /// Log lines as text or as one JSON object per line (stderr). RUST_LOG filters them
    /// (default: info).
    #[arg(
        long,
        env = "CONNECT_SRC_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    /// Open connections per listener. Past it, new connections wait in the kernel's accept
    /// queue until one closes (a slow client is closed at the latest by the header-read
    /// timeout). Keep it under the open-files limit (LimitNOFILE, ulimit -n).
    #[arg(
        long,
        env = "CONNECT_SRC_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    max_connections: u32,
    /// How long a client may take to send a request's headers, and how long a connection
    /// may stay open with no request in flight, before it is closed.
    #[arg(
        long,
        env = "CONNECT_SRC_HEADER_READ_TIMEOUT",
        default_value = "10s",
        value_parser = duration,
        value_name = "DURATION"
    )]
    header_read_timeout: Duration,
    /// How long one request may take, its body and storing included (then 408).
    #[arg(
        long,
        env = "CONNECT_SRC_REQUEST_TIMEOUT",
        default_value = "30s",
        value_parser = duration,
        value_name = "DURATION"
    )]
    request_timeout: Duration,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish; then the
    /// process exits (0) anyway.
    #[arg(
        long,
        env = "CONNECT_SRC_SHUTDOWN_TIMEOUT",
        default_value = "10s",
        value_parser = duration,
        value_name = "DURATION"
    )]
    shutdown_timeout: Duration,
    /// How long the summary and dashboard reuse a read of the store while reports keep
    /// arriving (readers asking at once always share one read, and an idle store's read is
    /// reused until something is stored): the most a page can lag behind.
    #[arg(
        long = "read-cache",
        env = "CONNECT_SRC_READ_CACHE",
        default_value = "2s",
        value_parser = duration,
        value_name = "DURATION"
    )]
    read_cache: Duration,
    /// The dashboard's minimum reach (distinct client networks) before a destination counts
    /// as used or is proposed: what `suggest --min-reach` takes, so the page and the command
    /// agree.
    #[arg(
        long = "min-reach",
        env = "CONNECT_SRC_MIN_REACH",
        default_value_t = connect_src::learn::DEFAULT_MIN_REACH,
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "NETWORKS"
    )]
    min_reach: u64,
    /// POST alerts to this http(s) URL: a new destination in genuine reports or the
    /// inventory, a spike, silence after steady traffic, reports of a policy the app never
    /// served; each counted by reach (--min-reach client networks), sent once, with
    /// retries, off the report's path. The URL may hold a secret: prefer the environment
    /// variable (a flag shows in `ps`); logs show only its scheme and host.
    #[arg(
        long = "alert-webhook",
        env = "CONNECT_SRC_ALERT_WEBHOOK",
        hide_env_values = true,
        value_name = "URL"
    )]
    alert_webhook: Option<String>,
    /// The alert body: json ({"type","summary","details"}) or slack ({"text"}, for a Slack
    /// incoming webhook).
    #[arg(
        long = "alert-format",
        env = "CONNECT_SRC_ALERT_FORMAT",
        value_enum,
        default_value = "json",
        requires = "alert_webhook"
    )]
    alert_format: AlertFormatArg,
    /// How long no report and no observation, after steady traffic, raises a silence
    /// alert.
    #[arg(
        long = "alert-silence",
        env = "CONNECT_SRC_ALERT_SILENCE",
        default_value = "1h",
        value_parser = duration,
        value_name = "DURATION",
        requires = "alert_webhook"
    )]
    alert_silence: Duration,
    /// Read the client's address from this header's last value (the one the proxy in front
    /// appends, e.g. X-Forwarded-For) instead of the TCP peer: only behind a proxy you run.
    /// Reports count towards reach once per client network (a keyed hash of the /24 or /48).
    #[arg(
        long = "client-ip-header",
        env = "CONNECT_SRC_CLIENT_IP_HEADER",
        value_name = "NAME"
    )]
    client_ip_header: Option<String>,
    /// Accept cleartext HTTP/2 (h2c, prior knowledge) beside HTTP/1.1. Off by default:
    /// browsers never send reports over h2c; a proxy in front may.
    #[arg(
        long,
        env = "CONNECT_SRC_HTTP2",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    http2: bool,
    /// With --http2: concurrent streams per connection.
    #[arg(
        long,
        env = "CONNECT_SRC_HTTP2_MAX_STREAMS",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    http2_max_streams: u32,
    /// With --http2: the flow-control window of each stream, in bytes (what a client may
    /// send before the collector reads it); the connection's is four times this.
    #[arg(
        long,
        env = "CONNECT_SRC_HTTP2_WINDOW",
        default_value_t = 65_535,
        value_parser = clap::value_parser!(u32).range(65_535..=(1 << 24)),
        value_name = "BYTES"
    )]
    http2_window: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum AlertFormatArg {
    Json,
    Slack,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    PowerLoss,
    ProcessCrash,
}

/// How log lines are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub(super) enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO target: message key=value`
    Text,
    /// One JSON object per line, fields flattened.
    Json,
}

/// A duration in humantime's form (`10s`, `500ms`, `30d`), more than zero.
fn duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!(
            "{text:?} is zero; give a duration such as 10s or 30d"
        )),
        Err(e) => Err(format!(
            "{text:?} is not a duration ({e}); write it like 500ms, 10s, 12h or 30d"
        )),
    }
}

/// What `run` starts, checked before anything is bound or opened.
pub(super) struct Config {
    listen: SocketAddr,
    admin_listen: SocketAddr,
    token: Option<admin::Token>,
    store: store::Target,
    retain: Option<Duration>,
    collector: CollectorBuilder,
    limits: net::Limits,
    shutdown_timeout: Duration,
}

impl Config {
    /// Reads the files the flags name and checks what can be checked before starting; an
    /// error is a usage error (exit 2) whose message names the flag.
    fn from_args(a: ServeArgs) -> Result<Config, String> {
        if a.listen == a.admin_listen && a.listen.port() != 0 {
            return Err(format!(
                "--listen and --admin-listen are both {}: give the admin face an address of \
                 its own (it serves what the public one must not)",
                a.listen
            ));
        }
        let token = a
            .admin_token_file
            .as_deref()
            .map(admin::Token::from_file)
            .transpose()
            .map_err(|e| format!("--admin-token-file {e}"))?;
        if !a.admin_listen.ip().is_loopback() && token.is_none() {
            return Err(format!(
                "--admin-listen {} is not a loopback address, and the admin face shows every \
                 report (document paths, URLs): give --admin-token-file PATH so that it asks \
                 for a Bearer token, or listen on 127.0.0.1",
                a.admin_listen
            ));
        }
        let db = match a.db {
            Some(db) => Some((db, "--db")),
            None => std::env::var_os("DATABASE_URL")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), "DATABASE_URL")),
        };
        let store = store::Target::of(
            db.as_ref().map(|(db, from)| (db.as_path(), *from)),
            a.durability.map(|d| match d {
                DurabilityArg::PowerLoss => Durability::PowerLoss,
                DurabilityArg::ProcessCrash => Durability::ProcessCrash,
            }),
            a.db_password_file.as_deref(),
        )?;
        let mut builder = Collector::builder()
            .path(REPORT_PATH)
            .read_cache(a.read_cache)
            .min_reach(a.min_reach);
        if let Some(name) = &a.client_ip_header {
            builder = builder
                .client_ip_header(name)
                .map_err(|e| format!("--client-ip-header {name:?}: {e}"))?;
        }
        let given = a
            .policy_header
            .iter()
            .map(|h| ("--policy-header", h))
            .chain(
                a.report_only_header
                    .iter()
                    .map(|h| ("--report-only-header", h)),
            );
        for (flag, value) in given {
            served_header(flag, value)?;
        }
        let allowlist = a
            .connection_allowlist_header
            .as_deref()
            .map(served_allowlist)
            .transpose()?;
        if !a.policy_header.is_empty() || a.report_only_header.is_some() || allowlist.is_some() {
            let served = ServedPolicies::from_policy_headers(
                a.policy_header.first().cloned(),
                a.report_only_header,
                a.policy_header.iter().skip(1).cloned(),
            );
            if let Some(value) = allowlist {
                served.record_connection_allowlist(value);
            }
            builder = builder.served_policies(served);
        }
        if !a.provenance_secret_file.is_empty() {
            let p = provenance(&a.provenance_secret_file, a.provenance_rotation)
                .map_err(|e| format!("--provenance-secret-file: {e}"))?;
            builder = builder.provenance(p);
        }
        if let Some(url) = &a.alert_webhook {
            let alerts = Alerts::webhook(url)
                .map_err(|e| format!("--alert-webhook: {e}"))?
                .format(match a.alert_format {
                    AlertFormatArg::Json => AlertFormat::Json,
                    AlertFormatArg::Slack => AlertFormat::Slack,
                })
                .silence_after(a.alert_silence);
            tracing::info!(alerts = %alerts, "alerts on");
            builder = builder.alerts(alerts);
        }
        for origin in &a.accept_origin {
            builder = builder
                .accept_origin(origin)
                .map_err(|e| format!("--accept-origin: {e}"))?;
        }
        Ok(Config {
            listen: a.listen,
            admin_listen: a.admin_listen,
            token,
            store,
            retain: a.retain,
            collector: builder,
            limits: net::Limits {
                max_connections: a.max_connections as usize,
                header_read_timeout: a.header_read_timeout,
                request_timeout: a.request_timeout,
                http2: a.http2.then_some(net::Http2 {
                    max_streams: a.http2_max_streams,
                    window: a.http2_window,
                }),
            },
            shutdown_timeout: a.shutdown_timeout,
        })
    }
}

/// Checks a header value `serve` is given as served: a header value that restricts
/// connections (a connect-src or default-src directive); warns about directives CSP does
/// not define and sources browsers would ignore.
/// A `--connection-allowlist-header` value: one Chromium reads as a list (a value it cannot
/// parse blocks every connection, and an empty one is no policy: neither is what an app
/// meant to serve).
fn served_allowlist(value: &str) -> Result<String, String> {
    let flag = "--connection-allowlist-header";
    if axum::http::HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "{flag} {value:?} is not a header value (visible ASCII)"
        ));
    }
    let a = connect_src::matcher::AllowlistPolicy::parse(value);
    if a.is_ignored() || a.fails_closed() {
        return Err(format!(
            "{flag} {value:?}: {}",
            a.warnings()
                .first()
                .map_or("empty: Chromium reads no policy", String::as_str)
        ));
    }
    Ok(value.to_owned())
}

fn served_header(flag: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || axum::http::HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "{flag} {value:?} is not a header value (visible ASCII, not empty)"
        ));
    }
    let read = BrowserPolicy::from_header(value);
    if read.lists(Engine::Spec).iter().all(Option::is_none) {
        return Err(format!(
            "{flag} {value:?} has no connect-src or default-src directive: give the whole \
             header value the app sends, such as \"connect-src 'self'; report-uri \
             /csp-reports\", not a source list"
        ));
    }
    for policy in parse_header(value) {
        for d in policy
            .directives
            .iter()
            .filter(|d| !is_directive_name(d.name))
        {
            tracing::warn!(
                "{flag}: {:?} is not a CSP directive; browsers ignore it",
                d.name
            );
        }
    }
    for w in read.warnings() {
        tracing::warn!("{flag}: {w}");
    }
    Ok(())
}

/// The secrets in `paths` (each file's text, surrounding whitespace trimmed; the first
/// signs), rotated every `rotation` seconds. An error names the file, never its content.
fn provenance(paths: &[PathBuf], rotation: u64) -> Result<Provenance, String> {
    let mut secrets = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let secret = text.trim().as_bytes().to_vec();
        Provenance::new(secret.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
        secrets.push(secret);
    }
    Provenance::from_secrets(secrets)
        .map(|p| p.rotation(Duration::from_secs(rotation)))
        .map_err(|e| e.to_string())
}

/// `connect-src serve`: exit 0 after a graceful stop, 1 when something it needs fails
/// (a port, the store), 2 for bad arguments.
pub(crate) fn run(args: ServeArgs) -> ExitCode {
    if let Err(e) = logs::init(args.log_format) {
        eprintln!("error: {e}");
        return ExitCode::from(USAGE);
    }
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let metrics = match store::install_metrics() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(serve(config, metrics));
    // A PostgreSQL attempt still running on the blocking pool must not hold the exit.
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn serve(config: Config, metrics: metrics_exporter_prometheus::PrometheusHandle) -> ExitCode {
    // Signals first: a SIGTERM that comes right after the banner is a graceful stop too.
    let mut signals = match net::Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen for signals: {e}");
            return ExitCode::from(1);
        }
    };
    // SQLite is a local file: opened before anything listens, an error stops here.
    let opened = match config.store.open_local() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let bind = |addr: SocketAddr, flag: &'static str| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} ({flag}): {e}"))
    };
    let (public, admin_l) = match (
        bind(config.listen, "--listen").await,
        bind(config.admin_listen, "--admin-listen").await,
    ) {
        (Ok(p), Ok(a)) => (p, a),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let public_addr = public.local_addr().map_or(config.listen, |a| a);
    let admin_addr = admin_l.local_addr().map_or(config.admin_listen, |a| a);
    store::metrics_upkeep(metrics.clone());
    let shared = Arc::new(store::Shared::new(metrics));
    let guard = if config.token.is_some() {
        "Bearer token required"
    } else {
        "no token: loopback only"
    };
    // The banner, on stdout: where each face is, and what the reports are kept in.
    println!(
        "connect-src collector on http://{public_addr}{REPORT_PATH} (public: POST \
         {REPORT_PATH} and its preflight, GET /healthz)"
    );
    println!(
        "admin on http://{admin_addr}/ (GET {REPORT_PATH}/summary, {REPORT_PATH}/dashboard, \
         /metrics, /healthz; {guard})"
    );
    println!("store: {}", config.store.describe(config.retain));
    tracing::info!(
        public = %public_addr,
        admin = %admin_addr,
        admin_token = config.token.is_some(),
        store = %config.store.describe(config.retain),
        max_connections = config.limits.max_connections,
        http2 = config.limits.http2.is_some(),
        "collector started"
    );
    if config.store.is_memory() {
        tracing::warn!(
            "reports are kept in memory and lost when the process stops: give --db (a SQLite \
             file or a postgres:// URL) to keep them"
        );
    }
    net::check_open_files(2 * config.limits.max_connections);

    let stop = net::Stop::new();
    let opening = tokio::spawn(store::open_and_run(
        config.store,
        opened,
        config.collector,
        config.retain,
        shared.clone(),
        stop.clone(),
    ));
    let stopping = {
        let (stop, shared) = (stop.clone(), shared.clone());
        tokio::spawn(async move {
            let name = signals.next().await;
            tracing::info!(
                signal = name,
                "stopping: new connections are refused, requests in flight may finish"
            );
            shared.stopping();
            stop.stop();
            // A second signal: stop at once (every 204 already committed).
            let name = signals.next().await;
            tracing::warn!(signal = name, "second signal: exiting now");
            std::process::exit(1);
        })
    };
    let limits = Arc::new(config.limits);
    let public_app = store::public_router(shared.clone(), limits.request_timeout);
    let admin_app = admin::router(
        store::admin_router(shared.clone(), limits.request_timeout),
        config.token,
    );
    let (cut_public, cut_admin) = tokio::join!(
        net::serve(
            public,
            public_app,
            limits.clone(),
            stop.clone(),
            config.shutdown_timeout
        ),
        net::serve(
            admin_l,
            admin_app,
            limits,
            stop.clone(),
            config.shutdown_timeout
        ),
    );
    stopping.abort();
    let fatal = match opening.await {
        Ok(Err(e)) => Some(e),
        _ => None,
    };
    // Nothing more can come in: what was acknowledged is committed; SQLite is checkpointed
    // and closed, leaving no WAL beside the file.
    shared.close_store().await;
    if cut_public + cut_admin > 0 {
        tracing::warn!(
            connections = cut_public + cut_admin,
            "stopped: connections still open at --shutdown-timeout were closed (their clients \
             got no answer, so nothing they sent was acknowledged)"
        );
    } else {
        tracing::info!("stopped");
    }
    match fatal {
        Some(e) => {
            tracing::error!(error = %e, "the report store could not be opened");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}
