//! `promote` (the readiness gate) and `rollout start|status|abort` (staged enforcement
//! whose state the store keeps).

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use connect_src::learn::{Gate, Readiness, DEFAULT_MIN_REACH};
use connect_src::matcher::AllowlistPolicy;
use connect_src::policy::text::parse_header;
use connect_src::report::promote::{self, RolloutError};
use connect_src::report::store::{Plan, Rollout};
use connect_src::ConnectSrc;

use crate::learn::{list, Reader};
use crate::USAGE;

/// `connect-src promote`.
#[derive(Args)]
pub(crate) struct PromoteArgs {
    /// The SQLite file or postgres:// URL `serve --db` filled.
    #[arg(long, env = "CONNECT_SRC_DB")]
    db: std::path::PathBuf,
    /// Today's enforced connect-src value (what it already blocks is not breakage); leave
    /// out when nothing is enforced yet.
    #[arg(long)]
    policy: Option<String>,
    /// The connect-src value to enforce (or a whole CSP header value holding it).
    #[arg(
        long,
        required_unless_present = "connection_allowlist",
        conflicts_with = "connection_allowlist"
    )]
    candidate: Option<String>,
    /// Instead of a connect-src candidate: a Connection-Allowlist value to enforce (read as
    /// Chromium reads it), judged on the inventory and the report-only allowlist's genuine
    /// reports; --policy is then today's enforced connect-src list.
    #[arg(long = "connection-allowlist", value_name = "VALUE")]
    connection_allowlist: Option<String>,
    /// The window of evidence (e.g. 7d, 36h); its hourly record covers at most 7 days.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The least page loads (from the inventory, re-weighted) the window must hold.
    #[arg(long = "min-page-loads", default_value_t = 1000)]
    min_page_loads: u64,
    /// The least reach (distinct client networks) a destination needs to count.
    #[arg(long = "min-reach", default_value_t = DEFAULT_MIN_REACH, value_parser = clap::value_parser!(u64).range(1..))]
    min_reach: u64,
    /// The longest silence allowed after steady traffic (e.g. 6h).
    #[arg(long = "max-gap", default_value = "6h", value_parser = humantime::parse_duration)]
    max_gap: Duration,
}

/// `connect-src rollout`.
#[derive(Args)]
pub(crate) struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(Subcommand)]
enum RolloutCommand {
    /// Starts a rollout at report-only; the collectors advance it as the gate passes.
    Start {
        /// The SQLite file or postgres:// URL the collectors and the app share.
        #[arg(long, env = "CONNECT_SRC_DB")]
        db: std::path::PathBuf,
        /// The connect-src value to enforce (or a whole CSP header value holding it).
        #[arg(
            long,
            required_unless_present = "connection_allowlist",
            conflicts_with = "connection_allowlist"
        )]
        candidate: Option<String>,
        /// Stages a Connection-Allowlist instead: the header value to enforce (what
        /// `promote --connection-allowlist` judged), served report-only in place of the
        /// app's allowlist first, then enforced on each stage's share (Chromium only).
        #[arg(long = "connection-allowlist", value_name = "VALUE")]
        connection_allowlist: Option<String>,
        /// Today's enforced connect-src value: the rest of the responses keep it, a
        /// rollback returns to it, and the candidate may only narrow it (for an allowlist,
        /// what it already blocks is no new breakage).
        #[arg(long)]
        policy: Option<String>,
        /// Percent enforced at each stage after report-only, ascending, the last 100.
        #[arg(long, value_delimiter = ',', default_value = "1,10,50,100")]
        stages: Vec<u8>,
        /// The least time each stage is held (e.g. 24h, 30m).
        #[arg(long = "min-stage", default_value = "24h", value_parser = humantime::parse_duration)]
        min_stage: Duration,
        /// The least page loads (from the inventory, re-weighted) each stage must see.
        #[arg(long = "min-page-loads", default_value_t = 1000)]
        min_page_loads: u64,
        /// The least reach a destination needs to count (and to roll back).
        #[arg(long = "min-reach", default_value_t = DEFAULT_MIN_REACH, value_parser = clap::value_parser!(u64).range(1..))]
        min_reach: u64,
    },
    /// The rollout's state and history, as JSON.
    Status {
        /// The SQLite file or postgres:// URL the collectors share.
        #[arg(long, env = "CONNECT_SRC_DB")]
        db: std::path::PathBuf,
    },
    /// Stops the running rollout: back to report-only, the enforced list as before.
    Abort {
        /// The SQLite file or postgres:// URL the collectors share.
        #[arg(long, env = "CONNECT_SRC_DB")]
        db: std::path::PathBuf,
        /// Why, for the history.
        #[arg(long, default_value = "by an operator")]
        reason: String,
    },
}

/// A candidate given as a connect-src value or as a whole header holding one.
fn candidate(text: &str) -> Result<ConnectSrc, ExitCode> {
    let looks_like_header = text.contains(';')
        || text
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("connect-src");
    if looks_like_header {
        let value = parse_header(text)
            .iter()
            .find_map(|p| p.get("connect-src").map(str::to_owned));
        return match value {
            Some(v) => list("--candidate", &v),
            None => {
                eprintln!("error: --candidate: the header value has no connect-src directive");
                Err(ExitCode::from(USAGE))
            }
        };
    }
    list("--candidate", text)
}

