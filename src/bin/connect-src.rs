//! The `connect-src` command-line tool (feature `cli`): check, audit, serve, suggest.
//! Its arguments and JSON output are a stable contract (see the README).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connect_src::matcher::{Api, BrowserPolicy, Connection, Engine};
use connect_src::policy::text::{is_directive_name, parse_header};
use connect_src::policy::{Provenance, ServedPolicies};
use connect_src::report::suggest::{distrusted, observations, suggest, SuggestOptions};
use connect_src::report::{
    Collector, Durability, MemorySink, PostgresSink, ReportStore, SqliteSink,
};
use connect_src::{audit, ConnectSrc, Environment, Policy};
use serde::Serialize;

/// One `check` line, keys in the documented order.
#[derive(Serialize)]
struct CheckLine<'a> {
    target: &'a str,
    spec: bool,
    chromium: bool,
    firefox: bool,
    webkit: bool,
    everywhere: bool,
}

/// One `audit` line, keys in the documented order.
#[derive(Serialize)]
struct FindingLine<'a> {
    severity: &'a str,
    code: &'a str,
    source: Option<&'a str>,
    message: &'a str,
}

fn line(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[derive(Parser)]
#[command(
    name = "connect-src",
    version,
    about = "Check, audit and learn CSP connect-src policies, and collect violation reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Will these connections be allowed? One JSON object per target, in input order.
    ///
    /// A target is a URL, or a redirect chain written as one argument: "URL -> URL [-> URL]"
    /// (the request, then each URL a redirect leads to). Every hop is judged; path-parts
    /// only on the first (CSP3 §6.7.2.12); the verdict allows the chain only if every hop
    /// is allowed. A WebSocket follows no redirect, and a redirect leads only to http(s).
    ///
    /// Policies: --policy (a connect-src value) or --header (a whole
    /// Content-Security-Policy value, with default-src fallback and
    /// upgrade-insecure-requests), and any number of --meta; all of them apply at once.
    #[command(verbatim_doc_comment)]
    Check {
        /// The connect-src value, as any browser would accept it.
        #[arg(long, conflicts_with = "header", required_unless_present_any = ["header", "meta"])]
        policy: Option<String>,
        /// A whole Content-Security-Policy header value (default-src fallback, several
        /// policies, upgrade-insecure-requests).
        #[arg(long)]
        header: Option<String>,
        /// The content of a <meta http-equiv="Content-Security-Policy"> in the page's
        /// <head>, read as each engine reads a <meta> (a ',' starts another policy in
        /// Chromium and WebKit, not in Firefox; report-uri is ignored). Repeat it for each
        /// <meta>. A report-only <meta>, or one in <body>, is ignored by browsers: leave it
        /// out.
        #[arg(long, value_name = "CONTENT")]
        meta: Vec<String>,
        /// The API that makes the connection: fetch, xhr, eventsource, beacon or
        /// websocket. It matters with upgrade-insecure-requests, which engines apply
        /// differently per API. Default: websocket for ws:/wss: targets, fetch for the
        /// rest; ws:/wss: targets are always websocket, and websocket opens ws:/wss: for
        /// an http:/https: target, as the WebSocket constructor does.
        #[arg(long, value_name = "API")]
        api: Option<Api>,
        /// The document's URL.
        #[arg(long)]
        page: String,
        /// Target URLs, or redirect chains "URL -> URL [-> URL]".
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Findings about a policy, one JSON object per line; exit 1 if the environment refuses it.
    Audit {
        /// The connect-src value.
        #[arg(long)]
        policy: String,
        /// The environment to judge by. Production refuses wildcards over public suffixes
        /// (*.github.io, *.r2.dev, *.com) among others; in development, a loopback
        /// dev-server port is expected and not reported.
        #[arg(long, value_enum, default_value = "production")]
        env: Env,
        /// A URL of the page the policy protects: https sources under its registrable
        /// domain get the missing-wss-counterpart hint (otherwise only those under a
        /// ws/wss source's domain do).
        #[arg(long)]
        page: Option<String>,
    },
    /// A standalone report collector.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where reports go: a SQLite file, or a postgres:// (postgresql://) URL shared by
        /// several collectors (in memory when absent).
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        /// What a report answered 204 survives, with a SQLite --db: power-loss (fsync every
        /// commit) or process-crash (written to the file, fsynced at checkpoints; faster).
        /// PostgreSQL's own synchronous_commit decides for a postgres:// --db.
        #[arg(long, value_enum, default_value = "power-loss", requires = "db")]
        durability: DurabilityArg,
        /// Keep only reports about documents of this origin (scheme://host[:port]);
        /// repeat for more. Reports about other pages are dropped and counted. Without it,
        /// every report is kept. (Not CORS: any sender may still POST.)
        #[arg(long = "accept-origin", value_name = "ORIGIN")]
        accept_origin: Vec<String>,
        /// A Content-Security-Policy header value the app serves (repeatable; the first is
        /// the current one, the others earlier ones): each report is classed against them.
        #[arg(long = "policy-header", value_name = "CSP")]
        policy_header: Vec<String>,
        /// The Content-Security-Policy-Report-Only header value the app serves now, beside
        /// the first --policy-header (both are current: one response carries both).
        #[arg(long = "report-only-header", value_name = "CSP")]
        report_only_header: Option<String>,
        /// A file holding the provenance secret the app's layers were given
        /// (`Provenance::new`): reports without a valid `csp-token` in their URL are then
        /// classed `foreign`. Text, at least 32 bytes once surrounding whitespace is
        /// trimmed (`openssl rand -hex 32 > secret`); give the app the same trimmed text.
        #[arg(long = "provenance-secret-file", value_name = "PATH")]
        provenance_secret_file: Option<std::path::PathBuf>,
        /// How often the app's tokens rotate, in seconds (`Provenance::rotation`; the
        /// same value as the app's).
        #[arg(
            long = "provenance-rotation",
            value_name = "SECONDS",
            default_value_t = 3600,
            value_parser = clap::value_parser!(u64).range(1..),
            requires = "provenance_secret_file"
        )]
        provenance_rotation: u64,
    },
    /// The connect-src value to deploy, learned from stored report-only violations.
    Suggest {
        /// The SQLite file or postgres:// URL `serve --db` filled.
        #[arg(long)]
        db: std::path::PathBuf,
        /// The current connect-src value.
        #[arg(long)]
        policy: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    PowerLoss,
    ProcessCrash,
}

