//! `suggest` and `unused`: what learning reads from a store `serve --db` filled; and the
//! [`Reader`] every command over a store opens it with.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;
use connect_src::learn::{
    suggest, suggest_navigations, unused, Observation, SuggestOptions, Suggestion,
    DEFAULT_MIN_REACH,
};
use connect_src::report::store::Teaching;
use connect_src::report::store::{ReportStore, StoreError};
use connect_src::report::{PostgresSink, SqliteSink};
use connect_src::source::Origin;
use connect_src::ConnectSrc;
use serde::Serialize;

use crate::{redact, Db, USAGE};

/// `connect-src suggest`.
#[derive(Args)]
pub(crate) struct SuggestArgs {
    /// The SQLite file or postgres:// URL `serve --db` filled.
    #[arg(long, env = "CONNECT_SRC_DB")]
    db: std::path::PathBuf,
    /// The connect-src value to extend: the report-only candidate (or today's list).
    #[arg(long)]
    policy: String,
    /// Today's enforced connect-src value: what it blocks is never proposed (a page already
    /// lives without it).
    #[arg(long)]
    enforced: Option<String>,
    /// The app's document origin (repeatable), to judge 'self' from; the inventory's
    /// observations bring their own.
    #[arg(long = "page", value_name = "ORIGIN")]
    pages: Vec<String>,
    /// The least reach a destination needs: distinct client networks (and, for the
    /// inventory, distinct page loads). Below it, a destination is shown, never proposed.
    #[arg(long = "min-reach", default_value_t = DEFAULT_MIN_REACH, value_parser = clap::value_parser!(u64).range(1..))]
    min_reach: u64,
    /// Learn from `unverified` reports too (a collector that knew no served policy).
    #[arg(long = "learn-unverified")]
    learn_unverified: bool,
    /// How far back the inventory is read (e.g. 30d, 12h).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// Learn the navigation targets an enforced Connection-Allowlist needs beside --policy
    /// (the list it is translated from), from the report-only allowlist's genuine reports;
    /// prints the enforced allowlist value.
    #[arg(long = "connection-allowlist")]
    connection_allowlist: bool,
    /// The navigation targets so far (sources), extended by --connection-allowlist.
    #[arg(long, requires = "connection_allowlist")]
    navigations: Option<String>,
}

/// `connect-src unused`.
#[derive(Args)]
pub(crate) struct UnusedArgs {
    /// The SQLite file or postgres:// URL `serve --db` filled.
    #[arg(long, env = "CONNECT_SRC_DB")]
    db: std::path::PathBuf,
    /// The enforced connect-src value whose sources are judged.
    #[arg(long)]
    policy: String,
    /// How far back the inventory is read (e.g. 30d, 12h).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The least reach a destination needs to count as use.
    #[arg(long = "min-reach", default_value_t = DEFAULT_MIN_REACH, value_parser = clap::value_parser!(u64).range(1..))]
    min_reach: u64,
}

/// A store opened for reading, on a runtime of its own (the CLI has no other).
pub(crate) struct Reader {
    pub(crate) store: Arc<dyn ReportStore>,
    pub(crate) rt: tokio::runtime::Runtime,
}

impl Reader {
    /// Opens `db`: a usage error (exit 2) for a URL of another scheme or a SQLite file that
    /// does not exist, a failure (exit 1) when the database cannot be opened.
    pub(crate) fn open(db: &std::path::Path) -> Result<Reader, ExitCode> {
        let db = Db::of(db).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        })?;
        let store: Arc<dyn ReportStore> = match db {
            Db::Postgres(url) => Arc::new(PostgresSink::open(url).map_err(|e| {
                eprintln!("error: cannot open {}: {e}", redact(url));
                ExitCode::from(1)
            })?),
            Db::Sqlite(path) => {
                if !path.exists() {
                    eprintln!("error: {} does not exist", path.display());
                    return Err(ExitCode::from(USAGE));
                }
                Arc::new(SqliteSink::open(path).map_err(|e| {
                    eprintln!("error: cannot open {}: {e}", path.display());
                    ExitCode::from(1)
                })?)
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            })?;
        Ok(Reader { store, rt })
    }

    pub(crate) fn run<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ExitCode> {
        self.rt.block_on(read).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        })
    }

    /// The inventory since `since` ago; a store that keeps none gives an empty one.
    fn inventory(
        &self,
        since: Duration,
    ) -> Result<Vec<connect_src::learn::DestinationUse>, ExitCode> {
        let from = SystemTime::now()
            .checked_sub(since)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        match self.rt.block_on(self.store.inventory(from)) {
            Err(StoreError::Unsupported(_)) => Ok(Vec::new()),
            other => other.map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }),
        }
    }
}

pub(crate) fn list(flag: &str, value: &str) -> Result<ConnectSrc, ExitCode> {
    value.parse::<ConnectSrc>().map_err(|e| {
        eprintln!("error: {flag}: {e}");
        ExitCode::from(USAGE)
    })
}