fn readiness_json(r: &Readiness) -> serde_json::Value {
    serde_json::json!({
        "ready": r.ready,
        "page_loads": r.page_loads.round() as u64,
        "would_block": r.would_block.iter().map(|w| serde_json::json!({
            "destination": w.destination.as_str(),
            "page_loads": w.page_loads.round() as u64,
            "reach": w.reach,
            "reports": w.reports,
            "engines": w.engines.iter()
                .map(|(e, blocked)| (e.as_str().to_owned(), serde_json::Value::Bool(*blocked)))
                .collect::<serde_json::Map<_, _>>(),
            "documents": w.documents.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "reasons": r.reasons,
        "set_aside": r.set_aside.iter()
            .map(|(why, n)| (why.clone(), serde_json::Value::from(*n)))
            .collect::<serde_json::Map<_, _>>(),
        "below_reach": r.below_reach.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "covered_hours": r.covered_hours,
        "longest_gap_hours": r.longest_gap_hours,
    })
}

pub(crate) fn promote_cmd(args: PromoteArgs) -> ExitCode {
    match run_promote(args) {
        Ok(code) | Err(code) => code,
    }
}

/// What `promote` judges: a connect-src list, or a Connection-Allowlist value.
enum Candidate {
    List(ConnectSrc),
    Allowlist(AllowlistPolicy),
}

fn run_promote(args: PromoteArgs) -> Result<ExitCode, ExitCode> {
    let candidate = match (&args.candidate, &args.connection_allowlist) {
        (_, Some(value)) => {
            let a = AllowlistPolicy::parse(value);
            if a.is_ignored() || a.fails_closed() {
                eprintln!(
                    "error: --connection-allowlist {value:?}: {}",
                    a.warnings()
                        .first()
                        .map_or("empty: Chromium reads no policy", String::as_str)
                );
                return Err(ExitCode::from(2));
            }
            Candidate::Allowlist(a)
        }
        (Some(c), None) => Candidate::List(candidate(c)?),
        // clap requires one of the two.
        (None, None) => return Err(ExitCode::from(2)),
    };
    let enforced = args
        .policy
        .as_deref()
        .map(|p| list("--policy", p))
        .transpose()?;
    let reader = Reader::open(&args.db)?;
    let mut gate = Gate::default()
        .min_page_loads(args.min_page_loads)
        .min_reach(args.min_reach)
        .max_gap(args.max_gap);
    gate.enforced = enforced;
    let now = SystemTime::now();
    let since = now
        .checked_sub(args.since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let r = match candidate {
        Candidate::Allowlist(a) => reader.run(promote::allowlist_readiness_in(
            reader.store.as_ref(),
            &a,
            &gate,
            since,
            now,
        ))?,
        Candidate::List(c) => reader.run(promote::readiness_in(
            reader.store.as_ref(),
            &c,
            &gate,
            since,
            now,
        ))?,
    };
    for reason in &r.reasons {
        eprintln!("not ready: {reason}");
    }
    println!("{}", readiness_json(&r));
    Ok(if r.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn rollout_cmd(args: RolloutArgs) -> ExitCode {
    match run_rollout(args.command) {
        Ok(code) | Err(code) => code,
    }
}

fn print_status(r: &Rollout) {
    println!("{}", r.status_json());
}

fn failed(e: RolloutError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

fn run_rollout(command: RolloutCommand) -> Result<ExitCode, ExitCode> {
    match command {
        RolloutCommand::Start {
            db,
            candidate: text,
            connection_allowlist,
            policy,
            stages,
            min_stage,
            min_page_loads,
            min_reach,
        } => {
            let enforced = policy.as_deref().map(|p| list("--policy", p)).transpose()?;
            let plan = Plan::default()
                .stages(&stages)
                .map_err(|e| {
                    eprintln!("error: --stages: {e}");
                    ExitCode::from(USAGE)
                })?
                .min_stage(min_stage)
                .min_page_loads(min_page_loads)
                .min_reach(min_reach);
            let candidate = match (&text, &connection_allowlist) {
                (Some(text), _) => Some(candidate(text)?),
                _ => None,
            };
            let reader = Reader::open(&db)?;
            let store = reader.store.as_ref();
            let now = SystemTime::now();
            let r = match (candidate, connection_allowlist) {
                (Some(c), _) => {
                    reader
                        .rt
                        .block_on(promote::start(store, &c, enforced.as_ref(), &plan, now))
                }
                // clap asks for one of the two; an empty value is refused as no policy.
                (None, value) => reader.rt.block_on(promote::start_allowlist(
                    store,
                    value.as_deref().unwrap_or_default(),
                    enforced.as_ref(),
                    &plan,
                    now,
                )),
            }
            .map_err(|e| match e {
                // Only the value given can fail to read at start: a usage error.
                RolloutError::List(e) => {
                    eprintln!("error: --connection-allowlist: {e}");
                    ExitCode::from(USAGE)
                }
                e => failed(e),
            })?;
            print_status(&r);
            Ok(ExitCode::SUCCESS)
        }
        RolloutCommand::Status { db } => {
            let reader = Reader::open(&db)?;
            match reader.run(reader.store.rollout())? {
                Some(r) => {
                    print_status(&r);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no rollout was ever started in this store");
                    Ok(ExitCode::from(1))
                }
            }
        }
        RolloutCommand::Abort { db, reason } => {
            let reader = Reader::open(&db)?;
            let r = reader
                .rt
                .block_on(promote::abort(
                    reader.store.as_ref(),
                    &reason,
                    SystemTime::now(),
                ))
                .map_err(failed)?;
            print_status(&r);
            Ok(ExitCode::SUCCESS)
        }
    }
}
