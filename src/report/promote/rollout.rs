//! Staged rollouts over a store: [`start`], [`step`] (advance, hold, or roll back) and
//! [`abort`]. Every change is a compare-and-replace of the stored record
//! ([`ReportStore::replace_rollout`]), so of two collectors stepping at once one applies the
//! change and the other finds it done.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::learn::{allowlist_would_block, looser_sources, would_block, Gate, WouldBlock};
use crate::matcher::AllowlistPolicy;
use crate::policy::text::merge_connect_src;
use crate::policy::{check_written, ConnectSrc, PolicyError, CONNECTION_ALLOWLIST_DIRECTIVE};
use crate::report::store::{
    Class, Disposition, Plan, ReportStore, Rollout, RolloutState, RolloutTarget, StoreError,
};
use crate::source::Source;

use super::gate::{allowlist_readiness_in, readiness_in};

/// Why a rollout could not be started, stepped or aborted.
#[derive(Debug)]
#[non_exhaustive]
pub enum RolloutError {
    /// The store could not be read or written.
    Store(StoreError),
    /// A list (candidate or enforced) does not parse: a stored one written by hand or by
    /// another version, or a `Connection-Allowlist` candidate Chromium would not read whole.
    List(PolicyError),
    /// The candidate allows what the enforced list blocks: a rollout enforces it in place
    /// of the enforced list, so it may only narrow it. These sources are looser.
    Looser(Vec<Source>),
    /// A rollout is running: abort it first.
    Running,
    /// There is no running rollout to abort.
    NotRunning,
    /// Another writer changed the rollout meanwhile: read it again.
    Changed,
}

impl fmt::Display for RolloutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolloutError::Store(e) => write!(f, "the store: {e}"),
            RolloutError::List(e) => write!(f, "a stored list does not parse: {e}"),
            RolloutError::Looser(s) => {
                let s: Vec<String> = s.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the candidate allows what the enforced list blocks ({}): a rollout only \
                     narrows the enforced list; add them to it first, or leave them out",
                    s.join(" ")
                )
            }
            RolloutError::Running => {
                f.write_str("a rollout is running: abort it before starting another")
            }
            RolloutError::NotRunning => f.write_str("no rollout is running"),
            RolloutError::Changed => {
                f.write_str("another collector changed the rollout meanwhile; try again")
            }
        }
    }
}

