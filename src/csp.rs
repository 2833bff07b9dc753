//! The front door: [`Csp`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;

use crate::layer::{CspLayer, PolicyHandle, Stage};
use crate::policy::{
    AllowlistMode, ConnectionAllowlist, Policy, PolicyBuilder, PolicyError, Problem, Provenance,
    ServedPolicies,
};
use crate::report::promote::RolloutError;
use crate::report::store::{ReportStore, Rollout, RolloutState, RolloutTarget};
use crate::report::{Collector, CollectorBuilder};

/// The report path when none is given.
const DEFAULT_REPORT_PATH: &str = "/csp-reports";

/// One definition of an app's connect-src policy and its reports: the policy, where
/// reports go, the served-policy history, the provenance secret and the store. From it, the
/// app takes its [`layer`](Self::layer), each route's own
/// [`route_layer`](Self::route_layer), the public [`report_router`](Self::report_router)
/// and the [`admin_router`](Self::admin_router). Cheap to clone; clones share everything.
///
/// The parts stay public for those who need them ([`CspLayer`], [`Collector`]): this only
/// wires them.
///
/// Three things must agree between a layer and a collector, and getting one wrong makes
/// every report `unverified` or `foreign` without an error: the report path (the policy's
/// `report-uri` and the collector's route), the served-policy history (what reports are
/// classed against, including every route's own policy) and the provenance secret. A
/// [`Csp`] holds each once.
///
/// ```
/// use axum::{routing::get, Router};
/// use connect_src::{ConnectSrc, Csp, Policy};
///
/// # fn main() -> Result<(), connect_src::PolicyError> {
/// let csp = Csp::builder()
///     .policy(Policy::builder().enforce(ConnectSrc::builder().self_origin()))
///     .report_path("/csp-reports") // the default; sets the report-uri and the route
///     .build()?;
///
/// // A route that must not connect anywhere: its own policy, derived from the app's
/// // (same reporting, same environment), recorded in the same history.
/// let embed = csp.route_layer(|p| p.enforce(ConnectSrc::none()))?;
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .route("/embed", get(|| async { "user content" }).route_layer(embed))
///     .merge(csp.report_router()) // POST /csp-reports: public
///     .layer(csp.layer());
/// let admin: Router = csp.admin_router(); // summary and dashboard: behind your auth
/// assert_eq!(
///     csp.policy().enforced_header().unwrap(),
///     "connect-src 'self'; report-uri /csp-reports"
/// );
/// # let _ = (app, admin);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Csp {
    inner: Arc<Inner>,
}

struct Inner {
    app: CspLayer,
    collector: Collector,
    served: ServedPolicies,
    provenance: Option<Provenance>,
    report_path: String,
    /// The app's own policy, as built: what a rollout's stages are derived from.
    own: Arc<Policy>,
    /// The rollout (id, version) the layer was last set for.
    followed: Mutex<Option<(u64, u64)>>,
}

impl fmt::Debug for Csp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csp")
            .field("report_path", &self.inner.report_path)
            .field("policy", &self.inner.app.policy())
            .field("provenance", &self.inner.provenance)
            .field("collector", &self.inner.collector)
            .finish()
    }
}

/// Builder for a [`Csp`], from [`Csp::builder`].
#[must_use]
#[derive(Debug, Default)]
pub struct CspBuilder {
    policy: Option<PolicyBuilder>,
    report_path: Option<String>,
    provenance: Option<Provenance>,
    collector: CollectorBuilder,
}

impl CspBuilder {
    /// The app's policy (required): its lists, environment, dev servers and, if you like,
    /// a `report_to` endpoint. Leave `report_uri` out: it is set to the
    /// [`report_path`](Self::report_path). A [`Policy`] already built is taken too.
    pub fn policy(mut self, policy: impl Into<PolicyBuilder>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Where browsers send reports (default `/csp-reports`): the policy's `report-uri`
    /// and the collector's route. A `report_to` URL in the policy must have this path.
    pub fn report_path(mut self, path: impl Into<String>) -> Self {
        self.report_path = Some(path.into());
        self
    }

    /// Signs report URLs (the layers) and checks them (the collector) with one secret:
    /// reports without a valid token are classed `foreign`.
    pub fn provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = Some(provenance);
        self
    }