#[derive(Clone, Copy, ValueEnum)]
enum Env {
    Production,
    Development,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            policy,
            header,
            meta,
            api,
            page,
            targets,
        } => check(policy, header, &meta, api, &page, &targets),
        Command::Audit { policy, env, page } => audit_cmd(&policy, env, page.as_deref()),
        Command::Serve {
            listen,
            db,
            durability,
            accept_origin,
            policy_header,
            report_only_header,
            provenance_secret_file,
            provenance_rotation,
        } => {
            let provenance = match provenance_secret_file
                .map(|path| provenance(&path, provenance_rotation))
                .transpose()
            {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: --provenance-secret-file: {e}");
                    return ExitCode::from(USAGE);
                }
            };
            serve(
                listen,
                db,
                durability,
                &accept_origin,
                &policy_header,
                report_only_header,
                provenance,
            )
        }
        Command::Suggest { db, policy } => suggest_cmd(&db, &policy),
    }
}

/// Exit status for bad input: the same as clap's usage errors.
const USAGE: u8 = 2;

fn check(
    policy: Option<String>,
    header: Option<String>,
    metas: &[String],
    api: Option<Api>,
    page: &str,
    targets: &[String],
) -> ExitCode {
    if let Some(p) = policy.as_deref().filter(|p| p.contains(';')) {
        eprintln!(
            "error: --policy takes a connect-src source list, and {p:?} has a ';' (a \
             directive separator): for a whole header value use --header"
        );
        return ExitCode::from(USAGE);
    }
    let mut p = match (&policy, &header) {
        (Some(p), _) => BrowserPolicy::parse(p),
        (None, Some(h)) => BrowserPolicy::from_header(h),
        // Only <meta> policies: start from no policy at all.
        (None, None) => BrowserPolicy::from_header(""),
    };
    for m in metas {
        p = p.and(BrowserPolicy::from_meta(m));
    }
    for w in p.warnings() {
        eprintln!("warning: {w}");
    }
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let verdict = t.parse::<Connection>().and_then(|mut c| {
            // ws:/wss: targets are always opened by a WebSocket.
            if let Some(api) = api.filter(|_| Api::for_url(t.trim_start()) != Api::WebSocket) {
                c = c.with_api(api);
            }
            p.check_connection(page, &c)
        });
        match verdict {
            Ok(v) => out.push(line(&CheckLine {
                target: t,
                spec: v.get(Engine::Spec),
                chromium: v.get(Engine::Chromium),
                firefox: v.get(Engine::Firefox),
                webkit: v.get(Engine::WebKit),
                everywhere: v.everywhere(),
            })),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(USAGE);
            }
        }
    }
    for o in out {
        println!("{o}");
    }
    ExitCode::SUCCESS
}