impl std::error::Error for RolloutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RolloutError::Store(e) => Some(e),
            RolloutError::List(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for RolloutError {
    fn from(e: StoreError) -> Self {
        RolloutError::Store(e)
    }
}

/// A rollout id: random per start (it keys the share, so each rollout puts other users
/// first), not a secret.
fn fresh_id(now: SystemTime) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Starts a rollout of `candidate` beside `enforced` (today's enforced list, if any) at
/// report-only, following `plan`, replacing a finished one.
///
/// # Errors
/// [`RolloutError::Looser`] when the candidate allows what `enforced` blocks (in some
/// browser engine, [`looser_sources`]); [`RolloutError::Running`] while one runs;
/// [`RolloutError::Changed`] when another writer started one meanwhile; the store's.
pub async fn start(
    store: &dyn ReportStore,
    candidate: &ConnectSrc,
    enforced: Option<&ConnectSrc>,
    plan: &Plan,
    now: SystemTime,
) -> Result<Rollout, RolloutError> {
    if let Some(e) = enforced {
        let looser = looser_sources(candidate, e);
        if !looser.is_empty() {
            return Err(RolloutError::Looser(looser));
        }
    }
    let rollout = Rollout::start(
        fresh_id(now),
        candidate.value(),
        enforced.map(ConnectSrc::value),
        plan,
        now,
    );
    begin(store, rollout).await
}

/// Starts a staged rollout of the `Connection-Allowlist` value `candidate`: served
/// report-only in place of the app's own allowlist first, then enforced on a growing
/// share, stepped as [`step`] says. `enforced` is today's enforced `connect-src` list, if
/// any: the gate does not count what it already blocks in Chromium as new breakage.
///
/// # Errors
/// [`RolloutError::List`] when Chromium would not read the value whole (it fails closed,
/// drops an item, holds a second list, or is empty); [`RolloutError::Running`] while one
/// runs; [`RolloutError::Changed`] when another writer started one meanwhile; the store's.
pub async fn start_allowlist(
    store: &dyn ReportStore,
    candidate: &str,
    enforced: Option<&ConnectSrc>,
    plan: &Plan,
    now: SystemTime,
) -> Result<Rollout, RolloutError> {
    check_written(candidate).map_err(RolloutError::List)?;
    let rollout = Rollout::start(
        fresh_id(now),
        candidate.trim().to_owned(),
        enforced.map(ConnectSrc::value),
        plan,
        now,
    )
    .with_target(RolloutTarget::ConnectionAllowlist);
    begin(store, rollout).await
}

/// Writes `rollout` in place of a finished one.
async fn begin(store: &dyn ReportStore, rollout: Rollout) -> Result<Rollout, RolloutError> {
    let current = store.rollout().await?;
    if current
        .as_ref()
        .is_some_and(|r| r.state == RolloutState::Running)
    {
        return Err(RolloutError::Running);
    }
    if !store
        .replace_rollout(current.map(|r| r.version), rollout.clone())
        .await?
    {
        return Err(RolloutError::Changed);
    }
    Ok(store.rollout().await?.unwrap_or(rollout))
}

/// Stops the running rollout: back to report-only, the enforced list as before.
///
/// # Errors
/// [`RolloutError::NotRunning`] when none runs; [`RolloutError::Changed`] when another
/// writer changed it meanwhile; the store's.
pub async fn abort(
    store: &dyn ReportStore,
    reason: &str,
    now: SystemTime,
) -> Result<Rollout, RolloutError> {
    let Some(r) = store.rollout().await? else {
        return Err(RolloutError::NotRunning);
    };
    if r.state != RolloutState::Running {
        return Err(RolloutError::NotRunning);
    }
    let next = r.changed(0, RolloutState::Aborted, format!("aborted: {reason}"), now);
    if !store.replace_rollout(Some(r.version), next.clone()).await? {
        return Err(RolloutError::Changed);
    }
    Ok(next)
}

fn parse(list: &str) -> Result<ConnectSrc, RolloutError> {
    list.parse().map_err(RolloutError::List)
}

/// A rollout's candidate, read from its record.
enum Candidate {
    List(ConnectSrc),
    Allowlist(AllowlistPolicy),
}

impl Candidate {
    fn of(r: &Rollout) -> Result<Candidate, RolloutError> {
        Ok(match r.target {
            RolloutTarget::ConnectSrc => Candidate::List(parse(&r.candidate)?),
            RolloutTarget::ConnectionAllowlist => {
                // Read once: the check's reading is the candidate's.
                let reading = check_written(&r.candidate).map_err(RolloutError::List)?;
                Candidate::Allowlist(AllowlistPolicy::from_reading(
                    &r.candidate,
                    std::sync::Arc::new(reading),
                ))
            }
        })
    }

    /// The directive its enforced reports are filed under.
    fn directive(&self) -> &'static str {
        match self {
            Candidate::List(_) => "connect-src",
            Candidate::Allowlist(_) => CONNECTION_ALLOWLIST_DIRECTIVE,
        }
    }
}

/// One step of the running rollout at `now`, what every collector sharing the store does
/// on a timer: `Ok(Some(rollout))` when it changed (and was written), `Ok(None)` when
/// nothing is running or nothing changed (another collector may have made the change).
///
/// 1. While a stage enforces, the watch: the genuine enforced (or, from WebKit, unknown
///    disposition) `connect-src` violations
///    received since the stage began that the candidate blocks and the enforced list
///    allows ([`would_block`]), at the rollout's minimum reach. Any: rolled back to
///    report-only at once, the reason naming the destinations. For an allowlist rollout,
///    the genuine enforced `connection-allowlist` reports the candidate blocks
///    ([`allowlist_would_block`]).
/// 2. Once the stage was held its minimum time, the gate ([`readiness_in`], or
///    [`allowlist_readiness_in`] for an allowlist) on the stage's evidence with the stage's
///    minimum page loads: ready, it advances to the next stage, or after the last (100%)
///    it is done.
///
/// # Errors
/// The store's; [`RolloutError::List`] if a stored list no longer parses.
pub async fn step(
    store: &dyn ReportStore,
    now: SystemTime,
) -> Result<Option<Rollout>, RolloutError> {
    step_with(store, now, true).await
}

/// [`step`], with the gate (2.) run only when `judge` is true: the watch runs every step,
/// and a caller may space out the gate, whose reads grow with the stage's rows (about 5 s
/// on SQLite and 2.4 s on PostgreSQL over a million, `bash bench/gate.sh`).
///
/// # Errors
/// As [`step`].
pub async fn step_with(
    store: &dyn ReportStore,
    now: SystemTime,
    judge: bool,
) -> Result<Option<Rollout>, RolloutError> {
    let Some(r) = store.rollout().await? else {
        return Ok(None);
    };
    if r.state != RolloutState::Running {
        return Ok(None);
    }
    let candidate = Candidate::of(&r)?;
    let enforced = r.enforced.as_deref().map(parse).transpose()?;
    let since = r.stage_since();
    let next = match watch(store, &r, &candidate, enforced.as_ref(), since).await? {
        Some(reason) => Some(r.changed(0, RolloutState::RolledBack, reason, now)),
        None if judge => advance(store, &r, &candidate, enforced, since, now).await?,
        None => None,
    };
    let Some(next) = next else { return Ok(None) };
    if store.replace_rollout(Some(r.version), next.clone()).await? {
        Ok(Some(store.rollout().await?.unwrap_or(next)))
    } else {
        Ok(None)
    }
}

/// The watch of an enforcing stage: why it must roll back, if it must.
async fn watch(
    store: &dyn ReportStore,
    r: &Rollout,
    candidate: &Candidate,
    enforced: Option<&ConnectSrc>,
    since: SystemTime,
) -> Result<Option<String>, RolloutError> {
    if r.stage == 0 {
        return Ok(None);
    }
    let seen: Vec<_> = store
        .reported_since(since)
        .await?
        .into_iter()
        .filter(|row| {
            // WebKit's legacy reports carry no disposition: one without the report-only
            // marker reads as unknown, and is an enforced policy's.
            row.directive == candidate.directive()
                && matches!(row.disposition, Disposition::Enforce | Disposition::Unknown)
                && row.class == Class::Genuine
        })
        .filter_map(|row| row.observation())
        .collect();
    let seen = crate::learn::by_destination(seen);
    let (blocked, _): (Vec<WouldBlock>, _) = match candidate {
        Candidate::List(c) => would_block(c, enforced, &seen, r.min_reach),
        // Every genuine enforced report of the stage is a connection, navigation or
        // subresource the candidate blocked: none is excused by connect-src.
        Candidate::Allowlist(a) => allowlist_would_block(a, None, &seen, r.min_reach),
    };
    if blocked.is_empty() {
        return Ok(None);
    }
    let named: Vec<String> = blocked
        .iter()
        .take(5)
        .map(|w| {
            format!(
                "{} (reach {}: {} report(s))",
                w.destination, w.reach, w.reports
            )
        })
        .collect();
    Ok(Some(format!(
        "rolled back from {}%: the candidate blocked {} for real pages since the stage began",
        r.stage,
        named.join(", ")
    )))
}

/// The next stage, when the one in force was held long enough and the gate passes.
async fn advance(
    store: &dyn ReportStore,
    r: &Rollout,
    candidate: &Candidate,
    enforced: Option<ConnectSrc>,
    since: SystemTime,
    now: SystemTime,
) -> Result<Option<Rollout>, RolloutError> {
    let held = now.duration_since(since).unwrap_or(Duration::ZERO);
    if held.as_secs() < r.min_stage_secs {
        return Ok(None);
    }
    let mut gate = Gate::default()
        .min_page_loads(r.min_page_loads)
        .min_reach(r.min_reach);
    gate.enforced = enforced;
    let ready = match candidate {
        Candidate::List(c) => readiness_in(store, c, &gate, since, now).await?,
        Candidate::Allowlist(a) => allowlist_readiness_in(store, a, &gate, since, now).await?,
    };
    if !ready.ready {
        tracing::debug!(
            target: "connect_src::rollout",
            stage = r.stage,
            reasons = %ready.reasons.join("; ").escape_debug(),
            "rollout held: not ready"
        );
        return Ok(None);
    }
    let why = format!(
        "held {} with ≈ {:.0} page loads and nothing blocked",
        humanize(held),
        ready.page_loads
    );
    Ok(Some(match r.next_stage() {
        Some(to) => r.changed(to, RolloutState::Running, format!("advanced: {why}"), now),
        None => r.changed(
            r.stage,
            RolloutState::Done,
            format!("done: {why} at 100%"),
            now,
        ),
    }))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// The header a rollout's enforcing stage serves, derived from a header the app serves
/// (`served`, its own header value): the same directives, `connect-src` the candidate's.
/// What a collector apart from the app records as served, so the stage's reports class as
/// genuine. An allowlist rollout leaves the CSP as served: `served` comes back unchanged
/// (its stages serve the candidate as the `Connection-Allowlist` value).
pub fn stage_header(rollout: &Rollout, served: &str) -> String {
    if rollout.target != RolloutTarget::ConnectSrc {
        return served.to_owned();
    }
    let connect = format!("connect-src {}", rollout.candidate);
    merge_connect_src(served, &connect, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::intake::{parse_reports, NormalizeOptions};
    use crate::report::store::{MemorySink, Network, ReportSink, Violation};

    fn enforced_violation(blocked: &str, network: u64, at: SystemTime) -> Violation {
        genuine(
            &format!(
                r#"{{"csp-report":{{"document-uri":"https://app.example/","effective-directive":
            "connect-src","blocked-uri":"{blocked}","disposition":"enforce"}}}}"#
            ),
            network,
            at,
        )
    }

    /// The one report of `body`, classed genuine, from `network`, received `at`.
    fn genuine(body: &str, network: u64, at: SystemTime) -> Violation {
        let mut v = parse_reports(body.as_bytes(), &NormalizeOptions::default())
            .unwrap()
            .violations
            .remove(0);
        v.network = Some(Network(network));
        v.class = Class::Genuine;
        v.received_at = at;
        v
    }

    #[tokio::test]
    async fn a_watch_rolls_back_naming_the_destination_and_two_writers_apply_once() {
        let store = MemorySink::new();
        let t0 = SystemTime::now();
        let candidate: ConnectSrc = "'self'".parse().unwrap();
        let enforced: ConnectSrc = "'self' https://pay.example".parse().unwrap();
        let plan = Plan::default()
            .min_stage(Duration::ZERO)
            .min_page_loads(0)
            .stages(&[50, 100])
            .unwrap();
        let r = start(&store, &candidate, Some(&enforced), &plan, t0)
            .await
            .unwrap();
        assert!(matches!(
            start(&store, &candidate, None, &plan, t0).await,
            Err(RolloutError::Running)
        ));
        // Put it at 50% by hand, as a step would.
        let at50 = r.changed(50, RolloutState::Running, "test".into(), t0);
        assert!(store.replace_rollout(Some(r.version), at50).await.unwrap());
        // One network's enforced reports: not enough to roll back.
        let later = t0 + Duration::from_secs(5);
        store
            .submit(vec![enforced_violation("https://pay.example/x", 1, later)])
            .await
            .unwrap();
        assert!(watch_reason(&store).await.is_none());
        store
            .submit(vec![enforced_violation("https://pay.example/y", 2, later)])
            .await
            .unwrap();
        let reason = watch_reason(&store).await.unwrap();
        assert!(reason.contains("https://pay.example"), "{reason}");
        // Two collectors step at once: one applies the rollback.
        let (a, b) = tokio::join!(step(&store, later), step(&store, later));
        let applied = [a.unwrap(), b.unwrap()];
        assert_eq!(applied.iter().flatten().count(), 1);
        let now = store.rollout().await.unwrap().unwrap();
        assert_eq!(now.state, RolloutState::RolledBack);
        assert_eq!(now.stage, 0);
        assert!(now.history.last().unwrap().reason.contains("pay.example"));
        assert!(step(&store, later).await.unwrap().is_none(), "stopped");
    }

    async fn watch_reason(store: &MemorySink) -> Option<String> {
        let r = store.rollout().await.unwrap().unwrap();
        let candidate = Candidate::of(&r).unwrap();
        let enforced = r.enforced.as_deref().map(|e| parse(e).unwrap());
        watch(store, &r, &candidate, enforced.as_ref(), r.stage_since())
            .await
            .unwrap()
    }

    fn enforced_allowlist_report(to: &str, network: u64, at: SystemTime) -> Violation {
        genuine(
            &format!(
                r#"[{{"type":"connection-allowlist","url":"https://app.example/","body":{{"connection":"{to}","disposition":"enforce"}}}}]"#
            ),
            network,
            at,
        )
    }

    #[tokio::test]
    async fn an_allowlist_rollout_rolls_back_on_enforced_allowlist_reports_at_reach() {
        let store = MemorySink::new();
        let t0 = SystemTime::now();
        let plan = Plan::default()
            .min_stage(Duration::from_secs(3600))
            .stages(&[50, 100])
            .unwrap();
        // A value Chromium would not read whole is refused before anything is written.
        for bad in [
            "(response-origin",
            r#"(response-origin "docs.example")"#,
            " ",
        ] {
            let e = start_allowlist(&store, bad, None, &plan, t0)
                .await
                .unwrap_err();
            assert!(matches!(e, RolloutError::List(_)), "{bad:?}: {e}");
        }
        assert!(store.rollout().await.unwrap().is_none());
        let value = r#"(response-origin "https://api.example");redirects=allow"#;
        let r = start_allowlist(&store, value, None, &plan, t0)
            .await
            .unwrap();
        assert_eq!(r.target, RolloutTarget::ConnectionAllowlist);
        assert_eq!(r.candidate, value);
        let at50 = r.changed(50, RolloutState::Running, "test".into(), t0);
        assert!(store.replace_rollout(Some(r.version), at50).await.unwrap());
        let later = t0 + Duration::from_secs(5);
        // Enforced CSP violations are the connect-src list's business, not this rollout's;
        // an allowlist report the candidate admits (a stale one) is no breakage.
        store
            .submit(vec![
                enforced_violation("https://docs.example/x", 1, later),
                enforced_violation("https://docs.example/y", 2, later),
                enforced_allowlist_report("https://api.example/v1", 1, later),
                enforced_allowlist_report("https://api.example/v2", 2, later),
            ])
            .await
            .unwrap();
        assert!(watch_reason(&store).await.is_none());
        // One network's word: held.
        store
            .submit(vec![enforced_allowlist_report(
                "https://docs.example/faq",
                1,
                later,
            )])
            .await
            .unwrap();
        assert!(watch_reason(&store).await.is_none());
        store
            .submit(vec![enforced_allowlist_report(
                "https://docs.example/faq",
                2,
                later,
            )])
            .await
            .unwrap();
        let back = step(&store, later).await.unwrap().unwrap();
        assert_eq!((back.state, back.stage), (RolloutState::RolledBack, 0));
        let reason = &back.history.last().unwrap().reason;
        assert!(reason.contains("https://docs.example (reach 2"), "{reason}");
        assert!(!reason.contains("api.example"), "{reason}");
        // A collector apart from the app leaves the CSP as served.
        assert_eq!(
            stage_header(&back, "connect-src 'self'"),
            "connect-src 'self'"
        );
    }

    #[tokio::test]
    async fn a_looser_candidate_is_refused_and_abort_needs_a_running_one() {
        let store = MemorySink::new();
        let enforced: ConnectSrc = "'self'".parse().unwrap();
        let looser: ConnectSrc = "'self' https://new.example".parse().unwrap();
        let now = SystemTime::now();
        let e = start(&store, &looser, Some(&enforced), &Plan::default(), now)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("https://new.example"), "{e}");
        assert!(matches!(
            abort(&store, "test", now).await,
            Err(RolloutError::NotRunning)
        ));
        start(&store, &enforced, Some(&enforced), &Plan::default(), now)
            .await
            .unwrap();
        let a = abort(&store, "operator", now).await.unwrap();
        assert_eq!(a.state, RolloutState::Aborted);
        assert_eq!(a.share(), 0.0);
    }

    #[test]
    fn the_stage_header_keeps_every_other_directive() {
        let r = Rollout::start(
            1,
            "'self'".into(),
            None,
            &Plan::default(),
            SystemTime::now(),
        );
        assert_eq!(
            stage_header(&r, "img-src *; connect-src https:; report-uri /r"),
            "img-src *; connect-src 'self'; report-uri /r"
        );
    }
}