    /// Where reports are kept and read back from (default: a bounded
    /// [`MemorySink`](crate::report::store::MemorySink)).
    pub fn store(mut self, store: impl ReportStore) -> Self {
        self.collector = self.collector.store(store);
        self
    }

    /// The collector's other settings (body limit, accepted document origins, noise
    /// filter…). Its path, served policies and provenance are set here; a different
    /// path given to it is a problem [`build`](Self::build) reports.
    pub fn collector(mut self, collector: CollectorBuilder) -> Self {
        let store = self.collector.store.take();
        self.collector = collector;
        if self.collector.store.is_none() {
            self.collector.store = store;
        }
        self
    }

    /// Builds the policy and wires the layer and the collector to it.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] with every problem at once: the policy's own (see
    /// [`PolicyBuilder::build`]), no policy given, a `report-uri` or `report_to` URL of
    /// another path than [`report_path`](Self::report_path), a collector given another path.
    pub fn build(self) -> Result<Csp, PolicyError> {
        let mut path = self
            .report_path
            .unwrap_or_else(|| DEFAULT_REPORT_PATH.to_owned());
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let mut extra = Vec::new();
        if let Some(theirs) = self.collector.path.as_deref().filter(|p| *p != path) {
            extra.push(Problem::field(
                "collector path",
                theirs,
                format!(
                    "the collector must take reports at the report path {path}: leave its path out"
                ),
            ));
        }
        let built = self.policy.unwrap_or_default().reporting_to(&path).build();
        let policy = match (built, extra.is_empty()) {
            (Ok(p), true) => p,
            (Ok(_), false) => return Err(PolicyError::new(extra)),
            (Err(e), _) => {
                let mut all = e.problems().to_vec();
                all.extend(extra);
                return Err(PolicyError::new(all));
            }
        };
        let served = ServedPolicies::default();
        served.record(&policy);
        let own = Arc::new(policy.clone());
        let app = CspLayer::with(policy, served.clone(), self.provenance.clone());
        let mut collector = self.collector.path(&path).served_policies(served.clone());
        if let Some(p) = &self.provenance {
            collector = collector.provenance(p.clone());
        }
        Ok(Csp {
            inner: Arc::new(Inner {
                app,
                collector: collector.build(),
                served,
                provenance: self.provenance,
                report_path: path,
                own,
                followed: Mutex::new(None),
            }),
        })
    }
}

impl Csp {
    /// Starts the definition.
    pub fn builder() -> CspBuilder {
        CspBuilder::default()
    }

    /// The app's layer: put it on the whole router (`Router::layer`). Every call returns
    /// the same layer (clones share its policy, its [`handle`](Self::handle) and its
    /// history).
    pub fn layer(&self) -> CspLayer {
        self.inner.app.clone()
    }

    /// A route's own layer, for `Router::route_layer`: its policy is the app's, as `edit`
    /// changes it (`|p| p.enforce(ConnectSrc::none())`), with the same reporting and
    /// environment; it signs with the same provenance and is recorded in the same history
    /// as a route's policy (the dashboard's suggestion keeps reading the app's). Inside the
    /// app's layer, the route's layer decides for that route.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] for a policy `edit` made invalid, or whose reports would go elsewhere
    /// than the report path.
    pub fn route_layer(
        &self,
        edit: impl FnOnce(PolicyBuilder) -> PolicyBuilder,
    ) -> Result<CspLayer, PolicyError> {
        let policy = edit(self.policy().to_builder())
            .reporting_to(&self.inner.report_path)
            .build()?;
        self.inner.served.record_route(&policy);
        Ok(CspLayer::with(
            policy,
            self.inner.served.clone(),
            self.inner.provenance.clone(),
        ))
    }

