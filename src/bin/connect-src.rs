//! The `connect-src` command-line tool (feature `cli`): check, audit, serve, suggest,
//! unused, promote, rollout.
//! Its arguments and JSON output are a stable contract (see the README).

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connect_src::matcher::{BrowserPolicy, Engine};
use connect_src::{audit, ConnectSrc, Environment, Policy};
use serde::Serialize;

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
    Check {
        /// The connect-src value, as any browser would accept it.
        #[arg(long, required_unless_present = "header", conflicts_with = "header")]
        policy: Option<String>,
        /// A whole Content-Security-Policy value (default-src fallback, several policies).
        #[arg(long)]
        header: Option<String>,
        /// The document's URL.
        #[arg(long)]
        page: String,
        /// Target URLs.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Findings about a policy, one JSON object per line; exit 1 if the environment refuses it.
    Audit {
        /// The connect-src value.
        #[arg(long)]
        policy: String,
        /// The environment to judge by.
        #[arg(long, value_enum, default_value = "production")]
        env: Env,
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
            page,
            targets,
        } => check(policy, header, &page, &targets),
        Command::Audit { policy, env } => audit_cmd(&policy, env),
        Command::Serve(args) => serve::run(*args),
        Command::Suggest(args) => learn::suggest_cmd(args),
        Command::Unused(args) => learn::unused_cmd(args),
        Command::Promote(args) => promote::promote_cmd(args),
        Command::Rollout(args) => promote::rollout_cmd(args),
    }
}

/// Exit status for bad input: the same as clap's usage errors.
const USAGE: u8 = 2;

fn check(
    policy: Option<String>,
    header: Option<String>,
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
    let p = match (&policy, &header) {
        (Some(p), _) => BrowserPolicy::parse(p),
        (None, Some(h)) => BrowserPolicy::from_header(h),
        (None, None) => unreachable!("clap requires --policy or --header"),
    };
    for w in p.warnings() {
        eprintln!("warning: {w}");
    }
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        match p.check(page, t) {
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

fn audit_cmd(text: &str, env: Env) -> ExitCode {
    let environment = match env {
        Env::Production => Environment::Production,
        Env::Development => Environment::Development,
    };
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
    for f in audit::audit_text(text) {
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
