//! The `connect-src` command-line tool (feature `cli`): check, audit, serve, suggest,
//! unused, promote, rollout, allowlist.
//! Its arguments and JSON output are a stable contract (see the README).

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connect_src::matcher::{Api, BrowserPolicy, Connection, Engine};
use connect_src::policy::ConnectionAllowlist;
use connect_src::{audit, ConnectSrc, Environment, Policy};
use serde::Serialize;

#[path = "connect-src/allowlist.rs"]
mod allowlist;
#[path = "connect-src/learn.rs"]
mod learn;
#[path = "connect-src/promote.rs"]
mod promote;
#[path = "connect-src/serve/mod.rs"]
mod serve;

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
    /// --connection-allowlist adds a Connection-Allowlist value, which only Chromium reads:
    /// its column is allowed only when the CSP and the allowlist both allow.
    #[command(verbatim_doc_comment)]
    Check {
        /// The connect-src value, as any browser would accept it.
        #[arg(long, conflicts_with = "header", required_unless_present_any = ["header", "meta", "connection_allowlist"])]
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
        /// A Connection-Allowlist header value (Chromium 152+), read as Chromium reads it:
        /// alone, no CSP applies and only the allowlist narrows Chromium. A value that does
        /// not parse blocks every connection (a warning says so).
        #[arg(long = "connection-allowlist", value_name = "VALUE")]
        connection_allowlist: Option<String>,
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
        /// Also audit the Connection-Allowlist the crate would emit for the list (the
        /// allowlist-* codes); exit 1 as well when a source does not translate.
        #[arg(long = "connection-allowlist")]
        connection_allowlist: bool,
    },
    /// A standalone report collector: reports on a public address, the read side on an
    /// admin one.
    Serve(Box<serve::ServeArgs>),
    /// The connect-src value to deploy, learned from stored report-only violations.
    Suggest(learn::SuggestArgs),
    /// For each source of an enforced list, what real pages reached through it (from the
    /// inventory): one JSON line per source; exit 1 when a source is unused.
    Unused(learn::UnusedArgs),
    /// Is a candidate ready to enforce? The readiness gate over the stored evidence: one
    /// JSON object; exit 0 ready, 1 not ready.
    Promote(promote::PromoteArgs),
    /// Staged enforcement of a candidate, its state in the store: start, status, abort.
    Rollout(promote::RolloutArgs),
    /// The Connection-Allowlist header value (Chromium 152+) for a connect-src list, on
    /// stdout; widenings, notes and sources it cannot say on stderr (exit 1 for those).
    Allowlist(allowlist::AllowlistArgs),
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
            connection_allowlist,
            api,
            page,
            targets,
        } => check(
            Policies {
                policy,
                header,
                metas: meta,
                allowlist: connection_allowlist,
            },
            api,
            &page,
            &targets,
        ),
        Command::Audit {
            policy,
            env,
            page,
            connection_allowlist,
        } => audit_cmd(&policy, env, page.as_deref(), connection_allowlist),
        Command::Serve(args) => serve::run(*args),
        Command::Suggest(args) => learn::suggest_cmd(args),
        Command::Unused(args) => learn::unused_cmd(args),
        Command::Promote(args) => promote::promote_cmd(args),
        Command::Rollout(args) => promote::rollout_cmd(args),
        Command::Allowlist(args) => allowlist::allowlist_cmd(args),
    }
}

/// Exit status for bad input: the same as clap's usage errors.
const USAGE: u8 = 2;

/// The policies `check` reads: `--policy` or `--header`, the `--meta`s, and a
/// `--connection-allowlist` value.
struct Policies {
    policy: Option<String>,
    header: Option<String>,
    metas: Vec<String>,
    allowlist: Option<String>,
}

/// `Err(2)`, with the reason on stderr, when `value` (given as `flag`) holds a `;`: a
/// connect-src source list is one directive's value, never a header.
pub(crate) fn source_list_only(flag: &str, value: &str) -> Result<(), ExitCode> {
    if !value.contains(';') {
        return Ok(());
    }
    eprintln!(
        "error: {flag} takes a connect-src source list, and {value:?} has a ';' (a directive \
         separator): for a whole header value use --header"
    );
    Err(ExitCode::from(USAGE))
}

impl Policies {
    /// What every engine reads, warnings on stderr; `Err(2)` for a `--policy` with a `;`.
    fn read(self) -> Result<BrowserPolicy, ExitCode> {
        if let Some(p) = &self.policy {
            source_list_only("--policy", p)?;
        }
        let mut p = match (&self.policy, &self.header) {
            (Some(p), _) => BrowserPolicy::parse(p),
            (None, Some(h)) => BrowserPolicy::from_header(h),
            // Only <meta> policies or an allowlist: start from no policy at all.
            (None, None) => BrowserPolicy::from_header(""),
        };
        for m in &self.metas {
            p = p.and(BrowserPolicy::from_meta(m));
        }
        if let Some(a) = &self.allowlist {
            p = p.with_connection_allowlist(a);
        }
        for w in p.warnings() {
            eprintln!("warning: {w}");
        }
        if self.allowlist.is_some() {
            eprintln!(
                "note: Firefox and WebKit ignore Connection-Allowlist: only the chromium \
                 column reads it (allowed when both the CSP and the allowlist allow)"
            );
        }
        Ok(p)
    }
}

fn check(policies: Policies, api: Option<Api>, page: &str, targets: &[String]) -> ExitCode {
    let p = match policies.read() {
        Ok(p) => p,
        Err(code) => return code,
    };
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

fn audit_cmd(text: &str, env: Env, page: Option<&str>, allowlist: bool) -> ExitCode {
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
        print_finding(&f);
    }
    let list = text.parse::<ConnectSrc>();
    if let (true, Ok(list)) = (allowlist, &list) {
        for f in audit::audit_connection_allowlist(list) {
            print_finding(&f);
        }
    }
    let built = list.and_then(|list| {
        let builder = Policy::builder().enforce(list).environment(environment);
        if allowlist {
            // Report-only: an enforced one also needs navigation targets.
            builder
                .connection_allowlist(ConnectionAllowlist::report_only())
                .build()
        } else {
            builder.build()
        }
    });
    match built {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// One finding as an `audit` line on stdout.
fn print_finding(f: &audit::Finding) {
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
/// A URL without its password, for messages: also one that does not parse (a bad port),
/// whose `user:password@` is cut by hand.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => {
            let Some((scheme, rest)) = url.split_once("://") else {
                return url.to_owned();
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or("");
                    let shown = if userinfo.contains(':') {
                        format!("{user}:***")
                    } else {
                        user.to_owned()
                    };
                    format!("{scheme}://{shown}@{host}{}", &rest[authority.len()..])
                }
                None => url.to_owned(),
            }
        }
    }
}