    /// The public side: `POST <report path>` and its CORS preflight. Mount it where
    /// browsers reach it (inside or outside the app's layer).
    pub fn report_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.inner.collector.report_router()
    }

    /// The read side, for operators: `<report path>/summary` (JSON) and
    /// `<report path>/dashboard` (HTML). Mount it behind your own authentication or on a
    /// listener of its own: it shows what browsers reported about your pages.
    pub fn admin_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.inner.collector.admin_router()
    }

    /// Swaps the app's policy at run time, for every service of [`layer`](Self::layer),
    /// recorded in the history the collector checks against.
    pub fn handle(&self) -> PolicyHandle {
        self.inner.app.handle()
    }

    /// The app's policy in force now.
    pub fn policy(&self) -> Arc<Policy> {
        self.inner.app.policy()
    }

    /// The collector (its stats, its store).
    pub fn collector(&self) -> &Collector {
        &self.inner.collector
    }

    /// Every policy served (the app's, routes', and those swapped out), newest first.
    pub fn served_policies(&self) -> &ServedPolicies {
        &self.inner.served
    }

    /// Where reports go.
    pub fn report_path(&self) -> &str {
        &self.inner.report_path
    }

    /// Follows the store's staged rollout ([`report::promote`](crate::report::promote)):
    /// every `every` (at least 100 ms), steps it as a collector does
    /// ([`Collector::step_rollout`]: advance, hold, roll back) and sets the app's layer to
    /// its stage through the [`handle`](Self::handle), so every instance sharing the store
    /// serves the same stage within `every` of a change, without a restart. Spawned on the
    /// current tokio runtime; abort the handle to stop. A failing step is logged once until
    /// the error changes or a step succeeds, and retried.
    ///
    /// What the layer serves, from the app's own policy `P` (as built) and the candidate
    /// `C`: no rollout, rolled back or aborted — `P`; report-only stage — `P` with `C` as
    /// its report-only list; an enforcing stage of `s`% — that, and on `s`% of responses
    /// ([`Stage`], keyed by [`CspLayer::stage_key`]) `P` with `C` enforced and no
    /// report-only list; done — `C` enforced everywhere. For an allowlist rollout
    /// ([`RolloutTarget::ConnectionAllowlist`]) the CSP stays `P`'s and `C` is the
    /// `Connection-Allowlist` value: report-only in place of `P`'s allowlist, enforced on the
    /// share, enforced everywhere when done; `P` needs a `report_to` endpoint (else the step
    /// fails with [`RolloutError::List`] and the layer is left as it was: Chromium would send
    /// the watch no report). While it follows, a policy set through [`handle`](Self::handle)
    /// is replaced at the next change.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn follow_rollout(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let csp = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing: Option<String> = None;
            loop {
                tick.tick().await;
                match csp.follow_rollout_once().await {
                    Ok(_) => failing = None,
                    // Logged once until the error changes or a step succeeds again.
                    Err(e) => {
                        let text = e.to_string();
                        if failing.as_deref() != Some(text.as_str()) {
                            tracing::warn!(target: "connect_src::rollout", error = %text, "rollout follow failed");
                            failing = Some(text);
                        }
                    }
                }
            }
        })
    }

    /// One step of [`follow_rollout`](Self::follow_rollout): steps the rollout, and sets
    /// the layer for the one in force (only when it changed since the last call). Returns
    /// the rollout in force, if any.
    ///
    /// # Errors
    /// [`RolloutError`] from the store or a stored list that no longer parses; a candidate
    /// the app's environment refuses is [`RolloutError::List`].
    pub async fn follow_rollout_once(&self) -> Result<Option<Rollout>, RolloutError> {
        self.inner.collector.step_rollout().await?;
        let r = self.inner.collector.store().rollout().await?;
        let key = r.as_ref().map(|r| (r.id, r.version));
        let mut followed = self
            .inner
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *followed != key {
            let (policy, stage) =
                rollout_policies(&self.inner.own, r.as_ref()).map_err(RolloutError::List)?;
            self.handle().stage(policy, stage);
            *followed = key;
        }
        Ok(r)
    }
}

/// What a layer serves for rollout `r` (see [`Csp::follow_rollout`]), from the app's own
/// policy `own`.
fn rollout_policies(
    own: &Policy,
    r: Option<&Rollout>,
) -> Result<(Policy, Option<Stage>), PolicyError> {
    let Some(r) = r else {
        return Ok((own.clone(), None));
    };
    if r.target == RolloutTarget::ConnectionAllowlist {
        return allowlist_rollout_policies(own, r);
    }
    let candidate: crate::policy::ConnectSrc = r.candidate.parse()?;
    let reporting = || own.to_builder().report_only(candidate.clone()).build();
    let enforcing = || {
        own.to_builder()
            .enforce(candidate.clone())
            .without_report_only()
            .build()
    };
    Ok(match r.state {
        RolloutState::RolledBack | RolloutState::Aborted => (own.clone(), None),
        RolloutState::Done => (enforcing()?, None),
        RolloutState::Running if r.stage == 0 => (reporting()?, None),
        RolloutState::Running => {
            let stage = Stage::new(enforcing()?, r.share()).salt(r.id);
            (reporting()?, Some(stage))
        }
    })
}