pub(crate) fn suggest_cmd(args: SuggestArgs) -> ExitCode {
    match run_suggest(args) {
        Ok(code) | Err(code) => code,
    }
}

fn run_suggest(args: SuggestArgs) -> Result<ExitCode, ExitCode> {
    let current = list("--policy", &args.policy)?;
    let enforced = args
        .enforced
        .as_deref()
        .map(|e| list("--enforced", e))
        .transpose()?;
    let pages = args
        .pages
        .iter()
        .map(|p| {
            p.parse::<Origin>().map_err(|e| {
                eprintln!("error: --page: {e}");
                ExitCode::from(USAGE)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reader = Reader::open(&args.db)?;
    let summary = reader.run(reader.store.summary(usize::MAX))?;
    if args.connection_allowlist {
        let navigations = args
            .navigations
            .as_deref()
            .map(|n| list("--navigations", n))
            .transpose()?;
        let options = SuggestOptions::default()
            .min_reach(args.min_reach)
            .pages(pages);
        let mut teaching = summary.allowlist_teaching(args.learn_unverified);
        let s = suggest_navigations(
            &current,
            navigations.as_ref(),
            std::mem::take(&mut teaching.observations),
            &options,
        );
        print_suggestion(&s.suggestion, &teaching);
        eprintln!("navigations: {}", s.navigations());
        return match s.value {
            Some(v) => {
                println!("{v}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!(
                    "error: the list or a navigation target holds a source the allowlist \
                     cannot say (connect-src allowlist --policy … names it)"
                );
                Ok(ExitCode::from(1))
            }
        };
    }
    let inventory = reader.inventory(args.since)?;
    let mut teaching = if args.learn_unverified {
        summary.teaching_including_unverified()
    } else {
        summary.teaching()
    };
    let mut options = SuggestOptions::default()
        .min_reach(args.min_reach)
        .pages(pages);
    if let Some(e) = enforced {
        options = options.enforced(e);
    } else {
        eprintln!(
            "note: without --enforced, a destination today's enforced list blocks can be \
             proposed; give the enforced connect-src value"
        );
    }
    let observed = std::mem::take(&mut teaching.observations)
        .into_iter()
        .chain(inventory.iter().map(Observation::from_use));
    let s = suggest(&current, observed, &options);
    print_suggestion(&s, &teaching);
    println!("{}", s.policy);
    Ok(ExitCode::SUCCESS)
}

/// What a suggestion added and left out, and what learning set aside (`teaching`'s
/// observations are not read), on stderr.
fn print_suggestion(s: &Suggestion, teaching: &Teaching) {
    for a in &s.additions {
        eprintln!("{a}");
    }
    if s.additions.is_empty() {
        eprintln!("nothing to add");
    }
    for n in &s.not_added {
        eprintln!(
            "not added: {}: {} ({} report(s))",
            n.destination, n.why, n.reports
        );
    }
    for (covered, by) in &s.covered {
        eprintln!("left out: {covered}, covered by {by}");
    }
    for (class, n) in &teaching.distrusted {
        eprintln!(
            "not learned from: {n} report-only violation(s) classed {}",
            class.as_str()
        );
    }
    if teaching.not_origins > 0 {
        eprintln!(
            "not learned from: {} report-only violation(s) of no origin (data, blob, inline…)",
            teaching.not_origins
        );
    }
}

/// One `unused` line, keys in the documented order (fields may be added).
#[derive(Serialize)]
struct UnusedLine {
    source: String,
    used: bool,
    page_loads: u64,
    destinations: Vec<String>,
    below_reach: Vec<String>,
    redundant_with: Option<String>,
}

pub(crate) fn unused_cmd(args: UnusedArgs) -> ExitCode {
    match run_unused(args) {
        Ok(code) | Err(code) => code,
    }
}

fn run_unused(args: UnusedArgs) -> Result<ExitCode, ExitCode> {
    let enforced = list("--policy", &args.policy)?;
    let reader = Reader::open(&args.db)?;
    let uses = reader.inventory(args.since)?;
    if uses.is_empty() {
        eprintln!(
            "note: the store holds no inventory observations since {} ago: turn the \
             inventory on (Policy::inventory) before reading unused sources",
            humantime::format_duration(args.since)
        );
    }
    let from = SystemTime::now()
        .checked_sub(args.since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut any_unused = false;
    for u in unused(&enforced, &uses, args.min_reach) {
        // Each page load once across the source's destinations.
        let page_loads = if u.destinations.is_empty() {
            0.0
        } else {
            reader.run(reader.store.page_loads_reaching(&u.destinations, from))?
        };
        any_unused |= !u.used;
        let line = UnusedLine {
            source: u.source.to_string(),
            used: u.used,
            page_loads: page_loads.round() as u64,
            destinations: u.destinations.iter().map(ToString::to_string).collect(),
            below_reach: u.below_reach.iter().map(ToString::to_string).collect(),
            redundant_with: u.redundant_with.as_ref().map(ToString::to_string),
        };
        println!("{}", serde_json::to_string(&line).unwrap_or_default());
    }
    Ok(if any_unused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