fn audit_cmd(text: &str, env: Env, page: Option<&str>) -> ExitCode {
    let environment = match env {
        Env::Production => Environment::Production,
        Env::Development => Environment::Development,
    };
    let mut options = audit::AuditOptions::new().environment(environment);
    if let Some(page) = page {
        match url::Url::parse(page) {
            Ok(u) => options = options.page(&u),
            Err(e) => {
                eprintln!("error: --page {page:?} is not an absolute URL ({e}): give the page's address, such as https://myapp.com/");
                return ExitCode::from(USAGE);
            }
        }
    }
    // What browsers would enforce, audited; plus what the strict builder refuses.
    let parsed = BrowserPolicy::parse(text);
    for w in parsed.warnings() {
        println!(
            "{}",
            line(&FindingLine {
                severity: "warning",
                code: "ignored-source",
                source: None,
                message: w
            })
        );
    }
    for f in audit::audit_text_with(text, &options) {
        println!(
            "{}",
            line(&FindingLine {
                severity: f.severity.as_str(),
                code: f.code,
                source: f.source.as_deref(),
                message: &f.message,
            })
        );
    }
    let built = text.parse::<ConnectSrc>().and_then(|list| {
        Policy::builder()
            .enforce(list)
            .environment(environment)
            .build()
    });
    match built {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Checks a header value `serve` is given as served: a header value that restricts
/// connections (a connect-src or default-src directive); warns on stderr about directives
/// CSP does not define and sources browsers would ignore.
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
            eprintln!(
                "warning: {flag}: {:?} is not a CSP directive; browsers ignore it",
                d.name
            );
        }
    }
    for w in read.warnings() {
        eprintln!("warning: {flag}: {w}");
    }
    Ok(())
}