/// [`rollout_policies`] for an allowlist rollout: the `connect-src` lists as the app's own,
/// the candidate served as its `Connection-Allowlist` — report-only, and enforced on the
/// stage's share (done: enforced everywhere).
fn allowlist_rollout_policies(
    own: &Policy,
    r: &Rollout,
) -> Result<(Policy, Option<Stage>), PolicyError> {
    let with = |mode: AllowlistMode| {
        own.to_builder()
            .connection_allowlist(
                ConnectionAllowlist::report_only()
                    .with_mode(mode)
                    .value(r.candidate.clone()),
            )
            .build()
    };
    if !matches!(r.state, RolloutState::RolledBack | RolloutState::Aborted)
        && own.report_to().is_none()
    {
        // Without it Chromium sends no connection-allowlist report: the watch would see no
        // breakage and the gate would judge on the inventory alone, blind to navigations.
        return Err(PolicyError::new(vec![Problem::field(
            "connection allowlist",
            &r.candidate,
            "an allowlist rollout needs the policy's report_to endpoint: Chromium sends connection-allowlist reports only there".into(),
        )]));
    }
    Ok(match r.state {
        RolloutState::RolledBack | RolloutState::Aborted => (own.clone(), None),
        RolloutState::Done => (with(AllowlistMode::Enforce)?, None),
        RolloutState::Running if r.stage == 0 => (with(AllowlistMode::ReportOnly)?, None),
        RolloutState::Running => {
            let stage = Stage::new(with(AllowlistMode::Enforce)?, r.share()).salt(r.id);
            (with(AllowlistMode::ReportOnly)?, Some(stage))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::policy::ConnectSrc;
    use crate::report::store::Plan;

    #[test]
    fn an_allowlist_rollout_stages_the_allowlist_and_leaves_the_csp() {
        let own = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .report_uri("/csp-reports")
            .report_to("csp", "https://app.example/csp-reports")
            .connection_allowlist(ConnectionAllowlist::report_only())
            .build()
            .unwrap();
        let value = r#"(response-origin "https://docs.example")"#;
        let r = Rollout::start(1, value.into(), None, &Plan::default(), SystemTime::now())
            .with_target(RolloutTarget::ConnectionAllowlist);
        let served = |p: &Policy| {
            let (name, value) = p.connection_allowlist_header().unwrap();
            (name.to_string(), value.to_owned(), p.enforced_header())
        };
        let (policy, stage) = rollout_policies(&own, Some(&r)).unwrap();
        assert!(stage.is_none());
        let with_report_to = format!("{value};report-to=csp");
        assert_eq!(
            served(&policy),
            (
                "connection-allowlist-report-only".to_owned(),
                with_report_to.clone(),
                own.enforced_header()
            )
        );
        let at50 = r.changed(50, RolloutState::Running, "test".into(), SystemTime::now());
        let (policy, stage) = rollout_policies(&own, Some(&at50)).unwrap();
        let stage = stage.unwrap();
        assert_eq!(stage.share(), 0.5);
        assert_eq!(served(&policy).0, "connection-allowlist-report-only");
        assert_eq!(
            served(stage.policy()),
            (
                "connection-allowlist".to_owned(),
                with_report_to,
                own.enforced_header()
            )
        );
        let back = at50.changed(
            0,
            RolloutState::RolledBack,
            "test".into(),
            SystemTime::now(),
        );
        let (policy, stage) = rollout_policies(&own, Some(&back)).unwrap();
        assert!(stage.is_none());
        assert_eq!(policy.to_string(), own.to_string());
        // No report_to endpoint: the stage would be blind, so it is refused.
        let blind = Policy::builder()
            .enforce(ConnectSrc::builder().self_origin())
            .build()
            .unwrap();
        let e = rollout_policies(&blind, Some(&r)).unwrap_err();
        assert!(e.to_string().contains("report_to"), "{e}");
    }
}