/// The secret in `path` (its text, surrounding whitespace trimmed), rotated every
/// `rotation` seconds.
fn provenance(path: &std::path::Path, rotation: u64) -> Result<Provenance, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Provenance::new(text.trim().as_bytes().to_vec())
        .map(|p| p.rotation(std::time::Duration::from_secs(rotation)))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn serve(
    listen: SocketAddr,
    db: Option<std::path::PathBuf>,
    durability: DurabilityArg,
    accept_origin: &[String],
    policy_header: &[String],
    report_only_header: Option<String>,
    provenance: Option<Provenance>,
) -> ExitCode {
    let durability = match durability {
        DurabilityArg::PowerLoss => Durability::PowerLoss,
        DurabilityArg::ProcessCrash => Durability::ProcessCrash,
    };
    let mut builder = Collector::builder();
    let given = policy_header.iter().map(|h| ("--policy-header", h)).chain(
        report_only_header
            .iter()
            .map(|h| ("--report-only-header", h)),
    );
    for (flag, value) in given {
        if let Err(e) = served_header(flag, value) {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    }
    if !policy_header.is_empty() || report_only_header.is_some() {
        builder = builder.served_policies(ServedPolicies::from_policy_headers(
            policy_header.first().cloned(),
            report_only_header,
            policy_header.iter().skip(1).cloned(),
        ));
    }
    if let Some(p) = provenance {
        builder = builder.provenance(p);
    }
    for origin in accept_origin {
        builder = match builder.accept_origin(origin) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: --accept-origin: {e}");
                return ExitCode::from(USAGE);
            }
        };
    }
    let db = match db.as_deref().map(Db::of).transpose() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let opened = match db {
        Some(Db::Postgres(url)) => PostgresSink::open(url)
            .map(|sink| builder.store(sink).build())
            .map_err(|e| format!("cannot open {}: {e}", redact(url))),
        Some(Db::Sqlite(path)) => SqliteSink::builder()
            .durability(durability)
            .open(path)
            .map(|sink| builder.store(sink).build())
            .map_err(|e| format!("cannot open {}: {e}", path.display())),
        None => Ok(builder.store(MemorySink::new()).build()),
    };
    let collector = match opened {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    // Prometheus text on GET /metrics: the library emits through the `metrics` facade.
    // Histograms with buckets (the exporter's default renders them as summaries):
    // commit time in seconds, 1 ms to 10 s, and violations per commit, 1 to 1,024.
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    const COMMIT_SECONDS: &[f64] = &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 10.0];
    const COMMIT_ROWS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];
    let exporter = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("connect_src_sink_commit_seconds".into()),
            COMMIT_SECONDS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("connect_src_sink_commit_rows".into()),
                COMMIT_ROWS,
            )
        });
    let metrics = match exporter.and_then(PrometheusBuilder::install_recorder) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("error: cannot install the metrics recorder: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {listen}: {e}");
                return ExitCode::from(1);
            }
        };
        let addr = listener.local_addr().map_or(listen, |a| a);
        println!(
            "connect-src collector on http://{addr}/csp-reports (dashboard: /csp-reports/dashboard, summary: /csp-reports/summary, metrics: /metrics)"
        );
        let upkeep = metrics.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                upkeep.run_upkeep();
            }
        });
        let app: axum::Router = collector.router().route(
            "/metrics",
            axum::routing::get(move || {
                let text = metrics.render();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// What `--db` names: a PostgreSQL URL, or else a SQLite file.
enum Db<'a> {
    Postgres(&'a str),
    Sqlite(&'a std::path::Path),
}

impl Db<'_> {
    /// A URL of another scheme (`mysql://…`) is refused (a usage error), not taken for a
    /// file name.
    fn of(db: &std::path::Path) -> Result<Db<'_>, String> {
        match db.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Db::Postgres(url))
            }
            Some(url) if url.contains("://") => Err(format!(
                "--db {}: not a database this tool writes; give a SQLite file path or a \
                 postgres:// (postgresql://) URL",
                redact(url)
            )),
            _ => Ok(Db::Sqlite(db)),
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn suggest_cmd(db: &std::path::Path, policy: &str) -> ExitCode {
    let current = match policy.parse::<ConnectSrc>() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let db = match Db::of(db) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let read = match db {
        Db::Postgres(url) => PostgresSink::open(url)
            .map_err(|e| format!("cannot open {}: {e}", redact(url)))
            .and_then(|store| store.summary(usize::MAX).map_err(|e| e.to_string())),
        Db::Sqlite(path) => {
            if !path.exists() {
                eprintln!("error: {} does not exist", path.display());
                return ExitCode::from(USAGE);
            }
            SqliteSink::open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))
                .and_then(|store| store.summary(usize::MAX).map_err(|e| e.to_string()))
        }
    };
    let summary = match read {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let s = suggest(&current, observations(&summary), &SuggestOptions::default());
    for a in &s.additions {
        eprintln!("{a}");
    }
    if s.additions.is_empty() {
        eprintln!(
            "nothing to add: no report-only connect-src violation classed genuine or \
             unverified outside the policy"
        );
    }
    for (class, n) in distrusted(&summary) {
        eprintln!(
            "not learned from: {n} report-only violation(s) classed {}",
            class.as_str()
        );
    }
    if s.skipped > 0 {
        eprintln!(
            "skipped {} violation(s): not http(s)/ws(s) URLs, or already allowed",
            s.skipped
        );
    }
    println!("{}", s.policy);
    ExitCode::SUCCESS
}
